/* clipscope-compare-window.c — one session scored by two models side by side
 *
 * The window shows the main window's session (model A) next to a second
 * session of its own (model B). That second session follows the first:
 * its images, labels, templates, examples and classifier settings are
 * copied when the window opens and again whenever the first one changes,
 * and its own worker encodes them with model B, off the main thread. Each
 * image's row then says whether the two top labels agree.
 */
#include "clipscope-compare-window.h"
#include "clipscope-compat.h"
#include <glib/gi18n.h>
#include "clipscope-heatmap-view.h"
#include "clipscope-models.h"

#include <clipscope.h>

#define PARENT_KEY   "clipscope-compare-window"
#define UNCLASSIFIED "unclassified"

struct _ClipscopeCompareWindow {
  AdwWindow             parent_instance;

  /* Template Widgets */
  AdwWindowTitle       *window_title;
  GtkMenuButton        *model_button;
  GtkStack             *stack;
  AdwStatusPage        *choose_page;
  GtkMenuButton        *choose_button;
  GtkLabel             *summary_label;
  GtkLabel             *status_label;
  GtkLabel             *name_a;
  GtkLabel             *name_b;
  ClipscopeHeatmapView *heatmap_a;
  ClipscopeHeatmapView *heatmap_b;
  GtkListBox           *image_list;

  /* Owned References */
  ClipscopeSession     *session_a;
  ClipscopeSession     *session_b;
  GPtrArray            *bindings;     /* GBinding from A's settings to B's */
  char                 *error;

  guint                 loading : 1;
};

G_DEFINE_FINAL_TYPE (ClipscopeCompareWindow, clipscope_compare_window, ADW_TYPE_WINDOW)

/* ------------------------------------------------------------ names */

static char *
model_name (ClipscopeSession *session)
{
  return clipscope_models_dup_display_name (clipscope_session_get_model_path (session));
}

static void
update_names (ClipscopeCompareWindow *self)
{
  g_autofree char *a = model_name (self->session_a);
  g_autofree char *b = model_name (self->session_b);
  g_autofree char *heading_a = g_strdup_printf ("A · %s", a != NULL ? a : _("no model"));
  g_autofree char *heading_b = g_strdup_printf ("B · %s", b != NULL ? b : _("no model"));
  g_autofree char *subtitle = g_strdup_printf (_("%s and %s"), a != NULL ? a : _("no model"),
                                               b != NULL ? b : _("a second model"));

  gtk_label_set_label (self->name_a, heading_a);
  gtk_label_set_label (self->name_b, heading_b);
  adw_window_title_set_subtitle (self->window_title, subtitle);
  gtk_menu_button_set_label (self->model_button, b != NULL ? b : _("Second Model"));
}

/* ------------------------------------------------------------ following A */

static void
sync_labels (ClipscopeCompareWindow *self)
{
  GtkStringList *from = clipscope_session_get_labels (self->session_a);
  GtkStringList *to = clipscope_session_get_labels (self->session_b);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (from));
  guint n_to = g_list_model_get_n_items (G_LIST_MODEL (to));
  g_autofree const char **strings = g_new0 (const char *, n + 1);
  gboolean same = n == n_to;

  for (guint i = 0; i < n; i++)
    {
      strings[i] = gtk_string_list_get_string (from, i);
      same = same && g_strcmp0 (strings[i], gtk_string_list_get_string (to, i)) == 0;
    }
  /* Every change restarts B's label job, so an unchanged list is left be. */
  if (!same)
    gtk_string_list_splice (to, 0, n_to, strings);
}

/* B gets A's enabled templates; a template's text or switch changes
 * without changing the list, so this also runs on A's new scores. */
static void
sync_templates (ClipscopeCompareWindow *self)
{
  g_auto(GStrv) from = clipscope_session_dup_enabled_templates (self->session_a);
  g_auto(GStrv) to = clipscope_session_dup_enabled_templates (self->session_b);

  if (g_strv_equal ((const char * const *) from, (const char * const *) to))
    return;
  clipscope_session_clear_templates (self->session_b);
  for (char **t = from; *t != NULL; t++)
    clipscope_session_add_template (self->session_b, *t, TRUE);
}

