/* vulkan-backend.c — the graph operations recorded as Vulkan dispatches
 *
 * Each operation of graph.h records one kernel of shaders/ (vulkan-ops.c)
 * into the device's command buffer; submit() runs them all. The weights
 * are uploaded once, q, k and v stacked into one matrix; a batch is split
 * into chunks so that no activation buffer exceeds what one binding may
 * cover.
 */
#include "vulkan-backend.h"
#include "vulkan-weights.h"

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

static ClipscopeVkTensor
vt (ClipscopeView t)
{
  ClipscopeVkTensor v = { t.buf, (uint32_t) t.off, t.f16 };
  return v;
}

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

static void
vk_linear (ClipscopeGraphBackend *be,
           ClipscopeView        x,
           int                    ldx,
           int                    rows,
           int                    n_in,
           ClipscopeView        w,
           ClipscopeView        b,
           int                    n_out,
           ClipscopeView        y,
           int                    ldy,
           ClipscopeAct           act,
           gboolean               accumulate)
{
  clipscope_vk_op_linear (DEV (be), vt (x), ldx, rows, n_in, vt (w), vt (b), n_out, vt (y), ldy,
                          (ClipscopeVkAct) act, accumulate);
}

static void
vk_conv (ClipscopeGraphBackend *be,
         ClipscopeView        x,
         const ClipscopeMap    *map,
         ClipscopeView        w,
         ClipscopeView        b,
         int                    c_out,
         int                    kernel,
         int                    stride,
         int                    pad,
         ClipscopeView        y,
         ClipscopeAct           act,
         gboolean               accumulate)
{
  clipscope_vk_op_conv (DEV (be), vt (x), map, vt (w), vt (b), c_out, kernel, stride, pad, vt (y),
                        (ClipscopeVkAct) act, accumulate);
}

static void
vk_im2col (ClipscopeGraphBackend *be,
           ClipscopeView        x,
           const ClipscopeMap    *map,
           int                    kernel,
           int                    stride,
           int                    pad,
           ClipscopeView        y)
{
  clipscope_vk_op_im2col (DEV (be), vt (x), map, kernel, stride, pad, vt (y));
}

static void
vk_layer_norm (ClipscopeGraphBackend *be,
               ClipscopeView        x,
               int                    ldx,
               int                    rows,
               int                    dim,
               ClipscopeView        w,
               ClipscopeView        b,
               float                  eps,
               ClipscopeView        y,
               int                    ldy)
{
  clipscope_vk_op_layer_norm (DEV (be), vt (x), ldx, rows, dim, vt (w), vt (b), eps, vt (y), ldy);
}

static void
vk_attention (ClipscopeGraphBackend    *be,
              const ClipscopeAttention *a)
{
  /* The kernel reads the index from the start of its buffer. */
  g_assert (a->index.off == 0);
  clipscope_vk_op_attention (DEV (be), vt (a->q), a->ldq, vt (a->k), vt (a->v), a->ldkv, a->batch,
                             a->seq, a->n_q, a->q_bstride, a->width, a->n_heads, a->causal,
                             BUF (a->index), vt (a->out), a->ldout);
}

static void
vk_embed_tokens (ClipscopeGraphBackend *be,
                 ClipscopeView        x,
                 ClipscopeView        tok,
                 ClipscopeView        pos,
                 ClipscopeView        ids,
                 int                    batch,
                 int                    seq,
                 int                    ctx,
                 int                    width)
{
  g_assert (x.off == 0);
  clipscope_vk_op_embed_tokens (DEV (be), BUF (x), vt (tok), vt (pos), vt (ids), batch, seq, ctx,
                                width);
}

static void
vk_assemble_tokens (ClipscopeGraphBackend *be,
                    ClipscopeView        x,
                    ClipscopeView        src,
                    ClipscopeView        cls,
                    ClipscopeView        pos,
                    int                    batch,
                    int                    seq,
                    int                    width,
                    gboolean               mean)
{
  g_assert (x.off == 0 && src.off == 0);
  clipscope_vk_op_assemble_tokens (DEV (be), BUF (x), BUF (src), vt (cls), vt (pos), batch, seq,
                                   width, mean);
}

static void
vk_gather_rows (ClipscopeGraphBackend *be,
                ClipscopeView        src,
                ClipscopeView        dst,
                ClipscopeView        index,
                int                    batch,
                int                    seq,
                int                    width)
{
  g_assert (src.off == 0 && dst.off == 0 && index.off == 0);
  clipscope_vk_op_gather_rows (DEV (be), BUF (src), BUF (dst), BUF (index), batch, seq, width);
}

static void
vk_avg_pool (ClipscopeGraphBackend *be,
             ClipscopeView        src,
             ClipscopeView        dst,
             int                    n,
             int                    h,
             int                    w,
             int                    c,
             int                    f)
{
  g_assert (src.off == 0 && dst.off == 0);
  clipscope_vk_op_avg_pool (DEV (be), BUF (src), BUF (dst), n, h, w, c, f);
}

static void
vk_l2_norm (ClipscopeGraphBackend *be,
            ClipscopeView        x,
            int                    rows,
            int                    dim)
{
  g_assert (x.off == 0);
  clipscope_vk_op_l2_norm (DEV (be), BUF (x), rows, dim);
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

  if (!check_supported (model, error))
    return NULL;
  vb = g_new0 (VkBackend, 1);
  vb->parent.ops = &vk_ops;
  vb->parent.model = clipscope_model_ref (model);
  vb->parent.weights = &vb->weights.graph;
  if (g_getenv ("CLIPSCOPE_VULKAN_LOSE_DEVICE") != NULL)
    vb->lose_device_at = (int) g_ascii_strtoll (g_getenv ("CLIPSCOPE_VULKAN_LOSE_DEVICE"), NULL, 10);
  clipscope_graph_slot_sizes (model, vb->per_item);
  if ((vb->device = clipscope_vk_device_new (allow_cpu_device, error)) == NULL
      || !allocate_slots (vb, max_batch, error)
      || !clipscope_vk_weights_upload (vb->device, model, &vb->weights, error))
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
