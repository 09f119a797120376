/* clipscope-search-view.c — the Search view: folders indexed, found by words or an example
 *
 * The view keeps the model's search index (clipscope_index_*) next to the
 * session's worker: it loads its own copy of the session's model on a
 * thread, encodes queries there with a context of its own, and indexes
 * folders on another thread with a third context, so typing a query never
 * waits for the classifier, nor the classifier for an index run. Queries
 * go through the session's enabled templates, as labels do.
 */
#include "clipscope-search-view.h"
#include "clipscope-compat.h"

#include <adwaita.h>
#include <errno.h>
#include <glib/gi18n.h>

#include "clipscope-image.h"
#include "clipscope-window.h"

#define MAX_RESULTS       200
#define THUMBNAIL_SIZE    256
#define MAX_CACHED_IMAGES 4000

/* ------------------------------------------------------------- engine */

/* What the threads share: the model, and a context and an index handle
 * for queries, used under the lock by one query at a time. */
typedef struct {
  gatomicrefcount   ref_count;
  GMutex            lock;
  ClipscopeModel   *model;
  ClipscopeContext *ctx;
  ClipscopeIndex   *index;
  char             *index_path;
} Engine;

static Engine *
engine_ref (Engine *engine)
{
  g_atomic_ref_count_inc (&engine->ref_count);
  return engine;
}

static void
engine_unref (Engine *engine)
{
  if (engine == NULL || !g_atomic_ref_count_dec (&engine->ref_count))
    return;
  g_clear_pointer (&engine->index, clipscope_index_free);
  g_clear_pointer (&engine->ctx, clipscope_context_free);
  g_clear_pointer (&engine->model, clipscope_model_unref);
  g_free (engine->index_path);
  g_mutex_clear (&engine->lock);
  g_free (engine);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Engine, engine_unref)

/* ---------------------------------------------------------------- hit */

#define CLIPSCOPE_TYPE_SEARCH_HIT (clipscope_search_hit_get_type ())
G_DECLARE_FINAL_TYPE (ClipscopeSearchHit, clipscope_search_hit, CLIPSCOPE, SEARCH_HIT, GObject)

struct _ClipscopeSearchHit {
  GObject         parent_instance;
  ClipscopeImage *image;
  float           score;
};

G_DEFINE_FINAL_TYPE (ClipscopeSearchHit, clipscope_search_hit, G_TYPE_OBJECT)

enum {
  HIT_PROP_0,
  HIT_PROP_IMAGE,
  HIT_PROP_SCORE,
};

