/* clipscope-text-row.c — an editable, removable line of a label or template list
 *
 * The text can be bound to a model object (templates re-score as the user
 * types) or taken when editing ends through ::committed (labels, whose
 * string list replaces the row on every change). A label's row also takes
 * example images dropped on it, and shows their count, the mode its
 * column is scored in and the leave-one-out accuracy on them.
 */
#include "clipscope-text-row.h"
#include <glib/gi18n.h>
#include "clipscope-draw.h"

#include <math.h>

struct _ClipscopeTextRow {
  GtkListBoxRow     parent_instance;

  /* Template Widgets */
  GtkCheckButton   *check;
  GtkEditableLabel *editable;
  GtkImage         *warning;
  GtkButton        *remove_button;
  GtkLabel         *mode_tag;
  GtkMenuButton    *examples_button;
  GtkLabel         *examples_count;
  GtkLabel         *examples_heading;
  GtkListBox       *examples_list;

  /* Owned References */
  GtkDropTarget    *drop_target;     /* for label rows, else NULL */
};

G_DEFINE_FINAL_TYPE (ClipscopeTextRow, clipscope_text_row, GTK_TYPE_LIST_BOX_ROW)

enum {
  PROP_0,
  PROP_TEXT,
  PROP_ACTIVE,
  PROP_SHOW_TOGGLE,
  PROP_VALID,
  N_PROPS,
};

enum {
  SIGNAL_COMMITTED,
  SIGNAL_REMOVE,
  SIGNAL_EXAMPLES_DROPPED,
  SIGNAL_EXAMPLE_REMOVED,
  SIGNAL_EXAMPLES_CLEARED,
  N_SIGNALS,
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* The row names itself after its text, for the tooltip of a text cut
 * short and for screen readers, which would otherwise hear "Remove" on
 * every row alike. */
static void
editable_text_cb (ClipscopeTextRow *self)
{
  const char *text = clipscope_text_row_get_text (self);
  g_autofree char *remove = g_strdup_printf (_("Remove “%s”"), text);

  gtk_widget_set_tooltip_text (GTK_WIDGET (self->editable), text);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->remove_button),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, remove, -1);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->editable),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, text, -1);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TEXT]);
}

static void
editable_editing_cb (ClipscopeTextRow *self)
{
  if (!gtk_editable_label_get_editing (self->editable))
    g_signal_emit (self, signals[SIGNAL_COMMITTED], 0, clipscope_text_row_get_text (self));
}

static void
remove_clicked_cb (ClipscopeTextRow *self)
{
  g_signal_emit (self, signals[SIGNAL_REMOVE], 0);
}

static void
clear_examples_clicked_cb (ClipscopeTextRow *self)
{
  gtk_menu_button_popdown (self->examples_button);
  g_signal_emit (self, signals[SIGNAL_EXAMPLES_CLEARED], 0);
}

static void
example_remove_clicked_cb (GtkButton        *button,
                           ClipscopeTextRow *self)
{
  g_autofree char *path = g_strdup (g_object_get_data (G_OBJECT (button), "clipscope-path"));

  g_signal_emit (self, signals[SIGNAL_EXAMPLE_REMOVED], 0, path);
}

static gboolean
drop_cb (GtkDropTarget    *target,
         const GValue     *value,
         double            x,
         double            y,
         ClipscopeTextRow *self)
{
  GSList *files = g_value_get_boxed (value);

  if (files == NULL)
    return FALSE;
  g_signal_emit (self, signals[SIGNAL_EXAMPLES_DROPPED], 0, files);
  return TRUE;
}

static GtkWidget *
example_row_new (ClipscopeTextRow *self,
                 const char       *path)
{
  g_autofree char *name = g_path_get_basename (path);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *label = gtk_label_new (name);
  GtkWidget *remove = gtk_button_new_from_icon_name ("list-remove-symbolic");

  gtk_widget_set_margin_start (box, 8);
  gtk_widget_set_margin_end (box, 4);
  gtk_widget_set_margin_top (box, 2);
  gtk_widget_set_margin_bottom (box, 2);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_MIDDLE);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_set_hexpand (label, TRUE);
  gtk_widget_set_tooltip_text (label, path);
  gtk_widget_set_tooltip_text (remove, _("Remove This Example"));
  gtk_widget_add_css_class (remove, "flat");
  gtk_widget_add_css_class (remove, "circular");
  g_object_set_data_full (G_OBJECT (remove), "clipscope-path", g_strdup (path), g_free);
  g_signal_connect (remove, "clicked", G_CALLBACK (example_remove_clicked_cb), self);
  gtk_box_append (GTK_BOX (box), label);
  gtk_box_append (GTK_BOX (box), remove);
  return box;
}

static void
check_active_cb (ClipscopeTextRow *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACTIVE]);
}

static void
set_valid (ClipscopeTextRow *self,
           gboolean          valid)
{
  gtk_widget_set_visible (GTK_WIDGET (self->warning), !valid);
  if (valid)
    gtk_widget_remove_css_class (GTK_WIDGET (self->editable), "error");
  else
    gtk_widget_add_css_class (GTK_WIDGET (self->editable), "error");
}

