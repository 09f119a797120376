/* text-tokenizer.c — one handle for the text tokenizers of every model family
 *
 * SigLIP's text conventions, from big_vision (pp/ops_text.py,
 * prompt_engineering.py), open_clip's tokenizer.py and transformers'
 * SiglipTokenizer:
 *
 *   - canonicalise: "_" → " " (big_vision, open_clip; not Hugging Face),
 *     drop the 32 ASCII punctuation characters, lower-case, collapse runs
 *     of white space, strip. (Hugging Face lower-cases before dropping
 *     punctuation; the two orders differ only in where a capital sigma
 *     next to punctuation takes its final form.)
 *   - append EOS; if that makes context_length ids or more, keep the first
 *     context_length − 1 and EOS ("sticky" EOS);
 *   - pad to context_length: with EOS for version 1 (its pad piece is the
 *     EOS piece in Hugging Face's tokenizer_config, pad_value=1 in
 *     big_vision), with <pad> for version 2 (Gemma's).
 *
 * Chinese-CLIP (cn_clip/clip/utils.py tokenize): [CLS], the first
 * context_length − 2 pieces, [SEP], zeros after.
 */
#include "text-tokenizer.h"

#include <string.h>

#define CLIP_CONTEXT_LENGTH      77
#define SIGLIP_CONTEXT_LENGTH    64
#define WORDPIECE_CONTEXT_LENGTH 52

struct _ClipscopeTextTokenizer
{
  ClipscopeTextTokenizerKind kind;
  ClipscopeTokenizer        *clip;
  ClipscopeSpm              *spm;
  ClipscopeWordPiece        *wordpiece;
  gboolean                   underscore_to_space;
  int32_t                    eos_id;
  int32_t                    pad_id;
};

static ClipscopeTextTokenizer *
tokenizer_new (ClipscopeTextTokenizerKind kind,
               int32_t                    eos_id,
               int32_t                    pad_id)
{
  ClipscopeTextTokenizer *tok = g_new0 (ClipscopeTextTokenizer, 1);

  tok->kind = kind;
  tok->eos_id = eos_id;
  tok->pad_id = pad_id;
  return tok;
}

ClipscopeTextTokenizer *
clipscope_text_tokenizer_new_clip (ClipscopeTokenizer *bpe)
{
  ClipscopeTextTokenizer *tok;

  g_return_val_if_fail (bpe != NULL, NULL);

  tok = tokenizer_new (CLIPSCOPE_TEXT_TOKENIZER_CLIP, clipscope_tokenizer_get_eot (bpe), -1);
  tok->clip = bpe;
  return tok;
}

ClipscopeTextTokenizer *
clipscope_text_tokenizer_new_wordpiece (ClipscopeWordPiece *wp)
{
  ClipscopeTextTokenizer *tok;

  g_return_val_if_fail (wp != NULL, NULL);

  tok = tokenizer_new (CLIPSCOPE_TEXT_TOKENIZER_WORDPIECE, clipscope_wordpiece_get_sep (wp), 0);
  tok->wordpiece = wp;
  return tok;
}

ClipscopeTextTokenizerKind
clipscope_text_tokenizer_siglip_kind_for (const ClipscopeSpm *spm)
{
  const ClipscopeSpmModel *m = clipscope_spm_get_model (spm);

  return m->model_type == CLIPSCOPE_SPM_MODEL_BPE && m->byte_fallback ? CLIPSCOPE_TEXT_TOKENIZER_SIGLIP2
                                                                      : CLIPSCOPE_TEXT_TOKENIZER_SIGLIP;
}

/* The model's id for a special piece: the spec's where it names a piece
 * of one of the @names, else the first of them there is. */
static int32_t
special_id (const ClipscopeSpm *spm,
            int                 spec_id,
            const char * const *names)
{
  const ClipscopeSpmModel *m = clipscope_spm_get_model (spm);

  if (spec_id >= 0 && spec_id < (int) m->pieces->len)
    {
      const char *piece = g_array_index (m->pieces, ClipscopeSpmPiece, spec_id).piece;

      if (g_strv_contains (names, piece))
        return spec_id;
    }
  for (guint i = 0; names[i] != NULL; i++)
    {
      int32_t id = clipscope_spm_piece_to_id (spm, names[i]);

      if (id >= 0)
        return id;
    }
  return -1;
}

ClipscopeTextTokenizer *
clipscope_text_tokenizer_new_siglip (ClipscopeSpm               *spm,
                                     ClipscopeTextTokenizerKind  kind,
                                     gboolean                    underscore_to_space,
                                     GError                    **error)
{
  static const char * const eos_names[] = { "</s>", "<eos>", NULL };
  static const char * const pad_names[] = { "<pad>", NULL };
  g_autoptr(ClipscopeSpm) owned = spm;
  const ClipscopeSpmModel *m;
  ClipscopeTextTokenizer *tok;
  int32_t eos, pad;

  g_return_val_if_fail (spm != NULL, NULL);
  g_return_val_if_fail (kind == CLIPSCOPE_TEXT_TOKENIZER_SIGLIP || kind == CLIPSCOPE_TEXT_TOKENIZER_SIGLIP2, NULL);

  m = clipscope_spm_get_model (spm);
  eos = special_id (spm, m->eos_id, eos_names);
  pad = kind == CLIPSCOPE_TEXT_TOKENIZER_SIGLIP ? eos : special_id (spm, m->pad_id, pad_names);
  if (eos < 0 || pad < 0)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                   "%s: no %s piece (%s)", m->path, eos < 0 ? "end-of-sequence" : "padding",
                   eos < 0 ? "</s> or <eos>" : "<pad>");
      return NULL;
    }
  tok = tokenizer_new (kind, eos, pad);
  tok->spm = g_steal_pointer (&owned);
  tok->underscore_to_space = underscore_to_space;
  return tok;
}

