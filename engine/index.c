/* index.c — a search index of image embeddings in SQLite */
#include "decoder.h"
#include "model.h"

#include <cblas.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <sqlite3.h>
#include <string.h>

/* Bump when the schema changes; an older file is made anew. */
#define INDEX_FORMAT      "clipscope-index 1"
#define HASH_BYTES        32          /* SHA-256 */
#define COMMIT_INTERVAL_US (G_USEC_PER_SEC)
#define BUSY_TIMEOUT_MS   10000
#define DUPLICATE_BLOCK   512         /* rows of one block of the self-product */

struct _ClipscopeIndex {
  char           *path;
  char           *identity;   /* of the model; see model_identity() */
  int             dim;
  ClipscopePreprocessParams preprocess;
  sqlite3        *db;

  /* The embeddings as last read, for searching; valid while loaded */
  gboolean        loaded;
  sqlite3_int64   data_version;
  GPtrArray      *paths;      /* in path order */
  guint16        *matrix;     /* [paths->len, dim] float16, as stored */
  guint8         *hashes;     /* [paths->len, HASH_BYTES] */
};

/* ----------------------------------------------------------- float16 */

/* Rounds to the nearest half, ties to even, as numpy's astype does. */
static guint16
float_to_half (float value)
{
  guint32 bits, sign, magnitude, half, rest;

  memcpy (&bits, &value, sizeof bits);
  sign = (bits >> 16) & 0x8000;
  magnitude = bits & 0x7fffffff;
  if (magnitude > 0x7f800000)
    return (guint16) (sign | 0x7e00);                    /* NaN */
  if (magnitude >= 0x47800000)
    return (guint16) (sign | 0x7c00);                    /* ≥ 2^16: infinity */
  if (magnitude < 0x38800000)
    {
      /* Below 2^-14: a subnormal half, value × 2^24 rounded; scaling by
       * a power of two is exact, and rintf rounds ties to even. */
      float m;

      memcpy (&m, &magnitude, sizeof m);
      return (guint16) (sign | (guint32) rintf (m * 0x1p24f));
    }
  /* Rebias the exponent from 127 to 15 and keep 10 of 23 mantissa bits;
   * a carry out of the mantissa rightly bumps the exponent. */
  half = ((magnitude >> 23) - 112) << 10 | (magnitude & 0x7fffff) >> 13;
  rest = magnitude & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
    half++;
  return (guint16) (sign | half);
}

static void
encode_halves (const float *x,
               int          n,
               guint8      *out)
{
  for (int i = 0; i < n; i++)
    {
      guint16 h = float_to_half (x[i]);

      out[2 * i] = (guint8) (h & 0xff);       /* little-endian, as the file says */
      out[2 * i + 1] = (guint8) (h >> 8);
    }
}

/* Appends @n little-endian halves to @matrix, in host order. */
static void
read_halves (const guint8 *in,
             int           n,
             GByteArray   *matrix)
{
  guint16 *row;

  g_byte_array_set_size (matrix, matrix->len + n * sizeof (guint16));
  row = (guint16 *) (void *) (matrix->data + matrix->len) - n;
  for (int i = 0; i < n; i++)
    row[i] = (guint16) (in[2 * i] | in[2 * i + 1] << 8);
}

/* Searching reads every stored half once per query, so the rows stay in
 * float16 in memory (half the bytes to stream) and are widened on the fly:
 * with F16C and FMA eight at a time, else through a table of all 65,536
 * halves. */
static void
score_rows_table (const guint16 *rows,
                  int            n,
                  int            dim,
                  const float   *query,
                  float         *scores)
{
  static float *table;

  if (g_once_init_enter (&table))
    {
      float *t = g_new (float, 65536);

      for (guint32 h = 0; h < 65536; h++)
        t[h] = clipscope_half_to_float ((guint16) h);
      g_once_init_leave (&table, t);
    }
  for (int i = 0; i < n; i++)
    {
      const guint16 *row = rows + (gsize) i * dim;
      float sum = 0.0f;

      for (int d = 0; d < dim; d++)
        sum += table[row[d]] * query[d];
      scores[i] = sum;
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
# include <cpuid.h>
# include <immintrin.h>

__attribute__ ((target ("avx2,fma,f16c")))
static void
score_rows_f16c (const guint16 *rows,
                 int            n,
                 int            dim,
                 const float   *query,
                 float         *scores)
{
  const int wide = dim & ~7, wider = dim & ~31;

  for (int i = 0; i < n; i++)
    {
      const guint16 *row = rows + (gsize) i * dim;
      /* Four sums, so that each FMA need not wait for the one before. */
      __m256 acc[4] = { _mm256_setzero_ps (), _mm256_setzero_ps (), _mm256_setzero_ps (), _mm256_setzero_ps () };
      __m256 all;
      __m128 half_sum;
      float sum;
      int d;

      for (d = 0; d < wider; d += 32)
        for (int k = 0; k < 4; k++)
          {
            __m256 x = _mm256_cvtph_ps (_mm_loadu_si128 ((const __m128i *) (const void *) (row + d + 8 * k)));

            acc[k] = _mm256_fmadd_ps (x, _mm256_loadu_ps (query + d + 8 * k), acc[k]);
          }
      for (; d < wide; d += 8)
        {
          __m256 x = _mm256_cvtph_ps (_mm_loadu_si128 ((const __m128i *) (const void *) (row + d)));

          acc[0] = _mm256_fmadd_ps (x, _mm256_loadu_ps (query + d), acc[0]);
        }
      all = _mm256_add_ps (_mm256_add_ps (acc[0], acc[1]), _mm256_add_ps (acc[2], acc[3]));
      half_sum = _mm_add_ps (_mm256_castps256_ps128 (all), _mm256_extractf128_ps (all, 1));
      half_sum = _mm_add_ps (half_sum, _mm_movehl_ps (half_sum, half_sum));
      half_sum = _mm_add_ss (half_sum, _mm_movehdup_ps (half_sum));
      sum = _mm_cvtss_f32 (half_sum);
      for (d = wide; d < dim; d++)
        sum += _cvtsh_ss (row[d]) * query[d];
      scores[i] = sum;
    }
}
#endif


/* scores[i] = rows[i] · query */
static void
score_rows (const guint16 *rows,
            int            n,
            int            dim,
            const float   *query,
            float         *scores)
{
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma") && clipscope_cpu_has_f16c ())
    {
      score_rows_f16c (rows, n, dim, query, scores);
      return;
    }
#endif
  score_rows_table (rows, n, dim, query, scores);
}

/* ------------------------------------------------------------ SQLite */

static gboolean
db_fail (ClipscopeIndex *self,
         GError        **error,
         const char     *doing)
{
  g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s: %s: %s",
               self->path, doing, sqlite3_errmsg (self->db));
  return FALSE;
}

static gboolean
db_exec (ClipscopeIndex *self,
         const char     *sql,
         GError        **error)
{
  if (sqlite3_exec (self->db, sql, NULL, NULL, NULL) == SQLITE_OK)
    return TRUE;
  return db_fail (self, error, sql);
}

static sqlite3_stmt *
db_prepare (ClipscopeIndex *self,
            const char     *sql,
            GError        **error)
{
  sqlite3_stmt *stmt = NULL;

  if (sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    {
      db_fail (self, error, "preparing a statement");
      sqlite3_finalize (stmt);
      return NULL;
    }
  return stmt;
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

/* The one text value of @sql, or NULL (an error, or no row) with @why
 * saying what went wrong. */
static char *
db_query_text (ClipscopeIndex *self,
               const char     *sql,
               char          **why)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  if (sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL) != SQLITE_OK)
    {
      *why = g_strdup (sqlite3_errmsg (self->db));
      return NULL;
    }
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW && sqlite3_column_text (stmt, 0) != NULL)
    return g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  *why = g_strdup (rc == SQLITE_DONE ? "no value" : sqlite3_errmsg (self->db));
  return NULL;
}

