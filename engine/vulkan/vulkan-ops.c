/* vulkan-ops.c — recording the kernels of shaders/ with their shapes */
#include "vulkan-ops.h"

#include <math.h>

/* Must match the FLAG_* of gemm.comp. */
#define GEMM_BIAS 4u
#define GEMM_ACCUMULATE 8u
#define GEMM_VEC4 16u

static uint32_t
groups_for (ClipscopeVkDevice *d,
            ClipscopeVkKernel  k,
            guint64            invocations)
{
  uint32_t local = clipscope_vk_kernel_local_size (d, k);

  return (uint32_t) MIN ((invocations + local - 1) / local, G_MAXUINT32);
}

static void
gemm (ClipscopeVkDevice         *d,
      ClipscopeVkKernel          k,
      ClipscopeVkTensor          a,
      ClipscopeVkTensor          w,
      ClipscopeVkTensor          b,
      ClipscopeVkTensor          c,
      ClipscopeVkGemmPush       *p)
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

void
clipscope_vk_op_linear (ClipscopeVkDevice *d,
                        ClipscopeVkTensor  x,
                        int                ldx,
                        int                rows,
                        int                n_in,
                        ClipscopeVkTensor  w,
                        ClipscopeVkTensor  b,
                        int                n_out,
                        ClipscopeVkTensor  y,
                        int                ldy,
                        ClipscopeVkAct     act,
                        gboolean           accumulate)
{
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
      && x.buf->view != VK_NULL_HANDLE && !x.buf->half_view
      && w.buf->view != VK_NULL_HANDLE && w.buf->half_view == w.f16
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
conv_push (const ClipscopeVkMap *map,
           int                   kernel,
           int                   stride,
           int                   pad,
           ClipscopeVkGemmPush  *p)
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

void
clipscope_vk_op_conv (ClipscopeVkDevice    *d,
                      ClipscopeVkTensor     x,
                      const ClipscopeVkMap *map,
                      ClipscopeVkTensor     w,
                      ClipscopeVkTensor     b,
                      int                   c_out,
                      int                   kernel,
                      int                   stride,
                      int                   pad,
                      ClipscopeVkTensor     y,
                      ClipscopeVkAct        act,
                      gboolean              accumulate)
{
  ClipscopeVkGemmPush p;

  conv_push (map, kernel, stride, pad, &p);
  p.n = c_out;
  p.ldw = p.k;
  p.ldc = c_out;
  p.flags = act | (accumulate ? GEMM_ACCUMULATE : 0);
  gemm (d, w.f16 ? CLIPSCOPE_VK_CONV_F16 : CLIPSCOPE_VK_CONV, x, w, b, y, &p);
}

void
clipscope_vk_op_im2col (ClipscopeVkDevice    *d,
                        ClipscopeVkTensor     x,
                        const ClipscopeVkMap *map,
                        int                   kernel,
                        int                   stride,
                        int                   pad,
                        ClipscopeVkTensor     y)
{
  const ClipscopeVkBuffer *bufs[] = { x.buf, y.buf, NULL, NULL };
  ClipscopeVkGemmPush p;

  conv_push (map, kernel, stride, pad, &p);
  p.ldc = p.k;
  p.a_off = x.off;
  p.c_off = y.off;
  /* One invocation per kernel row: c · k of them per output pixel. */
  clipscope_vk_dispatch (d, CLIPSCOPE_VK_IM2COL, bufs, &p, sizeof p,
                         groups_for (d, CLIPSCOPE_VK_IM2COL, (guint64) p.m * (p.k / kernel)), 1);
}

void
clipscope_vk_op_layer_norm (ClipscopeVkDevice *d,
                            ClipscopeVkTensor  x,
                            int                ldx,
                            int                rows,
                            int                dim,
                            ClipscopeVkTensor  w,
                            ClipscopeVkTensor  b,
                            float              eps,
                            ClipscopeVkTensor  y,
                            int                ldy)
{
  const ClipscopeVkBuffer *bufs[] = { x.buf, y.buf, w.buf, b.buf };
  ClipscopeVkLayerNormPush p = {
    rows, dim, ldx, ldy, x.off, y.off, w.off, b.off, eps,
  };

  /* One workgroup per row. */
  clipscope_vk_dispatch (d, clipscope_vk_device_has_subgroup_reduce (d) ? CLIPSCOPE_VK_LAYER_NORM_SUBGROUP
                                                                        : CLIPSCOPE_VK_LAYER_NORM,
                         bufs, &p, sizeof p, rows, 1);
}

void
clipscope_vk_op_attention (ClipscopeVkDevice       *d,
                           ClipscopeVkTensor        q,
                           int                      ldq,
                           ClipscopeVkTensor        k,
                           ClipscopeVkTensor        v,
                           int                      ldkv,
                           int                      batch,
                           int                      seq,
                           int                      n_q,
                           int                      q_bstride,
                           int                      width,
                           int                      n_heads,
                           gboolean                 causal,
                           const ClipscopeVkBuffer *index,
                           ClipscopeVkTensor        out,
                           int                      ldout)
{
  const ClipscopeVkBuffer *bufs[] = { q.buf, k.buf, out.buf, index };
  const int hd = width / n_heads;
  ClipscopeVkKernel kernel = CLIPSCOPE_VK_ATTENTION;
  uint32_t qt, unused;
  ClipscopeVkAttentionPush p = {
    .batch = batch, .seq = seq, .n_q = n_q, .n_heads = n_heads, .head_dim = hd,
    .ldq = ldq, .ldkv = ldkv, .ldo = ldout,
    .q_off = q.off, .k_off = k.off, .v_off = v.off, .o_off = out.off,
    .q_bstride = q_bstride,
    .flags = (causal ? 1u : 0u) | (index != NULL ? 2u : 0u),
    .scale = 1.0f / sqrtf ((float) hd),
  };

  /* k and v are two column slices of one buffer (binding 1). */
  g_assert (k.buf == v.buf && hd <= CLIPSCOPE_VK_MAX_HEAD_DIM);
  if (clipscope_vk_device_has_texel (d) && hd % 4 == 0 && ldq % 4 == 0 && ldkv % 4 == 0
      && q.off % 4 == 0 && k.off % 4 == 0 && v.off % 4 == 0
      && q.buf->view != VK_NULL_HANDLE && !q.buf->half_view
      && k.buf->view != VK_NULL_HANDLE && !k.buf->half_view)
    kernel = CLIPSCOPE_VK_ATTENTION_TEXEL;
  /* One pipeline per head dimension and queries an invocation, which
   * attention.comp unrolls. The device says how many queries; more than
   * 256 dimensions in all (128 for the scalar variant, whose unrolled
   * code is four times as long) would no longer fit in registers, and
   * take LLVM long to compile. */
  clipscope_vk_kernel_tile (d, kernel, &qt, &unused);
  qt = MIN (qt, (uint32_t) MAX ((kernel == CLIPSCOPE_VK_ATTENTION_TEXEL ? 256 : 128) / hd, 1));
  clipscope_vk_dispatch_variant (d, kernel, hd | (qt << 8), bufs, &p, sizeof p,
                                 groups_for (d, kernel, (guint64) batch * n_heads * ((n_q + qt - 1) / qt)), 1);
}

void
clipscope_vk_op_embed_tokens (ClipscopeVkDevice       *d,
                              const ClipscopeVkBuffer *x,
                              ClipscopeVkTensor        tok,
                              ClipscopeVkTensor        pos,
                              ClipscopeVkTensor        ids,
                              int                      batch,
                              int                      seq,
                              int                      ctx,
                              int                      width)
{
  const ClipscopeVkBuffer *bufs[] = { x, tok.buf, pos.buf, ids.buf };
  const uint32_t p[] = { batch, seq, ctx, width, tok.off, pos.off, ids.off };
  ClipscopeVkKernel k = tok.f16 ? CLIPSCOPE_VK_EMBED_TOKENS_F16 : CLIPSCOPE_VK_EMBED_TOKENS;

  clipscope_vk_dispatch (d, k, bufs, p, sizeof p,
                         groups_for (d, k, (guint64) batch * seq * width), 1);
}

void
clipscope_vk_op_assemble_tokens (ClipscopeVkDevice       *d,
                                 const ClipscopeVkBuffer *x,
                                 const ClipscopeVkBuffer *src,
                                 ClipscopeVkTensor        cls,
                                 ClipscopeVkTensor        pos,
                                 int                      batch,
                                 int                      seq,
                                 int                      width,
                                 gboolean                 mean)
{
  const ClipscopeVkBuffer *bufs[] = { x, src, cls.buf, pos.buf };
  const uint32_t p[] = { batch, seq, width, mean ? 1 : 0, cls.off, pos.off };

  clipscope_vk_dispatch (d, CLIPSCOPE_VK_ASSEMBLE_TOKENS, bufs, p, sizeof p,
                         groups_for (d, CLIPSCOPE_VK_ASSEMBLE_TOKENS, (guint64) batch * seq * width), 1);
}

void
clipscope_vk_op_gather_rows (ClipscopeVkDevice       *d,
                             const ClipscopeVkBuffer *src,
                             const ClipscopeVkBuffer *dst,
                             const ClipscopeVkBuffer *index,
                             int                      batch,
                             int                      seq,
                             int                      width)
{
  const ClipscopeVkBuffer *bufs[] = { src, dst, index, NULL };
  const uint32_t p[] = { batch, seq, width, index != NULL ? 1 : 0 };

  clipscope_vk_dispatch (d, CLIPSCOPE_VK_GATHER_ROWS, bufs, p, sizeof p,
                         groups_for (d, CLIPSCOPE_VK_GATHER_ROWS, (guint64) batch * width), 1);
}

void
clipscope_vk_op_avg_pool (ClipscopeVkDevice       *d,
                          const ClipscopeVkBuffer *src,
                          const ClipscopeVkBuffer *dst,
                          int                      n,
                          int                      h,
                          int                      w,
                          int                      c,
                          int                      f)
{
  const ClipscopeVkBuffer *bufs[] = { src, dst, NULL, NULL };
  const uint32_t p[] = { n, h, w, c, f };

  clipscope_vk_dispatch (d, CLIPSCOPE_VK_AVG_POOL, bufs, p, sizeof p,
                         groups_for (d, CLIPSCOPE_VK_AVG_POOL, (guint64) n * (h / f) * (w / f) * c), 1);
}

void
clipscope_vk_op_l2_norm (ClipscopeVkDevice       *d,
                         const ClipscopeVkBuffer *x,
                         int                      rows,
                         int                      dim)
{
  const ClipscopeVkBuffer *bufs[] = { x, NULL, NULL, NULL };
  const uint32_t p[] = { rows, dim, 0 };

  clipscope_vk_dispatch (d, clipscope_vk_device_has_subgroup_reduce (d) ? CLIPSCOPE_VK_L2_NORM_SUBGROUP
                                                                        : CLIPSCOPE_VK_L2_NORM,
                         bufs, p, sizeof p, rows, 1);
}
