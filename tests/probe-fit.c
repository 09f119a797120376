/* probe-fit.c — trains a linear probe on embeddings read from stdin, for
 * tests/test-fewshot.py to compare with its reference.
 *
 * Input, white-space separated: n d k C, then n × d example embeddings
 * (row-major), then n labels. Output: the line "iterations N", k lines of
 * W, one line of b, one line "loo" of leave-one-out predictions and the
 * line "ms T" with the training time.
 */
#include <clipscope.h>
#include <stdio.h>
#include <stdlib.h>

static gboolean
read_input (int     *n,
            int     *d,
            int     *k,
            double  *c,
            float  **x,
            int    **y)
{
  if (scanf ("%d %d %d %lf", n, d, k, c) != 4 || *n < 1 || *d < 1 || *k < 1)
    return FALSE;
  *x = g_new (float, (gsize) *n * *d);
  *y = g_new (int, *n);
  for (gsize i = 0; i < (gsize) *n * *d; i++)
    if (scanf ("%f", &(*x)[i]) != 1)
      return FALSE;
  for (int i = 0; i < *n; i++)
    if (scanf ("%d", &(*y)[i]) != 1)
      return FALSE;
  return TRUE;
}

static void
print_row (const float *v,
           int          n)
{
  for (int i = 0; i < n; i++)
    printf ("%s%.9g", i ? " " : "", v[i]);
  printf ("\n");
}

int
main (void)
{
  g_autofree float *x = NULL;
  g_autofree int *y = NULL, *loo = NULL;
  g_autoptr(ClipscopeProbe) probe = NULL;
  g_autoptr(GError) error = NULL;
  ClipscopeProbeOptions options = clipscope_probe_options_default ();
  int n, d, k;
  gint64 start;
  double ms;

  if (!read_input (&n, &d, &k, &options.c, &x, &y))
    {
      fprintf (stderr, "probe-fit: malformed input\n");
      return 2;
    }
  start = g_get_monotonic_time ();
  probe = clipscope_probe_train (x, y, n, k, d, NULL, &options, NULL, &error);
  ms = (g_get_monotonic_time () - start) / 1000.0;
  loo = g_new (int, n);
  if (probe == NULL
      || !clipscope_probe_leave_one_out (x, y, n, k, d, NULL, &options, loo, NULL, NULL, &error))
    {
      fprintf (stderr, "probe-fit: %s\n", error->message);
      return 1;
    }
  printf ("iterations %d\n", clipscope_probe_get_iterations (probe));
  for (int c = 0; c < k; c++)
    print_row (clipscope_probe_get_weights (probe, NULL, NULL) + (gsize) c * d, d);
  print_row (clipscope_probe_get_bias (probe), k);
  printf ("loo");
  for (int i = 0; i < n; i++)
    printf (" %d", loo[i]);
  printf ("\nms %.3f\n", ms);
  return 0;
}