static void
clipscope_text_row_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  ClipscopeTextRow *self = CLIPSCOPE_TEXT_ROW (object);

  switch (prop_id)
    {
    case PROP_TEXT:
      g_value_set_string (value, clipscope_text_row_get_text (self));
      break;
    case PROP_ACTIVE:
      g_value_set_boolean (value, gtk_check_button_get_active (self->check));
      break;
    case PROP_SHOW_TOGGLE:
      g_value_set_boolean (value, gtk_widget_get_visible (GTK_WIDGET (self->check)));
      break;
    case PROP_VALID:
      g_value_set_boolean (value, !gtk_widget_get_visible (GTK_WIDGET (self->warning)));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
clipscope_text_row_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  ClipscopeTextRow *self = CLIPSCOPE_TEXT_ROW (object);

  switch (prop_id)
    {
    case PROP_TEXT:
      clipscope_text_row_set_text (self, g_value_get_string (value));
      break;
    case PROP_ACTIVE:
      gtk_check_button_set_active (self->check, g_value_get_boolean (value));
      break;
    case PROP_SHOW_TOGGLE:
      gtk_widget_set_visible (GTK_WIDGET (self->check), g_value_get_boolean (value));
      break;
    case PROP_VALID:
      set_valid (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
clipscope_text_row_dispose (GObject *object)
{
  ClipscopeTextRow *self = CLIPSCOPE_TEXT_ROW (object);

  g_clear_object (&self->drop_target);
  G_OBJECT_CLASS (clipscope_text_row_parent_class)->dispose (object);
}

static void
clipscope_text_row_class_init (ClipscopeTextRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = clipscope_text_row_dispose;
  object_class->get_property = clipscope_text_row_get_property;
  object_class->set_property = clipscope_text_row_set_property;

  properties[PROP_TEXT] =
    g_param_spec_string ("text", NULL, NULL, "",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ACTIVE] =
    g_param_spec_boolean ("active", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SHOW_TOGGLE] =
    g_param_spec_boolean ("show-toggle", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_VALID] =
    g_param_spec_boolean ("valid", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * ClipscopeTextRow::committed:
   * @text: the text as editing ended
   */
  signals[SIGNAL_COMMITTED] =
    g_signal_new ("committed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * ClipscopeTextRow::remove:
   *
   * The remove button was clicked.
   */
  signals[SIGNAL_REMOVE] =
    g_signal_new ("remove", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /**
   * ClipscopeTextRow::examples-dropped:
   * @files: (element-type GFile): files dropped on a label's row
   */
  signals[SIGNAL_EXAMPLES_DROPPED] =
    g_signal_new ("examples-dropped", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, GDK_TYPE_FILE_LIST);
  /**
   * ClipscopeTextRow::example-removed:
   * @path: the example whose remove button was clicked
   */
  signals[SIGNAL_EXAMPLE_REMOVED] =
    g_signal_new ("example-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /** ClipscopeTextRow::examples-cleared: "Clear Examples" was clicked. */
  signals[SIGNAL_EXAMPLES_CLEARED] =
    g_signal_new ("examples-cleared", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/clipscope/Clipscope/clipscope-text-row.ui");
  gtk_widget_class_bind_template_child (widget_class, ClipscopeTextRow, check);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeTextRow, editable);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeTextRow, warning);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeTextRow, remove_button);
  gtk_widget_class_bind_template_callback (widget_class, editable_text_cb);
  gtk_widget_class_bind_template_callback (widget_class, editable_editing_cb);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeTextRow, mode_tag);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeTextRow, examples_button);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeTextRow, examples_count);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeTextRow, examples_heading);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeTextRow, examples_list);
  gtk_widget_class_bind_template_callback (widget_class, remove_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, clear_examples_clicked_cb);
}

/* Delete on the row's text (while not editing it) removes the row, as
 * its remove button does. */
static gboolean
key_pressed_cb (GtkEventControllerKey *controller,
                guint                  keyval,
                guint                  keycode,
                GdkModifierType        state,
                ClipscopeTextRow      *self)
{
  if ((keyval != GDK_KEY_Delete && keyval != GDK_KEY_KP_Delete)
      || gtk_editable_label_get_editing (self->editable))
    return FALSE;
  g_signal_emit (self, signals[SIGNAL_REMOVE], 0);
  return TRUE;
}

static void
clipscope_text_row_init (ClipscopeTextRow *self)
{
  GtkEventController *keys = gtk_event_controller_key_new ();

  gtk_widget_init_template (GTK_WIDGET (self));
  /* Fewer Tab stops per row: the text (Delete removes the row) and the
   * examples, not the row itself nor its remove button. */
  gtk_widget_set_focusable (GTK_WIDGET (self), FALSE);
  gtk_widget_set_focusable (GTK_WIDGET (self->remove_button), FALSE);
  g_signal_connect (keys, "key-pressed", G_CALLBACK (key_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), keys);
  /* A long label is cut short instead of widening the sidebar. */
  clipscope_widget_ellipsize_labels (GTK_WIDGET (self->editable));
  g_signal_connect_swapped (self->check, "notify::active", G_CALLBACK (check_active_cb), self);
}

