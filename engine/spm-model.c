/* spm-model.c — reading SentencePiece models
 *
 * sentencepiece's own files are a ModelProto (sentencepiece_model.proto)
 * in protobuf's wire format. Only what encoding needs is kept: the pieces
 * (field 1: piece 1, score 2, type 3), the trainer spec (field 2:
 * model_type 3, treat_whitespace_as_suffix 24, byte_fallback 35, unk, bos,
 * eos and pad ids 40–43) and the normaliser spec (field 3: name 1,
 * precompiled_charsmap 2, add_dummy_prefix 3, remove_extra_whitespaces 4,
 * escape_whitespaces 5). Other fields are skipped by their wire type.
 * Every length is checked against what is left of its enclosing message,
 * so a truncated or hostile file is an error that gives the byte offset.
 *
 * A Hugging Face tokenizer.json carries the same model as transformers'
 * SentencePiece converters write it: a Unigram model's vocabulary with
 * scores, or a BPE model's vocabulary and ranked merges; its normaliser
 * (a Precompiled character map in base64, Replace, Prepend, Strip) and
 * pre-tokeniser (Metaspace) are mapped back onto the normaliser spec.
 * Encoding then follows sentencepiece, not the tokenizers library, where
 * the two differ (the library splits the text at U+2581 before a Unigram
 * model sees it, and leaves the space a text ends with): the file was
 * made from a sentencepiece model, which is what the network was trained
 * with. Normalisers and pre-tokenisers a converter does not write (NFKC,
 * Lowercase, ByteLevel …) are refused rather than ignored.
 */
#include "spm.h"
#include "json-check.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#define MAX_JSON_DEPTH 64

/* Protobuf wire types. */
enum
{
  WIRE_VARINT = 0,
  WIRE_FIXED64 = 1,
  WIRE_LEN = 2,
  WIRE_FIXED32 = 5,
};

/* --------------------------------------------------------------- model */

ClipscopeSpmModel *
clipscope_spm_model_new (const char *path)
{
  ClipscopeSpmModel *model = g_new0 (ClipscopeSpmModel, 1);

  model->path = g_strdup (path);
  model->pieces = g_array_new (FALSE, FALSE, sizeof (ClipscopeSpmPiece));
  /* The defaults of sentencepiece_model.proto. */
  model->model_type = CLIPSCOPE_SPM_MODEL_UNIGRAM;
  model->unk_id = 0;
  model->bos_id = 1;
  model->eos_id = 2;
  model->pad_id = -1;
  model->add_dummy_prefix = TRUE;
  model->remove_extra_whitespaces = TRUE;
  model->escape_whitespaces = TRUE;
  return model;
}

void
clipscope_spm_model_free (ClipscopeSpmModel *model)
{
  if (model == NULL)
    return;
  for (guint i = 0; i < model->pieces->len; i++)
    g_free (g_array_index (model->pieces, ClipscopeSpmPiece, i).piece);
  g_array_unref (model->pieces);
  g_clear_pointer (&model->merges, g_array_unref);
  g_clear_pointer (&model->charsmap, g_bytes_unref);
  g_free (model->normalizer_name);
  g_free (model->path);
  g_free (model);
}

void
clipscope_spm_model_add_piece (ClipscopeSpmModel    *model,
                               const char           *piece,
                               gsize                 length,
                               float                 score,
                               ClipscopeSpmPieceType type)
{
  ClipscopeSpmPiece p = {
    .piece = g_strndup (piece, length),
    .length = length,
    .score = score,
    .type = type,
  };

  g_array_append_val (model->pieces, p);
}

gboolean
clipscope_spm_read_file (const char *path,
                         gsize       max_bytes,
                         char      **contents,
                         gsize      *length,
                         GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  GStatBuf st;

  if (g_stat (path, &st) == 0 && (guint64) st.st_size > max_bytes)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT,
                   "%s: larger than the limit of %" G_GSIZE_FORMAT " bytes", path, max_bytes);
      return FALSE;
    }
  if (!g_file_get_contents (path, contents, length, &local_error))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s", local_error->message);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------ protobuf reader */

