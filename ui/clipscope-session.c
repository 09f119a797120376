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
#include <glib/gi18n.h>

#include <clipscope.h>
#include <math.h>
#include <string.h>

#define DEFAULT_MAX_FOLDER_IMAGES 2000
#define MAX_FOLDER_DEPTH          8
/* Below the cosines CLIP's ViT-B models give an image and its caption. */
#define DEFAULT_THRESHOLD         0.2

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
  GPtrArray       *failed_reasons;       /* and why, one engine message each */

  /* Scores: rows follow @images, columns follow @score_labels, which is
   * @scored_labels when the matrix was last computed (a finished label
   * job replaces @scored_labels and its embeddings at once, and the
   * matrix only when the loop is next idle) */
  GStrv            scored_labels;
  GStrv            score_labels;
  float           *label_embeddings;     /* [n_scored_labels, embed_dim] */
  int              embed_dim;
  float           *similarity;           /* [n_score_images, n_score_labels], NaN where unknown */
  float           *probabilities;
  guint            n_score_images;
  guint            n_score_labels;

  guint            generation;           /* bumped when the model changes */
  guint            debounce_id;
  guint            rescore_id;
  guint            report_id;            /* reports thumbnails that failed outside a batch */
  guint            n_batch_total;
  guint            n_batch_done;
  guint            n_adding;             /* folder walks still running */
  GQueue           pending;              /* ClipscopeImage walked but not yet listed */
  guint            splice_id;
  guint            max_folder_images;
  guint            n_label_jobs;
  guint            n_texts_encoded;
  guint            label_texts_total;    /* of a label job sent in chunks, else 0 */
  guint            label_texts_done;

  /* Few-shot: examples per label, the classifier built from them, and the
   * threshold below which an image is left unclassified */
  GPtrArray       *examples;             /* Example, in the order they were added */
  ClipscopeLabelMode classifier;         /* the mode asked for */
  float            example_weight;
  gboolean         use_threshold;
  double           threshold;
  ClipscopeProbe  *probe;                /* trained on @probe_key's examples, or NULL */
  char            *probe_key;
  GCancellable    *probe_cancellable;
  double          *label_accuracy;       /* [n_score_labels], NaN without examples */
  int             *top;                  /* [n_score_images], -1 unclassified or unknown */
  guint            n_unclassified;
  ClipscopeScoring scoring;              /* how ↑ probabilities were made */
  guint            n_examples_pending;
  gboolean         probe_pending;
  gboolean         probe_current;        /* @probe was trained on the examples of now */
  char            *probe_pending_key;
  int             *probe_predicted;      /* the probe's leave-one-out labels */

  guint            model_pending : 1;
  guint            labels_pending : 1;
  guint            busy : 1;
  guint            labels_encoding : 1;
};

G_DEFINE_FINAL_TYPE (ClipscopeSession, clipscope_session, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_MODEL_PATH,
  PROP_BACKEND_NAME,
  PROP_DEVICE_NAME,
  PROP_BUSY,
  PROP_LABELS_ENCODING,
  PROP_PROGRESS,
  PROP_MAX_FOLDER_IMAGES,
  PROP_CLASSIFIER,
  PROP_EXAMPLE_WEIGHT,
  PROP_USE_THRESHOLD,
  PROP_THRESHOLD,
  N_PROPS,
};

enum {
  SIGNAL_SCORES_CHANGED,
  SIGNAL_MODEL_FAILED,
  SIGNAL_NOTICE,
  SIGNAL_IMAGES_FAILED,
  N_SIGNALS,
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void encode_pending_images (ClipscopeSession *self);
static void encode_labels_now (ClipscopeSession *self);
static void encode_pending_examples (ClipscopeSession *self);

/* An example image of a label. Examples follow their label's text, so a
 * renamed label keeps them and a removed one takes them along. */
typedef struct {
  char  *label;
  char  *path;
  float *embedding;      /* [embed_dim], NULL until the worker has encoded it */
} Example;

static void
example_free (gpointer data)
{
  Example *example = data;

  g_free (example->label);
  g_free (example->path);
  g_free (example->embedding);
  g_free (example);
}

/* ------------------------------------------------------------ state */

static void
update_busy (ClipscopeSession *self)
{
  gboolean busy = self->model_pending || self->labels_pending || self->debounce_id != 0
                  || self->n_batch_total > self->n_batch_done || self->n_adding > 0
                  || self->splice_id != 0
                  || self->rescore_id != 0 || self->report_id != 0
                  || self->n_examples_pending > 0 || self->probe_pending;
  /* Labels are typed or on their way, and the matrix does not score them yet. */
  gboolean labels_encoding = (self->labels_pending || self->debounce_id != 0)
                             && g_list_model_get_n_items (G_LIST_MODEL (self->labels)) > 0;

  if (busy != self->busy)
    {
      self->busy = busy;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
    }
  if (labels_encoding != self->labels_encoding)
    {
      self->labels_encoding = labels_encoding;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LABELS_ENCODING]);
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

static float *build_classifier (ClipscopeSession *self,
                                 guint             n_labels);
static gboolean probe_ready (ClipscopeSession *self);
static void update_probe (ClipscopeSession *self);
static void update_accuracy (ClipscopeSession *self);

static void
rescore (ClipscopeSession *self)
{
  guint n_images = g_list_model_get_n_items (G_LIST_MODEL (self->images));
  guint n_labels = self->scored_labels != NULL ? g_strv_length (self->scored_labels) : 0;
  g_autofree float *rows = NULL;
  g_autofree guint *which = NULL;
  g_autofree float *sim = NULL;
  g_autofree float *prob = NULL;
  g_autofree float *classifier = NULL;
  g_autofree int *top = NULL;
  guint n_rows = 0;

  g_clear_pointer (&self->similarity, g_free);
  g_clear_pointer (&self->probabilities, g_free);
  g_clear_pointer (&self->top, g_free);
  self->n_score_images = n_images;
  self->n_score_labels = n_labels;
  /* Kept while the labels stay the same, as callers hold the list. */
  if (self->score_labels == NULL || self->scored_labels == NULL
      || !g_strv_equal ((const char * const *) self->score_labels,
                        (const char * const *) self->scored_labels))
    {
      g_strfreev (self->score_labels);
      self->score_labels = g_strdupv (self->scored_labels);
    }
  self->n_unclassified = 0;
  self->similarity = g_new (float, (gsize) MAX (n_images * n_labels, 1));
  self->probabilities = g_new (float, (gsize) MAX (n_images * n_labels, 1));
  self->top = g_new (int, MAX (n_images, 1));
  for (gsize i = 0; i < (gsize) n_images * n_labels; i++)
    self->similarity[i] = self->probabilities[i] = NAN;
  for (guint i = 0; i < n_images; i++)
    self->top[i] = -1;

  /* The probe is retrained (in a thread) when its examples changed. */
  update_probe (self);
  update_accuracy (self);

  self->scoring = self->model != NULL ? clipscope_model_get_info (self->model)->scoring
                                      : CLIPSCOPE_SCORING_SOFTMAX;
  if (n_images > 0 && n_labels > 0 && self->label_embeddings != NULL && self->model != NULL)
    {
      const ClipscopeModelInfo *info = clipscope_model_get_info (self->model);

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
      top = g_new (int, MAX (n_rows, 1));
      classifier = build_classifier (self, n_labels);
      clipscope_score_with (rows, n_rows, classifier, n_labels, self->embed_dim, info->scoring,
                            info->logit_scale, info->logit_bias, sim, prob);
      /* The probe's probabilities (a softmax of its own) replace the
       * model's; the cosines stay those of the prototypes, which the
       * threshold applies to. */
      if (probe_ready (self))
        {
          clipscope_probe_predict (self->probe, rows, n_rows, NULL, prob);
          self->scoring = CLIPSCOPE_SCORING_SOFTMAX;
        }
      self->n_unclassified = clipscope_score_top (sim, prob, n_rows, n_labels,
                                                  self->use_threshold ? (float) self->threshold : -INFINITY,
                                                  top);
      for (guint r = 0; r < n_rows; r++)
        {
          memcpy (self->similarity + (gsize) which[r] * n_labels, sim + (gsize) r * n_labels,
                  n_labels * sizeof (float));
          memcpy (self->probabilities + (gsize) which[r] * n_labels, prob + (gsize) r * n_labels,
                  n_labels * sizeof (float));
          self->top[which[r]] = top[r];
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
      encode_pending_examples (self);
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
/**
 * clipscope_session_set_precision:
 *
 * Sets what the CPU backend computes in for the models loaded from now on.
 */
void
clipscope_session_set_precision (ClipscopeSession   *self,
                                 ClipscopePrecision  precision)
{
  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));

  clipscope_worker_set_precision (self->worker, precision);
}

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
  self->label_texts_total = self->label_texts_done = 0;
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
  for (guint i = 0; i < self->examples->len; i++)
    g_clear_pointer (&((Example *) g_ptr_array_index (self->examples, i))->embedding, g_free);
  self->n_examples_pending = 0;
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
    g_string_append_printf (names, _(" and %u more"), self->failed_names->len - shown);
  message = g_strdup_printf (_("Could not read %s"), names->str);
  g_ptr_array_add (self->failed_reasons, NULL);
  g_signal_emit (self, signals[SIGNAL_IMAGES_FAILED], 0, message, (GStrv) self->failed_reasons->pdata);
  g_ptr_array_set_size (self->failed_names, 0);
  g_ptr_array_set_size (self->failed_reasons, 0);
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
      g_ptr_array_add (self->failed_reasons, g_strdup (error->message));
    }

