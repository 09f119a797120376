/* clipscope-heatmap-view.c — the image × label similarity matrix
 *
 * Rows are the session's images, each headed by its thumbnail and name;
 * columns are the labels the matrix was scored with. Cells take their
 * colour from viridis over the range of the values shown (raw cosines
 * span a narrow band, so a fixed [-1, 1] scale would make every cell look
 * alike) or over [0, 1] for probabilities. An image whose best cosine is
 * below the session's threshold is unclassified: its row is dimmed, has
 * no top cell and is tagged so in its header. Everything is drawn as render
 * nodes, so text and edges stay sharp at any scale factor.
 *
 * The legend and the label headers stay at the top while the matrix
 * scrolls down, and the image headers at the left while it scrolls
 * sideways. For screen readers and the keyboard the view is a grid of
 * ClipscopeGridPart rows and cells: each cell names its image, label and
 * values, takes the focus (drawn as a ring) and moves it with the arrow
 * keys; Enter asks for the cell's explanation, Ctrl+C copies its value and
 * Ctrl+Shift+C the whole matrix as tab-separated text.
 */
#include "clipscope-heatmap-view.h"
#include <glib/gi18n.h>
#include "clipscope-colormap.h"
#include "clipscope-draw.h"
#include "clipscope-grid-part.h"

#include <math.h>

#define PAD          12
#define CELL_WIDTH   64
#define CELL_HEIGHT  40
#define THUMB_SIZE   32
#define ROW_HEADER   188
#define LEGEND_H     44
#define LEGEND_W     220
#define MAX_HEADER_H 150
#define PART_BUDGET  800   /* cells made in one main-loop pass */

struct _ClipscopeHeatmapView {
  GtkWidget         parent_instance;

  /* Owned References */
  ClipscopeSession *session;

  /* Borrowed References */
  GtkAdjustment    *hadjustment;   /* of the scrolled window around it, if any */
  GtkAdjustment    *vadjustment;

  GtkWidget        *header_row;    /* the column headers' row */
  GPtrArray        *rows;          /* one ClipscopeGridPart row per image */
  guint             sync_id;       /* an idle making the rest of the cells */

  int               selected;
  int               cursor_row;    /* the cell the focus goes to */
  int               cursor_column;
  gboolean          show_probabilities;
  gboolean          show_values;
  gboolean          fixed_scale;   /* cosines on [scale_low, scale_high] */
  float             scale_low;
  float             scale_high;
  gboolean          draw_all;      /* for exports: ignore what is scrolled out */
};

G_DEFINE_FINAL_TYPE (ClipscopeHeatmapView, clipscope_heatmap_view, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_SESSION,
  PROP_SHOW_PROBABILITIES,
  PROP_SHOW_VALUES,
  PROP_SELECTED,
  N_PROPS,
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_CELL_ACTIVATED,
  N_SIGNALS,
};

static guint signals[N_SIGNALS];

typedef struct {
  guint               n_images;
  guint               n_labels;
  const float        *values;       /* [n_images, n_labels]: what colours the cells */
  const float        *similarity;
  const float        *probabilities;
  const char * const *labels;
} Matrix;

static gboolean
get_matrix (ClipscopeHeatmapView *self,
            Matrix               *m)
{
  *m = (Matrix) { 0 };
  if (self->session == NULL)
    return FALSE;
  clipscope_session_get_scores (self->session, &m->n_images, &m->n_labels,
                                &m->similarity, &m->probabilities);
  m->labels = clipscope_session_get_scored_labels (self->session);
  m->values = self->show_probabilities ? m->probabilities : m->similarity;
  if (m->labels == NULL || g_strv_length ((char **) m->labels) < m->n_labels)
    m->n_labels = 0;
  return m->n_images > 0 && m->n_labels > 0;
}

static int
column_header_height (ClipscopeHeatmapView *self,
                      const Matrix         *m)
{
  g_autoptr(PangoLayout) layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), NULL);
  int widest = 0;

  for (guint j = 0; j < m->n_labels; j++)
    {
      int w;

      pango_layout_set_text (layout, m->labels[j], -1);
      pango_layout_get_pixel_size (layout, &w, NULL);
      widest = MAX (widest, w);
    }
  return MIN (widest, MAX_HEADER_H) + PAD;
}

static void
clipscope_heatmap_view_measure (GtkWidget      *widget,
                                GtkOrientation  orientation,
                                int             for_size,
                                int            *minimum,
                                int            *natural,
                                int            *minimum_baseline,
                                int            *natural_baseline)
{
  ClipscopeHeatmapView *self = CLIPSCOPE_HEATMAP_VIEW (widget);
  Matrix m;

  get_matrix (self, &m);
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    *minimum = *natural = 2 * PAD + MAX (ROW_HEADER + (int) m.n_labels * CELL_WIDTH,
                                         LEGEND_W + 160);
  else
    *minimum = *natural = 2 * PAD + LEGEND_H + column_header_height (self, &m)
                          + (int) m.n_images * CELL_HEIGHT;
}

/* The colour scale: the data's own range for cosines (or the fixed one
 * the person set), [0, 1] for probabilities. */
gboolean
clipscope_heatmap_view_get_range (ClipscopeHeatmapView *self,
                                  float                *low,
                                  float                *high)
{
  gboolean any = FALSE;
  Matrix m;

  g_return_val_if_fail (CLIPSCOPE_IS_HEATMAP_VIEW (self), FALSE);

  *low = 0.0f;
  *high = 1.0f;
  if (!get_matrix (self, &m) || self->show_probabilities)
    return m.n_images > 0 && m.n_labels > 0;
  if (self->fixed_scale && self->scale_high > self->scale_low)
    {
      *low = self->scale_low;
      *high = self->scale_high;
      return TRUE;
    }
  for (gsize i = 0; i < (gsize) m.n_images * m.n_labels; i++)
    {
      if (isnan (m.values[i]))
        continue;
      *low = any ? MIN (*low, m.values[i]) : m.values[i];
      *high = any ? MAX (*high, m.values[i]) : m.values[i];
      any = TRUE;
    }
  if (*high - *low < 1e-6f)
    {
      *low -= 0.005f;
      *high += 0.005f;
    }
  return any;
}

static void
get_foreground (GtkWidget *widget,
                GdkRGBA   *color)
{
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), color);
}

static void
append_text (GtkSnapshot   *snapshot,
             PangoLayout   *layout,
             const char    *text,
             float          x,
             float          y,
             const GdkRGBA *color)
{
  pango_layout_set_text (layout, text, -1);
  clipscope_draw_layout (snapshot, layout, x, y, color);
}

/* Whether the probabilities shown are a sigmoid per label, which need
 * not add up to 1 along a row. */
