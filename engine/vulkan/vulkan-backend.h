/* vulkan-backend.h — the graph operations on a Vulkan device
 *
 * A backend uploads a model's weights once (as float16 where the device
 * reads 16-bit storage, unless CLIPSCOPE_VULKAN_DISABLE_F16=1) and
 * records each pass of a tower (graph.h) into one command buffer.
 */
#pragma once

#include "graph.h"

G_BEGIN_DECLS

/* Without @allow_cpu_device, a CPU implementation of Vulkan is passed
 * over (see clipscope_vk_device_new()). Without @model, the backend has
 * a device but no slots or weights: for running single operations. */
ClipscopeGraphBackend *clipscope_vk_backend_new (ClipscopeModel *model,
                                                 int             max_batch,
                                                 gboolean        allow_cpu_device,
                                                 GError        **error);
void clipscope_vk_backend_free (ClipscopeGraphBackend *be);

/* "llvmpipe (LLVM 15.0.6, 256 bits)" */
const char *clipscope_vk_backend_get_device_name (ClipscopeGraphBackend *be);

G_END_DECLS
