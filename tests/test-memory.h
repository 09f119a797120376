/* test-memory.h — what a test process has used, for tests that bound it */
#pragma once

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A field of /proc/self/status in KiB: "VmHWM:", "VmRSS:". */
static inline long
status_kib (const char *field)
{
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, field);
  g_assert_nonnull (line);
  return strtol (line + strlen (field), NULL, 10);
}

/* The peak resident set so far, in KiB. */
static inline long
peak_rss_kib (void)
{
  return status_kib ("VmHWM:");
}

/* The resident set now, in KiB. */
static inline long
rss_kib (void)
{
  return status_kib ("VmRSS:");
}

/* Forgets the peak so far, where the kernel allows it, so that what
 * follows is measured alone; FALSE where it does not. */
static inline gboolean
reset_peak_rss (void)
{
  FILE *f = fopen ("/proc/self/clear_refs", "w");

  return f != NULL && fputs ("5", f) >= 0 && fclose (f) == 0;
}
