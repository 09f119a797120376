/* tokenizer.c — CLIP's byte-level BPE tokenizer
 *
 * Encoding follows OpenAI's simple_tokenizer.py step by step:
 *
 *   1. clean: ftfy's fix_text() (see ftfy.c), HTML unescaping applied
 *      twice, runs of white space collapsed to one space, leading and
 *      trailing space stripped, lower-casing as Python's str.lower() does
 *      it;
 *   2. pre-tokenise with CLIP's regular expression;
 *   3. map every UTF-8 byte of a pre-token to a printable character,
 *      mark the last one as ending the word, and apply byte-pair merges
 *      lowest rank first;
 *   4. frame the ids with start-of-text and end-of-text, cutting to the
 *      context length.
 *
 * Where this differs from the reference, on purpose:
 *
 *   - HTML unescaping knows the numeric references and these names: the
 *     252 of HTML 4.01, &apos; and the capitalised aliases &AMP; &LT; &GT;
 *     &QUOT; &COPY; &REG;. The 106 names HTML5 accepts without a
 *     semicolon (&amp, &nbsp, &eacute …) are accepted without one here
 *     too. Values are HTML5's, so &lang; is U+27E8. Other names stay as
 *     written.
 *   - A byte whose symbol is missing from a Hugging Face vocabulary cannot
 *     take part in any merge (merges are checked against the vocabulary
 *     at load time) and is left out of the output, where the reference
 *     would raise KeyError and Hugging Face would emit its unknown token.
 *   - merges.txt is used whole; Hugging Face's Python tokenizer keeps only
 *     its first 48,894 merges, which is all that CLIP's file has.
 *   - Character classes (letters, numbers, case) come from GLib's and
 *     PCRE2's Unicode tables, so characters newer than Python's tables
 *     may be classed differently.
 */
#include "tokenizer.h"
#include "text-tokenizer.h"
#include "ftfy.h"
#include "json-check.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define SOT_TOKEN   "<|startoftext|>"
#define EOT_TOKEN   "<|endoftext|>"
#define END_OF_WORD "</w>"

/* The gzipped vocabulary holds far more merges than CLIP uses: the first
 * line is a header, then CLIP takes this many. */
#define N_GZ_MERGES (49152 - 256 - 2)

/* Vocabulary files are read whole; this bounds what a hostile file costs. */
#define MAX_VOCAB_FILE_BYTES CLIPSCOPE_MAX_CONFIG_BYTES
#define MAX_JSON_DEPTH       64

/* The BPE cache is cleared when it grows past this many words; longer
 * words are never cached, since they rarely repeat. */
#define CACHE_MAX_ENTRIES    65536
#define CACHE_MAX_WORD_BYTES 128

/* CLIP's pre-tokenisation pattern. Its \s is spelt out as the White_Space
 * characters of Python's regex module, because PCRE2 also counts U+180E
 * MONGOLIAN VOWEL SEPARATOR as a space and would then drop it. */
#define WHITE_SPACE_CLASS \
  "\\t-\\r\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}" \
  "\\x{205f}\\x{3000}"

static const char pretokenize_pattern[] =
  "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d"
  "|[\\p{L}]+|[\\p{N}]|[^" WHITE_SPACE_CLASS "\\p{L}\\p{N}]+";

/* One entry of the open-addressing merge table; rank < 0 marks it empty. */
typedef struct
{
  uint64_t pair;    /* left id << 32 | right id */
  int32_t  rank;    /* lower merges first */
  int32_t  merged;  /* id of the joined symbol */
} MergeSlot;

/* A pre-token's ids, as kept in the cache. */
typedef struct
{
  guint   n_ids;
  int32_t ids[];
} CachedWord;

struct _ClipscopeTokenizer
{
  /* Immutable after loading, read by every thread without locking. */
  int        vocab_size;
  int32_t    sot;
  int32_t    eot;
  int32_t    byte_ids[256];      /* each byte's symbol, -1 if the vocabulary lacks it */
  int32_t    byte_end_ids[256];  /* the same followed by "</w>" */
  MergeSlot *merges;             /* [merge_mask + 1] */
  uint64_t   merge_mask;
  int        merge_shift;
  GRegex    *pattern;

  /* Shared BPE results: pre-token → CachedWord. */
  GRWLock     cache_lock;
  GHashTable *cache;
};

/* ---------------------------------------------------------- characters */

/* White_Space as Python's regex module matches it with \s. */
static gboolean
is_white_space (gunichar c)
{
  return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0
         || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029
         || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* Python's str.isspace(), which str.strip() and str.split() use: it also
 * counts the information separators U+001C to U+001F. */
static gboolean
is_python_space (gunichar c)
{
  return is_white_space (c) || (c >= 0x1c && c <= 0x1f);
}

/* CLIP gives each byte a printable character so that BPE can work on
 * text: printable Latin-1 bytes stand for themselves, the other 68 bytes
 * are moved to U+0100 onwards. */
static gboolean
byte_is_printable (int b)
{
  return (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
}

/* Fills each byte's character and @order, the bytes in the order CLIP
 * numbers them: the printable ones first. */
static void
get_byte_symbols (gunichar chars[256],
                  guint8   order[256])
{
  int n = 0;
  int n_printable;

  for (int b = 0; b < 256; b++)
    if (byte_is_printable (b))
      {
        chars[b] = b;
        order[n++] = b;
      }

  n_printable = n;
  for (int b = 0; b < 256; b++)
    if (!byte_is_printable (b))
      {
        chars[b] = 0x100 + (n - n_printable);
        order[n++] = b;
      }
}

/* Writes @c, followed by "</w>" if @end_of_word, as a NUL-terminated
 * string into @buf, which holds at least 16 bytes. */
static const char *
symbol_string (gunichar  c,
               gboolean  end_of_word,
               char     *buf)
{
  int len = g_unichar_to_utf8 (c, buf);

  buf[len] = '\0';
  if (end_of_word)
    strcpy (buf + len, END_OF_WORD);
  return buf;
}

/* ---------------------------------------------------------- merge table */

static uint64_t
pair_key (int32_t left,
          int32_t right)
{
  return (uint64_t) (uint32_t) left << 32 | (uint32_t) right;
}

static uint64_t
pair_slot (ClipscopeTokenizer *self,
           uint64_t            key)
{
  /* Fibonacci hashing spreads the consecutive ids well. */
  return (key * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15)) >> self->merge_shift;
}

static void
merge_table_init (ClipscopeTokenizer *self,
                  guint               n_merges)
{
  gsize capacity = 16;
  int bits = 4;

  /* Keep the table at most half full so that probes stay short. */
  while (capacity < 2 * (gsize) n_merges)
    {
      capacity *= 2;
      bits++;
    }

  self->merges = g_new (MergeSlot, capacity);
  for (gsize i = 0; i < capacity; i++)
    self->merges[i].rank = -1;
  self->merge_mask = capacity - 1;
  self->merge_shift = 64 - bits;
}

/* A pair that is already there takes the new rank, as a Python dict built
 * from the merge list keeps the last occurrence. */
static void
merge_table_insert (ClipscopeTokenizer *self,
                    int32_t             left,
                    int32_t             right,
                    int32_t             rank,
                    int32_t             merged)
{
  uint64_t key = pair_key (left, right);
  uint64_t i = pair_slot (self, key);

  while (self->merges[i].rank >= 0 && self->merges[i].pair != key)
    i = (i + 1) & self->merge_mask;

  self->merges[i].pair = key;
  self->merges[i].rank = rank;
  self->merges[i].merged = merged;
}

static const MergeSlot *
merge_table_lookup (ClipscopeTokenizer *self,
                    int32_t             left,
                    int32_t             right)
{
  uint64_t key;

  /* Bytes the vocabulary lacks (-1) and merged-away symbols never pair. */
  if (left < 0 || right < 0)
    return NULL;

  key = pair_key (left, right);
  for (uint64_t i = pair_slot (self, key); ; i = (i + 1) & self->merge_mask)
    {
      if (self->merges[i].rank < 0)
        return NULL;
      if (self->merges[i].pair == key)
        return &self->merges[i];
    }
}

/* ---------------------------------------------------------- reading files */

static GInputStream *
open_file (const char  *path,
           GError     **error)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GError) local_error = NULL;
  GFileInputStream *stream;

  stream = g_file_read (file, NULL, &local_error);
  if (stream == NULL)
    {
      /* GIO's message already names the file. */
      g_set_error_literal (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                           local_error->message);
      return NULL;
    }
  return G_INPUT_STREAM (stream);
}

