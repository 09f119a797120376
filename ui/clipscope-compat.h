/* clipscope-compat.h — one way to ask, whichever GTK and libadwaita
 *
 * Debian 12 has GTK 4.8 and libadwaita 1.2; the Flatpak's runtime has
 * the dialogs that replaced theirs (AdwAlertDialog and GtkFileDialog).
 * The callers below use one code path; which widgets it makes is decided
 * when Clipscope is compiled.
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* libadwaita 1.5 has AdwAlertDialog and AdwPreferencesDialog. */
#define CLIPSCOPE_HAVE_ADW_DIALOG ADW_CHECK_VERSION (1, 5, 0)
/* libadwaita 1.4 has breakpoints. */
#define CLIPSCOPE_HAVE_BREAKPOINTS ADW_CHECK_VERSION (1, 4, 0)
/* GTK 4.10 has GtkFileDialog. */
#define CLIPSCOPE_HAVE_FILE_DIALOG GTK_CHECK_VERSION (4, 10, 0)

/* A question or a message with buttons. Its "response" signal has the same
 * signature with either library: (GtkWidget *alert, const char *response,
 * gpointer user_data). */
GtkWidget *clipscope_alert_new                  (const char            *heading,
                                                 const char            *body);
void       clipscope_alert_add_response         (GtkWidget             *alert,
                                                 const char            *id,
                                                 const char            *label,
                                                 AdwResponseAppearance  appearance);
void       clipscope_alert_set_default_response (GtkWidget             *alert,
                                                 const char            *id);
void       clipscope_alert_set_close_response   (GtkWidget             *alert,
                                                 const char            *id);
void       clipscope_dialog_present             (GtkWidget             *dialog,
                                                 GtkWidget             *parent);
gboolean   clipscope_is_alert                   (gpointer               widget);
const char *clipscope_alert_get_heading         (GtkWidget             *alert);
const char *clipscope_alert_get_body            (GtkWidget             *alert);
void       clipscope_alert_respond              (GtkWidget             *alert,
                                                 const char            *id);

/* Shows @toast in the Preferences that hold @widget, if any. */
void       clipscope_add_preferences_toast      (GtkWidget             *widget,
                                                 AdwToast              *toast);

typedef enum {
  CLIPSCOPE_CHOOSE_FILE,
  CLIPSCOPE_CHOOSE_FILES,
  CLIPSCOPE_CHOOSE_FOLDER,
  CLIPSCOPE_CHOOSE_FOLDERS,
  CLIPSCOPE_CHOOSE_SAVE,
} ClipscopeChooseMode;

/* Called with what the person chose, unless they cancelled or @owner is
 * gone by then. @filter is the file type they picked where the file
 * chooser says it (GtkFileDialog does not), otherwise NULL. */
typedef void (*ClipscopeFilesChosenFunc) (gpointer       owner,
                                          GListModel    *files,
                                          GtkFileFilter *filter,
                                          gpointer       user_data);

void       clipscope_choose_files               (GtkWidget                *parent,
                                                 ClipscopeChooseMode       mode,
                                                 const char               *title,
                                                 const char               *accept_label,
                                                 GListModel               *filters,
                                                 const char               *initial_name,
                                                 ClipscopeFilesChosenFunc  chosen,
                                                 gpointer                  owner,
                                                 gpointer                  user_data,
                                                 GDestroyNotify            destroy);

/* Called with the local path of the folder chosen, unless the person
 * cancelled, @owner is gone by then, or the folder has no local path. */
typedef void (*ClipscopePathChosenFunc) (gpointer    owner,
                                         const char *path);

void       clipscope_choose_folder              (GtkWidget                *parent,
                                                 const char               *title,
                                                 const char               *accept_label,
                                                 ClipscopePathChosenFunc   chosen,
                                                 gpointer                  owner);

GListModel *clipscope_image_filters_new          (void);
char       *clipscope_files_dup_first_path       (GListModel *files);

G_END_DECLS
