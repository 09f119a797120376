/* clipscope-models-page.h — Preferences → Models: install, use and remove models */
#pragma once

#include <adwaita.h>
#include <clipscope.h>

#include "clipscope-model-row.h"

G_BEGIN_DECLS

#define CLIPSCOPE_TYPE_MODELS_PAGE (clipscope_models_page_get_type ())
G_DECLARE_FINAL_TYPE (ClipscopeModelsPage, clipscope_models_page, CLIPSCOPE, MODELS_PAGE, AdwPreferencesPage)

GtkWidget         *clipscope_models_page_new               (ClipscopeModelStore *store);
ClipscopeModelRow *clipscope_models_page_get_row           (ClipscopeModelsPage *self,
                                                            const char          *name);
void               clipscope_models_page_set_active_folder (ClipscopeModelsPage *self,
                                                            const char          *dir);
guint              clipscope_models_page_get_n_downloads   (ClipscopeModelsPage *self);
void               clipscope_models_page_cancel_downloads  (ClipscopeModelsPage *self);
gboolean           clipscope_models_page_get_busy          (ClipscopeModelsPage *self);
void               clipscope_models_page_refresh           (ClipscopeModelsPage *self);

G_END_DECLS