/* -------------------------------------------------------------- open */

/* What tells the model's embeddings apart from another's: its folder, the
 * size and modification time of its weights, and the embedding size. */
static char *
model_identity (ClipscopeModel *model)
{
  const char *weights = clipscope_safetensors_get_name (model->weights_file);
  g_autofree char *dir = g_canonicalize_filename (model->path, NULL);
  GStatBuf st = { 0 };

  if (g_stat (weights, &st) != 0)
    memset (&st, 0, sizeof st);
  return g_strdup_printf ("%s | %" G_GINT64_FORMAT " bytes, modified %" G_GINT64_FORMAT
                          " | %d dimensions", dir, (gint64) st.st_size,
                          (gint64) st.st_mtime, model->info.embed_dim);
}

char *
clipscope_index_default_path (ClipscopeModel *model)
{
  g_autofree char *dir = NULL, *base = NULL, *digest = NULL, *name = NULL;

  g_return_val_if_fail (model != NULL, NULL);

  dir = g_canonicalize_filename (model->path, NULL);
  base = g_path_get_basename (dir);
  digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, dir, -1);
  name = g_strdup_printf ("%s-%.12s.sqlite", base, digest);
  return g_build_filename (g_get_user_data_dir (), "clipscope", "index", name, NULL);
}

static gboolean
create_schema (ClipscopeIndex *self,
               GError        **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *dim = g_strdup_printf ("%d", self->dim);

  if (!db_exec (self, "BEGIN IMMEDIATE", error))
    return FALSE;
  if (!db_exec (self,
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                "CREATE TABLE IF NOT EXISTS images (path TEXT PRIMARY KEY, size INTEGER NOT NULL,"
                " mtime INTEGER NOT NULL, hash BLOB NOT NULL, embedding BLOB NOT NULL);"
                "CREATE INDEX IF NOT EXISTS images_by_hash ON images (hash);", error)
      || (stmt = db_prepare (self, "INSERT OR IGNORE INTO meta VALUES (?, ?)", error)) == NULL)
    goto fail;
  {
    const char *rows[][2] = {
      { "format", INDEX_FORMAT }, { "model", self->identity }, { "embed_dim", dim },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (rows); i++)
      {
        sqlite3_bind_text (stmt, 1, rows[i][0], -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 2, rows[i][1], -1, SQLITE_STATIC);
        if (sqlite3_step (stmt) != SQLITE_DONE)
          {
            db_fail (self, error, "writing the index's description");
            goto fail;
          }
        sqlite3_reset (stmt);
      }
  }
  if (db_exec (self, "COMMIT", error))
    return TRUE;
fail:
  sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
  return FALSE;
}

/* Whether the open file is an index of this model that can be used as it
 * is; else @why says what it is instead. A new, empty file gets the
 * schema. */
static gboolean
check_file (ClipscopeIndex *self,
            char          **why,
            GError        **error)
{
  g_autofree char *format = NULL, *identity = NULL, *check = NULL, *n_tables = NULL;
  sqlite3_stmt *probe = NULL;

  /* Reading the schema is the first access to the file: a file that is
   * not SQLite fails here. */
  n_tables = db_query_text (self, "SELECT count(*) FROM sqlite_master", why);
  if (n_tables == NULL)
    return FALSE;
  if (strcmp (n_tables, "0") == 0)
    {
      if (!db_exec (self, "PRAGMA journal_mode = WAL", error))
        return FALSE;
      return create_schema (self, error);
    }
  format = db_query_text (self, "SELECT value FROM meta WHERE key = 'format'", why);
  if (format == NULL)
    return FALSE;
  if (strcmp (format, INDEX_FORMAT) != 0)
    {
      *why = g_strdup_printf ("its format is \"%s\", not \"%s\"", format, INDEX_FORMAT);
      return FALSE;
    }
  identity = db_query_text (self, "SELECT value FROM meta WHERE key = 'model'", why);
  if (identity == NULL)
    return FALSE;
  if (strcmp (identity, self->identity) != 0)
    {
      *why = g_strdup_printf ("it was made with another model (%s)", identity);
      return FALSE;
    }
  if (sqlite3_prepare_v2 (self->db, "SELECT path, size, mtime, hash, embedding FROM images",
                          -1, &probe, NULL) != SQLITE_OK)
    {
      *why = g_strdup (sqlite3_errmsg (self->db));
      return FALSE;
    }
  sqlite3_finalize (probe);
  /* Damage anywhere in the file shows here rather than halfway through a
   * search. */
  check = db_query_text (self, "PRAGMA quick_check", why);
  if (check == NULL)
    return FALSE;
  if (strcmp (check, "ok") != 0)
    {
      *why = g_strdup_printf ("it is damaged (%s)", check);
      return FALSE;
    }
  return db_exec (self, "PRAGMA journal_mode = WAL", error);
}

