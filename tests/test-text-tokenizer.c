/* test-text-tokenizer.c — the text-tokenizer handle and SigLIP's rules
 *
 * The ids themselves are checked against sentencepiece and BERT's rules by
 * test-spm.py and test-wordpiece.py; this covers what sits around them:
 * canonicalisation on its own, framing on a tiny tokenizer.json written
 * here, the CLIP tokenizer behind the same handle, vocabulary-size checks,
 * bad arguments, and encoding from several threads at once.
 */
#include "text-tokenizer.h"

#include <string.h>

/* A unigram model as a tokenizer.json: T5's special pieces, then a few
 * words with scores. "▁" is U+2581. */
static const char tiny_json[] =
  "{\"added_tokens\": [{\"id\": 0, \"content\": \"<pad>\", \"special\": true},"
  "                    {\"id\": 1, \"content\": \"</s>\", \"special\": true},"
  "                    {\"id\": 2, \"content\": \"<unk>\", \"special\": true},"
  "                    {\"id\": 11, \"content\": \"<extra_id_0>\", \"special\": true}],"
  " \"normalizer\": {\"type\": \"Replace\", \"pattern\": {\"Regex\": \" {2,}\"}, \"content\": \" \"},"
  " \"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\\u2581\", \"prepend_scheme\": \"always\"},"
  " \"model\": {\"type\": \"Unigram\", \"unk_id\": 2, \"vocab\": ["
  "   [\"<pad>\", 0], [\"</s>\", 0], [\"<unk>\", 0],"
  "   [\"\\u2581a\", -2], [\"\\u2581photo\", -3], [\"\\u2581of\", -3], [\"\\u2581cat\", -3],"
  "   [\"\\u2581\", -4], [\"a\", -5], [\"c\", -5], [\"t\", -5], [\"<extra_id_0>\", 0]]}}";

#define PAD 0
#define EOS 1
#define UNK 2
#define A 3
#define PHOTO 4
#define OF 5
#define CAT 6

static ClipscopeTextTokenizer *
tiny_siglip (ClipscopeTextTokenizerKind kind)
{
  g_autoptr(GError) error = NULL;
  ClipscopeSpmModel *model = clipscope_spm_model_parse_hf_json (tiny_json, strlen (tiny_json), "tiny.json", &error);
  ClipscopeSpm *spm;
  ClipscopeTextTokenizer *tok;

  g_assert_no_error (error);
  spm = clipscope_spm_new (model, &error);
  g_assert_no_error (error);
  tok = clipscope_text_tokenizer_new_siglip (spm, kind, TRUE, &error);
  g_assert_no_error (error);
  return tok;
}

static void
assert_ids (const ClipscopeTextTokenizer *tok,
            const char                   *text,
            int                           context_length,
            const int32_t                *expected)
{
  g_autoptr(GError) error = NULL;
  int n = 0;
  g_autofree int32_t *ids = clipscope_text_tokenizer_encode (tok, text, context_length, &n, &error);

  g_assert_no_error (error);
  g_assert_cmpmem (ids, n * sizeof (int32_t), expected, context_length * sizeof (int32_t));
}

