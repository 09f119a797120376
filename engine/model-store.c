/* model-store.c — which models exist, where they live, and their names
 *
 * The models folder holds one entry per model:
 *
 *   NAME/               a downloaded catalogue model
 *   OWNER--REPO/        a downloaded hub repository "OWNER/REPO" (a folder
 *                       name cannot hold "/"; the hub forbids "--" in names,
 *                       so the mapping is one to one)
 *   NAME -> /some/dir   a local folder the person added
 *   .FOLDER.partial/    an interrupted download of FOLDER, resumed by the
 *                       next one
 *
 * Everything is read back from the disk on each call, so that the GUI and
 * the command-line tool, run side by side, agree.
 */
#include "model-store.h"
#include "json-check.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#ifndef CLIPSCOPE_PKGDATADIR
# define CLIPSCOPE_PKGDATADIR "/usr/share/clipscope"
#endif

#define DEFAULT_ENDPOINT  "https://huggingface.co"
#define DEFAULT_TIMEOUT_S 30
#define MAX_METADATA_BYTES (64 * 1024)
#define MAX_NAME_LENGTH    96

G_DEFINE_QUARK (clipscope-store-error-quark, clipscope_store_error)

/* ------------------------------------------------------------- catalogue */

#define MB (1000 * 1000)

/* The sizes are approximate: the weights' parameter count times four
 * bytes (all are stored as float32), plus the tokenizer and configuration
 * files (about 1.4 MB for CLIP's BPE, 0.8 MB for SigLIP's SentencePiece
 * model, 4.3 MB for the multilingual one, 4.2 MB for SigLIP 2's Gemma
 * tokenizer.model, 0.1 MB for Chinese-CLIP's vocabulary). The
 * exact sizes come from the hub's file listing when a download starts.
 *
 * OpenAI's ViT-B/32 repository has only a PyTorch pickle on its main
 * branch; its safetensors weights are on the hub's conversion pull request,
 * which the downloader finds by itself (see download.c). The RN50 in
 * open_clip layout comes from timm's repository, which has no tokenizer
 * files: the downloader takes OpenAI's, the one open_clip uses for it.
 *
 * The ImageNet figures are zero-shot top-1 accuracies as published:
 * open_clip's benchmark table for SigLIP, the SigLIP 2 release for SigLIP
 * 2, Chinese-CLIP's results (with Chinese class names) for Chinese-CLIP. */
