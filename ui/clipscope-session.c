/* clipscope-session.c — images, labels and templates, and their scores
 *
 * The session is what the window shows and what the tests drive: three
 * lists (images, labels, templates) and the similarity matrix between the
 * first two. Every encoder call goes to a ClipscopeWorker thread; results
 * come back through GTask callbacks on the main thread. Each request holds
 * the cancellable that was current when it was made, and a result whose
 * cancellable has since been replaced is dropped, as
 * gnome-text-editor's document statistics do.
 */
#include "clipscope-session.h"

#include <clipscope.h>
#include <math.h>
#include <string.h>

#define DEFAULT_MAX_FOLDER_IMAGES 2000
#define MAX_FOLDER_DEPTH          8
#define FALLBACK_TEMPLATE         "a photo of a {}."

struct _ClipscopeSession {
  GObject          parent_instance;

  /* Owned References */
  ClipscopeWorker *worker;
  ClipscopeModel  *model;
  char            *model_path;
  char            *backend_name;
  char            *device_name;
  GListStore      *images;
  GtkStringList   *labels;
  GListStore      *templates;
  GHashTable      *image_paths;          /* paths in @images, to skip duplicates */
  GCancellable    *model_cancellable;
  GCancellable    *images_cancellable;
  GCancellable    *labels_cancellable;
  GPtrArray       *failed_names;         /* files of this batch that did not decode */

  /* Scores: rows follow @images, columns follow @scored_labels */
  GStrv            scored_labels;
  float           *label_embeddings;     /* [n_scored_labels, embed_dim] */
  int              embed_dim;
  float           *similarity;           /* [n_score_images, n_score_labels], NaN where unknown */
  float           *probabilities;
  guint            n_score_images;
  guint            n_score_labels;

  guint            generation;           /* bumped when the model changes */
  guint            debounce_id;
  guint            rescore_id;
  guint            n_batch_total;
  guint            n_batch_done;
  guint            n_adding;             /* folder walks still running */
  GQueue           pending;              /* ClipscopeImage walked but not yet listed */
  guint            splice_id;
  guint            max_folder_images;
  guint            n_label_jobs;
  guint            n_texts_encoded;
  guint            model_pending : 1;
  guint            labels_pending : 1;
  guint            busy : 1;
};

G_DEFINE_FINAL_TYPE (ClipscopeSession, clipscope_session, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_MODEL_PATH,
  PROP_BACKEND_NAME,
  PROP_DEVICE_NAME,
  PROP_BUSY,
  PROP_PROGRESS,
  PROP_MAX_FOLDER_IMAGES,
  N_PROPS,
};

enum {
  SIGNAL_SCORES_CHANGED,
  SIGNAL_MODEL_FAILED,
  SIGNAL_NOTICE,
  N_SIGNALS,
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void encode_pending_images (ClipscopeSession *self);
static void encode_labels_now (ClipscopeSession *self);

/* ------------------------------------------------------------ state */

static void
update_busy (ClipscopeSession *self)
{
  gboolean busy = self->model_pending || self->labels_pending || self->debounce_id != 0
                  || self->n_batch_total > self->n_batch_done || self->n_adding > 0
                  || self->splice_id != 0
                  || self->rescore_id != 0;

  if (busy != self->busy)
    {
      self->busy = busy;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROGRESS]);
}

static void
replace_cancellable (GCancellable **cancellable)
{
  g_cancellable_cancel (*cancellable);
  g_clear_object (cancellable);
  *cancellable = g_cancellable_new ();
}

static void
rescore (ClipscopeSession *self)
{
  guint n_images = g_list_model_get_n_items (G_LIST_MODEL (self->images));
  guint n_labels = self->scored_labels != NULL ? g_strv_length (self->scored_labels) : 0;
  g_autofree float *rows = NULL;
  g_autofree guint *which = NULL;
  g_autofree float *sim = NULL;
  g_autofree float *prob = NULL;
  guint n_rows = 0;

  g_clear_pointer (&self->similarity, g_free);
  g_clear_pointer (&self->probabilities, g_free);
  self->n_score_images = n_images;
  self->n_score_labels = n_labels;
  self->similarity = g_new (float, (gsize) MAX (n_images * n_labels, 1));
  self->probabilities = g_new (float, (gsize) MAX (n_images * n_labels, 1));
  for (gsize i = 0; i < (gsize) n_images * n_labels; i++)
    self->similarity[i] = self->probabilities[i] = NAN;

  if (n_images > 0 && n_labels > 0 && self->label_embeddings != NULL && self->model != NULL)
    {
      /* Only images already encoded take part; gather them into one
       * matrix so scoring is a single product. */
      rows = g_new (float, (gsize) n_images * self->embed_dim);
      which = g_new (guint, n_images);
      for (guint i = 0; i < n_images; i++)
        {
          g_autoptr(ClipscopeImage) image = g_list_model_get_item (G_LIST_MODEL (self->images), i);
          int dim = 0;
          const float *e = clipscope_image_get_embedding (image, &dim);

          if (e == NULL || dim != self->embed_dim)
            continue;
          memcpy (rows + (gsize) n_rows * dim, e, dim * sizeof (float));
          which[n_rows++] = i;
        }
      sim = g_new (float, (gsize) MAX (n_rows * n_labels, 1));
      prob = g_new (float, (gsize) MAX (n_rows * n_labels, 1));
      clipscope_score (rows, n_rows, self->label_embeddings, n_labels, self->embed_dim,
                       clipscope_model_get_info (self->model)->logit_scale, sim, prob);
      for (guint r = 0; r < n_rows; r++)
        {
          memcpy (self->similarity + (gsize) which[r] * n_labels, sim + (gsize) r * n_labels,
                  n_labels * sizeof (float));
          memcpy (self->probabilities + (gsize) which[r] * n_labels, prob + (gsize) r * n_labels,
                  n_labels * sizeof (float));
        }
    }
  g_signal_emit (self, signals[SIGNAL_SCORES_CHANGED], 0);
}

