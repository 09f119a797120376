/* fuzz-config.c — config.json and open_clip_config.json mapping
 *
 * The first byte picks the layout; the rest is written as that layout's
 * configuration file into a scratch folder and read as a model folder
 * would be. Only the configuration is read: the weights file is empty.
 */
#include "model.h"
#include "fuzz-common.h"

#include <glib/gstdio.h>

static char *
scratch_folder (void)
{
  static char *dir;

  if (dir == NULL)
    {
      dir = g_dir_make_tmp ("clipscope-fuzz-config-XXXXXX", NULL);
      g_assert_nonnull (dir);
    }
  return dir;
}

static void
put (const char *dir,
     const char *name,
     const void *data,
     gsize       size)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  if (data == NULL)
    g_remove (path);
  else
    g_assert_true (write_scratch (path, data, (gssize) size, NULL));
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  const char *dir = scratch_folder ();
  gboolean hf = size > 0 && (data[0] & 1) == 0;
  ClipscopeModel model = { 0 };
  g_autoptr(GError) error = NULL;

  if (size == 0)
    return 0;
  put (dir, "config.json", hf ? (const char *) data + 1 : NULL, size - 1);
  put (dir, "model.safetensors", hf ? "" : NULL, 0);
  put (dir, "open_clip_config.json", hf ? NULL : (const char *) data + 1, size - 1);
  put (dir, "open_clip_model.safetensors", hf ? NULL : "", 0);

  model.path = (char *) dir;
  if (clipscope_model_read_config (&model, &error))
    {
      /* What a config that loads promises the loader. */
      g_assert_cmpint (model.info.embed_dim, >, 0);
      g_assert_cmpint (model.preprocess.crop, >, 0);
      g_assert_cmpint (model.text.context_length, >=, 2);
    }
  return 0;
}
