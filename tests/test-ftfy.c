/* test-ftfy.c — ftfy's own test cases through Clipscope's ftfy.c
 *
 * ../shared/data/ftfy-test-cases holds the JSON files of ftfy's test
 * suite. For every case marked "pass", as ftfy's test_examples_in_json.py
 * checks: fix_text(original) is "fixed", fix_encoding(original) is
 * "fixed-encoding" (or "fixed"), and fix_text() still reaches "fixed" when
 * the original's UTF-8 bytes are read once more as Latin-1. For the cases
 * marked "fail", ftfy's fix_encoding() is known not to reach the expected
 * text, and neither may this one, so that it repairs no more than ftfy.
 */
#include "ftfy.h"

#include <json-glib/json-glib.h>
#include <string.h>

static const char *const files[] = {
  "in-the-wild.json",
  "language-names.json",
  "negative.json",
  "synthetic.json",
  "known-failures.json",
};

static JsonArray *
load_cases (const char *name)
{
  const char *shared = g_getenv ("CLIPSCOPE_SHARED_DIR");
  g_autofree char *path = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonNode *root;

  if (shared == NULL)
    shared = "/work/shared";
  path = g_build_filename (shared, "data", "ftfy-test-cases", name, NULL);
  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  root = json_parser_get_root (parser);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (root));
  return json_array_ref (json_node_get_array (root));
}

/* The UTF-8 bytes of @text, each read as the Latin-1 character it is. */
static char *
utf8_as_latin1 (const char *text)
{
  GString *out = g_string_new (NULL);

  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    g_string_append_unichar (out, *p);
  return g_string_free (out, FALSE);
}

static gboolean
check (const char *label,
       const char *what,
       const char *got,
       gsize       got_length,
       const char *want)
{
  if (got_length == strlen (want) && memcmp (got, want, got_length) == 0)
    return TRUE;
  g_test_message ("%s: %s gave \"%s\", expected \"%s\"", label, what, got, want);
  return FALSE;
}

static void
test_file (gconstpointer data)
{
  const char *name = data;
  g_autoptr(JsonArray) cases = load_cases (name);
  guint n_pass = 0, n_ok = 0;

  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      const char *label = json_object_get_string_member (c, "label");
      const char *original = json_object_get_string_member (c, "original");
      const char *fixed = json_object_get_string_member (c, "fixed");
      const char *fixed_encoding = json_object_get_string_member_with_default (c, "fixed-encoding",
                                                                               fixed);
      const char *expect = json_object_get_string_member (c, "expect");
      gsize length = strlen (original);
      gsize encoding_length;
      g_autofree char *encoding = clipscope_ftfy_fix_encoding (original, length, &encoding_length);
      gboolean ok;

      if (g_strcmp0 (expect, "pass") == 0)
        {
          g_autofree char *text = clipscope_ftfy_fix_text (original, length);
          g_autofree char *worse = utf8_as_latin1 (original);
          g_autofree char *worse_fixed = clipscope_ftfy_fix_text (worse, strlen (worse));

          n_pass++;
          ok = check (label, "fix_text", text, strlen (text), fixed);
          ok &= check (label, "fix_encoding", encoding, encoding_length, fixed_encoding);
          ok &= check (label, "fix_text of the Latin-1 reading", worse_fixed, strlen (worse_fixed),
                       fixed);
          n_ok += ok;
        }
      else
        {
          g_assert_cmpstr (expect, ==, "fail");
          ok = encoding_length != strlen (fixed_encoding)
               || memcmp (encoding, fixed_encoding, encoding_length) != 0;
          if (!ok)
            g_test_message ("%s: a known failure of ftfy's is fixed", label);
          g_assert_true (ok);
        }
    }
  g_test_message ("%s: %u of %u cases pass", name, n_ok, n_pass);
  g_assert_cmpuint (n_ok, ==, n_pass);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_strdup_printf ("/engine/ftfy/%s", files[i]);

      g_test_add_data_func (path, files[i], test_file);
    }
  return g_test_run ();
}
