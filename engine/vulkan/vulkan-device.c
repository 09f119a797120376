/* vulkan-device.c — instance, device choice, pipelines and the command API
 *
 * The order of calls follows the usual headless-compute recipe: instance,
 * physical device, device and queue, descriptor and pipeline layouts,
 * pipelines, command pool and buffer, fence; objects are destroyed in the
 * reverse order in clipscope_vk_device_free().
 */
#include "vulkan-device.h"
#include "vulkan-private.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Descriptor sets for one recording; a forward pass of the largest
 * models uses a few hundred dispatches. */
#define MAX_SETS 4096
#define PUSH_BYTES 128

struct _ClipscopeVkDevice {
  char                            *name;
  VkPhysicalDeviceProperties       props;
  VkPhysicalDeviceMemoryProperties mem_props;
  gboolean                         f16;
  uint32_t                         queue_family;
  uint32_t                         local_size[CLIPSCOPE_VK_N_KERNELS];
  uint32_t                         local_size_y[CLIPSCOPE_VK_N_KERNELS];
  /* Outputs per invocation: rows and columns of C for the products,
   * queries (tile_m) for attention. */
  uint32_t                         tile_m[CLIPSCOPE_VK_N_KERNELS];
  uint32_t                         tile_n[CLIPSCOPE_VK_N_KERNELS];
  gboolean                         gemm_tiled;         /* linear layers take gemm_tiled.comp */
  gboolean                         texel;
  uint32_t                         subgroup_size;
  gboolean                         subgroup_reduce;

  /* Recording state */
  GError                          *error;        /* the first failure */
  gsize                            staging_used;
  GArray                          *downloads;    /* Download */

  /* CLIPSCOPE_VULKAN_PROFILE=1: each dispatch is timed; the times are
   * summed by label and printed when the device is freed. */
  gboolean                         profile;
  char                            *label;        /* of the next dispatch */
  GPtrArray                       *timed;        /* label of each timed dispatch */
  GHashTable                      *profile_ns;   /* label → ProfileEntry */

  /* Vulkan objects, in creation order; all but the instance are owned */
  VkInstance                       instance;
  VkDebugUtilsMessengerEXT         messenger;
  VkPhysicalDevice                 physical;
  VkDevice                         device;
  VkQueue                          queue;
  VkDescriptorSetLayout            set_layout;
  VkPipelineLayout                 pipeline_layout;
  VkPipelineCache                  cache;
  GHashTable                      *pipelines;     /* PIPELINE_KEY → VkPipeline * */
  gboolean                         cache_grown;
  VkDescriptorPool                 descriptor_pool;
  VkCommandPool                    command_pool;
  VkCommandBuffer                  cmd;
  VkFence                          fence;
  VkQueryPool                      profile_pool;  /* or none */
  ClipscopeVkBuffer                dummy;
  ClipscopeVkBuffer                staging;       /* host-visible */
  void                            *staging_map;
};

typedef struct {
  gsize  staging_offset;
  void  *data;
  gsize  bytes;
} Download;

typedef struct {
  double ns;
  int    calls;
} ProfileEntry;

/* ------------------------------------------------------------- errors */

gboolean
clipscope_vk_check (VkResult    result,
                    const char *call,
                    GError    **error)
{
  if (result == VK_SUCCESS)
    return TRUE;
  g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_BACKEND,
               "Vulkan: %s failed: %s", call, clipscope_vk_result_name (result));
  return FALSE;
}

const char *
clipscope_vk_result_name (VkResult result)
{
  switch (result)
    {
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_INCOMPLETE: return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED: return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    case VK_ERROR_FRAGMENTED_POOL: return "VK_ERROR_FRAGMENTED_POOL";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    default: return "an unknown VkResult";
    }
}

/* Keeps the first recording error; later ones are consequences. */
static void
record_error (ClipscopeVkDevice *d,
              VkResult           result,
              const char        *call)
{
  if (d->error == NULL)
    clipscope_vk_check (result, call, &d->error);
}

/* ------------------------------------------------------- validation */

/* Messages of the validation layer, from any device of the process. */
static gint validation_messages;

static VKAPI_ATTR VkBool32 VKAPI_CALL
debug_message_cb (VkDebugUtilsMessageSeverityFlagBitsEXT      severity,
                  VkDebugUtilsMessageTypeFlagsEXT             types,
                  const VkDebugUtilsMessengerCallbackDataEXT *data,
                  void                                       *user_data)
{
  /* Tests run with the layer on and fail on anything it reports. */
  g_printerr ("clipscope: Vulkan validation: %s\n", data->pMessage);
  g_atomic_int_inc (&validation_messages);
  return VK_FALSE;
}

int
clipscope_vk_device_validation_messages (ClipscopeVkDevice *d)
{
  return g_atomic_int_get (&validation_messages);
}

gboolean
clipscope_vk_validation_requested (void)
{
  return g_strcmp0 (g_getenv ("CLIPSCOPE_VULKAN_VALIDATE"), "1") == 0;
}

static gboolean
layer_available (const char *name)
{
  uint32_t n = 0;
  g_autofree VkLayerProperties *layers = NULL;

  if (vkEnumerateInstanceLayerProperties (&n, NULL) != VK_SUCCESS)
    return FALSE;
  layers = g_new0 (VkLayerProperties, n + 1);
  if (vkEnumerateInstanceLayerProperties (&n, layers) != VK_SUCCESS)
    return FALSE;
  for (uint32_t i = 0; i < n; i++)
    if (strcmp (layers[i].layerName, name) == 0)
      return TRUE;
  return FALSE;
}

static VkDebugUtilsMessengerCreateInfoEXT
messenger_info (void)
{
  VkDebugUtilsMessengerCreateInfoEXT info = {
    .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
    .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT
                       | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
    .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT
                   | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT
                   | VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
    .pfnUserCallback = debug_message_cb,
  };
  return info;
}

/* --------------------------------------------------------- instance */