static gboolean
sigmoid (ClipscopeHeatmapView *self)
{
  return self->session != NULL
         && clipscope_session_get_scoring (self->session) == CLIPSCOPE_SCORING_SIGMOID;
}

static void
snapshot_legend (ClipscopeHeatmapView *self,
                 GtkSnapshot          *snapshot,
                 PangoLayout          *layout,
                 const GdkRGBA        *fg)
{
  GskColorStop stops[10];
  char text[64];
  float low, high;
  int w, h, x;

  clipscope_heatmap_view_get_range (self, &low, &high);
  for (guint i = 0; i < G_N_ELEMENTS (stops); i++)
    {
      stops[i].offset = i / (float) (G_N_ELEMENTS (stops) - 1);
      clipscope_colormap_viridis (stops[i].offset, &stops[i].color);
    }

  pango_layout_set_width (layout, -1);
  append_text (snapshot, layout,
               !self->show_probabilities ? _("Cosine similarity")
               : sigmoid (self) ? _("Probability (independent)") : _("Probability"),
               PAD, PAD, fg);
  pango_layout_get_pixel_size (layout, &w, &h);
  /* The scale starts where the row headers end, or after a longer title
   * and the low value's room. */
  x = MAX (PAD + ROW_HEADER, PAD + w + 8 + 60 + 8);

  g_snprintf (text, sizeof text, self->show_probabilities ? "%.0f %%" : "%.3f",
              self->show_probabilities ? low * 100 : low);
  append_text (snapshot, layout, text, x - 8 - 60, PAD, fg);
  gtk_snapshot_append_linear_gradient (snapshot,
                                       &GRAPHENE_RECT_INIT (x, PAD + 2, LEGEND_W, h - 4),
                                       &GRAPHENE_POINT_INIT (x, 0),
                                       &GRAPHENE_POINT_INIT (x + LEGEND_W, 0),
                                       stops, G_N_ELEMENTS (stops));
  g_snprintf (text, sizeof text, self->show_probabilities ? "%.0f %%" : "%.3f",
              self->show_probabilities ? high * 100 : high);
  append_text (snapshot, layout, text, x + LEGEND_W + 8, PAD, fg);
}

static void
snapshot_column_headers (ClipscopeHeatmapView *self,
                         GtkSnapshot          *snapshot,
                         PangoLayout          *layout,
                         const Matrix         *m,
                         int                   header_h,
                         const GdkRGBA        *fg)
{
  /* Labels are written upwards from the top of their column, so fifty
   * of them fit in the width of fifty cells. */
  pango_layout_set_width (layout, (header_h - PAD) * PANGO_SCALE);
  pango_layout_set_ellipsize (layout, PANGO_ELLIPSIZE_END);
  for (guint j = 0; j < m->n_labels; j++)
    {
      int text_h;

      pango_layout_set_text (layout, m->labels[j], -1);
      pango_layout_get_pixel_size (layout, NULL, &text_h);
      gtk_snapshot_save (snapshot);
      gtk_snapshot_translate (snapshot,
                              &GRAPHENE_POINT_INIT (PAD + ROW_HEADER + j * CELL_WIDTH
                                                    + (CELL_WIDTH - text_h) / 2.0f,
                                                    PAD + LEGEND_H + header_h - PAD / 2.0f));
      gtk_snapshot_rotate (snapshot, -90);
      gtk_snapshot_append_layout (snapshot, layout, fg);
      gtk_snapshot_restore (snapshot);
    }
  pango_layout_set_width (layout, -1);
}

/* A small _("Unclassified") pill under the image's name. */
static void
snapshot_unclassified_tag (ClipscopeHeatmapView *self,
                           GtkSnapshot          *snapshot,
                           float                 y)
{
  g_autoptr(PangoLayout) tag = gtk_widget_create_pango_layout (GTK_WIDGET (self), _("Unclassified"));
  PangoFontDescription *font = pango_font_description_copy (pango_context_get_font_description (
                                 pango_layout_get_context (tag)));
  GskRoundedRect pill;
  GdkRGBA warning, back;
  int w, h;

  clipscope_draw_get_unclassified_color (GTK_WIDGET (self), &warning);
  pango_font_description_set_size (font, pango_font_description_get_size (font) * 4 / 5);
  pango_layout_set_font_description (tag, font);
  pango_font_description_free (font);
  pango_layout_get_pixel_size (tag, &w, &h);
  back = warning;
  back.alpha = 0.18f;
  gsk_rounded_rect_init_from_rect (&pill, &GRAPHENE_RECT_INIT (PAD + THUMB_SIZE + 10, y, w + 8, h), h / 2.0f);
  gtk_snapshot_push_rounded_clip (snapshot, &pill);
  gtk_snapshot_append_color (snapshot, &back, &pill.bounds);
  gtk_snapshot_pop (snapshot);
  clipscope_draw_layout (snapshot, tag, PAD + THUMB_SIZE + 14, y, &warning);
}

static void
snapshot_row_header (ClipscopeHeatmapView *self,
                     GtkSnapshot          *snapshot,
                     PangoLayout          *layout,
                     guint                 row,
                     float                 y,
                     const GdkRGBA        *fg)
{
  GListModel *images = clipscope_session_get_images (self->session);
  g_autoptr(ClipscopeImage) image = g_list_model_get_item (images, row);
  GdkTexture *thumb;
  int text_h;

  if (image == NULL)
    return;
  if ((int) row == self->selected)
    {
      GdkRGBA tint = *fg;

      tint.alpha = 0.1f;
      gtk_snapshot_append_color (snapshot, &tint,
                                 &GRAPHENE_RECT_INIT (PAD, y, ROW_HEADER - 4, CELL_HEIGHT));
    }
  thumb = clipscope_image_get_thumbnail (image);
  if (thumb != NULL)
    {
      /* Fit the thumbnail in its square, keeping its aspect. */
      float tw = gdk_texture_get_width (thumb), th = gdk_texture_get_height (thumb);
      float s = THUMB_SIZE / MAX (tw, th);

      gtk_snapshot_append_texture (snapshot, thumb,
                                   &GRAPHENE_RECT_INIT (PAD + 4 + (THUMB_SIZE - tw * s) / 2,
                                                        y + (CELL_HEIGHT - th * s) / 2,
                                                        tw * s, th * s));
    }
  pango_layout_set_width (layout, (ROW_HEADER - THUMB_SIZE - 20) * PANGO_SCALE);
  pango_layout_set_ellipsize (layout, PANGO_ELLIPSIZE_MIDDLE);
  pango_layout_set_text (layout, clipscope_image_get_name (image), -1);
  pango_layout_get_pixel_size (layout, NULL, &text_h);
  if (clipscope_session_is_unclassified (self->session, row))
    {
      snapshot_unclassified_tag (self, snapshot, y + CELL_HEIGHT / 2.0f + 1);
      append_text (snapshot, layout, clipscope_image_get_name (image),
                   PAD + THUMB_SIZE + 12, y + CELL_HEIGHT / 2.0f - text_h, fg);
    }
  else
    append_text (snapshot, layout, clipscope_image_get_name (image),
                 PAD + THUMB_SIZE + 12, y + (CELL_HEIGHT - text_h) / 2.0f, fg);
  pango_layout_set_width (layout, -1);
}

