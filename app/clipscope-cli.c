/* clipscope-cli.c — the `clipscope` command-line tool
 *
 * A thin front end on libclipscope: each subcommand parses its options,
 * calls the engine and prints JSON on stdout. Errors go to stderr as one
 * "clipscope: error: …" line; usage errors exit 2, other failures 1.
 */
#include "clipscope-cli.h"

#include <clipscope.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The command went through, but some of its inputs failed: each has an
 * "error" in the JSON and a line on stderr. */
#define EXIT_SOME_FAILED 3

/* ------------------------------------------------------------- options */

/* Options every subcommand accepts. */
static char *opt_model;
static char *opt_backend;
static char *opt_precision;
static gboolean opt_ignore_orientation;
static ClipscopePrecision precision;    /* --precision, once checked */

static const GOptionEntry common_entries[] = {
  { "model", 'm', 0, G_OPTION_ARG_FILENAME, &opt_model,
    N_("Model folder (Hugging Face or open_clip), or the NAME of an installed model; "
       "the bundled model when omitted"), "DIR|NAME" },
  { "backend", 'b', 0, G_OPTION_ARG_STRING, &opt_backend, N_("Compute backend: auto, cpu or vulkan"), "NAME" },
  { "precision", 0, 0, G_OPTION_ARG_STRING, &opt_precision,
    N_("The CPU's matrix products in f32 (default), bf16 where the CPU has bfloat16 instructions, "
       "or int8 (weights as bytes, a quarter of the memory) where it has VNNI or AMX"), "f32|bf16|int8" },
  { "ignore-exif-orientation", 0, 0, G_OPTION_ARG_NONE, &opt_ignore_orientation,
    N_("Leave images as stored, not turned as their EXIF orientation says (as OpenAI's CLIP does)"), NULL },
  { NULL }
};

/* Binds the translations of the human messages on stderr and of --help;
 * the JSON on stdout stays English. As the desktop application does, an
 * uninstalled build uses the translations of its build tree. */
static void
cli_i18n_init (void)
{
  g_autofree char *mo = g_build_filename (CLIPSCOPE_LOCALE_DIR, "zh_CN", "LC_MESSAGES",
                                          GETTEXT_PACKAGE ".mo", NULL);
  gboolean installed = g_file_test (mo, G_FILE_TEST_EXISTS);

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, installed || !g_file_test (CLIPSCOPE_BUILD_LOCALE_DIR, G_FILE_TEST_IS_DIR)
                                   ? CLIPSCOPE_LOCALE_DIR : CLIPSCOPE_BUILD_LOCALE_DIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
}

/* Prints "clipscope: error: MESSAGE" on one line: control characters in
 * it, such as a newline in a file name, are written as C escapes. */
static void
print_error_line (const char *message)
{
  g_autoptr(GString) line = g_string_new ("clipscope: error: ");

  for (const char *p = message; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      g_string_append_printf (line, "\\x%02x", (guchar) *p);
    else
      g_string_append_c (line, *p);
  g_printerr ("%s\n", line->str);
}

int
usage_error (const char *sub,
             const char *message)
{
  print_error_line (message);
  g_printerr (_("Try 'clipscope %s --help'.\n"), sub ? sub : "");
  return EXIT_USAGE;
}

int
fail (const GError *error)
{
  print_error_line (error->message);
  return EXIT_FAILURE;
}

/* Parses argv in place; on return argv[1 …] are the positional arguments,
 * with a "--" that ended the options removed. FALSE means a usage error
 * has been printed. @common adds --model and --backend. */
static gboolean
parse_options_full (const Command      *cmd,
                    gboolean            common,
                    const GOptionEntry *entries,
                    int                *argc,
                    char             ***argv)
{
  g_autofree char *prgname = g_strdup_printf ("clipscope %s", cmd->name);
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;

  /* "Usage: clipscope embed [OPTION…] …" rather than the command twice. */
  g_set_prgname (prgname);
  context = g_option_context_new (cmd->parameters);

  /* --help translates the summary and the option descriptions, which are
   * marked N_(). The metavariables (FILE, DIR|NAME, L, …) stay as typed:
   * the summaries and the error messages name them so. */
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, cmd->summary);
  if (common)
    g_option_context_add_main_entries (context, common_entries, GETTEXT_PACKAGE);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      usage_error (cmd->name, error->message);
      return FALSE;
    }
  /* GOption keeps "--" when what follows it starts with "-"; the texts
   * after it are positional arguments all the same. */
  for (int i = 1; i < *argc; i++)
    if (strcmp ((*argv)[i], "--") == 0)
      {
        memmove (*argv + i, *argv + i + 1, (*argc - i) * sizeof (char *));
        (*argc)--;
        break;
      }
  return TRUE;
}

gboolean
parse_options (const Command      *cmd,
               const GOptionEntry *entries,
               int                *argc,
               char             ***argv)
{
  return parse_options_full (cmd, TRUE, entries, argc, argv);
}

static gboolean
parse_backend (const char       *name,
               ClipscopeBackend *backend)
{
  if (name == NULL || strcmp (name, "auto") == 0)
    *backend = CLIPSCOPE_BACKEND_AUTO;
  else if (strcmp (name, "cpu") == 0)
    *backend = CLIPSCOPE_BACKEND_CPU;
  else if (strcmp (name, "vulkan") == 0)
    *backend = CLIPSCOPE_BACKEND_VULKAN;
  else
    return FALSE;
  return TRUE;
}

/* Checks the common options; a usage error has been printed on FALSE. */
gboolean
check_common (const Command    *cmd,
              ClipscopeBackend *backend)
{
  if (!parse_backend (opt_backend, backend))
    {
      g_autofree char *msg = g_strdup_printf (_("unknown backend \"%s\" (expected auto, cpu or vulkan)"),
                                              opt_backend);
      usage_error (cmd->name, msg);
      return FALSE;
    }
  if (opt_precision == NULL || strcmp (opt_precision, "f32") == 0)
    precision = CLIPSCOPE_PRECISION_F32;
  else if (strcmp (opt_precision, "bf16") == 0)
    precision = CLIPSCOPE_PRECISION_BF16;
  else if (strcmp (opt_precision, "int8") == 0)
    precision = CLIPSCOPE_PRECISION_INT8;
  else
    {
      g_autofree char *msg = g_strdup_printf (_("unknown precision \"%s\" (expected f32, bf16 or int8)"),
                                              opt_precision);
      usage_error (cmd->name, msg);
      return FALSE;
    }
  if (opt_model == NULL)
    {
      g_autoptr(ClipscopeModelStore) store = clipscope_model_store_new (NULL);
      g_autoptr(GError) error = NULL;

      opt_model = clipscope_model_store_get_default (store, &error);
      if (opt_model == NULL)
        {
          g_autofree char *msg = g_strdup_printf (_("no --model given, and %s: pass --model DIR or NAME"),
                                                  error->message);
          usage_error (cmd->name, msg);
          return FALSE;
        }
    }
  return TRUE;
}

/* --model is a folder when one exists at that path, else the NAME of an
 * installed model. */
static char *
resolve_model (const char *arg,
               GError    **error)
{
  g_autoptr(ClipscopeModelStore) store = NULL;
  g_autoptr(GError) local_error = NULL;
  char *path;

  if (g_file_test (arg, G_FILE_TEST_EXISTS))
    return g_strdup (arg);
  store = clipscope_model_store_new (NULL);
  path = clipscope_model_store_resolve (store, arg, &local_error);
  if (path != NULL)
    return path;
  if (g_error_matches (local_error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_INVALID_NAME))
    return g_strdup (arg);    /* a path after all: the loader says what is missing */
  g_set_error (error, CLIPSCOPE_STORE_ERROR, local_error->code,
               _("%s: no such folder, and %s; see 'clipscope models list'"), arg, local_error->message);
  return NULL;
}

ClipscopeModel *
load_model (GError **error)
{
  g_autofree char *dir = resolve_model (opt_model, error);
  ClipscopeModelOptions options = clipscope_model_options_default ();

  options.ignore_exif_orientation = opt_ignore_orientation;
  return dir ? clipscope_model_load (dir, &options, NULL, error) : NULL;
}

ClipscopeContext *
new_context (ClipscopeModel  *model,
             ClipscopeBackend backend,
             int              batch,
             GError         **error)
{
  ClipscopeContextOptions options = clipscope_context_options_default ();

  options.backend = backend;
  options.precision = precision;
  if (batch > 0)
    options.max_batch = batch;
  return clipscope_context_new (model, &options, error);
}

/* -------------------------------------------------------------- output */

void
print_json (JsonBuilder *builder)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = NULL;

  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  g_print ("%s\n", text);
}

static void
add_floats (JsonBuilder *b,
            const char  *name,
            const float *v,
            int          n)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  /* JSON has no NaN or infinity; the checks on weights and embeddings
   * keep them out, and null stands in should one slip through. */
  for (int i = 0; i < n; i++)
    if (isfinite (v[i]))
      json_builder_add_double_value (b, v[i]);
    else
      json_builder_add_null_value (b);
  json_builder_end_array (b);
}

void
add_int (JsonBuilder *b,
         const char  *name,
         gint64       v)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, v);
}

void
add_string (JsonBuilder *b,
            const char  *name,
            const char  *v)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, v);
}

static void
add_bool (JsonBuilder *b,
          const char  *name,
          gboolean     v)
{
  json_builder_set_member_name (b, name);
  json_builder_add_boolean_value (b, v);
}

/* A file name: "KEY" holds it as UTF-8. A name that is not valid UTF-8
 * has each invalid byte shown as U+FFFD there, and "KEY_base64" holds its
 * exact bytes, so that a script can find the file again. */
static void
add_path (JsonBuilder *b,
          const char  *key,
          const char  *path)
{
  g_autofree char *shown = NULL, *exact = NULL, *exact_key = NULL;

  if (g_utf8_validate (path, -1, NULL))
    {
      add_string (b, key, path);
      return;
    }
  shown = g_utf8_make_valid (path, -1);
  exact = g_base64_encode ((const guchar *) path, strlen (path));
  exact_key = g_strconcat (key, "_base64", NULL);
  add_string (b, key, shown);
  add_string (b, exact_key, exact);
}

/* ------------------------------------------------------- many images */

/* What encoding a list of images gave: an embedding for each image that
 * could be read, an error for each that could not. */
typedef struct {
  int      n;
  int      n_failed;
  float   *embeddings;     /* [n, dim]; zeros where an image failed */
  GError **errors;         /* [n]: NULL where the image was encoded */
} ImageResults;

