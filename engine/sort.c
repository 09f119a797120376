/* sort.c — images into one folder per label */
#include "clipscope-private.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_FOLDER_BYTES 200     /* well under any file system's 255 */
#define MAX_SUFFIX       100000

struct _ClipscopeSorter {
  char               *into;
  ClipscopeSortAction action;
  gboolean            dry_run;
  int                 n_labels;
  char              **folders;   /* [n_labels + 1]: the labels', then "unclassified" */
  GHashTable         *planned;   /* destinations given out so far */
};

/* Characters that separate paths here or elsewhere, or that Windows and
 * FAT file systems refuse, so that a sorted folder can be copied to a USB
 * stick too. */
static gboolean
is_unsafe (gunichar c)
{
  return c < 0x20 || c == 0x7f || strchr ("/\\:*?\"<>|", (int) c) != NULL;
}

static char *
folder_name (const char *label)
{
  g_autofree char *valid = g_utf8_make_valid (label, -1);
  g_autoptr(GString) out = g_string_new (NULL);
  char *name;

  for (const char *p = g_strstrip (valid); *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (is_unsafe (c))
        g_string_append_c (out, '_');
      else
        g_string_append_unichar (out, c);
      if (out->len > MAX_FOLDER_BYTES)
        {
          g_string_truncate (out, g_utf8_find_prev_char (out->str, out->str + out->len) - out->str);
          break;
        }
    }
  /* No "." or "..", and no hidden folder. */
  for (gsize i = 0; i < out->len && out->str[i] == '.'; i++)
    out->str[i] = '_';
  name = g_string_free (g_steal_pointer (&out), FALSE);
  if (*name == '\0')
    {
      g_free (name);
      return g_strdup ("_");
    }
  return name;
}

/* Adds @name, or "@name-2", "@name-3" …, whichever is free in @taken
 * (compared without case, for case-insensitive file systems). */
static char *
unique_name (GHashTable *taken,
             const char *name)
{
  char *unique = g_strdup (name);
  char *key = g_utf8_casefold (unique, -1);

  for (int n = 2; g_hash_table_contains (taken, key); n++)
    {
      g_free (unique);
      g_free (key);
      unique = g_strdup_printf ("%s-%d", name, n);
      key = g_utf8_casefold (unique, -1);
    }
  g_hash_table_add (taken, key);
  return unique;
}

ClipscopeSorter *
clipscope_sorter_new (const char          *into,
                      const char * const  *labels,
                      int                  n_labels,
                      ClipscopeSortAction  action,
                      gboolean             dry_run)
{
  g_autoptr(GHashTable) taken = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  ClipscopeSorter *sorter;

  g_return_val_if_fail (into != NULL && n_labels >= 0, NULL);
  g_return_val_if_fail (n_labels == 0 || labels != NULL, NULL);

  sorter = g_new0 (ClipscopeSorter, 1);
  sorter->into = g_strdup (into);
  sorter->action = action;
  sorter->dry_run = dry_run;
  sorter->n_labels = n_labels;
  sorter->folders = g_new0 (char *, n_labels + 2);
  for (int j = 0; j < n_labels; j++)
    {
      g_autofree char *safe = folder_name (labels[j]);

      sorter->folders[j] = unique_name (taken, safe);
    }
  sorter->folders[n_labels] = unique_name (taken, "unclassified");
  sorter->planned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return sorter;
}

void
clipscope_sorter_free (ClipscopeSorter *sorter)
{
  if (sorter == NULL)
    return;
  g_free (sorter->into);
  g_strfreev (sorter->folders);
  g_hash_table_unref (sorter->planned);
  g_free (sorter);
}

const char *
clipscope_sorter_get_folder (ClipscopeSorter *sorter,
                             int              label)
{
  g_return_val_if_fail (sorter != NULL, NULL);
  g_return_val_if_fail (label >= -1 && label < sorter->n_labels, NULL);

  return sorter->folders[label < 0 ? sorter->n_labels : label];
}

/* "cat.png" → "cat-N.png"; a leading dot does not start an extension. */
static char *
suffixed (const char *base,
          int         n)
{
  const char *dot = strrchr (base, '.');

  if (n == 1)
    return g_strdup (base);
  if (dot == NULL || dot == base)
    return g_strdup_printf ("%s-%d", base, n);
  return g_strdup_printf ("%.*s-%d%s", (int) (dot - base), base, n, dot);
}

/* Does the one operation; G_IO_ERROR_EXISTS when @dest is taken, so the
 * caller tries the next name without a window between test and use. */
static gboolean
place (ClipscopeSorter *sorter,
       const char      *path,
       const char      *dest,
       GCancellable    *cancellable,
       GError         **error)
{
  g_autoptr(GFile) src = g_file_new_for_path (path);
  g_autoptr(GFile) dst = g_file_new_for_path (dest);
  g_autofree char *target = NULL;
  int saved;

  switch (sorter->action)
    {
    case CLIPSCOPE_SORT_COPY:
      return g_file_copy (src, dst, G_FILE_COPY_NONE, cancellable, NULL, NULL, error);
    case CLIPSCOPE_SORT_SYMLINK:
      target = g_canonicalize_filename (path, NULL);
      return g_file_make_symbolic_link (dst, target, cancellable, error);
    case CLIPSCOPE_SORT_HARD_LINK:
    default:
      if (link (path, dest) == 0)
        return TRUE;
      saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s", g_strerror (saved));
      return FALSE;
    }
}

static gboolean
is_taken (ClipscopeSorter *sorter,
          const char      *dest)
{
  GStatBuf st;

  return g_hash_table_contains (sorter->planned, dest) || g_lstat (dest, &st) == 0;
}

static gboolean
check_source (const char *path,
              GError    **error)
{
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s: %s", path,
                   g_file_test (path, G_FILE_TEST_EXISTS) ? "not a regular file"
                                                          : "No such file or directory");
      return FALSE;
    }
  return TRUE;
}

char *
clipscope_sorter_add (ClipscopeSorter *sorter,
                      const char      *path,
                      int              label,
                      GCancellable    *cancellable,
                      GError         **error)
{
  g_autofree char *base = NULL, *dir = NULL;

  g_return_val_if_fail (sorter != NULL && path != NULL, NULL);
  g_return_val_if_fail (label >= -1 && label < sorter->n_labels, NULL);

  if (!check_source (path, error))
    return NULL;
  base = g_path_get_basename (path);
  dir = g_build_filename (sorter->into, clipscope_sorter_get_folder (sorter, label), NULL);
  if (!sorter->dry_run && g_mkdir_with_parents (dir, 0777) != 0)
    {
      int saved = errno;

      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s: %s", dir, g_strerror (saved));
      return NULL;
    }
  for (int n = 1; n <= MAX_SUFFIX; n++)
    {
      g_autofree char *name = suffixed (base, n);
      g_autofree char *dest = g_build_filename (dir, name, NULL);
      g_autoptr(GError) local_error = NULL;

      if (is_taken (sorter, dest))
        continue;
      if (!sorter->dry_run && !place (sorter, path, dest, cancellable, &local_error))
        {
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_EXISTS))
            continue;
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return NULL;
            }
          g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s → %s: %s",
                       path, dest, local_error->message);
          return NULL;
        }
      g_hash_table_add (sorter->planned, g_strdup (dest));
      return g_steal_pointer (&dest);
    }
  g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s: %d files of that name in %s already",
               path, MAX_SUFFIX, dir);
  return NULL;
}