/* One message being read: [pos, end) of the file's bytes. */
typedef struct
{
  const guint8 *data;
  gsize         pos;
  gsize         end;
  const char   *path;
  const char   *message;  /* its name, for errors */
} Reader;

typedef struct
{
  gsize   offset;  /* of the tag */
  guint32 number;
  guint   wire;
  guint64 value;   /* varint, fixed32 or fixed64 */
  gsize   start;   /* of a length-delimited value */
  gsize   length;
} Field;

static gboolean G_GNUC_PRINTF (4, 5)
fail_at (const Reader *r,
         gsize         offset,
         GError      **error,
         const char   *format,
         ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, r->path,
                                   "byte offset %" G_GSIZE_FORMAT ": %s", offset, message);
}

static gboolean
read_varint (Reader   *r,
             guint64  *value,
             GError  **error)
{
  gsize start = r->pos;
  guint64 v = 0;

  for (guint shift = 0; shift < 64; shift += 7)
    {
      guint8 b;

      if (r->pos >= r->end)
        return fail_at (r, start, error, "a varint in %s is cut short", r->message);
      b = r->data[r->pos++];
      v |= (guint64) (b & 0x7f) << shift;
      if ((b & 0x80) == 0)
        {
          *value = v;
          return TRUE;
        }
    }
  return fail_at (r, start, error, "a varint in %s is longer than 10 bytes", r->message);
}

static gboolean
read_fixed (Reader   *r,
            guint     size,
            guint64  *value,
            GError  **error)
{
  guint64 v = 0;

  if (r->end - r->pos < size)
    return fail_at (r, r->pos, error, "a %u-byte value in %s is cut short", size, r->message);
  for (guint i = 0; i < size; i++)
    v |= (guint64) r->data[r->pos + i] << (8 * i);
  r->pos += size;
  *value = v;
  return TRUE;
}

