/* clipscope-colormap.h — the viridis colour map */
#pragma once

#include <gdk/gdk.h>

G_BEGIN_DECLS

void  clipscope_colormap_viridis (double   t,
                                  GdkRGBA *color);
float clipscope_colormap_luminance (const GdkRGBA *color);

G_END_DECLS