/* The session's pick, which follows the probe's probabilities and the
 * threshold: -1 for an unclassified image. */
static int
best_column (ClipscopeHeatmapView *self,
             const Matrix         *m,
             guint                 row)
{
  guint n_images = 0;
  const int *top = clipscope_session_get_top (self->session, &n_images, NULL);

  if (top == NULL || row >= n_images || top[row] >= (int) m->n_labels)
    return -1;
  return top[row];
}

static void
snapshot_cells (ClipscopeHeatmapView *self,
                GtkSnapshot          *snapshot,
                PangoLayout          *layout,
                const Matrix         *m,
                guint                 row,
                float                 y,
                float                 low,
                float                 high,
                guint                 first,
                guint                 last,
                const GdkRGBA        *fg)
{
  static const GdkRGBA black = { 0, 0, 0, 0.87f }, white = { 1, 1, 1, 1 };
  int best = best_column (self, m, row);
  gboolean dimmed = clipscope_session_is_unclassified (self->session, row);

  for (guint j = first; j < last; j++)
    {
      float v = m->values[(gsize) row * m->n_labels + j];
      graphene_rect_t cell = GRAPHENE_RECT_INIT (PAD + ROW_HEADER + j * CELL_WIDTH, y,
                                                 CELL_WIDTH - 1, CELL_HEIGHT - 1);
      const GdkRGBA *ink;
      GdkRGBA color;
      char text[32];
      int tw, th;

      if (isnan (v))
        {
          color = *fg;
          color.alpha = 0.06f;
          gtk_snapshot_append_color (snapshot, &color, &cell);
          continue;
        }
      clipscope_colormap_viridis ((v - low) / (high - low), &color);
      /* An unclassified row keeps its values readable but fades back. */
      if (dimmed)
        color.alpha = 0.35f;
      gtk_snapshot_append_color (snapshot, &color, &cell);
      ink = dimmed ? fg : clipscope_colormap_luminance (&color) > 0.45f ? &black : &white;

      if ((int) j == best)
        {
          GskRoundedRect outline;
          const GdkRGBA inks[4] = { *ink, *ink, *ink, *ink };
          const float widths[4] = { 3, 3, 3, 3 };

          gsk_rounded_rect_init_from_rect (&outline, &cell, 0);
          gtk_snapshot_append_border (snapshot, &outline, widths, inks);
        }
      if (!self->show_values)
        continue;
      if (self->show_probabilities)
        g_snprintf (text, sizeof text, "%.0f %%", v * 100);
      else
        g_snprintf (text, sizeof text, "%.3f", v);
      pango_layout_set_text (layout, text, -1);
      pango_layout_get_pixel_size (layout, &tw, &th);
      if (tw + 8 <= CELL_WIDTH && th + 4 <= CELL_HEIGHT)
        append_text (snapshot, layout, text, cell.origin.x + (CELL_WIDTH - tw) / 2.0f,
                     y + (CELL_HEIGHT - th) / 2.0f, ink);
    }
}

/* The part of the widget its scrolled window shows. A 200 × 50 matrix is
 * ten thousand cells of shaped text; drawing only the visible ones keeps
 * a redraw (a selection, a new score) within a frame. */
static graphene_rect_t
visible_area (ClipscopeHeatmapView *self)
{
  int width = gtk_widget_get_width (GTK_WIDGET (self));
  int height = gtk_widget_get_height (GTK_WIDGET (self));

  if (self->draw_all || self->hadjustment == NULL || self->vadjustment == NULL)
    return GRAPHENE_RECT_INIT (0, 0, width, height);
  return GRAPHENE_RECT_INIT (gtk_adjustment_get_value (self->hadjustment),
                             gtk_adjustment_get_value (self->vadjustment),
                             gtk_adjustment_get_page_size (self->hadjustment),
                             gtk_adjustment_get_page_size (self->vadjustment));
}

/* ------------------------------------------------------------ accessible parts */

static char *
cell_name (ClipscopeHeatmapView *self,
           const Matrix         *m,
           const char           *image,
           guint                 row,
           guint                 column)
{
  gsize cell = (gsize) row * m->n_labels + column;

  if (isnan (m->similarity[cell]))
    return g_strdup_printf (_("%s, %s: not scored yet"), image, m->labels[column]);
  return g_strdup_printf (sigmoid (self) ? _("%s, %s: cosine %.3f, independent probability %.1f %%%s")
                          : _("%s, %s: cosine %.3f, probability %.1f %%%s"),
                          image, m->labels[column], m->similarity[cell], m->probabilities[cell] * 100.0,
                          best_column (self, m, row) == (int) column ? _(", best match") : "");
}

static GtkWidget *
add_part (GtkWidget         *parent,
          GtkAccessibleRole  role,
          int                row,
          int                column,
          int                x,
          int                width)
{
  GtkWidget *part = clipscope_grid_part_new (role, row, column);

  clipscope_grid_part_set_span (CLIPSCOPE_GRID_PART (part), x, width);
  gtk_widget_set_parent (part, parent);
  return part;
}

static void sync_parts (ClipscopeHeatmapView *self);

static gboolean
sync_more_cb (gpointer user_data)
{
  ClipscopeHeatmapView *self = user_data;

  self->sync_id = 0;
  sync_parts (self);
  gtk_widget_queue_allocate (GTK_WIDGET (self));
  return G_SOURCE_REMOVE;
}

/* Brings the rows and cells in line with the matrix: as many as it has,
 * each named after what it shows now. A matrix of thousands of cells is
 * made a few hundred cells a main-loop pass, so that the window does not
 * freeze while a screen reader's view of it fills in. */
