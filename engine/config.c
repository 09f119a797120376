/* config.c — reading a model folder's configuration
 *
 * Hugging Face folders describe the model in config.json (text_config,
 * vision_config) and the preprocessing in preprocessor_config.json;
 * open_clip folders put both in open_clip_config.json (model_cfg,
 * preprocess_cfg). Keys that are missing take the defaults those projects
 * use, so old and new configs both load; the tensor shapes are checked
 * against these numbers later, when the weights are read.
 */
#include "model.h"
#include "json-check.h"

#include <math.h>

/* OpenAI's normalisation, the default of both formats. */
static const float openai_mean[3] = { 0.48145466f, 0.4578275f, 0.40821073f };
static const float openai_std[3] = { 0.26862954f, 0.26130258f, 0.27577711f };
/* SigLIP's: pixels to [−1, 1]. */
static const float half[3] = { 0.5f, 0.5f, 0.5f };

/* The largest dimension any key may declare; real CLIPs stay far below,
 * and it keeps products of dimensions well inside int64. */
#define MAX_DIM (1 << 20)

/* Real configurations nest three or four deep. */
#define MAX_JSON_DEPTH 32

JsonObject *
clipscope_read_json_object (const char *path,
                            GError    **error)
{
  g_autofree char *contents = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;
  gsize length = 0;
  JsonNode *root;

  if (!g_file_get_contents (path, &contents, &length, &local_error))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO,
                   "%s: %s", path, local_error->message);
      return NULL;
    }
  if (length > CLIPSCOPE_MAX_CONFIG_BYTES)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT,
                   "%s: %" G_GSIZE_FORMAT " bytes, more than the limit of %d for a configuration file",
                   path, length, CLIPSCOPE_MAX_CONFIG_BYTES);
      return NULL;
    }
  if (!clipscope_json_check_syntax (path, "JSON", contents, length, 0, MAX_JSON_DEPTH,
                                    CLIPSCOPE_ERROR_CONFIG, error))
    return NULL;
  if (!json_parser_load_from_data (parser, contents, (gssize) length, &local_error))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_CONFIG,
                   "%s: not valid JSON: %s", path, local_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_CONFIG,
                   "%s: the top level is not a JSON object", path);
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

/* ------------------------------------------------------------ typed keys */

/* A reader remembers the file so that every message can name it. */
typedef struct {
  const char *path;
  GError    **error;
  gboolean    failed;
} Reader;

static void
reader_fail_with (Reader         *r,
                  ClipscopeError  code,
                  const char     *section,
                  const char     *key,
                  const char     *problem)
{
  if (r->failed)
    return;
  r->failed = TRUE;
  g_set_error (r->error, CLIPSCOPE_ERROR, code,
               "%s: \"%s%s%s\" %s", r->path, section ? section : "",
               section ? "." : "", key, problem);
}

static void
reader_fail (Reader     *r,
             const char *section,
             const char *key,
             const char *problem)
{
  reader_fail_with (r, CLIPSCOPE_ERROR_CONFIG, section, key, problem);
}

static JsonNode *
member (JsonObject *obj,
        const char *key)
{
  JsonNode *node;

  if (obj == NULL || !json_object_has_member (obj, key))
    return NULL;
  node = json_object_get_member (obj, key);
  return JSON_NODE_HOLDS_NULL (node) ? NULL : node;
}

static gboolean
node_to_int (JsonNode *node,
             int64_t  *out)
{
  GType type;
  double d;

  if (!JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  type = json_node_get_value_type (node);
  if (type == G_TYPE_INT64)
    {
      *out = json_node_get_int (node);
      return TRUE;
    }
  if (type != G_TYPE_DOUBLE)
    return FALSE;
  /* Some exporters write sizes as 224.0. */
  d = json_node_get_double (node);
  if (d != floor (d) || fabs (d) > 1e15)
    return FALSE;
  *out = (int64_t) d;
  return TRUE;
}

/* A dimension: an integer in [lo, MAX_DIM], or @def when absent. */
static int
get_dim (Reader     *r,
         JsonObject *obj,
         const char *section,
         const char *key,
         int         def,
         int         lo)
{
  JsonNode *node = member (obj, key);
  int64_t v;

  if (node == NULL)
    return def;
  if (!node_to_int (node, &v))
    {
      reader_fail (r, section, key, "is not an integer");
      return def;
    }
  if (v < lo || v > MAX_DIM)
    {
      g_autofree char *msg = g_strdup_printf ("is %" G_GINT64_FORMAT ", outside [%d, %d]",
                                              v, lo, MAX_DIM);
      reader_fail (r, section, key, msg);
      return def;
    }
  return (int) v;
}

static double
get_number (Reader     *r,
            JsonObject *obj,
            const char *section,
            const char *key,
            double      def)
{
  JsonNode *node = member (obj, key);
  GType type;

  if (node == NULL)
    return def;
  type = JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node) : G_TYPE_INVALID;
  if (type != G_TYPE_DOUBLE && type != G_TYPE_INT64)
    {
      reader_fail (r, section, key, "is not a number");
      return def;
    }
  return json_node_get_double (node);
}

