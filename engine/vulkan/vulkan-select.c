/* vulkan-select.c — which device runs the encoders, and the pipeline cache
 *
 * Devices are ranked discrete GPU > integrated GPU > virtual GPU > CPU
 * (lavapipe) > other, among those that are usable: Vulkan 1.1 and a queue
 * with compute. CLIPSCOPE_VULKAN_DEVICE=<index|name substring> picks one
 * explicitly, and naming a device that does not exist is an error rather
 * than a silent choice of another.
 */
#include "vulkan-private.h"

#include <errno.h>
#include <string.h>

typedef struct {
  VkPhysicalDeviceProperties props;
  int                        queue_family;   /* -1: none with compute */
  gboolean                   usable;
  const char                *why_not;
} Candidate;

static int
type_rank (VkPhysicalDeviceType type)
{
  switch (type)
    {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
    }
}

static const char *
type_name (VkPhysicalDeviceType type)
{
  switch (type)
    {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete-gpu";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated-gpu";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual-gpu";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
    }
}

static void
inspect (VkPhysicalDevice dev,
         Candidate       *c)
{
  uint32_t n = 0;
  g_autofree VkQueueFamilyProperties *families = NULL;

  vkGetPhysicalDeviceProperties (dev, &c->props);
  vkGetPhysicalDeviceQueueFamilyProperties (dev, &n, NULL);
  families = g_new0 (VkQueueFamilyProperties, n + 1);
  vkGetPhysicalDeviceQueueFamilyProperties (dev, &n, families);
  c->queue_family = -1;
  for (uint32_t i = 0; i < n && c->queue_family < 0; i++)
    if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT)
      c->queue_family = (int) i;
  c->usable = FALSE;
  if (c->props.apiVersion < VK_API_VERSION_1_1)
    c->why_not = "needs Vulkan 1.1";
  else if (c->queue_family < 0)
    c->why_not = "has no compute queue";
  else
    c->usable = TRUE;
}

static GArray *
list_candidates (VkInstance         instance,
                 VkPhysicalDevice **devices,
                 GError           **error)
{
  uint32_t n = 0;
  GArray *out;

  if (!clipscope_vk_check (vkEnumeratePhysicalDevices (instance, &n, NULL),
                           "vkEnumeratePhysicalDevices", error))
    return NULL;
  *devices = g_new0 (VkPhysicalDevice, n + 1);
  if (!clipscope_vk_check (vkEnumeratePhysicalDevices (instance, &n, *devices),
                           "vkEnumeratePhysicalDevices", error))
    {
      g_clear_pointer (devices, g_free);
      return NULL;
    }
  out = g_array_sized_new (FALSE, TRUE, sizeof (Candidate), n);
  g_array_set_size (out, n);
  for (uint32_t i = 0; i < n; i++)
    inspect ((*devices)[i], &g_array_index (out, Candidate, i));
  return out;
}

/* The index CLIPSCOPE_VULKAN_DEVICE names: a number, or a case-insensitive
 * substring of the device name. -1: unset; -2: set but matching none. */
static int
requested_index (GArray *cands)
{
  const char *want = g_getenv ("CLIPSCOPE_VULKAN_DEVICE");
  g_autofree char *want_lower = NULL;
  char *end = NULL;
  guint64 idx;

  if (want == NULL || *want == '\0')
    return -1;
  errno = 0;
  idx = g_ascii_strtoull (want, &end, 10);
  if (errno == 0 && end != want && *end == '\0')
    return idx < cands->len ? (int) idx : -2;
  want_lower = g_ascii_strdown (want, -1);
  for (guint i = 0; i < cands->len; i++)
    {
      g_autofree char *name = g_ascii_strdown (g_array_index (cands, Candidate, i).props.deviceName, -1);
      if (strstr (name, want_lower) != NULL)
        return (int) i;
    }
  return -2;
}

