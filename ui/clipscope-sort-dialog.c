/* clipscope-sort-dialog.c — "Sort into Folders…": copy or link images by top label
 *
 * The dialog takes the session's images and their top labels (after the
 * classifier and the threshold) as they are when it opens. Choosing a
 * folder or an action runs a ClipscopeSorter in dry-run mode, which names
 * every destination without touching the disk; Sort runs it for real.
 * Both run in a thread, since a copy of a thousand photos takes a while.
 */
#include "clipscope-sort-dialog.h"
#include "clipscope-compat.h"
#include <glib/gi18n.h>
#include "clipscope-window.h"

struct _ClipscopeSortDialog {
  AdwWindow      parent_instance;

  /* Template Widgets */
  GtkButton     *sort_button;
  AdwActionRow  *folder_row;
  AdwComboRow   *action_row;
  GtkLabel      *summary_label;
  GtkLabel      *error_label;
  GtkListBox    *preview_list;

  /* Owned References */
  GtkWindow     *parent;
  char          *folder;
  GStrv          labels;        /* the session's scored labels */
  GStrv          paths;         /* the scored images */
  int           *top;           /* [n], their top label, -1 unclassified */
  GStrv          destinations;  /* of the last run, planned or done */
  char          *error;
  GCancellable  *cancellable;

  gboolean       busy;
};

G_DEFINE_FINAL_TYPE (ClipscopeSortDialog, clipscope_sort_dialog, ADW_TYPE_WINDOW)

typedef struct {
  char                *into;
  GStrv                labels;
  GStrv                paths;
  int                 *top;
  ClipscopeSortAction  action;
  gboolean             dry_run;
} SortJob;

typedef struct {
  GStrv  destinations;          /* one a file that was (or would be) placed */
  char  *error;                 /* why the run stopped early, or NULL */
} SortResult;

static void
sort_job_free (SortJob *job)
{
  g_free (job->into);
  g_strfreev (job->labels);
  g_strfreev (job->paths);
  g_free (job->top);
  g_free (job);
}

static void
sort_result_free (SortResult *result)
{
  g_strfreev (result->destinations);
  g_free (result->error);
  g_free (result);
}

static void
sort_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  SortJob *job = task_data;
  g_autoptr(ClipscopeSorter) sorter =
    clipscope_sorter_new (job->into, (const char * const *) job->labels, g_strv_length (job->labels),
                          job->action, job->dry_run);
  g_autoptr(GStrvBuilder) done = g_strv_builder_new ();
  SortResult *result = g_new0 (SortResult, 1);

  for (guint i = 0; job->paths[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *destination = clipscope_sorter_add (sorter, job->paths[i], job->top[i],
                                                           cancellable, &error);

      if (destination == NULL)
        {
          result->error = g_strdup (error->message);
          break;
        }
      g_strv_builder_add (done, destination);
    }
  result->destinations = g_strv_builder_end (done);
  g_task_return_pointer (task, result, (GDestroyNotify) sort_result_free);
}

static GtkWidget *
preview_row_new (const char *source,
                 const char *destination,
                 const char *into)
{
  g_autofree char *name = g_path_get_basename (source);
  const char *relative = g_str_has_prefix (destination, into) ? destination + strlen (into) : destination;
  GtkWidget *row = adw_action_row_new ();

  while (*relative == G_DIR_SEPARATOR)
    relative++;
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), relative);
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  gtk_widget_set_tooltip_text (row, destination);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), gtk_image_new_from_icon_name ("folder-symbolic"));
  return row;
}

