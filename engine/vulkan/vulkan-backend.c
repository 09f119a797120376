/* vulkan-backend.c — the encoder graphs recorded as Vulkan dispatches
 *
 * Same stages as vit.c, resnet.c, text.c and transformer.c on the CPU,
 * with these differences: ResNet feature maps are channel-last
 * ([batch, h, w, c]), so that a 1 × 1 convolution is a plain linear
 * layer; q, k and v come out of one product with stacked weights; and
 * L2 normalisation runs on the device. A batch is split into chunks so
 * that no activation buffer exceeds what one binding may cover.
 */
#include "vulkan-backend.h"
#include "vulkan-weights.h"

#include <string.h>

/* Activation buffers, each sized for one chunk of inputs. */
typedef enum {
  SLOT_PIXELS,   /* [n, 3, s, s] input images */
  SLOT_X,        /* residual stream [n · seq, width] */
  SLOT_H,        /* normalised input of a sub-layer */
  SLOT_QKV,      /* [n · seq, 3 · width]; also the patch embeddings */
  SLOT_ATTN,     /* attention output [n · seq, width] */
  SLOT_MLP,      /* [n · seq, mlp_width]; also the ViT's image patches */
  SLOT_POOL,     /* the pooled rows [n, width] */
  SLOT_OUT,      /* [n, embed_dim] */
  SLOT_IDS,      /* int [n, context_length] */
  SLOT_INDEX,    /* int [n]: the end-of-text positions */
  SLOT_MAP_A,    /* ResNet feature maps */
  SLOT_MAP_B,
  SLOT_MAP_C,
  SLOT_MAP_D,
  N_SLOTS,
} Slot;

/* The spatial pass's buffers, for one input, made on its first use. */
typedef enum {
  EXPLAIN_Q,     /* ResNet: every token's query [seq, pool_dim] */
  EXPLAIN_ATTN,  /* ResNet: every token's attention output [seq, pool_dim] */
  EXPLAIN_OUT,   /* [seq, embed_dim]: the image's row, then the cells' */
  N_EXPLAIN,
} ExplainSlot;

struct _ClipscopeVkBackend {
  int                max_batch;
  int                chunk;                /* inputs per submission */
  gsize              per_item[N_SLOTS];    /* bytes one input needs */
  int                lose_device_at;       /* CLIPSCOPE_VULKAN_LOSE_DEVICE: that encode
                                            * submission fails as a lost device; 0: none */
  int                n_encodes;

  /* Owned References */
  ClipscopeModel    *model;
  ClipscopeVkDevice *device;
  ClipscopeVkWeights weights;
  ClipscopeVkBuffer  slots[N_SLOTS];
  ClipscopeVkBuffer  explain[N_EXPLAIN];
};

#define T(slot, off) clipscope_vk_tensor (&be->slots[slot], (off))
#define NONE clipscope_vk_tensor (NULL, 0)

static ClipscopeVkAct
gelu_kind (const ClipscopeTransformer *tf)
{
  return tf->quick_gelu ? CLIPSCOPE_VK_ACT_QUICK_GELU : CLIPSCOPE_VK_ACT_GELU;
}

/* ------------------------------------------------------------ sizes */

static int
conv_out (const ClipscopeConv *c,
          int                  in)
{
  return (in + 2 * c->pad - c->kernel) / c->stride + 1;
}

/* The largest channel-last feature map of one image, in floats. */
static gsize
resnet_map_floats (const ClipscopeResnet *r)
{
  int s = r->image_size;
  gsize most = 0;

  for (int i = 0; i < 3; i++)
    {
      s = conv_out (&r->stem[i], s);
      most = MAX (most, (gsize) r->stem[i].c_out * s * s);
    }
  s /= 2;
  for (int i = 0; i < r->n_blocks; i++)
    {
      const ClipscopeBottleneck *b = &r->blocks[i];

      most = MAX (most, (gsize) MAX (b->conv1.c_out, b->conv3.c_out) * s * s);
      s /= b->stride;
    }
  return most;
}

