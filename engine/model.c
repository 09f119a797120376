/* model.c — loading a CLIP checkpoint
 *
 * Both supported layouts name the same logical tensors differently. The
 * tables below put the two names side by side; every tensor is found
 * through them, its shape checked against the configuration, and its data
 * either used in place (float32 in the mapping) or converted once.
 */
#include "model.h"

#include <math.h>

/* ------------------------------------------------------------ name tables */

typedef enum {
  T_TOKEN_EMB,
  T_TEXT_POS,
  T_LN_FINAL_W,
  T_LN_FINAL_B,
  T_TEXT_PROJ,
  T_TEXT_PROJ_B,
  T_CLASS_EMB,
  T_PATCH,
  T_PATCH_B,
  T_VISION_POS,
  T_LN_PRE_W,
  T_LN_PRE_B,
  T_LN_POST_W,
  T_LN_POST_B,
  T_VISION_PROJ,
  T_LOGIT_SCALE,
  T_LOGIT_BIAS,
  N_ROLES,
} TensorRole;

/* The four layouts: CLIP and SigLIP, each as Hugging Face and open_clip
 * write it. open_clip's SigLIP has a timm image tower (visual.trunk) and
 * its own text tower under "text.". */
typedef enum {
  LAYOUT_HF,
  LAYOUT_OPEN_CLIP,
  LAYOUT_HF_SIGLIP,
  LAYOUT_OPEN_CLIP_SIGLIP,
  N_LAYOUTS,
} Layout;

/* The projections differ in layout too: Hugging Face stores a Linear
 * weight (out, in), OpenAI's state dict the matrix (in, out) it multiplies
 * by on the right; open_clip's SigLIP text projection is a Linear. NULL:
 * the layout has no such tensor. */
static const char * const tensor_names[N_ROLES][N_LAYOUTS] = {
  [T_TOKEN_EMB]   = { "text_model.embeddings.token_embedding.weight", "token_embedding.weight",
                      "text_model.embeddings.token_embedding.weight", "text.token_embedding.weight" },
  [T_TEXT_POS]    = { "text_model.embeddings.position_embedding.weight", "positional_embedding",
                      "text_model.embeddings.position_embedding.weight", "text.positional_embedding" },
  [T_LN_FINAL_W]  = { "text_model.final_layer_norm.weight", "ln_final.weight",
                      "text_model.final_layer_norm.weight", "text.ln_final.weight" },
  [T_LN_FINAL_B]  = { "text_model.final_layer_norm.bias", "ln_final.bias",
                      "text_model.final_layer_norm.bias", "text.ln_final.bias" },
  [T_TEXT_PROJ]   = { "text_projection.weight", "text_projection",
                      "text_model.head.weight", "text.text_projection.weight" },
  [T_TEXT_PROJ_B] = { NULL, NULL, "text_model.head.bias", "text.text_projection.bias" },
  [T_CLASS_EMB]   = { "vision_model.embeddings.class_embedding", "visual.class_embedding" },
  [T_PATCH]       = { "vision_model.embeddings.patch_embedding.weight", "visual.conv1.weight",
                      "vision_model.embeddings.patch_embedding.weight",
                      "visual.trunk.patch_embed.proj.weight" },
  [T_PATCH_B]     = { NULL, NULL, "vision_model.embeddings.patch_embedding.bias",
                      "visual.trunk.patch_embed.proj.bias" },
  [T_VISION_POS]  = { "vision_model.embeddings.position_embedding.weight", "visual.positional_embedding",
                      "vision_model.embeddings.position_embedding.weight", "visual.trunk.pos_embed" },
  [T_LN_PRE_W]    = { "vision_model.pre_layrnorm.weight", "visual.ln_pre.weight" },
  [T_LN_PRE_B]    = { "vision_model.pre_layrnorm.bias", "visual.ln_pre.bias" },
  [T_LN_POST_W]   = { "vision_model.post_layernorm.weight", "visual.ln_post.weight",
                      "vision_model.post_layernorm.weight", "visual.trunk.norm.weight" },
  [T_LN_POST_B]   = { "vision_model.post_layernorm.bias", "visual.ln_post.bias",
                      "vision_model.post_layernorm.bias", "visual.trunk.norm.bias" },
  [T_VISION_PROJ] = { "visual_projection.weight", "visual.proj" },
  [T_LOGIT_SCALE] = { "logit_scale", "logit_scale", "logit_scale", "logit_scale" },
  [T_LOGIT_BIAS]  = { NULL, NULL, "logit_bias", "logit_bias" },
};

/* Inside a block, relative to the block prefix: Hugging Face's names,
 * open_clip's (OpenAI's), timm's and BERT's. open_clip packs q, k and v
 * into one in_proj tensor of 3 × width rows, timm into qkv; part says
 * which third. BERT's blocks are post-LN: its "ln_1" follows the
 * attention, its "ln_2" the MLP (see bert.c). */
typedef enum {
  BLOCKS_HF,
  BLOCKS_OPEN_CLIP,
  BLOCKS_TIMM,
  BLOCKS_BERT,
  N_BLOCK_LAYOUTS,
} BlockLayout;

typedef struct {
  gsize       offset;        /* of the pointer in ClipscopeBlock */
  const char *names[N_BLOCK_LAYOUTS];
  int         part;          /* -1: the whole tensor */
  gboolean    is_matrix;
  gboolean    mlp_rows;      /* (mlp_width, …) rather than (width, …) */
  gboolean    mlp_cols;      /* (…, mlp_width) */
} BlockTensor;

