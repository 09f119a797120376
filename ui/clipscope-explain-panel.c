/* clipscope-explain-panel.c — where in the image: the controls and their state
 *
 * Under the preview, a switch shows or hides the map, a drop-down picks
 * the label and a slider sets the map's opacity. For the image the window
 * shows, the panel asks the session's worker once for its spatial
 * embeddings; each label's map is then one product with the label's
 * embedding, on the main thread, so picking another label costs nothing.
 * Requests hold the cancellable that was current when they were made, and
 * a result whose cancellable has since been replaced is dropped.
 */
#include "clipscope-explain-panel.h"
#include <glib/gi18n.h>
#include "clipscope-application.h"
#include "clipscope-label-dropdown.h"
#include "clipscope-weak-ref.h"

#include <clipscope.h>
#include <math.h>

struct _ClipscopeExplainPanel {
  AdwBin                   parent_instance;

  /* Template Widgets */
  GtkSwitch               *show_switch;
  ClipscopeLabelDropdown   labels;
  GtkAdjustment           *opacity;
  GtkLabel                *caption;

  /* Owned References */
  GSettings               *settings;
  ClipscopeSession        *session;
  ClipscopeExplainOverlay *overlay;
  ClipscopeImage          *image;
  GCancellable            *cancellable;   /* of the request in flight, or NULL */
  GBinding                *opacity_binding;
  GBinding                *visible_binding;
  float                   *spatial;       /* [grid², embed_dim] of @image, or NULL */
  float                   *map;           /* [grid²] of the selected label, or NULL */
  char                    *error_message;

  int                      grid;
  int                      embed_dim;
  double                   crop;
};

G_DEFINE_FINAL_TYPE (ClipscopeExplainPanel, clipscope_explain_panel, ADW_TYPE_BIN)

static void request_spatial (ClipscopeExplainPanel *self);

/* ------------------------------------------------------------ state */

static void
cancel_request (ClipscopeExplainPanel *self)
{
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
}

static void
clear_result (ClipscopeExplainPanel *self)
{
  cancel_request (self);
  g_clear_pointer (&self->spatial, g_free);
  g_clear_pointer (&self->map, g_free);
  g_clear_pointer (&self->error_message, g_free);
}

/* The shown image's cosine with label @column, or NaN while unknown. */
static float
image_similarity (ClipscopeExplainPanel *self,
                  guint                  column)
{
  const float *similarity = NULL;
  guint n_images = 0, n_labels = 0;
  int row = clipscope_session_find_image (self->session, self->image);

  clipscope_session_get_scores (self->session, &n_images, &n_labels, &similarity, NULL);
  if (row < 0 || (guint) row >= n_images || column >= n_labels)
    return NAN;
  return similarity[(gsize) row * n_labels + column];
}

/* ------------------------------------------------------------ display */

static void
update_caption (ClipscopeExplainPanel *self,
                const char            *label,
                float                  low,
                float                  high)
{
  g_autofree char *text = NULL;
  float whole;

  if (self->map != NULL)
    {
      g_autofree char *range = g_strdup_printf (_("Cosine with “%s” from %.3f (dark) to %.3f (yellow) "
                                                  "on the %d × %d grid"), label, low, high,
                                                self->grid, self->grid);

      whole = image_similarity (self, gtk_drop_down_get_selected (self->labels.dropdown));
      text = isnan (whole) ? g_steal_pointer (&range)
                           : g_strdup_printf (_("%s; %.3f for the whole image"), range, whole);
    }
  else if (self->error_message != NULL)
    text = g_strdup_printf (_("Could not look into this image: %s"), self->error_message);
  else if (self->image == NULL)
    text = g_strdup (_("Select an image to see where each label is in it"));
  else if (clipscope_session_get_model_path (self->session) == NULL)
    text = g_strdup (_("Open a model to see where each label is in the image"));
  else if (self->cancellable != NULL)
    text = g_strdup (_("Looking at the image…"));
  else if (label == NULL && clipscope_session_get_labels_encoding (self->session))
    text = g_strdup (_("Encoding the labels…"));
  else if (label == NULL)
    text = g_strdup (_("Add a label to see where it is in the image"));
  gtk_label_set_label (self->caption, text != NULL ? text : "");
  gtk_widget_set_visible (GTK_WIDGET (self->caption), text != NULL);
}

/* Maps the selected label, when both it and the image's spatial
 * embeddings are at hand, and shows the result. */
