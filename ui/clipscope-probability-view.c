/* clipscope-probability-view.c — zero-shot probabilities of one image as bars
 *
 * One row per label, sorted from the most to the least likely: the label,
 * a bar as long as its probability and the percentage. The bar uses the
 * style's accent colour and the text its foreground, so the dark style
 * works without extra code. An image left unclassified by the session's
 * threshold gets a first line that says so, above the same bars.
 */
#include "clipscope-probability-view.h"
#include "clipscope-draw.h"

#include <math.h>

#define ROW_HEIGHT   28
#define LABEL_WIDTH  140
#define VALUE_WIDTH  64
#define GAP          8

struct _ClipscopeProbabilityView {
  GtkWidget         parent_instance;

  /* Owned References */
  ClipscopeSession *session;

  int               row;
};

G_DEFINE_FINAL_TYPE (ClipscopeProbabilityView, clipscope_probability_view, GTK_TYPE_WIDGET)

typedef struct {
  float  p;
  guint  label;
} Entry;

static int
compare_entries (gconstpointer a,
                 gconstpointer b)
{
  const Entry *x = a, *y = b;

  if (x->p != y->p)
    return x->p < y->p ? 1 : -1;
  return x->label < y->label ? -1 : (x->label > y->label);
}

/* The probabilities of the shown image, largest first; NULL when it has none. */
static Entry *
sorted_entries (ClipscopeProbabilityView  *self,
                guint                     *n,
                const char * const       **labels)
{
  const float *prob = NULL;
  guint n_images = 0, n_labels = 0;
  Entry *entries;

  *n = 0;
  if (self->session == NULL || self->row < 0)
    return NULL;
  clipscope_session_get_scores (self->session, &n_images, &n_labels, NULL, &prob);
  *labels = clipscope_session_get_scored_labels (self->session);
  if ((guint) self->row >= n_images || n_labels == 0 || isnan (prob[(gsize) self->row * n_labels]))
    return NULL;

  entries = g_new (Entry, n_labels);
  for (guint j = 0; j < n_labels; j++)
    entries[j] = (Entry) { prob[(gsize) self->row * n_labels + j], j };
  qsort (entries, n_labels, sizeof (Entry), compare_entries);
  *n = n_labels;
  return entries;
}

static gboolean
unclassified (ClipscopeProbabilityView *self)
{
  return self->session != NULL && self->row >= 0
         && clipscope_session_is_unclassified (self->session, self->row);
}

/* "Unclassified", and why: the best cosine against the threshold. */
static void
snapshot_unclassified (ClipscopeProbabilityView *self,
                       GtkSnapshot              *snapshot,
                       PangoLayout              *layout)
{
  const float *sim = NULL;
  guint n_images = 0, n_labels = 0;
  g_autofree char *text = NULL;
  float best = -INFINITY;
  GdkRGBA warning;
  int th;

  clipscope_draw_get_unclassified_color (GTK_WIDGET (self), &warning);
  clipscope_session_get_scores (self->session, &n_images, &n_labels, &sim, NULL);
  for (guint j = 0; j < n_labels; j++)
    best = MAX (best, sim[(gsize) self->row * n_labels + j]);
  text = g_strdup_printf ("Unclassified: best cosine %.3f is below %.2f", best,
                          clipscope_session_get_threshold (self->session));
  pango_layout_set_width (layout, gtk_widget_get_width (GTK_WIDGET (self)) * PANGO_SCALE);
  pango_layout_set_text (layout, text, -1);
  pango_layout_get_pixel_size (layout, NULL, &th);
  clipscope_draw_layout (snapshot, layout, 0, (ROW_HEIGHT - th) / 2.0f, &warning);
}

static void
clipscope_probability_view_measure (GtkWidget      *widget,
                                    GtkOrientation  orientation,
                                    int             for_size,
                                    int            *minimum,
                                    int            *natural,
                                    int            *minimum_baseline,
                                    int            *natural_baseline)
{
  ClipscopeProbabilityView *self = CLIPSCOPE_PROBABILITY_VIEW (widget);
  const char * const *labels;
  guint n = 0;

  g_free (sorted_entries (self, &n, &labels));
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = LABEL_WIDTH + VALUE_WIDTH + 2 * GAP + 60;
      *natural = LABEL_WIDTH + VALUE_WIDTH + 2 * GAP + 240;
    }
  else
    *minimum = *natural = (int) (n + (n > 0 && unclassified (self))) * ROW_HEIGHT;
}

