/* clipscope-template.c — one prompt template in the editor */
#include "clipscope-template.h"

#include <clipscope.h>

struct _ClipscopeTemplate {
  GObject   parent_instance;

  char     *text;
  gboolean  enabled;
};

G_DEFINE_FINAL_TYPE (ClipscopeTemplate, clipscope_template, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_TEXT,
  PROP_ENABLED,
  PROP_VALID,
  N_PROPS,
};

static GParamSpec *properties[N_PROPS];

static void
clipscope_template_finalize (GObject *object)
{
  ClipscopeTemplate *self = CLIPSCOPE_TEMPLATE (object);

  g_free (self->text);
  G_OBJECT_CLASS (clipscope_template_parent_class)->finalize (object);
}

static void
clipscope_template_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  ClipscopeTemplate *self = CLIPSCOPE_TEMPLATE (object);

  switch (prop_id)
    {
    case PROP_TEXT:
      g_value_set_string (value, self->text);
      break;
    case PROP_ENABLED:
      g_value_set_boolean (value, self->enabled);
      break;
    case PROP_VALID:
      g_value_set_boolean (value, clipscope_template_get_valid (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
clipscope_template_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  ClipscopeTemplate *self = CLIPSCOPE_TEMPLATE (object);

  switch (prop_id)
    {
    case PROP_TEXT:
      clipscope_template_set_text (self, g_value_get_string (value));
      break;
    case PROP_ENABLED:
      clipscope_template_set_enabled (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
clipscope_template_class_init (ClipscopeTemplateClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = clipscope_template_finalize;
  object_class->get_property = clipscope_template_get_property;
  object_class->set_property = clipscope_template_set_property;

  properties[PROP_TEXT] =
    g_param_spec_string ("text", NULL, NULL, "",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ENABLED] =
    g_param_spec_boolean ("enabled", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_VALID] =
    g_param_spec_boolean ("valid", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
clipscope_template_init (ClipscopeTemplate *self)
{
  self->text = g_strdup ("");
  self->enabled = TRUE;
}

ClipscopeTemplate *
clipscope_template_new (const char *text,
                        gboolean    enabled)
{
  return g_object_new (CLIPSCOPE_TYPE_TEMPLATE, "text", text, "enabled", enabled, NULL);
}

const char *
clipscope_template_get_text (ClipscopeTemplate *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_TEMPLATE (self), NULL);
  return self->text;
}

void
clipscope_template_set_text (ClipscopeTemplate *self,
                             const char        *text)
{
  gboolean was_valid;

  g_return_if_fail (CLIPSCOPE_IS_TEMPLATE (self));

  if (text == NULL)
    text = "";
  if (g_strcmp0 (self->text, text) == 0)
    return;
  was_valid = clipscope_template_get_valid (self);
  g_free (self->text);
  self->text = g_strdup (text);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TEXT]);
  if (was_valid != clipscope_template_get_valid (self))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VALID]);
}

gboolean
clipscope_template_get_enabled (ClipscopeTemplate *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_TEMPLATE (self), FALSE);
  return self->enabled;
}

void
clipscope_template_set_enabled (ClipscopeTemplate *self,
                                gboolean           enabled)
{
  g_return_if_fail (CLIPSCOPE_IS_TEMPLATE (self));

  enabled = !!enabled;
  if (self->enabled == enabled)
    return;
  self->enabled = enabled;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ENABLED]);
}

/* A template without exactly one "{}" would put no label into the prompt,
 * so it is flagged in the editor and left out of scoring. */
gboolean
clipscope_template_get_valid (ClipscopeTemplate *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_TEMPLATE (self), FALSE);
  return clipscope_template_is_valid (self->text);
}