static void
transformer_sizes (gsize                      *per,
                   const ClipscopeTransformer *tf,
                   gsize                       seq)
{
  per[SLOT_X] = MAX (per[SLOT_X], seq * tf->width * 4);
  per[SLOT_H] = MAX (per[SLOT_H], seq * tf->width * 4);
  per[SLOT_ATTN] = MAX (per[SLOT_ATTN], seq * tf->width * 4);
  per[SLOT_QKV] = MAX (per[SLOT_QKV], seq * 3 * tf->width * 4);
  per[SLOT_MLP] = MAX (per[SLOT_MLP], seq * tf->mlp_width * 4);
  per[SLOT_POOL] = MAX (per[SLOT_POOL], (gsize) tf->width * 4);
}

static void
compute_sizes (ClipscopeVkBackend *be)
{
  const ClipscopeModel *m = be->model;
  gsize *per = be->per_item;

  memset (per, 0, sizeof be->per_item);
  per[SLOT_PIXELS] = (gsize) 3 * m->info.image_size * m->info.image_size * 4;
  per[SLOT_OUT] = (gsize) m->info.embed_dim * 4;
  per[SLOT_IDS] = (gsize) m->text.context_length * 4;
  per[SLOT_INDEX] = 4;
  transformer_sizes (per, &m->text.tf, m->text.context_length);
  if (m->info.vision_kind == CLIPSCOPE_VISION_VIT)
    {
      const gsize patch = (gsize) 3 * m->vit.patch_size * m->vit.patch_size;

      transformer_sizes (per, &m->vit.tf, 1 + m->vit.n_patches);
      per[SLOT_MLP] = MAX (per[SLOT_MLP], m->vit.n_patches * patch * 4);
    }
  else
    {
      const ClipscopeResnet *r = &m->resnet;
      gsize seq = (gsize) r->pool_grid * r->pool_grid + 1, map = resnet_map_floats (r) * 4;

      per[SLOT_X] = MAX (per[SLOT_X], seq * r->pool_dim * 4);
      per[SLOT_QKV] = MAX (per[SLOT_QKV], seq * 2 * r->pool_dim * 4);
      per[SLOT_ATTN] = MAX (per[SLOT_ATTN], (gsize) r->pool_dim * 4);
      per[SLOT_POOL] = MAX (per[SLOT_POOL], (gsize) r->pool_dim * 4);
      for (int s = SLOT_MAP_A; s <= SLOT_MAP_D; s++)
        per[s] = map;
    }
}

/* Heads wider than attention.comp's registers cannot run here. */
/* Submits a recorded encoding and waits for it. A driver that loses the
 * device mid-batch cannot be summoned in a test, so the environment can
 * make the Nth submission fail exactly as such a driver would. */
static gboolean
submit_encode (ClipscopeVkBackend *be,
               GError            **error)
{
  if (be->lose_device_at > 0 && ++be->n_encodes == be->lose_device_at)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_BACKEND,
                   "Vulkan: vkQueueSubmit failed: VK_ERROR_DEVICE_LOST "
                   "(injected by CLIPSCOPE_VULKAN_LOSE_DEVICE=%d)", be->lose_device_at);
      return FALSE;
    }
  return clipscope_vk_submit_wait (be->device, error);
}

static gboolean
check_supported (const ClipscopeModel *m,
                 GError              **error)
{
  int hd_text = m->text.tf.width / m->text.tf.n_heads;
  int hd_vision = m->info.vision_kind == CLIPSCOPE_VISION_VIT
                  ? m->vit.tf.width / m->vit.tf.n_heads
                  : m->resnet.pool_dim / m->resnet.pool_heads;

  if (MAX (hd_text, hd_vision) <= CLIPSCOPE_VK_MAX_HEAD_DIM)
    return TRUE;
  g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_UNSUPPORTED,
               "Vulkan: attention heads of %d dimensions exceed the supported %d",
               MAX (hd_text, hd_vision), CLIPSCOPE_VK_MAX_HEAD_DIM);
  return FALSE;
}

static gboolean
allocate_slots (ClipscopeVkBackend *be,
                GError            **error)
{
  VkDeviceSize range = clipscope_vk_device_max_range (be->device);

  be->chunk = be->max_batch;
  for (int s = 0; s < N_SLOTS; s++)
    if (be->per_item[s] > 0)
      be->chunk = MIN (be->chunk, (int) MIN (range / be->per_item[s], G_MAXINT));
  if (be->chunk < 1)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT,
                   "Vulkan: one input needs more than the %" G_GUINT64_FORMAT
                   " bytes a buffer binding may cover", (guint64) range);
      return FALSE;
    }
  for (int s = 0; s < N_SLOTS; s++)
    if (be->per_item[s] > 0
        && !clipscope_vk_buffer_init (be->device, &be->slots[s], be->per_item[s] * be->chunk, error))
      return FALSE;
  return TRUE;
}