  if (self->n_batch_done >= self->n_batch_total)
    {
      self->n_batch_done = self->n_batch_total = 0;
      report_failures (self);
    }
  queue_rescore (self);
  update_busy (self);
}

/* Thumbnails that failed while no batch ran, reported together. */
static gboolean
report_failures_cb (gpointer user_data)
{
  ClipscopeSession *self = user_data;

  self->report_id = 0;
  /* A batch begun since reports them when it ends. */
  if (self->n_batch_total == 0)
    report_failures (self);
  update_busy (self);
  return G_SOURCE_REMOVE;
}

/* An image whose thumbnail cannot be decoded is left out with its
 * reason, as one the encoder cannot read (the same decoder refuses it). */
static void
thumbnail_failed_cb (ClipscopeImage   *image,
                     const char       *message,
                     ClipscopeSession *self)
{
  if (!remove_image_object (self, image))
    return;
  g_debug ("%s", message);
  g_ptr_array_add (self->failed_names, g_strdup (clipscope_image_get_name (image)));
  g_ptr_array_add (self->failed_reasons, g_strdup (message));
  if (self->n_batch_total == 0 && self->report_id == 0)
    self->report_id = g_timeout_add (250, report_failures_cb, self);
  queue_rescore (self);
  update_busy (self);
}

/* Follows a new image of the session: its thumbnail is decoded, and
 * rescores or leaves it out when that is done. */
static void
watch_image (ClipscopeSession *self,
             ClipscopeImage   *image)
{
  g_signal_connect_object (image, "notify::thumbnail", G_CALLBACK (queue_rescore), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (image, "thumbnail-failed", G_CALLBACK (thumbnail_failed_cb), self, 0);
  clipscope_image_load_thumbnail (image, 128);
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
  GPtrArray *missing;      /* basenames of files that are not there */
  guint      max_images;
  gboolean   truncated;
} Walk;

static void
walk_free (Walk *walk)
{
  g_clear_pointer (&walk->files, g_ptr_array_unref);
  g_clear_pointer (&walk->rejected, g_ptr_array_unref);
  g_clear_pointer (&walk->missing, g_ptr_array_unref);
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
  walk->missing = g_ptr_array_new_with_free_func (g_free);
  walk->max_images = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (task), "max-images"));
  for (guint i = 0; i < inputs->len; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GFileInfo) info =
        g_file_query_info (inputs->pdata[i], G_FILE_ATTRIBUTE_STANDARD_TYPE ","
                           G_FILE_ATTRIBUTE_STANDARD_CONTENT_TYPE,
                           G_FILE_QUERY_INFO_NONE, cancellable, &error);

      if (info != NULL)
        walk_file (walk, inputs->pdata[i], info, 0, TRUE, cancellable);
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        g_ptr_array_add (walk->missing, g_file_get_basename (inputs->pdata[i]));
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

/* Says @format with the @names, comma-separated, if there are any. */
static void
notice_names (ClipscopeSession *self,
              const char       *format,
              GPtrArray        *names)
{
  g_autofree char *list = NULL;
  g_autofree char *message = NULL;

  if (names->len == 0)
    return;
  g_ptr_array_add (names, NULL);
  list = g_strjoinv (", ", (char **) names->pdata);
  message = g_strdup_printf (format, list);
  g_signal_emit (self, signals[SIGNAL_NOTICE], 0, message);
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
      watch_image (self, image);
      if (self->model != NULL && !self->model_pending)
        encode_image (self, image);
      g_ptr_array_add (added, g_steal_pointer (&image));
    }

  for (guint i = 0; i < added->len; i++)
    g_queue_push_tail (&self->pending, g_object_ref (added->pdata[i]));
  if (self->splice_id == 0 && added->len > 0)
    self->splice_id = g_idle_add (splice_cb, self);
  notice_names (self, _("Not an image: %s"), walk->rejected);
  notice_names (self, _("No such file: %s"), walk->missing);
  if (walk->truncated)
    {
      g_autofree char *message = g_strdup_printf (_("Only the first %u images were added"),
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

/* A new file in the user's cache folder for a pasted picture, so it has
 * a path the engine and the exports can name; NULL if the folder cannot
 * be made. */
static char *
pasted_path (const char *extension)
{
  static guint counter;
  g_autofree char *dir = g_build_filename (g_get_user_cache_dir (), "clipscope", "pasted", NULL);
  g_autofree char *name = NULL;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    return NULL;
  name = g_strdup_printf ("pasted-%" G_GINT64_FORMAT "-%u.%s", g_get_real_time (), counter++,
                          extension);
  return g_build_filename (dir, name, NULL);
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
  g_autofree char *path = NULL;
  g_autoptr(GFile) file = NULL;

  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));
  g_return_if_fail (GDK_IS_TEXTURE (texture));

  path = pasted_path ("png");
  if (path == NULL || !gdk_texture_save_to_png (texture, path))
    {
      g_signal_emit (self, signals[SIGNAL_NOTICE], 0, _("Could not store the pasted image"));
      return;
    }
  file = g_file_new_for_path (path);
  clipscope_session_add_files (self, &file, 1);
}

typedef struct {
  ClipscopeSession *session;
  GInputStream     *stream;
  GFile            *file;
} Paste;

static void
paste_free (Paste *paste)
{
  g_object_unref (paste->session);
  g_object_unref (paste->stream);
  g_object_unref (paste->file);
  g_free (paste);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Paste, paste_free)