static gsize
count_newlines (const guint8 *data,
                gsize         length)
{
  gsize n = 0;
  const guint8 *end = data + length;

  while ((data = memchr (data, '\n', end - data)) != NULL)
    {
      n++;
      data++;
    }
  return n;
}

/* Reads @stream to its end, or until it has seen @max_lines line breaks
 * when that is positive, refusing more than MAX_VOCAB_FILE_BYTES. The
 * result is NUL-terminated; *length leaves the NUL out. */
static char *
read_stream (GInputStream  *stream,
             const char    *path,
             gsize          max_lines,
             gsize         *length,
             GError       **error)
{
  g_autoptr(GByteArray) buffer = g_byte_array_new ();
  g_autofree guint8 *chunk = g_malloc (64 * 1024);
  gsize n_lines = 0;

  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      gssize n = g_input_stream_read (stream, chunk, 64 * 1024, NULL, &local_error);

      if (n < 0)
        {
          g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                       "%s: %s", path, local_error->message);
          return NULL;
        }
      if (n == 0)
        break;
      if (buffer->len + (gsize) n > MAX_VOCAB_FILE_BYTES)
        {
          g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                       "%s: larger than the limit of %d bytes", path, MAX_VOCAB_FILE_BYTES);
          return NULL;
        }
      g_byte_array_append (buffer, chunk, n);
      n_lines += count_newlines (chunk, n);
      if (max_lines > 0 && n_lines >= max_lines)
        break;
    }

  *length = buffer->len;
  g_byte_array_append (buffer, (const guint8 *) "", 1);
  return (char *) g_byte_array_free (g_steal_pointer (&buffer), FALSE);
}

static char *
read_file (const char  *path,
           gsize       *length,
           GError     **error)
{
  g_autoptr(GInputStream) stream = open_file (path, error);

  if (stream == NULL)
    return NULL;
  return read_stream (stream, path, 0, length, error);
}

/* Reads as much of the gzipped file as CLIP uses: the header line and
 * N_GZ_MERGES merge lines. */
static char *
read_gz_file (const char  *path,
              gsize       *length,
              GError     **error)
{
  g_autoptr(GInputStream) file_stream = open_file (path, error);
  g_autoptr(GZlibDecompressor) decompressor = NULL;
  g_autoptr(GInputStream) stream = NULL;

  if (file_stream == NULL)
    return NULL;

  decompressor = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);
  stream = g_converter_input_stream_new (file_stream, G_CONVERTER (decompressor));
  return read_stream (stream, path, N_GZ_MERGES + 1, length, error);
}

/* ---------------------------------------------------------- merge lines */

/* One merge rule: two symbols, pointing into the file's text. */
typedef struct
{
  const char *left;
  const char *right;
  int         line;  /* 1-based, for messages */
} MergeLine;

/* Cuts the next field separated by white space out of [*cursor, end),
 * ending it with a NUL. Returns NULL when no field is left. */
static char *
next_field (char **cursor,
            char  *end)
{
  char *p = *cursor;
  char *start;

  while (p < end && is_python_space (g_utf8_get_char (p)))
    p = g_utf8_next_char (p);
  if (p == end)
    {
      *cursor = end;
      return NULL;
    }

  start = p;
  while (p < end && !is_python_space (g_utf8_get_char (p)))
    p = g_utf8_next_char (p);

  *cursor = p < end ? g_utf8_next_char (p) : end;
  *p = '\0';
  return start;
}

static gboolean
parse_merge_line (char        *line,
                  char        *end,
                  int          line_no,
                  const char  *path,
                  MergeLine   *merge,
                  GError     **error)
{
  char *cursor = line;
  int n_fields = 0;

  if (!g_utf8_validate (line, end - line, NULL))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                   "%s:%d: not valid UTF-8", path, line_no);
      return FALSE;
    }

  merge->line = line_no;
  merge->left = next_field (&cursor, end);
  merge->right = next_field (&cursor, end);
  n_fields = (merge->left != NULL) + (merge->right != NULL);
  if (n_fields == 2 && next_field (&cursor, end) != NULL)
    n_fields = 3;

  if (n_fields != 2)
    {
      static const char *const found[] = { "none", "one", "", "more than two" };

      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                   "%s:%d: expected a merge of two symbols, found %s",
                   path, line_no, found[n_fields]);
      return FALSE;
    }
  return TRUE;
}

/* Splits @text into merge rules, in rank order. The first line is skipped
 * when it is a "#version" header, or always for the gzipped file, which
 * also stops after its first N_GZ_MERGES rules. Trailing blank lines of
 * merges.txt are ignored, as Hugging Face strips the file first. */
