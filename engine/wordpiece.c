/* wordpiece.c — BERT's WordPiece tokenizer, as Chinese-CLIP uses it
 *
 * Chinese-CLIP's bert_tokenizer.py (Google BERT's tokenization.py, with
 * do_lower_case) step by step:
 *
 *   1. clean: drop NUL, U+FFFD and control characters (categories Cc and
 *      Cf, but not tab, newline or carriage return); white space (those
 *      three, space and category Zs) becomes a space;
 *   2. put spaces around every CJK ideograph;
 *   3. split at white space; lower-case each word as Python's str.lower(),
 *      decompose it (NFD) and drop the non-spacing marks (category Mn);
 *   4. split each word at punctuation (ASCII symbols and categories P*),
 *      each punctuation character a word of its own;
 *   5. WordPiece: a word over 200 characters is [UNK]; otherwise the
 *      longest piece of the vocabulary that starts it, then the longest
 *      "##" piece that continues it, and so on; a word with a position no
 *      piece matches is [UNK] as a whole.
 *
 * Character categories come from GLib's Unicode tables, which may be
 * newer than Python's.
 */
#include "wordpiece.h"
#include "piece-table.h"
#include "spm.h"
#include "text-tokenizer.h"

#include <string.h>

#define MAX_WORD_CHARS 200
#define MAX_VOCAB_FILE_BYTES CLIPSCOPE_MAX_CONFIG_BYTES

struct _ClipscopeWordPiece
{
  ClipscopePieceTable *vocab;
  int                  vocab_size;
  int32_t              unk;
  int32_t              cls;
  int32_t              sep;
};

/* ---------------------------------------------------------- characters */

static gboolean
is_bert_space (gunichar c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r'
         || g_unichar_type (c) == G_UNICODE_SPACE_SEPARATOR;
}

static gboolean
is_bert_control (gunichar c)
{
  GUnicodeType type;

  if (c == '\t' || c == '\n' || c == '\r')
    return FALSE;
  type = g_unichar_type (c);
  return type == G_UNICODE_CONTROL || type == G_UNICODE_FORMAT;
}

static gboolean
is_cjk (gunichar c)
{
  return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf)
         || (c >= 0x20000 && c <= 0x2a6df) || (c >= 0x2a700 && c <= 0x2b73f)
         || (c >= 0x2b740 && c <= 0x2b81f) || (c >= 0x2b820 && c <= 0x2ceaf)
         || (c >= 0xf900 && c <= 0xfaff) || (c >= 0x2f800 && c <= 0x2fa1f);
}

static gboolean
is_bert_punctuation (gunichar c)
{
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126))
    return TRUE;
  switch (g_unichar_type (c))
    {
    case G_UNICODE_CONNECT_PUNCTUATION:
    case G_UNICODE_DASH_PUNCTUATION:
    case G_UNICODE_CLOSE_PUNCTUATION:
    case G_UNICODE_FINAL_PUNCTUATION:
    case G_UNICODE_INITIAL_PUNCTUATION:
    case G_UNICODE_OTHER_PUNCTUATION:
    case G_UNICODE_OPEN_PUNCTUATION:
      return TRUE;
    default:
      return FALSE;
    }
}

/* Steps 1 and 2. */
static char *
clean_text (const char *text)
{
  GString *out = g_string_sized_new (strlen (text) + 16);

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c == 0xfffd || is_bert_control (c))
        continue;
      if (is_bert_space (c))
        g_string_append_c (out, ' ');
      else if (is_cjk (c))
        {
          g_string_append_c (out, ' ');
          g_string_append_unichar (out, c);
          g_string_append_c (out, ' ');
        }
      else
        g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}

/* Lower-cased, decomposed, without non-spacing marks. */
static char *
fold_word (const char *word,
           gsize       length)
{
  g_autofree char *copy = g_strndup (word, length);
  g_autofree char *lower = clipscope_text_python_lower (copy);
  g_autofree char *nfd = g_utf8_normalize (lower, -1, G_NORMALIZE_NFD);
  GString *out = g_string_sized_new (strlen (nfd));

  for (const char *p = nfd; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_type (c) != G_UNICODE_NON_SPACING_MARK)
        g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}

/* --------------------------------------------------------- WordPiece */

static void
encode_word (const ClipscopeWordPiece *wp,
             const char               *word,
             gsize                     length,
             GString                  *scratch,
             GArray                   *ids)
{
  guint n_before = ids->len;
  glong n_chars = g_utf8_strlen (word, length);
  gsize start = 0;

  if (n_chars > MAX_WORD_CHARS)
    {
      g_array_append_val (ids, wp->unk);
      return;
    }
  while (start < length)
    {
      /* No piece is longer than the longest of the vocabulary. */
      gsize limit = clipscope_piece_table_get_max_length (wp->vocab) - (start > 0 ? 2 : 0);
      gsize end = length - start > limit ? start + limit : length;
      int32_t id = -1;

      while (end > start && (word[end] & 0xc0) == 0x80)
        end--;

      while (end > start)
        {
          g_string_assign (scratch, start > 0 ? "##" : "");
          g_string_append_len (scratch, word + start, end - start);
          if ((id = clipscope_piece_table_lookup (wp->vocab, scratch->str, scratch->len)) >= 0)
            break;
          end = g_utf8_prev_char (word + end) - word;
        }
      if (id < 0)
        {
          g_array_set_size (ids, n_before);
          g_array_append_val (ids, wp->unk);
          return;
        }
      g_array_append_val (ids, id);
      start = end;
    }
}