static void
clipscope_search_hit_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  ClipscopeSearchHit *self = CLIPSCOPE_SEARCH_HIT (object);

  switch (prop_id)
    {
    case HIT_PROP_IMAGE:
      g_value_set_object (value, self->image);
      break;
    case HIT_PROP_SCORE:
      g_value_set_float (value, self->score);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
clipscope_search_hit_finalize (GObject *object)
{
  g_clear_object (&CLIPSCOPE_SEARCH_HIT (object)->image);
  G_OBJECT_CLASS (clipscope_search_hit_parent_class)->finalize (object);
}

/* A result: the image and its cosine with the query. */
static void
clipscope_search_hit_class_init (ClipscopeSearchHitClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = clipscope_search_hit_finalize;
  object_class->get_property = clipscope_search_hit_get_property;
  g_object_class_install_property (object_class, HIT_PROP_IMAGE,
    g_param_spec_object ("image", NULL, NULL, CLIPSCOPE_TYPE_IMAGE,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (object_class, HIT_PROP_SCORE,
    g_param_spec_float ("score", NULL, NULL, -1.0f, 1.0f, 0.0f,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
}

static void
clipscope_search_hit_init (ClipscopeSearchHit *self)
{
}

/* --------------------------------------------------------------- view */

struct _ClipscopeSearchView {
  GtkWidget        parent_instance;

  /* Template Widgets */
  GtkSearchEntry  *entry;
  GtkWidget       *query_bar;
  GtkWidget       *example_chip;
  GtkImage        *example_picture;
  GBinding        *example_binding;
  GtkLabel        *example_label;
  GtkRevealer     *progress_revealer;
  GtkProgressBar  *progress_bar;
  GtkLabel        *status_label;
  GtkStack        *stack;
  GtkGridView     *grid;

  /* Owned References */
  ClipscopeSession *session;
  Engine           *engine;          /* NULL until the model is loaded */
  GListStore       *results;         /* of ClipscopeSearchHit */
  GHashTable       *images;          /* path → ClipscopeImage, keeping thumbnails */
  GFile            *example;
  GStrv             folders;
  char             *model_path;
  GCancellable     *load_cancellable;
  GCancellable     *index_cancellable;
  GCancellable     *query_cancellable;
  char             *load_error;

  gint64            n_indexed;
  gint64            last_refresh;    /* of the results while indexing */
  guint             query_serial;
  gint              progress_done;   /* written by the index thread */
  gint              progress_total;
};

G_DEFINE_FINAL_TYPE (ClipscopeSearchView, clipscope_search_view, GTK_TYPE_WIDGET)

static void run_query      (ClipscopeSearchView *self);
static void start_indexing (ClipscopeSearchView *self);

static ClipscopeWindow *
get_window (ClipscopeSearchView *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  return CLIPSCOPE_IS_WINDOW (root) ? CLIPSCOPE_WINDOW (root) : NULL;
}

static void
toast (ClipscopeSearchView *self,
       const char          *message)
{
  ClipscopeWindow *window = get_window (self);

  if (window != NULL)
    clipscope_window_add_toast (window, message);
  else
    g_message ("%s", message);
}

/* ------------------------------------------------------------ folders */

/* The folders indexed from the window, one a line, in the configuration
 * folder; the index itself is the model's, shared with the command line. */
static char *
folders_file (void)
{
  return g_build_filename (g_get_user_config_dir (), "clipscope", "search-folders", NULL);
}

static void
load_folders (ClipscopeSearchView *self)
{
  g_autofree char *file = folders_file ();
  g_autofree char *text = NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  if (g_file_get_contents (file, &text, NULL, NULL))
    {
      g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

      for (char **l = lines; *l != NULL; l++)
        if (**l == '/')
          g_strv_builder_add (builder, *l);
    }
  g_strfreev (self->folders);
  self->folders = g_strv_builder_end (builder);
}

static void
save_folders (ClipscopeSearchView *self)
{
  g_autofree char *file = folders_file ();
  g_autofree char *dir = g_path_get_dirname (file);
  g_autofree char *text = g_strjoinv ("\n", self->folders);
  g_autoptr(GError) error = NULL;

  if (g_mkdir_with_parents (dir, 0700) != 0
      || !g_file_set_contents (file, text, -1, &error))
    g_warning ("%s: cannot remember the search folders: %s", file,
               error ? error->message : g_strerror (errno));
}

/* ------------------------------------------------------------- status */

static void
update_status (ClipscopeSearchView *self)
{
  g_autofree char *text = NULL;
  guint n_folders = self->folders ? g_strv_length (self->folders) : 0;
  gboolean indexing = self->index_cancellable != NULL;

  if (self->load_error != NULL)
    text = g_strdup (self->load_error);
  else if (self->model_path == NULL)
    text = g_strdup (_("Choose a model to search with"));
  else if (self->engine == NULL)
    text = g_strdup (self->load_cancellable ? _("Loading the model…") : "");
  else
    {
      g_autofree char *count = g_strdup_printf ("%" G_GINT64_FORMAT, self->n_indexed);
      gulong n = (gulong) MIN (self->n_indexed, G_MAXLONG);
      g_autofree char *images = indexing
        ? g_strdup_printf (ngettext ("%s image indexed so far", "%s images indexed so far", n), count)
        : g_strdup_printf (ngettext ("%s image indexed", "%s images indexed", n), count);
      g_autofree char *folders = g_strdup_printf (ngettext ("%u folder chosen", "%u folders chosen", n_folders),
                                                  n_folders);

      /* TRANSLATORS: how many images are indexed · how many folders */
      text = g_strdup_printf (_("%s · %s"), images, folders);
    }
  gtk_label_set_text (self->status_label, text);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "search.update",
                                 self->engine != NULL && n_folders > 0 && !indexing);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "search.add-folders", self->engine != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "search.cancel", indexing);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "search.clear-example", self->example != NULL);
  gtk_revealer_set_reveal_child (self->progress_revealer, indexing);
}

static void
show_results (ClipscopeSearchView *self)
{
  gboolean querying = self->example != NULL || *gtk_editable_get_text (GTK_EDITABLE (self->entry)) != '\0';

  gtk_stack_set_visible_child_name (self->stack, querying && self->n_indexed > 0 ? "results" : "empty");
}

/* -------------------------------------------------------------- model */

static Engine *
engine_load (const char   *path,
             char        **rebuilt,
             gint64       *count,
             GCancellable *cancellable,
             GError      **error)
{
  g_autoptr(Engine) engine = g_new0 (Engine, 1);

  g_atomic_ref_count_init (&engine->ref_count);
  g_mutex_init (&engine->lock);
  if ((engine->model = clipscope_model_load (path, NULL, cancellable, error)) == NULL
      || (engine->ctx = clipscope_context_new (engine->model, NULL, error)) == NULL)
    return NULL;
  /* A model never indexed gets its file with its first folder. */
  engine->index_path = clipscope_index_default_path (engine->model);
  *count = 0;
  if (g_file_test (engine->index_path, G_FILE_TEST_EXISTS)
      && ((engine->index = clipscope_index_open (engine->model, engine->index_path, rebuilt, error)) == NULL
          || (*count = clipscope_index_count (engine->index, error)) < 0))
    return NULL;
  return g_steal_pointer (&engine);
}

typedef struct {
  char   *path;
  Engine *engine;
  char   *rebuilt;
  gint64  count;
} LoadData;

static void
load_data_free (gpointer data)
{
  LoadData *d = data;

  g_free (d->path);
  engine_unref (d->engine);
  g_free (d->rebuilt);
  g_free (d);
}

static void
load_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  LoadData *d = task_data;
  GError *error = NULL;

  d->engine = engine_load (d->path, &d->rebuilt, &d->count, cancellable, &error);
  if (d->engine == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
load_done_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  ClipscopeSearchView *self = CLIPSCOPE_SEARCH_VIEW (object);
  LoadData *d = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_clear_object (&self->load_cancellable);
      g_free (self->load_error);
      self->load_error = g_strdup_printf (_("Search is unavailable: %s"), error->message);
      update_status (self);
      return;
    }
  g_clear_object (&self->load_cancellable);
  self->engine = engine_ref (d->engine);
  self->n_indexed = d->count;
  if (d->rebuilt != NULL)
    toast (self, d->rebuilt);
  update_status (self);
  run_query (self);
  /* Catch up with what changed in the folders since the last time; a
   * folder that did not change costs one scan. */
  start_indexing (self);
}

static void
cancel_all (ClipscopeSearchView *self)
{
  g_cancellable_cancel (self->load_cancellable);
  g_cancellable_cancel (self->index_cancellable);
  g_cancellable_cancel (self->query_cancellable);
  g_clear_object (&self->load_cancellable);
  g_clear_object (&self->index_cancellable);
  g_clear_object (&self->query_cancellable);
}

/* The view loads its copy of the model only once it is shown, so the
 * classifier alone costs nothing more. */
static void
ensure_engine (ClipscopeSearchView *self)
{
  g_autoptr(GTask) task = NULL;
  LoadData *d;

  if (self->engine != NULL || self->load_cancellable != NULL || self->model_path == NULL
      || self->load_error != NULL)
    return;
  self->load_cancellable = g_cancellable_new ();
  d = g_new0 (LoadData, 1);
  d->path = g_strdup (self->model_path);
  task = g_task_new (self, self->load_cancellable, load_done_cb, NULL);
  g_task_set_name (task, "clipscope-search-load");
  g_task_set_task_data (task, d, load_data_free);
  g_task_run_in_thread (task, load_thread);
  update_status (self);
}

static void
model_changed_cb (ClipscopeSearchView *self)
{
  const char *path = self->session ? clipscope_session_get_model_path (self->session) : NULL;

  if (g_strcmp0 (path, self->model_path) == 0)
    return;
  cancel_all (self);
  g_clear_pointer (&self->engine, engine_unref);
  g_clear_pointer (&self->load_error, g_free);
  g_free (self->model_path);
  self->model_path = g_strdup (path);
  self->n_indexed = 0;
  g_list_store_remove_all (self->results);
  update_status (self);
  show_results (self);
  if (gtk_widget_get_mapped (GTK_WIDGET (self)))
    ensure_engine (self);
}

/* -------------------------------------------------------------- query */

typedef struct {
  Engine             *engine;
  char               *text;
  GStrv               templates;
  char               *example;
  ClipscopeIndexHit  *hits;
  int                 n_hits;
  gint64              count;      /* images in the index */
} QueryData;

static void
query_data_free (gpointer data)
{
  QueryData *d = data;

  engine_unref (d->engine);
  g_free (d->text);
  g_strfreev (d->templates);
  g_free (d->example);
  clipscope_index_hits_free (d->hits, d->n_hits);
  g_free (d);
}

static void
query_thread (GTask        *task,
              gpointer      source,
              gpointer      task_data,
              GCancellable *cancellable)
{
  QueryData *d = task_data;
  Engine *engine = d->engine;
  const char *texts[] = { d->text };
  const char *images[] = { d->example };
  g_autofree float *query = NULL;
  GError *error = NULL;
  gboolean ok;

  g_mutex_lock (&engine->lock);
  query = g_new (float, clipscope_model_get_info (engine->model)->embed_dim);
  if (engine->index == NULL)
    engine->index = clipscope_index_open (engine->model, engine->index_path, NULL, &error);
  ok = engine->index != NULL
       && !g_cancellable_set_error_if_cancelled (cancellable, &error)
       && clipscope_query_build (engine->ctx, texts, d->text != NULL,
                                 (const char * const *) d->templates,
                                 d->templates ? g_strv_length (d->templates) : 0,
                                 images, d->example != NULL, query, cancellable, &error)
       && (d->hits = clipscope_index_search (engine->index, query, MAX_RESULTS, NULL,
                                             &d->n_hits, &error)) != NULL
       && (d->count = clipscope_index_count (engine->index, &error)) >= 0;
  g_mutex_unlock (&engine->lock);
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static ClipscopeImage *
cached_image (ClipscopeSearchView *self,
              const char          *path)
{
  ClipscopeImage *image = g_hash_table_lookup (self->images, path);

  if (image == NULL)
    {
      g_autoptr(GFile) file = g_file_new_for_path (path);

      if (g_hash_table_size (self->images) >= MAX_CACHED_IMAGES)
        g_hash_table_remove_all (self->images);
      image = clipscope_image_new (file);
      g_hash_table_insert (self->images, g_strdup (path), image);
    }
  return image;
}

static void
query_done_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  ClipscopeSearchView *self = CLIPSCOPE_SEARCH_VIEW (object);
  QueryData *d = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) hits = g_ptr_array_new_with_free_func (g_object_unref);

  if (GPOINTER_TO_UINT (user_data) != self->query_serial)
    return;     /* a later query is on its way */
  g_clear_object (&self->query_cancellable);
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        toast (self, error->message);
      return;
    }
  for (int i = 0; i < d->n_hits; i++)
    {
      ClipscopeSearchHit *hit = g_object_new (CLIPSCOPE_TYPE_SEARCH_HIT, NULL);

      hit->image = g_object_ref (cached_image (self, d->hits[i].path));
      hit->score = d->hits[i].score;
      g_ptr_array_add (hits, hit);
    }
  g_list_store_splice (self->results, 0, g_list_model_get_n_items (G_LIST_MODEL (self->results)),
                       hits->pdata, hits->len);
  self->n_indexed = d->count;
  update_status (self);
  show_results (self);
}