#define B(field) G_STRUCT_OFFSET (ClipscopeBlock, field)
static const BlockTensor block_tensors[] = {
  { B (ln_1_w), { "layer_norm1.weight", "ln_1.weight", "norm1.weight", "attention.output.LayerNorm.weight" }, -1, FALSE, FALSE, FALSE },
  { B (ln_1_b), { "layer_norm1.bias", "ln_1.bias", "norm1.bias", "attention.output.LayerNorm.bias" }, -1, FALSE, FALSE, FALSE },
  { B (q_w),    { "self_attn.q_proj.weight", "attn.in_proj_weight", "attn.qkv.weight", "attention.self.query.weight" }, 0, TRUE, FALSE, FALSE },
  { B (k_w),    { "self_attn.k_proj.weight", "attn.in_proj_weight", "attn.qkv.weight", "attention.self.key.weight" }, 1, TRUE, FALSE, FALSE },
  { B (v_w),    { "self_attn.v_proj.weight", "attn.in_proj_weight", "attn.qkv.weight", "attention.self.value.weight" }, 2, TRUE, FALSE, FALSE },
  { B (q_b),    { "self_attn.q_proj.bias", "attn.in_proj_bias", "attn.qkv.bias", "attention.self.query.bias" }, 0, FALSE, FALSE, FALSE },
  { B (k_b),    { "self_attn.k_proj.bias", "attn.in_proj_bias", "attn.qkv.bias", "attention.self.key.bias" }, 1, FALSE, FALSE, FALSE },
  { B (v_b),    { "self_attn.v_proj.bias", "attn.in_proj_bias", "attn.qkv.bias", "attention.self.value.bias" }, 2, FALSE, FALSE, FALSE },
  { B (out_w),  { "self_attn.out_proj.weight", "attn.out_proj.weight", "attn.proj.weight", "attention.output.dense.weight" }, -1, TRUE, FALSE, FALSE },
  { B (out_b),  { "self_attn.out_proj.bias", "attn.out_proj.bias", "attn.proj.bias", "attention.output.dense.bias" }, -1, FALSE, FALSE, FALSE },
  { B (ln_2_w), { "layer_norm2.weight", "ln_2.weight", "norm2.weight", "output.LayerNorm.weight" }, -1, FALSE, FALSE, FALSE },
  { B (ln_2_b), { "layer_norm2.bias", "ln_2.bias", "norm2.bias", "output.LayerNorm.bias" }, -1, FALSE, FALSE, FALSE },
  { B (fc1_w),  { "mlp.fc1.weight", "mlp.c_fc.weight", "mlp.fc1.weight", "intermediate.dense.weight" }, -1, TRUE, TRUE, FALSE },
  { B (fc1_b),  { "mlp.fc1.bias", "mlp.c_fc.bias", "mlp.fc1.bias", "intermediate.dense.bias" }, -1, FALSE, TRUE, FALSE },
  { B (fc2_w),  { "mlp.fc2.weight", "mlp.c_proj.weight", "mlp.fc2.weight", "output.dense.weight" }, -1, TRUE, FALSE, TRUE },
  { B (fc2_b),  { "mlp.fc2.bias", "mlp.c_proj.bias", "mlp.fc2.bias", "output.dense.bias" }, -1, FALSE, FALSE, FALSE },
};
#undef B

/* Chinese-CLIP's BERT embeddings and its tower's prefix (Hugging Face). */
#define BERT_WORD_EMB   "text_model.embeddings.word_embeddings.weight"
#define BERT_POS_EMB    "text_model.embeddings.position_embeddings.weight"
#define BERT_TYPE_EMB   "text_model.embeddings.token_type_embeddings.weight"
#define BERT_LN_EMB_W   "text_model.embeddings.LayerNorm.weight"
#define BERT_LN_EMB_B   "text_model.embeddings.LayerNorm.bias"
#define BERT_LAYERS     "text_model.encoder.layer"

/* ---------------------------------------------------------------- loader */

typedef struct {
  ClipscopeModel       *model;
  ClipscopeSafetensors *st;
  Layout                layout;
  int64_t               n_params;
  GError              **error;
  GHashTable           *split;     /* a vector split in parts → its float32 copy */
} Loader;

static float *
owned_floats (Loader *ld,
              int64_t n)
{
  float *p = g_try_malloc_n ((gsize) n, sizeof (float));

  if (p == NULL)
    return NULL;
  g_ptr_array_add (ld->model->owned, p);
  ld->model->info.weight_bytes += (gsize) n * sizeof (float);
  return p;
}

