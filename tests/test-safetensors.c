/* test-safetensors.c — validation and conversion of safetensors files
 *
 * Every file here is built in C, byte by byte, so that each test states
 * exactly what it feeds the parser.
 */
#include "safetensors.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

/* The name in-memory files are given; every message must start with it. */
#define FILE_NAME "model.safetensors"

/* ------------------------------------------------------------- helpers */

static void
put_u16 (guint8  *p,
         guint16  value)
{
  p[0] = (guint8) (value & 0xff);
  p[1] = (guint8) (value >> 8);
}

static void
put_u64 (guint8  *p,
         guint64  value)
{
  for (int i = 0; i < 8; i++)
    p[i] = (value >> (8 * i)) & 0xff;
}

static void
put_f32 (guint8 *p,
         float   value)
{
  guint32 bits;

  memcpy (&bits, &value, sizeof bits);
  for (int i = 0; i < 4; i++)
    p[i] = (bits >> (8 * i)) & 0xff;
}

/* Lays out a file: the length field says @declared, then @header_len bytes
 * of @header, then @data_len bytes of @data (zeros when @data is NULL). */
static GBytes *
make_file_full (guint64       declared,
                const char   *header,
                gsize         header_len,
                const guint8 *data,
                gsize         data_len)
{
  GByteArray *file = g_byte_array_sized_new ((guint) (8 + header_len + data_len));
  g_autofree guint8 *zeros = g_malloc0 (data_len + 1);
  guint8 prefix[8];

  put_u64 (prefix, declared);
  g_byte_array_append (file, prefix, sizeof prefix);
  g_byte_array_append (file, (const guint8 *) header, (guint) header_len);
  g_byte_array_append (file, data != NULL ? data : zeros, (guint) data_len);

  return g_byte_array_free_to_bytes (file);
}

static GBytes *
make_file (const char *header,
           gsize       data_len)
{
  return make_file_full (strlen (header), header, strlen (header), NULL, data_len);
}

static void
assert_contains (const char *haystack,
                 const char *needle)
{
  if (strstr (haystack, needle) == NULL)
    g_test_fail_printf ("\"%s\" does not contain \"%s\"", haystack, needle);
}

/* ----------------------------------------------------------- the valid file
 *
 * Tensors are listed out of data order, the data area has a gap (78..80)
 * and unused bytes at its end, and the header is padded with spaces so the
 * data area starts at an odd offset and every tensor sits misaligned.
 */

static const char valid_header[] =
  "{\"__metadata__\": {\"format\": \"pt\"},"
  " \"w.f32\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]},"
  " \"scale\": {\"dtype\": \"F32\", \"shape\": [], \"data_offsets\": [80, 84]},"
  " \"w.f16\": {\"dtype\": \"F16\", \"shape\": [10], \"data_offsets\": [24, 44]},"
  " \"pos.ids\": {\"dtype\": \"I64\", \"shape\": [1, 3], \"data_offsets\": [44, 68]},"
  " \"w.bf16\": {\"shape\": [5], \"dtype\": \"BF16\", \"data_offsets\": [68, 78]},"
  " \"empty\": {\"dtype\": \"F32\", \"shape\": [0, 4], \"data_offsets\": [84, 84]}}";

#define VALID_DATA_LEN 88

static const char * const valid_order[] = {
  "w.f32", "scale", "w.f16", "pos.ids", "w.bf16", "empty",
};

static const float valid_f32[] = { 1.0f, -2.0f, 0.5f, 3.25f, -0.0f, 1e10f };

static const guint16 valid_f16[] = {
  0x3c00,   /* 1.0 */
  0x0001,   /* the smallest subnormal, 2^-24 */
  0x7c00,   /* +inf */
  0x8000,   /* -0.0 */
  0xfc00,   /* -inf */
  0x7e00,   /* NaN */
  0x03ff,   /* the largest subnormal, 1023 × 2^-24 */
  0x0400,   /* the smallest normal, 2^-14 */
  0xc000,   /* -2.0 */
  0x7bff,   /* the largest finite, 65504 */
};

static const guint16 valid_bf16[] = {
  0x3f80,   /* 1.0 */
  0xc040,   /* -3.0 */
  0x8000,   /* -0.0 */
  0x7f80,   /* +inf */
  0x0001,   /* a float32 subnormal, 2^-133 */
};

static void
fill_valid_data (guint8 *data)
{
  memset (data, 0, VALID_DATA_LEN);
  for (gsize i = 0; i < G_N_ELEMENTS (valid_f32); i++)
    put_f32 (data + 4 * i, valid_f32[i]);
  for (gsize i = 0; i < G_N_ELEMENTS (valid_f16); i++)
    put_u16 (data + 24 + 2 * i, valid_f16[i]);
  for (gsize i = 0; i < 3; i++)
    put_u64 (data + 44 + 8 * i, i);
  for (gsize i = 0; i < G_N_ELEMENTS (valid_bf16); i++)
    put_u16 (data + 68 + 2 * i, valid_bf16[i]);
  put_f32 (data + 80, 2.5f);
}

/* Returns the header with trailing spaces, making 8 + its length odd. */
static char *
padded_valid_header (void)
{
  gsize len = strlen (valid_header);
  gsize pad = 4 + ((8 + len + 4) % 2 == 0 ? 1 : 0);

  return g_strdup_printf ("%s%*s", valid_header, (int) pad, "");
}