static VkInstance
instance_new (GError **error)
{
  const char *layer = "VK_LAYER_KHRONOS_validation";
  const char *ext = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
  gboolean validate = clipscope_vk_validation_requested ();
  VkDebugUtilsMessengerCreateInfoEXT dbg = messenger_info ();
  VkApplicationInfo app = {
    .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
    .pApplicationName = "Clipscope",
    .pEngineName = "libclipscope",
    .apiVersion = VK_API_VERSION_1_1,
  };
  VkInstanceCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
    .pApplicationInfo = &app,
  };
  VkInstance instance = VK_NULL_HANDLE;
  VkResult result;

  if (validate)
    {
      if (!layer_available (layer))
        {
          g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_BACKEND,
                       "Vulkan: CLIPSCOPE_VULKAN_VALIDATE=1 but %s is not installed", layer);
          return VK_NULL_HANDLE;
        }
      info.enabledLayerCount = 1;
      info.ppEnabledLayerNames = &layer;
      info.enabledExtensionCount = 1;
      info.ppEnabledExtensionNames = &ext;
      /* Also catches messages from instance creation itself. */
      info.pNext = &dbg;
    }
  result = vkCreateInstance (&info, NULL, &instance);
  if (result == VK_ERROR_INCOMPATIBLE_DRIVER)
    {
      /* What the loader says when it found no driver at all, too. */
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_BACKEND,
                   "Vulkan: no installed driver could be used: none was found, or none "
                   "supports Vulkan %u.%u (vkCreateInstance: VK_ERROR_INCOMPATIBLE_DRIVER)",
                   VK_API_VERSION_MAJOR (app.apiVersion), VK_API_VERSION_MINOR (app.apiVersion));
      return VK_NULL_HANDLE;
    }
  if (!clipscope_vk_check (result, "vkCreateInstance", error))
    return VK_NULL_HANDLE;
  return instance;
}

/* One instance serves the whole process and is never destroyed: the
 * loader unloads the driver with the last instance, and drivers keep
 * allocations referenced from their globals (LLVM's among them) that
 * LeakSanitizer would then report as leaks; creating an instance also
 * costs more than keeping one. */
VkInstance
clipscope_vk_instance_get (GError **error)
{
  static GMutex lock;
  static VkInstance instance = VK_NULL_HANDLE;
  VkInstance result;

  g_mutex_lock (&lock);
  if (instance == VK_NULL_HANDLE)
    instance = instance_new (error);
  result = instance;
  g_mutex_unlock (&lock);
  return result;
}

static gboolean
create_messenger (ClipscopeVkDevice *d,
                  GError           **error)
{
  VkDebugUtilsMessengerCreateInfoEXT info = messenger_info ();
  PFN_vkCreateDebugUtilsMessengerEXT create = (PFN_vkCreateDebugUtilsMessengerEXT)
    vkGetInstanceProcAddr (d->instance, "vkCreateDebugUtilsMessengerEXT");

  if (create == NULL)
    return clipscope_vk_check (VK_ERROR_EXTENSION_NOT_PRESENT,
                               "vkGetInstanceProcAddr (vkCreateDebugUtilsMessengerEXT)", error);
  return clipscope_vk_check (create (d->instance, &info, NULL, &d->messenger),
                             "vkCreateDebugUtilsMessengerEXT", error);
}

/* ----------------------------------------------------------- device */

static gboolean
create_device (ClipscopeVkDevice *d,
               GError           **error)
{
  const float priority = 1.0f;
  VkPhysicalDevice16BitStorageFeatures storage16 = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
  };
  VkPhysicalDeviceFeatures2 features = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
    .pNext = &storage16,
  };
  VkDeviceQueueCreateInfo queue = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
    .queueFamilyIndex = d->queue_family,
    .queueCount = 1,
    .pQueuePriorities = &priority,
  };
  VkDeviceCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
    .queueCreateInfoCount = 1,
    .pQueueCreateInfos = &queue,
  };

  vkGetPhysicalDeviceFeatures2 (d->physical, &features);
  d->f16 = storage16.storageBuffer16BitAccess
           && g_strcmp0 (g_getenv ("CLIPSCOPE_VULKAN_DISABLE_F16"), "1") != 0;
  /* Enable only what the kernels use. */
  memset (&features.features, 0, sizeof features.features);
  storage16 = (VkPhysicalDevice16BitStorageFeatures) {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
    .storageBuffer16BitAccess = d->f16,
  };
  info.pNext = &features;
  if (!clipscope_vk_check (vkCreateDevice (d->physical, &info, NULL, &d->device),
                           "vkCreateDevice", error))
    return FALSE;
  vkGetDeviceQueue (d->device, d->queue_family, 0, &d->queue);
  return TRUE;
}

/* ---------------------------------------------------------- buffers */

static int
find_memory_type (ClipscopeVkDevice    *d,
                  uint32_t              type_bits,
                  VkMemoryPropertyFlags want)
{
  for (uint32_t i = 0; i < d->mem_props.memoryTypeCount; i++)
    if ((type_bits & (1u << i)) && (d->mem_props.memoryTypes[i].propertyFlags & want) == want)
      return (int) i;
  return -1;
}

static gboolean
buffer_init_with (ClipscopeVkDevice    *d,
                  ClipscopeVkBuffer    *buf,
                  VkDeviceSize          size,
                  VkBufferUsageFlags    usage,
                  VkMemoryPropertyFlags want,
                  VkMemoryPropertyFlags fallback,
                  GError              **error)
{
  VkBufferCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
    .size = MAX (size, 16),
    .usage = usage,
    .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
  };
  VkMemoryRequirements req;
  VkMemoryAllocateInfo alloc = { .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO };
  int type;

  memset (buf, 0, sizeof *buf);
  if (!clipscope_vk_check (vkCreateBuffer (d->device, &info, NULL, &buf->buffer),
                           "vkCreateBuffer", error))
    return FALSE;
  vkGetBufferMemoryRequirements (d->device, buf->buffer, &req);
  type = find_memory_type (d, req.memoryTypeBits, want);
  if (type < 0)
    type = find_memory_type (d, req.memoryTypeBits, fallback);
  alloc.allocationSize = req.size;
  alloc.memoryTypeIndex = type < 0 ? 0 : (uint32_t) type;
  if (type < 0)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_BACKEND,
                   "Vulkan: no memory type for a buffer of %" G_GUINT64_FORMAT " bytes",
                   (guint64) size);
      clipscope_vk_buffer_clear (d, buf);
      return FALSE;
    }
  if (!clipscope_vk_check (vkAllocateMemory (d->device, &alloc, NULL, &buf->memory),
                           "vkAllocateMemory", error)
      || !clipscope_vk_check (vkBindBufferMemory (d->device, buf->buffer, buf->memory, 0),
                              "vkBindBufferMemory", error))
    {
      clipscope_vk_buffer_clear (d, buf);
      return FALSE;
    }
  buf->size = info.size;
  return TRUE;
}