/* ------------------------------------------------------- life cycle */

ClipscopeVkBackend *
clipscope_vk_backend_new (ClipscopeModel *model,
                          int             max_batch,
                          gboolean        allow_cpu_device,
                          GError        **error)
{
  ClipscopeVkBackend *be;

  if (!check_supported (model, error))
    return NULL;
  be = g_new0 (ClipscopeVkBackend, 1);
  be->model = clipscope_model_ref (model);
  if (g_getenv ("CLIPSCOPE_VULKAN_LOSE_DEVICE") != NULL)
    be->lose_device_at = (int) g_ascii_strtoll (g_getenv ("CLIPSCOPE_VULKAN_LOSE_DEVICE"), NULL, 10);
  be->max_batch = max_batch;
  compute_sizes (be);
  if ((be->device = clipscope_vk_device_new (allow_cpu_device, error)) == NULL
      || !allocate_slots (be, error)
      || !clipscope_vk_weights_upload (be->device, model, &be->weights, error))
    {
      clipscope_vk_backend_free (be);
      return NULL;
    }
  return be;
}

void
clipscope_vk_backend_free (ClipscopeVkBackend *be)
{
  if (be == NULL)
    return;
  if (be->device != NULL)
    {
      clipscope_vk_weights_clear (be->device, &be->weights);
      for (int s = 0; s < N_SLOTS; s++)
        clipscope_vk_buffer_clear (be->device, &be->slots[s]);
      for (int s = 0; s < N_EXPLAIN; s++)
        clipscope_vk_buffer_clear (be->device, &be->explain[s]);
      clipscope_vk_device_free (be->device);
    }
  g_clear_pointer (&be->model, clipscope_model_unref);
  g_free (be);
}

const char *
clipscope_vk_backend_get_device_name (ClipscopeVkBackend *be)
{
  return clipscope_vk_device_get_name (be->device);
}

/* ------------------------------------------------------ transformer */

/* x += attn(LN₁(x)); x += mlp(LN₂(x)) for every block, on SLOT_X
 * [n · seq, width]. Unless @every_row, the last block computes only the
 * pooled row of each sequence (row index[b], or 0 without @index) and
 * leaves the result in SLOT_POOL [n, width]; with it, the last block runs
 * like the others and every row stays in SLOT_X. */
static void
record_transformer (ClipscopeVkBackend         *be,
                    const ClipscopeTransformer *tf,
                    const ClipscopeVkBlock     *blocks,
                    int                         n,
                    int                         seq,
                    gboolean                    causal,
                    const ClipscopeVkBuffer    *index,
                    gboolean                    every_row)
{
  ClipscopeVkDevice *d = be->device;
  const int w = tf->width, m = tf->mlp_width, rows = n * seq;

  for (int l = 0; l < tf->n_layers; l++)
    {
      const ClipscopeVkBlock *b = &blocks[l];
      gboolean last = l == tf->n_layers - 1 && !every_row;
      Slot x = last ? SLOT_POOL : SLOT_X;
      int out_rows = last ? n : rows;

      clipscope_vk_op_layer_norm (d, T (SLOT_X, 0), w, rows, w, b->ln_1_w, b->ln_1_b, tf->ln_eps,
                                  T (SLOT_H, 0), w);
      clipscope_vk_op_linear (d, T (SLOT_H, 0), w, rows, w, b->qkv_w, b->qkv_b, 3 * w,
                              T (SLOT_QKV, 0), 3 * w, CLIPSCOPE_VK_ACT_NONE, FALSE);
      clipscope_vk_op_attention (d, T (SLOT_QKV, 0), 3 * w, T (SLOT_QKV, w), T (SLOT_QKV, 2 * w),
                                 3 * w, n, seq, last ? 1 : seq, seq, w, tf->n_heads, causal,
                                 last ? index : NULL, T (SLOT_ATTN, 0), w);
      /* Only the pooled rows matter after the last block. */
      if (last)
        clipscope_vk_op_gather_rows (d, &be->slots[SLOT_X], &be->slots[SLOT_POOL], index, n, seq, w);
      clipscope_vk_op_linear (d, T (SLOT_ATTN, 0), w, out_rows, w, b->out_w, b->out_b, w,
                              T (x, 0), w, CLIPSCOPE_VK_ACT_NONE, TRUE);
      clipscope_vk_op_layer_norm (d, T (x, 0), w, out_rows, w, b->ln_2_w, b->ln_2_b, tf->ln_eps,
                                  T (SLOT_H, 0), w);
      clipscope_vk_op_linear (d, T (SLOT_H, 0), w, out_rows, w, b->fc1_w, b->fc1_b, m,
                              T (SLOT_MLP, 0), m, gelu_kind (tf), FALSE);
      clipscope_vk_op_linear (d, T (SLOT_MLP, 0), m, out_rows, m, b->fc2_w, b->fc2_b, w,
                              T (x, 0), w, CLIPSCOPE_VK_ACT_NONE, TRUE);
    }
  if (tf->n_layers == 0 && !every_row)
    clipscope_vk_op_gather_rows (d, &be->slots[SLOT_X], &be->slots[SLOT_POOL], index, n, seq, w);
}

