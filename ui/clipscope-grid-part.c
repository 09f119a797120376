/* clipscope-grid-part.c — the accessible rows and cells of a drawn grid
 *
 * The heatmap and the probability bars are drawn by their views as render
 * nodes. A screen reader cannot read pixels, so each view also holds a
 * tree of these parts, which draw nothing and take no pointer events: a
 * row (GTK_ACCESSIBLE_ROLE_ROW) holds its header and its cells, and each
 * cell carries the name a screen reader speaks and takes the keyboard
 * focus, which the view then draws as a ring. A row lays its children out
 * side by side at the spans its view gave them.
 */
#include "clipscope-grid-part.h"

struct _ClipscopeGridPart {
  GtkWidget  parent_instance;

  int        row;
  int        column;
  int        x;        /* within the row, for a cell or a header */
  int        width;
  char      *label;
};

G_DEFINE_FINAL_TYPE (ClipscopeGridPart, clipscope_grid_part, GTK_TYPE_WIDGET)

static void
clipscope_grid_part_size_allocate (GtkWidget *widget,
                                   int        width,
                                   int        height,
                                   int        baseline)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      ClipscopeGridPart *part = CLIPSCOPE_GRID_PART (child);

      clipscope_grid_part_place (child, part->x, 0, part->width, height);
    }
}

static void
clipscope_grid_part_dispose (GObject *object)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (object))) != NULL)
    gtk_widget_unparent (child);
  G_OBJECT_CLASS (clipscope_grid_part_parent_class)->dispose (object);
}

static void
clipscope_grid_part_finalize (GObject *object)
{
  g_free (CLIPSCOPE_GRID_PART (object)->label);
  G_OBJECT_CLASS (clipscope_grid_part_parent_class)->finalize (object);
}

static void
clipscope_grid_part_class_init (ClipscopeGridPartClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = clipscope_grid_part_dispose;
  object_class->finalize = clipscope_grid_part_finalize;
  widget_class->size_allocate = clipscope_grid_part_size_allocate;
  gtk_widget_class_set_css_name (widget_class, "gridpart");
}

static void
clipscope_grid_part_init (ClipscopeGridPart *self)
{
  gtk_widget_set_can_target (GTK_WIDGET (self), FALSE);
}

/**
 * clipscope_grid_part_new:
 * @row: the row it belongs to, -1 for the column headers' row
 * @column: its column, -1 for a row or a row header
 *
 * A cell (%GTK_ACCESSIBLE_ROLE_GRID_CELL) can take the focus; the others
 * cannot.
 */
GtkWidget *
clipscope_grid_part_new (GtkAccessibleRole role,
                         int               row,
                         int               column)
{
  ClipscopeGridPart *self = g_object_new (CLIPSCOPE_TYPE_GRID_PART, "accessible-role", role, NULL);

  self->row = row;
  self->column = column;
  gtk_widget_set_focusable (GTK_WIDGET (self), role == GTK_ACCESSIBLE_ROLE_GRID_CELL);
  return GTK_WIDGET (self);
}

int
clipscope_grid_part_get_row (ClipscopeGridPart *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_GRID_PART (self), -1);
  return self->row;
}

int
clipscope_grid_part_get_column (ClipscopeGridPart *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_GRID_PART (self), -1);
  return self->column;
}

/* Only a changed name is passed on, so refreshing every cell after each
 * score costs the accessibility bus nothing for the ones that stayed. */
void
clipscope_grid_part_set_label (ClipscopeGridPart *self,
                               const char        *label)
{
  g_return_if_fail (CLIPSCOPE_IS_GRID_PART (self));

  if (g_strcmp0 (self->label, label) == 0)
    return;
  g_free (self->label);
  self->label = g_strdup (label);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
}

const char *
clipscope_grid_part_get_label (ClipscopeGridPart *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_GRID_PART (self), NULL);
  return self->label;
}

void
clipscope_grid_part_set_span (ClipscopeGridPart *self,
                              int                x,
                              int                width)
{
  g_return_if_fail (CLIPSCOPE_IS_GRID_PART (self));

  self->x = x;
  self->width = width;
}

/* Measures (as GTK asks before any allocation) and places @part. */
void
clipscope_grid_part_place (GtkWidget *part,
                           int        x,
                           int        y,
                           int        width,
                           int        height)
{
  int unused;

  gtk_widget_measure (part, GTK_ORIENTATION_HORIZONTAL, -1, &unused, NULL, NULL, NULL);
  gtk_widget_measure (part, GTK_ORIENTATION_VERTICAL, -1, &unused, NULL, NULL, NULL);
  gtk_widget_size_allocate (part, &(GtkAllocation) { x, y, MAX (width, 0), MAX (height, 0) }, -1);
}

GtkWidget *
clipscope_grid_part_nth_child (GtkWidget *parent,
                               guint      n)
{
  GtkWidget *child = gtk_widget_get_first_child (parent);

  for (guint i = 0; child != NULL && i < n; i++)
    child = gtk_widget_get_next_sibling (child);
  return child;
}

/* Removes the children of @parent past the first @n. */
void
clipscope_grid_part_trim (GtkWidget *parent,
                          guint      n)
{
  GtkWidget *child = clipscope_grid_part_nth_child (parent, n);

  while (child != NULL)
    {
      GtkWidget *next = gtk_widget_get_next_sibling (child);

      gtk_widget_unparent (child);
      child = next;
    }
}