static void
sync_parts (ClipscopeHeatmapView *self)
{
  GListModel *images = self->session != NULL ? clipscope_session_get_images (self->session) : NULL;
  guint n_rows, made = 0;
  GtkWidget *child;
  Matrix m;

  get_matrix (self, &m);
  n_rows = m.n_labels > 0 ? m.n_images : 0;

  if (self->header_row == NULL)
    {
      self->header_row = clipscope_grid_part_new (GTK_ACCESSIBLE_ROLE_ROW, -1, -1);
      clipscope_grid_part_set_label (CLIPSCOPE_GRID_PART (self->header_row), _("Labels"));
      gtk_widget_insert_after (self->header_row, GTK_WIDGET (self), NULL);
    }
  child = gtk_widget_get_first_child (self->header_row);
  for (guint j = 0; j < m.n_labels; j++)
    {
      if (child == NULL)
        child = add_part (self->header_row, GTK_ACCESSIBLE_ROLE_COLUMN_HEADER, -1, j,
                          PAD + ROW_HEADER + j * CELL_WIDTH, CELL_WIDTH);
      clipscope_grid_part_set_label (CLIPSCOPE_GRID_PART (child), m.labels[j]);
      child = gtk_widget_get_next_sibling (child);
    }
  clipscope_grid_part_trim (self->header_row, m.n_labels);

  while (self->rows->len > n_rows)
    {
      gtk_widget_unparent (g_ptr_array_index (self->rows, self->rows->len - 1));
      g_ptr_array_set_size (self->rows, self->rows->len - 1);
    }
  for (guint i = 0; i < n_rows && made < PART_BUDGET; i++)
    {
      g_autoptr(ClipscopeImage) image = g_list_model_get_item (images, i);
      const char *name = image != NULL ? clipscope_image_get_name (image) : "";
      g_autofree char *header = NULL;
      GtkWidget *row;

      if (i == self->rows->len)
        {
          row = clipscope_grid_part_new (GTK_ACCESSIBLE_ROLE_ROW, i, -1);
          gtk_widget_set_parent (row, GTK_WIDGET (self));
          add_part (row, GTK_ACCESSIBLE_ROLE_ROW_HEADER, i, -1, PAD, ROW_HEADER);
          g_ptr_array_add (self->rows, row);
        }
      row = g_ptr_array_index (self->rows, i);
      header = clipscope_session_is_unclassified (self->session, i)
               ? g_strdup_printf (_("%s, unclassified"), name) : g_strdup (name);
      clipscope_grid_part_set_label (CLIPSCOPE_GRID_PART (row), name);
      child = gtk_widget_get_first_child (row);
      clipscope_grid_part_set_label (CLIPSCOPE_GRID_PART (child), header);
      child = gtk_widget_get_next_sibling (child);
      for (guint j = 0; j < m.n_labels; j++)
        {
          g_autofree char *text = cell_name (self, &m, name, i, j);

          if (child == NULL)
            {
              child = add_part (row, GTK_ACCESSIBLE_ROLE_GRID_CELL, i, j,
                                PAD + ROW_HEADER + j * CELL_WIDTH, CELL_WIDTH);
              made++;
            }
          clipscope_grid_part_set_label (CLIPSCOPE_GRID_PART (child), text);
          child = gtk_widget_get_next_sibling (child);
        }
      clipscope_grid_part_trim (row, 1 + m.n_labels);
    }
  if (self->rows->len < n_rows && self->sync_id == 0)
    self->sync_id = g_idle_add_full (G_PRIORITY_LOW, sync_more_cb, self, NULL);
  self->cursor_row = CLAMP (self->cursor_row, 0, MAX ((int) n_rows - 1, 0));
  self->cursor_column = CLAMP (self->cursor_column, 0, MAX ((int) m.n_labels - 1, 0));
  gtk_accessible_update_relation (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_RELATION_ROW_COUNT, (int) n_rows + 1,
                                  GTK_ACCESSIBLE_RELATION_COL_COUNT, (int) m.n_labels + 1,
                                  -1);
}

static void
clipscope_heatmap_view_size_allocate (GtkWidget *widget,
                                      int        width,
                                      int        height,
                                      int        baseline)
{
  ClipscopeHeatmapView *self = CLIPSCOPE_HEATMAP_VIEW (widget);
  int header_h, top;
  Matrix m;

  get_matrix (self, &m);
  header_h = column_header_height (self, &m);
  top = PAD + LEGEND_H + header_h;
  if (self->header_row != NULL)
    clipscope_grid_part_place (self->header_row, 0, PAD + LEGEND_H, width, header_h);
  for (guint i = 0; i < self->rows->len; i++)
    clipscope_grid_part_place (g_ptr_array_index (self->rows, i), 0, top + i * CELL_HEIGHT,
                               width, CELL_HEIGHT);
}

static GtkWidget *
cursor_cell (ClipscopeHeatmapView *self)
{
  if (self->cursor_row < 0 || (guint) self->cursor_row >= self->rows->len)
    return NULL;
  return clipscope_grid_part_nth_child (g_ptr_array_index (self->rows, self->cursor_row),
                                        1 + self->cursor_column);
}

/* ------------------------------------------------------------ drawing */

static void
get_background (GtkWidget *widget,
                GdkRGBA   *color)
{
  GtkStyleContext *style = gtk_widget_get_style_context (widget);

  if (!gtk_style_context_lookup_color (style, "window_bg_color", color))
    gdk_rgba_parse (color, "#fafafa");
}

/* The focused cell: a ring in the accent colour, lined with white on
 * the inside so that it stands out on any colour of the scale. */
static void
snapshot_focus (ClipscopeHeatmapView *self,
                GtkSnapshot          *snapshot,
                float                 top)
{
  static const GdkRGBA white = { 1, 1, 1, 1 };
  GtkWidget *cell = cursor_cell (self);
  GtkStyleContext *style = gtk_widget_get_style_context (GTK_WIDGET (self));
  const float outer[4] = { 3, 3, 3, 3 }, inner[4] = { 2, 2, 2, 2 };
  float x = PAD + ROW_HEADER + self->cursor_column * CELL_WIDTH, y = top + self->cursor_row * CELL_HEIGHT;
  GskRoundedRect outline;
  GdkRGBA accent;

  if (cell == NULL || !gtk_widget_has_focus (cell))
    return;
  if (!gtk_style_context_lookup_color (style, "accent_color", &accent))
    gdk_rgba_parse (&accent, "#1c71d8");
  gsk_rounded_rect_init_from_rect (&outline, &GRAPHENE_RECT_INIT (x - 3, y - 3, CELL_WIDTH + 5, CELL_HEIGHT + 5), 5);
  gtk_snapshot_append_border (snapshot, &outline, outer, (const GdkRGBA[4]) { accent, accent, accent, accent });
  gsk_rounded_rect_init_from_rect (&outline, &GRAPHENE_RECT_INIT (x, y, CELL_WIDTH - 1, CELL_HEIGHT - 1), 2);
  gtk_snapshot_append_border (snapshot, &outline, inner, (const GdkRGBA[4]) { white, white, white, white });
}

