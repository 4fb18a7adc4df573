/* HTTP/1.1 request checks that picohttpparser (2015) does not make, and a hardened
 * incremental chunked-body decoder.
 *
 * picohttpparser accepts `Host : x`, `X Y: x`, DEL in names, method `G(T` and keeps trailing
 * spaces in values; what it hands back is revalidated here against RFC 9110/9112, except
 * what its own scan already guarantees (pycohttpparser's copy, with or without SSE4.2, and
 * later h2o releases alike):
 *   - method and target: runs (maybe empty) of bytes 0x21-0x7E and 0x80-0xFF; the target
 *     is followed by exactly " HTTP/1." (so at least 8 more readable bytes);
 *   - header names: start with a token byte or '"', hold no CTL (0x00-0x1F), no ':';
 *   - header values: leading SP/HTAB skipped, every byte HTAB, SP, VCHAR or obs-text
 *     (a CTL or DEL ends the line and fails the parse unless it is CR LF or LF).
 * So values need only their trailing whitespace trimmed, and a name that equals one we know
 * is a token without looking at its bytes again (see llmsim_ieq).
 * All functions are allocation-free and never read outside [buf, buf + len).
 */
#ifndef LLMSIM_HTTP_H
#define LLMSIM_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "llmsim_bytes.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "llmsim_origin_path_len assumes a little-endian target"
#endif

static inline int llmsim_is_tchar(unsigned char c)
{
    return llmsim_byte_class[c] & LLMSIM_TCHAR;
}

/* 1 when every byte of [s, s+n) is of class `cls` (also when n == 0). The classes are
 * ANDed four bytes at a time without a branch per byte: heads are capped, so running to
 * the end costs less than an early exit. */
static inline int llmsim_all_of_class(const char *s, size_t n, unsigned cls)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *t = llmsim_byte_class;
    unsigned acc = cls;
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        acc &= (unsigned)(t[p[i]] & t[p[i + 1]]) & (unsigned)(t[p[i + 2]] & t[p[i + 3]]);
    for (; i < n; i++)
        acc &= t[p[i]];
    return acc == cls;
}

/* 1 when [s, s+n) is a non-empty RFC 9110 token. */
static inline int llmsim_is_token(const char *s, size_t n)
{
    return n != 0 && llmsim_all_of_class(s, n, LLMSIM_TCHAR);
}

/* 1 when the method picohttpparser parsed is a token: GET and POST by one word compare,
 * others byte by byte. The word is in the head even for a shorter method: a space, the
 * target and " HTTP/1." follow it. */
static inline int llmsim_is_method(const char *s, size_t n)
{
    uint32_t w = llmsim_load4(s);
    if ((n == 3 && w == llmsim_load4("GET ")) || (n == 4 && w == llmsim_load4("POST")))
        return 1;
    return llmsim_is_token(s, n);
}

/* The origin-form checks picohttpparser leaves undone on a target it parsed: it starts with
 * '/' and is ASCII only (RFC 3986 targets are; picohttpparser passes bytes >= 0x80).
 * Returns the path length (the bytes before the first '?'), or (size_t)-1 when refused.
 * Eight bytes a word, no branch per word: the word past the end reads the " HTTP/1." that
 * follows the target, which holds neither a high byte nor '?'. */
static inline size_t llmsim_origin_path_len(const char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull;
    const uint64_t high = 0x8080808080808080ull;
    const uint64_t qmarks = ones * (unsigned char)'?';
    uint64_t seen = 0, q = 0;
    if (n == 0 || s[0] != '/')
        return (size_t)-1;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = llmsim_load8(s + i);
        uint64_t x = v ^ qmarks;
        seen |= v;
        q |= (x - ones) & ~x; /* the high bit of a byte that held '?' (or of one above it) */
    }
    if (seen & high)
        return (size_t)-1;
    if (q & high)
        return (size_t)((const char *)memchr(s, '?', n) - s);
    return n;
}

/* Trim SP and HTAB from both ends of [*s, *s + *n). */
static inline void llmsim_trim_ows(const char **s, size_t *n)
{
    const char *p = *s;
    size_t len = *n;
    while (len && (p[0] == ' ' || p[0] == '\t')) {
        p++;
        len--;
    }
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    *s = p;
    *n = len;
}

/* Trim SP and HTAB from the end of a field value as picohttpparser returns it: it skipped
 * them at the start, and they are the only value bytes <= ' '. */