static gboolean
rescore_cb (gpointer user_data)
{
  ClipscopeSession *self = user_data;

  self->rescore_id = 0;
  rescore (self);
  update_busy (self);
  return G_SOURCE_REMOVE;
}

/* Hundreds of image results can arrive in a burst; they are scored once
 * the loop is idle, and while a batch runs at most ten times a second, so
 * the window redraws the matrix at that pace rather than per image. */
static void
queue_rescore (ClipscopeSession *self)
{
  if (self->rescore_id != 0)
    return;
  if (self->n_batch_total > self->n_batch_done)
    self->rescore_id = g_timeout_add_full (G_PRIORITY_DEFAULT_IDLE, 100, rescore_cb, self, NULL);
  else
    self->rescore_id = g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, rescore_cb, self, NULL);
}

/* ------------------------------------------------------------ model */

typedef struct {
  GWeakRef  session;
  char     *dir;
} LoadJob;

static void
load_job_free (LoadJob *job)
{
  g_weak_ref_clear (&job->session);
  g_free (job->dir);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LoadJob, load_job_free)

static void
model_loaded_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(LoadJob) job = user_data;
  g_autoptr(ClipscopeSession) self = g_weak_ref_get (&job->session);
  g_autoptr(GError) error = NULL;
  g_autofree char *backend = NULL;
  g_autofree char *device = NULL;
  ClipscopeModel *model;

  if (self == NULL)
    return;
  model = clipscope_worker_load_model_finish (self->worker, result, &backend, &device, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  self->model_pending = FALSE;
  if (model == NULL)
    g_signal_emit (self, signals[SIGNAL_MODEL_FAILED], 0, job->dir, error->message);
  else
    {
      g_clear_pointer (&self->model, clipscope_model_unref);
      self->model = model;
      g_free (self->model_path);
      self->model_path = g_strdup (clipscope_model_get_path (model));
      g_free (self->backend_name);
      self->backend_name = g_steal_pointer (&backend);
      g_free (self->device_name);
      self->device_name = g_steal_pointer (&device);
      self->embed_dim = clipscope_model_get_info (model)->embed_dim;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL_PATH]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BACKEND_NAME]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DEVICE_NAME]);
    }

  /* Embeddings were dropped when the load began; the worker now holds
   * the new model, or still the old one if this one failed. */
  if (self->model != NULL)
    {
      encode_pending_images (self);
      encode_labels_now (self);
    }
  update_busy (self);
}

/**
 * clipscope_session_load_model:
 *
 * Loads the model in @dir on the worker. Until it is ready the old scores
 * stay hidden; if it fails, #ClipscopeSession::model-failed carries the
 * engine's message and the previous model is used again.
 */
void
clipscope_session_load_model (ClipscopeSession *self,
                              const char       *dir)
{
  LoadJob *job;
  guint n;

  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));
  g_return_if_fail (dir != NULL);

  self->generation++;
  replace_cancellable (&self->model_cancellable);
  replace_cancellable (&self->images_cancellable);
  replace_cancellable (&self->labels_cancellable);
  self->n_batch_total = self->n_batch_done = 0;
  self->labels_pending = FALSE;
  g_clear_pointer (&self->label_embeddings, g_free);
  g_clear_pointer (&self->scored_labels, g_strfreev);
  n = g_list_model_get_n_items (G_LIST_MODEL (self->images));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ClipscopeImage) image = g_list_model_get_item (G_LIST_MODEL (self->images), i);
      clipscope_image_set_embedding (image, NULL, 0);
    }
  for (GList *l = self->pending.head; l != NULL; l = l->next)
    clipscope_image_set_embedding (l->data, NULL, 0);
  self->model_pending = TRUE;

  job = g_new0 (LoadJob, 1);
  g_weak_ref_init (&job->session, self);
  job->dir = g_strdup (dir);
  clipscope_worker_load_model_async (self->worker, dir, self->model_cancellable,
                                     model_loaded_cb, job);
  queue_rescore (self);
  update_busy (self);
}

/* ------------------------------------------------------------ images */

typedef struct {
  GWeakRef        session;
  ClipscopeImage *image;
  GCancellable   *cancellable;
  guint           generation;
} ImageJob;

static void
image_job_free (ImageJob *job)
{
  g_weak_ref_clear (&job->session);
  g_clear_object (&job->image);
  g_clear_object (&job->cancellable);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ImageJob, image_job_free)

static void
report_failures (ClipscopeSession *self)
{
  g_autoptr(GString) names = g_string_new (NULL);
  g_autofree char *message = NULL;
  guint shown = MIN (self->failed_names->len, 5);

  if (self->failed_names->len == 0)
    return;
  for (guint i = 0; i < shown; i++)
    g_string_append_printf (names, "%s%s", i > 0 ? ", " : "", (char *) self->failed_names->pdata[i]);
  if (self->failed_names->len > shown)
    g_string_append_printf (names, " and %u more", self->failed_names->len - shown);
  message = g_strdup_printf ("Could not read %s", names->str);
  g_ptr_array_set_size (self->failed_names, 0);
  g_signal_emit (self, signals[SIGNAL_NOTICE], 0, message);
}

