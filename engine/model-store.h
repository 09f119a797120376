/* model-store.h — the model store's internals, shared with the downloader */
#pragma once

#include "clipscope-private.h"

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The bundled model's NAME and folder under the data folder. */
#define CLIPSCOPE_BUNDLED_MODEL      "emoji-demo"

/* Every downloaded model folder holds this file, written by the download:
 * where the model came from, since a folder name cannot hold a "/". Local
 * folders are symbolic links and hold nothing of ours. */
#define CLIPSCOPE_STORE_METADATA     ".clipscope.json"

/* Suffix of the staging folder ".FOLDER.partial" of a download. */
#define CLIPSCOPE_STORE_PARTIAL      ".partial"

struct _ClipscopeModelStore {
  gatomicrefcount ref_count;
  char *models_dir;
  char *data_dir;
  char *endpoint;       /* no trailing "/" */
  char *token;          /* NULL: send no Authorization header */
  int   timeout_s;
};

/* One checkpoint of the catalogue. */
typedef struct {
  const char     *name;
  const char     *repo;
  const char     *revision;     /* branch, tag or commit to download */
  ClipscopeFormat format;
  ClipscopeFamily family;
  int64_t         size;         /* approximate bytes of the files we fetch */
  const char     *description;
} ClipscopeCatalogueModel;

const ClipscopeCatalogueModel *clipscope_catalogue_get (int *n_models);

/* What a NAME refers to. A repository id that is in the catalogue refers
 * to the catalogue model. */
typedef struct {
  const ClipscopeCatalogueModel *catalogue;   /* or NULL */
  ClipscopeModelSource           source;
  char                          *repo;        /* hub and catalogue models */
  char                          *revision;
  char                          *name;        /* canonical NAME */
  char                          *folder;      /* base name inside models_dir */
} ClipscopeModelRef;

void clipscope_model_ref_clear (ClipscopeModelRef *ref);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ClipscopeModelRef, clipscope_model_ref_clear)

gboolean clipscope_model_store_parse_name (ClipscopeModelStore *store,
                                           const char          *name,
                                           ClipscopeModelRef   *ref,
                                           GError             **error);

/* Deletes a file or a folder tree without following symbolic links. */
gboolean clipscope_store_delete_tree (const char *path,
                                      GError    **error);

/* Writes CLIPSCOPE_STORE_METADATA into @dir. */
gboolean clipscope_store_write_metadata (const char              *dir,
                                         const ClipscopeModelRef *ref,
                                         GError                 **error);

/* Reads a small JSON file whose syntax is checked first, as every JSON
 * that comes from outside is. */
JsonNode *clipscope_store_parse_json (const char  *name,
                                      const char  *text,
                                      gsize        len,
                                      GError     **error);

G_END_DECLS
