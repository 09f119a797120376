/* clipscope-explain-panel.h — where in the image: the controls and their state */
#pragma once

#include <adwaita.h>

#include "clipscope-explain-overlay.h"
#include "clipscope-session.h"

G_BEGIN_DECLS

#define CLIPSCOPE_TYPE_EXPLAIN_PANEL (clipscope_explain_panel_get_type ())
G_DECLARE_FINAL_TYPE (ClipscopeExplainPanel, clipscope_explain_panel, CLIPSCOPE, EXPLAIN_PANEL, AdwBin)

GtkWidget   *clipscope_explain_panel_new          (void);
void         clipscope_explain_panel_set_session  (ClipscopeExplainPanel   *self,
                                                   ClipscopeSession        *session);
void         clipscope_explain_panel_set_overlay  (ClipscopeExplainPanel   *self,
                                                   ClipscopeExplainOverlay *overlay);
void         clipscope_explain_panel_set_image    (ClipscopeExplainPanel   *self,
                                                   ClipscopeImage          *image);
gboolean     clipscope_explain_panel_get_busy     (ClipscopeExplainPanel   *self);
const char  *clipscope_explain_panel_get_label    (ClipscopeExplainPanel   *self);
gboolean     clipscope_explain_panel_select_label (ClipscopeExplainPanel   *self,
                                                   const char              *label);
const float *clipscope_explain_panel_get_map      (ClipscopeExplainPanel   *self,
                                                   int                     *grid);

G_END_DECLS
