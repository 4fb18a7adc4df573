/* JSON output primitives for the response renderer: string escaping and integer formatting.
 *
 * Strings are UTF-8 in, UTF-8 out: only '"', '\\' and the C0 controls (< 0x20) are escaped,
 * as RFC 8259 requires; DEL and non-ASCII bytes pass through unchanged (the input is valid
 * UTF-8 because it comes from Python str objects or our own corpus). Callers size the output
 * with LLMSIM_JSON_ESCAPE_MAX (worst case 6 bytes per input byte, "\u001f").
 * All functions are allocation-free and write only inside the space the caller provides.
 */
#ifndef LLMSIM_JSON_H
#define LLMSIM_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LLMSIM_JSON_ESCAPE_MAX(n) ((n) * 6)
#define LLMSIM_JSON_INT_MAX 20 /* "-9223372036854775808" */

/* 0: copy as is; otherwise the character after the backslash ('u' for \u00XX). */
static const char llmsim_json_esc[256] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    0, 0, '"', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '\\', 0, 0, 0,
    /* 0x60 .. 0xff: nothing to escape */
};

/* Number of bytes the escaped form of [s, s + n) takes. */
static inline size_t llmsim_json_escaped_len(const char *s, size_t n)
{
    size_t out = n;
    for (size_t i = 0; i < n; i++) {
        char e = llmsim_json_esc[(unsigned char)s[i]];
        if (e)
            out += (e == 'u') ? 5 : 1;
    }
    return out;
}

/* Write the escaped form of [s, s + n) at dst (no surrounding quotes); returns bytes written.
 * dst must have room for LLMSIM_JSON_ESCAPE_MAX(n) bytes (or llmsim_json_escaped_len). */
static inline size_t llmsim_json_escape(char *dst, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char *p = dst;
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e = llmsim_json_esc[c];
        if (!e)
            continue;
        if (i > start) {
            memcpy(p, s + start, i - start);
            p += i - start;
        }
        *p++ = '\\';
        *p++ = e;
        if (e == 'u') {
            *p++ = '0';
            *p++ = '0';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
        start = i + 1;
    }
    if (n > start) {
        memcpy(p, s + start, n - start);
        p += n - start;
    }
    return (size_t)(p - dst);
}

/* Number of decimal digits of v. */
static inline size_t llmsim_json_u64_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 100) {
        v /= 100;
        n += 2;
    }
    return n + (v >= 10);
}

/* Write the decimal form of v at p; returns bytes written (at most 20). The length comes
 * first, so the digits go straight to their places, two at a time. */
static inline size_t llmsim_json_u64(char *p, uint64_t v)
{
    static const char pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    size_t n = llmsim_json_u64_len(v);
    char *t = p + n;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        t -= 2;
        memcpy(t, pairs + 2 * r, 2);
    }
    if (v >= 10)
        memcpy(t - 2, pairs + 2 * v, 2);
    else
        t[-1] = (char)('0' + v);
    return n;
}

/* Write the decimal form of v at p; returns bytes written (at most LLMSIM_JSON_INT_MAX). */
static inline size_t llmsim_json_i64(char *p, int64_t v)
{
    if (v >= 0)
        return llmsim_json_u64(p, (uint64_t)v);
    *p = '-';
    return 1 + llmsim_json_u64(p + 1, (uint64_t)0 - (uint64_t)v);
}

/* Write v in fixed-point notation with `decimals` (1..9) digits after the point; returns
 * bytes written (at most 31). For |v| < 1e9 (vector components, log probabilities). */
static inline size_t llmsim_json_fixed(char *p, double v, int decimals)
{
    static const uint64_t pow10[10] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000,
                                       100000000, 1000000000};
    uint64_t scale = pow10[decimals], scaled, frac;
    double a = v < 0 ? -v : v;
    size_t n = 0;
    if (!(a < 1e9)) /* NaN, infinities and huge values have no fixed form: clamp */
        a = 1e9 - 1;
    scaled = (uint64_t)(a * (double)scale + 0.5);
    if (v < 0 && scaled)
        p[n++] = '-';
    n += llmsim_json_u64(p + n, scaled / scale);
    p[n++] = '.';
    frac = scaled % scale;
    for (int i = decimals - 1; i >= 0; i--) {
        p[n + (size_t)i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    return n + (size_t)decimals;
}

#endif /* LLMSIM_JSON_H */