/* SLOT_OUT = normalise(LN(SLOT_POOL) · projᵀ), then back to the host. */
static void
record_head (ClipscopeVkBackend *be,
             int                 width,
             ClipscopeVkTensor   ln_w,
             ClipscopeVkTensor   ln_b,
             float               eps,
             ClipscopeVkTensor   proj,
             int                 n,
             float              *out)
{
  ClipscopeVkDevice *d = be->device;
  const int e = be->model->info.embed_dim;

  clipscope_vk_op_layer_norm (d, T (SLOT_POOL, 0), width, n, width, ln_w, ln_b, eps,
                              T (SLOT_H, 0), width);
  clipscope_vk_op_linear (d, T (SLOT_H, 0), width, n, width, proj, NONE, e, T (SLOT_OUT, 0), e,
                          CLIPSCOPE_VK_ACT_NONE, FALSE);
  clipscope_vk_op_l2_norm (d, &be->slots[SLOT_OUT], n, e);
  clipscope_vk_download (d, &be->slots[SLOT_OUT], 0, out, (gsize) n * e * sizeof (float));
}

/* -------------------------------------------------------------- ViT */

/* SLOT_X [n · seq, width]: the input of the first block. */
static void
record_vit_tokens (ClipscopeVkBackend *be,
                   int                 n)
{
  const ClipscopeVit *v = &be->model->vit;
  const ClipscopeVkWeights *wt = &be->weights;
  const int w = v->tf.width, s = v->image_size, seq = 1 + v->n_patches;
  const int patch = 3 * v->patch_size * v->patch_size;
  ClipscopeVkMap map = { n, 3, s, s, 3 * s * s, s * s, s, 1 };

  /* The patch embedding is a stride-p convolution without bias: the
   * patches laid out as rows, then a linear layer. */
  clipscope_vk_op_im2col (be->device, T (SLOT_PIXELS, 0), &map, v->patch_size, v->patch_size, 0,
                          T (SLOT_MLP, 0));
  clipscope_vk_op_linear (be->device, T (SLOT_MLP, 0), patch, n * v->n_patches, patch, wt->patch_w,
                          NONE, w, T (SLOT_QKV, 0), w, CLIPSCOPE_VK_ACT_NONE, FALSE);
  clipscope_vk_op_assemble_tokens (be->device, &be->slots[SLOT_H], &be->slots[SLOT_QKV],
                                   wt->class_emb, wt->vit_pos, n, seq, w, FALSE);
  clipscope_vk_op_layer_norm (be->device, T (SLOT_H, 0), w, n * seq, w, wt->ln_pre_w,
                              wt->ln_pre_b, v->tf.ln_eps, T (SLOT_X, 0), w);
}

static void
record_vit (ClipscopeVkBackend *be,
            int                 n,
            float              *out)
{
  const ClipscopeVit *v = &be->model->vit;
  const ClipscopeVkWeights *wt = &be->weights;

  record_vit_tokens (be, n);
  record_transformer (be, &v->tf, wt->vision_blocks, n, 1 + v->n_patches, FALSE, NULL, FALSE);
  record_head (be, v->tf.width, wt->ln_post_w, wt->ln_post_b, v->tf.ln_eps, wt->vit_proj, n, out);
}