static void
run_query (ClipscopeSearchView *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->entry));
  g_autoptr(GTask) task = NULL;
  g_autofree char *stripped = g_strstrip (g_strdup (text));
  QueryData *d;

  g_cancellable_cancel (self->query_cancellable);
  g_clear_object (&self->query_cancellable);
  self->query_serial++;
  show_results (self);
  if (self->engine == NULL || (*stripped == '\0' && self->example == NULL))
    {
      g_list_store_remove_all (self->results);
      return;
    }

  d = g_new0 (QueryData, 1);
  d->engine = engine_ref (self->engine);
  d->text = *stripped != '\0' ? g_steal_pointer (&stripped) : NULL;
  d->templates = self->session ? clipscope_session_dup_enabled_templates (self->session) : NULL;
  d->example = self->example ? g_file_get_path (self->example) : NULL;
  self->query_cancellable = g_cancellable_new ();
  task = g_task_new (self, self->query_cancellable, query_done_cb, GUINT_TO_POINTER (self->query_serial));
  g_task_set_name (task, "clipscope-search-query");
  g_task_set_task_data (task, d, query_data_free);
  g_task_run_in_thread (task, query_thread);
}

/* -------------------------------------------------------------- index */

typedef struct {
  Engine              *engine;
  GStrv                folders;
  ClipscopeSearchView *view;     /* a reference, for progress */
  ClipscopeIndexStats *stats;
  gint64               count;
} IndexData;

