/* clipscope-label-dropdown.h — a drop-down of the scored labels that follows the image's best */
#pragma once

#include <gtk/gtk.h>

#include "clipscope-session.h"

G_BEGIN_DECLS

/* Part of the instance struct of a template widget whose .ui holds a
 * GtkDropDown "label_dropdown" over a GtkStringList "label_names". */
typedef struct {
  GtkDropDown   *dropdown;
  GtkStringList *names;
  guint          syncing : 1;  /* the owner itself changes the selection */
  guint          chosen : 1;   /* the person picked the label; until then
                                * it is the image's best */
} ClipscopeLabelDropdown;

void        clipscope_label_dropdown_bind_template (GtkWidgetClass         *widget_class,
                                                    gssize                  struct_offset);
const char *clipscope_label_dropdown_get_label     (ClipscopeLabelDropdown *self);
void        clipscope_label_dropdown_sync          (ClipscopeLabelDropdown *self,
                                                    ClipscopeSession       *session,
                                                    ClipscopeImage         *image);
void        clipscope_label_dropdown_follow_image  (ClipscopeLabelDropdown *self,
                                                    ClipscopeSession       *session,
                                                    ClipscopeImage         *image);
gboolean    clipscope_label_dropdown_choose        (ClipscopeLabelDropdown *self,
                                                    const char             *label);
gboolean    clipscope_label_dropdown_picked        (ClipscopeLabelDropdown *self);

G_END_DECLS
