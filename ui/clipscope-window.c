/* clipscope-window.c — the main window
 *
 * The window shows a ClipscopeSession: the sidebar edits its labels and
 * templates, the grid and the heatmap show its images and scores, and the
 * panel on the right the probabilities of the selected image and, over its
 * preview, where in it a label is (clipscope-explain-panel.c). Behaviour is
 * exposed as "win." actions, which the menus, the key bindings and the
 * tests share. Drag and drop lives in clipscope-window-dnd.c.
 */
#include "clipscope-application.h"
#include <glib/gi18n.h>
#include "clipscope-window-private.h"
#include "clipscope-compare-window.h"
#include "clipscope-compat.h"
#include "clipscope-draw.h"
#include "clipscope-export.h"
#include "clipscope-models.h"
#include "clipscope-preferences-window.h"
#include "clipscope-text-row.h"
#include "clipscope-weak-ref.h"

#include <clipscope.h>
#include <string.h>

#define MAX_RECENT_MODELS 8

/* Below this width the image details fold away over the matrix, so that
 * the matrix keeps some 350 px beside the labels. (The labels' pane folds
 * by itself, once it and the matrix no longer fit.) */
#define DETAILS_FOLD_WIDTH 1000
/* Below this width the thumbnail strip shrinks to smaller thumbnails. */
#define COMPACT_STRIP_WIDTH 600

G_DEFINE_FINAL_TYPE (ClipscopeWindow, clipscope_window, ADW_TYPE_APPLICATION_WINDOW)

/* ------------------------------------------------------------ helpers */

void
clipscope_window_add_toast (ClipscopeWindow *self,
                            const char      *message)
{
  AdwToast *toast;

  g_return_if_fail (CLIPSCOPE_IS_WINDOW (self));

  toast = adw_toast_new (message);
  adw_toast_set_timeout (toast, 5);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

/* Reads a bundled or user list: one entry a line, blank lines and lines
 * starting with '#' skipped, as the CLI reads --labels-file. */
static GStrv
parse_list (const char *contents)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) lines = g_strsplit (contents, "\n", -1);

  for (char **l = lines; *l != NULL; l++)
    {
      g_strchomp (*l);
      if (**l != '\0' && **l != '#' && g_utf8_validate (*l, -1, NULL))
        g_strv_builder_add (builder, *l);
    }
  return g_strv_builder_end (builder);
}

static GStrv
load_resource_list (const char *name)
{
  g_autofree char *path = g_strdup_printf ("/io/github/clipscope/Clipscope/%s", name);
  g_autoptr(GBytes) bytes = g_resources_lookup_data (path, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
  g_autofree char *text = NULL;

  if (bytes == NULL)
    return g_new0 (char *, 1);
  text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  return parse_list (text);
}

/* ------------------------------------------------------------ persistence */

static void
save_labels (ClipscopeWindow *self)
{
  GtkStringList *labels = clipscope_session_get_labels (self->session);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) strv = NULL;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (labels));

  if (!self->save_lists)
    return;
  for (guint i = 0; i < n; i++)
    g_strv_builder_add (builder, gtk_string_list_get_string (labels, i));
  strv = g_strv_builder_end (builder);
  g_settings_set_strv (self->settings, "labels", (const char * const *) strv);
}

static void
save_templates (ClipscopeWindow *self)
{
  GListModel *templates = clipscope_session_get_templates (self->session);
  GVariantBuilder builder;

  if (!self->save_lists)
    return;
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sb)"));
  for (guint i = 0; i < g_list_model_get_n_items (templates); i++)
    {
      g_autoptr(ClipscopeTemplate) t = g_list_model_get_item (templates, i);

      g_variant_builder_add (&builder, "(sb)", clipscope_template_get_text (t),
                             clipscope_template_get_enabled (t));
    }
  g_settings_set_value (self->settings, "templates", g_variant_builder_end (&builder));
}

static void
restore_lists (ClipscopeWindow *self)
{
  g_auto(GStrv) labels = g_settings_get_strv (self->settings, "labels");
  g_autoptr(GVariant) templates = g_settings_get_value (self->settings, "templates");
  GVariantIter iter;
  const char *text;
  gboolean enabled;

  for (char **l = labels; *l != NULL; l++)
    clipscope_session_add_label (self->session, *l);
  g_variant_iter_init (&iter, templates);
  while (g_variant_iter_next (&iter, "(&sb)", &text, &enabled))
    clipscope_session_add_template (self->session, text, enabled);
  _clipscope_window_fewshot_restore (self);
  self->save_lists = TRUE;
}

/**
 * clipscope_window_set_labels:
 *
 * Replaces the labels for this run: lists given on the command line do
 * not overwrite the saved ones until the person edits them in the window.
 */
void
clipscope_window_set_labels (ClipscopeWindow    *self,
                             const char * const *labels)
{
  GtkStringList *list = clipscope_session_get_labels (self->session);

  g_return_if_fail (CLIPSCOPE_IS_WINDOW (self));

  self->save_lists = FALSE;
  self->lists_from_arguments = TRUE;
  self->applying_arguments = TRUE;
  gtk_string_list_splice (list, 0, g_list_model_get_n_items (G_LIST_MODEL (list)), NULL);
  for (const char * const *l = labels; *l != NULL; l++)
    clipscope_session_add_label (self->session, *l);
  self->applying_arguments = FALSE;
}

void
clipscope_window_set_templates (ClipscopeWindow    *self,
                                const char * const *templates)
{
  g_return_if_fail (CLIPSCOPE_IS_WINDOW (self));

  self->save_lists = FALSE;
  self->lists_from_arguments = TRUE;
  self->applying_arguments = TRUE;
  clipscope_session_clear_templates (self->session);
  for (const char * const *t = templates; *t != NULL; t++)
    clipscope_session_add_template (self->session, *t, TRUE);
  self->applying_arguments = FALSE;
}

/* ------------------------------------------------------------ model */

static gboolean
holds_folder (GPtrArray  *entries,
              const char *dir)
{
  for (guint i = 0; i < entries->len; i++)
    {
      ClipscopeModelEntry *e = g_ptr_array_index (entries, i);

      if (e->installed && clipscope_models_same_folder (e->path, dir))
        return TRUE;
    }
  return FALSE;
}

/* The installed models first, the bundled one leading and saying what it
 * is; then folders opened before that the store does not hold. Built
 * each time the menu opens, so models installed meanwhile (here or with
 * the command-line tool) are in it. */
static void
rebuild_model_menu (ClipscopeWindow *self)
{
  g_autoptr(GPtrArray) entries = clipscope_model_store_list (clipscope_models_get_store ());
  g_auto(GStrv) recent = g_settings_get_strv (self->settings, "recent-models");
  g_autoptr(GMenu) menu = g_menu_new ();
  g_autoptr(GMenu) installed = clipscope_models_menu_new_installed (entries, "win.load-model");
  g_autoptr(GMenu) folders = g_menu_new ();
  g_autoptr(GMenu) manage = g_menu_new ();

  for (char **r = recent; *r != NULL; r++)
    {
      g_autofree char *name = g_path_get_basename (*r);

      if (!holds_folder (entries, *r) && g_file_test (*r, G_FILE_TEST_IS_DIR))
        clipscope_models_menu_append (folders, name, "win.load-model", *r);
    }
  g_menu_append (manage, "_Manage Models…", "win.manage-models");
  g_menu_append (manage, "_Open Model Folder…", "win.open-model");
  if (g_menu_model_get_n_items (G_MENU_MODEL (installed)) > 0)
    g_menu_append_section (menu, _("Installed Models"), G_MENU_MODEL (installed));
  if (g_menu_model_get_n_items (G_MENU_MODEL (folders)) > 0)
    g_menu_append_section (menu, _("Recent Folders"), G_MENU_MODEL (folders));
  g_menu_append_section (menu, NULL, G_MENU_MODEL (manage));
  gtk_menu_button_set_menu_model (self->model_button, G_MENU_MODEL (menu));
}

static void
model_menu_popup_cb (GtkMenuButton *button,
                     gpointer       user_data)
{
  rebuild_model_menu (CLIPSCOPE_WINDOW (user_data));
}

static void
remember_model (ClipscopeWindow *self,
                const char      *dir)
{
  g_auto(GStrv) recent = g_settings_get_strv (self->settings, "recent-models");
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) updated = NULL;
  guint n = 1;

  g_strv_builder_add (builder, dir);
  for (char **r = recent; *r != NULL && n < MAX_RECENT_MODELS; r++)
    if (g_strcmp0 (*r, dir) != 0)
      {
        g_strv_builder_add (builder, *r);
        n++;
      }
  updated = g_strv_builder_end (builder);
  g_settings_set_strv (self->settings, "recent-models", (const char * const *) updated);
  g_settings_set_string (self->settings, "last-model", dir);
}