static GArray *
split_merge_lines (char        *text,
                   gsize        length,
                   gboolean     gz,
                   const char  *path,
                   GError     **error)
{
  g_autoptr(GArray) merges = g_array_new (FALSE, FALSE, sizeof (MergeLine));
  char *end = text + length;
  char *line = text;

  if (!gz)
    while (end > text && g_ascii_isspace (end[-1]))
      end--;

  for (int line_no = 1; line < end && !(gz && merges->len == N_GZ_MERGES); line_no++)
    {
      char *eol = memchr (line, '\n', end - line);
      MergeLine merge;

      if (eol == NULL)
        eol = end;
      if (line_no > 1 || !(gz || g_str_has_prefix (line, "#version")))
        {
          if (!parse_merge_line (line, eol, line_no, path, &merge, error))
            return NULL;
          g_array_append_val (merges, merge);
        }
      line = eol + 1;
    }

  if (gz && merges->len < N_GZ_MERGES)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                   "%s: only %u merges, CLIP uses %d", path, merges->len, N_GZ_MERGES);
      return NULL;
    }
  return g_steal_pointer (&merges);
}

/* ---------------------------------------------------------- vocabulary */

static GHashTable *
vocab_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

/* A token that is already there takes the new id, as a Python dict built
 * from the token list keeps the last occurrence. */
static void
vocab_add (GHashTable *vocab,
           const char *token,
           int32_t     id)
{
  g_hash_table_insert (vocab, g_strdup (token), GINT_TO_POINTER (id));
}

static gboolean
vocab_lookup (GHashTable *vocab,
              const char *token,
              int32_t    *id)
{
  gpointer value;

  if (!g_hash_table_lookup_extended (vocab, token, NULL, &value))
    return FALSE;
  *id = GPOINTER_TO_INT (value);
  return TRUE;
}

static JsonNode *
parse_json_file (const char  *path,
                 GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) local_error = NULL;
  g_autofree char *data = NULL;
  gsize length;

  data = read_file (path, &length, error);
  if (data == NULL)
    return NULL;

  if (!clipscope_json_check_syntax (path, "JSON", data, length, 0, MAX_JSON_DEPTH,
                                    CLIPSCOPE_ERROR_TOKENIZER, error))
    return NULL;
  if (!json_parser_load_from_data (parser, data, length, &local_error))
    {
      /* The parser calls its input "<data>"; put the file name there. */
      const char *message = local_error->message;

      if (g_str_has_prefix (message, "<data>:"))
        message += strlen ("<data>");
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                   "%s%s%s", path, message[0] == ':' ? "" : ": ", message);
      return NULL;
    }
  /* An empty document parses, without a root. */
  if (json_parser_get_root (parser) == NULL)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                   "%s: no JSON value in the file", path);
      return NULL;
    }
  return json_parser_steal_root (parser);
}

static gboolean
check_vocab_id (JsonNode    *node,
                const char  *token,
                guint        size,
                guint8      *seen,
                const char  *path,
                GError     **error)
{
  gint64 id;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                   "%s: the id of “%s” is not an integer", path, token);
      return FALSE;
    }

  id = json_node_get_int (node);
  if (id < 0 || id >= size)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                   "%s: the id of “%s” is %" G_GINT64_FORMAT ", outside 0 to %u",
                   path, token, id, size - 1);
      return FALSE;
    }
  if (seen[id])
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                   "%s: the id %" G_GINT64_FORMAT " of “%s” is used twice", path, id, token);
      return FALSE;
    }
  seen[id] = TRUE;
  return TRUE;
}

/* Loads vocab.json, a JSON object from token to id. The ids must number
 * the tokens from 0 without a gap, which is what the model's embedding
 * table expects. */
static GHashTable *
load_vocab_json (const char  *path,
                 int         *vocab_size,
                 GError     **error)
{
  g_autoptr(JsonNode) root = parse_json_file (path, error);
  g_autoptr(GHashTable) vocab = vocab_new ();
  g_autofree guint8 *seen = NULL;
  JsonObjectIter iter;
  const char *token;
  JsonNode *node;
  guint size;

  if (root == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                   "%s: expected a JSON object from token to id", path);
      return NULL;
    }

  size = json_object_get_size (json_node_get_object (root));
  seen = g_new0 (guint8, size);
  json_object_iter_init (&iter, json_node_get_object (root));
  while (json_object_iter_next (&iter, &token, &node))
    {
      if (!check_vocab_id (node, token, size, seen, path, error))
        return NULL;
      vocab_add (vocab, token, json_node_get_int (node));
    }

  *vocab_size = size;
  return g_steal_pointer (&vocab);
}

/* Builds the vocabulary of the gzipped file as CLIP does: the byte
 * symbols, the same with "</w>", one token per merge, then the two
 * special tokens. */
static GHashTable *
build_gz_vocab (GArray *merges,
                int    *vocab_size)
{
  GHashTable *vocab = vocab_new ();
  g_autoptr(GString) joined = g_string_new (NULL);
  gunichar chars[256];
  guint8 order[256];
  char buf[16];
  int32_t id = 0;

  get_byte_symbols (chars, order);
  for (int i = 0; i < 256; i++)
    vocab_add (vocab, symbol_string (chars[order[i]], FALSE, buf), id++);
  for (int i = 0; i < 256; i++)
    vocab_add (vocab, symbol_string (chars[order[i]], TRUE, buf), id++);

  for (guint i = 0; i < merges->len; i++)
    {
      const MergeLine *merge = &g_array_index (merges, MergeLine, i);

      g_string_assign (joined, merge->left);
      g_string_append (joined, merge->right);
      vocab_add (vocab, joined->str, id++);
    }

  vocab_add (vocab, SOT_TOKEN, id++);
  vocab_add (vocab, EOT_TOKEN, id++);
  *vocab_size = id;
  return vocab;
}

/* ---------------------------------------------------------- building */

static gboolean
lookup_required (GHashTable  *vocab,
                 const char  *token,
                 int32_t     *id,
                 const char  *path,
                 int          line,
                 GError     **error)
{
  if (vocab_lookup (vocab, token, id))
    return TRUE;

  if (line > 0)
    g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                 "%s:%d: “%s” is not in the vocabulary", path, line, token);
  else
    g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                 "%s: the vocabulary has no “%s”", path, token);
  return FALSE;
}

/* Turns the merge rules into id pairs. Both symbols and their join must be
 * tokens, so that every symbol BPE can produce has an id. */
