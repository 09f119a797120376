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

/* Rules of ftfy's fix_text(), each with what follows from them. */
static const struct {
  const char *text;
  const char *fixed;
} rules[] = {
  /* From the first line with a '<' on, entities stay. */
  { "caf&eacute;\n<b>&eacute;</b>\n&eacute;", "caf\u00e9\n<b>&eacute;</b>\n&eacute;" },
  { "a\r\nb\rc\u2028d\u2029e", "a\nb\nc\nd\ne" },
  /* Upper-case names of lower-case entities, but not of mixed ones */
  { "BUNDESSTRA&SZLIG;E", "BUNDESSTRASSE" },
  { "&ntilde; &Ntilde; &NTILDE; &nTILDE;", "\u00f1 \u00d1 \u00d1 &nTILDE;" },
  /* A reference that would leave a ';' stays; NUL reads as U+FFFD, U+0001
   * as nothing. */
  { "&#59; &#x41; &#65a; &#0; &#1;x &#X1F600;", "&#59; A &#65a; \ufffd x \U0001f600" },
  { "\x1b[36;44mblue\x1b[0m", "blue" },
  /* ŉ expands to ʼn, whose apostrophe is then straightened. */
  { "\u0149", "'n" },
  { "\uff2c\uff2f\uff35\uff24\u3000\uff2e\uff2f\uff29\uff33\uff25\uff33", "LOUD NOISES" },
  /* Half-width katakana and voicing mark fold, then compose under NFC. */
  { "\uff76\uff9e", "\u30ac" },
  { "\ufeffBOM\u206a", "BOM" },
  { "\x01" "a\x7f" "b\x0b" "c", "abc" },
  /* One layer of entities a round, until nothing changes */
  { "&amp;amp;amp;lt;", "<" },
  { "\u201cIt\u2019s \u201alow\u2018 \u201equotes\u201c\u201d", "\"It's 'low' \"quotes\"\"" },
};

static void
test_rules (void)
{
  g_autoptr(GString) nested = g_string_new ("&");
  g_autofree char *fixed = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (rules); i++)
    {
      g_autofree char *got = clipscope_ftfy_fix_text (rules[i].text, strlen (rules[i].text));

      g_assert_cmpstr (got, ==, rules[i].fixed);
    }

  /* Where Clipscope stops short of ftfy: after 32 rounds of 40 nested
   * "&amp;", 8 are left. */
  for (int i = 0; i < 40; i++)
    g_string_append (nested, "amp;");
  fixed = clipscope_ftfy_fix_text (nested->str, nested->len);
  g_assert_cmpstr (fixed, ==, "&amp;amp;amp;amp;amp;amp;amp;amp;");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/ftfy/rules", test_rules);
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = g_strdup_printf ("/engine/ftfy/%s", files[i]);

      g_test_add_data_func (path, files[i], test_file);
    }
  return g_test_run ();
}
