/* text-tokenize.c — the tokenizers of text-tokenizer.h, for the Python tests
 *
 *   text-tokenize --spm FILE | --hf-json FILE | --wordpiece FILE
 *
 * (--spm and --hf-json both take either kind of file; the names say what
 * a test means to give.)
 *                 [--frame raw|siglip|siglip2|wordpiece] [--underscore]
 *                 [--context N] [--normalize]
 *
 * Reads a JSON array of strings on standard input and writes a JSON array
 * with, for each, its ids (or with --normalize, the SentencePiece
 * normaliser's output). "raw" gives a SentencePiece model's ids as its
 * Encode() does, without canonicalisation, EOS or padding; "wordpiece"
 * gives WordPiece's ids without [CLS] or [SEP]. Errors go to standard
 * error with exit status 1.
 */
#include "text-tokenizer.h"

#include <json-glib/json-glib.h>
#include <stdio.h>

static char *spm_path, *hf_json_path, *wordpiece_path, *frame = "raw";
static gboolean underscore, normalize;
static int context_length = 64;

static const GOptionEntry entries[] = {
  { "spm", 0, 0, G_OPTION_ARG_FILENAME, &spm_path, "SentencePiece model file", "FILE" },
  { "hf-json", 0, 0, G_OPTION_ARG_FILENAME, &hf_json_path, "Hugging Face tokenizer.json", "FILE" },
  { "wordpiece", 0, 0, G_OPTION_ARG_FILENAME, &wordpiece_path, "BERT vocab.txt", "FILE" },
  { "frame", 0, 0, G_OPTION_ARG_STRING, &frame, "raw, siglip, siglip2 or wordpiece", "HOW" },
  { "underscore", 0, 0, G_OPTION_ARG_NONE, &underscore, "SigLIP: \"_\" becomes a space", NULL },
  { "context", 0, 0, G_OPTION_ARG_INT, &context_length, "context length", "N" },
  { "normalize", 0, 0, G_OPTION_ARG_NONE, &normalize, "print the normalised texts", NULL },
  { NULL },
};

static gboolean
fail (GError *error)
{
  g_printerr ("text-tokenize: %s\n", error->message);
  g_error_free (error);
  return FALSE;
}

/* The ids of one text, as a JSON array. */
static JsonNode *
encode_one (ClipscopeSpm           *spm,
            ClipscopeWordPiece     *wp,
            ClipscopeTextTokenizer *tok,
            const char             *text,
            GError                **error)
{
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  g_autofree int32_t *framed = NULL;
  JsonArray *array = json_array_new ();
  JsonNode *node = json_node_new (JSON_NODE_ARRAY);
  int n = 0;

  json_node_take_array (node, array);
  if (normalize)
    {
      g_autofree char *s = clipscope_spm_normalize (spm, text, error);

      json_node_unref (node);
      return s != NULL ? json_node_init_string (json_node_alloc (), s) : NULL;
    }
  if (tok != NULL)
    {
      if ((framed = clipscope_text_tokenizer_encode (tok, text, context_length, &n, error)) == NULL)
        return json_node_unref (node), NULL;
      g_array_append_vals (ids, framed, n);
    }
  else if (wp != NULL)
    clipscope_wordpiece_encode (wp, text, ids);
  else if (!clipscope_spm_encode (spm, text, ids, error))
    return json_node_unref (node), NULL;
  for (guint i = 0; i < ids->len; i++)
    json_array_add_int_element (array, g_array_index (ids, int32_t, i));
  return node;
}

static gboolean
run (GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(ClipscopeTextTokenizer) tok = NULL;
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) out = json_node_new (JSON_NODE_ARRAY);
  ClipscopeSpm *spm = NULL;
  ClipscopeWordPiece *wp = NULL;
  g_autoptr(ClipscopeSpm) raw_spm = NULL;
  g_autoptr(ClipscopeWordPiece) raw_wp = NULL;
  g_autoptr(GIOChannel) in = g_io_channel_unix_new (0);
  g_autofree char *input = NULL;
  g_autofree char *json = NULL;
  JsonArray *texts, *results = json_array_new ();
  gsize length;

  json_node_take_array (out, results);
  if (spm_path != NULL || hf_json_path != NULL)
    {
      ClipscopeSpmModel *model = clipscope_spm_model_load (spm_path ? spm_path : hf_json_path, error);

      if (model == NULL || (spm = clipscope_spm_new (model, error)) == NULL)
        return FALSE;
    }
  else if (wordpiece_path != NULL)
    {
      if ((wp = clipscope_wordpiece_new_from_file (wordpiece_path, error)) == NULL)
        return FALSE;
    }
  else
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "no tokenizer given");
      return FALSE;
    }

  if (g_str_equal (frame, "siglip") || g_str_equal (frame, "siglip2"))
    {
      tok = clipscope_text_tokenizer_new_siglip (spm, g_str_equal (frame, "siglip") ? CLIPSCOPE_TEXT_TOKENIZER_SIGLIP
                                                                                    : CLIPSCOPE_TEXT_TOKENIZER_SIGLIP2,
                                                 underscore, error);
      if (tok == NULL)
        return FALSE;
    }
  else if (g_str_equal (frame, "wordpiece") && wp != NULL)
    tok = clipscope_text_tokenizer_new_wordpiece (wp);
  else
    {
      raw_spm = spm;
      raw_wp = wp;
    }

  if (g_io_channel_set_encoding (in, NULL, error) != G_IO_STATUS_NORMAL
      || g_io_channel_read_to_end (in, &input, &length, error) != G_IO_STATUS_NORMAL
      || !json_parser_load_from_data (parser, input, length, error))
    return FALSE;
  texts = json_node_get_array (json_parser_get_root (parser));
  for (guint i = 0; i < json_array_get_length (texts); i++)
    {
      JsonNode *ids = encode_one (spm, wp, tok, json_array_get_string_element (texts, i), error);

      if (ids == NULL)
        return FALSE;
      json_array_add_element (results, ids);
    }
  json_generator_set_root (generator, out);
  json = json_generator_to_data (generator, NULL);
  puts (json);
  return TRUE;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("< texts.json");
  GError *error = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || !run (&error))
    return fail (error) ? 0 : 1;
  return 0;
}
