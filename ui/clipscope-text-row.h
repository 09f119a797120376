/* clipscope-text-row.h — an editable, removable line of a label or template list */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define CLIPSCOPE_TYPE_TEXT_ROW (clipscope_text_row_get_type ())
G_DECLARE_FINAL_TYPE (ClipscopeTextRow, clipscope_text_row, CLIPSCOPE, TEXT_ROW, GtkListBoxRow)

GtkWidget  *clipscope_text_row_new      (const char       *text,
                                         gboolean          show_toggle);
const char *clipscope_text_row_get_text (ClipscopeTextRow *self);
void        clipscope_text_row_set_text (ClipscopeTextRow *self,
                                         const char       *text);

void        clipscope_text_row_accept_examples (ClipscopeTextRow   *self);
GtkDropTarget *clipscope_text_row_get_drop_target (ClipscopeTextRow *self);
void        clipscope_text_row_set_examples    (ClipscopeTextRow   *self,
                                                const char * const *paths,
                                                const char         *mode,
                                                double              accuracy);
const char *clipscope_text_row_get_mode_text   (ClipscopeTextRow   *self);

G_END_DECLS