GtkWidget *
clipscope_text_row_new (const char *text,
                        gboolean    show_toggle)
{
  return g_object_new (CLIPSCOPE_TYPE_TEXT_ROW, "text", text, "show-toggle", show_toggle, NULL);
}

const char *
clipscope_text_row_get_text (ClipscopeTextRow *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_TEXT_ROW (self), NULL);
  return gtk_editable_get_text (GTK_EDITABLE (self->editable));
}

void
clipscope_text_row_set_text (ClipscopeTextRow *self,
                             const char       *text)
{
  g_return_if_fail (CLIPSCOPE_IS_TEXT_ROW (self));

  if (g_strcmp0 (text, clipscope_text_row_get_text (self)) != 0)
    gtk_editable_set_text (GTK_EDITABLE (self->editable), text != NULL ? text : "");
}

/**
 * clipscope_text_row_accept_examples:
 *
 * Makes this a label's row: image files dropped on it are announced by
 * ::examples-dropped, and the examples button shows.
 */
void
clipscope_text_row_accept_examples (ClipscopeTextRow *self)
{
  g_return_if_fail (CLIPSCOPE_IS_TEXT_ROW (self));

  if (self->drop_target != NULL)
    return;
  self->drop_target = g_object_ref (gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY));
  g_signal_connect (self->drop_target, "drop", G_CALLBACK (drop_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (self->drop_target));
  gtk_widget_set_visible (GTK_WIDGET (self->examples_button), TRUE);
  gtk_widget_set_visible (GTK_WIDGET (self->mode_tag), TRUE);
}

/** clipscope_text_row_get_drop_target: Returns: (transfer none) (nullable): the examples' drop target */
GtkDropTarget *
clipscope_text_row_get_drop_target (ClipscopeTextRow *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_TEXT_ROW (self), NULL);
  return self->drop_target;
}

/* The engine's name of a mode, as the tag shows it. */
static const char *
mode_title (const char *mode)
{
  if (g_strcmp0 (mode, "zero-shot") == 0)
    return C_("how a label is scored", "zero-shot");
  if (g_strcmp0 (mode, "prototype") == 0)
    return C_("how a label is scored", "prototype");
  if (g_strcmp0 (mode, "probe") == 0)
    return C_("how a label is scored", "probe");
  return mode;
}

/**
 * clipscope_text_row_set_examples:
 * @paths: the label's examples
 * @mode: how the label is scored ("zero-shot", "prototype" or "probe")
 * @accuracy: the leave-one-out accuracy on the examples, or NaN
 */
void
clipscope_text_row_set_examples (ClipscopeTextRow   *self,
                                 const char * const *paths,
                                 const char         *mode,
                                 double              accuracy)
{
  guint n = paths != NULL ? g_strv_length ((char **) paths) : 0;
  g_autofree char *count = g_strdup_printf ("%u", n);
  g_autofree char *tag = NULL;
  g_autofree char *heading = NULL;
  GtkWidget *child;

  g_return_if_fail (CLIPSCOPE_IS_TEXT_ROW (self));

  gtk_label_set_label (self->examples_count, count);
  /* A count of zero would read as an error; the icon alone invites a drop. */
  gtk_widget_set_visible (GTK_WIDGET (self->examples_count), n > 0);
  if (isnan (accuracy))
    tag = g_strdup (mode_title (mode));
  else
    tag = g_strdup_printf ("%s · %.0f %%", mode_title (mode), accuracy * 100.0);
  gtk_label_set_label (self->mode_tag, tag);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->mode_tag),
                               isnan (accuracy) ? _("How this label is scored")
                                                : _("How this label is scored, and the share of its examples it "
                                                    "gets right when each is left out (leave-one-out accuracy)"));
  gtk_widget_remove_css_class (GTK_WIDGET (self->mode_tag), "zero-shot");
  gtk_widget_remove_css_class (GTK_WIDGET (self->mode_tag), "prototype");
  gtk_widget_remove_css_class (GTK_WIDGET (self->mode_tag), "probe");
  gtk_widget_add_css_class (GTK_WIDGET (self->mode_tag), mode);

  heading = n == 0 ? g_strdup (_("No examples yet: drop images on this label"))
                   : g_strdup_printf (ngettext ("%u example", "%u examples", n), n);
  gtk_label_set_label (self->examples_heading, heading);
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->examples_list))) != NULL)
    gtk_list_box_remove (self->examples_list, child);
  for (guint i = 0; i < n; i++)
    gtk_list_box_append (self->examples_list, example_row_new (self, paths[i]));
  gtk_widget_set_visible (GTK_WIDGET (self->examples_list), n > 0);
}

/** clipscope_text_row_get_mode_text: Returns: the text of the mode tag */
const char *
clipscope_text_row_get_mode_text (ClipscopeTextRow *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_TEXT_ROW (self), NULL);
  return gtk_label_get_label (self->mode_tag);
}
