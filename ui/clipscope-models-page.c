/* clipscope-models-page.c — Preferences → Models: install, use and remove models
 *
 * The page lists what the model store knows: installed models (the
 * bundled one, downloads, added folders) and catalogue models still to
 * download. Every change goes through the store and is followed by a
 * fresh listing, so the page shows what is on disk, also after the
 * command-line tool changed it.
 *
 * Downloads run on the store's worker thread and belong to the page:
 * closing the Preferences cancels them, and what they fetched stays on
 * disk for the next download of the same model to resume. Adding a
 * folder (which loads the model to check it) and removing one (which may
 * delete gigabytes) also run off the main thread.
 */
#include "clipscope-models-page.h"
#include "clipscope-compat.h"
#include <glib/gi18n.h>
#include "clipscope-models.h"

#include <string.h>

#define MAX_LOCAL_NAME 80

struct _ClipscopeModelsPage {
  AdwPreferencesPage   parent_instance;

  /* Template Widgets */
  AdwPreferencesGroup *installed_group;
  AdwPreferencesGroup *available_group;
  AdwEntryRow         *repo_row;
  GtkButton           *repo_button;

  /* Owned References */
  ClipscopeModelStore *store;
  GHashTable          *rows;        /* name → ClipscopeModelRow */
  GHashTable          *downloads;   /* name → GCancellable */
  char                *active_folder;

  guint                n_jobs;
};

G_DEFINE_FINAL_TYPE (ClipscopeModelsPage, clipscope_models_page, ADW_TYPE_PREFERENCES_PAGE)

enum {
  SIGNAL_USE_MODEL,
  N_SIGNALS,
};

static guint signals[N_SIGNALS];

/* ------------------------------------------------------------ messages */

static void
show_error (ClipscopeModelsPage *self,
            const char          *heading,
            const char          *message)
{
  GtkWidget *alert = clipscope_alert_new (heading, message);

  clipscope_alert_add_response (alert, "close", _("_Close"), ADW_RESPONSE_DEFAULT);
  clipscope_dialog_present (alert, GTK_WIDGET (self));
}

static void
show_toast (ClipscopeModelsPage *self,
            const char          *message)
{
  clipscope_add_preferences_toast (GTK_WIDGET (self), adw_toast_new (message));
}

/* ------------------------------------------------------------ listing */

static void
unparent_row (ClipscopeModelRow *row)
{
  GtkWidget *group = gtk_widget_get_ancestor (GTK_WIDGET (row), ADW_TYPE_PREFERENCES_GROUP);

  if (group != NULL)
    adw_preferences_group_remove (ADW_PREFERENCES_GROUP (group), GTK_WIDGET (row));
}

static ClipscopeModelRow *
ensure_row (ClipscopeModelsPage       *self,
            const ClipscopeModelEntry *entry)
{
  ClipscopeModelRow *row = g_hash_table_lookup (self->rows, entry->name);

  if (row != NULL)
    {
      clipscope_model_row_set_entry (row, entry);
      return row;
    }
  row = g_object_ref_sink (clipscope_model_row_new (entry));
  g_hash_table_insert (self->rows, g_strdup (entry->name), row);
  return row;
}

/* Returns whether the row went to the installed models. */
static gboolean
place_row (ClipscopeModelsPage *self,
           ClipscopeModelRow   *row)
{
  const ClipscopeModelEntry *e = clipscope_model_row_get_entry (row);
  /* An added folder that went missing still belongs with the installed
   * models: the person can remove it there. */
  gboolean installed = e->installed || e->source == CLIPSCOPE_MODEL_SOURCE_LOCAL;

  clipscope_model_row_set_in_use (row, e->installed && clipscope_models_same_folder (e->path, self->active_folder));
  adw_preferences_group_add (installed ? self->installed_group : self->available_group, GTK_WIDGET (row));
  return installed;
}