static gboolean
remove_image_object (ClipscopeSession *self,
                     ClipscopeImage   *image)
{
  GList *link = g_queue_find (&self->pending, image);
  guint position;

  if (link != NULL)
    {
      g_hash_table_remove (self->image_paths, clipscope_image_get_path (image));
      g_queue_delete_link (&self->pending, link);
      g_object_unref (image);
      return TRUE;
    }
  if (!g_list_store_find (self->images, image, &position))
    return FALSE;
  g_hash_table_remove (self->image_paths, clipscope_image_get_path (image));
  g_list_store_remove (self->images, position);
  return TRUE;
}

static void
image_encoded_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(ImageJob) job = user_data;
  g_autoptr(ClipscopeSession) self = g_weak_ref_get (&job->session);
  g_autoptr(GError) error = NULL;
  float *embedding;
  int dim = 0;

  if (self == NULL)
    return;
  embedding = clipscope_worker_encode_image_finish (self->worker, result, &dim, &error);

  /* A newer model or a Cancel has made this result meaningless. */
  if (job->generation != self->generation || job->cancellable != self->images_cancellable)
    {
      g_free (embedding);
      return;
    }

  self->n_batch_done++;
  if (embedding != NULL)
    clipscope_image_set_embedding (job->image, embedding, dim);
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
           && remove_image_object (self, job->image))
    {
      g_debug ("%s", error->message);
      g_ptr_array_add (self->failed_names, g_strdup (clipscope_image_get_name (job->image)));
    }

  if (self->n_batch_done >= self->n_batch_total)
    {
      self->n_batch_done = self->n_batch_total = 0;
      report_failures (self);
    }
  queue_rescore (self);
  update_busy (self);
}

static void
encode_image (ClipscopeSession *self,
              ClipscopeImage   *image)
{
  ImageJob *job = g_new0 (ImageJob, 1);

  g_weak_ref_init (&job->session, self);
  job->image = g_object_ref (image);
  job->cancellable = g_object_ref (self->images_cancellable);
  job->generation = self->generation;
  self->n_batch_total++;
  clipscope_worker_encode_image_async (self->worker, clipscope_image_get_path (image),
                                       job->cancellable, image_encoded_cb, job);
}

/* Sends every image still without an embedding to the worker. */
static void
encode_pending_images (ClipscopeSession *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->images));

  self->n_batch_total = self->n_batch_done = 0;
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ClipscopeImage) image = g_list_model_get_item (G_LIST_MODEL (self->images), i);

      if (clipscope_image_get_embedding (image, NULL) == NULL)
        encode_image (self, image);
    }
  for (GList *l = self->pending.head; l != NULL; l = l->next)
    if (clipscope_image_get_embedding (l->data, NULL) == NULL)
      encode_image (self, l->data);
}

typedef struct {
  GPtrArray *files;        /* GFile, images to add, in order */
  GPtrArray *rejected;     /* basenames of files that are not images */
  guint      max_images;
  gboolean   truncated;
} Walk;

static void
walk_free (Walk *walk)
{
  g_clear_pointer (&walk->files, g_ptr_array_unref);
  g_clear_pointer (&walk->rejected, g_ptr_array_unref);
  g_free (walk);
}

static gboolean
is_image_type (const char *content_type)
{
  g_autofree char *mime = content_type != NULL ? g_content_type_get_mime_type (content_type) : NULL;

  return mime != NULL && g_str_has_prefix (mime, "image/");
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return g_strcmp0 (*(const char * const *) a, *(const char * const *) b);
}

static void
walk_file (Walk         *walk,
           GFile        *file,
           GFileInfo    *info,
           int           depth,
           gboolean      explicit,
           GCancellable *cancellable)
{
  g_autoptr(GFileEnumerator) children = NULL;
  g_autoptr(GPtrArray) names = NULL;

  if (walk->files->len >= walk->max_images || g_cancellable_is_cancelled (cancellable))
    {
      walk->truncated |= walk->files->len >= walk->max_images;
      return;
    }
  if (g_file_info_get_file_type (info) == G_FILE_TYPE_REGULAR)
    {
      if (is_image_type (g_file_info_get_content_type (info)))
        g_ptr_array_add (walk->files, g_object_ref (file));
      else if (explicit)
        g_ptr_array_add (walk->rejected, g_file_get_basename (file));
      return;
    }
  if (g_file_info_get_file_type (info) != G_FILE_TYPE_DIRECTORY || depth > MAX_FOLDER_DEPTH)
    return;

  /* Folders are read in name order so the rows do not come out shuffled;
   * files inside them that are not images are skipped without a word. */
  children = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME ","
                                        G_FILE_ATTRIBUTE_STANDARD_TYPE ","
                                        G_FILE_ATTRIBUTE_STANDARD_CONTENT_TYPE,
                                        G_FILE_QUERY_INFO_NONE, cancellable, NULL);
  if (children == NULL)
    return;
  names = g_ptr_array_new_with_free_func (g_free);
  for (;;)
    {
      GFileInfo *child = NULL;

      if (!g_file_enumerator_iterate (children, &child, NULL, cancellable, NULL) || child == NULL)
        break;
      if (names->len < 100000)
        g_ptr_array_add (names, g_strdup (g_file_info_get_name (child)));
    }
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      g_autoptr(GFile) child = g_file_get_child (file, names->pdata[i]);
      g_autoptr(GFileInfo) child_info =
        g_file_query_info (child, G_FILE_ATTRIBUTE_STANDARD_TYPE ","
                           G_FILE_ATTRIBUTE_STANDARD_CONTENT_TYPE,
                           G_FILE_QUERY_INFO_NONE, cancellable, NULL);

      if (child_info != NULL && !g_str_has_prefix (names->pdata[i], "."))
        walk_file (walk, child, child_info, depth + 1, FALSE, cancellable);
    }
}

