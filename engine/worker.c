/* worker.c — one thread that owns the model and runs encoding jobs in order */
#include "clipscope-private.h"
#include "cpu/cpu-ops.h"

#include <glib/gstdio.h>
#include <string.h>

/* GLib is not built for ThreadSanitizer, which therefore cannot see that
 * the queue's own lock orders each push before the pop that takes the
 * item, nor that GTask hands results back under a lock. These annotations
 * state those orderings, so that what it reports is ours. */
#if defined(__SANITIZE_THREAD__)
void __tsan_acquire (void *addr);
void __tsan_release (void *addr);
# define HAPPENS_BEFORE(p) __tsan_release (p)
# define HAPPENS_AFTER(p)  __tsan_acquire (p)
#else
# define HAPPENS_BEFORE(p) ((void) (p))
# define HAPPENS_AFTER(p)  ((void) (p))
#endif

/* Caches are emptied whole when they reach this many entries, which bounds
 * their memory (a 768-wide embedding is 3 KiB) without bookkeeping. */
#define MAX_CACHE_ENTRIES 20000

typedef enum {
  JOB_LOAD_MODEL,
  JOB_ENCODE_IMAGE,
  JOB_ENCODE_LABELS,
  JOB_EXPLAIN_IMAGE,
} JobKind;

/* Source tags: ISO C has no cast from a function pointer to gpointer, so
 * the tags are the addresses of these instead of the _async functions. */
static const char load_model_tag, encode_image_tag, encode_labels_tag, explain_image_tag;

typedef struct {
  JobKind  kind;
  char    *path;       /* model folder or image file */
  GStrv    labels;
  GStrv    templates;
  ClipscopePrecision precision;   /* of a load job's context */
} Job;

typedef struct {
  ClipscopeModel *model;
  char           *backend_name;
  char           *device_name;
} LoadResult;

typedef struct {
  float *embeddings;   /* [n, embed_dim]; for an explain job [grid², embed_dim] */
  int    embed_dim;
  int    n_encoded;
  int    grid;
} EncodeResult;

struct _ClipscopeWorker {
  ClipscopeContextOptions options;
  ClipscopePrecision      precision;   /* for the next load; the caller's thread's */
  GThread     *thread;
  GAsyncQueue *queue;     /* of GTask; the worker itself is the stop sentinel */

  /* Owned by the worker thread alone */
  ClipscopeModel   *model;
  ClipscopeContext *ctx;
  GHashTable       *text_cache;   /* "template\x1flabel" → float[embed_dim] */
  GHashTable       *image_cache;  /* "path\x1fsize\x1fmtime" → float[embed_dim] */
};

static void
job_free (gpointer data)
{
  Job *job = data;

  g_free (job->path);
  g_strfreev (job->labels);
  g_strfreev (job->templates);
  g_free (job);
}

static void
load_result_free (gpointer data)
{
  LoadResult *result = data;

  g_clear_pointer (&result->model, clipscope_model_unref);
  g_free (result->backend_name);
  g_free (result->device_name);
  g_free (result);
}

static void
encode_result_free (gpointer data)
{
  EncodeResult *result = data;

  g_free (result->embeddings);
  g_free (result);
}

static void
cache_insert (GHashTable *cache,
              char       *key,
              float      *embedding)
{
  if (g_hash_table_size (cache) >= MAX_CACHE_ENTRIES)
    g_hash_table_remove_all (cache);
  g_hash_table_replace (cache, key, embedding);
}

static void
run_load_model (ClipscopeWorker *self,
                GTask           *task,
                Job             *job)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeModel) model = NULL;
  g_autoptr(ClipscopeContext) ctx = NULL;
  ClipscopeContextOptions options = self->options;
  LoadResult *result;

  options.precision = job->precision;
  model = clipscope_model_load (job->path, NULL, g_task_get_cancellable (task), &error);
  if (model != NULL)
    ctx = clipscope_context_new (model, &options, &error);
  if (ctx == NULL)
    {
      HAPPENS_BEFORE (task);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* Only a model that loaded replaces the one in use. */
  g_clear_pointer (&self->ctx, clipscope_context_free);
  g_clear_pointer (&self->model, clipscope_model_unref);
  self->model = clipscope_model_ref (model);
  self->ctx = g_steal_pointer (&ctx);
  g_hash_table_remove_all (self->text_cache);
  g_hash_table_remove_all (self->image_cache);

  result = g_new0 (LoadResult, 1);
  result->model = g_steal_pointer (&model);
  result->backend_name = g_strdup (clipscope_context_get_backend_name (self->ctx));
  result->device_name = g_strdup (clipscope_context_get_device_name (self->ctx));
  HAPPENS_BEFORE (task);
  g_task_return_pointer (task, result, load_result_free);
}