static gboolean
build_merge_table (ClipscopeTokenizer  *self,
                   GHashTable          *vocab,
                   GArray              *merges,
                   const char          *path,
                   GError             **error)
{
  g_autoptr(GString) joined = g_string_new (NULL);

  merge_table_init (self, merges->len);
  for (guint rank = 0; rank < merges->len; rank++)
    {
      const MergeLine *merge = &g_array_index (merges, MergeLine, rank);
      int32_t left, right, merged;

      g_string_assign (joined, merge->left);
      g_string_append (joined, merge->right);
      if (!lookup_required (vocab, merge->left, &left, path, merge->line, error)
          || !lookup_required (vocab, merge->right, &right, path, merge->line, error)
          || !lookup_required (vocab, joined->str, &merged, path, merge->line, error))
        return FALSE;
      merge_table_insert (self, left, right, rank, merged);
    }
  return TRUE;
}

static void
resolve_byte_symbols (ClipscopeTokenizer *self,
                      GHashTable         *vocab)
{
  gunichar chars[256];
  guint8 order[256];
  char buf[16];

  get_byte_symbols (chars, order);
  for (int b = 0; b < 256; b++)
    {
      if (!vocab_lookup (vocab, symbol_string (chars[b], FALSE, buf), &self->byte_ids[b]))
        self->byte_ids[b] = -1;
      if (!vocab_lookup (vocab, symbol_string (chars[b], TRUE, buf), &self->byte_end_ids[b]))
        self->byte_end_ids[b] = -1;
    }
}

