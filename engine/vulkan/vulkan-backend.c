/* vulkan-backend.c — the graph operations recorded as Vulkan dispatches
 *
 * Each operation of graph.h records one kernel of shaders/ with its
 * shapes into the device's command buffer; submit() runs them all. The weights
 * are uploaded once, q, k and v stacked into one matrix; a batch is split
 * into chunks so that no activation buffer exceeds what one binding may
 * cover.
 */
#include "vulkan-backend.h"
#include "vulkan-weights.h"

#include <math.h>
#include <string.h>

typedef struct {
  ClipscopeGraphBackend parent;
  gsize              per_item[CLIPSCOPE_N_SLOTS];   /* bytes one input needs */
  int                lose_device_at;       /* CLIPSCOPE_VULKAN_LOSE_DEVICE: that encode
                                            * submission fails as a lost device; 0: none */
  int                n_encodes;

  /* Owned References */
  ClipscopeVkDevice *device;
  ClipscopeVkWeights weights;
  ClipscopeVkBuffer  slots[CLIPSCOPE_N_SLOTS];   /* the spatial ones made on first use */
} VkBackend;

#define VK(be) ((VkBackend *) (be))
#define DEV(be) (VK (be)->device)
#define BUF(t) ((const ClipscopeVkBuffer *) (t).buf)

/* ------------------------------------------------------------ passes */

static gboolean
vk_begin (ClipscopeGraphBackend *be,
          int                    n,
          gboolean               spatial,
          gsize                  staging,
          GError               **error)
{
  VkBackend *vb = VK (be);

  for (int s = CLIPSCOPE_FIRST_SPATIAL_SLOT; spatial && s < CLIPSCOPE_N_SLOTS; s++)
    if (vb->per_item[s] > 0 && vb->slots[s].buffer == VK_NULL_HANDLE
        && !clipscope_vk_buffer_init (vb->device, &vb->slots[s], vb->per_item[s], error))
      return FALSE;
  return clipscope_vk_begin (vb->device, staging, error);
}

static ClipscopeView
vk_slot (ClipscopeGraphBackend *be,
         ClipscopeSlot          slot)
{
  ClipscopeView t = { &VK (be)->slots[slot], 0, FALSE };
  return t;
}

static void
vk_upload (ClipscopeGraphBackend *be,
           ClipscopeView        dst,
           const void            *src,
           gsize                  bytes)
{
  clipscope_vk_upload (DEV (be), BUF (dst), dst.off * 4, src, bytes);
}

static void
vk_download (ClipscopeGraphBackend *be,
             ClipscopeView        src,
             void                  *dst,
             gsize                  bytes)
{
  clipscope_vk_download (DEV (be), BUF (src), src.off * 4, dst, bytes);
}

/* Submits a recorded pass and waits for it. A driver that loses the
 * device mid-batch cannot be summoned in a test, so the environment can
 * make the Nth submission fail exactly as such a driver would. */
static gboolean
vk_submit (ClipscopeGraphBackend *be,
           GError               **error)
{
  VkBackend *vb = VK (be);

  if (vb->lose_device_at > 0 && ++vb->n_encodes == vb->lose_device_at)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_BACKEND,
                   "Vulkan: vkQueueSubmit failed: VK_ERROR_DEVICE_LOST "
                   "(injected by CLIPSCOPE_VULKAN_LOSE_DEVICE=%d)", vb->lose_device_at);
      return FALSE;
    }
  return clipscope_vk_submit_wait (vb->device, error);
}

/* -------------------------------------------------------- operations */

/* Must match the FLAG_* of gemm.comp. */
#define GEMM_BIAS 8u
#define GEMM_ACCUMULATE 16u
#define GEMM_VEC4 32u

static uint32_t
groups_for (ClipscopeVkDevice *d,
            ClipscopeVkKernel  k,
            guint64            invocations)
{
  uint32_t local = clipscope_vk_kernel_local_size (d, k);

  return (uint32_t) MIN ((invocations + local - 1) / local, G_MAXUINT32);
}

