/* clipscope-probability-view.c — zero-shot probabilities of one image as bars
 *
 * One row per label, sorted from the most to the least likely: the label,
 * a bar as long as its probability and the percentage. The bar uses the
 * style's accent colour and the text its foreground, so the dark style
 * works without extra code. An image left unclassified by the session's
 * threshold gets a first line that says so, above the same bars.
 *
 * For screen readers and the keyboard the bars are a grid of
 * ClipscopeGridPart rows, one per label, whose cell says the percentage;
 * Tab enters at the focused row and Up/Down/Home/End move.
 */
#include "clipscope-probability-view.h"
#include <glib/gi18n.h>
#include "clipscope-draw.h"
#include "clipscope-grid-part.h"

#include <math.h>

#define ROW_HEIGHT   28
#define LABEL_WIDTH  140
#define VALUE_WIDTH  64
#define GAP          8

struct _ClipscopeProbabilityView {
  GtkWidget         parent_instance;

  /* Owned References */
  ClipscopeSession *session;
  GPtrArray        *rows;       /* a ClipscopeGridPart row per bar, most likely first */

  int               row;
  int               cursor;     /* the bar the focus goes to */
};

G_DEFINE_FINAL_TYPE (ClipscopeProbabilityView, clipscope_probability_view, GTK_TYPE_WIDGET)

static GtkWidget *cursor_cell (ClipscopeProbabilityView *self);

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
  text = g_strdup_printf (_("Unclassified: best cosine %.3f is below %.2f"), best,
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
  if (cursor_cell (self) != NULL && gtk_widget_has_focus (cursor_cell (self)))
    {
      const float widths[4] = { 2, 2, 2, 2 };
      GskRoundedRect outline;

      gsk_rounded_rect_init_from_rect (&outline, &GRAPHENE_RECT_INIT (0, self->cursor * ROW_HEIGHT + 1,
                                                                      width, ROW_HEIGHT - 2), 4);
      gtk_snapshot_append_border (snapshot, &outline, widths,
                                  (const GdkRGBA[4]) { accent, accent, accent, accent });
    }
}

/* The first line is taken by the "Unclassified" note when there is one. */
static int
bars_top (ClipscopeProbabilityView *self)
{
  return unclassified (self) ? ROW_HEIGHT : 0;
}

static void
sync_parts (ClipscopeProbabilityView *self)
{
  const char * const *labels = NULL;
  g_autofree Entry *entries = NULL;
  guint n = 0;

  entries = sorted_entries (self, &n, &labels);
  while (self->rows->len > n)
    {
      gtk_widget_unparent (g_ptr_array_index (self->rows, self->rows->len - 1));
      g_ptr_array_set_size (self->rows, self->rows->len - 1);
    }
  while (self->rows->len < n)
    {
      GtkWidget *row = clipscope_grid_part_new (GTK_ACCESSIBLE_ROLE_ROW, self->rows->len, -1);
      GtkWidget *header = clipscope_grid_part_new (GTK_ACCESSIBLE_ROLE_ROW_HEADER, self->rows->len, -1);
      GtkWidget *cell = clipscope_grid_part_new (GTK_ACCESSIBLE_ROLE_GRID_CELL, self->rows->len, 0);

      clipscope_grid_part_set_span (CLIPSCOPE_GRID_PART (header), 0, LABEL_WIDTH);
      clipscope_grid_part_set_span (CLIPSCOPE_GRID_PART (cell), LABEL_WIDTH + GAP, 200);
      gtk_widget_set_parent (header, row);
      gtk_widget_set_parent (cell, row);
      gtk_widget_set_parent (row, GTK_WIDGET (self));
      g_ptr_array_add (self->rows, row);
    }
  for (guint i = 0; i < n; i++)
    {
      GtkWidget *row = g_ptr_array_index (self->rows, i);
      GtkWidget *header = gtk_widget_get_first_child (row);
      g_autofree char *text = g_strdup_printf ("%s: %.1f %%", labels[entries[i].label], entries[i].p * 100.0);

      clipscope_grid_part_set_label (CLIPSCOPE_GRID_PART (row), labels[entries[i].label]);
      clipscope_grid_part_set_label (CLIPSCOPE_GRID_PART (header), labels[entries[i].label]);
      clipscope_grid_part_set_label (CLIPSCOPE_GRID_PART (gtk_widget_get_next_sibling (header)), text);
    }
  self->cursor = CLAMP (self->cursor, 0, MAX ((int) n - 1, 0));
}

static GtkWidget *
cursor_cell (ClipscopeProbabilityView *self)
{
  if (self->cursor < 0 || (guint) self->cursor >= self->rows->len)
    return NULL;
  return gtk_widget_get_last_child (g_ptr_array_index (self->rows, self->cursor));
}

