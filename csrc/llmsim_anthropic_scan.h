/* The common Anthropic Messages request, read in one pass without building any object, by
 * the primitives of the chat scanner (llmsim_chat_scan.h).
 *
 * llmsim_anthropic_scan accepts only a narrow, strict subset of what the general decoder
 * (msgspec, llmsim.api.anthropic_types.MessagesRequest) accepts, and says "not common" (0)
 * for anything else, so the caller decodes that in full; an answer of 1 means the general
 * decoder would accept the body and read the same values from it. The subset:
 *   - one JSON object, each key once, whitespace anywhere JSON allows it;
 *   - "model": string; "max_tokens": integer >= 1; "messages": non-empty array of objects
 *     with exactly "role" (user or assistant) and "content" (string), each once, in either
 *     order;
 *   - optional "system": string; "stream": true or false; "temperature": a number from 0 to
 *     1 written 0, 1, 0.<digits> or 1.<zeros>;
 *   - every string printable ASCII without escapes, every integer at most 18 digits.
 * Input tokens of the message contents and the system prompt, and the last user message, are
 * found on the way.
 */
#ifndef LLMSIM_ANTHROPIC_SCAN_H
#define LLMSIM_ANTHROPIC_SCAN_H

#include "llmsim_chat_scan.h"

typedef struct {
    llmsim_chat_scan_t common;  /* model, max_tokens, stream, messages, content_tokens,
                                   last_user (its other fields stay 0) */
    size_t system_len;          /* bytes of the system prompt (0: absent or empty) */
    size_t system_tokens;       /* and its llmsim tokens */
} llmsim_anthropic_scan_t;

/* The value of the Messages request's member `key` at p, into out; the byte after it, or
 * NULL. */
static inline __attribute__((always_inline)) const char *
llmsim_as_value(int key, const char *p, const char *end, void *o)
{
    llmsim_anthropic_scan_t *out = (llmsim_anthropic_scan_t *)o;
    const char *system;
    switch (key) {
    case LLMSIM_CS_MODEL:
        return llmsim_cs_str(p, end, &out->common.model, &out->common.model_len);
    case LLMSIM_CS_MESSAGES:
        return llmsim_cs_messages(p, end, &out->common, LLMSIM_CS_ANTHROPIC);
    case LLMSIM_CS_MAX_TOKENS:
        p = llmsim_cs_int(p, end, &out->common.max_tokens);
        return out->common.max_tokens >= 1 ? p : NULL;
    case LLMSIM_CS_TEMPERATURE:   /* the common answer does not read it */
        return llmsim_cs_unit(p, end);
    case LLMSIM_CS_SYSTEM:
        return llmsim_cs_counted_str(p, end, &system, &out->system_len, &out->system_tokens);
    default: /* LLMSIM_CS_STREAM */
        return llmsim_cs_bool(p, end, &out->common.stream);
    }
}

/* 1 when body[0:n] is a common Messages request (out filled), else 0 (out undefined). */
static inline int llmsim_anthropic_scan(const char *body, size_t n, llmsim_anthropic_scan_t *out)
{
    const int required = LLMSIM_CS_MODEL | LLMSIM_CS_MESSAGES | LLMSIM_CS_MAX_TOKENS;
    int seen;
    memset(out, 0, sizeof(*out));
    seen = llmsim_cs_object(body, n, LLMSIM_CS_ANTHROPIC, llmsim_as_value, out);
    return seen >= 0 && (seen & required) == required;
}

#endif