static gboolean
open_db (ClipscopeIndex *self,
         GError        **error)
{
  if (sqlite3_open_v2 (self->path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)
      != SQLITE_OK)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s: %s", self->path,
                   self->db ? sqlite3_errmsg (self->db) : "out of memory");
      return FALSE;
    }
  sqlite3_busy_timeout (self->db, BUSY_TIMEOUT_MS);
  sqlite3_extended_result_codes (self->db, 0);
  return TRUE;
}

static void
close_db (ClipscopeIndex *self)
{
  g_clear_pointer (&self->db, sqlite3_close_v2);
}

static gboolean
delete_files (ClipscopeIndex *self,
              GError        **error)
{
  const char *suffixes[] = { "", "-wal", "-shm", "-journal" };

  for (gsize i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *file = g_strconcat (self->path, suffixes[i], NULL);

      if (g_unlink (file) != 0 && errno != ENOENT)
        {
          int saved = errno;

          g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s: cannot delete it: %s",
                       file, g_strerror (saved));
          return FALSE;
        }
    }
  return TRUE;
}

static void
unload (ClipscopeIndex *self)
{
  self->loaded = FALSE;
  g_clear_pointer (&self->paths, g_ptr_array_unref);
  g_clear_pointer (&self->matrix, g_free);
  g_clear_pointer (&self->hashes, g_free);
}

void
clipscope_index_free (ClipscopeIndex *index)
{
  if (index == NULL)
    return;
  unload (index);
  close_db (index);
  g_free (index->path);
  g_free (index->identity);
  g_free (index);
}

ClipscopeIndex *
clipscope_index_open (ClipscopeModel *model,
                      const char     *path,
                      char          **rebuilt,
                      GError        **error)
{
  g_autoptr(ClipscopeIndex) self = NULL;
  g_autofree char *dir = NULL, *why = NULL;

  g_return_val_if_fail (model != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (rebuilt != NULL)
    *rebuilt = NULL;
  self = g_new0 (ClipscopeIndex, 1);
  self->path = path ? g_canonicalize_filename (path, NULL) : clipscope_index_default_path (model);
  self->identity = model_identity (model);
  self->dim = model->info.embed_dim;
  self->preprocess = model->preprocess;

  dir = g_path_get_dirname (self->path);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s: cannot create the folder: %s",
                   dir, g_strerror (saved));
      return NULL;
    }
  if (!open_db (self, error))
    return NULL;
  if (check_file (self, &why, error))
    return g_steal_pointer (&self);
  if (why == NULL)
    return NULL;     /* the file could not be written; @error says why */

  /* Not an index of this model: start afresh. */
  close_db (self);
  if (!delete_files (self, error) || !open_db (self, error))
    return NULL;
  if (!db_exec (self, "PRAGMA journal_mode = WAL", error) || !create_schema (self, error))
    return NULL;
  if (rebuilt != NULL)
    *rebuilt = g_strdup_printf ("%s was not a usable index (%s); it was made anew",
                                self->path, why);
  return g_steal_pointer (&self);
}

const char *
clipscope_index_get_path (ClipscopeIndex *index)
{
  g_return_val_if_fail (index != NULL, NULL);
  return index->path;
}

int64_t
clipscope_index_count (ClipscopeIndex *index,
                       GError        **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_return_val_if_fail (index != NULL, -1);

  stmt = db_prepare (index, "SELECT count(*) FROM images", error);
  if (stmt == NULL)
    return -1;
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      db_fail (index, error, "counting images");
      return -1;
    }
  return sqlite3_column_int64 (stmt, 0);
}

/* -------------------------------------------------------------- scan */

typedef struct {
  gint64 size;
  gint64 mtime;       /* nanoseconds since the epoch */
} FileStamp;

typedef struct {
  char     *path;
  FileStamp stamp;
  guint8    hash[HASH_BYTES];
  gboolean  reuse;    /* its content is indexed already */
  float    *pixels;   /* a slot of the pipeline */
  GError   *error;
} Job;

static void
job_free (Job *job)
{
  g_free (job->path);
  g_clear_error (&job->error);
  g_free (job);
}

static gboolean
is_image_name (GFileInfo *info)
{
  const char *type = g_file_info_get_attribute_string (info, G_FILE_ATTRIBUTE_STANDARD_FAST_CONTENT_TYPE);
  g_autofree char *mime = type != NULL ? g_content_type_get_mime_type (type) : NULL;

  return mime != NULL && g_str_has_prefix (mime, "image/");
}

/* Adds to @found (path → FileStamp) the images under @dir, recursively. */
static gboolean
scan_folder (const char   *dir,
             GHashTable   *found,
             GCancellable *cancellable,
             GError      **error)
{
  g_autoptr(GFile) file = g_file_new_for_path (dir);
  g_autoptr(GFileEnumerator) children = NULL;
  g_autoptr(GError) local_error = NULL;
  GFileInfo *info;

  children = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME ","
                                        G_FILE_ATTRIBUTE_STANDARD_TYPE ","
                                        G_FILE_ATTRIBUTE_STANDARD_IS_SYMLINK ","
                                        G_FILE_ATTRIBUTE_STANDARD_FAST_CONTENT_TYPE ","
                                        G_FILE_ATTRIBUTE_STANDARD_SIZE ","
                                        G_FILE_ATTRIBUTE_TIME_MODIFIED ","
                                        G_FILE_ATTRIBUTE_TIME_MODIFIED_NSEC,
                                        G_FILE_QUERY_INFO_NONE, cancellable, &local_error);
  while (children != NULL
         && g_file_enumerator_iterate (children, &info, NULL, cancellable, &local_error)
         && info != NULL)
    {
      const char *name = g_file_info_get_name (info);
      g_autofree char *path = NULL;
      FileStamp *stamp;

      if (name[0] == '.')
        continue;
      path = g_build_filename (dir, name, NULL);
      switch (g_file_info_get_file_type (info))
        {
        case G_FILE_TYPE_DIRECTORY:
          if (!g_file_info_get_is_symlink (info)
              && !scan_folder (path, found, cancellable, error))
            return FALSE;
          break;
        case G_FILE_TYPE_REGULAR:
          if (!is_image_name (info))
            break;
          stamp = g_new (FileStamp, 1);
          stamp->size = g_file_info_get_size (info);
          stamp->mtime = (gint64) g_file_info_get_attribute_uint64 (info, G_FILE_ATTRIBUTE_TIME_MODIFIED)
                         * G_GINT64_CONSTANT (1000000000)
                         + g_file_info_get_attribute_uint32 (info, G_FILE_ATTRIBUTE_TIME_MODIFIED_NSEC);
          g_hash_table_replace (found, g_steal_pointer (&path), stamp);
          break;
        default:
          break;
        }
    }
  if (local_error == NULL)
    return TRUE;
  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_propagate_error (error, g_steal_pointer (&local_error));
  else
    g_set_error (error, G_IO_ERROR, local_error->code, "%s: %s", dir, local_error->message);
  return FALSE;
}