static void
describe_groups (ClipscopeModelsPage *self,
                 guint                n_installed,
                 guint                n_available)
{
  g_autofree char *available = NULL;

  adw_preferences_group_set_description (self->installed_group,
                                         n_installed > 0 ? NULL
                                         : _("No model is installed: download one below, or add a model folder"));
  if (n_available > 0)
    available = g_strdup_printf (_("CLIP models from Hugging Face, saved in %s"),
                                 clipscope_model_store_get_models_dir (self->store));
  else
    available = g_strdup (_("Every model of the catalogue is installed"));
  adw_preferences_group_set_description (self->available_group, available);
}

/**
 * clipscope_models_page_refresh:
 *
 * Reads the store again and rebuilds both lists in its order. Rows of
 * models still listed, and of downloads in progress, are kept, with their
 * progress.
 */
void
clipscope_models_page_refresh (ClipscopeModelsPage *self)
{
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GPtrArray) order = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer name, row;
  guint n_installed = 0;

  g_return_if_fail (CLIPSCOPE_IS_MODELS_PAGE (self));

  entries = clipscope_model_store_list (self->store);
  g_hash_table_iter_init (&iter, self->rows);
  while (g_hash_table_iter_next (&iter, &name, &row))
    unparent_row (row);

  for (guint i = 0; i < entries->len; i++)
    g_ptr_array_add (order, ensure_row (self, g_ptr_array_index (entries, i)));

  /* A download of a hub repository that has left nothing on disk is not
   * listed, but stays while it runs, or to say why it failed; a model
   * removed since the last listing goes. */
  g_hash_table_iter_init (&iter, self->rows);
  while (g_hash_table_iter_next (&iter, &name, &row))
    if (!g_ptr_array_find (order, row, NULL))
      {
        if (g_hash_table_contains (self->downloads, name) || clipscope_model_row_get_error (row) != NULL)
          g_ptr_array_add (order, row);
        else
          g_hash_table_iter_remove (&iter);
      }

  for (guint i = 0; i < order->len; i++)
    if (place_row (self, g_ptr_array_index (order, i)))
      n_installed++;
  describe_groups (self, n_installed, order->len - n_installed);
}

/* ------------------------------------------------------------ use */

static void
use_action (GtkWidget  *widget,
            const char *action_name,
            GVariant   *parameter)
{
  ClipscopeModelsPage *self = CLIPSCOPE_MODELS_PAGE (widget);
  const char *name = g_variant_get_string (parameter, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = clipscope_model_store_resolve (self->store, name, &error);

  if (path == NULL)
    {
      show_error (self, _("Could Not Use the Model"), error->message);
      clipscope_models_page_refresh (self);
      return;
    }
  g_signal_emit (self, signals[SIGNAL_USE_MODEL], 0, name, path);
}

/* ------------------------------------------------------------ downloads */

typedef struct {
  ClipscopeModelsPage *page;
  ClipscopeModelRow   *row;
  char                *name;
} Download;

static void
download_free (Download *download)
{
  g_object_unref (download->page);
  g_object_unref (download->row);
  g_free (download->name);
  g_free (download);
}

/* Reports end before the download's callback, which frees @download. */
static void
download_progress_cb (const ClipscopeDownloadProgress *progress,
                      gpointer                         user_data)
{
  Download *download = user_data;

  if (download->page->downloads != NULL)
    clipscope_model_row_set_progress (download->row, progress);
}

static void
download_done_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Download *download = user_data;
  ClipscopeModelsPage *self = download->page;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = clipscope_model_store_download_finish (self->store, result, &error);
  gboolean cancelled = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  /* When the page was closed, its downloads were cancelled and there is
   * nothing left to show. */
  if (self->downloads != NULL)
    {
      clipscope_model_row_end_download (download->row, error != NULL && !cancelled ? error->message : NULL);
      g_hash_table_remove (self->downloads, download->name);
      if (path != NULL)
        {
          g_autofree char *message = g_strdup_printf (_("“%s” is installed"), download->name);

          show_toast (self, message);
        }
      clipscope_models_page_refresh (self);
    }
  download_free (download);
}