static void
walk_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  GPtrArray *inputs = task_data;
  Walk *walk = g_new0 (Walk, 1);

  walk->files = g_ptr_array_new_with_free_func (g_object_unref);
  walk->rejected = g_ptr_array_new_with_free_func (g_free);
  walk->max_images = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (task), "max-images"));
  for (guint i = 0; i < inputs->len; i++)
    {
      g_autoptr(GFileInfo) info =
        g_file_query_info (inputs->pdata[i], G_FILE_ATTRIBUTE_STANDARD_TYPE ","
                           G_FILE_ATTRIBUTE_STANDARD_CONTENT_TYPE,
                           G_FILE_QUERY_INFO_NONE, cancellable, NULL);

      if (info != NULL)
        walk_file (walk, inputs->pdata[i], info, 0, TRUE, cancellable);
      else
        g_ptr_array_add (walk->rejected, g_file_get_basename (inputs->pdata[i]));
    }
  g_task_return_pointer (task, walk, (GDestroyNotify) walk_free);
}

/* Walked images join the list a few dozen per main-loop iteration: the
 * views then build their rows between frames instead of in one long
 * pause when a folder of hundreds arrives. */
static gboolean
splice_cb (gpointer user_data)
{
  ClipscopeSession *self = user_data;
  g_autoptr(GPtrArray) chunk = g_ptr_array_new_with_free_func (g_object_unref);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->images));

  while (chunk->len < 32 && !g_queue_is_empty (&self->pending))
    g_ptr_array_add (chunk, g_queue_pop_head (&self->pending));
  g_list_store_splice (self->images, n, 0, chunk->pdata, chunk->len);
  if (!g_queue_is_empty (&self->pending))
    return G_SOURCE_CONTINUE;
  self->splice_id = 0;
  update_busy (self);
  return G_SOURCE_REMOVE;
}

static void
walked_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  ClipscopeSession *self = CLIPSCOPE_SESSION (object);
  Walk *walk = g_task_propagate_pointer (G_TASK (result), NULL);
  g_autoptr(GPtrArray) added = NULL;

  self->n_adding--;
  if (walk == NULL)
    {
      update_busy (self);
      return;
    }
  added = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < walk->files->len; i++)
    {
      g_autoptr(ClipscopeImage) image = clipscope_image_new (walk->files->pdata[i]);
      const char *path = clipscope_image_get_path (image);

      if (g_hash_table_contains (self->image_paths, path))
        continue;
      g_hash_table_add (self->image_paths, g_strdup (path));
      g_signal_connect_object (image, "notify::thumbnail", G_CALLBACK (queue_rescore), self,
                               G_CONNECT_SWAPPED);
      clipscope_image_load_thumbnail (image, 128);
      if (self->model != NULL && !self->model_pending)
        encode_image (self, image);
      g_ptr_array_add (added, g_steal_pointer (&image));
    }

  for (guint i = 0; i < added->len; i++)
    g_queue_push_tail (&self->pending, g_object_ref (added->pdata[i]));
  if (self->splice_id == 0 && added->len > 0)
    self->splice_id = g_idle_add (splice_cb, self);
  if (walk->rejected->len > 0)
    {
      g_autofree char *list = NULL;
      g_autofree char *message = NULL;

      g_ptr_array_add (walk->rejected, NULL);
      list = g_strjoinv (", ", (char **) walk->rejected->pdata);
      message = g_strdup_printf ("Not an image: %s", list);
      g_signal_emit (self, signals[SIGNAL_NOTICE], 0, message);
    }
  if (walk->truncated)
    {
      g_autofree char *message = g_strdup_printf ("Only the first %u images were added",
                                                  walk->max_images);
      g_signal_emit (self, signals[SIGNAL_NOTICE], 0, message);
    }
  walk_free (walk);
  queue_rescore (self);
  update_busy (self);
}

/**
 * clipscope_session_add_files:
 * @files: (array length=n_files): image files or folders
 *
 * Adds images. Folders are walked, bounded in depth and count, in a thread;
 * files that are not images produce one #ClipscopeSession::notice naming
 * them, and the others are still added.
 */
void
clipscope_session_add_files (ClipscopeSession  *self,
                             GFile            **files,
                             guint              n_files)
{
  g_autoptr(GTask) task = NULL;
  GPtrArray *inputs;

  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));
  if (n_files == 0)
    return;

  inputs = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < n_files; i++)
    g_ptr_array_add (inputs, g_object_ref (files[i]));
  task = g_task_new (self, self->images_cancellable, walked_cb, NULL);
  g_task_set_name (task, "clipscope-walk");
  g_task_set_task_data (task, inputs, (GDestroyNotify) g_ptr_array_unref);
  g_object_set_data (G_OBJECT (task), "max-images", GUINT_TO_POINTER (self->max_folder_images));
  self->n_adding++;
  g_task_run_in_thread (task, walk_thread);
  update_busy (self);
}

/**
 * clipscope_session_add_texture:
 *
 * Adds a pasted or dropped picture: it is written to a PNG in the user's
 * cache folder, so it has a path the engine and the exports can name.
 */