static gboolean
get_bool (Reader     *r,
          JsonObject *obj,
          const char *section,
          const char *key,
          gboolean    def)
{
  JsonNode *node = member (obj, key);

  if (node == NULL)
    return def;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    {
      reader_fail (r, section, key, "is not true or false");
      return def;
    }
  return json_node_get_boolean (node);
}

static const char *
get_string (Reader     *r,
            JsonObject *obj,
            const char *section,
            const char *key,
            const char *def)
{
  JsonNode *node = member (obj, key);

  if (node == NULL)
    return def;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      reader_fail (r, section, key, "is not a string");
      return def;
    }
  return json_node_get_string (node);
}

static JsonObject *
get_object (Reader     *r,
            JsonObject *obj,
            const char *section,
            const char *key)
{
  JsonNode *node = member (obj, key);

  if (node == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      reader_fail (r, section, key, "is not an object");
      return NULL;
    }
  return json_node_get_object (node);
}

/* Three floats, e.g. image_mean; std values must be positive. */
static void
get_triple (Reader     *r,
            JsonObject *obj,
            const char *section,
            const char *key,
            const float def[3],
            gboolean    positive,
            float       out[3])
{
  JsonNode *node = member (obj, key);
  JsonArray *array;

  memcpy (out, def, 3 * sizeof (float));
  if (node == NULL)
    return;
  array = JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
  if (array == NULL || json_array_get_length (array) != 3)
    {
      reader_fail (r, section, key, "is not a list of three numbers");
      return;
    }
  for (guint i = 0; i < 3; i++)
    {
      JsonNode *item = json_array_get_element (array, i);
      GType type = JSON_NODE_HOLDS_VALUE (item) ? json_node_get_value_type (item) : G_TYPE_INVALID;
      double v;

      if (type != G_TYPE_DOUBLE && type != G_TYPE_INT64)
        {
          reader_fail (r, section, key, "is not a list of three numbers");
          return;
        }
      v = json_node_get_double (item);
      if (!isfinite (v) || (positive && !(v > 1e-6)) || fabs (v) > 1e6)
        {
          reader_fail (r, section, key, positive ? "holds a value that is not a positive number"
                                                 : "holds a value out of range");
          return;
        }
      out[i] = (float) v;
    }
}

/* "alpha_background": [r, g, b], Clipscope's own key, with 8-bit
 * integers. Models that have it want transparent pixels composited onto
 * that colour; without it alpha is dropped as CLIP's preprocessing does. */
static void
get_alpha_background (Reader                    *r,
                      JsonObject                *obj,
                      ClipscopePreprocessParams *p)
{
  const char *key = "alpha_background";
  JsonNode *node = member (obj, key);
  JsonArray *array;

  p->composite_alpha = FALSE;
  if (node == NULL)
    return;
  array = JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
  if (array == NULL || json_array_get_length (array) != 3)
    {
      reader_fail (r, NULL, key, "is not a list of three integers from 0 to 255");
      return;
    }
  for (guint i = 0; i < 3; i++)
    {
      JsonNode *item = json_array_get_element (array, i);
      gint64 v;

      if (!JSON_NODE_HOLDS_VALUE (item) || json_node_get_value_type (item) != G_TYPE_INT64 ||
          (v = json_node_get_int (item)) < 0 || v > 255)
        {
          reader_fail (r, NULL, key, "is not a list of three integers from 0 to 255");
          return;
        }
      p->background[i] = (guint8) v;
    }
  p->composite_alpha = TRUE;
}

/* A size that may be an integer, {"shortest_edge": n} or {"height": n,
 * "width": n}; only square crops are supported. */
static int
get_size (Reader     *r,
          JsonObject *obj,
          const char *key,
          int         def)
{
  JsonNode *node = member (obj, key);
  JsonObject *size;
  int h, w;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return get_dim (r, obj, NULL, key, def, 1);
  size = json_node_get_object (node);
  if (json_object_has_member (size, "shortest_edge"))
    return get_dim (r, size, key, "shortest_edge", def, 1);
  h = get_dim (r, size, key, "height", def, 1);
  w = get_dim (r, size, key, "width", def, 1);
  if (h != w)
    reader_fail (r, NULL, key, "is not square; only square crops are supported");
  return h;
}

/* ------------------------------------------------------ Hugging Face */

/* transformers' names: "gelu" is exact, "gelu_pytorch_tanh" (and the
 * older "gelu_new") the tanh approximation SigLIP uses. */
static void
parse_hf_act (Reader               *r,
              JsonObject           *obj,
              const char           *section,
              const char           *def,
              ClipscopeTransformer *tf)
{
  const char *act = get_string (r, obj, section, "hidden_act", def);

  tf->quick_gelu = g_strcmp0 (act, "quick_gelu") == 0;
  tf->gelu_tanh = g_strcmp0 (act, "gelu_pytorch_tanh") == 0 || g_strcmp0 (act, "gelu_new") == 0;
  if (!tf->quick_gelu && !tf->gelu_tanh && g_strcmp0 (act, "gelu") != 0 && !r->failed)
    {
      g_autofree char *msg = g_strdup_printf ("is \"%s\"; only quick_gelu, gelu and "
                                              "gelu_pytorch_tanh are supported", act);
      reader_fail (r, section, "hidden_act", msg);
    }
}

