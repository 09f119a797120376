/* clipscope-compat.c — one way to ask, whichever GTK and libadwaita
 *
 * Each function has two bodies: the dialogs of the libraries Clipscope
 * finds when it is compiled, or those of GTK 4.8 and libadwaita 1.2.
 */
#include "clipscope-compat.h"
#include <glib/gi18n.h>

/* ------------------------------------------------------------ alerts */

#if CLIPSCOPE_HAVE_ADW_DIALOG
# define ALERT(w) ADW_ALERT_DIALOG (w)
#else
# define ALERT(w) ADW_MESSAGE_DIALOG (w)
#endif

GtkWidget *
clipscope_alert_new (const char *heading,
                     const char *body)
{
#if CLIPSCOPE_HAVE_ADW_DIALOG
  return GTK_WIDGET (adw_alert_dialog_new (heading, body));
#else
  return adw_message_dialog_new (NULL, heading, body);
#endif
}

void
clipscope_alert_add_response (GtkWidget             *alert,
                              const char            *id,
                              const char            *label,
                              AdwResponseAppearance  appearance)
{
#if CLIPSCOPE_HAVE_ADW_DIALOG
  adw_alert_dialog_add_response (ALERT (alert), id, label);
  adw_alert_dialog_set_response_appearance (ALERT (alert), id, appearance);
#else
  adw_message_dialog_add_response (ALERT (alert), id, label);
  adw_message_dialog_set_response_appearance (ALERT (alert), id, appearance);
#endif
}

void
clipscope_alert_set_default_response (GtkWidget  *alert,
                                      const char *id)
{
#if CLIPSCOPE_HAVE_ADW_DIALOG
  adw_alert_dialog_set_default_response (ALERT (alert), id);
#else
  adw_message_dialog_set_default_response (ALERT (alert), id);
#endif
}

void
clipscope_alert_set_close_response (GtkWidget  *alert,
                                    const char *id)
{
#if CLIPSCOPE_HAVE_ADW_DIALOG
  adw_alert_dialog_set_close_response (ALERT (alert), id);
#else
  adw_message_dialog_set_close_response (ALERT (alert), id);
#endif
}

/**
 * clipscope_dialog_present:
 * @parent: (nullable): any widget of the window (or dialog) it concerns
 *
 * Shows @dialog (an alert, or another dialog of the same library, such
 * as the About dialog) over @parent, modal; it goes when its window does.
 */
void
clipscope_dialog_present (GtkWidget *dialog,
                          GtkWidget *parent)
{
#if CLIPSCOPE_HAVE_ADW_DIALOG
  adw_dialog_present (ADW_DIALOG (dialog), parent);
#else
  GtkRoot *root = parent != NULL ? gtk_widget_get_root (parent) : NULL;

  gtk_window_set_transient_for (GTK_WINDOW (dialog), GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL);
  gtk_window_present (GTK_WINDOW (dialog));
#endif
}

gboolean
clipscope_is_alert (gpointer widget)
{
#if CLIPSCOPE_HAVE_ADW_DIALOG
  return ADW_IS_ALERT_DIALOG (widget);
#else
  return ADW_IS_MESSAGE_DIALOG (widget);
#endif
}

const char *
clipscope_alert_get_heading (GtkWidget *alert)
{
#if CLIPSCOPE_HAVE_ADW_DIALOG
  return adw_alert_dialog_get_heading (ALERT (alert));
#else
  return adw_message_dialog_get_heading (ALERT (alert));
#endif
}

const char *
clipscope_alert_get_body (GtkWidget *alert)
{
#if CLIPSCOPE_HAVE_ADW_DIALOG
  return adw_alert_dialog_get_body (ALERT (alert));
#else
  return adw_message_dialog_get_body (ALERT (alert));
#endif
}

/* Answers @alert as a click on its button @id does: the response, then
 * the alert closes. */
void
clipscope_alert_respond (GtkWidget  *alert,
                         const char *id)
{
#if CLIPSCOPE_HAVE_ADW_DIALOG
  g_signal_emit_by_name (alert, "response", id);
  adw_dialog_force_close (ADW_DIALOG (alert));
#else
  adw_message_dialog_response (ALERT (alert), id);
  gtk_window_close (GTK_WINDOW (alert));
#endif
}

void
clipscope_add_preferences_toast (GtkWidget *widget,
                                 AdwToast  *toast)
{
#if CLIPSCOPE_HAVE_ADW_DIALOG
  GtkWidget *preferences = gtk_widget_get_ancestor (widget, ADW_TYPE_PREFERENCES_DIALOG);

  if (preferences != NULL)
    adw_preferences_dialog_add_toast (ADW_PREFERENCES_DIALOG (preferences), toast);
#else
  GtkWidget *preferences = gtk_widget_get_ancestor (widget, ADW_TYPE_PREFERENCES_WINDOW);

  if (preferences != NULL)
    adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (preferences), toast);