static void
index_data_free (gpointer data)
{
  IndexData *d = data;

  engine_unref (d->engine);
  g_strfreev (d->folders);
  g_clear_object (&d->view);
  g_clear_pointer (&d->stats, clipscope_index_stats_free);
  g_free (d);
}

static gboolean
show_progress_cb (gpointer user_data)
{
  ClipscopeSearchView *self = user_data;
  int done = g_atomic_int_get (&self->progress_done);
  int total = g_atomic_int_get (&self->progress_total);
  g_autofree char *text = g_strdup_printf (_("Indexing %d of %d"), done, total);

  /* The results fill in as the index does, every few seconds. */
  if (g_get_monotonic_time () - self->last_refresh > 2 * G_USEC_PER_SEC)
    {
      self->last_refresh = g_get_monotonic_time ();
      run_query (self);
    }
  gtk_progress_bar_set_fraction (self->progress_bar, total > 0 ? (double) done / total : 0.0);
  gtk_progress_bar_set_text (self->progress_bar, text);
  return G_SOURCE_REMOVE;
}

/* On the index thread: the latest figures are stored, and the main loop
 * shows them when it gets to it. */
static void
index_progress_cb (int         done,
                   int         total,
                   const char *path,
                   gpointer    user_data)
{
  IndexData *d = user_data;

  g_atomic_int_set (&d->view->progress_done, done);
  g_atomic_int_set (&d->view->progress_total, total);
  g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, show_progress_cb, g_object_ref (d->view), g_object_unref);
}

