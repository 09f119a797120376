/* test-tokenizer.c — CLIP tokenizer against ids from OpenAI's reference
 *
 * The expected ids were produced by OpenAI's simple_tokenizer.py algorithm
 * with ftfy 6.3.1 on the real vocabulary, bpe_simple_vocab_16e6.txt.gz. The tests fail rather than skip when that
 * file is missing, since without it nothing here is checked.
 */
#include "tokenizer.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#define SOT 49406
#define EOT 49407
#define END (-1)  /* ends an expected id list */

static ClipscopeTokenizer *clip_tokenizer;

/* A file of the shared CLIP data; meson sets CLIPSCOPE_SHARED_DIR. */
static char *
clip_data_path (const char *name)
{
  const char *shared = g_getenv ("CLIPSCOPE_SHARED_DIR");

  if (shared == NULL)
    shared = "/work/shared";
  return g_build_filename (shared, "data", "clip-bpe", name, NULL);
}

static char *
clip_vocab_path (void)
{
  return clip_data_path ("bpe_simple_vocab_16e6.txt.gz");
}

/* Loads the real vocabulary once for the whole run. */
static ClipscopeTokenizer *
get_clip_tokenizer (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;

  if (clip_tokenizer != NULL)
    return clip_tokenizer;

  path = clip_vocab_path ();
  clip_tokenizer = clipscope_tokenizer_new_from_bpe_gz (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (clip_tokenizer);
  return clip_tokenizer;
}

static int32_t *
encode (ClipscopeTokenizer *tok,
        const char         *text,
        int                 context_length,
        int                *n_tokens)
{
  g_autoptr(GError) error = NULL;
  int32_t *ids = clipscope_tokenizer_encode (tok, text, context_length, n_tokens, &error);

  g_assert_no_error (error);
  g_assert_nonnull (ids);
  return ids;
}

static void
assert_ids (const int32_t *ids,
            int            n_ids,
            const int32_t *expected)
{
  int n_expected = 0;

  while (expected[n_expected] != END)
    n_expected++;

  for (int i = 0; i < MIN (n_ids, n_expected); i++)
    {
      if (ids[i] != expected[i])
        g_test_message ("first difference at position %d", i);
      g_assert_cmpint (ids[i], ==, expected[i]);
    }
  g_assert_cmpint (n_ids, ==, n_expected);
}

static void
assert_same_encoding (ClipscopeTokenizer *a,
                      ClipscopeTokenizer *b,
                      const char         *text_a,
                      const char         *text_b)
{
  int n_a, n_b;
  g_autofree int32_t *ids_a = encode (a, text_a, 77, &n_a);
  g_autofree int32_t *ids_b = encode (b, text_b, 77, &n_b);

  g_assert_cmpmem (ids_a, n_a * sizeof (int32_t), ids_b, n_b * sizeof (int32_t));
}

/* ---------------------------------------------------------- temporary files */

static char *
make_temp_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("clipscope-tokenizer-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

/* Writes @length bytes of @contents (all of it if @length is -1) to
 * @name inside @dir; a NULL @contents writes nothing. */
static char *
write_temp_file (const char *dir,
                 const char *name,
                 const char *contents,
                 gssize      length)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (dir, name, NULL);

  if (contents != NULL)
    {
      g_file_set_contents (path, contents, length, &error);
      g_assert_no_error (error);
    }
  return path;
}

static void
write_gz_file (const char *path,
               const char *contents)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileOutputStream) file_stream = NULL;
  g_autoptr(GZlibCompressor) compressor = NULL;
  g_autoptr(GOutputStream) stream = NULL;

  file_stream = g_file_replace (file, NULL, FALSE, G_FILE_CREATE_NONE, NULL, &error);
  g_assert_no_error (error);
  compressor = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, -1);
  stream = g_converter_output_stream_new (G_OUTPUT_STREAM (file_stream),
                                          G_CONVERTER (compressor));
  g_output_stream_write_all (stream, contents, strlen (contents), NULL, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_close (stream, NULL, &error);
  g_assert_no_error (error);
}

static void
remove_temp_dir (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *file = g_build_filename (path, name, NULL);

      g_assert_cmpint (g_remove (file), ==, 0);
    }
  g_assert_cmpint (g_rmdir (path), ==, 0);
}

/* ---------------------------------------------------------- the real vocabulary */

static void
test_gz_vocabulary (void)
{
  ClipscopeTokenizer *tok = get_clip_tokenizer ();

  g_assert_cmpint (clipscope_tokenizer_get_vocab_size (tok), ==, 49408);
  g_assert_cmpint (clipscope_tokenizer_get_sot (tok), ==, SOT);
  g_assert_cmpint (clipscope_tokenizer_get_eot (tok), ==, EOT);
}

typedef struct
{
  const char    *name;
  const char    *text;
  const int32_t *expected;  /* ends with END */
} EncodeCase;

