/* test-probe.c — per-template contributions, thresholds, prototypes,
 * linear probes and sorting into folders */
#include "clipscope-private.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#define SEED 20240611

/* [n, d] random unit rows; with @spread < 1 they cluster around the
 * centre of their label, as image embeddings of one class do. */
static float *
random_examples (GRand     *rand,
                 const int *labels,
                 int        n,
                 int        k,
                 int        d,
                 double     spread)
{
  g_autofree float *centres = g_new (float, (gsize) k * d);
  float *x = g_new (float, (gsize) n * d);

  for (gsize i = 0; i < (gsize) k * d; i++)
    centres[i] = (float) g_rand_double_range (rand, -1, 1);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < d; j++)
      x[i * d + j] = centres[labels[i] * d + j] + (float) (spread * g_rand_double_range (rand, -1, 1));
  for (int i = 0; i < n; i++)
    {
      double norm = 0;

      for (int j = 0; j < d; j++)
        norm += (double) x[i * d + j] * x[i * d + j];
      for (int j = 0; j < d; j++)
        x[i * d + j] /= (float) sqrt (norm);
    }
  return x;
}

/* --------------------------------------------------------- templates */

/* Three orthogonal templates: each leave-one-out ensemble is the mean of
 * two axes, worked out by hand. */
