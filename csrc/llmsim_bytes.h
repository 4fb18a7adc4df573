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
    LLMSIM_VALUE = 2,       /* field-value byte: VCHAR, obs-text, SP, HTAB (no CTL, no DEL) */
    LLMSIM_TARGET = 4,      /* request-target byte: visible ASCII (RFC 3986 targets are ASCII) */
    LLMSIM_JSON_PLAIN = 8,  /* a byte a JSON string may hold unescaped, printable ASCII only */
    LLMSIM_JSON_WS = 16,    /* JSON whitespace */
};

static const unsigned char llmsim_byte_class[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0, 18, 16,  0,  0, 16,  0,  0,  /* 0x00 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x10 */
    26, 15,  6, 15, 15, 15, 15, 15, 14, 14, 15, 15, 14, 15, 15, 14,  /* 0x20 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14, 14, 14, 14, 14, 14,  /* 0x30 */
    14, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  /* 0x40 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14,  6, 14, 15, 15,  /* 0x50 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  /* 0x60 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14, 15, 14, 15,  0,  /* 0x70 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0x80 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0x90 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xa0 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xb0 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xc0 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xd0 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xe0 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 0xf0 */
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
