/* clipscope-template-contributions.h — what each prompt template adds to a label */
#pragma once

#include <adwaita.h>

#include "clipscope-session.h"

G_BEGIN_DECLS

#define CLIPSCOPE_TYPE_TEMPLATE_CONTRIBUTIONS (clipscope_template_contributions_get_type ())
G_DECLARE_FINAL_TYPE (ClipscopeTemplateContributions, clipscope_template_contributions,
                      CLIPSCOPE, TEMPLATE_CONTRIBUTIONS, AdwBin)

GtkWidget  *clipscope_template_contributions_new          (void);
void        clipscope_template_contributions_set_session  (ClipscopeTemplateContributions *self,
                                                           ClipscopeSession               *session);
void        clipscope_template_contributions_set_image    (ClipscopeTemplateContributions *self,
                                                           ClipscopeImage                 *image);
gboolean    clipscope_template_contributions_get_busy     (ClipscopeTemplateContributions *self);
const char *clipscope_template_contributions_get_summary  (ClipscopeTemplateContributions *self);
const char *clipscope_template_contributions_get_label    (ClipscopeTemplateContributions *self);
gboolean    clipscope_template_contributions_select_label (ClipscopeTemplateContributions *self,
                                                           const char                     *label);
float       clipscope_template_contributions_get_ensemble (ClipscopeTemplateContributions *self);
guint       clipscope_template_contributions_get_n_rows   (ClipscopeTemplateContributions *self);
const char *clipscope_template_contributions_get_row      (ClipscopeTemplateContributions *self,
                                                           guint                           row,
                                                           float                          *cosine,
                                                           float                          *without);

G_END_DECLS
