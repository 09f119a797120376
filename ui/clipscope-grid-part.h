/* clipscope-grid-part.h — the accessible rows and cells of a drawn grid */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define CLIPSCOPE_TYPE_GRID_PART (clipscope_grid_part_get_type ())
G_DECLARE_FINAL_TYPE (ClipscopeGridPart, clipscope_grid_part, CLIPSCOPE, GRID_PART, GtkWidget)

GtkWidget *clipscope_grid_part_new       (GtkAccessibleRole  role,
                                          int                row,
                                          int                column);
int        clipscope_grid_part_get_row    (ClipscopeGridPart *self);
int        clipscope_grid_part_get_column (ClipscopeGridPart *self);
void       clipscope_grid_part_set_label  (ClipscopeGridPart *self,
                                           const char        *label);
const char *clipscope_grid_part_get_label (ClipscopeGridPart *self);
void       clipscope_grid_part_set_span   (ClipscopeGridPart *self,
                                           int                x,
                                           int                width);
void       clipscope_grid_part_place      (GtkWidget         *part,
                                           int                x,
                                           int                y,
                                           int                width,
                                           int                height);
GtkWidget *clipscope_grid_part_nth_child  (GtkWidget         *parent,
                                           guint              n);
void       clipscope_grid_part_trim       (GtkWidget         *parent,
                                           guint              n);

G_END_DECLS