void
clipscope_session_add_texture (ClipscopeSession *self,
                               GdkTexture       *texture)
{
  static guint counter;
  g_autofree char *dir = g_build_filename (g_get_user_cache_dir (), "clipscope", "pasted", NULL);
  g_autofree char *name = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GFile) file = NULL;

  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));
  g_return_if_fail (GDK_IS_TEXTURE (texture));

  name = g_strdup_printf ("pasted-%" G_GINT64_FORMAT "-%u.png", g_get_real_time (), counter++);
  path = g_build_filename (dir, name, NULL);
  if (g_mkdir_with_parents (dir, 0700) != 0 || !gdk_texture_save_to_png (texture, path))
    {
      g_signal_emit (self, signals[SIGNAL_NOTICE], 0, "Could not store the pasted image");
      return;
    }
  file = g_file_new_for_path (path);
  clipscope_session_add_files (self, &file, 1);
}

void
clipscope_session_remove_image (ClipscopeSession *self,
                                guint             position)
{
  g_autoptr(ClipscopeImage) image = NULL;

  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));

  image = g_list_model_get_item (G_LIST_MODEL (self->images), position);
  if (image != NULL && remove_image_object (self, image))
    queue_rescore (self);
  update_busy (self);
}

/**
 * clipscope_session_cancel:
 *
 * Stops the batch of images being encoded; the images it had not reached
 * are taken out again.
 */
void
clipscope_session_cancel (ClipscopeSession *self)
{
  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));

  /* Images waiting for a model are not a batch in flight: keep them. */
  if (self->n_batch_total <= self->n_batch_done && self->n_adding == 0 && self->splice_id == 0)
    return;
  replace_cancellable (&self->images_cancellable);
  self->n_batch_total = self->n_batch_done = 0;
  while (!g_queue_is_empty (&self->pending))
    remove_image_object (self, g_queue_peek_head (&self->pending));
  for (guint i = g_list_model_get_n_items (G_LIST_MODEL (self->images)); i > 0; i--)
    {
      g_autoptr(ClipscopeImage) image = g_list_model_get_item (G_LIST_MODEL (self->images), i - 1);

      if (clipscope_image_get_embedding (image, NULL) == NULL)
        remove_image_object (self, image);
    }
  queue_rescore (self);
  update_busy (self);
}

/* ------------------------------------------------------------ labels */

typedef struct {
  GWeakRef      session;
  GCancellable *cancellable;
  GStrv         labels;
} LabelsJob;

static void
labels_job_free (LabelsJob *job)
{
  g_weak_ref_clear (&job->session);
  g_clear_object (&job->cancellable);
  g_strfreev (job->labels);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LabelsJob, labels_job_free)

static void
labels_encoded_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(LabelsJob) job = user_data;
  g_autoptr(ClipscopeSession) self = g_weak_ref_get (&job->session);
  g_autoptr(GError) error = NULL;
  float *embeddings;
  int n_encoded = 0;

  if (self == NULL)
    return;
  embeddings = clipscope_worker_encode_labels_finish (self->worker, result, &n_encoded, &error);
  if (job->cancellable != self->labels_cancellable)
    {
      g_free (embeddings);
      return;
    }

  self->labels_pending = FALSE;
  if (embeddings == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_signal_emit (self, signals[SIGNAL_NOTICE], 0, error->message);
    }
  else
    {
      self->n_texts_encoded += n_encoded;
      g_free (self->label_embeddings);
      self->label_embeddings = embeddings;
      g_strfreev (self->scored_labels);
      self->scored_labels = g_steal_pointer (&job->labels);
    }
  queue_rescore (self);
  update_busy (self);
}

/**
 * clipscope_session_dup_enabled_templates:
 *
 * Returns: (transfer full): the enabled, valid templates in order; the
 *   CLI's default when there are none
 */
GStrv
clipscope_session_dup_enabled_templates (ClipscopeSession *self)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->templates));
  guint added = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ClipscopeTemplate) t = g_list_model_get_item (G_LIST_MODEL (self->templates), i);

      if (clipscope_template_get_enabled (t) && clipscope_template_get_valid (t))
        {
          g_strv_builder_add (builder, clipscope_template_get_text (t));
          added++;
        }
    }
  if (added == 0)
    g_strv_builder_add (builder, FALLBACK_TEMPLATE);
  return g_strv_builder_end (builder);
}

static GStrv
dup_labels (ClipscopeSession *self)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->labels));

  for (guint i = 0; i < n; i++)
    g_strv_builder_add (builder, gtk_string_list_get_string (self->labels, i));
  return g_strv_builder_end (builder);
}

static void
encode_labels_now (ClipscopeSession *self)
{
  g_auto(GStrv) templates = clipscope_session_dup_enabled_templates (self);
  LabelsJob *job;

  g_clear_handle_id (&self->debounce_id, g_source_remove);
  replace_cancellable (&self->labels_cancellable);
  if (self->model == NULL || self->model_pending)
    {
      self->labels_pending = FALSE;
      update_busy (self);
      return;
    }

  job = g_new0 (LabelsJob, 1);
  g_weak_ref_init (&job->session, self);
  job->cancellable = g_object_ref (self->labels_cancellable);
  job->labels = dup_labels (self);
  self->labels_pending = TRUE;
  self->n_label_jobs++;
  clipscope_worker_encode_labels_async (self->worker, (const char * const *) job->labels,
                                        (const char * const *) templates, job->cancellable,
                                        labels_encoded_cb, job);
  update_busy (self);
}

static gboolean
debounce_cb (gpointer user_data)
{
  ClipscopeSession *self = user_data;

  self->debounce_id = 0;
  encode_labels_now (self);
  return G_SOURCE_REMOVE;
}

/* Each edit restarts the delay, so a burst of keystrokes becomes one job;
 * the job in flight, if any, is cancelled once the delay ends. */
static void
schedule_labels (ClipscopeSession *self)
{
  g_clear_handle_id (&self->debounce_id, g_source_remove);
  self->debounce_id = g_timeout_add (CLIPSCOPE_SESSION_DEBOUNCE_MS, debounce_cb, self);
  update_busy (self);
}