/* The defaults of one family's Hugging Face configuration classes. */
typedef struct {
  int         width, mlp_width, heads, layers;
  double      ln_eps;
  const char *act;
} HfDefaults;

static void
parse_hf_transformer (Reader               *r,
                      JsonObject           *obj,
                      const char           *section,
                      ClipscopeTransformer *tf,
                      const HfDefaults     *def)
{
  tf->width = get_dim (r, obj, section, "hidden_size", def->width, 1);
  tf->mlp_width = get_dim (r, obj, section, "intermediate_size", def->mlp_width, 1);
  tf->n_heads = get_dim (r, obj, section, "num_attention_heads", def->heads, 1);
  tf->n_layers = get_dim (r, obj, section, "num_hidden_layers", def->layers, 0);
  tf->ln_eps = (float) get_number (r, obj, section, "layer_norm_eps", def->ln_eps);
  if (!(tf->ln_eps > 0.f && isfinite (tf->ln_eps)))
    reader_fail (r, section, "layer_norm_eps", "must be a positive number");
  parse_hf_act (r, obj, section, def->act, tf);
}

/* Old exports keep the tower settings in *_config_dict. */
static JsonObject *
hf_section (Reader     *r,
            JsonObject *root,
            const char *key,
            const char *legacy_key)
{
  JsonObject *obj = get_object (r, root, NULL, key);

  return obj != NULL ? obj : get_object (r, root, NULL, legacy_key);
}

/* Whether @key is a {"height": n, "width": n} size: Hugging Face's
 * processors resize to exactly that, keeping no aspect ratio. */
static gboolean
is_exact_size (JsonObject *obj,
               const char *key)
{
  JsonNode *node = member (obj, key);
  JsonObject *size;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return FALSE;
  size = json_node_get_object (node);
  return !json_object_has_member (size, "shortest_edge") && json_object_has_member (size, "height");
}

/* PIL's filter numbers, as "resample" gives them. */
static ClipscopeResample
get_hf_resample (Reader     *r,
                 JsonObject *pre)
{
  JsonNode *node = member (pre, "resample");
  int64_t v = 3;

  if (node != NULL && !node_to_int (node, &v))
    reader_fail (r, NULL, "resample", "is not an integer");
  else if (v != 2 && v != 3)
    {
      g_autofree char *msg = g_strdup_printf ("is %" G_GINT64_FORMAT "; only 2 (bilinear) and "
                                              "3 (bicubic) are supported", v);
      reader_fail (r, NULL, "resample", msg);
    }
  return v == 2 ? CLIPSCOPE_RESAMPLE_BILINEAR : CLIPSCOPE_RESAMPLE_BICUBIC;
}

static void
read_hf_preprocessor (Reader         *r,
                      JsonObject     *pre,
                      ClipscopeModel *model)
{
  ClipscopePreprocessParams *p = &model->preprocess;
  int size = model->vit.image_size;
  /* SiglipImageProcessor's defaults: a squash to 224 × 224, mean and
   * standard deviation 0.5, bicubic. */
  const gboolean siglip = model->info.family == CLIPSCOPE_FAMILY_SIGLIP;
  const float *mean = siglip ? half : openai_mean, *std = siglip ? half : openai_std;

  p->resize = get_size (r, pre, "size", size);
  p->crop = get_size (r, pre, "crop_size", size);
  p->squash = is_exact_size (pre, "size") || (siglip && member (pre, "size") == NULL);
  /* A squash with a crop after it is the squash alone when the crop
   * takes all of it, as SigLIP's and Chinese-CLIP's do (or have none). */
  if (p->squash && get_bool (r, pre, NULL, "do_center_crop", member (pre, "crop_size") != NULL)
      && p->crop != p->resize && !r->failed)
    reader_fail (r, NULL, "crop_size", "differs from \"size\"; cropping a squashed image is not supported");
  if (p->squash)
    p->crop = p->resize;
  p->resample = get_hf_resample (r, pre);
  get_triple (r, pre, NULL, "image_mean", mean, FALSE, p->mean);
  get_triple (r, pre, NULL, "image_std", std, TRUE, p->std);
  get_alpha_background (r, pre, p);
  if (!r->failed && p->crop != size)
    {
      g_autofree char *msg = g_strdup_printf ("is %d but the vision model takes %d × %d images",
                                              p->crop, size, size);
      reader_fail (r, NULL, "crop_size", msg);
    }
}

static const HfDefaults clip_text_defaults = { 512, 2048, 8, 12, 1e-5, "quick_gelu" };
static const HfDefaults clip_vision_defaults = { 768, 3072, 12, 12, 1e-5, "quick_gelu" };
/* SiglipTextConfig and SiglipVisionConfig (configuration_siglip.py): the
 * google/siglip-* configs leave nearly everything to these. */
static const HfDefaults siglip_defaults = { 768, 3072, 12, 12, 1e-6, "gelu_pytorch_tanh" };

/* SigLIP's towers: one width for the image embedding and the text head,
 * which may be absent ("no_head"). */
