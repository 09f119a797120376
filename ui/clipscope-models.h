/* clipscope-models.h — the model store as the windows share it */
#pragma once

#include <clipscope.h>
#include "clipscope-compat.h"

G_BEGIN_DECLS

ClipscopeModelStore *clipscope_models_get_store   (void);
gboolean             clipscope_models_same_folder (const char          *a,
                                                   const char          *b);
ClipscopeModelEntry *clipscope_models_find_folder (ClipscopeModelStore *store,
                                                   const char          *dir);

char                *clipscope_models_dup_display_name   (const char *dir);
void                 clipscope_models_menu_append        (GMenu      *section,
                                                          const char *label,
                                                          const char *action,
                                                          const char *dir);
GMenu               *clipscope_models_menu_new_installed (GPtrArray  *entries,
                                                          const char *action);

/* @chosen is called with @parent and the folder. */
void                 clipscope_models_choose_folder (GtkWindow                 *parent,
                                                     ClipscopePathChosenFunc    chosen);

G_END_DECLS