static void
index_thread (GTask        *task,
              gpointer      source,
              gpointer      task_data,
              GCancellable *cancellable)
{
  IndexData *d = task_data;
  g_autoptr(ClipscopeContext) ctx = NULL;
  g_autoptr(ClipscopeIndex) index = NULL;
  GError *error = NULL;
  gboolean ok;

  ok = (ctx = clipscope_context_new (d->engine->model, NULL, &error)) != NULL
       && (index = clipscope_index_open (d->engine->model, d->engine->index_path, NULL, &error)) != NULL;
  ok = ok && clipscope_index_update (index, ctx, (const char * const *) d->folders,
                                     g_strv_length (d->folders), index_progress_cb, d,
                                     &d->stats, cancellable, &error);
  if (index != NULL)
    d->count = clipscope_index_count (index, NULL);
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
index_done_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  ClipscopeSearchView *self = CLIPSCOPE_SEARCH_VIEW (object);
  IndexData *d = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;

  if (d->engine != self->engine)
    return;     /* the model changed meanwhile */
  g_clear_object (&self->index_cancellable);
  if (d->count >= 0)
    self->n_indexed = d->count;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    message = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
              ? g_strdup (_("Indexing stopped; what was indexed is kept"))
              : g_strdup (error->message);
  else if (d->stats->failures->len > 0)
    message = g_strdup_printf (ngettext ("%u image could not be read: %s",
                                         "%u images could not be read, e.g. %s",
                                         d->stats->failures->len),
                               d->stats->failures->len,
                               ((ClipscopeIndexFailure *) d->stats->failures->pdata[0])->message);
  if (message != NULL)
    toast (self, message);
  update_status (self);
  run_query (self);
}

static void
start_indexing (ClipscopeSearchView *self)
{
  g_autoptr(GTask) task = NULL;
  IndexData *d;

  if (self->engine == NULL || self->folders == NULL || self->folders[0] == NULL)
    return;
  g_cancellable_cancel (self->index_cancellable);
  g_clear_object (&self->index_cancellable);
  self->index_cancellable = g_cancellable_new ();
  g_atomic_int_set (&self->progress_done, 0);
  g_atomic_int_set (&self->progress_total, 0);
  gtk_progress_bar_set_fraction (self->progress_bar, 0.0);
  gtk_progress_bar_set_text (self->progress_bar, _("Looking for images…"));

  d = g_new0 (IndexData, 1);
  d->engine = engine_ref (self->engine);
  d->folders = g_strdupv (self->folders);
  d->view = g_object_ref (self);
  d->count = -1;
  task = g_task_new (self, self->index_cancellable, index_done_cb, NULL);
  g_task_set_name (task, "clipscope-search-index");
  g_task_set_task_data (task, d, index_data_free);
  g_task_run_in_thread (task, index_thread);
  update_status (self);
}

/* ------------------------------------------------------------ actions */

void
clipscope_search_view_add_folders (ClipscopeSearchView *self,
                                   GFile              **folders,
                                   guint                n_folders)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  g_return_if_fail (CLIPSCOPE_IS_SEARCH_VIEW (self));

  g_strv_builder_addv (builder, (const char **) self->folders);
  for (guint i = 0; i < n_folders; i++)
    {
      g_autofree char *path = g_file_get_path (folders[i]);

      if (path != NULL && !g_strv_contains ((const char * const *) self->folders, path))
        g_strv_builder_add (builder, path);
    }
  g_strfreev (self->folders);
  self->folders = g_strv_builder_end (builder);
  save_folders (self);
  start_indexing (self);
}

static void
folders_chosen_cb (gpointer       owner,
                   GListModel    *files,
                   GtkFileFilter *filter,
                   gpointer       user_data)
{
  g_autoptr(GPtrArray) folders = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < g_list_model_get_n_items (files); i++)
    g_ptr_array_add (folders, g_list_model_get_item (files, i));
  clipscope_search_view_add_folders (owner, (GFile **) folders->pdata, folders->len);
}

/* The chooser is the file-chooser portal in a sandbox, so folders can be
 * indexed without access to the whole home folder. */
static void
add_folders_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  clipscope_choose_files (widget, CLIPSCOPE_CHOOSE_FOLDERS, _("Add Folders to the Index"), _("_Add"),
                          NULL, NULL, folders_chosen_cb, widget, NULL, NULL);
}

static void
example_chosen_cb (gpointer       owner,
                   GListModel    *files,
                   GtkFileFilter *filter,
                   gpointer       user_data)
{
  g_autoptr(GFile) file = g_list_model_get_item (files, 0);

  clipscope_search_view_set_example (owner, file);
}