static void
update_title (ClipscopeWindow *self)
{
  const char *path = clipscope_session_get_model_path (self->session);
  const char *backend = clipscope_session_get_backend_name (self->session);
  const char *device = clipscope_session_get_device_name (self->session);
  g_autofree char *name = clipscope_models_dup_display_name (path);
  g_autofree char *subtitle = NULL;

  if (path == NULL)
    subtitle = g_strdup (_("No model · choose one in the model menu"));
  else
    subtitle = g_strdup_printf ("%s · %s · %s", name,
                                g_strcmp0 (backend, "vulkan") == 0 ? "Vulkan" : "CPU",
                                device != NULL ? device : "");
  adw_view_switcher_title_set_subtitle (self->window_title, subtitle);
  gtk_menu_button_set_label (self->model_button, name != NULL ? name : _("Model"));
  clipscope_widget_ellipsize_labels (GTK_WIDGET (self->model_button));
  if (path != NULL)
    remember_model (self, path);
}

static void model_folder_chosen (gpointer    window,
                                 const char *path);
static void update_hint         (ClipscopeWindow *self);

/* A list that is only a family's default template follows the model:
 * Chinese-CLIP gets its Chinese one, the others CLIP's. A list the person
 * made, or gave on the command line, is left alone. */
static void
follow_default_template (ClipscopeWindow *self)
{
  const ClipscopeModelInfo *info = clipscope_session_get_model_info (self->session);
  GListModel *templates = clipscope_session_get_templates (self->session);
  g_autoptr(ClipscopeTemplate) only = NULL;
  const char *text, *wanted;
  g_autofree char *message = NULL;

  /* Templates given on the command line are meant as given. */
  if (info == NULL || self->lists_from_arguments || g_list_model_get_n_items (templates) != 1)
    return;
  only = g_list_model_get_item (templates, 0);
  text = clipscope_template_get_text (only);
  wanted = clipscope_family_default_template (info->family);
  if (!clipscope_template_get_enabled (only) || strcmp (text, wanted) == 0
      || (strcmp (text, clipscope_family_default_template (CLIPSCOPE_FAMILY_CLIP)) != 0
          && strcmp (text, clipscope_family_default_template (CLIPSCOPE_FAMILY_CHINESE_CLIP)) != 0))
    return;
  /* TRANSLATORS: %s is a prompt template such as “一张{}的照片。” */
  message = g_strdup_printf (_("Template changed to “%s” for this model"), wanted);
  _clipscope_window_save_undo (self, CLIPSCOPE_UNDO_TEMPLATES, message);
  clipscope_template_set_text (only, wanted);
}

/* The caption under the probabilities, and what a screen reader hears of
 * them, say when they are independent. */
static void
update_scoring_note (ClipscopeWindow *self)
{
  const char *note = clipscope_session_get_scoring_note (self->session);

  gtk_label_set_label (self->probability_caption, note != NULL ? note : "");
  gtk_widget_set_visible (GTK_WIDGET (self->probability_caption), note != NULL);
  if (note != NULL)
    gtk_accessible_update_property (GTK_ACCESSIBLE (self->probability_view),
                                    GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, note, -1);
  else
    gtk_accessible_reset_property (GTK_ACCESSIBLE (self->probability_view),
                                   GTK_ACCESSIBLE_PROPERTY_DESCRIPTION);
}

static void
model_loaded_cb (ClipscopeWindow *self)
{
  self->loading_model = FALSE;
  follow_default_template (self);
  update_hint (self);
}

static void
model_failed_response_cb (GtkWidget       *alert,
                          const char      *response,
                          ClipscopeWindow *self)
{
  if (g_strcmp0 (response, "choose") == 0)
    clipscope_models_choose_folder (GTK_WINDOW (self), model_folder_chosen);
  else if (g_strcmp0 (response, "bundled") == 0)
    {
      g_autofree char *bundled = clipscope_model_store_get_default (clipscope_models_get_store (), NULL);

      if (bundled != NULL)
        clipscope_window_load_model (self, bundled);
    }
}

/* A model that fails to load leaves a way on: another folder, or the
 * small model that comes with Clipscope. */
static void
model_failed_cb (ClipscopeWindow *self,
                 const char      *dir,
                 const char      *message)
{
  GtkWidget *alert = clipscope_alert_new (_("Could Not Load the Model"), message);
  g_autofree char *bundled = clipscope_model_store_get_default (clipscope_models_get_store (), NULL);

  self->loading_model = FALSE;
  clipscope_alert_add_response (alert, "close", _("_Close"), ADW_RESPONSE_DEFAULT);
  clipscope_alert_add_response (alert, "choose", _("C_hoose Another Model…"), ADW_RESPONSE_DEFAULT);
  if (bundled != NULL && !clipscope_models_same_folder (bundled, dir))
    {
      clipscope_alert_add_response (alert, "bundled", _("Use the _Bundled Model"), ADW_RESPONSE_SUGGESTED);
      clipscope_alert_set_default_response (alert, "bundled");
    }
  else
    clipscope_alert_set_default_response (alert, "choose");
  clipscope_alert_set_close_response (alert, "close");
  g_signal_connect_object (alert, "response", G_CALLBACK (model_failed_response_cb), self, 0);
  clipscope_dialog_present (alert, GTK_WIDGET (self));

  /* The previous model, if any, is still the one in use. */
  update_title (self);
  update_hint (self);
}

void
clipscope_window_load_model (ClipscopeWindow *self,
                             const char      *dir)
{
  g_return_if_fail (CLIPSCOPE_IS_WINDOW (self));

  adw_view_switcher_title_set_subtitle (self->window_title, _("Loading model…"));
  self->loading_model = TRUE;
  clipscope_session_load_model (self->session, dir);
  update_hint (self);
}

static void
model_folder_chosen (gpointer    window,
                     const char *path)
{
  clipscope_window_load_model (CLIPSCOPE_WINDOW (window), path);
}

static void
open_model_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  clipscope_models_choose_folder (GTK_WINDOW (widget), model_folder_chosen);
}

static void
manage_models_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  GtkWidget *preferences = clipscope_preferences_window_new (GTK_WINDOW (widget));

  clipscope_preferences_window_show_models (CLIPSCOPE_PREFERENCES_WINDOW (preferences));
  clipscope_preferences_window_present (CLIPSCOPE_PREFERENCES_WINDOW (preferences));
}

static void
load_model_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  clipscope_window_load_model (CLIPSCOPE_WINDOW (widget), g_variant_get_string (parameter, NULL));
}

/* ------------------------------------------------------------ images */

static void
images_chosen_cb (gpointer       owner,
                  GListModel    *files,
                  GtkFileFilter *filter,
                  gpointer       user_data)
{
  ClipscopeWindow *self = owner;
  g_autoptr(GPtrArray) array = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < g_list_model_get_n_items (files); i++)
    g_ptr_array_add (array, g_list_model_get_item (files, i));
  clipscope_session_add_files (self->session, (GFile **) array->pdata, array->len);
}

static void
add_images_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  g_autoptr(GListModel) filters = clipscope_image_filters_new ();

  clipscope_choose_files (widget, CLIPSCOPE_CHOOSE_FILES, _("Add Images"), _("_Add"), filters, NULL,
                          images_chosen_cb, widget, NULL, NULL);
}

static void
paste_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  _clipscope_window_paste (CLIPSCOPE_WINDOW (widget));
}

static void
remove_selected_action (GtkWidget  *widget,
                        const char *action_name,
                        GVariant   *parameter)
{
  ClipscopeWindow *self = CLIPSCOPE_WINDOW (widget);
  g_autoptr(GtkBitset) selected = gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->image_selection));
  g_autoptr(GArray) positions = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autofree char *message = NULL;
  GtkBitsetIter iter;
  guint position;

  if (gtk_bitset_is_empty (selected))
    return;
  for (gboolean more = gtk_bitset_iter_init_first (&iter, selected, &position); more;
       more = gtk_bitset_iter_next (&iter, &position))
    g_array_append_val (positions, position);
  message = g_strdup_printf (ngettext ("%u image removed", "%u images removed", positions->len),
                             positions->len);
  _clipscope_window_save_undo_images (self, (guint *) positions->data, positions->len, message);

  /* Highest first, so earlier removals do not shift later positions. */
  while (!gtk_bitset_is_empty (selected))
    {
      guint last = gtk_bitset_get_maximum (selected);

      gtk_bitset_remove (selected, last);
      clipscope_session_remove_image (self->session, last);
    }
}

