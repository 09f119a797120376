/* vit.c — the Vision Transformer image tower
 *
 * pixels → patches (the stride-p convolution as one matrix product) →
 * [class token; patches] + positions → LN_pre → blocks → LN_post of the
 * class token → projection.
 *
 * For a spatial map the same runs with LN_post and the projection applied
 * to every token, the patches included (clipscope_vit_encode_spatial).
 */
#include "encoder.h"
#include "cpu/cpu-ops.h"

/* cols[n · n_patches, 3 · p · p]: each row one patch, ordered (channel,
 * y, x) to match the convolution weight (width, 3, p, p). */
static void
im2col_patches (const ClipscopeVit *v,
                const float        *pixels,
                int                 n,
                float              *cols)
{
  const int p = v->patch_size, s = v->image_size, grid = s / p;
  const gsize row_len = (gsize) 3 * p * p;

  for (int i = 0; i < n; i++)
    for (int gy = 0; gy < grid; gy++)
      for (int gx = 0; gx < grid; gx++)
        {
          float *dst = cols + ((gsize) i * v->n_patches + gy * grid + gx) * row_len;

          for (int c = 0; c < 3; c++)
            for (int y = 0; y < p; y++)
              {
                const float *src = pixels + (((gsize) i * 3 + c) * s + gy * p + y) * s + gx * p;
                memcpy (dst + ((gsize) c * p + y) * p, src, p * sizeof (float));
              }
        }
}

/* x[n, seq, width]: the class token, then the patches, plus positions,
 * through LN_pre — the input of the first block. */
static float *
embed_tokens (const ClipscopeVit *v,
              ClipscopeScratch   *s,
              const float        *pixels,
              int                 n,
              GError            **error)
{
  const int w = v->tf.width, seq = 1 + v->n_patches;
  const gsize row_len = (gsize) 3 * v->patch_size * v->patch_size;
  float *x, *cols, *emb;

  if (!(x = clipscope_scratch_get (s, SCRATCH_X, (gsize) n * seq * w, error))
      || !(cols = clipscope_scratch_get (s, SCRATCH_COLS, (gsize) n * v->n_patches * row_len, error))
      || !(emb = clipscope_scratch_get (s, SCRATCH_TMP, (gsize) n * v->n_patches * w, error)))
    return NULL;

  /* emb[n · n_patches, width] = cols · patch_wᵀ (the conv has no bias). */
  im2col_patches (v, pixels, n, cols);
  clipscope_cpu_linear (cols, row_len, n * v->n_patches, row_len, v->patch_w, NULL, w, emb, w, FALSE);

  for (int i = 0; i < n; i++)
    for (int t = 0; t < seq; t++)
      {
        float *xr = x + ((gsize) i * seq + t) * w;
        const float *src = t == 0 ? v->class_emb : emb + ((gsize) i * v->n_patches + t - 1) * w;
        const float *pos = v->pos_emb + (gsize) t * w;

        for (int j = 0; j < w; j++)
          xr[j] = src[j] + pos[j];
      }
  clipscope_cpu_layer_norm (x, w, n * seq, w, v->ln_pre_w, v->ln_pre_b, v->tf.ln_eps, x, w);
  return x;
}

/* out[rows, embed_dim] = LN_post(x[rows, width]) · proj. */
static gboolean
project_rows (ClipscopeModel   *model,
              ClipscopeScratch *s,
              const float      *x,
              int               rows,
              float            *out,
              GError          **error)
{
  const ClipscopeVit *v = &model->vit;
  const int w = v->tf.width, e = model->info.embed_dim;
  float *normed = clipscope_scratch_get (s, SCRATCH_TMP, (gsize) rows * w, error);

  if (normed == NULL)
    return FALSE;
  clipscope_cpu_layer_norm (x, w, rows, w, v->ln_post_w, v->ln_post_b, v->tf.ln_eps, normed, w);
  clipscope_cpu_linear (normed, w, rows, w, v->proj, NULL, e, out, e, FALSE);
  return TRUE;
}

gboolean
clipscope_vit_encode (ClipscopeModel   *model,
                      ClipscopeScratch *s,
                      const float      *pixels,
                      int               n,
                      float            *out,
                      GCancellable     *cancellable,
                      GError          **error)
{
  const ClipscopeVit *v = &model->vit;
  g_autofree int *pool_rows = g_new0 (int, n);   /* the class token */
  float *x;

  if (!(x = embed_tokens (v, s, pixels, n, error))
      || !clipscope_transformer_forward (&v->tf, x, n, 1 + v->n_patches, FALSE, pool_rows, s,
                                         cancellable, error))
    return FALSE;

  /* x[0 : n] now holds the class tokens. */
  return project_rows (model, s, x, n, out, error);
}

gboolean
clipscope_vit_encode_spatial (ClipscopeModel   *model,
                              ClipscopeScratch *s,
                              const float      *pixels,
                              float            *out,
                              GCancellable     *cancellable,
                              GError          **error)
{
  const ClipscopeVit *v = &model->vit;
  float *x;

  /* Without pool rows the last block runs over every token, so the patch
   * rows come out of it as fully as the class token does. */
  return (x = embed_tokens (v, s, pixels, 1, error)) != NULL
         && clipscope_transformer_forward (&v->tf, x, 1, 1 + v->n_patches, FALSE, NULL, s,
                                           cancellable, error)
         && project_rows (model, s, x, 1 + v->n_patches, out, error);
}
