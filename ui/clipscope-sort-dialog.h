/* clipscope-sort-dialog.h — "Sort into Folders…": copy or link images by top label */
#pragma once

#include <adwaita.h>

#include "clipscope-session.h"

G_BEGIN_DECLS

#define CLIPSCOPE_TYPE_SORT_DIALOG (clipscope_sort_dialog_get_type ())
G_DECLARE_FINAL_TYPE (ClipscopeSortDialog, clipscope_sort_dialog, CLIPSCOPE, SORT_DIALOG, AdwWindow)

GtkWidget          *clipscope_sort_dialog_new              (GtkWindow           *parent,
                                                            ClipscopeSession    *session);
void                clipscope_sort_dialog_set_folder       (ClipscopeSortDialog *self,
                                                            const char          *path);
void                clipscope_sort_dialog_set_action       (ClipscopeSortDialog *self,
                                                            ClipscopeSortAction  action);
void                clipscope_sort_dialog_sort             (ClipscopeSortDialog *self);
gboolean            clipscope_sort_dialog_get_busy         (ClipscopeSortDialog *self);
const char * const *clipscope_sort_dialog_get_destinations (ClipscopeSortDialog *self);
const char         *clipscope_sort_dialog_get_error        (ClipscopeSortDialog *self);

G_END_DECLS
