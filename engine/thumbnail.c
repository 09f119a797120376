/* thumbnail.c — thumbnails decoded in the sandboxed decoder processes
 *
 * A program that shows strangers' images decodes them as often as it
 * encodes them, so its thumbnails go through the same helpers as the
 * model's input (decoder.h). The helpers are shared by every caller:
 * each is a pool of one, kept in a queue, so that two threads never
 * talk to the same process; there are as many as threads that ask.
 */
#include "decoder.h"

#include <unistd.h>

/* The threads of clipscope_thumbnail_load_async(), and so the helpers
 * they keep busy. */
#define N_THUMBNAIL_THREADS 2

typedef struct {
  char                 *path;
  int                   max_width;
  int                   max_height;
  ClipscopeModelOptions options;
  int                   width;
  int                   height;
} ThumbnailJob;

static GAsyncQueue *idle_helpers;
static const char thumbnail_tag;   /* marks the tasks of this file */   /* of ClipscopeDecoderPool, one helper each */

static void
thumbnail_job_free (ThumbnailJob *job)
{
  g_free (job->path);
  g_free (job);
}

static void
preprocess_params (const ClipscopeModelOptions *options,
                   ClipscopePreprocessParams   *params)
{
  *params = (ClipscopePreprocessParams) { 0 };
  params->max_pixels = options->max_image_pixels > 0 ? options->max_image_pixels
                                                     : CLIPSCOPE_MAX_IMAGE_PIXELS;
  params->ignore_orientation = options->ignore_exif_orientation;
}

/* An idle helper, or a new one; NULL where decoding stays in this
 * process (CLIPSCOPE_DECODER=in-process, or no helper installed). */
static ClipscopeDecoderPool *
take_helper (void)
{
  static gsize initialised;
  ClipscopeDecoderPool *helper;

  if (g_once_init_enter (&initialised))
    {
      idle_helpers = g_async_queue_new_full ((GDestroyNotify) clipscope_decoder_pool_free);
      g_once_init_leave (&initialised, 1);
    }
  helper = g_async_queue_try_pop (idle_helpers);
  return helper != NULL ? helper : clipscope_decoder_pool_new (1);
}

GBytes *
clipscope_thumbnail_load (const char                  *path,
                          int                          max_width,
                          int                          max_height,
                          const ClipscopeModelOptions *options,
                          GCancellable                *cancellable,
                          int                         *width,
                          int                         *height,
                          GError                     **error)
{
  ClipscopeModelOptions defaults = clipscope_model_options_default ();
  ClipscopePreprocessParams params;
  ClipscopeDecoderPool *helper;
  GBytes *pixels;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (width != NULL && height != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (max_width < 1 || max_width > CLIPSCOPE_THUMBNAIL_MAX_SIDE
      || max_height < 1 || max_height > CLIPSCOPE_THUMBNAIL_MAX_SIDE)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT,
                   "a thumbnail of %d × %d pixels: each side must be 1 to %d",
                   max_width, max_height, CLIPSCOPE_THUMBNAIL_MAX_SIDE);
      return NULL;
    }
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  preprocess_params (options != NULL ? options : &defaults, &params);

  helper = take_helper ();
  if (helper != NULL)
    {
      pixels = clipscope_decoder_pool_thumbnail (helper, path, &params, max_width, max_height,
                                                 cancellable, width, height, error);
      g_async_queue_push (idle_helpers, helper);
      return pixels;
    }
  fd = clipscope_image_open (path, error);
  if (fd < 0)
    return NULL;
  pixels = clipscope_image_thumbnail_fd (fd, path, &params, max_width, max_height,
                                         width, height, error);
  close (fd);
  return pixels;
}

static void
thumbnail_thread (gpointer data,
                  gpointer user_data)
{
  g_autoptr(GTask) task = data;
  ThumbnailJob *job = g_task_get_task_data (task);
  GError *error = NULL;
  GBytes *pixels;

  if (g_task_return_error_if_cancelled (task))
    return;
  pixels = clipscope_thumbnail_load (job->path, job->max_width, job->max_height, &job->options,
                                     g_task_get_cancellable (task), &job->width, &job->height,
                                     &error);
  if (pixels != NULL)
    g_task_return_pointer (task, pixels, (GDestroyNotify) g_bytes_unref);
  else
    g_task_return_error (task, error);
}

/* Thumbnails decode on threads of their own rather than in GTask's
 * shared pool, which would grow to a dozen threads, each waiting on a
 * helper, for a folder of images. */
static GThreadPool *
thumbnail_threads (void)
{
  static GThreadPool *pool;

  if (g_once_init_enter (&pool))
    g_once_init_leave (&pool, g_thread_pool_new (thumbnail_thread, NULL, N_THUMBNAIL_THREADS,
                                                 FALSE, NULL));
  return pool;
}

void
clipscope_thumbnail_load_async (const char                  *path,
                                int                          max_width,
                                int                          max_height,
                                const ClipscopeModelOptions *options,
                                GCancellable                *cancellable,
                                GAsyncReadyCallback          callback,
                                gpointer                     user_data)
{
  GTask *task;
  ThumbnailJob *job;

  g_return_if_fail (path != NULL);

  job = g_new0 (ThumbnailJob, 1);
  job->path = g_strdup (path);
  job->max_width = max_width;
  job->max_height = max_height;
  job->options = options != NULL ? *options : clipscope_model_options_default ();
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, (gpointer) &thumbnail_tag);
  g_task_set_name (task, "clipscope-thumbnail");
  g_task_set_task_data (task, job, (GDestroyNotify) thumbnail_job_free);
  g_thread_pool_push (thumbnail_threads (), task, NULL);
}

GBytes *
clipscope_thumbnail_load_finish (GAsyncResult  *result,
                                 int           *width,
                                 int           *height,
                                 GError       **error)
{
  ThumbnailJob *job;
  GBytes *pixels;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == &thumbnail_tag, NULL);

  job = g_task_get_task_data (G_TASK (result));
  pixels = g_task_propagate_pointer (G_TASK (result), error);
  if (pixels != NULL)
    {
      *width = job->width;
      *height = job->height;
    }
  return pixels;
}
