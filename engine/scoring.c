/* scoring.c — zero-shot scores from embeddings */
#include "clipscope-private.h"

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
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, n_images, n_labels, dim,
               1.0f, images, dim, labels, dim, 0.0f, similarity, n_labels);
  if (probabilities == NULL)
    return;
  for (int i = 0; i < n_images; i++)
    {
      const float *s = similarity + (gsize) i * n_labels;
      float *p = probabilities + (gsize) i * n_labels;
      double max = s[0], sum = 0.0;

      /* Subtracting the largest logit keeps exp from overflowing. */
      for (int j = 1; j < n_labels; j++)
        max = MAX (max, s[j]);
      for (int j = 0; j < n_labels; j++)
        sum += exp ((double) logit_scale * (s[j] - max));
      for (int j = 0; j < n_labels; j++)
        p[j] = (float) (exp ((double) logit_scale * (s[j] - max)) / sum);
    }
}