static void
paste_stored_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(Paste) paste = user_data;
  g_autoptr(GError) error = NULL;

  if (g_output_stream_splice_finish (G_OUTPUT_STREAM (object), result, &error) < 0)
    {
      g_file_delete (paste->file, NULL, NULL);
      g_signal_emit (paste->session, signals[SIGNAL_NOTICE], 0, _("Could not store the pasted image"));
      return;
    }
  clipscope_session_add_files (paste->session, &paste->file, 1);
}

static void
paste_file_open_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(Paste) paste = user_data;
  g_autoptr(GFileOutputStream) out = g_file_replace_finish (G_FILE (object), result, NULL);
  GInputStream *stream;

  if (out == NULL)
    {
      g_signal_emit (paste->session, signals[SIGNAL_NOTICE], 0, _("Could not store the pasted image"));
      return;
    }
  stream = paste->stream;
  g_output_stream_splice_async (G_OUTPUT_STREAM (out), stream,
                                G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE | G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                                G_PRIORITY_DEFAULT, NULL, paste_stored_cb, g_steal_pointer (&paste));
}

/**
 * clipscope_session_add_image_stream:
 * @stream: a picture's encoded bytes, as another program put it on the
 *   clipboard
 * @extension: the file name extension of its format
 *
 * Adds a pasted picture without decoding it here: its bytes are written
 * to a file in the user's cache folder, which is then added, and so
 * decoded in the engine's decoder processes like any file.
 */
void
clipscope_session_add_image_stream (ClipscopeSession *self,
                                    GInputStream     *stream,
                                    const char       *extension)
{
  g_autofree char *path = NULL;
  Paste *paste;

  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));
  g_return_if_fail (G_IS_INPUT_STREAM (stream));

  path = pasted_path (extension);
  if (path == NULL)
    {
      g_signal_emit (self, signals[SIGNAL_NOTICE], 0, _("Could not store the pasted image"));
      return;
    }
  paste = g_new0 (Paste, 1);
  paste->session = g_object_ref (self);
  paste->stream = g_object_ref (stream);
  paste->file = g_file_new_for_path (path);
  g_file_replace_async (paste->file, NULL, FALSE, G_FILE_CREATE_PRIVATE, G_PRIORITY_DEFAULT, NULL,
                        paste_file_open_cb, paste);
}

/**
 * clipscope_session_follow_images:
 * @source: (element-type ClipscopeImage): another session's images
 *
 * Makes this session's images the files of @source, in its order, so a
 * second model's rows line up with the first one's. An image holds the
 * embedding of one model, so each session keeps objects of its own;
 * those it already has keep their embedding, new ones are encoded.
 */
void
clipscope_session_follow_images (ClipscopeSession *self,
                                 GListModel       *source)
{
  g_autoptr(GHashTable) kept = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
  g_autoptr(GPtrArray) images = g_ptr_array_new_with_free_func (g_object_unref);
  guint n_old = g_list_model_get_n_items (G_LIST_MODEL (self->images));
  guint n = g_list_model_get_n_items (source);

  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));
  g_return_if_fail (G_IS_LIST_MODEL (source));

  for (guint i = 0; i < n_old; i++)
    {
      ClipscopeImage *image = g_list_model_get_item (G_LIST_MODEL (self->images), i);

      g_hash_table_replace (kept, (gpointer) clipscope_image_get_path (image), image);
    }
  g_hash_table_remove_all (self->image_paths);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ClipscopeImage) original = g_list_model_get_item (source, i);
      const char *path = clipscope_image_get_path (original);
      ClipscopeImage *image = g_hash_table_lookup (kept, path);

      if (g_hash_table_contains (self->image_paths, path))
        continue;
      g_hash_table_add (self->image_paths, g_strdup (path));
      if (image != NULL)
        {
          g_ptr_array_add (images, g_object_ref (image));
          continue;
        }
      image = clipscope_image_new (clipscope_image_get_file (original));
      watch_image (self, image);
      if (self->model != NULL && !self->model_pending)
        encode_image (self, image);
      g_ptr_array_add (images, image);
    }
  g_list_store_splice (self->images, 0, n_old, images->pdata, images->len);
  update_busy (self);
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
 * are taken out again. Also stops a label job sent in chunks: the scores
 * stay those of the labels and templates last encoded, and the texts its
 * finished chunks encoded stay cached for the next job.
 */
void
clipscope_session_cancel (ClipscopeSession *self)
{
  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));

  if (self->label_texts_total > 0)
    {
      replace_cancellable (&self->labels_cancellable);
      self->labels_pending = FALSE;
      self->label_texts_total = self->label_texts_done = 0;
      update_busy (self);
    }
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

/* A job of many (template, label) texts is sent as chunks of about this
 * many, so its progress shows and Cancel stops it between chunks. Each
 * chunk only fills the worker's text cache; the last request, for every
 * template at once, then sums cached embeddings exactly as one job would.
 * Above CHUNKED_TEXTS_MAX texts the worker's cache could not hold them all
 * until that last request, so such a job goes as one. */
#define LABEL_CHUNK_TEXTS 64
#define CHUNKED_TEXTS_MAX 16384

typedef struct {
  GWeakRef      session;
  GCancellable *cancellable;
  GStrv         labels;
  GStrv         templates;
  guint         n_labels;
  guint         n_templates;
  guint         labels_per_chunk;    /* 0 when the job goes as one request */
  guint         templates_per_chunk;
  guint         next_chunk;
  guint         n_chunks;
} LabelsJob;

static void
labels_job_free (LabelsJob *job)
{
  g_weak_ref_clear (&job->session);
  g_clear_object (&job->cancellable);
  g_strfreev (job->labels);
  g_strfreev (job->templates);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LabelsJob, labels_job_free)

static void
label_job_failed (ClipscopeSession *self,
                  const GError     *error)
{
  self->labels_pending = FALSE;
  self->label_texts_total = self->label_texts_done = 0;
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_signal_emit (self, signals[SIGNAL_NOTICE], 0, error->message);
}

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
  self->label_texts_total = self->label_texts_done = 0;
  if (embeddings == NULL)
    label_job_failed (self, error);
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

static void send_label_request (ClipscopeSession *self,
                                LabelsJob        *job);

/* The labels and templates of the job's next chunk; chunks go label
 * block by label block within each template block. */
static void
chunk_extent (const LabelsJob *job,
              guint           *first_label,
              guint           *n_labels,
              guint           *first_template,
              guint           *n_templates)
{
  guint n_label_blocks = (job->n_labels + job->labels_per_chunk - 1) / job->labels_per_chunk;

  *first_label = (job->next_chunk % n_label_blocks) * job->labels_per_chunk;
  *first_template = (job->next_chunk / n_label_blocks) * job->templates_per_chunk;
  *n_labels = MIN (job->labels_per_chunk, job->n_labels - *first_label);
  *n_templates = MIN (job->templates_per_chunk, job->n_templates - *first_template);
}

static void
label_chunk_encoded_cb (GObject      *object,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(LabelsJob) job = user_data;
  g_autoptr(ClipscopeSession) self = g_weak_ref_get (&job->session);
  g_autoptr(GError) error = NULL;
  g_autofree float *embeddings = NULL;
  int n_encoded = 0;
  guint first_label, n_labels, first_template, n_templates;

  if (self == NULL)
    return;
  embeddings = clipscope_worker_encode_labels_finish (self->worker, result, &n_encoded, &error);
  if (job->cancellable != self->labels_cancellable)
    return;

  if (embeddings == NULL)
    {
      label_job_failed (self, error);
      queue_rescore (self);
      update_busy (self);
      return;
    }
  chunk_extent (job, &first_label, &n_labels, &first_template, &n_templates);
  self->n_texts_encoded += n_encoded;
  self->label_texts_done += n_labels * n_templates;
  job->next_chunk++;
  send_label_request (self, g_steal_pointer (&job));
  update_busy (self);
}

