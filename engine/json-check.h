/* json-check.h — making hostile JSON safe for json-glib */
#pragma once

#include "clipscope-private.h"

G_BEGIN_DECLS

/* Scans @text (@len bytes of @name, which starts at @base_offset of the
 * file) before json-glib parses it: strings must use JSON's own escapes,
 * nothing may be single-quoted or commented, numbers may not be octal or
 * hex, and values may nest at most @max_depth deep. A failure is a @code
 * error "NAME: WHAT has … at byte offset N". */
gboolean clipscope_json_check_syntax (const char     *name,
                                      const char     *what,
                                      const char     *text,
                                      gsize           len,
                                      gsize           base_offset,
                                      guint           max_depth,
                                      ClipscopeError  code,
                                      GError        **error);

G_END_DECLS
