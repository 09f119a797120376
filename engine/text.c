/* text.c — the text tower
 *
 * CLIP: ids → token embeddings + positions → causal blocks → final LN of
 * the end-of-text row → projection. The sequence is cut at the batch's
 * last end-of-text (see clipscope_graph_encode_tokens()).
 *
 * SigLIP: the same without the causal mask, over the whole context, the
 * last position pooled, and a projection with a bias (the head), or none.
 */
#include "graph.h"

#define S(name) be->ops->slot (be, CLIPSCOPE_SLOT_##name)

void
clipscope_text_record (ClipscopeGraphBackend *be,
                       int                    n,
                       int                    seq)
{
  const ClipscopeGraphOps *ops = be->ops;
  const ClipscopeTextTower *t = &be->model->text;
  const ClipscopeWeights *wt = be->weights;
  const int w = t->tf.width, e = be->model->info.embed_dim;
  /* Without a head the normalised row is the embedding. */
  const gboolean head = wt->text_proj.buf != NULL;

  ops->embed_tokens (be, S (X), wt->token_emb, wt->text_pos, S (IDS), n, seq, t->context_length, w);
  clipscope_transformer_record (be, &t->tf, wt->text_blocks, n, seq, !t->pool_last, S (INDEX), FALSE);
  ops->layer_norm (be, S (POOL), w, n, w, wt->ln_final_w, wt->ln_final_b, t->tf.ln_eps,
                   head ? S (H) : S (OUT), head ? w : e);
  if (head)
    ops->linear (be, S (H), w, n, w, wt->text_proj, wt->text_proj_b, e, S (OUT), e,
                 CLIPSCOPE_ACT_NONE, FALSE);
}