#endif
  else
    g_object_unref (g_object_ref_sink (toast));
}

/* ------------------------------------------------------------ files */

typedef struct {
  GWeakRef                 owner;
  ClipscopeFilesChosenFunc chosen;
  ClipscopeChooseMode      mode;
  gpointer                 user_data;
  GDestroyNotify           destroy;
} ChooseRequest;

static void
choose_request_free (ChooseRequest *request)
{
  g_weak_ref_clear (&request->owner);
  if (request->destroy != NULL)
    request->destroy (request->user_data);
  g_free (request);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ChooseRequest, choose_request_free)

static void
choose_request_finish (ChooseRequest *request,
                       GListModel    *files,
                       GtkFileFilter *filter)
{
  g_autoptr(GObject) owner = g_weak_ref_get (&request->owner);

  if (owner != NULL && files != NULL && g_list_model_get_n_items (files) > 0)
    request->chosen (owner, files, filter, request->user_data);
}

static GtkWindow *
parent_window (GtkWidget *parent)
{
  GtkRoot *root = parent != NULL ? gtk_widget_get_root (parent) : NULL;

  return GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL;
}

#if CLIPSCOPE_HAVE_FILE_DIALOG

/* A single file or folder comes back alone; the callers take a list. */
static GListModel *
list_of_one (GFile *file)
{
  GListStore *store = g_list_store_new (G_TYPE_FILE);

  if (file != NULL)
    g_list_store_append (store, file);
  return G_LIST_MODEL (store);
}

static void
file_dialog_done_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(ChooseRequest) request = user_data;
  GtkFileDialog *dialog = GTK_FILE_DIALOG (source);
  g_autoptr(GListModel) files = NULL;
  g_autoptr(GFile) file = NULL;

  switch (request->mode)
    {
    case CLIPSCOPE_CHOOSE_FILE:
      files = list_of_one (file = gtk_file_dialog_open_finish (dialog, result, NULL));
      break;
    case CLIPSCOPE_CHOOSE_FILES:
      files = gtk_file_dialog_open_multiple_finish (dialog, result, NULL);
      break;
    case CLIPSCOPE_CHOOSE_FOLDERS:
      files = gtk_file_dialog_select_multiple_folders_finish (dialog, result, NULL);
      break;
    case CLIPSCOPE_CHOOSE_FOLDER:
      files = list_of_one (file = gtk_file_dialog_select_folder_finish (dialog, result, NULL));
      break;
    case CLIPSCOPE_CHOOSE_SAVE:
      files = list_of_one (file = gtk_file_dialog_save_finish (dialog, result, NULL));
      break;
    }
  choose_request_finish (request, files, NULL);
}

static void
choose_files (GtkWindow     *parent,
              GtkFileDialog *dialog,
              ChooseRequest *request)
{
  switch (request->mode)
    {
    case CLIPSCOPE_CHOOSE_FILE:
      gtk_file_dialog_open (dialog, parent, NULL, file_dialog_done_cb, request);
      break;
    case CLIPSCOPE_CHOOSE_FILES:
      gtk_file_dialog_open_multiple (dialog, parent, NULL, file_dialog_done_cb, request);
      break;
    case CLIPSCOPE_CHOOSE_FOLDERS:
      gtk_file_dialog_select_multiple_folders (dialog, parent, NULL, file_dialog_done_cb, request);
      break;
    case CLIPSCOPE_CHOOSE_FOLDER:
      gtk_file_dialog_select_folder (dialog, parent, NULL, file_dialog_done_cb, request);
      break;
    case CLIPSCOPE_CHOOSE_SAVE:
      gtk_file_dialog_save (dialog, parent, NULL, file_dialog_done_cb, request);
      break;
    }
}

#else /* GtkFileChooserNative */

static void
native_request_free (gpointer  data,
                     GClosure *closure)
{
  choose_request_free (data);
}

static void
native_response_cb (GtkNativeDialog *dialog,
                    int              response,
                    ChooseRequest   *request)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GListModel) files = gtk_file_chooser_get_files (GTK_FILE_CHOOSER (dialog));

      choose_request_finish (request, files, gtk_file_chooser_get_filter (GTK_FILE_CHOOSER (dialog)));
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static GtkFileChooserAction
chooser_action (ClipscopeChooseMode mode)
{
  switch (mode)
    {
    case CLIPSCOPE_CHOOSE_FILE:
    case CLIPSCOPE_CHOOSE_FILES:
      return GTK_FILE_CHOOSER_ACTION_OPEN;
    case CLIPSCOPE_CHOOSE_FOLDER:
    case CLIPSCOPE_CHOOSE_FOLDERS:
      return GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER;
    case CLIPSCOPE_CHOOSE_SAVE:
    default:
      return GTK_FILE_CHOOSER_ACTION_SAVE;
    }
}