static gboolean
require_model (ClipscopeWorker *self,
               GTask           *task)
{
  if (self->ctx != NULL)
    return TRUE;
  HAPPENS_BEFORE (task);
  g_task_return_new_error (task, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT,
                           "no model is loaded");
  return FALSE;
}

static void
run_encode_image (ClipscopeWorker *self,
                  GTask           *task,
                  Job             *job)
{
  const int e = clipscope_model_get_info (self->model)->embed_dim;
  g_autoptr(GError) error = NULL;
  g_autofree float *embedding = NULL;
  g_autofree char *key = NULL;
  const char *paths[] = { job->path };
  GStatBuf st;
  float *cached;
  EncodeResult *result;

  /* Size and modification time (to the nanosecond, as an editor may save
   * twice in a second) in the key make an edited file a miss. */
  if (g_stat (job->path, &st) == 0)
    key = g_strdup_printf ("%s\x1f%" G_GINT64_FORMAT "\x1f%" G_GINT64_FORMAT ".%09ld",
                           job->path, (gint64) st.st_size, (gint64) st.st_mtim.tv_sec,
                           (long) st.st_mtim.tv_nsec);

  embedding = g_new (float, e);
  cached = key != NULL ? g_hash_table_lookup (self->image_cache, key) : NULL;
  if (cached != NULL)
    memcpy (embedding, cached, e * sizeof (float));
  else if (clipscope_context_encode_image_files (self->ctx, paths, 1, embedding, NULL, NULL,
                                                 g_task_get_cancellable (task), &error))
    {
      if (key != NULL)
        cache_insert (self->image_cache, g_steal_pointer (&key), g_memdup2 (embedding, e * sizeof (float)));
    }
  else
    {
      HAPPENS_BEFORE (task);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  result = g_new0 (EncodeResult, 1);
  result->embeddings = g_steal_pointer (&embedding);
  result->embed_dim = e;
  result->n_encoded = cached == NULL;
  HAPPENS_BEFORE (task);
  g_task_return_pointer (task, result, encode_result_free);
}

static char *
text_key (const char *template_,
          const char *label)
{
  return g_strconcat (template_, "\x1f", label, NULL);
}

/* Encodes the (template, label) texts missing from the cache, all in one
 * call so they share batches. Returns how many went through the encoder. */
static int
fill_text_cache (ClipscopeWorker  *self,
                 GTask            *task,
                 Job              *job,
                 GError          **error)
{
  const int e = clipscope_model_get_info (self->model)->embed_dim;
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) queued = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree float *embeddings = NULL;

  for (char **l = job->labels; *l != NULL; l++)
    for (char **t = job->templates; *t != NULL; t++)
      {
        g_autofree char *key = text_key (*t, *l);

        if (g_hash_table_contains (self->text_cache, key) || g_hash_table_contains (queued, key))
          continue;
        g_hash_table_add (queued, key);
        g_ptr_array_add (texts, clipscope_template_apply (*t, *l));
        g_ptr_array_add (keys, g_steal_pointer (&key));
      }
  if (texts->len == 0)
    return 0;

  embeddings = g_new (float, (gsize) texts->len * e);
  if (!clipscope_context_encode_texts (self->ctx, (const char * const *) texts->pdata,
                                       texts->len, embeddings, g_task_get_cancellable (task), error))
    return -1;

  /* The cache may be emptied while it is filled; fewer entries than keys
   * would then remain, so insert only after every text is encoded. */
  if (g_hash_table_size (self->text_cache) + keys->len > MAX_CACHE_ENTRIES)
    g_hash_table_remove_all (self->text_cache);
  for (guint i = 0; i < keys->len; i++)
    g_hash_table_replace (self->text_cache, g_strdup (keys->pdata[i]),
                          g_memdup2 (embeddings + (gsize) i * e, e * sizeof (float)));
  return texts->len;
}