/* "/a/b" → the range of paths under it, ["/a/b/", "/a/b0"), '0' being the
 * character after '/'. */
static void
folder_range (const char *folder,
              char      **low,
              char      **high)
{
  gsize len = strlen (folder);

  if (len > 0 && folder[len - 1] == '/')
    len--;
  *low = g_strdup_printf ("%.*s/", (int) len, folder);
  *high = g_strdup_printf ("%.*s0", (int) len, folder);
}

/* Adds to @known (path → FileStamp) the rows under @folder. */
static gboolean
read_known (ClipscopeIndex *self,
            const char     *folder,
            GHashTable     *known,
            GError        **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *low = NULL, *high = NULL;
  int rc;

  stmt = db_prepare (self, "SELECT path, size, mtime FROM images WHERE path >= ? AND path < ?", error);
  if (stmt == NULL)
    return FALSE;
  folder_range (folder, &low, &high);
  sqlite3_bind_text (stmt, 1, low, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, high, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      FileStamp *stamp = g_new (FileStamp, 1);

      stamp->size = sqlite3_column_int64 (stmt, 1);
      stamp->mtime = sqlite3_column_int64 (stmt, 2);
      g_hash_table_replace (known, g_strdup ((const char *) sqlite3_column_text (stmt, 0)), stamp);
    }
  return rc == SQLITE_DONE || db_fail (self, error, "reading the indexed images");
}

/* Every content hash in the index, as keys of a set of GBytes. */
static GHashTable *
read_hashes (ClipscopeIndex *self,
             GError        **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GHashTable) hashes = g_hash_table_new_full (g_bytes_hash, g_bytes_equal,
                                                         (GDestroyNotify) g_bytes_unref, NULL);
  int rc;

  stmt = db_prepare (self, "SELECT hash FROM images", error);
  if (stmt == NULL)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    if (sqlite3_column_bytes (stmt, 0) == HASH_BYTES)
      g_hash_table_add (hashes, g_bytes_new (sqlite3_column_blob (stmt, 0), HASH_BYTES));
  if (rc != SQLITE_DONE)
    {
      db_fail (self, error, "reading the content hashes");
      return NULL;
    }
  return g_steal_pointer (&hashes);
}

/* ---------------------------------------------------------- pipeline */

typedef struct {
  const ClipscopePreprocessParams *preprocess;
  GHashTable   *hashes;       /* read only while the pool runs */
  GCancellable *cancellable;
  GAsyncQueue  *done;         /* of Job */
  GAsyncQueue  *helpers;      /* of ClipscopeDecoderPool, one helper process each;
                               * NULL when images are decoded in this process */
} Decoder;

static gboolean
hash_file (const char *path,
           guint8     *hash,
           GError    **error)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *buffer = g_malloc (64 * 1024);
  gsize len = HASH_BYTES, n;
  FILE *f = g_fopen (path, "rb");

  if (f == NULL)
    {
      int saved = errno;

      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s: %s", path, g_strerror (saved));
      return FALSE;
    }
  while ((n = fread (buffer, 1, 64 * 1024, f)) > 0)
    g_checksum_update (checksum, buffer, n);
  if (ferror (f))
    {
      fclose (f);
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s: read error", path);
      return FALSE;
    }
  fclose (f);
  g_checksum_get_digest (checksum, hash, &len);
  return TRUE;
}

/* Strangers' images are decoded in the engine's sandboxed helper
 * processes, as the encoders' own decoding is: each decoding thread
 * takes a helper of its own for the file. */
static void
decode_file (Decoder *decoder,
             Job     *job)
{
  ClipscopeDecoderPool *helper;
  const char *paths[] = { job->path };

  if (decoder->helpers == NULL)
    {
      clipscope_preprocess_file (job->path, decoder->preprocess, job->pixels, &job->error);
      return;
    }
  helper = g_async_queue_pop (decoder->helpers);
  clipscope_decoder_pool_preprocess (helper, paths, 1, decoder->preprocess, job->pixels, &job->error);
  g_async_queue_push (decoder->helpers, helper);
}

/* On a pool thread: hash the file, and decode it unless its content is
 * indexed already. */
static void
decode_job (gpointer data,
            gpointer user_data)
{
  Job *job = data;
  Decoder *decoder = user_data;

  if (!g_cancellable_set_error_if_cancelled (decoder->cancellable, &job->error)
      && hash_file (job->path, job->hash, &job->error))
    {
      g_autoptr(GBytes) key = g_bytes_new_static (job->hash, HASH_BYTES);

      job->reuse = g_hash_table_contains (decoder->hashes, key);
      if (!job->reuse)
        decode_file (decoder, job);
    }
  g_async_queue_push (decoder->done, job);
}

typedef struct {
  ClipscopeIndex      *self;
  ClipscopeContext    *ctx;
  ClipscopeIndexStats *stats;
  GCancellable        *cancellable;
  sqlite3_stmt        *insert;
  sqlite3_stmt        *lookup;    /* an embedding by hash */
  gint64               last_commit;
  int                  done;
  int                  total;
  ClipscopeIndexProgressFunc progress;
  gpointer             progress_data;
} Update;

static gboolean
insert_row (Update       *u,
            const Job    *job,
            const void   *embedding,
            int           n_bytes,
            GError      **error)
{
  sqlite3_stmt *stmt = u->insert;
  int rc;

  sqlite3_bind_text (stmt, 1, job->path, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, job->stamp.size);
  sqlite3_bind_int64 (stmt, 3, job->stamp.mtime);
  sqlite3_bind_blob (stmt, 4, job->hash, HASH_BYTES, SQLITE_STATIC);
  sqlite3_bind_blob (stmt, 5, embedding, n_bytes, SQLITE_TRANSIENT);
  rc = sqlite3_step (stmt);
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  return rc == SQLITE_DONE || db_fail (u->self, error, "writing an image");
}