static ClipscopeTokenizer *
tokenizer_new (GHashTable  *vocab,
               int          vocab_size,
               GArray      *merges,
               const char  *vocab_path,
               const char  *merges_path,
               GError     **error)
{
  g_autoptr(ClipscopeTokenizer) self = g_new0 (ClipscopeTokenizer, 1);

  self->vocab_size = vocab_size;
  g_rw_lock_init (&self->cache_lock);
  self->cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  if (!lookup_required (vocab, SOT_TOKEN, &self->sot, vocab_path, 0, error)
      || !lookup_required (vocab, EOT_TOKEN, &self->eot, vocab_path, 0, error)
      || !build_merge_table (self, vocab, merges, merges_path, error))
    return NULL;
  resolve_byte_symbols (self, vocab);

  self->pattern = g_regex_new (pretokenize_pattern, G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0,
                               error);
  if (self->pattern == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

ClipscopeTokenizer *
clipscope_tokenizer_new_from_files (const char  *vocab_json_path,
                                    const char  *merges_txt_path,
                                    GError     **error)
{
  g_autoptr(GHashTable) vocab = NULL;
  g_autoptr(GArray) merges = NULL;
  g_autofree char *text = NULL;
  gsize length;
  int vocab_size;

  g_return_val_if_fail (vocab_json_path != NULL, NULL);
  g_return_val_if_fail (merges_txt_path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  vocab = load_vocab_json (vocab_json_path, &vocab_size, error);
  if (vocab == NULL)
    return NULL;
  text = read_file (merges_txt_path, &length, error);
  if (text == NULL)
    return NULL;
  merges = split_merge_lines (text, length, FALSE, merges_txt_path, error);
  if (merges == NULL)
    return NULL;

  return tokenizer_new (vocab, vocab_size, merges, vocab_json_path, merges_txt_path, error);
}

ClipscopeTokenizer *
clipscope_tokenizer_new_from_bpe_gz (const char  *path,
                                     GError     **error)
{
  g_autoptr(GHashTable) vocab = NULL;
  g_autoptr(GArray) merges = NULL;
  g_autofree char *text = NULL;
  gsize length;
  int vocab_size;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  text = read_gz_file (path, &length, error);
  if (text == NULL)
    return NULL;
  merges = split_merge_lines (text, length, TRUE, path, error);
  if (merges == NULL)
    return NULL;

  vocab = build_gz_vocab (merges, &vocab_size);
  return tokenizer_new (vocab, vocab_size, merges, path, path, error);
}

void
clipscope_tokenizer_free (ClipscopeTokenizer *tok)
{
  if (tok == NULL)
    return;

  g_clear_pointer (&tok->pattern, g_regex_unref);
  g_clear_pointer (&tok->cache, g_hash_table_unref);
  g_clear_pointer (&tok->merges, g_free);
  g_rw_lock_clear (&tok->cache_lock);
  g_free (tok);
}

int
clipscope_tokenizer_get_vocab_size (ClipscopeTokenizer *tok)
{
  g_return_val_if_fail (tok != NULL, 0);

  return tok->vocab_size;
}

int32_t
clipscope_tokenizer_get_sot (ClipscopeTokenizer *tok)
{
  g_return_val_if_fail (tok != NULL, -1);

  return tok->sot;
}

int32_t
clipscope_tokenizer_get_eot (ClipscopeTokenizer *tok)
{
  g_return_val_if_fail (tok != NULL, -1);

  return tok->eot;
}

/* ---------------------------------------------------------- HTML entities */

typedef struct
{
  const char *name;
  gunichar    value;
} Entity;

/* U+00A0 to U+00FF in order; HTML5 accepts all of them without ';'. */
static const char *const latin1_entities[96] = {
  "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect",
  "uml", "copy", "ordf", "laquo", "not", "shy", "reg", "macr",
  "deg", "plusmn", "sup2", "sup3", "acute", "micro", "para", "middot",
  "cedil", "sup1", "ordm", "raquo", "frac14", "frac12", "frac34", "iquest",
  "Agrave", "Aacute", "Acirc", "Atilde", "Auml", "Aring", "AElig", "Ccedil",
  "Egrave", "Eacute", "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml",
  "ETH", "Ntilde", "Ograve", "Oacute", "Ocirc", "Otilde", "Ouml", "times",
  "Oslash", "Ugrave", "Uacute", "Ucirc", "Uuml", "Yacute", "THORN", "szlig",
  "agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig", "ccedil",
  "egrave", "eacute", "ecirc", "euml", "igrave", "iacute", "icirc", "iuml",
  "eth", "ntilde", "ograve", "oacute", "ocirc", "otilde", "ouml", "divide",
  "oslash", "ugrave", "uacute", "ucirc", "uuml", "yacute", "thorn", "yuml",
};

/* The other names HTML5 accepts without ';'. */
static const Entity legacy_entities[] = {
  { "amp", '&' }, { "AMP", '&' }, { "lt", '<' }, { "LT", '<' }, { "gt", '>' },
  { "GT", '>' }, { "quot", '"' }, { "QUOT", '"' }, { "COPY", 0xa9 }, { "REG", 0xae },
};

/* The rest of HTML 4.01, and &apos;, which need their ';'. */
static const Entity semicolon_entities[] = {
  { "apos", '\'' }, { "OElig", 0x152 }, { "oelig", 0x153 }, { "Scaron", 0x160 },
  { "scaron", 0x161 }, { "Yuml", 0x178 }, { "fnof", 0x192 }, { "circ", 0x2c6 },
  { "tilde", 0x2dc }, { "Alpha", 0x391 }, { "Beta", 0x392 }, { "Gamma", 0x393 },
  { "Delta", 0x394 }, { "Epsilon", 0x395 }, { "Zeta", 0x396 }, { "Eta", 0x397 },
  { "Theta", 0x398 }, { "Iota", 0x399 }, { "Kappa", 0x39a }, { "Lambda", 0x39b },
  { "Mu", 0x39c }, { "Nu", 0x39d }, { "Xi", 0x39e }, { "Omicron", 0x39f }, { "Pi", 0x3a0 },
  { "Rho", 0x3a1 }, { "Sigma", 0x3a3 }, { "Tau", 0x3a4 }, { "Upsilon", 0x3a5 },
  { "Phi", 0x3a6 }, { "Chi", 0x3a7 }, { "Psi", 0x3a8 }, { "Omega", 0x3a9 },
  { "alpha", 0x3b1 }, { "beta", 0x3b2 }, { "gamma", 0x3b3 }, { "delta", 0x3b4 },
  { "epsilon", 0x3b5 }, { "zeta", 0x3b6 }, { "eta", 0x3b7 }, { "theta", 0x3b8 },
  { "iota", 0x3b9 }, { "kappa", 0x3ba }, { "lambda", 0x3bb }, { "mu", 0x3bc },
  { "nu", 0x3bd }, { "xi", 0x3be }, { "omicron", 0x3bf }, { "pi", 0x3c0 }, { "rho", 0x3c1 },
  { "sigmaf", 0x3c2 }, { "sigma", 0x3c3 }, { "tau", 0x3c4 }, { "upsilon", 0x3c5 },
  { "phi", 0x3c6 }, { "chi", 0x3c7 }, { "psi", 0x3c8 }, { "omega", 0x3c9 },
  { "thetasym", 0x3d1 }, { "upsih", 0x3d2 }, { "piv", 0x3d6 }, { "ensp", 0x2002 },
  { "emsp", 0x2003 }, { "thinsp", 0x2009 }, { "zwnj", 0x200c }, { "zwj", 0x200d },
  { "lrm", 0x200e }, { "rlm", 0x200f }, { "ndash", 0x2013 }, { "mdash", 0x2014 },
  { "lsquo", 0x2018 }, { "rsquo", 0x2019 }, { "sbquo", 0x201a }, { "ldquo", 0x201c },
  { "rdquo", 0x201d }, { "bdquo", 0x201e }, { "dagger", 0x2020 }, { "Dagger", 0x2021 },
  { "bull", 0x2022 }, { "hellip", 0x2026 }, { "permil", 0x2030 }, { "prime", 0x2032 },
  { "Prime", 0x2033 }, { "lsaquo", 0x2039 }, { "rsaquo", 0x203a }, { "oline", 0x203e },
  { "frasl", 0x2044 }, { "euro", 0x20ac }, { "image", 0x2111 }, { "weierp", 0x2118 },
  { "real", 0x211c }, { "trade", 0x2122 }, { "alefsym", 0x2135 }, { "larr", 0x2190 },
  { "uarr", 0x2191 }, { "rarr", 0x2192 }, { "darr", 0x2193 }, { "harr", 0x2194 },
  { "crarr", 0x21b5 }, { "lArr", 0x21d0 }, { "uArr", 0x21d1 }, { "rArr", 0x21d2 },
  { "dArr", 0x21d3 }, { "hArr", 0x21d4 }, { "forall", 0x2200 }, { "part", 0x2202 },
  { "exist", 0x2203 }, { "empty", 0x2205 }, { "nabla", 0x2207 }, { "isin", 0x2208 },
  { "notin", 0x2209 }, { "ni", 0x220b }, { "prod", 0x220f }, { "sum", 0x2211 },
  { "minus", 0x2212 }, { "lowast", 0x2217 }, { "radic", 0x221a }, { "prop", 0x221d },
  { "infin", 0x221e }, { "ang", 0x2220 }, { "and", 0x2227 }, { "or", 0x2228 },
  { "cap", 0x2229 }, { "cup", 0x222a }, { "int", 0x222b }, { "there4", 0x2234 },
  { "sim", 0x223c }, { "cong", 0x2245 }, { "asymp", 0x2248 }, { "ne", 0x2260 },
  { "equiv", 0x2261 }, { "le", 0x2264 }, { "ge", 0x2265 }, { "sub", 0x2282 },
  { "sup", 0x2283 }, { "nsub", 0x2284 }, { "sube", 0x2286 }, { "supe", 0x2287 },
  { "oplus", 0x2295 }, { "otimes", 0x2297 }, { "perp", 0x22a5 }, { "sdot", 0x22c5 },
  { "lceil", 0x2308 }, { "rceil", 0x2309 }, { "lfloor", 0x230a }, { "rfloor", 0x230b },
  { "lang", 0x27e8 }, { "rang", 0x27e9 }, { "loz", 0x25ca }, { "spades", 0x2660 },
  { "clubs", 0x2663 }, { "hearts", 0x2665 }, { "diams", 0x2666 },
};

static gboolean
name_is (const char *candidate,
         const char *name,
         gsize       length)
{
  return strncmp (candidate, name, length) == 0 && candidate[length] == '\0';
}

/* Returns the character that the @length bytes at @name stand for, or 0.
 * Names that need a semicolon are found only when @semicolon is set. */
static gunichar
lookup_entity (const char *name,
               gsize       length,
               gboolean    semicolon)
{
  for (gsize i = 0; i < G_N_ELEMENTS (latin1_entities); i++)
    if (name_is (latin1_entities[i], name, length))
      return 0xa0 + i;
  for (gsize i = 0; i < G_N_ELEMENTS (legacy_entities); i++)
    if (name_is (legacy_entities[i].name, name, length))
      return legacy_entities[i].value;
  if (semicolon)
    for (gsize i = 0; i < G_N_ELEMENTS (semicolon_entities); i++)
      if (name_is (semicolon_entities[i].name, name, length))
        return semicolon_entities[i].value;
  return 0;
}

/* Appends what the numeric reference &#@value; means to Python's
 * html.unescape(): C1 values read as Windows-1252, NUL, surrogates and
 * values past Unicode as U+FFFD, other control characters and
 * non-characters as nothing. */
static void
append_numeric_value (GString *out,
                      guint64  value)
{
  gunichar c;

  if (clipscope_html_numeric_reference (value, &c))
    g_string_append_unichar (out, c);
}

/* Handles the reference after "&#" at @ref; returns how many bytes it
 * spans, or 0 when there is no digit. */
static gsize
replace_numeric (const char *ref,
                 GString    *out)
{
  const char *p = ref;
  gboolean hex = (*p == 'x' || *p == 'X');
  guint64 value = 0;
  const char *digits;

  if (hex)
    p++;
  for (digits = p; hex ? g_ascii_isxdigit (*p) : g_ascii_isdigit (*p); p++)
    {
      int digit = hex ? g_ascii_xdigit_value (*p) : g_ascii_digit_value (*p);

      /* Anything past Unicode means the same, so saturate there. */
      value = MIN (value * (hex ? 16 : 10) + digit, 0x110000);
    }
  if (p == digits)
    return 0;
  if (*p == ';')
    p++;

  append_numeric_value (out, value);
  return p - ref;
}

/* Names that HTML5 accepts without a semicolon are at most this long. */
#define MAX_LEGACY_NAME 6

static gboolean
is_ascii_prefix (const char *s,
                 gsize       length)
{
  for (gsize i = 0; i < length; i++)
    if (s[i] == '\0' || (guchar) s[i] >= 0x80)
      return FALSE;
  return TRUE;
}

/* Handles the named reference after "&" at @ref, as Python does: up to 32
 * characters other than "\t\n\f <&#;", an optional ';', then the whole
 * name or, failing that, its longest prefix that HTML5 accepts without a
 * semicolon. Returns how many bytes it spans, or 0 when nothing matched. */
static gsize
replace_named (const char *ref,
               GString    *out)
{
  const char *p = ref;
  gsize n_chars = 0;
  gsize span;
  gunichar value;

  while (*p != '\0' && strchr ("\t\n\f <&#;", *p) == NULL && n_chars < 32)
    {
      p = g_utf8_next_char (p);
      n_chars++;
    }
  if (n_chars == 0)
    return 0;
  span = p - ref + (*p == ';');

  value = lookup_entity (ref, p - ref, *p == ';');
  if (value != 0)
    {
      g_string_append_unichar (out, value);
      return span;
    }

  /* Python tries prefixes one character shorter than the match, ';'
   * included, down to two characters. Only ASCII names exist, so a
   * matching prefix is ASCII and its length in bytes is its length in
   * characters. */
  for (gsize len = MIN (n_chars + (*p == ';') - 1, MAX_LEGACY_NAME); len >= 2; len--)
    {
      if (!is_ascii_prefix (ref, len) || (value = lookup_entity (ref, len, FALSE)) == 0)
        continue;
      g_string_append_unichar (out, value);
      g_string_append_len (out, ref + len, span - len);
      return span;
    }
  return 0;
}

/* Python's html.unescape(), for the names listed above. */
static char *
html_unescape (const char *text)
{
  GString *out;
  const char *amp;

  if (strchr (text, '&') == NULL)
    return g_strdup (text);

  out = g_string_sized_new (strlen (text));
  while ((amp = strchr (text, '&')) != NULL)
    {
      gsize span;

      g_string_append_len (out, text, amp - text);
      if (amp[1] == '#')
        span = replace_numeric (amp + 2, out);
      else
        span = replace_named (amp + 1, out);

      if (span == 0)
        {
          g_string_append_c (out, '&');
          text = amp + 1;
        }
      else
        text = amp + 1 + (amp[1] == '#') + span;
    }
  g_string_append (out, text);
  return g_string_free (out, FALSE);
}

/* ---------------------------------------------------------- cleaning */

/* Replaces each run of white space by one space and strips the ends, as
 * CLIP's whitespace_clean() and str.strip() do. */
static char *
collapse_white_space (const char *text)
{
  GString *out = g_string_sized_new (strlen (text));
  gboolean in_run = FALSE;
  gsize start = 0;
  const char *end;

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gboolean space = is_white_space (g_utf8_get_char (p));

      if (!space)
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
      else if (!in_run)
        g_string_append_c (out, ' ');
      in_run = space;
    }

  end = out->str + out->len;
  while (end > out->str && is_python_space (g_utf8_get_char (g_utf8_prev_char (end))))
    end = g_utf8_prev_char (end);
  g_string_truncate (out, end - out->str);
  while (start < out->len && is_python_space (g_utf8_get_char (out->str + start)))
    start = g_utf8_next_char (out->str + start) - out->str;
  g_string_erase (out, 0, start);
  return g_string_free (out, FALSE);
}

/* Roman numerals and circled letters have case though they are not
 * letters; g_unichar_tolower() leaves them alone, Python does not. */
static gboolean
is_cased_symbol (gunichar c)
{
  return c == 0xaa || c == 0xba || (c >= 0x2160 && c <= 0x217f) || (c >= 0x24b6 && c <= 0x24e9)
         || (c >= 0x1f130 && c <= 0x1f149) || (c >= 0x1f150 && c <= 0x1f169)
         || (c >= 0x1f170 && c <= 0x1f189);
}

static gunichar
simple_lower (gunichar c)
{
  if (c >= 0x2160 && c <= 0x216f)
    return c + 0x10;
  if (c >= 0x24b6 && c <= 0x24cf)
    return c + 0x1a;
  return g_unichar_tolower (c);
}

/* Python's Cased property: letters with case and the symbols above. */
static gboolean
is_cased (gunichar c)
{
  GUnicodeType type = g_unichar_type (c);

  return type == G_UNICODE_UPPERCASE_LETTER || type == G_UNICODE_LOWERCASE_LETTER
         || type == G_UNICODE_TITLECASE_LETTER || is_cased_symbol (c);
}

/* Unicode's Case_Ignorable: marks, format characters, modifiers and the
 * characters that may sit inside a word (apostrophes, periods, colons). */
static gboolean
is_case_ignorable (gunichar c)
{
  static const gunichar inside_word[] = {
    '\'', '.', ':', 0xb7, 0x387, 0x55f, 0x5f4, 0x2018, 0x2019, 0x2024, 0x2027,
    0xfe13, 0xfe52, 0xfe55, 0xff07, 0xff0e, 0xff1a,
  };

  switch (g_unichar_type (c))
    {
    case G_UNICODE_NON_SPACING_MARK:
    case G_UNICODE_ENCLOSING_MARK:
    case G_UNICODE_FORMAT:
    case G_UNICODE_MODIFIER_LETTER:
    case G_UNICODE_MODIFIER_SYMBOL:
      return TRUE;
    default:
      break;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (inside_word); i++)
    if (c == inside_word[i])
      return TRUE;
  return FALSE;
}

/* Python lower-cases a capital sigma to the final form when a cased letter
 * comes before it and none after it, looking past case-ignorable
 * characters on both sides. */
static gboolean
is_final_sigma (const char *text,
                const char *sigma)
{
  const char *p = sigma;
  gboolean cased_before = FALSE;

  while (p > text)
    {
      gunichar c = g_utf8_get_char (p = g_utf8_prev_char (p));

      if (!is_case_ignorable (c))
        {
          cased_before = is_cased (c);
          break;
        }
    }
  if (!cased_before)
    return FALSE;

  for (p = g_utf8_next_char (sigma); *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (!is_case_ignorable (c))
        return !is_cased (c);
    }
  return TRUE;
}

/* Python's str.lower(): simple lower-case mappings plus its two special
 * cases. g_utf8_strdown() is not used because it follows the locale, and
 * in a Turkish one would turn "I" into a dotless "ı". */
static char *
lower_case (const char *text)
{
  GString *out = g_string_sized_new (strlen (text));

  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c < 0x80)
        g_string_append_c (out, g_ascii_tolower (c));
      else if (c == 0x130)  /* İ becomes i and a combining dot above */
        g_string_append (out, "i\xcc\x87");
      else if (c == 0x3a3)
        g_string_append_unichar (out, is_final_sigma (text, p) ? 0x3c2 : 0x3c3);
      else
        g_string_append_unichar (out, simple_lower (c));
    }
  return g_string_free (out, FALSE);
}