/* EXPLAIN_OUT [seq, embed_dim] = LN_post(every token of one image) · proj. */
static void
record_vit_spatial (ClipscopeVkBackend *be)
{
  ClipscopeVkDevice *d = be->device;
  const ClipscopeVit *v = &be->model->vit;
  const ClipscopeVkWeights *wt = &be->weights;
  const int w = v->tf.width, seq = 1 + v->n_patches, e = be->model->info.embed_dim;

  record_vit_tokens (be, 1);
  record_transformer (be, &v->tf, wt->vision_blocks, 1, seq, FALSE, NULL, TRUE);
  clipscope_vk_op_layer_norm (d, T (SLOT_X, 0), w, seq, w, wt->ln_post_w, wt->ln_post_b,
                              v->tf.ln_eps, T (SLOT_H, 0), w);
  clipscope_vk_op_linear (d, T (SLOT_H, 0), w, seq, w, wt->vit_proj, NONE, e,
                          clipscope_vk_tensor (&be->explain[EXPLAIN_OUT], 0), e,
                          CLIPSCOPE_VK_ACT_NONE, FALSE);
}

/* ----------------------------------------------------------- ResNet */

/* A convolution on a channel-last map [n, h, w, c] in @in, into @out. */
static void
record_conv (ClipscopeVkBackend    *be,
             const ClipscopeConv   *c,
             const ClipscopeVkConv *cw,
             Slot                   in,
             int                    n,
             int                    h,
             int                    w,
             Slot                   out,
             ClipscopeVkAct         act,
             gboolean               accumulate)
{
  ClipscopeVkMap map = { n, c->c_in, h, w, h * w * c->c_in, 1, w * c->c_in, c->c_in };

  if (c->kernel == 1 && c->stride == 1 && c->pad == 0)
    clipscope_vk_op_linear (be->device, T (in, 0), c->c_in, n * h * w, c->c_in, cw->w, cw->b,
                            c->c_out, T (out, 0), c->c_out, act, accumulate);
  else
    clipscope_vk_op_conv (be->device, T (in, 0), &map, cw->w, cw->b, c->c_out, c->kernel,
                          c->stride, c->pad, T (out, 0), act, accumulate);
}

/* maps[0] holds the block's input; afterwards it holds its output. */
static void
record_bottleneck (ClipscopeVkBackend          *be,
                   const ClipscopeBottleneck   *b,
                   const ClipscopeVkBottleneck *bw,
                   Slot                         maps[4],
                   int                          n,
                   int                         *h,
                   int                         *w)
{
  const int f = b->stride, ho = *h / f, wo = *w / f;
  Slot in = maps[0], t1 = maps[1], t2 = maps[2], t3 = maps[3], in3, sum = in;

  record_conv (be, &b->conv1, &bw->conv1, in, n, *h, *w, t1, CLIPSCOPE_VK_ACT_RELU, FALSE);
  record_conv (be, &b->conv2, &bw->conv2, t1, n, *h, *w, t2, CLIPSCOPE_VK_ACT_RELU, FALSE);
  in3 = t2;
  if (f > 1)
    {
      clipscope_vk_op_avg_pool (be->device, &be->slots[t2], &be->slots[t1], n, *h, *w,
                                b->conv2.c_out, f);
      in3 = t1;
    }
  if (b->has_downsample)
    {
      Slot ds_in = in;

      if (f > 1)
        {
          clipscope_vk_op_avg_pool (be->device, &be->slots[in], &be->slots[t3], n, *h, *w,
                                    b->downsample.c_in, f);
          ds_in = t3;
        }
      /* The identity goes to whichever of t1 and t2 conv3 does not read. */
      sum = in3 == t1 ? t2 : t1;
      record_conv (be, &b->downsample, &bw->downsample, ds_in, n, ho, wo, sum,
                   CLIPSCOPE_VK_ACT_NONE, FALSE);
    }
  /* relu(conv3(·) + identity), accumulated onto the identity. */
  record_conv (be, &b->conv3, &bw->conv3, in3, n, ho, wo, sum, CLIPSCOPE_VK_ACT_RELU, TRUE);
  for (int i = 1; i < 4; i++)
    if (maps[i] == sum)
      {
        maps[i] = maps[0];
        maps[0] = sum;
      }
  *h = ho;
  *w = wo;
}