#endif

/**
 * clipscope_choose_files:
 * @parent: (nullable): a widget of the window asking
 * @filters: (nullable): #GtkFileFilter items, the first one chosen at first
 * @initial_name: (nullable): the name offered when saving
 * @chosen: (scope async): see #ClipscopeFilesChosenFunc
 * @owner: the object @chosen is called with; held weakly
 * @user_data: passed on to @chosen
 * @destroy: (nullable): frees @user_data when the chooser is done
 *
 * Asks for files or folders in a modal file chooser: the portal's in a
 * sandbox.
 */
void
clipscope_choose_files (GtkWidget                *parent,
                        ClipscopeChooseMode       mode,
                        const char               *title,
                        const char               *accept_label,
                        GListModel               *filters,
                        const char               *initial_name,
                        ClipscopeFilesChosenFunc  chosen,
                        gpointer                  owner,
                        gpointer                  user_data,
                        GDestroyNotify            destroy)
{
  ChooseRequest *request = g_new0 (ChooseRequest, 1);

  g_weak_ref_init (&request->owner, owner);
  request->chosen = chosen;
  request->mode = mode;
  request->user_data = user_data;
  request->destroy = destroy;
#if CLIPSCOPE_HAVE_FILE_DIALOG
  {
    g_autoptr(GtkFileDialog) dialog = gtk_file_dialog_new ();

    gtk_file_dialog_set_title (dialog, title);
    gtk_file_dialog_set_accept_label (dialog, accept_label);
    gtk_file_dialog_set_modal (dialog, TRUE);
    if (filters != NULL && g_list_model_get_n_items (filters) > 0)
      {
        g_autoptr(GtkFileFilter) first = g_list_model_get_item (filters, 0);

        gtk_file_dialog_set_filters (dialog, filters);
        gtk_file_dialog_set_default_filter (dialog, first);
      }
    if (initial_name != NULL)
      gtk_file_dialog_set_initial_name (dialog, initial_name);
    choose_files (parent_window (parent), dialog, request);
  }
#else
  {
    GtkFileChooserNative *chooser = gtk_file_chooser_native_new (title, parent_window (parent),
                                                                 chooser_action (mode),
                                                                 accept_label, _("_Cancel"));

    gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (chooser),
                                          mode == CLIPSCOPE_CHOOSE_FILES || mode == CLIPSCOPE_CHOOSE_FOLDERS);
    for (guint i = 0; filters != NULL && i < g_list_model_get_n_items (filters); i++)
      {
        g_autoptr(GtkFileFilter) filter = g_list_model_get_item (filters, i);

        gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
      }
    if (initial_name != NULL)
      gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), initial_name);
    gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
    g_signal_connect_data (chooser, "response", G_CALLBACK (native_response_cb), request,
                           native_request_free, 0);
    gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
  }
#endif
}

/* The filter of the images Clipscope reads, as the list of filters that
 * clipscope_choose_files() takes. */
GListModel *
clipscope_image_filters_new (void)
{
  GListStore *filters = g_list_store_new (GTK_TYPE_FILE_FILTER);
  g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _("Images"));
  gtk_file_filter_add_pixbuf_formats (filter);
  g_list_store_append (filters, filter);
  return G_LIST_MODEL (filters);
}

/* The local path of the first of @files (what a chooser of one file or
 * folder gives), or NULL where it has none. */
char *
clipscope_files_dup_first_path (GListModel *files)
{
  g_autoptr(GFile) file = g_list_model_get_item (files, 0);

  return file != NULL ? g_file_get_path (file) : NULL;
}

static void
path_chosen_cb (gpointer       owner,
                GListModel    *files,
                GtkFileFilter *filter,
                gpointer       user_data)
{
  ClipscopePathChosenFunc *chosen = user_data;
  g_autofree char *path = clipscope_files_dup_first_path (files);

  if (path != NULL)
    (*chosen) (owner, path);
}

/* Asks for one folder, as clipscope_choose_files() does. */
void
clipscope_choose_folder (GtkWidget               *parent,
                         const char              *title,
                         const char              *accept_label,
                         ClipscopePathChosenFunc  chosen,
                         gpointer                 owner)
{
  ClipscopePathChosenFunc *box = g_new (ClipscopePathChosenFunc, 1);

  *box = chosen;
  clipscope_choose_files (parent, CLIPSCOPE_CHOOSE_FOLDER, title, accept_label, NULL, NULL,
                          path_chosen_cb, owner, box, g_free);
}
