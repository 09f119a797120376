/* clipscope-model-row.c — one model of the Models page
 *
 * A row shows one ClipscopeModelEntry and what can be done with it: use
 * or remove an installed model, download, resume or cancel one that is
 * not. The buttons activate the page's "models." actions with the model's
 * name, so the page, the keyboard and the tests share one path; the row
 * itself only shows state.
 */
#include "clipscope-model-row.h"
#include <glib/gi18n.h>

struct _ClipscopeModelRow {
  AdwActionRow         parent_instance;

  /* Template Widgets */
  GtkBox              *progress_box;
  GtkProgressBar      *progress_bar;
  GtkLabel            *progress_label;
  GtkImage            *in_use_image;
  GtkButton           *use_button;
  GtkButton           *download_button;
  GtkButton           *cancel_button;
  GtkButton           *remove_button;
  GtkImage            *error_image;

  /* Owned References */
  ClipscopeModelEntry *entry;
  char                *progress_text;
  char                *error;

  guint                in_use : 1;
  guint                downloading : 1;
};

G_DEFINE_FINAL_TYPE (ClipscopeModelRow, clipscope_model_row, ADW_TYPE_ACTION_ROW)

static ClipscopeModelEntry *
entry_copy (const ClipscopeModelEntry *entry)
{
  ClipscopeModelEntry *copy = g_memdup2 (entry, sizeof *entry);

  copy->name = g_strdup (entry->name);
  copy->description = g_strdup (entry->description);
  copy->repo = g_strdup (entry->repo);
  copy->path = g_strdup (entry->path);
  return copy;
}

static char *
format_size (int64_t bytes)
{
  return g_format_size ((guint64) MAX (bytes, 0));
}

/* The family's name where it is known, as a person reads it. */
static const char *
family_name (const ClipscopeModelEntry *e)
{
  if (!e->family_known)
    return NULL;
  switch (e->family)
    {
    case CLIPSCOPE_FAMILY_SIGLIP:
      return _("SigLIP");
    case CLIPSCOPE_FAMILY_CHINESE_CLIP:
      return _("Chinese-CLIP");
    case CLIPSCOPE_FAMILY_CLIP:
    default:
      return _("CLIP");
    }
}

/* What is on disk, or what a download would fetch. */
static char *
describe_files (const ClipscopeModelEntry *e)
{
  g_autofree char *size = format_size (e->size);
  g_autofree char *partial = format_size (e->partial_bytes);
  g_autofree char *about_size = e->size_is_estimate ? g_strdup_printf (_("about %s"), size) : g_strdup (size);

  if (e->installed)
    return g_strdup_printf ("%s · %s",
                            !e->format_known ? _("Unknown format")
                            : e->format == CLIPSCOPE_FORMAT_HF ? _("Hugging Face format") : _("open_clip format"),
                            size);
  if (e->source == CLIPSCOPE_MODEL_SOURCE_LOCAL)
    return g_strdup (_("The folder is missing: remove the model, or put the folder back"));
  if (e->partial_bytes > 0 && e->size > 0)
    return g_strdup_printf (_("%s of %s downloaded; the download resumes where it stopped"),
                            partial, about_size);
  if (e->partial_bytes > 0)
    return g_strdup_printf (_("%s downloaded; the download resumes where it stopped"), partial);
  if (e->size > 0)
    return g_strdup_printf (_("%s download"), about_size);
  return g_strdup (_("Its size is known once the download starts"));
}

/* The second line of the subtitle: the family, then the files. */
static char *
describe_disk (const ClipscopeModelEntry *e)
{
  g_autofree char *files = describe_files (e);
  const char *family = family_name (e);

  return family != NULL ? g_strdup_printf ("%s · %s", family, files) : g_steal_pointer (&files);
}

static void
update_subtitle (ClipscopeModelRow *self)
{
  g_autofree char *details = NULL;
  g_autofree char *text = NULL;
  g_autofree char *markup = NULL;

  if (self->downloading)
    details = g_strdup (self->progress_text != NULL ? self->progress_text : _("Starting the download…"));
  else if (self->error != NULL)
    details = g_strdup_printf (_("Download failed: %s"), self->error);
  else
    details = describe_disk (self->entry);
  text = g_strdup_printf ("%s\n%s", self->entry->description, details);
  /* Rows read their subtitle as markup; names and paths are plain text. */
  markup = g_markup_escape_text (text, -1);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self), markup);
}

