/* lists.c — label and template list files */
#include "clipscope-private.h"

#define MAX_LIST_BYTES   (16 * 1024 * 1024)
#define MAX_LIST_ENTRIES 100000

/* The size is checked on the open file before anything is read, so that
 * a 2 GB "labels.txt" costs nothing. */
static char *
read_bounded (const char  *path,
              gsize       *length,
              GError     **error)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GFileInputStream) in = g_file_read (file, NULL, &local_error);
  g_autoptr(GFileInfo) info = NULL;
  g_autofree char *data = NULL;
  goffset size;

  if (in == NULL
      || !(info = g_file_input_stream_query_info (in, G_FILE_ATTRIBUTE_STANDARD_SIZE, NULL,
                                                  &local_error)))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s: %s", path, local_error->message);
      return NULL;
    }
  size = g_file_info_get_size (info);
  if (size > MAX_LIST_BYTES)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT,
                   "%s: %" G_GOFFSET_FORMAT " bytes, more than the limit of %d MiB for a list",
                   path, size, MAX_LIST_BYTES >> 20);
      return NULL;
    }
  data = g_malloc ((gsize) size + 1);
  if (!g_input_stream_read_all (G_INPUT_STREAM (in), data, (gsize) size, length, NULL, &local_error))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s: %s", path, local_error->message);
      return NULL;
    }
  data[*length] = '\0';
  return g_steal_pointer (&data);
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
