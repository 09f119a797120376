/* spm.c — encoding with a SentencePiece model
 *
 * Follows sentencepiece's normalizer.cc, unigram_model.cc, bpe_model.cc
 * and the piece post-processing of sentencepiece_processor.cc:
 *
 *   1. normalise: at each position, a user-defined piece is kept as it
 *      is; otherwise the longest key of the precompiled character map (a
 *      Darts double-array trie over UTF-8 bytes) that starts there is
 *      replaced by its NUL-terminated string in the map's blob, and
 *      anything else is copied one character at a time. With
 *      remove_extra_whitespaces, leading, trailing and repeated spaces go;
 *      add_dummy_prefix puts one space in front (behind, with
 *      treat_whitespace_as_suffix); escape_whitespaces writes spaces as
 *      U+2581.
 *   2. unigram: Viterbi over every piece that starts at each character,
 *      user-defined pieces scored length × max score − 0.1, a character no
 *      piece covers as an unknown scored min score − 10; the sums are
 *      rounded as sentencepiece rounds them (float, with double for
 *      user-defined pieces), so that ties break the same way.
 *      BPE: characters (user-defined pieces whole and frozen) merged pair
 *      by pair, the pair whose joined piece scores highest first, leftmost
 *      on a tie; unused pieces are split back into what made them. A
 *      tokenizer.json's BPE merges by rank instead, lowest first.
 *   3. an unknown piece becomes its UTF-8 bytes' <0xHH> pieces when the
 *      model has byte fallback; otherwise a run of unknowns is one.
 */
#include "spm.h"
#include "piece-table.h"

#include <string.h>

#define SPACE_SYMBOL     "\xe2\x96\x81"  /* U+2581 */
#define UNK_PENALTY      10.0f
#define MAX_TRIE_RESULTS 32

struct _ClipscopeSpm
{
  ClipscopeSpmModel   *model;
  ClipscopePieceTable *pieces;        /* normal, user-defined and unused: what encoders match */
  ClipscopePieceTable *reserved;      /* control, unknown and byte pieces */
  ClipscopePieceTable *user_defined;  /* NULL when there are none */
  int32_t              unk_id;
  int32_t              max_output_id;  /* the highest id encoding can give */
  float                min_score;
  float                max_score;
  int32_t              byte_ids[256];

  guint32             *trie;          /* the double array, host order */
  gsize                n_units;
  const char          *replacements;  /* the strings the trie's values point into */
  gsize                replacements_size;

  GHashTable          *merge_ranks;   /* tokenizer.json BPE: (left << 32 | right) → rank + 1 */
  guint64             *merge_keys;    /* the keys of merge_ranks */
};

/* A piece of the encoded text: bytes [start, start + length) of the
 * normalised string. */
typedef struct
{
  gsize   start;
  gsize   length;
  int32_t id;
} Token;

static inline const ClipscopeSpmPiece *
piece_at (const ClipscopeSpm *spm,
          int32_t             id)
{
  return &g_array_index (spm->model->pieces, ClipscopeSpmPiece, id);
}

static inline gsize
char_length (const char *s,
             gsize       left)
{
  return MIN ((gsize) g_utf8_skip[(guchar) *s], left);
}

/* ---------------------------------------------------------- normaliser */

/* The charsmap blob: a little-endian uint32 trie size, the trie, then the
 * replacement strings. */