static void
read_hf_siglip (Reader         *r,
                JsonObject     *root,
                JsonObject     *text,
                JsonObject     *vision,
                ClipscopeModel *model)
{
  ClipscopeTextTower *t = &model->text;
  ClipscopeVit *vit = &model->vit;
  int head;

  parse_hf_transformer (r, text, "text_config", &t->tf, &siglip_defaults);
  t->context_length = get_dim (r, text, "text_config", "max_position_embeddings", 64, 2);
  t->vocab_size = get_dim (r, text, "text_config", "vocab_size", 32000, 1);
  t->pool_last = TRUE;
  t->no_head = get_bool (r, text, "text_config", "no_head", get_bool (r, root, NULL, "no_head", FALSE));
  head = get_dim (r, text, "text_config", "projection_size", t->tf.width, 1);

  parse_hf_transformer (r, vision, "vision_config", &vit->tf, &siglip_defaults);
  vit->image_size = get_dim (r, vision, "vision_config", "image_size", 224, 1);
  vit->patch_size = get_dim (r, vision, "vision_config", "patch_size", 16, 1);
  vit->map_head = TRUE;
  if (!get_bool (r, vision, "vision_config", "vision_use_head", TRUE) && !r->failed)
    reader_fail_with (r, CLIPSCOPE_ERROR_UNSUPPORTED, "vision_config", "vision_use_head",
                      "is false; without its pooling head the image tower gives no embedding");
  model->info.embed_dim = vit->tf.width;
  if (!r->failed && head != vit->tf.width)
    {
      g_autofree char *msg = g_strdup_printf ("is %d, but the image embedding has %d dimensions",
                                              head, vit->tf.width);
      reader_fail (r, "text_config", "projection_size", msg);
    }
}

/* ChineseCLIPTextConfig's (configuration_chinese_clip.py): BERT base. Its
 * vision config defaults to CLIP's, patch size 32 included. */
static const HfDefaults bert_text_defaults = { 768, 3072, 12, 12, 1e-12, "gelu" };

/* The context Chinese-CLIP was trained with, and its tokenizer's default;
 * its position table allows more. */
#define CHINESE_CLIP_CONTEXT 52

static void
read_hf_bert_text (Reader         *r,
                   JsonObject     *text,
                   ClipscopeModel *model)
{
  const char *s = "text_config";
  ClipscopeTextTower *t = &model->text;

  t->bert = TRUE;
  parse_hf_transformer (r, text, s, &t->tf, &bert_text_defaults);
  t->vocab_size = get_dim (r, text, s, "vocab_size", 21128, 1);
  t->n_positions = get_dim (r, text, s, "max_position_embeddings", 512, 2);
  t->n_token_types = get_dim (r, text, s, "type_vocab_size", 2, 1);
  t->pad_id = get_dim (r, text, s, "pad_token_id", 0, 0);
  t->context_length = MIN (CHINESE_CLIP_CONTEXT, t->n_positions);
  if (!r->failed && t->pad_id >= t->vocab_size)
    reader_fail (r, s, "pad_token_id", "is not an id of the vocabulary");
  if (!r->failed && g_strcmp0 (get_string (r, text, s, "position_embedding_type", "absolute"),
                               "absolute") != 0)
    reader_fail_with (r, CLIPSCOPE_ERROR_UNSUPPORTED, s, "position_embedding_type",
                      "is not \"absolute\", the only kind supported");
}

static gboolean
read_hf_config (ClipscopeModel *model,
                GError        **error)
{
  g_autofree char *path = g_build_filename (model->path, "config.json", NULL);
  g_autofree char *pre_path = g_build_filename (model->path, "preprocessor_config.json", NULL);
  g_autoptr(JsonObject) root = clipscope_read_json_object (path, error);
  Reader r = { path, error, FALSE };
  JsonObject *text, *vision;
  ClipscopeVit *vit = &model->vit;
  ClipscopeTextTower *t = &model->text;
  const char *model_type;

  if (root == NULL)
    return FALSE;
  text = hf_section (&r, root, "text_config", "text_config_dict");
  vision = hf_section (&r, root, "vision_config", "vision_config_dict");
  model_type = get_string (&r, root, NULL, "model_type", "clip");

  if (g_strcmp0 (model_type, "siglip") == 0)
    {
      /* SigLIP 2 at a fixed resolution is SigLIP with Gemma's tokenizer. */
      model->info.family = CLIPSCOPE_FAMILY_SIGLIP;
      read_hf_siglip (&r, root, text, vision, model);
    }
  else if (g_strcmp0 (model_type, "clip") == 0 || g_strcmp0 (model_type, "chinese_clip") == 0)
    {
      model->info.embed_dim = get_dim (&r, root, NULL, "projection_dim", 512, 1);
      if (g_strcmp0 (model_type, "chinese_clip") == 0)
        {
          /* CLIP's ViT with a BERT text tower. */
          model->info.family = CLIPSCOPE_FAMILY_CHINESE_CLIP;
          read_hf_bert_text (&r, text, model);
        }
      else
        {
          parse_hf_transformer (&r, text, "text_config", &t->tf, &clip_text_defaults);
          t->context_length = get_dim (&r, text, "text_config", "max_position_embeddings", 77, 2);
          t->vocab_size = get_dim (&r, text, "text_config", "vocab_size", 49408, 1);
        }
      parse_hf_transformer (&r, vision, "vision_config", &vit->tf, &clip_vision_defaults);
      vit->image_size = get_dim (&r, vision, "vision_config", "image_size", 224, 1);
      vit->patch_size = get_dim (&r, vision, "vision_config", "patch_size", 32, 1);
    }
  else if (!r.failed)
    {
      g_autofree char *msg =
        g_strdup_printf ("is \"%s\"; Clipscope runs \"clip\", \"siglip\" and \"chinese_clip\" "
                         "models%s", model_type,
                         g_strcmp0 (model_type, "siglip2") == 0
                         ? " (SigLIP 2's fixed-resolution checkpoints are \"siglip\"; "
                           "its NaFlex ones are not supported)" : "");
      reader_fail_with (&r, CLIPSCOPE_ERROR_UNSUPPORTED, NULL, "model_type", msg);
    }
  if (!r.failed && get_dim (&r, vision, "vision_config", "num_channels", 3, 1) != 3)
    reader_fail (&r, "vision_config", "num_channels", "is not 3");
  if (r.failed)
    return FALSE;
  model->info.format = CLIPSCOPE_FORMAT_HF;
  model->info.vision_kind = CLIPSCOPE_VISION_VIT;
  if (g_file_test (pre_path, G_FILE_TEST_EXISTS))
    {
      g_autoptr(JsonObject) pre = clipscope_read_json_object (pre_path, error);
      Reader pr = { pre_path, error, FALSE };

      if (pre == NULL)
        return FALSE;
      read_hf_preprocessor (&pr, pre, model);
      return !pr.failed;
    }
  read_hf_preprocessor (&r, NULL, model);
  return !r.failed;
}