/* Reads the next field of the message, whatever its wire type. */
static gboolean
read_field (Reader  *r,
            Field   *f,
            GError **error)
{
  guint64 tag;

  f->offset = r->pos;
  if (!read_varint (r, &tag, error))
    return FALSE;
  f->number = (guint32) (tag >> 3);
  f->wire = tag & 7;
  if ((tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
    return fail_at (r, f->offset, error, "field number %" G_GUINT64_FORMAT " in %s is invalid",
                    tag >> 3, r->message);

  switch (f->wire)
    {
    case WIRE_VARINT:
      return read_varint (r, &f->value, error);
    case WIRE_FIXED64:
      return read_fixed (r, 8, &f->value, error);
    case WIRE_FIXED32:
      return read_fixed (r, 4, &f->value, error);
    case WIRE_LEN:
      if (!read_varint (r, &f->value, error))
        return FALSE;
      if (f->value > r->end - r->pos)
        return fail_at (r, f->offset, error,
                        "field %u of %s is %" G_GUINT64_FORMAT " bytes long, but only %"
                        G_GSIZE_FORMAT " bytes are left", f->number, r->message, f->value,
                        r->end - r->pos);
      f->start = r->pos;
      f->length = f->value;
      r->pos += f->length;
      return TRUE;
    default:
      return fail_at (r, f->offset, error, "field %u of %s has wire type %u, which is %s",
                      f->number, r->message, f->wire,
                      f->wire == 3 || f->wire == 4 ? "a group, not supported" : "invalid");
    }
}

static gboolean
expect_wire (const Reader *r,
             const Field  *f,
             guint         wire,
             GError      **error)
{
  if (f->wire == wire)
    return TRUE;
  return fail_at (r, f->offset, error, "field %u of %s has wire type %u, expected %u",
                  f->number, r->message, f->wire, wire);
}

/* The reader of a length-delimited field's contents. */
static Reader
sub_reader (const Reader *r,
            const Field  *f,
            const char   *message)
{
  Reader sub = { r->data, f->start, f->start + f->length, r->path, message };

  return sub;
}

static gboolean
read_string (const Reader *r,
             const Field  *f,
             char        **out,
             GError      **error)
{
  const char *s = (const char *) r->data + f->start;

  if (!expect_wire (r, f, WIRE_LEN, error))
    return FALSE;
  if (!g_utf8_validate_len (s, f->length, NULL))
    return fail_at (r, f->start, error, "field %u of %s is not valid UTF-8", f->number, r->message);
  g_free (*out);
  *out = g_strndup (s, f->length);
  return TRUE;
}

/* The fields of the trainer and normaliser specs that are kept, and where
 * they go in the model. */
typedef enum
{
  SPEC_BOOL,
  SPEC_INT32,
  SPEC_STRING,
  SPEC_BYTES,
} SpecKind;

typedef struct
{
  guint32  number;
  SpecKind kind;
  gsize    offset;
} SpecField;

#define SPEC(number, kind, member) { number, kind, G_STRUCT_OFFSET (ClipscopeSpmModel, member) }

static const SpecField trainer_spec_fields[] = {
  SPEC (3, SPEC_INT32, model_type),
  SPEC (24, SPEC_BOOL, treat_whitespace_as_suffix),
  SPEC (35, SPEC_BOOL, byte_fallback),
  SPEC (40, SPEC_INT32, unk_id),
  SPEC (41, SPEC_INT32, bos_id),
  SPEC (42, SPEC_INT32, eos_id),
  SPEC (43, SPEC_INT32, pad_id),
  { 0 },
};

static const SpecField normalizer_spec_fields[] = {
  SPEC (1, SPEC_STRING, normalizer_name),
  SPEC (2, SPEC_BYTES, charsmap),
  SPEC (3, SPEC_BOOL, add_dummy_prefix),
  SPEC (4, SPEC_BOOL, remove_extra_whitespaces),
  SPEC (5, SPEC_BOOL, escape_whitespaces),
  { 0 },
};

static gboolean
store_spec_field (const Reader      *r,
                  const Field       *f,
                  const SpecField   *spec,
                  ClipscopeSpmModel *model,
                  GError           **error)
{
  gpointer member = (char *) model + spec->offset;

  if (!expect_wire (r, f, spec->kind == SPEC_BOOL || spec->kind == SPEC_INT32 ? WIRE_VARINT : WIRE_LEN, error))
    return FALSE;
  switch (spec->kind)
    {
    case SPEC_BOOL:
      *(gboolean *) member = f->value != 0;
      return TRUE;
    case SPEC_INT32:
      *(int *) member = (gint32) (guint32) f->value;  /* negative values take ten bytes */
      return TRUE;
    case SPEC_STRING:
      return read_string (r, f, member, error);
    case SPEC_BYTES:
      g_clear_pointer ((GBytes **) member, g_bytes_unref);
      /* An empty map, as the identity normaliser has, is none. */
      if (f->length > 0)
        *(GBytes **) member = g_bytes_new (r->data + f->start, f->length);
      return TRUE;
    default:
      g_assert_not_reached ();
    }
}

static gboolean
parse_spec (Reader             *r,
            const SpecField    *fields,
            ClipscopeSpmModel  *model,
            GError            **error)
{
  Field f;

  while (r->pos < r->end)
    {
      if (!read_field (r, &f, error))
        return FALSE;
      for (const SpecField *spec = fields; spec->number != 0; spec++)
        if (spec->number == f.number && !store_spec_field (r, &f, spec, model, error))
          return FALSE;
    }
  return TRUE;
}

static gboolean
parse_piece (Reader             *r,
             ClipscopeSpmModel  *model,
             GError            **error)
{
  g_autofree char *piece = NULL;
  gsize start = r->pos;
  float score = 0;
  guint64 type = CLIPSCOPE_SPM_PIECE_NORMAL;
  Field f;

  while (r->pos < r->end)
    {
      if (!read_field (r, &f, error))
        return FALSE;
      switch (f.number)
        {
        case 1:
          if (!read_string (r, &f, &piece, error))
            return FALSE;
          break;
        case 2:
          {
            guint32 bits;

            if (!expect_wire (r, &f, WIRE_FIXED32, error))
              return FALSE;
            bits = (guint32) f.value;
            memcpy (&score, &bits, sizeof score);
          }
          break;
        case 3:
          if (!expect_wire (r, &f, WIRE_VARINT, error))
            return FALSE;
          if (f.value < CLIPSCOPE_SPM_PIECE_NORMAL || f.value > CLIPSCOPE_SPM_PIECE_BYTE)
            return fail_at (r, f.offset, error, "piece %u has the unknown type %" G_GUINT64_FORMAT,
                            model->pieces->len, f.value);
          type = f.value;
          break;
        default:
          break;
        }
    }
  if (piece == NULL || piece[0] == '\0')
    return fail_at (r, start, error, "piece %u is empty", model->pieces->len);
  clipscope_spm_model_add_piece (model, piece, strlen (piece), score, type);
  return TRUE;
}

ClipscopeSpmModel *
clipscope_spm_model_parse (const guint8 *data,
                           gsize         size,
                           const char   *path,
                           GError      **error)
{
  g_autoptr(ClipscopeSpmModel) model = clipscope_spm_model_new (path);
  Reader r = { data, 0, size, path, "the model" };
  Field f;

  g_return_val_if_fail (data != NULL || size == 0, NULL);

  while (r.pos < r.end)
    {
      Reader sub;

      if (!read_field (&r, &f, error))
        return NULL;
      switch (f.number)
        {
        case 1:
          if (!expect_wire (&r, &f, WIRE_LEN, error))
            return NULL;
          sub = sub_reader (&r, &f, "a piece");
          if (!parse_piece (&sub, model, error))
            return NULL;
          break;
        case 2:
          if (!expect_wire (&r, &f, WIRE_LEN, error))
            return NULL;
          sub = sub_reader (&r, &f, "the trainer spec");
          if (!parse_spec (&sub, trainer_spec_fields, model, error))
            return NULL;
          break;
        case 3:
          if (!expect_wire (&r, &f, WIRE_LEN, error))
            return NULL;
          sub = sub_reader (&r, &f, "the normalizer spec");
          if (!parse_spec (&sub, normalizer_spec_fields, model, error))
            return NULL;
          break;
        default:
          break;
        }
    }
  if (model->pieces->len == 0)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                   "%s: no pieces; not a SentencePiece model", path);
      return NULL;
    }
  return g_steal_pointer (&model);
}