static const EncodeCase encode_cases[] = {
  { "basic", "a photo of a cat",
    (const int32_t[]) { SOT, 320, 1125, 539, 320, 2368, EOT, END } },
  { "known-words", "cat. dog",
    (const int32_t[]) { SOT, 2368, 269, 1929, EOT, END } },
  { "punctuation", "Hello, world! (really?) ...",
    (const int32_t[]) { SOT, 3306, 267, 1002, 256, 263, 1414, 9626, 678, EOT, END } },
  { "contractions", "it's don't we'll they've I'm you'd she's",
    (const int32_t[]) { SOT, 585, 568, 847, 713, 649, 1342, 889, 1200, 328, 880, 592, 1896,
                        1043, 568, EOT, END } },
  /* Each digit is a word of its own. */
  { "digits", "2021",
    (const int32_t[]) { SOT, 273, 271, 273, 272, EOT, END } },
  { "digits-mixed", "in 2021, 3.5% of 10k",
    (const int32_t[]) { SOT, 530, 273, 271, 273, 272, 267, 274, 269, 276, 260, 539, 272, 271,
                        330, EOT, END } },
  { "accents", "caf\u00e9 na\u00efve r\u00e9sum\u00e9",
    (const int32_t[]) { SOT, 15304, 1097, 35689, 563, 29106, 7054, 4166, EOT, END } },
  /* The same words with combining accents: NFC composes them first. */
  { "accents-decomposed", "cafe\u0301 nai\u0308ve re\u0301sume\u0301",
    (const int32_t[]) { SOT, 15304, 1097, 35689, 563, 29106, 7054, 4166, EOT, END } },
  { "cjk", "\u6771\u4eac\u30bf\u30ef\u30fc \u732b",
    (const int32_t[]) { SOT, 48338, 21078, 105, 34941, 2429, 107, 30391, 163, 234, 360, EOT,
                        END } },
  { "emoji", "\U0001f431 cat \U0001f44d\U0001f3fd",
    (const int32_t[]) { SOT, 22979, 2368, 43722, EOT, END } },
  /* Unescaped twice, as CLIP does: "&amp;amp;" becomes "&". */
  { "entity-twice", "&amp;amp;",
    (const int32_t[]) { SOT, 261, EOT, END } },
  { "entities", "Tom &amp; Jerry &lt;b&gt; caf&eacute; &#39;s &#x41;&#66;",
    (const int32_t[]) { SOT, 2435, 261, 9164, 283, 321, 285, 15304, 568, 3937, EOT, END } },
  { "whitespace", "  a\t\tphoto\n of \u00a0 a\u3000cat  ",
    (const int32_t[]) { SOT, 320, 1125, 539, 320, 2368, EOT, END } },
  { "uppercase", "A PHOTO OF A CAT",
    (const int32_t[]) { SOT, 320, 1125, 539, 320, 2368, EOT, END } },
  { "empty", "",
    (const int32_t[]) { SOT, EOT, END } },
  { "blank", " \t\n ",
    (const int32_t[]) { SOT, EOT, END } },
  /* The reference turns the special tokens written in a text into theirs. */
  { "special-token", "<|endoftext|>",
    (const int32_t[]) { SOT, EOT, EOT, END } },
  { "special-token-in-text", "<|startoftext|>hi",
    (const int32_t[]) { SOT, SOT, 1883, EOT, END } },
  /* U+00A0 is white space; ftfy reads the C1 control U+0085 as
   * Windows-1252's "…" and removes U+0001 and U+007F. */
  { "space-and-controls", "x\u00a0y\xc2\x85z\x01\x7f",
    (const int32_t[]) { SOT, 343, 344, 959, 345, EOT, END } },
  /* ftfy's repairs; the first list is open_clip's own. */
  { "ftfy-mojibake", "caf\u00c3\u00a9 au lait",
    (const int32_t[]) { SOT, 15304, 2566, 572, 585, EOT, END } },
  { "ftfy-curly-quotes", "\u201ccurly quotes\u201d and \u2018single\u2019 ones",
    (const int32_t[]) { SOT, 257, 20795, 5808, 257, 537, 568, 17005, 262, 1575, EOT, END } },
  { "ftfy-ligatures", "\ufb01ne ligature \ufb02ow",
    (const int32_t[]) { SOT, 3797, 19915, 4490, 5608, EOT, END } },
  { "ftfy-fullwidth", "\uff26\uff35\uff2c\uff2c\uff37\uff29\uff24\uff34\uff28 \uff54\uff45\uff58\uff54",
    (const int32_t[]) { SOT, 9407, 23571, 4160, EOT, END } },
  { "ftfy-emoji-mojibake", "\u00f0\u0178\u02dc\u20ac smile",
    (const int32_t[]) { SOT, 7334, 3490, EOT, END } },
  { "ftfy-entities-and-ligatures", "Broken text&hellip; it&#x2019;s \ufb02ubberi\ufb01c!",
    (const int32_t[]) { SOT, 5107, 4160, 959, 585, 568, 3698, 65, 867, 72, 2059, 256, EOT, END } },
  /* Windows-1252 mojibake of mojibake */
  { "ftfy-double-mojibake", "The Mona Lisa doesn\u00c3\u00a2\u00e2\u201a\u00ac\u00e2\u201e\u00a2t have eyebrows.",
    (const int32_t[]) { SOT, 518, 19143, 7424, 2503, 713, 720, 19923, 269, EOT, END } },
  /* U+00A0 turned into a space after "Ã" */
  { "ftfy-restored-nbsp", "voil\u00c3 le travail",
    (const int32_t[]) { SOT, 947, 543, 21259, 579, 752, 21189, EOT, END } },
  /* mojibake next to correct text, fixed piece by piece */
  { "ftfy-inconsistent", "\u00c3\u00a2\u00e2\u201a\u00ac\u00c5\u201cmixed\u00c3\u00a2\u00e2\u201a\u00ac\u00c2 "
    "and \u201cfine\u201d text \u2014 S\u00e3o Paulo",
    (const int32_t[]) { SOT, 257, 6780, 728, 510, 537, 257, 3797, 257, 4160, 2005, 45911, 21628, EOT,
                        END } },
  { "ftfy-terminal-escapes", "\x1b[36;44mblue\x1b[0m text",
    (const int32_t[]) { SOT, 1746, 4160, EOT, END } },
  /* With a '<' in the text, ftfy leaves entities alone; CLIP's own
   * unescaping then does not know &EACUTE;. */
  { "ftfy-html-kept", "P&EACUTE;REZ and <b>caf&eacute;</b>",
    (const int32_t[]) { SOT, 335, 261, 68, 19734, 282, 15192, 537, 283, 321, 285, 15304, 34308,
                        321, 285, EOT, END } },
  { "ftfy-cyrillic-mojibake", "\u00d0\u0178\u00d1\u20ac\u00d0\u00b8\u00d0\u00b2\u00d0\u00b5\u00d1\u201a "
    "\u00d0\u00bc\u00d0\u00b8\u00d1\u20ac",
    (const int32_t[]) { SOT, 26302, 16370, 29503, 110, 22176, 141, 480, 38018, 16701, 141, 478, EOT,
                        END } },
  { "ftfy-halfwidth-katakana", "\uff76\uff80\uff76\uff85",
    (const int32_t[]) { SOT, 37367, 34941, 37367, 2429, 488, EOT, END } },
  /* Python lower-cases a word-final capital sigma to ς. */
  { "greek-sigma", "\u039f\u0394\u039f\u03a3 \u03a3\u039f\u03a6\u0399\u0391",
    (const int32_t[]) { SOT, 138, 123, 138, 112, 138, 123, 139, 480, 139, 225, 138, 123, 139,
                        228, 138, 117, 138, 365, EOT, END } },
  /* İ lower-cases to i followed by U+0307 COMBINING DOT ABOVE. */
  { "dotted-capital-i", "\u0130stanbul",
    (const int32_t[]) { SOT, 328, 16384, 11231, EOT, END } },
};