static void
run_encode_labels (ClipscopeWorker *self,
                   GTask           *task,
                   Job             *job)
{
  const int e = clipscope_model_get_info (self->model)->embed_dim;
  const guint n_labels = g_strv_length (job->labels);
  g_autoptr(GError) error = NULL;
  EncodeResult *result;
  int n_encoded;

  for (char **t = job->templates; *t != NULL; t++)
    if (!clipscope_template_is_valid (*t))
      {
        HAPPENS_BEFORE (task);
        g_task_return_new_error (task, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT,
                                 "template \"%s\" does not hold exactly one {} placeholder", *t);
        return;
      }
  if (job->templates[0] == NULL)
    {
      HAPPENS_BEFORE (task);
      g_task_return_new_error (task, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT,
                               "no template is enabled");
      return;
    }

  n_encoded = fill_text_cache (self, task, job, &error);
  if (n_encoded < 0)
    {
      HAPPENS_BEFORE (task);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* As clipscope_context_encode_labels(): sum the normalised embeddings of
   * a label's texts in template order, then normalise the sum. */
  result = g_new0 (EncodeResult, 1);
  result->embeddings = g_new0 (float, (gsize) MAX (n_labels, 1) * e);
  result->embed_dim = e;
  result->n_encoded = n_encoded;
  for (guint i = 0; i < n_labels; i++)
    for (char **t = job->templates; *t != NULL; t++)
      {
        g_autofree char *key = text_key (*t, job->labels[i]);
        const float *src = g_hash_table_lookup (self->text_cache, key);
        float *dst = result->embeddings + (gsize) i * e;

        g_assert (src != NULL);
        for (int j = 0; j < e; j++)
          dst[j] += src[j];
      }
  clipscope_cpu_l2_normalize (result->embeddings, n_labels, e);
  HAPPENS_BEFORE (task);
  g_task_return_pointer (task, result, encode_result_free);
}

/* Spatial embeddings are not cached: a front end asks for those of the
 * image it shows, once, and maps every label from them itself. */
static void
run_explain_image (ClipscopeWorker *self,
                   GTask           *task,
                   Job             *job)
{
  const ClipscopeModelInfo *info = clipscope_model_get_info (self->model);
  const int grid = clipscope_model_get_explain_grid (self->model);
  g_autoptr(GError) error = NULL;
  g_autofree float *pixels = g_new (float, (gsize) 3 * info->image_size * info->image_size);
  g_autofree float *spatial = g_new (float, (gsize) grid * grid * info->embed_dim);
  EncodeResult *result;

  if (!clipscope_context_preprocess_file (self->ctx, job->path, pixels, &error)
      || !clipscope_context_explain_pixels (self->ctx, pixels, NULL, spatial,
                                            g_task_get_cancellable (task), &error))
    {
      HAPPENS_BEFORE (task);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  result = g_new0 (EncodeResult, 1);
  result->embeddings = g_steal_pointer (&spatial);
  result->embed_dim = info->embed_dim;
  result->grid = grid;
  HAPPENS_BEFORE (task);
  g_task_return_pointer (task, result, encode_result_free);
}

static gpointer
worker_thread (gpointer data)
{
  ClipscopeWorker *self = data;

  for (;;)
    {
      g_autoptr(GTask) task = g_async_queue_pop (self->queue);
      Job *job;

      HAPPENS_AFTER (task);
      if (task == (gpointer) self)
        {
          g_steal_pointer (&task);
          break;
        }
      job = g_task_get_task_data (task);
      HAPPENS_BEFORE (task);
      if (g_task_return_error_if_cancelled (task))
        continue;
      if (job->kind == JOB_LOAD_MODEL)
        run_load_model (self, task, job);
      else if (require_model (self, task))
        {
          if (job->kind == JOB_ENCODE_IMAGE)
            run_encode_image (self, task, job);
          else if (job->kind == JOB_EXPLAIN_IMAGE)
            run_explain_image (self, task, job);
          else
            run_encode_labels (self, task, job);
        }
    }
  return NULL;
}

ClipscopeWorker *
clipscope_worker_new (const ClipscopeContextOptions *options)
{
  ClipscopeWorker *self = g_new0 (ClipscopeWorker, 1);

  self->options = options != NULL ? *options : clipscope_context_options_default ();
  self->precision = self->options.precision;
  self->queue = g_async_queue_new ();
  self->text_cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->image_cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->thread = g_thread_new ("clipscope-worker", worker_thread, self);
  return self;
}

void
clipscope_worker_free (ClipscopeWorker *self)
{
  GTask *task;

  if (self == NULL)
    return;

  /* Jobs still queued are cancelled; the running one finishes first. */
  while ((task = g_async_queue_try_pop (self->queue)) != NULL)
    {
      HAPPENS_BEFORE (task);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "the worker was stopped");
      g_object_unref (task);
    }
  g_async_queue_push (self->queue, self);
  g_thread_join (self->thread);

  g_async_queue_unref (self->queue);
  g_clear_pointer (&self->ctx, clipscope_context_free);
  g_clear_pointer (&self->model, clipscope_model_unref);
  g_hash_table_unref (self->text_cache);
  g_hash_table_unref (self->image_cache);
  g_free (self);
}

static void
push_job (ClipscopeWorker     *self,
          Job                 *job,
          gconstpointer        source_tag,
          GCancellable        *cancellable,
          GAsyncReadyCallback  callback,
          gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, (gpointer) source_tag);
  g_task_set_task_data (task, job, job_free);
  HAPPENS_BEFORE (task);
  g_async_queue_push (self->queue, task);
}