static char *
format_shape (int            n_dims,
              const int64_t *shape)
{
  GString *s = g_string_new ("[");

  for (int i = 0; i < n_dims; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static gboolean
check_shape (Loader                *ld,
             const ClipscopeTensor *t,
             int                    n_dims,
             const int64_t         *shape)
{
  g_autofree char *found = NULL;
  g_autofree char *expected = NULL;
  gboolean same = t->n_dims == n_dims;

  for (int i = 0; same && i < n_dims; i++)
    same = t->shape[i] == shape[i];
  if (same)
    return TRUE;
  found = format_shape (t->n_dims, t->shape);
  expected = format_shape (n_dims, shape);
  g_set_error (ld->error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TENSOR_SHAPE,
               "%s: tensor \"%s\" has shape %s, expected %s",
               clipscope_safetensors_get_name (ld->st), t->name, found, expected);
  return FALSE;
}

/* NaN or an infinity in a weight would only come out of the encoders as
 * NaN scores; such a checkpoint is refused with the tensor's name. */
static void
set_non_finite_error (Loader     *ld,
                      const char *name,
                      gboolean    nan,
                      int64_t     at)
{
  g_set_error (ld->error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_SAFETENSORS,
               "%s: tensor \"%s\" holds %s at element %" G_GINT64_FORMAT
               "; weights must be finite numbers",
               clipscope_safetensors_get_name (ld->st), name, nan ? "NaN" : "an infinity", at);
}

static const float *
check_finite (Loader      *ld,
              const char  *name,
              const float *p,
              int64_t      n,
              int64_t      first)
{
  const gssize bad = p != NULL ? clipscope_first_non_finite_32 (p, (gsize) n) : -1;

  if (bad < 0)
    return p;
  set_non_finite_error (ld, name, isnan (p[bad]), first + bad);
  return NULL;
}

/* A float16 or bfloat16 matrix left in the mapping, checked, its pages
 * released until a backend reads them. */
static const float *
keep_16 (Loader                *ld,
         const ClipscopeTensor *t,
         int64_t                n,
         int64_t                first)
{
  const guint16 *p = (const guint16 *) (const void *) t->data + first;
  gssize bad;

  clipscope_safetensors_prefault (ld->st, p, (gsize) n * sizeof (guint16));
  bad = clipscope_first_non_finite_16 (t->dtype, p, (gsize) n);

  if (bad >= 0)
    {
      const guint16 mantissa = t->dtype == CLIPSCOPE_DTYPE_BF16 ? 0x7f : 0x3ff;

      set_non_finite_error (ld, t->name, (p[bad] & mantissa) != 0, first + bad);
      return NULL;
    }
  clipscope_safetensors_release (ld->st, p, (gsize) n * sizeof (guint16));
  g_hash_table_insert (ld->model->half_weights, (gpointer) p, GINT_TO_POINTER (t->dtype));
  return (const float *) (const void *) p;
}

/* Finds @name, checks it holds n_parts × shape[0] rows of @shape, and
 * returns part @part of it as float32, all of it finite. With @matrix (a
 * weight only the backends read, through clipscope_weights_bind()), a
 * float16 or bfloat16 tensor stays as it is in the mapping instead, its
 * dtype recorded (clipscope_model_weight_dtype()). */
static const float *
load_part (Loader        *ld,
           const char    *name,
           int            part,
           int            n_parts,
           int            n_dims,
           const int64_t *shape,
           gboolean       matrix)
{
  const ClipscopeTensor *t = clipscope_safetensors_lookup (ld->st, name);
  int64_t file_shape[CLIPSCOPE_MAX_TENSOR_DIMS];
  int64_t n, first;
  float *dst;

  if (t == NULL)
    {
      g_set_error (ld->error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TENSOR_MISSING,
                   "%s: tensor \"%s\" is missing", clipscope_safetensors_get_name (ld->st), name);
      return NULL;
    }
  if (n_dims > 0)
    {
      memcpy (file_shape, shape, n_dims * sizeof (int64_t));
      file_shape[0] *= n_parts;
    }
  if (!check_shape (ld, t, n_dims, file_shape))
    return NULL;

  n = t->n_elements / n_parts;
  first = n * part;
  ld->n_params += n;
  if (t->dtype == CLIPSCOPE_DTYPE_F32 && ((guintptr) t->data % sizeof (float)) == 0)
    {
      const float *p;

      clipscope_safetensors_prefault (ld->st, (const float *) (const void *) t->data + first,
                                      (gsize) n * sizeof (float));
      p = check_finite (ld, name, (const float *) (const void *) t->data + first, n, first);

      if (p != NULL && matrix)
        clipscope_safetensors_release (ld->st, p, (gsize) n * sizeof (float));
      return p;
    }
  if (matrix && (t->dtype == CLIPSCOPE_DTYPE_F16 || t->dtype == CLIPSCOPE_DTYPE_BF16)
      && G_BYTE_ORDER == G_LITTLE_ENDIAN && (guintptr) t->data % sizeof (guint16) == 0)
    return keep_16 (ld, t, n, first);

  /* The parts of a vector (in_proj biases) come from one converted
   * copy, so that they lie one after the other as they do in the file
   * and as the matrix's parts, left in the file, do. */
  if (n_parts > 1 && n_dims == 1)
    {
      float *whole = g_hash_table_lookup (ld->split, t);

      if (whole == NULL)
        {
          if ((whole = owned_floats (ld, t->n_elements)) == NULL)
            goto oom;
          if (!clipscope_tensor_to_f32 (ld->st, t, whole, ld->error)
              || !check_finite (ld, name, whole, t->n_elements, 0))
            return NULL;
          g_hash_table_insert (ld->split, (gpointer) t, whole);
        }
      return whole + first;
    }

  /* Other converted tensors are converted whole, then only the part is
   * kept; in_proj tensors are the only ones split and they are small. */
  if (n_parts == 1)
    {
      dst = owned_floats (ld, n);
      if (dst == NULL)
        goto oom;
      return clipscope_tensor_to_f32 (ld->st, t, dst, ld->error)
             ? check_finite (ld, name, dst, n, 0) : NULL;
    }
  else
    {
      g_autofree float *whole = g_try_malloc_n ((gsize) t->n_elements, sizeof (float));

      dst = owned_floats (ld, n);
      if (whole == NULL || dst == NULL)
        goto oom;
      if (!clipscope_tensor_to_f32 (ld->st, t, whole, ld->error))
        return NULL;
      memcpy (dst, whole + first, (gsize) n * sizeof (float));
      return check_finite (ld, name, dst, n, first);
    }

oom:
  g_set_error (ld->error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT,
               "%s: not enough memory to convert tensor \"%s\" (%" G_GINT64_FORMAT " elements)",
               clipscope_safetensors_get_name (ld->st), name, t->n_elements);
  return NULL;
}

static const float *
load (Loader        *ld,
      const char    *name,
      int            n_dims,
      const int64_t *shape,
      gboolean       matrix)
{
  return load_part (ld, name, 0, 1, n_dims, shape, matrix);
}

#define SHAPE(...) (const int64_t[]) { __VA_ARGS__ }
#define N_DIMS(...) ((int) (sizeof ((const int64_t[]) { __VA_ARGS__ }) / sizeof (int64_t)))
#define LOAD(ld, name, ...) load ((ld), (name), N_DIMS (__VA_ARGS__), SHAPE (__VA_ARGS__), FALSE)
/* A weight matrix, which may stay 16-bit (see load_part()). */
#define LOAD_MATRIX(ld, name, ...) load ((ld), (name), N_DIMS (__VA_ARGS__), SHAPE (__VA_ARGS__), TRUE)

static const float *
load_role (Loader        *ld,
           TensorRole     role,
           int            n_dims,
           const int64_t *shape,
           gboolean       matrix)
{
  return load (ld, tensor_names[role][ld->layout], n_dims, shape, matrix);
}

#define LOAD_ROLE(ld, role, ...) load_role ((ld), (role), N_DIMS (__VA_ARGS__), SHAPE (__VA_ARGS__), FALSE)
#define LOAD_ROLE_MATRIX(ld, role, ...) \
  load_role ((ld), (role), N_DIMS (__VA_ARGS__), SHAPE (__VA_ARGS__), TRUE)

/* @p (@n elements) as float32 to read at load: itself, or a 16-bit matrix
 * widened into *@tmp, which the caller frees. */
static const float *
widened (Loader      *ld,
         const char  *name,
         const float *p,
         gsize        n,
         float      **tmp)
{
  const ClipscopeDtype dtype = p != NULL ? clipscope_model_weight_dtype (ld->model, p)
                                         : CLIPSCOPE_DTYPE_F32;

  if (dtype == CLIPSCOPE_DTYPE_F32)
    return p;
  if ((*tmp = g_try_new (float, n)) == NULL)
    {
      g_set_error (ld->error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT,
                   "%s: not enough memory to convert tensor \"%s\"",
                   clipscope_safetensors_get_name (ld->st), name);
      return NULL;
    }
  clipscope_widen_16 (dtype, (const guint16 *) (const void *) p, n, *tmp);
  return *tmp;
}

/* A projection as (embed_dim, width): Hugging Face's layout already, the
 * transpose of OpenAI's. */
static const float *
load_projection (Loader    *ld,
                 TensorRole role,
                 int        width)
{
  int64_t embed = ld->model->info.embed_dim;
  g_autofree float *tmp = NULL;
  const float *p;
  float *t;

  if (ld->layout != LAYOUT_OPEN_CLIP)
    return LOAD_ROLE_MATRIX (ld, role, embed, width);
  /* Read as it is in the file, and transposed into float32. */
  p = LOAD_ROLE_MATRIX (ld, role, width, embed);
  p = widened (ld, tensor_names[role][ld->layout], p, (gsize) (width * embed), &tmp);
  if (p == NULL || (t = owned_floats (ld, embed * width)) == NULL)
    return NULL;
  for (int64_t i = 0; i < width; i++)
    for (int64_t j = 0; j < embed; j++)
      t[j * width + i] = p[i * embed + j];
  return t;
}

static gboolean
load_transformer (Loader               *ld,
                  ClipscopeTransformer *tf,
                  const char           *prefix,
                  BlockLayout           layout)
{
  const int64_t w = tf->width, m = tf->mlp_width;

  if (tf->n_heads < 1 || w % tf->n_heads != 0)
    {
      g_set_error (ld->error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_CONFIG,
                   "%s: width %d is not divisible by %d attention heads",
                   ld->model->path, tf->width, tf->n_heads);
      return FALSE;
    }
  tf->blocks = g_new0 (ClipscopeBlock, tf->n_layers);
  for (int l = 0; l < tf->n_layers; l++)
    for (gsize i = 0; i < G_N_ELEMENTS (block_tensors); i++)
      {
        const BlockTensor *bt = &block_tensors[i];
        g_autofree char *name = g_strdup_printf ("%s.%d.%s", prefix, l, bt->names[layout]);
        int64_t shape[2] = { bt->mlp_rows ? m : w, bt->mlp_cols ? m : w };
        int part = layout == BLOCKS_HF || layout == BLOCKS_BERT ? -1 : bt->part;
        const float *p = load_part (ld, name, MAX (part, 0), part < 0 ? 1 : 3,
                                    bt->is_matrix ? 2 : 1, shape, bt->is_matrix);

        if (p == NULL)
          return FALSE;
        G_STRUCT_MEMBER (const float *, &tf->blocks[l], bt->offset) = p;
      }
  return TRUE;
}

/* Chinese-CLIP's BERT. Every text is of token type 0, so that row of the
 * token-type table is added to the positions once, here. */
static gboolean
load_bert (Loader *ld)
{
  ClipscopeTextTower *t = &ld->model->text;
  const int64_t w = t->tf.width;
  const float *pos, *type;
  float *sum;

  t->token_emb = LOAD_MATRIX (ld, BERT_WORD_EMB, t->vocab_size, w);
  pos = t->token_emb ? LOAD (ld, BERT_POS_EMB, t->n_positions, w) : NULL;
  type = pos ? LOAD (ld, BERT_TYPE_EMB, t->n_token_types, w) : NULL;
  if (type == NULL || (sum = owned_floats (ld, t->context_length * w)) == NULL)
    return FALSE;
  for (int64_t i = 0; i < t->context_length * w; i++)
    sum[i] = type[i % w] + pos[i];
  t->pos_emb = sum;
  t->ln_emb_w = LOAD (ld, BERT_LN_EMB_W, w);
  t->ln_emb_b = t->ln_emb_w ? LOAD (ld, BERT_LN_EMB_B, w) : NULL;
  if (t->ln_emb_b == NULL || !load_transformer (ld, &t->tf, BERT_LAYERS, BLOCKS_BERT))
    return FALSE;
  t->proj = load_projection (ld, T_TEXT_PROJ, t->tf.width);
  return t->proj != NULL;
}

static const char *
text_blocks_prefix (Layout layout)
{
  static const char * const prefixes[N_LAYOUTS] = {
    "text_model.encoder.layers", "transformer.resblocks",
    "text_model.encoder.layers", "text.transformer.resblocks",
  };
  return prefixes[layout];
}

static gboolean
load_text (Loader *ld)
{
  ClipscopeTextTower *t = &ld->model->text;
  const int64_t w = t->tf.width, e = ld->model->info.embed_dim;
  const BlockLayout blocks = ld->layout == LAYOUT_HF || ld->layout == LAYOUT_HF_SIGLIP
                             ? BLOCKS_HF : BLOCKS_OPEN_CLIP;

  if (t->bert)
    return load_bert (ld);
  t->token_emb = LOAD_ROLE_MATRIX (ld, T_TOKEN_EMB, t->vocab_size, w);
  t->pos_emb = t->token_emb ? LOAD_ROLE (ld, T_TEXT_POS, t->context_length, w) : NULL;
  if (t->pos_emb == NULL
      || !load_transformer (ld, &t->tf, text_blocks_prefix (ld->layout), blocks))
    return FALSE;
  t->ln_final_w = LOAD_ROLE (ld, T_LN_FINAL_W, w);
  t->ln_final_b = t->ln_final_w ? LOAD_ROLE (ld, T_LN_FINAL_B, w) : NULL;
  if (t->ln_final_b == NULL)
    return FALSE;
  if (!t->pool_last)
    return (t->proj = load_projection (ld, T_TEXT_PROJ, t->tf.width)) != NULL;

  /* SigLIP's head: a Linear with a bias, or nothing where a checkpoint
   * was trained without one (the multilingual So400m: "no_head"). */
  if (!t->no_head
      && clipscope_safetensors_lookup (ld->st, tensor_names[T_TEXT_PROJ][ld->layout]) != NULL)
    {
      t->proj = load_projection (ld, T_TEXT_PROJ, t->tf.width);
      t->proj_b = t->proj ? LOAD_ROLE (ld, T_TEXT_PROJ_B, e) : NULL;
      return t->proj_b != NULL;
    }
  if (w != e)
    {
      g_set_error (ld->error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TENSOR_MISSING,
                   "%s: tensor \"%s\" is missing, and without that head the text width %d "
                   "differs from the image embedding's %d",
                   clipscope_safetensors_get_name (ld->st), tensor_names[T_TEXT_PROJ][ld->layout],
                   t->tf.width, ld->model->info.embed_dim);
      return FALSE;
    }
  return TRUE;
}

/* The multi-head attention pooling of SigLIP: Hugging Face keeps
 * nn.MultiheadAttention's packed in_proj (q; k; v), timm a q and a
 * packed kv. */
static gboolean
load_map_head (Loader *ld)
{
  ClipscopeVit *v = &ld->model->vit;
  ClipscopeMapHead *h = &v->head;
  const gboolean hf = ld->layout == LAYOUT_HF_SIGLIP;
  const char *prefix = hf ? "vision_model.head" : "visual.trunk.attn_pool";
  const char *in_w = hf ? "attention.in_proj_weight" : "kv.weight";
  const char *in_b = hf ? "attention.in_proj_bias" : "kv.bias";
  const int n_parts = hf ? 3 : 2, first = hf ? 1 : 0;
  const int64_t w = v->tf.width, m = v->tf.mlp_width;
  g_autofree char *probe_name = g_strdup_printf ("%s.%s", prefix, hf ? "probe" : "latent");
  g_autofree char *q_w_name = g_strdup_printf ("%s.%s", prefix, hf ? in_w : "q.weight");
  g_autofree char *q_b_name = g_strdup_printf ("%s.%s", prefix, hf ? in_b : "q.bias");
  g_autofree char *kv_w_name = g_strdup_printf ("%s.%s", prefix, in_w);
  g_autofree char *kv_b_name = g_strdup_printf ("%s.%s", prefix, in_b);
  g_autofree char *out_w = g_strdup_printf ("%s.%s", prefix, hf ? "attention.out_proj.weight" : "proj.weight");
  g_autofree char *out_b = g_strdup_printf ("%s.%s", prefix, hf ? "attention.out_proj.bias" : "proj.bias");
  g_autofree char *ln_w = g_strdup_printf ("%s.%s", prefix, hf ? "layernorm.weight" : "norm.weight");
  g_autofree char *ln_b = g_strdup_printf ("%s.%s", prefix, hf ? "layernorm.bias" : "norm.bias");
  g_autofree char *fc1_w = g_strdup_printf ("%s.mlp.fc1.weight", prefix);
  g_autofree char *fc1_b = g_strdup_printf ("%s.mlp.fc1.bias", prefix);
  g_autofree char *fc2_w = g_strdup_printf ("%s.mlp.fc2.weight", prefix);
  g_autofree char *fc2_b = g_strdup_printf ("%s.mlp.fc2.bias", prefix);
  const float *probe, *q_w, *q_b;
  float *q;

  if ((probe = LOAD (ld, probe_name, 1, 1, w)) == NULL
      || (q_w = load_part (ld, q_w_name, 0, hf ? 3 : 1, 2, SHAPE (w, w), FALSE)) == NULL
      || (q_b = load_part (ld, q_b_name, 0, hf ? 3 : 1, 1, SHAPE (w), FALSE)) == NULL
      || (h->k_w = load_part (ld, kv_w_name, first, n_parts, 2, SHAPE (w, w), TRUE)) == NULL
      || (h->v_w = load_part (ld, kv_w_name, first + 1, n_parts, 2, SHAPE (w, w), TRUE)) == NULL
      || (h->k_b = load_part (ld, kv_b_name, first, n_parts, 1, SHAPE (w), FALSE)) == NULL
      || (h->v_b = load_part (ld, kv_b_name, first + 1, n_parts, 1, SHAPE (w), FALSE)) == NULL
      || (h->out_w = LOAD_MATRIX (ld, out_w, w, w)) == NULL
      || (h->out_b = LOAD (ld, out_b, w)) == NULL
      || (h->ln_w = LOAD (ld, ln_w, w)) == NULL
      || (h->ln_b = LOAD (ld, ln_b, w)) == NULL
      || (h->fc1_w = LOAD_MATRIX (ld, fc1_w, m, w)) == NULL
      || (h->fc1_b = LOAD (ld, fc1_b, m)) == NULL
      || (h->fc2_w = LOAD_MATRIX (ld, fc2_w, w, m)) == NULL
      || (h->fc2_b = LOAD (ld, fc2_b, w)) == NULL)
    return FALSE;

  /* The probe's query is the same for every image. */
  if ((q = owned_floats (ld, w)) == NULL)
    {
      g_set_error (ld->error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT,
                   "%s: not enough memory for the pooling query", ld->model->path);
      return FALSE;
    }
  for (int64_t i = 0; i < w; i++)
    {
      double sum = q_b[i];

      for (int64_t j = 0; j < w; j++)
        sum += (double) probe[j] * q_w[i * w + j];
      q[i] = (float) sum;
    }
  h->q = q;
  return TRUE;
}

static gboolean
load_vit (Loader *ld)
{
  static const char * const prefixes[N_LAYOUTS] = {
    "vision_model.encoder.layers", "visual.transformer.resblocks",
    "vision_model.encoder.layers", "visual.trunk.blocks",
  };
  static const BlockLayout blocks[N_LAYOUTS] = {
    BLOCKS_HF, BLOCKS_OPEN_CLIP, BLOCKS_HF, BLOCKS_TIMM,
  };
  ClipscopeVit *v = &ld->model->vit;
  const int64_t w = v->tf.width, p = v->patch_size;

  if (v->image_size % v->patch_size != 0)
    {
      g_set_error (ld->error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_CONFIG,
                   "%s: image size %d is not a multiple of the patch size %d",
                   ld->model->path, v->image_size, v->patch_size);
      return FALSE;
    }
  v->n_patches = (v->image_size / v->patch_size) * (v->image_size / v->patch_size);
  v->patch_w = LOAD_ROLE_MATRIX (ld, T_PATCH, w, 3, p, p);
  if (v->patch_w == NULL)
    return FALSE;
  if (v->map_head)
    {
      v->patch_b = LOAD_ROLE (ld, T_PATCH_B, w);
      if (v->patch_b == NULL)
        return FALSE;
      /* timm keeps a batch dimension. */
      v->pos_emb = ld->layout == LAYOUT_OPEN_CLIP_SIGLIP ? LOAD_ROLE (ld, T_VISION_POS, 1, v->n_patches, w)
                                                         : LOAD_ROLE (ld, T_VISION_POS, v->n_patches, w);
    }
  else
    {
      v->class_emb = LOAD_ROLE (ld, T_CLASS_EMB, w);
      v->pos_emb = v->class_emb ? LOAD_ROLE (ld, T_VISION_POS, 1 + v->n_patches, w) : NULL;
      v->ln_pre_w = v->pos_emb ? LOAD_ROLE (ld, T_LN_PRE_W, w) : NULL;
      v->ln_pre_b = v->ln_pre_w ? LOAD_ROLE (ld, T_LN_PRE_B, w) : NULL;
      if (v->ln_pre_b == NULL)
        return FALSE;
    }
  if (v->pos_emb == NULL
      || !load_transformer (ld, &v->tf, prefixes[ld->layout], blocks[ld->layout]))
    return FALSE;
  v->ln_post_w = LOAD_ROLE (ld, T_LN_POST_W, w);
  v->ln_post_b = v->ln_post_w ? LOAD_ROLE (ld, T_LN_POST_B, w) : NULL;
  if (v->ln_post_b == NULL)
    return FALSE;
  if (v->map_head)
    return load_map_head (ld);
  v->proj = load_projection (ld, T_VISION_PROJ, v->tf.width);
  return v->proj != NULL;
}

/* ------------------------------------------------------------- ResNet */

/* Loads "<prefix>.weight" of a bias-free convolution and the batch norm
 * "<bn>.*" after it, and folds the norm into the weights:
 * y = γ (conv(x) − μ) / √(σ² + ε) + β = conv'(x) + b'. */
static gboolean
load_conv_bn (Loader        *ld,
              ClipscopeConv *conv,
              const char    *conv_name,
              const char    *bn_name)
{
  g_autofree char *wn = g_strdup_printf ("%s.weight", conv_name);
  const char *suffix[4] = { "weight", "bias", "running_mean", "running_var" };
  const float *bn[4];
  const int64_t k = conv->kernel, per_out = (int64_t) conv->c_in * k * k;
  /* Read as it is in the file, widened for the fold only. */
  const float *w = LOAD_MATRIX (ld, wn, conv->c_out, conv->c_in, k, k);
  g_autofree float *tmp = NULL;
  float *fw, *fb;

  if ((w = widened (ld, wn, w, (gsize) (conv->c_out * per_out), &tmp)) == NULL)
    return FALSE;
  for (int i = 0; i < 4; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s.%s", bn_name, suffix[i]);
      if ((bn[i] = LOAD (ld, name, conv->c_out)) == NULL)
        return FALSE;
    }
  fw = owned_floats (ld, conv->c_out * per_out);
  fb = owned_floats (ld, conv->c_out);
  if (fw == NULL || fb == NULL)
    return FALSE;
  for (int o = 0; o < conv->c_out; o++)
    {
      double scale = bn[0][o] / sqrt ((double) bn[3][o] + 1e-5);

      if (!(bn[3][o] >= 0.f))
        {
          g_set_error (ld->error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_SAFETENSORS,
                       "%s: tensor \"%s.running_var\" holds %g at element %d; a variance "
                       "cannot be negative", clipscope_safetensors_get_name (ld->st), bn_name,
                       bn[3][o], o);
          return FALSE;
        }

      for (int64_t i = 0; i < per_out; i++)
        fw[o * per_out + i] = (float) (w[o * per_out + i] * scale);
      fb[o] = (float) (bn[1][o] - bn[2][o] * scale);
    }
  /* The running statistics are buffers, not parameters. */
  ld->n_params -= 2 * conv->c_out;
  conv->w = fw;
  conv->b = fb;
  return TRUE;
}

static void
conv_init (ClipscopeConv *c,
           int            c_in,
           int            c_out,
           int            kernel,
           int            stride)
{
  c->c_in = c_in;
  c->c_out = c_out;
  c->kernel = kernel;
  c->stride = stride;
  c->pad = kernel / 2;
}

static gboolean
load_bottleneck (Loader              *ld,
                 ClipscopeBottleneck *b,
                 const char          *prefix,
                 int                  inplanes,
                 int                  planes,
                 int                  stride)
{
  g_autofree char *c1 = g_strdup_printf ("%s.conv1", prefix), *n1 = g_strdup_printf ("%s.bn1", prefix);
  g_autofree char *c2 = g_strdup_printf ("%s.conv2", prefix), *n2 = g_strdup_printf ("%s.bn2", prefix);
  g_autofree char *c3 = g_strdup_printf ("%s.conv3", prefix), *n3 = g_strdup_printf ("%s.bn3", prefix);
  g_autofree char *cd = g_strdup_printf ("%s.downsample.0", prefix);
  g_autofree char *nd = g_strdup_printf ("%s.downsample.1", prefix);

  b->stride = stride;
  conv_init (&b->conv1, inplanes, planes, 1, 1);
  conv_init (&b->conv2, planes, planes, 3, 1);
  conv_init (&b->conv3, planes, planes * 4, 1, 1);
  b->has_downsample = stride > 1 || inplanes != planes * 4;
  conv_init (&b->downsample, inplanes, planes * 4, 1, 1);
  return load_conv_bn (ld, &b->conv1, c1, n1)
         && load_conv_bn (ld, &b->conv2, c2, n2)
         && load_conv_bn (ld, &b->conv3, c3, n3)
         && (!b->has_downsample || load_conv_bn (ld, &b->downsample, cd, nd));
}

static gboolean
load_attnpool (Loader *ld)
{
  ClipscopeResnet *r = &ld->model->resnet;
  const int64_t d = r->pool_dim, e = ld->model->info.embed_dim;
  const int64_t n_pos = (int64_t) r->pool_grid * r->pool_grid + 1;

  if (d % r->pool_heads != 0)
    {
      g_set_error (ld->error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_CONFIG,
                   "%s: attention pool width %d is not divisible by %d heads",
                   ld->model->path, r->pool_dim, r->pool_heads);
      return FALSE;
    }
  return (r->pool_pos = LOAD (ld, "visual.attnpool.positional_embedding", n_pos, d))
         && (r->pool_q_w = LOAD_MATRIX (ld, "visual.attnpool.q_proj.weight", d, d))
         && (r->pool_q_b = LOAD (ld, "visual.attnpool.q_proj.bias", d))
         && (r->pool_k_w = LOAD_MATRIX (ld, "visual.attnpool.k_proj.weight", d, d))
         && (r->pool_k_b = LOAD (ld, "visual.attnpool.k_proj.bias", d))
         && (r->pool_v_w = LOAD_MATRIX (ld, "visual.attnpool.v_proj.weight", d, d))
         && (r->pool_v_b = LOAD (ld, "visual.attnpool.v_proj.bias", d))
         && (r->pool_c_w = LOAD_MATRIX (ld, "visual.attnpool.c_proj.weight", e, d))
         && (r->pool_c_b = LOAD (ld, "visual.attnpool.c_proj.bias", e));
}

static gboolean
load_resnet (Loader *ld)
{
  ClipscopeResnet *r = &ld->model->resnet;
  int w = r->width, inplanes = w, k = 0;

  conv_init (&r->stem[0], 3, w / 2, 3, 2);
  conv_init (&r->stem[1], w / 2, w / 2, 3, 1);
  conv_init (&r->stem[2], w / 2, w, 3, 1);
  if (!load_conv_bn (ld, &r->stem[0], "visual.conv1", "visual.bn1")
      || !load_conv_bn (ld, &r->stem[1], "visual.conv2", "visual.bn2")
      || !load_conv_bn (ld, &r->stem[2], "visual.conv3", "visual.bn3"))
    return FALSE;

  r->n_blocks = r->n_layers[0] + r->n_layers[1] + r->n_layers[2] + r->n_layers[3];
  r->blocks = g_new0 (ClipscopeBottleneck, r->n_blocks);
  for (int stage = 0; stage < 4; stage++)
    {
      int planes = w << stage;

      for (int j = 0; j < r->n_layers[stage]; j++, k++)
        {
          g_autofree char *prefix = g_strdup_printf ("visual.layer%d.%d", stage + 1, j);
          int stride = (j == 0 && stage > 0) ? 2 : 1;

          if (!load_bottleneck (ld, &r->blocks[k], prefix, inplanes, planes, stride))
            return FALSE;
          inplanes = planes * 4;
        }
    }
  return load_attnpool (ld);
}

/* --------------------------------------------------------------- loading */

/* CLIP: OpenAI's byte-level BPE from vocab.json with merges.txt, or
 * OpenAI's own bpe_simple_vocab_16e6.txt.gz. */
static ClipscopeTextTokenizer *
load_clip_tokenizer (ClipscopeModel *model,
                     GError        **error)
{
  g_autofree char *vocab = g_build_filename (model->path, "vocab.json", NULL);
  g_autofree char *merges = g_build_filename (model->path, "merges.txt", NULL);
  g_autofree char *gz = g_build_filename (model->path, "bpe_simple_vocab_16e6.txt.gz", NULL);
  ClipscopeTokenizer *bpe;
  int n;

  if (g_file_test (vocab, G_FILE_TEST_EXISTS) || g_file_test (merges, G_FILE_TEST_EXISTS))
    bpe = clipscope_tokenizer_new_from_files (vocab, merges, error);
  else if (g_file_test (gz, G_FILE_TEST_EXISTS))
    bpe = clipscope_tokenizer_new_from_bpe_gz (gz, error);
  else
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                   "%s: no tokenizer: expected vocab.json with merges.txt, or bpe_simple_vocab_16e6.txt.gz",
                   model->path);
      return NULL;
    }
  if (bpe == NULL)
    return NULL;
  n = clipscope_tokenizer_get_vocab_size (bpe);
  if (n > model->text.vocab_size)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                   "%s: the tokenizer has %d tokens but the text model embeds only %d",
                   model->path, n, model->text.vocab_size);
      clipscope_tokenizer_free (bpe);
      return NULL;
    }
  return clipscope_text_tokenizer_new_clip (bpe);
}