/* Sends the job's next chunk, or once they are all encoded, the request
 * for every label and template; the callback owns @job. */
static void
send_label_request (ClipscopeSession *self,
                    LabelsJob        *job)
{
  guint first_label, n_labels, first_template, n_templates;
  g_autofree const char **labels = NULL;
  g_autofree const char **templates = NULL;

  if (job->next_chunk >= job->n_chunks)
    {
      clipscope_worker_encode_labels_async (self->worker, (const char * const *) job->labels,
                                            (const char * const *) job->templates,
                                            job->cancellable, labels_encoded_cb, job);
      return;
    }

  chunk_extent (job, &first_label, &n_labels, &first_template, &n_templates);
  labels = g_new0 (const char *, n_labels + 1);
  templates = g_new0 (const char *, n_templates + 1);
  memcpy (labels, job->labels + first_label, n_labels * sizeof (char *));
  memcpy (templates, job->templates + first_template, n_templates * sizeof (char *));
  clipscope_worker_encode_labels_async (self->worker, labels, templates, job->cancellable,
                                        label_chunk_encoded_cb, job);
}

static void
plan_label_chunks (ClipscopeSession *self,
                   LabelsJob        *job)
{
  guint n_texts;

  job->n_labels = g_strv_length (job->labels);
  job->n_templates = g_strv_length (job->templates);
  n_texts = job->n_labels * job->n_templates;
  self->label_texts_total = self->label_texts_done = 0;
  if (n_texts <= LABEL_CHUNK_TEXTS || n_texts > CHUNKED_TEXTS_MAX)
    return;

  job->labels_per_chunk = MIN (job->n_labels, LABEL_CHUNK_TEXTS);
  job->templates_per_chunk = MAX (1, LABEL_CHUNK_TEXTS / job->labels_per_chunk);
  job->n_chunks = ((job->n_labels + job->labels_per_chunk - 1) / job->labels_per_chunk)
                  * ((job->n_templates + job->templates_per_chunk - 1) / job->templates_per_chunk);
  self->label_texts_total = n_texts;
}

/**
 * clipscope_session_dup_enabled_templates:
 *
 * Returns: (transfer full): the enabled, valid templates in order; the
 *   model family's default, as in the CLI, when there are none
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
    g_strv_builder_add (builder, clipscope_family_default_template (
                                   self->model != NULL ? clipscope_model_get_info (self->model)->family
                                                       : CLIPSCOPE_FAMILY_CLIP));
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
  self->label_texts_total = self->label_texts_done = 0;
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
  job->templates = g_steal_pointer (&templates);
  plan_label_chunks (self, job);
  self->labels_pending = TRUE;
  self->n_label_jobs++;
  send_label_request (self, job);
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
 * clipscope_session_add_label:
 * @text: one label, taken whole: commas are part of it
 *
 * Appends @text, stripped of surrounding white space, unless it is empty
 * or already present.
 */
void
clipscope_session_add_label (ClipscopeSession *self,
                             const char       *text)
{
  g_autofree char *label = NULL;

  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));
  g_return_if_fail (text != NULL);

  label = g_strstrip (g_strdup (text));
  if (*label != '\0' && g_utf8_validate (label, -1, NULL) && !has_label (self, label))
    gtk_string_list_append (self->labels, label);
}

/**
 * clipscope_session_add_labels_text:
 * @text: a pasted list: one label a line
 *
 * Appends each non-empty line not already present, in order. Commas do
 * not separate labels ("a red, shiny apple" is one).
 */
void
clipscope_session_add_labels_text (ClipscopeSession *self,
                                   const char       *text)
{
  g_auto(GStrv) parts = NULL;

  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));
  g_return_if_fail (text != NULL);

  parts = g_regex_split_simple ("[\\r\\n]+", text, 0, 0);
  for (char **p = parts; *p != NULL; p++)
    clipscope_session_add_label (self, *p);
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
  /* A renamed label keeps its examples. */
  for (guint i = 0; i < self->examples->len && *stripped != '\0'; i++)
    {
      Example *example = g_ptr_array_index (self->examples, i);

      if (g_strcmp0 (example->label, gtk_string_list_get_string (self->labels, position)) == 0)
        {
          g_free (example->label);
          example->label = g_strdup (stripped);
        }
    }
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

/* ------------------------------------------------------------ few-shot */

static int
scored_label_index (ClipscopeSession *self,
                    const char       *label)
{
  for (guint j = 0; self->scored_labels != NULL && self->scored_labels[j] != NULL; j++)
    if (g_strcmp0 (self->scored_labels[j], label) == 0)
      return (int) j;
  return -1;
}

/* The encoded examples of the scored labels, in the order they were
 * added: [n, embed_dim] and each one's column. */
static float *
gather_examples (ClipscopeSession  *self,
                 int              **labels,
                 int               *n)
{
  float *rows = g_new (float, (gsize) MAX (self->examples->len, 1) * MAX (self->embed_dim, 1));

  *labels = g_new (int, MAX (self->examples->len, 1));
  *n = 0;
  for (guint i = 0; i < self->examples->len; i++)
    {
      Example *example = g_ptr_array_index (self->examples, i);
      int column = scored_label_index (self, example->label);

      if (example->embedding == NULL || column < 0)
        continue;
      memcpy (rows + (gsize) *n * self->embed_dim, example->embedding, self->embed_dim * sizeof (float));
      (*labels)[(*n)++] = column;
    }
  return rows;
}

/* The rows the images are scored against: the zero-shot text, or the
 * prototypes that blend in each label's examples. */
static float *
build_classifier (ClipscopeSession *self,
                  guint             n_labels)
{
  float *rows = g_memdup2 (self->label_embeddings, (gsize) n_labels * self->embed_dim * sizeof (float));
  g_autofree float *examples = NULL;
  g_autofree int *labels = NULL;
  int n;

  if (self->classifier == CLIPSCOPE_LABEL_MODE_ZERO_SHOT)
    return rows;
  examples = gather_examples (self, &labels, &n);
  clipscope_prototypes_build (rows, n_labels, self->embed_dim, examples, labels, n,
                              self->example_weight, rows);
  return rows;
}

static guint
count_examples (ClipscopeSession *self,
                const char       *label,
                gboolean          encoded_only)
{
  guint n = 0;

  for (guint i = 0; i < self->examples->len; i++)
    {
      Example *example = g_ptr_array_index (self->examples, i);

      if (g_strcmp0 (example->label, label) == 0 && (!encoded_only || example->embedding != NULL))
        n++;
    }
  return n;
}

/* What a probe would be trained on now, as a string that changes when
 * the labels or their encoded examples do; NULL when no probe is wanted
 * or some label has fewer than two examples. */
static char *
probe_training_key (ClipscopeSession *self)
{
  g_autoptr(GString) key = NULL;

  if (self->classifier != CLIPSCOPE_LABEL_MODE_PROBE || self->label_embeddings == NULL
      || self->scored_labels == NULL || self->scored_labels[0] == NULL)
    return NULL;
  for (char **l = self->scored_labels; *l != NULL; l++)
    if (count_examples (self, *l, TRUE) < 2)
      return NULL;
  key = g_string_new (NULL);
  g_string_append_printf (key, "%u", self->generation);
  for (char **l = self->scored_labels; *l != NULL; l++)
    g_string_append_printf (key, "\x1e%s", *l);
  for (guint i = 0; i < self->examples->len; i++)
    {
      Example *example = g_ptr_array_index (self->examples, i);

      if (example->embedding != NULL)
        g_string_append_printf (key, "\x1d%s\x1f%s", example->label, example->path);
    }
  return g_string_free (g_steal_pointer (&key), FALSE);
}

