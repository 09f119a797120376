/* clipscope-window-private.h — state shared by the window's source files */
#pragma once

#include "clipscope-explain-panel.h"
#include "clipscope-heatmap-view.h"
#include "clipscope-probability-view.h"
#include "clipscope-search-view.h"
#include "clipscope-template-contributions.h"
#include "clipscope-text-row.h"
#include "clipscope-window.h"

G_BEGIN_DECLS

typedef struct _ClipscopeUndoStep ClipscopeUndoStep;

typedef enum {
  CLIPSCOPE_UNDO_LABELS    = 1 << 0,   /* the labels and their examples */
  CLIPSCOPE_UNDO_EXAMPLES  = 1 << 1,   /* the examples alone */
  CLIPSCOPE_UNDO_TEMPLATES = 1 << 2,
} ClipscopeUndoWhat;

struct _ClipscopeWindow {
  AdwApplicationWindow      parent_instance;

  /* Template Widgets */
  AdwViewSwitcherTitle     *window_title;
  GtkMenuButton            *model_button;
  AdwToastOverlay          *toast_overlay;
  GtkRevealer              *progress_revealer;
  GtkProgressBar           *progress_bar;
  GtkStack                 *content_stack;
  GtkGridView              *image_grid;
  GtkScrolledWindow        *thumbnail_strip;
  gboolean                  compact_strip;
  ClipscopeHeatmapView     *heatmap;
  ClipscopeProbabilityView *probability_view;
  GtkLabel                 *probability_caption;
  GtkPicture               *preview;
  GtkLabel                 *preview_title;
  ClipscopeExplainOverlay  *explain_overlay;
  ClipscopeExplainPanel    *explain_panel;
  GtkSwitch                *probability_switch;
  GtkEntry                 *label_entry;
  GtkListBox               *label_list;
  GtkEntry                 *template_entry;
  GtkListBox               *template_list;
  ClipscopeTemplateContributions *template_contributions;
  GtkStack                 *sidebar_stack;
  GtkLabel                 *heatmap_hint;
  GtkMenuButton            *classifier_button;
  GtkCheckButton           *probe_check;
  GtkLabel                 *classifier_hint;
  GtkScale                 *weight_scale;
  GtkCheckButton           *threshold_check;
  GtkSpinButton            *threshold_spin;
  AdwViewStack             *view_stack;
  ClipscopeSearchView      *search_view;
  AdwFlap                  *sidebar_flap;
  AdwFlap                  *details_flap;

  /* Owned References */
  ClipscopeSession         *session;
  GtkMultiSelection        *image_selection;
  GSettings                *settings;
  GtkDropTarget            *drop_target;
  ClipscopeImage           *shown_image;
  GCancellable             *preview_cancellable;
  char                     *screenshot_path;
  GPtrArray                *undo_steps;    /* of ClipscopeUndoStep, oldest first */

  guint                     screenshot_id;
  guint                     screenshot_tries;
  guint                     layout_id;     /* an idle applying the width's layout */
  int                       layout_width;
  guint                     save_lists : 1;
  guint                     loading_model : 1;
  guint                     lists_from_arguments : 1;
  guint                     applying_arguments : 1;
};

void _clipscope_window_dnd_init (ClipscopeWindow *self);
void _clipscope_window_paste    (ClipscopeWindow *self);
void _clipscope_window_fewshot_init    (ClipscopeWindow  *self);
void _clipscope_window_fewshot_restore (ClipscopeWindow  *self);
void _clipscope_window_sort            (ClipscopeWindow  *self);
void _clipscope_window_setup_label_row (ClipscopeWindow  *self,
                                        ClipscopeTextRow *row);
void _clipscope_window_undo_class_init (GtkWidgetClass   *widget_class);
void _clipscope_window_undo_init       (ClipscopeWindow  *self);
void _clipscope_window_undo_dispose    (ClipscopeWindow  *self);
void _clipscope_window_save_undo       (ClipscopeWindow  *self,
                                        ClipscopeUndoWhat what,
                                        const char       *message);
void _clipscope_window_save_undo_images (ClipscopeWindow *self,
                                         const guint     *positions,
                                         guint            n_positions,
                                         const char      *message);

G_END_DECLS