/* Commits what is written so far and starts the next transaction. */
static gboolean
commit (Update  *u,
        GError **error)
{
  if (!db_exec (u->self, "COMMIT", error) || !db_exec (u->self, "BEGIN", error))
    return FALSE;
  u->last_commit = g_get_monotonic_time ();
  return TRUE;
}

static void
add_failure (Update *u,
             Job    *job)
{
  ClipscopeIndexFailure *failure = g_new (ClipscopeIndexFailure, 1);

  failure->path = g_strdup (job->path);
  failure->message = g_strdup (job->error->message);
  g_ptr_array_add (u->stats->failures, failure);
}

/* A job whose content is indexed under another path (or this one, with
 * another time stamp) gets that row's embedding. */
static gboolean
reuse_row (Update  *u,
           Job     *job,
           GError **error)
{
  sqlite3_stmt *stmt = u->lookup;
  gboolean ok;

  sqlite3_bind_blob (stmt, 1, job->hash, HASH_BYTES, SQLITE_STATIC);
  if (sqlite3_step (stmt) != SQLITE_ROW)
    {
      /* Deleted by another process since the hashes were read. */
      sqlite3_reset (stmt);
      job->error = g_error_new (CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO,
                                "%s: its indexed copy went away while indexing; index again",
                                job->path);
      add_failure (u, job);
      return TRUE;
    }
  ok = insert_row (u, job, sqlite3_column_blob (stmt, 0), sqlite3_column_bytes (stmt, 0), error);
  sqlite3_reset (stmt);
  u->stats->reused += ok;
  return ok;
}

/* Encodes the decoded jobs of @batch and writes their rows. */
static gboolean
flush_batch (Update    *u,
             GPtrArray *batch,
             float     *pixels,
             gsize      image_floats,
             GError   **error)
{
  const int dim = u->self->dim;
  g_autofree float *embeddings = g_new (float, (gsize) batch->len * dim + 1);
  g_autofree guint8 *halves = g_new (guint8, 2 * dim);

  for (guint i = 0; i < batch->len; i++)
    memcpy (pixels + i * image_floats, ((Job *) batch->pdata[i])->pixels, image_floats * sizeof (float));
  if (!clipscope_context_encode_pixels (u->ctx, pixels, batch->len, embeddings, u->cancellable, error))
    return FALSE;
  for (guint i = 0; i < batch->len; i++)
    {
      encode_halves (embeddings + (gsize) i * dim, dim, halves);
      if (!insert_row (u, batch->pdata[i], halves, 2 * dim, error))
        return FALSE;
    }
  u->stats->encoded += batch->len;
  return TRUE;
}

/* Runs @todo through the decoder pool and the encoder, committing after
 * each batch. The pool keeps up to three batches of decoded pixels alive:
 * one being encoded, two being decoded. */