typedef struct {
  GWeakRef  session;
  char     *key;
  float    *examples;
  int      *labels;
  int       n_examples;
  int       n_labels;
  int       dim;
  GStrv     names;
} ProbeJob;

typedef struct {
  ClipscopeProbe *probe;
  int            *predicted;   /* leave-one-out, [n_examples] */
} ProbeResult;

static void
probe_job_free (ProbeJob *job)
{
  g_weak_ref_clear (&job->session);
  g_free (job->key);
  g_free (job->examples);
  g_free (job->labels);
  g_strfreev (job->names);
  g_free (job);
}

static void
probe_result_free (ProbeResult *result)
{
  g_clear_pointer (&result->probe, clipscope_probe_free);
  g_free (result->predicted);
  g_free (result);
}

static void
train_probe_thread (GTask        *task,
                    gpointer      source_object,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  ProbeJob *job = task_data;
  g_autoptr(GError) error = NULL;
  ProbeResult *result = g_new0 (ProbeResult, 1);

  result->predicted = g_new (int, MAX (job->n_examples, 1));
  result->probe = clipscope_probe_train (job->examples, job->labels, job->n_examples, job->n_labels,
                                         job->dim, (const char * const *) job->names, NULL,
                                         cancellable, &error);
  if (result->probe == NULL
      || !clipscope_probe_leave_one_out (job->examples, job->labels, job->n_examples, job->n_labels,
                                         job->dim, (const char * const *) job->names, NULL,
                                         result->predicted, NULL, cancellable, &error))
    {
      probe_result_free (result);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_pointer (task, result, (GDestroyNotify) probe_result_free);
}

static void
probe_trained_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  ProbeJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr(ClipscopeSession) self = g_weak_ref_get (&job->session);
  g_autoptr(GError) error = NULL;
  ProbeResult *trained = g_task_propagate_pointer (G_TASK (result), &error);

  if (self == NULL || g_task_get_cancellable (G_TASK (result)) != self->probe_cancellable)
    {
      g_clear_pointer (&trained, probe_result_free);
      return;
    }
  self->probe_pending = FALSE;
  g_clear_pointer (&self->probe, clipscope_probe_free);
  g_clear_pointer (&self->probe_predicted, g_free);
  /* A failure is remembered under its key too, so it is not retried
   * until the examples change. */
  g_free (self->probe_key);
  self->probe_key = g_strdup (job->key);
  if (trained != NULL)
    {
      self->probe = g_steal_pointer (&trained->probe);
      self->probe_predicted = g_steal_pointer (&trained->predicted);
      probe_result_free (trained);
    }
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_autofree char *message = g_strdup_printf (_("Could not train the linear probe: %s"), error->message);

      g_signal_emit (self, signals[SIGNAL_NOTICE], 0, message);
    }
  queue_rescore (self);
  update_busy (self);
}

static gboolean
probe_ready (ClipscopeSession *self)
{
  return self->probe != NULL && self->probe_current;
}

/* Starts training when the examples changed since the probe in hand
 * was trained; the probe is used only while it matches them. */
static void
update_probe (ClipscopeSession *self)
{
  g_autofree char *key = probe_training_key (self);
  g_autoptr(GTask) task = NULL;
  ProbeJob *job;

  self->probe_current = key != NULL && g_strcmp0 (key, self->probe_key) == 0;
  if (key == NULL || self->probe_current)
    {
      if (key == NULL && self->probe_pending)
        {
          replace_cancellable (&self->probe_cancellable);
          self->probe_pending = FALSE;
        }
      return;
    }
  if (self->probe_pending && g_strcmp0 (key, self->probe_pending_key) == 0)
    return;

  replace_cancellable (&self->probe_cancellable);
  g_free (self->probe_pending_key);
  self->probe_pending_key = g_strdup (key);
  job = g_new0 (ProbeJob, 1);
  g_weak_ref_init (&job->session, self);
  job->key = g_steal_pointer (&key);
  job->examples = gather_examples (self, &job->labels, &job->n_examples);
  job->n_labels = (int) g_strv_length (self->scored_labels);
  job->dim = self->embed_dim;
  job->names = g_strdupv (self->scored_labels);
  self->probe_pending = TRUE;
  task = g_task_new (NULL, self->probe_cancellable, probe_trained_cb, NULL);
  g_task_set_name (task, "clipscope-probe");
  g_task_set_task_data (task, job, (GDestroyNotify) probe_job_free);
  g_task_run_in_thread (task, train_probe_thread);
}

/* Each label's leave-one-out accuracy on its examples, under the
 * classifier in use: the probe's, or the prototypes' (text alone in
 * zero-shot mode, which is a blend of weight 0). */
static void
update_accuracy (ClipscopeSession *self)
{
  guint n_labels = self->scored_labels != NULL ? g_strv_length (self->scored_labels) : 0;
  g_autofree float *examples = NULL;
  g_autofree int *labels = NULL;
  g_autofree int *predicted = NULL;
  g_autofree guint *total = g_new0 (guint, MAX (n_labels, 1));
  g_autofree guint *right = g_new0 (guint, MAX (n_labels, 1));
  int n;

  g_clear_pointer (&self->label_accuracy, g_free);
  self->label_accuracy = g_new (double, MAX (n_labels, 1));
  for (guint j = 0; j < n_labels; j++)
    self->label_accuracy[j] = NAN;
  if (n_labels == 0 || self->label_embeddings == NULL)
    return;

  examples = gather_examples (self, &labels, &n);
  if (n == 0)
    return;
  if (probe_ready (self))
    predicted = g_memdup2 (self->probe_predicted, n * sizeof (int));
  else
    {
      predicted = g_new (int, n);
      clipscope_prototypes_leave_one_out (self->label_embeddings, n_labels, self->embed_dim, examples,
                                          labels, n,
                                          self->classifier == CLIPSCOPE_LABEL_MODE_ZERO_SHOT
                                          ? 0.0f : self->example_weight,
                                          predicted);
    }
  for (int i = 0; i < n; i++)
    {
      total[labels[i]]++;
      right[labels[i]] += predicted[i] == labels[i];
    }
  for (guint j = 0; j < n_labels; j++)
    if (total[j] > 0)
      self->label_accuracy[j] = (double) right[j] / total[j];
}

typedef struct {
  GWeakRef  session;
  char     *label;
  char     *path;
  guint     generation;
} ExampleJob;

static void
example_job_free (ExampleJob *job)
{
  g_weak_ref_clear (&job->session);
  g_free (job->label);
  g_free (job->path);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ExampleJob, example_job_free)

static Example *
find_example (ClipscopeSession *self,
              const char       *label,
              const char       *path,
              guint            *index)
{
  for (guint i = 0; i < self->examples->len; i++)
    {
      Example *example = g_ptr_array_index (self->examples, i);

      if (g_strcmp0 (example->label, label) == 0 && g_strcmp0 (example->path, path) == 0)
        {
          if (index != NULL)
            *index = i;
          return example;
        }
    }
  return NULL;
}

