/* text.c — the text tower
 *
 * ids → token embeddings + positions → causal blocks → final LN of the
 * end-of-text row → projection.
 */
#include "encoder.h"
#include "cpu/cpu-ops.h"

/* The end-of-text token has the highest id of the vocabulary, so its
 * position is that of the row's maximum, as CLIP pools. */
static int
eot_position (const int32_t *row,
              int            context_length)
{
  int best = 0;

  for (int t = 1; t < context_length; t++)
    if (row[t] > row[best])
      best = t;
  return best;
}

gboolean
clipscope_text_encode (ClipscopeModel   *model,
                       ClipscopeScratch *s,
                       const int32_t    *tokens,
                       int               n,
                       float            *out,
                       GCancellable     *cancellable,
                       GError          **error)
{
  const ClipscopeTextTower *t = &model->text;
  const int w = t->tf.width, ctx = t->context_length, e = model->info.embed_dim;
  g_autofree int *pool_rows = g_new (int, n);
  float *x, *pooled;
  int seq = 1;

  for (int i = 0; i < n; i++)
    for (int j = 0; j < ctx; j++)
      if (tokens[(gsize) i * ctx + j] < 0 || tokens[(gsize) i * ctx + j] >= t->vocab_size)
        {
          g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT,
                       "token id %d at text %d, position %d is outside the vocabulary of %d",
                       tokens[(gsize) i * ctx + j], i, j, t->vocab_size);
          return FALSE;
        }

  /* Under the causal mask no row sees the ones after it, so the rows past
   * the last end-of-text of the batch cannot change the result; short
   * labels then cost a fraction of the full context. */
  for (int i = 0; i < n; i++)
    {
      pool_rows[i] = eot_position (tokens + (gsize) i * ctx, ctx);
      seq = MAX (seq, pool_rows[i] + 1);
    }

  if (!(x = clipscope_scratch_get (s, SCRATCH_X, (gsize) n * seq * w, error))
      || !(pooled = clipscope_scratch_get (s, SCRATCH_TMP, (gsize) n * w, error)))
    return FALSE;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < seq; j++)
      {
        const float *tok = t->token_emb + (gsize) tokens[(gsize) i * ctx + j] * w;
        const float *pos = t->pos_emb + (gsize) j * w;
        float *xr = x + ((gsize) i * seq + j) * w;

        for (int k = 0; k < w; k++)
          xr[k] = tok[k] + pos[k];
      }

  if (!clipscope_transformer_forward (&t->tf, x, n, seq, TRUE, pool_rows, s, cancellable, error))
    return FALSE;
  clipscope_cpu_layer_norm (x, w, n, w, t->ln_final_w, t->ln_final_b, t->tf.ln_eps, pooled, w);
  clipscope_cpu_linear (pooled, w, n, w, t->proj, NULL, e, out, e, FALSE);
  return TRUE;
}