static const ClipscopeCatalogueModel catalogue[] = {
  {
    "clip-vit-base-patch32", "openai/clip-vit-base-patch32", "main", CLIPSCOPE_FORMAT_HF,
    CLIPSCOPE_FAMILY_CLIP, 606 * (int64_t) MB,
    "OpenAI ViT-B/32: the quickest ViT; a good first model for photos and everyday labels",
  },
  {
    "clip-vit-base-patch16", "openai/clip-vit-base-patch16", "main", CLIPSCOPE_FORMAT_HF,
    CLIPSCOPE_FAMILY_CLIP, 600 * (int64_t) MB,
    "OpenAI ViT-B/16: as large as B/32 but with 4× the patches: better on small details, slower",
  },
  {
    "clip-vit-large-patch14", "openai/clip-vit-large-patch14", "main", CLIPSCOPE_FORMAT_HF,
    CLIPSCOPE_FAMILY_CLIP, 1712 * (int64_t) MB,
    "OpenAI ViT-L/14: the most accurate CLIP here; needs about 2 GB of memory and a GPU to be quick",
  },
  {
    "clip-vit-b-32-laion2b", "laion/CLIP-ViT-B-32-laion2B-s34B-b79K", "main", CLIPSCOPE_FORMAT_OPEN_CLIP,
    CLIPSCOPE_FAMILY_CLIP, 607 * (int64_t) MB,
    "LAION ViT-B/32 (open_clip), trained on the open LAION-2B set: "
    "ahead of OpenAI's B/32 on ImageNet zero-shot (66.6% against 63.2%)",
  },
  {
    "clip-rn50-openai", "timm/resnet50_clip.openai", "main", CLIPSCOPE_FORMAT_OPEN_CLIP,
    CLIPSCOPE_FAMILY_CLIP, 410 * (int64_t) MB,
    "OpenAI RN50 (open_clip): a ResNet-50 image tower, the smallest download; "
    "less accurate than the ViTs",
  },
  {
    "siglip-base-patch16-224", "google/siglip-base-patch16-224", "main", CLIPSCOPE_FORMAT_HF,
    CLIPSCOPE_FAMILY_SIGLIP, 814 * (int64_t) MB,
    "Google SigLIP B/16: CLIP B/16's size, far more accurate (76.0% on ImageNet zero-shot "
    "against 68.3%); each label's probability stands on its own",
  },
  {
    "siglip-so400m-patch14-384", "google/siglip-so400m-patch14-384", "main", CLIPSCOPE_FORMAT_HF,
    CLIPSCOPE_FAMILY_SIGLIP, 3513 * (int64_t) MB,
    "Google SigLIP So400m/14 at 384 px: the most accurate model here (83.1% on ImageNet "
    "zero-shot); about 3.5 GB of memory, a GPU to be quick",
  },
  {
    "siglip-base-patch16-256-multilingual", "google/siglip-base-patch16-256-multilingual", "main",
    CLIPSCOPE_FORMAT_HF, CLIPSCOPE_FAMILY_SIGLIP, 1487 * (int64_t) MB,
    "Google SigLIP B/16 multilingual: labels in over 100 languages, Chinese, Japanese and German "
    "among them (75.1% on ImageNet zero-shot in English)",
  },
  {
    "siglip2-base-patch16-224", "google/siglip2-base-patch16-224", "main", CLIPSCOPE_FORMAT_HF,
    CLIPSCOPE_FAMILY_SIGLIP, 1505 * (int64_t) MB,
    "Google SigLIP 2 B/16: SigLIP's successor, better at the same speed (78.2% on ImageNet "
    "zero-shot) and multilingual; its large vocabulary makes it twice SigLIP B/16's download",
  },
  {
    "siglip2-so400m-patch14-384", "google/siglip2-so400m-patch14-384", "main", CLIPSCOPE_FORMAT_HF,
    CLIPSCOPE_FAMILY_SIGLIP, 4548 * (int64_t) MB,
    "Google SigLIP 2 So400m/14 at 384 px: the largest here, multilingual (84.1% on ImageNet "
    "zero-shot); about 4.5 GB of memory, a GPU to be quick",
  },
  {
    "chinese-clip-vit-base-patch16", "OFA-Sys/chinese-clip-vit-base-patch16", "main", CLIPSCOPE_FORMAT_HF,
    CLIPSCOPE_FAMILY_CHINESE_CLIP, 753 * (int64_t) MB,
    "Chinese-CLIP ViT-B/16: labels and templates in Chinese (48.3% on ImageNet zero-shot with "
    "Chinese class names, where CLIP reads Chinese as noise)",
  },
};

const ClipscopeCatalogueModel *
clipscope_catalogue_get (int *n_models)
{
  *n_models = G_N_ELEMENTS (catalogue);
  return catalogue;
}

static const ClipscopeCatalogueModel *
catalogue_find (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (catalogue); i++)
    if (g_strcmp0 (catalogue[i].name, name) == 0
        || g_ascii_strcasecmp (catalogue[i].repo, name) == 0)
      return &catalogue[i];
  return NULL;
}

/* ----------------------------------------------------------------- store */

ClipscopeModelStoreOptions
clipscope_model_store_options_default (void)
{
  ClipscopeModelStoreOptions options = { NULL, NULL, NULL, NULL, 0 };

  return options;
}