/* SigLIP and SigLIP 2 take their tokenizer from the files, not from the
 * vocabulary size: sentencepiece's own model (spiece.model for T5's and
 * mC4's unigram models, tokenizer.model for Gemma's BPE) where there is
 * one, else the tokenizer.json transformers wrote from it (the only form
 * open_clip's hub folders have). The model file says unigram or BPE with
 * byte fallback, hence version 1 or 2; a tokenizer_config.json naming
 * another tokenizer class refuses the folder rather than guessing. */
static ClipscopeTextTokenizer *
load_siglip_tokenizer (ClipscopeModel *model,
                       GError        **error)
{
  static const char * const files[] = { "spiece.model", "tokenizer.model", "tokenizer.json" };
  g_autofree char *config_path = g_build_filename (model->path, "tokenizer_config.json", NULL);
  g_autofree char *path = NULL;
  g_autoptr(ClipscopeSpmModel) spm_model = NULL;
  g_autoptr(ClipscopeTextTokenizer) tok = NULL;
  ClipscopeTextTokenizerKind kind;
  ClipscopeSpm *spm;

  for (gsize i = 0; i < G_N_ELEMENTS (files) && path == NULL; i++)
    {
      g_autofree char *candidate = g_build_filename (model->path, files[i], NULL);

      if (g_file_test (candidate, G_FILE_TEST_EXISTS))
        path = g_steal_pointer (&candidate);
    }
  if (path == NULL)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                   "%s: no tokenizer: a SigLIP model needs spiece.model, tokenizer.model or "
                   "tokenizer.json", model->path);
      return NULL;
    }
  spm_model = clipscope_spm_model_load (path, error);
  if (spm_model == NULL || (spm = clipscope_spm_new (g_steal_pointer (&spm_model), error)) == NULL)
    return NULL;
  kind = clipscope_text_tokenizer_siglip_kind_for (spm);

  if (g_file_test (config_path, G_FILE_TEST_EXISTS))
    {
      g_autoptr(JsonObject) config = clipscope_read_json_object (config_path, error);
      JsonNode *node;
      const char *cls = NULL;

      if (config == NULL)
        {
          clipscope_spm_free (spm);
          return NULL;
        }
      node = json_object_get_member (config, "tokenizer_class");
      if (node != NULL && JSON_NODE_HOLDS_VALUE (node)
          && json_node_get_value_type (node) == G_TYPE_STRING)
        cls = json_node_get_string (node);
      if (cls != NULL && !g_str_equal (cls, "SiglipTokenizer")
          && !g_str_has_prefix (cls, "GemmaTokenizer"))
        {
          g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                       "%s: \"tokenizer_class\" is \"%s\"; a SigLIP model takes SiglipTokenizer "
                       "or GemmaTokenizer", config_path, cls);
          clipscope_spm_free (spm);
          return NULL;
        }
    }

  /* Hugging Face's SiglipTokenizer drops "_" with the other punctuation;
   * big_vision and open_clip turn it into a space. */
  tok = clipscope_text_tokenizer_new_siglip (spm, kind, model->info.format == CLIPSCOPE_FORMAT_OPEN_CLIP,
                                             error);
  if (tok == NULL
      || !clipscope_text_tokenizer_check_vocab_size (tok, model->text.vocab_size, path, error))
    return NULL;
  return g_steal_pointer (&tok);
}

