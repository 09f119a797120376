/* clipscope-compare-window.h — one session scored by two models side by side */
#pragma once

#include <adwaita.h>

#include "clipscope-session.h"

G_BEGIN_DECLS

#define CLIPSCOPE_TYPE_COMPARE_WINDOW (clipscope_compare_window_get_type ())
G_DECLARE_FINAL_TYPE (ClipscopeCompareWindow, clipscope_compare_window, CLIPSCOPE, COMPARE_WINDOW, AdwWindow)

ClipscopeCompareWindow *clipscope_compare_window_open        (GtkWindow              *parent,
                                                              ClipscopeSession       *session);
void                    clipscope_compare_window_load_model  (ClipscopeCompareWindow *self,
                                                              const char             *dir);
ClipscopeSession       *clipscope_compare_window_get_session (ClipscopeCompareWindow *self);
gboolean                clipscope_compare_window_get_busy    (ClipscopeCompareWindow *self);
const char             *clipscope_compare_window_get_summary (ClipscopeCompareWindow *self);
const char             *clipscope_compare_window_get_mark    (ClipscopeCompareWindow *self,
                                                              guint                   row);
const char             *clipscope_compare_window_get_error   (ClipscopeCompareWindow *self);

G_END_DECLS