/* A view of the whole buffer as vec4 texels of @format. */
static gboolean
create_view (ClipscopeVkDevice *d,
             ClipscopeVkBuffer *buf,
             VkFormat           format,
             VkDeviceSize       texel_bytes,
             GError           **error)
{
  VkDeviceSize n = buf->size / texel_bytes;
  VkBufferViewCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
    .buffer = buf->buffer,
    .format = format,
    .range = n * texel_bytes,
  };

  /* A view that would not reach the whole buffer is none: the kernels
   * then read the buffer as storage. */
  if (n > d->props.limits.maxTexelBufferElements)
    return TRUE;
  return clipscope_vk_check (vkCreateBufferView (d->device, &info, NULL, &buf->view),
                             "vkCreateBufferView", error);
}

static gboolean
storage_buffer_init (ClipscopeVkDevice *d,
                     ClipscopeVkBuffer *buf,
                     VkDeviceSize       size,
                     gboolean           half,
                     GError           **error)
{
  VkBufferUsageFlags usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT
                             | VK_BUFFER_USAGE_TRANSFER_DST_BIT;

  if (d->texel)
    usage |= VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT;
  if (!buffer_init_with (d, buf, size, usage, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0, error))
    return FALSE;
  buf->half_view = half;
  if (d->texel
      && !create_view (d, buf, half ? VK_FORMAT_R32G32B32A32_UINT : VK_FORMAT_R32G32B32A32_SFLOAT,
                       16, error))
    {
      clipscope_vk_buffer_clear (d, buf);
      return FALSE;
    }
  return TRUE;
}

gboolean
clipscope_vk_buffer_init (ClipscopeVkDevice *d,
                          ClipscopeVkBuffer *buf,
                          VkDeviceSize       size,
                          GError           **error)
{
  return storage_buffer_init (d, buf, size, FALSE, error);
}

gboolean
clipscope_vk_buffer_init_half (ClipscopeVkDevice *d,
                               ClipscopeVkBuffer *buf,
                               VkDeviceSize       size,
                               GError           **error)
{
  return storage_buffer_init (d, buf, size, TRUE, error);
}

gboolean
clipscope_vk_device_has_subgroup_reduce (ClipscopeVkDevice *d)
{
  return d->subgroup_reduce != 0;
}

gboolean
clipscope_vk_device_has_texel (ClipscopeVkDevice *d)
{
  return d->texel;
}

void
clipscope_vk_buffer_clear (ClipscopeVkDevice *d,
                           ClipscopeVkBuffer *buf)
{
  if (buf->view != VK_NULL_HANDLE)
    vkDestroyBufferView (d->device, buf->view, NULL);
  if (buf->buffer != VK_NULL_HANDLE)
    vkDestroyBuffer (d->device, buf->buffer, NULL);
  if (buf->memory != VK_NULL_HANDLE)
    vkFreeMemory (d->device, buf->memory, NULL);
  memset (buf, 0, sizeof *buf);
}

/* The host-visible staging buffer grows to the largest recording. */
static gboolean
ensure_staging (ClipscopeVkDevice *d,
                gsize              bytes,
                GError           **error)
{
  if (d->staging.buffer != VK_NULL_HANDLE && d->staging.size >= bytes)
    return TRUE;
  if (d->staging_map != NULL)
    vkUnmapMemory (d->device, d->staging.memory);
  d->staging_map = NULL;
  clipscope_vk_buffer_clear (d, &d->staging);
  if (!buffer_init_with (d, &d->staging, bytes,
                         VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                         VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
                         | VK_MEMORY_PROPERTY_HOST_CACHED_BIT,
                         VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                         error))
    return FALSE;
  return clipscope_vk_check (vkMapMemory (d->device, d->staging.memory, 0, VK_WHOLE_SIZE, 0,
                                          &d->staging_map),
                             "vkMapMemory", error);
}

/* -------------------------------------------------------- pipelines */

static gboolean
create_layouts (ClipscopeVkDevice *d,
                GError           **error)
{
  VkDescriptorSetLayoutBinding bindings[CLIPSCOPE_VK_MAX_BINDINGS + 2];
  VkDescriptorSetLayoutCreateInfo set_info = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
    .bindingCount = CLIPSCOPE_VK_MAX_BINDINGS + (d->texel ? 2 : 0),
    .pBindings = bindings,
  };
  VkPushConstantRange push = { VK_SHADER_STAGE_COMPUTE_BIT, 0, PUSH_BYTES };
  VkPipelineLayoutCreateInfo layout_info = {
    .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
    .setLayoutCount = 1,
    .pSetLayouts = &d->set_layout,
    .pushConstantRangeCount = 1,
    .pPushConstantRanges = &push,
  };
  VkDescriptorPoolSize pool_sizes[] = {
    { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, MAX_SETS * CLIPSCOPE_VK_MAX_BINDINGS },
    { VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, MAX_SETS * 2 },
  };
  VkDescriptorPoolCreateInfo pool_info = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
    .maxSets = MAX_SETS,
    .poolSizeCount = d->texel ? 2 : 1,
    .pPoolSizes = pool_sizes,
  };

  /* One layout for every kernel: four storage buffers and 128 bytes of
   * push constants, the minimum every device offers. */
  for (int i = 0; i < CLIPSCOPE_VK_MAX_BINDINGS + 2; i++)
    bindings[i] = (VkDescriptorSetLayoutBinding) {
      .binding = i,
      .descriptorType = i < CLIPSCOPE_VK_MAX_BINDINGS ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
                                                      : VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
      .descriptorCount = 1,
      .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
    };
  return clipscope_vk_check (vkCreateDescriptorSetLayout (d->device, &set_info, NULL, &d->set_layout),
                             "vkCreateDescriptorSetLayout", error)
         && clipscope_vk_check (vkCreatePipelineLayout (d->device, &layout_info, NULL,
                                                        &d->pipeline_layout),
                                "vkCreatePipelineLayout", error)
         && clipscope_vk_check (vkCreateDescriptorPool (d->device, &pool_info, NULL,
                                                        &d->descriptor_pool),
                                "vkCreateDescriptorPool", error);
}

/* How layer_norm.comp and l2_norm.comp sum a row (see reduce.glsl):
 * with subgroup arithmetic, one subgroup a row on CPU implementations,
 * whose subgroup is their SIMD width, and subgroups and shared memory on
 * GPUs; without, a tree in shared memory. CLIPSCOPE_VULKAN_REDUCE=tree,
 * subgroups or subgroup picks one (where the device can). */
