/* vulkan-device.h — the Vulkan device and a small command API
 *
 * A ClipscopeVkDevice owns one instance, one logical device with one
 * compute queue, the compute pipelines (built once, through an on-disk
 * pipeline cache) and one command buffer. Work is recorded between
 * clipscope_vk_begin() and clipscope_vk_submit_wait(): uploads from host
 * memory, dispatches of a kernel with its buffers and push constants, and
 * downloads back to host memory. Recording never fails on its own; the
 * first error is kept and returned by clipscope_vk_submit_wait().
 *
 * One thread at a time may use a device.
 */
#pragma once

#include "clipscope-private.h"

#include <vulkan/vulkan.h>

G_BEGIN_DECLS

typedef enum {
  CLIPSCOPE_VK_GEMM,
  CLIPSCOPE_VK_GEMM_F16,
  CLIPSCOPE_VK_CONV,
  CLIPSCOPE_VK_CONV_F16,
  CLIPSCOPE_VK_LAYER_NORM,
  CLIPSCOPE_VK_L2_NORM,
  CLIPSCOPE_VK_ATTENTION,
  CLIPSCOPE_VK_EMBED_TOKENS,
  CLIPSCOPE_VK_EMBED_TOKENS_F16,
  CLIPSCOPE_VK_ASSEMBLE_TOKENS,
  CLIPSCOPE_VK_GATHER_ROWS,
  CLIPSCOPE_VK_AVG_POOL,
  CLIPSCOPE_VK_GEMM_TEXEL,
  CLIPSCOPE_VK_ATTENTION_TEXEL,
  CLIPSCOPE_VK_IM2COL,
  CLIPSCOPE_VK_LAYER_NORM_SUBGROUP,
  CLIPSCOPE_VK_L2_NORM_SUBGROUP,
  CLIPSCOPE_VK_GEMM_TILED,
  CLIPSCOPE_VK_GEMM_TILED_F16,
  CLIPSCOPE_VK_GEMM_TEXEL_F16,
  CLIPSCOPE_VK_N_KERNELS,
} ClipscopeVkKernel;

/* Every kernel binds at most this many storage buffers; bindings 4 and 5
 * are uniform texel buffers viewing the buffers of bindings 0 and 1. */
#define CLIPSCOPE_VK_MAX_BINDINGS 4

typedef struct {
  VkBuffer       buffer;
  VkDeviceMemory memory;
  VkDeviceSize   size;           /* bytes */
  VkBufferView   view;           /* vec4 texels, float32 or float16; or none */
  gboolean       half_view;      /* the view's texels are eight float16 values
                                  * as four 32-bit words */
} ClipscopeVkBuffer;

typedef struct _ClipscopeVkDevice ClipscopeVkDevice;

/* Creates the device CLIPSCOPE_VULKAN_DEVICE names, else the best ranked
 * usable one; without @allow_cpu, not a CPU implementation (lavapipe)
 * unless CLIPSCOPE_VULKAN_DEVICE names it. With CLIPSCOPE_VULKAN_VALIDATE=1 the Khronos validation
 * layer is enabled and each of its warnings or errors makes the next
 * clipscope_vk_submit_wait() fail. */
ClipscopeVkDevice *clipscope_vk_device_new (gboolean allow_cpu,
                                            GError **error);
void clipscope_vk_device_free (ClipscopeVkDevice *d);

const char *clipscope_vk_device_get_name (ClipscopeVkDevice *d);
/* Whether weights may be stored as float16 (storageBuffer16BitAccess and
 * CLIPSCOPE_VULKAN_DISABLE_F16 unset). */
gboolean clipscope_vk_device_has_f16 (ClipscopeVkDevice *d);
/* The largest buffer one binding may cover, in bytes. */
VkDeviceSize clipscope_vk_device_max_range (ClipscopeVkDevice *d);
/* Messages the validation layer has reported so far, process-wide. */
int clipscope_vk_device_validation_messages (ClipscopeVkDevice *d);

/* A device-local storage buffer of @size bytes (at least 4). */
gboolean clipscope_vk_buffer_init (ClipscopeVkDevice *d,
                                   ClipscopeVkBuffer *buf,
                                   VkDeviceSize       size,
                                   GError           **error);
/* The same, with a texel view of float16 rather than float32 vec4s. */
gboolean clipscope_vk_buffer_init_half (ClipscopeVkDevice *d,
                                        ClipscopeVkBuffer *buf,
                                        VkDeviceSize       size,
                                        GError           **error);
/* Whether the buffers have texel views and gemm_texel exists (see
 * gemm.comp); CLIPSCOPE_VULKAN_DISABLE_TEXEL=1 turns them off. */