/**
 * clipscope_session_flush:
 *
 * Starts the pending label job now instead of after the debounce delay.
 */
void
clipscope_session_flush (ClipscopeSession *self)
{
  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));

  if (self->debounce_id != 0)
    encode_labels_now (self);
}

static gboolean
has_label (ClipscopeSession *self,
           const char       *label)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->labels));

  for (guint i = 0; i < n; i++)
    if (g_strcmp0 (gtk_string_list_get_string (self->labels, i), label) == 0)
      return TRUE;
  return FALSE;
}

/**
 * clipscope_session_add_labels_text:
 * @text: one label, or several separated by commas or new lines
 *
 * Appends each non-empty label not already present, in order.
 */
void
clipscope_session_add_labels_text (ClipscopeSession *self,
                                   const char       *text)
{
  g_auto(GStrv) parts = NULL;

  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));
  g_return_if_fail (text != NULL);

  parts = g_regex_split_simple ("[,\\r\\n]+", text, 0, 0);
  for (char **p = parts; *p != NULL; p++)
    {
      g_strstrip (*p);
      if (**p != '\0' && g_utf8_validate (*p, -1, NULL) && !has_label (self, *p))
        gtk_string_list_append (self->labels, *p);
    }
}

/**
 * clipscope_session_set_label:
 *
 * Replaces the label at @position; an empty @text removes it.
 */
void
clipscope_session_set_label (ClipscopeSession *self,
                             guint             position,
                             const char       *text)
{
  g_autofree char *stripped = g_strstrip (g_strdup (text != NULL ? text : ""));
  const char *replacement[] = { stripped, NULL };

  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));

  if (position >= g_list_model_get_n_items (G_LIST_MODEL (self->labels))
      || g_strcmp0 (gtk_string_list_get_string (self->labels, position), stripped) == 0)
    return;
  if (*stripped == '\0')
    gtk_string_list_remove (self->labels, position);
  else
    gtk_string_list_splice (self->labels, position, 1, replacement);
}

/* ------------------------------------------------------------ templates */

static void
template_notify_cb (ClipscopeSession *self)
{
  schedule_labels (self);
}

void
clipscope_session_add_template (ClipscopeSession *self,
                                const char       *text,
                                gboolean          enabled)
{
  g_autoptr(ClipscopeTemplate) t = NULL;

  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));
  g_return_if_fail (text != NULL);

  t = clipscope_template_new (text, enabled);
  g_signal_connect_object (t, "notify::text", G_CALLBACK (template_notify_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (t, "notify::enabled", G_CALLBACK (template_notify_cb), self, G_CONNECT_SWAPPED);
  g_list_store_append (self->templates, t);
}

void
clipscope_session_remove_template (ClipscopeSession *self,
                                   guint             position)
{
  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));

  if (position < g_list_model_get_n_items (G_LIST_MODEL (self->templates)))
    g_list_store_remove (self->templates, position);
}

void
clipscope_session_clear_templates (ClipscopeSession *self)
{
  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));
  g_list_store_remove_all (self->templates);
}

/* ------------------------------------------------------------ GObject */

static void
lists_changed_cb (ClipscopeSession *self)
{
  schedule_labels (self);
}

static void
images_changed_cb (ClipscopeSession *self)
{
  queue_rescore (self);
  update_busy (self);
}

static void
clipscope_session_dispose (GObject *object)
{
  ClipscopeSession *self = CLIPSCOPE_SESSION (object);

  g_cancellable_cancel (self->model_cancellable);
  g_cancellable_cancel (self->images_cancellable);
  g_cancellable_cancel (self->labels_cancellable);
  g_clear_handle_id (&self->debounce_id, g_source_remove);
  g_clear_handle_id (&self->rescore_id, g_source_remove);
  g_clear_handle_id (&self->splice_id, g_source_remove);
  g_queue_clear_full (&self->pending, g_object_unref);
  if (self->labels != NULL)
    g_signal_handlers_disconnect_by_data (self->labels, self);
  if (self->templates != NULL)
    g_signal_handlers_disconnect_by_data (self->templates, self);
  if (self->images != NULL)
    g_signal_handlers_disconnect_by_data (self->images, self);
  g_clear_object (&self->images);
  g_clear_object (&self->labels);
  g_clear_object (&self->templates);
  G_OBJECT_CLASS (clipscope_session_parent_class)->dispose (object);
}

static void
clipscope_session_finalize (GObject *object)
{
  ClipscopeSession *self = CLIPSCOPE_SESSION (object);

  /* Joining the worker waits for the job it is running, which stops at
   * its next cancellation check. */
  g_clear_pointer (&self->worker, clipscope_worker_free);
  g_clear_pointer (&self->model, clipscope_model_unref);
  g_clear_object (&self->model_cancellable);
  g_clear_object (&self->images_cancellable);
  g_clear_object (&self->labels_cancellable);
  g_clear_pointer (&self->image_paths, g_hash_table_unref);
  g_clear_pointer (&self->failed_names, g_ptr_array_unref);
  g_clear_pointer (&self->scored_labels, g_strfreev);
  g_free (self->label_embeddings);
  g_free (self->similarity);
  g_free (self->probabilities);
  g_free (self->model_path);
  g_free (self->backend_name);
  g_free (self->device_name);
  G_OBJECT_CLASS (clipscope_session_parent_class)->finalize (object);
}