/* CLIP's basic_clean() and whitespace_clean(), then lower-casing. */
static char *
clean_text (const char *text)
{
  g_autofree char *fixed = clipscope_ftfy_fix_text (text, strlen (text));
  g_autofree char *once = html_unescape (fixed);
  g_autofree char *twice = html_unescape (once);
  g_autofree char *collapsed = collapse_white_space (twice);

  return lower_case (collapsed);
}

/* ---------------------------------------------------------- BPE */

#define SYMBOL_DEAD (-2)

/* One symbol of a word being merged: a doubly linked list over the word's
 * bytes, where a merge absorbs the right symbol into the left one. */
typedef struct
{
  int32_t id;    /* vocabulary id, -1 for a byte the vocabulary lacks, or SYMBOL_DEAD */
  int32_t prev;  /* index of the previous live symbol, or -1 */
  int32_t next;  /* index of the next live symbol, or -1 */
} Symbol;

/* A pair that may be merged: the rank it had when queued, and the index of
 * its left symbol. It may be stale by the time it is looked at. */
typedef struct
{
  int32_t rank;
  int32_t left;
} Candidate;

/* A binary min-heap of candidates ordered by rank, then position. */
typedef struct
{
  Candidate *items;
  gsize      len;
  gsize      capacity;
} CandidateHeap;