gboolean clipscope_vk_device_has_texel (ClipscopeVkDevice *d);
/* Whether layer_norm and l2_norm take their _SUBGROUP variants (see
 * reduce.glsl); CLIPSCOPE_VULKAN_REDUCE=tree turns them off. */
gboolean clipscope_vk_device_has_subgroup_reduce (ClipscopeVkDevice *d);
void clipscope_vk_buffer_clear (ClipscopeVkDevice *d,
                                ClipscopeVkBuffer *buf);

/* Starts recording; @staging_bytes is the sum of all uploads and
 * downloads to come before the submit. */
gboolean clipscope_vk_begin (ClipscopeVkDevice *d,
                             gsize              staging_bytes,
                             GError           **error);
/* Copies @bytes from @data into @dst at byte @offset; @data is copied
 * now, so it may be freed at once. */
void clipscope_vk_upload (ClipscopeVkDevice       *d,
                          const ClipscopeVkBuffer *dst,
                          VkDeviceSize             offset,
                          const void              *data,
                          gsize                    bytes);
/* Returns a pointer to @bytes of staging memory that the caller fills
 * now and that is copied into @dst at @offset when the work runs. */
void *clipscope_vk_upload_map (ClipscopeVkDevice       *d,
                               const ClipscopeVkBuffer *dst,
                               VkDeviceSize             offset,
                               gsize                    bytes);
/* After the submit, @bytes of @src at @offset land in @data. */
void clipscope_vk_download (ClipscopeVkDevice       *d,
                            const ClipscopeVkBuffer *src,
                            VkDeviceSize             offset,
                            void                    *data,
                            gsize                    bytes);
/* Records @kernel over groups_x × groups_y workgroups with @bufs bound in order (NULL
 * entries get a dummy buffer) and @push as its push constants. Each
 * dispatch waits for the writes of the ones before it. */
void clipscope_vk_dispatch (ClipscopeVkDevice             *d,
                            ClipscopeVkKernel              kernel,
                            const ClipscopeVkBuffer *const bufs[CLIPSCOPE_VK_MAX_BINDINGS],
                            const void                    *push,
                            gsize                          push_size,
                            uint32_t                       groups_x,
                            uint32_t                       groups_y);
/* The same for the pipeline of @kernel specialized to @variant (its
 * specialization constant 4), built on first use. */
void clipscope_vk_dispatch_variant (ClipscopeVkDevice             *d,
                                    ClipscopeVkKernel              kernel,
                                    uint32_t                       variant,
                                    const ClipscopeVkBuffer *const bufs[CLIPSCOPE_VK_MAX_BINDINGS],
                                    const void                    *push,
                                    gsize                          push_size,
                                    uint32_t                       groups_x,
                                    uint32_t                       groups_y);
/* The workgroup size @kernel was built with (x, and y), and the outputs
 * one invocation computes: for the products a tile of @tm × @tn of C,
 * for attention @tm queries. */
uint32_t clipscope_vk_kernel_local_size (ClipscopeVkDevice *d,
                                         ClipscopeVkKernel  kernel);
uint32_t clipscope_vk_kernel_local_size_y (ClipscopeVkDevice *d,
                                           ClipscopeVkKernel  kernel);
void clipscope_vk_kernel_tile (ClipscopeVkDevice *d,
                               ClipscopeVkKernel  kernel,
                               uint32_t          *tm,
                               uint32_t          *tn);
/* Whether linear layers take gemm_tiled.comp (GPUs) rather than
 * gemm.comp; CLIPSCOPE_VULKAN_GEMM=tiled or registers picks one. */
gboolean clipscope_vk_device_gemm_tiled (ClipscopeVkDevice *d);

/* With CLIPSCOPE_VULKAN_PROFILE=1 every dispatch is timed, and the times
 * are summed by label and printed on stderr when the device is freed.
 * This names the next dispatch (else it goes by its kernel's name); it
 * costs nothing when profiling is off. */
void clipscope_vk_set_label (ClipscopeVkDevice *d,
                             const char        *format,
                             ...) G_GNUC_PRINTF (2, 3);

/* Submits what was recorded, waits, and copies the downloads out. */
gboolean clipscope_vk_submit_wait (ClipscopeVkDevice *d,
                                   GError           **error);

/* The embedded SPIR-V of each kernel (vulkan-shaders.c). */
const uint32_t *clipscope_vk_shader_code (ClipscopeVkKernel kernel,
                                          gsize            *n_bytes,
                                          const char      **name);

G_END_DECLS
