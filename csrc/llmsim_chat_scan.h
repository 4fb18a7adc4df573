/* The common chat completion request, read in one pass without building any object.
 *
 * llmsim_chat_scan accepts only a narrow, strict subset of what the general decoder
 * (msgspec, llmsim.api.openai_types.ChatRequest) accepts, and says "not common" (0) for
 * anything else, so the caller decodes that in full; an answer of 1 means the general decoder
 * would accept the body and read the same values from it. The subset:
 *   - one JSON object, each key once, whitespace anywhere JSON allows it;
 *   - "model": string; "messages": non-empty array of objects with exactly "role" (system,
 *     developer, user or assistant) and "content" (string), each once, in either order;
 *   - optional "max_tokens", "max_completion_tokens": integer >= 1; "seed": integer;
 *     "service_tier": string; "stream": true or false; with "stream": true,
 *     "stream_options": an object of at most "include_usage" (true or false);
 *   - every string printable ASCII without escapes, every integer at most 18 digits.
 * Prompt tokens of the message contents and the last user message are found on the way.
 * llmsim_anthropic_scan.h and llmsim_gemini_scan.h read Anthropic's and Gemini's common
 * requests with the same functions.
 */
#ifndef LLMSIM_CHAT_SCAN_H
#define LLMSIM_CHAT_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "llmsim_bytes.h"
#include "llmsim_tokens.h"

typedef struct {
    const char *model;          /* the model name (not NUL-terminated) */
    size_t model_len;
    int64_t max_tokens;         /* 0: absent */
    int64_t max_completion_tokens;
    int has_seed;
    int64_t seed;
    const char *tier;           /* service_tier, or NULL */
    size_t tier_len;
    int stream;                 /* "stream": true */
    int include_usage;          /* "stream_options": {"include_usage": true} */
    size_t messages;            /* number of messages */
    size_t content_tokens;      /* llmsim tokens of all message contents */
    const char *last_user;      /* content of the last user message, or NULL */
    size_t last_user_len;
} llmsim_chat_scan_t;

enum {
    LLMSIM_CS_MODEL = 1, LLMSIM_CS_MESSAGES = 2, LLMSIM_CS_MAX_TOKENS = 4,
    LLMSIM_CS_MAX_COMPLETION = 8, LLMSIM_CS_SEED = 16, LLMSIM_CS_TIER = 32, LLMSIM_CS_STREAM = 64,
    LLMSIM_CS_STREAM_OPTIONS = 128, LLMSIM_CS_SYSTEM = 256, LLMSIM_CS_TEMPERATURE = 512,
    LLMSIM_CS_CONTENTS = 1024, LLMSIM_CS_CONFIG = 2048
};

/* The requests llmsim_cs_key and llmsim_cs_object read. */
enum { LLMSIM_CS_ANTHROPIC = 0, LLMSIM_CS_CHAT = 1, LLMSIM_CS_GEMINI = 2 };

static inline const char *llmsim_cs_ws(const char *p, const char *end)
{
    if (p < end && (unsigned char)*p > ' ')   /* most often no whitespace at all */
        return p;
    while (p < end && (llmsim_byte_class[(unsigned char)*p] & LLMSIM_JSON_WS))
        p++;
    return p;
}

/* 1 when a[0:n] == b[0:n]; from 4 to 16 bytes in two overlapping loads, no call. */
static inline int llmsim_cs_eq(const char *a, const char *b, size_t n)
{
    if (n >= 8 && n <= 16)
        return llmsim_load8(a) == llmsim_load8(b) &&
               llmsim_load8(a + n - 8) == llmsim_load8(b + n - 8);
    if (n >= 4 && n < 8)
        return llmsim_load4(a) == llmsim_load4(b) &&
               llmsim_load4(a + n - 4) == llmsim_load4(b + n - 4);
    return memcmp(a, b, n) == 0;
}

/* The first byte at or after q that a string may not hold as it is (a quote, a backslash, a
 * control, DEL or a byte from 0x80 up), or end: sixteen bytes a test while there are sixteen,
 * then four, then one. */