/* ----------------------------------------------------- tokenizer.json */

typedef struct
{
  const char *path;
  JsonObject *root;
  GHashTable *added;  /* content → "special" as a boolean pointer */
} HfReader;

/* Member @name of @object as a string; NULL where absent or not one. */
static const char *
get_string (JsonObject *object,
            const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static JsonObject *
get_object (JsonObject *object,
            const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static JsonArray *
get_array (JsonObject *object,
           const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

static gboolean
get_bool (JsonObject *object,
          const char *name,
          gboolean    fallback)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return fallback;
  return json_node_get_boolean (node);
}

static gboolean
node_is_int (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64;
}

static gboolean
node_is_number (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node)
         && (json_node_get_value_type (node) == G_TYPE_INT64
             || json_node_get_value_type (node) == G_TYPE_DOUBLE);
}

/* The type a piece gets: from the added tokens, or a byte piece. */
static ClipscopeSpmPieceType
piece_type (const HfReader *hf,
            const char     *piece,
            gboolean        byte_fallback)
{
  gpointer special;

  if (g_hash_table_lookup_extended (hf->added, piece, NULL, &special))
    return special ? CLIPSCOPE_SPM_PIECE_CONTROL : CLIPSCOPE_SPM_PIECE_USER_DEFINED;
  if (byte_fallback && strlen (piece) == 6 && g_str_has_prefix (piece, "<0x") && piece[5] == '>'
      && g_ascii_isxdigit (piece[3]) && g_ascii_isxdigit (piece[4])
      && !g_ascii_islower (piece[3]) && !g_ascii_islower (piece[4]))
    return CLIPSCOPE_SPM_PIECE_BYTE;
  return CLIPSCOPE_SPM_PIECE_NORMAL;
}

static gboolean
read_added_tokens (HfReader *hf,
                   GError  **error)
{
  JsonArray *added = get_array (hf->root, "added_tokens");

  for (guint i = 0; added != NULL && i < json_array_get_length (added); i++)
    {
      JsonNode *node = json_array_get_element (added, i);
      const char *content;

      if (!JSON_NODE_HOLDS_OBJECT (node)
          || (content = get_string (json_node_get_object (node), "content")) == NULL)
        return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, hf->path,
                                         "added_tokens[%u] has no \"content\" string", i);
      g_hash_table_insert (hf->added, g_strdup (content),
                           GINT_TO_POINTER (get_bool (json_node_get_object (node), "special", FALSE)));
    }
  return TRUE;
}