static char *
strip_slashes (const char *url)
{
  g_autofree char *copy = g_strdup (url);
  gsize len = strlen (copy);

  while (len > 0 && copy[len - 1] == '/')
    copy[--len] = '\0';
  return g_steal_pointer (&copy);
}

static int
env_timeout (void)
{
  const char *value = g_getenv ("CLIPSCOPE_HTTP_TIMEOUT");
  gint64 t = value ? g_ascii_strtoll (value, NULL, 10) : 0;

  return t > 0 && t <= 3600 ? (int) t : DEFAULT_TIMEOUT_S;
}

ClipscopeModelStore *
clipscope_model_store_new (const ClipscopeModelStoreOptions *options)
{
  ClipscopeModelStoreOptions defaults = clipscope_model_store_options_default ();
  ClipscopeModelStore *store = g_new0 (ClipscopeModelStore, 1);
  const char *endpoint, *token, *data_dir;

  if (options == NULL)
    options = &defaults;
  g_atomic_ref_count_init (&store->ref_count);
  store->models_dir = options->models_dir
    ? g_strdup (options->models_dir)
    : g_build_filename (g_get_user_data_dir (), "clipscope", "models", NULL);
  data_dir = options->data_dir ? options->data_dir : g_getenv ("CLIPSCOPE_DATA_DIR");
  store->data_dir = g_strdup (data_dir && *data_dir ? data_dir : CLIPSCOPE_PKGDATADIR);
  endpoint = options->endpoint ? options->endpoint : g_getenv ("HF_ENDPOINT");
  store->endpoint = strip_slashes (endpoint && *endpoint ? endpoint : DEFAULT_ENDPOINT);
  token = options->token ? options->token : g_getenv ("HF_TOKEN");
  store->token = token && *token ? g_strdup (token) : NULL;
  store->timeout_s = options->timeout_s > 0 ? options->timeout_s : env_timeout ();
  return store;
}

ClipscopeModelStore *
clipscope_model_store_ref (ClipscopeModelStore *store)
{
  g_return_val_if_fail (store != NULL, NULL);

  g_atomic_ref_count_inc (&store->ref_count);
  return store;
}

void
clipscope_model_store_unref (ClipscopeModelStore *store)
{
  g_return_if_fail (store != NULL);

  if (!g_atomic_ref_count_dec (&store->ref_count))
    return;
  g_free (store->models_dir);
  g_free (store->data_dir);
  g_free (store->endpoint);
  g_free (store->token);
  g_free (store);
}

const char *
clipscope_model_store_get_models_dir (ClipscopeModelStore *store)
{
  g_return_val_if_fail (store != NULL, NULL);

  return store->models_dir;
}

/* ----------------------------------------------------------------- names */

/* One part of a name: what the hub allows in a repository name, less what
 * could reach outside the models folder or collide with our own files. */
static gboolean
valid_part (const char *s,
            gsize       len)
{
  if (len == 0 || len > MAX_NAME_LENGTH || !g_ascii_isalnum (s[0]))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
      return FALSE;
  return g_strstr_len (s, (gssize) len, "--") == NULL
         && g_strstr_len (s, (gssize) len, "..") == NULL;
}

static gboolean
invalid_name (const char  *name,
              GError     **error)
{
  g_set_error (error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_INVALID_NAME,
               "\"%s\" is not a model name: expected a catalogue name, a name of letters, digits, "
               "\".\", \"-\" and \"_\", or a Hugging Face repository id \"owner/name\"", name);
  return FALSE;
}

void
clipscope_model_ref_clear (ClipscopeModelRef *ref)
{
  g_clear_pointer (&ref->repo, g_free);
  g_clear_pointer (&ref->revision, g_free);
  g_clear_pointer (&ref->name, g_free);
  g_clear_pointer (&ref->folder, g_free);
}