static void
image_results_clear (ImageResults *r)
{
  for (int i = 0; r->errors != NULL && i < r->n; i++)
    g_clear_error (&r->errors[i]);
  g_clear_pointer (&r->errors, g_free);
  g_clear_pointer (&r->embeddings, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ImageResults, image_results_clear)

static gboolean
all_finite (const float *v,
            gsize        n)
{
  for (gsize i = 0; i < n; i++)
    if (!isfinite (v[i]))
      return FALSE;
  return TRUE;
}

/* Encodes @paths, each image on its own: one that fails is reported on
 * stderr and in @r, and costs nothing else. FALSE only when the encoder
 * fails. */
static gboolean
encode_images (ClipscopeContext   *ctx,
               const char * const *paths,
               int                 n,
               int                 dim,
               ImageResults       *r,
               GError            **error)
{
  image_results_clear (r);
  r->n = n;
  r->n_failed = 0;
  r->embeddings = g_new (float, (gsize) n * dim + 1);
  r->errors = g_new0 (GError *, n + 1);
  if (!clipscope_context_encode_image_files_each (ctx, paths, n, r->embeddings, r->errors,
                                                  NULL, NULL, NULL, error))
    return FALSE;
  for (int i = 0; i < n; i++)
    {
      if (r->errors[i] == NULL && !all_finite (r->embeddings + (gsize) i * dim, dim))
        {
          g_autofree char *name = g_filename_display_name (paths[i]);

          r->errors[i] = g_error_new (CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_BACKEND,
                                      "%s: the model gives non-finite values for this image", name);
        }
      if (r->errors[i] != NULL)
        {
          print_error_line (r->errors[i]->message);
          r->n_failed++;
        }
    }
  return TRUE;
}

/* {"path", "error"}, members of the object the caller began. */
static void
add_image_error (JsonBuilder  *b,
                 const char   *path,
                 const GError *error)
{
  add_path (b, "path", path);
  add_string (b, "error", error->message);
}

/* ---------------------------------------------------------------- info */

/* "devices": every Vulkan device, whether it is usable and which one a
 * Vulkan context uses and why; empty where Vulkan is unavailable. */
static void
add_devices (JsonBuilder *b)
{
  g_autoptr(GError) error = NULL;
  int n = 0;
  ClipscopeVulkanDevice *devices = clipscope_vulkan_list_devices (&n, &error);

  json_builder_set_member_name (b, "devices");
  json_builder_begin_array (b);
  for (int i = 0; i < n; i++)
    {
      json_builder_begin_object (b);
      add_int (b, "index", devices[i].index);
      add_string (b, "name", devices[i].name);
      add_string (b, "type", devices[i].type);
      add_string (b, "driver", devices[i].driver);
      add_bool (b, "usable", devices[i].usable);
      add_bool (b, "selected", devices[i].selected);
      add_string (b, "reason", devices[i].reason);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  clipscope_vulkan_devices_free (devices, n);
}

static void
add_vision (JsonBuilder              *b,
            const ClipscopeModelInfo *info)
{
  gboolean vit = info->vision_kind == CLIPSCOPE_VISION_VIT;

  json_builder_set_member_name (b, "vision");
  json_builder_begin_object (b);
  add_string (b, "kind", vit ? "vit" : "resnet");
  add_int (b, "image_size", info->image_size);
  if (info->image_alpha_composited)
    {
      json_builder_set_member_name (b, "alpha_background");
      json_builder_begin_array (b);
      for (int i = 0; i < 3; i++)
        json_builder_add_int_value (b, info->image_alpha_background[i]);
      json_builder_end_array (b);
    }
  add_int (b, "width", info->vision_width);
  add_int (b, "heads", info->vision_heads);
  if (vit)
    {
      add_int (b, "layers", info->vision_layers);
      add_int (b, "patch_size", info->vision_patch_size);
      add_bool (b, "quick_gelu", info->vision_quick_gelu);
    }
  else
    {
      json_builder_set_member_name (b, "layers");
      json_builder_begin_array (b);
      for (int i = 0; i < 4; i++)
        json_builder_add_int_value (b, info->vision_resnet_layers[i]);
      json_builder_end_array (b);
    }
  json_builder_end_object (b);
}

static void
add_text (JsonBuilder              *b,
          const ClipscopeModelInfo *info)
{
  json_builder_set_member_name (b, "text");
  json_builder_begin_object (b);
  add_int (b, "width", info->text_width);
  add_int (b, "layers", info->text_layers);
  add_int (b, "heads", info->text_heads);
  add_int (b, "vocab_size", info->text_vocab_size);
  add_int (b, "context_length", info->context_length);
  add_bool (b, "quick_gelu", info->text_quick_gelu);
  json_builder_end_object (b);
}

static int
cmd_info (int    argc,
          char **argv);

static int
cmd_tokenize (int    argc,
              char **argv);

static int
cmd_preprocess (int    argc,
                char **argv);

static int
cmd_embed (int    argc,
           char **argv);

static int
cmd_classify (int    argc,
              char **argv);

static int
cmd_bench (int    argc,
           char **argv);

static int
cmd_models (int    argc,
            char **argv);

static int
cmd_explain (int    argc,
             char **argv);

static int
cmd_sort (int    argc,
          char **argv);

static const Command commands[] = {
  { "info", "", N_("Describe a model and the backend that would run it."), cmd_info },
  { "tokenize", "TEXT…", N_("Print CLIP token ids of each TEXT."), cmd_tokenize },
  { "preprocess", "IMAGE", N_("Write the model's input tensor for IMAGE as a NumPy .npy file."), cmd_preprocess },
  { "embed", "", N_("Print normalised embeddings of images and texts."), cmd_embed },
  { "classify", "IMAGE…", N_("Score images against labels, zero-shot or from example images."), cmd_classify },
  { "bench", "", N_("Time the encoders on random inputs."), cmd_bench },
  { "models", "list|download NAME|remove NAME|path NAME|add DIR",
    N_("List, download, remove and find models, or add a local model folder."), cmd_models },
  { "explain", "IMAGE", N_("Write where in IMAGE the model sees a label, as a NumPy .npy map."), cmd_explain },
  { "sort", "IMAGE…|DIR…", N_("Copy or link images into one folder per top label."), cmd_sort },
  { "index", "FOLDER…", N_("Add the images of folders to the model's search index."), cmd_index },
  { "search", "QUERY…", N_("Rank indexed images by similarity to texts or example images."), cmd_search },
  { "duplicates", "", N_("Group near-identical indexed images."), cmd_duplicates },
};

const Command *
find_command (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (commands[i].name, name) == 0)
      return &commands[i];
  g_assert_not_reached ();
}

static int
cmd_info (int    argc,
          char **argv)
{
  const Command *cmd = &commands[0];
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeModel) model = NULL;
  g_autoptr(ClipscopeContext) ctx = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  const ClipscopeModelInfo *info;
  ClipscopeBackend backend;

  if (!parse_options (cmd, NULL, &argc, &argv) || !check_common (cmd, &backend))
    return EXIT_USAGE;
  if (argc > 1)
    return usage_error (cmd->name, _("info takes no arguments"));
  if ((model = load_model (&error)) == NULL
      || (ctx = new_context (model, backend, 0, &error)) == NULL)
    return fail (error);

  info = clipscope_model_get_info (model);
  json_builder_begin_object (b);
  add_string (b, "format", info->format == CLIPSCOPE_FORMAT_HF ? "hf" : "open_clip");
  add_string (b, "family", clipscope_family_to_string (info->family));
  add_vision (b, info);
  add_text (b, info);
  add_int (b, "embed_dim", info->embed_dim);
  add_int (b, "context_length", info->context_length);
  add_string (b, "dtype", info->dtype);
  add_int (b, "parameters", info->n_parameters);
  add_int (b, "weight_bytes", (gint64) info->weight_bytes);
  json_builder_set_member_name (b, "logit_scale");
  json_builder_add_double_value (b, info->logit_scale);
  add_string (b, "scoring", clipscope_scoring_to_string (info->scoring));
  if (info->scoring == CLIPSCOPE_SCORING_SIGMOID)
    {
      json_builder_set_member_name (b, "logit_bias");
      json_builder_add_double_value (b, info->logit_bias);
    }
  add_string (b, "backend", clipscope_context_get_backend_name (ctx));
  add_string (b, "device", clipscope_context_get_device_name (ctx));
  add_devices (b);
  json_builder_end_object (b);
  print_json (b);
  return EXIT_SUCCESS;
}

/* ------------------------------------------------------------ tokenize */