static void
start_download (ClipscopeModelsPage *self,
                ClipscopeModelRow   *row)
{
  const char *name = clipscope_model_row_get_entry (row)->name;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Download *download;

  if (g_hash_table_contains (self->downloads, name))
    return;
  download = g_new0 (Download, 1);
  download->page = g_object_ref (self);
  download->row = g_object_ref (row);
  download->name = g_strdup (name);
  g_hash_table_insert (self->downloads, g_strdup (name), g_object_ref (cancellable));
  clipscope_model_row_begin_download (row);
  clipscope_model_store_download_async (self->store, name,
                                        download_progress_cb, download, NULL,
                                        cancellable, download_done_cb, download);
}

/* Finds the row of @name, making one for a repository not listed yet.
 * NULL, with the problem shown, when @name cannot be downloaded. */
static ClipscopeModelRow *
downloadable_row (ClipscopeModelsPage *self,
                  const char          *name)
{
  ClipscopeModelRow *row = g_hash_table_lookup (self->rows, name);
  g_autoptr(ClipscopeModelEntry) entry = NULL;
  g_autoptr(GError) error = NULL;

  if (row == NULL)
    {
      if ((entry = clipscope_model_store_lookup (self->store, name, &error)) == NULL)
        {
          show_error (self, _("Not a Model Name"), error->message);
          return NULL;
        }
      if (entry->source == CLIPSCOPE_MODEL_SOURCE_LOCAL || entry->source == CLIPSCOPE_MODEL_SOURCE_BUNDLED)
        {
          g_autofree char *message = g_strdup_printf (_("“%s” is neither a model of the catalogue nor a "
                                                        "Hugging Face repository: write a repository as "
                                                        "owner/name, as in openai/clip-vit-base-patch32"), name);

          show_error (self, _("Not a Hugging Face Repository"), message);
          return NULL;
        }
      row = ensure_row (self, entry);
    }
  if (clipscope_model_row_get_entry (row)->installed)
    {
      g_autofree char *message = g_strdup_printf (_("“%s” is already installed"), name);

      show_toast (self, message);
      return NULL;
    }
  return row;
}

static void
download_action (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  ClipscopeModelsPage *self = CLIPSCOPE_MODELS_PAGE (widget);
  ClipscopeModelRow *row = downloadable_row (self, g_variant_get_string (parameter, NULL));

  if (row == NULL)
    return;
  start_download (self, row);
  clipscope_models_page_refresh (self);
}

static void
cancel_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  ClipscopeModelsPage *self = CLIPSCOPE_MODELS_PAGE (widget);
  GCancellable *cancellable = g_hash_table_lookup (self->downloads, g_variant_get_string (parameter, NULL));

  if (cancellable != NULL)
    g_cancellable_cancel (cancellable);
}

static void
repo_row_changed_cb (ClipscopeModelsPage *self)
{
  g_autofree char *text = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->repo_row))));

  gtk_widget_remove_css_class (GTK_WIDGET (self->repo_row), "error");
  gtk_widget_set_sensitive (GTK_WIDGET (self->repo_button), *text != '\0');
}

static void
repo_row_activated_cb (ClipscopeModelsPage *self)
{
  g_autofree char *text = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->repo_row))));
  ClipscopeModelRow *row;

  if (*text == '\0')
    return;
  if ((row = downloadable_row (self, text)) == NULL)
    {
      gtk_widget_add_css_class (GTK_WIDGET (self->repo_row), "error");
      return;
    }
  gtk_editable_set_text (GTK_EDITABLE (self->repo_row), "");
  start_download (self, row);
  clipscope_models_page_refresh (self);
}

/* ------------------------------------------------------------ store jobs */

