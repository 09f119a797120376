/* clipscope-explain-overlay.c — a label's spatial map drawn over the preview
 *
 * The overlay sits above the preview's GtkPicture in a GtkOverlay, with the
 * same allocation, and finds where the picture draws its image the way
 * GtkPicture does (scaled to fit, centred). The model saw only the centre
 * crop of the image, so the map covers that square and no more, with a
 * thin outline to show where it ends. The grid is upsampled bilinearly
 * into a texture once per map and coloured with viridis from the lowest
 * to the highest cosine; the slider's opacity is the widget's own.
 */
#include "clipscope-explain-overlay.h"
#include "clipscope-colormap.h"

#include <math.h>

/* The side of the texture the grid is upsampled into: enough for smooth
 * gradients on a 340-pixel preview; the renderer scales it the rest. */
#define TEXTURE_SIZE 256

struct _ClipscopeExplainOverlay {
  GtkWidget   parent_instance;

  /* Borrowed References */
  GtkPicture *picture;

  /* Owned References */
  GdkTexture *texture;        /* the coloured map, or NULL */
  double      crop;           /* the crop's side over the image's shorter side */
};

G_DEFINE_FINAL_TYPE (ClipscopeExplainOverlay, clipscope_explain_overlay, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_PICTURE,
  N_PROPS,
};

static GParamSpec *properties[N_PROPS];

/* The value at continuous position @u of a row or column of @n cells,
 * cell centres at 0 … n − 1, clamped at the edges (align_corners off). */
static void
lerp_index (double  u,
            int     n,
            int    *i0,
            int    *i1,
            float  *f)
{
  u = CLAMP (u, 0.0, n - 1.0);
  *i0 = MIN ((int) u, n - 1);
  *i1 = MIN (*i0 + 1, n - 1);
  *f = (float) (u - *i0);
}

/* map[grid, grid] → a TEXTURE_SIZE² RGB texture, bilinearly upsampled and
 * coloured from @low (dark) to @high (yellow). */
static GdkTexture *
colour_map (const float *map,
            int          grid,
            float        low,
            float        high)
{
  const gsize stride = (gsize) TEXTURE_SIZE * 3;
  g_autofree guint8 *rgb = g_malloc (stride * TEXTURE_SIZE);
  g_autoptr(GBytes) bytes = NULL;
  const float span = high > low ? high - low : 1.0f;

  for (int y = 0; y < TEXTURE_SIZE; y++)
    {
      int y0, y1;
      float fy;

      lerp_index ((y + 0.5) * grid / TEXTURE_SIZE - 0.5, grid, &y0, &y1, &fy);
      for (int x = 0; x < TEXTURE_SIZE; x++)
        {
          guint8 *p = rgb + y * stride + x * 3;
          int x0, x1;
          float fx, top, bottom;
          GdkRGBA color;

          lerp_index ((x + 0.5) * grid / TEXTURE_SIZE - 0.5, grid, &x0, &x1, &fx);
          top = map[y0 * grid + x0] * (1 - fx) + map[y0 * grid + x1] * fx;
          bottom = map[y1 * grid + x0] * (1 - fx) + map[y1 * grid + x1] * fx;
          clipscope_colormap_viridis ((top * (1 - fy) + bottom * fy - low) / span, &color);
          p[0] = (guint8) lround (color.red * 255);
          p[1] = (guint8) lround (color.green * 255);
          p[2] = (guint8) lround (color.blue * 255);
        }
    }
  bytes = g_bytes_new_take (g_steal_pointer (&rgb), stride * TEXTURE_SIZE);
  return gdk_memory_texture_new (TEXTURE_SIZE, TEXTURE_SIZE, GDK_MEMORY_R8G8B8, bytes, stride);
}

/**
 * clipscope_explain_overlay_get_area:
 * @area: (out): the square the map covers, in the overlay's coordinates
 *
 * Returns: %FALSE when there is no map or no image to draw it over
 */
gboolean
clipscope_explain_overlay_get_area (ClipscopeExplainOverlay *self,
                                    graphene_rect_t         *area)
{
  GdkPaintable *paintable;
  double width, height, ratio, w, h, side;

  g_return_val_if_fail (CLIPSCOPE_IS_EXPLAIN_OVERLAY (self), FALSE);

  paintable = self->picture != NULL ? gtk_picture_get_paintable (self->picture) : NULL;
  ratio = paintable != NULL ? gdk_paintable_get_intrinsic_aspect_ratio (paintable) : 0.0;
  width = gtk_widget_get_width (GTK_WIDGET (self));
  height = gtk_widget_get_height (GTK_WIDGET (self));
  if (self->texture == NULL || ratio <= 0.0 || width <= 0 || height <= 0)
    return FALSE;

  /* The image as GtkPicture lays it out with keep-aspect-ratio: as large
   * as fits, centred on whole pixels. */
  if (ratio > width / height)
    {
      w = width;
      h = width / ratio;
    }
  else
    {
      w = height * ratio;
      h = height;
    }
  side = MIN (w, h) * self->crop;
  graphene_rect_init (area,
                      floor ((width - ceil (w)) / 2) + (w - side) / 2,
                      floor ((height - ceil (h)) / 2) + (h - side) / 2,
                      side, side);
  return TRUE;
}