/* Which buttons show follows from the entry and the download's state. */
static void
update (ClipscopeModelRow *self)
{
  const ClipscopeModelEntry *e = self->entry;
  gboolean installed = e->installed;
  g_autofree char *title = g_markup_escape_text (e->name, -1);
  const char *remove_label;

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self), title);
  update_subtitle (self);

  gtk_widget_set_visible (GTK_WIDGET (self->progress_box), self->downloading);
  gtk_widget_set_visible (GTK_WIDGET (self->cancel_button), self->downloading);
  gtk_widget_set_visible (GTK_WIDGET (self->error_image), self->error != NULL && !self->downloading);
  gtk_widget_set_visible (GTK_WIDGET (self->in_use_image), installed && self->in_use);
  gtk_widget_set_visible (GTK_WIDGET (self->use_button), installed && !self->in_use);
  gtk_widget_set_visible (GTK_WIDGET (self->download_button),
                          !installed && !self->downloading && e->source != CLIPSCOPE_MODEL_SOURCE_LOCAL);
  gtk_button_set_label (self->download_button,
                        e->partial_bytes > 0 ? _("_Resume") : self->error != NULL ? _("_Retry") : _("_Download"));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->download_button),
                               e->partial_bytes > 0 ? _("Download the rest of the model")
                                                    : _("Download the model from Hugging Face"));

  /* Installed models, what an interrupted download left, and
   * repositories typed in by hand can go; the catalogue stays. */
  gtk_widget_set_visible (GTK_WIDGET (self->remove_button),
                          e->removable && !self->downloading
                          && (installed || e->source == CLIPSCOPE_MODEL_SOURCE_LOCAL
                              || e->source == CLIPSCOPE_MODEL_SOURCE_HUB || e->partial_bytes > 0));
  remove_label = e->source == CLIPSCOPE_MODEL_SOURCE_LOCAL ? "Forget This Folder"
                 : installed ? _("Remove")
                 : e->partial_bytes > 0 ? _("Delete the Partial Download")
                 : _("Forget This Repository");
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->remove_button), remove_label);
  /* An icon alone says nothing to a screen reader. */
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->remove_button),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, remove_label, -1);
}

static void
set_action_targets (ClipscopeModelRow *self)
{
  GtkButton *buttons[] = { self->use_button, self->download_button, self->cancel_button, self->remove_button };

  for (guint i = 0; i < G_N_ELEMENTS (buttons); i++)
    gtk_actionable_set_action_target (GTK_ACTIONABLE (buttons[i]), "s", self->entry->name);
}

static void
clipscope_model_row_finalize (GObject *object)
{
  ClipscopeModelRow *self = CLIPSCOPE_MODEL_ROW (object);

  clipscope_model_entry_free (self->entry);
  g_free (self->progress_text);
  g_free (self->error);
  G_OBJECT_CLASS (clipscope_model_row_parent_class)->finalize (object);
}

static void
clipscope_model_row_dispose (GObject *object)
{
  gtk_widget_dispose_template (GTK_WIDGET (object), CLIPSCOPE_TYPE_MODEL_ROW);
  G_OBJECT_CLASS (clipscope_model_row_parent_class)->dispose (object);
}

static void
clipscope_model_row_class_init (ClipscopeModelRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = clipscope_model_row_dispose;
  object_class->finalize = clipscope_model_row_finalize;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/clipscope/Clipscope/clipscope-model-row.ui");
  gtk_widget_class_bind_template_child (widget_class, ClipscopeModelRow, progress_box);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeModelRow, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeModelRow, progress_label);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeModelRow, in_use_image);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeModelRow, use_button);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeModelRow, download_button);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeModelRow, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeModelRow, remove_button);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeModelRow, error_image);
}