static void
gemm (ClipscopeVkDevice   *d,
      ClipscopeVkKernel    k,
      ClipscopeView        a,
      ClipscopeView        w,
      ClipscopeView        b,
      ClipscopeView        c,
      ClipscopeVkGemmPush *p)
{
  const ClipscopeVkBuffer *bufs[] = { a.buf, w.buf, b.buf, c.buf };
  uint32_t tm, tn;

  clipscope_vk_kernel_tile (d, k, &tm, &tn);
  p->a_off = a.off;
  p->w_off = w.off;
  p->b_off = b.off;
  p->c_off = c.off;
  if (b.buf != NULL)
    p->flags |= GEMM_BIAS;
  clipscope_vk_set_label (d, "%s %ux%ux%u", k == CLIPSCOPE_VK_CONV || k == CLIPSCOPE_VK_CONV_F16
                          ? "conv" : "linear", p->m, p->n, p->k);
  /* gemm_tiled.comp: a workgroup a block of C; gemm.comp: an invocation
   * a register tile. */
  if (k == CLIPSCOPE_VK_GEMM_TILED || k == CLIPSCOPE_VK_GEMM_TILED_F16)
    {
      const uint32_t bm = clipscope_vk_kernel_local_size_y (d, k) * tm;
      const uint32_t bn = clipscope_vk_kernel_local_size (d, k) * tn;

      clipscope_vk_dispatch (d, k, bufs, p, sizeof *p, (p->n + bn - 1) / bn, (p->m + bm - 1) / bm);
    }
  else
    clipscope_vk_dispatch (d, k, bufs, p, sizeof *p,
                           groups_for (d, k, (guint64) ((p->m + tm - 1) / tm) * ((p->n + tn - 1) / tn)), 1);
}

static void
vk_linear (ClipscopeGraphBackend *be,
           ClipscopeView          x,
           int                    ldx,
           int                    rows,
           int                    n_in,
           ClipscopeView          w,
           ClipscopeView          b,
           int                    n_out,
           ClipscopeView          y,
           int                    ldy,
           ClipscopeAct           act,
           gboolean               accumulate)
{
  ClipscopeVkDevice *d = DEV (be);
  ClipscopeVkGemmPush p = {
    .m = rows, .n = n_out, .k = n_in,
    .lda = ldx, .ldw = n_in, .ldc = ldy,
    .flags = act | (accumulate ? GEMM_ACCUMULATE : 0),
  };

  if (clipscope_vk_device_gemm_tiled (d))
    {
      gemm (d, w.f16 ? CLIPSCOPE_VK_GEMM_TILED_F16 : CLIPSCOPE_VK_GEMM_TILED, x, w, b, y, &p);
      return;
    }
  /* vec4 loads need every row of x and w to start on a 16-byte boundary. */
  if (x.off % 4 == 0 && ldx % 4 == 0 && w.off % 4 == 0 && n_in % 4 == 0)
    p.flags |= GEMM_VEC4;
  /* The texel views must match what the kernel reads; float16 weights
   * come eight to a texel, so their rows must start on a texel. */
  if ((p.flags & GEMM_VEC4) && clipscope_vk_device_has_texel (d)
      && BUF (x)->view != VK_NULL_HANDLE && !BUF (x)->half_view
      && BUF (w)->view != VK_NULL_HANDLE && BUF (w)->half_view == w.f16
      && (!w.f16 || (w.off % 8 == 0 && n_in % 8 == 0)))
    {
      gemm (d, w.f16 ? CLIPSCOPE_VK_GEMM_TEXEL_F16 : CLIPSCOPE_VK_GEMM_TEXEL, x, w, b, y, &p);
      return;
    }
  gemm (d, w.f16 ? CLIPSCOPE_VK_GEMM_F16 : CLIPSCOPE_VK_GEMM, x, w, b, y, &p);
}

/* The implicit im2col's part of the push constants: its shape and the
 * input map's. */
static void
conv_push (const ClipscopeMap  *map,
           int                  kernel,
           int                  stride,
           int                  pad,
           ClipscopeVkGemmPush *p)
{
  const int ho = (map->h + 2 * pad - kernel) / stride + 1;
  const int wo = (map->w + 2 * pad - kernel) / stride + 1;

  *p = (ClipscopeVkGemmPush) {
    .m = map->n * ho * wo, .k = map->c * kernel * kernel,
    .in_h = map->h, .in_w = map->w, .out_h = ho, .out_w = wo,
    .ksize = kernel, .stride = stride, .pad = pad,
    .s_b = map->s_b, .s_c = map->s_c, .s_y = map->s_y, .s_x = map->s_x,
  };
}