gboolean
clipscope_model_store_parse_name (ClipscopeModelStore *store,
                                  const char          *name,
                                  ClipscopeModelRef   *ref,
                                  GError             **error)
{
  const char *slash = strchr (name, '/');

  memset (ref, 0, sizeof *ref);
  if (strcmp (name, CLIPSCOPE_BUNDLED_MODEL) == 0)
    ref->source = CLIPSCOPE_MODEL_SOURCE_BUNDLED;
  else if ((ref->catalogue = catalogue_find (name)) != NULL)
    {
      ref->source = CLIPSCOPE_MODEL_SOURCE_CATALOGUE;
      ref->repo = g_strdup (ref->catalogue->repo);
      ref->revision = g_strdup (ref->catalogue->revision);
      name = ref->catalogue->name;
    }
  else if (slash != NULL)
    {
      if (!valid_part (name, slash - name) || !valid_part (slash + 1, strlen (slash + 1)))
        return invalid_name (name, error);
      ref->source = CLIPSCOPE_MODEL_SOURCE_HUB;
      ref->repo = g_strdup (name);
      ref->revision = g_strdup ("main");
    }
  else if (!valid_part (name, strlen (name)) || g_str_has_suffix (name, CLIPSCOPE_STORE_PARTIAL))
    return invalid_name (name, error);
  else
    ref->source = CLIPSCOPE_MODEL_SOURCE_LOCAL;

  ref->name = g_strdup (name);
  if (ref->source == CLIPSCOPE_MODEL_SOURCE_HUB)
    {
      g_auto(GStrv) parts = g_strsplit (name, "/", 2);
      ref->folder = g_strjoin ("--", parts[0], parts[1], NULL);
    }
  else
    ref->folder = g_strdup (name);
  return TRUE;
}

/* ---------------------------------------------------------------- disk */

static char *
staging_path (ClipscopeModelStore *store,
              const char          *folder)
{
  g_autofree char *base = g_strconcat (".", folder, CLIPSCOPE_STORE_PARTIAL, NULL);

  return g_build_filename (store->models_dir, base, NULL);
}

/* Bytes in the regular files directly inside @dir (model folders are
 * flat), less our own hidden ones; 0 when it cannot be read. */
static int64_t
folder_bytes (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *entry;
  int64_t total = 0;

  while (d != NULL && (entry = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, entry, NULL);
      GStatBuf st;

      if (entry[0] != '.' && g_stat (path, &st) == 0 && S_ISREG (st.st_mode))
        total += st.st_size;
    }
  return total;
}

static gboolean
has_file (const char *dir,
          const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  return g_file_test (path, G_FILE_TEST_IS_REGULAR);
}

/* The layout the loader will pick, in its order. */
static gboolean
detect_format (const char      *dir,
               ClipscopeFormat *format)
{
  if (has_file (dir, "config.json") && has_file (dir, "model.safetensors"))
    *format = CLIPSCOPE_FORMAT_HF;
  else if (has_file (dir, "open_clip_config.json") && has_file (dir, "open_clip_model.safetensors"))
    *format = CLIPSCOPE_FORMAT_OPEN_CLIP;
  else
    return FALSE;
  return TRUE;
}

gboolean
clipscope_store_delete_tree (const char *path,
                             GError    **error)
{
  GStatBuf st;

  if (g_lstat (path, &st) != 0)
    return errno == ENOENT ? TRUE : FALSE;
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr(GDir) d = g_dir_open (path, 0, error);
      const char *entry;

      if (d == NULL)
        return FALSE;
      while ((entry = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, entry, NULL);
          if (!clipscope_store_delete_tree (child, error))
            return FALSE;
        }
    }
  if (g_remove (path) != 0 && errno != ENOENT)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "%s: cannot delete: %s", path, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------- metadata */

