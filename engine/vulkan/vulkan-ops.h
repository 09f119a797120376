/* vulkan-ops.h — what the Vulkan backend's operations share with the
 * kernels of shaders/ and with the tests
 *
 * The operations themselves are the Vulkan backend's ClipscopeGraphOps
 * (vulkan-backend.c), each recording one dispatch. A view of a Vulkan
 * buffer is a ClipscopeVkBuffer plus an offset counted in elements;
 * activations are float32 and row-major; weights are float32 or, where
 * the view says so, float16.
 */
#pragma once

#include "graph.h"
#include "vulkan-device.h"

G_BEGIN_DECLS

static inline ClipscopeView
clipscope_vk_tensor (const ClipscopeVkBuffer *buf,
                     gsize                    off)
{
  ClipscopeView t = { buf, off, FALSE };
  return t;
}

/* The device a Vulkan backend records on. */
ClipscopeVkDevice *clipscope_vk_backend_get_device (ClipscopeGraphBackend *be);

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
  uint32_t len_off;
} ClipscopeVkAttentionPush;

G_STATIC_ASSERT (sizeof (ClipscopeVkGemmPush) <= 128);
G_STATIC_ASSERT (sizeof (ClipscopeVkLayerNormPush) <= 128);
G_STATIC_ASSERT (sizeof (ClipscopeVkAttentionPush) <= 128);

/* The activations of gemm.comp are ClipscopeAct's values (ACT_* in
 * types.glsl). */

/* The largest head dimension attention.comp handles (at most 255). */
#define CLIPSCOPE_VK_MAX_HEAD_DIM 128

G_END_DECLS
