/* syscall-loader.c — a GdkPixbuf loader that makes the system call its
 * file names, as an exploited decoder would
 *
 * test-hostile.py installs it next to Debian's loaders for the decoder
 * helper. A file "CLIPSCOPE-SYSCALL NAME\n" makes system call NAME; where
 * that fails, the loader reports its error as a decoder reports a bad
 * file, and otherwise decodes to one grey pixel. The helper's seccomp
 * filter must refuse what it does not allow, for that file alone.
 */
#define GDK_PIXBUF_ENABLE_BACKEND
#include <gdk-pixbuf/gdk-pixbuf.h>
#undef GDK_PIXBUF_ENABLE_BACKEND

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIGNATURE "CLIPSCOPE-SYSCALL "

G_MODULE_EXPORT void fill_vtable (GdkPixbufModule *module);
G_MODULE_EXPORT void fill_info (GdkPixbufFormat *info);

typedef struct {
  GdkPixbufModuleSizeFunc     size_func;
  GdkPixbufModulePreparedFunc prepared_func;
  gpointer                    user_data;
  GString                    *data;
} Context;

/* Makes system call @name; -1 with errno set where it failed. */
static int
make_call (const char *name)
{
  if (strcmp (name, "uname") == 0)
    {
      struct utsname u;

      return uname (&u);
    }
  if (strcmp (name, "socket") == 0)
    {
      int fd = socket (AF_UNIX, SOCK_STREAM, 0);

      return fd < 0 ? -1 : close (fd);
    }
  if (strcmp (name, "chdir") == 0)
    return chdir ("/");
  if (strcmp (name, "fork") == 0)
    {
      pid_t pid = fork ();

      if (pid == 0)
        _exit (0);
      return pid < 0 ? -1 : waitpid (pid, NULL, 0) < 0 ? -1 : 0;
    }
  if (strcmp (name, "execve") == 0)
    {
      char *argv[] = { (char *) "/bin/true", NULL };

      return execve (argv[0], argv, argv + 1);
    }
  if (strcmp (name, "write-open") == 0)
    {
      int fd = open ("/dev/null", O_WRONLY);

      return fd < 0 ? -1 : close (fd);
    }
  errno = EINVAL;
  return -1;
}

static gpointer
begin_load (GdkPixbufModuleSizeFunc     size_func,
            GdkPixbufModulePreparedFunc prepared_func,
            GdkPixbufModuleUpdatedFunc  updated_func,
            gpointer                    user_data,
            GError                    **error)
{
  Context *context = g_new0 (Context, 1);

  context->size_func = size_func;
  context->prepared_func = prepared_func;
  context->user_data = user_data;
  context->data = g_string_new (NULL);
  return context;
}

static gboolean
load_increment (gpointer      data,
                const guchar *buf,
                guint         size,
                GError      **error)
{
  Context *context = data;

  g_string_append_len (context->data, (const char *) buf, size);
  return TRUE;
}

static gboolean
stop_load (gpointer data,
           GError **error)
{
  Context *context = data;
  g_autofree char *name = NULL;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  int width = 1, height = 1;
  gboolean ok = FALSE;

  name = g_strndup (context->data->str + strlen (SIGNATURE),
                    strcspn (context->data->str + strlen (SIGNATURE), "\n"));
  if (make_call (name) < 0)
    {
      int saved = errno;

      g_set_error (error, GDK_PIXBUF_ERROR, GDK_PIXBUF_ERROR_FAILED, "%s: %s", name,
                   g_strerror (saved));
    }
  else
    {
      context->size_func (&width, &height, context->user_data);
      pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 1, 1);
      gdk_pixbuf_fill (pixbuf, 0x808080ff);
      context->prepared_func (pixbuf, NULL, context->user_data);
      ok = TRUE;
    }
  g_string_free (context->data, TRUE);
  g_free (context);
  return ok;
}

void
fill_vtable (GdkPixbufModule *module)
{
  module->begin_load = begin_load;
  module->stop_load = stop_load;
  module->load_increment = load_increment;
}

void
fill_info (GdkPixbufFormat *info)
{
  static GdkPixbufModulePattern signature[] = {
    { (char *) SIGNATURE, NULL, 100 },
    { NULL, NULL, 0 },
  };
  /* GdkPixbuf picks a loader by the content type GIO guesses, which is
   * text/plain for these files. */
  static char *mime_types[] = { (char *) "image/x-clipscope-syscall", (char *) "text/plain", NULL };
  static char *extensions[] = { (char *) "syscall", NULL };

  info->name = (char *) "clipscope-syscall";
  info->signature = signature;
  info->description = (char *) "Clipscope's system call test";
  info->mime_types = mime_types;
  info->extensions = extensions;
  info->flags = 0;
  info->license = (char *) "LGPL";
}