/* Removing and adding run on a thread of their own; the page keeps
 * count so that tests can wait for them. */
typedef struct {
  ClipscopeModelStore *store;
  char                *name;
  char                *folder;
} StoreJob;

static void
store_job_free (StoreJob *job)
{
  clipscope_model_store_unref (job->store);
  g_free (job->name);
  g_free (job->folder);
  g_free (job);
}

static void
run_store_job (ClipscopeModelsPage *self,
               const char          *name,
               const char          *folder,
               GTaskThreadFunc      func,
               GAsyncReadyCallback  callback)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, NULL);
  StoreJob *job = g_new0 (StoreJob, 1);

  job->store = clipscope_model_store_ref (self->store);
  job->name = g_strdup (name);
  job->folder = g_strdup (folder);
  g_task_set_task_data (task, job, (GDestroyNotify) store_job_free);
  self->n_jobs++;
  g_task_run_in_thread (task, func);
}

/* Ends a job on the main thread: FALSE when the page has been closed
 * since, and there is nothing to show. */
static gboolean
finish_store_job (ClipscopeModelsPage *self)
{
  self->n_jobs--;
  return self->rows != NULL;
}

static void
remove_thread (GTask        *task,
               gpointer      source,
               gpointer      task_data,
               GCancellable *cancellable)
{
  StoreJob *job = task_data;
  GError *error = NULL;

  /* A repository whose download failed before it fetched anything has
   * nothing on disk to remove. */
  if (clipscope_model_store_remove (job->store, job->name, &error)
      || g_error_matches (error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_NOT_INSTALLED))
    {
      g_clear_error (&error);
      g_task_return_boolean (task, TRUE);
    }
  else
    g_task_return_error (task, error);
}

static void
remove_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  ClipscopeModelsPage *self = CLIPSCOPE_MODELS_PAGE (source);
  StoreJob *job = g_task_get_task_data (G_TASK (result));
  ClipscopeModelRow *row;
  g_autoptr(GError) error = NULL;

  if (!finish_store_job (self))
    return;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    show_error (self, _("Could Not Remove the Model"), error->message);
  else if ((row = g_hash_table_lookup (self->rows, job->name)) != NULL)
    {
      /* The next listing makes a fresh row if the model is still there
       * (a catalogue model, to download again). */
      unparent_row (row);
      g_hash_table_remove (self->rows, job->name);
    }
  clipscope_models_page_refresh (self);
}

static void
start_removal (ClipscopeModelsPage *self,
               const char          *name)
{
  ClipscopeModelRow *row = g_hash_table_lookup (self->rows, name);

  if (row != NULL)
    gtk_widget_set_sensitive (GTK_WIDGET (row), FALSE);
  run_store_job (self, name, NULL, remove_thread, remove_done_cb);
}

static void
remove_response_cb (GtkWidget           *dialog,
                    const char          *response,
                    ClipscopeModelsPage *self)
{
  if (g_strcmp0 (response, "remove") == 0 && self->rows != NULL)
    start_removal (self, g_object_get_data (G_OBJECT (dialog), "clipscope-model-name"));
}

/* What removing does differs enough to be worth saying before it is done. */
static char *
describe_removal (const ClipscopeModelEntry *e)
{
  g_autofree char *size = g_format_size ((guint64) MAX (e->installed ? e->size : e->partial_bytes, 0));

  if (e->source == CLIPSCOPE_MODEL_SOURCE_LOCAL)
    return g_strdup_printf (_("Clipscope forgets the folder %s. Its files stay where they are."),
                            e->path != NULL ? e->path : e->description);
  if (!e->installed)
    return g_strdup_printf (_("The %s downloaded so far are deleted. The next download starts again "
                              "from the beginning."), size);
  return g_strdup_printf (_("Its files (%s) are deleted from this computer. "
                            "You can download it again later."), size);
}