static void
clipscope_heatmap_view_snapshot (GtkWidget   *widget,
                                 GtkSnapshot *snapshot)
{
  ClipscopeHeatmapView *self = CLIPSCOPE_HEATMAP_VIEW (widget);
  g_autoptr(PangoLayout) layout = gtk_widget_create_pango_layout (widget, NULL);
  g_autoptr(PangoLayout) numbers = gtk_widget_create_pango_layout (widget, NULL);
  PangoAttrList *attrs = pango_attr_list_new ();
  graphene_rect_t area = visible_area (self);
  float low, high, top, left;
  guint first_row, last_row, first_column, last_column;
  int header_h;
  GdkRGBA fg, bg;
  Matrix m;

  /* Cell values use tabular figures so columns of numbers line up. */
  pango_attr_list_insert (attrs, pango_attr_font_features_new ("tnum"));
  pango_layout_set_attributes (numbers, attrs);
  pango_attr_list_unref (attrs);

  if (!get_matrix (self, &m))
    return;
  get_foreground (widget, &fg);
  get_background (widget, &bg);
  header_h = column_header_height (self, &m);
  clipscope_heatmap_view_get_range (self, &low, &high);
  top = PAD + LEGEND_H + header_h;
  left = PAD + ROW_HEADER;
  first_row = (guint) CLAMP ((area.origin.y - top) / CELL_HEIGHT, 0, m.n_images);
  last_row = (guint) CLAMP (ceilf ((area.origin.y + area.size.height - top) / CELL_HEIGHT), 0, m.n_images);
  first_column = (guint) CLAMP ((area.origin.x - left) / CELL_WIDTH, 0, m.n_labels);
  last_column = (guint) CLAMP (ceilf ((area.origin.x + area.size.width - left) / CELL_WIDTH),
                               0, m.n_labels);

  for (guint i = first_row; i < last_row; i++)
    snapshot_cells (self, snapshot, numbers, &m, i, top + i * CELL_HEIGHT, low, high,
                    first_column, last_column, &fg);
  snapshot_focus (self, snapshot, top);

  /* The image headers stay at the left edge of what is shown... */
  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (area.origin.x, 0));
  gtk_snapshot_append_color (snapshot, &bg, &GRAPHENE_RECT_INIT (0, area.origin.y, left, area.size.height));
  for (guint i = first_row; i < last_row; i++)
    snapshot_row_header (self, snapshot, layout, i, top + i * CELL_HEIGHT, &fg);
  gtk_snapshot_restore (snapshot);

  /* ...and the legend and label headers at its top. */
  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (0, area.origin.y));
  gtk_snapshot_append_color (snapshot, &bg, &GRAPHENE_RECT_INIT (area.origin.x, 0, area.size.width, top));
  gtk_snapshot_push_clip (snapshot, &GRAPHENE_RECT_INIT (area.origin.x + left, 0, area.size.width - left, top));
  snapshot_column_headers (self, snapshot, layout, &m, header_h, &fg);
  gtk_snapshot_pop (snapshot);
  gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (area.origin.x, 0));
  snapshot_legend (self, snapshot, layout, &fg);
  gtk_snapshot_restore (snapshot);
}

/**
 * clipscope_heatmap_view_snapshot_all:
 *
 * Draws the whole matrix, including what the scrolled window hides, for
 * an export.
 */
void
clipscope_heatmap_view_snapshot_all (ClipscopeHeatmapView *self,
                                     GtkSnapshot          *snapshot)
{
  g_return_if_fail (CLIPSCOPE_IS_HEATMAP_VIEW (self));

  self->draw_all = TRUE;
  clipscope_heatmap_view_snapshot (GTK_WIDGET (self), snapshot);
  self->draw_all = FALSE;
}