static gboolean
read_unigram (HfReader          *hf,
              JsonObject        *m,
              ClipscopeSpmModel *model,
              GError           **error)
{
  JsonArray *vocab = get_array (m, "vocab");
  JsonNode *unk = json_object_get_member (m, "unk_id");

  model->model_type = CLIPSCOPE_SPM_MODEL_UNIGRAM;
  if (vocab == NULL)
    return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, hf->path,
                                     "the Unigram model has no \"vocab\" array");
  for (guint i = 0; i < json_array_get_length (vocab); i++)
    {
      JsonNode *entry = json_array_get_element (vocab, i);
      JsonArray *pair = JSON_NODE_HOLDS_ARRAY (entry) ? json_node_get_array (entry) : NULL;
      JsonNode *piece, *score;

      if (pair == NULL || json_array_get_length (pair) != 2
          || !JSON_NODE_HOLDS_VALUE (piece = json_array_get_element (pair, 0))
          || json_node_get_value_type (piece) != G_TYPE_STRING
          || !node_is_number (score = json_array_get_element (pair, 1)))
        return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, hf->path,
                                         "model.vocab[%u] is not a [piece, score] pair", i);
      clipscope_spm_model_add_piece (model, json_node_get_string (piece),
                                     strlen (json_node_get_string (piece)),
                                     (float) json_node_get_double (score),
                                     piece_type (hf, json_node_get_string (piece), model->byte_fallback));
    }
  model->unk_id = -1;
  if (unk != NULL && !JSON_NODE_HOLDS_NULL (unk))
    {
      if (!node_is_int (unk) || json_node_get_int (unk) < 0
          || json_node_get_int (unk) >= (gint64) model->pieces->len)
        return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, hf->path,
                                         "model.unk_id is not the index of a piece");
      model->unk_id = (int) json_node_get_int (unk);
    }
  return TRUE;
}

/* The two pieces of merges[@index]: "left right" or ["left", "right"]. */
static gboolean
merge_pieces (HfReader   *hf,
              JsonNode   *node,
              guint       index,
              char      **left,
              char      **right,
              GError    **error)
{
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    {
      g_auto(GStrv) parts = g_strsplit (json_node_get_string (node), " ", -1);

      if (g_strv_length (parts) == 2)
        {
          *left = g_strdup (parts[0]);
          *right = g_strdup (parts[1]);
          return TRUE;
        }
    }
  else if (JSON_NODE_HOLDS_ARRAY (node) && json_array_get_length (json_node_get_array (node)) == 2)
    {
      JsonArray *pair = json_node_get_array (node);
      JsonNode *l = json_array_get_element (pair, 0), *r = json_array_get_element (pair, 1);

      if (JSON_NODE_HOLDS_VALUE (l) && json_node_get_value_type (l) == G_TYPE_STRING
          && JSON_NODE_HOLDS_VALUE (r) && json_node_get_value_type (r) == G_TYPE_STRING)
        {
          *left = g_strdup (json_node_get_string (l));
          *right = g_strdup (json_node_get_string (r));
          return TRUE;
        }
    }
  return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, hf->path,
                                   "model.merges[%u] is not a pair of pieces", index);
}

static gboolean
read_bpe_merges (HfReader          *hf,
                 JsonArray         *merges,
                 GHashTable        *ids,
                 ClipscopeSpmModel *model,
                 GError           **error)
{
  model->merges = g_array_sized_new (FALSE, FALSE, sizeof (int32_t), 2 * json_array_get_length (merges));
  for (guint i = 0; i < json_array_get_length (merges); i++)
    {
      g_autofree char *left = NULL, *right = NULL, *joined = NULL;
      gpointer l, r;
      int32_t pair[2];

      if (!merge_pieces (hf, json_array_get_element (merges, i), i, &left, &right, error))
        return FALSE;
      joined = g_strconcat (left, right, NULL);
      if (!g_hash_table_lookup_extended (ids, left, NULL, &l)
          || !g_hash_table_lookup_extended (ids, right, NULL, &r)
          || !g_hash_table_contains (ids, joined))
        return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, hf->path,
                                         "model.merges[%u] (“%s” “%s”) uses a piece that is not in the vocabulary",
                                         i, left, right);
      pair[0] = GPOINTER_TO_INT (l);
      pair[1] = GPOINTER_TO_INT (r);
      g_array_append_vals (model->merges, pair, 2);
    }
  return TRUE;
}

