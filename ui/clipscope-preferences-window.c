/* clipscope-preferences-window.c — the settings a person may change
 *
 * Every row is bound to its GSettings key, so changes apply at once and
 * the open window follows them.
 */
#include "clipscope-application.h"
#include "clipscope-preferences-window.h"

struct _ClipscopePreferencesWindow {
  AdwPreferencesWindow  parent_instance;

  /* Template Widgets */
  GtkSwitch            *show_values_switch;
  GtkSwitch            *probabilities_switch;
  GtkSpinButton        *max_images_spin;

  /* Owned References */
  GSettings            *settings;
};

G_DEFINE_FINAL_TYPE (ClipscopePreferencesWindow, clipscope_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

static void
clipscope_preferences_window_dispose (GObject *object)
{
  ClipscopePreferencesWindow *self = CLIPSCOPE_PREFERENCES_WINDOW (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), CLIPSCOPE_TYPE_PREFERENCES_WINDOW);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (clipscope_preferences_window_parent_class)->dispose (object);
}

static void
clipscope_preferences_window_class_init (ClipscopePreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = clipscope_preferences_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/clipscope/Clipscope/clipscope-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, ClipscopePreferencesWindow, show_values_switch);
  gtk_widget_class_bind_template_child (widget_class, ClipscopePreferencesWindow, probabilities_switch);
  gtk_widget_class_bind_template_child (widget_class, ClipscopePreferencesWindow, max_images_spin);
}

static void
clipscope_preferences_window_init (ClipscopePreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->settings = clipscope_settings_new ();
  g_settings_bind (self->settings, "show-values", self->show_values_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "show-probabilities", self->probabilities_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "max-folder-images", self->max_images_spin, "value",
                   G_SETTINGS_BIND_DEFAULT);
}

GtkWidget *
clipscope_preferences_window_new (GtkWindow *parent)
{
  return g_object_new (CLIPSCOPE_TYPE_PREFERENCES_WINDOW, "transient-for", parent, NULL);
}
