/* fuzz-tokenizer.c — vocabulary loading and encoding
 *
 * An input starting with 'V' is a vocab.json and a merges.txt, split at
 * the first NUL byte, loaded from scratch files and used on a fixed text.
 * Any other input is a text, valid UTF-8 or not, encoded with CLIP's real
 * vocabulary (bpe_simple_vocab_16e6.txt.gz from $CLIPSCOPE_BPE, or from
 * ../shared next to the source tree).
 */
#include "tokenizer.h"
#include "fuzz-common.h"

#include <string.h>

static ClipscopeTokenizer *
real_tokenizer (void)
{
  static ClipscopeTokenizer *tok;
  g_autoptr(GError) error = NULL;

  if (tok == NULL)
    {
      const char *path = g_getenv ("CLIPSCOPE_BPE");

      tok = clipscope_tokenizer_new_from_bpe_gz (path ? path : CLIPSCOPE_DEFAULT_BPE, &error);
      g_assert_no_error (error);
    }
  return tok;
}

static void
check_encoding (ClipscopeTokenizer *tok,
                const char         *text,
                gsize               length)
{
  g_autofree char *copy = g_strndup (text, length);
  g_autoptr(GError) error = NULL;
  int n = 0;
  g_autofree int32_t *ids = clipscope_tokenizer_encode (tok, copy, 77, &n, &error);

  if (ids == NULL)
    return;
  g_assert_cmpint (n, >=, 2);
  g_assert_cmpint (n, <=, 77);
  g_assert_cmpint (ids[0], ==, clipscope_tokenizer_get_sot (tok));
  g_assert_cmpint (ids[n - 1], ==, clipscope_tokenizer_get_eot (tok));
  for (int i = 0; i < n; i++)
    g_assert_cmpint (ids[i], <, clipscope_tokenizer_get_vocab_size (tok));
}

static void
load_files (const guint8 *data,
            size_t        size)
{
  static char *dir;
  const guint8 *nul = memchr (data, 0, size);
  gsize vocab_len = nul ? (gsize) (nul - data) : size;
  g_autofree char *vocab = NULL, *merges = NULL;
  g_autoptr(ClipscopeTokenizer) tok = NULL;
  g_autoptr(GError) error = NULL;

  if (dir == NULL)
    dir = g_dir_make_tmp ("clipscope-fuzz-tok-XXXXXX", NULL);
  vocab = g_build_filename (dir, "vocab.json", NULL);
  merges = g_build_filename (dir, "merges.txt", NULL);
  g_assert_true (write_scratch (vocab, (const char *) data, vocab_len, NULL));
  g_assert_true (write_scratch (merges, nul ? (const char *) nul + 1 : "",
                                      nul ? (gssize) (size - vocab_len - 1) : 0, NULL));
  tok = clipscope_tokenizer_new_from_files (vocab, merges, &error);
  if (tok != NULL)
    check_encoding (tok, "a photo of a cat", strlen ("a photo of a cat"));
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  if (size > 0 && data[0] == 'V')
    load_files (data + 1, size - 1);
  else
    check_encoding (real_tokenizer (), (const char *) data, size);
  return 0;
}