static void
sync_examples (ClipscopeCompareWindow *self)
{
  GtkStringList *labels = clipscope_session_get_labels (self->session_a);

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (labels)); i++)
    {
      const char *label = gtk_string_list_get_string (labels, i);
      g_auto(GStrv) from = clipscope_session_dup_examples (self->session_a, label);
      g_auto(GStrv) to = clipscope_session_dup_examples (self->session_b, label);
      g_autoptr(GPtrArray) files = NULL;

      if (g_strv_equal ((const char * const *) from, (const char * const *) to))
        continue;
      files = g_ptr_array_new_with_free_func (g_object_unref);
      for (char **p = from; *p != NULL; p++)
        g_ptr_array_add (files, g_file_new_for_path (*p));
      clipscope_session_clear_examples (self->session_b, label);
      clipscope_session_add_examples (self->session_b, label, (GFile **) files->pdata, files->len);
    }
}

static void
follow_images (ClipscopeCompareWindow *self)
{
  clipscope_session_follow_images (self->session_b, clipscope_session_get_images (self->session_a));
}

static void
bind_setting (ClipscopeCompareWindow *self,
              const char             *property)
{
  g_ptr_array_add (self->bindings,
                   g_object_bind_property (self->session_a, property, self->session_b, property,
                                           G_BINDING_SYNC_CREATE));
}

/* ------------------------------------------------------------ comparison */

/* @session's top label for @image at @row: NULL while it is not scored. */
static const char *
top_label (ClipscopeSession *session,
           guint             row,
           ClipscopeImage   *image)
{
  const char * const *columns = clipscope_session_get_scored_labels (session);
  g_autoptr(ClipscopeImage) own = NULL;
  guint n_images;
  const int *top = clipscope_session_get_top (session, &n_images, NULL);

  if (top == NULL || columns == NULL || row >= n_images)
    return NULL;
  own = g_list_model_get_item (clipscope_session_get_images (session), row);
  /* B's rows catch up with A's one main-loop turn later. */
  if (own == NULL || g_strcmp0 (clipscope_image_get_path (own), clipscope_image_get_path (image)) != 0)
    return NULL;
  if (top[row] >= 0)
    return columns[top[row]];
  return clipscope_session_is_unclassified (session, row) ? UNCLASSIFIED : NULL;
}

/* Tops are only comparable once both models score the same labels. */
static gboolean
same_columns (ClipscopeCompareWindow *self)
{
  const char * const *a = clipscope_session_get_scored_labels (self->session_a);
  const char * const *b = clipscope_session_get_scored_labels (self->session_b);

  return a != NULL && b != NULL && g_strv_equal (a, b);
}

static GtkWidget *
create_row (void)
{
  GtkWidget *row = gtk_list_box_row_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *text = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *mark = gtk_label_new (NULL);
  GtkWidget *name = gtk_label_new (NULL);
  GtkWidget *tops = gtk_label_new (NULL);

  gtk_widget_set_margin_start (box, 12);
  gtk_widget_set_margin_end (box, 12);
  gtk_widget_set_margin_top (box, 6);
  gtk_widget_set_margin_bottom (box, 6);
  gtk_label_set_width_chars (GTK_LABEL (mark), 2);
  gtk_widget_add_css_class (mark, "title-3");
  gtk_label_set_xalign (GTK_LABEL (name), 0);
  gtk_label_set_ellipsize (GTK_LABEL (name), PANGO_ELLIPSIZE_MIDDLE);
  gtk_label_set_xalign (GTK_LABEL (tops), 0);
  gtk_label_set_ellipsize (GTK_LABEL (tops), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (tops, "caption");
  gtk_widget_add_css_class (tops, "dim-label");
  gtk_widget_set_hexpand (text, TRUE);
  gtk_box_append (GTK_BOX (text), name);
  gtk_box_append (GTK_BOX (text), tops);
  gtk_box_append (GTK_BOX (box), mark);
  gtk_box_append (GTK_BOX (box), text);
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);
  g_object_set_data (G_OBJECT (row), "mark", mark);
  g_object_set_data (G_OBJECT (row), "name", name);
  g_object_set_data (G_OBJECT (row), "tops", tops);
  return row;
}

