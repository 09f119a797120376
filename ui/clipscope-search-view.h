/* clipscope-search-view.h — the Search view: folders indexed, found by words or an example */
#pragma once

#include <gtk/gtk.h>

#include "clipscope-session.h"

G_BEGIN_DECLS

#define CLIPSCOPE_TYPE_SEARCH_VIEW (clipscope_search_view_get_type ())
G_DECLARE_FINAL_TYPE (ClipscopeSearchView, clipscope_search_view, CLIPSCOPE, SEARCH_VIEW, GtkWidget)

void        clipscope_search_view_set_session  (ClipscopeSearchView *self,
                                                ClipscopeSession    *session);
void        clipscope_search_view_set_query    (ClipscopeSearchView *self,
                                                const char          *text);
void        clipscope_search_view_add_folders  (ClipscopeSearchView *self,
                                                GFile              **folders,
                                                guint                n_folders);
void        clipscope_search_view_set_example  (ClipscopeSearchView *self,
                                                GFile               *file);
GListModel *clipscope_search_view_get_results  (ClipscopeSearchView *self);
gboolean    clipscope_search_view_get_busy     (ClipscopeSearchView *self);

G_END_DECLS
