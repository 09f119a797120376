/* clipscope-models.c — the model store as the windows share it
 *
 * One store serves every window and the Preferences: it holds only its
 * configuration and reads the disk on each call, so what one of them
 * installs or removes, the others see the next time they look.
 */
#include "clipscope-models.h"
#include <glib/gi18n.h>

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

/**
 * clipscope_models_dup_display_name:
 * @dir: (nullable): a model folder
 *
 * Returns: (transfer full) (nullable): what to call the model in @dir: a
 *   model of the store by its name ("clip-vit-base-patch32"), any other
 *   folder by its base name
 */
char *
clipscope_models_dup_display_name (const char *dir)
{
  g_autoptr(ClipscopeModelEntry) entry = NULL;

  if (dir == NULL)
    return NULL;
  entry = clipscope_models_find_folder (clipscope_models_get_store (), dir);
  return entry != NULL ? g_strdup (entry->name) : g_path_get_basename (dir);
}

/**
 * clipscope_models_menu_append:
 * @action: a detailed action that takes the folder as a string
 *
 * Appends an item that runs @action on the model in @dir.
 */
void
clipscope_models_menu_append (GMenu      *section,
                              const char *label,
                              const char *action,
                              const char *dir)
{
  /* Menu labels read "_" as a mnemonic; model names may hold one. */
  g_auto(GStrv) parts = g_strsplit (label, "_", -1);
  g_autofree char *escaped = g_strjoinv ("__", parts);
  g_autoptr(GMenuItem) item = g_menu_item_new (escaped, NULL);

  g_menu_item_set_action_and_target (item, action, "s", dir);
  g_menu_append_item (section, item);
}

/**
 * clipscope_models_menu_new_installed:
 * @entries: (element-type ClipscopeModelEntry): the store's list
 * @action: what the items run, as in clipscope_models_menu_append()
 *
 * Returns: (transfer full): a menu section of the installed models of
 *   @entries, in their order; the bundled one says what it is
 */
GMenu *
clipscope_models_menu_new_installed (GPtrArray  *entries,
                                     const char *action)
{
  GMenu *section = g_menu_new ();

  for (guint i = 0; i < entries->len; i++)
    {
      ClipscopeModelEntry *e = g_ptr_array_index (entries, i);
      const char *label = e->source == CLIPSCOPE_MODEL_SOURCE_BUNDLED ? e->description : e->name;

      if (e->installed)
        clipscope_models_menu_append (section, label, action, e->path);
    }
  return section;
}

/**
 * clipscope_models_choose_folder:
 * @parent: the window asking
 * @chosen: (scope async): called with @parent and the folder, unless the
 *   person cancels or @parent is gone by then
 *
 * Asks for a model folder in a modal file chooser.
 */
void
clipscope_models_choose_folder (GtkWindow               *parent,
                                ClipscopePathChosenFunc  chosen)
{
  clipscope_choose_folder (GTK_WIDGET (parent), _("Open Model Folder"), _("_Open"), chosen, parent);
}
