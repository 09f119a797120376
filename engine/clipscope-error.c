/* clipscope-error.c — the engine's error domain */
#include "clipscope-private.h"

G_DEFINE_QUARK (clipscope-error-quark, clipscope_error)

gboolean
clipscope_set_file_error (GError         **error,
                          ClipscopeError   code,
                          const char      *path,
                          const char      *format,
                          ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, CLIPSCOPE_ERROR, code, "%s: %s", path, message);
  return FALSE;
}
