/* clipscope-probability-view.h — zero-shot probabilities of one image as bars */
#pragma once

#include <gtk/gtk.h>

#include "clipscope-session.h"

G_BEGIN_DECLS

#define CLIPSCOPE_TYPE_PROBABILITY_VIEW (clipscope_probability_view_get_type ())
G_DECLARE_FINAL_TYPE (ClipscopeProbabilityView, clipscope_probability_view, CLIPSCOPE, PROBABILITY_VIEW, GtkWidget)

GtkWidget *clipscope_probability_view_new         (void);
void       clipscope_probability_view_set_session (ClipscopeProbabilityView *self,
                                                   ClipscopeSession         *session);
void       clipscope_probability_view_set_row     (ClipscopeProbabilityView *self,
                                                   int                       row);
int        clipscope_probability_view_get_row     (ClipscopeProbabilityView *self);

G_END_DECLS