/* Rows are kept and relabelled, since scores arrive up to ten times a
 * second while a batch runs. */
static void
resize_rows (ClipscopeCompareWindow *self,
             guint                   n)
{
  guint n_rows = 0;

  while (gtk_list_box_get_row_at_index (self->image_list, n_rows) != NULL)
    n_rows++;
  for (; n_rows > n; n_rows--)
    gtk_list_box_remove (self->image_list, GTK_WIDGET (gtk_list_box_get_row_at_index (self->image_list, n_rows - 1)));
  for (; n_rows < n; n_rows++)
    gtk_list_box_append (self->image_list, create_row ());
}

static void
show_row (GtkListBoxRow  *row,
          ClipscopeImage *image,
          const char     *a,
          const char     *b)
{
  GtkWidget *mark = g_object_get_data (G_OBJECT (row), "mark");
  g_autofree char *tops = g_strdup_printf ("A  %s    B  %s", a != NULL ? a : "…", b != NULL ? b : "…");
  gboolean known = a != NULL && b != NULL;
  gboolean agree = known && g_strcmp0 (a, b) == 0;

  gtk_label_set_label (g_object_get_data (G_OBJECT (row), "name"), clipscope_image_get_name (image));
  gtk_label_set_label (g_object_get_data (G_OBJECT (row), "tops"), tops);
  gtk_label_set_label (GTK_LABEL (mark), !known ? "…" : agree ? "✓" : "✗");
  gtk_widget_set_tooltip_text (mark, !known ? _("Not scored by both models yet")
                                     : agree ? _("Same top label") : _("Different top labels"));
  if (agree)
    gtk_widget_add_css_class (mark, "success");
  else
    gtk_widget_remove_css_class (mark, "success");
  if (known && !agree)
    gtk_widget_add_css_class (mark, "error");
  else
    gtk_widget_remove_css_class (mark, "error");
}

static void
update_status (ClipscopeCompareWindow *self)
{
  g_autofree char *name = model_name (self->session_b);
  g_autofree char *text = NULL;

  /* After a failed load the previous second model is still compared. */
  if (self->error != NULL && name != NULL)
    text = g_strdup_printf (_("%s · still comparing with %s"), self->error, name);
  else if (self->error != NULL)
    text = g_strdup (self->error);
  else if (self->loading)
    text = g_strdup (_("Loading the second model…"));
  else if (clipscope_session_get_busy (self->session_a) || clipscope_session_get_busy (self->session_b))
    text = g_strdup (_("Scoring…"));
  else
    text = g_strdup (_("✓ same top label   ✗ different top labels"));
  gtk_label_set_label (self->status_label, text);
  if (self->error != NULL)
    gtk_widget_add_css_class (GTK_WIDGET (self->status_label), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->status_label), "error");
}

static void
update_comparison (ClipscopeCompareWindow *self)
{
  GListModel *images = clipscope_session_get_images (self->session_a);
  guint n = g_list_model_get_n_items (images);
  gboolean comparable = same_columns (self);
  guint n_known = 0, n_agree = 0;
  g_autofree char *summary = NULL;

  resize_rows (self, n);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ClipscopeImage) image = g_list_model_get_item (images, i);
      const char *a = comparable ? top_label (self->session_a, i, image) : NULL;
      const char *b = comparable ? top_label (self->session_b, i, image) : NULL;

      show_row (gtk_list_box_get_row_at_index (self->image_list, i), image, a, b);
      if (a != NULL && b != NULL)
        {
          n_known++;
          n_agree += g_strcmp0 (a, b) == 0;
        }
    }
  if (n == 0)
    summary = g_strdup (_("No images to compare"));
  else
    summary = g_strdup_printf ("Agree on %u of %u image%s", n_agree, n_known, n_known == 1 ? "" : "s");
  gtk_label_set_label (self->summary_label, summary);
  update_status (self);
}