static void
scrolled_cb (ClipscopeHeatmapView *self)
{
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
clipscope_heatmap_view_map (GtkWidget *widget)
{
  ClipscopeHeatmapView *self = CLIPSCOPE_HEATMAP_VIEW (widget);
  GtkWidget *scrolled = gtk_widget_get_ancestor (widget, GTK_TYPE_SCROLLED_WINDOW);

  GTK_WIDGET_CLASS (clipscope_heatmap_view_parent_class)->map (widget);
  if (scrolled == NULL)
    return;
  self->hadjustment = gtk_scrolled_window_get_hadjustment (GTK_SCROLLED_WINDOW (scrolled));
  self->vadjustment = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scrolled));
  g_signal_connect_object (self->hadjustment, "value-changed", G_CALLBACK (scrolled_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->hadjustment, "notify::page-size", G_CALLBACK (scrolled_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->vadjustment, "value-changed", G_CALLBACK (scrolled_cb), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->vadjustment, "notify::page-size", G_CALLBACK (scrolled_cb), self, G_CONNECT_SWAPPED);
}

static void
clipscope_heatmap_view_unmap (GtkWidget *widget)
{
  ClipscopeHeatmapView *self = CLIPSCOPE_HEATMAP_VIEW (widget);

  if (self->hadjustment != NULL)
    g_signal_handlers_disconnect_by_data (self->hadjustment, self);
  if (self->vadjustment != NULL)
    g_signal_handlers_disconnect_by_data (self->vadjustment, self);
  self->hadjustment = self->vadjustment = NULL;
  GTK_WIDGET_CLASS (clipscope_heatmap_view_parent_class)->unmap (widget);
}

/* Where the frozen headers are now: the scrolled-to corner of the view. */
static void
scroll_origin (ClipscopeHeatmapView *self,
               double               *x,
               double               *y)
{
  graphene_rect_t area = visible_area (self);

  *x = area.origin.x;
  *y = area.origin.y;
}

/**
 * clipscope_heatmap_view_cell_at:
 * @row: (out): the image, or -1 outside the rows
 * @column: (out): the label, or -1 outside the cells (the row header)
 *
 * The headers count where they are drawn, frozen at the top and left of
 * what is shown.
 *
 * Returns: %TRUE when (@x, @y) is on a row
 */
gboolean
clipscope_heatmap_view_cell_at (ClipscopeHeatmapView *self,
                                double                x,
                                double                y,
                                int                  *row,
                                int                  *column)
{
  double top, origin_x, origin_y;
  Matrix m;

  g_return_val_if_fail (CLIPSCOPE_IS_HEATMAP_VIEW (self), FALSE);

  *row = *column = -1;
  if (!get_matrix (self, &m))
    return FALSE;
  scroll_origin (self, &origin_x, &origin_y);
  top = PAD + LEGEND_H + column_header_height (self, &m);
  if (y - origin_y < top || y >= top + m.n_images * CELL_HEIGHT || x - origin_x < PAD)
    return FALSE;
  *row = (int) ((y - top) / CELL_HEIGHT);
  if (x - origin_x >= PAD + ROW_HEADER && x < PAD + ROW_HEADER + m.n_labels * CELL_WIDTH)
    *column = (int) ((x - PAD - ROW_HEADER) / CELL_WIDTH);
  return TRUE;
}

/* The label whose header is at (@x, @y), or -1. */
static int
column_header_at (ClipscopeHeatmapView *self,
                  const Matrix         *m,
                  double                x,
                  double                y)
{
  double origin_x, origin_y;

  scroll_origin (self, &origin_x, &origin_y);
  if (y - origin_y < PAD + LEGEND_H || y - origin_y >= PAD + LEGEND_H + column_header_height (self, m)
      || x - origin_x < PAD + ROW_HEADER || x >= PAD + ROW_HEADER + m->n_labels * CELL_WIDTH)
    return -1;
  return (int) ((x - PAD - ROW_HEADER) / CELL_WIDTH);
}

static gboolean
clipscope_heatmap_view_query_tooltip (GtkWidget  *widget,
                                      int         x,
                                      int         y,
                                      gboolean    keyboard,
                                      GtkTooltip *tooltip)
{
  ClipscopeHeatmapView *self = CLIPSCOPE_HEATMAP_VIEW (widget);
  g_autoptr(ClipscopeImage) image = NULL;
  g_autofree char *text = NULL;
  int row, column;
  gsize cell;
  Matrix m;

  if (!get_matrix (self, &m))
    return FALSE;
  /* A label cut short in its header is read whole here. */
  if ((column = column_header_at (self, &m, x, y)) >= 0)
    {
      gtk_tooltip_set_text (tooltip, m.labels[column]);
      return TRUE;
    }
  if (!clipscope_heatmap_view_cell_at (self, x, y, &row, &column))
    return FALSE;
  image = g_list_model_get_item (clipscope_session_get_images (self->session), row);
  if (image == NULL)
    return FALSE;
  if (column < 0)
    {
      gtk_tooltip_set_text (tooltip, clipscope_image_get_path (image));
      return TRUE;
    }
  cell = (gsize) row * m.n_labels + column;
  if (isnan (m.similarity[cell]))
    text = g_strdup_printf (_("%s · %s\nnot encoded yet"), clipscope_image_get_name (image),
                            m.labels[column]);
  else
    {
      const char *note = clipscope_session_get_scoring_note (self->session);

      text = g_strdup_printf (_("%s · %s\ncosine %.4f\nprobability %.2f %%%s"),
                              clipscope_image_get_name (image), m.labels[column],
                              m.similarity[cell], m.probabilities[cell] * 100.0,
                              clipscope_session_is_unclassified (self->session, row)
                              ? _("\nunclassified: no label reaches the threshold") : "");
      if (note != NULL)
        {
          char *with_note = g_strconcat (text, "\n", note, NULL);

          g_free (text);
          text = with_note;
        }
    }
  gtk_tooltip_set_text (tooltip, text);
  return TRUE;
}

/* Scrolls so that @row (and @column, unless -1) shows beside the frozen
 * headers. */
static void
scroll_to (ClipscopeHeatmapView *self,
           int                   row,
           int                   column)
{
  double top, y, x, page;
  Matrix m;

  if (self->vadjustment == NULL || self->hadjustment == NULL || !get_matrix (self, &m) || row < 0)
    return;
  top = PAD + LEGEND_H + column_header_height (self, &m);
  y = top + row * CELL_HEIGHT;
  page = gtk_adjustment_get_page_size (self->vadjustment);
  if (y - top < gtk_adjustment_get_value (self->vadjustment))
    gtk_adjustment_set_value (self->vadjustment, y - top);
  else if (y + CELL_HEIGHT > gtk_adjustment_get_value (self->vadjustment) + page)
    gtk_adjustment_set_value (self->vadjustment, y + CELL_HEIGHT - page);
  if (column < 0)
    return;
  x = PAD + ROW_HEADER + column * CELL_WIDTH;
  page = gtk_adjustment_get_page_size (self->hadjustment);
  if (x - PAD - ROW_HEADER < gtk_adjustment_get_value (self->hadjustment))
    gtk_adjustment_set_value (self->hadjustment, x - PAD - ROW_HEADER);
  else if (x + CELL_WIDTH > gtk_adjustment_get_value (self->hadjustment) + page)
    gtk_adjustment_set_value (self->hadjustment, x + CELL_WIDTH - page);
}

/**
 * clipscope_heatmap_view_set_cursor:
 *
 * Moves the keyboard focus to the cell of image @row and label @column
 * (clamped to the matrix), selects its image and scrolls it into view.
 *
 * Returns: %TRUE when there is such a cell
 */
gboolean
clipscope_heatmap_view_set_cursor (ClipscopeHeatmapView *self,
                                   int                   row,
                                   int                   column)
{
  GtkWidget *cell;
  Matrix m;

  g_return_val_if_fail (CLIPSCOPE_IS_HEATMAP_VIEW (self), FALSE);

  if (!get_matrix (self, &m) || self->rows->len == 0)
    return FALSE;
  self->cursor_row = CLAMP (row, 0, (int) self->rows->len - 1);
  self->cursor_column = CLAMP (column, 0, (int) m.n_labels - 1);
  cell = cursor_cell (self);
  if (cell != NULL)
    gtk_widget_grab_focus (cell);
  clipscope_heatmap_view_set_selected (self, self->cursor_row);
  scroll_to (self, self->cursor_row, self->cursor_column);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  return cell != NULL;
}

gboolean
clipscope_heatmap_view_get_cursor (ClipscopeHeatmapView *self,
                                   int                  *row,
                                   int                  *column)
{
  g_return_val_if_fail (CLIPSCOPE_IS_HEATMAP_VIEW (self), FALSE);

  *row = self->cursor_row;
  *column = self->cursor_column;
  return cursor_cell (self) != NULL;
}

static void
pressed_cb (GtkGestureClick      *gesture,
            int                   n_press,
            double                x,
            double                y,
            ClipscopeHeatmapView *self)
{
  int row, column;

  if (!clipscope_heatmap_view_cell_at (self, x, y, &row, &column))
    return;
  if (column >= 0)
    clipscope_heatmap_view_set_cursor (self, row, column);
  else
    clipscope_heatmap_view_set_selected (self, row);
  if (column >= 0 && n_press == 2)
    g_signal_emit (self, signals[SIGNAL_CELL_ACTIVATED], 0, row, column);
}

/* What the cell shows, for the clipboard: the cosine or the probability
 * as a plain number a spreadsheet reads. */
static void
append_value (GString      *out,
              const Matrix *m,
              guint         row,
              guint         column)
{
  float v = m->values[(gsize) row * m->n_labels + column];

  if (!isnan (v))
    g_string_append_printf (out, "%.4f", v);
}

/**
 * clipscope_heatmap_view_dup_cell_text:
 *
 * Returns: (transfer full) (nullable): the value of the focused cell
 */
char *
clipscope_heatmap_view_dup_cell_text (ClipscopeHeatmapView *self)
{
  GString *out;
  Matrix m;

  g_return_val_if_fail (CLIPSCOPE_IS_HEATMAP_VIEW (self), NULL);

  if (!get_matrix (self, &m) || cursor_cell (self) == NULL)
    return NULL;
  out = g_string_new (NULL);
  append_value (out, &m, self->cursor_row, self->cursor_column);
  return g_string_free (out, FALSE);
}

/**
 * clipscope_heatmap_view_dup_matrix_text:
 *
 * The matrix as shown, as tab-separated text: a first line with the
 * labels, then one line per image, its name first.
 *
 * Returns: (transfer full) (nullable): the text, or %NULL with no scores
 */
char *
clipscope_heatmap_view_dup_matrix_text (ClipscopeHeatmapView *self)
{
  GListModel *images;
  GString *out;
  Matrix m;

  g_return_val_if_fail (CLIPSCOPE_IS_HEATMAP_VIEW (self), NULL);

  if (!get_matrix (self, &m))
    return NULL;
  images = clipscope_session_get_images (self->session);
  out = g_string_new (self->show_probabilities ? _("image (probability)") : _("image (cosine)"));
  for (guint j = 0; j < m.n_labels; j++)
    g_string_append_printf (out, "\t%s", m.labels[j]);
  g_string_append_c (out, '\n');
  for (guint i = 0; i < m.n_images; i++)
    {
      g_autoptr(ClipscopeImage) image = g_list_model_get_item (images, i);

      g_string_append (out, image != NULL ? clipscope_image_get_name (image) : "");
      for (guint j = 0; j < m.n_labels; j++)
        {
          g_string_append_c (out, '\t');
          append_value (out, &m, i, j);
        }
      g_string_append_c (out, '\n');
    }
  return g_string_free (out, FALSE);
}

static void
copy_text (ClipscopeHeatmapView *self,
           char                 *text)
{
  if (text != NULL)
    gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), text);
  g_free (text);
}