static gboolean
load_charsmap (ClipscopeSpm  *spm,
               GError       **error)
{
  gsize size;
  const guint8 *blob = g_bytes_get_data (spm->model->charsmap, &size);
  guint32 trie_size;

  if (size <= 4)
    return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, spm->model->path,
                                     "the precompiled charsmap is %" G_GSIZE_FORMAT " bytes long", size);
  memcpy (&trie_size, blob, 4);
  trie_size = GUINT32_FROM_LE (trie_size);
  if (trie_size >= size - 4 + 1 || trie_size < 4)
    return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, spm->model->path,
                                     "the precompiled charsmap's trie is %u bytes long, more than its %" G_GSIZE_FORMAT
                                     " bytes hold", trie_size, size - 4);
  spm->n_units = trie_size / 4;
  spm->trie = g_new (guint32, spm->n_units);
  memcpy (spm->trie, blob + 4, spm->n_units * 4);
  for (gsize i = 0; i < spm->n_units; i++)
    spm->trie[i] = GUINT32_FROM_LE (spm->trie[i]);
  spm->replacements = (const char *) blob + 4 + trie_size;
  spm->replacements_size = size - 4 - trie_size;
  return TRUE;
}

/* Darts-clone's unit fields. */
static inline gboolean unit_has_leaf (guint32 u) { return (u >> 8) & 1; }
static inline guint32 unit_value (guint32 u) { return u & 0x7fffffffu; }
static inline guint32 unit_label (guint32 u) { return u & 0x800000ffu; }
static inline guint32 unit_offset (guint32 u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

/* The longest key of the trie that starts @key (among the first
 * MAX_TRIE_RESULTS, as sentencepiece looks no further): its length, or 0,
 * and its value. Units outside the array end the search. */
static gsize
trie_longest_prefix (const ClipscopeSpm *spm,
                     const char         *key,
                     gsize               length,
                     guint32            *value)
{
  gsize node, best = 0;
  guint n_results = 0;

  if (spm->n_units == 0)
    return 0;
  node = unit_offset (spm->trie[0]);
  for (gsize i = 0; i < length && n_results < MAX_TRIE_RESULTS; i++)
    {
      guint8 c = (guint8) key[i];
      guint32 unit;

      node ^= c;
      if (node >= spm->n_units)
        break;
      unit = spm->trie[node];
      if (unit_label (unit) != c)
        break;
      node ^= unit_offset (unit);
      if (unit_has_leaf (unit))
        {
          if (node >= spm->n_units)
            break;
          best = i + 1;
          *value = unit_value (spm->trie[node]);
          n_results++;
        }
    }
  return best;
}

/* The longest user-defined piece that starts @text, or 0. */
static gsize
user_defined_prefix (const ClipscopeSpm *spm,
                     const char         *text,
                     gsize               length)
{
  if (spm->user_defined == NULL)
    return 0;
  for (gsize n = MIN (length, clipscope_piece_table_get_max_length (spm->user_defined)); n > 0; n--)
    if (clipscope_piece_table_lookup (spm->user_defined, text, n) >= 0)
      return n;
  return 0;
}

/* What the start of @text normalises to (@out, @out_length), and how many
 * bytes of @text that consumes. */
static gboolean
normalize_prefix (const ClipscopeSpm  *spm,
                  const char          *text,
                  gsize                length,
                  const char         **out,
                  gsize               *out_length,
                  gsize               *consumed,
                  GError             **error)
{
  guint32 value = 0;
  gsize n;

  if ((n = user_defined_prefix (spm, text, length)) > 0
      || (n = trie_longest_prefix (spm, text, length, &value)) == 0)
    {
      if (n == 0)
        n = char_length (text, length);
      *out = text;
      *out_length = *consumed = n;
      return TRUE;
    }
  if (value >= spm->replacements_size
      || memchr (spm->replacements + value, '\0', spm->replacements_size - value) == NULL)
    return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, spm->model->path,
                                     "the precompiled charsmap maps to offset %u, outside its %" G_GSIZE_FORMAT
                                     " bytes of strings", value, spm->replacements_size);
  *out = spm->replacements + value;
  *out_length = strlen (*out);
  *consumed = n;
  return TRUE;
}

static void
append_space (const ClipscopeSpm *spm,
              GString            *out)
{
  g_string_append (out, spm->model->escape_whitespaces ? SPACE_SYMBOL : " ");
}

