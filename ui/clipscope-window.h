/* clipscope-window.h — the main window */
#pragma once

#include <adwaita.h>

#include "clipscope-session.h"

G_BEGIN_DECLS

#define CLIPSCOPE_TYPE_WINDOW (clipscope_window_get_type ())
G_DECLARE_FINAL_TYPE (ClipscopeWindow, clipscope_window, CLIPSCOPE, WINDOW, AdwApplicationWindow)

ClipscopeWindow  *clipscope_window_new             (GtkApplication  *application);
ClipscopeSession *clipscope_window_get_session     (ClipscopeWindow *self);
GtkWidget        *clipscope_window_get_heatmap     (ClipscopeWindow *self);
GtkDropTarget    *clipscope_window_get_drop_target (ClipscopeWindow *self);
GMenuModel       *clipscope_window_get_model_menu  (ClipscopeWindow *self);
GtkWidget        *clipscope_window_get_probability_caption (ClipscopeWindow *self);
void              clipscope_window_set_labels      (ClipscopeWindow    *self,
                                                    const char * const *labels);
void              clipscope_window_set_templates   (ClipscopeWindow    *self,
                                                    const char * const *templates);
void              clipscope_window_load_model      (ClipscopeWindow *self,
                                                    const char      *dir);
void              clipscope_window_take_screenshot (ClipscopeWindow *self,
                                                    const char      *path);
gboolean          clipscope_window_save_screenshot (ClipscopeWindow *self,
                                                    const char      *path,
                                                    GError         **error);
void              clipscope_window_add_toast       (ClipscopeWindow *self,
                                                    const char      *message);
void              clipscope_window_show_image_failures (ClipscopeWindow    *self,
                                                        const char * const *reasons);
void              clipscope_window_show_search     (ClipscopeWindow *self,
                                                    const char      *query);
GtkWidget        *clipscope_window_get_search_view (ClipscopeWindow *self);

G_END_DECLS