static void
clipscope_probability_view_size_allocate (GtkWidget *widget,
                                          int        width,
                                          int        height,
                                          int        baseline)
{
  ClipscopeProbabilityView *self = CLIPSCOPE_PROBABILITY_VIEW (widget);
  int top = bars_top (self);

  for (guint i = 0; i < self->rows->len; i++)
    {
      GtkWidget *row = g_ptr_array_index (self->rows, i);

      clipscope_grid_part_set_span (CLIPSCOPE_GRID_PART (gtk_widget_get_last_child (row)),
                                    LABEL_WIDTH + GAP, MAX (width - LABEL_WIDTH - GAP, 0));
      clipscope_grid_part_place (row, 0, top + i * ROW_HEIGHT, width, ROW_HEIGHT);
    }
}

static void
move_cursor (ClipscopeProbabilityView *self,
             int                       cursor)
{
  GtkWidget *cell;

  self->cursor = CLAMP (cursor, 0, MAX ((int) self->rows->len - 1, 0));
  cell = cursor_cell (self);
  if (cell != NULL)
    gtk_widget_grab_focus (cell);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static gboolean
key_pressed_cb (GtkEventControllerKey    *controller,
                guint                     keyval,
                guint                     keycode,
                GdkModifierType           state,
                ClipscopeProbabilityView *self)
{
  if (cursor_cell (self) == NULL)
    return FALSE;
  switch (keyval)
    {
    case GDK_KEY_Up: case GDK_KEY_KP_Up: move_cursor (self, self->cursor - 1); return TRUE;
    case GDK_KEY_Down: case GDK_KEY_KP_Down: move_cursor (self, self->cursor + 1); return TRUE;
    case GDK_KEY_Home: case GDK_KEY_KP_Home: move_cursor (self, 0); return TRUE;
    case GDK_KEY_End: case GDK_KEY_KP_End: move_cursor (self, (int) self->rows->len - 1); return TRUE;
    default: return FALSE;
    }
}

/* One Tab stop for all the bars. */
static gboolean
clipscope_probability_view_focus (GtkWidget        *widget,
                                  GtkDirectionType  direction)
{
  ClipscopeProbabilityView *self = CLIPSCOPE_PROBABILITY_VIEW (widget);
  GtkWidget *cell = cursor_cell (self);

  if (cell == NULL || gtk_widget_get_focus_child (widget) != NULL)
    return FALSE;
  gtk_widget_grab_focus (cell);
  gtk_widget_queue_draw (widget);
  return TRUE;
}

static void
focus_changed_cb (ClipscopeProbabilityView *self)
{
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
copy_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  GtkWidget *cell = cursor_cell (CLIPSCOPE_PROBABILITY_VIEW (widget));

  if (cell != NULL)
    gdk_clipboard_set_text (gtk_widget_get_clipboard (widget),
                            clipscope_grid_part_get_label (CLIPSCOPE_GRID_PART (cell)));
}

static void
scores_changed_cb (ClipscopeProbabilityView *self)
{
  sync_parts (self);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

static void
clipscope_probability_view_dispose (GObject *object)
{
  ClipscopeProbabilityView *self = CLIPSCOPE_PROBABILITY_VIEW (object);

  clipscope_probability_view_set_session (self, NULL);
  if (self->rows != NULL)
    {
      for (guint i = 0; i < self->rows->len; i++)
        gtk_widget_unparent (g_ptr_array_index (self->rows, i));
      g_clear_pointer (&self->rows, g_ptr_array_unref);
    }
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
  widget_class->size_allocate = clipscope_probability_view_size_allocate;
  widget_class->focus = clipscope_probability_view_focus;
  gtk_widget_class_install_action (widget_class, "probabilities.copy", NULL, copy_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_c, GDK_CONTROL_MASK, "probabilities.copy", NULL);
  gtk_widget_class_set_css_name (widget_class, "probabilities");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GRID);
}

static void
clipscope_probability_view_init (ClipscopeProbabilityView *self)
{
  GtkEventController *keys = gtk_event_controller_key_new ();
  GtkEventController *focus = gtk_event_controller_focus_new ();

  self->rows = g_ptr_array_new ();
  self->row = -1;
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Probability of each label"), -1);
  g_signal_connect (keys, "key-pressed", G_CALLBACK (key_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), keys);
  g_signal_connect_swapped (focus, "enter", G_CALLBACK (focus_changed_cb), self);
  g_signal_connect_swapped (focus, "leave", G_CALLBACK (focus_changed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), focus);
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
  sync_parts (self);
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
  sync_parts (self);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}
