/* clipscope-export.c — the matrix as CSV or JSON, the heatmap as PNG
 *
 * The JSON has the shape of `clipscope classify`'s output, so scripts
 * written for the command line read the GUI's exports too.
 */
#include "clipscope-export.h"
#include <glib/gi18n.h>
#include "clipscope-heatmap-view.h"

#include <json-glib/json-glib.h>
#include <math.h>

static void
append_csv_field (GString    *out,
                  const char *field)
{
  if (strpbrk (field, ",\"\r\n") == NULL)
    {
      g_string_append (out, field);
      return;
    }
  g_string_append_c (out, '"');
  for (const char *c = field; *c != '\0'; c++)
    {
      if (*c == '"')
        g_string_append_c (out, '"');
      g_string_append_c (out, *c);
    }
  g_string_append_c (out, '"');
}

static int
top_label (const float *row,
           guint        n_labels)
{
  int best = -1;

  for (guint j = 0; j < n_labels; j++)
    if (!isnan (row[j]) && (best < 0 || row[j] > row[best]))
      best = j;
  return best;
}

/**
 * clipscope_export_csv:
 *
 * Returns: (transfer full): one row per image (its path, the cosine with
 *   each label, the top label), headed by the label names; images not
 *   encoded yet are left out
 */
char *
clipscope_export_csv (ClipscopeSession *session)
{
  const char * const *labels = clipscope_session_get_scored_labels (session);
  GListModel *images = clipscope_session_get_images (session);
  const float *sim = NULL;
  guint n_images, n_labels;
  GString *out = g_string_new ("image");

  clipscope_session_get_scores (session, &n_images, &n_labels, &sim, NULL);
  for (guint j = 0; j < n_labels; j++)
    {
      g_string_append_c (out, ',');
      append_csv_field (out, labels[j]);
    }
  g_string_append (out, ",top\r\n");
  for (guint i = 0; i < n_images; i++)
    {
      g_autoptr(ClipscopeImage) image = g_list_model_get_item (images, i);
      const float *row = sim + (gsize) i * n_labels;
      int top = top_label (row, n_labels);

      if (image == NULL || top < 0)
        continue;
      append_csv_field (out, clipscope_image_get_path (image));
      for (guint j = 0; j < n_labels; j++)
        g_string_append_printf (out, ",%.6f", row[j]);
      g_string_append_c (out, ',');
      append_csv_field (out, labels[top]);
      g_string_append (out, "\r\n");
    }
  return g_string_free (out, FALSE);
}

static void
add_floats (JsonBuilder *builder,
            const char  *name,
            const float *values,
            guint        n)
{
  json_builder_set_member_name (builder, name);
  json_builder_begin_array (builder);
  for (guint j = 0; j < n; j++)
    json_builder_add_double_value (builder, values[j]);
  json_builder_end_array (builder);
}

/**
 * clipscope_export_json:
 *
 * Returns: (transfer full): `{"labels", "templates", "scoring", "images":
 *   [{"path", "similarity", "probabilities", "top"}]}`
 */
char *
clipscope_export_json (ClipscopeSession *session)
{
  const char * const *labels = clipscope_session_get_scored_labels (session);
  g_auto(GStrv) templates = clipscope_session_dup_enabled_templates (session);
  GListModel *images = clipscope_session_get_images (session);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  const float *sim = NULL, *prob = NULL;
  guint n_images, n_labels;

  clipscope_session_get_scores (session, &n_images, &n_labels, &sim, &prob);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "labels");
  json_builder_begin_array (builder);
  for (guint j = 0; j < n_labels; j++)
    json_builder_add_string_value (builder, labels[j]);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "templates");
  json_builder_begin_array (builder);
  for (char **t = templates; *t != NULL; t++)
    json_builder_add_string_value (builder, *t);
  json_builder_end_array (builder);
  /* As clipscope classify says it: "sigmoid" probabilities are each on
   * their own. */
  json_builder_set_member_name (builder, "scoring");
  json_builder_add_string_value (builder, clipscope_scoring_to_string (clipscope_session_get_scoring (session)));
  json_builder_set_member_name (builder, "images");
  json_builder_begin_array (builder);
  for (guint i = 0; i < n_images; i++)
    {
      g_autoptr(ClipscopeImage) image = g_list_model_get_item (images, i);
      int top = top_label (sim + (gsize) i * n_labels, n_labels);

      if (image == NULL || top < 0)
        continue;
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "path");
      json_builder_add_string_value (builder, clipscope_image_get_path (image));
      add_floats (builder, "similarity", sim + (gsize) i * n_labels, n_labels);
      add_floats (builder, "probabilities", prob + (gsize) i * n_labels, n_labels);
      json_builder_set_member_name (builder, "top");
      json_builder_add_string_value (builder, labels[top]);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  return json_generator_to_data (generator, NULL);
}

/**
 * clipscope_export_png:
 *
 * Renders @widget whole; a heatmap includes what its scrolled window hides.
 */
gboolean
clipscope_export_png (GtkWidget   *widget,
                      const char  *path,
                      GError     **error)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  GtkNative *native = gtk_widget_get_native (widget);
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  GdkRGBA background = { 1, 1, 1, 1 };
  GdkRGBA fg;

  /* The heatmap draws on the window's background; a PNG has none, so
   * put one under it that suits the text colour. */
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &fg);
  if (fg.red + fg.green + fg.blue > 1.5)
    background = (GdkRGBA) { 0.14, 0.14, 0.14, 1 };
  gtk_snapshot_append_color (snapshot, &background, &GRAPHENE_RECT_INIT (0, 0, width, height));
  if (CLIPSCOPE_IS_HEATMAP_VIEW (widget))
    clipscope_heatmap_view_snapshot_all (CLIPSCOPE_HEATMAP_VIEW (widget), snapshot);
  else
    gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  node = gtk_snapshot_to_node (snapshot);
  if (native == NULL || node == NULL || width <= 0 || height <= 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("There is no heatmap to export yet"));
      return FALSE;
    }
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (native), node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  if (!gdk_texture_save_to_png (texture, path))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Could not write %s"), path);
      return FALSE;
    }
  return TRUE;
}

/**
 * clipscope_export_to_file:
 *
 * Exports in the format @path's extension names: .csv, .json or .png.
 */
gboolean
clipscope_export_to_file (ClipscopeSession  *session,
                          GtkWidget         *heatmap,
                          const char        *path,
                          GError           **error)
{
  g_autofree char *lower = g_ascii_strdown (path, -1);
  g_autofree char *contents = NULL;

  if (g_str_has_suffix (lower, ".png"))
    return clipscope_export_png (heatmap, path, error);
  if (g_str_has_suffix (lower, ".json"))
    contents = clipscope_export_json (session);
  else if (g_str_has_suffix (lower, ".csv"))
    contents = clipscope_export_csv (session);
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("Export to a file ending in .csv, .json or .png"));
      return FALSE;
    }
  return g_file_set_contents (path, contents, -1, error);
}
