/* clipscope-heatmap-view.h — the image × label similarity matrix */
#pragma once

#include <gtk/gtk.h>

#include "clipscope-session.h"

G_BEGIN_DECLS

#define CLIPSCOPE_TYPE_HEATMAP_VIEW (clipscope_heatmap_view_get_type ())
G_DECLARE_FINAL_TYPE (ClipscopeHeatmapView, clipscope_heatmap_view, CLIPSCOPE, HEATMAP_VIEW, GtkWidget)

GtkWidget        *clipscope_heatmap_view_new                    (void);
ClipscopeSession *clipscope_heatmap_view_get_session            (ClipscopeHeatmapView *self);
void              clipscope_heatmap_view_set_session            (ClipscopeHeatmapView *self,
                                                                 ClipscopeSession     *session);
gboolean          clipscope_heatmap_view_get_show_probabilities (ClipscopeHeatmapView *self);
void              clipscope_heatmap_view_set_show_probabilities (ClipscopeHeatmapView *self,
                                                                 gboolean              show);
gboolean          clipscope_heatmap_view_get_show_values        (ClipscopeHeatmapView *self);
void              clipscope_heatmap_view_set_show_values        (ClipscopeHeatmapView *self,
                                                                 gboolean              show);
int               clipscope_heatmap_view_get_selected           (ClipscopeHeatmapView *self);
void              clipscope_heatmap_view_set_selected           (ClipscopeHeatmapView *self,
                                                                 int                   row);
gboolean          clipscope_heatmap_view_get_range              (ClipscopeHeatmapView *self,
                                                                 float                *low,
                                                                 float                *high);
void              clipscope_heatmap_view_snapshot_all           (ClipscopeHeatmapView *self,
                                                                 GtkSnapshot          *snapshot);
gboolean          clipscope_heatmap_view_cell_at                (ClipscopeHeatmapView *self,
                                                                 double                x,
                                                                 double                y,
                                                                 int                  *row,
                                                                 int                  *column);
gboolean          clipscope_heatmap_view_set_cursor             (ClipscopeHeatmapView *self,
                                                                 int                   row,
                                                                 int                   column);
gboolean          clipscope_heatmap_view_get_cursor             (ClipscopeHeatmapView *self,
                                                                 int                  *row,
                                                                 int                  *column);
void              clipscope_heatmap_view_set_fixed_scale        (ClipscopeHeatmapView *self,
                                                                 gboolean              fixed,
                                                                 float                 low,
                                                                 float                 high);
char             *clipscope_heatmap_view_dup_cell_text          (ClipscopeHeatmapView *self);
char             *clipscope_heatmap_view_dup_matrix_text        (ClipscopeHeatmapView *self);

G_END_DECLS