void
clipscope_text_tokenizer_free (ClipscopeTextTokenizer *tok)
{
  if (tok == NULL)
    return;
  g_clear_pointer (&tok->clip, clipscope_tokenizer_free);
  g_clear_pointer (&tok->spm, clipscope_spm_free);
  g_clear_pointer (&tok->wordpiece, clipscope_wordpiece_free);
  g_free (tok);
}

ClipscopeTextTokenizerKind
clipscope_text_tokenizer_get_kind (const ClipscopeTextTokenizer *tok)
{
  return tok->kind;
}

int
clipscope_text_tokenizer_get_vocab_size (const ClipscopeTextTokenizer *tok)
{
  switch (tok->kind)
    {
    case CLIPSCOPE_TEXT_TOKENIZER_CLIP:
      return clipscope_tokenizer_get_vocab_size (tok->clip);
    case CLIPSCOPE_TEXT_TOKENIZER_WORDPIECE:
      return clipscope_wordpiece_get_vocab_size (tok->wordpiece);
    default:
      return clipscope_spm_get_vocab_size (tok->spm);
    }
}

int
clipscope_text_tokenizer_get_default_context_length (const ClipscopeTextTokenizer *tok)
{
  switch (tok->kind)
    {
    case CLIPSCOPE_TEXT_TOKENIZER_CLIP:
      return CLIP_CONTEXT_LENGTH;
    case CLIPSCOPE_TEXT_TOKENIZER_WORDPIECE:
      return WORDPIECE_CONTEXT_LENGTH;
    default:
      return SIGLIP_CONTEXT_LENGTH;
    }
}

int32_t
clipscope_text_tokenizer_get_pad_id (const ClipscopeTextTokenizer *tok)
{
  return tok->pad_id;
}

/* ------------------------------------------------------ canonicalising */

char *
clipscope_siglip_canonicalize (const char *text,
                               gboolean    underscore_to_space)
{
  g_autoptr(GString) kept = g_string_sized_new (strlen (text));
  g_autofree char *lower = NULL;
  GString *out;
  gboolean in_space = FALSE;

  /* string.punctuation is exactly the characters g_ascii_ispunct() takes. */
  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == '_' && underscore_to_space)
        g_string_append_c (kept, ' ');
      else if (!g_ascii_ispunct (*p))
        g_string_append_c (kept, *p);
    }
  lower = clipscope_text_python_lower (kept->str);

  out = g_string_sized_new (strlen (lower));
  for (const char *p = lower; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (clipscope_text_is_python_space (c))
        in_space = TRUE;
      else
        {
          if (in_space && out->len > 0)
            g_string_append_c (out, ' ');
          in_space = FALSE;
          g_string_append_unichar (out, c);
        }
    }
  return g_string_free (out, FALSE);
}

/* ------------------------------------------------------------ encoding */

/* Cuts @ids to @context_length with @last kept last, then pads. */
static void
frame (GArray  *ids,
       int      context_length,
       int32_t  last,
       int32_t  pad)
{
  if (ids->len >= (guint) context_length)
    g_array_set_size (ids, context_length - 1);
  g_array_append_val (ids, last);
  while (ids->len < (guint) context_length)
    g_array_append_val (ids, pad);
}

int32_t *
clipscope_text_tokenizer_encode (const ClipscopeTextTokenizer *tok,
                                 const char                   *text,
                                 int                           context_length,
                                 int                          *n_tokens,
                                 GError                      **error)
{
  g_autoptr(GArray) ids = NULL;

  g_return_val_if_fail (tok != NULL, NULL);
  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (n_tokens != NULL, NULL);

  if (tok->kind == CLIPSCOPE_TEXT_TOKENIZER_CLIP)
    return clipscope_tokenizer_encode (tok->clip, text, context_length, n_tokens, error);
  if (!clipscope_text_check (text, context_length, error))
    return NULL;

  ids = g_array_sized_new (FALSE, FALSE, sizeof (int32_t), context_length);
  if (tok->kind == CLIPSCOPE_TEXT_TOKENIZER_WORDPIECE)
    {
      int32_t cls = clipscope_wordpiece_get_cls (tok->wordpiece);

      g_array_append_val (ids, cls);
      clipscope_wordpiece_encode (tok->wordpiece, text, ids);
    }
  else
    {
      g_autofree char *canonical = clipscope_siglip_canonicalize (text, tok->underscore_to_space);

      if (!clipscope_spm_encode (tok->spm, canonical, ids, error))
        return NULL;
    }
  frame (ids, context_length, tok->eos_id, tok->pad_id);
  *n_tokens = ids->len;
  return (int32_t *) g_array_free (g_steal_pointer (&ids), FALSE);
}

gboolean
clipscope_text_tokenizer_check_vocab_size (const ClipscopeTextTokenizer *tok,
                                           int                           model_vocab_size,
                                           const char                   *what,
                                           GError                      **error)
{
  int size = clipscope_text_tokenizer_get_vocab_size (tok);
  int needed = size;

  /* A SentencePiece tokenizer.json may list control pieces past the
   * model's own (T5's 100 <extra_id_N>) that encoding never gives. */
  if (tok->spm != NULL)
    needed = MAX (clipscope_spm_get_max_output_id (tok->spm), MAX (tok->eos_id, tok->pad_id)) + 1;
  if (needed <= model_vocab_size)
    return TRUE;
  g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
               "%s: the tokenizer gives ids up to %d (of %d) but the token embedding has only %d rows; "
               "the tokenizer does not belong to this model", what, needed - 1, size, model_vocab_size);
  return FALSE;
}
