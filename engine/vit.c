/* vit.c — the Vision Transformer image tower
 *
 * pixels → patches (the stride-p convolution as im2col rows and one
 * linear layer) → [class token; patches] + positions → LN_pre → blocks →
 * LN_post of the class token → projection.
 *
 * For a spatial map the same runs with LN_post and the projection applied
 * to every token, the patches included.
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
  const int w = v->tf.width, s = v->image_size, seq = 1 + v->n_patches;
  const int patch = 3 * v->patch_size * v->patch_size;
  const ClipscopeMap map = { n, 3, s, s, 3 * s * s, s * s, s, 1 };

  /* The patch embedding is a stride-p convolution without bias. */
  ops->im2col (be, S (PIXELS), &map, v->patch_size, v->patch_size, 0, S (MLP));
  ops->linear (be, S (MLP), patch, n * v->n_patches, patch, wt->patch_w, CLIPSCOPE_NO_VIEW, w,
               S (QKV), w, CLIPSCOPE_ACT_NONE, FALSE);
  ops->assemble_tokens (be, S (H), S (QKV), wt->class_emb, wt->vit_pos, n, seq, w, FALSE);
  ops->layer_norm (be, S (H), w, n * seq, w, wt->ln_pre_w, wt->ln_pre_b, v->tf.ln_eps, S (X), w);
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
  clipscope_transformer_record (be, &v->tf, wt->vision_blocks, n, 1 + v->n_patches, FALSE,
                                CLIPSCOPE_NO_VIEW, spatial);
  ops->layer_norm (be, in, w, rows, w, wt->ln_post_w, wt->ln_post_b, v->tf.ln_eps, S (H), w);
  ops->linear (be, S (H), w, rows, w, wt->vit_proj, CLIPSCOPE_NO_VIEW, e,
               spatial ? S (SPATIAL_OUT) : S (OUT), e, CLIPSCOPE_ACT_NONE, FALSE);
}
