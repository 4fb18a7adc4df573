/* Counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror, Shaw, SC'11).
 *
 * Why counter-based: draw number i of a request is a pure function of (key, i), so a
 * request planned in any worker, in any order, after any other request, gets the same
 * numbers. There is no generator state to share, save or advance in step.
 *
 * Layout of the 128-bit Philox counter used here:
 *   word0, word1  block index (64 bits)
 *   word2         attempt number (rejection samplers retry a draw with attempt + 1)
 *   word3         space: LLMSIM_SPACE_DRAW for draws, LLMSIM_SPACE_KDF for key derivation
 * One Philox call gives one block of two 64-bit lanes; draw number i of a key is lane i & 1
 * of block i >> 1, so consecutive draws share a block and pairs can be made with one call.
 *
 * Keys: llmsim_rng_key(global_seed, request_key) makes a request's key; llmsim_rng_subkey
 * splits it into independent streams (TTFT, ITL, length, text) so that changing how many
 * numbers one part uses never shifts another part's numbers.
 *
 * llmsim_hash64 is a keyed 64-bit hash of a byte string (request bodies) built on a
 * 64x64->128-bit multiply-fold; it is fast and well mixed, not a cryptographic MAC.
 */
#ifndef LLMSIM_RNG_H
#define LLMSIM_RNG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LLMSIM_PHILOX_M0 0xD2511F53u
#define LLMSIM_PHILOX_M1 0xCD9E8D57u
#define LLMSIM_PHILOX_W0 0x9E3779B9u /* golden ratio */
#define LLMSIM_PHILOX_W1 0xBB67AE85u /* sqrt(3) - 1 */

#define LLMSIM_SPACE_DRAW 0u
#define LLMSIM_SPACE_KDF 0x6b646621u

/* Philox4x32 with 10 rounds over a 4x32-bit counter and a 2x32-bit key. */
static inline void llmsim_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2],
                                        uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        if (round) {
            k0 += LLMSIM_PHILOX_W0;
            k1 += LLMSIM_PHILOX_W1;
        }
        uint64_t p0 = (uint64_t)LLMSIM_PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)LLMSIM_PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* The block `index` of `key` at `attempt` in `space`: two 64-bit lanes. */
static inline void llmsim_rng_block_in(uint64_t key, uint64_t index, uint32_t attempt,
                                       uint32_t space, uint64_t lanes[2])
{
    const uint32_t k[2] = {(uint32_t)key, (uint32_t)(key >> 32)};
    const uint32_t c[4] = {(uint32_t)index, (uint32_t)(index >> 32), attempt, space};
    uint32_t o[4];
    llmsim_philox4x32_10(c, k, o);
    lanes[0] = (uint64_t)o[0] | ((uint64_t)o[1] << 32);
    lanes[1] = (uint64_t)o[2] | ((uint64_t)o[3] << 32);
}

static inline void llmsim_rng_block(uint64_t key, uint64_t index, uint32_t attempt,
                                    uint64_t lanes[2])
{
    llmsim_rng_block_in(key, index, attempt, LLMSIM_SPACE_DRAW, lanes);
}

/* Draw number `counter` of `key`: 64 uniform bits. */
static inline uint64_t llmsim_rng_u64(uint64_t key, uint64_t counter)
{
    uint64_t lanes[2];
    llmsim_rng_block(key, counter >> 1, 0, lanes);
    return lanes[counter & 1];
}

/* The key of one request: a keyed pseudo-random function of both inputs. */
static inline uint64_t llmsim_rng_key(uint64_t global_seed, uint64_t request_key)
{
    uint64_t lanes[2];
    llmsim_rng_block_in(global_seed, request_key, 0, LLMSIM_SPACE_KDF, lanes);
    return lanes[0];
}

/* An independent key for one use (`domain`) of a request key. */
static inline uint64_t llmsim_rng_subkey(uint64_t key, uint32_t domain)
{
    uint64_t lanes[2];
    llmsim_rng_block_in(key, 0, domain, LLMSIM_SPACE_KDF, lanes);
    return lanes[1];
}