static void
remove_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  ClipscopeModelsPage *self = CLIPSCOPE_MODELS_PAGE (widget);
  const char *name = g_variant_get_string (parameter, NULL);
  ClipscopeModelRow *row = g_hash_table_lookup (self->rows, name);
  g_autoptr(ClipscopeModelEntry) entry = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *heading = NULL;
  g_autofree char *body = NULL;
  GtkWidget *dialog;

  entry = clipscope_model_store_lookup (self->store, name, &error);
  if (entry == NULL || !entry->removable)
    {
      /* The store says why, in its own words. */
      if (entry != NULL)
        clipscope_model_store_remove (self->store, name, &error);
      show_error (self, _("Could Not Remove the Model"), error != NULL ? error->message : name);
      return;
    }
  if (row != NULL && clipscope_model_row_get_downloading (row))
    return;
  /* Nothing downloaded, nothing to lose: no need to ask. */
  if (!entry->installed && entry->partial_bytes == 0 && entry->source != CLIPSCOPE_MODEL_SOURCE_LOCAL)
    {
      start_removal (self, name);
      return;
    }
  heading = g_strdup_printf (entry->source == CLIPSCOPE_MODEL_SOURCE_LOCAL ? _("Forget “%s”?") : _("Remove “%s”?"),
                             name);
  body = describe_removal (entry);
  dialog = clipscope_alert_new (heading, body);
  clipscope_alert_add_response (dialog, "cancel", _("_Cancel"), ADW_RESPONSE_DEFAULT);
  clipscope_alert_add_response (dialog, "remove",
                                entry->source == CLIPSCOPE_MODEL_SOURCE_LOCAL ? _("_Forget") : _("_Remove"),
                                ADW_RESPONSE_DESTRUCTIVE);
  clipscope_alert_set_default_response (dialog, "cancel");
  clipscope_alert_set_close_response (dialog, "cancel");
  g_object_set_data_full (G_OBJECT (dialog), "clipscope-model-name", g_strdup (name), g_free);
  g_signal_connect_object (dialog, "response", G_CALLBACK (remove_response_cb), self, 0);
  clipscope_dialog_present (dialog, widget);
}

/* ------------------------------------------------------------ add a folder */

/* A name the store accepts and nothing uses yet, from the folder's name:
 * "My CLIP (fine-tuned)" becomes "My-CLIP-fine-tuned". */
static gboolean
name_is_free (ClipscopeModelStore *store,
              const char          *name)
{
  g_autoptr(ClipscopeModelEntry) entry = clipscope_model_store_lookup (store, name, NULL);
  g_autofree char *link = NULL;

  if (entry == NULL || entry->source != CLIPSCOPE_MODEL_SOURCE_LOCAL || entry->installed)
    return FALSE;
  /* A link to a folder that is gone still holds the name. */
  link = g_build_filename (clipscope_model_store_get_models_dir (store), name, NULL);
  return !g_file_test (link, G_FILE_TEST_IS_SYMLINK);
}

static char *
free_local_name (ClipscopeModelStore *store,
                 const char          *dir)
{
  g_autofree char *base = g_path_get_basename (dir);
  g_autoptr(GString) stem = g_string_new (NULL);

  for (const char *p = base; *p != '\0' && stem->len < MAX_LOCAL_NAME; p++)
    {
      char last = stem->len > 0 ? stem->str[stem->len - 1] : '-';

      if (g_ascii_isalnum (*p) || (*p == '_' && stem->len > 0))
        g_string_append_c (stem, *p);
      else if (last != '-' && last != '.')
        g_string_append_c (stem, *p == '.' ? '.' : '-');
    }
  while (stem->len > 0 && (stem->str[stem->len - 1] == '-' || stem->str[stem->len - 1] == '.'))
    g_string_truncate (stem, stem->len - 1);
  if (stem->len == 0)
    g_string_assign (stem, "model");
  if (name_is_free (store, stem->str))
    return g_string_free (g_steal_pointer (&stem), FALSE);
  for (int i = 2; i < 1000; i++)
    {
      g_autofree char *candidate = g_strdup_printf ("%s-%d", stem->str, i);

      if (name_is_free (store, candidate))
        return g_steal_pointer (&candidate);
    }
  /* The store names the clash. */
  return g_string_free (g_steal_pointer (&stem), FALSE);
}