static void
choose_reduce (ClipscopeVkDevice *d)
{
  VkPhysicalDeviceSubgroupProperties sub = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES,
  };
  VkPhysicalDeviceProperties2 props = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
    .pNext = &sub,
  };
  const char *want = g_getenv ("CLIPSCOPE_VULKAN_REDUCE");
  gboolean can;

  vkGetPhysicalDeviceProperties2 (d->physical, &props);
  d->subgroup_size = sub.subgroupSize;
  can = (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT)
        && (sub.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT)
        && (sub.supportedOperations & VK_SUBGROUP_FEATURE_BASIC_BIT)
        && sub.subgroupSize >= 1 && sub.subgroupSize <= d->props.limits.maxComputeWorkGroupSize[0];
  d->subgroup_reduce = !can ? 0 : d->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU ? 2 : 1;
  if (g_strcmp0 (want, "tree") == 0)
    d->subgroup_reduce = 0;
  else if (can && g_strcmp0 (want, "subgroups") == 0)
    d->subgroup_reduce = 1;
  else if (can && g_strcmp0 (want, "subgroup") == 0)
    d->subgroup_reduce = 2;
  if (d->subgroup_reduce == 2)
    d->local_size[CLIPSCOPE_VK_LAYER_NORM_SUBGROUP] = d->local_size[CLIPSCOPE_VK_L2_NORM_SUBGROUP]
      = d->subgroup_size;
}

/* The shared-memory product (gemm_tiled.comp) for GPUs: 16 × 16
 * invocations of 4 × 4 outputs, a 64 × 64 block, where the device allows
 * 256 invocations a workgroup, else 16 × 8; its tiles take 8.3 KiB of
 * the 16 KiB of shared memory every device has. CPU implementations keep
 * gemm.comp. CLIPSCOPE_VULKAN_GEMM=tiled or registers picks either. */
static void
choose_tiled (ClipscopeVkDevice *d,
              gboolean           cpu)
{
  const VkPhysicalDeviceLimits *lim = &d->props.limits;
  const char *want = g_getenv ("CLIPSCOPE_VULKAN_GEMM");
  uint32_t wy = lim->maxComputeWorkGroupInvocations >= 256 && lim->maxComputeWorkGroupSize[1] >= 16
                ? 16 : 8;

  d->gemm_tiled = !cpu;
  if (g_strcmp0 (want, "tiled") == 0)
    d->gemm_tiled = TRUE;
  else if (g_strcmp0 (want, "registers") == 0)
    d->gemm_tiled = FALSE;
  for (int k = CLIPSCOPE_VK_GEMM_TILED; k <= CLIPSCOPE_VK_GEMM_TILED_F16; k++)
    {
      d->local_size[k] = 16;
      d->local_size_y[k] = wy;
      d->tile_m[k] = d->tile_n[k] = 4;
    }
}

/* Queries per invocation of attention.comp, which share their loads of
 * each key and value row: on lavapipe 4 made attention at ViT-B/32
 * shapes 3.7 times as fast as 1 (8 was slower: the accumulators no
 * longer fit); GPUs take 1, for more invocations. Heads wider than 64
 * take fewer (see vk_attention() in vulkan-backend.c).
 * CLIPSCOPE_VULKAN_ATTENTION_QUERIES=1…8 overrides it. */
static void
choose_attention (ClipscopeVkDevice *d,
                  gboolean           cpu)
{
  const char *want = g_getenv ("CLIPSCOPE_VULKAN_ATTENTION_QUERIES");
  guint64 n = cpu ? 4 : 1;

  if (want != NULL && !g_ascii_string_to_unsigned (want, 10, 1, 8, &n, NULL))
    n = cpu ? 4 : 1;
  d->tile_m[CLIPSCOPE_VK_ATTENTION] = d->tile_m[CLIPSCOPE_VK_ATTENTION_TEXEL] = (uint32_t) n;
}

/* The register tile of gemm.comp. CPU implementations run one
 * invocation per SIMD lane, and there every vector load costs far more
 * than the arithmetic it feeds, so large register tiles pay, as long as
 * the tile loops are unrolled (see gemm.comp). On lavapipe (LLVM 15,
 * 8-wide AVX2) the ViT-B/32 products with texel loads ran at about 14
 * GFLOP/s per core with 8 × 8, 18 with 16 × 8 and 22 with 16 × 12 or
 * 16 × 16, and 25 and 27 for 16 × 8 and 16 × 12 once weights came eight
 * to a fetch. But LLVM's time grows faster than the tile: about 1, 2.5,
 * 8.5 and 20 s a variant for 8 × 8, 16 × 8, 16 × 12 and 16 × 16, once
 * per machine (Mesa keeps them on disk), yet every time in the tests and
 * several times over under AddressSanitizer. The texel variants take
 * 16 × 8; the fallbacks with scalar loads (no texel buffers, rows not
 * aligned for vectors) and the implicit im2col of a ResNet, where large
 * tiles gain less (7.4 → 9.8 GFLOP/s from 8 × 8 to 16 × 8), take 8 × 8.
 * GPUs want more, smaller invocations: 4 × 4.
 * CLIPSCOPE_VULKAN_TILE=MxN (up to 32 × 32) sets every variant's. */
static void
choose_register_tiles (ClipscopeVkDevice *d,
                       gboolean           cpu)
{
  static const ClipscopeVkKernel kernels[] = {
    CLIPSCOPE_VK_GEMM, CLIPSCOPE_VK_GEMM_F16, CLIPSCOPE_VK_CONV, CLIPSCOPE_VK_CONV_F16,
    CLIPSCOPE_VK_GEMM_TEXEL, CLIPSCOPE_VK_GEMM_TEXEL_F16,
  };
  const char *tile = g_getenv ("CLIPSCOPE_VULKAN_TILE");
  unsigned tm = 0, tn = 0;
  gboolean set = tile != NULL && sscanf (tile, "%ux%u", &tm, &tn) == 2 && tm >= 1 && tn >= 1
                 && tm <= 32 && tn <= 32;

  for (guint i = 0; i < G_N_ELEMENTS (kernels); i++)
    {
      ClipscopeVkKernel k = kernels[i];
      gboolean texel = k == CLIPSCOPE_VK_GEMM_TEXEL || k == CLIPSCOPE_VK_GEMM_TEXEL_F16;

      d->tile_m[k] = set ? tm : !cpu ? 4 : texel ? 16 : 8;
      d->tile_n[k] = set ? tn : !cpu ? 4 : 8;
    }
}

