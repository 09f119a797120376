/* safetensors.c — a validated, memory-mapped safetensors file
 *
 * The layout is an 8-byte little-endian header length N, N bytes of UTF-8
 * JSON, then the data area. The JSON object maps each tensor name to
 * {"dtype", "shape", "data_offsets"}, where the offsets are relative to the
 * start of the data area; an optional "__metadata__" object is ignored.
 *
 * Every check runs before any tensor data is touched, so a loader that got
 * a ClipscopeSafetensors back may trust every offset, size and shape in it.
 * Error messages name the file and, where there is one, the tensor; byte
 * offsets in them count from the start of the file unless they are
 * data_offsets, which keep the file's own meaning.
 */
#include "safetensors.h"
#include "json-check.h"

#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/mman.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#endif
#include <unistd.h>

/* The header length field comes first, so the JSON starts here. */
#define HEADER_START 8

/* A valid header nests three deep (root object, entry object, shape
 * array). The bound leaves room for odd metadata while staying far below
 * the depth at which json-glib's recursive parser runs out of stack. */
#define MAX_HEADER_DEPTH 16

/* No real tensor has a dimension anywhere near 2^40 elements; the bound
 * also keeps the shapes we print short and meaningful. */
#define MAX_DIMENSION (G_GINT64_CONSTANT (1) << 40)

/* Long JSON values are cut to this many characters in messages. */
#define MAX_QUOTED_CHARS 40

struct _ClipscopeSafetensors
{
  /* Owned */
  char            *name;
  GBytes          *bytes;       /* the whole file; for an opened file it holds the mapping */
  ClipscopeTensor *tensors;     /* [n_tensors], in header order; each name is owned */
  guint            n_tensors;
  GHashTable      *by_name;     /* tensor name → ClipscopeTensor in tensors */

  gsize            data_start;  /* file offset of the data area */
  gsize            data_len;
  gboolean         mapped;      /* bytes map a file (read-only, private) */
};

static const struct
{
  const char *name;
  gsize       size;
} dtypes[] = {
  [CLIPSCOPE_DTYPE_BOOL]    = { "BOOL", 1 },
  [CLIPSCOPE_DTYPE_U8]      = { "U8", 1 },
  [CLIPSCOPE_DTYPE_I8]      = { "I8", 1 },
  [CLIPSCOPE_DTYPE_U16]     = { "U16", 2 },
  [CLIPSCOPE_DTYPE_I16]     = { "I16", 2 },
  [CLIPSCOPE_DTYPE_F16]     = { "F16", 2 },
  [CLIPSCOPE_DTYPE_BF16]    = { "BF16", 2 },
  [CLIPSCOPE_DTYPE_U32]     = { "U32", 4 },
  [CLIPSCOPE_DTYPE_I32]     = { "I32", 4 },
  [CLIPSCOPE_DTYPE_F32]     = { "F32", 4 },
  [CLIPSCOPE_DTYPE_F64]     = { "F64", 8 },
  [CLIPSCOPE_DTYPE_U64]     = { "U64", 8 },
  [CLIPSCOPE_DTYPE_I64]     = { "I64", 8 },
  [CLIPSCOPE_DTYPE_F8_E4M3] = { "F8_E4M3", 1 },
  [CLIPSCOPE_DTYPE_F8_E5M2] = { "F8_E5M2", 1 },
};

static const char * const entry_keys[] = { "dtype", "shape", "data_offsets" };

/* ------------------------------------------------------------ messages */

static gboolean G_GNUC_PRINTF (4, 5)
fail_tensor (GError                     **error,
             const ClipscopeSafetensors  *st,
             const ClipscopeTensor       *tensor,
             const char                  *format,
             ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_SAFETENSORS,
               "%s: tensor \"%s\": %s", st->name, tensor->name, message);
  return FALSE;
}

/* Shows a JSON value as it would be written, so that "found 2.0" or
 * "found \"4\"" tells the reader exactly what the header holds. */
static char *
format_node (JsonNode *node)
{
  g_autofree char *text = json_to_string (node, FALSE);
  g_autofree char *start = NULL;

  if (g_utf8_strlen (text, -1) <= MAX_QUOTED_CHARS)
    return g_steal_pointer (&text);

  start = g_utf8_substring (text, 0, MAX_QUOTED_CHARS);
  return g_strconcat (start, "…", NULL);
}