/* ------------------------------------------------------------ open_clip */

/* Architectures open_clip can describe that this engine does not run. A
 * key listed here that is present and not false/null refuses the model
 * rather than running it wrongly. */
static const char * const unsupported_vision_keys[] = {
  "timm_model_name", "attentional_pool", "no_ln_pre", "final_ln_after_pool",
  "input_patchnorm", "ls_init_value", "output_tokens",
};
static const char * const unsupported_text_keys[] = {
  "hf_model_name", "embed_cls", "ls_init_value", "no_causal_mask", "proj_bias",
  "output_tokens",
};

static gboolean
is_truthy (JsonNode *node)
{
  if (node == NULL)
    return FALSE;
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_BOOLEAN)
    return json_node_get_boolean (node);
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    return json_node_get_string (node)[0] != '\0';
  return TRUE;
}

static void
refuse_unsupported (Reader             *r,
                    JsonObject         *obj,
                    const char         *section,
                    const char * const *keys,
                    gsize               n_keys)
{
  for (gsize i = 0; i < n_keys; i++)
    if (is_truthy (member (obj, keys[i])))
      {
        reader_fail_with (r, CLIPSCOPE_ERROR_UNSUPPORTED, section, keys[i],
                          "is set; Clipscope does not support this architecture");
        return;
      }
}

/* Pooling choices open_clip offers; only CLIP's own are run here. */
static void
check_pool_type (Reader     *r,
                 JsonObject *obj,
                 const char *section,
                 const char *allowed)
{
  const char *pool = get_string (r, obj, section, "pool_type", allowed);

  if (!r->failed && g_strcmp0 (pool, allowed) != 0)
    {
      g_autofree char *msg = g_strdup_printf ("is \"%s\"; only \"%s\" is supported", pool, allowed);
      reader_fail (r, section, "pool_type", msg);
    }
}

/* open_clip sizes the image tower's attention by "head_width": @dim //
 * head_width heads, where @dim is the ViT's width or the ResNet's pooled
 * width × 32. Sizes its attention could not split evenly are refused. */
static int
get_vision_heads (Reader     *r,
                  JsonObject *v,
                  const char *section,
                  int         dim)
{
  int head_width = get_dim (r, v, section, "head_width", 64, 1);
  int heads = dim / head_width;

  if (!r->failed && (heads < 1 || dim % heads != 0))
    {
      g_autofree char *msg =
        g_strdup_printf ("is %d, which does not divide the %d channels of the image "
                         "tower's attention into heads", head_width, dim);
      reader_fail (r, section, "head_width", msg);
      return 1;
    }
  return heads;
}

