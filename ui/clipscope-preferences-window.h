/* clipscope-preferences-window.h — the settings a person may change */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define CLIPSCOPE_TYPE_PREFERENCES_WINDOW (clipscope_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (ClipscopePreferencesWindow, clipscope_preferences_window, CLIPSCOPE, PREFERENCES_WINDOW, AdwPreferencesWindow)

GtkWidget *clipscope_preferences_window_new         (GtkWindow                  *parent);
void       clipscope_preferences_window_show_models (ClipscopePreferencesWindow *self);

G_END_DECLS