static void
show_result (ClipscopeSortDialog *self,
             gboolean             dry_run)
{
  guint n = self->destinations != NULL ? g_strv_length (self->destinations) : 0;
  g_autoptr(GHashTable) folders = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *summary = NULL;
  g_autofree char *images = NULL;
  g_autofree char *into = NULL;
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->preview_list))) != NULL)
    gtk_list_box_remove (self->preview_list, child);
  for (guint i = 0; i < n; i++)
    {
      g_hash_table_add (folders, g_path_get_dirname (self->destinations[i]));
      gtk_list_box_append (self->preview_list, preview_row_new (self->paths[i], self->destinations[i],
                                                                self->folder));
    }
  images = g_strdup_printf (ngettext ("%u of %u image", "%u of %u images", g_strv_length (self->paths)),
                            n, g_strv_length (self->paths));
  into = g_strdup_printf (ngettext ("%u folder", "%u folders", g_hash_table_size (folders)),
                          g_hash_table_size (folders));
  /* TRANSLATORS: "4 of 5 images" into "2 folders" */
  summary = g_strdup_printf (dry_run ? _("%s into %s — a preview: nothing is written until you press Sort")
                                     : _("%s into %s"), images, into);
  gtk_label_set_label (self->summary_label, summary);
  gtk_label_set_label (self->error_label, self->error != NULL ? self->error : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), self->error != NULL);
  gtk_widget_set_sensitive (GTK_WIDGET (self->sort_button), dry_run && self->error == NULL && n > 0);
}

static void
sorted_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(ClipscopeSortDialog) self = user_data;
  GTask *task = G_TASK (result);
  SortJob *job = g_task_get_task_data (task);
  SortResult *sorted = g_task_propagate_pointer (task, NULL);

  if (g_task_get_cancellable (task) != self->cancellable || sorted == NULL)
    {
      g_clear_pointer (&sorted, sort_result_free);
      return;
    }
  self->busy = FALSE;
  g_strfreev (self->destinations);
  self->destinations = g_steal_pointer (&sorted->destinations);
  g_free (self->error);
  self->error = g_steal_pointer (&sorted->error);
  sort_result_free (sorted);
  show_result (self, job->dry_run);

  /* A finished real run says what it did on the window and closes; one
   * that stopped keeps the dialog open on the engine's message. */
  if (!job->dry_run && self->error == NULL)
    {
      guint n = g_strv_length (self->destinations);
      g_autofree char *message = g_strdup_printf (ngettext ("Sorted %u image into %s", "Sorted %u images into %s", n),
                                                  n, self->folder);

      if (CLIPSCOPE_IS_WINDOW (self->parent))
        clipscope_window_add_toast (CLIPSCOPE_WINDOW (self->parent), message);
      gtk_window_close (GTK_WINDOW (self));
    }
}

static void
run (ClipscopeSortDialog *self,
     gboolean             dry_run)
{
  g_autoptr(GTask) task = NULL;
  SortJob *job;

  if (self->folder == NULL)
    return;
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  job = g_new0 (SortJob, 1);
  job->into = g_strdup (self->folder);
  job->labels = g_strdupv (self->labels);
  job->paths = g_strdupv (self->paths);
  job->top = g_memdup2 (self->top, sizeof (int) * MAX (g_strv_length (self->paths), 1));
  job->action = (ClipscopeSortAction) adw_combo_row_get_selected (self->action_row);
  job->dry_run = dry_run;
  self->busy = TRUE;
  gtk_widget_set_sensitive (GTK_WIDGET (self->sort_button), FALSE);
  task = g_task_new (NULL, self->cancellable, sorted_cb, g_object_ref (self));
  g_task_set_name (task, "clipscope-sort");
  g_task_set_task_data (task, job, (GDestroyNotify) sort_job_free);
  g_task_run_in_thread (task, sort_thread);
}

static void
plan (ClipscopeSortDialog *self)
{
  run (self, TRUE);
}

static void
sort_clicked_cb (ClipscopeSortDialog *self)
{
  clipscope_sort_dialog_sort (self);
}

static void
folder_chosen_cb (gpointer    owner,
                  const char *path)
{
  clipscope_sort_dialog_set_folder (owner, path);
}

static void
choose_clicked_cb (ClipscopeSortDialog *self)
{
  clipscope_choose_folder (GTK_WIDGET (self), _("Sort into Folder"), _("_Choose"), folder_chosen_cb, self);
}

static void
clipscope_sort_dialog_dispose (GObject *object)
{
  ClipscopeSortDialog *self = CLIPSCOPE_SORT_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->parent);
  G_OBJECT_CLASS (clipscope_sort_dialog_parent_class)->dispose (object);
}

static void
clipscope_sort_dialog_finalize (GObject *object)
{
  ClipscopeSortDialog *self = CLIPSCOPE_SORT_DIALOG (object);

  g_free (self->folder);
  g_strfreev (self->labels);
  g_strfreev (self->paths);
  g_free (self->top);
  g_strfreev (self->destinations);
  g_free (self->error);
  G_OBJECT_CLASS (clipscope_sort_dialog_parent_class)->finalize (object);
}