static void
clipscope_probability_view_snapshot (GtkWidget   *widget,
                                     GtkSnapshot *snapshot)
{
  ClipscopeProbabilityView *self = CLIPSCOPE_PROBABILITY_VIEW (widget);
  GtkStyleContext *style = gtk_widget_get_style_context (widget);
  g_autoptr(PangoLayout) layout = gtk_widget_create_pango_layout (widget, NULL);
  const char * const *labels = NULL;
  g_autofree Entry *entries = NULL;
  int width = gtk_widget_get_width (widget);
  float bar_width = MAX (width - LABEL_WIDTH - VALUE_WIDTH - 2 * GAP, 10);
  GdkRGBA fg, accent, trough;
  guint n;

  entries = sorted_entries (self, &n, &labels);
  if (entries == NULL)
    return;
  gtk_style_context_get_color (style, &fg);
  if (!gtk_style_context_lookup_color (style, "accent_bg_color", &accent))
    gdk_rgba_parse (&accent, "#3584e4");
  trough = fg;
  trough.alpha = 0.08f;

  pango_layout_set_ellipsize (layout, PANGO_ELLIPSIZE_END);
  if (unclassified (self))
    {
      snapshot_unclassified (self, snapshot, layout);
      gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (0, ROW_HEIGHT));
    }
  for (guint i = 0; i < n; i++)
    {
      float y = i * ROW_HEIGHT;
      char text[32];
      int tw, th;

      pango_layout_set_width (layout, LABEL_WIDTH * PANGO_SCALE);
      pango_layout_set_text (layout, labels[entries[i].label], -1);
      pango_layout_get_pixel_size (layout, NULL, &th);
      clipscope_draw_layout (snapshot, layout, 0, y + (ROW_HEIGHT - th) / 2.0f, &fg);

      gtk_snapshot_append_color (snapshot, &trough,
                                 &GRAPHENE_RECT_INIT (LABEL_WIDTH + GAP, y + 6, bar_width, ROW_HEIGHT - 12));
      gtk_snapshot_append_color (snapshot, &accent,
                                 &GRAPHENE_RECT_INIT (LABEL_WIDTH + GAP, y + 6,
                                                      bar_width * CLAMP (entries[i].p, 0.0f, 1.0f),
                                                      ROW_HEIGHT - 12));

      g_snprintf (text, sizeof text, "%.1f %%", entries[i].p * 100.0);
      pango_layout_set_width (layout, -1);
      pango_layout_set_text (layout, text, -1);
      pango_layout_get_pixel_size (layout, &tw, &th);
      clipscope_draw_layout (snapshot, layout, width - tw, y + (ROW_HEIGHT - th) / 2.0f, &fg);
    }
}

static void
scores_changed_cb (ClipscopeProbabilityView *self)
{
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

static void
clipscope_probability_view_dispose (GObject *object)
{
  clipscope_probability_view_set_session (CLIPSCOPE_PROBABILITY_VIEW (object), NULL);
  G_OBJECT_CLASS (clipscope_probability_view_parent_class)->dispose (object);
}

static void
clipscope_probability_view_class_init (ClipscopeProbabilityViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = clipscope_probability_view_dispose;
  widget_class->measure = clipscope_probability_view_measure;
  widget_class->snapshot = clipscope_probability_view_snapshot;
  gtk_widget_class_set_css_name (widget_class, "probabilities");
}

static void
clipscope_probability_view_init (ClipscopeProbabilityView *self)
{
  self->row = -1;
}

GtkWidget *
clipscope_probability_view_new (void)
{
  return g_object_new (CLIPSCOPE_TYPE_PROBABILITY_VIEW, NULL);
}

void
clipscope_probability_view_set_session (ClipscopeProbabilityView *self,
                                        ClipscopeSession         *session)
{
  g_return_if_fail (CLIPSCOPE_IS_PROBABILITY_VIEW (self));

  if (self->session == session)
    return;
  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_set_object (&self->session, session);
  if (session != NULL)
    g_signal_connect_swapped (session, "scores-changed", G_CALLBACK (scores_changed_cb), self);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

int
clipscope_probability_view_get_row (ClipscopeProbabilityView *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_PROBABILITY_VIEW (self), -1);
  return self->row;
}

/**
 * clipscope_probability_view_set_row:
 * @row: the image whose probabilities are shown, or -1 for none
 */
void
clipscope_probability_view_set_row (ClipscopeProbabilityView *self,
                                    int                       row)
{
  g_return_if_fail (CLIPSCOPE_IS_PROBABILITY_VIEW (self));

  self->row = MAX (row, -1);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}
