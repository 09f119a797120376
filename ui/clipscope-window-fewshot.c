/* clipscope-window-fewshot.c — examples, the classifier and the threshold
 *
 * The labels' rows take example images dropped on them and show each
 * label's mode and leave-one-out accuracy; the "Scoring" popover picks
 * text alone, a blend with the examples or a linear probe; the switch
 * above the heatmap leaves images below a cosine unclassified. The
 * session does the work; this file only wires widgets, settings and it.
 */
#include "clipscope-window-private.h"
#include <glib/gi18n.h>
#include "clipscope-sort-dialog.h"
#include "clipscope-text-row.h"

static const char *
classifier_title (ClipscopeLabelMode mode)
{
  switch (mode)
    {
    case CLIPSCOPE_LABEL_MODE_ZERO_SHOT:
      return _("Text Only");
    case CLIPSCOPE_LABEL_MODE_PROBE:
      return _("Linear Probe");
    case CLIPSCOPE_LABEL_MODE_PROTOTYPE:
    default:
      return _("Text and Examples");
    }
}

static void
update_label_row (ClipscopeWindow  *self,
                  ClipscopeTextRow *row)
{
  const char *label = clipscope_text_row_get_text (row);
  g_auto(GStrv) paths = clipscope_session_dup_examples (self->session, label);
  ClipscopeLabelMode mode = clipscope_session_get_label_mode (self->session, label);

  clipscope_text_row_set_examples (row, (const char * const *) paths,
                                   clipscope_label_mode_to_string (mode),
                                   clipscope_session_get_label_accuracy (self->session, label));
}

/* The probe needs two examples of every label; until they are there its
 * choice says why it is off, and a probe already chosen falls back to
 * the blend, which the hint says too. */
static void
update_classifier (ClipscopeWindow *self)
{
  ClipscopeLabelMode mode = clipscope_session_get_classifier (self->session);
  gboolean can_probe = clipscope_session_can_probe (self->session);
  const char *hint = _("Drop images on a label to give it examples.");

  gtk_menu_button_set_label (self->classifier_button, classifier_title (mode));
  gtk_widget_set_sensitive (GTK_WIDGET (self->probe_check),
                            can_probe || mode == CLIPSCOPE_LABEL_MODE_PROBE);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->probe_check),
                               can_probe ? _("A logistic regression on the examples’ image embeddings "
                                             "replaces the text")
                                         : _("Needs at least two examples of every label"));
  if (mode == CLIPSCOPE_LABEL_MODE_PROBE && !can_probe)
    hint = _("The probe needs at least two examples of every label: until then, "
             "text and examples are blended.");
  else if (mode == CLIPSCOPE_LABEL_MODE_PROBE)
    hint = _("Labels are scored by a probe trained on all examples.");
  gtk_label_set_label (self->classifier_hint, hint);
  gtk_widget_set_sensitive (GTK_WIDGET (self->weight_scale), mode == CLIPSCOPE_LABEL_MODE_PROTOTYPE);
}

/* The labels' examples go with the saved lists, and like them are not
 * saved while the labels are the command line's. */
static void
save_examples (ClipscopeWindow *self)
{
  GtkStringList *labels = clipscope_session_get_labels (self->session);
  g_autoptr(GVariant) saved = NULL;
  g_autoptr(GVariant) value = NULL;
  GVariantBuilder builder;

  if (!self->save_lists)
    return;
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{sas}"));
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (labels)); i++)
    {
      const char *label = gtk_string_list_get_string (labels, i);
      g_auto(GStrv) paths = clipscope_session_dup_examples (self->session, label);

      if (paths[0] != NULL)
        g_variant_builder_add (&builder, "{s^as}", label, paths);
    }
  value = g_variant_ref_sink (g_variant_builder_end (&builder));
  saved = g_settings_get_value (self->settings, "label-examples");
  if (!g_variant_equal (saved, value))
    g_settings_set_value (self->settings, "label-examples", value);
}

/**
 * _clipscope_window_fewshot_restore:
 *
 * Gives the restored labels the examples saved with them, leaving out
 * files that have gone since.
 */
void
_clipscope_window_fewshot_restore (ClipscopeWindow *self)
{
  g_autoptr(GVariant) saved = g_settings_get_value (self->settings, "label-examples");
  GVariantIter iter;
  const char *label;
  const char **paths;

  g_variant_iter_init (&iter, saved);
  while (g_variant_iter_loop (&iter, "{&s^a&s}", &label, &paths))
    {
      g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);

      for (const char **p = paths; *p != NULL; p++)
        if (g_file_test (*p, G_FILE_TEST_IS_REGULAR))
          g_ptr_array_add (files, g_file_new_for_path (*p));
      clipscope_session_add_examples (self->session, label, (GFile **) files->pdata, files->len);
    }
}