/* SLOT_X [n · seq, pool_dim]: the attention pool's tokens, the mean of
 * the last feature map and then its cells, plus positions. */
static void
record_resnet_tokens (ClipscopeVkBackend *be,
                      int                 n)
{
  ClipscopeVkDevice *d = be->device;
  const ClipscopeResnet *r = &be->model->resnet;
  const ClipscopeVkWeights *wt = &be->weights;
  const int s = r->image_size, dim = r->pool_dim, seq = r->pool_grid * r->pool_grid + 1;
  ClipscopeVkMap pixels = { n, 3, s, s, 3 * s * s, s * s, s, 1 };
  Slot maps[4] = { SLOT_MAP_A, SLOT_MAP_B, SLOT_MAP_C, SLOT_MAP_D };
  int h, w;

  /* The stem: the input is channel-first, everything after it is not. */
  clipscope_vk_op_conv (d, T (SLOT_PIXELS, 0), &pixels, wt->stem[0].w, wt->stem[0].b,
                        r->stem[0].c_out, r->stem[0].kernel, r->stem[0].stride, r->stem[0].pad,
                        T (SLOT_MAP_B, 0), CLIPSCOPE_VK_ACT_RELU, FALSE);
  h = w = conv_out (&r->stem[0], s);
  record_conv (be, &r->stem[1], &wt->stem[1], SLOT_MAP_B, n, h, w, SLOT_MAP_C,
               CLIPSCOPE_VK_ACT_RELU, FALSE);
  record_conv (be, &r->stem[2], &wt->stem[2], SLOT_MAP_C, n, h, w, SLOT_MAP_B,
               CLIPSCOPE_VK_ACT_RELU, FALSE);
  clipscope_vk_op_avg_pool (d, &be->slots[SLOT_MAP_B], &be->slots[SLOT_MAP_A], n, h, w,
                            r->stem[2].c_out, 2);
  h /= 2;
  w /= 2;
  for (int i = 0; i < r->n_blocks; i++)
    record_bottleneck (be, &r->blocks[i], &wt->bottlenecks[i], maps, n, &h, &w);

  /* Attention pooling: the mean of the grid queries the grid. */
  clipscope_vk_op_assemble_tokens (d, &be->slots[SLOT_X], &be->slots[maps[0]], NONE, wt->pool_pos,
                                   n, seq, dim, TRUE);
}

static void
record_resnet (ClipscopeVkBackend *be,
               int                 n,
               float              *out)
{
  ClipscopeVkDevice *d = be->device;
  const ClipscopeResnet *r = &be->model->resnet;
  const ClipscopeVkWeights *wt = &be->weights;
  const int dim = r->pool_dim, seq = r->pool_grid * r->pool_grid + 1;
  const int e = be->model->info.embed_dim;

  record_resnet_tokens (be, n);
  clipscope_vk_op_linear (d, T (SLOT_X, 0), seq * dim, n, dim, wt->pool_q_w, wt->pool_q_b, dim,
                          T (SLOT_POOL, 0), dim, CLIPSCOPE_VK_ACT_NONE, FALSE);
  clipscope_vk_op_linear (d, T (SLOT_X, 0), dim, n * seq, dim, wt->pool_kv_w, wt->pool_kv_b,
                          2 * dim, T (SLOT_QKV, 0), 2 * dim, CLIPSCOPE_VK_ACT_NONE, FALSE);
  clipscope_vk_op_attention (d, T (SLOT_POOL, 0), dim, T (SLOT_QKV, 0), T (SLOT_QKV, dim),
                             2 * dim, n, seq, 1, 1, dim, r->pool_heads, FALSE, NULL,
                             T (SLOT_ATTN, 0), dim);
  clipscope_vk_op_linear (d, T (SLOT_ATTN, 0), dim, n, dim, wt->pool_c_w, wt->pool_c_b, e,
                          T (SLOT_OUT, 0), e, CLIPSCOPE_VK_ACT_NONE, FALSE);
  clipscope_vk_op_l2_norm (d, &be->slots[SLOT_OUT], n, e);
  clipscope_vk_download (d, &be->slots[SLOT_OUT], 0, out, (gsize) n * e * sizeof (float));
}

