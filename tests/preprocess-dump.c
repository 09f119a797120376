/* preprocess-dump.c — writes what the preprocessing produces, for the tests
 *
 *   preprocess-dump [--bilinear] [--squash] [--background R,G,B] IMAGE RESIZE CROP OUT.bin
 *       the [3, CROP, CROP] float32 input tensor, native byte order,
 *       normalised with OpenAI's CLIP mean and standard deviation; with
 *       --background, transparent pixels composited onto that colour;
 *       with --squash, the whole image resized to CROP × CROP
 *   preprocess-dump [--bilinear] --resize-only IMAGE WIDTH HEIGHT OUT.rgb
 *       the decoded image resized to WIDTH × HEIGHT, packed RGB8
 *
 * --bilinear resamples with Pillow's bilinear filter instead of bicubic.
 *
 * On failure it prints "error: <message>" to stderr and exits with 1.
 */
#include "preprocess.h"

#include <stdio.h>
#include <stdlib.h>

/* Large enough for any test, small enough that a typo cannot make the
 * tool allocate gigabytes. */
#define MAX_SIDE 65536

static const ClipscopePreprocessParams openai_params = {
  .resize = 224,
  .crop = 224,
  .mean = { 0.48145466f, 0.4578275f, 0.40821073f },
  .std = { 0.26862954f, 0.26130258f, 0.27577711f },
  .max_pixels = CLIPSCOPE_MAX_IMAGE_PIXELS,
};

static gboolean
parse_side (const char  *text,
            int         *side,
            GError     **error)
{
  gint64 value;

  if (!g_ascii_string_to_signed (text, 10, 0, MAX_SIDE, &value, error))
    return FALSE;

  *side = (int) value;
  return TRUE;
}

/* "R,G,B" with 8-bit channels. */
static gboolean
parse_background (const char                 *text,
                  ClipscopePreprocessParams  *params,
                  GError                    **error)
{
  g_auto(GStrv) parts = g_strsplit (text, ",", -1);

  if (g_strv_length (parts) != 3)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "background \"%s\" is not R,G,B", text);
      return FALSE;
    }
  for (int i = 0; i < 3; i++)
    {
      guint64 value;

      if (!g_ascii_string_to_unsigned (parts[i], 10, 0, 255, &value, error))
        return FALSE;
      params->background[i] = (guint8) value;
    }
  params->composite_alpha = TRUE;
  return TRUE;
}

static gboolean
dump_tensor (char                           **argv,
             const char                      *background,
             const ClipscopePreprocessParams *base,
             GError                         **error)
{
  ClipscopePreprocessParams params = *base;
  g_autofree float *tensor = NULL;
  gsize n_bytes;

  if (background != NULL && !parse_background (background, &params, error))
    return FALSE;
  if (!parse_side (argv[1], &params.resize, error) ||
      !parse_side (argv[2], &params.crop, error))
    return FALSE;

  n_bytes = (gsize) 3 * (gsize) params.crop * (gsize) params.crop * sizeof (float);
  tensor = g_malloc0 (n_bytes);
  if (!clipscope_preprocess_file (argv[0], &params, tensor, error))
    return FALSE;

  return g_file_set_contents (argv[3], (const char *) tensor, (gssize) n_bytes, error);
}

static gboolean
dump_resized (char                           **argv,
              const ClipscopePreprocessParams *base,
              GError                         **error)
{
  g_autoptr(ClipscopeRgbImage) image = NULL;
  g_autoptr(ClipscopeRgbImage) resized = NULL;
  int width, height;

  if (!parse_side (argv[1], &width, error) ||
      !parse_side (argv[2], &height, error))
    return FALSE;

  image = clipscope_image_load (argv[0], base, error);
  if (image == NULL)
    return FALSE;

  resized = clipscope_image_resize (image, width, height, base->resample);
  return g_file_set_contents (argv[3], (const char *) resized->rgb,
                              (gssize) resized->width * resized->height * 3, error);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  ClipscopePreprocessParams params = openai_params;
  const char *program = argv[0];
  gboolean ok;

  for (; argc > 1; argc--, argv++)
    {
      if (g_str_equal (argv[1], "--bilinear"))
        params.resample = CLIPSCOPE_RESAMPLE_BILINEAR;
      else if (g_str_equal (argv[1], "--squash"))
        params.squash = TRUE;
      else
        break;
    }

  if (argc == 6 && g_str_equal (argv[1], "--resize-only"))
    ok = dump_resized (argv + 2, &params, &error);
  else if (argc == 5)
    ok = dump_tensor (argv + 1, NULL, &params, &error);
  else if (argc == 7 && g_str_equal (argv[1], "--background"))
    ok = dump_tensor (argv + 3, argv[2], &params, &error);
  else
    {
      fprintf (stderr,
               "usage: %s [--bilinear] [--squash] [--background R,G,B] IMAGE RESIZE CROP OUT.bin\n"
               "       %s [--bilinear] --resize-only IMAGE WIDTH HEIGHT OUT.rgb\n",
               program, program);
      return EXIT_FAILURE;
    }

  if (!ok)
    {
      fprintf (stderr, "error: %s\n", error->message);
      return EXIT_FAILURE;
    }

  return EXIT_SUCCESS;
}