JsonNode *
clipscope_store_parse_json (const char  *name,
                            const char  *text,
                            gsize        len,
                            GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local_error = NULL;

  if (!clipscope_json_check_syntax (name, "JSON", text, len, 0, 16, CLIPSCOPE_ERROR_CONFIG, error))
    return NULL;
  if (!json_parser_load_from_data (parser, text, (gssize) len, &local_error)
      || json_parser_get_root (parser) == NULL)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_CONFIG, "%s: not valid JSON: %s", name,
                   local_error ? local_error->message : "empty");
      return NULL;
    }
  return json_node_copy (json_parser_get_root (parser));
}

gboolean
clipscope_store_write_metadata (const char              *dir,
                                const ClipscopeModelRef *ref,
                                GError                 **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *path = g_build_filename (dir, CLIPSCOPE_STORE_METADATA, NULL);
  g_autofree char *text = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, ref->name);
  json_builder_set_member_name (b, "repo");
  json_builder_add_string_value (b, ref->repo);
  json_builder_set_member_name (b, "revision");
  json_builder_add_string_value (b, ref->revision);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  return g_file_set_contents (path, text, -1, error);
}

/* The NAME and repository a downloaded folder records; FALSE when it has
 * no readable record (a folder someone put there by hand). */
static gboolean
read_metadata (const char  *dir,
               char       **name,
               char       **repo)
{
  g_autofree char *path = g_build_filename (dir, CLIPSCOPE_STORE_METADATA, NULL);
  g_autofree char *text = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *obj;
  gsize len;

  if (!g_file_get_contents (path, &text, &len, NULL) || len > MAX_METADATA_BYTES
      || (root = clipscope_store_parse_json (path, text, len, NULL)) == NULL
      || !JSON_NODE_HOLDS_OBJECT (root))
    return FALSE;
  obj = json_node_get_object (root);
  *name = g_strdup (json_object_get_string_member_with_default (obj, "name", NULL));
  *repo = g_strdup (json_object_get_string_member_with_default (obj, "repo", NULL));
  return *name != NULL;
}

/* --------------------------------------------------------------- entries */

void
clipscope_model_entry_free (ClipscopeModelEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->name);
  g_free (entry->description);
  g_free (entry->repo);
  g_free (entry->path);
  g_free (entry);
}

/* Takes @description. */
static ClipscopeModelEntry *
entry_new (const char           *name,
           const char           *repo,
           ClipscopeModelSource  source,
           char                 *description)
{
  ClipscopeModelEntry *e = g_new0 (ClipscopeModelEntry, 1);

  e->name = g_strdup (name);
  e->repo = g_strdup (repo);
  e->description = description;
  e->source = source;
  e->removable = source != CLIPSCOPE_MODEL_SOURCE_BUNDLED;
  return e;
}

/* The folder itself for an added local folder, which is a link. */
static char *
follow_link (const char *path)
{
  g_autofree char *target = g_file_read_link (path, NULL);

  return target ? g_steal_pointer (&target) : g_strdup (path);
}

/* Fills the fields that depend on what is on disk at @path. */
static void
entry_set_installed (ClipscopeModelEntry *e,
                     const char          *path)
{
  e->installed = g_file_test (path, G_FILE_TEST_IS_DIR);
  if (!e->installed)
    return;
  g_free (e->path);
  e->path = follow_link (path);
  e->size = folder_bytes (path);
  e->size_is_estimate = FALSE;
  e->format_known = detect_format (path, &e->format);
}

static char *
bundled_path (ClipscopeModelStore *store)
{
  return g_build_filename (store->data_dir, "models", CLIPSCOPE_BUNDLED_MODEL, NULL);
}

static ClipscopeModelEntry *
bundled_entry (ClipscopeModelStore *store)
{
  g_autofree char *path = bundled_path (store);
  ClipscopeModelEntry *e = entry_new (CLIPSCOPE_BUNDLED_MODEL, NULL, CLIPSCOPE_MODEL_SOURCE_BUNDLED,
                                      g_strdup ("Emoji demo — small model trained on emoji; "
                                                "download a CLIP model for photos"));

  e->family = CLIPSCOPE_FAMILY_CLIP;
  e->family_known = TRUE;
  entry_set_installed (e, path);
  return e;
}

