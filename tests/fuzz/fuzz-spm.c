/* fuzz-spm.c — SentencePiece and WordPiece loading and encoding
 *
 * The first byte of an input says what the rest is:
 *
 *   'M'  a sentencepiece model file (protobuf)
 *   'J'  a Hugging Face tokenizer.json
 *   'W'  a BERT vocab.txt
 *
 * each parsed from memory and, when it loads, used on a fixed text. Any
 * other input is a text, valid UTF-8 or not, encoded with small models
 * built here: a unigram model with user-defined pieces, a BPE model with
 * byte fallback and a WordPiece vocabulary, each through the SigLIP or
 * Chinese-CLIP framing.
 */
#include "text-tokenizer.h"
#include "fuzz-common.h"

#include <string.h>

#define CONTEXT 16

static const char * const words[] = {
  "\xe2\x96\x81", "\xe2\x96\x81" "a", "\xe2\x96\x81" "photo", "\xe2\x96\x81" "of", "\xe2\x96\x81" "cat",
  "a", "b", "c", "o", "t", "ph", "at", "\xe7\x8c\xab", "\xc3\xa9", "[X]",
};

static void
check_ids (const ClipscopeTextTokenizer *tok,
           const char                   *text)
{
  g_autoptr(GError) error = NULL;
  int n = 0;
  g_autofree int32_t *ids = clipscope_text_tokenizer_encode (tok, text, CONTEXT, &n, &error);

  if (ids == NULL)
    return;
  g_assert_cmpint (n, ==, CONTEXT);
  for (int i = 0; i < n; i++)
    {
      g_assert_cmpint (ids[i], >=, 0);
      g_assert_cmpint (ids[i], <, clipscope_text_tokenizer_get_vocab_size (tok));
    }
}

/* A model with the T5 or Gemma special pieces and the words above. */
static ClipscopeTextTokenizer *
small_spm (ClipscopeSpmModelType type)
{
  g_autoptr(ClipscopeSpmModel) model = clipscope_spm_model_new ("small.model");
  g_autoptr(GError) error = NULL;
  ClipscopeSpm *spm;

  model->model_type = type;
  clipscope_spm_model_add_piece (model, "<pad>", 5, 0, CLIPSCOPE_SPM_PIECE_CONTROL);
  clipscope_spm_model_add_piece (model, "</s>", 4, 0, CLIPSCOPE_SPM_PIECE_CONTROL);
  clipscope_spm_model_add_piece (model, "<unk>", 5, 0, CLIPSCOPE_SPM_PIECE_UNKNOWN);
  model->unk_id = 2;
  model->eos_id = 1;
  model->pad_id = 0;
  if (type == CLIPSCOPE_SPM_MODEL_BPE)
    {
      model->byte_fallback = TRUE;
      model->add_dummy_prefix = model->remove_extra_whitespaces = FALSE;
      for (int b = 0; b < 256; b++)
        {
          g_autofree char *piece = g_strdup_printf ("<0x%02X>", b);

          clipscope_spm_model_add_piece (model, piece, 6, 0, CLIPSCOPE_SPM_PIECE_BYTE);
        }
    }
  for (guint i = 0; i < G_N_ELEMENTS (words); i++)
    clipscope_spm_model_add_piece (model, words[i], strlen (words[i]), -(float) i,
                                   words[i][0] == '[' ? CLIPSCOPE_SPM_PIECE_USER_DEFINED
                                                      : CLIPSCOPE_SPM_PIECE_NORMAL);
  spm = clipscope_spm_new (g_steal_pointer (&model), &error);
  g_assert_no_error (error);
  return clipscope_text_tokenizer_new_siglip (spm, clipscope_text_tokenizer_siglip_kind_for (spm), TRUE, NULL);
}

static ClipscopeTextTokenizer *
small_wordpiece (void)
{
  static const char vocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nphoto\n##s\ncat\n\xe7\x8c\xab\n,\n##x\nx\n";
  ClipscopeWordPiece *wp = clipscope_wordpiece_new_from_data (vocab, strlen (vocab), "vocab.txt", NULL);

  g_assert_nonnull (wp);
  return clipscope_text_tokenizer_new_wordpiece (wp);
}

static void
encode_text (const guint8 *data,
             size_t        size)
{
  static ClipscopeTextTokenizer *tokenizers[3];
  g_autofree char *text = g_strndup ((const char *) data, size);

  if (tokenizers[0] == NULL)
    {
      tokenizers[0] = small_spm (CLIPSCOPE_SPM_MODEL_UNIGRAM);
      tokenizers[1] = small_spm (CLIPSCOPE_SPM_MODEL_BPE);
      tokenizers[2] = small_wordpiece ();
    }
  for (guint i = 0; i < G_N_ELEMENTS (tokenizers); i++)
    check_ids (tokenizers[i], text);
}

static void
load_spm (const guint8 *data,
          size_t        size,
          gboolean      json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeTextTokenizer) tok = NULL;
  ClipscopeSpmModel *model;
  ClipscopeSpm *spm;

  if (json)
    {
      g_autofree char *copy = g_strndup ((const char *) data, size);

      model = clipscope_spm_model_parse_hf_json (copy, strlen (copy), "tokenizer.json", &error);
    }
  else
    model = clipscope_spm_model_parse (data, size, "spiece.model", &error);
  if (model == NULL || (spm = clipscope_spm_new (model, &error)) == NULL)
    return;
  tok = clipscope_text_tokenizer_new_siglip (spm, clipscope_text_tokenizer_siglip_kind_for (spm), FALSE, &error);
  if (tok != NULL)
    check_ids (tok, "A photo of a cat, \xe7\x8c\xab  caf\xc3\xa9 [X]!");
}

static void
load_wordpiece (const guint8 *data,
                size_t        size)
{
  g_autoptr(ClipscopeTextTokenizer) tok = NULL;
  ClipscopeWordPiece *wp = clipscope_wordpiece_new_from_data ((const char *) data, size, "vocab.txt", NULL);

  if (wp == NULL)
    return;
  tok = clipscope_text_tokenizer_new_wordpiece (wp);
  check_ids (tok, "A photo of a cat, \xe7\x8c\xab caf\xc3\xa9 xxxxxxxx!");
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  if (size > 0 && data[0] == 'M')
    load_spm (data + 1, size - 1, FALSE);
  else if (size > 0 && data[0] == 'J')
    load_spm (data + 1, size - 1, TRUE);
  else if (size > 0 && data[0] == 'W')
    load_wordpiece (data + 1, size - 1);
  else
    encode_text (data, size);
  return 0;
}
