/* clipscope-colormap.c — the viridis colour map
 *
 * Viridis is perceptually uniform and stays readable in grey scale and for
 * the common forms of colour blindness, which a heatmap of small cosine
 * differences needs. The stops are viridis sampled at ten evenly spaced
 * points (the values of matplotlib's and R viridisLite's tables); between
 * them the colour is interpolated linearly in sRGB, which stays within a
 * few units of the 256-entry table.
 */
#include "clipscope-colormap.h"

#include <math.h>

static const guint8 viridis_stops[][3] = {
  { 0x44, 0x01, 0x54 },
  { 0x48, 0x28, 0x78 },
  { 0x3e, 0x4a, 0x89 },
  { 0x31, 0x68, 0x8e },
  { 0x26, 0x82, 0x8e },
  { 0x1f, 0x9e, 0x89 },
  { 0x35, 0xb7, 0x79 },
  { 0x6d, 0xcd, 0x59 },
  { 0xb4, 0xde, 0x2c },
  { 0xfd, 0xe7, 0x25 },
};

/**
 * clipscope_colormap_viridis:
 * @t: a value in [0, 1]; outside it, and NaN, are clamped to the ends
 * @color: (out): the colour, opaque
 */
void
clipscope_colormap_viridis (double   t,
                            GdkRGBA *color)
{
  const int last = G_N_ELEMENTS (viridis_stops) - 1;
  double x, f;
  int i;

  if (isnan (t) || t < 0.0)
    t = 0.0;
  t = MIN (t, 1.0);
  x = t * last;
  i = MIN ((int) x, last - 1);
  f = x - i;
  color->red = ((1.0 - f) * viridis_stops[i][0] + f * viridis_stops[i + 1][0]) / 255.0;
  color->green = ((1.0 - f) * viridis_stops[i][1] + f * viridis_stops[i + 1][1]) / 255.0;
  color->blue = ((1.0 - f) * viridis_stops[i][2] + f * viridis_stops[i + 1][2]) / 255.0;
  color->alpha = 1.0;
}

/**
 * clipscope_colormap_luminance:
 *
 * Returns: the relative luminance (Rec. 709 weights on sRGB values, which
 *   is enough to pick black or white text on a cell)
 */
float
clipscope_colormap_luminance (const GdkRGBA *color)
{
  return 0.2126f * color->red + 0.7152f * color->green + 0.0722f * color->blue;
}
