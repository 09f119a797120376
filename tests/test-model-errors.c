/* test-model-errors.c — model folders that must be refused cleanly
 *
 * Each case writes a folder and expects clipscope_model_load() to fail
 * with one error code and a message naming the file at fault. Folders
 * with malformed weights are covered by test-cli.py, which builds real
 * models with the Python fixture.
 */
#include "clipscope-private.h"

#include <glib/gstdio.h>

typedef struct {
  const char *name;
  const char *file;          /* written into the folder, or NULL */
  const char *contents;
  const char *weights;       /* model.safetensors or open_clip_model.safetensors */
  const char *preprocessor;  /* preprocessor_config.json, or NULL */
  int         code;
  const char *needle;        /* expected in the message */
} Case;

static const Case cases[] = {
  { "empty-folder", NULL, NULL, NULL, NULL, CLIPSCOPE_ERROR_CONFIG, "not a CLIP model folder" },
  { "config-not-json", "config.json", "{ not json", "model.safetensors", NULL, CLIPSCOPE_ERROR_CONFIG, "config.json" },
  { "config-array", "config.json", "[1, 2]", "model.safetensors", NULL, CLIPSCOPE_ERROR_CONFIG, "not a JSON object" },
  { "config-empty", "config.json", "", "model.safetensors", NULL, CLIPSCOPE_ERROR_CONFIG, "config.json" },
  { "dim-string", "config.json", "{\"projection_dim\": \"512\"}", "model.safetensors", NULL,
    CLIPSCOPE_ERROR_CONFIG, "projection_dim" },
  { "dim-negative", "config.json", "{\"text_config\": {\"hidden_size\": -4}}", "model.safetensors", NULL,
    CLIPSCOPE_ERROR_CONFIG, "text_config.hidden_size" },
  { "dim-huge", "config.json", "{\"vision_config\": {\"hidden_size\": 1e12}}", "model.safetensors", NULL,
    CLIPSCOPE_ERROR_CONFIG, "vision_config.hidden_size" },
  { "act-unknown", "config.json", "{\"text_config\": {\"hidden_act\": \"relu\"}}", "model.safetensors", NULL,
    CLIPSCOPE_ERROR_CONFIG, "hidden_act" },
  { "weights-empty", "config.json", "{}", "model.safetensors", NULL, CLIPSCOPE_ERROR_SAFETENSORS,
    "model.safetensors" },
  { "open-clip-timm", "open_clip_config.json",
    "{\"model_cfg\": {\"vision_cfg\": {\"timm_model_name\": \"convnext_base\"}}}",
    "open_clip_model.safetensors", NULL, CLIPSCOPE_ERROR_UNSUPPORTED, "timm_model_name" },
  { "open-clip-hf-text", "open_clip_config.json",
    "{\"model_cfg\": {\"text_cfg\": {\"hf_model_name\": \"xlm-roberta-base\"}}}",
    "open_clip_model.safetensors", NULL, CLIPSCOPE_ERROR_UNSUPPORTED, "hf_model_name" },
  { "open-clip-layers", "open_clip_config.json",
    "{\"model_cfg\": {\"vision_cfg\": {\"layers\": [3, 4, 6]}}}",
    "open_clip_model.safetensors", NULL, CLIPSCOPE_ERROR_CONFIG, "vision_cfg.layers" },
  /* 8 × 32 channels in 256 // 48 = 5 heads, which torch cannot split */
  { "open-clip-resnet-head-width", "open_clip_config.json",
    "{\"model_cfg\": {\"vision_cfg\": {\"layers\": [1, 1, 1, 1], \"width\": 8, \"head_width\": 48}}}",
    "open_clip_model.safetensors", NULL, CLIPSCOPE_ERROR_CONFIG, "vision_cfg.head_width" },
  { "open-clip-resnet-head-width-wide", "open_clip_config.json",
    "{\"model_cfg\": {\"vision_cfg\": {\"layers\": [1, 1, 1, 1], \"width\": 8, \"head_width\": 512}}}",
    "open_clip_model.safetensors", NULL, CLIPSCOPE_ERROR_CONFIG, "vision_cfg.head_width" },
  { "open-clip-vit-head-width", "open_clip_config.json",
    "{\"model_cfg\": {\"vision_cfg\": {\"width\": 100, \"head_width\": 30}}}",
    "open_clip_model.safetensors", NULL, CLIPSCOPE_ERROR_CONFIG, "vision_cfg.head_width" },
  { "open-clip-mean", "open_clip_config.json",
    "{\"model_cfg\": {}, \"preprocess_cfg\": {\"std\": [0.2, 0, 0.3]}}",
    "open_clip_model.safetensors", NULL, CLIPSCOPE_ERROR_CONFIG, "preprocess_cfg.std" },
  { "config-single-quote", "config.json", "{'a': 1}", "model.safetensors", NULL,
    CLIPSCOPE_ERROR_CONFIG, "single quote" },
  { "config-comment", "config.json", "{/* [[[ */}", "model.safetensors", NULL,
    CLIPSCOPE_ERROR_CONFIG, "slash" },
  { "config-octal", "config.json", "{\"projection_dim\": 0777}", "model.safetensors", NULL,
    CLIPSCOPE_ERROR_CONFIG, "leading zero" },
  { "preprocessor-crop", "config.json", "{}", "model.safetensors", "{\"crop_size\": 100}",
    CLIPSCOPE_ERROR_CONFIG, "crop_size" },
  { "alpha-background-short", "config.json", "{}", "model.safetensors",
    "{\"alpha_background\": [255, 255]}", CLIPSCOPE_ERROR_CONFIG, "\"alpha_background\" is not" },
  { "alpha-background-range", "config.json", "{}", "model.safetensors",
    "{\"alpha_background\": [255, 256, 0]}", CLIPSCOPE_ERROR_CONFIG, "from 0 to 255" },
  { "alpha-background-fraction", "config.json", "{}", "model.safetensors",
    "{\"alpha_background\": [1.0, 0.5, 0]}", CLIPSCOPE_ERROR_CONFIG, "alpha_background" },
  { "alpha-background-name", "config.json", "{}", "model.safetensors",
    "{\"alpha_background\": \"white\"}", CLIPSCOPE_ERROR_CONFIG, "alpha_background" },
};