static gboolean
read_bpe (HfReader          *hf,
          JsonObject        *m,
          ClipscopeSpmModel *model,
          GError           **error)
{
  JsonObject *vocab = get_object (m, "vocab");
  JsonArray *merges = get_array (m, "merges");
  const char *unk = get_string (m, "unk_token");
  const char *prefix = get_string (m, "continuing_subword_prefix");
  const char *suffix = get_string (m, "end_of_word_suffix");
  g_autoptr(GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree const char **by_id = NULL;
  guint n;
  JsonObjectIter iter;
  const char *piece;
  JsonNode *node;

  model->model_type = CLIPSCOPE_SPM_MODEL_BPE;
  if (vocab == NULL || merges == NULL)
    return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, hf->path,
                                     "the BPE model needs a \"vocab\" object and a \"merges\" array");
  if ((prefix != NULL && prefix[0] != '\0') || (suffix != NULL && suffix[0] != '\0')
      || get_bool (m, "ignore_merges", FALSE))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_UNSUPPORTED,
                   "%s: BPE with a continuing-subword prefix, an end-of-word suffix or "
                   "ignore_merges is not a SentencePiece model", hf->path);
      return FALSE;
    }

  /* The ids must number the pieces 0 … n − 1. */
  n = json_object_get_size (vocab);
  by_id = g_new0 (const char *, n);
  json_object_iter_init (&iter, vocab);
  while (json_object_iter_next (&iter, &piece, &node))
    {
      gint64 id = node_is_int (node) ? json_node_get_int (node) : -1;

      if (id < 0 || id >= n || by_id[id] != NULL)
        return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, hf->path,
                                         "model.vocab: the id of “%s” is not an unused integer below %u",
                                         piece, n);
      by_id[id] = piece;
      g_hash_table_insert (ids, (gpointer) piece, GINT_TO_POINTER ((int) id));
    }
  for (guint i = 0; i < n; i++)
    clipscope_spm_model_add_piece (model, by_id[i], strlen (by_id[i]), 0,
                                   piece_type (hf, by_id[i], model->byte_fallback));

  model->unk_id = -1;
  if (unk != NULL)
    {
      gpointer id;

      if (!g_hash_table_lookup_extended (ids, unk, NULL, &id))
        return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, hf->path,
                                         "model.unk_token “%s” is not in the vocabulary", unk);
      model->unk_id = GPOINTER_TO_INT (id);
    }
  return read_bpe_merges (hf, merges, ids, model, error);
}

/* Is @object a Replace of @pattern_kind (String or Regex) @pattern by
 * @content? */
static gboolean
is_replace (JsonObject *object,
            const char *pattern_kind,
            const char *pattern,
            const char *content)
{
  JsonObject *p = get_object (object, "pattern");

  return p != NULL && g_strcmp0 (get_string (p, pattern_kind), pattern) == 0
         && g_strcmp0 (get_string (object, "content"), content) == 0;
}

static gboolean
unsupported_step (HfReader   *hf,
                  const char *where,
                  const char *type,
                  GError    **error)
{
  g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_UNSUPPORTED,
               "%s: the %s “%s” is not one a SentencePiece model uses", hf->path, where,
               type ? type : "(no type)");
  return FALSE;
}

