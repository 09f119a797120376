/* clipscope-preferences-window.c — the settings a person may change
 *
 * Every row of the General page is bound to its GSettings key, so changes
 * apply at once and the open window follows them. The Models page
 * installs and removes models; "Use" loads one in the window the
 * Preferences were opened from.
 */
#include "clipscope-application.h"
#include <glib/gi18n.h>
#include "clipscope-models.h"
#include "clipscope-models-page.h"
#include "clipscope-preferences-window.h"
#include "clipscope-window.h"

struct _ClipscopePreferencesWindow {
  ClipscopePreferencesParent parent_instance;

  /* Template Widgets */
  GtkSwitch            *show_values_switch;
  GtkSwitch            *probabilities_switch;
  GtkSpinButton        *max_images_spin;
  GtkSwitch            *fixed_scale_switch;
  GtkSpinButton        *scale_low_spin;
  GtkSpinButton        *scale_high_spin;
  AdwComboRow          *precision_row;

  /* Owned References */
  GSettings            *settings;
  ClipscopeModelsPage  *models_page;
  GtkWindow            *parent;

  guint                 closing_confirmed : 1;
};

G_DEFINE_FINAL_TYPE (ClipscopePreferencesWindow, clipscope_preferences_window, CLIPSCOPE_TYPE_PREFERENCES_PARENT)

static ClipscopeWindow *
get_target_window (ClipscopePreferencesWindow *self)
{
  return CLIPSCOPE_IS_WINDOW (self->parent) ? CLIPSCOPE_WINDOW (self->parent) : NULL;
}

static void
model_path_changed_cb (ClipscopePreferencesWindow *self)
{
  ClipscopeWindow *window = get_target_window (self);
  ClipscopeSession *session = window != NULL ? clipscope_window_get_session (window) : NULL;

  clipscope_models_page_set_active_folder (self->models_page,
                                           session != NULL ? clipscope_session_get_model_path (session) : NULL);
}

static void
use_model_cb (ClipscopePreferencesWindow *self,
              const char                 *name,
              const char                 *path)
{
  ClipscopeWindow *window = get_target_window (self);
  g_autofree char *message = NULL;

  if (window == NULL)
    {
      clipscope_add_preferences_toast (GTK_WIDGET (self), adw_toast_new (_("There is no window to load the model in")));
      return;
    }
  clipscope_window_load_model (window, path);
  message = g_strdup_printf (_("Loading “%s”…"), name);
  clipscope_add_preferences_toast (GTK_WIDGET (self), adw_toast_new (message));
}

/* The models page marks the model of the window it serves. */
static void
set_parent (ClipscopePreferencesWindow *self,
            GtkWindow                  *parent)
{
  ClipscopeWindow *window;

  g_set_weak_pointer (&self->parent, parent);
  window = get_target_window (self);
  if (window != NULL)
    g_signal_connect_object (clipscope_window_get_session (window), "notify::model-path",
                             G_CALLBACK (model_path_changed_cb), self, G_CONNECT_SWAPPED);
  model_path_changed_cb (self);
}

static void
close_now (ClipscopePreferencesWindow *self)
{
#if CLIPSCOPE_HAVE_ADW_DIALOG
  adw_dialog_force_close (ADW_DIALOG (self));
#else
  gtk_window_close (GTK_WINDOW (self));
#endif
}

static void
stop_downloads_response_cb (GtkWidget                  *alert,
                            const char                 *response,
                            ClipscopePreferencesWindow *self)
{
  if (g_strcmp0 (response, "stop") != 0)
    return;
  clipscope_models_page_cancel_downloads (self->models_page);
  self->closing_confirmed = TRUE;
  close_now (self);
}

/* Downloads belong to this window: closing it stops them, which is worth
 * a question when one is running. Returns whether it may close now. */
static gboolean
may_close (ClipscopePreferencesWindow *self)
{
  guint n = clipscope_models_page_get_n_downloads (self->models_page);
  GtkWidget *alert;

  if (n == 0 || self->closing_confirmed)
    return TRUE;

  alert = clipscope_alert_new (ngettext ("Stop the Download?", "Stop the Downloads?", n),
                               _("Closing the Preferences stops downloading. What is downloaded "
                                 "so far is kept, and the download resumes from there next time."));
  clipscope_alert_add_response (alert, "keep", _("_Keep Downloading"), ADW_RESPONSE_DEFAULT);
  clipscope_alert_add_response (alert, "stop", _("_Stop and Close"), ADW_RESPONSE_DESTRUCTIVE);
  clipscope_alert_set_default_response (alert, "keep");
  clipscope_alert_set_close_response (alert, "keep");
  g_signal_connect_object (alert, "response", G_CALLBACK (stop_downloads_response_cb), self, 0);
  clipscope_dialog_present (alert, GTK_WIDGET (self));
  return FALSE;
}