static ClipscopeModelEntry *
catalogue_entry (ClipscopeModelStore           *store,
                 const ClipscopeCatalogueModel *model)
{
  g_autofree char *path = g_build_filename (store->models_dir, model->name, NULL);
  g_autofree char *staging = staging_path (store, model->name);
  ClipscopeModelEntry *e = entry_new (model->name, model->repo, CLIPSCOPE_MODEL_SOURCE_CATALOGUE,
                                      g_strdup (model->description));

  e->format = model->format;
  e->format_known = TRUE;
  e->family = model->family;
  e->family_known = TRUE;
  e->size = model->size;
  e->size_is_estimate = TRUE;
  entry_set_installed (e, path);
  e->partial_bytes = e->installed ? 0 : folder_bytes (staging);
  return e;
}

static ClipscopeModelEntry *
hub_entry (const char *name,
           const char *repo)
{
  return entry_new (name, repo, CLIPSCOPE_MODEL_SOURCE_HUB,
                    g_strdup_printf ("Hugging Face repository %s", repo));
}

static ClipscopeModelEntry *
local_entry (const char *name,
             const char *path)
{
  g_autofree char *target = follow_link (path);
  ClipscopeModelEntry *e = entry_new (name, NULL, CLIPSCOPE_MODEL_SOURCE_LOCAL,
                                      g_strdup_printf ("Local folder %s", target));

  entry_set_installed (e, path);
  return e;
}

/* The entry of one item of the models folder that is not a catalogue
 * model, or NULL for what is not a model. */
static ClipscopeModelEntry *
scan_entry (ClipscopeModelStore *store,
            const char          *base)
{
  g_autofree char *path = g_build_filename (store->models_dir, base, NULL);
  g_autofree char *name = NULL, *repo = NULL;
  ClipscopeModelEntry *e;
  gsize len = strlen (base);
  gboolean partial = base[0] == '.' && g_str_has_suffix (base, CLIPSCOPE_STORE_PARTIAL);

  if (g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    return base[0] != '.' ? local_entry (base, path) : NULL;
  if ((base[0] == '.' && !partial) || !g_file_test (path, G_FILE_TEST_IS_DIR))
    return NULL;
  if (!read_metadata (path, &name, &repo) || repo == NULL)
    return partial ? NULL : local_entry (base, path);
  if (catalogue_find (name) != NULL)
    return NULL;
  e = hub_entry (name, repo);
  if (partial)
    {
      g_autofree char *folder = g_strndup (base + 1, len - 1 - strlen (CLIPSCOPE_STORE_PARTIAL));
      g_autofree char *final = g_build_filename (store->models_dir, folder, NULL);

      /* A finished download also lists its folder; skip its leftovers. */
      if (g_file_test (final, G_FILE_TEST_IS_DIR))
        {
          clipscope_model_entry_free (e);
          return NULL;
        }
      e->partial_bytes = folder_bytes (path);
    }
  else
    entry_set_installed (e, path);
  return e;
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return g_strcmp0 (*(const char * const *) a, *(const char * const *) b);
}

GPtrArray *
clipscope_model_store_list (ClipscopeModelStore *store)
{
  GPtrArray *entries = g_ptr_array_new_with_free_func ((GDestroyNotify) clipscope_model_entry_free);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GDir) d = NULL;
  g_autoptr(ClipscopeModelEntry) bundled = NULL;
  const char *base;

  g_return_val_if_fail (store != NULL, NULL);

  bundled = bundled_entry (store);
  if (bundled->installed)
    g_ptr_array_add (entries, g_steal_pointer (&bundled));
  for (gsize i = 0; i < G_N_ELEMENTS (catalogue); i++)
    g_ptr_array_add (entries, catalogue_entry (store, &catalogue[i]));

  d = g_dir_open (store->models_dir, 0, NULL);
  while (d != NULL && (base = g_dir_read_name (d)) != NULL)
    if (catalogue_find (base) == NULL)
      g_ptr_array_add (names, g_strdup (base));
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      ClipscopeModelEntry *e = scan_entry (store, g_ptr_array_index (names, i));
      if (e != NULL)
        g_ptr_array_add (entries, e);
    }
  return entries;
}