/* Workgroup sizes and tiles, by kernel. */
static void
choose_sizes (ClipscopeVkDevice *d)
{
  gboolean cpu = d->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;

  for (int k = 0; k < CLIPSCOPE_VK_N_KERNELS; k++)
    {
      d->local_size[k] = 64;
      d->local_size_y[k] = 1;
      d->tile_m[k] = d->tile_n[k] = 1;
    }
  choose_register_tiles (d, cpu);
  choose_tiled (d, cpu);
  choose_reduce (d);
  choose_attention (d, cpu);
}

/* Uniform texel buffers of float32 vec4s, and of four 32-bit words (eight
 * float16 values) where weights are stored as float16. */
static void
query_texel (ClipscopeVkDevice *d)
{
  VkFormatProperties f32, f16;

  vkGetPhysicalDeviceFormatProperties (d->physical, VK_FORMAT_R32G32B32A32_SFLOAT, &f32);
  vkGetPhysicalDeviceFormatProperties (d->physical, VK_FORMAT_R32G32B32A32_UINT, &f16);
  d->texel = (f32.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT)
             && (!d->f16 || (f16.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT))
             && g_strcmp0 (g_getenv ("CLIPSCOPE_VULKAN_DISABLE_TEXEL"), "1") != 0;
}

/* Pipelines are built on first use, one per kernel and variant (a
 * specialization of it, such as attention's head dimension), so that a
 * device builds only what its models use. */
#define PIPELINE_KEY(kernel, variant) GUINT_TO_POINTER (((guint) (kernel) << 16) | (variant))

/* The specialization constants every kernel may declare; one a kernel
 * does not declare is ignored. */
enum {
  SPEC_LOCAL_SIZE_X,
  SPEC_TILE_M,
  SPEC_TILE_N,
  SPEC_LOCAL_SIZE_Y,
  SPEC_VARIANT,
  SPEC_SUBGROUP_REDUCE,
  N_SPEC
};

static VkPipeline
create_pipeline (ClipscopeVkDevice *d,
                 ClipscopeVkKernel  k,
                 uint32_t           variant,
                 GError           **error)
{
  uint32_t spec[N_SPEC] = {
    [SPEC_LOCAL_SIZE_X] = d->local_size[k],
    [SPEC_TILE_M] = d->tile_m[k],
    [SPEC_TILE_N] = d->tile_n[k],
    [SPEC_LOCAL_SIZE_Y] = d->local_size_y[k],
    [SPEC_VARIANT] = variant,
    [SPEC_SUBGROUP_REDUCE] = d->subgroup_reduce,
  };
  VkSpecializationMapEntry entries[N_SPEC];
  VkSpecializationInfo spec_info = { N_SPEC, entries, sizeof spec, spec };
  VkShaderModuleCreateInfo module_info = { .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO };
  VkComputePipelineCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
    .stage = {
      .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
      .stage = VK_SHADER_STAGE_COMPUTE_BIT,
      .pName = "main",
      .pSpecializationInfo = &spec_info,
    },
    .layout = d->pipeline_layout,
  };
  VkShaderModule module = VK_NULL_HANDLE;
  VkPipeline pipeline = VK_NULL_HANDLE;
  const char *name;
  gboolean ok;

  for (uint32_t i = 0; i < N_SPEC; i++)
    entries[i] = (VkSpecializationMapEntry) { i, i * sizeof spec[0], sizeof spec[0] };
  module_info.pCode = clipscope_vk_shader_code (k, &module_info.codeSize, &name);
  if (!clipscope_vk_check (vkCreateShaderModule (d->device, &module_info, NULL, &module),
                           "vkCreateShaderModule", error))
    return VK_NULL_HANDLE;
  info.stage.module = module;
  ok = clipscope_vk_check (vkCreateComputePipelines (d->device, d->cache, 1, &info, NULL, &pipeline),
                           "vkCreateComputePipelines", error);
  vkDestroyShaderModule (d->device, module, NULL);
  if (!ok)
    {
      g_prefix_error (error, "kernel %s: ", name);
      return VK_NULL_HANDLE;
    }
  d->cache_grown = TRUE;
  return pipeline;
}

/* The pipeline of @kernel and @variant, built now if need be; or none,
 * with the recording's error set. */
static VkPipeline
get_pipeline (ClipscopeVkDevice *d,
              ClipscopeVkKernel  kernel,
              uint32_t           variant)
{
  VkPipeline *found = g_hash_table_lookup (d->pipelines, PIPELINE_KEY (kernel, variant));
  VkPipeline pipeline;

  if (found != NULL)
    return *found;
  if ((pipeline = create_pipeline (d, kernel, variant, &d->error)) == VK_NULL_HANDLE)
    return VK_NULL_HANDLE;
  found = g_new (VkPipeline, 1);
  *found = pipeline;
  g_hash_table_insert (d->pipelines, PIPELINE_KEY (kernel, variant), found);
  return pipeline;
}

static void
destroy_pipelines (ClipscopeVkDevice *d)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, d->pipelines);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    vkDestroyPipeline (d->device, *(VkPipeline *) value, NULL);
  g_hash_table_remove_all (d->pipelines);
}

static gboolean
create_commands (ClipscopeVkDevice *d,
                 GError           **error)
{
  VkCommandPoolCreateInfo pool_info = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
    .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
    .queueFamilyIndex = d->queue_family,
  };
  VkCommandBufferAllocateInfo alloc = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
    .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
    .commandBufferCount = 1,
  };
  VkFenceCreateInfo fence_info = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };

  if (!clipscope_vk_check (vkCreateCommandPool (d->device, &pool_info, NULL, &d->command_pool),
                           "vkCreateCommandPool", error))
    return FALSE;
  alloc.commandPool = d->command_pool;
  return clipscope_vk_check (vkAllocateCommandBuffers (d->device, &alloc, &d->cmd),
                             "vkAllocateCommandBuffers", error)
         && clipscope_vk_check (vkCreateFence (d->device, &fence_info, NULL, &d->fence),
                                "vkCreateFence", error)
         && clipscope_vk_buffer_init (d, &d->dummy, 16, error);
}

/* ---------------------------------------------------------- profile */

/* Two timestamps a dispatch: when the work before it has finished and
 * when it has. */