static gboolean
run_pipeline (Update     *u,
              GPtrArray  *todo,
              GHashTable *hashes,
              GError    **error)
{
  const int size = u->self->preprocess.crop;
  const gsize image_floats = (gsize) 3 * size * size;
  const int batch_size = 16;
  const int n_slots = 3 * batch_size;
  g_autoptr(GAsyncQueue) done = g_async_queue_new ();
  g_autoptr(GPtrArray) free_slots = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) batch = g_ptr_array_new ();
  g_autofree float *pixels = g_new (float, image_floats * batch_size);
  Decoder decoder = { &u->self->preprocess, hashes, u->cancellable, done, NULL };
  GThreadPool *pool;
  guint next = 0;
  int in_flight = 0, n_threads;
  gboolean ok = TRUE;
  GError *local_error = NULL;

  /* Half the cores decode, as the encoder's BLAS threads want the rest. */
  n_threads = CLAMP ((int) g_get_num_processors () / 2, 1, 8);
  for (int i = 0; i < n_threads; i++)
    {
      ClipscopeDecoderPool *helper = clipscope_decoder_pool_new (1);

      if (helper == NULL)
        break;      /* decoding stays in this process */
      if (decoder.helpers == NULL)
        decoder.helpers = g_async_queue_new_full ((GDestroyNotify) clipscope_decoder_pool_free);
      g_async_queue_push (decoder.helpers, helper);
    }
  pool = g_thread_pool_new (decode_job, &decoder, n_threads, FALSE, NULL);
  for (int i = 0; i < n_slots; i++)
    g_ptr_array_add (free_slots, g_new (float, image_floats));

  while (TRUE)
    {
      Job *job;

      while (ok && next < todo->len && free_slots->len > 0
             && !g_cancellable_is_cancelled (u->cancellable))
        {
          job = todo->pdata[next++];
          job->pixels = g_ptr_array_steal_index_fast (free_slots, free_slots->len - 1);
          g_thread_pool_push (pool, job, NULL);
          in_flight++;
        }
      if (in_flight == 0)
        break;
      job = g_async_queue_pop (done);
      in_flight--;
      if (!ok)
        ;   /* draining the pool after an error */
      else if (job->error != NULL)
        {
          if (g_error_matches (job->error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            ok = !g_cancellable_set_error_if_cancelled (u->cancellable, &local_error);
          else
            add_failure (u, job);
          u->done++;
        }
      else if (job->reuse)
        {
          ok = reuse_row (u, job, &local_error);
          u->done++;
        }
      else
        g_ptr_array_add (batch, job);   /* its slot stays taken until the batch is encoded */
      if (batch->len == 0 || batch->pdata[batch->len - 1] != job)
        g_ptr_array_add (free_slots, g_steal_pointer (&job->pixels));

      if (ok && (batch->len == (guint) batch_size || (in_flight == 0 && batch->len > 0)))
        {
          ok = flush_batch (u, batch, pixels, image_floats, &local_error);
          u->done += batch->len;
          for (guint i = 0; i < batch->len; i++)
            g_ptr_array_add (free_slots, g_steal_pointer (&((Job *) batch->pdata[i])->pixels));
          g_ptr_array_set_size (batch, 0);
          ok = ok && commit (u, &local_error);
          if (ok && u->progress != NULL)
            u->progress (u->done, u->total, job->path, u->progress_data);
        }
      else if (ok && g_get_monotonic_time () - u->last_commit > COMMIT_INTERVAL_US)
        {
          ok = commit (u, &local_error);
          if (ok && u->progress != NULL)
            u->progress (u->done, u->total, job->path, u->progress_data);
        }
    }
  /* A batch left by an error or a cancellation before it filled. */
  if (ok && batch->len > 0)
    {
      ok = flush_batch (u, batch, pixels, image_floats, &local_error);
      u->done += batch->len;
    }
  for (guint i = 0; i < batch->len; i++)
    g_ptr_array_add (free_slots, g_steal_pointer (&((Job *) batch->pdata[i])->pixels));
  g_thread_pool_free (pool, FALSE, TRUE);
  g_clear_pointer (&decoder.helpers, g_async_queue_unref);
  if (ok)
    ok = !g_cancellable_set_error_if_cancelled (u->cancellable, &local_error);
  if (!ok)
    g_propagate_error (error, local_error);
  return ok;
}

/* ------------------------------------------------------------ update */

static void
failure_free (gpointer data)
{
  ClipscopeIndexFailure *failure = data;

  g_free (failure->path);
  g_free (failure->message);
  g_free (failure);
}

void
clipscope_index_stats_free (ClipscopeIndexStats *stats)
{
  if (stats == NULL)
    return;
  g_ptr_array_unref (stats->failures);
  g_free (stats);
}

static int
compare_jobs (gconstpointer a,
              gconstpointer b)
{
  return strcmp ((*(Job * const *) a)->path, (*(Job * const *) b)->path);
}

static gboolean
delete_rows (ClipscopeIndex *self,
             GPtrArray      *paths,
             GError        **error)
{
  g_autoptr(sqlite3_stmt) stmt = db_prepare (self, "DELETE FROM images WHERE path = ?", error);

  if (stmt == NULL)
    return FALSE;
  for (guint i = 0; i < paths->len; i++)
    {
      sqlite3_bind_text (stmt, 1, paths->pdata[i], -1, SQLITE_STATIC);
      if (sqlite3_step (stmt) != SQLITE_DONE)
        return db_fail (self, error, "forgetting a deleted image");
      sqlite3_reset (stmt);
    }
  return TRUE;
}

/* Scans @folders and sorts what it finds into @todo (new or changed
 * files, as jobs) and @gone (indexed paths no longer there). */
static gboolean
plan_update (ClipscopeIndex      *self,
             const char * const  *folders,
             int                  n_folders,
             ClipscopeIndexStats *stats,
             GPtrArray           *todo,
             GPtrArray           *gone,
             GCancellable        *cancellable,
             GError             **error)
{
  g_autoptr(GHashTable) found = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GHashTable) known = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter iter;
  gpointer key, value;

  for (int i = 0; i < n_folders; i++)
    {
      g_autofree char *folder = g_canonicalize_filename (folders[i], NULL);

      if (!g_file_test (folder, G_FILE_TEST_IS_DIR))
        {
          g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s: %s", folders[i],
                       g_file_test (folder, G_FILE_TEST_EXISTS) ? "not a folder"
                                                                : "No such file or directory");
          return FALSE;
        }
      if (!scan_folder (folder, found, cancellable, error)
          || !read_known (self, folder, known, error))
        return FALSE;
    }

  g_hash_table_iter_init (&iter, found);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const FileStamp *now = value, *then = g_hash_table_lookup (known, key);
      Job *job;

      stats->found++;
      if (then != NULL && then->size == now->size && then->mtime == now->mtime)
        {
          stats->unchanged++;
          continue;
        }
      job = g_new0 (Job, 1);
      job->path = g_strdup (key);
      job->stamp = *now;
      g_ptr_array_add (todo, job);
    }
  g_ptr_array_sort (todo, compare_jobs);

  g_hash_table_iter_init (&iter, known);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (found, key))
      g_ptr_array_add (gone, g_strdup (key));
  return TRUE;
}

gboolean
clipscope_index_update (ClipscopeIndex             *index,
                        ClipscopeContext           *ctx,
                        const char * const         *folders,
                        int                         n_folders,
                        ClipscopeIndexProgressFunc  progress,
                        gpointer                    user_data,
                        ClipscopeIndexStats       **stats_out,
                        GCancellable               *cancellable,
                        GError                    **error)
{
  g_autoptr(ClipscopeIndexStats) stats = g_new0 (ClipscopeIndexStats, 1);
  g_autoptr(GPtrArray) todo = g_ptr_array_new_with_free_func ((GDestroyNotify) job_free);
  g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) hashes = NULL;
  g_autoptr(sqlite3_stmt) insert = NULL, lookup = NULL;
  Update u = { index, ctx, stats, cancellable };
  gboolean ok;

  g_return_val_if_fail (index != NULL && ctx != NULL, FALSE);
  g_return_val_if_fail (n_folders >= 0 && (n_folders == 0 || folders != NULL), FALSE);

  stats->failures = g_ptr_array_new_with_free_func (failure_free);
  if (stats_out != NULL)
    *stats_out = NULL;
  if (clipscope_model_get_info (clipscope_context_get_model (ctx))->embed_dim != index->dim)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT,
                   "%s: the context runs another model than the index's", index->path);
      return FALSE;
    }
  ok = plan_update (index, folders, n_folders, stats, todo, gone, cancellable, error);
  if (ok && todo->len > 0)
    ok = (hashes = read_hashes (index, error)) != NULL;
  if (ok && todo->len > 0)
    {
      ok = (insert = db_prepare (index, "INSERT OR REPLACE INTO images VALUES (?, ?, ?, ?, ?)", error))
           && (lookup = db_prepare (index, "SELECT embedding FROM images WHERE hash = ? LIMIT 1", error))
           && db_exec (index, "BEGIN", error);
      u.insert = insert;
      u.lookup = lookup;
      u.total = todo->len;
      u.progress = progress;
      u.progress_data = user_data;
      u.last_commit = g_get_monotonic_time ();
      if (ok)
        {
          /* What was encoded before an error or a cancellation is kept. */
          ok = run_pipeline (&u, todo, hashes, error);
          if (!db_exec (index, "COMMIT", ok ? error : NULL))
            ok = FALSE;
        }
      index->loaded = FALSE;
    }
  /* Forgetting comes last, so that a moved file finds its old row. */
  if (ok && gone->len > 0)
    {
      ok = db_exec (index, "BEGIN", error) && delete_rows (index, gone, error);
      if (!db_exec (index, ok ? "COMMIT" : "ROLLBACK", ok ? error : NULL))
        ok = FALSE;
      stats->removed = ok ? (int) gone->len : 0;
      index->loaded = FALSE;
    }
  if (stats_out != NULL)
    *stats_out = g_steal_pointer (&stats);
  return ok;
}