static void
test_canonicalize (void)
{
  static const struct
  {
    const char *text;
    gboolean    underscore;
    const char *expected;
  } cases[] = {
    { "This is a photo of a cat.", TRUE, "this is a photo of a cat" },
    { "  A\u00a0photo\u3000of\t\n a_cat!!  ", TRUE, "a photo of a cat" },
    { "a_cat", FALSE, "acat" },
    { "ΟΔΟΣ. Hello_World!!", TRUE, "οδος hello world" },
    { "ΟΔΟΣ. Hello_World!!", FALSE, "οδος helloworld" },
    { "İstanbul", TRUE, "i\xcc\x87stanbul" },
    { "«quoted» — “kept”", TRUE, "«quoted» — “kept”" },
    { "!!!", TRUE, "" },
    { "", TRUE, "" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *got = clipscope_siglip_canonicalize (cases[i].text, cases[i].underscore);

      g_assert_cmpstr (got, ==, cases[i].expected);
    }
}

/* Version 1 pads with EOS, version 2 with <pad>; EOS stays last when the
 * text is cut. */
static void
test_siglip_framing (void)
{
  g_autoptr(ClipscopeTextTokenizer) v1 = tiny_siglip (CLIPSCOPE_TEXT_TOKENIZER_SIGLIP);
  g_autoptr(ClipscopeTextTokenizer) v2 = tiny_siglip (CLIPSCOPE_TEXT_TOKENIZER_SIGLIP2);
  static const int32_t v1_short[] = { A, PHOTO, OF, A, CAT, EOS, EOS, EOS };
  static const int32_t v2_short[] = { A, PHOTO, OF, A, CAT, EOS, PAD, PAD };
  static const int32_t cut[] = { A, PHOTO, OF, EOS };
  static const int32_t exact[] = { A, PHOTO, OF, A, CAT, EOS };
  static const int32_t empty[] = { EOS, EOS, EOS };
  static const int32_t unknown[] = { A, 7, UNK, EOS };

  assert_ids (v1, "A photo of a CAT.", 8, v1_short);
  assert_ids (v2, "A photo of a CAT.", 8, v2_short);
  assert_ids (v1, "A photo of a cat", 4, cut);
  assert_ids (v2, "A photo of a cat", 4, cut);
  assert_ids (v1, "a photo of a cat", 6, exact);
  assert_ids (v1, "", 3, empty);
  /* "▁" then the unknown "xyz" as one <unk> */
  assert_ids (v1, "a xyz", 4, unknown);

  g_assert_cmpint (clipscope_text_tokenizer_get_pad_id (v1), ==, EOS);
  g_assert_cmpint (clipscope_text_tokenizer_get_pad_id (v2), ==, PAD);
  g_assert_cmpint (clipscope_text_tokenizer_get_default_context_length (v1), ==, 64);
  g_assert_cmpint (clipscope_text_tokenizer_get_vocab_size (v1), ==, 12);
}

static void
test_wordpiece_framing (void)
{
  static const char vocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n一\n张\n猫\n的\n照\n片\n。\n";
  g_autoptr(GError) error = NULL;
  ClipscopeWordPiece *wp = clipscope_wordpiece_new_from_data (vocab, strlen (vocab), "vocab.txt", &error);
  g_autoptr(ClipscopeTextTokenizer) tok = NULL;
  static const int32_t full[] = { 2, 4, 5, 6, 7, 8, 9, 10, 3, 0, 0 };
  static const int32_t cut[] = { 2, 4, 5, 6, 3 };
  static const int32_t unknown[] = { 2, 1, 6, 3, 0 };

  g_assert_no_error (error);
  tok = clipscope_text_tokenizer_new_wordpiece (wp);
  assert_ids (tok, "一张猫的照片。", 11, full);
  assert_ids (tok, "一张猫的照片。", 5, cut);
  assert_ids (tok, "狗猫", 5, unknown);
  g_assert_cmpint (clipscope_text_tokenizer_get_default_context_length (tok), ==, 52);
  g_assert_cmpint (clipscope_text_tokenizer_get_kind (tok), ==, CLIPSCOPE_TEXT_TOKENIZER_WORDPIECE);
}

/* The CLIP tokenizer behind the handle gives what it gives alone. */
static void
test_clip (void)
{
  const char *shared = g_getenv ("CLIPSCOPE_SHARED_DIR");
  g_autofree char *path = g_build_filename (shared ? shared : "/work/shared", "data", "clip-bpe",
                                            "bpe_simple_vocab_16e6.txt.gz", NULL);
  g_autoptr(GError) error = NULL;
  ClipscopeTokenizer *bpe = clipscope_tokenizer_new_from_bpe_gz (path, &error);
  g_autoptr(ClipscopeTokenizer) alone = clipscope_tokenizer_new_from_bpe_gz (path, &error);
  g_autoptr(ClipscopeTextTokenizer) tok = NULL;
  int n_alone = 0, n = 0;
  g_autofree int32_t *want = NULL, *got = NULL;

  g_assert_no_error (error);
  tok = clipscope_text_tokenizer_new_clip (bpe);
  want = clipscope_tokenizer_encode (alone, "A photo of a cat.", 77, &n_alone, &error);
  g_assert_no_error (error);
  got = clipscope_text_tokenizer_encode (tok, "A photo of a cat.", 77, &n, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (got, n * sizeof (int32_t), want, n_alone * sizeof (int32_t));
  g_assert_cmpint (clipscope_text_tokenizer_get_vocab_size (tok), ==, 49408);
  g_assert_cmpint (clipscope_text_tokenizer_get_pad_id (tok), ==, -1);
  g_assert_cmpint (clipscope_text_tokenizer_get_default_context_length (tok), ==, 77);
}

static void
test_vocab_size_check (void)
{
  g_autoptr(ClipscopeTextTokenizer) tok = tiny_siglip (CLIPSCOPE_TEXT_TOKENIZER_SIGLIP);
  g_autoptr(GError) error = NULL;

  /* <extra_id_0>, id 11, never comes out. */
  g_assert_true (clipscope_text_tokenizer_check_vocab_size (tok, 11, "model.safetensors", &error));
  g_assert_no_error (error);
  g_assert_true (clipscope_text_tokenizer_check_vocab_size (tok, 64, "model.safetensors", &error));
  g_assert_no_error (error);
  g_assert_false (clipscope_text_tokenizer_check_vocab_size (tok, 10, "model.safetensors", &error));
  g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER);
  g_assert_nonnull (strstr (error->message, "model.safetensors"));
  g_assert_nonnull (strstr (error->message, "up to 10 (of 12)"));
  g_assert_nonnull (strstr (error->message, "only 10 rows"));
}

static void
test_bad_arguments (void)
{
  g_autoptr(ClipscopeTextTokenizer) tok = tiny_siglip (CLIPSCOPE_TEXT_TOKENIZER_SIGLIP);
  g_autofree char *huge = g_malloc (CLIPSCOPE_MAX_TEXT_BYTES + 2);
  int n = -1;

  memset (huge, 'a', CLIPSCOPE_MAX_TEXT_BYTES + 1);
  huge[CLIPSCOPE_MAX_TEXT_BYTES + 1] = '\0';
  {
    g_autoptr(GError) error = NULL;

    g_assert_null (clipscope_text_tokenizer_encode (tok, "caf\xc3", 64, &n, &error));
    g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT);
  }
  {
    g_autoptr(GError) error = NULL;

    g_assert_null (clipscope_text_tokenizer_encode (tok, "a cat", 1, &n, &error));
    g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT);
  }
  {
    g_autoptr(GError) error = NULL;

    g_assert_null (clipscope_text_tokenizer_encode (tok, huge, 64, &n, &error));
    g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT);
  }
  /* No EOS piece: a version-2 tokenizer cannot be made. */
  {
    static const char no_eos[] =
      "{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": [[\"<unk>\", 0], [\"a\", -1]]}}";
    g_autoptr(GError) error = NULL;
    ClipscopeSpmModel *model = clipscope_spm_model_parse_hf_json (no_eos, strlen (no_eos), "no-eos.json", &error);
    ClipscopeSpm *spm = clipscope_spm_new (model, &error);

    g_assert_no_error (error);
    g_assert_null (clipscope_text_tokenizer_new_siglip (spm, CLIPSCOPE_TEXT_TOKENIZER_SIGLIP2, TRUE, &error));
    g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER);
    g_assert_nonnull (strstr (error->message, "no-eos.json"));
  }
}