static void
read_open_clip_vision (Reader         *r,
                       JsonObject     *cfg,
                       ClipscopeModel *model,
                       gboolean        quick_gelu)
{
  const char *s = "vision_cfg";
  JsonObject *v = get_object (r, cfg, NULL, s);
  JsonNode *layers = member (v, "layers");
  JsonNode *size = member (v, "image_size");
  int image_size = 224;

  refuse_unsupported (r, v, s, unsupported_vision_keys, G_N_ELEMENTS (unsupported_vision_keys));
  check_pool_type (r, v, s, "tok");
  if (size != NULL && JSON_NODE_HOLDS_ARRAY (size))
    {
      JsonArray *hw = json_node_get_array (size);
      int64_t h = 0, w = 0;

      if (json_array_get_length (hw) != 2 || !node_to_int (json_array_get_element (hw, 0), &h)
          || !node_to_int (json_array_get_element (hw, 1), &w) || h != w || h < 1 || h > MAX_DIM)
        reader_fail (r, s, "image_size", "is not a square size");
      image_size = (int) h;
    }
  else
    image_size = get_dim (r, v, s, "image_size", 224, 1);

  if (layers != NULL && JSON_NODE_HOLDS_ARRAY (layers))
    {
      JsonArray *a = json_node_get_array (layers);
      ClipscopeResnet *rn = &model->resnet;

      model->info.vision_kind = CLIPSCOPE_VISION_RESNET;
      if (json_array_get_length (a) != 4)
        reader_fail (r, s, "layers", "is a list but not of four stage depths");
      for (guint i = 0; i < 4 && !r->failed; i++)
        {
          int64_t n = 0;
          if (!node_to_int (json_array_get_element (a, i), &n) || n < 1 || n > 1024)
            reader_fail (r, s, "layers", "holds a stage depth that is not an integer in [1, 1024]");
          rn->n_layers[i] = (int) n;
        }
      rn->image_size = image_size;
      rn->width = get_dim (r, v, s, "width", 64, 2);
      if (!r->failed && (rn->width % 2 != 0 || image_size % 32 != 0))
        reader_fail (r, s, "width", "must be even and image_size a multiple of 32 for a ResNet");
      rn->pool_dim = rn->width * 32;
      rn->pool_heads = get_vision_heads (r, v, s, rn->pool_dim);
      rn->pool_grid = image_size / 32;
    }
  else
    {
      ClipscopeVit *vit = &model->vit;

      model->info.vision_kind = CLIPSCOPE_VISION_VIT;
      vit->image_size = image_size;
      vit->tf.n_layers = get_dim (r, v, s, "layers", 12, 0);
      vit->tf.width = get_dim (r, v, s, "width", 768, 1);
      vit->patch_size = get_dim (r, v, s, "patch_size", 16, 1);
      vit->tf.n_heads = get_vision_heads (r, v, s, vit->tf.width);
      vit->tf.mlp_width = (int) (vit->tf.width * get_number (r, v, s, "mlp_ratio", 4.0));
      vit->tf.ln_eps = 1e-5f;
      vit->tf.quick_gelu = quick_gelu;
    }
}

/* The sizes of open_clip's TextTransformer, with a family's defaults. */
static void
read_open_clip_text_sizes (Reader             *r,
                           JsonObject         *t,
                           ClipscopeTextTower *text,
                           int                 context_length,
                           int                 vocab_size,
                           int                 width,
                           int                 heads)
{
  const char *s = "text_cfg";

  text->context_length = get_dim (r, t, s, "context_length", context_length, 2);
  text->vocab_size = get_dim (r, t, s, "vocab_size", vocab_size, 1);
  text->tf.width = get_dim (r, t, s, "width", width, 1);
  text->tf.n_heads = get_dim (r, t, s, "heads", heads, 1);
  text->tf.n_layers = get_dim (r, t, s, "layers", 12, 0);
  text->tf.mlp_width = (int) (text->tf.width * get_number (r, t, s, "mlp_ratio", 4.0));
}

static void
read_open_clip_text (Reader         *r,
                     JsonObject     *cfg,
                     ClipscopeModel *model,
                     gboolean        quick_gelu)
{
  const char *s = "text_cfg";
  JsonObject *t = get_object (r, cfg, NULL, s);
  ClipscopeTextTower *text = &model->text;

  refuse_unsupported (r, t, s, unsupported_text_keys, G_N_ELEMENTS (unsupported_text_keys));
  check_pool_type (r, t, s, "argmax");
  read_open_clip_text_sizes (r, t, text, 77, 49408, 512, 8);
  text->tf.ln_eps = 1e-5f;
  text->tf.quick_gelu = quick_gelu;
}

/* ----------------------------------------------- open_clip's SigLIP */

/* The towers timm's vit_<size>_patch<p>_siglip[2]_<resolution> names. */
static const struct {
  const char *size;
  int         width, layers, heads, mlp_width;
} timm_siglip_sizes[] = {
  { "base", 768, 12, 12, 3072 },
  { "large", 1024, 24, 16, 4096 },
  { "so400m", 1152, 27, 16, 4304 },
  { "giantopt", 1536, 40, 16, 6144 },
};

/* Whether open_clip's config describes a SigLIP: a timm SigLIP image tower. */
static gboolean
is_open_clip_siglip (JsonObject *cfg)
{
  JsonObject *v = NULL;
  JsonNode *node = member (cfg, "vision_cfg"), *name;

  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    v = json_node_get_object (node);
  name = member (v, "timm_model_name");
  return name != NULL && JSON_NODE_HOLDS_VALUE (name)
         && json_node_get_value_type (name) == G_TYPE_STRING
         && strstr (json_node_get_string (name), "_siglip") != NULL;
}

/* The tower comes from the timm name; open_clip's own keys, where the
 * config has them, take precedence, so that a folder can describe a
 * tower timm has no name for (the tests' small models). timm's image
 * tower uses exact GELU and LayerNorm eps 1e-6. */