static void
update_map (ClipscopeExplainPanel *self)
{
  guint column = gtk_drop_down_get_selected (self->labels.dropdown);
  const char *label = NULL;
  const float *embedding = NULL;
  float low = 0.0f, high = 0.0f;
  int dim = 0;

  g_clear_pointer (&self->map, g_free);
  if (column != GTK_INVALID_LIST_POSITION)
    {
      label = gtk_string_list_get_string (self->labels.names, column);
      embedding = clipscope_session_get_label_embedding (self->session, column, &dim);
    }
  if (self->spatial != NULL && embedding != NULL && dim == self->embed_dim)
    {
      self->map = g_new (float, (gsize) self->grid * self->grid);
      clipscope_explain_map (self->spatial, self->grid * self->grid, embedding, dim, self->map);
      low = high = self->map[0];
      for (int i = 1; i < self->grid * self->grid; i++)
        {
          low = MIN (low, self->map[i]);
          high = MAX (high, self->map[i]);
        }
    }
  if (self->overlay != NULL)
    {
      g_autofree char *description = NULL;

      clipscope_explain_overlay_set_map (self->overlay, self->map, self->grid, low, high, self->crop);
      if (self->map != NULL)
        description = g_strdup_printf (_("Where the model sees “%s”"), label);
      gtk_accessible_update_property (GTK_ACCESSIBLE (self->overlay), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      description != NULL ? description : "", -1);
    }
  update_caption (self, label, low, high);
}

static void
sync_labels (ClipscopeExplainPanel *self)
{
  clipscope_label_dropdown_sync (&self->labels, self->session, self->image);
  update_map (self);
}

/* ------------------------------------------------------------ requests */

static void
spatial_ready_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GWeakRef) ref = user_data;
  g_autoptr(ClipscopeExplainPanel) self = g_weak_ref_get (ref);
  g_autoptr(GError) error = NULL;
  g_autofree float *spatial = NULL;
  int grid = 0, dim = 0;
  double crop = 1.0;

  if (self == NULL || g_task_get_cancellable (G_TASK (result)) != self->cancellable)
    return;
  spatial = clipscope_session_explain_image_finish (self->session, result, &grid, &dim, &crop, &error);
  g_clear_object (&self->cancellable);
  /* Another model made the request stale; its load asks again. */
  if (spatial == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    self->error_message = g_strdup (error->message);
  self->spatial = g_steal_pointer (&spatial);
  self->grid = grid;
  self->embed_dim = dim;
  self->crop = crop;
  update_map (self);
}

static void
request_spatial (ClipscopeExplainPanel *self)
{
  clear_result (self);
  if (self->session != NULL && self->image != NULL && gtk_switch_get_active (self->show_switch)
      && clipscope_session_get_model_path (self->session) != NULL)
    {
      self->cancellable = g_cancellable_new ();
      clipscope_session_explain_image_async (self->session, self->image, self->cancellable,
                                             spatial_ready_cb, clipscope_weak_ref_new (self));
    }
  update_map (self);
}

/* ------------------------------------------------------------ signals */

static void
show_changed_cb (ClipscopeExplainPanel *self)
{
  if (gtk_switch_get_active (self->show_switch) && self->spatial == NULL)
    request_spatial (self);
}

static void
label_selected_cb (ClipscopeExplainPanel *self)
{
  if (clipscope_label_dropdown_picked (&self->labels))
    update_map (self);
}

static void
clipscope_explain_panel_dispose (GObject *object)
{
  ClipscopeExplainPanel *self = CLIPSCOPE_EXPLAIN_PANEL (object);

  clear_result (self);
  clipscope_explain_panel_set_overlay (self, NULL);
  clipscope_explain_panel_set_session (self, NULL);
  g_clear_object (&self->image);
  g_clear_object (&self->settings);
  gtk_widget_dispose_template (GTK_WIDGET (self), CLIPSCOPE_TYPE_EXPLAIN_PANEL);
  G_OBJECT_CLASS (clipscope_explain_panel_parent_class)->dispose (object);
}

static void
clipscope_explain_panel_class_init (ClipscopeExplainPanelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = clipscope_explain_panel_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/clipscope/Clipscope/clipscope-explain-panel.ui");
  gtk_widget_class_bind_template_child (widget_class, ClipscopeExplainPanel, show_switch);
  clipscope_label_dropdown_bind_template (widget_class, G_STRUCT_OFFSET (ClipscopeExplainPanel, labels));
  gtk_widget_class_bind_template_child (widget_class, ClipscopeExplainPanel, opacity);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeExplainPanel, caption);
  gtk_widget_class_bind_template_callback (widget_class, show_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, label_selected_cb);
}

static void
clipscope_explain_panel_init (ClipscopeExplainPanel *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->crop = 1.0;
  /* The switch and the opacity are kept from one run to the next. */
  self->settings = clipscope_settings_new ();
  g_settings_bind (self->settings, "show-explain-map", self->show_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "explain-opacity", self->opacity, "value",
                   G_SETTINGS_BIND_DEFAULT);
}

GtkWidget *
clipscope_explain_panel_new (void)
{
  return g_object_new (CLIPSCOPE_TYPE_EXPLAIN_PANEL, NULL);
}

