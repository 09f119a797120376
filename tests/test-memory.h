/* test-memory.h — what a test process has used, for tests that bound it */
#pragma once

#include <glib.h>
#include <stdlib.h>
#include <string.h>

/* The peak resident set so far, in KiB. */
static inline long
peak_rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, "VmHWM:");
  g_assert_nonnull (line);
  return strtol (line + strlen ("VmHWM:"), NULL, 10);
}
