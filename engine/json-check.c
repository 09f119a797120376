/* json-check.c — a syntax scan that makes JSON safe to give json-glib
 *
 * Every JSON file Clipscope reads (safetensors headers, config.json,
 * vocab.json) comes from the internet and goes through json-glib, whose
 * parser has two weaknesses for hostile input: it recurses once per
 * nesting level, so deep nesting overflows the stack, and its scanner
 * takes extensions (single-quoted strings, comments, octal and hex
 * numbers) under which text is not what other JSON readers see.
 */
#include "json-check.h"

#include <string.h>

static gboolean G_GNUC_PRINTF (5, 6)
fail (GError         **error,
      ClipscopeError   code,
      const char      *name,
      const char      *what,
      const char      *format,
      ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error (error, CLIPSCOPE_ERROR, code, "%s: %s %s", name, what, message);
  return FALSE;
}

static gboolean
read_hex4 (const char *text,
           gsize       len,
           gsize       pos,
           gunichar   *unit)
{
  *unit = 0;
  if (len < 4 || pos > len - 4)
    return FALSE;

  for (gsize i = pos; i < pos + 4; i++)
    {
      int digit = g_ascii_xdigit_value (text[i]);

      if (digit < 0)
        return FALSE;
      *unit = (*unit << 4) | (gunichar) digit;
    }

  return TRUE;
}

/* Advances *pos past the escape sequence that starts with the backslash
 * at *pos. Only JSON's own escapes are accepted: json-glib's scanner reads
 * a short or unpaired \u escape by swallowing the characters after it,
 * quotes included, and would then see a string end elsewhere than we do. */
static gboolean
skip_escape (const char *text,
             gsize       len,
             gsize      *pos)
{
  gsize i = *pos;
  gunichar unit, low;

  if (i + 1 >= len)
    {
      *pos = len;
      return TRUE;
    }
  if (strchr ("\"\\/bfnrt", text[i + 1]) != NULL)
    {
      *pos = i + 2;
      return TRUE;
    }
  if (text[i + 1] != 'u' || !read_hex4 (text, len, i + 2, &unit))
    return FALSE;
  if (unit < 0xd800 || unit > 0xdfff)
    {
      *pos = i + 6;
      return TRUE;
    }
  if (unit > 0xdbff || i + 8 > len || text[i + 6] != '\\' || text[i + 7] != 'u'
      || !read_hex4 (text, len, i + 8, &low) || low < 0xdc00 || low > 0xdfff)
    return FALSE;

  *pos = i + 12;
  return TRUE;
}

/* Advances *pos from an opening quote to just past the closing one. On
 * failure *pos is left at the bad escape. An unterminated string ends the
 * text; json-glib reports that one itself. */
static gboolean
skip_string (const char *text,
             gsize       len,
             gsize      *pos)
{
  gsize i = *pos + 1;

  while (i < len && text[i] != '"')
    {
      if (text[i] != '\\')
        i++;
      else if (!skip_escape (text, len, &i))
        {
          *pos = i;
          return FALSE;
        }
    }

  *pos = MIN (i + 1, len);
  return TRUE;
}

/* json-glib's scanner reads "010" as octal 8 and "0x10" as 16 where any
 * other reader refuses the file; refusing them too keeps every reader's
 * idea of the offsets the same. A number starts where the previous byte
 * cannot continue one. */
static gboolean
is_octal_or_hex (const char *text,
                 gsize       len,
                 gsize       i)
{
  if (text[i] != '0' || i + 1 >= len)
    return FALSE;
  if (i > 0 && (g_ascii_isdigit (text[i - 1]) || strchr (".eE", text[i - 1]) != NULL))
    return FALSE;
  /* An exponent's digits may start with zeros, as in Python's "1e-05". */
  if (i > 1 && (text[i - 1] == '-' || text[i - 1] == '+') && strchr ("eE", text[i - 2]) != NULL)
    return FALSE;

  return g_ascii_isdigit (text[i + 1]) || text[i + 1] == 'x' || text[i + 1] == 'X';
}

/* json-glib parses nested values recursively, so a header of a hundred
 * thousand '[' overflows the stack, and its scanner takes single-quoted
 * strings and comments, in which brackets would hide from a simple count.
 * This scan follows strings exactly as the scanner does for every input it
 * lets through, refuses those extensions, and bounds the nesting. */
gboolean
clipscope_json_check_syntax (const char     *name,
                             const char     *what,
                             const char     *text,
                             gsize           len,
                             gsize           base_offset,
                             guint           max_depth,
                             ClipscopeError  code,
                             GError        **error)
{
  guint depth = 0;
  gsize i = 0;

  while (i < len)
    {
      char c = text[i];

      if (c == '"' && !skip_string (text, len, &i))
        return fail (error, code, name, what,
                     "has a malformed escape sequence at byte offset %" G_GSIZE_FORMAT,
                     base_offset + i);
      if (c == '"')
        continue;
      if (c == '\'' || c == '/')
        return fail (error, code, name, what,
                     "has a %s outside any string at byte offset %" G_GSIZE_FORMAT
                     "; JSON has no single-quoted strings or comments",
                     c == '/' ? "slash" : "single quote", base_offset + i);
      if (is_octal_or_hex (text, len, i))
        return fail (error, code, name, what,
                     "has a number with a leading zero at byte offset %" G_GSIZE_FORMAT
                     "; JSON numbers are plain decimals", base_offset + i);
      if ((c == '[' || c == '{') && ++depth > max_depth)
        return fail (error, code, name, what,
                     "nests values more than %u deep at byte offset %" G_GSIZE_FORMAT,
                     max_depth, base_offset + i);
      if ((c == ']' || c == '}') && depth > 0)
        depth--;
      i++;
    }

  return TRUE;
}