static void
read_open_clip_siglip_vision (Reader         *r,
                              JsonObject     *cfg,
                              ClipscopeModel *model)
{
  static const char * const refused[] = { "attentional_pool", "output_tokens" };
  const char *s = "vision_cfg";
  JsonObject *v = get_object (r, cfg, NULL, s);
  ClipscopeVit *vit = &model->vit;
  const char *name = get_string (r, v, s, "timm_model_name", "");
  const char *pool = get_string (r, v, s, "timm_pool", "map");
  const char *proj = get_string (r, v, s, "timm_proj", "none");
  g_auto(GStrv) parts = g_strsplit (name, "_", -1);
  int width = 0, layers = 0, heads = 0, mlp = 0, patch = 0, image = 0;

  refuse_unsupported (r, v, s, refused, G_N_ELEMENTS (refused));
  for (gsize i = 0; g_strv_length (parts) >= 4 && i < G_N_ELEMENTS (timm_siglip_sizes); i++)
    if (g_str_equal (parts[0], "vit") && g_str_equal (parts[1], timm_siglip_sizes[i].size))
      {
        width = timm_siglip_sizes[i].width;
        layers = timm_siglip_sizes[i].layers;
        heads = timm_siglip_sizes[i].heads;
        mlp = timm_siglip_sizes[i].mlp_width;
      }
  if (parts[0] != NULL && parts[1] != NULL && g_str_has_prefix (parts[2] ? parts[2] : "", "patch"))
    patch = (int) CLAMP (g_ascii_strtoll (parts[2] + 5, NULL, 10), 0, MAX_DIM);
  if (g_strv_length (parts) > 0)
    image = (int) CLAMP (g_ascii_strtoll (parts[g_strv_length (parts) - 1], NULL, 10), 0, MAX_DIM);
  if (width == 0 && member (v, "width") == NULL && !r->failed)
    {
      g_autofree char *msg = g_strdup_printf ("is \"%s\", a SigLIP tower Clipscope does not know", name);
      reader_fail_with (r, CLIPSCOPE_ERROR_UNSUPPORTED, s, "timm_model_name", msg);
    }
  if (!r->failed && g_strcmp0 (pool, "map") != 0)
    reader_fail_with (r, CLIPSCOPE_ERROR_UNSUPPORTED, s, "timm_pool",
                      "is not \"map\", the attention pooling Clipscope runs");
  if (!r->failed && g_strcmp0 (proj, "none") != 0)
    reader_fail_with (r, CLIPSCOPE_ERROR_UNSUPPORTED, s, "timm_proj",
                      "is not \"none\"; SigLIP has no image projection");

  model->info.vision_kind = CLIPSCOPE_VISION_VIT;
  vit->map_head = TRUE;
  vit->tf.width = get_dim (r, v, s, "width", MAX (width, 1), 1);
  vit->tf.n_layers = get_dim (r, v, s, "layers", layers, 0);
  vit->tf.n_heads = member (v, "head_width") != NULL || heads == 0
                    ? get_vision_heads (r, v, s, vit->tf.width) : heads;
  vit->tf.mlp_width = member (v, "mlp_ratio") != NULL || mlp == 0
                      ? (int) (vit->tf.width * get_number (r, v, s, "mlp_ratio", 4.0)) : mlp;
  vit->patch_size = get_dim (r, v, s, "patch_size", patch > 0 ? patch : 16, 1);
  vit->image_size = get_dim (r, v, s, "image_size", image > 0 ? image : 224, 1);
  vit->tf.ln_eps = 1e-6f;
  vit->tf.quick_gelu = FALSE;
  vit->tf.gelu_tanh = FALSE;
}

/* open_clip's TextTransformer as SigLIP configures it: no causal mask,
 * pooled at the last position, a Linear projection with a bias (or none),
 * LayerNorm eps and GELU from norm_kwargs and act_kwargs. */
static void
read_open_clip_siglip_text (Reader         *r,
                            JsonObject     *cfg,
                            ClipscopeModel *model)
{
  static const char * const refused[] = { "hf_model_name", "embed_cls", "ls_init_value", "output_tokens" };
  const char *s = "text_cfg";
  JsonObject *t = get_object (r, cfg, NULL, s);
  JsonObject *norm = get_object (r, t, s, "norm_kwargs");
  JsonObject *act = get_object (r, t, s, "act_kwargs");
  ClipscopeTextTower *text = &model->text;
  const char *proj_type = get_string (r, t, s, "proj_type", "linear");

  refuse_unsupported (r, t, s, refused, G_N_ELEMENTS (refused));
  check_pool_type (r, t, s, "last");
  if (!r->failed && !get_bool (r, t, s, "no_causal_mask", FALSE))
    reader_fail_with (r, CLIPSCOPE_ERROR_UNSUPPORTED, s, "no_causal_mask",
                      "is not true; SigLIP's text tower attends in both directions");
  text->no_head = g_strcmp0 (proj_type, "none") == 0;
  if (!r->failed && !text->no_head && !get_bool (r, t, s, "proj_bias", FALSE))
    reader_fail_with (r, CLIPSCOPE_ERROR_UNSUPPORTED, s, "proj_bias",
                      "is not true; a SigLIP text projection is a Linear with a bias");
  text->pool_last = TRUE;
  read_open_clip_text_sizes (r, t, text, 64, 32000, 768, 12);
  text->tf.ln_eps = (float) get_number (r, norm, "text_cfg.norm_kwargs", "eps", 1e-5);
  if (!(text->tf.ln_eps > 0.f && isfinite (text->tf.ln_eps)))
    reader_fail (r, "text_cfg.norm_kwargs", "eps", "must be a positive number");
  text->tf.quick_gelu = FALSE;
  text->tf.gelu_tanh = g_strcmp0 (get_string (r, act, "text_cfg.act_kwargs", "approximate", "none"),
                                  "tanh") == 0;
}

