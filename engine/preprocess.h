/* preprocess.h — image decoding and CLIP's preprocessing */
#pragma once

#include "clipscope-private.h"

G_BEGIN_DECLS

/* Pillow's resampling filters the models were trained with. */
typedef enum {
  CLIPSCOPE_RESAMPLE_BICUBIC,   /* Image.BICUBIC (3) */
  CLIPSCOPE_RESAMPLE_BILINEAR,  /* Image.BILINEAR (2) */
} ClipscopeResample;

typedef struct {
  int     resize;          /* shorter side after resize (e.g. 224) */
  int     crop;            /* square centre crop (e.g. 224) */
  float   mean[3];
  float   std[3];
  int64_t max_pixels;      /* refuse larger images before decoding */
  /* Whether transparent pixels are composited onto @background rather
   * than losing their alpha as CLIP's own preprocessing does. */
  gboolean composite_alpha;
  guint8   background[3];
  /* Whether the EXIF orientation is left unapplied, as OpenAI's CLIP
   * preprocessing (Image.open without exif_transpose) leaves it. */
  gboolean ignore_orientation;
  /* Whether the image is resized straight to crop × crop, its aspect
   * ratio lost, rather than its shorter side to @resize then cropped
   * (SigLIP, Chinese-CLIP). */
  gboolean squash;
  ClipscopeResample resample;
} ClipscopePreprocessParams;

/* An 8-bit RGB image, rows packed (stride = 3 × width). */
typedef struct {
  int     width;
  int     height;
  guint8 *rgb;
} ClipscopeRgbImage;

void clipscope_rgb_image_free (ClipscopeRgbImage *image);

/* Decodes @path with GdkPixbuf, applies the EXIF orientation (JPEG, and
 * PNG's eXIf chunk) unless params->ignore_orientation, and converts to
 * RGB (grey replicated, palette expanded, and alpha dropped as PIL's
 * convert("RGB") does, or composited onto params->background). Checks the
 * declared size against params->max_pixels before decoding. */
ClipscopeRgbImage *clipscope_image_load (const char                      *path,
                                         const ClipscopePreprocessParams *params,
                                         GError                         **error);

/* Opens @path for clipscope_image_load_fd(): a regular file (links
 * followed), never blocking; -1 with @error set otherwise. */
int clipscope_image_open (const char  *path,
                          GError     **error);

/* clipscope_image_load() on a file already open; @path names it in
 * messages. Reads from the file's current offset. */
ClipscopeRgbImage *clipscope_image_load_fd (int                              fd,
                                            const char                      *path,
                                            const ClipscopePreprocessParams *params,
                                            GError                         **error);

/* Decodes a thumbnail of a file already open, with the checks, limits
 * and EXIF orientation of clipscope_image_load_fd(): fit in
 * @max_width × @max_height, a vector image drawn at that size, a raster
 * one scaled down (never up) as it decodes, an animation's first frame.
 * Returns RGBA pixels, 8 bits a channel, not premultiplied, rows packed
 * (4 × @width bytes). */
GBytes *clipscope_image_thumbnail_fd (int                              fd,
                                      const char                      *path,
                                      const ClipscopePreprocessParams *params,
                                      int                              max_width,
                                      int                              max_height,
                                      int                             *width,
                                      int                             *height,
                                      GError                         **error);

/* Resizes @image to @out_width × @out_height exactly as PIL's
 * Image.resize(…, Image.BICUBIC or Image.BILINEAR) does (antialiased;
 * bicubic with a = −0.5; 8-bit fixed-point two-pass). */
ClipscopeRgbImage *clipscope_image_resize (const ClipscopeRgbImage *image,
                                           int                      out_width,
                                           int                      out_height,
                                           ClipscopeResample        resample);

/* The whole pipeline on a decoded image: shorter side → params->resize
 * (longer side int(resize × long / short)), centre crop params->crop with
 * offset round-half-even((size − crop) / 2) — or with params->squash the
 * whole image straight to crop × crop —, scale to [0, 1], normalise.
 * Writes [3, crop, crop] floats to @out. */
void clipscope_image_preprocess (const ClipscopeRgbImage         *image,
                                 const ClipscopePreprocessParams *params,
                                 float                           *out);

/* clipscope_image_load() then clipscope_image_preprocess(). */
gboolean clipscope_preprocess_file (const char                      *path,
                                    const ClipscopePreprocessParams *params,
                                    float                           *out,
                                    GError                         **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ClipscopeRgbImage, clipscope_rgb_image_free)

G_END_DECLS