static inline void llmsim_trim_trailing_ows(const char *s, size_t *n)
{
    size_t len = *n;
    while (len && (unsigned char)s[len - 1] <= ' ')
        len--;
    *n = len;
}

static inline unsigned char llmsim_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

/* 1 when [s, s+n) equals `lower` ignoring ASCII case, several bytes at a time.
 * `lower` holds only lowercase letters, digits and '-'; s no CTL other than HTAB (header
 * names and values as picohttpparser returns them). For those bytes c | 0x20 equals such a
 * byte only when c is that byte or its uppercase letter: the other bytes that OR onto a
 * digit or '-' are CTLs, and HTAB ORs onto ')'. So a match also proves s a token. */
static inline int llmsim_ieq(const char *s, size_t n, const char *lower, size_t lower_len)
{
    const uint64_t m8 = 0x2020202020202020ull;
    const uint32_t m4 = 0x20202020u;
    if (n != lower_len)
        return 0;
    if (n >= 8) {
        size_t i = 0;
        for (; i + 8 <= n; i += 8)
            if ((llmsim_load8(s + i) | m8) != llmsim_load8(lower + i))
                return 0;
        return i == n || (llmsim_load8(s + n - 8) | m8) == llmsim_load8(lower + n - 8);
    }
    if (n >= 4)
        return (llmsim_load4(s) | m4) == llmsim_load4(lower)
               && (llmsim_load4(s + n - 4) | m4) == llmsim_load4(lower + n - 4);
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] | 0x20u) != (unsigned char)lower[i])
            return 0;
    return 1;
}

/* The connection options of a Connection value (trimmed), as LLMSIM_CONN_* bits: one pass
 * over its comma-separated list, none for the usual single option. */
enum { LLMSIM_CONN_CLOSE = 1, LLMSIM_CONN_KEEP_ALIVE = 2 };

static inline int llmsim_connection_options(const char *s, size_t n)
{
    int out = 0;
    size_t i = 0;
    if (llmsim_ieq(s, n, "keep-alive", 10))
        return LLMSIM_CONN_KEEP_ALIVE;
    if (llmsim_ieq(s, n, "close", 5))
        return LLMSIM_CONN_CLOSE;
    while (i < n) {
        size_t start = i;
        while (i < n && s[i] != ',')
            i++;
        const char *item = s + start;
        size_t item_len = i - start;
        llmsim_trim_ows(&item, &item_len);
        if (llmsim_ieq(item, item_len, "close", 5))
            out |= LLMSIM_CONN_CLOSE;
        else if (llmsim_ieq(item, item_len, "keep-alive", 10))
            out |= LLMSIM_CONN_KEEP_ALIVE;
        i++; /* skip the comma */
    }
    return out;
}

/* Content-Length: 1 to 18 digits, nothing else. Returns the value, or -1 when malformed. */
static inline int64_t llmsim_parse_content_length(const char *s, size_t n)
{
    if (n == 0 || n > 18)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    return v;
}

/* ---- header fields the server reads -------------------------------------------------- */

/* The kinds of header field name: the framing headers; names most clients send that the
 * server does not read (known only to spare them the byte-by-byte token check, or most of
 * it for the x-stainless-* headers of the OpenAI and Anthropic SDKs); then the ones handlers
 * may read (LLMSIM_F_KEPT onward, x-llmsim-* last). */
enum {
    LLMSIM_F_BAD = -1,       /* not a token */
    LLMSIM_F_OTHER = 0,
    LLMSIM_F_HOST,
    LLMSIM_F_CONTENT_LENGTH,
    LLMSIM_F_TRANSFER_ENCODING,
    LLMSIM_F_CONNECTION,
    LLMSIM_F_EXPECT,
    LLMSIM_F_UNREAD,
    LLMSIM_F_CONTENT_TYPE = LLMSIM_F_UNREAD,
    LLMSIM_F_USER_AGENT,
    LLMSIM_F_ACCEPT,
    LLMSIM_F_ACCEPT_ENCODING,
    LLMSIM_F_X_STAINLESS,    /* x-stainless-*: a prefix */
    LLMSIM_F_KEPT,
    LLMSIM_F_AUTHORIZATION = LLMSIM_F_KEPT,
    LLMSIM_F_X_API_KEY,
    LLMSIM_F_X_GOOG_API_KEY,
    LLMSIM_F_ANTHROPIC_VERSION,
    LLMSIM_F_ANTHROPIC_BETA,
    LLMSIM_F_X_STAINLESS_RETRY_COUNT,
    LLMSIM_F_X_LLMSIM,       /* x-llmsim-*: a prefix */
    LLMSIM_F_KINDS,
};