static void
test_encode_case (gconstpointer data)
{
  const EncodeCase *c = data;
  int n;
  g_autofree int32_t *ids = encode (get_clip_tokenizer (), c->text, 77, &n);

  assert_ids (ids, n, c->expected);
}

typedef struct
{
  const char *name;
  const char *text;
  const char *same_as;
} SameCase;

static const SameCase same_cases[] = {
  { "nfc", "cafe\u0301", "caf\u00e9" },
  { "entity-twice", "&amp;amp;", "&" },
  { "entity-named", "caf&eacute; &lt;b&gt; &quot;x&quot; &apos;y&apos;", "café <b> \"x\" 'y'" },
  { "entity-numeric", "&#65;&#x42;&#X43;&#39;s", "abc's" },
  { "entity-without-semicolon", "&amp &lt &eacute", "& < é" },
  { "entity-nbsp", "a&nbsp;cat", "a cat" },
  { "entity-unknown", "&bogus; &", "&bogus; &" },
  { "whitespace", "\t a \n\n photo \u2003of\r\na   cat \u3000", "a photo of a cat" },
  { "case", "A Photo OF a CaT", "a photo of a cat" },
  { "ftfy-mojibake", "caf\u00c3\u00a9 au lait", "caf\u00e9 au lait" },
  { "ftfy-quotes", "\u201ccurly quotes\u201d and \u2018single\u2019 ones",
    "\"curly quotes\" and 'single' ones" },
  { "ftfy-ligatures", "\ufb01ne ligature \ufb02ow", "fine ligature flow" },
  { "ftfy-fullwidth", "\uff26\uff35\uff2c\uff2c\uff37\uff29\uff24\uff34\uff28\u3000\uff54\uff45\uff58\uff54",
    "FULLWIDTH text" },
  { "ftfy-emoji-mojibake", "\u00f0\u0178\u02dc\u20ac smile", "\U0001f600 smile" },
  { "ftfy-line-breaks", "a\u2028photo\rof\u2029a cat", "a photo of a cat" },
  { "ftfy-controls", "a\x02 pho\ufefftoo\x1b[1m of a cat", "a photoo of a cat" },
  { "ftfy-c1", "\xc2\x93quoted\xc2\x94", "\"quoted\"" },
};

static void
test_same_case (gconstpointer data)
{
  const SameCase *c = data;
  ClipscopeTokenizer *tok = get_clip_tokenizer ();

  assert_same_encoding (tok, tok, c->text, c->same_as);
}

/* ---------------------------------------------------------- truncation */

