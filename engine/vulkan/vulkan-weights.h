/* vulkan-weights.h — a model's weights in device memory
 *
 * Tensors are packed into a few large buffers ("arenas"), each no larger
 * than the device lets one binding cover. Matrices (linear and
 * convolution weights, the token embedding) go to arenas of the weight
 * storage type, float16 or float32; everything else (biases, norms,
 * positions) stays float32. The same shapes as model.h apply; q, k and
 * v are stacked.
 */
#pragma once

#include "graph.h"
#include "vulkan-ops.h"

G_BEGIN_DECLS

#define CLIPSCOPE_VK_MAX_ARENAS 64

typedef struct {
  ClipscopeWeights  graph;                /* the tensors, in the arenas */

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