static void
write_file (const char *dir,
            const char *name,
            const char *contents)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

static void
remove_folder (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_remove (path);
    }
  g_rmdir (dir);
}

static void
test_case (gconstpointer data)
{
  const Case *c = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("clipscope-model-XXXXXX", &error);
  g_autoptr(ClipscopeModel) model = NULL;

  g_assert_no_error (error);
  if (c->file != NULL)
    write_file (dir, c->file, c->contents);
  if (c->weights != NULL)
    write_file (dir, c->weights, "");
  if (c->preprocessor != NULL)
    write_file (dir, "preprocessor_config.json", c->preprocessor);

  model = clipscope_model_load (dir, NULL, NULL, &error);
  g_assert_null (model);
  g_assert_error (error, CLIPSCOPE_ERROR, c->code);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, c->needle));
  g_assert_nonnull (strstr (error->message, dir));

  remove_folder (dir);
}

/* json-glib's parser recurses per level; a million '[' must be refused
 * before it sees them, not crash it. */
static void
test_deep_config (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("clipscope-model-XXXXXX", &error);
  g_autofree char *deep = g_strnfill (1000000, '[');
  g_autoptr(ClipscopeModel) model = NULL;

  g_assert_no_error (error);
  write_file (dir, "config.json", deep);
  write_file (dir, "model.safetensors", "");
  model = clipscope_model_load (dir, NULL, NULL, &error);
  g_assert_null (model);
  g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "nests values more than"));
  remove_folder (dir);
}

/* Python writes exponents with leading zeros; that is valid JSON. */
static void
test_exponent_zeros (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("clipscope-model-XXXXXX", &error);
  g_autoptr(ClipscopeModel) model = NULL;

  g_assert_no_error (error);
  write_file (dir, "config.json", "{\"text_config\": {\"layer_norm_eps\": 1e-05}}");
  write_file (dir, "model.safetensors", "");
  model = clipscope_model_load (dir, NULL, NULL, &error);
  g_assert_null (model);
  /* The configuration is accepted; the empty weights file is what fails. */
  g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_SAFETENSORS);
  remove_folder (dir);
}

static void
test_missing_folder (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeModel) model = clipscope_model_load ("/nonexistent/clip-model", NULL, NULL, &error);

  g_assert_null (model);
  g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "/nonexistent/clip-model"));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/model/missing-folder", test_missing_folder);
  g_test_add_func ("/engine/model/deep-config", test_deep_config);
  g_test_add_func ("/engine/model/exponent-zeros", test_exponent_zeros);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/engine/model/invalid/%s", cases[i].name);
      g_test_add_data_func (path, &cases[i], test_case);
    }
  return g_test_run ();
}