static void
example_encoded_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(ExampleJob) job = user_data;
  g_autoptr(ClipscopeSession) self = g_weak_ref_get (&job->session);
  g_autoptr(GError) error = NULL;
  g_autofree float *embedding = NULL;
  Example *example;
  guint index;
  int dim = 0;

  if (self == NULL)
    return;
  embedding = clipscope_worker_encode_image_finish (self->worker, result, &dim, &error);
  if (job->generation != self->generation)
    return;

  self->n_examples_pending--;
  example = find_example (self, job->label, job->path, &index);
  if (example != NULL && embedding != NULL && dim == self->embed_dim)
    example->embedding = g_steal_pointer (&embedding);
  else if (example != NULL && error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_autofree char *name = g_path_get_basename (job->path);
      g_autofree char *message = g_strdup_printf (_("Could not use %s as an example of “%s”: %s"),
                                                  name, job->label, error->message);

      g_ptr_array_remove_index (self->examples, index);
      g_signal_emit (self, signals[SIGNAL_NOTICE], 0, message);
    }
  queue_rescore (self);
  update_busy (self);
}

static void
encode_example (ClipscopeSession *self,
                Example          *example)
{
  ExampleJob *job = g_new0 (ExampleJob, 1);

  g_weak_ref_init (&job->session, self);
  job->label = g_strdup (example->label);
  job->path = g_strdup (example->path);
  job->generation = self->generation;
  self->n_examples_pending++;
  clipscope_worker_encode_image_async (self->worker, example->path, self->model_cancellable,
                                       example_encoded_cb, job);
}

static void
encode_pending_examples (ClipscopeSession *self)
{
  self->n_examples_pending = 0;
  for (guint i = 0; i < self->examples->len; i++)
    {
      Example *example = g_ptr_array_index (self->examples, i);

      if (example->embedding == NULL)
        encode_example (self, example);
    }
}

/* Examples of labels that are gone go with them. */
static void
prune_examples (ClipscopeSession *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->labels));
  gboolean removed = FALSE;

  for (guint i = self->examples->len; i > 0; i--)
    {
      Example *example = g_ptr_array_index (self->examples, i - 1);
      gboolean kept = FALSE;

      for (guint j = 0; j < n && !kept; j++)
        kept = g_strcmp0 (gtk_string_list_get_string (self->labels, j), example->label) == 0;
      if (!kept)
        {
          g_ptr_array_remove_index (self->examples, i - 1);
          removed = TRUE;
        }
    }
  if (removed)
    queue_rescore (self);
}

/**
 * clipscope_session_add_examples:
 * @label: one of the labels
 * @files: (array length=n_files): image files
 *
 * Makes the images examples of @label. They are encoded on the worker
 * once; a file that does not decode is dropped again with a
 * #ClipscopeSession::notice naming it.
 */
void
clipscope_session_add_examples (ClipscopeSession  *self,
                                const char        *label,
                                GFile            **files,
                                guint              n_files)
{
  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));
  g_return_if_fail (label != NULL);

  if (!has_label (self, label))
    return;
  for (guint i = 0; i < n_files; i++)
    {
      g_autofree char *path = g_file_get_path (files[i]);
      Example *example;

      if (path == NULL)
        {
          g_autofree char *uri = g_file_get_uri (files[i]);
          g_autofree char *message = g_strdup_printf (_("Only local files can be examples: %s"), uri);

          g_signal_emit (self, signals[SIGNAL_NOTICE], 0, message);
          continue;
        }
      if (find_example (self, label, path, NULL) != NULL)
        continue;
      example = g_new0 (Example, 1);
      example->label = g_strdup (label);
      example->path = g_steal_pointer (&path);
      g_ptr_array_add (self->examples, example);
      if (self->model != NULL && !self->model_pending)
        encode_example (self, example);
    }
  queue_rescore (self);
  update_busy (self);
}

/** clipscope_session_remove_example: Takes @path out of @label's examples. */
void
clipscope_session_remove_example (ClipscopeSession *self,
                                  const char       *label,
                                  const char       *path)
{
  guint index;

  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));

  if (find_example (self, label, path, &index) == NULL)
    return;
  g_ptr_array_remove_index (self->examples, index);
  queue_rescore (self);
  update_busy (self);
}

/** clipscope_session_clear_examples: Removes every example of @label. */
void
clipscope_session_clear_examples (ClipscopeSession *self,
                                  const char       *label)
{
  g_auto(GStrv) paths = NULL;

  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));

  paths = clipscope_session_dup_examples (self, label);
  for (char **p = paths; *p != NULL; p++)
    clipscope_session_remove_example (self, label, *p);
}

/**
 * clipscope_session_dup_examples:
 *
 * Returns: (transfer full): the paths of @label's examples, in the order
 *   they were added, including those still being encoded
 */
GStrv
clipscope_session_dup_examples (ClipscopeSession *self,
                                const char       *label)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), NULL);

  for (guint i = 0; i < self->examples->len; i++)
    {
      Example *example = g_ptr_array_index (self->examples, i);

      if (g_strcmp0 (example->label, label) == 0)
        g_strv_builder_add (builder, example->path);
    }
  return g_strv_builder_end (builder);
}

/**
 * clipscope_session_get_label_mode:
 *
 * Returns: how @label's column is scored now: the probe's, once trained,
 *   for every label; a prototype for a label with encoded examples; else
 *   its text alone
 */
ClipscopeLabelMode
clipscope_session_get_label_mode (ClipscopeSession *self,
                                  const char       *label)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), CLIPSCOPE_LABEL_MODE_ZERO_SHOT);

  if (self->classifier == CLIPSCOPE_LABEL_MODE_ZERO_SHOT || scored_label_index (self, label) < 0)
    return CLIPSCOPE_LABEL_MODE_ZERO_SHOT;
  if (probe_ready (self))
    return CLIPSCOPE_LABEL_MODE_PROBE;
  return count_examples (self, label, TRUE) > 0 ? CLIPSCOPE_LABEL_MODE_PROTOTYPE
                                                : CLIPSCOPE_LABEL_MODE_ZERO_SHOT;
}

/**
 * clipscope_session_get_label_accuracy:
 *
 * Returns: the fraction of @label's examples that the classifier in use
 *   gives @label when built without them (leave-one-out), or NaN when it
 *   has no encoded examples
 */
double
clipscope_session_get_label_accuracy (ClipscopeSession *self,
                                      const char       *label)
{
  int column;

  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), NAN);

  column = scored_label_index (self, label);
  if (column < 0 || self->label_accuracy == NULL)
    return NAN;
  return self->label_accuracy[column];
}

/**
 * clipscope_session_can_probe:
 *
 * Returns: whether every label has the two examples a probe needs
 */
gboolean
clipscope_session_can_probe (ClipscopeSession *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->labels));

  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), FALSE);

  for (guint j = 0; j < n; j++)
    if (count_examples (self, gtk_string_list_get_string (self->labels, j), FALSE) < 2)
      return FALSE;
  return n > 0;
}

ClipscopeLabelMode
clipscope_session_get_classifier (ClipscopeSession *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), CLIPSCOPE_LABEL_MODE_ZERO_SHOT);
  return self->classifier;
}

/**
 * clipscope_session_set_classifier:
 *
 * Chooses how labels are scored. The probe is trained in a thread once
 * every label has two encoded examples; until then labels are scored as
 * in prototype mode.
 */
void
clipscope_session_set_classifier (ClipscopeSession   *self,
                                  ClipscopeLabelMode  mode)
{
  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));
  g_return_if_fail (mode <= CLIPSCOPE_LABEL_MODE_PROBE);

  if (mode == self->classifier)
    return;
  self->classifier = mode;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLASSIFIER]);
  queue_rescore (self);
  update_busy (self);
}

double
clipscope_session_get_example_weight (ClipscopeSession *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), 0.0);
  return self->example_weight;
}