static void
cancel_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  clipscope_session_cancel (CLIPSCOPE_WINDOW (widget)->session);
}

static void
select_image_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  ClipscopeWindow *self = CLIPSCOPE_WINDOW (widget);

  clipscope_heatmap_view_set_selected (self->heatmap, g_variant_get_int32 (parameter));
}

static void
remove_image_clicked_cb (GtkButton       *button,
                         ClipscopeWindow *self)
{
  GtkListItem *item = g_object_get_data (G_OBJECT (button), "clipscope-list-item");
  guint position;

  if (item == NULL || (position = gtk_list_item_get_position (item)) == GTK_INVALID_LIST_POSITION)
    return;
  _clipscope_window_save_undo_images (self, &position, 1, _("Image removed"));
  clipscope_session_remove_image (self->session, position);
}

/* The grid recycles its cells, so only the visible thumbnails exist as
 * widgets: five hundred images cost a screenful of them. */
static void
setup_thumbnail_cb (GtkSignalListItemFactory *factory,
                    GtkListItem              *item,
                    ClipscopeWindow          *self)
{
  GtkWidget *overlay = gtk_overlay_new ();
  GtkWidget *picture = gtk_picture_new ();
  GtkWidget *remove = gtk_button_new_from_icon_name ("window-close-symbolic");

  if (self->compact_strip)
    gtk_widget_set_size_request (picture, 64, 48);
  else
    gtk_widget_set_size_request (picture, 96, 72);
  gtk_picture_set_can_shrink (GTK_PICTURE (picture), TRUE);
  gtk_widget_add_css_class (picture, "thumbnail");
  gtk_overlay_set_child (GTK_OVERLAY (overlay), picture);

  gtk_widget_set_halign (remove, GTK_ALIGN_END);
  gtk_widget_set_valign (remove, GTK_ALIGN_START);
  gtk_widget_set_margin_top (remove, 2);
  gtk_widget_set_margin_end (remove, 2);
  gtk_widget_set_tooltip_text (remove, _("Remove"));
  /* One Tab stop per thumbnail: Delete removes the selected images. */
  gtk_widget_set_focusable (remove, FALSE);
  gtk_widget_add_css_class (remove, "circular");
  gtk_widget_add_css_class (remove, "osd");
  g_object_set_data (G_OBJECT (remove), "clipscope-list-item", item);
  g_signal_connect (remove, "clicked", G_CALLBACK (remove_image_clicked_cb), self);
  gtk_overlay_add_overlay (GTK_OVERLAY (overlay), remove);
  gtk_list_item_set_child (item, overlay);
}

static void
bind_thumbnail_cb (GtkSignalListItemFactory *factory,
                   GtkListItem              *item,
                   ClipscopeWindow          *self)
{
  ClipscopeImage *image = gtk_list_item_get_item (item);
  GtkWidget *overlay = gtk_list_item_get_child (item);
  GtkWidget *picture = gtk_overlay_get_child (GTK_OVERLAY (overlay));
  GBinding *binding;

  g_autofree char *remove_name = g_strdup_printf (_("Remove %s"), clipscope_image_get_name (image));

  /* Screen readers name the thumbnail after its image, and each remove
   * button after the image it removes. */
  gtk_widget_set_tooltip_text (overlay, clipscope_image_get_path (image));
  gtk_accessible_update_property (GTK_ACCESSIBLE (picture), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  clipscope_image_get_name (image), -1);
  gtk_accessible_update_property (GTK_ACCESSIBLE (gtk_widget_get_last_child (overlay)),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, remove_name, -1);
  binding = g_object_bind_property (image, "thumbnail", picture, "paintable", G_BINDING_SYNC_CREATE);
  g_object_set_data (G_OBJECT (item), "clipscope-binding", binding);
}

static void
unbind_thumbnail_cb (GtkSignalListItemFactory *factory,
                     GtkListItem              *item,
                     ClipscopeWindow          *self)
{
  GBinding *binding = g_object_steal_data (G_OBJECT (item), "clipscope-binding");

  if (binding != NULL)
    g_binding_unbind (binding);
}

static void
preview_decoded_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GWeakRef) ref = user_data;
  g_autoptr(ClipscopeWindow) self = g_weak_ref_get (ref);
  g_autoptr(GdkTexture) texture = clipscope_thumbnail_texture_finish (result, NULL);
  GCancellable *cancellable = g_task_get_cancellable (G_TASK (result));

  /* The window may have closed meanwhile, or a newer selection replaced
   * the cancellable: then this preview is dropped. */
  if (self != NULL && texture != NULL && cancellable == self->preview_cancellable)
    gtk_picture_set_paintable (self->preview, GDK_PAINTABLE (texture));
}

/* The preview is decoded in the engine's decoder processes, at a size
 * fit for the panel and with its EXIF orientation applied, as the engine
 * sees it. */
static void
show_image (ClipscopeWindow *self,
            int              row)
{
  g_autoptr(ClipscopeImage) image = NULL;

  if (row >= 0)
    image = g_list_model_get_item (clipscope_session_get_images (self->session), row);
  clipscope_probability_view_set_row (self->probability_view, image != NULL ? row : -1);
  if (image == self->shown_image)
    return;
  g_set_object (&self->shown_image, image);
  clipscope_explain_panel_set_image (self->explain_panel, image);
  clipscope_template_contributions_set_image (self->template_contributions, image);
  g_cancellable_cancel (self->preview_cancellable);
  g_clear_object (&self->preview_cancellable);
  if (image == NULL)
    {
      gtk_picture_set_paintable (self->preview, NULL);
      gtk_label_set_label (self->preview_title, _("Select an image"));
      return;
    }
  gtk_picture_set_paintable (self->preview, GDK_PAINTABLE (clipscope_image_get_thumbnail (image)));
  gtk_label_set_label (self->preview_title, clipscope_image_get_name (image));
  self->preview_cancellable = g_cancellable_new ();
  /* Only a weak reference waits, so that closing the window does not
   * wait for a decode in flight. */
  clipscope_thumbnail_load_async (clipscope_image_get_path (image), 640, 640, NULL,
                                  self->preview_cancellable, preview_decoded_cb,
                                  clipscope_weak_ref_new (self));
}

static void
update_hint (ClipscopeWindow *self)
{
  guint n_images, n_labels;
  gboolean scored = clipscope_session_get_scores (self->session, &n_images, &n_labels, NULL, NULL);
  const char *hint = NULL;

  /* While a model loads, say so rather than ask for one. */
  if (scored)
    hint = NULL;
  else if (self->loading_model)
    hint = _("Loading the model…");
  else if (clipscope_session_get_model_path (self->session) == NULL)
    hint = _("Choose a model (the button at the top left) to score these images");
  else if (clipscope_session_get_busy (self->session))
    hint = _("Encoding…");
  else if (g_list_model_get_n_items (G_LIST_MODEL (clipscope_session_get_labels (self->session))) == 0)
    hint = _("Add labels to score these images against");
  gtk_label_set_label (self->heatmap_hint, hint != NULL ? hint : "");
  gtk_widget_set_visible (GTK_WIDGET (self->heatmap_hint), hint != NULL);
}

static void
heatmap_selected_cb (ClipscopeWindow *self)
{
  GtkSelectionModel *selection = GTK_SELECTION_MODEL (self->image_selection);
  int row = clipscope_heatmap_view_get_selected (self->heatmap);

  show_image (self, row);
  if (row >= 0 && !gtk_selection_model_is_selected (selection, row))
    gtk_selection_model_select_item (selection, row, TRUE);
}

/* The strip is one row that scrolls sideways: it brings the image the
 * heatmap selected into view, as the heatmap does with the strip's. */
static void
strip_follow_cb (ClipscopeWindow *self)
{
  int row = clipscope_heatmap_view_get_selected (self->heatmap);

  if (row >= 0)
    gtk_widget_activate_action (GTK_WIDGET (self->image_grid), "list.scroll-to-item", "u", (guint) row);
}

/* A click on a cell picks its label as well, for the template editor's
 * contributions; the heatmap itself selects the row. */
static void
heatmap_pressed_cb (GtkGestureClick *gesture,
                    int              n_press,
                    double           x,
                    double           y,
                    ClipscopeWindow *self)
{
  const char * const *scored = clipscope_session_get_scored_labels (self->session);
  int row, column;

  if (clipscope_heatmap_view_cell_at (self->heatmap, x, y, &row, &column) && column >= 0
      && scored != NULL && (guint) column < g_strv_length ((char **) scored))
    clipscope_template_contributions_select_label (self->template_contributions, scored[column]);
}

/* Enter on a cell (or a double click) explains it: the preview is
 * coloured by where in the image that label is. */