static void
copy_cell_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  ClipscopeHeatmapView *self = CLIPSCOPE_HEATMAP_VIEW (widget);

  copy_text (self, clipscope_heatmap_view_dup_cell_text (self));
}

static void
copy_matrix_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  ClipscopeHeatmapView *self = CLIPSCOPE_HEATMAP_VIEW (widget);

  copy_text (self, clipscope_heatmap_view_dup_matrix_text (self));
}

static gboolean
key_pressed_cb (GtkEventControllerKey *controller,
                guint                  keyval,
                guint                  keycode,
                GdkModifierType        state,
                ClipscopeHeatmapView  *self)
{
  int row = self->cursor_row, column = self->cursor_column;
  int page = 1;
  Matrix m;

  if (!get_matrix (self, &m) || cursor_cell (self) == NULL)
    return FALSE;
  if (self->vadjustment != NULL)
    page = MAX ((int) (gtk_adjustment_get_page_size (self->vadjustment) / CELL_HEIGHT) - 2, 1);
  state &= gtk_accelerator_get_default_mod_mask ();
  switch (keyval)
    {
    case GDK_KEY_Up: case GDK_KEY_KP_Up: row--; break;
    case GDK_KEY_Down: case GDK_KEY_KP_Down: row++; break;
    case GDK_KEY_Left: case GDK_KEY_KP_Left: column--; break;
    case GDK_KEY_Right: case GDK_KEY_KP_Right: column++; break;
    case GDK_KEY_Page_Up: case GDK_KEY_KP_Page_Up: row -= page; break;
    case GDK_KEY_Page_Down: case GDK_KEY_KP_Page_Down: row += page; break;
    case GDK_KEY_Home: case GDK_KEY_KP_Home:
      column = 0;
      if (state & GDK_CONTROL_MASK)
        row = 0;
      break;
    case GDK_KEY_End: case GDK_KEY_KP_End:
      column = (int) m.n_labels - 1;
      if (state & GDK_CONTROL_MASK)
        row = (int) m.n_images - 1;
      break;
    case GDK_KEY_Return: case GDK_KEY_KP_Enter: case GDK_KEY_ISO_Enter: case GDK_KEY_space:
      g_signal_emit (self, signals[SIGNAL_CELL_ACTIVATED], 0, row, column);
      return TRUE;
    default:
      return FALSE;
    }
  clipscope_heatmap_view_set_cursor (self, row, column);
  return TRUE;
}

/* Tab enters the grid at its cursor cell and leaves it at once: the
 * arrow keys move within. */
static gboolean
clipscope_heatmap_view_focus (GtkWidget        *widget,
                              GtkDirectionType  direction)
{
  ClipscopeHeatmapView *self = CLIPSCOPE_HEATMAP_VIEW (widget);
  GtkWidget *cell = cursor_cell (self);

  if (cell == NULL || gtk_widget_get_focus_child (widget) != NULL)
    return FALSE;
  gtk_widget_grab_focus (cell);
  scroll_to (self, self->cursor_row, self->cursor_column);
  gtk_widget_queue_draw (widget);
  return TRUE;
}

static gboolean
clipscope_heatmap_view_grab_focus (GtkWidget *widget)
{
  GtkWidget *cell = cursor_cell (CLIPSCOPE_HEATMAP_VIEW (widget));

  return cell != NULL && gtk_widget_grab_focus (cell);
}

