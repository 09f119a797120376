/* clipscope-export.h — the matrix as CSV or JSON, the heatmap as PNG */
#pragma once

#include <gtk/gtk.h>

#include "clipscope-session.h"

G_BEGIN_DECLS

char     *clipscope_export_csv     (ClipscopeSession  *session);
char     *clipscope_export_json    (ClipscopeSession  *session);
gboolean  clipscope_export_png     (GtkWidget         *widget,
                                    const char        *path,
                                    GError           **error);
gboolean  clipscope_export_to_file (ClipscopeSession  *session,
                                    GtkWidget         *heatmap,
                                    const char        *path,
                                    GError           **error);

G_END_DECLS