static gboolean
create_profile (ClipscopeVkDevice *d,
                GError           **error)
{
  VkQueryPoolCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
    .queryType = VK_QUERY_TYPE_TIMESTAMP,
    .queryCount = 2 * MAX_SETS,
  };
  VkQueueFamilyProperties *families;
  uint32_t n = 0, bits;

  if (g_strcmp0 (g_getenv ("CLIPSCOPE_VULKAN_PROFILE"), "1") != 0)
    return TRUE;
  vkGetPhysicalDeviceQueueFamilyProperties (d->physical, &n, NULL);
  families = g_new0 (VkQueueFamilyProperties, n + 1);
  vkGetPhysicalDeviceQueueFamilyProperties (d->physical, &n, families);
  bits = d->queue_family < n ? families[d->queue_family].timestampValidBits : 0;
  g_free (families);
  if (bits == 0)
    {
      g_printerr ("clipscope: %s has no timestamps; CLIPSCOPE_VULKAN_PROFILE is ignored\n", d->name);
      return TRUE;
    }
  d->profile = TRUE;
  d->timed = g_ptr_array_new_with_free_func (g_free);
  d->profile_ns = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return clipscope_vk_check (vkCreateQueryPool (d->device, &info, NULL, &d->profile_pool),
                             "vkCreateQueryPool", error);
}

void
clipscope_vk_set_label (ClipscopeVkDevice *d,
                        const char        *format,
                        ...)
{
  va_list ap;

  if (!d->profile)
    return;
  g_free (d->label);
  va_start (ap, format);
  d->label = g_strdup_vprintf (format, ap);
  va_end (ap);
}

/* Adds the times of the dispatches of the submission that just ended. */
static void
profile_collect (ClipscopeVkDevice *d)
{
  guint n = d->timed->len;
  g_autofree uint64_t *stamps = g_new0 (uint64_t, 2 * n + 1);

  if (n == 0 || vkGetQueryPoolResults (d->device, d->profile_pool, 0, 2 * n, 2 * n * sizeof *stamps,
                                       stamps, sizeof *stamps, VK_QUERY_RESULT_64_BIT) != VK_SUCCESS)
    return;
  for (guint i = 0; i < n; i++)
    {
      const char *label = g_ptr_array_index (d->timed, i);
      ProfileEntry *e = g_hash_table_lookup (d->profile_ns, label);

      if (e == NULL)
        {
          e = g_new0 (ProfileEntry, 1);
          g_hash_table_insert (d->profile_ns, g_strdup (label), e);
        }
      e->ns += (double) (stamps[2 * i + 1] - stamps[2 * i]) * d->props.limits.timestampPeriod;
      e->calls++;
    }
}

static int
compare_entries (gconstpointer a,
                 gconstpointer b,
                 gpointer      table)
{
  const ProfileEntry *x = g_hash_table_lookup (table, *(const char **) a);
  const ProfileEntry *y = g_hash_table_lookup (table, *(const char **) b);

  return (x->ns < y->ns) - (x->ns > y->ns);
}

static void
profile_print (ClipscopeVkDevice *d)
{
  guint n = 0;
  g_autofree gpointer *labels = g_hash_table_get_keys_as_array (d->profile_ns, &n);
  double total = 0.0;

  for (guint i = 0; i < n; i++)
    total += ((ProfileEntry *) g_hash_table_lookup (d->profile_ns, labels[i]))->ns;
  g_qsort_with_data (labels, (gint) n, sizeof *labels, compare_entries, d->profile_ns);
  g_printerr ("clipscope: Vulkan profile on %s: %.1f ms in all\n", d->name, total / 1e6);
  for (guint i = 0; i < n; i++)
    {
      const ProfileEntry *e = g_hash_table_lookup (d->profile_ns, labels[i]);

      g_printerr ("  %9.1f ms %5.1f %%  %5d x  %s\n", e->ns / 1e6, 100.0 * e->ns / MAX (total, 1.0),
                  e->calls, (const char *) labels[i]);
    }
}

/* ------------------------------------------------------ life cycle */

ClipscopeVkDevice *
clipscope_vk_device_new (gboolean allow_cpu,
                         GError **error)
{
  ClipscopeVkDevice *d = g_new0 (ClipscopeVkDevice, 1);

  d->downloads = g_array_new (FALSE, FALSE, sizeof (Download));
  d->pipelines = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  if ((d->instance = clipscope_vk_instance_get (error)) == VK_NULL_HANDLE
      || (clipscope_vk_validation_requested () && !create_messenger (d, error))
      || !clipscope_vk_choose_device (d->instance, allow_cpu, &d->physical, &d->queue_family, error))
    goto fail;
  vkGetPhysicalDeviceProperties (d->physical, &d->props);
  vkGetPhysicalDeviceMemoryProperties (d->physical, &d->mem_props);
  d->name = g_strdup (d->props.deviceName);
  choose_sizes (d);
  if (!create_device (d, error))
    goto fail;
  query_texel (d);
  if (!create_layouts (d, error) || !create_commands (d, error) || !create_profile (d, error))
    goto fail;
  clipscope_vk_pipeline_cache_load (d->device, &d->props, &d->cache);
  return d;

fail:
  clipscope_vk_device_free (d);
  return NULL;
}

void
clipscope_vk_device_free (ClipscopeVkDevice *d)
{
  if (d == NULL)
    return;
  if (d->device != VK_NULL_HANDLE)
    {
      vkDeviceWaitIdle (d->device);
      if (d->staging_map != NULL)
        vkUnmapMemory (d->device, d->staging.memory);
      clipscope_vk_buffer_clear (d, &d->staging);
      clipscope_vk_buffer_clear (d, &d->dummy);
      if (d->fence != VK_NULL_HANDLE)
        vkDestroyFence (d->device, d->fence, NULL);
      if (d->profile_pool != VK_NULL_HANDLE)
        {
          profile_print (d);
          vkDestroyQueryPool (d->device, d->profile_pool, NULL);
        }
      if (d->command_pool != VK_NULL_HANDLE)
        vkDestroyCommandPool (d->device, d->command_pool, NULL);
      if (d->descriptor_pool != VK_NULL_HANDLE)
        vkDestroyDescriptorPool (d->device, d->descriptor_pool, NULL);
      destroy_pipelines (d);
      if (d->cache != VK_NULL_HANDLE && d->cache_grown)
        clipscope_vk_pipeline_cache_save (d->device, &d->props, d->cache);
      if (d->cache != VK_NULL_HANDLE)
        vkDestroyPipelineCache (d->device, d->cache, NULL);
      if (d->pipeline_layout != VK_NULL_HANDLE)
        vkDestroyPipelineLayout (d->device, d->pipeline_layout, NULL);
      if (d->set_layout != VK_NULL_HANDLE)
        vkDestroyDescriptorSetLayout (d->device, d->set_layout, NULL);
      vkDestroyDevice (d->device, NULL);
    }
  if (d->messenger != VK_NULL_HANDLE)
    {
      PFN_vkDestroyDebugUtilsMessengerEXT destroy = (PFN_vkDestroyDebugUtilsMessengerEXT)
        vkGetInstanceProcAddr (d->instance, "vkDestroyDebugUtilsMessengerEXT");
      if (destroy != NULL)
        destroy (d->instance, d->messenger, NULL);
    }
  g_clear_error (&d->error);
  g_array_unref (d->downloads);
  g_clear_pointer (&d->timed, g_ptr_array_unref);
  g_hash_table_unref (d->pipelines);
  g_clear_pointer (&d->profile_ns, g_hash_table_unref);
  g_free (d->label);
  g_free (d->name);
  g_free (d);
}