/* EXPLAIN_OUT [seq, embed_dim]: every token of one image's attention pool
 * queries all of them in turn, through the same projections. */
static void
record_resnet_spatial (ClipscopeVkBackend *be)
{
  ClipscopeVkDevice *d = be->device;
  const ClipscopeResnet *r = &be->model->resnet;
  const ClipscopeVkWeights *wt = &be->weights;
  const int dim = r->pool_dim, seq = r->pool_grid * r->pool_grid + 1;
  const int e = be->model->info.embed_dim;
  ClipscopeVkTensor q = clipscope_vk_tensor (&be->explain[EXPLAIN_Q], 0);
  ClipscopeVkTensor attn = clipscope_vk_tensor (&be->explain[EXPLAIN_ATTN], 0);

  record_resnet_tokens (be, 1);
  clipscope_vk_op_linear (d, T (SLOT_X, 0), dim, seq, dim, wt->pool_q_w, wt->pool_q_b, dim,
                          q, dim, CLIPSCOPE_VK_ACT_NONE, FALSE);
  clipscope_vk_op_linear (d, T (SLOT_X, 0), dim, seq, dim, wt->pool_kv_w, wt->pool_kv_b,
                          2 * dim, T (SLOT_QKV, 0), 2 * dim, CLIPSCOPE_VK_ACT_NONE, FALSE);
  clipscope_vk_op_attention (d, q, dim, T (SLOT_QKV, 0), T (SLOT_QKV, dim), 2 * dim, 1, seq,
                             seq, seq, dim, r->pool_heads, FALSE, NULL, attn, dim);
  clipscope_vk_op_linear (d, attn, dim, seq, dim, wt->pool_c_w, wt->pool_c_b, e,
                          clipscope_vk_tensor (&be->explain[EXPLAIN_OUT], 0), e,
                          CLIPSCOPE_VK_ACT_NONE, FALSE);
}

/* -------------------------------------------------------- entry points */

gboolean
clipscope_vk_backend_encode_pixels (ClipscopeVkBackend *be,
                                    const float        *pixels,
                                    int                 n,
                                    float              *out,
                                    GCancellable       *cancellable,
                                    GError            **error)
{
  const gsize image = (gsize) 3 * be->model->info.image_size * be->model->info.image_size;
  const int e = be->model->info.embed_dim;

  for (int done = 0; done < n; done += be->chunk)
    {
      int b = MIN (be->chunk, n - done);
      gsize in_bytes = (gsize) b * image * sizeof (float);

      if (g_cancellable_set_error_if_cancelled (cancellable, error)
          || !clipscope_vk_begin (be->device, in_bytes + (gsize) b * e * sizeof (float), error))
        return FALSE;
      clipscope_vk_upload (be->device, &be->slots[SLOT_PIXELS], 0, pixels + done * image, in_bytes);
      if (be->model->info.vision_kind == CLIPSCOPE_VISION_VIT)
        record_vit (be, b, out + (gsize) done * e);
      else
        record_resnet (be, b, out + (gsize) done * e);
      if (!submit_encode (be, error))
        return FALSE;
    }
  return TRUE;
}

/* Makes the spatial pass's buffers the first time it runs. */
static gboolean
ensure_explain_buffers (ClipscopeVkBackend *be,
                        int                 seq,
                        GError            **error)
{
  const ClipscopeModel *m = be->model;
  const gsize dim = m->info.vision_kind == CLIPSCOPE_VISION_VIT ? 0 : (gsize) m->resnet.pool_dim;
  const gsize size[N_EXPLAIN] = {
    [EXPLAIN_Q] = seq * dim * 4,
    [EXPLAIN_ATTN] = seq * dim * 4,
    [EXPLAIN_OUT] = (gsize) seq * m->info.embed_dim * 4,
  };

  for (int s = 0; s < N_EXPLAIN; s++)
    if (size[s] > 0 && be->explain[s].buffer == VK_NULL_HANDLE
        && !clipscope_vk_buffer_init (be->device, &be->explain[s], size[s], error))
      return FALSE;
  return TRUE;
}