static void
choose_example_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  g_autoptr(GListModel) filters = clipscope_image_filters_new ();

  clipscope_choose_files (widget, CLIPSCOPE_CHOOSE_FILE, _("Search by an Example Image"), _("_Search"),
                          filters, NULL, example_chosen_cb, widget, NULL, NULL);
}

static void
clear_example_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  clipscope_search_view_set_example (CLIPSCOPE_SEARCH_VIEW (widget), NULL);
}

static void
update_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  start_indexing (CLIPSCOPE_SEARCH_VIEW (widget));
}

static void
cancel_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  g_cancellable_cancel (CLIPSCOPE_SEARCH_VIEW (widget)->index_cancellable);
}

/* ------------------------------------------------------------ results */

static void
add_to_classify_action (GtkWidget  *widget,
                        const char *action_name,
                        GVariant   *parameter)
{
  ClipscopeSearchView *self = CLIPSCOPE_SEARCH_VIEW (widget);
  g_autoptr(GFile) file = g_file_new_for_path (g_variant_get_string (parameter, NULL));

  if (self->session == NULL)
    return;
  clipscope_session_add_files (self->session, &file, 1);
  toast (self, _("Added to Classify"));
}

static GdkContentProvider *
drag_prepare_cb (GtkDragSource *source,
                 double         x,
                 double         y,
                 GtkListItem   *item)
{
  ClipscopeSearchHit *hit = gtk_list_item_get_item (item);
  GdkTexture *thumbnail;
  GdkFileList *list;
  GdkContentProvider *provider;
  GSList files = { NULL, NULL };

  if (hit == NULL)
    return NULL;
  files.data = clipscope_image_get_file (hit->image);
  list = gdk_file_list_new_from_list (&files);
  provider = gdk_content_provider_new_typed (GDK_TYPE_FILE_LIST, list);
  g_boxed_free (GDK_TYPE_FILE_LIST, list);
  if ((thumbnail = clipscope_image_get_thumbnail (hit->image)) != NULL)
    gtk_drag_source_set_icon (source, GDK_PAINTABLE (thumbnail), 0, 0);
  return provider;
}

/* A cell: the thumbnail with an "Add to Classify" button, the name and
 * the cosine. Dragging it drags the file, into Classify or elsewhere. */
static void
setup_hit_cb (GtkSignalListItemFactory *factory,
              GtkListItem              *item,
              ClipscopeSearchView      *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *overlay = gtk_overlay_new ();
  GtkWidget *picture = gtk_picture_new ();
  GtkWidget *add = gtk_button_new_from_icon_name ("list-add-symbolic");
  GtkWidget *name = gtk_label_new (NULL);
  GtkWidget *score = gtk_label_new (NULL);
  GtkDragSource *drag = gtk_drag_source_new ();

  gtk_widget_set_size_request (picture, 160, 120);
  gtk_picture_set_can_shrink (GTK_PICTURE (picture), TRUE);
  gtk_widget_add_css_class (picture, "thumbnail");
  gtk_overlay_set_child (GTK_OVERLAY (overlay), picture);
  gtk_widget_set_halign (add, GTK_ALIGN_END);
  gtk_widget_set_valign (add, GTK_ALIGN_START);
  gtk_widget_set_margin_top (add, 4);
  gtk_widget_set_margin_end (add, 4);
  gtk_widget_set_tooltip_text (add, _("Add to Classify"));
  gtk_widget_add_css_class (add, "circular");
  gtk_widget_add_css_class (add, "osd");
  gtk_overlay_add_overlay (GTK_OVERLAY (overlay), add);

  gtk_label_set_ellipsize (GTK_LABEL (name), PANGO_ELLIPSIZE_MIDDLE);
  gtk_label_set_max_width_chars (GTK_LABEL (name), 18);
  gtk_widget_add_css_class (name, "caption");
  gtk_widget_add_css_class (score, "caption");
  gtk_widget_add_css_class (score, "dim-label");
  gtk_widget_add_css_class (score, "numeric");
  gtk_box_append (GTK_BOX (box), overlay);
  gtk_box_append (GTK_BOX (box), name);
  gtk_box_append (GTK_BOX (box), score);

  gtk_drag_source_set_actions (drag, GDK_ACTION_COPY);
  g_signal_connect (drag, "prepare", G_CALLBACK (drag_prepare_cb), item);
  gtk_widget_add_controller (box, GTK_EVENT_CONTROLLER (drag));
  gtk_list_item_set_child (item, box);
}

