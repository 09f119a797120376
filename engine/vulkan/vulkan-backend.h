/* vulkan-backend.h — the encoders on a Vulkan device
 *
 * A backend uploads a model's weights once (as float16 where the device
 * reads 16-bit storage, unless CLIPSCOPE_VULKAN_DISABLE_F16=1) and
 * records each batch's forward pass into one command buffer.
 */
#pragma once

#include "model.h"

G_BEGIN_DECLS

typedef struct _ClipscopeVkBackend ClipscopeVkBackend;

/* Without @allow_cpu_device, a CPU implementation of Vulkan is passed
 * over (see clipscope_vk_device_new()). */
ClipscopeVkBackend *clipscope_vk_backend_new (ClipscopeModel *model,
                                              int             max_batch,
                                              gboolean        allow_cpu_device,
                                              GError        **error);
void clipscope_vk_backend_free (ClipscopeVkBackend *be);

/* "llvmpipe (LLVM 15.0.6, 256 bits)" */
const char *clipscope_vk_backend_get_device_name (ClipscopeVkBackend *be);

/* Both write L2-normalised embeddings [n, embed_dim]. */
gboolean clipscope_vk_backend_encode_pixels (ClipscopeVkBackend *be,
                                             const float        *pixels,
                                             int                 n,
                                             float              *out,
                                             GCancellable       *cancellable,
                                             GError            **error);

/* out[1 + grid², embed_dim]: one image's L2-normalised embedding, then
 * its spatial embeddings (see clipscope_context_explain_pixels()). */
gboolean clipscope_vk_backend_explain_pixels (ClipscopeVkBackend *be,
                                              const float        *pixels,
                                              float              *out,
                                              GCancellable       *cancellable,
                                              GError            **error);

gboolean clipscope_vk_backend_encode_tokens (ClipscopeVkBackend *be,
                                             const int32_t      *tokens,
                                             int                 n,
                                             float              *out,
                                             GCancellable       *cancellable,
                                             GError            **error);

G_END_DECLS