static inline const char *llmsim_cs_plain_end(const char *q, const char *end)
{
    const unsigned char *t = llmsim_byte_class;
#ifdef __SSE2__
    /* outside 0x20 .. 0x7e: shifted to start at -128 (signed), above -128 + 0x5e */
    const __m128i shift = _mm_set1_epi8((char)(0x80 - 0x20)), last = _mm_set1_epi8((char)(-128 + 0x5e));
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
    while (end - q >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)q);
        __m128i stop = _mm_or_si128(_mm_cmpgt_epi8(_mm_add_epi8(x, shift), last),
                                    _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)));
        unsigned m = (unsigned)_mm_movemask_epi8(stop);
        if (m)
            return q + __builtin_ctz(m);
        q += 16;
    }
#endif
    while (end - q >= 4 && (t[(unsigned char)q[0]] & t[(unsigned char)q[1]] &
                            t[(unsigned char)q[2]] & t[(unsigned char)q[3]] & LLMSIM_JSON_PLAIN))
        q += 4;
    while (q < end && (t[(unsigned char)*q] & LLMSIM_JSON_PLAIN))
        q++;
    return q;
}

/* A string at p (on its opening quote): its bytes in *s, *n; the byte after it, or NULL. */
static inline const char *llmsim_cs_str(const char *p, const char *end, const char **s,
                                        size_t *n)
{
    const char *q;
    if (p >= end || *p != '"')
        return NULL;
    q = llmsim_cs_plain_end(++p, end);
    if (q >= end || *q != '"')
        return NULL;
    *s = p;
    *n = (size_t)(q - p);
    return q + 1;
}

/* 1 when the string at p (on its opening quote) is the n bytes of lit: compared in place,
 * no scan (every key the subset accepts, and every role, is one of a few literals). */
static inline int llmsim_cs_lit(const char *p, const char *end, const char *lit, size_t n)
{
    return (size_t)(end - p) > n + 1 && p[n + 1] == '"' && llmsim_cs_eq(p + 1, lit, n);
}

/* After a member's key of n bytes at p (on its opening quote): the byte after the ':' and
 * whitespace, or NULL. */
static inline const char *llmsim_cs_colon(const char *p, const char *end, size_t n)
{
    p += n + 2;
    if (p < end && *p != ':')   /* most often the ':' follows at once */
        p = llmsim_cs_ws(p, end);
    return p < end && *p == ':' ? llmsim_cs_ws(p + 1, end) : NULL;
}

/* After a member or element at *pp: 1 with *pp past ',' and whitespace when another
 * follows, 0 with *pp past `close` at the end, -1 on anything else. */
static inline int llmsim_cs_next(const char **pp, const char *end, char close)
{
    const char *p = llmsim_cs_ws(*pp, end);
    if (p < end && *p == ',') {
        *pp = llmsim_cs_ws(p + 1, end);
        return 1;
    }
    if (p < end && *p == close) {
        *pp = p + 1;
        return 0;
    }
    return -1;
}