static void
bind_hit_cb (GtkSignalListItemFactory *factory,
             GtkListItem              *item,
             ClipscopeSearchView      *self)
{
  ClipscopeSearchHit *hit = gtk_list_item_get_item (item);
  GtkWidget *box = gtk_list_item_get_child (item);
  GtkWidget *overlay = gtk_widget_get_first_child (box);
  GtkWidget *name = gtk_widget_get_next_sibling (overlay);
  GtkWidget *score = gtk_widget_get_next_sibling (name);
  GtkWidget *picture = gtk_overlay_get_child (GTK_OVERLAY (overlay));
  g_autofree char *value = g_strdup_printf ("%.3f", hit->score);
  GBinding *binding;

  if (clipscope_image_get_thumbnail (hit->image) == NULL)
    clipscope_image_load_thumbnail (hit->image, THUMBNAIL_SIZE);
  /* The target first: an action name without one would not match "s". */
  gtk_actionable_set_action_target (GTK_ACTIONABLE (gtk_widget_get_last_child (overlay)), "s",
                                    clipscope_image_get_path (hit->image));
  gtk_actionable_set_action_name (GTK_ACTIONABLE (gtk_widget_get_last_child (overlay)),
                                  "search.add-to-classify");
  gtk_label_set_text (GTK_LABEL (name), clipscope_image_get_name (hit->image));
  gtk_label_set_text (GTK_LABEL (score), value);
  gtk_widget_set_tooltip_text (box, clipscope_image_get_path (hit->image));
  binding = g_object_bind_property (hit->image, "thumbnail", picture, "paintable", G_BINDING_SYNC_CREATE);
  g_object_set_data (G_OBJECT (item), "clipscope-binding", binding);
}

static void
unbind_hit_cb (GtkSignalListItemFactory *factory,
               GtkListItem              *item,
               ClipscopeSearchView      *self)
{
  GBinding *binding = g_object_steal_data (G_OBJECT (item), "clipscope-binding");

  if (binding != NULL)
    g_binding_unbind (binding);
}

/* Enter or a double click opens the image in the default viewer (through
 * the OpenURI portal in a sandbox). */
static void
activate_cb (GtkGridView         *grid,
             guint                position,
             ClipscopeSearchView *self)
{
  g_autoptr(ClipscopeSearchHit) hit = g_list_model_get_item (G_LIST_MODEL (self->results), position);
  g_autofree char *uri = NULL;
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  if (hit == NULL)
    return;
  uri = g_file_get_uri (clipscope_image_get_file (hit->image));
  gtk_show_uri (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, uri, GDK_CURRENT_TIME);
}

/* An image dropped on the query bar becomes the example. */
static gboolean
drop_example_cb (GtkDropTarget       *target,
                 const GValue        *value,
                 double               x,
                 double               y,
                 ClipscopeSearchView *self)
{
  GFile *file = NULL;

  if (G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    {
      GSList *files = gdk_file_list_get_files (g_value_get_boxed (value));

      file = files ? files->data : NULL;
      g_slist_free (files);
    }
  else if (G_VALUE_HOLDS (value, G_TYPE_FILE))
    file = g_value_get_object (value);
  if (file == NULL)
    return FALSE;
  clipscope_search_view_set_example (self, file);
  return TRUE;
}

/* ------------------------------------------------------------- public */

void
clipscope_search_view_set_session (ClipscopeSearchView *self,
                                   ClipscopeSession    *session)
{
  g_return_if_fail (CLIPSCOPE_IS_SEARCH_VIEW (self));

  if (self->session != NULL)
    clipscope_session_disconnect_by_data (self->session, self);
  g_set_object (&self->session, session);
  if (session != NULL)
    g_signal_connect_object (session, "notify::model-path", G_CALLBACK (model_changed_cb), self,
                             G_CONNECT_SWAPPED);
  model_changed_cb (self);
}

void
clipscope_search_view_set_query (ClipscopeSearchView *self,
                                 const char          *text)
{
  g_return_if_fail (CLIPSCOPE_IS_SEARCH_VIEW (self));

  gtk_editable_set_text (GTK_EDITABLE (self->entry), text ? text : "");
  ensure_engine (self);
  run_query (self);
}

void
clipscope_search_view_set_example (ClipscopeSearchView *self,
                                   GFile               *file)
{
  g_return_if_fail (CLIPSCOPE_IS_SEARCH_VIEW (self));

  g_set_object (&self->example, file);
  if (self->example_binding != NULL)
    g_binding_unbind (g_steal_pointer (&self->example_binding));
  gtk_image_clear (self->example_picture);
  gtk_widget_set_visible (self->example_chip, file != NULL);
  if (file != NULL)
    {
      g_autofree char *name = g_file_get_basename (file);
      ClipscopeImage *image = NULL;
      g_autofree char *path = g_file_get_path (file);

      gtk_label_set_text (self->example_label, name);
      if (path != NULL)
        {
          image = cached_image (self, path);
          if (clipscope_image_get_thumbnail (image) == NULL)
            clipscope_image_load_thumbnail (image, 48);
          self->example_binding = g_object_bind_property (image, "thumbnail", self->example_picture,
                                                          "paintable", G_BINDING_SYNC_CREATE);
        }
    }
  update_status (self);
  run_query (self);
}

GListModel *
clipscope_search_view_get_results (ClipscopeSearchView *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SEARCH_VIEW (self), NULL);
  return G_LIST_MODEL (self->results);
}