static void
heatmap_cell_activated_cb (ClipscopeWindow *self,
                           int              row,
                           int              column)
{
  const char * const *scored = clipscope_session_get_scored_labels (self->session);

  if (scored == NULL || column < 0 || (guint) column >= g_strv_length ((char **) scored))
    return;
  clipscope_heatmap_view_set_selected (self->heatmap, row);
  clipscope_explain_panel_select_label (self->explain_panel, scored[column]);
  /* In a narrow window the explanation is in the folded details pane. */
  adw_flap_set_reveal_flap (self->details_flap, TRUE);
  clipscope_template_contributions_select_label (self->template_contributions, scored[column]);
}

static void
copy_matrix_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  ClipscopeWindow *self = CLIPSCOPE_WINDOW (widget);
  g_autofree char *text = clipscope_heatmap_view_dup_matrix_text (self->heatmap);

  if (text != NULL)
    gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), text);
}

/* F9, as in other GNOME applications: show or hide the labels and
 * templates (over the matrix, in a narrow window). */
static void
toggle_sidebar_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  AdwFlap *flap = CLIPSCOPE_WINDOW (widget)->sidebar_flap;

  adw_flap_set_reveal_flap (flap, !adw_flap_get_reveal_flap (flap));
}

/* F6 goes straight to the matrix, past a long strip of thumbnails. */
static void
focus_heatmap_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  gtk_widget_grab_focus (GTK_WIDGET (CLIPSCOPE_WINDOW (widget)->heatmap));
}

static void
grid_selection_changed_cb (ClipscopeWindow *self)
{
  g_autoptr(GtkBitset) selected = gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->image_selection));

  /* A click selects one image, which the heatmap and the panel follow;
   * a wider selection is only for Delete. */
  if (gtk_bitset_get_size (selected) == 1)
    clipscope_heatmap_view_set_selected (self->heatmap, gtk_bitset_get_minimum (selected));
}

static void
images_changed_cb (ClipscopeWindow *self)
{
  guint n = g_list_model_get_n_items (clipscope_session_get_images (self->session));
  int row = clipscope_heatmap_view_get_selected (self->heatmap);

  gtk_stack_set_visible_child_name (self->content_stack, n > 0 ? "results" : "empty");

  /* What works on the images cannot run without any. */
  for (const char * const *a = (const char * const[]) { "win.export", "win.export-to", "win.sort",
                                                         "win.copy-matrix", "win.remove-selected", NULL };
       *a != NULL; a++)
    gtk_widget_action_set_enabled (GTK_WIDGET (self), *a, n > 0);

  /* Keep something selected so the probability panel is never empty. */
  if (n == 0)
    row = -1;
  else if (row < 0 || (guint) row >= n)
    row = MIN ((guint) MAX (row, 0), n - 1);
  clipscope_heatmap_view_set_selected (self->heatmap, row);
  show_image (self, row);
}

/* The bar counts what it waits for: "Encoding labels… 640/1600" while a
 * large label job goes in chunks (it comes first: the matrix waits for
 * it), the images of a batch otherwise. */
static void
busy_changed_cb (ClipscopeWindow *self)
{
  guint images_done, images_total, texts_done, texts_total;
  g_autofree char *text = NULL;
  double fraction = 0.0;
  gboolean encoding;

  clipscope_session_get_progress_counts (self->session, &images_done, &images_total,
                                         &texts_done, &texts_total);
  /* A batch of images shows once one is done, so that a single dropped
   * image does not flash the bar; a label job in chunks is long at once. */
  encoding = clipscope_session_get_busy (self->session) && (texts_total > 0 || images_done > 0);
  if (texts_total > 0)
    {
      /* Translators: (template, label) texts encoded, of all */
      text = g_strdup_printf (_("Encoding labels… %u/%u"), texts_done, texts_total);
      fraction = (double) texts_done / texts_total;
    }
  else if (images_total > 0)
    {
      text = g_strdup_printf (_("Encoding images… %u/%u"), images_done, images_total);
      fraction = (double) images_done / images_total;
    }
  gtk_revealer_set_reveal_child (self->progress_revealer, encoding);
  /* What the bar said stays while it slides away. */
  if (!encoding)
    return;
  gtk_progress_bar_set_fraction (self->progress_bar, fraction);
  gtk_progress_bar_set_text (self->progress_bar, text);
}

static void
notice_cb (ClipscopeWindow *self,
           const char      *message)
{
  clipscope_window_add_toast (self, message);
}

/* Lists each image that could not be read, with the decoder's reason. */
void
clipscope_window_show_image_failures (ClipscopeWindow    *self,
                                      const char * const *reasons)
{
  g_autofree char *body = g_strjoinv ("\n", (char **) reasons);
  GtkWidget *alert = clipscope_alert_new (ngettext ("This Image Could Not Be Read",
                                                    "These Images Could Not Be Read",
                                                    g_strv_length ((char **) reasons)),
                                          body);

  clipscope_alert_add_response (alert, "close", _("_Close"), ADW_RESPONSE_DEFAULT);
  clipscope_dialog_present (alert, GTK_WIDGET (self));
}

static void
failures_details_cb (AdwToast        *toast,
                     ClipscopeWindow *self)
{
  clipscope_window_show_image_failures (self, g_object_get_data (G_OBJECT (toast), "reasons"));
}

/* The images that failed are left out and the rest scored; the toast
 * names them and its Details button says why each failed. */
static void
images_failed_cb (ClipscopeWindow    *self,
                  const char         *summary,
                  const char * const *reasons)
{
  AdwToast *toast = adw_toast_new (summary);

  adw_toast_set_timeout (toast, 10);
  adw_toast_set_button_label (toast, _("_Details"));
  g_object_set_data_full (G_OBJECT (toast), "reasons", g_strdupv ((char **) reasons),
                          (GDestroyNotify) g_strfreev);
  g_signal_connect_object (toast, "button-clicked", G_CALLBACK (failures_details_cb), self, 0);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

/* ------------------------------------------------------------ labels */

static void
label_entry_activate_cb (ClipscopeWindow *self)
{
  clipscope_session_add_label (self->session, gtk_editable_get_text (GTK_EDITABLE (self->label_entry)));
  gtk_editable_set_text (GTK_EDITABLE (self->label_entry), "");
}

/* A pasted list, one label a line, is split at once; commas stay in the
 * label ("a red, shiny apple"). */
static void
label_entry_changed_cb (ClipscopeWindow *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->label_entry));

  if (strpbrk (text, "\n\r") != NULL)
    {
      g_autofree char *list = g_strdup (text);

      gtk_editable_set_text (GTK_EDITABLE (self->label_entry), "");
      clipscope_session_add_labels_text (self->session, list);
    }
}

static void
label_committed_cb (ClipscopeTextRow *row,
                    const char       *text,
                    ClipscopeWindow  *self)
{
  int index = gtk_list_box_row_get_index (GTK_LIST_BOX_ROW (row));

  if (index >= 0)
    clipscope_session_set_label (self->session, index, text);
}

static void
label_remove_cb (ClipscopeTextRow *row,
                 ClipscopeWindow  *self)
{
  int index = gtk_list_box_row_get_index (GTK_LIST_BOX_ROW (row));
  g_autofree char *message = g_strdup_printf (_("Label “%s” removed"), clipscope_text_row_get_text (row));

  if (index < 0)
    return;
  _clipscope_window_save_undo (self, CLIPSCOPE_UNDO_LABELS, message);
  gtk_string_list_remove (clipscope_session_get_labels (self->session), index);
}

static GtkWidget *
create_label_row_cb (gpointer item,
                     gpointer user_data)
{
  GtkWidget *row = clipscope_text_row_new (gtk_string_object_get_string (item), FALSE);

  g_signal_connect (row, "committed", G_CALLBACK (label_committed_cb), user_data);
  g_signal_connect (row, "remove", G_CALLBACK (label_remove_cb), user_data);
  _clipscope_window_setup_label_row (user_data, CLIPSCOPE_TEXT_ROW (row));
  return row;
}

/* Lists from the command line are for this run, until the person edits
 * them in the window: from then on what they see is what is saved. */
static void
resume_saving (ClipscopeWindow *self)
{
  if (self->applying_arguments || self->save_lists || !self->lists_from_arguments)
    return;
  self->save_lists = TRUE;
  save_labels (self);
  save_templates (self);
}

static void
labels_changed_cb (ClipscopeWindow *self)
{
  resume_saving (self);
  save_labels (self);
}