static int
cmd_tokenize (int    argc,
              char **argv)
{
  const Command *cmd = &commands[1];
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeModel) model = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  ClipscopeBackend backend;

  if (!parse_options (cmd, NULL, &argc, &argv) || !check_common (cmd, &backend))
    return EXIT_USAGE;
  if (argc < 2)
    return usage_error (cmd->name, _("no TEXT given"));
  if ((model = load_model (&error)) == NULL)
    return fail (error);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "tokens");
  json_builder_begin_array (b);
  for (int i = 1; i < argc; i++)
    {
      int n = 0;
      g_autofree int32_t *ids = clipscope_model_tokenize (model, argv[i], &n, &error);

      if (ids == NULL)
        return fail (error);
      json_builder_begin_array (b);
      for (int j = 0; j < n; j++)
        json_builder_add_int_value (b, ids[j]);
      json_builder_end_array (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  print_json (b);
  return EXIT_SUCCESS;
}

/* ---------------------------------------------------------- preprocess */

/* A NumPy .npy (format 1.0) of a C-order float32 array of @n_dims ≥ 2
 * dimensions; the header is padded so the data starts at a multiple of
 * 64 bytes. */
static gboolean
write_npy (const char  *path,
           const float *data,
           const int   *shape,
           int          n_dims,
           GError     **error)
{
  g_autoptr(GString) dims = g_string_new (NULL);
  g_autoptr(GString) out = g_string_new_len ("\x93NUMPY\x01\x00", 8);
  g_autofree char *dict = NULL;
  gsize n = 1, header_len;
  guint8 len[2];

  for (int i = 0; i < n_dims; i++)
    {
      g_string_append_printf (dims, "%s%d", i > 0 ? ", " : "", shape[i]);
      n *= shape[i];
    }
  dict = g_strdup_printf ("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims->str);
  header_len = ((10 + strlen (dict) + 1 + 63) / 64) * 64 - 10;
  len[0] = header_len & 0xff;
  len[1] = header_len >> 8;
  g_string_append_len (out, (const char *) len, 2);
  g_string_append (out, dict);
  while (out->len < 10 + header_len - 1)
    g_string_append_c (out, ' ');
  g_string_append_c (out, '\n');
  for (gsize i = 0; i < n; i++)
    {
      guint32 bits;
      memcpy (&bits, &data[i], 4);
      bits = GUINT32_TO_LE (bits);
      g_string_append_len (out, (const char *) &bits, 4);
    }
  return g_file_set_contents (path, out->str, (gssize) out->len, error);
}

static int
cmd_preprocess (int    argc,
                char **argv)
{
  const Command *cmd = &commands[2];
  g_autofree char *npy = NULL;
  const GOptionEntry entries[] = {
    { "npy", 0, 0, G_OPTION_ARG_FILENAME, &npy, N_("Where to write the tensor"), "OUT.npy" },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeModel) model = NULL;
  g_autoptr(ClipscopeContext) ctx = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree float *pixels = NULL;
  ClipscopeBackend backend;
  int size;

  if (!parse_options (cmd, entries, &argc, &argv) || !check_common (cmd, &backend))
    return EXIT_USAGE;
  if (argc != 2)
    return usage_error (cmd->name, _("expected exactly one IMAGE"));
  if (npy == NULL)
    return usage_error (cmd->name, _("--npy OUT.npy is required"));
  /* A CPU context: the backend does not matter here, only its image
   * decoder processes. */
  if ((model = load_model (&error)) == NULL
      || (ctx = new_context (model, CLIPSCOPE_BACKEND_CPU, 1, &error)) == NULL)
    return fail (error);

  size = clipscope_model_get_info (model)->image_size;
  pixels = g_new (float, (gsize) 3 * size * size);
  if (!clipscope_context_preprocess_file (ctx, argv[1], pixels, &error)
      || !write_npy (npy, pixels, (const int[]) { 3, size, size }, 3, &error))
    return fail (error);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "shape");
  json_builder_begin_array (b);
  json_builder_add_int_value (b, 3);
  json_builder_add_int_value (b, size);
  json_builder_add_int_value (b, size);
  json_builder_end_array (b);
  json_builder_end_object (b);
  print_json (b);
  return EXIT_SUCCESS;
}

/* --------------------------------------------------------------- embed */

static void
add_text_embeddings (JsonBuilder        *b,
                     const char * const *texts,
                     int                 n,
                     const float        *emb,
                     int                 dim)
{
  json_builder_set_member_name (b, "texts");
  json_builder_begin_array (b);
  for (int i = 0; i < n; i++)
    {
      json_builder_begin_object (b);
      add_string (b, "text", texts[i]);
      add_floats (b, "embedding", emb + (gsize) i * dim, dim);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static void
add_image_embeddings (JsonBuilder        *b,
                      const char * const *paths,
                      const ImageResults *r,
                      int                 dim)
{
  json_builder_set_member_name (b, "images");
  json_builder_begin_array (b);
  for (int i = 0; i < r->n; i++)
    {
      json_builder_begin_object (b);
      if (r->errors[i] != NULL)
        add_image_error (b, paths[i], r->errors[i]);
      else
        {
          add_path (b, "path", paths[i]);
          add_floats (b, "embedding", r->embeddings + (gsize) i * dim, dim);
        }
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static int
cmd_embed (int    argc,
           char **argv)
{
  const Command *cmd = &commands[3];
  g_auto(GStrv) images = NULL;
  g_auto(GStrv) texts = NULL;
  const GOptionEntry entries[] = {
    { "image", 'i', 0, G_OPTION_ARG_FILENAME_ARRAY, &images, N_("An image to embed (repeatable)"), "FILE" },
    { "text", 't', 0, G_OPTION_ARG_STRING_ARRAY, &texts, N_("A text to embed (repeatable)"), "STR" },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeModel) model = NULL;
  g_autoptr(ClipscopeContext) ctx = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_auto(ImageResults) results = { 0 };
  g_autofree float *text_emb = NULL;
  ClipscopeBackend backend;
  int n_images, n_texts, dim;

  if (!parse_options (cmd, entries, &argc, &argv) || !check_common (cmd, &backend))
    return EXIT_USAGE;
  if (argc > 1)
    return usage_error (cmd->name, _("embed takes images and texts only through --image and --text"));
  n_images = images ? (int) g_strv_length (images) : 0;
  n_texts = texts ? (int) g_strv_length (texts) : 0;
  if (n_images + n_texts == 0)
    return usage_error (cmd->name, _("nothing to embed: give --image FILE or --text STR"));
  if ((model = load_model (&error)) == NULL
      || (ctx = new_context (model, backend, 0, &error)) == NULL)
    return fail (error);

  dim = clipscope_model_get_info (model)->embed_dim;
  text_emb = g_new (float, (gsize) n_texts * dim + 1);
  if (!encode_images (ctx, (const char * const *) images, n_images, dim, &results, &error)
      || !clipscope_context_encode_texts (ctx, (const char * const *) texts, n_texts,
                                          text_emb, NULL, &error))
    return fail (error);

  json_builder_begin_object (b);
  add_image_embeddings (b, (const char * const *) images, &results, dim);
  add_text_embeddings (b, (const char * const *) texts, n_texts, text_emb, dim);
  json_builder_end_object (b);
  print_json (b);
  return results.n_failed > 0 ? EXIT_SOME_FAILED : EXIT_SUCCESS;
}

/* ------------------------------------------------------------ classify */

static gboolean
read_list_file (const char *path,
                GPtrArray  *out,
                GError    **error)
{
  g_auto(GStrv) entries = clipscope_read_list_file (path, error);

  for (char **e = entries; e != NULL && *e != NULL; e++)
    g_ptr_array_add (out, g_strdup (*e));
  return entries != NULL;
}

static void
add_strv (GPtrArray *out,
          char     **strv)
{
  for (char **s = strv; s != NULL && *s != NULL; s++)
    g_ptr_array_add (out, g_strdup (*s));
}

gboolean
add_template_preset (const Command *cmd,
                     const char    *name,
                     GPtrArray     *templates)
{
  g_auto(GStrv) preset = NULL;

  if (name == NULL)
    return TRUE;
  if ((preset = clipscope_template_preset_get (name)) == NULL)
    {
      g_autofree char *names = g_strjoinv (", ", (char **) clipscope_template_preset_names ());
      g_autofree char *msg = g_strdup_printf (_("no template preset \"%s\": expected one of %s"),
                                              name, names);

      usage_error (cmd->name, msg);
      return FALSE;
    }
  add_strv (templates, preset);
  return TRUE;
}

/* The model family's default template when no other was given: CLIP's
 * "a photo of a {}.", Chinese-CLIP's in Chinese. */
static void
add_default_template (GPtrArray      *templates,
                      ClipscopeModel *model)
{
  if (templates->len == 0)
    g_ptr_array_add (templates, g_strdup (clipscope_family_default_template (
                                            clipscope_model_get_info (model)->family)));
}

/* Checks each template holds one {}; a usage error has been printed on
 * FALSE. An empty list gets the model's default once it is loaded. */
static gboolean
check_templates (const Command *cmd,
                 GPtrArray     *templates)
{
  for (guint i = 0; i < templates->len; i++)
    if (!clipscope_template_is_valid (g_ptr_array_index (templates, i)))
      {
        g_autofree char *msg = g_strdup_printf (_("template \"%s\" must hold exactly one {}"),
                                                (char *) g_ptr_array_index (templates, i));
        usage_error (cmd->name, msg);
        return FALSE;
      }
  return TRUE;
}

/* Options that classify and sort share. */
typedef struct {
  char   **label_opts;
  char   **template_opts;
  char   **example_opts;
  char    *labels_file;
  char    *templates_file;
  char    *template_preset;
  double   example_weight;
  double   probe_c;
  double   threshold;          /* -INFINITY: none */
  gboolean probe;
} ClassifyOptions;

static ClassifyOptions
classify_options_default (void)
{
  ClassifyOptions o = {
    .example_weight = CLIPSCOPE_EXAMPLE_WEIGHT_DEFAULT,
    .probe_c = clipscope_probe_options_default ().c,
    .threshold = -INFINITY,
  };
  return o;
}

static void
classify_options_clear (ClassifyOptions *o)
{
  g_clear_pointer (&o->label_opts, g_strfreev);
  g_clear_pointer (&o->template_opts, g_strfreev);
  g_clear_pointer (&o->example_opts, g_strfreev);
  g_clear_pointer (&o->labels_file, g_free);
  g_clear_pointer (&o->templates_file, g_free);
  g_clear_pointer (&o->template_preset, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ClassifyOptions, classify_options_clear)

/* The shared entries, then @extra; free with g_free(). */
static GOptionEntry *
classify_entries (ClassifyOptions    *o,
                  const GOptionEntry *extra)
{
  const GOptionEntry shared[] = {
    { "label", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &o->label_opts, N_("A class name (repeatable)"), "L" },
    { "template", 't', 0, G_OPTION_ARG_STRING_ARRAY, &o->template_opts, N_("A prompt with {} (repeatable)"), "T" },
    { "labels-file", 0, 0, G_OPTION_ARG_FILENAME, &o->labels_file, N_("Class names, one a line"), "F" },
    { "templates-file", 0, 0, G_OPTION_ARG_FILENAME, &o->templates_file, N_("Prompts, one a line"), "F" },
    { "template-preset", 0, 0, G_OPTION_ARG_STRING, &o->template_preset,
      N_("A set of prompts: photo, imagenet, chinese or chinese-imagenet"), "NAME" },
    { "examples", 'e', 0, G_OPTION_ARG_FILENAME_ARRAY, &o->example_opts,
      N_("Example images of a label: a folder of images, or one image (repeatable)"), "LABEL=DIR|FILE" },
    { "example-weight", 0, 0, G_OPTION_ARG_DOUBLE, &o->example_weight,
      N_("How far examples move a label from its text, 0 to 1 (default 0.5)"), "W" },
    { "probe", 0, 0, G_OPTION_ARG_NONE, &o->probe,
      N_("Classify with a linear probe trained on the examples (2 or more a label)"), NULL },
    { "probe-c", 0, 0, G_OPTION_ARG_DOUBLE, &o->probe_c,
      N_("The probe's inverse regularisation strength (default 1)"), "C" },
    { "threshold", 0, 0, G_OPTION_ARG_DOUBLE, &o->threshold,
      N_("Leave an image unclassified when its top label's cosine is below COS"), "COS" },
  };
  GArray *entries = g_array_new (TRUE, TRUE, sizeof (GOptionEntry));

  g_array_append_vals (entries, shared, G_N_ELEMENTS (shared));
  for (const GOptionEntry *e = extra; e != NULL && e->long_name != NULL; e++)
    g_array_append_val (entries, *e);
  return (GOptionEntry *) (void *) g_array_free (entries, FALSE);
}

/* Gathers the labels and templates and checks the numbers; returns
 * EXIT_SUCCESS, or the exit status of the error it printed. */
static int
classify_lists (const Command         *cmd,
                const ClassifyOptions *o,
                GPtrArray             *labels,
                GPtrArray             *templates)
{
  g_autoptr(GError) error = NULL;

  add_strv (labels, o->label_opts);
  add_strv (templates, o->template_opts);
  if ((o->labels_file && !read_list_file (o->labels_file, labels, &error))
      || (o->templates_file && !read_list_file (o->templates_file, templates, &error)))
    return fail (error);
  if (!add_template_preset (cmd, o->template_preset, templates) || !check_templates (cmd, templates))
    return EXIT_USAGE;
  if (labels->len == 0)
    return usage_error (cmd->name, _("no labels: give --label L or --labels-file F"));
  if (!(o->example_weight >= 0.0 && o->example_weight <= 1.0))
    return usage_error (cmd->name, _("--example-weight must be between 0 and 1"));
  if (!(o->probe_c > 0.0 && isfinite (o->probe_c)))
    return usage_error (cmd->name, _("--probe-c must be a positive number"));
  if (!(o->threshold == -INFINITY || (o->threshold >= -1.0 && o->threshold <= 1.0)))
    return usage_error (cmd->name, _("--threshold is a cosine: it must be between -1 and 1"));
  return EXIT_SUCCESS;
}

/* ------------------------------------------------------------ examples */

static gboolean
is_image (GFileInfo *info)
{
  const char *type = g_file_info_get_content_type (info);
  g_autofree char *mime = type != NULL ? g_content_type_get_mime_type (type) : NULL;

  return g_file_info_get_file_type (info) == G_FILE_TYPE_REGULAR
         && mime != NULL && g_str_has_prefix (mime, "image/");
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* Whether the link @name in @dir leads to a file inside @dir (or below);
 * a folder's links out of it are passed over, so that a folder given to
 * classify, sort or --examples stands for the files it holds. */
static gboolean
links_inside (const char *dir,
              const char *name)
{
  g_autofree char *link = g_build_filename (dir, name, NULL);
  g_autofree char *real_dir = realpath (dir, NULL);
  g_autofree char *real_file = realpath (link, NULL);
  gsize n = real_dir != NULL ? strlen (real_dir) : 0;

  return real_dir != NULL && real_file != NULL && strncmp (real_file, real_dir, n) == 0
         && (real_file[n] == '/' || (n == 1 && real_dir[0] == '/'));
}

/* Adds the images directly in @dir in name order, as the GUI reads a
 * dropped folder: hidden files and files of other types are skipped. */
static gboolean
add_folder_images (const char *dir,
                   GPtrArray  *out,
                   GError    **error)
{
  g_autoptr(GFile) file = g_file_new_for_path (dir);
  g_autoptr(GFileEnumerator) children = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) local_error = NULL;
  GFileInfo *info;

  children = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME ","
                                        G_FILE_ATTRIBUTE_STANDARD_TYPE ","
                                        G_FILE_ATTRIBUTE_STANDARD_IS_SYMLINK ","
                                        G_FILE_ATTRIBUTE_STANDARD_CONTENT_TYPE,
                                        G_FILE_QUERY_INFO_NONE, NULL, &local_error);
  while (children != NULL
         && g_file_enumerator_iterate (children, &info, NULL, NULL, &local_error) && info != NULL)
    if (!g_str_has_prefix (g_file_info_get_name (info), ".") && is_image (info)
        && (!g_file_info_get_is_symlink (info) || links_inside (dir, g_file_info_get_name (info))))
      g_ptr_array_add (names, g_strdup (g_file_info_get_name (info)));
  if (local_error != NULL)
    {
      g_set_error (error, G_IO_ERROR, local_error->code, "%s: %s", dir, local_error->message);
      return FALSE;
    }
  if (names->len == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, _("%s: no images in this folder"), dir);
      return FALSE;
    }
  g_ptr_array_sort (names, compare_strings);
  for (guint i = 0; i < names->len; i++)
    g_ptr_array_add (out, g_build_filename (dir, names->pdata[i], NULL));
  return TRUE;
}

/* A folder gives its images; anything else is taken as it is, and the
 * decoder says so if it is missing or not an image it can read. */
static gboolean
add_images (const char *path,
            GPtrArray  *out,
            GError    **error)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    return add_folder_images (path, out, error);
  g_ptr_array_add (out, g_strdup (path));
  return TRUE;
}

/* The label of "LABEL=PATH": the first prefix ending before an "=" that
 * is a label, so that labels and paths may both hold "=". */
static int
split_example (const char  *arg,
               GPtrArray   *labels,
               const char **path)
{
  for (const char *eq = strchr (arg, '='); eq != NULL; eq = strchr (eq + 1, '='))
    for (guint j = 0; j < labels->len; j++)
      {
        const char *label = g_ptr_array_index (labels, j);

        if (strlen (label) == (gsize) (eq - arg) && strncmp (label, arg, eq - arg) == 0)
          {
            *path = eq + 1;
            return (int) j;
          }
      }
  return -1;
}

/* A classifier: zero-shot rows, with examples blended in or a probe. */
typedef struct {
  int             n_labels;
  int             dim;
  ClipscopeScoring scoring;
  float           logit_scale;
  float           logit_bias;
  float          *text;             /* [n_labels, dim] zero-shot */
  float          *rows;             /* [n_labels, dim] prototypes (text where none) */
  GPtrArray      *example_paths;    /* [n_examples] */
  GArray         *example_labels;   /* int [n_examples] */
  float          *examples;         /* [n_examples, dim] */
  int            *loo;              /* [n_examples] leave-one-out predictions */
  double          loo_accuracy;
  ClipscopeProbe *probe;            /* with --probe, else NULL */
} Classifier;

static Classifier
classifier_empty (void)
{
  Classifier c = {
    .example_paths = g_ptr_array_new_null_terminated (0, g_free, TRUE),
    .example_labels = g_array_new (FALSE, FALSE, sizeof (int)),
  };
  return c;
}

static void
classifier_clear (Classifier *c)
{
  g_clear_pointer (&c->text, g_free);
  g_clear_pointer (&c->rows, g_free);
  g_clear_pointer (&c->example_paths, g_ptr_array_unref);
  g_clear_pointer (&c->example_labels, g_array_unref);
  g_clear_pointer (&c->examples, g_free);
  g_clear_pointer (&c->loo, g_free);
  g_clear_pointer (&c->probe, clipscope_probe_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Classifier, classifier_clear)

/* Reads --examples into the classifier's example list; returns
 * EXIT_SUCCESS, or the exit status of the error it printed. */
static int
collect_examples (const Command         *cmd,
                  const ClassifyOptions *o,
                  GPtrArray             *labels,
                  Classifier            *c)
{
  for (char **arg = o->example_opts; arg != NULL && *arg != NULL; arg++)
    {
      g_autoptr(GError) error = NULL;
      const char *path = NULL;
      int label = split_example (*arg, labels, &path);
      guint before = c->example_paths->len;

      if (label < 0)
        {
          g_autofree char *name = g_strndup (*arg, strcspn (*arg, "="));
          g_autofree char *msg = strchr (*arg, '=') == NULL
            ? g_strdup_printf (_("--examples \"%s\": expected LABEL=DIR or LABEL=FILE"), *arg)
            : g_strdup_printf (_("--examples \"%s\": \"%s\" is not one of the labels"), *arg, name);

          return usage_error (cmd->name, msg);
        }
      if (!add_images (path, c->example_paths, &error))
        return fail (error);
      for (guint i = before; i < c->example_paths->len; i++)
        g_array_append_val (c->example_labels, label);
    }
  return EXIT_SUCCESS;
}

/* Trains the probe, or blends the prototypes, and measures either by
 * leave-one-out on the examples. */
static gboolean
classifier_fit (Classifier            *c,
                const ClassifyOptions *o,
                GPtrArray             *labels,
                GError               **error)
{
  const int n = (int) c->example_labels->len;
  const int *y = (const int *) (void *) c->example_labels->data;
  ClipscopeProbeOptions options = clipscope_probe_options_default ();

  c->rows = g_new (float, (gsize) c->n_labels * c->dim);
  clipscope_prototypes_build (c->text, c->n_labels, c->dim, c->examples, y, n,
                              (float) o->example_weight, c->rows);
  c->loo = g_new (int, MAX (n, 1));
  if (!o->probe)
    {
      c->loo_accuracy = clipscope_prototypes_leave_one_out (c->text, c->n_labels, c->dim, c->examples,
                                                            y, n, (float) o->example_weight, c->loo);
      return TRUE;
    }
  options.c = o->probe_c;
  c->probe = clipscope_probe_train (c->examples, y, n, c->n_labels, c->dim,
                                    (const char * const *) labels->pdata, &options, NULL, error);
  return c->probe != NULL
         && clipscope_probe_leave_one_out (c->examples, y, n, c->n_labels, c->dim,
                                           (const char * const *) labels->pdata, &options, c->loo,
                                           &c->loo_accuracy, NULL, error);
}

static gboolean
classifier_build (Classifier            *c,
                  ClipscopeContext      *ctx,
                  ClipscopeModel        *model,
                  const ClassifyOptions *o,
                  GPtrArray             *labels,
                  GPtrArray             *templates,
                  GError               **error)
{
  const ClipscopeModelInfo *info = clipscope_model_get_info (model);

  c->n_labels = (int) labels->len;
  c->dim = info->embed_dim;
  c->scoring = info->scoring;
  c->logit_scale = info->logit_scale;
  c->logit_bias = info->logit_bias;
  c->text = g_new (float, (gsize) c->n_labels * c->dim);
  c->examples = g_new (float, (gsize) c->example_paths->len * c->dim + 1);
  return clipscope_context_encode_labels (ctx, (const char * const *) labels->pdata, c->n_labels,
                                          (const char * const *) templates->pdata,
                                          (int) templates->len, c->text, NULL, error)
         && clipscope_context_encode_image_files (ctx, (const char * const *) c->example_paths->pdata,
                                                  (int) c->example_paths->len, c->examples,
                                                  NULL, NULL, NULL, error)
         && classifier_fit (c, o, labels, error);
}

/* sim and prob [n, n_labels]; the probe's probabilities replace the
 * model's, the cosines stay those of the prototypes. */
static void
classifier_score (const Classifier *c,
                  const float      *images,
                  int               n,
                  float            *sim,
                  float            *prob)
{
  clipscope_score_with (images, n, c->rows, c->n_labels, c->dim, c->scoring, c->logit_scale,
                        c->logit_bias, sim, prob);
  if (c->probe != NULL)
    clipscope_probe_predict (c->probe, images, n, NULL, prob);
}

/* How the probabilities were made: the probe's are a softmax over its own
 * logits whatever the model's scoring. */
static ClipscopeScoring
classifier_scoring (const Classifier *c)
{
  return c->probe != NULL ? CLIPSCOPE_SCORING_SOFTMAX : c->scoring;
}

static ClipscopeLabelMode
classifier_mode (const Classifier *c,
                 int               label)
{
  if (c->probe != NULL)
    return CLIPSCOPE_LABEL_MODE_PROBE;
  for (guint i = 0; i < c->example_labels->len; i++)
    if (g_array_index (c->example_labels, int, i) == label)
      return CLIPSCOPE_LABEL_MODE_PROTOTYPE;
  return CLIPSCOPE_LABEL_MODE_ZERO_SHOT;
}

/* "classifier": one entry a label with its mode, its examples and their
 * leave-one-out accuracy; then the accuracy over all examples. */
static void
add_classifier (JsonBuilder      *b,
                const Classifier *c,
                GPtrArray        *labels)
{
  const int n = (int) c->example_labels->len;

  json_builder_set_member_name (b, "classifier");
  json_builder_begin_array (b);
  for (int j = 0; j < c->n_labels; j++)
    {
      int count = 0, correct = 0;

      json_builder_begin_object (b);
      add_string (b, "label", g_ptr_array_index (labels, j));
      add_string (b, "mode", clipscope_label_mode_to_string (classifier_mode (c, j)));
      json_builder_set_member_name (b, "examples");
      json_builder_begin_array (b);
      for (int i = 0; i < n; i++)
        if (g_array_index (c->example_labels, int, i) == j)
          {
            json_builder_add_string_value (b, g_ptr_array_index (c->example_paths, i));
            count++;
            correct += c->loo[i] == j;
          }
      json_builder_end_array (b);
      json_builder_set_member_name (b, "leave_one_out_accuracy");
      if (count > 0)
        json_builder_add_double_value (b, (double) correct / count);
      else
        json_builder_add_null_value (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  if (n > 0)
    {
      json_builder_set_member_name (b, "leave_one_out_accuracy");
      json_builder_add_double_value (b, c->loo_accuracy);
    }
}

static void
add_string_array (JsonBuilder *b,
                  const char  *name,
                  GPtrArray   *strings)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; i < strings->len; i++)
    json_builder_add_string_value (b, g_ptr_array_index (strings, i));
  json_builder_end_array (b);
}

/* What classify and sort print before their images. */
static void
add_header (JsonBuilder           *b,
            const Classifier      *c,
            const ClassifyOptions *o,
            GPtrArray             *labels,
            GPtrArray             *templates)
{
  add_string_array (b, "labels", labels);
  add_string_array (b, "templates", templates);
  add_classifier (b, c, labels);
  if (o->threshold > -INFINITY)
    {
      json_builder_set_member_name (b, "threshold");
      json_builder_add_double_value (b, o->threshold);
    }
}

/* --------------------------------------------------------- per template */

/* texts[n_labels × n_templates, dim]: each template applied to each label,
 * label-major. */
static float *
encode_template_texts (ClipscopeContext *ctx,
                       GPtrArray        *labels,
                       GPtrArray        *templates,
                       int               dim,
                       GError          **error)
{
  g_autoptr(GPtrArray) texts = g_ptr_array_new_null_terminated (0, g_free, TRUE);
  g_autofree float *out = NULL;

  for (guint j = 0; j < labels->len; j++)
    for (guint t = 0; t < templates->len; t++)
      g_ptr_array_add (texts, clipscope_template_apply (templates->pdata[t], labels->pdata[j]));
  out = g_new (float, (gsize) texts->len * dim);
  if (!clipscope_context_encode_texts (ctx, (const char * const *) texts->pdata, (int) texts->len,
                                       out, NULL, error))
    return NULL;
  return g_steal_pointer (&out);
}

/* "per_template": for each label, the image's cosine with each template's
 * text, and the ensemble cosine without each template (null with one). */
static void
add_per_template (JsonBuilder *b,
                  const float *texts,
                  int          n_labels,
                  int          n_templates,
                  const float *image,
                  int          dim)
{
  g_autofree float *cosines = g_new (float, n_templates);
  g_autofree float *without = g_new (float, n_templates);

  json_builder_set_member_name (b, "per_template");
  json_builder_begin_array (b);
  for (int j = 0; j < n_labels; j++)
    {
      float ensemble = clipscope_template_contributions (texts + (gsize) j * n_templates * dim,
                                                         n_templates, image, dim, cosines, without);

      json_builder_begin_object (b);
      add_floats (b, "cosines", cosines, n_templates);
      json_builder_set_member_name (b, "without");
      json_builder_begin_array (b);
      for (int t = 0; t < n_templates; t++)
        if (isnan (without[t]))
          json_builder_add_null_value (b);
        else
          json_builder_add_double_value (b, without[t]);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "ensemble");
      json_builder_add_double_value (b, ensemble);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

/* ------------------------------------------------------------ classify */

/* One image: its scores and its top label (null and "unclassified"
 * below the threshold, which alone adds that member). */
static void
add_classification (JsonBuilder        *b,
                    const char         *path,
                    const char * const *labels,
                    int                 n_labels,
                    const float        *sim,
                    const float        *prob,
                    double              threshold)
{
  int top;

  clipscope_score_top (sim, prob, 1, n_labels, (float) threshold, &top);
  add_path (b, "path", path);
  add_floats (b, "similarity", sim, n_labels);
  add_floats (b, "probabilities", prob, n_labels);
  json_builder_set_member_name (b, "top");
  if (top >= 0)
    json_builder_add_string_value (b, labels[top]);
  else
    json_builder_add_null_value (b);
  if (threshold > -INFINITY)
    add_bool (b, "unclassified", top < 0);
}

/* Loads the model and builds the classifier. */
static gboolean
load_classifier (const ClassifyOptions *o,
                 ClipscopeBackend       backend,
                 GPtrArray             *labels,
                 GPtrArray             *templates,
                 ClipscopeModel       **model,
                 ClipscopeContext     **ctx,
                 Classifier            *c,
                 GError               **error)
{
  if ((*model = load_model (error)) == NULL
      || (*ctx = new_context (*model, backend, 0, error)) == NULL)
    return FALSE;
  add_default_template (templates, *model);
  if (!classifier_build (c, *ctx, *model, o, labels, templates, error))
    return FALSE;
  if (!all_finite (c->rows, (gsize) c->n_labels * c->dim))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_BACKEND,
                   _("%s: the model gives non-finite values for the labels' texts"),
                   clipscope_model_get_path (*model));
      return FALSE;
    }
  return TRUE;
}

static int
cmd_classify (int    argc,
              char **argv)
{
  const Command *cmd = find_command ("classify");
  g_auto(ClassifyOptions) o = classify_options_default ();
  gboolean per_template = FALSE;
  const GOptionEntry extra[] = {
    { "per-template", 0, 0, G_OPTION_ARG_NONE, &per_template,
      N_("Add each template's cosine, and the ensemble's without it"), NULL },
    { NULL }
  };
  g_autofree GOptionEntry *entries = classify_entries (&o, extra);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) labels = g_ptr_array_new_null_terminated (0, g_free, TRUE);
  g_autoptr(GPtrArray) templates = g_ptr_array_new_null_terminated (0, g_free, TRUE);
  g_autoptr(ClipscopeModel) model = NULL;
  g_autoptr(GPtrArray) paths = g_ptr_array_new_null_terminated (0, g_free, TRUE);
  g_autoptr(ClipscopeContext) ctx = NULL;
  g_auto(Classifier) c = classifier_empty ();
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_auto(ImageResults) results = { 0 };
  g_autofree float *sim = NULL, *prob = NULL, *texts = NULL;
  ClipscopeBackend backend;
  int n_images, status;

  if (!parse_options (cmd, entries, &argc, &argv) || !check_common (cmd, &backend))
    return EXIT_USAGE;
  if ((status = classify_lists (cmd, &o, labels, templates)) != EXIT_SUCCESS)
    return status;
  if (argc < 2)
    return usage_error (cmd->name, _("no IMAGE given"));
  if ((status = collect_examples (cmd, &o, labels, &c)) != EXIT_SUCCESS)
    return status;
  for (int i = 1; i < argc; i++)
    if (!add_images (argv[i], paths, &error))
      return fail (error);
  if (!load_classifier (&o, backend, labels, templates, &model, &ctx, &c, &error))
    return fail (error);

  n_images = (int) paths->len;
  sim = g_new (float, (gsize) n_images * c.n_labels);
  prob = g_new (float, (gsize) n_images * c.n_labels);
  if (!encode_images (ctx, (const char * const *) paths->pdata, n_images, c.dim, &results, &error)
      || (per_template && !(texts = encode_template_texts (ctx, labels, templates, c.dim, &error))))
    return fail (error);
  classifier_score (&c, results.embeddings, n_images, sim, prob);

  json_builder_begin_object (b);
  add_header (b, &c, &o, labels, templates);
  add_string (b, "scoring", clipscope_scoring_to_string (classifier_scoring (&c)));
  json_builder_set_member_name (b, "images");
  json_builder_begin_array (b);
  for (int i = 0; i < n_images; i++)
    {
      const char *path = g_ptr_array_index (paths, i);

      json_builder_begin_object (b);
      if (results.errors[i] != NULL)
        add_image_error (b, path, results.errors[i]);
      else
        add_classification (b, path, (const char * const *) labels->pdata, c.n_labels,
                            sim + (gsize) i * c.n_labels, prob + (gsize) i * c.n_labels, o.threshold);
      if (per_template && results.errors[i] == NULL)
        add_per_template (b, texts, c.n_labels, (int) templates->len,
                          results.embeddings + (gsize) i * c.dim, c.dim);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  print_json (b);
  return results.n_failed > 0 ? EXIT_SOME_FAILED : EXIT_SUCCESS;
}

/* ---------------------------------------------------------------- sort */

/* Images are encoded, scored and sorted this many at a time, so that a
 * large folder needs no more memory than a small one. */
#define SORT_CHUNK 256

typedef struct {
  Classifier       *c;
  ClipscopeContext *ctx;
  ClipscopeSorter  *sorter;
  double            threshold;
  GPtrArray        *labels;
  int              *counts;          /* [n_labels + 1]: images per folder, unclassified last */
  JsonBuilder      *b;               /* inside the "files" array */
  int               n_failed;        /* images that could not be sorted */
} SortRun;

static gboolean
sort_chunk (SortRun            *run,
            const char * const *paths,
            int                 n,
            GError            **error)
{
  const int k = run->c->n_labels;
  g_autofree float *sim = g_new (float, (gsize) n * k);
  g_autofree float *prob = g_new (float, (gsize) n * k);
  g_autofree int *top = g_new (int, n);
  g_auto(ImageResults) r = { 0 };

  if (!encode_images (run->ctx, paths, n, run->c->dim, &r, error))
    return FALSE;
  classifier_score (run->c, r.embeddings, n, sim, prob);
  clipscope_score_top (sim, prob, n, k, (float) run->threshold, top);
  for (int i = 0; i < n; i++)
    {
      g_autoptr(GError) failed = NULL;
      g_autofree char *dest = NULL;

      json_builder_begin_object (run->b);
      if (r.errors[i] == NULL)
        dest = clipscope_sorter_add (run->sorter, paths[i], top[i], NULL, &failed);
      if (dest == NULL)
        {
          if (failed != NULL)
            print_error_line (failed->message);
          add_image_error (run->b, paths[i], failed != NULL ? failed : r.errors[i]);
          run->n_failed++;
          json_builder_end_object (run->b);
          continue;
        }
      run->counts[top[i] < 0 ? k : top[i]]++;
      add_path (run->b, "path", paths[i]);
      json_builder_set_member_name (run->b, "top");
      if (top[i] >= 0)
        json_builder_add_string_value (run->b, g_ptr_array_index (run->labels, top[i]));
      else
        json_builder_add_null_value (run->b);
      add_string (run->b, "folder", clipscope_sorter_get_folder (run->sorter, top[i]));
      add_path (run->b, "destination", dest);
      json_builder_end_object (run->b);
    }
  run->n_failed += r.n_failed;
  return TRUE;
}

/* Reports the files an earlier run into the same folder placed, as its
 * journal says, and puts the others into @todo; returns how many were
 * placed before. */
static int
add_resumed (JsonBuilder     *b,
             ClipscopeSorter *sorter,
             GPtrArray       *paths,
             GPtrArray       *todo)
{
  int n = 0;

  for (guint i = 0; i < paths->len; i++)
    {
      const char *path = g_ptr_array_index (paths, i), *label = NULL;
      const char *dest = clipscope_sorter_lookup (sorter, path, &label);
      g_autofree char *folder = NULL, *dir = NULL;

      if (dest == NULL)
        {
          g_ptr_array_add (todo, (gpointer) path);
          continue;
        }
      dir = g_path_get_dirname (dest);
      folder = g_path_get_basename (dir);
      json_builder_begin_object (b);
      add_path (b, "path", path);
      json_builder_set_member_name (b, "top");
      if (label != NULL)
        json_builder_add_string_value (b, label);
      else
        json_builder_add_null_value (b);
      add_path (b, "folder", folder);
      add_path (b, "destination", dest);
      add_bool (b, "resumed", TRUE);
      json_builder_end_object (b);
      n++;
    }
  return n;
}

/* "folders": the number of images each folder gets, folders without
 * images left out. */
static void
add_folder_counts (JsonBuilder     *b,
                   ClipscopeSorter *sorter,
                   const int       *counts,
                   int              n_labels)
{
  json_builder_set_member_name (b, "folders");
  json_builder_begin_object (b);
  for (int j = -1; j < n_labels; j++)
    if (counts[j < 0 ? n_labels : j] > 0)
      add_int (b, clipscope_sorter_get_folder (sorter, j), counts[j < 0 ? n_labels : j]);
  json_builder_end_object (b);
}

static const char *
sort_action_name (ClipscopeSortAction action)
{
  switch (action)
    {
    case CLIPSCOPE_SORT_HARD_LINK:
      return "link";
    case CLIPSCOPE_SORT_SYMLINK:
      return "symlink";
    case CLIPSCOPE_SORT_COPY:
    default:
      return "copy";
    }
}

static int
cmd_sort (int    argc,
          char **argv)
{
  const Command *cmd = find_command ("sort");
  g_auto(ClassifyOptions) o = classify_options_default ();
  g_autofree char *into = NULL;
  gboolean copy = FALSE, hard_link = FALSE, soft_link = FALSE, dry_run = FALSE;
  const GOptionEntry extra[] = {
    { "into", 'o', 0, G_OPTION_ARG_FILENAME, &into, N_("The folder to sort into, one sub-folder a label"),
      "OUTDIR" },
    { "copy", 0, 0, G_OPTION_ARG_NONE, &copy, N_("Copy the images (the default)"), NULL },
    { "link", 0, 0, G_OPTION_ARG_NONE, &hard_link, N_("Make hard links instead of copies"), NULL },
    { "symlink", 0, 0, G_OPTION_ARG_NONE, &soft_link, N_("Make symbolic links instead of copies"), NULL },
    { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &dry_run, N_("Print what would be done, and do nothing"), NULL },
    { NULL }
  };
  g_autofree GOptionEntry *entries = classify_entries (&o, extra);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) labels = g_ptr_array_new_null_terminated (0, g_free, TRUE);
  g_autoptr(GPtrArray) templates = g_ptr_array_new_null_terminated (0, g_free, TRUE);
  g_autoptr(GPtrArray) paths = g_ptr_array_new_null_terminated (0, g_free, TRUE);
  g_autoptr(ClipscopeModel) model = NULL;
  g_autoptr(ClipscopeContext) ctx = NULL;
  g_autoptr(ClipscopeSorter) sorter = NULL;
  g_auto(Classifier) c = classifier_empty ();
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree int *counts = NULL;
  g_autoptr(GPtrArray) todo = g_ptr_array_new_null_terminated (0, NULL, TRUE);
  ClipscopeSortAction action;
  ClipscopeBackend backend;
  SortRun run;
  int status, n_resumed;

  if (!parse_options (cmd, entries, &argc, &argv) || !check_common (cmd, &backend))
    return EXIT_USAGE;
  if ((status = classify_lists (cmd, &o, labels, templates)) != EXIT_SUCCESS)
    return status;
  if (into == NULL)
    return usage_error (cmd->name, _("--into OUTDIR is required"));
  if (copy + hard_link + soft_link > 1)
    return usage_error (cmd->name, _("give only one of --copy, --link and --symlink"));
  if (argc < 2)
    return usage_error (cmd->name, _("no IMAGE or DIR given"));
  if ((status = collect_examples (cmd, &o, labels, &c)) != EXIT_SUCCESS)
    return status;
  for (int i = 1; i < argc; i++)
    if (!add_images (argv[i], paths, &error))
      return fail (error);
  if (!load_classifier (&o, backend, labels, templates, &model, &ctx, &c, &error))
    return fail (error);

  action = hard_link ? CLIPSCOPE_SORT_HARD_LINK : soft_link ? CLIPSCOPE_SORT_SYMLINK
                                                           : CLIPSCOPE_SORT_COPY;
  sorter = clipscope_sorter_new (into, (const char * const *) labels->pdata, c.n_labels, action,
                                 dry_run);
  if (!clipscope_sorter_resume (sorter, &error))
    return fail (error);
  counts = g_new0 (int, c.n_labels + 1);
  run = (SortRun) { &c, ctx, sorter, o.threshold, labels, counts, b, 0 };
  json_builder_begin_object (b);
  add_path (b, "into", into);
  add_string (b, "action", sort_action_name (action));
  add_bool (b, "dry_run", dry_run);
  add_header (b, &c, &o, labels, templates);
  json_builder_set_member_name (b, "files");
  json_builder_begin_array (b);
  n_resumed = add_resumed (b, sorter, paths, todo);
  for (guint done = 0; done < todo->len; done += SORT_CHUNK)
    if (!sort_chunk (&run, (const char * const *) todo->pdata + done,
                     (int) MIN (SORT_CHUNK, todo->len - done), &error))
      return fail (error);
  json_builder_end_array (b);
  add_int (b, "resumed", n_resumed);
  add_folder_counts (b, sorter, counts, c.n_labels);
  json_builder_end_object (b);
  print_json (b);
  return run.n_failed > 0 ? EXIT_SOME_FAILED : EXIT_SUCCESS;
}

/* ------------------------------------------------------------- explain */

/* map[grid, grid] and the image's cosine with the label's embedding
 * @label; the model's input is preprocessed from @path. */
static gboolean
explain_image (ClipscopeContext *ctx,
               ClipscopeModel   *model,
               const char       *path,
               const float      *label,
               float            *map,
               float            *similarity,
               GError          **error)
{
  const ClipscopeModelInfo *info = clipscope_model_get_info (model);
  const int grid = clipscope_model_get_explain_grid (model), e = info->embed_dim;
  g_autofree float *pixels = g_new (float, (gsize) 3 * info->image_size * info->image_size);
  g_autofree float *spatial = g_new (float, (gsize) grid * grid * e);
  g_autofree float *image = g_new (float, e);

  if (!clipscope_context_preprocess_file (ctx, path, pixels, error)
      || !clipscope_context_explain_pixels (ctx, pixels, image, spatial, NULL, error))
    return FALSE;
  clipscope_explain_map (spatial, grid * grid, label, e, map);
  clipscope_explain_map (image, 1, label, e, similarity);
  return TRUE;
}

/* {"path", "label", "grid": [g, g], "min", "max", "similarity"} */
static void
print_explanation (const char  *path,
                   const char  *label,
                   const float *map,
                   int          grid,
                   float        similarity)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  float low = map[0], high = map[0];

  for (int i = 1; i < grid * grid; i++)
    {
      low = MIN (low, map[i]);
      high = MAX (high, map[i]);
    }
  json_builder_begin_object (b);
  add_path (b, "path", path);
  add_string (b, "label", label);
  json_builder_set_member_name (b, "grid");
  json_builder_begin_array (b);
  json_builder_add_int_value (b, grid);
  json_builder_add_int_value (b, grid);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "min");
  json_builder_add_double_value (b, low);
  json_builder_set_member_name (b, "max");
  json_builder_add_double_value (b, high);
  json_builder_set_member_name (b, "similarity");
  json_builder_add_double_value (b, similarity);
  json_builder_end_object (b);
  print_json (b);
}