/* Lowercase names by kind (the prefix for x-stainless-* and x-llmsim-*). */
static const char llmsim_field_names[LLMSIM_F_KINDS][24] = {
    [LLMSIM_F_OTHER] = "",
    [LLMSIM_F_HOST] = "host",
    [LLMSIM_F_CONTENT_LENGTH] = "content-length",
    [LLMSIM_F_TRANSFER_ENCODING] = "transfer-encoding",
    [LLMSIM_F_CONNECTION] = "connection",
    [LLMSIM_F_EXPECT] = "expect",
    [LLMSIM_F_CONTENT_TYPE] = "content-type",
    [LLMSIM_F_USER_AGENT] = "user-agent",
    [LLMSIM_F_ACCEPT] = "accept",
    [LLMSIM_F_ACCEPT_ENCODING] = "accept-encoding",
    [LLMSIM_F_X_STAINLESS] = "x-stainless-",
    [LLMSIM_F_AUTHORIZATION] = "authorization",
    [LLMSIM_F_X_API_KEY] = "x-api-key",
    [LLMSIM_F_X_GOOG_API_KEY] = "x-goog-api-key",
    [LLMSIM_F_ANTHROPIC_VERSION] = "anthropic-version",
    [LLMSIM_F_ANTHROPIC_BETA] = "anthropic-beta",
    [LLMSIM_F_X_STAINLESS_RETRY_COUNT] = "x-stainless-retry-count",
    [LLMSIM_F_X_LLMSIM] = "x-llmsim-",
};

/* 1 when the name [s, s+n) starting with the prefix of `kind` (p bytes) continues in a
 * non-empty token: the prefix's match proved its own bytes tchars. */
static inline int llmsim_prefixed(const char *s, size_t n, int kind, size_t p)
{
    return n > p && llmsim_ieq(s, p, llmsim_field_names[kind], p)
           && llmsim_all_of_class(s + p, n - p, LLMSIM_TCHAR);
}

/* The kind of the header field name [s, s+n) as picohttpparser returns it, LLMSIM_F_BAD
 * when it is not a token. Its length picks the candidates, each compared in a few word
 * loads against constants; a name that matches one needs no byte-by-byte check. */
static inline __attribute__((always_inline)) int llmsim_field_kind(const char *s, size_t n)
{
    /* within a case n is a constant, and so is each compare */
#define LLMSIM_IS(kind) if (llmsim_ieq(s, n, llmsim_field_names[kind], n)) return kind
    switch (n) {
    case 4: LLMSIM_IS(LLMSIM_F_HOST); break;
    case 6: LLMSIM_IS(LLMSIM_F_EXPECT); LLMSIM_IS(LLMSIM_F_ACCEPT); break;
    case 9: LLMSIM_IS(LLMSIM_F_X_API_KEY); break;
    case 10: LLMSIM_IS(LLMSIM_F_CONNECTION); LLMSIM_IS(LLMSIM_F_USER_AGENT); break;
    case 12: LLMSIM_IS(LLMSIM_F_CONTENT_TYPE); break;
    case 13: LLMSIM_IS(LLMSIM_F_AUTHORIZATION); break;
    case 14:
        LLMSIM_IS(LLMSIM_F_CONTENT_LENGTH); LLMSIM_IS(LLMSIM_F_X_GOOG_API_KEY);
        LLMSIM_IS(LLMSIM_F_ANTHROPIC_BETA); break;
    case 15: LLMSIM_IS(LLMSIM_F_ACCEPT_ENCODING); break;
    case 17: LLMSIM_IS(LLMSIM_F_TRANSFER_ENCODING); LLMSIM_IS(LLMSIM_F_ANTHROPIC_VERSION); break;
    case 22: LLMSIM_IS(LLMSIM_F_X_STAINLESS_RETRY_COUNT); break;
    }
#undef LLMSIM_IS
    if (llmsim_prefixed(s, n, LLMSIM_F_X_STAINLESS, 12))
        return LLMSIM_F_X_STAINLESS;
    if (llmsim_prefixed(s, n, LLMSIM_F_X_LLMSIM, 9))
        return LLMSIM_F_X_LLMSIM;
    return llmsim_is_token(s, n) ? LLMSIM_F_OTHER : LLMSIM_F_BAD;
}