static void
add_local_thread (GTask        *task,
                  gpointer      source,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  StoreJob *job = task_data;
  g_autoptr(ClipscopeModelEntry) existing = clipscope_models_find_folder (job->store, job->folder);
  g_autofree char *name = NULL;
  ClipscopeModelEntry *entry;
  GError *error = NULL;

  if (existing != NULL)
    {
      g_task_return_new_error (task, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_EXISTS,
                               _("%s is already installed as “%s”"), job->folder, existing->name);
      return;
    }
  name = free_local_name (job->store, job->folder);
  entry = clipscope_model_store_add_local (job->store, job->folder, name, &error);
  if (entry == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, entry, (GDestroyNotify) clipscope_model_entry_free);
}

static void
add_local_done_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  ClipscopeModelsPage *self = CLIPSCOPE_MODELS_PAGE (source);
  g_autoptr(ClipscopeModelEntry) entry = NULL;
  g_autoptr(GError) error = NULL;

  if (!finish_store_job (self))
    return;
  entry = g_task_propagate_pointer (G_TASK (result), &error);
  if (entry == NULL)
    show_error (self, _("Could Not Add the Folder"), error->message);
  else
    {
      g_autofree char *message = g_strdup_printf (_("Added as “%s”"), entry->name);

      show_toast (self, message);
    }
  clipscope_models_page_refresh (self);
}

static void
add_local_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  run_store_job (CLIPSCOPE_MODELS_PAGE (widget), NULL, g_variant_get_string (parameter, NULL),
                 add_local_thread, add_local_done_cb);
}

static void
folder_chosen_cb (gpointer    owner,
                  const char *path)
{
  gtk_widget_activate_action (GTK_WIDGET (owner), "models.add-local", "s", path);
}

static void
add_folder_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  clipscope_choose_folder (widget, _("Add Model Folder"), _("_Add"), folder_chosen_cb, widget);
}

/* ------------------------------------------------------------ GObject */

static void
clipscope_models_page_dispose (GObject *object)
{
  ClipscopeModelsPage *self = CLIPSCOPE_MODELS_PAGE (object);

  clipscope_models_page_cancel_downloads (self);
  g_clear_pointer (&self->downloads, g_hash_table_unref);
  g_clear_pointer (&self->rows, g_hash_table_unref);
  gtk_widget_dispose_template (GTK_WIDGET (self), CLIPSCOPE_TYPE_MODELS_PAGE);
  G_OBJECT_CLASS (clipscope_models_page_parent_class)->dispose (object);
}

static void
clipscope_models_page_finalize (GObject *object)
{
  ClipscopeModelsPage *self = CLIPSCOPE_MODELS_PAGE (object);

  g_clear_pointer (&self->store, clipscope_model_store_unref);
  g_free (self->active_folder);
  G_OBJECT_CLASS (clipscope_models_page_parent_class)->finalize (object);
}

