/* vulkan-ops.h — one recording function per kernel
 *
 * Each function records one dispatch with clipscope_vk_dispatch(); the
 * arguments mirror the CPU ops in cpu/cpu-ops.h. Tensors are a buffer
 * plus an offset counted in elements; activations are float32 and
 * row-major; weights are float32 or, where the tensor says so, float16.
 * Feature maps of the ResNet are channel-last: [batch, height, width, c].
 */
#pragma once

#include "graph.h"
#include "vulkan-device.h"

G_BEGIN_DECLS

typedef struct {
  const ClipscopeVkBuffer *buf;     /* NULL: absent (an optional bias) */
  uint32_t                 off;     /* elements */
  gboolean                 f16;     /* stored as float16 */
} ClipscopeVkTensor;

static inline ClipscopeVkTensor
clipscope_vk_tensor (const ClipscopeVkBuffer *buf,
                     gsize                    off)
{
  ClipscopeVkTensor t = { buf, (uint32_t) off, FALSE };
  return t;
}

/* The push constants of the kernels in shaders/, field for field. */
typedef struct {
  uint32_t m, n, k;
  uint32_t lda, ldw, ldc;
  uint32_t a_off, w_off, b_off, c_off;
  uint32_t flags;
  uint32_t in_h, in_w, out_h, out_w;
  uint32_t ksize, stride, pad;
  uint32_t s_b, s_c, s_y, s_x;
} ClipscopeVkGemmPush;

typedef struct {
  uint32_t rows, dim, ldx, ldy;
  uint32_t x_off, y_off, w_off, b_off;
  float    eps;
} ClipscopeVkLayerNormPush;

typedef struct {
  uint32_t batch, seq, n_q, n_heads, head_dim;
  uint32_t ldq, ldkv, ldo;
  uint32_t q_off, k_off, v_off, o_off;
  uint32_t q_bstride, flags;
  float    scale;
} ClipscopeVkAttentionPush;

G_STATIC_ASSERT (sizeof (ClipscopeVkGemmPush) <= 128);
G_STATIC_ASSERT (sizeof (ClipscopeVkLayerNormPush) <= 128);
G_STATIC_ASSERT (sizeof (ClipscopeVkAttentionPush) <= 128);

typedef enum {
  CLIPSCOPE_VK_ACT_NONE,
  CLIPSCOPE_VK_ACT_QUICK_GELU,
  CLIPSCOPE_VK_ACT_GELU,
  CLIPSCOPE_VK_ACT_RELU,
} ClipscopeVkAct;

G_STATIC_ASSERT ((int) CLIPSCOPE_VK_ACT_QUICK_GELU == (int) CLIPSCOPE_ACT_QUICK_GELU);
G_STATIC_ASSERT ((int) CLIPSCOPE_VK_ACT_GELU == (int) CLIPSCOPE_ACT_GELU);
G_STATIC_ASSERT ((int) CLIPSCOPE_VK_ACT_RELU == (int) CLIPSCOPE_ACT_RELU);

/* The largest head dimension attention.comp handles (at most 255). */
#define CLIPSCOPE_VK_MAX_HEAD_DIM 128

/* y[rows, n_out] = act(x[rows, n_in] · w[n_out, n_in]ᵀ + b (+ y)). */
void clipscope_vk_op_linear (ClipscopeVkDevice *d,
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
                             gboolean           accumulate);

/* The input of a convolution (see graph.h). */
typedef ClipscopeMap ClipscopeVkMap;

/* y[n, ho, wo, c_out] = act(conv(x, w) + b (+ y)) with w [c_out, c · k · k]. */
void clipscope_vk_op_conv (ClipscopeVkDevice   *d,
                           ClipscopeVkTensor    x,
                           const ClipscopeVkMap *map,
                           ClipscopeVkTensor    w,
                           ClipscopeVkTensor    b,
                           int                  c_out,
                           int                  kernel,
                           int                  stride,
                           int                  pad,
                           ClipscopeVkTensor    y,
                           ClipscopeVkAct       act,
                           gboolean             accumulate);