gboolean
clipscope_search_view_get_busy (ClipscopeSearchView *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SEARCH_VIEW (self), FALSE);
  return self->load_cancellable != NULL || self->index_cancellable != NULL
         || self->query_cancellable != NULL;
}

/* ------------------------------------------------------------- GObject */

static void
clipscope_search_view_map (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (clipscope_search_view_parent_class)->map (widget);
  ensure_engine (CLIPSCOPE_SEARCH_VIEW (widget));
}

static void
clipscope_search_view_dispose (GObject *object)
{
  ClipscopeSearchView *self = CLIPSCOPE_SEARCH_VIEW (object);

  cancel_all (self);
  if (self->session != NULL)
    clipscope_session_disconnect_by_data (self->session, self);
  g_clear_object (&self->session);
  gtk_widget_dispose_template (GTK_WIDGET (self), CLIPSCOPE_TYPE_SEARCH_VIEW);
  G_OBJECT_CLASS (clipscope_search_view_parent_class)->dispose (object);
}

static void
clipscope_search_view_finalize (GObject *object)
{
  ClipscopeSearchView *self = CLIPSCOPE_SEARCH_VIEW (object);

  g_clear_pointer (&self->engine, engine_unref);
  g_clear_object (&self->results);
  g_clear_pointer (&self->images, g_hash_table_unref);
  g_clear_object (&self->example);
  g_strfreev (self->folders);
  g_free (self->model_path);
  g_free (self->load_error);
  G_OBJECT_CLASS (clipscope_search_view_parent_class)->finalize (object);
}

static void
clipscope_search_view_class_init (ClipscopeSearchViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = clipscope_search_view_dispose;
  object_class->finalize = clipscope_search_view_finalize;
  widget_class->map = clipscope_search_view_map;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/clipscope/Clipscope/clipscope-search-view.ui");
  gtk_widget_class_bind_template_child (widget_class, ClipscopeSearchView, entry);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeSearchView, query_bar);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeSearchView, example_chip);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeSearchView, example_picture);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeSearchView, example_label);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeSearchView, progress_revealer);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeSearchView, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeSearchView, status_label);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeSearchView, stack);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeSearchView, grid);

  gtk_widget_class_install_action (widget_class, "search.add-folders", NULL, add_folders_action);
  gtk_widget_class_install_action (widget_class, "search.choose-example", NULL, choose_example_action);
  gtk_widget_class_install_action (widget_class, "search.clear-example", NULL, clear_example_action);
  gtk_widget_class_install_action (widget_class, "search.update", NULL, update_action);
  gtk_widget_class_install_action (widget_class, "search.cancel", NULL, cancel_action);
  gtk_widget_class_install_action (widget_class, "search.add-to-classify", "s", add_to_classify_action);
}

static void
clipscope_search_view_init (ClipscopeSearchView *self)
{
  g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();
  g_autoptr(GtkNoSelection) selection = NULL;
  GType types[] = { GDK_TYPE_FILE_LIST, G_TYPE_FILE };
  GtkDropTarget *drop;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->results = g_list_store_new (CLIPSCOPE_TYPE_SEARCH_HIT);
  self->images = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);

  g_signal_connect (factory, "setup", G_CALLBACK (setup_hit_cb), self);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_hit_cb), self);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_hit_cb), self);
  selection = gtk_no_selection_new (g_object_ref (G_LIST_MODEL (self->results)));
  gtk_grid_view_set_model (self->grid, GTK_SELECTION_MODEL (selection));
  gtk_grid_view_set_factory (self->grid, factory);
  g_signal_connect (self->grid, "activate", G_CALLBACK (activate_cb), self);

  g_signal_connect_swapped (self->entry, "search-changed", G_CALLBACK (run_query), self);

  drop = gtk_drop_target_new (G_TYPE_INVALID, GDK_ACTION_COPY);
  gtk_drop_target_set_gtypes (drop, types, G_N_ELEMENTS (types));
  g_signal_connect (drop, "drop", G_CALLBACK (drop_example_cb), self);
  gtk_widget_add_controller (self->query_bar, GTK_EVENT_CONTROLLER (drop));

  load_folders (self);
  update_status (self);
}
