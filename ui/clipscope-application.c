/* clipscope-application.c — the application: command line and app actions
 *
 *   clipscope-gui [--model DIR|NAME] [--label L]… [--template T]… [--screenshot FILE] [IMAGE…]
 *
 * Each invocation opens a window; --screenshot renders it to a PNG once
 * the results are shown and quits, which the tests and the documentation
 * use.
 */
#include "clipscope-application.h"
#include <glib/gi18n.h>
#include "clipscope-models.h"
#include "clipscope-preferences-window.h"
#include "clipscope-window.h"

#include <clipscope.h>
#include <glib/gi18n.h>
#include <locale.h>

struct _ClipscopeApplication {
  AdwApplication parent_instance;
};

G_DEFINE_FINAL_TYPE (ClipscopeApplication, clipscope_application, ADW_TYPE_APPLICATION)

static const GOptionEntry option_entries[] = {
  { "model", 'm', 0, G_OPTION_ARG_FILENAME, NULL, N_("Load the model in DIR, or the installed model NAME"), N_("DIR|NAME") },
  { "label", 'l', 0, G_OPTION_ARG_STRING_ARRAY, NULL, N_("Score against label L (repeatable)"), N_("L") },
  { "template", 't', 0, G_OPTION_ARG_STRING_ARRAY, NULL, N_("Use prompt template T, with one {} (repeatable)"), N_("T") },
  { "search", 0, 0, G_OPTION_ARG_STRING, NULL, N_("Open the Search view, searching the indexed folders for Q"), N_("Q") },
  { "screenshot", 0, 0, G_OPTION_ARG_FILENAME, NULL, N_("Save the window to FILE once results are shown, then quit"), N_("FILE") },
  { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, NULL, NULL, "[IMAGE…]" },
  { NULL },
};

/**
 * clipscope_i18n_init:
 *
 * Sets the locale from the environment and binds the translations: the
 * installed ones, or those of the build tree when Clipscope runs from
 * there (as with the schema, no set-up needed).
 */
void
clipscope_i18n_init (void)
{
  g_autofree char *installed = NULL;
  const char *dir = CLIPSCOPE_LOCALE_DIR;

  setlocale (LC_ALL, "");
  installed = g_build_filename (CLIPSCOPE_LOCALE_DIR, "zh_CN", "LC_MESSAGES", GETTEXT_PACKAGE ".mo", NULL);
  if (!g_file_test (installed, G_FILE_TEST_EXISTS) && g_file_test (CLIPSCOPE_BUILD_LOCALE_DIR, G_FILE_TEST_IS_DIR))
    dir = CLIPSCOPE_BUILD_LOCALE_DIR;
  bindtextdomain (GETTEXT_PACKAGE, dir);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
}

/**
 * clipscope_settings_new:
 *
 * Opens the application's settings. An uninstalled build finds its
 * schema in the build tree, so running it from there needs no set-up.
 *
 * Returns: (transfer full): the settings
 */
GSettings *
clipscope_settings_new (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchemaSource) uninstalled = NULL;
  g_autoptr(GSettingsSchema) schema = NULL;

  if (source != NULL && (schema = g_settings_schema_source_lookup (source, CLIPSCOPE_APP_ID, TRUE)) != NULL)
    return g_settings_new_full (schema, NULL, NULL);
  uninstalled = g_settings_schema_source_new_from_directory (CLIPSCOPE_BUILD_SCHEMA_DIR, source, FALSE, NULL);
  if (uninstalled != NULL)
    schema = g_settings_schema_source_lookup (uninstalled, CLIPSCOPE_APP_ID, FALSE);
  if (schema == NULL)
    g_error ("the settings schema %s is not installed", CLIPSCOPE_APP_ID);
  return g_settings_new_full (schema, NULL, NULL);
}

/**
 * clipscope_application_dup_default_model:
 *
 * The model a window starts with when none is given: the one used last,
 * while its folder is still there, else the small model bundled with
 * Clipscope.
 *
 * Returns: (transfer full) (nullable): its folder, or %NULL when there is
 *   neither
 */
char *
clipscope_application_dup_default_model (void)
{
  g_autoptr(GSettings) settings = clipscope_settings_new ();
  g_autofree char *last = g_settings_get_string (settings, "last-model");
  g_autoptr(GError) error = NULL;
  char *bundled;

  if (*last != '\0' && g_file_test (last, G_FILE_TEST_IS_DIR))
    return g_steal_pointer (&last);
  bundled = clipscope_model_store_get_default (clipscope_models_get_store (), &error);
  if (bundled == NULL)
    g_debug ("no default model: %s", error->message);
  return bundled;
}

/* --model takes a folder or the name of an installed model. A name that
 * resolves to nothing is passed on as a folder, and loading it says what
 * is wrong. */
static char *
resolve_model_argument (const char *argument)
{
  char *path;

  if (g_file_test (argument, G_FILE_TEST_IS_DIR))
    return g_strdup (argument);
  path = clipscope_model_store_resolve (clipscope_models_get_store (), argument, NULL);
  return path != NULL ? path : g_strdup (argument);
}