static void
clipscope_explain_overlay_snapshot (GtkWidget   *widget,
                                    GtkSnapshot *snapshot)
{
  ClipscopeExplainOverlay *self = CLIPSCOPE_EXPLAIN_OVERLAY (widget);
  graphene_rect_t area;
  GskRoundedRect outline;
  GdkRGBA edge;

  if (!clipscope_explain_overlay_get_area (self, &area))
    return;
  /* The outline takes the text colour, which stands out from the
   * preview's card in the light and the dark style alike. */
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &edge);
  edge.alpha *= 0.5f;
  gtk_snapshot_append_texture (snapshot, self->texture, &area);
  gsk_rounded_rect_init_from_rect (&outline, &area, 0);
  gtk_snapshot_append_border (snapshot, &outline, (const float[4]) { 1, 1, 1, 1 },
                              (const GdkRGBA[4]) { edge, edge, edge, edge });
}

static void
paintable_changed_cb (ClipscopeExplainOverlay *self)
{
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
clipscope_explain_overlay_dispose (GObject *object)
{
  ClipscopeExplainOverlay *self = CLIPSCOPE_EXPLAIN_OVERLAY (object);

  clipscope_explain_overlay_set_picture (self, NULL);
  g_clear_object (&self->texture);
  G_OBJECT_CLASS (clipscope_explain_overlay_parent_class)->dispose (object);
}

static void
clipscope_explain_overlay_get_property (GObject    *object,
                                        guint       prop_id,
                                        GValue     *value,
                                        GParamSpec *pspec)
{
  ClipscopeExplainOverlay *self = CLIPSCOPE_EXPLAIN_OVERLAY (object);

  switch (prop_id)
    {
    case PROP_PICTURE:
      g_value_set_object (value, self->picture);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
clipscope_explain_overlay_set_property (GObject      *object,
                                        guint         prop_id,
                                        const GValue *value,
                                        GParamSpec   *pspec)
{
  ClipscopeExplainOverlay *self = CLIPSCOPE_EXPLAIN_OVERLAY (object);

  switch (prop_id)
    {
    case PROP_PICTURE:
      clipscope_explain_overlay_set_picture (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
clipscope_explain_overlay_class_init (ClipscopeExplainOverlayClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = clipscope_explain_overlay_dispose;
  object_class->get_property = clipscope_explain_overlay_get_property;
  object_class->set_property = clipscope_explain_overlay_set_property;
  widget_class->snapshot = clipscope_explain_overlay_snapshot;

  /**
   * ClipscopeExplainOverlay:picture:
   *
   * The picture the map is drawn over; the overlay must have its size.
   */
  properties[PROP_PICTURE] =
    g_param_spec_object ("picture", NULL, NULL, GTK_TYPE_PICTURE,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_css_name (widget_class, "explainoverlay");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
clipscope_explain_overlay_init (ClipscopeExplainOverlay *self)
{
  self->crop = 1.0;
  /* Clicks belong to the picture underneath. */
  gtk_widget_set_can_target (GTK_WIDGET (self), FALSE);
}

GtkWidget *
clipscope_explain_overlay_new (void)
{
  return g_object_new (CLIPSCOPE_TYPE_EXPLAIN_OVERLAY, NULL);
}

/** clipscope_explain_overlay_get_picture: Returns: (transfer none) (nullable): the picture */
GtkPicture *
clipscope_explain_overlay_get_picture (ClipscopeExplainOverlay *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_EXPLAIN_OVERLAY (self), NULL);
  return self->picture;
}

/**
 * clipscope_explain_overlay_set_picture:
 * @picture: (nullable): the picture to draw over; held weakly, as a
 *   sibling in the same GtkOverlay
 */
void
clipscope_explain_overlay_set_picture (ClipscopeExplainOverlay *self,
                                       GtkPicture              *picture)
{
  g_return_if_fail (CLIPSCOPE_IS_EXPLAIN_OVERLAY (self));
  g_return_if_fail (picture == NULL || GTK_IS_PICTURE (picture));

  if (picture == self->picture)
    return;
  if (self->picture != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->picture, self);
      g_object_remove_weak_pointer (G_OBJECT (self->picture), (gpointer *) &self->picture);
    }
  self->picture = picture;
  if (picture != NULL)
    {
      g_object_add_weak_pointer (G_OBJECT (picture), (gpointer *) &self->picture);
      g_signal_connect_swapped (picture, "notify::paintable", G_CALLBACK (paintable_changed_cb), self);
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PICTURE]);
}

/**
 * clipscope_explain_overlay_set_map:
 * @map: (nullable): [grid, grid] cosines, row by row from the top left;
 *   %NULL removes the map
 * @low: the cosine drawn darkest, usually the map's least
 * @high: the cosine drawn yellow, usually its greatest
 * @crop: the side of the model's input over the image's shorter side
 *
 * Shows @map over the centre crop of the picture's image.
 */
void
clipscope_explain_overlay_set_map (ClipscopeExplainOverlay *self,
                                   const float             *map,
                                   int                      grid,
                                   float                    low,
                                   float                    high,
                                   double                   crop)
{
  g_return_if_fail (CLIPSCOPE_IS_EXPLAIN_OVERLAY (self));
  g_return_if_fail (map == NULL || grid > 0);

  g_clear_object (&self->texture);
  if (map != NULL)
    {
      self->texture = colour_map (map, grid, low, high);
      self->crop = CLAMP (crop, 0.0, 1.0);
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/** clipscope_explain_overlay_has_map: Returns: whether a map is set */
gboolean
clipscope_explain_overlay_has_map (ClipscopeExplainOverlay *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_EXPLAIN_OVERLAY (self), FALSE);
  return self->texture != NULL;
}