/* Step 4 on one folded word, then WordPiece on each part. */
static void
encode_folded (const ClipscopeWordPiece *wp,
               const char               *word,
               GString                  *scratch,
               GArray                   *ids)
{
  const char *run = NULL;

  for (const char *p = word;; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      gboolean ends_run = c == 0 || clipscope_text_is_python_space (c) || is_bert_punctuation (c);

      if (ends_run && run != NULL)
        {
          encode_word (wp, run, p - run, scratch, ids);
          run = NULL;
        }
      if (c == 0)
        break;
      if (is_bert_punctuation (c))
        encode_word (wp, p, g_utf8_next_char (p) - p, scratch, ids);
      else if (!clipscope_text_is_python_space (c) && run == NULL)
        run = p;
    }
}

void
clipscope_wordpiece_encode (const ClipscopeWordPiece *wp,
                            const char               *text,
                            GArray                   *ids)
{
  g_autofree char *clean = clean_text (text);
  g_autoptr(GString) scratch = g_string_new (NULL);
  const char *word = NULL;

  /* Step 3: words end at Python's white space, as str.split() ends them. */
  for (const char *p = clean;; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c == 0 || clipscope_text_is_python_space (c))
        {
          if (word != NULL)
            {
              g_autofree char *folded = fold_word (word, p - word);

              encode_folded (wp, folded, scratch, ids);
              word = NULL;
            }
          if (c == 0)
            break;
        }
      else if (word == NULL)
        word = p;
    }
}

/* ------------------------------------------------------------- loading */

static gboolean
find_special (ClipscopeWordPiece  *wp,
              const char          *piece,
              int32_t             *id,
              const char          *path,
              GError             **error)
{
  *id = clipscope_piece_table_lookup (wp->vocab, piece, strlen (piece));
  if (*id >= 0)
    return TRUE;
  g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
               "%s: the vocabulary has no %s", path, piece);
  return FALSE;
}

ClipscopeWordPiece *
clipscope_wordpiece_new_from_data (const char *data,
                                   gsize       size,
                                   const char *path,
                                   GError    **error)
{
  g_autoptr(ClipscopeWordPiece) wp = g_new0 (ClipscopeWordPiece, 1);
  const char *bad;
  int line = 0;

  g_return_val_if_fail (data != NULL || size == 0, NULL);

  wp->vocab = clipscope_piece_table_new (size / 8);
  for (gsize pos = 0; pos < size; line++)
    {
      const char *start = data + pos;
      const char *nl = memchr (start, '\n', size - pos);
      gsize length = nl ? (gsize) (nl - start) : size - pos;

      pos += length + (nl != NULL);
      if (length > 0 && start[length - 1] == '\r')
        length--;
      if (!g_utf8_validate_len (start, length, &bad))
        {
          g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                       "%s:%d: not valid UTF-8", path, line + 1);
          return NULL;
        }
      if (line == G_MAXINT32)
        {
          g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT, "%s: too many lines", path);
          return NULL;
        }
      clipscope_piece_table_insert (wp->vocab, start, length, line);
    }
  wp->vocab_size = line;
  if (!find_special (wp, "[UNK]", &wp->unk, path, error)
      || !find_special (wp, "[CLS]", &wp->cls, path, error)
      || !find_special (wp, "[SEP]", &wp->sep, path, error))
    return NULL;
  return g_steal_pointer (&wp);
}

ClipscopeWordPiece *
clipscope_wordpiece_new_from_file (const char *path,
                                   GError    **error)
{
  g_autofree char *data = NULL;
  gsize size;

  g_return_val_if_fail (path != NULL, NULL);

  if (!clipscope_spm_read_file (path, MAX_VOCAB_FILE_BYTES, &data, &size, error))
    return NULL;
  return clipscope_wordpiece_new_from_data (data, size, path, error);
}

void
clipscope_wordpiece_free (ClipscopeWordPiece *wp)
{
  if (wp == NULL)
    return;
  clipscope_piece_table_free (wp->vocab);
  g_free (wp);
}

int
clipscope_wordpiece_get_vocab_size (const ClipscopeWordPiece *wp)
{
  return wp->vocab_size;
}

int32_t
clipscope_wordpiece_get_cls (const ClipscopeWordPiece *wp)
{
  return wp->cls;
}

int32_t
clipscope_wordpiece_get_sep (const ClipscopeWordPiece *wp)
{
  return wp->sep;
}