/* Reports that the entry's @what holds @node where @expected belongs. */
static gboolean
fail_node (GError                     **error,
           const ClipscopeSafetensors  *st,
           const ClipscopeTensor       *tensor,
           const char                  *what,
           JsonNode                    *node,
           const char                  *expected)
{
  g_autofree char *found = format_node (node);

  return fail_tensor (error, st, tensor, "%s is %s, expected %s", what, found, expected);
}

static char *
format_shape (const ClipscopeTensor *tensor)
{
  GString *text = g_string_new ("[");

  for (int i = 0; i < tensor->n_dims; i++)
    g_string_append_printf (text, "%s%" G_GINT64_FORMAT,
                            i > 0 ? ", " : "", tensor->shape[i]);
  g_string_append_c (text, ']');

  return g_string_free (text, FALSE);
}

/* --------------------------------------------------------- header text */

static guint64
read_u64_le (const guint8 *p)
{
  guint64 value = 0;

  for (int i = 7; i >= 0; i--)
    value = (value << 8) | p[i];

  return value;
}

/* json-glib recurses per nesting level and accepts single quotes and
 * comments; see json-check.c for the scan that keeps it safe. */
static gboolean
check_header_syntax (ClipscopeSafetensors  *st,
                     const char            *text,
                     gsize                  len,
                     GError               **error)
{
  return clipscope_json_check_syntax (st->name, "header", text, len, HEADER_START,
                                      MAX_HEADER_DEPTH, CLIPSCOPE_ERROR_SAFETENSORS, error);
}

/* Reads and bounds the header length before anything is allocated for it,
 * so a file that merely declares a huge header costs nothing. */
static gboolean
read_header_length (ClipscopeSafetensors  *st,
                    gsize                 *header_len,
                    GError               **error)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (st->bytes, &size);
  guint64 n;

  if (size < HEADER_START)
    return clipscope_set_file_error (error, CLIPSCOPE_ERROR_SAFETENSORS, st->name,
                                     "file is %" G_GSIZE_FORMAT " bytes long, too short for the %d-byte header length",
                                     size, HEADER_START);

  n = read_u64_le (data);
  if (n > CLIPSCOPE_MAX_HEADER_BYTES)
    return clipscope_set_file_error (error, CLIPSCOPE_ERROR_LIMIT, st->name,
                                     "header length %" G_GUINT64_FORMAT " exceeds the limit of %d bytes",
                                     n, CLIPSCOPE_MAX_HEADER_BYTES);
  if (n == 0)
    return clipscope_set_file_error (error, CLIPSCOPE_ERROR_SAFETENSORS, st->name,
                                     "header length is 0; expected a JSON object");
  if (n > size - HEADER_START)
    return clipscope_set_file_error (error, CLIPSCOPE_ERROR_SAFETENSORS, st->name,
                                     "header length %" G_GUINT64_FORMAT " runs past the end of the file, "
                                     "which has %" G_GSIZE_FORMAT " bytes after the length field",
                                     n, size - HEADER_START);

  *header_len = (gsize) n;
  return TRUE;
}

/* ---------------------------------------------------------- JSON parse */

/* json-glib keeps only the last of several members with the same name and
 * says nothing, so duplicates are caught while parsing: the parser emits
 * "object-member" after storing each member, and an object whose size
 * falls behind the number of members stored so far has overwritten one. */
typedef struct
{
  GArray *counts;      /* guint: members stored so far in each open object, innermost last */
  char   *duplicate;   /* the first repeated name */
  guint   depth;       /* how deep the object holding it is; 1 for the root */
} MemberCount;

static void
object_start_cb (JsonParser *parser,
                 gpointer    user_data)
{
  MemberCount *count = user_data;
  guint zero = 0;

  g_array_append_val (count->counts, zero);
}

static void
object_member_cb (JsonParser *parser,
                  JsonObject *object,
                  const char *member_name,
                  gpointer    user_data)
{
  MemberCount *count = user_data;
  guint *members;

  if (count->counts->len == 0)
    return;

  members = &g_array_index (count->counts, guint, count->counts->len - 1);
  *members += 1;
  if (json_object_get_size (object) != *members && count->duplicate == NULL)
    {
      count->duplicate = g_strdup (member_name);
      count->depth = count->counts->len;
    }
}

static void
object_end_cb (JsonParser *parser,
               JsonObject *object,
               gpointer    user_data)
{
  MemberCount *count = user_data;

  if (count->counts->len > 0)
    g_array_set_size (count->counts, count->counts->len - 1);
}