char *
clipscope_spm_normalize (const ClipscopeSpm *spm,
                         const char         *text,
                         GError            **error)
{
  const ClipscopeSpmModel *m = spm->model;
  gsize left = strlen (text);
  g_autoptr(GString) out = g_string_sized_new (left + 8);
  gboolean prev_space = m->remove_extra_whitespaces;
  const char *sp;
  gsize sp_length, consumed;

  /* Leading white space. */
  while (m->remove_extra_whitespaces && left > 0)
    {
      if (!normalize_prefix (spm, text, left, &sp, &sp_length, &consumed, error))
        return NULL;
      if (sp_length != 1 || sp[0] != ' ')
        break;
      text += consumed;
      left -= consumed;
    }
  if (left == 0)
    return g_string_free (g_steal_pointer (&out), FALSE);

  if (!m->treat_whitespace_as_suffix && m->add_dummy_prefix)
    append_space (spm, out);
  while (left > 0)
    {
      if (!normalize_prefix (spm, text, left, &sp, &sp_length, &consumed, error))
        return NULL;
      while (prev_space && sp_length > 0 && sp[0] == ' ')
        {
          sp++;
          sp_length--;
        }
      if (sp_length > 0)
        {
          for (gsize i = 0; i < sp_length; i++)
            {
              if (m->escape_whitespaces && sp[i] == ' ')
                g_string_append (out, SPACE_SYMBOL);
              else
                g_string_append_c (out, sp[i]);
            }
          prev_space = sp[sp_length - 1] == ' ';
        }
      text += consumed;
      left -= consumed;
      if (!m->remove_extra_whitespaces)
        prev_space = FALSE;
    }

  /* Trailing white space. */
  if (m->remove_extra_whitespaces)
    {
      const char *space = m->escape_whitespaces ? SPACE_SYMBOL : " ";

      while (g_str_has_suffix (out->str, space))
        g_string_truncate (out, out->len - strlen (space));
    }
  if (m->treat_whitespace_as_suffix && m->add_dummy_prefix)
    append_space (spm, out);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* ------------------------------------------------------------- unigram */

typedef struct
{
  int32_t id;
  float   score;  /* of the best path ending here */
  gssize  start;  /* of its last piece; -1 while there is none */
} BestPath;

static void
offer (BestPath *target,
       double    score,
       gsize     start,
       int32_t   id)
{
  if (target->start < 0 || score > target->score)
    {
      target->score = (float) score;
      target->start = (gssize) start;
      target->id = id;
    }
}

static void
encode_unigram (const ClipscopeSpm *spm,
                const char         *text,
                gsize               size,
                GArray             *tokens)
{
  g_autofree BestPath *best = g_new (BestPath, size + 1);
  const float unk_score = spm->min_score - UNK_PENALTY;
  gsize max_length = clipscope_piece_table_get_max_length (spm->pieces);
  gsize end;

  for (gsize i = 0; i <= size; i++)
    best[i] = (BestPath) { -1, 0, -1 };

  for (gsize start = 0, char_len; start < size; start += char_len)
    {
      const float till_here = best[start].score;
      gboolean has_single = FALSE;

      char_len = char_length (text + start, size - start);
      end = start + char_len;
      while (end - start <= max_length)
        {
          int32_t id = clipscope_piece_table_lookup (spm->pieces, text + start, end - start);
          const ClipscopeSpmPiece *p = id >= 0 ? piece_at (spm, id) : NULL;

          if (p != NULL && p->type != CLIPSCOPE_SPM_PIECE_UNUSED)
            {
              double score;

              if (p->type == CLIPSCOPE_SPM_PIECE_USER_DEFINED)
                score = (double) ((float) (end - start) * spm->max_score) - 0.1;
              else
                score = p->score;
              offer (&best[end], score + (double) till_here, start, id);
              if (end - start == char_len)
                has_single = TRUE;
            }
          if (end == size)
            break;
          end += char_length (text + end, size - end);
        }
      if (!has_single)
        {
          /* float arithmetic, as sentencepiece adds these */
          float score = unk_score + till_here;

          offer (&best[start + char_len], score, start, spm->unk_id);
        }
    }

  /* Back from the end; the tokens come out reversed. */
  g_array_set_size (tokens, 0);
  for (end = size; end > 0; end = (gsize) best[end].start)
    {
      Token t = { (gsize) best[end].start, end - (gsize) best[end].start, best[end].id };

      g_array_append_val (tokens, t);
    }
  for (guint i = 0; i < tokens->len / 2; i++)
    {
      Token t = g_array_index (tokens, Token, i);

      g_array_index (tokens, Token, i) = g_array_index (tokens, Token, tokens->len - 1 - i);
      g_array_index (tokens, Token, tokens->len - 1 - i) = t;
    }
}

/* ----------------------------------------------------------------- BPE */

typedef struct
{
  gssize   prev;
  gssize   next;
  gsize    start;
  gsize    length;  /* 0 once merged into the symbol before */
  gboolean frozen;
} Symbol;

typedef struct
{
  double priority;  /* higher first */
  gssize left;
  gssize right;
  gsize  length;    /* of the joined piece */
} Candidate;

static gboolean
candidate_before (const Candidate *a,
                  const Candidate *b)
{
  return a->priority > b->priority || (a->priority == b->priority && a->left < b->left);
}

static void
heap_push (GArray    *heap,
           Candidate *c)
{
  gsize i = heap->len;
  Candidate *h;

  g_array_append_val (heap, *c);
  h = (Candidate *) heap->data;
  while (i > 0 && candidate_before (&h[i], &h[(i - 1) / 2]))
    {
      Candidate t = h[i];

      h[i] = h[(i - 1) / 2];
      h[(i - 1) / 2] = t;
      i = (i - 1) / 2;
    }
}

static Candidate
heap_pop (GArray *heap)
{
  Candidate *h = (Candidate *) heap->data;
  Candidate top = h[0];
  gsize n = heap->len - 1, i = 0;

  h[0] = h[n];
  g_array_set_size (heap, n);
  for (;;)
    {
      gsize l = 2 * i + 1, r = l + 1, m = i;
      Candidate t;

      if (l < n && candidate_before (&h[l], &h[m]))
        m = l;
      if (r < n && candidate_before (&h[r], &h[m]))
        m = r;
      if (m == i)
        break;
      t = h[i];
      h[i] = h[m];
      h[m] = t;
      i = m;
    }
  return top;
}

/* Any piece's id, as sentencepiece's PieceToId(): the unknown id for
 * what the model lacks. */
static int32_t
lookup_any (const ClipscopeSpm *spm,
            const char         *piece,
            gsize               length)
{
  int32_t id = clipscope_piece_table_lookup (spm->reserved, piece, length);

  if (id < 0)
    id = clipscope_piece_table_lookup (spm->pieces, piece, length);
  return id < 0 ? spm->unk_id : id;
}

typedef struct
{
  const ClipscopeSpm *spm;
  const char         *text;
  Symbol             *symbols;
  GArray             *heap;
  GHashTable         *unmerge;  /* an unused piece → length of its left part */
} BpeState;

static void
maybe_add_pair (BpeState *s,
                gssize    left,
                gssize    right)
{
  const ClipscopeSpm *spm = s->spm;
  const Symbol *l, *r;
  Candidate c;
  int32_t id;

  if (left < 0 || right < 0 || s->symbols[left].frozen || s->symbols[right].frozen)
    return;
  l = &s->symbols[left];
  r = &s->symbols[right];
  c = (Candidate) { 0, left, right, l->length + r->length };
  id = clipscope_piece_table_lookup (spm->pieces, s->text + l->start, c.length);
  if (id < 0)
    return;
  if (spm->merge_ranks != NULL)
    {
      int32_t lid = lookup_any (spm, s->text + l->start, l->length);
      int32_t rid = lookup_any (spm, s->text + r->start, r->length);
      guint64 key = (guint64) (guint32) lid << 32 | (guint32) rid;
      gpointer rank;

      if (!g_hash_table_lookup_extended (spm->merge_ranks, &key, NULL, &rank))
        return;
      c.priority = -(double) GPOINTER_TO_SIZE (rank);
    }
  else
    {
      c.priority = piece_at (spm, id)->score;
      if (piece_at (spm, id)->type == CLIPSCOPE_SPM_PIECE_UNUSED)
        g_hash_table_insert (s->unmerge, g_strndup (s->text + l->start, c.length),
                             GSIZE_TO_POINTER (l->length));
    }
  heap_push (s->heap, &c);
}

/* Emits a final symbol, split back where it is an unused piece. */
static void
resegment (BpeState *s,
           gsize     start,
           gsize     length,
           GArray   *tokens)
{
  int32_t id = lookup_any (s->spm, s->text + start, length);
  g_autofree char *piece = NULL;
  gpointer left;

  if (piece_at (s->spm, id)->type == CLIPSCOPE_SPM_PIECE_UNUSED)
    {
      piece = g_strndup (s->text + start, length);
      if (g_hash_table_lookup_extended (s->unmerge, piece, NULL, &left))
        {
          resegment (s, start, GPOINTER_TO_SIZE (left), tokens);
          resegment (s, start + GPOINTER_TO_SIZE (left), length - GPOINTER_TO_SIZE (left), tokens);
          return;
        }
    }
  g_array_append_val (tokens, ((Token) { start, length, id }));
}

static void
encode_bpe (const ClipscopeSpm *spm,
            const char         *text,
            gsize               size,
            GArray             *tokens)
{
  g_autoptr(GArray) symbols = g_array_new (FALSE, FALSE, sizeof (Symbol));
  g_autoptr(GArray) heap = g_array_new (FALSE, FALSE, sizeof (Candidate));
  g_autoptr(GHashTable) unmerge = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  BpeState s = { spm, text, NULL, heap, unmerge };

  for (gsize pos = 0; pos < size;)
    {
      gsize n = user_defined_prefix (spm, text + pos, size - pos);
      Symbol sym = { (gssize) symbols->len - 1, -1, pos, n ? n : char_length (text + pos, size - pos), n > 0 };

      pos += sym.length;
      if (pos < size)
        sym.next = (gssize) symbols->len + 1;
      g_array_append_val (symbols, sym);
    }
  s.symbols = (Symbol *) symbols->data;
  for (guint i = 1; i < symbols->len; i++)
    maybe_add_pair (&s, i - 1, i);

  while (heap->len > 0)
    {
      Candidate top = heap_pop (heap);
      Symbol *l = &s.symbols[top.left], *r = &s.symbols[top.right];

      if (l->length == 0 || r->length == 0 || l->length + r->length != top.length)
        continue;
      l->length += r->length;
      l->next = r->next;
      if (r->next >= 0)
        s.symbols[r->next].prev = top.left;
      r->length = 0;
      maybe_add_pair (&s, l->prev, top.left);
      maybe_add_pair (&s, top.left, l->next);
    }

  g_array_set_size (tokens, 0);
  for (gssize i = symbols->len > 0 ? 0 : -1; i >= 0; i = s.symbols[i].next)
    resegment (&s, s.symbols[i].start, s.symbols[i].length, tokens);
}

/* ------------------------------------------------------------ encoding */

gboolean
clipscope_spm_encode (const ClipscopeSpm *spm,
                      const char         *text,
                      GArray             *ids,
                      GError            **error)
{
  g_autofree char *normalized = NULL;
  g_autoptr(GArray) tokens = g_array_new (FALSE, FALSE, sizeof (Token));
  gboolean prev_unk = FALSE;
  gsize size;

  g_return_val_if_fail (spm != NULL, FALSE);
  g_return_val_if_fail (text != NULL, FALSE);

  if ((normalized = clipscope_spm_normalize (spm, text, error)) == NULL)
    return FALSE;
  size = strlen (normalized);
  if (size == 0)
    return TRUE;
  if (spm->model->model_type == CLIPSCOPE_SPM_MODEL_UNIGRAM)
    encode_unigram (spm, normalized, size, tokens);
  else
    encode_bpe (spm, normalized, size, tokens);

  for (guint i = 0; i < tokens->len; i++)
    {
      const Token *t = &g_array_index (tokens, Token, i);
      gboolean is_unk = t->id == spm->unk_id;

      if (is_unk && spm->model->byte_fallback)
        for (gsize b = 0; b < t->length; b++)
          g_array_append_val (ids, spm->byte_ids[(guint8) normalized[t->start + b]]);
      else if (!(is_unk && prev_unk))
        g_array_append_val (ids, t->id);
      prev_unk = is_unk;
    }
  return TRUE;
}

/* ------------------------------------------------------------ building */

static int
byte_of_piece (const char *piece)
{
  if (strlen (piece) != 6 || !g_str_has_prefix (piece, "<0x") || piece[5] != '>'
      || !g_ascii_isxdigit (piece[3]) || !g_ascii_isxdigit (piece[4])
      || g_ascii_islower (piece[3]) || g_ascii_islower (piece[4]))
    return -1;
  return g_ascii_xdigit_value (piece[3]) * 16 + g_ascii_xdigit_value (piece[4]);
}

static gboolean
index_pieces (ClipscopeSpm  *spm,
              GError       **error)
{
  const ClipscopeSpmModel *m = spm->model;
  guint n = m->pieces->len;

  spm->pieces = clipscope_piece_table_new (n);
  spm->reserved = clipscope_piece_table_new (64);
  spm->unk_id = -1;
  spm->min_score = G_MAXFLOAT;
  spm->max_score = G_MINFLOAT;  /* FLT_MIN, as sentencepiece starts it */
  for (guint i = 0; i < 256; i++)
    spm->byte_ids[i] = -1;

  for (guint i = 0; i < n; i++)
    {
      const ClipscopeSpmPiece *p = piece_at (spm, i);
      gboolean normal = p->type == CLIPSCOPE_SPM_PIECE_NORMAL || p->type == CLIPSCOPE_SPM_PIECE_USER_DEFINED
                        || p->type == CLIPSCOPE_SPM_PIECE_UNUSED;
      int32_t before;

      if (p->length == 0 || !g_utf8_validate_len (p->piece, p->length, NULL))
        return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, m->path,
                                         "piece %u is empty or not valid UTF-8", i);
      before = clipscope_piece_table_insert (normal ? spm->pieces : spm->reserved, p->piece, p->length, i);
      if (before >= 0)
        return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, m->path,
                                         "the piece “%s” appears twice, as ids %d and %u", p->piece, before, i);
      if (p->type != CLIPSCOPE_SPM_PIECE_CONTROL && p->type != CLIPSCOPE_SPM_PIECE_UNUSED)
        spm->max_output_id = i;
      if (p->type == CLIPSCOPE_SPM_PIECE_NORMAL)
        {
          spm->min_score = MIN (spm->min_score, p->score);
          spm->max_score = MAX (spm->max_score, p->score);
        }
      if (p->type == CLIPSCOPE_SPM_PIECE_USER_DEFINED)
        {
          if (spm->user_defined == NULL)
            spm->user_defined = clipscope_piece_table_new (16);
          clipscope_piece_table_insert (spm->user_defined, p->piece, p->length, i);
        }
      if (p->type == CLIPSCOPE_SPM_PIECE_UNKNOWN)
        {
          if (spm->unk_id >= 0)
            return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, m->path,
                                             "two unknown pieces, ids %d and %u", spm->unk_id, i);
          spm->unk_id = i;
        }
      if (p->type == CLIPSCOPE_SPM_PIECE_BYTE)
        {
          int byte = byte_of_piece (p->piece);

          if (!m->byte_fallback)
            return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, m->path,
                                             "the byte piece “%s” without byte fallback", p->piece);
          if (byte < 0)
            return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, m->path,
                                             "the byte piece “%s” is not of the form <0xHH>", p->piece);
          spm->byte_ids[byte] = i;
        }
    }
  if (spm->unk_id < 0)
    return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, m->path,
                                     "no unknown piece");
  for (guint b = 0; m->byte_fallback && b < 256; b++)
    if (spm->byte_ids[b] < 0)
      return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, m->path,
                                       "byte fallback without the byte piece <0x%02X>", b);
  return TRUE;
}

