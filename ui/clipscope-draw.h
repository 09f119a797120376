/* clipscope-draw.h — what the custom views draw alike */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

void clipscope_draw_layout                 (GtkSnapshot   *snapshot,
                                            PangoLayout   *layout,
                                            float          x,
                                            float          y,
                                            const GdkRGBA *color);
void clipscope_draw_get_unclassified_color (GtkWidget     *widget,
                                            GdkRGBA       *color);
void clipscope_widget_ellipsize_labels     (GtkWidget     *widget);

G_END_DECLS