static void
test_truncate (void)
{
  ClipscopeTokenizer *tok = get_clip_tokenizer ();
  g_autoptr(GString) text = g_string_new (NULL);
  g_autofree int32_t *full = NULL;
  g_autofree int32_t *cut = NULL;
  int n_full, n_cut;

  for (int i = 0; i < 40; i++)
    g_string_append (text, "a photo of a cat ");

  full = encode (tok, text->str, 1000, &n_full);
  g_assert_cmpint (n_full, ==, 2 + 40 * 5);
  cut = encode (tok, text->str, 77, &n_cut);
  g_assert_cmpint (n_cut, ==, 77);
  g_assert_cmpint (cut[76], ==, EOT);
  g_assert_cmpmem (cut, 76 * sizeof (int32_t), full, 76 * sizeof (int32_t));

  /* Any context keeps start-of-text and the first ids, then end-of-text. */
  for (int context_length = 2; context_length < 12; context_length++)
    {
      int n;
      g_autofree int32_t *ids = encode (tok, text->str, context_length, &n);

      g_assert_cmpint (n, ==, context_length);
      g_assert_cmpmem (ids, (n - 1) * sizeof (int32_t), full, (n - 1) * sizeof (int32_t));
      g_assert_cmpint (ids[n - 1], ==, EOT);
    }
}

static void
test_truncate_boundary (void)
{
  ClipscopeTokenizer *tok = get_clip_tokenizer ();
  g_autofree char *fits = g_strnfill (75 * 2, ' ');
  g_autofree char *over = g_strnfill (76 * 2, ' ');
  g_autofree int32_t *ids_fits = NULL;
  g_autofree int32_t *ids_over = NULL;
  int n_fits, n_over;

  /* "a a a …": one id per "a", so 75 of them fill the context exactly. */
  for (int i = 0; i < 75; i++)
    fits[2 * i] = 'a';
  for (int i = 0; i < 76; i++)
    over[2 * i] = 'a';

  ids_fits = encode (tok, fits, 77, &n_fits);
  ids_over = encode (tok, over, 77, &n_over);
  g_assert_cmpint (n_fits, ==, 77);
  g_assert_cmpint (n_over, ==, 77);
  g_assert_cmpmem (ids_fits, 77 * sizeof (int32_t), ids_over, 77 * sizeof (int32_t));
  g_assert_cmpint (ids_fits[75], ==, 320);
  g_assert_cmpint (ids_fits[76], ==, EOT);
}

/* ---------------------------------------------------------- bad input */

static void
test_invalid_utf8 (void)
{
  static const char *const texts[] = {
    "\xff", "caf\xc3", "\xc0\xaf", "\xed\xa0\x80", "a photo of a \xe2\x82",
  };
  ClipscopeTokenizer *tok = get_clip_tokenizer ();

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(GError) error = NULL;
      int n = -1;
      int32_t *ids = clipscope_tokenizer_encode (tok, texts[i], 77, &n, &error);

      g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT);
      g_assert_null (ids);
    }
}

static void
test_bad_context_length (void)
{
  static const int lengths[] = { 1, 0, -77 };
  ClipscopeTokenizer *tok = get_clip_tokenizer ();

  for (gsize i = 0; i < G_N_ELEMENTS (lengths); i++)
    {
      g_autoptr(GError) error = NULL;
      int n;
      int32_t *ids = clipscope_tokenizer_encode (tok, "a cat", lengths[i], &n, &error);

      g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT);
      g_assert_null (ids);
    }
}

static void
test_too_long (void)
{
  ClipscopeTokenizer *tok = get_clip_tokenizer ();
  g_autofree char *text = g_strnfill (CLIPSCOPE_MAX_TEXT_BYTES + 1, 'a');
  g_autoptr(GError) error = NULL;
  int n;
  int32_t *ids = clipscope_tokenizer_encode (tok, text, 77, &n, &error);

  g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT);
  g_assert_null (ids);
}

/* Texts at the size limit made of one huge word must neither hang nor run
 * out of memory: BPE on a word is O(n log n). */
static void
test_long_words (void)
{
  static const char *const units[] = { "a", "ab", "aab", "!", "\u732b", "the" };
  ClipscopeTokenizer *tok = get_clip_tokenizer ();

  for (gsize i = 0; i < G_N_ELEMENTS (units); i++)
    {
      gsize unit = strlen (units[i]);
      g_autoptr(GString) text = g_string_sized_new (CLIPSCOPE_MAX_TEXT_BYTES);
      g_autofree int32_t *ids = NULL;
      int n;

      while (text->len + unit <= CLIPSCOPE_MAX_TEXT_BYTES)
        g_string_append (text, units[i]);
      ids = encode (tok, text->str, 77, &n);
      g_assert_cmpint (n, ==, 77);
      g_assert_cmpint (ids[0], ==, SOT);
      g_assert_cmpint (ids[76], ==, EOT);
    }
}

/* ---------------------------------------------------------- vocab.json + merges.txt */

/* A vocabulary of nine tokens; bytes it lacks are left out of the output. */
#define TINY_VOCAB \
  "{\"c\": 0, \"a\": 1, \"t\": 2, \"t</w>\": 3, \"ca\": 4, \"cat</w>\": 5, \"at</w>\": 6," \
  " \"<|startoftext|>\": 7, \"<|endoftext|>\": 8}"

static ClipscopeTokenizer *
load_tiny (const char *vocab,
           const char *merges)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *vocab_path = write_temp_file (dir, "vocab.json", vocab, -1);
  g_autofree char *merges_path = write_temp_file (dir, "merges.txt", merges, -1);
  g_autoptr(GError) error = NULL;
  ClipscopeTokenizer *tok;

  tok = clipscope_tokenizer_new_from_files (vocab_path, merges_path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (tok);
  remove_temp_dir (dir);
  return tok;
}

