/* clipscope-model-row.h — one model of the Models page */
#pragma once

#include <adwaita.h>
#include <clipscope.h>

G_BEGIN_DECLS

#define CLIPSCOPE_TYPE_MODEL_ROW (clipscope_model_row_get_type ())
G_DECLARE_FINAL_TYPE (ClipscopeModelRow, clipscope_model_row, CLIPSCOPE, MODEL_ROW, AdwActionRow)

ClipscopeModelRow         *clipscope_model_row_new             (const ClipscopeModelEntry       *entry);
const ClipscopeModelEntry *clipscope_model_row_get_entry       (ClipscopeModelRow               *self);
void                       clipscope_model_row_set_entry       (ClipscopeModelRow               *self,
                                                                const ClipscopeModelEntry       *entry);
gboolean                   clipscope_model_row_get_in_use      (ClipscopeModelRow               *self);
void                       clipscope_model_row_set_in_use      (ClipscopeModelRow               *self,
                                                                gboolean                         in_use);
gboolean                   clipscope_model_row_get_downloading (ClipscopeModelRow               *self);
void                       clipscope_model_row_begin_download  (ClipscopeModelRow               *self);
void                       clipscope_model_row_set_progress    (ClipscopeModelRow               *self,
                                                                const ClipscopeDownloadProgress *progress);
void                       clipscope_model_row_end_download    (ClipscopeModelRow               *self,
                                                                const char                      *error_message);
const char                *clipscope_model_row_get_error       (ClipscopeModelRow               *self);

G_END_DECLS
