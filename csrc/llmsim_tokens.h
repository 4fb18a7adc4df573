/* llmsim's approximate tokenizer: one fixed, documented rule, no vocabulary, no downloads.
 *
 * UTF-8 text is cut into tokens the way BPE tokenizers of the GPT family cut English:
 *   - a word (letters; any non-ASCII character counts as a letter) together with the single
 *     space before it is one token per LLMSIM_TOK_WORD bytes (longer words give more tokens);
 *   - a number, with the space before it, is one token per 3 digits;
 *   - any other visible character (punctuation, symbols), with the space before it, is one
 *     token;
 *   - a run of whitespace is one token, except that its last space joins the next token when
 *     a word, number or symbol follows ("a  b" = "a", " ", " b").
 * Tokens never split a UTF-8 sequence. The rule looks ahead one byte at most, so a text cut
 * at a token boundary re-tokenizes to the same tokens: a window of generated tokens counts
 * as what was sent.
 */
#ifndef LLMSIM_TOKENS_H
#define LLMSIM_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#define LLMSIM_TOK_WORD 8

enum { LLMSIM_TC_SPACE, LLMSIM_TC_WS, LLMSIM_TC_LETTER, LLMSIM_TC_DIGIT, LLMSIM_TC_OTHER };

/* Byte classes: C0 whitespace other than space is WS; bytes >= 0x80 are letters. */
static const unsigned char llmsim_tok_classes[256] = {
#define O LLMSIM_TC_OTHER
#define W LLMSIM_TC_WS
#define L LLMSIM_TC_LETTER
#define D LLMSIM_TC_DIGIT
    O, O, O, O, O, O, O, O, O, W, W, W, W, W, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O,
    LLMSIM_TC_SPACE, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O,
    D, D, D, D, D, D, D, D, D, D, O, O, O, O, O, O,
    O, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, O, O, O, O, O,
    O, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, O, O, O, O, O,
    L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
    L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
    L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
    L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
#undef O
#undef W
#undef L
#undef D
};

static inline int llmsim_tok_class(unsigned char c)
{
    return llmsim_tok_classes[c];
}

/* End offset of the token that starts at i (i < n). */
static inline size_t llmsim_tok_next(const char *s, size_t n, size_t i)
{
    const unsigned char *u = (const unsigned char *)s;
    int c = llmsim_tok_class(u[i]);
    if (c == LLMSIM_TC_SPACE && i + 1 < n) {
        int d = llmsim_tok_class(u[i + 1]);
        if (d != LLMSIM_TC_SPACE && d != LLMSIM_TC_WS) {
            i++;
            c = d;
        }
    }
    if (c == LLMSIM_TC_SPACE || c == LLMSIM_TC_WS) {
        size_t j = i + 1;
        while (j < n) {
            int d = llmsim_tok_class(u[j]);
            if (d == LLMSIM_TC_WS) {
                j++;
            } else if (d == LLMSIM_TC_SPACE) {
                /* a space right before a non-space starts the next token */
                if (j + 1 < n && llmsim_tok_class(u[j + 1]) > LLMSIM_TC_WS)
                    break;
                j++;
            } else {
                break;
            }
        }
        return j;
    }
    if (c == LLMSIM_TC_LETTER) {
        size_t j = i + 1, end = i + LLMSIM_TOK_WORD;
        while (j < n && llmsim_tok_class(u[j]) == LLMSIM_TC_LETTER && j < end)
            j++;
        while (j < n && (u[j] & 0xc0) == 0x80) /* finish a UTF-8 sequence */
            j++;
        return j;
    }
    if (c == LLMSIM_TC_DIGIT) {
        size_t j = i + 1;
        while (j < n && j < i + 3 && llmsim_tok_class(u[j]) == LLMSIM_TC_DIGIT)
            j++;
        return j;
    }
    return i + 1;
}

/* Number of tokens in [s, s + n). */
static inline size_t llmsim_tok_count(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i = llmsim_tok_next(s, n, i))
        count++;
    return count;
}

#endif /* LLMSIM_TOKENS_H */