static void
clipscope_model_row_init (ClipscopeModelRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

/**
 * clipscope_model_row_new:
 *
 * Returns: (transfer floating): a row showing a copy of @entry
 */
ClipscopeModelRow *
clipscope_model_row_new (const ClipscopeModelEntry *entry)
{
  ClipscopeModelRow *self = g_object_new (CLIPSCOPE_TYPE_MODEL_ROW, NULL);

  clipscope_model_row_set_entry (self, entry);
  return self;
}

/** clipscope_model_row_get_entry: Returns: (transfer none): the model the row shows */
const ClipscopeModelEntry *
clipscope_model_row_get_entry (ClipscopeModelRow *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_MODEL_ROW (self), NULL);
  return self->entry;
}

/**
 * clipscope_model_row_set_entry:
 *
 * Shows a fresh description of the same model (after the store was read
 * again); a download in progress keeps its progress.
 */
void
clipscope_model_row_set_entry (ClipscopeModelRow         *self,
                               const ClipscopeModelEntry *entry)
{
  g_return_if_fail (CLIPSCOPE_IS_MODEL_ROW (self));
  g_return_if_fail (entry != NULL);
  g_return_if_fail (self->entry == NULL || g_strcmp0 (self->entry->name, entry->name) == 0);

  clipscope_model_entry_free (self->entry);
  self->entry = entry_copy (entry);
  if (entry->installed)
    g_clear_pointer (&self->error, g_free);
  set_action_targets (self);
  update (self);
}

gboolean
clipscope_model_row_get_in_use (ClipscopeModelRow *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_MODEL_ROW (self), FALSE);
  return self->in_use;
}

/** clipscope_model_row_set_in_use: Marks the model the window has loaded. */
void
clipscope_model_row_set_in_use (ClipscopeModelRow *self,
                                gboolean           in_use)
{
  g_return_if_fail (CLIPSCOPE_IS_MODEL_ROW (self));

  self->in_use = !!in_use;
  update (self);
}

gboolean
clipscope_model_row_get_downloading (ClipscopeModelRow *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_MODEL_ROW (self), FALSE);
  return self->downloading;
}

void
clipscope_model_row_begin_download (ClipscopeModelRow *self)
{
  g_return_if_fail (CLIPSCOPE_IS_MODEL_ROW (self));

  self->downloading = TRUE;
  g_clear_pointer (&self->error, g_free);
  g_clear_pointer (&self->progress_text, g_free);
  gtk_progress_bar_set_fraction (self->progress_bar, 0.0);
  gtk_label_set_label (self->progress_label, "");
  update (self);
}

/** clipscope_model_row_set_progress: Shows how far the download is. */
void
clipscope_model_row_set_progress (ClipscopeModelRow               *self,
                                  const ClipscopeDownloadProgress *progress)
{
  g_autofree char *done = NULL;
  g_autofree char *total = NULL;
  g_autofree char *bytes = NULL;

  g_return_if_fail (CLIPSCOPE_IS_MODEL_ROW (self));
  g_return_if_fail (progress != NULL);

  if (!self->downloading)
    return;
  done = format_size (progress->done);
  if (progress->total > 0)
    {
      total = format_size (progress->total);
      bytes = g_strdup_printf (_("%s of %s"), done, total);
      gtk_progress_bar_set_fraction (self->progress_bar,
                                     CLAMP ((double) progress->done / (double) progress->total, 0.0, 1.0));
    }
  else
    {
      bytes = g_steal_pointer (&done);
      gtk_progress_bar_pulse (self->progress_bar);
    }
  gtk_label_set_label (self->progress_label, bytes);
  g_free (self->progress_text);
  self->progress_text = g_strdup_printf (_("Downloading %s (file %d of %d)"),
                                         progress->file != NULL ? progress->file : "",
                                         progress->file_index + 1, progress->n_files);
  update_subtitle (self);
}

/**
 * clipscope_model_row_end_download:
 * @error_message: (nullable): why it failed, or %NULL when it succeeded or
 *   was cancelled
 */
void
clipscope_model_row_end_download (ClipscopeModelRow *self,
                                  const char        *error_message)
{
  g_return_if_fail (CLIPSCOPE_IS_MODEL_ROW (self));

  self->downloading = FALSE;
  g_clear_pointer (&self->progress_text, g_free);
  g_free (self->error);
  self->error = g_strdup (error_message);
  update (self);
}

/** clipscope_model_row_get_error: Returns: (nullable): why the last download failed */
const char *
clipscope_model_row_get_error (ClipscopeModelRow *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_MODEL_ROW (self), NULL);
  return self->error;
}