static gboolean
read_normalizer_step (HfReader          *hf,
                      JsonObject        *step,
                      ClipscopeSpmModel *model,
                      GError           **error)
{
  const char *type = get_string (step, "type");

  if (g_strcmp0 (type, "Precompiled") == 0)
    {
      const char *b64 = get_string (step, "precompiled_charsmap");
      gsize length;
      guchar *blob;

      if (b64 == NULL && json_object_has_member (step, "precompiled_charsmap")
          && JSON_NODE_HOLDS_NULL (json_object_get_member (step, "precompiled_charsmap")))
        return TRUE;  /* written for a model without a map */
      if (b64 == NULL)
        return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, hf->path,
                                         "the Precompiled normalizer has no charsmap string");
      if (strspn (b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != strlen (b64)
          || strlen (b64) % 4 != 0)
        return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, hf->path,
                                         "the precompiled charsmap is not base64");
      blob = g_base64_decode (b64, &length);
      g_clear_pointer (&model->charsmap, g_bytes_unref);
      model->charsmap = length > 0 ? g_bytes_new_take (blob, length) : (g_free (blob), NULL);
    }
  else if (g_strcmp0 (type, "Replace") == 0 && is_replace (step, "String", " ", "\xe2\x96\x81"))
    model->escape_whitespaces = TRUE;
  else if (g_strcmp0 (type, "Replace") == 0 && is_replace (step, "Regex", " {2,}", " "))
    model->remove_extra_whitespaces = TRUE;
  else if (g_strcmp0 (type, "Replace") == 0 && is_replace (step, "Regex", " {2,}", "\xe2\x96\x81"))
    model->remove_extra_whitespaces = model->escape_whitespaces = TRUE;
  else if (g_strcmp0 (type, "Prepend") == 0 && g_strcmp0 (get_string (step, "prepend"), "\xe2\x96\x81") == 0)
    model->add_dummy_prefix = TRUE;
  else if (g_strcmp0 (type, "Strip") == 0)
    model->remove_extra_whitespaces = TRUE;
  else
    return unsupported_step (hf, "normalizer", type, error);
  return TRUE;
}

static gboolean
read_pre_tokenizer_step (HfReader          *hf,
                         JsonObject        *step,
                         ClipscopeSpmModel *model,
                         GError           **error)
{
  const char *type = get_string (step, "type");

  if (g_strcmp0 (type, "Metaspace") == 0)
    {
      const char *scheme = get_string (step, "prepend_scheme");

      if (g_strcmp0 (get_string (step, "replacement"), "\xe2\x96\x81") != 0)
        return unsupported_step (hf, "pre-tokenizer", "Metaspace with another replacement", error);
      model->escape_whitespaces = TRUE;
      model->add_dummy_prefix = scheme != NULL ? g_strcmp0 (scheme, "never") != 0
                                               : get_bool (step, "add_prefix_space", TRUE);
    }
  else if (g_strcmp0 (type, "WhitespaceSplit") == 0)
    model->remove_extra_whitespaces = TRUE;
  else if (g_strcmp0 (type, "Split") == 0 && get_object (step, "pattern") != NULL
           && g_strcmp0 (get_string (get_object (step, "pattern"), "String"), " ") == 0)
    ;  /* Gemma's: spaces are gone by then */
  else
    return unsupported_step (hf, "pre-tokenizer", type, error);
  return TRUE;
}

typedef gboolean (*StepReader) (HfReader *, JsonObject *, ClipscopeSpmModel *, GError **);

/* A normalizer or pre-tokenizer: null, one step or a Sequence. */
static gboolean
read_steps (HfReader          *hf,
            const char        *member,
            const char        *list,
            StepReader         read_step,
            ClipscopeSpmModel *model,
            GError           **error)
{
  JsonNode *node = json_object_get_member (hf->root, member);
  JsonObject *object;
  JsonArray *steps;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, hf->path,
                                     "\"%s\" is not an object", member);
  object = json_node_get_object (node);
  if (g_strcmp0 (get_string (object, "type"), "Sequence") != 0)
    return read_step (hf, object, model, error);
  if ((steps = get_array (object, list)) == NULL)
    return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, hf->path,
                                     "the %s Sequence has no \"%s\" array", member, list);
  for (guint i = 0; i < json_array_get_length (steps); i++)
    {
      JsonNode *step = json_array_get_element (steps, i);

      if (!JSON_NODE_HOLDS_OBJECT (step))
        return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, hf->path,
                                         "%s.%s[%u] is not an object", member, list, i);
      if (!read_step (hf, json_node_get_object (step), model, error))
        return FALSE;
    }
  return TRUE;
}