static void
clipscope_session_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  ClipscopeSession *self = CLIPSCOPE_SESSION (object);

  switch (prop_id)
    {
    case PROP_MODEL_PATH:
      g_value_set_string (value, self->model_path);
      break;
    case PROP_BACKEND_NAME:
      g_value_set_string (value, self->backend_name);
      break;
    case PROP_DEVICE_NAME:
      g_value_set_string (value, self->device_name);
      break;
    case PROP_BUSY:
      g_value_set_boolean (value, self->busy);
      break;
    case PROP_PROGRESS:
      g_value_set_double (value, clipscope_session_get_progress (self));
      break;
    case PROP_MAX_FOLDER_IMAGES:
      g_value_set_uint (value, self->max_folder_images);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
clipscope_session_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  ClipscopeSession *self = CLIPSCOPE_SESSION (object);

  switch (prop_id)
    {
    case PROP_MAX_FOLDER_IMAGES:
      clipscope_session_set_max_folder_images (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
clipscope_session_class_init (ClipscopeSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = clipscope_session_dispose;
  object_class->finalize = clipscope_session_finalize;
  object_class->get_property = clipscope_session_get_property;
  object_class->set_property = clipscope_session_set_property;

  properties[PROP_MODEL_PATH] =
    g_param_spec_string ("model-path", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_BACKEND_NAME] =
    g_param_spec_string ("backend-name", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_DEVICE_NAME] =
    g_param_spec_string ("device-name", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_PROGRESS] =
    g_param_spec_double ("progress", NULL, NULL, 0.0, 1.0, 0.0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_MAX_FOLDER_IMAGES] =
    g_param_spec_uint ("max-folder-images", NULL, NULL, 1, 100000, DEFAULT_MAX_FOLDER_IMAGES,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * ClipscopeSession::scores-changed:
   *
   * The matrix, its labels or its rows changed.
   */
  signals[SIGNAL_SCORES_CHANGED] =
    g_signal_new ("scores-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /**
   * ClipscopeSession::model-failed:
   * @dir: the folder that was tried
   * @message: the engine's message
   */
  signals[SIGNAL_MODEL_FAILED] =
    g_signal_new ("model-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  /**
   * ClipscopeSession::notice:
   * @message: one line for a toast
   */
  signals[SIGNAL_NOTICE] =
    g_signal_new ("notice", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
clipscope_session_init (ClipscopeSession *self)
{
  self->worker = clipscope_worker_new (NULL);
  self->images = g_list_store_new (CLIPSCOPE_TYPE_IMAGE);
  self->labels = gtk_string_list_new (NULL);
  self->templates = g_list_store_new (CLIPSCOPE_TYPE_TEMPLATE);
  self->image_paths = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->failed_names = g_ptr_array_new_with_free_func (g_free);
  self->model_cancellable = g_cancellable_new ();
  self->images_cancellable = g_cancellable_new ();
  self->labels_cancellable = g_cancellable_new ();
  self->max_folder_images = DEFAULT_MAX_FOLDER_IMAGES;

  g_signal_connect_swapped (self->labels, "items-changed", G_CALLBACK (lists_changed_cb), self);
  g_signal_connect_swapped (self->templates, "items-changed", G_CALLBACK (lists_changed_cb), self);
  g_signal_connect_swapped (self->images, "items-changed", G_CALLBACK (images_changed_cb), self);
}

ClipscopeSession *
clipscope_session_new (void)
{
  return g_object_new (CLIPSCOPE_TYPE_SESSION, NULL);
}

/* ------------------------------------------------------------ getters */

GListModel *
clipscope_session_get_images (ClipscopeSession *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), NULL);
  return G_LIST_MODEL (self->images);
}

GtkStringList *
clipscope_session_get_labels (ClipscopeSession *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), NULL);
  return self->labels;
}

GListModel *
clipscope_session_get_templates (ClipscopeSession *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), NULL);
  return G_LIST_MODEL (self->templates);
}

const char *
clipscope_session_get_model_path (ClipscopeSession *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), NULL);
  return self->model_path;
}

const char *
clipscope_session_get_backend_name (ClipscopeSession *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), NULL);
  return self->backend_name;
}

const char *
clipscope_session_get_device_name (ClipscopeSession *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), NULL);
  return self->device_name;
}

gboolean
clipscope_session_get_busy (ClipscopeSession *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), FALSE);
  return self->busy;
}

/**
 * clipscope_session_get_progress:
 *
 * Returns: the finished fraction of the batch of images being encoded
 */
double
clipscope_session_get_progress (ClipscopeSession *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), 0.0);

  if (self->n_batch_total == 0)
    return 0.0;
  return (double) self->n_batch_done / self->n_batch_total;
}

guint
clipscope_session_get_max_folder_images (ClipscopeSession *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), 0);
  return self->max_folder_images;
}

void
clipscope_session_set_max_folder_images (ClipscopeSession *self,
                                         guint             max)
{
  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));

  max = CLAMP (max, 1, 100000);
  if (max == self->max_folder_images)
    return;
  self->max_folder_images = max;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_FOLDER_IMAGES]);
}

/**
 * clipscope_session_get_scored_labels:
 *
 * Returns: (transfer none) (nullable): the columns of the matrix, which lag
 *   the label list while a job runs
 */
const char * const *
clipscope_session_get_scored_labels (ClipscopeSession *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), NULL);
  return (const char * const *) self->scored_labels;
}

/**
 * clipscope_session_get_scores:
 * @similarity: (out) (transfer none): [n_images, n_labels] cosines, NaN
 *   for images not encoded yet
 * @probabilities: (out) (transfer none): the per-image softmax
 *
 * Returns: %TRUE when any cell holds a score
 */
