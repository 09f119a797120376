/* lists.c — label and template list files */
#include "clipscope-private.h"
#include "clipscope-engine-resources.h"

#include <errno.h>
#include <string.h>
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

/* The entries of a list's text: each line trimmed, blank lines and lines
 * starting with "#" skipped. */
static char **
split_entries (const char  *contents,
               const char  *path,
               GError     **error)
{
  g_autoptr(GPtrArray) entries = g_ptr_array_new_null_terminated (0, g_free, TRUE);
  g_auto(GStrv) lines = g_strsplit (contents, "\n", -1);

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

char **
clipscope_read_list_file (const char *path,
                          GError    **error)
{
  g_autofree char *contents = NULL;
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
  return split_entries (contents, path, error);
}

/* ------------------------------------------------------ template presets */

#define CHINESE_TEMPLATE "\u4e00\u5f20{}\u7684\u7167\u7247\u3002"   /* 一张{}的照片。 */

/* A preset is one template, or a list in the engine's resources. */
static const struct {
  const char *name;
  const char *template_;
  const char *resource;
} presets[] = {
  { "photo", "a photo of a {}.", NULL },
  { "imagenet", NULL, "templates/imagenet.txt" },
  { "chinese", CHINESE_TEMPLATE, NULL },
  { "chinese-imagenet", NULL, "templates/chinese-imagenet.txt" },
};

const char * const *
clipscope_template_preset_names (void)
{
  static const char *names[G_N_ELEMENTS (presets) + 1];

  if (names[0] == NULL)
    for (gsize i = 0; i < G_N_ELEMENTS (presets); i++)
      names[i] = presets[i].name;
  return names;
}

char **
clipscope_template_preset_get (const char *name)
{
  g_return_val_if_fail (name != NULL, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (presets); i++)
    {
      g_autofree char *path = NULL;
      g_autoptr(GBytes) bytes = NULL;
      g_autofree char *text = NULL;

      if (strcmp (presets[i].name, name) != 0)
        continue;
      if (presets[i].template_ != NULL)
        return g_strdupv ((char *[]) { (char *) presets[i].template_, NULL });
      path = g_strconcat ("/io/github/clipscope/Clipscope/engine/", presets[i].resource, NULL);
      bytes = g_resource_lookup_data (clipscope_engine_data_get_resource (), path,
                                      G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
      /* Compiled in, so always there. */
      g_assert (bytes != NULL);
      text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
      return split_entries (text, presets[i].resource, NULL);
    }
  return NULL;
}

const char *
clipscope_family_default_template (ClipscopeFamily family)
{
  return family == CLIPSCOPE_FAMILY_CHINESE_CLIP ? CHINESE_TEMPLATE : "a photo of a {}.";
}