static gboolean
load_json (ClipscopeSafetensors  *st,
           JsonParser            *parser,
           const char            *text,
           gsize                  len,
           GError               **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GArray) counts = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autofree char *duplicate = NULL;
  MemberCount count = { counts, NULL, 0 };
  gboolean loaded;

  g_signal_connect (parser, "object-start", G_CALLBACK (object_start_cb), &count);
  g_signal_connect (parser, "object-member", G_CALLBACK (object_member_cb), &count);
  g_signal_connect (parser, "object-end", G_CALLBACK (object_end_cb), &count);
  loaded = json_parser_load_from_data (parser, text, (gssize) len, &local_error);
  g_signal_handlers_disconnect_by_data (parser, &count);
  duplicate = count.duplicate;

  if (!loaded)
    return clipscope_set_file_error (error, CLIPSCOPE_ERROR_SAFETENSORS, st->name,
                                     "header is not valid JSON: %s", local_error->message);
  if (duplicate != NULL && count.depth == 1)
    return clipscope_set_file_error (error, CLIPSCOPE_ERROR_SAFETENSORS, st->name,
                                     "tensor \"%s\" appears more than once in the header", duplicate);
  if (duplicate != NULL)
    return clipscope_set_file_error (error, CLIPSCOPE_ERROR_SAFETENSORS, st->name,
                                     "header repeats the key \"%s\" within one object", duplicate);

  return TRUE;
}

/* Returns the header's root object, which the parser owns. */
static JsonObject *
parse_header (ClipscopeSafetensors  *st,
              JsonParser            *parser,
              gsize                  header_len,
              GError               **error)
{
  const char *text = (const char *) g_bytes_get_data (st->bytes, NULL) + HEADER_START;
  const char *invalid = NULL;
  JsonNode *root;

  /* The check also refuses NUL bytes, which neither JSON nor the scanner
   * can take. */
  if (!g_utf8_validate_len (text, header_len, &invalid))
    {
      clipscope_set_file_error (error, CLIPSCOPE_ERROR_SAFETENSORS, st->name,
                                "header is not valid UTF-8 at byte offset %" G_GSIZE_FORMAT,
                                HEADER_START + (gsize) (invalid - text));
      return NULL;
    }
  if (!check_header_syntax (st, text, header_len, error)
      || !load_json (st, parser, text, header_len, error))
    return NULL;

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_autofree char *found = root != NULL ? format_node (root) : g_strdup ("nothing");

      clipscope_set_file_error (error, CLIPSCOPE_ERROR_SAFETENSORS, st->name,
                                "header holds %s, expected a JSON object", found);
      return NULL;
    }

  return json_node_get_object (root);
}

/* ------------------------------------------------------------- entries */

static gboolean
node_get_int (JsonNode *node,
              gint64   *value)
{
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;

  *value = json_node_get_int (node);
  return TRUE;
}

static gboolean
check_entry_keys (ClipscopeSafetensors   *st,
                  const ClipscopeTensor  *tensor,
                  JsonObject             *entry,
                  GError                **error)
{
  g_autoptr(GList) members = json_object_get_members (entry);

  for (GList *l = members; l != NULL; l = l->next)
    {
      gboolean known = FALSE;

      for (gsize i = 0; i < G_N_ELEMENTS (entry_keys); i++)
        known = known || g_str_equal (l->data, entry_keys[i]);
      if (!known)
        return fail_tensor (error, st, tensor,
                            "unexpected key \"%s\"; expected only dtype, shape and data_offsets",
                            (const char *) l->data);
    }

  for (gsize i = 0; i < G_N_ELEMENTS (entry_keys); i++)
    if (!json_object_has_member (entry, entry_keys[i]))
      return fail_tensor (error, st, tensor, "missing \"%s\"", entry_keys[i]);

  return TRUE;
}

static gboolean
read_dtype (ClipscopeSafetensors  *st,
            ClipscopeTensor       *tensor,
            JsonNode              *node,
            GError               **error)
{
  const char *name;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return fail_node (error, st, tensor, "dtype", node, "a string");

  name = json_node_get_string (node);
  for (gsize i = 0; i < G_N_ELEMENTS (dtypes); i++)
    {
      if (g_str_equal (name, dtypes[i].name))
        {
          tensor->dtype = (ClipscopeDtype) i;
          return TRUE;
        }
    }

  return fail_tensor (error, st, tensor, "unknown dtype \"%s\"", name);
}