ClipscopeModelEntry *
clipscope_model_store_lookup (ClipscopeModelStore *store,
                              const char          *name,
                              GError             **error)
{
  g_auto(ClipscopeModelRef) ref = { 0 };
  g_autofree char *path = NULL, *staging = NULL;
  ClipscopeModelEntry *e;

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  if (!clipscope_model_store_parse_name (store, name, &ref, error))
    return NULL;
  if (ref.source == CLIPSCOPE_MODEL_SOURCE_BUNDLED)
    return bundled_entry (store);
  if (ref.catalogue != NULL)
    return catalogue_entry (store, ref.catalogue);
  path = g_build_filename (store->models_dir, ref.folder, NULL);
  if (ref.source == CLIPSCOPE_MODEL_SOURCE_LOCAL)
    return local_entry (ref.name, path);
  e = hub_entry (ref.name, ref.repo);
  entry_set_installed (e, path);
  staging = staging_path (store, ref.folder);
  e->partial_bytes = e->installed ? 0 : folder_bytes (staging);
  return e;
}

/* --------------------------------------------------------------- resolve */

static gboolean
not_installed (const char  *name,
               GError     **error)
{
  g_set_error (error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_NOT_INSTALLED,
               "model \"%s\" is not installed", name);
  return FALSE;
}

char *
clipscope_model_store_get_default (ClipscopeModelStore *store,
                                   GError             **error)
{
  g_autofree char *path = NULL;

  g_return_val_if_fail (store != NULL, NULL);

  path = bundled_path (store);
  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_NOT_INSTALLED,
                   "the bundled model \"%s\" is not installed: %s does not exist",
                   CLIPSCOPE_BUNDLED_MODEL, path);
      return NULL;
    }
  return g_steal_pointer (&path);
}

char *
clipscope_model_store_resolve (ClipscopeModelStore *store,
                               const char          *name,
                               GError             **error)
{
  g_auto(ClipscopeModelRef) ref = { 0 };
  g_autofree char *path = NULL;

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  if (!clipscope_model_store_parse_name (store, name, &ref, error))
    return NULL;
  if (ref.source == CLIPSCOPE_MODEL_SOURCE_BUNDLED)
    return clipscope_model_store_get_default (store, error);
  path = g_build_filename (store->models_dir, ref.folder, NULL);
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    return follow_link (path);
  if (g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_autofree char *target = g_file_read_link (path, NULL);
      g_set_error (error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_NOT_INSTALLED,
                   "model \"%s\" is the local folder %s, which no longer exists",
                   ref.name, target ? target : path);
      return NULL;
    }
  not_installed (ref.name, error);
  return NULL;
}

/* ---------------------------------------------------------------- remove */

/* Renames the folder away first, so that it disappears at once and a
 * failure half-way through deleting leaves no half model under its name. */
static gboolean
remove_folder (ClipscopeModelStore *store,
               const char          *path,
               GError             **error)
{
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *tmpl = g_strdup_printf (".%s.removing-XXXXXX", base);
  g_autofree char *trash = g_build_filename (store->models_dir, tmpl, NULL);
  int fd = g_mkstemp (trash);

  if (fd < 0)
    return clipscope_store_delete_tree (path, error);
  close (fd);
  g_remove (trash);
  if (g_rename (path, trash) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "%s: cannot remove: %s", path, g_strerror (saved));
      return FALSE;
    }
  return clipscope_store_delete_tree (trash, error);
}