/* ------------------------------------------------------------ search */

static sqlite3_int64
data_version (ClipscopeIndex *self)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;

  if (sqlite3_prepare_v2 (self->db, "PRAGMA data_version", -1, &stmt, NULL) != SQLITE_OK
      || sqlite3_step (stmt) != SQLITE_ROW)
    return -1;
  return sqlite3_column_int64 (stmt, 0);
}

/* Reads every embedding, unless those read before are still current. */
static gboolean
load (ClipscopeIndex *self,
      GError        **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GByteArray) matrix = g_byte_array_new ();
  g_autoptr(GByteArray) hashes = g_byte_array_new ();
  sqlite3_int64 version = data_version (self);
  int rc;

  if (self->loaded && version == self->data_version)
    return TRUE;
  unload (self);
  if (!db_exec (self, "BEGIN", error))
    return FALSE;
  stmt = db_prepare (self, "SELECT path, hash, embedding FROM images ORDER BY path", error);
  if (stmt == NULL)
    {
      sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
      return FALSE;
    }
  self->paths = g_ptr_array_new_with_free_func (g_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const guint8 *blob = sqlite3_column_blob (stmt, 2);

      if (sqlite3_column_bytes (stmt, 2) != 2 * self->dim || sqlite3_column_bytes (stmt, 1) != HASH_BYTES)
        continue;       /* not written by us; skip rather than misread */
      read_halves (blob, self->dim, matrix);
      g_byte_array_append (hashes, sqlite3_column_blob (stmt, 1), HASH_BYTES);
      g_ptr_array_add (self->paths, g_strdup ((const char *) sqlite3_column_text (stmt, 0)));
    }
  if (rc != SQLITE_DONE)
    {
      db_fail (self, error, "reading the embeddings");
      sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
      unload (self);
      return FALSE;
    }
  sqlite3_exec (self->db, "COMMIT", NULL, NULL, NULL);
  self->matrix = (guint16 *) (void *) g_byte_array_free (g_steal_pointer (&matrix), FALSE);
  self->hashes = g_byte_array_free (g_steal_pointer (&hashes), FALSE);
  self->data_version = version;
  self->loaded = TRUE;
  return TRUE;
}

/* The rows under @within (every row when NULL), as indexes. */
static GArray *
rows_within (ClipscopeIndex *self,
             const char     *within)
{
  GArray *rows = g_array_sized_new (FALSE, FALSE, sizeof (int), self->paths->len);
  g_autofree char *folder = NULL, *low = NULL, *high = NULL;

  if (within != NULL)
    {
      folder = g_canonicalize_filename (within, NULL);
      folder_range (folder, &low, &high);
    }
  for (int i = 0; i < (int) self->paths->len; i++)
    {
      const char *path = self->paths->pdata[i];

      if (low == NULL || (strcmp (path, low) >= 0 && strcmp (path, high) < 0))
        g_array_append_val (rows, i);
    }
  return rows;
}

typedef struct {
  float score;
  int   row;
} Ranked;

/* Higher scores first, then lower rows (path order). */
static gboolean
ranks_before (const Ranked *a,
              const Ranked *b)
{
  return a->score > b->score || (a->score == b->score && a->row < b->row);
}

static int
compare_ranked (gconstpointer a,
                gconstpointer b)
{
  return ranks_before (a, b) ? -1 : ranks_before (b, a) ? 1 : 0;
}

/* Keeps in heap[0 … k) the k best seen, the worst of them at the root. */
static void
heap_offer (Ranked *heap,
            int    *len,
            int     k,
            Ranked  item)
{
  int i;

  if (*len == k)
    {
      if (!ranks_before (&item, &heap[0]))
        return;
      /* Replace the root and sift it down. */
      i = 0;
      while (TRUE)
        {
          int child = 2 * i + 1;

          if (child >= k)
            break;
          if (child + 1 < k && ranks_before (&heap[child], &heap[child + 1]))
            child++;
          if (!ranks_before (&item, &heap[child]))
            break;
          heap[i] = heap[child];
          i = child;
        }
      heap[i] = item;
      return;
    }
  i = (*len)++;
  while (i > 0 && ranks_before (&heap[(i - 1) / 2], &item))
    {
      heap[i] = heap[(i - 1) / 2];
      i = (i - 1) / 2;
    }
  heap[i] = item;
}

ClipscopeIndexHit *
clipscope_index_search (ClipscopeIndex *index,
                        const float    *query,
                        int             top_k,
                        const char     *within,
                        int            *n_hits,
                        GError        **error)
{
  g_autoptr(GArray) rows = NULL;
  g_autofree float *scores = NULL;
  g_autofree Ranked *heap = NULL;
  ClipscopeIndexHit *hits;
  int n, k, len = 0;

  g_return_val_if_fail (index != NULL && query != NULL && n_hits != NULL, NULL);
  g_return_val_if_fail (top_k >= 0, NULL);

  *n_hits = 0;
  if (!load (index, error))
    return NULL;
  n = index->paths->len;
  scores = g_new (float, n + 1);
  score_rows (index->matrix, n, index->dim, query, scores);
  rows = rows_within (index, within);
  k = top_k == 0 ? (int) rows->len : MIN (top_k, (int) rows->len);
  heap = g_new (Ranked, k + 1);
  for (guint i = 0; i < rows->len; i++)
    {
      int row = g_array_index (rows, int, i);
      Ranked item = { scores[row], row };

      if (k > 0)
        heap_offer (heap, &len, k, item);
    }
  qsort (heap, len, sizeof (Ranked), compare_ranked);
  hits = g_new0 (ClipscopeIndexHit, len + 1);
  for (int i = 0; i < len; i++)
    {
      hits[i].path = g_strdup (index->paths->pdata[heap[i].row]);
      hits[i].score = heap[i].score;
    }
  *n_hits = len;
  return hits;
}

void
clipscope_index_hits_free (ClipscopeIndexHit *hits,
                           int                n_hits)
{
  for (int i = 0; hits != NULL && i < n_hits; i++)
    g_free (hits[i].path);
  g_free (hits);
}

/* -------------------------------------------------------- duplicates */