/* A job on one file or folder. */
static Job *
path_job_new (JobKind     kind,
              const char *path)
{
  Job *job = g_new0 (Job, 1);

  job->kind = kind;
  job->path = g_strdup (path);
  return job;
}

void
clipscope_worker_load_model_async (ClipscopeWorker     *self,
                                   const char          *dir,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (dir != NULL);

  Job *job = path_job_new (JOB_LOAD_MODEL, dir);

  job->precision = self->precision;
  push_job (self, job, &load_model_tag, cancellable, callback, user_data);
}

void
clipscope_worker_set_precision (ClipscopeWorker    *self,
                                ClipscopePrecision  precision)
{
  g_return_if_fail (self != NULL);

  self->precision = precision;
}

ClipscopeModel *
clipscope_worker_load_model_finish (ClipscopeWorker  *self,
                                    GAsyncResult     *result,
                                    char            **backend_name,
                                    char            **device_name,
                                    GError          **error)
{
  LoadResult *loaded;
  ClipscopeModel *model;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == &load_model_tag, NULL);

  HAPPENS_AFTER (result);

  loaded = g_task_propagate_pointer (G_TASK (result), error);
  if (loaded == NULL)
    return NULL;
  if (backend_name != NULL)
    *backend_name = g_steal_pointer (&loaded->backend_name);
  if (device_name != NULL)
    *device_name = g_steal_pointer (&loaded->device_name);
  model = g_steal_pointer (&loaded->model);
  load_result_free (loaded);
  return model;
}

void
clipscope_worker_encode_image_async (ClipscopeWorker     *self,
                                     const char          *path,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (path != NULL);

  push_job (self, path_job_new (JOB_ENCODE_IMAGE, path), &encode_image_tag,
            cancellable, callback, user_data);
}

static float *
encode_finish (GAsyncResult  *result,
               gconstpointer  source_tag,
               int           *embed_dim,
               int           *n_encoded,
               int           *grid,
               GError       **error)
{
  EncodeResult *encoded;
  float *embeddings;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);

  HAPPENS_AFTER (result);

  encoded = g_task_propagate_pointer (G_TASK (result), error);
  if (encoded == NULL)
    return NULL;
  if (embed_dim != NULL)
    *embed_dim = encoded->embed_dim;
  if (n_encoded != NULL)
    *n_encoded = encoded->n_encoded;
  if (grid != NULL)
    *grid = encoded->grid;
  embeddings = g_steal_pointer (&encoded->embeddings);
  encode_result_free (encoded);
  return embeddings;
}

float *
clipscope_worker_encode_image_finish (ClipscopeWorker  *self,
                                      GAsyncResult     *result,
                                      int              *embed_dim,
                                      GError          **error)
{
  return encode_finish (result, &encode_image_tag, embed_dim, NULL, NULL, error);
}

void
clipscope_worker_encode_labels_async (ClipscopeWorker     *self,
                                      const char * const  *labels,
                                      const char * const  *templates,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  Job *job;

  g_return_if_fail (self != NULL);
  g_return_if_fail (labels != NULL && templates != NULL);

  job = g_new0 (Job, 1);
  job->kind = JOB_ENCODE_LABELS;
  job->labels = g_strdupv ((char **) labels);
  job->templates = g_strdupv ((char **) templates);
  push_job (self, job, &encode_labels_tag, cancellable, callback, user_data);
}

float *
clipscope_worker_encode_labels_finish (ClipscopeWorker  *self,
                                       GAsyncResult     *result,
                                       int              *n_encoded,
                                       GError          **error)
{
  return encode_finish (result, &encode_labels_tag, NULL, n_encoded, NULL, error);
}

void
clipscope_worker_explain_image_async (ClipscopeWorker     *self,
                                      const char          *path,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (path != NULL);

  push_job (self, path_job_new (JOB_EXPLAIN_IMAGE, path), &explain_image_tag,
            cancellable, callback, user_data);
}

float *
clipscope_worker_explain_image_finish (ClipscopeWorker  *self,
                                       GAsyncResult     *result,
                                       int              *grid,
                                       int              *embed_dim,
                                       GError          **error)
{
  return encode_finish (result, &explain_image_tag, embed_dim, NULL, grid, error);
}