/* A changed what B must follow; B's new scores come back through
 * update_comparison(). */
static void
scores_a_changed_cb (ClipscopeCompareWindow *self)
{
  sync_templates (self);
  sync_examples (self);
  update_comparison (self);
}

/* ------------------------------------------------------------ selection */

static void
row_selected_cb (ClipscopeCompareWindow *self,
                 GtkListBoxRow          *row)
{
  if (row != NULL)
    clipscope_heatmap_view_set_selected (self->heatmap_a, gtk_list_box_row_get_index (row));
}

static void
heatmap_selected_cb (ClipscopeCompareWindow *self)
{
  int selected = clipscope_heatmap_view_get_selected (self->heatmap_a);
  GtkListBoxRow *row = selected >= 0 ? gtk_list_box_get_row_at_index (self->image_list, selected) : NULL;

  if (row != gtk_list_box_get_selected_row (self->image_list))
    gtk_list_box_select_row (self->image_list, row);
}

/* ------------------------------------------------------------ model B */

static void
model_b_loaded_cb (ClipscopeCompareWindow *self)
{
  self->loading = FALSE;
  g_clear_pointer (&self->error, g_free);
  update_names (self);
  update_comparison (self);
}

static void
model_b_failed_cb (ClipscopeCompareWindow *self,
                   const char             *dir,
                   const char             *message)
{
  GtkWidget *alert = clipscope_alert_new (_("Could Not Load the Model"), message);

  self->loading = FALSE;
  g_free (self->error);
  self->error = g_strdup (message);
  /* With no model B yet there is nothing to compare: back to the choice,
   * which now says why. */
  if (clipscope_session_get_model_path (self->session_b) == NULL)
    {
      adw_status_page_set_description (self->choose_page, message);
      gtk_stack_set_visible_child_name (self->stack, "choose");
    }
  update_status (self);
  clipscope_alert_add_response (alert, "close", _("_Close"), ADW_RESPONSE_DEFAULT);
  clipscope_dialog_present (alert, GTK_WIDGET (self));
}

/* Built when the menu opens, so models installed meanwhile are in it. */
static void
model_menu_popup_cb (GtkMenuButton *button,
                     gpointer       user_data)
{
  g_autoptr(GPtrArray) entries = clipscope_model_store_list (clipscope_models_get_store ());
  g_autoptr(GMenu) menu = g_menu_new ();
  g_autoptr(GMenu) installed = clipscope_models_menu_new_installed (entries, "compare.load-model");
  g_autoptr(GMenu) other = g_menu_new ();

  g_menu_append (other, _("_Open Model Folder…"), "compare.open-model");
  if (g_menu_model_get_n_items (G_MENU_MODEL (installed)) > 0)
    g_menu_append_section (menu, _("Installed Models"), G_MENU_MODEL (installed));
  g_menu_append_section (menu, NULL, G_MENU_MODEL (other));
  gtk_menu_button_set_menu_model (button, G_MENU_MODEL (menu));
}

static void
load_model_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  clipscope_compare_window_load_model (CLIPSCOPE_COMPARE_WINDOW (widget),
                                       g_variant_get_string (parameter, NULL));
}

static void
folder_chosen (gpointer    window,
               const char *path)
{
  clipscope_compare_window_load_model (CLIPSCOPE_COMPARE_WINDOW (window), path);
}

static void
open_model_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  clipscope_models_choose_folder (GTK_WINDOW (widget), folder_chosen);
}

/* ------------------------------------------------------------ GObject */

