/* scoring.c — zero-shot scores from embeddings */
#include "fewshot.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

gboolean
clipscope_template_is_valid (const char *template_)
{
  const char *first;

  g_return_val_if_fail (template_ != NULL, FALSE);

  first = strstr (template_, "{}");
  return first != NULL && strstr (first + 2, "{}") == NULL;
}

char *
clipscope_template_apply (const char *template_,
                          const char *label)
{
  const char *hole;

  g_return_val_if_fail (template_ != NULL, NULL);
  g_return_val_if_fail (label != NULL, NULL);

  hole = strstr (template_, "{}");
  if (hole == NULL)
    return g_strdup (template_);
  return g_strdup_printf ("%.*s%s%s", (int) (hole - template_), template_, label, hole + 2);
}

const char *
clipscope_family_to_string (ClipscopeFamily family)
{
  switch (family)
    {
    case CLIPSCOPE_FAMILY_SIGLIP:
      return "siglip";
    case CLIPSCOPE_FAMILY_CHINESE_CLIP:
      return "chinese-clip";
    case CLIPSCOPE_FAMILY_CLIP:
    default:
      return "clip";
    }
}

const char *
clipscope_scoring_to_string (ClipscopeScoring scoring)
{
  return scoring == CLIPSCOPE_SCORING_SIGMOID ? "sigmoid" : "softmax";
}

void
clipscope_score (const float *images,
                 int          n_images,
                 const float *labels,
                 int          n_labels,
                 int          dim,
                 float        logit_scale,
                 float       *similarity,
                 float       *probabilities)
{
  g_return_if_fail (n_images >= 0 && n_labels >= 0 && dim > 0);
  if (n_images == 0 || n_labels == 0)
    return;

  /* The embeddings are normalised, so their dot products are cosines. */
  clipscope_blas_begin ();
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, n_images, n_labels, dim,
               1.0f, images, dim, labels, dim, 0.0f, similarity, n_labels);
  clipscope_blas_end ();
  if (probabilities == NULL)
    return;
  for (int i = 0; i < n_images; i++)
    clipscope_softmax (similarity + (gsize) i * n_labels, n_labels, logit_scale,
                       probabilities + (gsize) i * n_labels);
}

void
clipscope_score_with (const float      *images,
                      int               n_images,
                      const float      *labels,
                      int               n_labels,
                      int               dim,
                      ClipscopeScoring  scoring,
                      float             logit_scale,
                      float             logit_bias,
                      float            *similarity,
                      float            *probabilities)
{
  if (scoring != CLIPSCOPE_SCORING_SIGMOID)
    {
      clipscope_score (images, n_images, labels, n_labels, dim, logit_scale, similarity,
                       probabilities);
      return;
    }
  clipscope_score (images, n_images, labels, n_labels, dim, logit_scale, similarity, NULL);
  if (probabilities == NULL)
    return;
  for (gsize k = 0; k < (gsize) n_images * n_labels; k++)
    {
      /* 1 / (1 + e^-z) in double neither overflows nor loses the tails. */
      double z = (double) logit_scale * similarity[k] + logit_bias;
      probabilities[k] = (float) (1.0 / (1.0 + exp (-z)));
    }
}

void
clipscope_softmax (const float *x,
                   int          n,
                   float        scale,
                   float       *out)
{
  double max = x[0], sum = 0.0;

  /* Subtracting the largest logit keeps exp from overflowing. */
  for (int j = 1; j < n; j++)
    max = MAX (max, x[j]);
  for (int j = 0; j < n; j++)
    sum += exp ((double) scale * (x[j] - max));
  for (int j = 0; j < n; j++)
    out[j] = (float) (exp ((double) scale * (x[j] - max)) / sum);
}

/* The sum of the other templates' embeddings is S − t_k, so one pass over
 * the templates gives every leave-one-out ensemble: its dot product with
 * the image is image·S − image·t_k, and its squared norm is
 * ‖S‖² − 2 S·t_k + ‖t_k‖². Sums are kept in double, which keeps that
 * difference exact enough even when two templates nearly coincide. */
float
clipscope_template_contributions (const float *texts,
                                  int          n_templates,
                                  const float *image,
                                  int          dim,
                                  float       *cosines,
                                  float       *without)
{
  g_autofree double *sum = NULL;     /* S[dim], the sum of the templates */
  double image_sum = 0.0, sum_sq = 0.0;

  g_return_val_if_fail (texts != NULL && image != NULL && cosines != NULL, NAN);
  g_return_val_if_fail (n_templates > 0 && dim > 0, NAN);

  sum = g_new0 (double, dim);
  for (int k = 0; k < n_templates; k++)
    for (int i = 0; i < dim; i++)
      sum[i] += texts[(gsize) k * dim + i];
  for (int i = 0; i < dim; i++)
    {
      image_sum += sum[i] * image[i];
      sum_sq += sum[i] * sum[i];
    }

  for (int k = 0; k < n_templates; k++)
    {
      const float *t = texts + (gsize) k * dim;
      double dot = 0.0, sum_dot = 0.0, t_sq = 0.0, rest_sq;

      for (int i = 0; i < dim; i++)
        {
          dot += (double) t[i] * image[i];
          sum_dot += sum[i] * t[i];
          t_sq += (double) t[i] * t[i];
        }
      cosines[k] = (float) dot;
      if (without == NULL)
        continue;
      rest_sq = sum_sq - 2.0 * sum_dot + t_sq;
      without[k] = n_templates > 1 && rest_sq > 1e-12 ? (float) ((image_sum - dot) / sqrt (rest_sq))
                                                      : NAN;
    }
  return sum_sq > 0.0 ? (float) (image_sum / sqrt (sum_sq)) : NAN;
}

int
clipscope_score_top (const float *similarity,
                     const float *probabilities,
                     int          n_images,
                     int          n_labels,
                     float        threshold,
                     int         *top)
{
  int n_unclassified = 0;

  g_return_val_if_fail (similarity != NULL && top != NULL, 0);
  g_return_val_if_fail (n_images >= 0 && n_labels > 0, 0);

  for (int i = 0; i < n_images; i++)
    {
      const float *s = similarity + (gsize) i * n_labels;
      const float *rank = probabilities ? probabilities + (gsize) i * n_labels : s;
      int best = 0;

      for (int j = 1; j < n_labels; j++)
        if (rank[j] > rank[best])
          best = j;
      /* A NaN cosine passes no threshold but the absent one. */
      if (threshold > -INFINITY && !(s[best] >= threshold))
        {
          best = -1;
          n_unclassified++;
        }
      top[i] = best;
    }
  return n_unclassified;
}
