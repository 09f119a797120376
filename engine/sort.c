/* sort.c — images into one folder per label */
#include "clipscope-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#define MAX_FOLDER_BYTES 200     /* well under any file system's 255 */
#define MAX_SUFFIX       100000
#define JOURNAL_NAME     ".clipscope-sort.journal"

struct _ClipscopeSorter {
  char               *into;
  ClipscopeSortAction action;
  gboolean            dry_run;
  int                 n_labels;
  char              **labels;    /* [n_labels] */
  char              **folders;   /* [n_labels + 1]: the labels', then "unclassified" */
  GHashTable         *planned;   /* destinations given out so far */
  GHashTable         *done;      /* source's real path → Done, from the journal */
  char               *journal;   /* INTO/.clipscope-sort.journal */
  int                 journal_fd; /* open for appending, or -1 */
};

/* A file an earlier run placed, as its journal says. */
typedef struct {
  char *destination;
  char *label;                    /* NULL: unclassified */
} Done;

static void
done_free (gpointer data)
{
  Done *d = data;

  g_free (d->destination);
  g_free (d->label);
  g_free (d);
}

/* Characters that separate paths here or elsewhere, or that Windows and
 * FAT file systems refuse, so that a sorted folder can be copied to a USB
 * stick too. */
static gboolean
is_unsafe (gunichar c)
{
  return c < 0x20 || c == 0x7f || strchr ("/\\:*?\"<>|", (int) c) != NULL;
}

/* CON, PRN, AUX, NUL, COM1–9 and LPT1–9, in any case and with any
 * extension, name devices on Windows. */
static gboolean
is_reserved_on_windows (const char *name)
{
  static const char * const devices[] = { "CON", "PRN", "AUX", "NUL" };
  gsize stem = strcspn (name, ".");

  for (gsize i = 0; i < G_N_ELEMENTS (devices); i++)
    if (stem == 3 && g_ascii_strncasecmp (name, devices[i], 3) == 0)
      return TRUE;
  return stem == 4 && (g_ascii_strncasecmp (name, "COM", 3) == 0 || g_ascii_strncasecmp (name, "LPT", 3) == 0)
         && name[3] >= '1' && name[3] <= '9';
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
  /* Windows drops trailing dots and spaces, and reserves device names. */
  for (gsize i = out->len; i > 0 && (out->str[i - 1] == '.' || out->str[i - 1] == ' '); i--)
    out->str[i - 1] = '_';
  if (is_reserved_on_windows (out->str))
    g_string_append_c (out, '_');
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
  sorter->labels = g_new0 (char *, n_labels + 1);
  for (int j = 0; j < n_labels; j++)
    sorter->labels[j] = g_strdup (labels[j]);
  for (int j = 0; j < n_labels; j++)
    {
      g_autofree char *safe = folder_name (labels[j]);

      sorter->folders[j] = unique_name (taken, safe);
    }
  sorter->folders[n_labels] = unique_name (taken, "unclassified");
  sorter->planned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  sorter->done = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, done_free);
  sorter->journal = g_build_filename (into, JOURNAL_NAME, NULL);
  sorter->journal_fd = -1;
  return sorter;
}