static void
clipscope_compare_window_dispose (GObject *object)
{
  ClipscopeCompareWindow *self = CLIPSCOPE_COMPARE_WINDOW (object);
  GtkWindow *parent = gtk_window_get_transient_for (GTK_WINDOW (self));

  if (parent != NULL && g_object_get_data (G_OBJECT (parent), PARENT_KEY) == self)
    g_object_set_data (G_OBJECT (parent), PARENT_KEY, NULL);
  for (guint i = 0; self->bindings != NULL && i < self->bindings->len; i++)
    g_binding_unbind (g_ptr_array_index (self->bindings, i));
  g_clear_pointer (&self->bindings, g_ptr_array_unref);
  if (self->session_a != NULL)
    clipscope_session_disconnect_by_data (self->session_a, self);
  if (self->session_b != NULL)
    g_signal_handlers_disconnect_by_data (self->session_b, self);
  gtk_widget_dispose_template (GTK_WIDGET (self), CLIPSCOPE_TYPE_COMPARE_WINDOW);
  g_clear_object (&self->session_a);
  g_clear_object (&self->session_b);
  G_OBJECT_CLASS (clipscope_compare_window_parent_class)->dispose (object);
}

static void
clipscope_compare_window_finalize (GObject *object)
{
  ClipscopeCompareWindow *self = CLIPSCOPE_COMPARE_WINDOW (object);

  g_free (self->error);
  G_OBJECT_CLASS (clipscope_compare_window_parent_class)->finalize (object);
}

