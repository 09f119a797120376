/* vit.c — the Vision Transformer image tower
 *
 * CLIP: pixels → patches (the stride-p convolution as im2col rows and one
 * linear layer) → [class token; patches] + positions → LN_pre → blocks →
 * LN_post of the class token → projection.
 *
 * SigLIP: pixels → patches (the convolution with its bias) + positions →
 * blocks → LN_post of every token → multi-head attention pooling: the
 * learnt probe's query attends over the tokens, its output projected,
 * then h += mlp(LN(h)). The head's output is the embedding.
 *
 * For a spatial map the same runs with LN_post and the projection applied
 * to every token, the patches included. SigLIP's cells take the head's
 * value path instead, as if each token were attended to alone: out(v(t))
 * then the MLP with its residual, the pooled row first.
 */
#include "graph.h"

#define S(name) be->ops->slot (be, CLIPSCOPE_SLOT_##name)

/* SLOT_X [n · seq, width]: the input of the first block. */
static void
record_tokens (ClipscopeGraphBackend *be,
               int                    n)
{
  const ClipscopeGraphOps *ops = be->ops;
  const ClipscopeVit *v = &be->model->vit;
  const ClipscopeWeights *wt = be->weights;
  const int w = v->tf.width, s = v->image_size;
  const int seq = (v->map_head ? 0 : 1) + v->n_patches;
  const int patch = 3 * v->patch_size * v->patch_size;
  const ClipscopeMap map = { n, 3, s, s, 3 * s * s, s * s, s, 1 };

  /* The patch embedding is a stride-p convolution, with a bias in SigLIP. */
  ops->im2col (be, S (PIXELS), &map, v->patch_size, v->patch_size, 0, S (MLP));
  ops->linear (be, S (MLP), patch, n * v->n_patches, patch, wt->patch_w, wt->patch_b, w,
               S (QKV), w, CLIPSCOPE_ACT_NONE, FALSE);
  if (v->map_head)
    {
      ops->assemble_tokens (be, S (X), S (QKV), CLIPSCOPE_NO_VIEW, wt->vit_pos, n, seq, w,
                            CLIPSCOPE_FIRST_NONE);
      return;
    }
  ops->assemble_tokens (be, S (H), S (QKV), wt->class_emb, wt->vit_pos, n, seq, w,
                        CLIPSCOPE_FIRST_CLASS);
  ops->layer_norm (be, S (H), w, n * seq, w, wt->ln_pre_w, wt->ln_pre_b, v->tf.ln_eps, S (X), w);
}

/* SigLIP's head over the n · n_patches rows of SLOT_X, into OUT (or
 * SPATIAL_OUT, with every cell after the pooled row). */
static void
record_map_head (ClipscopeGraphBackend *be,
                 int                    n,
                 gboolean               spatial)
{
  const ClipscopeGraphOps *ops = be->ops;
  const ClipscopeVit *v = &be->model->vit;
  const ClipscopeWeights *wt = be->weights;
  const int w = v->tf.width, m = v->tf.mlp_width, seq = v->n_patches;
  const int rows = spatial ? 1 + seq : n;
  const ClipscopeView out = spatial ? S (SPATIAL_OUT) : S (OUT);
  const ClipscopeView kv_w[] = { wt->map_kv_w, wt->map_v_w };
  const ClipscopeView kv_b[] = { wt->map_kv_b, wt->map_v_b };
  const ClipscopeAct gelu = clipscope_transformer_act (&v->tf);
  /* One query, the probe's, shared by every image: a row stride of 0. */
  const ClipscopeAttention attn = {
    .q = wt->map_q, .k = S (QKV), .v = clipscope_view_at (S (QKV), w), .out = S (ATTN),
    .ldq = w, .ldkv = 2 * w, .ldout = w,
    .batch = n, .seq = seq, .n_q = 1, .q_bstride = 0,
    .width = w, .n_heads = v->tf.n_heads, .causal = FALSE,
  };

  ops->layer_norm (be, S (X), w, n * seq, w, wt->ln_post_w, wt->ln_post_b, v->tf.ln_eps, S (H), w);
  clipscope_graph_linear_parts (be, S (H), w, n * seq, w, kv_w, kv_b, 2, w, S (QKV), 2 * w);
  ops->attention (be, &attn);
  ops->linear (be, S (ATTN), w, n, w, wt->map_out_w, wt->map_out_b, w, out, w,
               CLIPSCOPE_ACT_NONE, FALSE);
  if (spatial)
    ops->linear (be, attn.v, 2 * w, seq, w, wt->map_out_w, wt->map_out_b, w,
                 clipscope_view_at (out, w), w, CLIPSCOPE_ACT_NONE, FALSE);
  ops->layer_norm (be, out, w, rows, w, wt->map_ln_w, wt->map_ln_b, v->tf.ln_eps, S (H), w);
  ops->linear (be, S (H), w, rows, w, wt->map_fc1_w, wt->map_fc1_b, m, S (MLP), m, gelu, FALSE);
  ops->linear (be, S (MLP), m, rows, m, wt->map_fc2_w, wt->map_fc2_b, w, out, w,
               CLIPSCOPE_ACT_NONE, TRUE);
}

void
clipscope_vit_record (ClipscopeGraphBackend *be,
                      int                    n,
                      gboolean               spatial)
{
  const ClipscopeGraphOps *ops = be->ops;
  const ClipscopeVit *v = &be->model->vit;
  const ClipscopeWeights *wt = be->weights;
  const int w = v->tf.width, e = be->model->info.embed_dim;
  /* The spatial pass keeps every token through the last block. */
  const int rows = spatial ? 1 + v->n_patches : n;
  const ClipscopeView in = spatial ? S (X) : S (POOL);

  record_tokens (be, n);
  if (v->map_head)
    {
      clipscope_transformer_record (be, &v->tf, wt->vision_blocks, n, v->n_patches, FALSE,
                                    CLIPSCOPE_NO_VIEW, TRUE);
      record_map_head (be, n, spatial);
      return;
    }
  clipscope_transformer_record (be, &v->tf, wt->vision_blocks, n, 1 + v->n_patches, FALSE,
                                CLIPSCOPE_NO_VIEW, spatial);
  ops->layer_norm (be, in, w, rows, w, wt->ln_post_w, wt->ln_post_b, v->tf.ln_eps, S (H), w);
  ops->linear (be, S (H), w, rows, w, wt->vit_proj, CLIPSCOPE_NO_VIEW, e,
               spatial ? S (SPATIAL_OUT) : S (OUT), e, CLIPSCOPE_ACT_NONE, FALSE);
}