/* ---- chunked transfer coding (RFC 9112 §7.1), decoded in place ----------------------- */

enum {
    LLMSIM_CHUNK_SIZE = 0,   /* reading hex digits of a chunk size */
    LLMSIM_CHUNK_SIZE_WS,    /* SP/HTAB after the size: only ';' may follow (BWS) */
    LLMSIM_CHUNK_EXT,        /* after ';': chunk extension up to CR */
    LLMSIM_CHUNK_SIZE_LF,    /* CR seen after the size line, LF expected */
    LLMSIM_CHUNK_DATA,       /* copying chunk data */
    LLMSIM_CHUNK_DATA_CR,    /* CR expected after data */
    LLMSIM_CHUNK_DATA_LF,    /* LF expected after data */
    LLMSIM_CHUNK_TRAILER,    /* at the start of a trailer line (or the final CRLF) */
    LLMSIM_CHUNK_TRAILER_NAME, /* inside a trailer field name, up to ':' */
    LLMSIM_CHUNK_TRAILER_LINE, /* inside a trailer field value, up to CR */
    LLMSIM_CHUNK_TRAILER_LF, /* CR seen ending a trailer line, LF expected */
    LLMSIM_CHUNK_END_LF,     /* CR of the final empty line seen, LF expected */
    LLMSIM_CHUNK_DONE,
};

#define LLMSIM_CHUNK_ERR_MALFORMED (-1)
#define LLMSIM_CHUNK_ERR_TOO_LARGE (-3)
#define LLMSIM_CHUNK_INCOMPLETE (-2)

typedef struct {
    uint64_t remaining;   /* data bytes left in the current chunk */
    size_t src;           /* next unread byte, from the body start */
    size_t dst;           /* decoded bytes so far (written at body start) */
    uint32_t digits;      /* hex digits of the current size */
    uint32_t chunks;      /* chunks seen */
    uint32_t line_bytes;  /* bytes of the current extension or trailer line */
    uint32_t trailer_bytes;
    int state;
} llmsim_chunked_t;

static inline void llmsim_chunked_init(llmsim_chunked_t *d)
{
    memset(d, 0, sizeof(*d));
}

static inline int llmsim_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = llmsim_lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decode the chunked body at buf[0..len) in place: decoded data is moved to buf[0..d->dst).
 * Resumable: call again with the same buf start and a larger len as more bytes arrive.
 * Returns the number of body bytes consumed (>= 0) once the body is complete,
 * LLMSIM_CHUNK_INCOMPLETE when more input is needed, LLMSIM_CHUNK_ERR_MALFORMED, or
 * LLMSIM_CHUNK_ERR_TOO_LARGE when the decoded size would pass max_body or the chunk count
 * max_chunks. Extensions are skipped (bounded), trailer fields are skipped (bounded). */