/* An integer at p (JSON grammar, at most 18 digits) into *v; the byte after it, or NULL. */
static inline const char *llmsim_cs_int(const char *p, const char *end, int64_t *v)
{
    int neg = 0;
    int64_t x = 0;
    const char *start;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    start = p;
    while (p < end && *p >= '0' && *p <= '9' && p - start < 19)
        x = x * 10 + (*p++ - '0');
    if (p == start || p - start > 18 || (*start == '0' && p - start > 1))
        return NULL;
    if (p < end && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9')))
        return NULL;
    *v = neg ? -x : x;
    return p;
}

/* A number from 0 to 1 at p, written 0, 1, 0.<digits> or 1.<zeros>; the byte after it, or
 * NULL (for any other number, too). */
static inline const char *llmsim_cs_unit(const char *p, const char *end)
{
    const char *digits;
    int one;
    if (p >= end || (*p != '0' && *p != '1'))
        return NULL;
    one = *p++ == '1';
    if (p < end && *p == '.') {
        digits = ++p;
        while (p < end && *p >= '0' && *p <= (one ? '0' : '9'))
            p++;
        if (p == digits)
            return NULL;
    }
    return p < end && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9'))
               ? NULL : p;
}

/* The member key at *pp (on its quote) as one LLMSIM_CS_* bit, *pp moved past it and its
 * ':'; 0 when it is not one of the request's (or no ':' follows). The request (`req`, one of
 * LLMSIM_CS_CHAT, _ANTHROPIC, _GEMINI): chat's, Anthropic Messages'
 * (llmsim_anthropic_scan.h) or Gemini generateContent's (llmsim_gemini_scan.h). */
static inline int llmsim_cs_key(const char **pp, const char *end, int req)
{
    const char *p = *pp;
    int key;
    size_t n;
#define LLMSIM_CS_IS(lit, bit)                                        \
    if (llmsim_cs_lit(p, end, lit, sizeof(lit) - 1)) {                \
        key = bit;                                                    \
        n = sizeof(lit) - 1;                                          \
    } else
    if (req == LLMSIM_CS_GEMINI) {   /* Gemini's keys share none of the others' */
        LLMSIM_CS_IS("contents", LLMSIM_CS_CONTENTS)
        LLMSIM_CS_IS("generationConfig", LLMSIM_CS_CONFIG)
        LLMSIM_CS_IS("systemInstruction", LLMSIM_CS_SYSTEM)
        return 0;
    } else
    LLMSIM_CS_IS("model", LLMSIM_CS_MODEL)
    LLMSIM_CS_IS("messages", LLMSIM_CS_MESSAGES)
    LLMSIM_CS_IS("max_tokens", LLMSIM_CS_MAX_TOKENS)
    LLMSIM_CS_IS("stream", LLMSIM_CS_STREAM)
    if (req == LLMSIM_CS_ANTHROPIC) {   /* Anthropic's own keys, then "not ours"; chat's own after the else */
        LLMSIM_CS_IS("system", LLMSIM_CS_SYSTEM)
        LLMSIM_CS_IS("temperature", LLMSIM_CS_TEMPERATURE)
        return 0;
    } else
    LLMSIM_CS_IS("max_completion_tokens", LLMSIM_CS_MAX_COMPLETION)
    LLMSIM_CS_IS("seed", LLMSIM_CS_SEED)
    LLMSIM_CS_IS("service_tier", LLMSIM_CS_TIER)
    LLMSIM_CS_IS("stream_options", LLMSIM_CS_STREAM_OPTIONS)
    return 0;
#undef LLMSIM_CS_IS
    *pp = llmsim_cs_colon(p, end, n);
    return *pp == NULL ? 0 : key;
}

/* true or false at p into *v; the byte after it, or NULL. */
static inline const char *llmsim_cs_bool(const char *p, const char *end, int *v)
{
    if (end - p >= 4 && llmsim_cs_eq(p, "true", 4)) {
        *v = 1;
        return p + 4;
    }
    if (end - p >= 5 && llmsim_cs_eq(p, "false", 5)) {
        *v = 0;
        return p + 5;
    }
    return NULL;
}

/* The stream_options object at p: {} or {"include_usage": bool}; the byte after it, or NULL. */
static inline const char *llmsim_cs_stream_options(const char *p, const char *end,
                                                   llmsim_chat_scan_t *out)
{
    if (p >= end || *p != '{')
        return NULL;
    p = llmsim_cs_ws(p + 1, end);
    if (p < end && *p == '"') {
        if (!llmsim_cs_lit(p, end, "include_usage", 13) ||
            (p = llmsim_cs_colon(p, end, 13)) == NULL)
            return NULL;
        p = llmsim_cs_bool(p, end, &out->include_usage);
        if (p == NULL)
            return NULL;
        p = llmsim_cs_ws(p, end);
    }
    return p < end && *p == '}' ? p + 1 : NULL;
}

/* Bit k of m[0], m[1], m[2]: byte k of the 64 at p is an ASCII letter, a space, a digit,
 * where the bytes are printable ASCII (other bytes may set any of them); m[3]: not zero when
 * one of the 64 is not a byte a string may hold as it is (llmsim_cs_plain_end finds it). */
static inline void llmsim_cs_classes64(const char *p, uint64_t m[4])
{
    m[0] = m[1] = m[2] = m[3] = 0;
#ifdef __SSE2__
    /* a range test in two steps: shifted to start at -128 (signed), then one compare; letters
     * are folded to lower case first */
    const __m128i lower = _mm_set1_epi8(0x20), space = _mm_set1_epi8(' ');
    const __m128i to_a = _mm_set1_epi8((char)(0x80 - 'a')), past_z = _mm_set1_epi8((char)(-128 + 26));
    const __m128i to_0 = _mm_set1_epi8((char)(0x80 - '0')), past_9 = _mm_set1_epi8((char)(-128 + 10));
    const __m128i to_sp = _mm_set1_epi8((char)(0x80 - 0x20)), last = _mm_set1_epi8((char)(-128 + 0x5e));
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
    __m128i stops = _mm_setzero_si128();
    for (int k = 0; k < 4; k++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
        __m128i letter = _mm_cmplt_epi8(_mm_add_epi8(_mm_or_si128(x, lower), to_a), past_z);
        __m128i digit = _mm_cmplt_epi8(_mm_add_epi8(x, to_0), past_9);
        stops = _mm_or_si128(stops, _mm_or_si128(_mm_cmpgt_epi8(_mm_add_epi8(x, to_sp), last),
                                                 _mm_or_si128(_mm_cmpeq_epi8(x, quote),
                                                              _mm_cmpeq_epi8(x, backslash))));
        m[0] |= (uint64_t)(unsigned)_mm_movemask_epi8(letter) << (16 * k);
        m[1] |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, space)) << (16 * k);
        m[2] |= (uint64_t)(unsigned)_mm_movemask_epi8(digit) << (16 * k);
    }
    m[3] = (uint64_t)(unsigned)_mm_movemask_epi8(stops);