static void
read_open_clip_preprocess (Reader         *r,
                           JsonObject     *root,
                           ClipscopeModel *model)
{
  const char *s = "preprocess_cfg";
  JsonObject *pre = get_object (r, root, NULL, s);
  ClipscopePreprocessParams *p = &model->preprocess;
  /* open_clip's SigLIP presets (pretrained.py _slpcfg): a squash,
   * bicubic, mean and standard deviation 0.5. */
  const gboolean siglip = model->info.family == CLIPSCOPE_FAMILY_SIGLIP;
  const char *interp = get_string (r, pre, s, "interpolation", "bicubic");
  const char *mode = get_string (r, pre, s, "resize_mode", siglip ? "squash" : "shortest");
  int size = model->info.vision_kind == CLIPSCOPE_VISION_VIT ? model->vit.image_size
                                                             : model->resnet.image_size;

  get_triple (r, pre, s, "mean", siglip ? half : openai_mean, FALSE, p->mean);
  get_triple (r, pre, s, "std", siglip ? half : openai_std, TRUE, p->std);
  if (!r->failed && g_strcmp0 (interp, "bicubic") != 0 && g_strcmp0 (interp, "bilinear") != 0)
    reader_fail (r, s, "interpolation", "is not \"bicubic\" or \"bilinear\", the filters supported");
  if (!r->failed && g_strcmp0 (mode, "shortest") != 0 && g_strcmp0 (mode, "squash") != 0)
    reader_fail (r, s, "resize_mode", "is not \"shortest\" or \"squash\", the modes supported");
  p->resample = g_strcmp0 (interp, "bilinear") == 0 ? CLIPSCOPE_RESAMPLE_BILINEAR
                                                    : CLIPSCOPE_RESAMPLE_BICUBIC;
  p->squash = g_strcmp0 (mode, "squash") == 0;
  p->resize = size;
  p->crop = size;
}

static gboolean
read_open_clip_config (ClipscopeModel *model,
                       GError        **error)
{
  g_autofree char *path = g_build_filename (model->path, "open_clip_config.json", NULL);
  g_autoptr(JsonObject) root = clipscope_read_json_object (path, error);
  Reader r = { path, error, FALSE };
  JsonObject *cfg;
  gboolean quick_gelu;

  if (root == NULL)
    return FALSE;
  /* The hub's files nest the model under model_cfg; a bare model config
   * (as in open_clip's own model_configs/) keeps it at the top. */
  cfg = get_object (&r, root, NULL, "model_cfg");
  if (cfg == NULL)
    cfg = root;
  quick_gelu = get_bool (&r, cfg, NULL, "quick_gelu", get_bool (&r, root, NULL, "quick_gelu", FALSE));
  model->info.embed_dim = get_dim (&r, cfg, NULL, "embed_dim", 512, 1);
  if (is_open_clip_siglip (cfg))
    {
      model->info.family = CLIPSCOPE_FAMILY_SIGLIP;
      read_open_clip_siglip_vision (&r, cfg, model);
      read_open_clip_siglip_text (&r, cfg, model);
      if (!r.failed && model->info.embed_dim != model->vit.tf.width)
        {
          g_autofree char *msg = g_strdup_printf ("is %d, but the image tower is %d wide and has "
                                                  "no projection", model->info.embed_dim,
                                                  model->vit.tf.width);
          reader_fail (&r, NULL, "embed_dim", msg);
        }
    }
  else
    {
      read_open_clip_vision (&r, cfg, model, quick_gelu);
      read_open_clip_text (&r, cfg, model, quick_gelu);
    }
  if (!r.failed)
    read_open_clip_preprocess (&r, root, model);
  model->info.format = CLIPSCOPE_FORMAT_OPEN_CLIP;
  return !r.failed;
}

/* ------------------------------------------------------------ dispatch */

static gboolean
has_file (const char *dir,
          const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  return g_file_test (path, G_FILE_TEST_IS_REGULAR);
}

gboolean
clipscope_model_read_config (ClipscopeModel *model,
                             GError        **error)
{
  const char *dir = model->path;

  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO,
                   "%s: %s", dir, g_file_test (dir, G_FILE_TEST_EXISTS)
                                   ? "not a folder" : "no such folder");
      return FALSE;
    }
  /* LAION's repositories hold both layouts; either loads the same model,
   * and the Hugging Face one is tried first. */
  if (has_file (dir, "config.json") && has_file (dir, "model.safetensors"))
    return read_hf_config (model, error);
  if (has_file (dir, "open_clip_config.json") && has_file (dir, "open_clip_model.safetensors"))
    return read_open_clip_config (model, error);

  g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_CONFIG,
               "%s: not a CLIP model folder: expected config.json with model.safetensors "
               "(Hugging Face) or open_clip_config.json with open_clip_model.safetensors (open_clip)",
               dir);
  return FALSE;
}
