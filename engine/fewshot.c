/* fewshot.c — classifiers from example images: prototypes */
#include "fewshot.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

const char *
clipscope_label_mode_to_string (ClipscopeLabelMode mode)
{
  switch (mode)
    {
    case CLIPSCOPE_LABEL_MODE_PROTOTYPE:
      return "prototype";
    case CLIPSCOPE_LABEL_MODE_PROBE:
      return "probe";
    case CLIPSCOPE_LABEL_MODE_ZERO_SHOT:
    default:
      return "zero-shot";
    }
}

gboolean
clipscope_example_labels_valid (const int *example_labels,
                                int        n_examples,
                                int        n_labels)
{
  for (int i = 0; i < n_examples; i++)
    if (example_labels[i] < 0 || example_labels[i] >= n_labels)
      return FALSE;
  return TRUE;
}

/* sums[n_labels, dim]: the sum of each label's examples, in double so that
 * taking one example out again (leave-one-out) is exact; counts[n_labels]. */
static void
sum_examples (const float *examples,
              const int   *example_labels,
              int          n_examples,
              int          n_labels,
              int          dim,
              double      *sums,
              int         *counts)
{
  memset (sums, 0, (gsize) n_labels * dim * sizeof (double));
  memset (counts, 0, (gsize) n_labels * sizeof (int));
  for (int i = 0; i < n_examples; i++)
    {
      double *s = sums + (gsize) example_labels[i] * dim;
      const float *x = examples + (gsize) i * dim;

      for (int k = 0; k < dim; k++)
        s[k] += x[k];
      counts[example_labels[i]]++;
    }
}

/* out[dim] = normalise ((1 − w) · text + w · sum / count), or text itself
 * when there is no example; @out may be @text. */
static void
blend_row (const float  *text,
           const double *sum,
           int           count,
           float         weight,
           int           dim,
           float        *out)
{
  double norm = 0.0, scale;

  if (count == 0)
    {
      memmove (out, text, (gsize) dim * sizeof (float));
      return;
    }
  for (int k = 0; k < dim; k++)
    {
      double v = (1.0 - weight) * text[k] + weight * sum[k] / count;

      out[k] = (float) v;
      norm += v * v;
    }
  /* A blend that cancels out exactly stays zero: its cosines are 0. */
  scale = norm > 0.0 ? 1.0 / sqrt (norm) : 0.0;
  for (int k = 0; k < dim; k++)
    out[k] = (float) (out[k] * scale);
}

/* What both entry points demand of their arguments. */
static gboolean
arguments_valid (const float *text,
                 int          n_labels,
                 int          dim,
                 const float *examples,
                 const int   *example_labels,
                 int          n_examples,
                 float        weight)
{
  return text != NULL && n_labels >= 0 && dim > 0 && n_examples >= 0
         && (n_examples == 0 || (examples != NULL && example_labels != NULL))
         && clipscope_example_labels_valid (example_labels, n_examples, n_labels)
         && weight >= 0.0f && weight <= 1.0f;
}

/* Fills classifier[n_labels, dim], leaving each label's example sum and
 * count in sums[n_labels, dim] and counts[n_labels]. */
static void
build (const float *text,
       int          n_labels,
       int          dim,
       const float *examples,
       const int   *example_labels,
       int          n_examples,
       float        weight,
       double      *sums,
       int         *counts,
       float       *classifier)
{
  sum_examples (examples, example_labels, n_examples, n_labels, dim, sums, counts);
  for (int j = 0; j < n_labels; j++)
    blend_row (text + (gsize) j * dim, sums + (gsize) j * dim, counts[j], weight, dim,
               classifier + (gsize) j * dim);
}

void
clipscope_prototypes_build (const float *text,
                            int          n_labels,
                            int          dim,
                            const float *examples,
                            const int   *example_labels,
                            int          n_examples,
                            float        weight,
                            float       *classifier)
{
  g_autofree double *sums = NULL;    /* [n_labels, dim] */
  g_autofree int *counts = NULL;     /* [n_labels] */

  g_return_if_fail (arguments_valid (text, n_labels, dim, examples, example_labels, n_examples,
                                     weight));
  g_return_if_fail (classifier != NULL);

  if (n_labels == 0)
    return;
  sums = g_new (double, (gsize) n_labels * dim);
  counts = g_new (int, n_labels);
  build (text, n_labels, dim, examples, example_labels, n_examples, weight, sums, counts,
         classifier);
}

/* Scores every example against the full classifier with one product, then
 * redoes only the cosine with its own label's prototype, rebuilt without
 * it: the other labels' prototypes do not depend on it. */
double
clipscope_prototypes_leave_one_out (const float *text,
                                    int          n_labels,
                                    int          dim,
                                    const float *examples,
                                    const int   *example_labels,
                                    int          n_examples,
                                    float        weight,
                                    int         *predicted)
{
  g_autofree double *sums = NULL;       /* [n_labels, dim] */
  g_autofree int *counts = NULL;        /* [n_labels] */
  g_autofree float *classifier = NULL;  /* [n_labels, dim] */
  g_autofree float *scores = NULL;      /* [n_examples, n_labels] */
  g_autofree double *rest = NULL;       /* [dim] */
  g_autofree float *row = NULL;         /* [dim] */
  int correct = 0;

  g_return_val_if_fail (arguments_valid (text, n_labels, dim, examples, example_labels, n_examples,
                                         weight), 0.0);
  g_return_val_if_fail (n_labels > 0 && predicted != NULL, 0.0);

  if (n_examples == 0)
    return 0.0;
  sums = g_new (double, (gsize) n_labels * dim);
  counts = g_new (int, n_labels);
  classifier = g_new (float, (gsize) n_labels * dim);
  scores = g_new (float, (gsize) n_examples * n_labels);
  rest = g_new (double, dim);
  row = g_new (float, dim);

  build (text, n_labels, dim, examples, example_labels, n_examples, weight, sums, counts,
         classifier);
  clipscope_blas_begin ();
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, n_examples, n_labels, dim,
               1.0f, examples, dim, classifier, dim, 0.0f, scores, n_labels);
  for (int i = 0; i < n_examples; i++)
    {
      const float *x = examples + (gsize) i * dim;
      const int own = example_labels[i];
      float *s = scores + (gsize) i * n_labels;
      int best = 0;

      for (int k = 0; k < dim; k++)
        rest[k] = sums[(gsize) own * dim + k] - x[k];
      blend_row (text + (gsize) own * dim, rest, counts[own] - 1, weight, dim, row);
      s[own] = cblas_sdot (dim, x, 1, row, 1);
      for (int j = 1; j < n_labels; j++)
        if (s[j] > s[best])
          best = j;
      predicted[i] = best;
      correct += best == own;
    }
  clipscope_blas_end ();
  return (double) correct / n_examples;
}