gboolean
clipscope_session_get_scores (ClipscopeSession  *self,
                              guint             *n_images,
                              guint             *n_labels,
                              const float      **similarity,
                              const float      **probabilities)
{
  gboolean any = FALSE;

  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), FALSE);

  *n_images = self->similarity != NULL ? self->n_score_images : 0;
  *n_labels = self->similarity != NULL ? self->n_score_labels : 0;
  if (similarity != NULL)
    *similarity = self->similarity;
  if (probabilities != NULL)
    *probabilities = self->probabilities;
  for (gsize i = 0; i < (gsize) *n_images * *n_labels && !any; i++)
    any = !isnan (self->similarity[i]);
  return any;
}

/** clipscope_session_get_n_label_jobs: Returns: label jobs sent to the worker so far */
guint
clipscope_session_get_n_label_jobs (ClipscopeSession *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), 0);
  return self->n_label_jobs;
}

/** clipscope_session_get_n_texts_encoded: Returns: texts that went through the text encoder */
guint
clipscope_session_get_n_texts_encoded (ClipscopeSession *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), 0);
  return self->n_texts_encoded;
}

/* ------------------------------------------------------------ explain */

typedef struct {
  GWeakRef session;
  guint    generation;
} ExplainJob;

/* ISO C has no cast from a function pointer to gpointer: the source tag
 * is the address of this instead. */
static const char explain_image_tag;

typedef struct {
  float  *spatial;       /* [grid², embed_dim] */
  int     grid;
  int     embed_dim;
  double  crop;
} ExplainResult;

static void
explain_job_free (ExplainJob *job)
{
  g_weak_ref_clear (&job->session);
  g_free (job);
}

static void
explain_result_free (ExplainResult *result)
{
  g_free (result->spatial);
  g_free (result);
}

static void
image_explained_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ExplainJob *job = g_task_get_task_data (task);
  g_autoptr(ClipscopeSession) self = g_weak_ref_get (&job->session);
  g_autoptr(GError) error = NULL;
  g_autofree float *spatial = NULL;
  const ClipscopeModelInfo *info;
  ExplainResult *explained;
  int grid = 0, dim = 0;

  if (self == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "the session was closed");
      return;
    }
  spatial = clipscope_worker_explain_image_finish (self->worker, result, &grid, &dim, &error);
  if (spatial == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* Embeddings of another model would not match its labels. */
  if (job->generation != self->generation || self->model == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "the model changed");
      return;
    }
  info = clipscope_model_get_info (self->model);
  explained = g_new0 (ExplainResult, 1);
  explained->spatial = g_steal_pointer (&spatial);
  explained->grid = grid;
  explained->embed_dim = dim;
  explained->crop = (double) info->image_size / MAX (info->image_resize, info->image_size);
  g_task_return_pointer (task, explained, (GDestroyNotify) explain_result_free);
}

/**
 * clipscope_session_explain_image_async:
 *
 * Computes the spatial embeddings of @image with the current model on the
 * worker, behind the jobs already queued. A result that arrives after
 * another model was loaded fails with %G_IO_ERROR_CANCELLED.
 */
void
clipscope_session_explain_image_async (ClipscopeSession    *self,
                                       ClipscopeImage      *image,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  ExplainJob *job;

  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));
  g_return_if_fail (CLIPSCOPE_IS_IMAGE (image));

  /* The task holds the session weakly, so closing a window does not wait
   * for a job in flight. */
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, (gpointer) &explain_image_tag);
  job = g_new0 (ExplainJob, 1);
  g_weak_ref_init (&job->session, self);
  job->generation = self->generation;
  g_task_set_task_data (task, job, (GDestroyNotify) explain_job_free);
  clipscope_worker_explain_image_async (self->worker, clipscope_image_get_path (image), cancellable,
                                        image_explained_cb, g_steal_pointer (&task));
}

/**
 * clipscope_session_explain_image_finish:
 * @grid: (out) (optional): the grid side
 * @embed_dim: (out) (optional): the length of each embedding
 * @crop: (out) (optional): the side of the model's input (the centre
 *   crop) as a fraction of the image's shorter side
 *
 * Returns: (transfer full) (nullable): [grid², embed_dim], normalised
 *   spatial embeddings, or %NULL with @error set
 */
float *
clipscope_session_explain_image_finish (ClipscopeSession  *self,
                                        GAsyncResult      *result,
                                        int               *grid,
                                        int               *embed_dim,
                                        double            *crop,
                                        GError           **error)
{
  ExplainResult *explained;
  float *spatial;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == &explain_image_tag, NULL);

  explained = g_task_propagate_pointer (G_TASK (result), error);
  if (explained == NULL)
    return NULL;
  if (grid != NULL)
    *grid = explained->grid;
  if (embed_dim != NULL)
    *embed_dim = explained->embed_dim;
  if (crop != NULL)
    *crop = explained->crop;
  spatial = g_steal_pointer (&explained->spatial);
  explain_result_free (explained);
  return spatial;
}

/**
 * clipscope_session_get_label_embedding:
 * @column: a column of the matrix (see clipscope_session_get_scored_labels())
 * @embed_dim: (out) (optional): its length
 *
 * Returns: (transfer none) (nullable): the label's template-ensembled,
 *   normalised embedding, or %NULL when @column is out of range
 */
const float *
clipscope_session_get_label_embedding (ClipscopeSession *self,
                                       guint             column,
                                       int              *embed_dim)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), NULL);

  if (embed_dim != NULL)
    *embed_dim = self->embed_dim;
  if (self->label_embeddings == NULL || self->scored_labels == NULL
      || column >= g_strv_length (self->scored_labels))
    return NULL;
  return self->label_embeddings + (gsize) column * self->embed_dim;
}
