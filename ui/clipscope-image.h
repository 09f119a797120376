/* clipscope-image.h — one image of the session and its embedding */
#pragma once

#include <gdk/gdk.h>

G_BEGIN_DECLS

#define CLIPSCOPE_TYPE_IMAGE (clipscope_image_get_type ())
G_DECLARE_FINAL_TYPE (ClipscopeImage, clipscope_image, CLIPSCOPE, IMAGE, GObject)

ClipscopeImage *clipscope_image_new              (GFile          *file);
GFile          *clipscope_image_get_file         (ClipscopeImage *self);
const char     *clipscope_image_get_path         (ClipscopeImage *self);
const char     *clipscope_image_get_name         (ClipscopeImage *self);
GdkTexture     *clipscope_image_get_thumbnail    (ClipscopeImage *self);
const float    *clipscope_image_get_embedding    (ClipscopeImage *self,
                                                  int            *embed_dim);
void            clipscope_image_set_embedding    (ClipscopeImage *self,
                                                  float          *embedding,
                                                  int             embed_dim);
void            clipscope_image_load_thumbnail   (ClipscopeImage *self,
                                                  int             size);

GdkTexture     *clipscope_thumbnail_texture_finish (GAsyncResult  *result,
                                                    GError       **error);

G_END_DECLS