static void
test_contributions_values (void)
{
  const float texts[] = { 1, 0, 0,   0, 1, 0,   0, 0, 1 };
  const float image[] = { 0.6f, 0.8f, 0 };
  float cosines[3], without[3], ensemble;

  ensemble = clipscope_template_contributions (texts, 3, image, 3, cosines, without);
  g_assert_cmpfloat_with_epsilon (cosines[0], 0.6, 1e-6);
  g_assert_cmpfloat_with_epsilon (cosines[1], 0.8, 1e-6);
  g_assert_cmpfloat_with_epsilon (cosines[2], 0.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (without[0], 0.8 / M_SQRT2, 1e-6);
  g_assert_cmpfloat_with_epsilon (without[1], 0.6 / M_SQRT2, 1e-6);
  g_assert_cmpfloat_with_epsilon (without[2], 1.4 / M_SQRT2, 1e-6);
  g_assert_cmpfloat_with_epsilon (ensemble, 1.4 / sqrt (3.0), 1e-6);
}

/* One template leaves no ensemble; two opposite ones cancel out. */
static void
test_contributions_degenerate (void)
{
  const float one[] = { 0, 1 };
  const float opposite[] = { 1, 0,   -1, 0 };
  const float image[] = { 0.6f, 0.8f };
  float cosines[2], without[2], ensemble;

  ensemble = clipscope_template_contributions (one, 1, image, 2, cosines, without);
  g_assert_cmpfloat_with_epsilon (cosines[0], 0.8, 1e-6);
  g_assert_cmpfloat_with_epsilon (ensemble, 0.8, 1e-6);
  g_assert_true (isnan (without[0]));

  ensemble = clipscope_template_contributions (opposite, 2, image, 2, cosines, NULL);
  g_assert_true (isnan (ensemble));
  ensemble = clipscope_template_contributions (opposite, 2, image, 2, cosines, without);
  g_assert_cmpfloat_with_epsilon (without[0], -0.6, 1e-6);
  g_assert_cmpfloat_with_epsilon (without[1], 0.6, 1e-6);
}

/* ---------------------------------------------------------- threshold */

static void
test_score_top (void)
{
  const float sim[] = { 0.30f, 0.20f,   0.10f, 0.15f,   0.25f, 0.25f };
  const float prob[] = { 0.4f, 0.6f,    0.5f, 0.5f,     0.5f, 0.5f };
  int top[3];

  g_assert_cmpint (clipscope_score_top (sim, NULL, 3, 2, -INFINITY, top), ==, 0);
  g_assert_cmpint (top[0], ==, 0);
  g_assert_cmpint (top[1], ==, 1);
  g_assert_cmpint (top[2], ==, 0);           /* the first of equals */

  g_assert_cmpint (clipscope_score_top (sim, NULL, 3, 2, 0.2f, top), ==, 1);
  g_assert_cmpint (top[0], ==, 0);
  g_assert_cmpint (top[1], ==, -1);
  g_assert_cmpint (top[2], ==, 0);

  /* Ranked by probability, thresholded on the chosen label's cosine. */
  g_assert_cmpint (clipscope_score_top (sim, prob, 3, 2, 0.25f, top), ==, 2);
  g_assert_cmpint (top[0], ==, -1);
  g_assert_cmpint (top[1], ==, -1);
  g_assert_cmpint (top[2], ==, 0);
}

/* --------------------------------------------------------- prototypes */

static void
test_prototypes_values (void)
{
  const float text[] = { 1, 0,   0, 1,   0.6f, 0.8f };
  const float examples[] = { 0, 1,   0, 1,   0.8f, 0.6f };
  const int labels[] = { 0, 0, 2 };
  float out[6], copy[6];

  clipscope_prototypes_build (text, 3, 2, examples, labels, 3, 0.5f, out);
  g_assert_cmpfloat_with_epsilon (out[0], M_SQRT1_2, 1e-6);
  g_assert_cmpfloat_with_epsilon (out[1], M_SQRT1_2, 1e-6);
  g_assert_cmpfloat (out[2], ==, 0);                    /* no examples: text */
  g_assert_cmpfloat (out[3], ==, 1);
  g_assert_cmpfloat_with_epsilon (out[4], M_SQRT1_2, 1e-6);
  g_assert_cmpfloat_with_epsilon (out[5], M_SQRT1_2, 1e-6);

  /* w = 0 is zero-shot; w = 1 the normalised mean of the examples. */
  clipscope_prototypes_build (text, 3, 2, examples, labels, 3, 0.0f, out);
  g_assert_cmpmem (out, sizeof out, text, sizeof text);
  memcpy (copy, text, sizeof copy);
  clipscope_prototypes_build (copy, 3, 2, examples, labels, 3, 1.0f, copy);
  g_assert_cmpfloat (copy[0], ==, 0);
  g_assert_cmpfloat (copy[1], ==, 1);
  g_assert_cmpfloat_with_epsilon (copy[4], 0.8, 1e-6);
  g_assert_cmpfloat_with_epsilon (copy[5], 0.6, 1e-6);

  /* (1 − w) · t + w · mean, worked out for w = 0.25 on label 2. */
  clipscope_prototypes_build (text, 3, 2, examples, labels, 3, 0.25f, out);
  {
    double a = 0.75 * 0.6 + 0.25 * 0.8, b = 0.75 * 0.8 + 0.25 * 0.6, n = hypot (a, b);
    g_assert_cmpfloat_with_epsilon (out[4], a / n, 1e-6);
    g_assert_cmpfloat_with_epsilon (out[5], b / n, 1e-6);
  }
}

/* The fast leave-one-out against its definition: prototypes built from
 * the other examples, and the example given its label of highest cosine. */
static void
test_prototypes_leave_one_out (void)
{
  enum { N = 24, K = 4, D = 8 };
  g_autoptr(GRand) rand = g_rand_new_with_seed (SEED);
  int labels[N], predicted[N], rest_labels[N];
  g_autofree float *x = NULL, *text = NULL;
  float rest[N * D], classifier[K * D], sim[K];
  int correct = 0;
  double accuracy;

  /* Label 3 has a single example, so leaving it out falls back to text. */
  for (int i = 0; i < N; i++)
    labels[i] = i == N - 1 ? 3 : i % 3;
  x = random_examples (rand, labels, N, K, D, 1.5);
  text = random_examples (rand, (const int[]) { 0, 1, 2, 3 }, K, K, D, 1.0);
  accuracy = clipscope_prototypes_leave_one_out (text, K, D, x, labels, N, 0.7f, predicted);

  for (int i = 0; i < N; i++)
    {
      int n = 0, best = 0;

      for (int j = 0; j < N; j++)
        if (j != i)
          {
            memcpy (rest + n * D, x + j * D, D * sizeof (float));
            rest_labels[n++] = labels[j];
          }
      clipscope_prototypes_build (text, K, D, rest, rest_labels, n, 0.7f, classifier);
      clipscope_score (x + i * D, 1, classifier, K, D, 1.0f, sim, NULL);
      for (int j = 1; j < K; j++)
        best = sim[j] > sim[best] ? j : best;
      g_assert_cmpint (predicted[i], ==, best);
      correct += best == labels[i];
    }
  g_assert_cmpfloat_with_epsilon (accuracy, (double) correct / N, 1e-12);
  /* The data is noisy enough that some, not all, are wrong. */
  g_assert_cmpint (correct, >, N / 3);
}

/* -------------------------------------------------------------- probe */

static void
test_probe_too_few (void)
{
  const float x[] = { 1, 0,   0, 1,   1, 0 };
  const int labels[] = { 0, 1, 0 };
  const int bad[] = { 0, 2, 1 };
  const char *names[] = { "cat", "dog" };
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeProbe) probe = NULL;
  ClipscopeProbeOptions options = clipscope_probe_options_default ();
  int predicted[3];

  probe = clipscope_probe_train (x, labels, 3, 2, 2, names, NULL, NULL, &error);
  g_assert_null (probe);
  g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "\"dog\" has 1 example;"));
  g_clear_error (&error);

  g_assert_false (clipscope_probe_leave_one_out (x, labels, 3, 2, 2, NULL, NULL, predicted, NULL,
                                                 NULL, &error));
  g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "label 1 has 1 example"));
  g_clear_error (&error);

  probe = clipscope_probe_train (x, bad, 3, 2, 2, names, NULL, NULL, &error);
  g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "example 1 has label 2"));
  g_clear_error (&error);

  options.c = 0;
  probe = clipscope_probe_train (x, labels, 3, 2, 2, names, &options, NULL, &error);
  g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT);
}