static void
vk_conv (ClipscopeGraphBackend *be,
         ClipscopeView          x,
         const ClipscopeMap    *map,
         ClipscopeView          w,
         ClipscopeView          b,
         int                    c_out,
         int                    kernel,
         int                    stride,
         int                    pad,
         ClipscopeView          y,
         ClipscopeAct           act,
         gboolean               accumulate)
{
  ClipscopeVkGemmPush p;

  conv_push (map, kernel, stride, pad, &p);
  p.n = c_out;
  p.ldw = p.k;
  p.ldc = c_out;
  p.flags = act | (accumulate ? GEMM_ACCUMULATE : 0);
  gemm (DEV (be), w.f16 ? CLIPSCOPE_VK_CONV_F16 : CLIPSCOPE_VK_CONV, x, w, b, y, &p);
}

static void
vk_im2col (ClipscopeGraphBackend *be,
           ClipscopeView          x,
           const ClipscopeMap    *map,
           int                    kernel,
           int                    stride,
           int                    pad,
           ClipscopeView          y)
{
  const ClipscopeVkBuffer *bufs[] = { x.buf, y.buf, NULL, NULL };
  ClipscopeVkGemmPush p;

  conv_push (map, kernel, stride, pad, &p);
  p.ldc = p.k;
  p.a_off = x.off;
  p.c_off = y.off;
  /* One invocation per kernel row: c · k of them per output pixel. */
  clipscope_vk_dispatch (DEV (be), CLIPSCOPE_VK_IM2COL, bufs, &p, sizeof p,
                         groups_for (DEV (be), CLIPSCOPE_VK_IM2COL, (guint64) p.m * (p.k / kernel)), 1);
}

static void
vk_layer_norm (ClipscopeGraphBackend *be,
               ClipscopeView          x,
               int                    ldx,
               int                    rows,
               int                    dim,
               ClipscopeView          w,
               ClipscopeView          b,
               float                  eps,
               ClipscopeView          y,
               int                    ldy)
{
  const ClipscopeVkBuffer *bufs[] = { x.buf, y.buf, w.buf, b.buf };
  ClipscopeVkLayerNormPush p = {
    rows, dim, ldx, ldy, x.off, y.off, w.off, b.off, eps,
  };

  /* One workgroup per row. */
  clipscope_vk_dispatch (DEV (be), clipscope_vk_device_has_subgroup_reduce (DEV (be))
                                   ? CLIPSCOPE_VK_LAYER_NORM_SUBGROUP : CLIPSCOPE_VK_LAYER_NORM,
                         bufs, &p, sizeof p, rows, 1);
}

/* The index, where given, is read from the start of its buffer, and the
 * lengths, where both are given, from the same buffer. */
static void
vk_attention (ClipscopeGraphBackend    *be,
              const ClipscopeAttention *a)
{
  ClipscopeVkDevice *d = DEV (be);
  const ClipscopeVkBuffer *bufs[] = {
    a->q.buf, a->k.buf, a->out.buf, a->index.buf != NULL ? a->index.buf : a->lengths.buf,
  };
  const int hd = a->width / a->n_heads;
  ClipscopeVkKernel kernel = CLIPSCOPE_VK_ATTENTION;
  uint32_t qt, unused;
  ClipscopeVkAttentionPush p = {
    .batch = a->batch, .seq = a->seq, .n_q = a->n_q, .n_heads = a->n_heads, .head_dim = hd,
    .ldq = a->ldq, .ldkv = a->ldkv, .ldo = a->ldout,
    .q_off = a->q.off, .k_off = a->k.off, .v_off = a->v.off, .o_off = a->out.off,
    .q_bstride = a->q_bstride,
    .flags = (a->causal ? 1u : 0u) | (a->index.buf != NULL ? 2u : 0u)
             | (a->lengths.buf != NULL ? 4u : 0u),
    .scale = 1.0f / sqrtf ((float) hd),
    .len_off = a->lengths.off,
  };

  /* k and v are two column slices of one buffer (binding 1). */
  g_assert (a->k.buf == a->v.buf && hd <= CLIPSCOPE_VK_MAX_HEAD_DIM);
  g_assert (a->index.buf == NULL || a->lengths.buf == NULL || a->index.buf == a->lengths.buf);
  if (clipscope_vk_device_has_texel (d) && hd % 4 == 0 && a->ldq % 4 == 0 && a->ldkv % 4 == 0
      && a->q.off % 4 == 0 && a->k.off % 4 == 0 && a->v.off % 4 == 0
      && BUF (a->q)->view != VK_NULL_HANDLE && !BUF (a->q)->half_view
      && BUF (a->k)->view != VK_NULL_HANDLE && !BUF (a->k)->half_view)
    kernel = CLIPSCOPE_VK_ATTENTION_TEXEL;
  /* One pipeline per head dimension and queries an invocation, which
   * attention.comp unrolls. The device says how many queries; more than
   * 256 dimensions in all (128 for the scalar variant, whose unrolled
   * code is four times as long) would no longer fit in registers, and
   * take LLVM long to compile. */
  clipscope_vk_kernel_tile (d, kernel, &qt, &unused);
  qt = MIN (qt, (uint32_t) MAX ((kernel == CLIPSCOPE_VK_ATTENTION_TEXEL ? 256 : 128) / hd, 1));
  clipscope_vk_dispatch_variant (d, kernel, hd | (qt << 8), bufs, &p, sizeof p,
                                 groups_for (d, kernel, (guint64) a->batch * a->n_heads
                                                        * ((a->n_q + qt - 1) / qt)), 1);
}