gboolean
clipscope_vk_backend_explain_pixels (ClipscopeVkBackend *be,
                                     const float        *pixels,
                                     float              *out,
                                     GCancellable       *cancellable,
                                     GError            **error)
{
  const ClipscopeModel *m = be->model;
  const gsize image = (gsize) 3 * m->info.image_size * m->info.image_size * sizeof (float);
  const int grid = clipscope_model_get_explain_grid (be->model);
  const int seq = 1 + grid * grid, e = m->info.embed_dim;
  const gsize out_bytes = (gsize) seq * e * sizeof (float);

  if (g_cancellable_set_error_if_cancelled (cancellable, error)
      || !ensure_explain_buffers (be, seq, error)
      || !clipscope_vk_begin (be->device, image + out_bytes, error))
    return FALSE;
  clipscope_vk_upload (be->device, &be->slots[SLOT_PIXELS], 0, pixels, image);
  if (m->info.vision_kind == CLIPSCOPE_VISION_VIT)
    record_vit_spatial (be);
  else
    record_resnet_spatial (be);
  clipscope_vk_op_l2_norm (be->device, &be->explain[EXPLAIN_OUT], seq, e);
  clipscope_vk_download (be->device, &be->explain[EXPLAIN_OUT], 0, out, out_bytes);
  return submit_encode (be, error);
}

/* The end-of-text token has the highest id, so CLIP pools at the row's
 * maximum; the longest prefix in the chunk sets the sequence length,
 * because under the causal mask later rows cannot change earlier ones. */
static gboolean
eot_positions (const ClipscopeTextTower *t,
               const int32_t            *tokens,
               int                       n,
               int32_t                  *index,
               int                      *seq,
               GError                  **error)
{
  const int ctx = t->context_length;

  *seq = 1;
  for (int i = 0; i < n; i++)
    {
      const int32_t *row = tokens + (gsize) i * ctx;

      index[i] = 0;
      for (int j = 0; j < ctx; j++)
        {
          if (row[j] < 0 || row[j] >= t->vocab_size)
            {
              g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT,
                           "token id %d at text %d, position %d is outside the vocabulary of %d",
                           row[j], i, j, t->vocab_size);
              return FALSE;
            }
          if (row[j] > row[index[i]])
            index[i] = j;
        }
      *seq = MAX (*seq, index[i] + 1);
    }
  return TRUE;
}

gboolean
clipscope_vk_backend_encode_tokens (ClipscopeVkBackend *be,
                                    const int32_t      *tokens,
                                    int                 n,
                                    float              *out,
                                    GCancellable       *cancellable,
                                    GError            **error)
{
  const ClipscopeTextTower *t = &be->model->text;
  const ClipscopeVkWeights *wt = &be->weights;
  const int ctx = t->context_length, e = be->model->info.embed_dim;
  g_autofree int32_t *index = g_new0 (int32_t, be->chunk);

  for (int done = 0; done < n; done += be->chunk)
    {
      int b = MIN (be->chunk, n - done), seq;
      const int32_t *rows = tokens + (gsize) done * ctx;
      gsize ids_bytes = (gsize) b * ctx * sizeof (int32_t);

      if (g_cancellable_set_error_if_cancelled (cancellable, error)
          || !eot_positions (t, rows, b, index, &seq, error)
          || !clipscope_vk_begin (be->device, ids_bytes + b * sizeof (int32_t)
                                  + (gsize) b * e * sizeof (float), error))
        return FALSE;
      clipscope_vk_upload (be->device, &be->slots[SLOT_IDS], 0, rows, ids_bytes);
      clipscope_vk_upload (be->device, &be->slots[SLOT_INDEX], 0, index, b * sizeof (int32_t));
      clipscope_vk_op_embed_tokens (be->device, &be->slots[SLOT_X], wt->token_emb, wt->text_pos,
                                    T (SLOT_IDS, 0), b, seq, ctx, t->tf.width);
      record_transformer (be, &t->tf, wt->text_blocks, b, seq, TRUE, &be->slots[SLOT_INDEX], FALSE);
      record_head (be, t->tf.width, wt->ln_final_w, wt->ln_final_b, t->tf.ln_eps, wt->text_proj, b,
                   out + (gsize) done * e);
      if (!submit_encode (be, error))
        return FALSE;
    }
  return TRUE;
}