static void
clipscope_compare_window_class_init (ClipscopeCompareWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = clipscope_compare_window_dispose;
  object_class->finalize = clipscope_compare_window_finalize;

  g_type_ensure (CLIPSCOPE_TYPE_HEATMAP_VIEW);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/clipscope/Clipscope/clipscope-compare-window.ui");
  gtk_widget_class_bind_template_child (widget_class, ClipscopeCompareWindow, window_title);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeCompareWindow, model_button);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeCompareWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeCompareWindow, choose_page);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeCompareWindow, choose_button);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeCompareWindow, summary_label);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeCompareWindow, status_label);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeCompareWindow, name_a);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeCompareWindow, name_b);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeCompareWindow, heatmap_a);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeCompareWindow, heatmap_b);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeCompareWindow, image_list);
  gtk_widget_class_bind_template_callback (widget_class, row_selected_cb);

  gtk_widget_class_install_action (widget_class, "compare.load-model", "s", load_model_action);
  gtk_widget_class_install_action (widget_class, "compare.open-model", NULL, open_model_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
clipscope_compare_window_init (ClipscopeCompareWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->session_b = clipscope_session_new ();
  self->bindings = g_ptr_array_new ();
  clipscope_heatmap_view_set_session (self->heatmap_b, self->session_b);
  g_object_bind_property (self->heatmap_a, "selected", self->heatmap_b, "selected",
                          G_BINDING_BIDIRECTIONAL);
  g_signal_connect_swapped (self->heatmap_a, "notify::selected", G_CALLBACK (heatmap_selected_cb), self);
  gtk_menu_button_set_create_popup_func (self->model_button, model_menu_popup_cb, self, NULL);
  gtk_menu_button_set_create_popup_func (self->choose_button, model_menu_popup_cb, self, NULL);

  g_signal_connect_swapped (self->session_b, "scores-changed", G_CALLBACK (update_comparison), self);
  g_signal_connect_swapped (self->session_b, "notify::busy", G_CALLBACK (update_status), self);
  g_signal_connect_swapped (self->session_b, "notify::model-path", G_CALLBACK (model_b_loaded_cb), self);
  g_signal_connect_swapped (self->session_b, "model-failed", G_CALLBACK (model_b_failed_cb), self);
}

/* Copies A as it is now and follows it from then on. */
static void
follow_session (ClipscopeCompareWindow *self,
                ClipscopeSession       *session)
{
  self->session_a = g_object_ref (session);
  clipscope_heatmap_view_set_session (self->heatmap_a, session);
  bind_setting (self, "classifier");
  bind_setting (self, "example-weight");
  bind_setting (self, "use-threshold");
  bind_setting (self, "threshold");
  sync_labels (self);
  sync_templates (self);
  sync_examples (self);
  follow_images (self);

  g_signal_connect_swapped (clipscope_session_get_images (session), "items-changed",
                            G_CALLBACK (follow_images), self);
  g_signal_connect_swapped (clipscope_session_get_labels (session), "items-changed",
                            G_CALLBACK (sync_labels), self);
  g_signal_connect_swapped (clipscope_session_get_templates (session), "items-changed",
                            G_CALLBACK (sync_templates), self);
  g_signal_connect_swapped (session, "scores-changed", G_CALLBACK (scores_a_changed_cb), self);
  g_signal_connect_swapped (session, "notify::busy", G_CALLBACK (update_status), self);
  g_signal_connect_swapped (session, "notify::model-path", G_CALLBACK (update_names), self);
  update_names (self);
  update_comparison (self);
}

/**
 * clipscope_compare_window_open:
 * @parent: the main window
 * @session: its session, the first model's
 *
 * Presents @parent's comparison window, creating it on first use. It
 * closes with @parent.
 *
 * Returns: (transfer none): the window
 */
ClipscopeCompareWindow *
clipscope_compare_window_open (GtkWindow        *parent,
                               ClipscopeSession *session)
{
  ClipscopeCompareWindow *self;

  g_return_val_if_fail (GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (CLIPSCOPE_IS_SESSION (session), NULL);

  self = g_object_get_data (G_OBJECT (parent), PARENT_KEY);
  if (self == NULL)
    {
      self = g_object_new (CLIPSCOPE_TYPE_COMPARE_WINDOW, "transient-for", parent,
                           "application", gtk_window_get_application (parent), NULL);
      g_object_set_data (G_OBJECT (parent), PARENT_KEY, self);
      follow_session (self, session);
    }
  gtk_window_present (GTK_WINDOW (self));
  return self;
}

/**
 * clipscope_compare_window_load_model:
 *
 * Loads the second model on the comparison's own worker; a failure is
 * shown with the engine's message and leaves the previous one in use.
 */
void
clipscope_compare_window_load_model (ClipscopeCompareWindow *self,
                                     const char             *dir)
{
  g_return_if_fail (CLIPSCOPE_IS_COMPARE_WINDOW (self));
  g_return_if_fail (dir != NULL);

  self->loading = TRUE;
  g_clear_pointer (&self->error, g_free);
  gtk_stack_set_visible_child_name (self->stack, "compare");
  clipscope_session_load_model (self->session_b, dir);
  update_comparison (self);
}

/** clipscope_compare_window_get_session: Returns: (transfer none): the second model's session */
ClipscopeSession *
clipscope_compare_window_get_session (ClipscopeCompareWindow *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_COMPARE_WINDOW (self), NULL);
  return self->session_b;
}

/** clipscope_compare_window_get_busy: Returns: whether either model is still at work */
gboolean
clipscope_compare_window_get_busy (ClipscopeCompareWindow *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_COMPARE_WINDOW (self), FALSE);
  return self->loading || clipscope_session_get_busy (self->session_a)
         || clipscope_session_get_busy (self->session_b);
}

/** clipscope_compare_window_get_summary: Returns: (transfer none): the summary as shown */
const char *
clipscope_compare_window_get_summary (ClipscopeCompareWindow *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_COMPARE_WINDOW (self), NULL);
  return gtk_label_get_label (self->summary_label);
}

/**
 * clipscope_compare_window_get_mark:
 *
 * Returns: (transfer none) (nullable): the mark shown in @row's image
 *   row: "✓" for the same top label, "✗" for different ones, "…" while
 *   not both are known; %NULL past the last row
 */
const char *
clipscope_compare_window_get_mark (ClipscopeCompareWindow *self,
                                   guint                   row)
{
  GtkListBoxRow *widget;

  g_return_val_if_fail (CLIPSCOPE_IS_COMPARE_WINDOW (self), NULL);

  widget = gtk_list_box_get_row_at_index (self->image_list, row);
  return widget != NULL ? gtk_label_get_label (g_object_get_data (G_OBJECT (widget), "mark")) : NULL;
}

/** clipscope_compare_window_get_error: Returns: (transfer none) (nullable): why model B did not load */
const char *
clipscope_compare_window_get_error (ClipscopeCompareWindow *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_COMPARE_WINDOW (self), NULL);
  return self->error;
}