/* Chinese-CLIP: BERT's WordPiece from vocab.txt, whose lines are the
 * rows of the word embedding, all of them: a vocab.txt of another size is
 * another model's. Padding, which the tower masks, is [PAD], id 0, as
 * config.json's pad_token_id must say. */
static ClipscopeTextTokenizer *
load_wordpiece_tokenizer (ClipscopeModel *model,
                          GError        **error)
{
  g_autofree char *path = g_build_filename (model->path, "vocab.txt", NULL);
  g_autoptr(ClipscopeTextTokenizer) tok = NULL;
  ClipscopeWordPiece *wp;
  int n;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                   "%s: no tokenizer: a Chinese-CLIP model needs its WordPiece vocabulary, vocab.txt",
                   model->path);
      return NULL;
    }
  if ((wp = clipscope_wordpiece_new_from_file (path, error)) == NULL)
    return NULL;
  tok = clipscope_text_tokenizer_new_wordpiece (wp);
  n = clipscope_text_tokenizer_get_vocab_size (tok);
  if (n != model->text.vocab_size)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                   "%s: %d pieces, but the text model embeds %d (text_config.vocab_size); "
                   "the vocabulary does not belong to this model", path, n, model->text.vocab_size);
      return NULL;
    }
  if (clipscope_text_tokenizer_get_pad_id (tok) != model->text.pad_id)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TOKENIZER,
                   "%s/config.json: text_config.pad_token_id is %d, but Chinese-CLIP pads with "
                   "[PAD], id %d", model->path, model->text.pad_id,
                   clipscope_text_tokenizer_get_pad_id (tok));
      return NULL;
    }
  return g_steal_pointer (&tok);
}

