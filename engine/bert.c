/* bert.c — Chinese-CLIP's text tower, a BERT encoder
 *
 * ids → word embeddings + positions + token type 0 (folded into the
 * positions when loading) → LN → post-LN blocks → the first token
 * ([CLS]) → projection without bias. A block is
 *   x = LN₁(x + attn(x));  x = LN₂(x + fc₂(gelu(fc₁(x))))
 * with exact GELU and attention that sees no padding: each sequence's
 * keys stop at its length (SLOT_INDEX). Since nothing then depends on
 * what follows a sequence, the chunk runs to its longest, not to the
 * full context (see clipscope_graph_run()).
 */
#include "graph.h"

#define S(name) be->ops->slot (be, CLIPSCOPE_SLOT_##name)

void
clipscope_bert_record (ClipscopeGraphBackend *be,
                       int                    n,
                       int                    seq)
{
  const ClipscopeGraphOps *ops = be->ops;
  const ClipscopeTextTower *t = &be->model->text;
  const ClipscopeTransformer *tf = &t->tf;
  const ClipscopeWeights *wt = be->weights;
  const int w = tf->width, m = tf->mlp_width, rows = n * seq, e = be->model->info.embed_dim;
  const ClipscopeAct gelu = clipscope_transformer_act (tf);

  ops->embed_tokens (be, S (H), wt->token_emb, wt->text_pos, S (IDS), n, seq, t->context_length, w);
  ops->layer_norm (be, S (H), w, rows, w, wt->ln_emb_w, wt->ln_emb_b, tf->ln_eps, S (X), w);

  for (int l = 0; l < tf->n_layers; l++)
    {
      const ClipscopeBlockWeights *b = &wt->text_blocks[l];
      /* Only the first token matters after the last block: there it alone
       * queries, and its row alone goes on, in SLOT_POOL. */
      const gboolean last = l == tf->n_layers - 1;
      const ClipscopeView x = last ? S (POOL) : S (X), qkv = S (QKV);
      const ClipscopeView qkv_w[] = { b->qkv_w, b->k_w, b->v_w };
      const ClipscopeView qkv_b[] = { b->qkv_b, b->k_b, b->v_b };
      const int out_rows = last ? n : rows;
      const ClipscopeAttention attn = {
        .q = qkv, .k = clipscope_view_at (qkv, w), .v = clipscope_view_at (qkv, 2 * w),
        .out = S (ATTN), .lengths = S (INDEX),
        .ldq = 3 * w, .ldkv = 3 * w, .ldout = w,
        .batch = n, .seq = seq, .n_q = last ? 1 : seq, .q_bstride = seq,
        .width = w, .n_heads = tf->n_heads, .causal = FALSE,
      };

      clipscope_graph_linear_parts (be, S (X), w, rows, w, qkv_w, qkv_b, 3, w, qkv, 3 * w);
      ops->attention (be, &attn);
      if (last)
        ops->gather_rows (be, S (X), S (POOL), CLIPSCOPE_NO_VIEW, n, seq, w);
      ops->linear (be, S (ATTN), w, out_rows, w, b->out_w, b->out_b, w, x, w,
                   CLIPSCOPE_ACT_NONE, TRUE);
      ops->layer_norm (be, x, w, out_rows, w, b->ln_1_w, b->ln_1_b, tf->ln_eps, S (H), w);
      ops->linear (be, S (H), w, out_rows, w, b->fc1_w, b->fc1_b, m, S (MLP), m, gelu, FALSE);
      ops->linear (be, S (MLP), m, out_rows, m, b->fc2_w, b->fc2_b, w, S (H), w,
                   CLIPSCOPE_ACT_NONE, TRUE);
      ops->layer_norm (be, S (H), w, out_rows, w, b->ln_2_w, b->ln_2_b, tf->ln_eps, x, w);
    }
  if (tf->n_layers == 0)
    ops->gather_rows (be, S (X), S (POOL), CLIPSCOPE_NO_VIEW, n, seq, w);
  ops->linear (be, S (POOL), w, n, w, wt->text_proj, CLIPSCOPE_NO_VIEW, e, S (OUT), e,
               CLIPSCOPE_ACT_NONE, FALSE);
}