void
clipscope_session_set_example_weight (ClipscopeSession *self,
                                      double            weight)
{
  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));

  weight = CLAMP (weight, 0.0, 1.0);
  if ((float) weight == self->example_weight)
    return;
  self->example_weight = (float) weight;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EXAMPLE_WEIGHT]);
  queue_rescore (self);
  update_busy (self);
}

gboolean
clipscope_session_get_use_threshold (ClipscopeSession *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), FALSE);
  return self->use_threshold;
}

void
clipscope_session_set_use_threshold (ClipscopeSession *self,
                                     gboolean          use)
{
  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));

  if (!use == !self->use_threshold)
    return;
  self->use_threshold = !!use;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USE_THRESHOLD]);
  queue_rescore (self);
  update_busy (self);
}

double
clipscope_session_get_threshold (ClipscopeSession *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), 0.0);
  return self->threshold;
}

/**
 * clipscope_session_set_threshold:
 * @threshold: a cosine; while the threshold is in use, an image whose top
 *   label's cosine is below it is unclassified
 */
void
clipscope_session_set_threshold (ClipscopeSession *self,
                                 double            threshold)
{
  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));

  threshold = CLAMP (threshold, -1.0, 1.0);
  if (threshold == self->threshold)
    return;
  self->threshold = threshold;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_THRESHOLD]);
  if (self->use_threshold)
    queue_rescore (self);
  update_busy (self);
}

/**
 * clipscope_session_get_top:
 * @n_images: (out): the rows
 * @n_unclassified: (out) (optional): the images below the threshold
 *
 * Returns: (transfer none): [n_images], each image's top column, or -1
 *   when it is unclassified or not scored yet
 */
const int *
clipscope_session_get_top (ClipscopeSession *self,
                           guint            *n_images,
                           guint            *n_unclassified)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), NULL);

  *n_images = self->top != NULL ? self->n_score_images : 0;
  if (n_unclassified != NULL)
    *n_unclassified = self->n_unclassified;
  return self->top;
}

/** clipscope_session_is_unclassified: Returns: whether @row is scored and below the threshold */
gboolean
clipscope_session_is_unclassified (ClipscopeSession *self,
                                   guint             row)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), FALSE);

  return self->top != NULL && row < self->n_score_images && self->n_score_labels > 0
         && self->top[row] < 0 && !isnan (self->similarity[(gsize) row * self->n_score_labels]);
}

/* ------------------------------------------------------------ texts */

typedef struct {
  GWeakRef session;
  guint    generation;
  int      embed_dim;
} TextsJob;

static const char encode_texts_tag;

static void
texts_job_free (TextsJob *job)
{
  g_weak_ref_clear (&job->session);
  g_free (job);
}

static void
texts_encoded_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  TextsJob *job = g_task_get_task_data (task);
  g_autoptr(ClipscopeSession) self = g_weak_ref_get (&job->session);
  g_autoptr(GError) error = NULL;
  g_autofree float *embeddings = NULL;

  if (self == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "the session was closed");
      return;
    }
  embeddings = clipscope_worker_encode_labels_finish (self->worker, result, NULL, &error);
  if (embeddings == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else if (job->generation != self->generation || self->model == NULL)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "the model changed");
  else
    {
      job->embed_dim = self->embed_dim;
      g_task_return_pointer (task, g_steal_pointer (&embeddings), g_free);
    }
}

/**
 * clipscope_session_encode_texts_async:
 * @texts: (array zero-terminated=1): texts to encode one by one
 *
 * Encodes each text on its own, as the template editor needs the text of
 * every prompt rather than their ensemble. The worker's cache of
 * (template, label) texts serves them: each goes in as a label of the
 * template "{}".
 */
void
clipscope_session_encode_texts_async (ClipscopeSession    *self,
                                      const char * const  *texts,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  static const char * const identity[] = { "{}", NULL };
  g_autoptr(GTask) task = NULL;
  TextsJob *job;

  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));
  g_return_if_fail (texts != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, (gpointer) &encode_texts_tag);
  job = g_new0 (TextsJob, 1);
  g_weak_ref_init (&job->session, self);
  job->generation = self->generation;
  g_task_set_task_data (task, job, (GDestroyNotify) texts_job_free);
  clipscope_worker_encode_labels_async (self->worker, texts, identity, cancellable,
                                        texts_encoded_cb, g_steal_pointer (&task));
}

/**
 * clipscope_session_encode_texts_finish:
 * @embed_dim: (out) (optional): the length of each embedding
 *
 * Returns: (transfer full) (nullable): [n_texts, embed_dim], normalised,
 *   or %NULL with @error set
 */
float *
clipscope_session_encode_texts_finish (ClipscopeSession  *self,
                                       GAsyncResult      *result,
                                       int               *embed_dim,
                                       GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == &encode_texts_tag, NULL);

  if (embed_dim != NULL)
    *embed_dim = ((TextsJob *) g_task_get_task_data (G_TASK (result)))->embed_dim;
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------ GObject */

static void
lists_changed_cb (ClipscopeSession *self)
{
  prune_examples (self);
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
  g_cancellable_cancel (self->probe_cancellable);
  g_clear_handle_id (&self->debounce_id, g_source_remove);
  g_clear_handle_id (&self->rescore_id, g_source_remove);
  g_clear_handle_id (&self->report_id, g_source_remove);
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
  g_clear_object (&self->probe_cancellable);
  g_clear_pointer (&self->examples, g_ptr_array_unref);
  g_clear_pointer (&self->probe, clipscope_probe_free);
  g_free (self->probe_key);
  g_free (self->probe_pending_key);
  g_free (self->probe_predicted);
  g_free (self->label_accuracy);
  g_free (self->top);
  g_clear_pointer (&self->image_paths, g_hash_table_unref);
  g_clear_pointer (&self->failed_names, g_ptr_array_unref);
  g_clear_pointer (&self->failed_reasons, g_ptr_array_unref);
  g_clear_pointer (&self->scored_labels, g_strfreev);
  g_clear_pointer (&self->score_labels, g_strfreev);
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
    case PROP_LABELS_ENCODING:
      g_value_set_boolean (value, self->labels_encoding);
      break;
    case PROP_PROGRESS:
      g_value_set_double (value, clipscope_session_get_progress (self));
      break;
    case PROP_MAX_FOLDER_IMAGES:
      g_value_set_uint (value, self->max_folder_images);
      break;
    case PROP_CLASSIFIER:
      g_value_set_string (value, clipscope_label_mode_to_string (self->classifier));
      break;
    case PROP_EXAMPLE_WEIGHT:
      g_value_set_double (value, self->example_weight);
      break;
    case PROP_USE_THRESHOLD:
      g_value_set_boolean (value, self->use_threshold);
      break;
    case PROP_THRESHOLD:
      g_value_set_double (value, self->threshold);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* The classifier goes by the engine's names ("zero-shot", "prototype",
 * "probe"), which GSettings and a GAction can carry as strings. */