static void
assert_encoding (ClipscopeTokenizer *tok,
                      const char         *text,
                      const int32_t      *expected)
{
  int n;
  g_autofree int32_t *ids = encode (tok, text, 77, &n);

  assert_ids (ids, n, expected);
}

static void
test_files_tiny (void)
{
  g_autoptr(ClipscopeTokenizer) tok = NULL;

  tok = load_tiny (TINY_VOCAB, "#version: 0.2\nc a\nca t</w>\na t</w>\n");
  g_assert_cmpint (clipscope_tokenizer_get_vocab_size (tok), ==, 9);
  g_assert_cmpint (clipscope_tokenizer_get_sot (tok), ==, 7);
  g_assert_cmpint (clipscope_tokenizer_get_eot (tok), ==, 8);

  /* c a t</w> → ca t</w> → cat</w>. */
  assert_encoding (tok, "cat", (const int32_t[]) { 7, 5, 8, END });
  /* "c</w>", "a</w>" and "!</w>" are not tokens, so those symbols vanish. */
  assert_encoding (tok, "tac", (const int32_t[]) { 7, 2, 1, 8, END });
  assert_encoding (tok, "a CAT!", (const int32_t[]) { 7, 5, 8, END });
  assert_encoding (tok, "cat<|endoftext|>", (const int32_t[]) { 7, 5, 8, 8, END });
}

/* The rank of a merge is its line: merging "a t</w>" first leaves "c"
 * without a partner. */
static void
test_files_rank_order (void)
{
  g_autoptr(ClipscopeTokenizer) first = NULL;
  g_autoptr(ClipscopeTokenizer) last = NULL;

  first = load_tiny (TINY_VOCAB, "#version: 0.2\nc a\nca t</w>\na t</w>\n");
  last = load_tiny (TINY_VOCAB, "#version: 0.2\na t</w>\nc a\nca t</w>\n");
  assert_encoding (first, "cat", (const int32_t[]) { 7, 5, 8, END });
  assert_encoding (last, "cat", (const int32_t[]) { 7, 0, 6, 8, END });
}

static void
test_files_without_header (void)
{
  g_autoptr(ClipscopeTokenizer) tok = NULL;

  /* Without "#version" the first line is a merge; blank lines at the end
   * are ignored. */
  tok = load_tiny (TINY_VOCAB, "c a\nca t</w>\n\n\n");
  assert_encoding (tok, "cat", (const int32_t[]) { 7, 5, 8, END });
}

typedef struct
{
  const char *name;
  const char *vocab;    /* NULL: no vocab.json */
  const char *merges;   /* NULL: no merges.txt */
  const char *message;  /* part of the error message, saying where */
} BadFilesCase;

#define MERGES_OK "#version: 0.2\nc a\nca t</w>\n"

static const BadFilesCase bad_files_cases[] = {
  { "missing-vocab", NULL, MERGES_OK, "vocab.json" },
  { "missing-merges", TINY_VOCAB, NULL, "merges.txt" },
  { "not-json", "{\"c\": 0,", MERGES_OK, "vocab.json:" },
  { "not-json-text", "vocabulary", MERGES_OK, "vocab.json:" },
  { "empty-vocab-file", "", MERGES_OK, "vocab.json" },
  { "not-object", "[\"c\", \"a\"]", MERGES_OK, "vocab.json" },
  { "id-float", "{\"c\": 0.5, \"<|startoftext|>\": 1, \"<|endoftext|>\": 2}", MERGES_OK,
    "“c”" },
  { "id-string", "{\"c\": \"0\", \"<|startoftext|>\": 1, \"<|endoftext|>\": 2}", MERGES_OK,
    "“c”" },
  { "id-null", "{\"c\": null, \"<|startoftext|>\": 1, \"<|endoftext|>\": 2}", MERGES_OK,
    "“c”" },
  { "id-object", "{\"c\": {}, \"<|startoftext|>\": 1, \"<|endoftext|>\": 2}", MERGES_OK,
    "“c”" },
  { "id-negative", "{\"c\": -1, \"<|startoftext|>\": 1, \"<|endoftext|>\": 2}", MERGES_OK,
    "“c”" },
  { "id-out-of-range", "{\"c\": 3, \"<|startoftext|>\": 1, \"<|endoftext|>\": 2}", MERGES_OK,
    "“c”" },
  { "id-huge", "{\"c\": 99999999999999, \"<|startoftext|>\": 1, \"<|endoftext|>\": 2}",
    MERGES_OK, "“c”" },
  { "id-duplicate", "{\"c\": 0, \"a\": 0, \"<|startoftext|>\": 1, \"<|endoftext|>\": 2}",
    MERGES_OK, "used twice" },
  { "no-startoftext", "{\"c\": 0, \"a\": 1, \"<|endoftext|>\": 2}", "#version: 0.2\n",
    "<|startoftext|>" },
  { "no-endoftext", "{\"c\": 0, \"a\": 1, \"<|startoftext|>\": 2}", "#version: 0.2\n",
    "<|endoftext|>" },
  { "merge-one-symbol", TINY_VOCAB, "#version: 0.2\nc a\nca\n", "merges.txt:3" },
  { "merge-three-symbols", TINY_VOCAB, "#version: 0.2\nc a t\n", "merges.txt:2" },
  { "merge-blank-line", TINY_VOCAB, "#version: 0.2\n\nc a\n", "merges.txt:2" },
  { "merge-unknown-part", TINY_VOCAB, "#version: 0.2\nc a\nx a\n", "merges.txt:3" },
  { "merge-unknown-result", TINY_VOCAB, "#version: 0.2\na t\n", "merges.txt:2" },
  { "merge-invalid-utf8", TINY_VOCAB, "#version: 0.2\nc \xff\n", "merges.txt:2" },
};