static gboolean
candidate_before (const Candidate *a,
                  const Candidate *b)
{
  return a->rank != b->rank ? a->rank < b->rank : a->left < b->left;
}

static void
heap_push (CandidateHeap *heap,
           int32_t        rank,
           int32_t        left)
{
  Candidate item = { rank, left };
  gsize i;

  g_assert (heap->len < heap->capacity);
  for (i = heap->len++; i > 0; i = (i - 1) / 2)
    {
      if (!candidate_before (&item, &heap->items[(i - 1) / 2]))
        break;
      heap->items[i] = heap->items[(i - 1) / 2];
    }
  heap->items[i] = item;
}

static Candidate
heap_pop (CandidateHeap *heap)
{
  Candidate top = heap->items[0];
  Candidate last = heap->items[--heap->len];
  gsize i = 0;

  for (;;)
    {
      gsize child = 2 * i + 1;

      if (child >= heap->len)
        break;
      if (child + 1 < heap->len && candidate_before (&heap->items[child + 1], &heap->items[child]))
        child++;
      if (!candidate_before (&heap->items[child], &last))
        break;
      heap->items[i] = heap->items[child];
      i = child;
    }
  heap->items[i] = last;
  return top;
}

/* Returns the rank of the pair that starts at @left, or -1 if it has none,
 * storing the id of the merged symbol in *merged. */
static int32_t
pair_rank (ClipscopeTokenizer *self,
           const Symbol       *symbols,
           int32_t             left,
           int32_t            *merged)
{
  const Symbol *a = &symbols[left];
  const MergeSlot *slot;

  if (a->id == SYMBOL_DEAD || a->next < 0)
    return -1;
  slot = merge_table_lookup (self, a->id, symbols[a->next].id);
  if (slot == NULL)
    return -1;
  *merged = slot->merged;
  return slot->rank;
}

static void
push_pair (ClipscopeTokenizer *self,
           CandidateHeap      *heap,
           const Symbol       *symbols,
           int32_t             left)
{
  int32_t merged;
  int32_t rank = pair_rank (self, symbols, left, &merged);

  if (rank >= 0)
    heap_push (heap, rank, left);
}

static void
merge_pair (ClipscopeTokenizer *self,
            CandidateHeap      *heap,
            Symbol             *symbols,
            int32_t             left,
            int32_t             merged)
{
  Symbol *a = &symbols[left];
  Symbol *b = &symbols[a->next];

  a->id = merged;
  a->next = b->next;
  if (b->next >= 0)
    symbols[b->next].prev = left;
  b->id = SYMBOL_DEAD;

  /* Both neighbouring pairs have changed; the heap's old entries for them
   * are now stale and will fail the check in merge_best_pairs(). */
  if (a->prev >= 0)
    push_pair (self, heap, symbols, a->prev);
  push_pair (self, heap, symbols, left);
}

/* CLIP merges every occurrence of the best pair, left to right, before it
 * looks for the next best; taking all candidates of that rank off the heap
 * first keeps this order even when a merge creates a pair of lower rank. */
static void
merge_best_pairs (ClipscopeTokenizer *self,
                  CandidateHeap      *heap,
                  Symbol             *symbols,
                  int32_t            *batch,
                  gsize               n_symbols)
{
  int32_t rank = heap->items[0].rank;
  gsize n = 0;

  while (heap->len > 0 && heap->items[0].rank == rank && n < n_symbols)
    batch[n++] = heap_pop (heap).left;

  for (gsize i = 0; i < n; i++)
    {
      int32_t merged;

      if (pair_rank (self, symbols, batch[i], &merged) == rank)
        merge_pair (self, heap, symbols, batch[i], merged);
    }
}

/* Appends the ids of one pre-token of @length bytes to @ids.
 *
 * This is the hot spot when the cache is cold. The reference rescans the
 * word for its best pair after each merge, which is quadratic in the
 * word's length; a heap finds the pair directly, so that even a
 * megabyte-long word takes O(n log n). */
