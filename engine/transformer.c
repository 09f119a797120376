/* transformer.c — the residual attention blocks both towers share
 *
 * A block is pre-LN: x += attn(LN₁(x)); x += mlp(LN₂(x)), where attn is
 * multi-head self-attention and mlp is fc₂(gelu(fc₁(·))). Only the
 * pooled rows matter after the last block, so unless every row is
 * wanted (the spatial pass) that block computes just those.
 */
#include "graph.h"

#define S(name) be->ops->slot (be, CLIPSCOPE_SLOT_##name)

void
clipscope_transformer_record (ClipscopeGraphBackend       *be,
                              const ClipscopeTransformer  *tf,
                              const ClipscopeBlockWeights *blocks,
                              int                          n,
                              int                          seq,
                              gboolean                     causal,
                              ClipscopeView              index,
                              gboolean                     every_row)
{
  const ClipscopeGraphOps *ops = be->ops;
  const int w = tf->width, m = tf->mlp_width, rows = n * seq;
  const ClipscopeAct gelu = clipscope_transformer_act (tf);

  for (int l = 0; l < tf->n_layers; l++)
    {
      const ClipscopeBlockWeights *b = &blocks[l];
      const gboolean last = l == tf->n_layers - 1 && !every_row;
      const ClipscopeView x = last ? S (POOL) : S (X), qkv = S (QKV);
      const ClipscopeView qkv_w[] = { b->qkv_w, b->k_w, b->v_w };
      const ClipscopeView qkv_b[] = { b->qkv_b, b->k_b, b->v_b };
      const int out_rows = last ? n : rows;
      const ClipscopeAttention attn = {
        .q = qkv, .k = clipscope_view_at (qkv, w), .v = clipscope_view_at (qkv, 2 * w),
        .out = S (ATTN), .index = last ? index : CLIPSCOPE_NO_VIEW,
        .ldq = 3 * w, .ldkv = 3 * w, .ldout = w,
        .batch = n, .seq = seq, .n_q = last ? 1 : seq, .q_bstride = seq,
        .width = w, .n_heads = tf->n_heads, .causal = causal,
      };

      ops->layer_norm (be, S (X), w, rows, w, b->ln_1_w, b->ln_1_b, tf->ln_eps, S (H), w);
      clipscope_graph_linear_parts (be, S (H), w, rows, w, qkv_w, qkv_b, 3, w, qkv, 3 * w);
      ops->attention (be, &attn);
      if (last)
        ops->gather_rows (be, S (X), S (POOL), index, n, seq, w);
      ops->linear (be, S (ATTN), w, out_rows, w, b->out_w, b->out_b, w, x, w,
                   CLIPSCOPE_ACT_NONE, TRUE);
      ops->layer_norm (be, x, w, out_rows, w, b->ln_2_w, b->ln_2_b, tf->ln_eps, S (H), w);
      ops->linear (be, S (H), w, out_rows, w, b->fc1_w, b->fc1_b, m, S (MLP), m, gelu, FALSE);
      ops->linear (be, S (MLP), m, out_rows, m, b->fc2_w, b->fc2_b, w, x, w,
                   CLIPSCOPE_ACT_NONE, TRUE);
    }
  if (tf->n_layers == 0 && !every_row)
    ops->gather_rows (be, S (X), S (POOL), index, n, seq, w);
}