/* Special ids by their usual names, as a trainer spec would give them. */
static int
find_piece (const ClipscopeSpmModel *model,
            const char              *a,
            const char              *b)
{
  for (guint i = 0; i < model->pieces->len; i++)
    {
      const char *piece = g_array_index (model->pieces, ClipscopeSpmPiece, i).piece;

      if (strcmp (piece, a) == 0 || strcmp (piece, b) == 0)
        return (int) i;
    }
  return -1;
}

static JsonNode *
parse_json (const char  *data,
            gsize        size,
            const char  *path,
            GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) local_error = NULL;

  if (!clipscope_json_check_syntax (path, "JSON", data, size, 0, MAX_JSON_DEPTH,
                                    CLIPSCOPE_ERROR_TOKENIZER, error))
    return NULL;
  if (!json_parser_load_from_data (parser, data, size, &local_error))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER, "%s: %s", path,
                   local_error->message);
      return NULL;
    }
  if (json_parser_get_root (parser) == NULL || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER, "%s: not a JSON object", path);
      return NULL;
    }
  return json_parser_steal_root (parser);
}

ClipscopeSpmModel *
clipscope_spm_model_parse_hf_json (const char *data,
                                   gsize       size,
                                   const char *path,
                                   GError    **error)
{
  g_autoptr(ClipscopeSpmModel) model = clipscope_spm_model_new (path);
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GHashTable) added = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  HfReader hf = { path, NULL, added };
  JsonObject *m;
  const char *type;

  g_return_val_if_fail (data != NULL, NULL);

  if ((root = parse_json (data, size, path, error)) == NULL)
    return NULL;
  hf.root = json_node_get_object (root);
  if ((m = get_object (hf.root, "model")) == NULL)
    {
      clipscope_set_file_error (error, CLIPSCOPE_ERROR_TOKENIZER, hf.path,
                                "no \"model\" object");
      return NULL;
    }
  if (!read_added_tokens (&hf, error))
    return NULL;

  /* Without a normalizer or pre-tokenizer saying otherwise, text goes to
   * the model as it is. */
  model->add_dummy_prefix = model->remove_extra_whitespaces = model->escape_whitespaces = FALSE;
  model->byte_fallback = get_bool (m, "byte_fallback", FALSE);
  type = get_string (m, "type");
  if (g_strcmp0 (type, "Unigram") == 0)
    {
      if (!read_unigram (&hf, m, model, error))
        return NULL;
    }
  else if (g_strcmp0 (type, "BPE") == 0)
    {
      if (!read_bpe (&hf, m, model, error))
        return NULL;
    }
  else
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_UNSUPPORTED,
                   "%s: the model type “%s” is not a SentencePiece one (Unigram or BPE)", path,
                   type ? type : "(none)");
      return NULL;
    }
  if (!read_steps (&hf, "normalizer", "normalizers", read_normalizer_step, model, error)
      || !read_steps (&hf, "pre_tokenizer", "pretokenizers", read_pre_tokenizer_step, model, error))
    return NULL;

  if (model->unk_id >= 0)
    g_array_index (model->pieces, ClipscopeSpmPiece, model->unk_id).type = CLIPSCOPE_SPM_PIECE_UNKNOWN;
  model->normalizer_name = g_strdup (model->charsmap ? "precompiled" : "identity");
  model->bos_id = find_piece (model, "<s>", "<bos>");
  model->eos_id = find_piece (model, "</s>", "<eos>");
  model->pad_id = find_piece (model, "<pad>", "<pad>");
  return g_steal_pointer (&model);
}

/* A tokenizer.json is a JSON object; a model file cannot start with "{",
 * which would be a protobuf group. */
ClipscopeSpmModel *
clipscope_spm_model_load (const char *path,
                          GError    **error)
{
  g_autofree char *data = NULL;
  gsize size, skip = 0;

  g_return_val_if_fail (path != NULL, NULL);

  if (!clipscope_spm_read_file (path, CLIPSCOPE_MAX_TOKENIZER_FILE_BYTES, &data, &size, error))
    return NULL;
  while (skip < size && g_ascii_isspace (data[skip]))
    skip++;
  if (skip < size && data[skip] == '{')
    return clipscope_spm_model_parse_hf_json (data, size, path, error);
  return clipscope_spm_model_parse ((const guint8 *) data, size, path, error);
}