/* The kernels below take their first buffers whole (offset 0). */
static void
vk_embed_tokens (ClipscopeGraphBackend *be,
                 ClipscopeView          x,
                 ClipscopeView          tok,
                 ClipscopeView          pos,
                 ClipscopeView          ids,
                 int                    batch,
                 int                    seq,
                 int                    ctx,
                 int                    width)
{
  const ClipscopeVkBuffer *bufs[] = { x.buf, tok.buf, pos.buf, ids.buf };
  const uint32_t p[] = { batch, seq, ctx, width, tok.off, pos.off, ids.off };
  ClipscopeVkKernel k = tok.f16 ? CLIPSCOPE_VK_EMBED_TOKENS_F16 : CLIPSCOPE_VK_EMBED_TOKENS;

  clipscope_vk_dispatch (DEV (be), k, bufs, p, sizeof p,
                         groups_for (DEV (be), k, (guint64) batch * seq * width), 1);
}

static void
vk_assemble_tokens (ClipscopeGraphBackend *be,
                    ClipscopeView          x,
                    ClipscopeView          src,
                    ClipscopeView          cls,
                    ClipscopeView          pos,
                    int                    batch,
                    int                    seq,
                    int                    width,
                    ClipscopeFirstToken    first)
{
  const ClipscopeVkBuffer *bufs[] = { x.buf, src.buf, cls.buf, pos.buf };
  const uint32_t p[] = { batch, seq, width, first, cls.off, pos.off };

  clipscope_vk_dispatch (DEV (be), CLIPSCOPE_VK_ASSEMBLE_TOKENS, bufs, p, sizeof p,
                         groups_for (DEV (be), CLIPSCOPE_VK_ASSEMBLE_TOKENS,
                                     (guint64) batch * seq * width), 1);
}

static void
vk_gather_rows (ClipscopeGraphBackend *be,
                ClipscopeView          src,
                ClipscopeView          dst,
                ClipscopeView          index,
                int                    batch,
                int                    seq,
                int                    width)
{
  const ClipscopeVkBuffer *bufs[] = { src.buf, dst.buf, index.buf, NULL };
  const uint32_t p[] = { batch, seq, width, index.buf != NULL ? 1 : 0 };

  clipscope_vk_dispatch (DEV (be), CLIPSCOPE_VK_GATHER_ROWS, bufs, p, sizeof p,
                         groups_for (DEV (be), CLIPSCOPE_VK_GATHER_ROWS, (guint64) batch * width), 1);
}

static void
vk_avg_pool (ClipscopeGraphBackend *be,
             ClipscopeView          src,
             ClipscopeView          dst,
             int                    n,
             int                    h,
             int                    w,
             int                    c,
             int                    f)
{
  const ClipscopeVkBuffer *bufs[] = { src.buf, dst.buf, NULL, NULL };
  const uint32_t p[] = { n, h, w, c, f };

  clipscope_vk_dispatch (DEV (be), CLIPSCOPE_VK_AVG_POOL, bufs, p, sizeof p,
                         groups_for (DEV (be), CLIPSCOPE_VK_AVG_POOL,
                                     (guint64) n * (h / f) * (w / f) * c), 1);
}