static gboolean
load_tokenizer (ClipscopeModel *model,
                GError        **error)
{
  switch (model->info.family)
    {
    case CLIPSCOPE_FAMILY_SIGLIP:
      model->tokenizer = load_siglip_tokenizer (model, error);
      break;
    case CLIPSCOPE_FAMILY_CHINESE_CLIP:
      model->tokenizer = load_wordpiece_tokenizer (model, error);
      break;
    case CLIPSCOPE_FAMILY_CLIP:
    default:
      model->tokenizer = load_clip_tokenizer (model, error);
      break;
    }
  return model->tokenizer != NULL;
}

/* A scalar, stored as such or, in some exports, as a one-element vector. */
static gboolean
load_scalar (Loader    *ld,
             TensorRole role,
             float     *v)
{
  const char *name = tensor_names[role][ld->layout];
  const ClipscopeTensor *t = clipscope_safetensors_lookup (ld->st, name);
  const float *p;

  if (t != NULL && t->n_dims == 1 && t->shape[0] == 1)
    return clipscope_tensor_to_f32 (ld->st, t, v, ld->error);
  p = load (ld, name, 0, NULL, FALSE);
  if (p == NULL)
    return FALSE;
  *v = *p;
  return TRUE;
}

/* SigLIP's scores are sigmoid (exp (logit_scale) · cosine + logit_bias);
 * CLIP's a softmax without a bias. */