static void
label_preset_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  ClipscopeWindow *self = CLIPSCOPE_WINDOW (widget);
  g_autofree char *name = g_strdup_printf ("labels/%s.txt", g_variant_get_string (parameter, NULL));
  g_auto(GStrv) labels = load_resource_list (name);

  for (char **l = labels; *l != NULL; l++)
    clipscope_session_add_label (self->session, *l);
}

static void
add_labels_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  clipscope_session_add_labels_text (CLIPSCOPE_WINDOW (widget)->session,
                                     g_variant_get_string (parameter, NULL));
}

static void
clear_labels_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  ClipscopeWindow *self = CLIPSCOPE_WINDOW (widget);
  GtkStringList *labels = clipscope_session_get_labels (self->session);

  if (g_list_model_get_n_items (G_LIST_MODEL (labels)) == 0)
    return;
  _clipscope_window_save_undo (self, CLIPSCOPE_UNDO_LABELS, _("Labels cleared"));
  gtk_string_list_splice (labels, 0, g_list_model_get_n_items (G_LIST_MODEL (labels)), NULL);
}

static void
labels_file_loaded_cb (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(ClipscopeWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_auto(GStrv) labels = NULL;
  gsize length;

  if (!g_file_load_contents_finish (G_FILE (object), result, &contents, &length, NULL, &error))
    {
      clipscope_window_add_toast (self, error->message);
      return;
    }
  if (!g_utf8_validate (contents, length, NULL))
    {
      clipscope_window_add_toast (self, _("The labels file is not UTF-8 text"));
      return;
    }
  labels = parse_list (contents);
  for (char **l = labels; *l != NULL; l++)
    clipscope_session_add_label (self->session, *l);
}

static void
labels_file_chosen_cb (gpointer       owner,
                       GListModel    *files,
                       GtkFileFilter *filter,
                       gpointer       user_data)
{
  g_autoptr(GFile) file = g_list_model_get_item (files, 0);

  g_file_load_contents_async (file, NULL, labels_file_loaded_cb, g_object_ref (owner));
}

static void
import_labels_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  g_autoptr(GListStore) filters = g_list_store_new (GTK_TYPE_FILE_FILTER);
  g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _("Text files"));
  gtk_file_filter_add_mime_type (filter, "text/plain");
  g_list_store_append (filters, filter);
  clipscope_choose_files (widget, CLIPSCOPE_CHOOSE_FILE, _("Import Labels"), _("_Import"), G_LIST_MODEL (filters),
                          NULL, labels_file_chosen_cb, widget, NULL, NULL);
}

/* ------------------------------------------------------------ templates */

static void
template_entry_activate_cb (ClipscopeWindow *self)
{
  g_autofree char *text = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->template_entry))));

  if (*text == '\0')
    return;
  if (!clipscope_template_is_valid (text))
    {
      clipscope_window_add_toast (self, _("A template needs exactly one {} where the label goes"));
      gtk_widget_add_css_class (GTK_WIDGET (self->template_entry), "error");
      return;
    }
  gtk_widget_remove_css_class (GTK_WIDGET (self->template_entry), "error");
  clipscope_session_add_template (self->session, text, TRUE);
  gtk_editable_set_text (GTK_EDITABLE (self->template_entry), "");
}

static void
template_remove_cb (ClipscopeTextRow *row,
                    ClipscopeWindow  *self)
{
  int index = gtk_list_box_row_get_index (GTK_LIST_BOX_ROW (row));

  if (index < 0)
    return;
  _clipscope_window_save_undo (self, CLIPSCOPE_UNDO_TEMPLATES, _("Template removed"));
  clipscope_session_remove_template (self->session, index);
}

static GtkWidget *
create_template_row_cb (gpointer item,
                        gpointer user_data)
{
  GtkWidget *row = clipscope_text_row_new (NULL, TRUE);

  /* Edits go straight into the template, which re-scores as one types. */
  g_object_bind_property (item, "text", row, "text", G_BINDING_SYNC_CREATE | G_BINDING_BIDIRECTIONAL);
  g_object_bind_property (item, "enabled", row, "active", G_BINDING_SYNC_CREATE | G_BINDING_BIDIRECTIONAL);
  g_object_bind_property (item, "valid", row, "valid", G_BINDING_SYNC_CREATE);
  g_signal_connect (row, "remove", G_CALLBACK (template_remove_cb), user_data);
  return row;
}

static void
templates_changed_cb (ClipscopeWindow *self)
{
  GListModel *templates = clipscope_session_get_templates (self->session);

  for (guint i = 0; i < g_list_model_get_n_items (templates); i++)
    {
      g_autoptr(ClipscopeTemplate) t = g_list_model_get_item (templates, i);

      /* Connect once per template, however often the list changes. */
      if (g_object_get_data (G_OBJECT (t), "clipscope-saved") == self)
        continue;
      g_object_set_data (G_OBJECT (t), "clipscope-saved", self);
      g_signal_connect_object (t, "notify", G_CALLBACK (resume_saving), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (t, "notify", G_CALLBACK (save_templates), self, G_CONNECT_SWAPPED);
    }
  resume_saving (self);
  save_templates (self);
}

static void
template_preset_action (GtkWidget  *widget,
                        const char *action_name,
                        GVariant   *parameter)
{
  ClipscopeWindow *self = CLIPSCOPE_WINDOW (widget);
  const char *name = g_variant_get_string (parameter, NULL);
  g_auto(GStrv) templates = clipscope_template_preset_get (name);

  if (templates == NULL)
    return;
  _clipscope_window_save_undo (self, CLIPSCOPE_UNDO_TEMPLATES, _("Templates replaced"));
  clipscope_session_clear_templates (self->session);
  for (char **t = templates; *t != NULL; t++)
    clipscope_session_add_template (self->session, *t, TRUE);
}

static void
add_template_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  clipscope_session_add_template (CLIPSCOPE_WINDOW (widget)->session,
                                  g_variant_get_string (parameter, NULL), TRUE);
}

static void
show_page_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  ClipscopeWindow *self = CLIPSCOPE_WINDOW (widget);
  const char *name = g_variant_get_string (parameter, NULL);

  if (gtk_stack_get_child_by_name (self->sidebar_stack, name) != NULL)
    gtk_stack_set_visible_child_name (self->sidebar_stack, name);
}

static void
clear_templates_action (GtkWidget  *widget,
                        const char *action_name,
                        GVariant   *parameter)
{
  ClipscopeWindow *self = CLIPSCOPE_WINDOW (widget);

  if (g_list_model_get_n_items (clipscope_session_get_templates (self->session)) == 0)
    return;
  _clipscope_window_save_undo (self, CLIPSCOPE_UNDO_TEMPLATES, _("Templates cleared"));
  clipscope_session_clear_templates (self->session);
}

/* ------------------------------------------------------------ export */

/* GtkFileDialog does not say which file type was chosen (@filter is NULL
 * then): the name's own suffix says it, CSV when it has none. */
static void
export_chosen_cb (gpointer       owner,
                  GListModel    *files,
                  GtkFileFilter *filter,
                  gpointer       user_data)
{
  ClipscopeWindow *self = owner;
  g_autoptr(GFile) file = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = clipscope_files_dup_first_path (files);
  const char *suffix = filter != NULL ? g_object_get_data (G_OBJECT (filter), "clipscope-suffix") : NULL;

  /* The chosen file type holds unless the name already says one. */
  if (path != NULL && !g_str_has_suffix (path, ".csv")
      && !g_str_has_suffix (path, ".json") && !g_str_has_suffix (path, ".png"))
    {
      g_autofree char *named = g_strconcat (path, suffix != NULL ? suffix : ".csv", NULL);

      g_free (path);
      path = g_steal_pointer (&named);
    }
  else if (path != NULL && suffix != NULL && !g_str_has_suffix (path, suffix))
    {
      g_autofree char *stem = g_strndup (path, strrchr (path, '.') - path);

      g_free (path);
      path = g_strconcat (stem, suffix, NULL);
    }
  if (path == NULL)
    return;
  file = g_file_new_for_path (path);

  if (clipscope_export_to_file (self->session, GTK_WIDGET (self->heatmap), path, &error))
    {
      g_autofree char *name = g_file_get_basename (file);
      g_autofree char *message = g_strdup_printf (_("Exported %s"), name);

      clipscope_window_add_toast (self, message);
    }
  else
    clipscope_window_add_toast (self, error->message);
}