static void
vk_l2_norm (ClipscopeGraphBackend *be,
            ClipscopeView          x,
            int                    rows,
            int                    dim)
{
  const ClipscopeVkBuffer *bufs[] = { x.buf, NULL, NULL, NULL };
  const uint32_t p[] = { rows, dim, 0 };

  clipscope_vk_dispatch (DEV (be), clipscope_vk_device_has_subgroup_reduce (DEV (be))
                                   ? CLIPSCOPE_VK_L2_NORM_SUBGROUP : CLIPSCOPE_VK_L2_NORM,
                         bufs, p, sizeof p, rows, 1);
}

static const ClipscopeGraphOps vk_ops = {
  .begin = vk_begin,
  .slot = vk_slot,
  .upload = vk_upload,
  .download = vk_download,
  .submit = vk_submit,
  .linear = vk_linear,
  .conv = vk_conv,
  .im2col = vk_im2col,
  .layer_norm = vk_layer_norm,
  .attention = vk_attention,
  .embed_tokens = vk_embed_tokens,
  .assemble_tokens = vk_assemble_tokens,
  .gather_rows = vk_gather_rows,
  .avg_pool = vk_avg_pool,
  .l2_norm = vk_l2_norm,
};

/* ------------------------------------------------------- life cycle */

/* Heads wider than attention.comp's registers cannot run here. */
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
allocate_slots (VkBackend *vb,
                int        max_batch,
                GError   **error)
{
  VkDeviceSize range = clipscope_vk_device_max_range (vb->device);
  int chunk = max_batch;

  for (int s = 0; s < CLIPSCOPE_N_SLOTS; s++)
    if (vb->per_item[s] > 0)
      chunk = MIN (chunk, (int) MIN (range / vb->per_item[s], G_MAXINT));
  if (chunk < 1)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT,
                   "Vulkan: one input needs more than the %" G_GUINT64_FORMAT
                   " bytes a buffer binding may cover", (guint64) range);
      return FALSE;
    }
  vb->parent.chunk = chunk;
  for (int s = 0; s < CLIPSCOPE_FIRST_SPATIAL_SLOT; s++)
    if (vb->per_item[s] > 0
        && !clipscope_vk_buffer_init (vb->device, &vb->slots[s], vb->per_item[s] * chunk, error))
      return FALSE;
  return TRUE;
}

ClipscopeGraphBackend *
clipscope_vk_backend_new (ClipscopeModel *model,
                          int             max_batch,
                          gboolean        allow_cpu_device,
                          GError        **error)
{
  VkBackend *vb;

  if (model != NULL && !check_supported (model, error))
    return NULL;
  vb = g_new0 (VkBackend, 1);
  vb->parent.ops = &vk_ops;
  vb->parent.model = model != NULL ? clipscope_model_ref (model) : NULL;
  vb->parent.weights = &vb->weights.graph;
  vb->parent.chunk = max_batch;
  if (g_getenv ("CLIPSCOPE_VULKAN_LOSE_DEVICE") != NULL)
    vb->lose_device_at = (int) g_ascii_strtoll (g_getenv ("CLIPSCOPE_VULKAN_LOSE_DEVICE"), NULL, 10);
  if (model != NULL)
    clipscope_graph_slot_sizes (model, vb->per_item);
  if ((vb->device = clipscope_vk_device_new (allow_cpu_device, error)) == NULL
      || (model != NULL && (!allocate_slots (vb, max_batch, error)
                            || !clipscope_vk_weights_upload (vb->device, model, &vb->weights, error))))
    {
      clipscope_vk_backend_free (&vb->parent);
      return NULL;
    }
  return &vb->parent;
}

void
clipscope_vk_backend_free (ClipscopeGraphBackend *be)
{
  VkBackend *vb = VK (be);

  if (be == NULL)
    return;
  if (vb->device != NULL)
    {
      clipscope_vk_weights_clear (vb->device, &vb->weights);
      for (int s = 0; s < CLIPSCOPE_N_SLOTS; s++)
        clipscope_vk_buffer_clear (vb->device, &vb->slots[s]);
      clipscope_vk_device_free (vb->device);
    }
  g_clear_pointer (&be->model, clipscope_model_unref);
  g_free (vb);
}

const char *
clipscope_vk_backend_get_device_name (ClipscopeGraphBackend *be)
{
  return clipscope_vk_device_get_name (DEV (be));
}

ClipscopeVkDevice *
clipscope_vk_backend_get_device (ClipscopeGraphBackend *be)
{
  return DEV (be);
}