static void
clipscope_sort_dialog_class_init (ClipscopeSortDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = clipscope_sort_dialog_dispose;
  object_class->finalize = clipscope_sort_dialog_finalize;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/clipscope/Clipscope/clipscope-sort-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, ClipscopeSortDialog, sort_button);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeSortDialog, folder_row);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeSortDialog, action_row);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeSortDialog, summary_label);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeSortDialog, error_label);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeSortDialog, preview_list);
  gtk_widget_class_bind_template_callback (widget_class, sort_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, choose_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, plan);
  gtk_widget_class_bind_template_callback (widget_class, gtk_window_close);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
clipscope_sort_dialog_init (ClipscopeSortDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
}

/* Takes the scored images with their top labels; images the model has
 * not encoded yet are left out. */
static void
take_scores (ClipscopeSortDialog *self,
             ClipscopeSession    *session)
{
  GListModel *images = clipscope_session_get_images (session);
  g_autoptr(GStrvBuilder) paths = g_strv_builder_new ();
  const char * const *labels = clipscope_session_get_scored_labels (session);
  guint n_images = 0, n = 0;
  const int *top = clipscope_session_get_top (session, &n_images, NULL);

  self->labels = g_strdupv ((char **) (labels != NULL ? labels : (const char * const []) { NULL }));
  self->top = g_new (int, MAX (n_images, 1));
  for (guint i = 0; i < n_images && labels != NULL; i++)
    {
      g_autoptr(ClipscopeImage) image = g_list_model_get_item (images, i);

      if (image == NULL || (top[i] < 0 && !clipscope_session_is_unclassified (session, i)))
        continue;
      g_strv_builder_add (paths, clipscope_image_get_path (image));
      self->top[n++] = top[i];
    }
  self->paths = g_strv_builder_end (paths);
}

GtkWidget *
clipscope_sort_dialog_new (GtkWindow        *parent,
                           ClipscopeSession *session)
{
  ClipscopeSortDialog *self = g_object_new (CLIPSCOPE_TYPE_SORT_DIALOG, "transient-for", parent, NULL);

  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (session), NULL);

  self->parent = parent != NULL ? g_object_ref (parent) : NULL;
  take_scores (self, session);
  return GTK_WIDGET (self);
}

/** clipscope_sort_dialog_set_folder: Chooses the destination and previews the run. */
void
clipscope_sort_dialog_set_folder (ClipscopeSortDialog *self,
                                  const char          *path)
{
  g_return_if_fail (CLIPSCOPE_IS_SORT_DIALOG (self));
  g_return_if_fail (path != NULL);

  g_free (self->folder);
  self->folder = g_strdup (path);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self->folder_row), path);
  plan (self);
}

void
clipscope_sort_dialog_set_action (ClipscopeSortDialog *self,
                                  ClipscopeSortAction  action)
{
  g_return_if_fail (CLIPSCOPE_IS_SORT_DIALOG (self));
  adw_combo_row_set_selected (self->action_row, action);
}

/** clipscope_sort_dialog_sort: Copies or links the files, as the Sort button does. */
void
clipscope_sort_dialog_sort (ClipscopeSortDialog *self)
{
  g_return_if_fail (CLIPSCOPE_IS_SORT_DIALOG (self));
  run (self, FALSE);
}

gboolean
clipscope_sort_dialog_get_busy (ClipscopeSortDialog *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SORT_DIALOG (self), FALSE);
  return self->busy;
}

/**
 * clipscope_sort_dialog_get_destinations:
 *
 * Returns: (transfer none) (nullable): where each image went, or would go
 *   in the preview, in the order of the images
 */
const char * const *
clipscope_sort_dialog_get_destinations (ClipscopeSortDialog *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SORT_DIALOG (self), NULL);
  return (const char * const *) self->destinations;
}

/** clipscope_sort_dialog_get_error: Returns: (nullable): why the last run stopped */
const char *
clipscope_sort_dialog_get_error (ClipscopeSortDialog *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_SORT_DIALOG (self), NULL);
  return self->error;
}