static gboolean
load_logit_scale (Loader *ld)
{
  ClipscopeModelInfo *info = &ld->model->info;
  float v, bias = 0.f;

  if (!load_scalar (ld, T_LOGIT_SCALE, &v))
    return FALSE;
  if (!isfinite (v) || v > 20.f)
    {
      g_set_error (ld->error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TENSOR_SHAPE,
                   "%s: tensor \"logit_scale\" is %g; expected the log of a temperature",
                   clipscope_safetensors_get_name (ld->st), v);
      return FALSE;
    }
  if (info->family == CLIPSCOPE_FAMILY_SIGLIP)
    {
      if (!load_scalar (ld, T_LOGIT_BIAS, &bias))
        return FALSE;
      if (!isfinite (bias) || fabsf (bias) > 1e4f)
        {
          g_set_error (ld->error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_TENSOR_SHAPE,
                       "%s: tensor \"logit_bias\" is %g; expected a finite bias",
                       clipscope_safetensors_get_name (ld->st), bias);
          return FALSE;
        }
    }
  info->logit_scale = expf (v);
  info->logit_bias = bias;
  info->scoring = info->family == CLIPSCOPE_FAMILY_SIGLIP ? CLIPSCOPE_SCORING_SIGMOID
                                                          : CLIPSCOPE_SCORING_SOFTMAX;
  return TRUE;
}

