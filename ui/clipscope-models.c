/* clipscope-models.c — the model store as the windows share it
 *
 * One store serves every window and the Preferences: it holds only its
 * configuration and reads the disk on each call, so what one of them
 * installs or removes, the others see the next time they look.
 */
#include "clipscope-models.h"

#include <stdlib.h>

/**
 * clipscope_models_get_store:
 *
 * Returns the application's model store, created on first use from the
 * environment (`XDG_DATA_HOME`, `CLIPSCOPE_DATA_DIR`, `HF_ENDPOINT`,
 * `HF_TOKEN`). Main thread only.
 *
 * Returns: (transfer none): the store
 */
ClipscopeModelStore *
clipscope_models_get_store (void)
{
  static ClipscopeModelStore *store;

  if (store == NULL)
    store = clipscope_model_store_new (NULL);
  return store;
}

/**
 * clipscope_models_same_folder:
 *
 * Whether @a and @b name the same folder. An added local folder is a
 * symbolic link in the models folder while a window may have loaded its
 * target, so the paths are compared once resolved.
 */
gboolean
clipscope_models_same_folder (const char *a,
                              const char *b)
{
  g_autofree char *real_a = NULL;
  g_autofree char *real_b = NULL;

  if (a == NULL || b == NULL)
    return FALSE;
  if (g_strcmp0 (a, b) == 0)
    return TRUE;
  real_a = realpath (a, NULL);
  real_b = realpath (b, NULL);
  return real_a != NULL && g_strcmp0 (real_a, real_b) == 0;
}

/**
 * clipscope_models_find_folder:
 * @dir: (nullable): a model folder
 *
 * Finds the installed model whose folder is @dir, to call it by its name.
 *
 * Returns: (transfer full) (nullable): its entry, or %NULL when @dir is a
 *   folder the store does not know
 */
ClipscopeModelEntry *
clipscope_models_find_folder (ClipscopeModelStore *store,
                              const char          *dir)
{
  g_autoptr(GPtrArray) entries = NULL;

  if (dir == NULL)
    return NULL;
  entries = clipscope_model_store_list (store);
  for (guint i = 0; i < entries->len; i++)
    {
      ClipscopeModelEntry *entry = g_ptr_array_index (entries, i);

      if (entry->installed && clipscope_models_same_folder (entry->path, dir))
        return g_ptr_array_steal_index (entries, i);
    }
  return NULL;
}