gboolean
clipscope_model_store_remove (ClipscopeModelStore *store,
                              const char          *name,
                              GError             **error)
{
  g_auto(ClipscopeModelRef) ref = { 0 };
  g_autofree char *path = NULL, *staging = NULL;
  gboolean had_partial;

  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  if (!clipscope_model_store_parse_name (store, name, &ref, error))
    return FALSE;
  if (ref.source == CLIPSCOPE_MODEL_SOURCE_BUNDLED)
    {
      g_set_error (error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_READ_ONLY,
                   "model \"%s\" comes with Clipscope and cannot be removed", ref.name);
      return FALSE;
    }
  path = g_build_filename (store->models_dir, ref.folder, NULL);
  staging = staging_path (store, ref.folder);
  had_partial = g_file_test (staging, G_FILE_TEST_IS_DIR);
  if (had_partial && !clipscope_store_delete_tree (staging, error))
    return FALSE;
  /* A local folder is a symbolic link: unlinking it leaves the folder. */
  if (g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      if (g_unlink (path) == 0)
        return TRUE;
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "%s: cannot remove: %s", path, g_strerror (saved));
      return FALSE;
    }
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    return remove_folder (store, path, error);
  return had_partial ? TRUE : not_installed (ref.name, error);
}

/* ------------------------------------------------------------- add local */

static gboolean
ensure_models_dir (ClipscopeModelStore *store,
                   GError             **error)
{
  if (g_mkdir_with_parents (store->models_dir, 0755) == 0)
    return TRUE;
  int saved = errno;
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
               "%s: cannot create the models folder: %s", store->models_dir, g_strerror (saved));
  return FALSE;
}

static char *
default_local_name (const char *dir)
{
  g_autofree char *base = g_path_get_basename (dir);

  return g_steal_pointer (&base);
}

ClipscopeModelEntry *
clipscope_model_store_add_local (ClipscopeModelStore *store,
                                 const char          *dir,
                                 const char          *name,
                                 GError             **error)
{
  g_auto(ClipscopeModelRef) ref = { 0 };
  g_autofree char *target = NULL, *fallback = NULL, *link = NULL;
  g_autoptr(ClipscopeModel) model = NULL;

  g_return_val_if_fail (store != NULL, NULL);
  g_return_val_if_fail (dir != NULL, NULL);

  target = g_canonicalize_filename (dir, NULL);
  if (name == NULL)
    name = fallback = default_local_name (target);
  if (!clipscope_model_store_parse_name (store, name, &ref, error))
    return NULL;
  if (ref.source != CLIPSCOPE_MODEL_SOURCE_LOCAL)
    {
      g_set_error (error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_INVALID_NAME,
                   "\"%s\" is the name of a %s model; choose another name for %s", name,
                   ref.source == CLIPSCOPE_MODEL_SOURCE_HUB ? "Hugging Face" :
                   ref.source == CLIPSCOPE_MODEL_SOURCE_BUNDLED ? "bundled" : "catalogue", target);
      return NULL;
    }
  if (!g_file_test (target, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY, "%s: not a folder", target);
      return NULL;
    }
  /* Loading is the only check that the folder is a model Clipscope can use. */
  if ((model = clipscope_model_load (target, NULL, NULL, error)) == NULL)
    {
      g_prefix_error (error, "cannot add this folder as a model: ");
      return NULL;
    }
  if (!ensure_models_dir (store, error))
    return NULL;
  link = g_build_filename (store->models_dir, ref.folder, NULL);
  if (symlink (target, link) != 0)
    {
      int saved = errno;
      if (saved == EEXIST)
        g_set_error (error, CLIPSCOPE_STORE_ERROR, CLIPSCOPE_STORE_ERROR_EXISTS,
                     "a model named \"%s\" is already installed", ref.name);
      else
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                     "%s: cannot create: %s", link, g_strerror (saved));
      return NULL;
    }
  return local_entry (ref.name, link);
}