/* The dtype of the file, as its token embedding's. */
static const char *
dtype_name (const Loader *ld)
{
  const ClipscopeTensor *t = clipscope_safetensors_lookup (
    ld->st, ld->model->text.bert ? BERT_WORD_EMB : tensor_names[T_TOKEN_EMB][ld->layout]);

  if (t == NULL || t->dtype == CLIPSCOPE_DTYPE_F32)
    return "float32";
  return t->dtype == CLIPSCOPE_DTYPE_F16 ? "float16" : "bfloat16";
}

static void
fill_info (ClipscopeModel *model,
           Loader         *ld)
{
  ClipscopeModelInfo *info = &model->info;
  gboolean vit = info->vision_kind == CLIPSCOPE_VISION_VIT;

  info->n_parameters = ld->n_params;
  info->dtype = dtype_name (ld);
  info->image_size = model->preprocess.crop;
  info->image_resize = model->preprocess.resize;
  info->image_squash = model->preprocess.squash;
  info->image_resample = model->preprocess.resample == CLIPSCOPE_RESAMPLE_BILINEAR ? "bilinear"
                                                                                    : "bicubic";
  memcpy (info->image_mean, model->preprocess.mean, sizeof info->image_mean);
  memcpy (info->image_std, model->preprocess.std, sizeof info->image_std);
  info->image_alpha_composited = model->preprocess.composite_alpha;
  memcpy (info->image_alpha_background, model->preprocess.background,
          sizeof info->image_alpha_background);
  info->vision_width = vit ? model->vit.tf.width : model->resnet.width;
  info->vision_layers = vit ? model->vit.tf.n_layers : model->resnet.n_blocks;
  info->vision_heads = vit ? model->vit.tf.n_heads : model->resnet.pool_heads;
  info->vision_patch_size = vit ? model->vit.patch_size : 0;
  info->vision_quick_gelu = vit ? model->vit.tf.quick_gelu : FALSE;
  if (!vit)
    memcpy (info->vision_resnet_layers, model->resnet.n_layers, sizeof info->vision_resnet_layers);
  info->text_width = model->text.tf.width;
  info->text_layers = model->text.tf.n_layers;
  info->text_heads = model->text.tf.n_heads;
  info->text_vocab_size = model->text.vocab_size;
  info->context_length = model->text.context_length;
  info->text_quick_gelu = model->text.tf.quick_gelu;
}

static gboolean
load_weights (ClipscopeModel *model,
              GCancellable   *cancellable,
              GError        **error)
{
  gboolean hf = model->info.format == CLIPSCOPE_FORMAT_HF;
  g_autofree char *path = g_build_filename (model->path, hf ? "model.safetensors"
                                                            : "open_clip_model.safetensors", NULL);
  const gboolean siglip = model->info.family == CLIPSCOPE_FAMILY_SIGLIP;
  Loader ld = { model, NULL, hf ? (siglip ? LAYOUT_HF_SIGLIP : LAYOUT_HF)
                                : (siglip ? LAYOUT_OPEN_CLIP_SIGLIP : LAYOUT_OPEN_CLIP), 0, error,
                NULL };
  g_autoptr(GHashTable) split = g_hash_table_new (NULL, NULL);
  gboolean ok;

  ld.split = split;
  model->weights_file = clipscope_safetensors_open (path, error);
  if (model->weights_file == NULL)
    return FALSE;
  ld.st = model->weights_file;
  ok = load_logit_scale (&ld) && load_text (&ld);
  if (ok && g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (ok)
    ok = model->info.vision_kind == CLIPSCOPE_VISION_VIT ? load_vit (&ld) : load_resnet (&ld);
  if (ok)
    fill_info (model, &ld);
  return ok;
}

ClipscopeModelOptions
clipscope_model_options_default (void)
{
  ClipscopeModelOptions options = {
    .max_image_pixels = CLIPSCOPE_MAX_IMAGE_PIXELS,
  };
  return options;
}

ClipscopeModel *
clipscope_model_load (const char                  *dir,
                      const ClipscopeModelOptions *options,
                      GCancellable                *cancellable,
                      GError                     **error)
{
  g_autoptr(ClipscopeModel) model = NULL;
  ClipscopeModelOptions defaults = clipscope_model_options_default ();

  g_return_val_if_fail (dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (options == NULL)
    options = &defaults;
  model = g_new0 (ClipscopeModel, 1);
  g_atomic_ref_count_init (&model->ref_count);
  model->path = g_strdup (dir);
  model->owned = g_ptr_array_new_with_free_func (g_free);
  model->half_weights = g_hash_table_new (NULL, NULL);
  g_mutex_init (&model->derived_lock);
  model->preprocess.max_pixels = options->max_image_pixels > 0 ? options->max_image_pixels
                                                               : CLIPSCOPE_MAX_IMAGE_PIXELS;
  model->preprocess.ignore_orientation = options->ignore_exif_orientation;

  if (!clipscope_model_read_config (model, error)
      || !load_weights (model, cancellable, error)
      || !load_tokenizer (model, error))
    return NULL;
  return g_steal_pointer (&model);
}

ClipscopeModel *
clipscope_model_ref (ClipscopeModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);

  g_atomic_ref_count_inc (&model->ref_count);
  return model;
}

void
clipscope_model_unref (ClipscopeModel *model)
{
  g_return_if_fail (model != NULL);

  if (!g_atomic_ref_count_dec (&model->ref_count))
    return;
  g_clear_pointer (&model->tokenizer, clipscope_text_tokenizer_free);
  g_clear_pointer (&model->weights_file, clipscope_safetensors_free);
  if (model->derived_free != NULL)
    model->derived_free (model->derived);
  g_mutex_clear (&model->derived_lock);
  g_clear_pointer (&model->owned, g_ptr_array_unref);
  g_clear_pointer (&model->half_weights, g_hash_table_unref);
  g_free (model->text.tf.blocks);
  g_free (model->vit.tf.blocks);
  g_free (model->resnet.blocks);
  g_free (model->path);
  g_free (model);
}

ClipscopeDtype
clipscope_model_weight_dtype (const ClipscopeModel *model,
                              const void           *data)
{
  gpointer v = g_hash_table_lookup (model->half_weights, data);

  return v != NULL ? (ClipscopeDtype) GPOINTER_TO_INT (v) : CLIPSCOPE_DTYPE_F32;
}

const ClipscopeModelInfo *
clipscope_model_get_info (ClipscopeModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);

  return &model->info;
}

const char *
clipscope_model_get_path (ClipscopeModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);

  return model->path;
}

int32_t *
clipscope_model_tokenize (ClipscopeModel *model,
                          const char     *text,
                          int            *n_tokens,
                          GError        **error)
{
  g_return_val_if_fail (model != NULL, NULL);
  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (n_tokens != NULL, NULL);

  return clipscope_text_tokenizer_encode (model->tokenizer, text, model->text.context_length,
                                          n_tokens, error);
}

gboolean
clipscope_model_preprocess_file (ClipscopeModel *model,
                                 const char     *path,
                                 float          *pixels,
                                 GError        **error)
{
  g_return_val_if_fail (model != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (pixels != NULL, FALSE);

  return clipscope_preprocess_file (path, &model->preprocess, pixels, error);
}