static int
cmd_explain (int    argc,
             char **argv)
{
  const Command *cmd = find_command ("explain");
  g_auto(GStrv) label_opts = NULL, template_opts = NULL;
  g_autofree char *npy = NULL, *preset = NULL;
  const GOptionEntry entries[] = {
    { "label", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &label_opts, N_("The class name to map"), "L" },
    { "template", 't', 0, G_OPTION_ARG_STRING_ARRAY, &template_opts, N_("A prompt with {} (repeatable)"), "T" },
    { "template-preset", 0, 0, G_OPTION_ARG_STRING, &preset,
      N_("A set of prompts: photo, imagenet, chinese or chinese-imagenet"), "NAME" },
    { "npy", 0, 0, G_OPTION_ARG_FILENAME, &npy, N_("Where to write the grid × grid map"), "OUT.npy" },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) templates = g_ptr_array_new_null_terminated (0, g_free, TRUE);
  g_autoptr(ClipscopeModel) model = NULL;
  g_autoptr(ClipscopeContext) ctx = NULL;
  g_autofree float *label = NULL, *map = NULL;
  ClipscopeBackend backend;
  float similarity;
  int grid;

  if (!parse_options (cmd, entries, &argc, &argv) || !check_common (cmd, &backend))
    return EXIT_USAGE;
  add_strv (templates, template_opts);
  if (!add_template_preset (cmd, preset, templates) || !check_templates (cmd, templates))
    return EXIT_USAGE;
  if (label_opts == NULL || g_strv_length (label_opts) != 1)
    return usage_error (cmd->name, _("give exactly one --label L"));
  if (argc != 2)
    return usage_error (cmd->name, _("expected exactly one IMAGE"));
  if (npy == NULL)
    return usage_error (cmd->name, _("--npy OUT.npy is required"));
  if ((model = load_model (&error)) == NULL
      || (ctx = new_context (model, backend, 0, &error)) == NULL)
    return fail (error);
  add_default_template (templates, model);

  grid = clipscope_model_get_explain_grid (model);
  label = g_new (float, clipscope_model_get_info (model)->embed_dim);
  map = g_new (float, (gsize) grid * grid);
  if (!clipscope_context_encode_labels (ctx, (const char * const *) label_opts, 1,
                                        (const char * const *) templates->pdata, (int) templates->len,
                                        label, NULL, &error)
      || !explain_image (ctx, model, argv[1], label, map, &similarity, &error)
      || !write_npy (npy, map, (const int[]) { grid, grid }, 2, &error))
    return fail (error);

  print_explanation (argv[1], label_opts[0], map, grid, similarity);
  return EXIT_SUCCESS;
}