static inline long long llmsim_chunked_decode(llmsim_chunked_t *d, char *buf, size_t len,
                                              uint64_t max_body, uint32_t max_chunks)
{
    const uint32_t max_line = 4096;
    const uint32_t max_trailer = 16384;
    while (d->src < len) {
        unsigned char c = (unsigned char)buf[d->src];
        switch (d->state) {
        case LLMSIM_CHUNK_SIZE: {
            int v = llmsim_hexval(c);
            if (v >= 0) {
                if (d->digits >= 16)
                    return LLMSIM_CHUNK_ERR_MALFORMED;
                if (d->digits == 0)
                    d->remaining = 0;
                d->remaining = (d->remaining << 4) | (uint64_t)v;
                d->digits++;
                d->src++;
                break;
            }
            if (d->digits == 0)
                return LLMSIM_CHUNK_ERR_MALFORMED;
            if (d->remaining > max_body - d->dst)
                return LLMSIM_CHUNK_ERR_TOO_LARGE;
            if (c == ';') {
                d->state = LLMSIM_CHUNK_EXT;
                d->line_bytes = 0;
            } else if (c == ' ' || c == '\t') {
                d->state = LLMSIM_CHUNK_SIZE_WS;
                d->line_bytes = 0;
            } else if (c == '\r') {
                d->state = LLMSIM_CHUNK_SIZE_LF;
            } else {
                return LLMSIM_CHUNK_ERR_MALFORMED;
            }
            d->src++;
            break;
        }
        case LLMSIM_CHUNK_SIZE_WS:
            if (c == ';')
                d->state = LLMSIM_CHUNK_EXT;
            else if ((c != ' ' && c != '\t') || ++d->line_bytes > max_line)
                return LLMSIM_CHUNK_ERR_MALFORMED;
            d->src++;
            break;
        case LLMSIM_CHUNK_EXT:
            if (c == '\r') {
                d->state = LLMSIM_CHUNK_SIZE_LF;
            } else if ((c < 0x20 && c != '\t') || c == 0x7f || ++d->line_bytes > max_line) {
                return LLMSIM_CHUNK_ERR_MALFORMED;
            }
            d->src++;
            break;
        case LLMSIM_CHUNK_SIZE_LF:
            if (c != '\n')
                return LLMSIM_CHUNK_ERR_MALFORMED;
            d->src++;
            d->digits = 0;
            if (++d->chunks > max_chunks)
                return LLMSIM_CHUNK_ERR_TOO_LARGE;
            d->state = d->remaining ? LLMSIM_CHUNK_DATA : LLMSIM_CHUNK_TRAILER;
            break;
        case LLMSIM_CHUNK_DATA: {
            size_t avail = len - d->src;
            size_t take = d->remaining < avail ? (size_t)d->remaining : avail;
            if (d->dst != d->src)
                memmove(buf + d->dst, buf + d->src, take);
            d->dst += take;
            d->src += take;
            d->remaining -= take;
            if (d->remaining == 0)
                d->state = LLMSIM_CHUNK_DATA_CR;
            break;
        }
        case LLMSIM_CHUNK_DATA_CR:
            if (c != '\r')
                return LLMSIM_CHUNK_ERR_MALFORMED;
            d->src++;
            d->state = LLMSIM_CHUNK_DATA_LF;
            break;
        case LLMSIM_CHUNK_DATA_LF:
            if (c != '\n')
                return LLMSIM_CHUNK_ERR_MALFORMED;
            d->src++;
            d->state = LLMSIM_CHUNK_SIZE;
            break;
        case LLMSIM_CHUNK_TRAILER:
            if (c == '\r') {
                d->state = LLMSIM_CHUNK_END_LF;
            } else if (llmsim_is_tchar(c)) {
                d->state = LLMSIM_CHUNK_TRAILER_NAME;
                d->line_bytes = 1;
            } else {
                return LLMSIM_CHUNK_ERR_MALFORMED;
            }
            d->src++;
            if (++d->trailer_bytes > max_trailer)
                return LLMSIM_CHUNK_ERR_TOO_LARGE;
            break;
        case LLMSIM_CHUNK_TRAILER_NAME: /* a trailer line is a field line: token ':' value */
            if (c == ':')
                d->state = LLMSIM_CHUNK_TRAILER_LINE;
            else if (!llmsim_is_tchar(c) || ++d->line_bytes > max_line)
                return LLMSIM_CHUNK_ERR_MALFORMED;
            d->src++;
            if (++d->trailer_bytes > max_trailer)
                return LLMSIM_CHUNK_ERR_TOO_LARGE;
            break;
        case LLMSIM_CHUNK_TRAILER_LINE:
            if (c == '\r') {
                d->state = LLMSIM_CHUNK_TRAILER_LF;
            } else if ((c < 0x20 && c != '\t') || c == 0x7f || ++d->line_bytes > max_line) {
                return LLMSIM_CHUNK_ERR_MALFORMED;
            }
            d->src++;
            if (++d->trailer_bytes > max_trailer)
                return LLMSIM_CHUNK_ERR_TOO_LARGE;
            break;
        case LLMSIM_CHUNK_TRAILER_LF:
            if (c != '\n')
                return LLMSIM_CHUNK_ERR_MALFORMED;
            d->src++;
            d->state = LLMSIM_CHUNK_TRAILER;
            break;
        case LLMSIM_CHUNK_END_LF:
            if (c != '\n')
                return LLMSIM_CHUNK_ERR_MALFORMED;
            d->src++;
            d->state = LLMSIM_CHUNK_DONE;
            return (long long)d->src;
        default:
            return (long long)d->src;
        }
    }
    return d->state == LLMSIM_CHUNK_DONE ? (long long)d->src : LLMSIM_CHUNK_INCOMPLETE;
}

#endif /* LLMSIM_HTTP_H */
