/* text-tokenizer.h — one handle for the text tokenizers of every model family
 *
 *   CLIP       OpenAI's byte-level BPE (tokenizer.h); ids are framed by
 *              start- and end-of-text and not padded.
 *   SigLIP     SentencePiece (spm.h) after SigLIP's canonicalisation, EOS
 *              appended and kept last when cut, padded to the context
 *              length. Version 1 (T5 and mC4 unigram models) pads with the
 *              EOS id, version 2 (Gemma's BPE) with <pad>.
 *   WordPiece  Chinese-CLIP's BERT tokenizer (wordpiece.h): [CLS] … [SEP],
 *              padded with zeros to the context length.
 *
 * A tokenizer is immutable once made; any number of threads may encode
 * with it at once.
 */
#pragma once

#include "clipscope-private.h"
#include "spm.h"
#include "tokenizer.h"
#include "wordpiece.h"

G_BEGIN_DECLS

typedef enum
{
  CLIPSCOPE_TEXT_TOKENIZER_CLIP,
  CLIPSCOPE_TEXT_TOKENIZER_SIGLIP,
  CLIPSCOPE_TEXT_TOKENIZER_SIGLIP2,
  CLIPSCOPE_TEXT_TOKENIZER_WORDPIECE,
} ClipscopeTextTokenizerKind;

typedef struct _ClipscopeTextTokenizer ClipscopeTextTokenizer;

/* Each takes over the tokenizer it is given. */
ClipscopeTextTokenizer *clipscope_text_tokenizer_new_clip (ClipscopeTokenizer *bpe);
ClipscopeTextTokenizer *clipscope_text_tokenizer_new_wordpiece (ClipscopeWordPiece *wp);

/* @kind is CLIPSCOPE_TEXT_TOKENIZER_SIGLIP or _SIGLIP2; the EOS and pad
 * ids are the model's own, found by their pieces (</s> or <eos>, <pad>)
 * where the file does not give them. @underscore_to_space is the
 * canonicalisation of big_vision and open_clip, which turn "_" into a
 * space before dropping punctuation; Hugging Face's drops it. Fails
 * (freeing @spm) when the model has no EOS piece, or no pad piece for
 * version 2. */
ClipscopeTextTokenizer *clipscope_text_tokenizer_new_siglip (ClipscopeSpm               *spm,
                                                             ClipscopeTextTokenizerKind  kind,
                                                             gboolean                    underscore_to_space,
                                                             GError                    **error) G_GNUC_WARN_UNUSED_RESULT;

/* SIGLIP2 for a BPE model with byte fallback (Gemma's), else SIGLIP. */
ClipscopeTextTokenizerKind clipscope_text_tokenizer_siglip_kind_for (const ClipscopeSpm *spm);

void clipscope_text_tokenizer_free (ClipscopeTextTokenizer *tok);

ClipscopeTextTokenizerKind clipscope_text_tokenizer_get_kind (const ClipscopeTextTokenizer *tok);
int clipscope_text_tokenizer_get_vocab_size (const ClipscopeTextTokenizer *tok);
/* The context length the family's models were trained with: 77, 64, 52. */
int clipscope_text_tokenizer_get_default_context_length (const ClipscopeTextTokenizer *tok);
/* The id padding uses, -1 for CLIP (not padded). */
int32_t clipscope_text_tokenizer_get_pad_id (const ClipscopeTextTokenizer *tok);

/* Encodes @text into at most @context_length ids (exactly that many for
 * the padded kinds); *n_tokens is set to the count. Invalid UTF-8, a
 * text over CLIPSCOPE_MAX_TEXT_BYTES or a context length below 2 is an
 * error. */
int32_t *clipscope_text_tokenizer_encode (const ClipscopeTextTokenizer *tok,
                                          const char                   *text,
                                          int                           context_length,
                                          int                          *n_tokens,
                                          GError                      **error) G_GNUC_WARN_UNUSED_RESULT;

/* Checks that every id the tokenizer can give indexes a row of a token
 * embedding of @model_vocab_size rows (from @what, for the message). A
 * larger table is accepted: fine-tuned models pad theirs; so are control
 * pieces past the table that encoding never gives. */
gboolean clipscope_text_tokenizer_check_vocab_size (const ClipscopeTextTokenizer *tok,
                                                    int                           model_vocab_size,
                                                    const char                   *what,
                                                    GError                      **error);

/* SigLIP's canonicalisation (big_vision's canonicalize_text): "_" to a
 * space where asked, ASCII punctuation removed, lower-cased as Python's
 * str.lower(), runs of white space made one space, stripped. */
char *clipscope_siglip_canonicalize (const char *text,
                                     gboolean    underscore_to_space);

/* Python's str.lower() and str.isspace(), from tokenizer.c. */
char *clipscope_text_python_lower (const char *text);
gboolean clipscope_text_is_python_space (gunichar c);
/* The checks of clipscope_tokenizer_encode(): size, UTF-8, context. */
gboolean clipscope_text_check (const char  *text,
                               int          context_length,
                               GError     **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ClipscopeTextTokenizer, clipscope_text_tokenizer_free)

G_END_DECLS
