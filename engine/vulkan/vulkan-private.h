/* vulkan-private.h — helpers shared by the files of the Vulkan backend */
#pragma once

#include "vulkan-device.h"

G_BEGIN_DECLS

/* Turns a failed @result into a CLIPSCOPE_ERROR_BACKEND error naming @call. */
gboolean clipscope_vk_check (VkResult    result,
                             const char *call,
                             GError    **error);
const char *clipscope_vk_result_name (VkResult result);

/* CLIPSCOPE_VULKAN_VALIDATE=1 */
gboolean clipscope_vk_validation_requested (void);

/* The process's instance for Vulkan 1.1, with the validation layer when
 * requested; created on first use, never destroyed. Thread-safe. */
VkInstance clipscope_vk_instance_get (GError **error);

/* vulkan-select.c: the device CLIPSCOPE_VULKAN_DEVICE names, else the
 * best ranked usable one, and its compute queue family. Without
 * @allow_cpu, a CPU implementation is not chosen unless named, and
 * finding only such devices is a G_IO_ERROR_NOT_SUPPORTED error. */
gboolean clipscope_vk_choose_device (VkInstance        instance,
                                     gboolean          allow_cpu,
                                     VkPhysicalDevice *device,
                                     uint32_t         *queue_family,
                                     GError          **error);

/* vulkan-select.c: the on-disk pipeline cache under
 * $XDG_CACHE_HOME/clipscope/, one file per device and driver. A missing,
 * foreign or corrupt file only means an empty cache. */
void clipscope_vk_pipeline_cache_load (VkDevice                          device,
                                       const VkPhysicalDeviceProperties *props,
                                       VkPipelineCache                  *cache);
void clipscope_vk_pipeline_cache_save (VkDevice                          device,
                                       const VkPhysicalDeviceProperties *props,
                                       VkPipelineCache                   cache);

G_END_DECLS