/* ---------------------------------------------------------- threads */

static const char * const thread_texts[] = {
  "A photo of a cat.", "a cat", "photo of cats", "xyz of a photo", "", "cat cat cat cat cat cat",
};

static gpointer
encode_texts (gpointer data)
{
  const ClipscopeTextTokenizer *tok = data;
  GString *all = g_string_new (NULL);

  for (int round = 0; round < 500; round++)
    for (gsize i = 0; i < G_N_ELEMENTS (thread_texts); i++)
      {
        int n = 0;
        g_autofree int32_t *ids = clipscope_text_tokenizer_encode (tok, thread_texts[i], 16, &n, NULL);

        g_assert_nonnull (ids);
        g_string_append_len (all, (const char *) ids, n * sizeof (int32_t));
      }
  return all;
}

static void
test_threads (void)
{
  g_autoptr(ClipscopeTextTokenizer) tok = tiny_siglip (CLIPSCOPE_TEXT_TOKENIZER_SIGLIP2);
  GString *alone = encode_texts (tok);
  GThread *threads[4];

  for (int t = 0; t < 4; t++)
    threads[t] = g_thread_new ("encode", encode_texts, tok);
  for (int t = 0; t < 4; t++)
    {
      GString *got = g_thread_join (threads[t]);

      g_assert_cmpmem (got->str, got->len, alone->str, alone->len);
      g_string_free (got, TRUE);
    }
  g_string_free (alone, TRUE);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/text-tokenizer/siglip/canonicalize", test_canonicalize);
  g_test_add_func ("/engine/text-tokenizer/siglip/framing", test_siglip_framing);
  g_test_add_func ("/engine/text-tokenizer/wordpiece/framing", test_wordpiece_framing);
  g_test_add_func ("/engine/text-tokenizer/clip", test_clip);
  g_test_add_func ("/engine/text-tokenizer/vocab-size-check", test_vocab_size_check);
  g_test_add_func ("/engine/text-tokenizer/bad-arguments", test_bad_arguments);
  g_test_add_func ("/engine/text-tokenizer/threads", test_threads);
  return g_test_run ();
}
