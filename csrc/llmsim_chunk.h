/* HTTP/1.1 chunked framing written in place around bytes rendered straight into an output
 * buffer, so a stream's events are never built apart and copied in.
 *
 * The caller keeps its output in buf[start, end). To send a chunk it reserves
 * LLMSIM_CHUNK_ROOM bytes at `open` (the chunk-size line at its longest), renders the chunk's
 * data after them, makes 2 more bytes of room, and calls llmsim_chunk_close. That writes the
 * shortest size line ("1a2b\r\n", the form every server sends) right before the data and the
 * CRLF after it, then closes the gap the shorter line left by moving the shorter side: the
 * output before the chunk (a response head, usually) one way or the chunk the other.
 * Allocation-free; touches only buf[start, end + 2).
 */
#ifndef LLMSIM_CHUNK_H
#define LLMSIM_CHUNK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LLMSIM_CHUNK_ROOM 18 /* 16 hex digits (any size_t) + CRLF */

/* Close the chunk opened at `open` whose data ends at *end. Returns the new start of the
 * output; *end becomes its new end. A chunk with no data is taken back whole (a zero-size
 * chunk would end the body). */
static inline size_t llmsim_chunk_close(char *buf, size_t start, size_t open, size_t *end)
{
    static const char hex[] = "0123456789abcdef";
    size_t data = open + LLMSIM_CHUNK_ROOM;
    size_t n = *end - data, v = n, line = 2, gap, before = open - start;
    char *p = buf + data - 2;
    if (n == 0) {
        *end = open;
        return start;
    }
    p[0] = '\r';
    p[1] = '\n';
    do {
        *--p = hex[v & 15];
        v >>= 4;
        line++;
    } while (v);
    buf[*end] = '\r';
    buf[*end + 1] = '\n';
    *end += 2;
    gap = LLMSIM_CHUNK_ROOM - line;
    if (gap == 0)
        return start;
    if (before <= n + 2) { /* move what came before right, up to the size line */
        memmove(buf + start + gap, buf + start, before);
        return start + gap;
    }
    memmove(buf + open, buf + open + gap, *end - open - gap); /* move the chunk left */
    *end -= gap;
    return start;
}

#endif
