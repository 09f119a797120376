/* fuzz-image.c — image decoding and CLIP's preprocessing
 *
 * The input is written to a scratch file and preprocessed as a dropped
 * image would be, with a pixel limit small enough that the fuzzer's
 * memory stays bounded whatever size the file declares. Inputs of odd
 * length have transparent pixels composited onto white, as a model with
 * "alpha_background" asks; the rest lose their alpha.
 */
#include "preprocess.h"
#include "fuzz-common.h"

#include <math.h>

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  static char *path;
  const ClipscopePreprocessParams params = {
    .resize = 24, .crop = 24,
    .mean = { 0.48145466f, 0.4578275f, 0.40821073f },
    .std = { 0.26862954f, 0.26130258f, 0.27577711f },
    .max_pixels = 4 * 1000 * 1000,
    .composite_alpha = (size & 1) != 0,
    .background = { 255, 255, 255 },
  };
  float out[3 * 24 * 24];
  g_autoptr(GError) error = NULL;

  if (path == NULL)
    {
      g_autofree char *dir = g_dir_make_tmp ("clipscope-fuzz-image-XXXXXX", NULL);
      path = g_build_filename (dir, "input", NULL);
    }
  g_assert_true (write_scratch (path, (const char *) data, (gssize) size, NULL));
  if (!clipscope_preprocess_file (path, &params, out, &error))
    return 0;
  /* A decoded image normalises to values within (0 − mean) / std and
   * (1 − mean) / std. */
  for (gsize i = 0; i < G_N_ELEMENTS (out); i++)
    g_assert_true (isfinite (out[i]) && out[i] > -2.0f && out[i] < 2.7f);
  return 0;
}
