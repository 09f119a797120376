/* clipscope-models.h — the model store as the windows share it */
#pragma once

#include <clipscope.h>
#include <glib.h>

G_BEGIN_DECLS

ClipscopeModelStore *clipscope_models_get_store   (void);
gboolean             clipscope_models_same_folder (const char          *a,
                                                   const char          *b);
ClipscopeModelEntry *clipscope_models_find_folder (ClipscopeModelStore *store,
                                                   const char          *dir);

G_END_DECLS