/* At the optimum the gradient of C Σ CE + ½‖W‖² vanishes:
 * W = −C Σ_i (p_i − y_i) x_iᵀ, and Σ_i (p_i − y_i) = 0 for the bias. */
static void
test_probe_optimality (void)
{
  enum { N = 60, K = 5, D = 12 };
  g_autoptr(GRand) rand = g_rand_new_with_seed (SEED + 1);
  g_autoptr(ClipscopeProbe) probe = NULL, again = NULL;
  g_autoptr(GError) error = NULL;
  ClipscopeProbeOptions options = clipscope_probe_options_default ();
  g_autofree float *x = NULL;
  float prob[N * K], logits[N * K];
  double grad_w[K * D] = { 0 }, grad_b[K] = { 0 }, bias_sum = 0;
  const float *w, *b;
  int labels[N], k, d;

  for (int i = 0; i < N; i++)
    labels[i] = i % K;
  x = random_examples (rand, labels, N, K, D, 2.0);
  options.c = 3.0;
  options.tolerance = 1e-9;
  probe = clipscope_probe_train (x, labels, N, K, D, NULL, &options, NULL, &error);
  g_assert_no_error (error);
  w = clipscope_probe_get_weights (probe, &k, &d);
  b = clipscope_probe_get_bias (probe);
  g_assert_cmpint (k, ==, K);
  g_assert_cmpint (d, ==, D);
  g_assert_cmpint (clipscope_probe_get_iterations (probe), >, 0);
  g_assert_cmpint (clipscope_probe_get_iterations (probe), <, options.max_iterations);

  clipscope_probe_predict (probe, x, N, logits, prob);
  for (int i = 0; i < N; i++)
    {
      double total = 0;

      for (int c = 0; c < K; c++)
        {
          double r = prob[i * K + c] - (c == labels[i]);

          total += prob[i * K + c];
          grad_b[c] += r;
          for (int j = 0; j < D; j++)
            grad_w[c * D + j] += options.c * r * x[i * D + j];
        }
      g_assert_cmpfloat_with_epsilon (total, 1.0, 1e-5);
    }
  for (int c = 0; c < K; c++)
    {
      bias_sum += b[c];
      g_assert_cmpfloat_with_epsilon (grad_b[c], 0.0, 1e-4);
      for (int j = 0; j < D; j++)
        g_assert_cmpfloat_with_epsilon (grad_w[c * D + j] + w[c * D + j], 0.0, 1e-4);
    }
  g_assert_cmpfloat_with_epsilon (bias_sum, 0.0, 1e-5);

  /* The same inputs give the same weights, to the bit. */
  again = clipscope_probe_train (x, labels, N, K, D, NULL, &options, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (w, K * D * sizeof (float), clipscope_probe_get_weights (again, NULL, NULL),
                   K * D * sizeof (float));
}

/* Well-separated classes and a weak penalty: every example is right, and
 * so is every leave-one-out prediction. */
static void
test_probe_separable (void)
{
  enum { N = 30, K = 3, D = 16 };
  g_autoptr(GRand) rand = g_rand_new_with_seed (SEED + 2);
  g_autoptr(ClipscopeProbe) probe = NULL;
  g_autoptr(GError) error = NULL;
  ClipscopeProbeOptions options = clipscope_probe_options_default ();
  g_autofree float *x = NULL;
  float prob[N * K];
  int labels[N], predicted[N], top[N];
  double accuracy = 0;

  for (int i = 0; i < N; i++)
    labels[i] = i % K;
  x = random_examples (rand, labels, N, K, D, 0.3);
  options.c = 100;
  probe = clipscope_probe_train (x, labels, N, K, D, NULL, &options, NULL, &error);
  g_assert_no_error (error);
  clipscope_probe_predict (probe, x, N, NULL, prob);
  clipscope_score_top (prob, NULL, N, K, -INFINITY, top);
  for (int i = 0; i < N; i++)
    {
      g_assert_cmpint (top[i], ==, labels[i]);
      g_assert_cmpfloat (prob[i * K + labels[i]], >, 0.9);
    }
  g_assert_true (clipscope_probe_leave_one_out (x, labels, N, K, D, NULL, &options, predicted,
                                                &accuracy, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (accuracy, ==, 1.0);
  g_assert_cmpmem (predicted, sizeof predicted, labels, sizeof labels);
}

static void
test_probe_cancel (void)
{
  const float x[] = { 1, 0,   0.9f, 0.1f,   0, 1,   0.1f, 0.9f };
  const int labels[] = { 0, 0, 1, 1 };
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeProbe) probe = NULL;

  g_cancellable_cancel (cancellable);
  probe = clipscope_probe_train (x, labels, 4, 2, 2, NULL, NULL, cancellable, &error);
  g_assert_null (probe);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* ------------------------------------------------------------ sorting */

static void
test_sort_folder_names (void)
{
  const char *labels[] = { "../x", "a/b", ".hidden", "  ", "unclassified", "Cat", "cat",
                           "a_b", "c:\\d*?\"<>|\x01", "été" };
  g_autoptr(ClipscopeSorter) sorter = clipscope_sorter_new ("/nonexistent", labels,
                                                            G_N_ELEMENTS (labels),
                                                            CLIPSCOPE_SORT_COPY, TRUE);
  const char *expected[] = { "___x", "a_b", "_hidden", "_", "unclassified", "Cat", "cat-2",
                             "a_b-2", "c__d_______", "été", "unclassified-2" };
  g_autofree char *long_label = NULL;
  g_autoptr(ClipscopeSorter) long_sorter = NULL;
  const char *name;

  for (int j = 0; j < (int) G_N_ELEMENTS (labels); j++)
    g_assert_cmpstr (clipscope_sorter_get_folder (sorter, j), ==, expected[j]);
  g_assert_cmpstr (clipscope_sorter_get_folder (sorter, -1), ==, expected[G_N_ELEMENTS (labels)]);

  /* A name too long for a file system is cut at a character boundary. */
  long_label = g_strnfill (300, 'x');
  memcpy (long_label + 199, "é", 2);
  long_sorter = clipscope_sorter_new ("/nonexistent", (const char *[]) { long_label }, 1,
                                      CLIPSCOPE_SORT_COPY, TRUE);
  name = clipscope_sorter_get_folder (long_sorter, 0);
  g_assert_cmpuint (strlen (name), <=, 200);
  g_assert_true (g_utf8_validate (name, -1, NULL));
}

static char *
write_file (const char *dir,
            const char *name,
            const char *contents)
{
  char *path = g_build_filename (dir, name, NULL);

  g_assert_true (g_file_set_contents (path, contents, -1, NULL));
  return path;
}

/* Sorts a, b (both "x.png") and c (".png") with @action into @out: a dry
 * run, the real run, then a dry run that has to avoid what is on disk. */
static void
sort_three (const char          *out,
            ClipscopeSortAction  action,
            const char          *a,
            const char          *b,
            const char          *c)
{
  const char *labels[] = { "cat", "dog" };
  const char *names[3][3] = { { "x.png", "x-2.png", ".png" },
                              { "x.png", "x-2.png", ".png" },
                              { "x-3.png", "x-4.png", ".png-2" } };
  const char *sources[] = { a, b, c };
  const int top[] = { 0, 0, -1 };

  for (int run = 0; run < 3; run++)
    {
      g_autoptr(ClipscopeSorter) sorter = clipscope_sorter_new (out, labels, 2, action, run != 1);

      for (int f = 0; f < 3; f++)
        {
          g_autoptr(GError) error = NULL;
          g_autofree char *dest = clipscope_sorter_add (sorter, sources[f], top[f], NULL, &error);
          g_autofree char *expected = g_build_filename (out, f < 2 ? "cat" : "unclassified",
                                                        names[run][f], NULL);

          g_assert_no_error (error);
          g_assert_cmpstr (dest, ==, expected);
          g_assert_true (g_file_test (dest, G_FILE_TEST_EXISTS) == (run == 1));
        }
      g_assert_true (g_file_test (out, G_FILE_TEST_EXISTS) == (run > 0));
    }
}

static void
test_sort_files (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("clipscope-sort-XXXXXX", NULL);
  g_autofree char *sub = g_build_filename (tmp, "sub", NULL);
  g_autofree char *a = NULL, *b = NULL, *c = NULL;
  const ClipscopeSortAction actions[] = { CLIPSCOPE_SORT_COPY, CLIPSCOPE_SORT_HARD_LINK,
                                          CLIPSCOPE_SORT_SYMLINK };

  g_assert_cmpint (g_mkdir (sub, 0755), ==, 0);
  a = write_file (tmp, "x.png", "first");
  b = write_file (sub, "x.png", "second");
  c = write_file (tmp, ".png", "third");
  for (gsize t = 0; t < G_N_ELEMENTS (actions); t++)
    {
      g_autofree char *name = g_strdup_printf ("out-%d", (int) t);
      g_autofree char *out = g_build_filename (tmp, name, NULL);
      g_autofree char *first = g_build_filename (out, "cat", "x.png", NULL);
      g_autofree char *second = g_build_filename (out, "cat", "x-2.png", NULL);
      g_autofree char *contents = NULL, *target = NULL;
      GStatBuf st_src, st_dst;

      sort_three (out, actions[t], a, b, c);
      g_assert_true (g_file_get_contents (second, &contents, NULL, NULL));
      g_assert_cmpstr (contents, ==, "second");
      g_assert_cmpint (g_stat (a, &st_src), ==, 0);
      g_assert_cmpint (g_lstat (first, &st_dst), ==, 0);
      g_assert_true ((st_src.st_ino == st_dst.st_ino) == (actions[t] == CLIPSCOPE_SORT_HARD_LINK));
      g_assert_true (S_ISLNK (st_dst.st_mode) == (actions[t] == CLIPSCOPE_SORT_SYMLINK));
      target = g_file_read_link (first, NULL);
      g_assert_cmpstr (target, ==, actions[t] == CLIPSCOPE_SORT_SYMLINK ? a : NULL);
    }
}

static void
test_sort_missing (void)
{
  g_autoptr(ClipscopeSorter) sorter = clipscope_sorter_new ("/nonexistent/out", NULL, 0,
                                                            CLIPSCOPE_SORT_COPY, TRUE);
  g_autoptr(GError) error = NULL;
  g_autofree char *dest = clipscope_sorter_add (sorter, "/nonexistent/in.png", -1, NULL, &error);

  g_assert_null (dest);
  g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "/nonexistent/in.png"));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/engine/fewshot/contributions-values", test_contributions_values);
  g_test_add_func ("/engine/fewshot/contributions-degenerate", test_contributions_degenerate);
  g_test_add_func ("/engine/fewshot/score-top", test_score_top);
  g_test_add_func ("/engine/fewshot/prototypes-values", test_prototypes_values);
  g_test_add_func ("/engine/fewshot/prototypes-leave-one-out", test_prototypes_leave_one_out);
  g_test_add_func ("/engine/probe/too-few", test_probe_too_few);
  g_test_add_func ("/engine/probe/optimality", test_probe_optimality);
  g_test_add_func ("/engine/probe/separable", test_probe_separable);
  g_test_add_func ("/engine/probe/cancel", test_probe_cancel);
  g_test_add_func ("/engine/sort/folder-names", test_sort_folder_names);
  g_test_add_func ("/engine/sort/files", test_sort_files);
  g_test_add_func ("/engine/sort/missing", test_sort_missing);
  return g_test_run ();
}