static void
assert_message_contains (const GError *error,
                         const char   *part)
{
  if (strstr (error->message, part) == NULL)
    g_test_message ("“%s” does not contain “%s”", error->message, part);
  g_assert_nonnull (strstr (error->message, part));
}

static void
test_bad_files_case (gconstpointer data)
{
  const BadFilesCase *c = data;
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *vocab = write_temp_file (dir, "vocab.json", c->vocab, -1);
  g_autofree char *merges = write_temp_file (dir, "merges.txt", c->merges, -1);
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeTokenizer) tok = NULL;

  tok = clipscope_tokenizer_new_from_files (vocab, merges, &error);
  g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER);
  g_assert_null (tok);
  assert_message_contains (error, c->message);
  remove_temp_dir (dir);
}

/* json-glib recurses per nesting level; this must be an error, not a
 * stack overflow. */
static void
test_bad_files_deep_json (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *brackets = g_strnfill (1000 * 1000, '[');
  g_autofree char *vocab = write_temp_file (dir, "vocab.json", brackets, -1);
  g_autofree char *merges = write_temp_file (dir, "merges.txt", MERGES_OK, -1);
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeTokenizer) tok = NULL;

  tok = clipscope_tokenizer_new_from_files (vocab, merges, &error);
  g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER);
  g_assert_null (tok);
  remove_temp_dir (dir);
}

/* ---------------------------------------------------------- bad gzip files */

typedef struct
{
  const char *name;
  const char *contents;  /* NULL: no file */
  gboolean    gzip;
  const char *message;
} BadGzCase;

static const BadGzCase bad_gz_cases[] = {
  { "missing", NULL, FALSE, "bpe.txt.gz" },
  { "not-gzip", "#version: 0.2\ni n\n", FALSE, "bpe.txt.gz" },
  { "too-few-merges", "#version: 0.2\ni n\nt h\n", TRUE, "bpe.txt.gz" },
  { "bad-merge-line", "#version: 0.2\ni n\nt h e\n", TRUE, "bpe.txt.gz:3" },
};

static void
test_bad_gz_case (gconstpointer data)
{
  const BadGzCase *c = data;
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "bpe.txt.gz", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeTokenizer) tok = NULL;

  if (c->gzip)
    write_gz_file (path, c->contents);
  else if (c->contents != NULL)
    g_free (write_temp_file (dir, "bpe.txt.gz", c->contents, -1));

  tok = clipscope_tokenizer_new_from_bpe_gz (path, &error);
  g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER);
  g_assert_null (tok);
  assert_message_contains (error, c->message);
  remove_temp_dir (dir);
}

/* ---------------------------------------------------------- both loaders agree */

/* The characters CLIP gives bytes, in the order it numbers them. */
static void
clip_byte_symbols (char symbols[256][8])
{
  int n = 0, shifted = 0;

  for (int pass = 0; pass < 2; pass++)
    for (int b = 0; b < 256; b++)
      {
        gboolean printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
        gunichar c;

        if (printable != (pass == 0))
          continue;
        c = printable ? (gunichar) b : 0x100 + (gunichar) shifted++;
        symbols[n][g_unichar_to_utf8 (c, symbols[n])] = '\0';
        n++;
      }
}

/* The first @n_lines lines of the gzipped file. */
static GPtrArray *
read_gz_lines (const char *path,
               guint       n_lines)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GError) error = NULL;
  g_autoptr(GFileInputStream) file_stream = g_file_read (file, NULL, &error);
  g_autoptr(GZlibDecompressor) decompressor = NULL;
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GDataInputStream) data = NULL;
  GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);

  g_assert_no_error (error);
  decompressor = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);
  stream = g_converter_input_stream_new (G_INPUT_STREAM (file_stream),
                                         G_CONVERTER (decompressor));
  data = g_data_input_stream_new (stream);
  while (lines->len < n_lines)
    {
      char *line = g_data_input_stream_read_line_utf8 (data, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (line);
      g_ptr_array_add (lines, line);
    }
  return lines;
}

static void
add_vocab_entry (JsonBuilder *builder,
                 const char  *token,
                 int         *id)
{
  json_builder_set_member_name (builder, token);
  json_builder_add_int_value (builder, (*id)++);
}

/* Writes the gzipped vocabulary the way Hugging Face ships it: vocab.json
 * numbers the tokens in CLIP's order, merges.txt keeps the used lines. */
