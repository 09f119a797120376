/* clipscope-text-row.c — an editable, removable line of a label or template list
 *
 * The text can be bound to a model object (templates re-score as the user
 * types) or taken when editing ends through ::committed (labels, whose
 * string list replaces the row on every change).
 */
#include "clipscope-text-row.h"

struct _ClipscopeTextRow {
  GtkListBoxRow     parent_instance;

  /* Template Widgets */
  GtkCheckButton   *check;
  GtkEditableLabel *editable;
  GtkImage         *warning;
  GtkButton        *remove_button;
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
  N_SIGNALS,
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void
editable_text_cb (ClipscopeTextRow *self)
{
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
clipscope_text_row_class_init (ClipscopeTextRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

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

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/clipscope/Clipscope/clipscope-text-row.ui");
  gtk_widget_class_bind_template_child (widget_class, ClipscopeTextRow, check);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeTextRow, editable);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeTextRow, warning);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeTextRow, remove_button);
  gtk_widget_class_bind_template_callback (widget_class, editable_text_cb);
  gtk_widget_class_bind_template_callback (widget_class, editable_editing_cb);
  gtk_widget_class_bind_template_callback (widget_class, remove_clicked_cb);
}

static void
clipscope_text_row_init (ClipscopeTextRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
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
