/* clipscope-explain-overlay.h — a label's spatial map drawn over the preview */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define CLIPSCOPE_TYPE_EXPLAIN_OVERLAY (clipscope_explain_overlay_get_type ())
G_DECLARE_FINAL_TYPE (ClipscopeExplainOverlay, clipscope_explain_overlay, CLIPSCOPE, EXPLAIN_OVERLAY, GtkWidget)

GtkWidget  *clipscope_explain_overlay_new         (void);
GtkPicture *clipscope_explain_overlay_get_picture (ClipscopeExplainOverlay *self);
void        clipscope_explain_overlay_set_picture (ClipscopeExplainOverlay *self,
                                                   GtkPicture              *picture);
void        clipscope_explain_overlay_set_map     (ClipscopeExplainOverlay *self,
                                                   const float             *map,
                                                   int                      grid,
                                                   float                    low,
                                                   float                    high,
                                                   double                   crop);
gboolean    clipscope_explain_overlay_has_map     (ClipscopeExplainOverlay *self);
gboolean    clipscope_explain_overlay_get_area    (ClipscopeExplainOverlay *self,
                                                   graphene_rect_t         *area);

G_END_DECLS