static void
scores_changed_cb (ClipscopeWindow *self)
{
  save_examples (self);
  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->label_list));
       child != NULL; child = gtk_widget_get_next_sibling (child))
    if (CLIPSCOPE_IS_TEXT_ROW (child))
      update_label_row (self, CLIPSCOPE_TEXT_ROW (child));
  update_classifier (self);
}

static void
examples_dropped_cb (ClipscopeTextRow *row,
                     GSList           *files,
                     ClipscopeWindow  *self)
{
  g_autoptr(GPtrArray) array = g_ptr_array_new ();

  for (GSList *l = files; l != NULL; l = l->next)
    g_ptr_array_add (array, l->data);
  clipscope_session_add_examples (self->session, clipscope_text_row_get_text (row),
                                  (GFile **) array->pdata, array->len);
  update_label_row (self, row);
}

static void
example_removed_cb (ClipscopeTextRow *row,
                    const char       *path,
                    ClipscopeWindow  *self)
{
  _clipscope_window_save_undo (self, CLIPSCOPE_UNDO_EXAMPLES, _("Example removed"));
  clipscope_session_remove_example (self->session, clipscope_text_row_get_text (row), path);
  update_label_row (self, row);
}

static void
examples_cleared_cb (ClipscopeTextRow *row,
                     ClipscopeWindow  *self)
{
  _clipscope_window_save_undo (self, CLIPSCOPE_UNDO_EXAMPLES, _("Examples cleared"));
  clipscope_session_clear_examples (self->session, clipscope_text_row_get_text (row));
  update_label_row (self, row);
}

/* Called for each label row the list box makes. */
void
_clipscope_window_setup_label_row (ClipscopeWindow  *self,
                                   ClipscopeTextRow *row)
{
  clipscope_text_row_accept_examples (row);
  g_signal_connect (row, "examples-dropped", G_CALLBACK (examples_dropped_cb), self);
  g_signal_connect (row, "example-removed", G_CALLBACK (example_removed_cb), self);
  g_signal_connect (row, "examples-cleared", G_CALLBACK (examples_cleared_cb), self);
  update_label_row (self, row);
}

/* "Sort into Folders…" needs scores to sort by. */
void
_clipscope_window_sort (ClipscopeWindow *self)
{
  guint n_images, n_labels;
  GtkWidget *dialog;

  if (!clipscope_session_get_scores (self->session, &n_images, &n_labels, NULL, NULL))
    {
      clipscope_window_add_toast (self, _("Nothing to sort yet: add images and labels, and wait for their scores"));
      return;
    }
  dialog = clipscope_sort_dialog_new (GTK_WINDOW (self), self->session);
  gtk_window_present (GTK_WINDOW (dialog));
}

void
_clipscope_window_fewshot_init (ClipscopeWindow *self)
{
  g_autoptr(GSimpleActionGroup) group = g_simple_action_group_new ();
  g_autoptr(GPropertyAction) classifier = g_property_action_new ("classifier", self->session, "classifier");

  /* "fewshot.classifier" holds the engine's name of the mode, for the
   * popover's choices and for tests. */
  g_action_map_add_action (G_ACTION_MAP (group), G_ACTION (classifier));
  gtk_widget_insert_action_group (GTK_WIDGET (self), "fewshot", G_ACTION_GROUP (group));

  g_settings_bind (self->settings, "example-weight",
                   gtk_range_get_adjustment (GTK_RANGE (self->weight_scale)), "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "example-weight", self->session, "example-weight",
                   G_SETTINGS_BIND_GET);
  g_settings_bind (self->settings, "classifier", self->session, "classifier",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "use-threshold", self->threshold_check, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "threshold", self->threshold_spin, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "use-threshold", self->session, "use-threshold",
                   G_SETTINGS_BIND_GET);
  g_settings_bind (self->settings, "threshold", self->session, "threshold", G_SETTINGS_BIND_GET);
  g_object_bind_property (self->threshold_check, "active", self->threshold_spin, "sensitive",
                          G_BINDING_SYNC_CREATE);

  g_signal_connect_swapped (self->session, "scores-changed", G_CALLBACK (scores_changed_cb), self);
  g_signal_connect_swapped (self->session, "notify::classifier", G_CALLBACK (update_classifier), self);
  update_classifier (self);
}