static GBytes *
make_valid_file (void)
{
  g_autofree char *header = padded_valid_header ();
  guint8 data[VALID_DATA_LEN];

  fill_valid_data (data);
  return make_file_full (strlen (header), header, strlen (header), data, sizeof data);
}

static ClipscopeSafetensors *
open_valid (void)
{
  g_autoptr(GBytes) bytes = make_valid_file ();
  g_autoptr(GError) error = NULL;
  ClipscopeSafetensors *st;

  st = clipscope_safetensors_new_from_bytes (FILE_NAME, bytes, &error);
  g_assert_no_error (error);
  g_assert_nonnull (st);

  return st;
}

/* -------------------------------------------------------- valid tests */

static void
test_valid_order (void)
{
  g_autoptr(ClipscopeSafetensors) st = open_valid ();

  g_assert_cmpstr (clipscope_safetensors_get_name (st), ==, FILE_NAME);
  g_assert_cmpuint (clipscope_safetensors_get_n_tensors (st), ==, G_N_ELEMENTS (valid_order));
  for (guint i = 0; i < G_N_ELEMENTS (valid_order); i++)
    g_assert_cmpstr (clipscope_safetensors_get_tensor (st, i)->name, ==, valid_order[i]);
}

static void
test_valid_lookup (void)
{
  g_autoptr(ClipscopeSafetensors) st = open_valid ();

  for (guint i = 0; i < G_N_ELEMENTS (valid_order); i++)
    g_assert_true (clipscope_safetensors_lookup (st, valid_order[i])
                   == clipscope_safetensors_get_tensor (st, i));

  g_assert_null (clipscope_safetensors_lookup (st, "__metadata__"));
  g_assert_null (clipscope_safetensors_lookup (st, "missing"));
  g_assert_null (clipscope_safetensors_lookup (st, ""));
}

static void
assert_tensor (ClipscopeSafetensors *st,
               const char           *name,
               ClipscopeDtype        dtype,
               int                   n_dims,
               const int64_t        *shape,
               int64_t               n_elements,
               gsize                 begin,
               gsize                 end)
{
  const ClipscopeTensor *tensor = clipscope_safetensors_lookup (st, name);
  g_autofree char *header = padded_valid_header ();
  gsize data_start = 8 + strlen (header);

  g_assert_nonnull (tensor);
  g_assert_cmpstr (tensor->name, ==, name);
  g_assert_cmpint (tensor->dtype, ==, dtype);
  g_assert_cmpint (tensor->n_dims, ==, n_dims);
  for (int i = 0; i < n_dims; i++)
    g_assert_cmpint (tensor->shape[i], ==, shape[i]);
  g_assert_cmpint (tensor->n_elements, ==, n_elements);
  g_assert_cmpuint (tensor->offset, ==, data_start + begin);
  g_assert_cmpuint (tensor->n_bytes, ==, end - begin);
}

static void
test_valid_shapes (void)
{
  g_autoptr(ClipscopeSafetensors) st = open_valid ();

  assert_tensor (st, "w.f32", CLIPSCOPE_DTYPE_F32, 2, (int64_t[]) { 2, 3 }, 6, 0, 24);
  assert_tensor (st, "scale", CLIPSCOPE_DTYPE_F32, 0, NULL, 1, 80, 84);
  assert_tensor (st, "w.f16", CLIPSCOPE_DTYPE_F16, 1, (int64_t[]) { 10 }, 10, 24, 44);
  assert_tensor (st, "pos.ids", CLIPSCOPE_DTYPE_I64, 2, (int64_t[]) { 1, 3 }, 3, 44, 68);
  assert_tensor (st, "w.bf16", CLIPSCOPE_DTYPE_BF16, 1, (int64_t[]) { 5 }, 5, 68, 78);
  assert_tensor (st, "empty", CLIPSCOPE_DTYPE_F32, 2, (int64_t[]) { 0, 4 }, 0, 84, 84);
}

static void
test_valid_data_pointers (void)
{
  g_autoptr(GBytes) bytes = make_valid_file ();
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeSafetensors) st = NULL;
  const guint8 *base = g_bytes_get_data (bytes, NULL);

  st = clipscope_safetensors_new_from_bytes (FILE_NAME, bytes, &error);
  g_assert_no_error (error);

  /* The tensors point into the caller's bytes; nothing is copied. */
  for (guint i = 0; i < clipscope_safetensors_get_n_tensors (st); i++)
    {
      const ClipscopeTensor *tensor = clipscope_safetensors_get_tensor (st, i);

      g_assert_true (tensor->data == base + tensor->offset);
    }
}

