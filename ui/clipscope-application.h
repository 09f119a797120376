/* clipscope-application.h — the application: command line and app actions */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define CLIPSCOPE_TYPE_APPLICATION (clipscope_application_get_type ())
G_DECLARE_FINAL_TYPE (ClipscopeApplication, clipscope_application, CLIPSCOPE, APPLICATION, AdwApplication)

ClipscopeApplication *clipscope_application_new  (void);
GSettings            *clipscope_settings_new     (void);
char                 *clipscope_application_dup_default_model (void);
void                  clipscope_i18n_init        (void);

G_END_DECLS