static gboolean
multiply_shape (ClipscopeSafetensors  *st,
                ClipscopeTensor       *tensor,
                GError               **error)
{
  guint64 n_elements = 1;

  for (int i = 0; i < tensor->n_dims; i++)
    {
      if (!g_uint64_checked_mul (&n_elements, n_elements, (guint64) tensor->shape[i])
          || n_elements > G_MAXINT64)
        {
          g_autofree char *shape = format_shape (tensor);

          return fail_tensor (error, st, tensor,
                              "shape %s has more elements than fit in 63 bits", shape);
        }
    }

  tensor->n_elements = (int64_t) n_elements;
  return TRUE;
}

static gboolean
read_shape (ClipscopeSafetensors  *st,
            ClipscopeTensor       *tensor,
            JsonNode              *node,
            GError               **error)
{
  JsonArray *array;
  guint n_dims;

  if (!JSON_NODE_HOLDS_ARRAY (node))
    return fail_node (error, st, tensor, "shape", node, "an array");

  array = json_node_get_array (node);
  n_dims = json_array_get_length (array);
  if (n_dims > CLIPSCOPE_MAX_TENSOR_DIMS)
    {
      g_autofree char *found = format_node (node);

      return fail_tensor (error, st, tensor, "shape %s has %u dimensions, more than the %d allowed",
                          found, n_dims, CLIPSCOPE_MAX_TENSOR_DIMS);
    }

  for (guint i = 0; i < n_dims; i++)
    {
      g_autofree char *found = NULL;
      gint64 dim;

      if (node_get_int (json_array_get_element (array, i), &dim)
          && dim >= 0 && dim <= MAX_DIMENSION)
        {
          tensor->shape[i] = dim;
          continue;
        }

      found = format_node (node);
      return fail_tensor (error, st, tensor,
                          "shape %s has dimension %u out of range; expected integers "
                          "from 0 to %" G_GINT64_FORMAT, found, i, MAX_DIMENSION);
    }
  tensor->n_dims = (int) n_dims;

  return multiply_shape (st, tensor, error);
}

static gboolean
read_offsets (ClipscopeSafetensors  *st,
              ClipscopeTensor       *tensor,
              JsonNode              *node,
              gsize                 *begin,
              gsize                 *end,
              GError               **error)
{
  JsonArray *array = JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
  gint64 first, last;

  if (array == NULL || json_array_get_length (array) != 2
      || !node_get_int (json_array_get_element (array, 0), &first)
      || !node_get_int (json_array_get_element (array, 1), &last)
      || first < 0 || last < 0)
    return fail_node (error, st, tensor, "data_offsets", node,
                      "two non-negative integers [begin, end]");
  if (first > last)
    return fail_tensor (error, st, tensor,
                        "data_offsets [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] "
                        "end before they begin", first, last);
  if ((guint64) last > st->data_len)
    return fail_tensor (error, st, tensor,
                        "data_offsets [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] run past "
                        "the end of the data area, which holds %" G_GSIZE_FORMAT " bytes "
                        "(file offsets %" G_GSIZE_FORMAT " to %" G_GSIZE_FORMAT ")",
                        first, last, st->data_len, st->data_start,
                        st->data_start + st->data_len);

  *begin = (gsize) first;
  *end = (gsize) last;
  return TRUE;
}

static gboolean
read_tensor (ClipscopeSafetensors  *st,
             ClipscopeTensor       *tensor,
             JsonNode              *node,
             GError               **error)
{
  JsonObject *entry;
  gsize begin = 0, end = 0;
  guint64 n_bytes;
  gboolean fits;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return fail_node (error, st, tensor, "entry", node, "an object");

  entry = json_node_get_object (node);
  if (!check_entry_keys (st, tensor, entry, error)
      || !read_dtype (st, tensor, json_object_get_member (entry, "dtype"), error)
      || !read_shape (st, tensor, json_object_get_member (entry, "shape"), error)
      || !read_offsets (st, tensor, json_object_get_member (entry, "data_offsets"),
                        &begin, &end, error))
    return FALSE;

  /* The element count fits in 63 bits but the byte count may not; an
   * overflow here can only mean the offsets are wrong too. */
  fits = g_uint64_checked_mul (&n_bytes, (guint64) tensor->n_elements,
                               dtypes[tensor->dtype].size);
  if (!fits || n_bytes != end - begin)
    {
      g_autofree char *shape = format_shape (tensor);
      g_autofree char *needed = fits ? g_strdup_printf ("%" G_GUINT64_FORMAT, n_bytes)
                                     : g_strdup ("more than 2^64");

      return fail_tensor (error, st, tensor,
                          "data_offsets [%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT "] hold %"
                          G_GSIZE_FORMAT " bytes but shape %s of %s needs %s",
                          begin, end, end - begin, shape, dtypes[tensor->dtype].name, needed);
    }

  tensor->offset = st->data_start + begin;
  tensor->n_bytes = end - begin;
  tensor->data = (const guint8 *) g_bytes_get_data (st->bytes, NULL) + tensor->offset;
  return TRUE;
}