const char *
clipscope_vk_device_get_name (ClipscopeVkDevice *d)
{
  return d->name;
}

gboolean
clipscope_vk_device_has_f16 (ClipscopeVkDevice *d)
{
  return d->f16;
}

VkDeviceSize
clipscope_vk_device_max_range (ClipscopeVkDevice *d)
{
  /* Offsets in push constants are 32-bit element counts, and one
   * allocation is kept under 1 GiB so that it rarely fails. */
  return MIN ((VkDeviceSize) d->props.limits.maxStorageBufferRange, (VkDeviceSize) 1 << 30) & ~(VkDeviceSize) 255;
}

uint32_t
clipscope_vk_kernel_local_size (ClipscopeVkDevice *d,
                                ClipscopeVkKernel  kernel)
{
  return d->local_size[kernel];
}

void
clipscope_vk_kernel_tile (ClipscopeVkDevice *d,
                          ClipscopeVkKernel  kernel,
                          uint32_t          *tm,
                          uint32_t          *tn)
{
  *tm = d->tile_m[kernel];
  *tn = d->tile_n[kernel];
}

uint32_t
clipscope_vk_kernel_local_size_y (ClipscopeVkDevice *d,
                                  ClipscopeVkKernel  kernel)
{
  return d->local_size_y[kernel];
}

gboolean
clipscope_vk_device_gemm_tiled (ClipscopeVkDevice *d)
{
  return d->gemm_tiled;
}

/* --------------------------------------------------------- commands */

gboolean
clipscope_vk_begin (ClipscopeVkDevice *d,
                    gsize              staging_bytes,
                    GError           **error)
{
  VkCommandBufferBeginInfo begin = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
    .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
  };

  g_clear_error (&d->error);
  g_array_set_size (d->downloads, 0);
  d->staging_used = 0;
  if (!ensure_staging (d, staging_bytes + 64 * 16, error)
      || !clipscope_vk_check (vkResetDescriptorPool (d->device, d->descriptor_pool, 0),
                              "vkResetDescriptorPool", error)
      || !clipscope_vk_check (vkResetCommandBuffer (d->cmd, 0), "vkResetCommandBuffer", error)
      || !clipscope_vk_check (vkBeginCommandBuffer (d->cmd, &begin), "vkBeginCommandBuffer", error))
    return FALSE;
  if (d->profile_pool != VK_NULL_HANDLE)
    {
      g_ptr_array_set_size (d->timed, 0);
      vkCmdResetQueryPool (d->cmd, d->profile_pool, 0, 2 * MAX_SETS);
    }
  return TRUE;
}

/* Carves @bytes out of the staging buffer, 16-byte aligned. */
static gssize
staging_alloc (ClipscopeVkDevice *d,
               gsize              bytes)
{
  gsize at = (d->staging_used + 15) & ~(gsize) 15;

  if (at + bytes > d->staging.size)
    {
      if (d->error == NULL)
        g_set_error (&d->error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_BACKEND,
                     "Vulkan: staging buffer of %" G_GUINT64_FORMAT " bytes is too small",
                     (guint64) d->staging.size);
      return -1;
    }
  d->staging_used = at + bytes;
  return at;
}

static void
memory_barrier (ClipscopeVkDevice   *d,
                VkPipelineStageFlags src_stage,
                VkAccessFlags        src,
                VkPipelineStageFlags dst_stage,
                VkAccessFlags        dst)
{
  VkMemoryBarrier barrier = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = src,
    .dstAccessMask = dst,
  };

  vkCmdPipelineBarrier (d->cmd, src_stage, dst_stage, 0, 1, &barrier, 0, NULL, 0, NULL);
}