/* --------------------------------------------------------------- bench */

typedef gboolean (*EncodeFunc) (ClipscopeContext *ctx, const void *inputs, int n, float *out,
                                GError **error);

static gboolean
encode_pixels_cb (ClipscopeContext *ctx, const void *inputs, int n, float *out, GError **error)
{
  return clipscope_context_encode_pixels (ctx, inputs, n, out, NULL, error);
}

static gboolean
encode_tokens_cb (ClipscopeContext *ctx, const void *inputs, int n, float *out, GError **error)
{
  return clipscope_context_encode_tokens (ctx, inputs, n, out, NULL, error);
}

/* One spatial pass (explain) per call, of the first input. */
static gboolean
explain_pixels_cb (ClipscopeContext *ctx, const void *inputs, int n, float *out, GError **error)
{
  g_assert (n == 1);
  return clipscope_context_explain_pixels (ctx, inputs, NULL, out, NULL, error);
}

/* Times @n items through @encode in batches of the same random inputs,
 * after one warm-up batch. */
static gboolean
time_encoder (ClipscopeContext *ctx,
              EncodeFunc        encode,
              const void       *inputs,
              int               batch,
              int               n,
              float            *out,
              double           *ms_per_item,
              GError          **error)
{
  gint64 start;

  if (!encode (ctx, inputs, batch, out, error))
    return FALSE;
  start = g_get_monotonic_time ();
  for (int done = 0; done < n; done += batch)
    {
      int b = MIN (batch, n - done);

      if (!encode (ctx, inputs, b, out, error))
        return FALSE;
    }
  *ms_per_item = n > 0 ? (g_get_monotonic_time () - start) / 1000.0 / n : 0.0;
  return TRUE;
}