/* The chosen index, or -1 with @why saying why none is. */
static int
pick (GArray      *cands,
      const char **why)
{
  int req = requested_index (cands), best = -1;

  if (req == -2)
    {
      *why = "no device matches CLIPSCOPE_VULKAN_DEVICE";
      return -1;
    }
  if (req >= 0)
    {
      Candidate *c = &g_array_index (cands, Candidate, req);
      *why = c->usable ? "named by CLIPSCOPE_VULKAN_DEVICE" : c->why_not;
      return c->usable ? req : -1;
    }
  for (guint i = 0; i < cands->len; i++)
    {
      Candidate *c = &g_array_index (cands, Candidate, i);
      if (c->usable && (best < 0 || type_rank (c->props.deviceType)
                                    > type_rank (g_array_index (cands, Candidate, best).props.deviceType)))
        best = (int) i;
    }
  *why = best >= 0 ? "the best ranked usable device" : "no usable Vulkan device";
  return best;
}

gboolean
clipscope_vk_choose_device (VkInstance        instance,
                            gboolean          allow_cpu,
                            VkPhysicalDevice *device,
                            uint32_t         *queue_family,
                            GError          **error)
{
  g_autofree VkPhysicalDevice *devices = NULL;
  g_autoptr(GArray) cands = list_candidates (instance, &devices, error);
  const char *why = NULL;
  int i;

  if (cands == NULL)
    return FALSE;
  if ((i = pick (cands, &why)) < 0)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_BACKEND,
                   "Vulkan: %s (%u devices found%s%s)", why, cands->len,
                   g_getenv ("CLIPSCOPE_VULKAN_DEVICE") ? ", CLIPSCOPE_VULKAN_DEVICE=" : "",
                   g_getenv ("CLIPSCOPE_VULKAN_DEVICE") ? g_getenv ("CLIPSCOPE_VULKAN_DEVICE") : "");
      return FALSE;
    }
  if (!allow_cpu && g_getenv ("CLIPSCOPE_VULKAN_DEVICE") == NULL
      && g_array_index (cands, Candidate, i).props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "Vulkan: %s is a CPU implementation, slower than the CPU backend",
                   g_array_index (cands, Candidate, i).props.deviceName);
      return FALSE;
    }
  *device = devices[i];
  *queue_family = (uint32_t) g_array_index (cands, Candidate, i).queue_family;
  return TRUE;
}

static char *
driver_version (const VkPhysicalDeviceProperties *p)
{
  return g_strdup_printf ("Vulkan %u.%u.%u, driver 0x%x", VK_API_VERSION_MAJOR (p->apiVersion),
                          VK_API_VERSION_MINOR (p->apiVersion), VK_API_VERSION_PATCH (p->apiVersion),
                          p->driverVersion);
}

ClipscopeVulkanDevice *
clipscope_vulkan_list_devices (int     *n_devices,
                               GError **error)
{
  VkInstance instance;
  g_autofree VkPhysicalDevice *devices = NULL;
  g_autoptr(GArray) cands = NULL;
  ClipscopeVulkanDevice *out;
  const char *why = NULL;
  int chosen;

  g_return_val_if_fail (n_devices != NULL, NULL);

  *n_devices = 0;
  if ((instance = clipscope_vk_instance_get (error)) == VK_NULL_HANDLE)
    return NULL;
  cands = list_candidates (instance, &devices, error);
  if (cands == NULL)
    return NULL;
  chosen = pick (cands, &why);
  out = g_new0 (ClipscopeVulkanDevice, cands->len + 1);
  for (guint i = 0; i < cands->len; i++)
    {
      Candidate *c = &g_array_index (cands, Candidate, i);

      out[i].index = (int) i;
      out[i].name = g_strdup (c->props.deviceName);
      out[i].type = g_strdup (type_name (c->props.deviceType));
      out[i].driver = driver_version (&c->props);
      out[i].usable = c->usable;
      out[i].selected = (int) i == chosen;
      out[i].reason = g_strdup ((int) i == chosen ? why
                                : !c->usable ? c->why_not
                                : chosen >= 0 ? "another device ranks higher or was named" : why);
      if ((int) i == chosen && c->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU
          && g_getenv ("CLIPSCOPE_VULKAN_DEVICE") == NULL)
        {
          g_free (out[i].reason);
          out[i].reason = g_strdup_printf ("%s; a CPU implementation, so --backend auto uses "
                                           "the CPU backend instead", why);
        }
    }
  *n_devices = (int) cands->len;
  return out;
}