static ClipscopeLabelMode
mode_from_string (const char *name)
{
  for (ClipscopeLabelMode m = CLIPSCOPE_LABEL_MODE_ZERO_SHOT; m <= CLIPSCOPE_LABEL_MODE_PROBE; m++)
    if (g_strcmp0 (name, clipscope_label_mode_to_string (m)) == 0)
      return m;
  return CLIPSCOPE_LABEL_MODE_PROTOTYPE;
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
    case PROP_CLASSIFIER:
      clipscope_session_set_classifier (self, mode_from_string (g_value_get_string (value)));
      break;
    case PROP_EXAMPLE_WEIGHT:
      clipscope_session_set_example_weight (self, g_value_get_double (value));
      break;
    case PROP_USE_THRESHOLD:
      clipscope_session_set_use_threshold (self, g_value_get_boolean (value));
      break;
    case PROP_THRESHOLD:
      clipscope_session_set_threshold (self, g_value_get_double (value));
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
  properties[PROP_LABELS_ENCODING] =
    g_param_spec_boolean ("labels-encoding", NULL, NULL, FALSE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_PROGRESS] =
    g_param_spec_double ("progress", NULL, NULL, 0.0, 1.0, 0.0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_MAX_FOLDER_IMAGES] =
    g_param_spec_uint ("max-folder-images", NULL, NULL, 1, 100000, DEFAULT_MAX_FOLDER_IMAGES,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CLASSIFIER] =
    g_param_spec_string ("classifier", NULL, NULL, "prototype",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_EXAMPLE_WEIGHT] =
    g_param_spec_double ("example-weight", NULL, NULL, 0.0, 1.0, CLIPSCOPE_EXAMPLE_WEIGHT_DEFAULT,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_USE_THRESHOLD] =
    g_param_spec_boolean ("use-threshold", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_THRESHOLD] =
    g_param_spec_double ("threshold", NULL, NULL, -1.0, 1.0, DEFAULT_THRESHOLD,
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
  /**
   * ClipscopeSession::images-failed:
   * @summary: one line for a toast, naming the files
   * @reasons: the engine's message for each file, which names it
   *
   * Images of the last batch could not be read; they were left out and
   * the others scored.
   */
  signals[SIGNAL_IMAGES_FAILED] =
    g_signal_new ("images-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRV);
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
  self->failed_reasons = g_ptr_array_new_with_free_func (g_free);
  self->model_cancellable = g_cancellable_new ();
  self->images_cancellable = g_cancellable_new ();
  self->labels_cancellable = g_cancellable_new ();
  self->max_folder_images = DEFAULT_MAX_FOLDER_IMAGES;
  self->examples = g_ptr_array_new_with_free_func (example_free);
  self->probe_cancellable = g_cancellable_new ();
  self->classifier = CLIPSCOPE_LABEL_MODE_PROTOTYPE;
  self->example_weight = CLIPSCOPE_EXAMPLE_WEIGHT_DEFAULT;
  self->threshold = DEFAULT_THRESHOLD;

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

/**
 * clipscope_session_find_image:
 * @image: (nullable): an image
 *
 * Returns: @image's row in the matrix, which is its position in the
 *   images, or -1 when it is not one of them
 */
int
clipscope_session_find_image (ClipscopeSession *self,
                              ClipscopeImage   *image)
{
  guint position;

  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), -1);

  if (image == NULL || !g_list_store_find (self->images, image, &position))
    return -1;
  return (int) position;
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

/**
 * clipscope_session_disconnect_by_data:
 *
 * Disconnects the handlers with @data from the session and from its
 * images, labels and templates, for a window that follows all four.
 */
void
clipscope_session_disconnect_by_data (ClipscopeSession *self,
                                      gpointer          data)
{
  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));

  g_signal_handlers_disconnect_by_data (self, data);
  g_signal_handlers_disconnect_by_data (self->images, data);
  g_signal_handlers_disconnect_by_data (self->labels, data);
  g_signal_handlers_disconnect_by_data (self->templates, data);
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
 * clipscope_session_get_labels_encoding:
 *
 * Returns: whether the labels are being encoded (or wait for the typing to
 *   settle): the scores, and clipscope_session_get_scored_labels(), are
 *   those of the labels before, or none yet
 */
gboolean
clipscope_session_get_labels_encoding (ClipscopeSession *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), FALSE);
  return self->labels_encoding;
}

/**
 * clipscope_session_get_progress:
 *
 * Returns: the finished fraction of the batch of images being encoded
 *   and of a label job large enough to be sent in chunks
 */
double
clipscope_session_get_progress (ClipscopeSession *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), 0.0);

  if (self->n_batch_total + self->label_texts_total == 0)
    return 0.0;
  return (double) (self->n_batch_done + self->label_texts_done)
         / (self->n_batch_total + self->label_texts_total);
}

/**
 * clipscope_session_get_progress_counts:
 * @images_done: (out) (optional): images of the batch encoded
 * @images_total: (out) (optional): images in the batch, 0 when none
 * @texts_done: (out) (optional): (template, label) texts of a chunked
 *   label job encoded
 * @texts_total: (out) (optional): its texts, 0 when no label job is
 *   sent in chunks
 *
 * What clipscope_session_get_progress() is the fraction of.
 */
void
clipscope_session_get_progress_counts (ClipscopeSession *self,
                                       guint            *images_done,
                                       guint            *images_total,
                                       guint            *texts_done,
                                       guint            *texts_total)
{
  g_return_if_fail (CLIPSCOPE_IS_SESSION (self));

  if (images_done != NULL)
    *images_done = self->n_batch_done;
  if (images_total != NULL)
    *images_total = self->n_batch_total;
  if (texts_done != NULL)
    *texts_done = self->label_texts_done;
  if (texts_total != NULL)
    *texts_total = self->label_texts_total;
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
 * Returns: (transfer none) (nullable): the columns of the matrix, as many
 *   as clipscope_session_get_scores() gives; they lag the label list while
 *   a job runs
 */
const char * const *
clipscope_session_get_scored_labels (ClipscopeSession *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), NULL);
  return (const char * const *) self->score_labels;
}

/**
 * clipscope_session_get_scores:
 * @similarity: (out) (transfer none): [n_images, n_labels] cosines, NaN
 *   for images not encoded yet
 * @probabilities: (out) (transfer none): the probabilities, made as
 *   clipscope_session_get_scoring() says
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

/**
 * clipscope_session_get_scoring:
 *
 * Returns: how the probabilities of clipscope_session_get_scores() were
 *   made: the model's scoring, or %CLIPSCOPE_SCORING_SOFTMAX while a
 *   trained probe gives them. With %CLIPSCOPE_SCORING_SIGMOID each is on
 *   its own and an image's need not add up to 1.
 */
ClipscopeScoring
clipscope_session_get_scoring (ClipscopeSession *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), CLIPSCOPE_SCORING_SOFTMAX);

  return self->scoring;
}

/**
 * clipscope_session_get_model_info:
 *
 * Returns: (transfer none) (nullable): what the loaded model is, or %NULL
 *   before one is loaded
 */
const ClipscopeModelInfo *
clipscope_session_get_model_info (ClipscopeSession *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), NULL);

  return self->model != NULL ? clipscope_model_get_info (self->model) : NULL;
}

/**
 * clipscope_session_get_scoring_note:
 *
 * Returns: (transfer none) (nullable): a sentence that says the
 *   probabilities are independent, for a model that scores each label
 *   with a sigmoid; %NULL when they are a softmax and add up to 1
 */
const char *
clipscope_session_get_scoring_note (ClipscopeSession *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (self), NULL);

  if (self->scoring != CLIPSCOPE_SCORING_SIGMOID)
    return NULL;
  return _("This model scores each label on its own: the probabilities are independent "
           "and need not add up to 100 %.");
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
  /* Between a label job's end and the next scoring, the embeddings are
   * already those of labels the matrix does not show yet. */
  if (self->label_embeddings == NULL || self->scored_labels == NULL
      || column >= g_strv_length (self->scored_labels)
      || self->score_labels == NULL
      || !g_strv_equal ((const char * const *) self->score_labels,
                        (const char * const *) self->scored_labels))
    return NULL;
  return self->label_embeddings + (gsize) column * self->embed_dim;
}
