/* clipscope-draw.c — what the custom views draw alike
 *
 * The heatmap and the probability bars are drawn as render nodes; both
 * place text at a point and mark an unclassified image the same way.
 */
#include "clipscope-draw.h"

/** clipscope_draw_layout: Draws @layout with its top left corner at (@x, @y). */
void
clipscope_draw_layout (GtkSnapshot   *snapshot,
                       PangoLayout   *layout,
                       float          x,
                       float          y,
                       const GdkRGBA *color)
{
  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (x, y));
  gtk_snapshot_append_layout (snapshot, layout, color);
  gtk_snapshot_restore (snapshot);
}

/**
 * clipscope_draw_get_unclassified_color:
 *
 * The colour that marks an image no label reaches the threshold for:
 * the warning colour of @widget's style.
 */
void
clipscope_draw_get_unclassified_color (GtkWidget *widget,
                                       GdkRGBA   *color)
{
  GtkStyleContext *style = gtk_widget_get_style_context (widget);

  if (!gtk_style_context_lookup_color (style, "warning_color", color))
    gdk_rgba_parse (color, "#9c6e03");
}

/**
 * clipscope_widget_ellipsize_labels:
 *
 * Cuts short with an ellipsis every label inside @widget that belongs to
 * it rather than to a text field: for composite widgets (an editable
 * label, a menu button's label) whose text must not set how wide the
 * window can get.
 */
void
clipscope_widget_ellipsize_labels (GtkWidget *widget)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (GTK_IS_LABEL (child))
      gtk_label_set_ellipsize (GTK_LABEL (child), PANGO_ELLIPSIZE_END);
    else if (!GTK_IS_EDITABLE (child))
      clipscope_widget_ellipsize_labels (child);
}