static gboolean
read_tensors (ClipscopeSafetensors  *st,
              JsonObject            *root,
              GError               **error)
{
  g_autoptr(GList) members = json_object_get_members (root);

  st->tensors = g_new0 (ClipscopeTensor, json_object_get_size (root));

  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      JsonNode *node = json_object_get_member (root, name);
      ClipscopeTensor *tensor;

      /* The metadata's contents are free-form notes from the writer; only
       * its type is checked. */
      if (g_str_equal (name, "__metadata__") && JSON_NODE_HOLDS_OBJECT (node))
        continue;
      if (g_str_equal (name, "__metadata__"))
        {
          g_autofree char *found = format_node (node);

          return clipscope_set_file_error (error, CLIPSCOPE_ERROR_SAFETENSORS, st->name,
                                           "__metadata__ is %s, expected an object", found);
        }

      /* Counted before it is read, so that a failure still frees the name. */
      tensor = &st->tensors[st->n_tensors++];
      tensor->name = g_strdup (name);
      if (!read_tensor (st, tensor, node, error))
        return FALSE;
    }

  return TRUE;
}

static int
compare_by_offset (gconstpointer a,
                   gconstpointer b)
{
  const ClipscopeTensor *ta = *(const ClipscopeTensor * const *) a;
  const ClipscopeTensor *tb = *(const ClipscopeTensor * const *) b;

  if (ta->offset != tb->offset)
    return ta->offset < tb->offset ? -1 : 1;
  if (ta->n_bytes != tb->n_bytes)
    return ta->n_bytes < tb->n_bytes ? -1 : 1;

  /* Header order breaks ties, so the message names the same pair on
   * every run. */
  return ta < tb ? -1 : (ta > tb ? 1 : 0);
}

/* The format wants the tensors to tile the data area exactly, but writers
 * that leave gaps (for alignment, or after dropping a tensor) do no harm,
 * so only overlaps are refused. Empty tensors share no bytes with anyone
 * and are left out. Once sorted by offset, any overlap shows up between
 * neighbours. */
static gboolean
check_overlaps (ClipscopeSafetensors  *st,
                GError               **error)
{
  g_autoptr(GPtrArray) sorted = g_ptr_array_sized_new (st->n_tensors);
  const ClipscopeTensor *prev = NULL;

  for (guint i = 0; i < st->n_tensors; i++)
    if (st->tensors[i].n_bytes > 0)
      g_ptr_array_add (sorted, &st->tensors[i]);
  g_ptr_array_sort (sorted, compare_by_offset);

  for (guint i = 0; i < sorted->len; i++)
    {
      const ClipscopeTensor *tensor = g_ptr_array_index (sorted, i);

      if (prev != NULL && prev->offset + prev->n_bytes > tensor->offset)
        return fail_tensor (error, st, tensor,
                            "data_offsets [%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT "] overlap "
                            "tensor \"%s\" at [%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT "]",
                            tensor->offset - st->data_start,
                            tensor->offset - st->data_start + tensor->n_bytes,
                            prev->name, prev->offset - st->data_start,
                            prev->offset - st->data_start + prev->n_bytes);
      prev = tensor;
    }

  return TRUE;
}

static void
index_tensors (ClipscopeSafetensors *st)
{
  st->by_name = g_hash_table_new (g_str_hash, g_str_equal);

  /* Names are unique: load_json() refused any header that repeats one. */
  for (guint i = 0; i < st->n_tensors; i++)
    g_hash_table_insert (st->by_name, (gpointer) st->tensors[i].name, &st->tensors[i]);
}

/* -------------------------------------------------------------- public */

/* This is the fuzzing entry point: it must reject any byte string it
 * cannot fully trust without crashing, reading out of bounds or
 * allocating more than the header limit allows. */
