/* clipscope-image.c — one image of the session and its embedding */
#include "clipscope-image.h"

#include <clipscope.h>

#include "clipscope-weak-ref.h"

struct _ClipscopeImage {
  GObject       parent_instance;

  /* Owned References */
  GFile        *file;
  char         *path;
  char         *name;
  GdkTexture   *thumbnail;
  GCancellable *thumbnail_cancellable;
  float        *embedding;     /* [embed_dim], L2-normalised, or NULL */
  int           embed_dim;
};

G_DEFINE_FINAL_TYPE (ClipscopeImage, clipscope_image, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_FILE,
  PROP_NAME,
  PROP_THUMBNAIL,
  PROP_ENCODED,
  N_PROPS,
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_THUMBNAIL_FAILED,
  N_SIGNALS,
};

static guint signals[N_SIGNALS];

static void
clipscope_image_dispose (GObject *object)
{
  ClipscopeImage *self = CLIPSCOPE_IMAGE (object);

  g_cancellable_cancel (self->thumbnail_cancellable);
  g_clear_object (&self->thumbnail_cancellable);
  g_clear_object (&self->thumbnail);
  G_OBJECT_CLASS (clipscope_image_parent_class)->dispose (object);
}

static void
clipscope_image_finalize (GObject *object)
{
  ClipscopeImage *self = CLIPSCOPE_IMAGE (object);

  g_clear_object (&self->file);
  g_free (self->path);
  g_free (self->name);
  g_free (self->embedding);
  G_OBJECT_CLASS (clipscope_image_parent_class)->finalize (object);
}

static void
clipscope_image_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  ClipscopeImage *self = CLIPSCOPE_IMAGE (object);

  switch (prop_id)
    {
    case PROP_FILE:
      g_value_set_object (value, self->file);
      break;
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_THUMBNAIL:
      g_value_set_object (value, self->thumbnail);
      break;
    case PROP_ENCODED:
      g_value_set_boolean (value, self->embedding != NULL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
clipscope_image_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  ClipscopeImage *self = CLIPSCOPE_IMAGE (object);

  switch (prop_id)
    {
    case PROP_FILE:
      self->file = g_value_dup_object (value);
      self->path = g_file_get_path (self->file);
      if (self->path == NULL)
        self->path = g_file_get_uri (self->file);
      self->name = g_file_get_basename (self->file);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
clipscope_image_class_init (ClipscopeImageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = clipscope_image_dispose;
  object_class->finalize = clipscope_image_finalize;
  object_class->get_property = clipscope_image_get_property;
  object_class->set_property = clipscope_image_set_property;

  properties[PROP_FILE] =
    g_param_spec_object ("file", NULL, NULL, G_TYPE_FILE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_THUMBNAIL] =
    g_param_spec_object ("thumbnail", NULL, NULL, GDK_TYPE_TEXTURE,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_ENCODED] =
    g_param_spec_boolean ("encoded", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * ClipscopeImage::thumbnail-failed:
   * @message: the engine's reason, which names the file
   *
   * The image could not be decoded for its thumbnail.
   */
  signals[SIGNAL_THUMBNAIL_FAILED] =
    g_signal_new ("thumbnail-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
clipscope_image_init (ClipscopeImage *self)
{
}

ClipscopeImage *
clipscope_image_new (GFile *file)
{
  g_return_val_if_fail (G_IS_FILE (file), NULL);
  return g_object_new (CLIPSCOPE_TYPE_IMAGE, "file", file, NULL);
}

GFile *
clipscope_image_get_file (ClipscopeImage *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_IMAGE (self), NULL);
  return self->file;
}

const char *
clipscope_image_get_path (ClipscopeImage *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_IMAGE (self), NULL);
  return self->path;
}

const char *
clipscope_image_get_name (ClipscopeImage *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_IMAGE (self), NULL);
  return self->name;
}

/**
 * clipscope_image_get_thumbnail:
 *
 * Returns: (transfer none) (nullable): the thumbnail, once it is decoded
 */
GdkTexture *
clipscope_image_get_thumbnail (ClipscopeImage *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_IMAGE (self), NULL);
  return self->thumbnail;
}

/**
 * clipscope_image_get_embedding:
 * @embed_dim: (out) (optional): its length
 *
 * Returns: (transfer none) (nullable): the embedding of the current model
 */
const float *
clipscope_image_get_embedding (ClipscopeImage *self,
                               int            *embed_dim)
{
  g_return_val_if_fail (CLIPSCOPE_IS_IMAGE (self), NULL);

  if (embed_dim != NULL)
    *embed_dim = self->embed_dim;
  return self->embedding;
}

/**
 * clipscope_image_set_embedding:
 * @embedding: (transfer full) (nullable): the new embedding
 */
void
clipscope_image_set_embedding (ClipscopeImage *self,
                               float          *embedding,
                               int             embed_dim)
{
  gboolean was_encoded;

  g_return_if_fail (CLIPSCOPE_IS_IMAGE (self));

  was_encoded = self->embedding != NULL;
  g_free (self->embedding);
  self->embedding = embedding;
  self->embed_dim = embedding != NULL ? embed_dim : 0;
  if (was_encoded != (embedding != NULL))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ENCODED]);
}

/**
 * clipscope_thumbnail_texture_finish:
 *
 * Finishes clipscope_thumbnail_load_async().
 *
 * Returns: (transfer full) (nullable): the thumbnail as a texture
 */
GdkTexture *
clipscope_thumbnail_texture_finish (GAsyncResult  *result,
                                    GError       **error)
{
  int width = 0, height = 0;
  g_autoptr(GBytes) pixels = clipscope_thumbnail_load_finish (result, &width, &height, error);

  if (pixels == NULL)
    return NULL;
  return gdk_memory_texture_new (width, height, GDK_MEMORY_R8G8B8A8, pixels, (gsize) width * 4);
}

static void
thumbnail_decoded_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(GWeakRef) ref = user_data;
  g_autoptr(ClipscopeImage) self = g_weak_ref_get (ref);
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkTexture) texture = clipscope_thumbnail_texture_finish (result, &error);

  if (self == NULL)
    return;
  if (texture == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_signal_emit (self, signals[SIGNAL_THUMBNAIL_FAILED], 0, error->message);
      return;
    }
  g_set_object (&self->thumbnail, texture);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_THUMBNAIL]);
}

/**
 * clipscope_image_load_thumbnail:
 * @size: the longest side in pixels (twice the shown size keeps it crisp
 *   on HiDPI screens)
 *
 * Decodes a thumbnail in the engine's sandboxed decoder processes, with
 * its EXIF orientation applied; only a weak reference waits for it, so
 * that a removed image's decoding is cancelled as the image goes; #ClipscopeImage:thumbnail changes when it
 * is ready. A file that cannot be decoded keeps none and emits
 * #ClipscopeImage::thumbnail-failed.
 */
void
clipscope_image_load_thumbnail (ClipscopeImage *self,
                                int             size)
{
  g_return_if_fail (CLIPSCOPE_IS_IMAGE (self));

  g_cancellable_cancel (self->thumbnail_cancellable);
  g_clear_object (&self->thumbnail_cancellable);
  self->thumbnail_cancellable = g_cancellable_new ();
  clipscope_thumbnail_load_async (self->path, size, size, NULL, self->thumbnail_cancellable,
                                  thumbnail_decoded_cb, clipscope_weak_ref_new (self));
}