static void
add_timing (JsonBuilder *b,
            const char  *section,
            const char  *unit,
            int          count,
            double       ms)
{
  g_autofree char *ms_key = g_strdup_printf ("ms_per_%s", unit);
  g_autofree char *rate_key = g_strdup_printf ("%ss_per_s", unit);

  json_builder_set_member_name (b, section);
  json_builder_begin_object (b);
  add_int (b, "count", count);
  json_builder_set_member_name (b, ms_key);
  json_builder_add_double_value (b, ms);
  json_builder_set_member_name (b, rate_key);
  json_builder_add_double_value (b, ms > 0 ? 1000.0 / ms : 0.0);
  json_builder_end_object (b);
}

/* Random inputs: pixels roughly as normalised images are, and full-context
 * texts (start, random ids, end-of-text last) as the contract asks. */
static void
fill_random_inputs (const ClipscopeModelInfo *info,
                    int                       batch,
                    float                    *pixels,
                    int32_t                  *tokens)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (42);
  const gsize n_pixels = (gsize) batch * 3 * info->image_size * info->image_size;
  const int ctx = info->context_length, vocab = info->text_vocab_size;

  for (gsize i = 0; i < n_pixels; i++)
    pixels[i] = (float) g_rand_double_range (rand, -1.8, 2.1);
  for (int i = 0; i < batch; i++)
    for (int j = 0; j < ctx; j++)
      tokens[i * ctx + j] = j == 0 ? vocab - 2 : j == ctx - 1 ? vocab - 1
                                                  : g_rand_int_range (rand, 0, MAX (vocab - 2, 1));
}