/* y[n · ho · wo, c · k · k] = the im2col matrix of x (offset @y.off,
 * rows of c · k · k): the input of a convolution as a linear layer. */
void clipscope_vk_op_im2col (ClipscopeVkDevice    *d,
                             ClipscopeVkTensor     x,
                             const ClipscopeVkMap *map,
                             int                   kernel,
                             int                   stride,
                             int                   pad,
                             ClipscopeVkTensor     y);

void clipscope_vk_op_layer_norm (ClipscopeVkDevice *d,
                                 ClipscopeVkTensor  x,
                                 int                ldx,
                                 int                rows,
                                 int                dim,
                                 ClipscopeVkTensor  w,
                                 ClipscopeVkTensor  b,
                                 float              eps,
                                 ClipscopeVkTensor  y,
                                 int                ldy);

/* As clipscope_cpu_attention(): q, k, v with row strides @ldq and @ldkv;
 * @n_q queries per sequence starting at row b · q_bstride (+ index[b]
 * when @index is given) of q; output rows b · n_q + i. */
void clipscope_vk_op_attention (ClipscopeVkDevice *d,
                                ClipscopeVkTensor  q,
                                int                ldq,
                                ClipscopeVkTensor  k,
                                ClipscopeVkTensor  v,
                                int                ldkv,
                                int                batch,
                                int                seq,
                                int                n_q,
                                int                q_bstride,
                                int                width,
                                int                n_heads,
                                gboolean           causal,
                                const ClipscopeVkBuffer *index,
                                ClipscopeVkTensor  out,
                                int                ldout);

/* x[batch · seq, width] = tok[ids[b · ctx + t]] + pos[t]; x at offset 0. */
void clipscope_vk_op_embed_tokens (ClipscopeVkDevice *d,
                                   const ClipscopeVkBuffer *x,
                                   ClipscopeVkTensor  tok,
                                   ClipscopeVkTensor  pos,
                                   ClipscopeVkTensor  ids,
                                   int                batch,
                                   int                seq,
                                   int                ctx,
                                   int                width);

/* x[batch, seq, width]: (@cls, or the mean of src with @mean) then src
 * [batch, seq − 1, width], plus pos; x and src at offset 0. */
void clipscope_vk_op_assemble_tokens (ClipscopeVkDevice       *d,
                                      const ClipscopeVkBuffer *x,
                                      const ClipscopeVkBuffer *src,
                                      ClipscopeVkTensor        cls,
                                      ClipscopeVkTensor        pos,
                                      int                      batch,
                                      int                      seq,
                                      int                      width,
                                      gboolean                 mean);

/* dst[b] = src[b · seq + (index ? index[b] : 0)]; both at offset 0. */
void clipscope_vk_op_gather_rows (ClipscopeVkDevice       *d,
                                  const ClipscopeVkBuffer *src,
                                  const ClipscopeVkBuffer *dst,
                                  const ClipscopeVkBuffer *index,
                                  int                      batch,
                                  int                      seq,
                                  int                      width);

/* dst[n, h / f, w / f, c] = AvgPool2d(f) of src[n, h, w, c]; offsets 0. */
void clipscope_vk_op_avg_pool (ClipscopeVkDevice       *d,
                               const ClipscopeVkBuffer *src,
                               const ClipscopeVkBuffer *dst,
                               int                      n,
                               int                      h,
                               int                      w,
                               int                      c,
                               int                      f);

/* Rows of x[rows, dim] (offset 0) divided by their L2 norms, in place. */
void clipscope_vk_op_l2_norm (ClipscopeVkDevice       *d,
                              const ClipscopeVkBuffer *x,
                              int                      rows,
                              int                      dim);

G_END_DECLS