void *
clipscope_vk_upload_map (ClipscopeVkDevice       *d,
                         const ClipscopeVkBuffer *dst,
                         VkDeviceSize             offset,
                         gsize                    bytes)
{
  gssize at = staging_alloc (d, bytes);
  VkBufferCopy copy = { (VkDeviceSize) MAX (at, 0), offset, bytes };

  if (at < 0)
    return NULL;
  /* The host writes reach the device at submit time (coherent memory);
   * the copy must finish before any later dispatch reads it, and must
   * not start before earlier dispatches are done with the buffer. */
  memory_barrier (d, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                  VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT,
                  VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT);
  vkCmdCopyBuffer (d->cmd, d->staging.buffer, dst->buffer, 1, &copy);
  memory_barrier (d, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                  VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                  VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
  return (char *) d->staging_map + at;
}

void
clipscope_vk_upload (ClipscopeVkDevice       *d,
                     const ClipscopeVkBuffer *dst,
                     VkDeviceSize             offset,
                     const void              *data,
                     gsize                    bytes)
{
  void *to = clipscope_vk_upload_map (d, dst, offset, bytes);

  if (to != NULL)
    memcpy (to, data, bytes);
}

void
clipscope_vk_download (ClipscopeVkDevice       *d,
                       const ClipscopeVkBuffer *src,
                       VkDeviceSize             offset,
                       void                    *data,
                       gsize                    bytes)
{
  gssize at = staging_alloc (d, bytes);
  VkBufferCopy copy = { offset, (VkDeviceSize) MAX (at, 0), bytes };
  Download dl = { (gsize) MAX (at, 0), data, bytes };

  if (at < 0)
    return;
  memory_barrier (d, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
                  VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT);
  vkCmdCopyBuffer (d->cmd, src->buffer, d->staging.buffer, 1, &copy);
  memory_barrier (d, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                  VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
  g_array_append_val (d->downloads, dl);
}

void
clipscope_vk_dispatch (ClipscopeVkDevice             *d,
                       ClipscopeVkKernel              kernel,
                       const ClipscopeVkBuffer *const bufs[CLIPSCOPE_VK_MAX_BINDINGS],
                       const void                    *push,
                       gsize                          push_size,
                       uint32_t                       groups_x,
                       uint32_t                       groups_y)
{
  clipscope_vk_dispatch_variant (d, kernel, 0, bufs, push, push_size, groups_x, groups_y);
}

void
clipscope_vk_dispatch_variant (ClipscopeVkDevice             *d,
                               ClipscopeVkKernel              kernel,
                               uint32_t                       variant,
                               const ClipscopeVkBuffer *const bufs[CLIPSCOPE_VK_MAX_BINDINGS],
                               const void                    *push,
                               gsize                          push_size,
                               uint32_t                       groups_x,
                               uint32_t                       groups_y)
{
  VkDescriptorSetAllocateInfo alloc = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
    .descriptorPool = d->descriptor_pool,
    .descriptorSetCount = 1,
    .pSetLayouts = &d->set_layout,
  };
  VkDescriptorBufferInfo infos[CLIPSCOPE_VK_MAX_BINDINGS];
  VkWriteDescriptorSet writes[CLIPSCOPE_VK_MAX_BINDINGS + 2];
  VkBufferView views[2];
  VkDescriptorSet set;
  VkPipeline pipeline;
  VkResult r;

  g_assert (push_size <= PUSH_BYTES);
  if (d->error != NULL || groups_x == 0 || groups_y == 0)
    return;
  if (groups_x > d->props.limits.maxComputeWorkGroupCount[0]
      || groups_y > d->props.limits.maxComputeWorkGroupCount[1])
    {
      g_set_error (&d->error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT,
                   "Vulkan: %u × %u workgroups exceed the device limit of %u × %u",
                   groups_x, groups_y, d->props.limits.maxComputeWorkGroupCount[0],
                   d->props.limits.maxComputeWorkGroupCount[1]);
      return;
    }
  if ((pipeline = get_pipeline (d, kernel, variant)) == VK_NULL_HANDLE)
    return;
  if ((r = vkAllocateDescriptorSets (d->device, &alloc, &set)) != VK_SUCCESS)
    {
      record_error (d, r, "vkAllocateDescriptorSets");
      return;
    }
  for (int i = 0; i < CLIPSCOPE_VK_MAX_BINDINGS; i++)
    {
      const ClipscopeVkBuffer *b = bufs[i] != NULL ? bufs[i] : &d->dummy;

      infos[i] = (VkDescriptorBufferInfo) { b->buffer, 0, VK_WHOLE_SIZE };
      writes[i] = (VkWriteDescriptorSet) {
        .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
        .dstSet = set,
        .dstBinding = i,
        .descriptorCount = 1,
        .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
        .pBufferInfo = &infos[i],
      };
    }
  for (int i = 0; d->texel && i < 2; i++)
    {
      const ClipscopeVkBuffer *b = bufs[i] != NULL && bufs[i]->view != VK_NULL_HANDLE ? bufs[i] : &d->dummy;

      views[i] = b->view;
      writes[CLIPSCOPE_VK_MAX_BINDINGS + i] = (VkWriteDescriptorSet) {
        .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
        .dstSet = set,
        .dstBinding = CLIPSCOPE_VK_MAX_BINDINGS + i,
        .descriptorCount = 1,
        .descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
        .pTexelBufferView = &views[i],
      };
    }
  vkUpdateDescriptorSets (d->device, CLIPSCOPE_VK_MAX_BINDINGS + (d->texel ? 2 : 0), writes, 0, NULL);
  /* Each kernel reads what the previous ones wrote. */
  memory_barrier (d, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                  VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT,
                  VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                  VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
  vkCmdBindPipeline (d->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
  vkCmdBindDescriptorSets (d->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, d->pipeline_layout, 0, 1,
                           &set, 0, NULL);
  vkCmdPushConstants (d->cmd, d->pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                      (uint32_t) push_size, push);
  if (d->profile_pool != VK_NULL_HANDLE && d->timed->len < MAX_SETS)
    {
      const char *name;

      clipscope_vk_shader_code (kernel, &(gsize) { 0 }, &name);
      vkCmdWriteTimestamp (d->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, d->profile_pool,
                           2 * d->timed->len);
      vkCmdDispatch (d->cmd, groups_x, groups_y, 1);
      vkCmdWriteTimestamp (d->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, d->profile_pool,
                           2 * d->timed->len + 1);
      g_ptr_array_add (d->timed, d->label != NULL ? g_steal_pointer (&d->label) : g_strdup (name));
      return;
    }
  vkCmdDispatch (d->cmd, groups_x, groups_y, 1);
}

gboolean
clipscope_vk_submit_wait (ClipscopeVkDevice *d,
                          GError           **error)
{
  VkSubmitInfo submit = {
    .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
    .commandBufferCount = 1,
    .pCommandBuffers = &d->cmd,
  };
  int before = clipscope_vk_device_validation_messages (d);
  VkResult r = vkEndCommandBuffer (d->cmd);

  if (d->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&d->error));
      return FALSE;
    }
  if (!clipscope_vk_check (r, "vkEndCommandBuffer", error)
      || !clipscope_vk_check (vkResetFences (d->device, 1, &d->fence), "vkResetFences", error)
      || !clipscope_vk_check (vkQueueSubmit (d->queue, 1, &submit, d->fence), "vkQueueSubmit", error)
      || !clipscope_vk_check (vkWaitForFences (d->device, 1, &d->fence, VK_TRUE, UINT64_MAX),
                              "vkWaitForFences", error))
    return FALSE;
  for (guint i = 0; i < d->downloads->len; i++)
    {
      Download *dl = &g_array_index (d->downloads, Download, i);
      memcpy (dl->data, (char *) d->staging_map + dl->staging_offset, dl->bytes);
    }
  if (d->profile_pool != VK_NULL_HANDLE)
    profile_collect (d);
  if (clipscope_vk_device_validation_messages (d) > 0)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_BACKEND,
                   "Vulkan: the validation layer reported %d messages (%d before this submit)",
                   clipscope_vk_device_validation_messages (d), before);
      return FALSE;
    }
  return TRUE;
}