ClipscopeSafetensors *
clipscope_safetensors_new_from_bytes (const char  *name,
                                      GBytes      *bytes,
                                      GError     **error)
{
  g_autoptr(ClipscopeSafetensors) st = NULL;
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *root;
  gsize header_len = 0;

  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (bytes != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  st = g_new0 (ClipscopeSafetensors, 1);
  st->name = g_strdup (name);
  st->bytes = g_bytes_ref (bytes);

  if (!read_header_length (st, &header_len, error))
    return NULL;
  st->data_start = HEADER_START + header_len;
  st->data_len = g_bytes_get_size (bytes) - st->data_start;

  parser = json_parser_new_immutable ();
  root = parse_header (st, parser, header_len, error);
  if (root == NULL
      || !read_tensors (st, root, error)
      || !check_overlaps (st, error))
    return NULL;

  index_tensors (st);
  return g_steal_pointer (&st);
}

ClipscopeSafetensors *
clipscope_safetensors_open (const char  *path,
                            GError     **error)
{
  g_autoptr(GMappedFile) mapping = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) local_error = NULL;
  ClipscopeSafetensors *st;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  mapping = g_mapped_file_new (path, FALSE, &local_error);
  if (mapping == NULL)
    {
      clipscope_set_file_error (error, CLIPSCOPE_ERROR_IO, path, "cannot map the file: %s", local_error->message);
      return NULL;
    }

  /* The bytes hold a reference on the mapping, so it lives as long as the
   * ClipscopeSafetensors that keeps them. */
  bytes = g_mapped_file_get_bytes (mapping);
  st = clipscope_safetensors_new_from_bytes (path, bytes, error);
  if (st != NULL)
    st->mapped = g_mapped_file_get_length (mapping) > 0;
  return st;
}

void
clipscope_safetensors_prefault (ClipscopeSafetensors *st,
                                const void           *p,
                                gsize                 n_bytes)
{
#ifdef MADV_POPULATE_READ
  const gsize page = (gsize) sysconf (_SC_PAGESIZE);
  const guintptr start = (guintptr) p & ~(guintptr) (page - 1);
  const guintptr end = ((guintptr) p + n_bytes + page - 1) & ~(guintptr) (page - 1);

  /* An error (an older kernel) only leaves the pages to fault one by one. */
  if (st != NULL && st->mapped && end > start)
    madvise ((void *) start, end - start, MADV_POPULATE_READ);
#endif
}

void
clipscope_safetensors_release (ClipscopeSafetensors *st,
                               const void           *p,
                               gsize                 n_bytes)
{
#ifdef MADV_DONTNEED
  const gsize page = (gsize) sysconf (_SC_PAGESIZE);
  const guintptr start = ((guintptr) p + page - 1) & ~(guintptr) (page - 1);
  const guintptr end = ((guintptr) p + n_bytes) & ~(guintptr) (page - 1);
  const guint8 *data = st != NULL ? g_bytes_get_data (st->bytes, NULL) : NULL;
  const gsize size = st != NULL ? g_bytes_get_size (st->bytes) : 0;

  /* Only the pages of a mapped file: anonymous memory would read back as
   * zeros. The mapping is private and never written, so each page comes
   * back unchanged from the page cache (or the disk) when touched. */
  if (st != NULL && st->mapped && end > start && (const guint8 *) p >= data
      && (const guint8 *) p + n_bytes <= data + size)
    madvise ((void *) start, end - start, MADV_DONTNEED);
#endif
}

void
clipscope_safetensors_free (ClipscopeSafetensors *st)
{
  if (st == NULL)
    return;

  for (guint i = 0; i < st->n_tensors; i++)
    g_free ((char *) st->tensors[i].name);
  g_free (st->tensors);
  g_clear_pointer (&st->by_name, g_hash_table_unref);
  g_clear_pointer (&st->bytes, g_bytes_unref);
  g_free (st->name);
  g_free (st);
}

const char *
clipscope_safetensors_get_name (ClipscopeSafetensors *st)
{
  g_return_val_if_fail (st != NULL, NULL);

  return st->name;
}

