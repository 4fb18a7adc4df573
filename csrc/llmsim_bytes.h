/* Byte-level helpers of the request readers (llmsim_http.h, llmsim_chat_scan.h): one table
 * of byte classes, looked up once a byte, and unaligned loads for comparing several bytes at
 * a time. No allocation, no Python.h.
 */
#ifndef LLMSIM_BYTES_H
#define LLMSIM_BYTES_H

#include <stdint.h>
#include <string.h>

enum {
    LLMSIM_TCHAR = 1,       /* RFC 9110 tchar: "!#$%&'*+-.^_`|~" DIGIT ALPHA */
    LLMSIM_JSON_PLAIN = 2,  /* a byte a JSON string may hold unescaped, printable ASCII only */
    LLMSIM_JSON_WS = 4,     /* JSON whitespace */
};

static const unsigned char llmsim_byte_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 0, 0, 4, 0, 0,  /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x10 */
    6, 3, 0, 3, 3, 3, 3, 3, 2, 2, 3, 3, 2, 3, 3, 2,  /* 0x20 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2,  /* 0x30 */
    2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,  /* 0x40 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 0, 2, 3, 3,  /* 0x50 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,  /* 0x60 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 3, 2, 3, 0,  /* 0x70 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x80 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x90 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xa0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xb0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xc0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xd0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xe0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0xf0 */
};

static inline uint64_t llmsim_load8(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t llmsim_load4(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

#endif /* LLMSIM_BYTES_H */