static int
cmd_bench (int    argc,
           char **argv)
{
  const Command *cmd = &commands[5];
  int batch = 16, n_images = -1, n_texts = -1, n_explains = 0;
  const GOptionEntry entries[] = {
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, N_("Items per batch (default 16)"), "N" },
    { "images", 0, 0, G_OPTION_ARG_INT, &n_images, N_("Images to time (default 2 batches)"), "N" },
    { "texts", 0, 0, G_OPTION_ARG_INT, &n_texts, N_("Texts to time (default 2 batches)"), "N" },
    { "explains", 0, 0, G_OPTION_ARG_INT, &n_explains,
      N_("Spatial passes (explain) of one image to time (default none)"), "N" },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeModel) model = NULL;
  g_autoptr(ClipscopeContext) ctx = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree float *pixels = NULL, *out = NULL, *spatial = NULL;
  g_autofree int32_t *tokens = NULL;
  const ClipscopeModelInfo *info;
  ClipscopeBackend backend;
  double load_ms, image_ms = 0, text_ms = 0, explain_ms = 0;
  int grid;
  gint64 start;

  if (!parse_options (cmd, entries, &argc, &argv) || !check_common (cmd, &backend))
    return EXIT_USAGE;
  if (argc > 1)
    return usage_error (cmd->name, _("bench takes no arguments"));
  if (batch < 1 || batch > 4096)
    return usage_error (cmd->name, _("--batch must be between 1 and 4096"));
  if (n_explains < 0)
    return usage_error (cmd->name, _("--explains must not be negative"));
  n_images = n_images < 0 ? 2 * batch : n_images;
  n_texts = n_texts < 0 ? 2 * batch : n_texts;

  start = g_get_monotonic_time ();
  if ((model = load_model (&error)) == NULL
      || (ctx = new_context (model, backend, batch, &error)) == NULL)
    return fail (error);
  load_ms = (g_get_monotonic_time () - start) / 1000.0;

  info = clipscope_model_get_info (model);
  pixels = g_new (float, (gsize) batch * 3 * info->image_size * info->image_size);
  tokens = g_new (int32_t, (gsize) batch * info->context_length);
  out = g_new (float, (gsize) batch * info->embed_dim);
  grid = clipscope_model_get_explain_grid (model);
  if (n_explains > 0)
    spatial = g_new (float, (gsize) grid * grid * info->embed_dim);
  fill_random_inputs (info, batch, pixels, tokens);
  if ((n_images > 0 && !time_encoder (ctx, encode_pixels_cb, pixels, batch, n_images, out,
                                      &image_ms, &error))
      || (n_texts > 0 && !time_encoder (ctx, encode_tokens_cb, tokens, batch, n_texts, out,
                                        &text_ms, &error))
      || (n_explains > 0 && !time_encoder (ctx, explain_pixels_cb, pixels, 1, n_explains, spatial,
                                           &explain_ms, &error)))
    return fail (error);

  json_builder_begin_object (b);
  add_string (b, "backend", clipscope_context_get_backend_name (ctx));
  add_string (b, "device", clipscope_context_get_device_name (ctx));
  add_int (b, "batch", batch);
  json_builder_set_member_name (b, "load_ms");
  json_builder_add_double_value (b, load_ms);
  add_timing (b, "images", "image", n_images, image_ms);
  add_timing (b, "texts", "text", n_texts, text_ms);
  if (n_explains > 0)
    add_timing (b, "explains", "explain", n_explains, explain_ms);
  json_builder_end_object (b);
  print_json (b);
  return EXIT_SUCCESS;
}

/* -------------------------------------------------------------- models */

static const char *
source_name (ClipscopeModelSource source)
{
  switch (source)
    {
    case CLIPSCOPE_MODEL_SOURCE_BUNDLED:
      return "bundled";
    case CLIPSCOPE_MODEL_SOURCE_CATALOGUE:
      return "catalogue";
    case CLIPSCOPE_MODEL_SOURCE_HUB:
      return "hub";
    case CLIPSCOPE_MODEL_SOURCE_LOCAL:
    default:
      return "local";
    }
}

static void
add_nullable_string (JsonBuilder *b,
                     const char  *name,
                     const char  *v)
{
  json_builder_set_member_name (b, name);
  if (v != NULL)
    json_builder_add_string_value (b, v);
  else
    json_builder_add_null_value (b);
}

static void
add_model_entry (JsonBuilder               *b,
                 const ClipscopeModelEntry *e)
{
  json_builder_begin_object (b);
  add_string (b, "name", e->name);
  add_string (b, "description", e->description);
  add_nullable_string (b, "repo", e->repo);
  add_nullable_string (b, "format", !e->format_known ? NULL
                                    : e->format == CLIPSCOPE_FORMAT_HF ? "hf" : "open_clip");
  add_nullable_string (b, "family", e->family_known ? clipscope_family_to_string (e->family) : NULL);
  add_int (b, "size", e->size);
  add_bool (b, "size_is_estimate", e->size_is_estimate);
  add_bool (b, "installed", e->installed);
  add_nullable_string (b, "path", e->path);
  add_int (b, "partial_bytes", e->partial_bytes);
  add_string (b, "source", source_name (e->source));
  add_bool (b, "removable", e->removable);
  json_builder_end_object (b);
}

static void
print_name_and_path (const char *name,
                     const char *path)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_string (b, "name", name);
  add_string (b, "path", path);
  json_builder_end_object (b);
  print_json (b);
}

/* The NAME as the store spells it: "openai/CLIP-ViT-B-32" may be a
 * catalogue model. */
static char *
canonical_name (ClipscopeModelStore *store,
                const char          *name)
{
  g_autoptr(ClipscopeModelEntry) e = clipscope_model_store_lookup (store, name, NULL);

  return g_strdup (e ? e->name : name);
}