/* The top 53 bits as a double in the open interval (0, 1): never 0, never 1. */
static inline double llmsim_u01(uint64_t bits)
{
    return ((double)(bits >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* 64x64 -> 128-bit product as (high, low). */
static inline uint64_t llmsim_mul128(uint64_t a, uint64_t b, uint64_t *low)
{
#ifdef __SIZEOF_INT128__
    __extension__ typedef unsigned __int128 u128;
    u128 p = (u128)a * b;
    *low = (uint64_t)p;
    return (uint64_t)(p >> 64);
#else
    uint64_t al = (uint32_t)a, ah = a >> 32, bl = (uint32_t)b, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;
    *low = (mid << 32) | (uint32_t)ll;
    return hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
#endif
}

/* A sequence of draws: {key, counter}. Copying it forks the sequence. */
typedef struct {
    uint64_t key;
    uint64_t counter;
} llmsim_stream_t;

static inline void llmsim_stream_init(llmsim_stream_t *s, uint64_t key)
{
    s->key = key;
    s->counter = 0;
}

static inline uint64_t llmsim_stream_u64(llmsim_stream_t *s)
{
    return llmsim_rng_u64(s->key, s->counter++);
}

static inline double llmsim_stream_double(llmsim_stream_t *s)
{
    return llmsim_u01(llmsim_stream_u64(s));
}

/* Uniform integer in [0, n) without bias (multiply-shift with rejection); 0 when n == 0. */
static inline uint64_t llmsim_stream_below(llmsim_stream_t *s, uint64_t n)
{
    if (n == 0)
        return 0;
    uint64_t low;
    uint64_t high = llmsim_mul128(llmsim_stream_u64(s), n, &low);
    if (low < n) {
        uint64_t threshold = (0 - n) % n; /* 2^64 mod n */
        while (low < threshold)
            high = llmsim_mul128(llmsim_stream_u64(s), n, &low);
    }
    return high;
}

/* ---- keyed byte-string hash ---------------------------------------------------------- */

#define LLMSIM_HASH_K0 0x8bb84b93962eacc9ull
#define LLMSIM_HASH_K1 0xa0761d6478bd642full
#define LLMSIM_HASH_K2 0xe7037ed1a0b428dbull
#define LLMSIM_HASH_K3 0x589965cc75374cc3ull

/* Multiply two words and fold the 128-bit product into 64 bits. */
static inline uint64_t llmsim_fold(uint64_t a, uint64_t b)
{
    uint64_t low;
    uint64_t high = llmsim_mul128(a, b, &low);
    return high ^ low;
}

static inline uint64_t llmsim_load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v; /* host order: hashes are for this machine's workers, not for storage */
}

/* Final avalanche: every input bit flips about half of the output bits. */
static inline uint64_t llmsim_avalanche(uint64_t h)
{
    h ^= h >> 31;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 29;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 32;
    return h;
}

/* 64-bit hash of [data, data + len) under `seed`.
 * Each 16-byte block is folded as fold(a ^ K1, b ^ h ^ K2) and added to a rotated state, so
 * a block that cancels one factor to zero cannot erase what came before it. */
static inline uint64_t llmsim_hash64(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = (const unsigned char *)data;
    uint64_t h = llmsim_fold(seed ^ LLMSIM_HASH_K0, (uint64_t)len ^ LLMSIM_HASH_K3);
    size_t n = len;
    while (n >= 16) {
        uint64_t a = llmsim_load64(p), b = llmsim_load64(p + 8);
        h = ((h << 23) | (h >> 41)) + llmsim_fold(a ^ LLMSIM_HASH_K1, b ^ h ^ LLMSIM_HASH_K2);
        p += 16;
        n -= 16;
    }
    unsigned char tail[16] = {0};
    memcpy(tail, p, n);
    uint64_t a = llmsim_load64(tail), b = llmsim_load64(tail + 8);
    h = ((h << 23) | (h >> 41)) + llmsim_fold(a ^ LLMSIM_HASH_K1, b ^ h ^ LLMSIM_HASH_K2);
    return llmsim_avalanche(h ^ ((uint64_t)n << 56));
}

#endif /* LLMSIM_RNG_H */