static void
focus_changed_cb (ClipscopeHeatmapView *self)
{
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
scores_changed_cb (ClipscopeHeatmapView *self)
{
  const char *note = clipscope_session_get_scoring_note (self->session);

  sync_parts (self);
  /* The grid tells a screen reader what its probabilities are. */
  if (note != NULL)
    gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, note, -1);
  else
    gtk_accessible_reset_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

static void
clipscope_heatmap_view_dispose (GObject *object)
{
  ClipscopeHeatmapView *self = CLIPSCOPE_HEATMAP_VIEW (object);

  clipscope_heatmap_view_set_session (self, NULL);
  g_clear_handle_id (&self->sync_id, g_source_remove);
  g_clear_pointer (&self->header_row, gtk_widget_unparent);
  if (self->rows != NULL)
    {
      for (guint i = 0; i < self->rows->len; i++)
        gtk_widget_unparent (g_ptr_array_index (self->rows, i));
      g_clear_pointer (&self->rows, g_ptr_array_unref);
    }
  G_OBJECT_CLASS (clipscope_heatmap_view_parent_class)->dispose (object);
}

static void
clipscope_heatmap_view_get_property (GObject    *object,
                                     guint       prop_id,
                                     GValue     *value,
                                     GParamSpec *pspec)
{
  ClipscopeHeatmapView *self = CLIPSCOPE_HEATMAP_VIEW (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      g_value_set_object (value, self->session);
      break;
    case PROP_SHOW_PROBABILITIES:
      g_value_set_boolean (value, self->show_probabilities);
      break;
    case PROP_SHOW_VALUES:
      g_value_set_boolean (value, self->show_values);
      break;
    case PROP_SELECTED:
      g_value_set_int (value, self->selected);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
clipscope_heatmap_view_set_property (GObject      *object,
                                     guint         prop_id,
                                     const GValue *value,
                                     GParamSpec   *pspec)
{
  ClipscopeHeatmapView *self = CLIPSCOPE_HEATMAP_VIEW (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      clipscope_heatmap_view_set_session (self, g_value_get_object (value));
      break;
    case PROP_SHOW_PROBABILITIES:
      clipscope_heatmap_view_set_show_probabilities (self, g_value_get_boolean (value));
      break;
    case PROP_SHOW_VALUES:
      clipscope_heatmap_view_set_show_values (self, g_value_get_boolean (value));
      break;
    case PROP_SELECTED:
      clipscope_heatmap_view_set_selected (self, g_value_get_int (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
clipscope_heatmap_view_class_init (ClipscopeHeatmapViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = clipscope_heatmap_view_dispose;
  object_class->get_property = clipscope_heatmap_view_get_property;
  object_class->set_property = clipscope_heatmap_view_set_property;

  widget_class->measure = clipscope_heatmap_view_measure;
  widget_class->size_allocate = clipscope_heatmap_view_size_allocate;
  widget_class->focus = clipscope_heatmap_view_focus;
  widget_class->grab_focus = clipscope_heatmap_view_grab_focus;
  widget_class->snapshot = clipscope_heatmap_view_snapshot;
  widget_class->map = clipscope_heatmap_view_map;
  widget_class->unmap = clipscope_heatmap_view_unmap;
  widget_class->query_tooltip = clipscope_heatmap_view_query_tooltip;

  properties[PROP_SESSION] =
    g_param_spec_object ("session", NULL, NULL, CLIPSCOPE_TYPE_SESSION,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SHOW_PROBABILITIES] =
    g_param_spec_boolean ("show-probabilities", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SHOW_VALUES] =
    g_param_spec_boolean ("show-values", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SELECTED] =
    g_param_spec_int ("selected", NULL, NULL, -1, G_MAXINT, -1,
                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * ClipscopeHeatmapView::cell-activated:
   * @row: the image
   * @column: the label
   *
   * Enter, Space or a double click on a cell: show its explanation.
   */
  signals[SIGNAL_CELL_ACTIVATED] =
    g_signal_new ("cell-activated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);

  gtk_widget_class_install_action (widget_class, "heatmap.copy-cell", NULL, copy_cell_action);
  gtk_widget_class_install_action (widget_class, "heatmap.copy-matrix", NULL, copy_matrix_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_c, GDK_CONTROL_MASK, "heatmap.copy-cell", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_c, GDK_CONTROL_MASK | GDK_SHIFT_MASK,
                                       "heatmap.copy-matrix", NULL);
  gtk_widget_class_set_css_name (widget_class, "heatmap");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GRID);
}

static void
clipscope_heatmap_view_init (ClipscopeHeatmapView *self)
{
  GtkGesture *click = gtk_gesture_click_new ();
  GtkEventController *keys = gtk_event_controller_key_new ();
  GtkEventController *focus = gtk_event_controller_focus_new ();

  self->rows = g_ptr_array_new ();
  self->selected = -1;
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Similarity of each image with each label"), -1);
  g_signal_connect (keys, "key-pressed", G_CALLBACK (key_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), keys);
  g_signal_connect_swapped (focus, "enter", G_CALLBACK (focus_changed_cb), self);
  g_signal_connect_swapped (focus, "leave", G_CALLBACK (focus_changed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), focus);
  self->show_values = TRUE;
  gtk_widget_set_has_tooltip (GTK_WIDGET (self), TRUE);
  g_signal_connect (click, "pressed", G_CALLBACK (pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));
}

GtkWidget *
clipscope_heatmap_view_new (void)
{
  return g_object_new (CLIPSCOPE_TYPE_HEATMAP_VIEW, NULL);
}

ClipscopeSession *
clipscope_heatmap_view_get_session (ClipscopeHeatmapView *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_HEATMAP_VIEW (self), NULL);
  return self->session;
}

void
clipscope_heatmap_view_set_session (ClipscopeHeatmapView *self,
                                    ClipscopeSession     *session)
{
  g_return_if_fail (CLIPSCOPE_IS_HEATMAP_VIEW (self));

  if (self->session == session)
    return;
  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_set_object (&self->session, session);
  if (session != NULL)
    g_signal_connect_swapped (session, "scores-changed", G_CALLBACK (scores_changed_cb), self);
  sync_parts (self);
  gtk_widget_queue_resize (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SESSION]);
}

gboolean
clipscope_heatmap_view_get_show_probabilities (ClipscopeHeatmapView *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_HEATMAP_VIEW (self), FALSE);
  return self->show_probabilities;
}

void
clipscope_heatmap_view_set_show_probabilities (ClipscopeHeatmapView *self,
                                               gboolean              show)
{
  g_return_if_fail (CLIPSCOPE_IS_HEATMAP_VIEW (self));

  show = !!show;
  if (show == self->show_probabilities)
    return;
  self->show_probabilities = show;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SHOW_PROBABILITIES]);
}

/**
 * clipscope_heatmap_view_set_fixed_scale:
 * @fixed: whether cosines are coloured on [@low, @high] rather than on
 *   the range of the values shown
 */
void
clipscope_heatmap_view_set_fixed_scale (ClipscopeHeatmapView *self,
                                        gboolean              fixed,
                                        float                 low,
                                        float                 high)
{
  g_return_if_fail (CLIPSCOPE_IS_HEATMAP_VIEW (self));

  self->fixed_scale = !!fixed;
  self->scale_low = low;
  self->scale_high = high;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

gboolean
clipscope_heatmap_view_get_show_values (ClipscopeHeatmapView *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_HEATMAP_VIEW (self), FALSE);
  return self->show_values;
}

void
clipscope_heatmap_view_set_show_values (ClipscopeHeatmapView *self,
                                        gboolean              show)
{
  g_return_if_fail (CLIPSCOPE_IS_HEATMAP_VIEW (self));

  show = !!show;
  if (show == self->show_values)
    return;
  self->show_values = show;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SHOW_VALUES]);
}

int
clipscope_heatmap_view_get_selected (ClipscopeHeatmapView *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_HEATMAP_VIEW (self), -1);
  return self->selected;
}

void
clipscope_heatmap_view_set_selected (ClipscopeHeatmapView *self,
                                     int                   row)
{
  g_return_if_fail (CLIPSCOPE_IS_HEATMAP_VIEW (self));

  row = MAX (row, -1);
  if (row == self->selected)
    return;
  self->selected = row;
  scroll_to (self, row, -1);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SELECTED]);
}