/**
 * clipscope_explain_panel_set_session:
 * @session: (nullable): the session whose worker, labels and scores to use
 */
void
clipscope_explain_panel_set_session (ClipscopeExplainPanel *self,
                                     ClipscopeSession      *session)
{
  g_return_if_fail (CLIPSCOPE_IS_EXPLAIN_PANEL (self));
  g_return_if_fail (session == NULL || CLIPSCOPE_IS_SESSION (session));

  if (session == self->session)
    return;
  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_set_object (&self->session, session);
  if (session == NULL)
    return;
  g_signal_connect_swapped (session, "scores-changed", G_CALLBACK (sync_labels), self);
  g_signal_connect_swapped (session, "notify::labels-encoding", G_CALLBACK (update_map), self);
  /* A newly loaded model sees the image anew; after a failed load the
   * old one is back, and a request made meanwhile was dropped. */
  g_signal_connect_swapped (session, "notify::model-path", G_CALLBACK (request_spatial), self);
  g_signal_connect_swapped (session, "model-failed", G_CALLBACK (request_spatial), self);
  sync_labels (self);
  request_spatial (self);
}

/**
 * clipscope_explain_panel_set_overlay:
 * @overlay: (nullable): where to draw the map; the switch shows and hides
 *   it and the slider sets its opacity
 */
void
clipscope_explain_panel_set_overlay (ClipscopeExplainPanel   *self,
                                     ClipscopeExplainOverlay *overlay)
{
  g_return_if_fail (CLIPSCOPE_IS_EXPLAIN_PANEL (self));
  g_return_if_fail (overlay == NULL || CLIPSCOPE_IS_EXPLAIN_OVERLAY (overlay));

  if (overlay == self->overlay)
    return;
  g_clear_pointer (&self->opacity_binding, g_binding_unbind);
  g_clear_pointer (&self->visible_binding, g_binding_unbind);
  g_set_object (&self->overlay, overlay);
  if (overlay == NULL)
    return;
  self->opacity_binding = g_object_bind_property (self->opacity, "value", overlay, "opacity",
                                                  G_BINDING_SYNC_CREATE);
  self->visible_binding = g_object_bind_property (self->show_switch, "active", overlay, "visible",
                                                  G_BINDING_SYNC_CREATE);
  update_map (self);
}

/**
 * clipscope_explain_panel_set_image:
 * @image: (nullable): the image the preview shows
 */
void
clipscope_explain_panel_set_image (ClipscopeExplainPanel *self,
                                   ClipscopeImage        *image)
{
  g_return_if_fail (CLIPSCOPE_IS_EXPLAIN_PANEL (self));
  g_return_if_fail (image == NULL || CLIPSCOPE_IS_IMAGE (image));

  if (!g_set_object (&self->image, image))
    return;
  clipscope_label_dropdown_follow_image (&self->labels, self->session, image);
  request_spatial (self);
}

/** clipscope_explain_panel_get_busy: Returns: whether the worker is computing a map */
gboolean
clipscope_explain_panel_get_busy (ClipscopeExplainPanel *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_EXPLAIN_PANEL (self), FALSE);
  return self->cancellable != NULL;
}

/** clipscope_explain_panel_get_label: Returns: (nullable): the selected label */
const char *
clipscope_explain_panel_get_label (ClipscopeExplainPanel *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_EXPLAIN_PANEL (self), NULL);
  return clipscope_label_dropdown_get_label (&self->labels);
}

/**
 * clipscope_explain_panel_select_label:
 *
 * Maps @label from now on, as if the person had picked it; until then the
 * panel shows each image's best label.
 *
 * Returns: %FALSE when @label is not one of the scored labels
 */
gboolean
clipscope_explain_panel_select_label (ClipscopeExplainPanel *self,
                                      const char            *label)
{
  g_return_val_if_fail (CLIPSCOPE_IS_EXPLAIN_PANEL (self), FALSE);
  g_return_val_if_fail (label != NULL, FALSE);

  if (!clipscope_label_dropdown_choose (&self->labels, label))
    return FALSE;
  update_map (self);
  return TRUE;
}

/**
 * clipscope_explain_panel_get_map:
 * @grid: (out) (optional): the grid side
 *
 * Returns: (transfer none) (nullable): [grid, grid] cosines of the
 *   selected label, row by row from the top left, or %NULL while there
 *   is none
 */
const float *
clipscope_explain_panel_get_map (ClipscopeExplainPanel *self,
                                 int                   *grid)
{
  g_return_val_if_fail (CLIPSCOPE_IS_EXPLAIN_PANEL (self), NULL);

  if (grid != NULL)
    *grid = self->map != NULL ? self->grid : 0;
  return self->map;
}