/* Parses a models subcommand that takes exactly one NAME or DIR. */
static gboolean
parse_one_argument (const Command      *cmd,
                    const GOptionEntry *entries,
                    int                *argc,
                    char             ***argv)
{
  if (!parse_options_full (cmd, FALSE, entries, argc, argv))
    return FALSE;
  if (*argc != 2)
    {
      usage_error (cmd->name, *argc < 2 ? _("expected one argument") : _("too many arguments"));
      return FALSE;
    }
  return TRUE;
}

static int
models_list (const Command *cmd,
             int            argc,
             char         **argv)
{
  g_autoptr(ClipscopeModelStore) store = NULL;
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();

  if (!parse_options_full (cmd, FALSE, NULL, &argc, &argv))
    return EXIT_USAGE;
  if (argc > 1)
    return usage_error (cmd->name, _("list takes no arguments"));
  store = clipscope_model_store_new (NULL);
  entries = clipscope_model_store_list (store);

  json_builder_begin_object (b);
  add_string (b, "models_dir", clipscope_model_store_get_models_dir (store));
  json_builder_set_member_name (b, "models");
  json_builder_begin_array (b);
  for (guint i = 0; i < entries->len; i++)
    add_model_entry (b, g_ptr_array_index (entries, i));
  json_builder_end_array (b);
  json_builder_end_object (b);
  print_json (b);
  return EXIT_SUCCESS;
}

/* Progress goes to stderr: one line rewritten in place on a terminal,
 * else one plain line as each file starts. */
typedef struct {
  ClipscopeModelStore *store;
  gboolean      tty;
  int           last_file;
  gboolean      last_complete;
  char         *last_line;    /* the terminal line of the file, as if complete */
  GMainLoop    *loop;
  GCancellable *cancellable;
  char         *path;
  GError       *error;
} DownloadCli;

static void
download_progress_cb (const ClipscopeDownloadProgress *p,
                      gpointer                         user_data)
{
  DownloadCli *cli = user_data;
  gboolean complete = p->file_total >= 0 && p->file_done >= p->file_total;
  gboolean new_file = p->file_index != cli->last_file;
  g_autofree char *done = g_format_size (p->file_done);
  g_autofree char *total = p->file_total >= 0 ? g_format_size (p->file_total) : g_strdup ("?");

  if (!cli->tty)
    {
      if (new_file)
        g_printerr (_("clipscope: downloading %s (%s)\n"), p->file, total);
    }
  else if (new_file || !cli->last_complete)
    {
      /* Reports are coalesced, so a file's last one may not come; a new
       * file means the one before it is complete. */
      if (new_file && cli->last_file >= 0 && !cli->last_complete)
        g_printerr ("\r\033[K%s\n", cli->last_line);
      {
        /* TRANSLATORS: file number/file count, file name, then "bytes done of total" */
        g_autofree char *line = g_strdup_printf (_("[%d/%d] %s  %s of %s"), p->file_index + 1,
                                                 p->n_files, p->file, done, total);

        g_printerr ("\r\033[K%s%s", line, complete ? "\n" : "");
      }
      /* The line as it reads once the file is complete. */
      g_free (cli->last_line);
      cli->last_line = g_strdup_printf (_("[%d/%d] %s  %s of %s"), p->file_index + 1, p->n_files,
                                        p->file, total, total);
    }
  cli->last_file = p->file_index;
  cli->last_complete = complete;
}

static void
download_done_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  DownloadCli *cli = user_data;

  cli->path = clipscope_model_store_download_finish (cli->store, result, &cli->error);
  g_main_loop_quit (cli->loop);
}

static gboolean
interrupt_cb (gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
  return G_SOURCE_CONTINUE;
}

/* Network, disk and cancellation errors leave the partial files for the
 * next run; the store's own errors name the repository already. */
static int
fail_download (const char *name,
               GError     *error)
{
  g_autoptr(GError) owned G_GNUC_UNUSED = error;

  if (error->domain != G_IO_ERROR)
    return fail (error);
  {
    g_autofree char *msg = g_strdup_printf (_("%s: %s (run the same command to resume)"),
                                            name, error->message);

    print_error_line (msg);
  }
  return EXIT_FAILURE;
}

/* Runs the download on the engine's thread so that Ctrl-C can cancel it
 * cleanly, leaving what was fetched for the next run to resume. */
static int
models_download (const Command *cmd,
                 int            argc,
                 char         **argv)
{
  g_autoptr(ClipscopeModelStore) store = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *name = NULL;
  DownloadCli cli = { NULL, isatty (STDERR_FILENO), -1, FALSE, NULL };
  guint sigint, sigterm;

  if (!parse_one_argument (cmd, NULL, &argc, &argv))
    return EXIT_USAGE;
  store = clipscope_model_store_new (NULL);
  loop = g_main_loop_new (NULL, FALSE);
  cli.store = store;
  cli.loop = loop;
  sigint = g_unix_signal_add (SIGINT, interrupt_cb, cancellable);
  sigterm = g_unix_signal_add (SIGTERM, interrupt_cb, cancellable);
  clipscope_model_store_download_async (store, argv[1], download_progress_cb, &cli, NULL,
                                        cancellable, download_done_cb, &cli);
  g_main_loop_run (loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  if (cli.tty && cli.last_file >= 0 && !cli.last_complete)
    g_printerr ("\n");
  g_free (cli.last_line);
  if (cli.path == NULL)
    return fail_download (argv[1], cli.error);
  name = canonical_name (store, argv[1]);
  print_name_and_path (name, cli.path);
  g_free (cli.path);
  return EXIT_SUCCESS;
}

static int
models_remove (const Command *cmd,
               int            argc,
               char         **argv)
{
  g_autoptr(ClipscopeModelStore) store = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree char *name = NULL;

  if (!parse_one_argument (cmd, NULL, &argc, &argv))
    return EXIT_USAGE;
  store = clipscope_model_store_new (NULL);
  name = canonical_name (store, argv[1]);
  if (!clipscope_model_store_remove (store, argv[1], &error))
    return fail (error);

  json_builder_begin_object (b);
  add_string (b, "name", name);
  add_bool (b, "removed", TRUE);
  json_builder_end_object (b);
  print_json (b);
  return EXIT_SUCCESS;
}

static int
models_path (const Command *cmd,
             int            argc,
             char         **argv)
{
  g_autoptr(ClipscopeModelStore) store = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL, *name = NULL;

  if (!parse_one_argument (cmd, NULL, &argc, &argv))
    return EXIT_USAGE;
  store = clipscope_model_store_new (NULL);
  if ((path = clipscope_model_store_resolve (store, argv[1], &error)) == NULL)
    return fail (error);
  name = canonical_name (store, argv[1]);
  print_name_and_path (name, path);
  return EXIT_SUCCESS;
}

static int
models_add (const Command *cmd,
            int            argc,
            char         **argv)
{
  g_autofree char *name = NULL;
  const GOptionEntry entries[] = {
    { "name", 'n', 0, G_OPTION_ARG_STRING, &name, N_("The NAME to give it (default: the folder's name)"), "NAME" },
    { NULL }
  };
  g_autoptr(ClipscopeModelStore) store = NULL;
  g_autoptr(ClipscopeModelEntry) entry = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();

  if (!parse_one_argument (cmd, entries, &argc, &argv))
    return EXIT_USAGE;
  store = clipscope_model_store_new (NULL);
  if ((entry = clipscope_model_store_add_local (store, argv[1], name, &error)) == NULL)
    return fail (error);
  add_model_entry (b, entry);
  print_json (b);
  return EXIT_SUCCESS;
}

typedef int (*ModelsFunc) (const Command *cmd, int argc, char **argv);

static const struct {
  Command    cmd;
  ModelsFunc run;
} models_commands[] = {
  { { "models list", "", N_("List the bundled, catalogue, downloaded and added models as JSON."), NULL },
    models_list },
  { { "models download", "NAME", N_("Download and install a catalogue model or a Hugging Face "
      "repository \"owner/name\", resuming an interrupted download."), NULL }, models_download },
  { { "models remove", "NAME", N_("Remove a downloaded model, or forget an added folder."), NULL },
    models_remove },
  { { "models path", "NAME", N_("Print the folder of an installed model."), NULL }, models_path },
  { { "models add", "DIR", N_("Add a local model folder, once it loads."), NULL }, models_add },
};

static int
models_usage (FILE *out)
{
  fprintf (out, "%s", _("Usage: clipscope models SUBCOMMAND [OPTION…]\n\nSubcommands:\n"));
  for (gsize i = 0; i < G_N_ELEMENTS (models_commands); i++)
    fprintf (out, "  %-24s %s\n", models_commands[i].cmd.name + strlen ("models "),
             _(models_commands[i].cmd.summary));
  fprintf (out, "%s", _("\nNAME is a catalogue name, the bundled emoji-demo, an added folder's name, or a "
                        "Hugging Face repository id owner/name.\nDownloads honour HF_ENDPOINT and HF_TOKEN.\n"));
  return out == stdout ? EXIT_SUCCESS : EXIT_USAGE;
}

static int
cmd_models (int    argc,
            char **argv)
{
  if (argc < 2)
    {
      print_error_line (_("expected a subcommand: list, download, remove, path or add"));
      return models_usage (stderr);
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    return models_usage (stdout);
  for (gsize i = 0; i < G_N_ELEMENTS (models_commands); i++)
    if (strcmp (argv[1], models_commands[i].cmd.name + strlen ("models ")) == 0)
      return models_commands[i].run (&models_commands[i].cmd, argc - 1, argv + 1);
  {
    g_autofree char *msg = g_strdup_printf (_("unknown models subcommand \"%s\""), argv[1]);

    print_error_line (msg);
  }
  return models_usage (stderr);
}

/* ---------------------------------------------------------------- main */

static int
print_usage (FILE *out)
{
  fprintf (out, "%s", _("Usage: clipscope COMMAND [OPTION…]\n\nRun CLIP models locally.\n\nCommands:\n"));
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-12s %s\n", commands[i].name, _(commands[i].summary));
  fprintf (out, "%s", _("\nEvery command but models takes --model DIR|NAME and --backend auto|cpu|vulkan; "
                        "see 'clipscope COMMAND --help'.\n"));
  return out == stdout ? EXIT_SUCCESS : EXIT_USAGE;
}

int
main (int    argc,
      char **argv)
{
  cli_i18n_init ();

  if (argc < 2)
    return print_usage (stderr);
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0 || strcmp (argv[1], "help") == 0)
    return print_usage (stdout);
  if (strcmp (argv[1], "--version") == 0)
    {
      g_autofree char *info = clipscope_system_info ();
      g_print ("%s\n", info);
      return EXIT_SUCCESS;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      return commands[i].run (argc - 1, argv + 1);

  {
    g_autofree char *msg = g_strdup_printf (_("unknown command \"%s\""), argv[1]);

    print_error_line (msg);
  }
  return print_usage (stderr);
}
