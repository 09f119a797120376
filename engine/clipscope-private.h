/* clipscope-private.h — declarations shared inside libclipscope only */
#pragma once

#if !defined(CLIPSCOPE_COMPILATION)
# error "clipscope-private.h is internal to libclipscope; include clipscope.h"
#endif

#include "clipscope.h"

G_BEGIN_DECLS

/* Limits that keep hostile input from allocating without bound. */
#define CLIPSCOPE_MAX_IMAGE_PIXELS     (100 * 1000 * 1000)  /* default, see ClipscopeModelOptions */
#define CLIPSCOPE_MAX_HEADER_BYTES     (64 * 1024 * 1024)   /* safetensors JSON header */
#define CLIPSCOPE_MAX_TENSOR_DIMS      8
#define CLIPSCOPE_MAX_CONFIG_BYTES     (16 * 1024 * 1024)   /* config.json and friends */
#define CLIPSCOPE_MAX_TEXT_BYTES       (1024 * 1024)        /* one text to tokenize */

/* Sets @error to "PATH: message" in CLIPSCOPE_ERROR and returns FALSE. */
gboolean clipscope_set_file_error (GError         **error,
                                   ClipscopeError   code,
                                   const char      *path,
                                   const char      *format,
                                   ...) G_GNUC_PRINTF (4, 5);

/* Every BLAS call runs between these two (see blas.c): a fork() in another
 * thread would otherwise stop OpenBLAS's threads under it. */
void clipscope_blas_begin (void);
void clipscope_blas_end   (void);

G_END_DECLS
