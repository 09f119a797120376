/* tokenizer.h — CLIP's byte-level BPE tokenizer */
#pragma once

#include "clipscope-private.h"

G_BEGIN_DECLS

typedef struct _ClipscopeTokenizer ClipscopeTokenizer;

/* From a Hugging Face vocab.json (token → id) and merges.txt (first line
 * "#version…" skipped). Errors name the file and, where it applies, the
 * line. */
ClipscopeTokenizer *clipscope_tokenizer_new_from_files (const char *vocab_json_path,
                                                        const char *merges_txt_path,
                                                        GError    **error);

/* From OpenAI's bpe_simple_vocab_16e6.txt.gz: the vocabulary is the 256
 * byte symbols, the same with "</w>", one symbol per merge (the first
 * 49152 − 256 − 2 merge lines) and <|startoftext|>, <|endoftext|>. */
ClipscopeTokenizer *clipscope_tokenizer_new_from_bpe_gz (const char *path,
                                                         GError    **error);

void clipscope_tokenizer_free (ClipscopeTokenizer *tok);

int clipscope_tokenizer_get_vocab_size (ClipscopeTokenizer *tok);
int32_t clipscope_tokenizer_get_sot (ClipscopeTokenizer *tok);   /* <|startoftext|> */
int32_t clipscope_tokenizer_get_eot (ClipscopeTokenizer *tok);   /* <|endoftext|> */

/* Encodes @text as CLIP does (clean, lower-case, pre-tokenise, BPE) into
 * start-of-text, ids, end-of-text, cut to @context_length ids with
 * end-of-text last. Returns a newly allocated array of *n_tokens ids.
 * Invalid UTF-8 or a text over CLIPSCOPE_MAX_TEXT_BYTES is an error.
 * Thread-safe: several threads may encode with one tokenizer at once. */
int32_t *clipscope_tokenizer_encode (ClipscopeTokenizer *tok,
                                     const char         *text,
                                     int                 context_length,
                                     int                *n_tokens,
                                     GError            **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ClipscopeTokenizer, clipscope_tokenizer_free)

G_END_DECLS