void
clipscope_sorter_free (ClipscopeSorter *sorter)
{
  if (sorter == NULL)
    return;
  g_free (sorter->into);
  g_strfreev (sorter->folders);
  g_strfreev (sorter->labels);
  g_hash_table_unref (sorter->planned);
  g_hash_table_unref (sorter->done);
  if (sorter->journal_fd >= 0)
    close (sorter->journal_fd);
  g_free (sorter->journal);
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

/* @path with every link resolved, or made absolute if it cannot be. */
static char *
real_path (const char *path)
{
  char *resolved = realpath (path, NULL);
  char *copy;

  if (resolved == NULL)
    return g_canonicalize_filename (path, NULL);
  copy = g_strdup (resolved);
  free (resolved);
  return copy;
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
      /* To the file itself, so that the link resolves from anywhere even
       * when @path is a relative link. */
      target = real_path (path);
      return g_file_make_symbolic_link (dst, target, cancellable, error);
    case CLIPSCOPE_SORT_HARD_LINK:
    default:
      /* A link to the file a symbolic link leads to, not to the link. */
      if (linkat (AT_FDCWD, path, AT_FDCWD, dest, AT_SYMLINK_FOLLOW) == 0)
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

/* ---------------------------------------------------------------- journal
 *
 * INTO/.clipscope-sort.journal has a line before each operation and one
 * after it: "P\tSOURCE\tDESTINATION\tLABEL" and "D\t…", names in
 * base64 (they are bytes), LABEL "-" for unclassified. A file with a "D"
 * line is done; one with only a "P" line may have been cut short, so its
 * destination, which the sorter chose as a free name, is removed and the
 * file is placed again.
 */

static char *
journal_field (const char *value)
{
  return value != NULL ? g_base64_encode ((const guchar *) value, strlen (value)) : g_strdup ("-");
}

static char *
journal_value (const char *field)
{
  g_autofree guchar *bytes = NULL;
  gsize len = 0;
  char *value;

  if (strcmp (field, "-") == 0)
    return NULL;
  bytes = g_base64_decode (field, &len);
  value = g_malloc (len + 1);
  memcpy (value, bytes, len);
  value[len] = '\0';
  return value;
}

static gboolean
journal_append (ClipscopeSorter *sorter,
                char             state,
                const char      *source,
                const char      *dest,
                const char      *label,
                GError         **error)
{
  g_autofree char *s = journal_field (source), *d = journal_field (dest), *l = journal_field (label);
  g_autofree char *line = g_strdup_printf ("%c\t%s\t%s\t%s\n", state, s, d, l);
  int saved;

  if (sorter->journal_fd < 0)
    sorter->journal_fd = g_open (sorter->journal,
                                 O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
  if (sorter->journal_fd >= 0 && write (sorter->journal_fd, line, strlen (line)) == (gssize) strlen (line))
    return TRUE;
  saved = errno;
  g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s: %s", sorter->journal, g_strerror (saved));
  return FALSE;
}

gboolean
clipscope_sorter_resume (ClipscopeSorter *sorter,
                         GError         **error)
{
  g_autoptr(GHashTable) planned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GError) local_error = NULL;
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  GHashTableIter iter;
  gpointer key, value;

  g_return_val_if_fail (sorter != NULL, FALSE);

  if (!g_file_get_contents (sorter->journal, &text, NULL, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s", local_error->message);
      return FALSE;
    }
  lines = g_strsplit (text, "\n", -1);
  /* The last line may have been cut short: only whole lines count. */
  for (char **l = lines; *l != NULL && *(l + 1) != NULL; l++)
    {
      g_auto(GStrv) f = g_strsplit (*l, "\t", -1);
      g_autofree char *source = NULL, *dest = NULL;

      if (g_strv_length (f) != 4 || (strcmp (f[0], "P") != 0 && strcmp (f[0], "D") != 0)
          || (source = journal_value (f[1])) == NULL || (dest = journal_value (f[2])) == NULL)
        continue;
      if (f[0][0] == 'P')
        g_hash_table_replace (planned, g_steal_pointer (&source), g_steal_pointer (&dest));
      else
        {
          Done *d = g_new0 (Done, 1);

          g_hash_table_remove (planned, source);
          d->destination = g_steal_pointer (&dest);
          d->label = journal_value (f[3]);
          g_hash_table_replace (sorter->done, g_steal_pointer (&source), d);
        }
    }
  /* A file placed but not recorded as done: its destination is ours. */
  g_hash_table_iter_init (&iter, planned);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!sorter->dry_run && !g_hash_table_contains (sorter->done, key))
      g_unlink (value);
  return TRUE;
}

const char *
clipscope_sorter_lookup (ClipscopeSorter *sorter,
                         const char      *path,
                         const char     **label)
{
  g_autofree char *source = NULL;
  Done *d;
  GStatBuf st;

  g_return_val_if_fail (sorter != NULL && path != NULL, NULL);

  source = real_path (path);
  d = g_hash_table_lookup (sorter->done, source);
  if (d == NULL || g_lstat (d->destination, &st) != 0)
    return NULL;
  if (label != NULL)
    *label = d->label;
  return d->destination;
}

/* A label's folder that is a symbolic link would have files written
 * wherever it leads. */
static gboolean
check_folder (const char  *dir,
              GError     **error)
{
  GStatBuf st;

  if (g_lstat (dir, &st) == 0 && S_ISLNK (st.st_mode))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO,
                   "%s: is a symbolic link; sort does not write through links", dir);
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
  g_autofree char *base = NULL, *dir = NULL, *source = NULL;
  const char *label_name;

  g_return_val_if_fail (sorter != NULL && path != NULL, NULL);
  g_return_val_if_fail (label >= -1 && label < sorter->n_labels, NULL);

  if (!check_source (path, error))
    return NULL;
  base = g_path_get_basename (path);
  dir = g_build_filename (sorter->into, clipscope_sorter_get_folder (sorter, label), NULL);
  if (!check_folder (dir, error))
    return NULL;
  if (!sorter->dry_run && g_mkdir_with_parents (dir, 0777) != 0)
    {
      int saved = errno;

      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s: %s", dir, g_strerror (saved));
      return NULL;
    }
  source = real_path (path);
  for (int n = 1; n <= MAX_SUFFIX; n++)
    {
      g_autofree char *name = suffixed (base, n);
      g_autofree char *dest = g_build_filename (dir, name, NULL);
      g_autoptr(GError) local_error = NULL;

      if (is_taken (sorter, dest))
        continue;
      label_name = label >= 0 ? sorter->labels[label] : NULL;
      if (!sorter->dry_run && !journal_append (sorter, 'P', source, dest, label_name, error))
        return NULL;
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
      if (!sorter->dry_run && !journal_append (sorter, 'D', source, dest, label_name, error))
        return NULL;
      g_hash_table_add (sorter->planned, g_strdup (dest));
      return g_steal_pointer (&dest);
    }
  g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO, "%s: %d files of that name in %s already",
               path, MAX_SUFFIX, dir);
  return NULL;
}