static void
convert_gz_to_files (const char *gz_path,
                     const char *vocab_path,
                     const char *merges_path)
{
  const int n_merges = 49152 - 256 - 2;
  g_autoptr(GPtrArray) lines = read_gz_lines (gz_path, 1 + n_merges);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GString) merges = g_string_new ("#version: 0.2\n");
  g_autoptr(GError) error = NULL;
  char symbols[256][8];
  int id = 0;

  clip_byte_symbols (symbols);
  json_builder_begin_object (builder);
  for (int end_of_word = 0; end_of_word < 2; end_of_word++)
    for (int i = 0; i < 256; i++)
      {
        g_autofree char *token = g_strconcat (symbols[i], end_of_word ? "</w>" : "", NULL);

        add_vocab_entry (builder, token, &id);
      }
  for (int i = 1; i <= n_merges; i++)
    {
      g_auto(GStrv) parts = g_strsplit (lines->pdata[i], " ", -1);
      g_autofree char *token = NULL;

      g_assert_cmpint (g_strv_length (parts), ==, 2);
      token = g_strconcat (parts[0], parts[1], NULL);
      add_vocab_entry (builder, token, &id);
      g_string_append_printf (merges, "%s\n", (const char *) lines->pdata[i]);
    }
  add_vocab_entry (builder, "<|startoftext|>", &id);
  add_vocab_entry (builder, "<|endoftext|>", &id);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json_generator_to_file (generator, vocab_path, &error);
  g_assert_no_error (error);
  g_file_set_contents (merges_path, merges->str, merges->len, &error);
  g_assert_no_error (error);
}

static void
test_loaders_agree (void)
{
  static const char *const extra_texts[] = {
    "a photo of a tench.", "goldfish, Carassius auratus", "the quick brown fox",
    "Zürich über alles", "\u0928\u092e\u0938\u094d\u0924\u0947", "\U0001f308\U0001f984",
    "x\u00a0y\xc2\x85z\x01\x7f", "supercalifragilisticexpialidocious", "<|startoftext|>hi",
  };
  g_autofree char *gz_path = clip_vocab_path ();
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *vocab = g_build_filename (dir, "vocab.json", NULL);
  g_autofree char *merges = g_build_filename (dir, "merges.txt", NULL);
  g_autoptr(ClipscopeTokenizer) hf = NULL;
  g_autoptr(GError) error = NULL;
  ClipscopeTokenizer *clip = get_clip_tokenizer ();

  convert_gz_to_files (gz_path, vocab, merges);
  hf = clipscope_tokenizer_new_from_files (vocab, merges, &error);
  g_assert_no_error (error);
  remove_temp_dir (dir);

  g_assert_cmpint (clipscope_tokenizer_get_vocab_size (hf), ==, 49408);
  g_assert_cmpint (clipscope_tokenizer_get_sot (hf), ==, SOT);
  g_assert_cmpint (clipscope_tokenizer_get_eot (hf), ==, EOT);
  for (gsize i = 0; i < G_N_ELEMENTS (encode_cases); i++)
    assert_same_encoding (clip, hf, encode_cases[i].text, encode_cases[i].text);
  for (gsize i = 0; i < G_N_ELEMENTS (extra_texts); i++)
    assert_same_encoding (clip, hf, extra_texts[i], extra_texts[i]);
}

/* ---------------------------------------------------------- many labels */

static char **
read_data_lines (const char *name)
{
  g_autofree char *path = clip_data_path (name);
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  g_strchomp (contents);
  return g_strsplit (contents, "\n", -1);
}

/* 1,000 ImageNet classes × 10 templates: every label is framed and fits,
 * and a few are checked id by id. */
static GPtrArray *
make_labels (void)
{
  g_auto(GStrv) classes = read_data_lines ("imagenet_classes.txt");
  g_auto(GStrv) templates = read_data_lines ("imagenet_templates.txt");
  GPtrArray *labels = g_ptr_array_new_with_free_func (g_free);

  g_assert_cmpint (g_strv_length (classes), ==, 1000);
  g_assert_cmpint (g_strv_length (templates), >=, 10);
  for (int t = 0; t < 10; t++)
    for (int c = 0; c < 1000; c++)
      {
        g_auto(GStrv) halves = g_strsplit (templates[t], "{}", 2);

        g_ptr_array_add (labels, g_strconcat (halves[0], classes[c], halves[1], NULL));
      }
  return labels;
}

static void
test_labels (void)
{
  g_autoptr(GPtrArray) labels = make_labels ();
  ClipscopeTokenizer *tok = get_clip_tokenizer ();

  g_assert_cmpuint (labels->len, ==, 10000);
  for (guint i = 0; i < labels->len; i++)
    {
      int n;
      g_autofree int32_t *ids = encode (tok, labels->pdata[i], 77, &n);

      g_assert_cmpint (n, >=, 3);
      g_assert_cmpint (n, <=, 77);
      g_assert_cmpint (ids[0], ==, SOT);
      g_assert_cmpint (ids[n - 1], ==, EOT);
    }

  /* "a bad photo of a tench.", "a bad photo of a great white shark." and
   * "a tattoo of a toilet paper." */
  assert_encoding (tok, labels->pdata[0],
                   (const int32_t[]) { SOT, 320, 2103, 1125, 539, 320, 1149, 634, 269, EOT, END });
  assert_encoding (tok, labels->pdata[2],
                   (const int32_t[]) { SOT, 320, 2103, 1125, 539, 320, 830, 1579, 7980, 269, EOT,
                                       END });
  assert_encoding (tok, labels->pdata[9999],
                   (const int32_t[]) { SOT, 320, 6325, 539, 320, 11071, 2802, 269, EOT, END });
}