#else
    for (int k = 0; k < 64; k++) {
        int c = llmsim_tok_classes[(unsigned char)p[k]];
        m[0] |= (uint64_t)(c == LLMSIM_TC_LETTER) << k;
        m[1] |= (uint64_t)(p[k] == ' ') << k;
        m[2] |= (uint64_t)(c == LLMSIM_TC_DIGIT) << k;
        m[3] |= (uint64_t)!(llmsim_byte_class[(unsigned char)p[k]] & LLMSIM_JSON_PLAIN) << k;
    }
#endif
}

/* Bits of m shifted up by k (1..63), the top k bits of the previous window's `prev` below. */
static inline uint64_t llmsim_cs_up(uint64_t m, uint64_t prev, int k)
{
    return m << k | prev >> (64 - k);
}

/* Set bits in m. */
static inline size_t llmsim_cs_popcount(uint64_t m)
{
    m -= m >> 1 & 0x5555555555555555ull;
    m = (m & 0x3333333333333333ull) + (m >> 2 & 0x3333333333333333ull);
    m = (m + (m >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (size_t)(m * 0x0101010101010101ull >> 56);
}

/* The first bytes of the tokens of words (or numbers) in this window: run starts `start`
 * (with the next due start of a run coming from the previous window), then every `width`
 * bytes while the run goes on (`full`: the run has gone on for `width` bytes up to here). */
static inline uint64_t llmsim_cs_heads(uint64_t start, uint64_t full, int width)
{
    uint64_t heads = 0;
    while (start) {
        heads |= start;
        start = start << width & full;
    }
    return heads;
}

/* The token heads of the runs of x in this window (words: width 8, numbers: 3), px the
 * previous window's x; *due: where the next token of a run from the previous window starts
 * (a bit of this window, or 0), updated for the next window. */
static inline uint64_t llmsim_cs_run_heads(uint64_t x, uint64_t px, int width, uint64_t *due)
{
    uint64_t full, h, carried;
    if (!(x | *due))
        return 0;
    /* full: `width` run bytes up to here, by doubling (the previous window's own doubles
     * need only its top bits, which its mask alone gives) */
    uint64_t two = x & llmsim_cs_up(x, px, 1), ptwo = px & px << 1;
    if (width == 3) {
        full = two & llmsim_cs_up(x, px, 2);
    } else {
        uint64_t four = two & llmsim_cs_up(two, ptwo, 2), pfour = ptwo & ptwo << 2;
        full = four & llmsim_cs_up(four, pfour, 4);
    }
    /* a run from the previous window has its next start where due says, if it lasts until
     * there */
    carried = *due && !(~x & ((*due << 1) - 1)) ? *due : 0;
    h = llmsim_cs_heads((x & ~llmsim_cs_up(x, px, 1)) | carried, full, width);
    /* a run that reaches the end has its last start among the last `width` bytes */
    *due = x >> 63 && h ? (uint64_t)1 << (63 - __builtin_clzll(h) + width - 64) : 0;
    return h;
}

/* The end of the plain bytes from q as llmsim_cs_plain_end, with in *tokens their
 * llmsim_tok_count, found together 64 bytes a step from bit masks of letters, spaces, digits
 * and bytes that end the run. The bytes counted are printable ASCII, so: a word of m letters
 * is ceil(m / 8) tokens, a number of m digits ceil(m / 3), any other byte one; a space before
 * any of them joins it, so a run of spaces is a token of its own only when it is longer than
 * that one space (counted at its second space), or ends the text. A word's tokens start at
 * its first letter and every 8 letters after (numbers: 3 digits); words and runs go on
 * across windows. Every token is counted at one byte of its own (its head), so a window's
 * count is one popcount of its heads. Other tokens of llmsim_tok_next (whitespace, UTF-8)
 * never occur here. */
/* Below this many bytes, the tokenizer byte by byte costs less than setting up masks. */
#define LLMSIM_CS_SHORT 32

#if LLMSIM_TOK_WORD != 8
#error "llmsim_cs_plain_tokens finds 8-letter stretches by doubling: adapt it to LLMSIM_TOK_WORD"
#endif
static inline const char *llmsim_cs_plain_tokens(const char *q, const char *end, size_t *tokens)
{
    const char *s = q, *short_end = end - q > LLMSIM_CS_SHORT ? q + LLMSIM_CS_SHORT : end;
    size_t count = 0, n;
    uint64_t m[4], pl = 0, psp = 0, pd = 0, due_word = 0, due_number = 0;
    char tail[64];
    q = llmsim_cs_plain_end(q, short_end);
    if (q < short_end || q == end) {
        *tokens = llmsim_tok_count(s, (size_t)(q - s));
        return q;
    }
    for (q = s;; q += 64) {
        const char *w = q;
        size_t stop = 64;
        if (end - q < 64) {   /* NUL ends the run: the window ends at `end` at the latest */
            memset(tail, 0, sizeof tail);
            memcpy(tail, q, (size_t)(end - q));
            w = tail;
        }
        llmsim_cs_classes64(w, m);
        if (m[3])   /* the run ends in this window: where */
            stop = (size_t)(llmsim_cs_plain_end(w, w + 64) - w);
        uint64_t valid = stop < 64 ? ((uint64_t)1 << stop) - 1 : ~(uint64_t)0;
        uint64_t l = m[0] & valid, sp = m[1] & valid, d = m[2] & valid;
        /* other bytes, second spaces of runs, and the tokens of words and numbers */
        uint64_t heads = (valid & ~(l | sp | d)) |
                         (sp & llmsim_cs_up(sp, psp, 1) & ~llmsim_cs_up(sp, psp, 2)) |
                         llmsim_cs_run_heads(l, pl, LLMSIM_TOK_WORD, &due_word) |
                         llmsim_cs_run_heads(d, pd, 3, &due_number);
        count += llmsim_cs_popcount(heads);
        if (stop < 64) {
            q += stop;
            break;
        }
        pl = l;
        psp = sp;
        pd = d;
    }
    /* a single space at the end is a token of its own */
    n = (size_t)(q - s);
    *tokens = count + (n && s[n - 1] == ' ' && (n == 1 || s[n - 2] != ' '));
    return q;
}

/* A string at p (on its opening quote) as llmsim_cs_str, with its llmsim tokens in *tokens. */
static inline const char *llmsim_cs_counted_str(const char *p, const char *end, const char **s,
                                                size_t *n, size_t *tokens)
{
    const char *q;
    if (p >= end || *p != '"')
        return NULL;
    q = llmsim_cs_plain_tokens(++p, end, tokens);
    if (q >= end || *q != '"')
        return NULL;
    *s = p;
    *n = (size_t)(q - p);
    return q + 1;
}

/* A Gemini parts array at p (on its '['): [{"text": string}], as llmsim_cs_counted_str
 * reads the string; the byte after it, or NULL. */
static inline const char *llmsim_cs_parts(const char *p, const char *end, const char **s,
                                          size_t *n, size_t *tokens)
{
    if (p >= end || *p != '[')
        return NULL;
    p = llmsim_cs_ws(p + 1, end);
    if (p >= end || *p != '{')
        return NULL;
    p = llmsim_cs_ws(p + 1, end);
    if (!llmsim_cs_lit(p, end, "text", 4) || (p = llmsim_cs_colon(p, end, 4)) == NULL ||
        (p = llmsim_cs_counted_str(p, end, s, n, tokens)) == NULL)
        return NULL;
    p = llmsim_cs_ws(p, end);
    if (p >= end || *p != '}')
        return NULL;
    p = llmsim_cs_ws(p + 1, end);
    return p < end && *p == ']' ? p + 1 : NULL;
}

/* One message object at p (on its '{') of the request `req` (LLMSIM_CS_CHAT, _ANTHROPIC,
 * _GEMINI); the byte after it, or NULL. Roles: user and assistant, and for chat system and
 * developer too; for Gemini (a content: "parts" for "content") user and model. */
static inline const char *llmsim_cs_message(const char *p, const char *end,
                                            llmsim_chat_scan_t *out, int req)
{
    const int chat = req == LLMSIM_CS_CHAT, gemini = req == LLMSIM_CS_GEMINI;
    const char *content = NULL;
    size_t content_len = 0, tokens = 0;
    int more, role = 0;     /* 1: user, 2: another role the subset takes */
    p = llmsim_cs_ws(p + 1, end);
    do {
        if (p >= end || *p != '"')
            return NULL;
        if (llmsim_cs_lit(p, end, "role", 4) && !role) {
            if ((p = llmsim_cs_colon(p, end, 4)) == NULL || p >= end || *p != '"')
                return NULL;
            if (llmsim_cs_lit(p, end, "user", 4)) {
                role = 1;
                p += 6;
            } else if (chat && llmsim_cs_lit(p, end, "system", 6)) {
                role = 2;
                p += 8;
            } else if (!gemini && (llmsim_cs_lit(p, end, "assistant", 9) ||
                                   (chat && llmsim_cs_lit(p, end, "developer", 9)))) {
                role = 2;
                p += 11;
            } else if (gemini && llmsim_cs_lit(p, end, "model", 5)) {
                role = 2;
                p += 7;
            } else {
                return NULL;
            }
        } else if (gemini && llmsim_cs_lit(p, end, "parts", 5) && content == NULL) {
            if ((p = llmsim_cs_colon(p, end, 5)) == NULL ||
                (p = llmsim_cs_parts(p, end, &content, &content_len, &tokens)) == NULL)
                return NULL;
        } else if (!gemini && llmsim_cs_lit(p, end, "content", 7) && content == NULL) {
            if ((p = llmsim_cs_colon(p, end, 7)) == NULL ||
                (p = llmsim_cs_counted_str(p, end, &content, &content_len, &tokens)) == NULL)
                return NULL;
        } else {
            return NULL;
        }
    } while ((more = llmsim_cs_next(&p, end, '}')) == 1);
    if (more < 0 || !role || content == NULL)
        return NULL;
    if (role == 1) {
        out->last_user = content;
        out->last_user_len = content_len;
    }
    out->messages++;
    out->content_tokens += tokens;
    return p;
}

/* The messages array at p (on its '['; `req` as llmsim_cs_message); the byte after it,
 * or NULL. */
static inline const char *llmsim_cs_messages(const char *p, const char *end,
                                             llmsim_chat_scan_t *out, int req)
{
    int more;
    if (p >= end || *p != '[')
        return NULL;
    p = llmsim_cs_ws(p + 1, end);
    do {
        if (p >= end || *p != '{' || (p = llmsim_cs_message(p, end, out, req)) == NULL)
            return NULL;
    } while ((more = llmsim_cs_next(&p, end, ']')) == 1);
    return more == 0 ? p : NULL;
}

/* The members of the object body[0:n]: each key read by llmsim_cs_key (`req` as it takes
 * it) and its value by value_of (the byte after the value, or NULL when it is not one the
 * caller takes). The bits of the keys seen, or -1 when the body is not such an object, each
 * key once, with only whitespace around it. */
static inline __attribute__((always_inline)) int
llmsim_cs_object(const char *body, size_t n, int req,
                 const char *(*value_of)(int, const char *, const char *, void *), void *out)
{
    const char *p = body, *end = body + n;
    int seen = 0, key, more;
    p = llmsim_cs_ws(p, end);
    if (p >= end || *p != '{')
        return -1;
    p = llmsim_cs_ws(p + 1, end);
    do {
        if (p >= end || *p != '"')
            return -1;
        key = llmsim_cs_key(&p, end, req);
        if (key == 0 || (seen & key) || (p = value_of(key, p, end, out)) == NULL)
            return -1;
        seen |= key;
    } while ((more = llmsim_cs_next(&p, end, '}')) == 1);
    return more == 0 && llmsim_cs_ws(p, end) == end ? seen : -1;
}

/* The value of the chat request's member `key` at p, into out; the byte after it, or NULL. */
static inline __attribute__((always_inline)) const char *
llmsim_cs_chat_value(int key, const char *p, const char *end, void *o)
{
    llmsim_chat_scan_t *out = (llmsim_chat_scan_t *)o;
    switch (key) {
    case LLMSIM_CS_MODEL:
        return llmsim_cs_str(p, end, &out->model, &out->model_len);
    case LLMSIM_CS_TIER:
        return llmsim_cs_str(p, end, &out->tier, &out->tier_len);
    case LLMSIM_CS_MESSAGES:
        return llmsim_cs_messages(p, end, out, LLMSIM_CS_CHAT);
    case LLMSIM_CS_MAX_TOKENS:
        p = llmsim_cs_int(p, end, &out->max_tokens);
        return out->max_tokens >= 1 ? p : NULL;
    case LLMSIM_CS_MAX_COMPLETION:
        p = llmsim_cs_int(p, end, &out->max_completion_tokens);
        return out->max_completion_tokens >= 1 ? p : NULL;
    case LLMSIM_CS_SEED:
        out->has_seed = 1;
        return llmsim_cs_int(p, end, &out->seed);
    case LLMSIM_CS_STREAM:
        return llmsim_cs_bool(p, end, &out->stream);
    default: /* LLMSIM_CS_STREAM_OPTIONS */
        return llmsim_cs_stream_options(p, end, out);
    }
}

/* 1 when body[0:n] is a common chat request (out filled), else 0 (out undefined). */
static inline int llmsim_chat_scan(const char *body, size_t n, llmsim_chat_scan_t *out)
{
    int seen;
    memset(out, 0, sizeof(*out));
    seen = llmsim_cs_object(body, n, LLMSIM_CS_CHAT, llmsim_cs_chat_value, out);
    /* stream_options without "stream": true is the decoded path's 400 */
    return seen >= 0 &&
           (seen & (LLMSIM_CS_MODEL | LLMSIM_CS_MESSAGES)) ==
               (LLMSIM_CS_MODEL | LLMSIM_CS_MESSAGES) &&
           (out->stream || !(seen & LLMSIM_CS_STREAM_OPTIONS));
}

#endif
