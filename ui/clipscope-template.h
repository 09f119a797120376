/* clipscope-template.h — one prompt template in the editor */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define CLIPSCOPE_TYPE_TEMPLATE (clipscope_template_get_type ())
G_DECLARE_FINAL_TYPE (ClipscopeTemplate, clipscope_template, CLIPSCOPE, TEMPLATE, GObject)

ClipscopeTemplate *clipscope_template_new         (const char        *text,
                                                   gboolean           enabled);
const char        *clipscope_template_get_text    (ClipscopeTemplate *self);
void               clipscope_template_set_text    (ClipscopeTemplate *self,
                                                   const char        *text);
gboolean           clipscope_template_get_enabled (ClipscopeTemplate *self);
void               clipscope_template_set_enabled (ClipscopeTemplate *self,
                                                   gboolean           enabled);
gboolean           clipscope_template_get_valid   (ClipscopeTemplate *self);

G_END_DECLS