void
clipscope_vulkan_devices_free (ClipscopeVulkanDevice *devices,
                               int                    n_devices)
{
  for (int i = 0; devices != NULL && i < n_devices; i++)
    {
      g_free (devices[i].name);
      g_free (devices[i].type);
      g_free (devices[i].driver);
      g_free (devices[i].reason);
    }
  g_free (devices);
}

/* ------------------------------------------------------ pipeline cache */

static char *
cache_path (const VkPhysicalDeviceProperties *p)
{
  g_autofree char *uuid = g_malloc0 (2 * VK_UUID_SIZE + 1);
  g_autofree char *file = NULL;

  for (guint i = 0; i < VK_UUID_SIZE; i++)
    g_snprintf (uuid + 2 * i, 3, "%02x", p->pipelineCacheUUID[i]);
  file = g_strdup_printf ("vulkan-%04x-%04x-%08x-%s.cache", p->vendorID, p->deviceID,
                          p->driverVersion, uuid);
  return g_build_filename (g_get_user_cache_dir (), "clipscope", file, NULL);
}

/* The header every pipeline cache starts with must name this device and
 * driver; a file that does not is ignored whole. */
static gboolean
header_matches (const guint8                     *data,
                gsize                             len,
                const VkPhysicalDeviceProperties *p)
{
  uint32_t words[4];

  if (len < 16 + VK_UUID_SIZE)
    return FALSE;
  memcpy (words, data, sizeof words);
  return words[0] >= 16 + VK_UUID_SIZE && words[0] <= len
         && words[1] == VK_PIPELINE_CACHE_HEADER_VERSION_ONE
         && words[2] == p->vendorID && words[3] == p->deviceID
         && memcmp (data + 16, p->pipelineCacheUUID, VK_UUID_SIZE) == 0;
}

void
clipscope_vk_pipeline_cache_load (VkDevice                          device,
                                  const VkPhysicalDeviceProperties *props,
                                  VkPipelineCache                  *cache)
{
  g_autofree char *path = cache_path (props);
  g_autofree char *data = NULL;
  gsize len = 0;
  VkPipelineCacheCreateInfo info = { .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO };

  if (g_file_get_contents (path, &data, &len, NULL) && header_matches ((guint8 *) data, len, props))
    {
      info.initialDataSize = len;
      info.pInitialData = data;
    }
  if (vkCreatePipelineCache (device, &info, NULL, cache) == VK_SUCCESS)
    return;
  /* A driver that rejects the data still gets to build without it. */
  info.initialDataSize = 0;
  info.pInitialData = NULL;
  if (vkCreatePipelineCache (device, &info, NULL, cache) != VK_SUCCESS)
    *cache = VK_NULL_HANDLE;
}

void
clipscope_vk_pipeline_cache_save (VkDevice                          device,
                                  const VkPhysicalDeviceProperties *props,
                                  VkPipelineCache                   cache)
{
  g_autofree char *path = cache_path (props);
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *data = NULL;
  size_t len = 0;

  /* The cache only saves time: every failure here is ignored. */
  if (cache == VK_NULL_HANDLE
      || vkGetPipelineCacheData (device, cache, &len, NULL) != VK_SUCCESS || len == 0)
    return;
  data = g_malloc (len);
  if (vkGetPipelineCacheData (device, cache, &len, data) != VK_SUCCESS
      || g_mkdir_with_parents (dir, 0700) != 0)
    return;
  g_file_set_contents (path, data, len, NULL);
}
