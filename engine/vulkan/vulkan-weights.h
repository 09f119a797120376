/* vulkan-weights.h — a model's weights in device memory
 *
 * Tensors are packed into a few large buffers ("arenas"), each no larger
 * than the device lets one binding cover. Matrices (linear and
 * convolution weights, the token embedding) go to arenas of the weight
 * storage type, float16 or float32; everything else (biases, norms,
 * positions) stays float32. The same shapes as model.h apply.
 */
#pragma once

#include "model.h"
#include "vulkan-ops.h"

G_BEGIN_DECLS

#define CLIPSCOPE_VK_MAX_ARENAS 64

typedef struct {
  ClipscopeVkTensor ln_1_w, ln_1_b;
  ClipscopeVkTensor qkv_w, qkv_b;        /* q, k and v stacked: (3 · width, width) */
  ClipscopeVkTensor out_w, out_b;
  ClipscopeVkTensor ln_2_w, ln_2_b;
  ClipscopeVkTensor fc1_w, fc1_b;
  ClipscopeVkTensor fc2_w, fc2_b;
} ClipscopeVkBlock;

typedef struct {
  ClipscopeVkTensor w, b;
} ClipscopeVkConv;

typedef struct {
  ClipscopeVkConv conv1, conv2, conv3, downsample;
} ClipscopeVkBottleneck;

typedef struct {
  /* Borrowed from the model */
  const ClipscopeModel *model;

  ClipscopeVkBlock *vision_blocks;        /* ViT (n_layers) */
  ClipscopeVkBlock *text_blocks;          /* (n_layers) */
  ClipscopeVkTensor patch_w, class_emb, vit_pos, ln_pre_w, ln_pre_b, ln_post_w, ln_post_b, vit_proj;
  ClipscopeVkConv   stem[3];
  ClipscopeVkBottleneck *bottlenecks;     /* (n_blocks) */
  ClipscopeVkTensor pool_pos, pool_q_w, pool_q_b, pool_kv_w, pool_kv_b, pool_c_w, pool_c_b;
  ClipscopeVkTensor token_emb, text_pos, ln_final_w, ln_final_b, text_proj;

  /* Owned: [0] float32 arenas, [1] arenas of matrices */
  ClipscopeVkBuffer arenas[2][CLIPSCOPE_VK_MAX_ARENAS];
  int               n_arenas[2];
} ClipscopeVkWeights;

gboolean clipscope_vk_weights_upload (ClipscopeVkDevice        *d,
                                      const ClipscopeModel     *model,
                                      ClipscopeVkWeights       *w,
                                      GError                  **error);
void clipscope_vk_weights_clear (ClipscopeVkDevice  *d,
                                 ClipscopeVkWeights *w);

/* float32 → float16, rounding to nearest even (vulkan-weights.c). */
uint16_t clipscope_vk_half_from_float (float f);

G_END_DECLS