static void
test_valid_f32 (void)
{
  g_autoptr(ClipscopeSafetensors) st = open_valid ();
  g_autoptr(GError) error = NULL;
  float values[G_N_ELEMENTS (valid_f32)];
  float scale = 0.0f;

  g_assert_true (clipscope_tensor_to_f32 (st, clipscope_safetensors_lookup (st, "w.f32"),
                                          values, &error));
  g_assert_no_error (error);
  for (gsize i = 0; i < G_N_ELEMENTS (valid_f32); i++)
    g_assert_cmpmem (&values[i], sizeof (float), &valid_f32[i], sizeof (float));

  g_assert_true (clipscope_tensor_to_f32 (st, clipscope_safetensors_lookup (st, "scale"),
                                          &scale, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (scale, ==, 2.5f);
}

static void
test_valid_f16 (void)
{
  g_autoptr(ClipscopeSafetensors) st = open_valid ();
  g_autoptr(GError) error = NULL;
  float v[G_N_ELEMENTS (valid_f16)];

  g_assert_true (clipscope_tensor_to_f32 (st, clipscope_safetensors_lookup (st, "w.f16"),
                                          v, &error));
  g_assert_no_error (error);

  g_assert_cmpfloat (v[0], ==, 1.0f);
  g_assert_cmpfloat (v[1], ==, 0x1p-24f);
  g_assert_true (isinf (v[2]) && v[2] > 0.0f);
  g_assert_cmpfloat (v[3], ==, 0.0f);
  g_assert_true (signbit (v[3]));
  g_assert_true (isinf (v[4]) && v[4] < 0.0f);
  g_assert_true (isnan (v[5]));
  g_assert_cmpfloat (v[6], ==, 1023.0f * 0x1p-24f);
  g_assert_cmpfloat (v[7], ==, 0x1p-14f);
  g_assert_cmpfloat (v[8], ==, -2.0f);
  g_assert_cmpfloat (v[9], ==, 65504.0f);
}

static void
test_valid_bf16 (void)
{
  g_autoptr(ClipscopeSafetensors) st = open_valid ();
  g_autoptr(GError) error = NULL;
  float v[G_N_ELEMENTS (valid_bf16)];

  g_assert_true (clipscope_tensor_to_f32 (st, clipscope_safetensors_lookup (st, "w.bf16"),
                                          v, &error));
  g_assert_no_error (error);

  g_assert_cmpfloat (v[0], ==, 1.0f);
  g_assert_cmpfloat (v[1], ==, -3.0f);
  g_assert_cmpfloat (v[2], ==, 0.0f);
  g_assert_true (signbit (v[2]));
  g_assert_true (isinf (v[3]) && v[3] > 0.0f);
  g_assert_cmpfloat (v[4], ==, 0x1p-133f);
}

static void
test_valid_empty_tensor (void)
{
  g_autoptr(ClipscopeSafetensors) st = open_valid ();
  g_autoptr(GError) error = NULL;
  float unused = 42.0f;

  g_assert_true (clipscope_tensor_to_f32 (st, clipscope_safetensors_lookup (st, "empty"),
                                          &unused, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (unused, ==, 42.0f);
}

static void
test_valid_wrong_dtype (void)
{
  g_autoptr(ClipscopeSafetensors) st = open_valid ();
  g_autoptr(GError) error = NULL;
  float values[3];

  g_assert_false (clipscope_tensor_to_f32 (st, clipscope_safetensors_lookup (st, "pos.ids"),
                                           values, &error));
  g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TENSOR_DTYPE);
  g_assert_cmpstr (error->message, ==,
                   FILE_NAME ": tensor \"pos.ids\": dtype I64 cannot be read as float32; "
                   "expected F32, F16 or BF16");
}

static void
test_valid_no_tensors (void)
{
  g_autoptr(GBytes) bytes = make_file ("{}", 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeSafetensors) st = NULL;

  st = clipscope_safetensors_new_from_bytes (FILE_NAME, bytes, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (clipscope_safetensors_get_n_tensors (st), ==, 0);
  g_assert_null (clipscope_safetensors_lookup (st, "anything"));
}

static void
test_dtype_names (void)
{
  static const struct
  {
    ClipscopeDtype dtype;
    const char    *name;
    gsize          size;
  } dtypes[] = {
    { CLIPSCOPE_DTYPE_BOOL, "BOOL", 1 },       { CLIPSCOPE_DTYPE_U8, "U8", 1 },
    { CLIPSCOPE_DTYPE_I8, "I8", 1 },           { CLIPSCOPE_DTYPE_U16, "U16", 2 },
    { CLIPSCOPE_DTYPE_I16, "I16", 2 },         { CLIPSCOPE_DTYPE_F16, "F16", 2 },
    { CLIPSCOPE_DTYPE_BF16, "BF16", 2 },       { CLIPSCOPE_DTYPE_U32, "U32", 4 },
    { CLIPSCOPE_DTYPE_I32, "I32", 4 },         { CLIPSCOPE_DTYPE_F32, "F32", 4 },
    { CLIPSCOPE_DTYPE_F64, "F64", 8 },         { CLIPSCOPE_DTYPE_U64, "U64", 8 },
    { CLIPSCOPE_DTYPE_I64, "I64", 8 },         { CLIPSCOPE_DTYPE_F8_E4M3, "F8_E4M3", 1 },
    { CLIPSCOPE_DTYPE_F8_E5M2, "F8_E5M2", 1 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (dtypes); i++)
    {
      g_autofree char *header =
        g_strdup_printf ("{\"t\": {\"dtype\": \"%s\", \"shape\": [3], \"data_offsets\": [0, %"
                         G_GSIZE_FORMAT "]}}", dtypes[i].name, 3 * dtypes[i].size);
      g_autoptr(GBytes) bytes = make_file (header, 3 * dtypes[i].size);
      g_autoptr(GError) error = NULL;
      g_autoptr(ClipscopeSafetensors) st = NULL;

      g_assert_cmpstr (clipscope_dtype_to_string (dtypes[i].dtype), ==, dtypes[i].name);
      g_assert_cmpuint (clipscope_dtype_size (dtypes[i].dtype), ==, dtypes[i].size);

      /* Every dtype of the format is accepted in a file. */
      st = clipscope_safetensors_new_from_bytes (FILE_NAME, bytes, &error);
      g_assert_no_error (error);
      g_assert_cmpint (clipscope_safetensors_lookup (st, "t")->dtype, ==, dtypes[i].dtype);
    }
}

/* Half precision decoded a second way, with arithmetic instead of bits. */
static float
reference_half (guint16 half)
{
  int exponent = (half >> 10) & 0x1f;
  int mantissa = half & 0x3ff;
  float magnitude;

  if (exponent == 0x1f)
    magnitude = mantissa != 0 ? NAN : INFINITY;
  else
    {
      int power = exponent == 0 ? -24 : exponent - 25;

      magnitude = (float) (exponent == 0 ? mantissa : mantissa + 1024);
      for (; power < 0; power++)
        magnitude *= 0.5f;
      for (; power > 0; power--)
        magnitude *= 2.0f;
    }

  return (half & 0x8000) != 0 ? -magnitude : magnitude;
}

static void
test_f16_exhaustive (void)
{
  const char *header =
    "{\"h\": {\"dtype\": \"F16\", \"shape\": [65536], \"data_offsets\": [0, 131072]}}";
  g_autofree guint8 *data = g_malloc (131072);
  g_autofree float *values = g_new (float, 65536);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeSafetensors) st = NULL;

  for (guint i = 0; i < 65536; i++)
    put_u16 (data + 2 * i, (guint16) i);
  bytes = make_file_full (strlen (header), header, strlen (header), data, 131072);
  st = clipscope_safetensors_new_from_bytes (FILE_NAME, bytes, &error);
  g_assert_no_error (error);
  g_assert_true (clipscope_tensor_to_f32 (st, clipscope_safetensors_lookup (st, "h"),
                                          values, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < 65536; i++)
    {
      float expected = reference_half ((guint16) i);

      if (isnan (expected))
        g_assert_true (isnan (values[i]));
      else
        g_assert_cmpmem (&values[i], sizeof (float), &expected, sizeof (float));
    }
}

/* ---------------------------------------------------------- open tests */

static void
test_open_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("clipscope-test-XXXXXX", &error);
  g_autofree char *path = NULL;
  g_autoptr(GBytes) bytes = make_valid_file ();
  g_autoptr(ClipscopeSafetensors) st = NULL;
  float scale = 0.0f;

  g_assert_no_error (error);
  path = g_build_filename (dir, "model.safetensors", NULL);
  g_file_set_contents (path, g_bytes_get_data (bytes, NULL),
                       (gssize) g_bytes_get_size (bytes), &error);
  g_assert_no_error (error);

  st = clipscope_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (clipscope_safetensors_get_name (st), ==, path);
  g_assert_cmpuint (clipscope_safetensors_get_n_tensors (st), ==, G_N_ELEMENTS (valid_order));
  g_assert_true (clipscope_tensor_to_f32 (st, clipscope_safetensors_lookup (st, "scale"),
                                          &scale, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (scale, ==, 2.5f);

  /* The mapping stays valid after the file is gone. */
  g_assert_cmpint (g_remove (path), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
  scale = 0.0f;
  g_assert_true (clipscope_tensor_to_f32 (st, clipscope_safetensors_lookup (st, "scale"),
                                          &scale, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (scale, ==, 2.5f);
}

static void
test_open_missing (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("clipscope-test-XXXXXX", &error);
  g_autofree char *path = NULL;
  g_autoptr(ClipscopeSafetensors) st = NULL;

  g_assert_no_error (error);
  path = g_build_filename (dir, "absent.safetensors", NULL);

  st = clipscope_safetensors_open (path, &error);
  g_assert_null (st);
  g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO);
  g_assert_true (g_str_has_prefix (error->message, path));
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static void
test_open_empty_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("clipscope-test-XXXXXX", &error);
  g_autofree char *path = NULL;
  g_autoptr(ClipscopeSafetensors) st = NULL;

  g_assert_no_error (error);
  path = g_build_filename (dir, "empty.safetensors", NULL);
  g_file_set_contents (path, "", 0, &error);
  g_assert_no_error (error);

  st = clipscope_safetensors_open (path, &error);
  g_assert_null (st);
  g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_SAFETENSORS);
  g_assert_true (g_str_has_prefix (error->message, path));
  g_assert_cmpint (g_remove (path), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* ------------------------------------------------------- invalid input */

#define RANDOM_SEED 20240611

static GBytes *
build_empty (void)
{
  return g_bytes_new (NULL, 0);
}

static GBytes *
build_five_bytes (void)
{
  return g_bytes_new ("\x02\x00\x00\x00\x00", 5);
}

static GBytes *
build_length_past_end (void)
{
  return make_file_full (100, "{}", 2, NULL, 10);
}

/* The length field alone claims a header one byte over the limit while the
 * file is ten bytes long: the limit has to be checked first, before the
 * length is compared with the file or anything is allocated for it. */
static GBytes *
build_length_over_limit (void)
{
  return make_file_full ((guint64) CLIPSCOPE_MAX_HEADER_BYTES + 1, "{}", 2, NULL, 0);
}

static GBytes *
build_length_max (void)
{
  return make_file_full (G_MAXUINT64, "{}", 2, NULL, 0);
}

static GBytes *
build_nul_in_header (void)
{
  return make_file_full (4, "{}\0 ", 4, NULL, 0);
}

static GBytes *
build_random_header (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (RANDOM_SEED);
  char header[64];

  for (gsize i = 0; i < sizeof header; i++)
    header[i] = (char) g_rand_int_range (rand, 0, 256);
  return make_file_full (sizeof header, header, sizeof header, NULL, 16);
}

/* Far deeper than json-glib's recursive parser survives. */
static GBytes *
build_deep_nesting (void)
{
  gsize depth = 200000;
  g_autofree char *header = g_malloc (2 * depth);

  memset (header, '[', depth);
  memset (header + depth, ']', depth);
  return make_file_full (2 * depth, header, 2 * depth, NULL, 0);
}

#define ENTRY(dtype, shape, offsets) \
  "{\"dtype\": " dtype ", \"shape\": " shape ", \"data_offsets\": " offsets "}"
#define ONE(entry) "{\"layer.weight\": " entry "}"

typedef struct
{
  const char      *path;
  const char      *header;        /* the JSON header, when build is NULL */
  gsize            data_len;      /* zero bytes after the header */
  GBytes        *(*build) (void); /* makes the whole file instead */
  ClipscopeError   code;
  const char      *tensor;        /* named in the message, or NULL */
  const char      *expect;        /* also in the message, or NULL */
} InvalidCase;

static const InvalidCase invalid_cases[] = {
  /* The length field */
  { "empty-file", NULL, 0, build_empty, CLIPSCOPE_ERROR_SAFETENSORS, NULL, "is 0 bytes long" },
  { "five-bytes", NULL, 0, build_five_bytes, CLIPSCOPE_ERROR_SAFETENSORS, NULL, "is 5 bytes long" },
  { "length-past-end", NULL, 0, build_length_past_end, CLIPSCOPE_ERROR_SAFETENSORS, NULL,
    "header length 100 runs past the end of the file, which has 12 bytes" },
  { "length-zero", "", 0, NULL, CLIPSCOPE_ERROR_SAFETENSORS, NULL, "header length is 0" },
  { "length-over-limit", NULL, 0, build_length_over_limit, CLIPSCOPE_ERROR_LIMIT, NULL,
    "exceeds the limit" },
  { "length-max", NULL, 0, build_length_max, CLIPSCOPE_ERROR_LIMIT, NULL, "18446744073709551615" },

  /* The header as text */
  { "not-utf8", "{\"a\xff\": 1}", 0, NULL, CLIPSCOPE_ERROR_SAFETENSORS, NULL,
    "not valid UTF-8 at byte offset 11" },
  { "nul-in-header", NULL, 0, build_nul_in_header, CLIPSCOPE_ERROR_SAFETENSORS, NULL, "UTF-8" },
  { "random-bytes", NULL, 0, build_random_header, CLIPSCOPE_ERROR_SAFETENSORS, NULL, NULL },
  { "not-json", "not json", 0, NULL, CLIPSCOPE_ERROR_SAFETENSORS, NULL, "not valid JSON" },
  { "whitespace-only", "    ", 0, NULL, CLIPSCOPE_ERROR_SAFETENSORS, NULL, "holds nothing" },
  { "json-array", "[1, 2]", 0, NULL, CLIPSCOPE_ERROR_SAFETENSORS, NULL,
    "holds [1,2], expected a JSON object" },
  { "json-string", "\"weights\"", 0, NULL, CLIPSCOPE_ERROR_SAFETENSORS, NULL, "expected a JSON object" },
  { "trailing-garbage", "{} x", 0, NULL, CLIPSCOPE_ERROR_SAFETENSORS, NULL, "not valid JSON" },
  { "unterminated", "{\"a", 0, NULL, CLIPSCOPE_ERROR_SAFETENSORS, NULL, "not valid JSON" },
  { "deep-nesting", NULL, 0, build_deep_nesting, CLIPSCOPE_ERROR_SAFETENSORS, NULL,
    "more than 16 deep at byte offset 24" },
  { "single-quotes", "{'a': {}}", 0, NULL, CLIPSCOPE_ERROR_SAFETENSORS, NULL, "single quote outside any string at byte offset 9" },
  { "comment", "{/* [ */}", 0, NULL, CLIPSCOPE_ERROR_SAFETENSORS, NULL, "slash outside any string at byte offset 9" },
  { "lone-surrogate", "{\"a\\ud800\": {}}", 0, NULL, CLIPSCOPE_ERROR_SAFETENSORS, NULL,
    "malformed escape sequence at byte offset 11" },
  { "short-unicode-escape", "{\"a\\u12\": {}}", 0, NULL, CLIPSCOPE_ERROR_SAFETENSORS, NULL,
    "malformed escape" },
  { "unknown-escape", "{\"a\\q\": {}}", 0, NULL, CLIPSCOPE_ERROR_SAFETENSORS, NULL,
    "malformed escape" },
  { "duplicate-name",
    "{\"layer.weight\": " ENTRY ("\"F32\"", "[1]", "[0, 4]") ","
    " \"layer.weight\": " ENTRY ("\"F32\"", "[1]", "[4, 8]") "}", 8, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight", "appears more than once" },
  { "duplicate-key",
    ONE ("{\"dtype\": \"F32\", \"dtype\": \"F16\", \"shape\": [1], \"data_offsets\": [0, 4]}"), 4,
    NULL, CLIPSCOPE_ERROR_SAFETENSORS, NULL, "repeats the key \"dtype\"" },
  { "metadata-not-object", "{\"__metadata__\": \"pt\"}", 0, NULL, CLIPSCOPE_ERROR_SAFETENSORS, NULL,
    "__metadata__ is \"pt\", expected an object" },

  /* Entries */
  { "entry-not-object", ONE ("5"), 0, NULL, CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight",
    "entry is 5, expected an object" },
  { "missing-dtype", ONE ("{\"shape\": [1], \"data_offsets\": [0, 4]}"), 4, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight", "missing \"dtype\"" },
  { "missing-shape", ONE ("{\"dtype\": \"F32\", \"data_offsets\": [0, 4]}"), 4, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight", "missing \"shape\"" },
  { "missing-offsets", ONE ("{\"dtype\": \"F32\", \"shape\": [1]}"), 4, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight", "missing \"data_offsets\"" },
  { "extra-key",
    ONE ("{\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4], \"foo\": 1}"), 4, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight", "unexpected key \"foo\"" },
  { "unknown-dtype", ONE (ENTRY ("\"F33\"", "[1]", "[0, 4]")), 4, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight", "unknown dtype \"F33\"" },
  { "lowercase-dtype", ONE (ENTRY ("\"f32\"", "[1]", "[0, 4]")), 4, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight", "unknown dtype \"f32\"" },
  { "dtype-not-string", ONE (ENTRY ("32", "[1]", "[0, 4]")), 4, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight", "dtype is 32, expected a string" },

  /* Shapes */
  { "shape-negative", ONE (ENTRY ("\"F32\"", "[2, -1]", "[0, 4]")), 4, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight", "shape [2,-1] has dimension 1 out of range" },
  { "shape-not-array", ONE (ENTRY ("\"F32\"", "4", "[0, 16]")), 16, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight", "shape is 4, expected an array" },
  { "shape-float", ONE (ENTRY ("\"F32\"", "[2.0]", "[0, 8]")), 8, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight", "has dimension 0 out of range" },
  { "shape-string", ONE (ENTRY ("\"F32\"", "[\"2\"]", "[0, 8]")), 8, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight", "out of range" },
  { "too-many-dims", ONE (ENTRY ("\"F32\"", "[1, 1, 1, 1, 1, 1, 1, 1, 1]", "[0, 4]")), 4, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight", "has 9 dimensions, more than the 8 allowed" },
  { "dim-too-large", ONE (ENTRY ("\"U8\"", "[1099511627777]", "[0, 4]")), 4, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight", "from 0 to 1099511627776" },
  { "shape-overflow",
    ONE (ENTRY ("\"F32\"", "[4294967296, 4294967296, 4294967296]", "[0, 4]")), 4, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight",
    "shape [4294967296, 4294967296, 4294967296] has more elements than fit in 63 bits" },
  { "bytes-overflow", ONE (ENTRY ("\"F64\"", "[1099511627776, 4194304]", "[0, 0]")), 0, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight", "needs more than 2^64" },

  /* Offsets */
  { "offsets-reversed", ONE (ENTRY ("\"F32\"", "[1]", "[4, 0]")), 4, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight", "data_offsets [4, 0] end before they begin" },
  { "offsets-past-end", ONE (ENTRY ("\"F32\"", "[100]", "[0, 400]")), 4, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight",
    "data_offsets [0, 400] run past the end of the data area, which holds 4 bytes" },
  { "offsets-three", ONE (ENTRY ("\"F32\"", "[1]", "[0, 4, 8]")), 8, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight", "expected two non-negative integers" },
  { "offsets-one", ONE (ENTRY ("\"F32\"", "[1]", "[4]")), 4, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight", "expected two non-negative integers" },
  { "offsets-negative", ONE (ENTRY ("\"F32\"", "[1]", "[-4, 0]")), 4, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight", "data_offsets is [-4,0]" },
  { "offsets-float", ONE (ENTRY ("\"F32\"", "[1]", "[0, 4.0]")), 4, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight", "expected two non-negative integers" },
  { "offsets-octal", ONE (ENTRY ("\"F32\"", "[1]", "[0, 04]")), 4, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, NULL, "leading zero at byte offset 76" },
  { "offsets-hex", ONE (ENTRY ("\"F32\"", "[1]", "[0, 0x4]")), 4, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, NULL, "leading zero" },
  { "offsets-not-array", ONE (ENTRY ("\"F32\"", "[1]", "\"0-4\"")), 4, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight", "data_offsets is \"0-4\"" },
  { "length-mismatch", "{\"visual.proj\": " ENTRY ("\"F32\"", "[10, 8]", "[100, 200]") "}", 200,
    NULL, CLIPSCOPE_ERROR_SAFETENSORS, "visual.proj",
    "data_offsets [100, 200] hold 100 bytes but shape [10, 8] of F32 needs 320" },
  { "truncated", ONE (ENTRY ("\"F32\"", "[4]", "[0, 16]")), 8, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "layer.weight", "which holds 8 bytes" },
  { "overlap",
    "{\"a.weight\": " ENTRY ("\"F32\"", "[4]", "[0, 16]") ","
    " \"b.weight\": " ENTRY ("\"F32\"", "[4]", "[8, 24]") "}", 24, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "b.weight",
    "data_offsets [8, 24] overlap tensor \"a.weight\" at [0, 16]" },
  { "overlap-contained",
    "{\"a.weight\": " ENTRY ("\"F32\"", "[1]", "[4, 8]") ","
    " \"b.weight\": " ENTRY ("\"F32\"", "[4]", "[0, 16]") "}", 16, NULL,
    CLIPSCOPE_ERROR_SAFETENSORS, "a.weight", "overlap tensor \"b.weight\"" },
};

static void
test_invalid (gconstpointer user_data)
{
  const InvalidCase *c = user_data;
  g_autoptr(GBytes) bytes = c->build != NULL ? c->build () : make_file (c->header, c->data_len);
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeSafetensors) st = NULL;

  st = clipscope_safetensors_new_from_bytes (FILE_NAME, bytes, &error);
  g_assert_null (st);
  g_assert_error (error, CLIPSCOPE_ERROR, (gint) c->code);
  g_test_message ("%s", error->message);

  g_assert_true (g_str_has_prefix (error->message, FILE_NAME ": "));
  if (c->tensor != NULL)
    {
      g_autofree char *quoted = g_strdup_printf ("tensor \"%s\"", c->tensor);

      assert_contains (error->message, quoted);
    }
  if (c->expect != NULL)
    assert_contains (error->message, c->expect);
}

/* One whole message, word for word: file, tensor, found and expected. */
static void
test_invalid_message (void)
{
  g_autoptr(GBytes) bytes =
    make_file ("{\"visual.proj\": " ENTRY ("\"F32\"", "[10, 8]", "[100, 200]") "}", 200);
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeSafetensors) st = NULL;

  st = clipscope_safetensors_new_from_bytes (FILE_NAME, bytes, &error);
  g_assert_null (st);
  g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_SAFETENSORS);
  g_assert_cmpstr (error->message, ==,
                   FILE_NAME ": tensor \"visual.proj\": data_offsets [100, 200] hold 100 bytes "
                   "but shape [10, 8] of F32 needs 320");
}

/* ------------------------------------------------------------ mutation */

/* A few thousand damaged copies of the valid file, to run under the
 * sanitizers: each must either fail cleanly or give tensors whose data can
 * be read in full. */
static void
mutate (GRand  *rand,
        guint8 *file,
        gsize   len)
{
  static const char alphabet[] = "0123456789[]{},:\" -.eFIU\\";
  guint n_changes = (guint) g_rand_int_range (rand, 1, 5);

  for (guint i = 0; i < n_changes; i++)
    {
      gsize at = (gsize) g_rand_int_range (rand, 0, (gint32) len);

      if (g_rand_boolean (rand))
        file[at] = (guint8) alphabet[g_rand_int_range (rand, 0, sizeof alphabet - 1)];
      else
        file[at] = (guint8) g_rand_int_range (rand, 0, 256);
    }
}

static void
read_all_tensors (ClipscopeSafetensors *st)
{
  for (guint i = 0; i < clipscope_safetensors_get_n_tensors (st); i++)
    {
      const ClipscopeTensor *tensor = clipscope_safetensors_get_tensor (st, i);
      g_autofree float *values = g_new (float, tensor->n_elements + 1);
      g_autoptr(GError) error = NULL;

      g_assert_true (clipscope_safetensors_lookup (st, tensor->name) == tensor);
      g_assert_cmpuint (tensor->n_bytes, ==,
                        (gsize) tensor->n_elements * clipscope_dtype_size (tensor->dtype));
      if (!clipscope_tensor_to_f32 (st, tensor, values, &error))
        g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TENSOR_DTYPE);
    }
}

static void
test_mutations (void)
{
  g_autoptr(GBytes) valid = make_valid_file ();
  g_autoptr(GRand) rand = g_rand_new_with_seed (RANDOM_SEED);
  gsize len = g_bytes_get_size (valid);
  guint n_accepted = 0;

  g_test_message ("seed %u", RANDOM_SEED);
  for (guint i = 0; i < 5000; i++)
    {
      guint8 *file = g_memdup2 (g_bytes_get_data (valid, NULL), len);
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(ClipscopeSafetensors) st = NULL;

      mutate (rand, file, len);
      bytes = g_bytes_new_take (file, len);
      st = clipscope_safetensors_new_from_bytes (FILE_NAME, bytes, &error);
      if (st == NULL)
        {
          g_assert_nonnull (error);
          g_assert_true (g_str_has_prefix (error->message, FILE_NAME ": "));
          continue;
        }
      g_assert_no_error (error);
      read_all_tensors (st);
      n_accepted++;
    }

  g_test_message ("%u of 5000 damaged files were still valid", n_accepted);
}

/* Every float16 and bfloat16 bit pattern, at every place of a row that
 * crosses the check's words and blocks: found where, and only where, its
 * exponent is all ones; each finite one widened as the scalar conversion
 * does. */
static void
test_16_bit_values (void)
{
  static const gsize places[] = { 0, 1, 2, 3, 4, 5, 4095, 4096, 4099, 5000 };
  const gsize n = 5001;
  g_autofree guint16 *row = g_new (guint16, n);
  g_autofree float *wide = g_new (float, n);

  for (int dt = 0; dt < 2; dt++)
    {
      const ClipscopeDtype dtype = dt ? CLIPSCOPE_DTYPE_BF16 : CLIPSCOPE_DTYPE_F16;
      const guint16 exponent = dt ? 0x7f80 : 0x7c00, one = dt ? 0x3f80 : 0x3c00;

      for (guint32 bits = 0; bits <= 0xffff; bits++)
        {
          const gboolean bad = (bits & exponent) == exponent;
          const gsize at = places[bits % G_N_ELEMENTS (places)];
          float want;

          for (gsize i = 0; i < n; i++)
            row[i] = one;
          row[at] = (guint16) bits;
          g_assert_cmpint (clipscope_first_non_finite_16 (dtype, row, n), ==,
                           bad ? (gssize) at : -1);
          if (bad)
            continue;
          clipscope_widen_16 (dtype, row, n, wide);
          if (dt)
            {
              guint32 u = bits << 16;
              memcpy (&want, &u, sizeof want);
            }
          else
            want = clipscope_half_to_float ((guint16) bits);
          g_assert_true (memcmp (&wide[at], &want, sizeof want) == 0);
          g_assert_cmpfloat (wide[at ? 0 : 1], ==, 1.0f);
        }
    }
}

/* float32 values with every upper half (sign, exponent and the top of
 * the mantissa) and lower halves that look like a bad exponent, at every
 * place of a row that crosses the check's vectors and blocks: found
 * where, and only where, the value is not finite. */
static void
test_32_bit_values (void)
{
  static const gsize places[] = { 0, 1, 2, 7, 8, 15, 16, 17, 2047, 2048, 2049, 2063, 3000 };
  static const guint32 lows[] = { 0, 0x7f80, 0xffff, 0x1234 };
  const gsize n = 3001;
  g_autofree float *row = g_new (float, n);

  for (guint32 high = 0; high <= 0xffff; high++)
    {
      const guint32 bits = high << 16 | lows[high % G_N_ELEMENTS (lows)];
      const gsize at = places[high % G_N_ELEMENTS (places)];
      float value;

      memcpy (&value, &bits, sizeof value);
      for (gsize i = 0; i < n; i++)
        {
          const guint32 finite = 0x3f807f80u;   /* about 1, its lower half a bad bfloat16 */

          memcpy (&row[i], &finite, sizeof finite);
        }
      row[at] = value;
      g_assert_cmpint (clipscope_first_non_finite_32 (row, n), ==,
                       (isfinite (value) ? -1 : (gssize) at));
      g_assert_cmpint (clipscope_first_non_finite_32 (row, at), ==, -1);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/engine/safetensors/valid/order", test_valid_order);
  g_test_add_func ("/engine/safetensors/valid/lookup", test_valid_lookup);
  g_test_add_func ("/engine/safetensors/valid/shapes", test_valid_shapes);
  g_test_add_func ("/engine/safetensors/valid/data-pointers", test_valid_data_pointers);
  g_test_add_func ("/engine/safetensors/valid/f32", test_valid_f32);
  g_test_add_func ("/engine/safetensors/valid/f16", test_valid_f16);
  g_test_add_func ("/engine/safetensors/valid/bf16", test_valid_bf16);
  g_test_add_func ("/engine/safetensors/valid/empty-tensor", test_valid_empty_tensor);
  g_test_add_func ("/engine/safetensors/valid/wrong-dtype", test_valid_wrong_dtype);
  g_test_add_func ("/engine/safetensors/valid/no-tensors", test_valid_no_tensors);
  g_test_add_func ("/engine/safetensors/dtype-names", test_dtype_names);
  g_test_add_func ("/engine/safetensors/f16-exhaustive", test_f16_exhaustive);
  g_test_add_func ("/engine/safetensors/32-bit-values", test_32_bit_values);
  g_test_add_func ("/engine/safetensors/open/file", test_open_file);
  g_test_add_func ("/engine/safetensors/open/missing", test_open_missing);
  g_test_add_func ("/engine/safetensors/open/empty-file", test_open_empty_file);
  g_test_add_func ("/engine/safetensors/invalid-message", test_invalid_message);
  g_test_add_func ("/engine/safetensors/mutations", test_mutations);
  g_test_add_func ("/engine/safetensors/16-bit-values", test_16_bit_values);

  for (gsize i = 0; i < G_N_ELEMENTS (invalid_cases); i++)
    {
      g_autofree char *path = g_strconcat ("/engine/safetensors/invalid/",
                                           invalid_cases[i].path, NULL);

      g_test_add_data_func (path, &invalid_cases[i], test_invalid);
    }

  return g_test_run ();
}