const ClipscopeTensor *
clipscope_safetensors_lookup (ClipscopeSafetensors *st,
                              const char           *name)
{
  g_return_val_if_fail (st != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  return g_hash_table_lookup (st->by_name, name);
}

guint
clipscope_safetensors_get_n_tensors (ClipscopeSafetensors *st)
{
  g_return_val_if_fail (st != NULL, 0);

  return st->n_tensors;
}

const ClipscopeTensor *
clipscope_safetensors_get_tensor (ClipscopeSafetensors *st,
                                  guint                 index)
{
  g_return_val_if_fail (st != NULL, NULL);
  g_return_val_if_fail (index < st->n_tensors, NULL);

  return &st->tensors[index];
}

const char *
clipscope_dtype_to_string (ClipscopeDtype dtype)
{
  g_return_val_if_fail ((guint) dtype < G_N_ELEMENTS (dtypes), NULL);

  return dtypes[dtype].name;
}

gsize
clipscope_dtype_size (ClipscopeDtype dtype)
{
  g_return_val_if_fail ((guint) dtype < G_N_ELEMENTS (dtypes), 0);

  return dtypes[dtype].size;
}

/* ---------------------------------------------------------- conversion */

static float
float_from_bits (guint32 bits)
{
  float value;

  memcpy (&value, &bits, sizeof value);
  return value;
}

/* IEEE half precision: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa
 * bits. Written out rather than using _Float16 so it works with every
 * compiler and gives the same answer everywhere. */
float
clipscope_half_to_float (guint16 half)
{
  guint32 sign = (guint32) (half & 0x8000) << 16;
  guint32 exponent = (half >> 10) & 0x1f;
  guint32 mantissa = half & 0x3ff;
  float value;

  if (exponent == 0x1f)
    /* Infinity or NaN; the NaN payload moves to the top of the wider one. */
    return float_from_bits (sign | 0x7f800000 | (mantissa << 13));
  if (exponent != 0)
    /* Rebias the exponent from 15 to 127. */
    return float_from_bits (sign | ((exponent + 112) << 23) | (mantissa << 13));

  /* Zero or subnormal: mantissa × 2^-24, which float holds exactly; the
   * sign is applied last so that negative zero stays negative. */
  value = (float) mantissa * 0x1p-24f;
  return sign != 0 ? -value : value;
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__ ((target ("avx,f16c")))
static void
widen_half_f16c (const guint16 *src,
                 gsize          n,
                 float         *dst)
{
  gsize i = 0;

  for (; i + 8 <= n; i += 8)
    {
      __m128i h;

      memcpy (&h, src + i, sizeof h);
      _mm256_storeu_ps (dst + i, _mm256_cvtph_ps (h));
    }
  for (; i < n; i++)
    dst[i] = clipscope_half_to_float (src[i]);
}
#endif

/* CPUID leaf 1, ECX bit 29: clang's __builtin_cpu_supports() does not
 * know "f16c". */
gboolean
clipscope_cpu_has_f16c (void)
{
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  unsigned int eax, ebx, ecx, edx;

  return __builtin_cpu_supports ("avx") && __get_cpuid (1, &eax, &ebx, &ecx, &edx)
         && (ecx & bit_F16C) != 0;
#else
  return FALSE;
#endif
}

void
clipscope_widen_16 (ClipscopeDtype  dtype,
                    const guint16  *src,
                    gsize           n,
                    float          *dst)
{
  if (dtype == CLIPSCOPE_DTYPE_BF16)
    {
      for (gsize i = 0; i < n; i++)
        {
          guint32 u = (guint32) src[i] << 16;

          memcpy (&dst[i], &u, sizeof u);
        }
      return;
    }
#if defined(__x86_64__) || defined(__i386__)
  /* F16C converts every half exactly, subnormals included. */
  if (clipscope_cpu_has_f16c ())
    {
      widen_half_f16c (src, n, dst);
      return;
    }
#endif
  for (gsize i = 0; i < n; i++)
    dst[i] = clipscope_half_to_float (src[i]);
}

typedef guint16 U16x8 __attribute__ ((vector_size (16)));
typedef gint16 I16x8 __attribute__ ((vector_size (16)));

/* The index of the first of @n 16-bit words whose bits under
 * mask[i % 2] are all set, or -1: eight words a vector, four vectors a
 * step, which compilers turn into SIMD code at any level. The offender is
 * looked for only in a block that has one. */
static gssize
first_all_set (const guint16 *src,
               gsize          n,
               const guint16  mask[2])
{
  const gsize block = 4096;
  U16x8 m, want;

  /* A zero mask would match every word: its words are never all ones. */
  for (int k = 0; k < 8; k++)
    {
      m[k] = mask[k % 2];
      want[k] = mask[k % 2] != 0 ? mask[k % 2] : 0xffff;
    }
  for (gsize at = 0; at < n; at += block)
    {
      const gsize end = MIN (n, at + block);
      I16x8 any0 = { 0 }, any1 = { 0 }, any2 = { 0 }, any3 = { 0 };
      gboolean found = FALSE;
      gsize i = at;

      /* Named rather than arrays, which GCC keeps in memory. */
      for (; i + 32 <= end; i += 32)
        {
          U16x8 v0, v1, v2, v3;

          memcpy (&v0, src + i, sizeof v0);
          memcpy (&v1, src + i + 8, sizeof v1);
          memcpy (&v2, src + i + 16, sizeof v2);
          memcpy (&v3, src + i + 24, sizeof v3);
          any0 |= (I16x8) ((v0 & m) == want);
          any1 |= (I16x8) ((v1 & m) == want);
          any2 |= (I16x8) ((v2 & m) == want);
          any3 |= (I16x8) ((v3 & m) == want);
        }
      any0 |= any1 | any2 | any3;
      for (int k = 0; k < 8; k++)
        found |= any0[k] != 0;
      for (; i < end; i++)
        found |= mask[i % 2] != 0 && (src[i] & mask[i % 2]) == mask[i % 2];
      if (found)
        for (i = at; i < end; i++)
          if (mask[i % 2] != 0 && (src[i] & mask[i % 2]) == mask[i % 2])
            return (gssize) i;
    }
  return -1;
}

gssize
clipscope_first_non_finite_16 (ClipscopeDtype  dtype,
                               const guint16  *src,
                               gsize           n)
{
  /* All exponent bits set: an infinity or a NaN. */
  const guint16 exponent = dtype == CLIPSCOPE_DTYPE_BF16 ? 0x7f80 : 0x7c00;
  const guint16 mask[2] = { exponent, exponent };

  return first_all_set (src, n, mask);
}

gssize
clipscope_first_non_finite_32 (const float *src,
                               gsize        n)
{
  /* A float32's exponent lies in its upper half, where a bfloat16's does. */
  const guint16 mask[2] = { G_BYTE_ORDER == G_LITTLE_ENDIAN ? 0 : 0x7f80,
                            G_BYTE_ORDER == G_LITTLE_ENDIAN ? 0x7f80 : 0 };
  const gssize at = first_all_set ((const guint16 *) (const void *) src, 2 * n, mask);

  return at < 0 ? -1 : at / 2;
}

static guint16
read_u16_le (const guint8 *p)
{
  return (guint16) (p[0] | (p[1] << 8));
}

static void
convert_f32 (const guint8 *src,
             gsize         n,
             float        *dst)
{
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  /* The data may sit at any alignment, so it is copied, never cast. */
  if (n > 0)
    memcpy (dst, src, n * sizeof (float));
#else
  for (gsize i = 0; i < n; i++)
    {
      const guint8 *p = src + 4 * i;

      dst[i] = float_from_bits ((guint32) p[0] | (guint32) p[1] << 8
                                | (guint32) p[2] << 16 | (guint32) p[3] << 24);
    }
#endif
}

gboolean
clipscope_tensor_to_f32 (ClipscopeSafetensors   *st,
                         const ClipscopeTensor  *tensor,
                         float                  *dst,
                         GError                **error)
{
  gsize n;

  g_return_val_if_fail (st != NULL, FALSE);
  g_return_val_if_fail (tensor != NULL, FALSE);
  g_return_val_if_fail (dst != NULL || tensor->n_elements == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  n = (gsize) tensor->n_elements;
  switch (tensor->dtype)
    {
    case CLIPSCOPE_DTYPE_F32:
      convert_f32 (tensor->data, n, dst);
      return TRUE;

    case CLIPSCOPE_DTYPE_F16:
      if (G_BYTE_ORDER == G_LITTLE_ENDIAN && (guintptr) tensor->data % 2 == 0)
        {
          clipscope_widen_16 (tensor->dtype, (const guint16 *) (const void *) tensor->data, n, dst);
          return TRUE;
        }
      for (gsize i = 0; i < n; i++)
        dst[i] = clipscope_half_to_float (read_u16_le (tensor->data + 2 * i));
      return TRUE;

    case CLIPSCOPE_DTYPE_BF16:
      /* bfloat16 is the top half of a float32. */
      for (gsize i = 0; i < n; i++)
        dst[i] = float_from_bits ((guint32) read_u16_le (tensor->data + 2 * i) << 16);
      return TRUE;

    default:
      return clipscope_set_file_error (error, CLIPSCOPE_ERROR_TENSOR_DTYPE, st->name,
                                       "tensor \"%s\": dtype %s cannot be read as float32; expected F32, F16 or BF16",
                                       tensor->name, dtypes[tensor->dtype].name);
    }
}