static void
export_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  static const struct { const char *name, *pattern; } formats[] = {
    { N_("CSV matrix"), "*.csv" }, { N_("JSON matrix"), "*.json" }, { N_("PNG heatmap"), "*.png" },
  };
  g_autoptr(GListStore) filters = g_list_store_new (GTK_TYPE_FILE_FILTER);

  for (guint i = 0; i < G_N_ELEMENTS (formats); i++)
    {
      g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();

      gtk_file_filter_set_name (filter, _(formats[i].name));
      gtk_file_filter_add_pattern (filter, formats[i].pattern);
      g_object_set_data (G_OBJECT (filter), "clipscope-suffix", (gpointer) (formats[i].pattern + 1));
      g_list_store_append (filters, filter);
    }
  clipscope_choose_files (widget, CLIPSCOPE_CHOOSE_SAVE, _("Export"), _("_Export"), G_LIST_MODEL (filters),
                          "clipscope-scores.csv", export_chosen_cb, widget, NULL, NULL);
}

static void
sort_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  _clipscope_window_sort (CLIPSCOPE_WINDOW (widget));
}

/* "Compare With Model…" opens the comparison on its model chooser;
 * "win.compare-with" opens it on a given model folder. */
static void
compare_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  ClipscopeWindow *self = CLIPSCOPE_WINDOW (widget);
  ClipscopeCompareWindow *compare = clipscope_compare_window_open (GTK_WINDOW (self), self->session);

  if (parameter != NULL)
    clipscope_compare_window_load_model (compare, g_variant_get_string (parameter, NULL));
}

static void
export_to_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  ClipscopeWindow *self = CLIPSCOPE_WINDOW (widget);
  g_autoptr(GError) error = NULL;

  if (!clipscope_export_to_file (self->session, GTK_WIDGET (self->heatmap),
                                 g_variant_get_string (parameter, NULL), &error))
    clipscope_window_add_toast (self, error->message);
}

/**
 * clipscope_window_show_search:
 * @query: (nullable): words to search the indexed folders for
 *
 * Shows the Search view, searching for @query.
 */
void
clipscope_window_show_search (ClipscopeWindow *self,
                              const char      *query)
{
  g_return_if_fail (CLIPSCOPE_IS_WINDOW (self));

  adw_view_stack_set_visible_child_name (self->view_stack, "search");
  if (query != NULL)
    clipscope_search_view_set_query (self->search_view, query);
}

/** clipscope_window_get_search_view: Returns: (transfer none): the Search view */
GtkWidget *
clipscope_window_get_search_view (ClipscopeWindow *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_WINDOW (self), NULL);
  return GTK_WIDGET (self->search_view);
}

/* ------------------------------------------------------------ screenshot */

/**
 * clipscope_window_save_screenshot:
 *
 * Renders the window as it is now into a PNG at @path.
 */
gboolean
clipscope_window_save_screenshot (ClipscopeWindow  *self,
                                  const char       *path,
                                  GError          **error)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (GTK_WIDGET (self));
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  int width = gtk_widget_get_width (GTK_WIDGET (self));
  int height = gtk_widget_get_height (GTK_WIDGET (self));
  GskRenderer *renderer = gtk_native_get_renderer (GTK_NATIVE (self));
  int scale = gtk_widget_get_scale_factor (GTK_WIDGET (self));

  /* Rendered at the screen's scale, so a HiDPI shot shows what the
   * screen shows instead of a blurred quarter of it. */
  gtk_snapshot_scale (snapshot, scale, scale);
  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  node = gtk_snapshot_to_node (snapshot);
  if (node == NULL || renderer == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the window has not been drawn yet");
      return FALSE;
    }
  texture = gsk_renderer_render_texture (renderer, node,
                                         &GRAPHENE_RECT_INIT (0, 0, width * scale, height * scale));
  if (!gdk_texture_save_to_png (texture, path))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "could not write %s", path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
thumbnails_ready (ClipscopeWindow *self)
{
  GListModel *images = clipscope_session_get_images (self->session);

  for (guint i = 0; i < g_list_model_get_n_items (images); i++)
    {
      g_autoptr(ClipscopeImage) image = g_list_model_get_item (images, i);

      if (clipscope_image_get_thumbnail (image) == NULL)
        return FALSE;
    }
  return TRUE;
}

static gboolean
screenshot_cb (gpointer user_data)
{
  ClipscopeWindow *self = user_data;
  g_autoptr(GError) error = NULL;
  GApplication *app;

  /* Wait until the worker is idle and the thumbnails are in, or give up
   * waiting for thumbnails after a few seconds (a file may not decode). */
  if (clipscope_session_get_busy (self->session) || !gtk_widget_get_mapped (GTK_WIDGET (self))
      || clipscope_explain_panel_get_busy (self->explain_panel)
      || (!thumbnails_ready (self) && self->screenshot_tries++ < 50))
    return G_SOURCE_CONTINUE;

  /* The first frame may still be on its way on a slow machine. */
  if (!clipscope_window_save_screenshot (self, self->screenshot_path, &error)
      && self->screenshot_tries++ < 100)
    return G_SOURCE_CONTINUE;

  self->screenshot_id = 0;
  if (error != NULL)
    g_printerr ("clipscope-gui: error: %s\n", error->message);
  app = G_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
  if (app != NULL)
    g_application_quit (app);
  return G_SOURCE_REMOVE;
}

/**
 * clipscope_window_take_screenshot:
 *
 * Once every job has finished and the window has been drawn with the
 * results, saves it to @path and quits the application. For tests and
 * documentation.
 */
void
clipscope_window_take_screenshot (ClipscopeWindow *self,
                                  const char      *path)
{
  g_return_if_fail (CLIPSCOPE_IS_WINDOW (self));

  g_free (self->screenshot_path);
  self->screenshot_path = g_strdup (path);
  g_clear_handle_id (&self->screenshot_id, g_source_remove);
  g_clear_handle_id (&self->layout_id, g_source_remove);
  /* Polled rather than tied to ::notify::busy, so the frames that draw
   * the last result have happened by the time it is taken. */
  self->screenshot_id = g_timeout_add (250, screenshot_cb, self);
}

/* ------------------------------------------------------------ GObject */

static gboolean
clipscope_window_close_request (GtkWindow *window)
{
  ClipscopeWindow *self = CLIPSCOPE_WINDOW (window);
  int width, height;

  gtk_window_get_default_size (window, &width, &height);
  g_settings_set_int (self->settings, "window-width", width);
  g_settings_set_int (self->settings, "window-height", height);
  g_settings_set_boolean (self->settings, "window-maximized", gtk_window_is_maximized (window));
  return GTK_WINDOW_CLASS (clipscope_window_parent_class)->close_request (window);
}

static void
clipscope_window_dispose (GObject *object)
{
  ClipscopeWindow *self = CLIPSCOPE_WINDOW (object);

  g_clear_handle_id (&self->screenshot_id, g_source_remove);
  g_clear_handle_id (&self->layout_id, g_source_remove);
  if (self->session != NULL)
    clipscope_session_disconnect_by_data (self->session, self);
  gtk_widget_dispose_template (GTK_WIDGET (self), CLIPSCOPE_TYPE_WINDOW);
  g_cancellable_cancel (self->preview_cancellable);
  g_clear_object (&self->preview_cancellable);
  g_clear_object (&self->shown_image);
  if (self->image_selection != NULL)
    g_signal_handlers_disconnect_by_data (self->image_selection, self);
  g_clear_object (&self->image_selection);
  g_clear_object (&self->drop_target);
  g_clear_object (&self->session);
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_clear_object (&self->settings);
  _clipscope_window_undo_dispose (self);
  G_OBJECT_CLASS (clipscope_window_parent_class)->dispose (object);
}

static void
clipscope_window_finalize (GObject *object)
{
  ClipscopeWindow *self = CLIPSCOPE_WINDOW (object);

  g_free (self->screenshot_path);
  G_OBJECT_CLASS (clipscope_window_parent_class)->finalize (object);
}

/* Smaller thumbnails in a narrow window; the strip is one row of them
 * high, with room for their margins. The grid makes its cells anew, at
 * the new size, when its factory is set again. */
static void
set_compact_strip (ClipscopeWindow *self,
                   gboolean         compact)
{
  const int height = compact ? 80 : 104;
  g_autoptr(GtkListItemFactory) factory = NULL;

  if (compact == self->compact_strip)
    return;
  self->compact_strip = compact;
  factory = g_object_ref (gtk_grid_view_get_factory (self->image_grid));
  gtk_grid_view_set_factory (self->image_grid, NULL);
  gtk_grid_view_set_factory (self->image_grid, factory);
  /* The maximum first when it grows, as it may never be below the minimum. */
  if (height > gtk_scrolled_window_get_max_content_height (self->thumbnail_strip))
    gtk_scrolled_window_set_max_content_height (self->thumbnail_strip, height);
  gtk_scrolled_window_set_min_content_height (self->thumbnail_strip, height);
  gtk_scrolled_window_set_max_content_height (self->thumbnail_strip, height);
}

