/* clipscope-gui.c — the desktop application's entry point */
#include <clipscope-application.h>

int
main (int   argc,
      char *argv[])
{
  g_autoptr(ClipscopeApplication) app = NULL;

  clipscope_i18n_init ();
  app = clipscope_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