static int
find_root (int *parent,
           int  i)
{
  while (parent[i] != i)
    {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
  return i;
}

static void
join (int *parent,
      int  a,
      int  b)
{
  a = find_root (parent, a);
  b = find_root (parent, b);
  /* The smaller index is the root, so a group's root is its first path. */
  if (a < b)
    parent[b] = a;
  else if (b < a)
    parent[a] = b;
}

GPtrArray *
clipscope_index_find_duplicates (ClipscopeIndex *index,
                                 float           threshold,
                                 const char     *within,
                                 GCancellable   *cancellable,
                                 GError        **error)
{
  g_autoptr(GArray) rows = NULL;
  g_autoptr(GHashTable) by_hash = NULL;
  g_autofree float *sub = NULL, *block = NULL;
  g_autofree int *parent = NULL;
  g_autoptr(GPtrArray) members = NULL;
  GPtrArray *groups;
  int n, dim;

  g_return_val_if_fail (index != NULL, NULL);

  if (!load (index, error))
    return NULL;
  rows = rows_within (index, within);
  n = rows->len;
  dim = index->dim;
  parent = g_new (int, n + 1);
  sub = g_new (float, (gsize) n * dim + 1);
  by_hash = g_hash_table_new_full (g_bytes_hash, g_bytes_equal, (GDestroyNotify) g_bytes_unref, NULL);
  for (int i = 0; i < n; i++)
    {
      int row = g_array_index (rows, int, i);
      GBytes *hash = g_bytes_new_static (index->hashes + (gsize) row * HASH_BYTES, HASH_BYTES);
      gpointer first;

      parent[i] = i;
      for (int d = 0; d < dim; d++)
        sub[(gsize) i * dim + d] = clipscope_half_to_float (index->matrix[(gsize) row * dim + d]);
      /* The same bytes are the same image, whatever the threshold. */
      if (g_hash_table_lookup_extended (by_hash, hash, NULL, &first))
        {
          join (parent, GPOINTER_TO_INT (first), i);
          g_bytes_unref (hash);
        }
      else
        g_hash_table_insert (by_hash, hash, GINT_TO_POINTER (i));
    }

  /* The upper triangle of sub · subᵀ, a block at a time. */
  block = g_new (float, (gsize) DUPLICATE_BLOCK * DUPLICATE_BLOCK);
  for (int i0 = 0; i0 < n; i0 += DUPLICATE_BLOCK)
    for (int j0 = i0; j0 < n; j0 += DUPLICATE_BLOCK)
      {
        int bi = MIN (DUPLICATE_BLOCK, n - i0), bj = MIN (DUPLICATE_BLOCK, n - j0);

        if (g_cancellable_set_error_if_cancelled (cancellable, error))
          return NULL;
        clipscope_blas_begin ();
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, bi, bj, dim, 1.0f,
                     sub + (gsize) i0 * dim, dim, sub + (gsize) j0 * dim, dim, 0.0f, block, bj);
        clipscope_blas_end ();
        for (int i = 0; i < bi; i++)
          for (int j = (i0 == j0 ? i + 1 : 0); j < bj; j++)
            if (block[(gsize) i * bj + j] >= threshold)
              join (parent, i0 + i, j0 + j);
      }

  /* Groups in the order of their roots, which are their first paths. */
  members = g_ptr_array_new ();
  g_ptr_array_set_size (members, n);
  for (int i = 0; i < n; i++)
    {
      int root = find_root (parent, i);

      if (members->pdata[root] == NULL)
        members->pdata[root] = g_ptr_array_new ();
      g_ptr_array_add (members->pdata[root], index->paths->pdata[g_array_index (rows, int, i)]);
    }
  groups = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  for (int i = 0; i < n; i++)
    {
      GPtrArray *group = members->pdata[i];
      char **paths;

      if (group == NULL)
        continue;
      if (group->len >= 2)
        {
          paths = g_new0 (char *, group->len + 1);
          for (guint j = 0; j < group->len; j++)
            paths[j] = g_strdup (group->pdata[j]);
          g_ptr_array_add (groups, paths);
        }
      g_ptr_array_unref (group);
    }
  return groups;
}

/* ------------------------------------------------------------- query */

void
clipscope_query_combine (const float *rows,
                         int          n,
                         int          dim,
                         float       *query)
{
  double norm = 0.0;

  g_return_if_fail (n > 0 && dim > 0 && rows != NULL && query != NULL);

  for (int d = 0; d < dim; d++)
    {
      double sum = 0.0;

      for (int i = 0; i < n; i++)
        sum += rows[(gsize) i * dim + d];
      query[d] = (float) (sum / n);
      norm += (double) query[d] * query[d];
    }
  norm = sqrt (norm);
  if (norm > 0.0)
    for (int d = 0; d < dim; d++)
      query[d] = (float) (query[d] / norm);
}

gboolean
clipscope_query_build (ClipscopeContext   *ctx,
                       const char * const *texts,
                       int                 n_texts,
                       const char * const *templates,
                       int                 n_templates,
                       const char * const *images,
                       int                 n_images,
                       float              *query,
                       GCancellable       *cancellable,
                       GError            **error)
{
  static const char * const as_typed[] = { "{}" };
  ClipscopeModel *model;
  g_autofree float *rows = NULL;
  int dim;

  g_return_val_if_fail (ctx != NULL && query != NULL, FALSE);
  g_return_val_if_fail (n_texts >= 0 && n_templates >= 0 && n_images >= 0, FALSE);

  if (n_texts + n_images == 0)
    {
      g_set_error_literal (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT,
                           "an empty query: give a text or an example image");
      return FALSE;
    }
  for (int t = 0; t < n_templates; t++)
    if (!clipscope_template_is_valid (templates[t]))
      {
        g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT,
                     "template \"%s\" must hold exactly one {}", templates[t]);
        return FALSE;
      }
  if (n_templates == 0)
    {
      templates = as_typed;
      n_templates = 1;
    }
  model = clipscope_context_get_model (ctx);
  dim = model->info.embed_dim;
  rows = g_new (float, (gsize) (n_texts + n_images) * dim);
  if (!clipscope_context_encode_labels (ctx, texts, n_texts, templates, n_templates, rows,
                                        cancellable, error)
      || !clipscope_context_encode_image_files (ctx, images, n_images, rows + (gsize) n_texts * dim,
                                                NULL, NULL, cancellable, error))
    return FALSE;
  clipscope_query_combine (rows, n_texts + n_images, dim, query);
  return TRUE;
}