#if CLIPSCOPE_HAVE_BREAKPOINTS

static void
compact_strip_cb (AdwBreakpoint   *breakpoint,
                  ClipscopeWindow *self)
{
  set_compact_strip (self, TRUE);
}

static void
wide_strip_cb (AdwBreakpoint   *breakpoint,
               ClipscopeWindow *self)
{
  set_compact_strip (self, FALSE);
}

/* The details pane folds below DETAILS_FOLD_WIDTH, the thumbnails shrink
 * below COMPACT_STRIP_WIDTH. */
static void
add_breakpoints (ClipscopeWindow *self)
{
  AdwBreakpoint *fold = adw_breakpoint_new (adw_breakpoint_condition_new_length (
    ADW_BREAKPOINT_CONDITION_MAX_WIDTH, DETAILS_FOLD_WIDTH - 1, ADW_LENGTH_UNIT_PX));
  AdwBreakpoint *compact = adw_breakpoint_new (adw_breakpoint_condition_new_length (
    ADW_BREAKPOINT_CONDITION_MAX_WIDTH, COMPACT_STRIP_WIDTH - 1, ADW_LENGTH_UNIT_PX));
  g_auto(GValue) always = G_VALUE_INIT;

  g_value_init (&always, ADW_TYPE_FLAP_FOLD_POLICY);
  g_value_set_enum (&always, ADW_FLAP_FOLD_POLICY_ALWAYS);
  adw_breakpoint_add_setter (fold, G_OBJECT (self->details_flap), "fold-policy", &always);
  adw_application_window_add_breakpoint (ADW_APPLICATION_WINDOW (self), fold);

  g_signal_connect (compact, "apply", G_CALLBACK (compact_strip_cb), self);
  g_signal_connect (compact, "unapply", G_CALLBACK (wide_strip_cb), self);
  adw_application_window_add_breakpoint (ADW_APPLICATION_WINDOW (self), compact);
}

#else

/* Libadwaita 1.2 has no breakpoints: the window's own width, as it is
 * allocated, decides whether the details pane folds. The change waits
 * for an idle, as a layout must not change while it is being allocated. */
static gboolean
apply_layout_cb (gpointer user_data)
{
  ClipscopeWindow *self = user_data;

  self->layout_id = 0;
  adw_flap_set_fold_policy (self->details_flap, self->layout_width < DETAILS_FOLD_WIDTH
                                                ? ADW_FLAP_FOLD_POLICY_ALWAYS : ADW_FLAP_FOLD_POLICY_AUTO);
  set_compact_strip (self, self->layout_width < COMPACT_STRIP_WIDTH);
  return G_SOURCE_REMOVE;
}

static void
clipscope_window_size_allocate (GtkWidget *widget,
                                int        width,
                                int        height,
                                int        baseline)
{
  ClipscopeWindow *self = CLIPSCOPE_WINDOW (widget);
  gboolean narrow = width < DETAILS_FOLD_WIDTH;
  gboolean compact = width < COMPACT_STRIP_WIDTH;

  GTK_WIDGET_CLASS (clipscope_window_parent_class)->size_allocate (widget, width, height, baseline);
  self->layout_width = width;
  if ((narrow != (adw_flap_get_fold_policy (self->details_flap) == ADW_FLAP_FOLD_POLICY_ALWAYS)
       || compact != self->compact_strip)
      && self->layout_id == 0)
    self->layout_id = g_idle_add (apply_layout_cb, self);
}

#endif

static void
scale_changed_cb (ClipscopeWindow *self)
{
  clipscope_heatmap_view_set_fixed_scale (self->heatmap, g_settings_get_boolean (self->settings, "fixed-scale"),
                                          g_settings_get_double (self->settings, "scale-low"),
                                          g_settings_get_double (self->settings, "scale-high"));
}

static void
apply_precision (ClipscopeWindow *self)
{
  g_autofree char *precision = g_settings_get_string (self->settings, "precision");
  ClipscopePrecision chosen = CLIPSCOPE_PRECISION_F32;

  if (g_strcmp0 (precision, "bf16") == 0)
    chosen = CLIPSCOPE_PRECISION_BF16;
  /* int8 fails to load where it cannot run, rather than use float32: the
   * window, whose key may come from another computer, loads float32. */
  else if (g_strcmp0 (precision, "int8") == 0 && clipscope_precision_available (CLIPSCOPE_PRECISION_INT8))
    chosen = CLIPSCOPE_PRECISION_INT8;
  clipscope_session_set_precision (self->session, chosen);
}

/* The precision is the context's: the model in use is loaded again. */
static void
precision_changed_cb (ClipscopeWindow *self)
{
  const char *path = clipscope_session_get_model_path (self->session);

  apply_precision (self);
  if (path != NULL)
    {
      g_autofree char *dir = g_strdup (path);

      clipscope_window_load_model (self, dir);
    }
}

static void
clipscope_window_class_init (ClipscopeWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = clipscope_window_dispose;
#if !CLIPSCOPE_HAVE_BREAKPOINTS
  widget_class->size_allocate = clipscope_window_size_allocate;
#endif
  object_class->finalize = clipscope_window_finalize;
  window_class->close_request = clipscope_window_close_request;

  g_type_ensure (CLIPSCOPE_TYPE_HEATMAP_VIEW);
  g_type_ensure (CLIPSCOPE_TYPE_PROBABILITY_VIEW);
  g_type_ensure (CLIPSCOPE_TYPE_EXPLAIN_OVERLAY);
  g_type_ensure (CLIPSCOPE_TYPE_EXPLAIN_PANEL);
  g_type_ensure (CLIPSCOPE_TYPE_TEMPLATE_CONTRIBUTIONS);
  g_type_ensure (CLIPSCOPE_TYPE_SEARCH_VIEW);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/clipscope/Clipscope/clipscope-window.ui");
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, window_title);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, model_button);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, progress_revealer);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, content_stack);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, image_grid);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, thumbnail_strip);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, sidebar_flap);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, details_flap);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, heatmap);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, probability_view);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, probability_caption);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, preview);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, preview_title);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, explain_overlay);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, explain_panel);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, probability_switch);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, label_entry);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, label_list);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, template_entry);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, template_list);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, template_contributions);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, sidebar_stack);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, heatmap_hint);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, classifier_button);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, probe_check);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, classifier_hint);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, weight_scale);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, threshold_check);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, threshold_spin);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, view_stack);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeWindow, search_view);
  gtk_widget_class_bind_template_callback (widget_class, label_entry_activate_cb);
  gtk_widget_class_bind_template_callback (widget_class, label_entry_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, template_entry_activate_cb);
  gtk_widget_class_bind_template_callback (widget_class, heatmap_selected_cb);

  gtk_widget_class_install_action (widget_class, "win.add-images", NULL, add_images_action);
  gtk_widget_class_install_action (widget_class, "win.paste", NULL, paste_action);
  gtk_widget_class_install_action (widget_class, "win.remove-selected", NULL, remove_selected_action);
  gtk_widget_class_install_action (widget_class, "win.cancel", NULL, cancel_action);
  gtk_widget_class_install_action (widget_class, "win.select-image", "i", select_image_action);
  gtk_widget_class_install_action (widget_class, "win.open-model", NULL, open_model_action);
  gtk_widget_class_install_action (widget_class, "win.load-model", "s", load_model_action);
  gtk_widget_class_install_action (widget_class, "win.manage-models", NULL, manage_models_action);
  gtk_widget_class_install_action (widget_class, "win.add-labels", "s", add_labels_action);
  gtk_widget_class_install_action (widget_class, "win.clear-labels", NULL, clear_labels_action);
  gtk_widget_class_install_action (widget_class, "win.label-preset", "s", label_preset_action);
  gtk_widget_class_install_action (widget_class, "win.import-labels", NULL, import_labels_action);
  gtk_widget_class_install_action (widget_class, "win.add-template", "s", add_template_action);
  gtk_widget_class_install_action (widget_class, "win.clear-templates", NULL, clear_templates_action);
  gtk_widget_class_install_action (widget_class, "win.template-preset", "s", template_preset_action);
  gtk_widget_class_install_action (widget_class, "win.show-page", "s", show_page_action);
  gtk_widget_class_install_action (widget_class, "win.export", NULL, export_action);
  gtk_widget_class_install_action (widget_class, "win.export-to", "s", export_to_action);
  gtk_widget_class_install_action (widget_class, "win.sort", NULL, sort_action);
  gtk_widget_class_install_action (widget_class, "win.copy-matrix", NULL, copy_matrix_action);
  gtk_widget_class_install_action (widget_class, "win.toggle-sidebar", NULL, toggle_sidebar_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_F9, 0, "win.toggle-sidebar", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_w, GDK_CONTROL_MASK, "window.close", NULL);
  gtk_widget_class_install_action (widget_class, "win.focus-heatmap", NULL, focus_heatmap_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_F6, 0, "win.focus-heatmap", NULL);
  _clipscope_window_undo_class_init (widget_class);
  gtk_widget_class_install_action (widget_class, "win.compare", NULL, compare_action);
  gtk_widget_class_install_action (widget_class, "win.compare-with", "s", compare_action);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_o, GDK_CONTROL_MASK, "win.add-images", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_v, GDK_CONTROL_MASK, "win.paste", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Delete, 0, "win.remove-selected", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "win.cancel", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_m, GDK_CONTROL_MASK, "win.open-model", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_e, GDK_CONTROL_MASK, "win.export", NULL);
}