static int
clipscope_application_command_line (GApplication            *application,
                                    GApplicationCommandLine *command_line)
{
  GVariantDict *options = g_application_command_line_get_options_dict (command_line);
  g_autofree char *argument = NULL;
  g_autofree char *model = NULL;
  g_autofree char *screenshot = NULL;
  const char *search = NULL;
  g_autofree char **labels = NULL;
  g_autofree char **templates = NULL;
  g_autofree char **images = NULL;
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);
  ClipscopeWindow *window;

  g_variant_dict_lookup (options, "model", "^ay", &argument);
  g_variant_dict_lookup (options, "screenshot", "^ay", &screenshot);
  g_variant_dict_lookup (options, "search", "&s", &search);
  g_variant_dict_lookup (options, "label", "^a&s", &labels);
  g_variant_dict_lookup (options, "template", "^a&s", &templates);
  g_variant_dict_lookup (options, G_OPTION_REMAINING, "^a&ay", &images);

  /* The same usage error, with the same exit status, as the CLI's. */
  for (char **t = templates; t != NULL && *t != NULL; t++)
    if (!clipscope_template_is_valid (*t))
      {
        g_application_command_line_printerr (command_line,
                                             _("clipscope-gui: error: template \"%s\" does not hold "
                                               "exactly one {} placeholder\n"), *t);
        return 2;
      }

  window = clipscope_window_new (GTK_APPLICATION (application));
  if (labels != NULL)
    clipscope_window_set_labels (window, (const char * const *) labels);
  if (templates != NULL)
    clipscope_window_set_templates (window, (const char * const *) templates);
  model = argument != NULL ? resolve_model_argument (argument) : clipscope_application_dup_default_model ();
  if (model != NULL)
    clipscope_window_load_model (window, model);
  for (char **i = images; i != NULL && *i != NULL; i++)
    g_ptr_array_add (files, g_application_command_line_create_file_for_arg (command_line, *i));
  clipscope_session_add_files (clipscope_window_get_session (window),
                               (GFile **) files->pdata, files->len);
  if (search != NULL)
    clipscope_window_show_search (window, search);
  if (screenshot != NULL)
    {
      g_autoptr(GFile) file = g_application_command_line_create_file_for_arg (command_line, screenshot);
      g_autofree char *path = g_file_get_path (file);

      clipscope_window_take_screenshot (window, path);
    }
  gtk_window_present (GTK_WINDOW (window));
  return 0;
}

static void
preferences_activated (GSimpleAction *action,
                       GVariant      *parameter,
                       gpointer       user_data)
{
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (user_data));

  GtkWidget *preferences = clipscope_preferences_window_new (parent);

  clipscope_preferences_window_present (CLIPSCOPE_PREFERENCES_WINDOW (preferences));
}

static void
about_activated (GSimpleAction *action,
                 GVariant      *parameter,
                 gpointer       user_data)
{
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (user_data));
  g_autofree char *info = clipscope_system_info ();
  GtkWidget *about;

  /* AdwAboutDialog (libadwaita 1.5) has the same properties as the window. */
#if CLIPSCOPE_HAVE_ADW_DIALOG
  about = g_object_new (ADW_TYPE_ABOUT_DIALOG,
#else
  about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
#endif
                        "application-name", "Clipscope",
                        "application-icon", CLIPSCOPE_APP_ID,
                        "version", CLIPSCOPE_VERSION,
                        "comments", _("Score images against labels with CLIP, on this computer"),
                        "license-type", GTK_LICENSE_GPL_3_0,
                        "debug-info", info,
                        NULL);
  clipscope_dialog_present (about, GTK_WIDGET (parent));
}

static void
quit_activated (GSimpleAction *action,
                GVariant      *parameter,
                gpointer       user_data)
{
  g_application_quit (G_APPLICATION (user_data));
}

static const GActionEntry app_actions[] = {
  { "preferences", preferences_activated },
  { "about", about_activated },
  { "quit", quit_activated },
};

static void
clipscope_application_startup (GApplication *application)
{
  g_autoptr(GtkCssProvider) css = gtk_css_provider_new ();

  G_APPLICATION_CLASS (clipscope_application_parent_class)->startup (application);

  g_action_map_add_action_entries (G_ACTION_MAP (application), app_actions,
                                   G_N_ELEMENTS (app_actions), application);
  gtk_application_set_accels_for_action (GTK_APPLICATION (application), "app.preferences",
                                         (const char *[]) { "<Control>comma", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (application), "app.quit",
                                         (const char *[]) { "<Control>q", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (application), "win.show-help-overlay",
                                         (const char *[]) { "<Control>question", NULL });

  gtk_css_provider_load_from_resource (css, "/io/github/clipscope/Clipscope/style.css");
  gtk_style_context_add_provider_for_display (gdk_display_get_default (), GTK_STYLE_PROVIDER (css),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
}

static void
clipscope_application_class_init (ClipscopeApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  app_class->startup = clipscope_application_startup;
  app_class->command_line = clipscope_application_command_line;
}

static void
clipscope_application_init (ClipscopeApplication *self)
{
  /* The remaining arguments' entry puts "[IMAGE…]" in the usage line. */
  g_application_add_main_option_entries (G_APPLICATION (self), option_entries);
}

ClipscopeApplication *
clipscope_application_new (void)
{
  /* Not unique: each run is its own session, and tests start several. */
  return g_object_new (CLIPSCOPE_TYPE_APPLICATION,
                       "application-id", CLIPSCOPE_APP_ID,
                       "resource-base-path", "/io/github/clipscope/Clipscope",
                       "flags", G_APPLICATION_HANDLES_COMMAND_LINE | G_APPLICATION_NON_UNIQUE,
                       NULL);
}