static void
clipscope_models_page_class_init (ClipscopeModelsPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = clipscope_models_page_dispose;
  object_class->finalize = clipscope_models_page_finalize;

  /**
   * ClipscopeModelsPage::use-model:
   * @name: the model's name
   * @path: its folder
   *
   * The person asked to load the model in the window.
   */
  signals[SIGNAL_USE_MODEL] = g_signal_new ("use-model", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                            0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                                            G_TYPE_STRING, G_TYPE_STRING);

  g_type_ensure (CLIPSCOPE_TYPE_MODEL_ROW);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/clipscope/Clipscope/clipscope-models-page.ui");
  gtk_widget_class_bind_template_child (widget_class, ClipscopeModelsPage, installed_group);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeModelsPage, available_group);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeModelsPage, repo_row);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeModelsPage, repo_button);
  gtk_widget_class_bind_template_callback (widget_class, repo_row_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, repo_row_activated_cb);

  gtk_widget_class_install_action (widget_class, "models.use", "s", use_action);
  gtk_widget_class_install_action (widget_class, "models.download", "s", download_action);
  gtk_widget_class_install_action (widget_class, "models.cancel", "s", cancel_action);
  gtk_widget_class_install_action (widget_class, "models.remove", "s", remove_action);
  gtk_widget_class_install_action (widget_class, "models.add-folder", NULL, add_folder_action);
  gtk_widget_class_install_action (widget_class, "models.add-local", "s", add_local_action);
}

static void
clipscope_models_page_init (ClipscopeModelsPage *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->rows = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->downloads = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
}

/**
 * clipscope_models_page_new:
 * @store: the store to show and change
 *
 * Returns: (transfer floating): a new page
 */
GtkWidget *
clipscope_models_page_new (ClipscopeModelStore *store)
{
  ClipscopeModelsPage *self;

  g_return_val_if_fail (store != NULL, NULL);

  self = g_object_new (CLIPSCOPE_TYPE_MODELS_PAGE, NULL);
  self->store = clipscope_model_store_ref (store);
  clipscope_models_page_refresh (self);
  return GTK_WIDGET (self);
}

/**
 * clipscope_models_page_get_row:
 *
 * Returns: (transfer none) (nullable): the row of the model @name
 */
ClipscopeModelRow *
clipscope_models_page_get_row (ClipscopeModelsPage *self,
                               const char          *name)
{
  g_return_val_if_fail (CLIPSCOPE_IS_MODELS_PAGE (self), NULL);
  return self->rows != NULL ? g_hash_table_lookup (self->rows, name) : NULL;
}

/**
 * clipscope_models_page_set_active_folder:
 * @dir: (nullable): the folder of the model the window has loaded
 *
 * Marks that model's row as the one in use.
 */
void
clipscope_models_page_set_active_folder (ClipscopeModelsPage *self,
                                         const char          *dir)
{
  GHashTableIter iter;
  gpointer row;

  g_return_if_fail (CLIPSCOPE_IS_MODELS_PAGE (self));

  g_free (self->active_folder);
  self->active_folder = g_strdup (dir);
  g_hash_table_iter_init (&iter, self->rows);
  while (g_hash_table_iter_next (&iter, NULL, &row))
    {
      const ClipscopeModelEntry *e = clipscope_model_row_get_entry (row);

      clipscope_model_row_set_in_use (row, e->installed && clipscope_models_same_folder (e->path, dir));
    }
}

/** clipscope_models_page_get_n_downloads: Returns: how many downloads are running */
guint
clipscope_models_page_get_n_downloads (ClipscopeModelsPage *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_MODELS_PAGE (self), 0);
  return self->downloads != NULL ? g_hash_table_size (self->downloads) : 0;
}

/**
 * clipscope_models_page_cancel_downloads:
 *
 * Stops every download; what they fetched stays for the next one to resume.
 */
void
clipscope_models_page_cancel_downloads (ClipscopeModelsPage *self)
{
  GHashTableIter iter;
  gpointer cancellable;

  g_return_if_fail (CLIPSCOPE_IS_MODELS_PAGE (self));

  if (self->downloads == NULL)
    return;
  g_hash_table_iter_init (&iter, self->downloads);
  while (g_hash_table_iter_next (&iter, NULL, &cancellable))
    g_cancellable_cancel (cancellable);
}

/** clipscope_models_page_get_busy: Returns: whether a removal or an addition is running */
gboolean
clipscope_models_page_get_busy (ClipscopeModelsPage *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_MODELS_PAGE (self), FALSE);
  return self->n_jobs > 0;
}