/* ---------------------------------------------------------- threads */

typedef struct
{
  ClipscopeTokenizer *tok;
  GPtrArray          *labels;
  GPtrArray          *results;  /* GBytes of ids, one per label */
} EncodeJob;

static gpointer
encode_all (gpointer data)
{
  EncodeJob *job = data;

  for (guint i = 0; i < job->labels->len; i++)
    {
      int n;
      int32_t *ids = encode (job->tok, job->labels->pdata[i], 77, &n);

      g_ptr_array_add (job->results, g_bytes_new_take (ids, n * sizeof (int32_t)));
    }
  return NULL;
}

/* Several threads share one tokenizer, and so its cache, from cold. */
static void
test_threads (void)
{
  g_autoptr(GPtrArray) labels = make_labels ();
  g_autoptr(GError) error = NULL;
  g_autofree char *path = clip_vocab_path ();
  g_autoptr(ClipscopeTokenizer) shared = clipscope_tokenizer_new_from_bpe_gz (path, &error);
  EncodeJob jobs[4];
  GThread *threads[4];

  g_assert_no_error (error);
  g_ptr_array_set_size (labels, 3000);
  /* Some labels need ftfy's repairs, which threads then run at once. */
  for (guint i = 0; i < labels->len; i += 7)
    {
      char *label = g_strconcat (labels->pdata[i], " caf\u00c3\u00a9 \u201cquoted\u201d", NULL);

      g_free (labels->pdata[i]);
      labels->pdata[i] = label;
    }
  for (int t = 0; t < 4; t++)
    {
      jobs[t] = (EncodeJob) { shared, labels, g_ptr_array_new_with_free_func (
                                                (GDestroyNotify) g_bytes_unref) };
      threads[t] = g_thread_new ("encode", encode_all, &jobs[t]);
    }
  for (int t = 0; t < 4; t++)
    g_thread_join (threads[t]);

  for (guint i = 0; i < labels->len; i++)
    {
      int n;
      g_autofree int32_t *ids = encode (get_clip_tokenizer (), labels->pdata[i], 77, &n);

      for (int t = 0; t < 4; t++)
        {
          gsize size;
          const void *got = g_bytes_get_data (jobs[t].results->pdata[i], &size);

          g_assert_cmpmem (got, size, ids, n * sizeof (int32_t));
        }
    }
  for (int t = 0; t < 4; t++)
    g_ptr_array_unref (jobs[t].results);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/engine/tokenizer/gz/vocabulary", test_gz_vocabulary);
  for (gsize i = 0; i < G_N_ELEMENTS (encode_cases); i++)
    {
      g_autofree char *name = g_strconcat ("/engine/tokenizer/encode/", encode_cases[i].name,
                                           NULL);

      g_test_add_data_func (name, &encode_cases[i], test_encode_case);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (same_cases); i++)
    {
      g_autofree char *name = g_strconcat ("/engine/tokenizer/same/", same_cases[i].name, NULL);

      g_test_add_data_func (name, &same_cases[i], test_same_case);
    }
  g_test_add_func ("/engine/tokenizer/truncate", test_truncate);
  g_test_add_func ("/engine/tokenizer/truncate-boundary", test_truncate_boundary);
  g_test_add_func ("/engine/tokenizer/invalid-utf8", test_invalid_utf8);
  g_test_add_func ("/engine/tokenizer/bad-context-length", test_bad_context_length);
  g_test_add_func ("/engine/tokenizer/too-long", test_too_long);
  g_test_add_func ("/engine/tokenizer/long-words", test_long_words);
  g_test_add_func ("/engine/tokenizer/files/tiny", test_files_tiny);
  g_test_add_func ("/engine/tokenizer/files/rank-order", test_files_rank_order);
  g_test_add_func ("/engine/tokenizer/files/without-header", test_files_without_header);
  for (gsize i = 0; i < G_N_ELEMENTS (bad_files_cases); i++)
    {
      g_autofree char *name = g_strconcat ("/engine/tokenizer/files/invalid/",
                                           bad_files_cases[i].name, NULL);

      g_test_add_data_func (name, &bad_files_cases[i], test_bad_files_case);
    }
  g_test_add_func ("/engine/tokenizer/files/invalid/deep-json", test_bad_files_deep_json);
  for (gsize i = 0; i < G_N_ELEMENTS (bad_gz_cases); i++)
    {
      g_autofree char *name = g_strconcat ("/engine/tokenizer/gz/invalid/", bad_gz_cases[i].name,
                                           NULL);

      g_test_add_data_func (name, &bad_gz_cases[i], test_bad_gz_case);
    }
  g_test_add_func ("/engine/tokenizer/loaders-agree", test_loaders_agree);
  g_test_add_func ("/engine/tokenizer/labels", test_labels);
  g_test_add_func ("/engine/tokenizer/threads", test_threads);

  ret = g_test_run ();
  g_clear_pointer (&clip_tokenizer, clipscope_tokenizer_free);
  return ret;
}
