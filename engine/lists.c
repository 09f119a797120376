/* lists.c — label and template list files */
#include "clipscope-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LIST_BYTES   (16 * 1024 * 1024)
#define MAX_LIST_ENTRIES 100000

static void
set_errno_error (GError    **error,
                 const char *path,
                 int         saved)
{
  g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s: %s", path, g_strerror (saved));
}

static gboolean
set_too_large (GError    **error,
               const char *path,
               goffset     size)
{
  if (size >= 0)
    g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT,
                 "%s: %" G_GOFFSET_FORMAT " bytes, more than the limit of %d MiB for a list",
                 path, size, MAX_LIST_BYTES >> 20);
  else
    g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT,
                 "%s: more than the limit of %d MiB for a list", path, MAX_LIST_BYTES >> 20);
  return FALSE;
}

/* Reads until end of file, at most MAX_LIST_BYTES; one byte more is a
 * limit error. Pipes (a shell's <(…), /dev/stdin) have no size to check
 * beforehand, so they are read this way. */
static char *
read_stream (int          fd,
             const char  *path,
             gsize       *length,
             GError     **error)
{
  g_autoptr(GByteArray) data = g_byte_array_new ();
  guint8 chunk[65536];

  for (;;)
    {
      gssize n = read (fd, chunk, sizeof chunk);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          set_errno_error (error, path, errno);
          return NULL;
        }
      if (n == 0)
        break;
      if (data->len + (gsize) n > MAX_LIST_BYTES)
        {
          set_too_large (error, path, -1);
          return NULL;
        }
      g_byte_array_append (data, chunk, (guint) n);
    }
  *length = data->len;
  g_byte_array_append (data, (const guint8 *) "", 1);
  return (char *) g_byte_array_free (g_steal_pointer (&data), FALSE);
}

/* A regular file's size is checked on the open file before anything is
 * read, so that a 2 GB "labels.txt" costs nothing; pipes and character
 * devices are read up to the limit; folders are refused. */
static char *
read_bounded (const char  *path,
              gsize       *length,
              GError     **error)
{
  int fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  struct stat st;
  char *data = NULL;

  if (fd < 0)
    {
      set_errno_error (error, path, errno);
      return NULL;
    }
  if (fstat (fd, &st) != 0)
    set_errno_error (error, path, errno);
  else if (S_ISDIR (st.st_mode))
    g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO,
                 "%s: is a folder, not a list file", path);
  else if (S_ISREG (st.st_mode) && st.st_size > MAX_LIST_BYTES)
    set_too_large (error, path, st.st_size);
  else
    data = read_stream (fd, path, length, error);
  close (fd);
  return data;
}

char **
clipscope_read_list_file (const char *path,
                          GError    **error)
{
  g_autoptr(GPtrArray) entries = g_ptr_array_new_null_terminated (0, g_free, TRUE);
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  const char *bad = NULL;
  gsize length = 0;

  g_return_val_if_fail (path != NULL, NULL);

  if ((contents = read_bounded (path, &length, error)) == NULL)
    return NULL;
  if (!g_utf8_validate_len (contents, length, &bad))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT,
                   "%s: not UTF-8 text (invalid byte at offset %" G_GSIZE_FORMAT ")",
                   path, (gsize) (bad - contents));
      return NULL;
    }
  lines = g_strsplit (contents, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    {
      char *entry = g_strstrip (*l);

      if (*entry == '\0' || *entry == '#')
        continue;
      if (entries->len == MAX_LIST_ENTRIES)
        {
          g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT,
                       "%s: more than %d entries", path, MAX_LIST_ENTRIES);
          return NULL;
        }
      g_ptr_array_add (entries, g_strdup (entry));
    }
  return (char **) g_ptr_array_free (g_steal_pointer (&entries), FALSE);
}
