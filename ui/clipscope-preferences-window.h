/* clipscope-preferences-window.h — the settings a person may change */
#pragma once

#include "clipscope-compat.h"

G_BEGIN_DECLS

/* A dialog inside the window where libadwaita has AdwPreferencesDialog,
 * a window of its own on libadwaita 1.2. */
#if CLIPSCOPE_HAVE_ADW_DIALOG
typedef AdwPreferencesDialog ClipscopePreferencesParent;
typedef AdwPreferencesDialogClass ClipscopePreferencesParentClass;
# define CLIPSCOPE_TYPE_PREFERENCES_PARENT ADW_TYPE_PREFERENCES_DIALOG
#else
typedef AdwPreferencesWindow ClipscopePreferencesParent;
typedef AdwPreferencesWindowClass ClipscopePreferencesParentClass;
# define CLIPSCOPE_TYPE_PREFERENCES_PARENT ADW_TYPE_PREFERENCES_WINDOW
#endif
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ClipscopePreferencesParent, g_object_unref)

#define CLIPSCOPE_TYPE_PREFERENCES_WINDOW (clipscope_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (ClipscopePreferencesWindow, clipscope_preferences_window, CLIPSCOPE, PREFERENCES_WINDOW,
                      ClipscopePreferencesParent)

GtkWidget *clipscope_preferences_window_new         (GtkWindow                  *parent);
void       clipscope_preferences_window_present     (ClipscopePreferencesWindow *self);
void       clipscope_preferences_window_show_models (ClipscopePreferencesWindow *self);

G_END_DECLS