static void
bpe (ClipscopeTokenizer *self,
     const guint8       *bytes,
     gsize               length,
     GArray             *ids)
{
  g_autofree Symbol *symbols = g_new (Symbol, length);
  g_autofree int32_t *batch = g_new (int32_t, length);
  g_autofree Candidate *items = g_new (Candidate, 3 * length);
  /* Each merge queues at most two pairs, and there are fewer merges than
   * bytes, so 3 × length bounds the heap. */
  CandidateHeap heap = { items, 0, 3 * length };

  for (gsize i = 0; i < length; i++)
    {
      gboolean last = (i + 1 == length);

      symbols[i].id = last ? self->byte_end_ids[bytes[i]] : self->byte_ids[bytes[i]];
      symbols[i].prev = (int32_t) i - 1;
      symbols[i].next = last ? -1 : (int32_t) i + 1;
    }
  for (gsize i = 0; i + 1 < length; i++)
    push_pair (self, &heap, symbols, i);

  while (heap.len > 0)
    merge_best_pairs (self, &heap, symbols, batch, length);

  /* Merges keep the left symbol, so the first one always survives. */
  for (int32_t i = 0; i >= 0; i = symbols[i].next)
    if (symbols[i].id >= 0)
      g_array_append_val (ids, symbols[i].id);
}

/* ---------------------------------------------------------- encoding */

static gboolean
cache_lookup (ClipscopeTokenizer *self,
              const char         *word,
              GArray             *ids)
{
  const CachedWord *cached;

  g_rw_lock_reader_lock (&self->cache_lock);
  cached = g_hash_table_lookup (self->cache, word);
  if (cached != NULL)
    g_array_append_vals (ids, cached->ids, cached->n_ids);
  g_rw_lock_reader_unlock (&self->cache_lock);

  return cached != NULL;
}

static void
cache_insert (ClipscopeTokenizer *self,
              const char         *word,
              const int32_t      *word_ids,
              guint               n_ids)
{
  CachedWord *cached = g_malloc (sizeof (CachedWord) + n_ids * sizeof (int32_t));

  cached->n_ids = n_ids;
  memcpy (cached->ids, word_ids, n_ids * sizeof (int32_t));

  g_rw_lock_writer_lock (&self->cache_lock);
  /* Starting afresh keeps memory bounded and the cache filled with the
   * words of the current workload. */
  if (g_hash_table_size (self->cache) >= CACHE_MAX_ENTRIES)
    g_hash_table_remove_all (self->cache);
  g_hash_table_replace (self->cache, g_strdup (word), cached);
  g_rw_lock_writer_unlock (&self->cache_lock);
}

/* CLIP's reference keeps the special tokens in its BPE cache, so that
 * "<|endoftext|>" written in a text becomes that token. */
static gboolean
append_special (ClipscopeTokenizer *self,
                const char         *word,
                gsize               length,
                GArray             *ids)
{
  if (length == strlen (SOT_TOKEN) && memcmp (word, SOT_TOKEN, length) == 0)
    g_array_append_val (ids, self->sot);
  else if (length == strlen (EOT_TOKEN) && memcmp (word, EOT_TOKEN, length) == 0)
    g_array_append_val (ids, self->eot);
  else
    return FALSE;
  return TRUE;
}

static void
encode_word (ClipscopeTokenizer *self,
             const char         *word,
             gsize               length,
             GArray             *ids)
{
  char key[CACHE_MAX_WORD_BYTES + 1];
  gboolean cacheable = (length <= CACHE_MAX_WORD_BYTES);
  guint first = ids->len;

  if (append_special (self, word, length, ids))
    return;

  if (cacheable)
    {
      memcpy (key, word, length);
      key[length] = '\0';
      if (cache_lookup (self, key, ids))
        return;
    }

  bpe (self, (const guint8 *) word, length, ids);
  if (cacheable)
    cache_insert (self, key, &g_array_index (ids, int32_t, first), ids->len - first);
}

/* Pre-tokenises @text and appends the ids of its words until @ids holds
 * @max_ids: words after that would be cut off anyway. */
static gboolean
encode_words (ClipscopeTokenizer  *self,
              const char          *text,
              guint                max_ids,
              GArray              *ids,
              GError             **error)
{
  g_autoptr(GMatchInfo) match = NULL;
  g_autoptr(GError) local_error = NULL;

  g_regex_match_full (self->pattern, text, -1, 0, 0, &match, &local_error);
  while (local_error == NULL && g_match_info_matches (match) && ids->len < max_ids)
    {
      int start, end;

      g_match_info_fetch_pos (match, 0, &start, &end);
      encode_word (self, text + start, end - start, ids);
      g_match_info_next (match, &local_error);
    }

  if (local_error != NULL)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT,
                   "cannot split the text into words: %s", local_error->message);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_text (const char  *text,
            int          context_length,
            GError     **error)
{
  gsize length = strnlen (text, CLIPSCOPE_MAX_TEXT_BYTES + 1);
  const char *bad;

  if (length > CLIPSCOPE_MAX_TEXT_BYTES)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT,
                   "text longer than the limit of %d bytes", CLIPSCOPE_MAX_TEXT_BYTES);
      return FALSE;
    }
  if (!g_utf8_validate (text, length, &bad))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT,
                   "text is not valid UTF-8 (byte %" G_GSIZE_FORMAT ")", (gsize) (bad - text));
      return FALSE;
    }
  if (context_length < 2)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT,
                   "context length %d leaves no room for start and end of text",
                   context_length);
      return FALSE;
    }
  return TRUE;
}

int32_t *
clipscope_tokenizer_encode (ClipscopeTokenizer  *tok,
                            const char          *text,
                            int                  context_length,
                            int                 *n_tokens,
                            GError             **error)
{
  g_autoptr(GArray) ids = NULL;
  g_autofree char *clean = NULL;

  g_return_val_if_fail (tok != NULL, NULL);
  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (n_tokens != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_text (text, context_length, error))
    return NULL;

  clean = clean_text (text);
  ids = g_array_sized_new (FALSE, FALSE, sizeof (int32_t), 16);
  g_array_append_val (ids, tok->sot);
  if (!encode_words (tok, clean, context_length - 1, ids, error))
    return NULL;

  /* Keep start-of-text and the first context_length − 2 ids, so that
   * end-of-text is always last. */
  if (ids->len > (guint) context_length - 1)
    g_array_set_size (ids, context_length - 1);
  g_array_append_val (ids, tok->eot);

  *n_tokens = ids->len;
  return (int32_t *) g_array_free (g_steal_pointer (&ids), FALSE);
}

/* ------------------------------------------- shared with other tokenizers */

char *
clipscope_text_python_lower (const char *text)
{
  return lower_case (text);
}

gboolean
clipscope_text_is_python_space (gunichar c)
{
  return is_python_space (c);
}

gboolean
clipscope_text_check (const char  *text,
                      int          context_length,
                      GError     **error)
{
  return check_text (text, context_length, error);
}
