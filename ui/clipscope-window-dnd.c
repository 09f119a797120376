/* clipscope-window-dnd.c — images dropped on or pasted into the window
 *
 * The whole window takes a drop of files (a GdkFileList or a single GFile),
 * of URIs as text, and of pictures (a GdkTexture, from a browser or an
 * image editor). Ctrl+V takes the same things from the clipboard; plain
 * text that names no file is read as a list of labels. A picture another
 * program put on the clipboard is taken as the bytes of its format, not
 * as a texture GTK would decode here: it is stored as a file and decoded
 * in the engine's decoder processes.
 */
#include "clipscope-window-private.h"
#include <glib/gi18n.h>

static GPtrArray *
files_from_text (const char *text)
{
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  for (char **l = lines; *l != NULL; l++)
    {
      g_autofree char *scheme = NULL;

      g_strstrip (*l);
      if (**l == '\0' || **l == '#')
        continue;
      scheme = g_uri_parse_scheme (*l);
      if (scheme != NULL)
        g_ptr_array_add (files, g_file_new_for_uri (*l));
      else if (g_path_is_absolute (*l))
        g_ptr_array_add (files, g_file_new_for_path (*l));
      else
        return NULL;        /* Not a list of files: some other text. */
    }
  return files->len > 0 ? g_steal_pointer (&files) : NULL;
}

static gboolean
add_value (ClipscopeWindow *self,
           const GValue    *value)
{
  if (G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    {
      GSList *list = g_value_get_boxed (value);
      g_autoptr(GPtrArray) files = g_ptr_array_new ();

      for (GSList *l = list; l != NULL; l = l->next)
        g_ptr_array_add (files, l->data);
      clipscope_session_add_files (self->session, (GFile **) files->pdata, files->len);
      return files->len > 0;
    }
  if (G_VALUE_HOLDS (value, G_TYPE_FILE))
    {
      GFile *file = g_value_get_object (value);

      if (file == NULL)
        return FALSE;
      clipscope_session_add_files (self->session, &file, 1);
      return TRUE;
    }
  if (G_VALUE_HOLDS (value, GDK_TYPE_TEXTURE))
    {
      if (g_value_get_object (value) == NULL)
        return FALSE;
      clipscope_session_add_texture (self->session, g_value_get_object (value));
      return TRUE;
    }
  if (G_VALUE_HOLDS (value, G_TYPE_STRING) && g_value_get_string (value) != NULL)
    {
      g_autoptr(GPtrArray) files = files_from_text (g_value_get_string (value));

      if (files != NULL)
        {
          clipscope_session_add_files (self->session, (GFile **) files->pdata, files->len);
          return TRUE;
        }
    }
  return FALSE;
}

static gboolean
drop_cb (GtkDropTarget   *target,
         const GValue    *value,
         double           x,
         double           y,
         ClipscopeWindow *self)
{
  if (add_value (self, value))
    return TRUE;
  clipscope_window_add_toast (self, _("Nothing to add: drop image files, folders or pictures"));
  return FALSE;
}

void
_clipscope_window_dnd_init (ClipscopeWindow *self)
{
  GType types[] = { GDK_TYPE_FILE_LIST, G_TYPE_FILE, GDK_TYPE_TEXTURE, G_TYPE_STRING };

  self->drop_target = gtk_drop_target_new (G_TYPE_INVALID, GDK_ACTION_COPY);
  gtk_drop_target_set_gtypes (self->drop_target, types, G_N_ELEMENTS (types));
  g_signal_connect (self->drop_target, "drop", G_CALLBACK (drop_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), g_object_ref (GTK_EVENT_CONTROLLER (self->drop_target)));
}

/* ------------------------------------------------------------ clipboard */

static void
paste_text_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(ClipscopeWindow) self = user_data;
  g_autofree char *text = gdk_clipboard_read_text_finish (GDK_CLIPBOARD (object), result, NULL);
  g_auto(GValue) value = G_VALUE_INIT;

  if (text == NULL || self->session == NULL)
    return;
  g_value_init (&value, G_TYPE_STRING);
  g_value_set_string (&value, text);
  if (!add_value (self, &value))
    clipscope_session_add_labels_text (self->session, text);
}

static void
paste_value_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(ClipscopeWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  const GValue *value = gdk_clipboard_read_value_finish (GDK_CLIPBOARD (object), result, &error);

  if (value == NULL)
    {
      if (self->session != NULL)
        clipscope_window_add_toast (self, error->message);
      return;
    }
  if (self->session != NULL)
    add_value (self, value);
}

/* The picture formats taken from the clipboard as bytes, and the file
 * name extension each is stored with. */
static const char * const image_mime_types[] = {
  "image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp", "image/tiff", "image/svg+xml", NULL,
};
static const char * const image_extensions[] = { "png", "jpg", "webp", "gif", "bmp", "tiff", "svg" };

static void
paste_image_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(ClipscopeWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  const char *mime_type = NULL;
  g_autoptr(GInputStream) stream = gdk_clipboard_read_finish (GDK_CLIPBOARD (object), result,
                                                              &mime_type, &error);

  if (self->session == NULL)
    return;
  if (stream == NULL)
    {
      clipscope_window_add_toast (self, error->message);
      return;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (image_extensions); i++)
    if (g_strcmp0 (mime_type, image_mime_types[i]) == 0)
      clipscope_session_add_image_stream (self->session, stream, image_extensions[i]);
}

static gboolean
has_image_mime_type (GdkContentFormats *formats)
{
  for (const char * const *t = image_mime_types; *t != NULL; t++)
    if (gdk_content_formats_contain_mime_type (formats, *t))
      return TRUE;
  return FALSE;
}

void
_clipscope_window_paste (ClipscopeWindow *self)
{
  GdkClipboard *clipboard = gtk_widget_get_clipboard (GTK_WIDGET (self));
  GdkContentFormats *formats = gdk_clipboard_get_formats (clipboard);
  GType type = G_TYPE_INVALID;

  if (gdk_content_formats_contain_gtype (formats, GDK_TYPE_FILE_LIST))
    type = GDK_TYPE_FILE_LIST;
  else if (gdk_content_formats_contain_gtype (formats, G_TYPE_FILE))
    type = G_TYPE_FILE;
  else if (has_image_mime_type (formats))
    {
      gdk_clipboard_read_async (clipboard, (const char **) image_mime_types, G_PRIORITY_DEFAULT, NULL,
                                paste_image_cb, g_object_ref (self));
      return;
    }
  else if (gdk_content_formats_contain_gtype (formats, GDK_TYPE_TEXTURE))
    type = GDK_TYPE_TEXTURE;

  if (type != G_TYPE_INVALID)
    gdk_clipboard_read_value_async (clipboard, type, G_PRIORITY_DEFAULT, NULL,
                                    paste_value_cb, g_object_ref (self));
  else
    gdk_clipboard_read_text_async (clipboard, NULL, paste_text_cb, g_object_ref (self));
}