#if CLIPSCOPE_HAVE_ADW_DIALOG
/* Called on every close, as the dialog is made with "can-close" off. */
static void
clipscope_preferences_window_close_attempt (AdwDialog *dialog)
{
  if (may_close (CLIPSCOPE_PREFERENCES_WINDOW (dialog)))
    adw_dialog_force_close (dialog);
}
#else
static gboolean
clipscope_preferences_window_close_request (GtkWindow *window)
{
  if (may_close (CLIPSCOPE_PREFERENCES_WINDOW (window)))
    return GTK_WINDOW_CLASS (clipscope_preferences_window_parent_class)->close_request (window);
  return TRUE;
}
#endif

/* The key's choices, in the order of the combo row's items. */
static const struct {
  const char         *key;
  ClipscopePrecision  precision;
} precisions[] = {
  { "f32", CLIPSCOPE_PRECISION_F32 },
  { "bf16", CLIPSCOPE_PRECISION_BF16 },
  { "int8", CLIPSCOPE_PRECISION_INT8 },
};

/* The precisions the row offers: those that compute here. */
typedef struct {
  guint n;
  guint shown[G_N_ELEMENTS (precisions)];   /* row position → precisions[] */
} Shown;

static gboolean
precision_get_mapping (GValue   *value,
                       GVariant *variant,
                       gpointer  user_data)
{
  const Shown *sh = user_data;
  const char *precision = g_variant_get_string (variant, NULL);
  guint pos = 0;

  /* A choice that cannot run here (settings from another computer)
   * shows as Float32, which is what the window then computes in. */
  for (guint i = 0; i < sh->n; i++)
    if (g_strcmp0 (precision, precisions[sh->shown[i]].key) == 0)
      pos = i;
  g_value_set_uint (value, pos);
  return TRUE;
}

static GVariant *
precision_set_mapping (const GValue       *value,
                       const GVariantType *expected_type,
                       gpointer            user_data)
{
  const Shown *sh = user_data;
  guint i = g_value_get_uint (value);

  return i < sh->n ? g_variant_new_string (precisions[sh->shown[i]].key) : NULL;
}

/* Only the precisions that compute here are offered; the row says why the
 * others are not, and cannot be changed where Float32 alone can run. */
static void
bind_precision (ClipscopePreferencesWindow *self)
{
  GtkStringList *items = GTK_STRING_LIST (adw_combo_row_get_model (self->precision_row));
  gboolean bf16 = clipscope_precision_available (CLIPSCOPE_PRECISION_BF16);
  gboolean int8 = clipscope_precision_available (CLIPSCOPE_PRECISION_INT8);
  Shown *sh = g_new0 (Shown, 1);
  const char *why = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (precisions); i++)
    if (clipscope_precision_available (precisions[i].precision))
      sh->shown[sh->n++] = i;
  for (guint i = G_N_ELEMENTS (precisions); i-- > 0;)
    if (!clipscope_precision_available (precisions[i].precision))
      gtk_string_list_remove (items, i);
  if (!bf16 && !int8)
    why = _("BFloat16 needs a CPU with AVX-512 BF16 or AMX, Int8 one with AVX-512 VNNI or AMX, and "
            "both a Clipscope built with oneDNN; this computer computes in Float32");
  else if (!bf16)
    why = _("BFloat16 needs a CPU with AVX-512 BF16 or AMX");
  else if (!int8)
    why = _("Int8 needs a CPU with AVX-512 VNNI or AMX");
  if (why != NULL)
    {
      adw_combo_row_set_use_subtitle (self->precision_row, FALSE);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (self->precision_row), why);
    }
  if (sh->n < 2)
    {
      adw_combo_row_set_selected (self->precision_row, 0);
      gtk_widget_set_sensitive (GTK_WIDGET (self->precision_row), FALSE);
      g_free (sh);
      return;
    }
  g_settings_bind_with_mapping (self->settings, "precision", self->precision_row, "selected",
                                G_SETTINGS_BIND_DEFAULT, precision_get_mapping, precision_set_mapping,
                                sh, g_free);
}

static void
clipscope_preferences_window_dispose (GObject *object)
{
  ClipscopePreferencesWindow *self = CLIPSCOPE_PREFERENCES_WINDOW (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), CLIPSCOPE_TYPE_PREFERENCES_WINDOW);
  g_clear_object (&self->settings);
  g_clear_object (&self->models_page);
  g_clear_weak_pointer (&self->parent);
  G_OBJECT_CLASS (clipscope_preferences_window_parent_class)->dispose (object);
}

