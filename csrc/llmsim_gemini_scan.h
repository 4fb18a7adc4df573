/* The common Gemini generateContent (and streamGenerateContent) request, read in one pass
 * without building any object, by the primitives of the chat scanner (llmsim_chat_scan.h).
 *
 * llmsim_gemini_scan accepts only a narrow, strict subset of what the general decoder
 * (msgspec, llmsim.api.gemini_types.GenerateContentRequest, camelCase) accepts, and says "not
 * common" (0) for anything else, so the caller decodes that in full; an answer of 1 means the
 * general decoder would accept the body and read the same values from it. The subset:
 *   - one JSON object, each key once, whitespace anywhere JSON allows it;
 *   - "contents": non-empty array of objects with exactly "role" (user or model) and
 *     "parts", each once, in either order; parts: an array of one object, exactly
 *     {"text": string};
 *   - optional "systemInstruction": an object of exactly "parts" as above;
 *     "generationConfig": an object of at most "maxOutputTokens" (integer) and
 *     "temperature" (a number from 0 to 1 written 0, 1, 0.<digits> or 1.<zeros>), each once;
 *   - every string printable ASCII without escapes, every integer at most 18 digits.
 * The caller checks maxOutputTokens against the model (the decoded path's range error).
 * Prompt tokens of every text, and the last user text, are found on the way.
 */
#ifndef LLMSIM_GEMINI_SCAN_H
#define LLMSIM_GEMINI_SCAN_H

#include "llmsim_chat_scan.h"

/* llmsim_chat_scan_t's fields that the Gemini scan fills: max_tokens (maxOutputTokens, 0:
 * absent), messages (contents), content_tokens (of every text, the system instruction's
 * too) and last_user; the others stay 0. */
typedef llmsim_chat_scan_t llmsim_gemini_scan_t;

/* The systemInstruction object at p: {"parts": [{"text": string}]}, its tokens added to
 * out->content_tokens; the byte after it, or NULL. */
static inline const char *llmsim_gs_system(const char *p, const char *end,
                                           llmsim_gemini_scan_t *out)
{
    const char *text;
    size_t text_len, tokens;
    if (p >= end || *p != '{')
        return NULL;
    p = llmsim_cs_ws(p + 1, end);
    if (p >= end || *p != '"' || !llmsim_cs_lit(p, end, "parts", 5) ||
        (p = llmsim_cs_colon(p, end, 5)) == NULL ||
        (p = llmsim_cs_parts(p, end, &text, &text_len, &tokens)) == NULL)
        return NULL;
    out->content_tokens += tokens;
    p = llmsim_cs_ws(p, end);
    return p < end && *p == '}' ? p + 1 : NULL;
}

/* The generationConfig object at p: {} or at most maxOutputTokens and temperature, each
 * once; the byte after it, or NULL. */
static inline const char *llmsim_gs_config(const char *p, const char *end,
                                           llmsim_gemini_scan_t *out)
{
    int more, seen = 0;
    if (p >= end || *p != '{')
        return NULL;
    p = llmsim_cs_ws(p + 1, end);
    if (p < end && *p == '}')
        return p + 1;
    do {
        if (p >= end || *p != '"')
            return NULL;
        if (llmsim_cs_lit(p, end, "maxOutputTokens", 15) && !(seen & 1)) {
            seen |= 1;
            if ((p = llmsim_cs_colon(p, end, 15)) == NULL ||
                (p = llmsim_cs_int(p, end, &out->max_tokens)) == NULL || out->max_tokens < 1)
                return NULL;
        } else if (llmsim_cs_lit(p, end, "temperature", 11) && !(seen & 2)) {
            seen |= 2;   /* the common answer does not read it */
            if ((p = llmsim_cs_colon(p, end, 11)) == NULL ||
                (p = llmsim_cs_unit(p, end)) == NULL)
                return NULL;
        } else {
            return NULL;
        }
    } while ((more = llmsim_cs_next(&p, end, '}')) == 1);
    return more == 0 ? p : NULL;
}

/* The value of the request's member `key` at p, into out; the byte after it, or NULL. */
static inline __attribute__((always_inline)) const char *
llmsim_gs_value(int key, const char *p, const char *end, void *o)
{
    llmsim_gemini_scan_t *out = (llmsim_gemini_scan_t *)o;
    switch (key) {
    case LLMSIM_CS_CONTENTS:
        return llmsim_cs_messages(p, end, out, LLMSIM_CS_GEMINI);
    case LLMSIM_CS_SYSTEM:
        return llmsim_gs_system(p, end, out);
    default: /* LLMSIM_CS_CONFIG */
        return llmsim_gs_config(p, end, out);
    }
}

/* 1 when body[0:n] is a common generateContent request (out filled), else 0 (out
 * undefined). */
static inline int llmsim_gemini_scan(const char *body, size_t n, llmsim_gemini_scan_t *out)
{
    memset(out, 0, sizeof(*out));
    const int seen = llmsim_cs_object(body, n, LLMSIM_CS_GEMINI, llmsim_gs_value, out);
    return seen >= 0 && (seen & LLMSIM_CS_CONTENTS);
}

#endif