static guint
pair_hash (gconstpointer key)
{
  guint64 k = *(const guint64 *) key;

  return (guint) ((k ^ (k >> 29)) * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15) >> 32);
}

static void
index_merges (ClipscopeSpm *spm)
{
  const GArray *merges = spm->model->merges;
  guint n = merges->len / 2;
  guint64 *keys = spm->merge_keys = g_new (guint64, MAX (n, 1));

  spm->merge_ranks = g_hash_table_new (pair_hash, g_int64_equal);
  for (guint i = 0; i < n; i++)
    {
      keys[i] = (guint64) (guint32) g_array_index (merges, int32_t, 2 * i) << 32
                | (guint32) g_array_index (merges, int32_t, 2 * i + 1);
      /* The first rank of a pair counts, as in Hugging Face's BPE. */
      if (!g_hash_table_contains (spm->merge_ranks, &keys[i]))
        g_hash_table_insert (spm->merge_ranks, &keys[i], GSIZE_TO_POINTER ((gsize) i + 1));
    }
}

ClipscopeSpm *
clipscope_spm_new (ClipscopeSpmModel *model,
                   GError           **error)
{
  g_autoptr(ClipscopeSpm) spm = g_new0 (ClipscopeSpm, 1);

  g_return_val_if_fail (model != NULL, NULL);

  spm->model = model;
  if (model->model_type != CLIPSCOPE_SPM_MODEL_UNIGRAM && model->model_type != CLIPSCOPE_SPM_MODEL_BPE)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_UNSUPPORTED,
                   "%s: model type %d is not supported (only unigram and BPE are)",
                   model->path, model->model_type);
      return NULL;
    }
  if (!index_pieces (spm, error))
    return NULL;
  if (model->charsmap != NULL && !load_charsmap (spm, error))
    return NULL;
  if (model->merges != NULL)
    index_merges (spm);
  return g_steal_pointer (&spm);
}

void
clipscope_spm_free (ClipscopeSpm *spm)
{
  if (spm == NULL)
    return;
  clipscope_piece_table_free (spm->pieces);
  clipscope_piece_table_free (spm->reserved);
  clipscope_piece_table_free (spm->user_defined);
  g_free (spm->trie);
  g_clear_pointer (&spm->merge_ranks, g_hash_table_unref);
  g_free (spm->merge_keys);
  clipscope_spm_model_free (spm->model);
  g_free (spm);
}

const ClipscopeSpmModel *
clipscope_spm_get_model (const ClipscopeSpm *spm)
{
  return spm->model;
}

int
clipscope_spm_get_vocab_size (const ClipscopeSpm *spm)
{
  return (int) spm->model->pieces->len;
}

int32_t
clipscope_spm_get_max_output_id (const ClipscopeSpm *spm)
{
  return spm->max_output_id;
}

int32_t
clipscope_spm_piece_to_id (const ClipscopeSpm *spm,
                           const char         *piece)
{
  int32_t id = clipscope_piece_table_lookup (spm->reserved, piece, strlen (piece));

  return id >= 0 ? id : clipscope_piece_table_lookup (spm->pieces, piece, strlen (piece));
}