static void
clipscope_preferences_window_class_init (ClipscopePreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = clipscope_preferences_window_dispose;
#if CLIPSCOPE_HAVE_ADW_DIALOG
  ADW_DIALOG_CLASS (klass)->close_attempt = clipscope_preferences_window_close_attempt;
#else
  GTK_WINDOW_CLASS (klass)->close_request = clipscope_preferences_window_close_request;
#endif

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/clipscope/Clipscope/clipscope-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, ClipscopePreferencesWindow, show_values_switch);
  gtk_widget_class_bind_template_child (widget_class, ClipscopePreferencesWindow, probabilities_switch);
  gtk_widget_class_bind_template_child (widget_class, ClipscopePreferencesWindow, max_images_spin);
  gtk_widget_class_bind_template_child (widget_class, ClipscopePreferencesWindow, fixed_scale_switch);
  gtk_widget_class_bind_template_child (widget_class, ClipscopePreferencesWindow, scale_low_spin);
  gtk_widget_class_bind_template_child (widget_class, ClipscopePreferencesWindow, scale_high_spin);
  gtk_widget_class_bind_template_child (widget_class, ClipscopePreferencesWindow, precision_row);
}

static void
clipscope_preferences_window_init (ClipscopePreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
#if CLIPSCOPE_HAVE_ADW_DIALOG
  adw_dialog_set_content_width (ADW_DIALOG (self), 640);
  adw_dialog_set_content_height (ADW_DIALOG (self), 640);
  adw_dialog_set_can_close (ADW_DIALOG (self), FALSE);
#else
  gtk_window_set_modal (GTK_WINDOW (self), TRUE);
  gtk_window_set_default_size (GTK_WINDOW (self), 640, 640);
#endif

  self->settings = clipscope_settings_new ();
  g_settings_bind (self->settings, "show-values", self->show_values_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "show-probabilities", self->probabilities_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "max-folder-images", self->max_images_spin, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "fixed-scale", self->fixed_scale_switch, "active", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "scale-low", self->scale_low_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "scale-high", self->scale_high_spin, "value", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "fixed-scale", self->scale_low_spin, "sensitive", G_SETTINGS_BIND_GET);
  g_settings_bind (self->settings, "fixed-scale", self->scale_high_spin, "sensitive", G_SETTINGS_BIND_GET);
  bind_precision (self);

  /* Built here rather than in the template: it needs the store. */
  self->models_page = g_object_ref_sink (CLIPSCOPE_MODELS_PAGE (clipscope_models_page_new (clipscope_models_get_store ())));
#if CLIPSCOPE_HAVE_ADW_DIALOG
  adw_preferences_dialog_add (ADW_PREFERENCES_DIALOG (self), ADW_PREFERENCES_PAGE (self->models_page));
#else
  adw_preferences_window_add (ADW_PREFERENCES_WINDOW (self), ADW_PREFERENCES_PAGE (self->models_page));
#endif
  g_signal_connect_object (self->models_page, "use-model", G_CALLBACK (use_model_cb), self, G_CONNECT_SWAPPED);
}

/**
 * clipscope_preferences_window_new:
 * @parent: (nullable): the window the Preferences serve
 */
GtkWidget *
clipscope_preferences_window_new (GtkWindow *parent)
{
  ClipscopePreferencesWindow *self = g_object_new (CLIPSCOPE_TYPE_PREFERENCES_WINDOW, NULL);

#if !CLIPSCOPE_HAVE_ADW_DIALOG
  gtk_window_set_transient_for (GTK_WINDOW (self), parent);
#endif
  set_parent (self, parent);
  return GTK_WIDGET (self);
}

/** clipscope_preferences_window_present: Shows the Preferences over their window. */
void
clipscope_preferences_window_present (ClipscopePreferencesWindow *self)
{
  g_return_if_fail (CLIPSCOPE_IS_PREFERENCES_WINDOW (self));

#if CLIPSCOPE_HAVE_ADW_DIALOG
  adw_dialog_present (ADW_DIALOG (self), GTK_WIDGET (self->parent));
#else
  gtk_window_present (GTK_WINDOW (self));
#endif
}

/** clipscope_preferences_window_show_models: Turns to the Models page. */
void
clipscope_preferences_window_show_models (ClipscopePreferencesWindow *self)
{
  g_return_if_fail (CLIPSCOPE_IS_PREFERENCES_WINDOW (self));

#if CLIPSCOPE_HAVE_ADW_DIALOG
  adw_preferences_dialog_set_visible_page (ADW_PREFERENCES_DIALOG (self), ADW_PREFERENCES_PAGE (self->models_page));
#else
  adw_preferences_window_set_visible_page (ADW_PREFERENCES_WINDOW (self), ADW_PREFERENCES_PAGE (self->models_page));
#endif
}
