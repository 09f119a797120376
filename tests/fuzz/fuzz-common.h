/* fuzz-common.h — helpers the fuzz targets share */
#pragma once

#include <glib.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* Scratch files need no fsync; g_file_set_contents() would do one per
 * input and make the fuzzer I/O-bound. */
static inline gboolean
write_scratch (const char *path,
               const char *data,
               gssize      size,
               GError    **error)
{
  return g_file_set_contents_full (path, data, size, G_FILE_SET_CONTENTS_NONE, 0600, error);
}