static void
bind_session (ClipscopeWindow *self)
{
  g_autoptr(GtkListItemFactory) factory = NULL;
  GtkGesture *click;

  clipscope_heatmap_view_set_session (self->heatmap, self->session);
  clipscope_probability_view_set_session (self->probability_view, self->session);
  clipscope_explain_panel_set_overlay (self->explain_panel, self->explain_overlay);
  clipscope_explain_panel_set_session (self->explain_panel, self->session);
  clipscope_template_contributions_set_session (self->template_contributions, self->session);
  click = gtk_gesture_click_new ();
  g_signal_connect (click, "pressed", G_CALLBACK (heatmap_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->heatmap), GTK_EVENT_CONTROLLER (click));
  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (setup_thumbnail_cb), self);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_thumbnail_cb), self);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_thumbnail_cb), self);
  self->image_selection = gtk_multi_selection_new (g_object_ref (clipscope_session_get_images (self->session)));
  g_signal_connect_swapped (self->image_selection, "selection-changed",
                            G_CALLBACK (grid_selection_changed_cb), self);
  gtk_grid_view_set_factory (self->image_grid, factory);
  gtk_grid_view_set_model (self->image_grid, GTK_SELECTION_MODEL (self->image_selection));
  gtk_list_box_bind_model (self->label_list, G_LIST_MODEL (clipscope_session_get_labels (self->session)),
                           create_label_row_cb, self, NULL);
  gtk_list_box_bind_model (self->template_list, clipscope_session_get_templates (self->session),
                           create_template_row_cb, self, NULL);

  g_signal_connect_swapped (self->session, "notify::model-path", G_CALLBACK (update_title), self);
  g_signal_connect_swapped (self->session, "notify::model-path", G_CALLBACK (model_loaded_cb), self);
  g_signal_connect_swapped (self->session, "notify::busy", G_CALLBACK (busy_changed_cb), self);
  g_signal_connect_swapped (self->session, "notify::progress", G_CALLBACK (busy_changed_cb), self);
  g_signal_connect_swapped (self->session, "model-failed", G_CALLBACK (model_failed_cb), self);
  g_signal_connect_swapped (self->session, "notice", G_CALLBACK (notice_cb), self);
  g_signal_connect_swapped (self->session, "images-failed", G_CALLBACK (images_failed_cb), self);
  g_signal_connect_swapped (self->session, "scores-changed", G_CALLBACK (heatmap_selected_cb), self);
  g_signal_connect_swapped (self->heatmap, "cell-activated", G_CALLBACK (heatmap_cell_activated_cb), self);
  g_signal_connect_swapped (self->heatmap, "notify::selected", G_CALLBACK (strip_follow_cb), self);
  g_signal_connect_swapped (self->session, "scores-changed", G_CALLBACK (update_hint), self);
  g_signal_connect_swapped (self->session, "scores-changed", G_CALLBACK (update_scoring_note), self);
  g_signal_connect_swapped (self->session, "notify::busy", G_CALLBACK (update_hint), self);
  g_signal_connect_swapped (clipscope_session_get_images (self->session), "items-changed",
                            G_CALLBACK (images_changed_cb), self);
  g_signal_connect_swapped (clipscope_session_get_labels (self->session), "items-changed",
                            G_CALLBACK (labels_changed_cb), self);
  g_signal_connect_swapped (clipscope_session_get_templates (self->session), "items-changed",
                            G_CALLBACK (templates_changed_cb), self);
}

static void
clipscope_window_init (ClipscopeWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->settings = clipscope_settings_new ();
  self->session = clipscope_session_new ();
  bind_session (self);
  clipscope_search_view_set_session (self->search_view, self->session);

  gtk_window_set_default_size (GTK_WINDOW (self),
                               g_settings_get_int (self->settings, "window-width"),
                               g_settings_get_int (self->settings, "window-height"));
#if CLIPSCOPE_HAVE_BREAKPOINTS
  add_breakpoints (self);
#else
  /* Start folded at once in a narrow window, without a first frame that
   * unfolds the details only to fold them again. */
  if (g_settings_get_int (self->settings, "window-width") < DETAILS_FOLD_WIDTH)
    adw_flap_set_fold_policy (self->details_flap, ADW_FLAP_FOLD_POLICY_ALWAYS);
#endif
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));

  g_settings_bind (self->settings, "show-probabilities", self->probability_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "show-probabilities", self->heatmap, "show-probabilities",
                   G_SETTINGS_BIND_GET);
  g_settings_bind (self->settings, "show-values", self->heatmap, "show-values", G_SETTINGS_BIND_GET);
  g_signal_connect_swapped (self->settings, "changed::fixed-scale", G_CALLBACK (scale_changed_cb), self);
  g_signal_connect_swapped (self->settings, "changed::scale-low", G_CALLBACK (scale_changed_cb), self);
  g_signal_connect_swapped (self->settings, "changed::scale-high", G_CALLBACK (scale_changed_cb), self);
  scale_changed_cb (self);
  apply_precision (self);
  g_signal_connect_swapped (self->settings, "changed::precision", G_CALLBACK (precision_changed_cb), self);
  g_settings_bind (self->settings, "max-folder-images", self->session, "max-folder-images",
                   G_SETTINGS_BIND_GET);
  g_signal_connect_swapped (self->settings, "changed::recent-models", G_CALLBACK (rebuild_model_menu), self);
  gtk_menu_button_set_create_popup_func (self->model_button, model_menu_popup_cb, self, NULL);

  /* "view.show-probabilities" and "view.show-values" toggle the settings
   * themselves, for menus and tests alike. */
  {
    g_autoptr(GSimpleActionGroup) view = g_simple_action_group_new ();
    g_autoptr(GAction) probabilities = g_settings_create_action (self->settings, "show-probabilities");
    g_autoptr(GAction) values = g_settings_create_action (self->settings, "show-values");

    g_action_map_add_action (G_ACTION_MAP (view), probabilities);
    g_action_map_add_action (G_ACTION_MAP (view), values);
    gtk_widget_insert_action_group (GTK_WIDGET (self), "view", G_ACTION_GROUP (view));
  }

  _clipscope_window_undo_init (self);
  images_changed_cb (self);
  _clipscope_window_fewshot_init (self);
  restore_lists (self);
  rebuild_model_menu (self);
  update_title (self);
  _clipscope_window_dnd_init (self);
}

ClipscopeWindow *
clipscope_window_new (GtkApplication *application)
{
  return g_object_new (CLIPSCOPE_TYPE_WINDOW, "application", application, NULL);
}

/**
 * clipscope_window_get_session:
 *
 * Returns: (transfer none): the session the window shows
 */
ClipscopeSession *
clipscope_window_get_session (ClipscopeWindow *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_WINDOW (self), NULL);
  return self->session;
}

/** clipscope_window_get_heatmap: Returns: (transfer none): the heatmap view */
GtkWidget *
clipscope_window_get_heatmap (ClipscopeWindow *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_WINDOW (self), NULL);
  return GTK_WIDGET (self->heatmap);
}

/** clipscope_window_get_model_menu: Returns: (transfer none): the menu of the model button */
GMenuModel *
clipscope_window_get_model_menu (ClipscopeWindow *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_WINDOW (self), NULL);
  return gtk_menu_button_get_menu_model (self->model_button);
}

/**
 * clipscope_window_get_probability_caption:
 *
 * Returns: (transfer none): the caption under the probabilities, shown
 *   when they are independent (a sigmoid model)
 */
GtkWidget *
clipscope_window_get_probability_caption (ClipscopeWindow *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_WINDOW (self), NULL);
  return GTK_WIDGET (self->probability_caption);
}

/** clipscope_window_get_drop_target: Returns: (transfer none): the window's drop target */
GtkDropTarget *
clipscope_window_get_drop_target (ClipscopeWindow *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_WINDOW (self), NULL);
  return self->drop_target;
}
