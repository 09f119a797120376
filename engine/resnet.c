/* resnet.c — OpenAI's ModifiedResNet image tower
 *
 * A three-convolution stem and an average pool, four stages of Bottleneck
 * blocks that down-sample with average pools instead of strided
 * convolutions, and attention pooling: the mean of the final grid queries
 * the grid through one multi-head attention layer. For a spatial map,
 * every token of that layer queries the grid in turn.
 *
 * Feature maps are channel-last, [batch, h, w, c], after the stem's
 * first convolution reads the channel-first pixels; the batch norms are
 * folded into the convolutions at load time.
 */
#include "graph.h"

#define S(name) be->ops->slot (be, CLIPSCOPE_SLOT_##name)

/* A convolution on a channel-last map [n, h, w, c] in @in, into @out. */
static void
record_conv (ClipscopeGraphBackend      *be,
             const ClipscopeConv        *c,
             const ClipscopeConvWeights *cw,
             ClipscopeSlot               in,
             int                         n,
             int                         h,
             int                         w,
             ClipscopeSlot               out,
             ClipscopeAct                act,
             gboolean                    accumulate)
{
  const ClipscopeMap map = { n, c->c_in, h, w, h * w * c->c_in, 1, w * c->c_in, c->c_in };
  const ClipscopeView x = be->ops->slot (be, in), y = be->ops->slot (be, out);

  if (c->kernel == 1 && c->stride == 1 && c->pad == 0)
    be->ops->linear (be, x, c->c_in, n * h * w, c->c_in, cw->w, cw->b, c->c_out, y, c->c_out,
                     act, accumulate);
  else
    be->ops->conv (be, x, &map, cw->w, cw->b, c->c_out, c->kernel, c->stride, c->pad, y, act,
                   accumulate);
}

static void
avg_pool (ClipscopeGraphBackend *be,
          ClipscopeSlot          src,
          ClipscopeSlot          dst,
          int                    n,
          int                    h,
          int                    w,
          int                    c,
          int                    f)
{
  be->ops->avg_pool (be, be->ops->slot (be, src), be->ops->slot (be, dst), n, h, w, c, f);
}

/* x → relu(conv3(pool(relu(conv2(relu(conv1(x)))))) + identity); maps[0]
 * holds the block's input, and afterwards its output. */
static void
record_bottleneck (ClipscopeGraphBackend            *be,
                   const ClipscopeBottleneck        *b,
                   const ClipscopeBottleneckWeights *bw,
                   ClipscopeSlot                     maps[4],
                   int                               n,
                   int                              *h,
                   int                              *w)
{
  const int f = b->stride, ho = *h / f, wo = *w / f;
  ClipscopeSlot in = maps[0], t1 = maps[1], t2 = maps[2], t3 = maps[3], in3, sum = in;

  record_conv (be, &b->conv1, &bw->conv1, in, n, *h, *w, t1, CLIPSCOPE_ACT_RELU, FALSE);
  record_conv (be, &b->conv2, &bw->conv2, t1, n, *h, *w, t2, CLIPSCOPE_ACT_RELU, FALSE);
  in3 = t2;
  if (f > 1)
    {
      avg_pool (be, t2, t1, n, *h, *w, b->conv2.c_out, f);
      in3 = t1;
    }
  if (b->has_downsample)
    {
      ClipscopeSlot ds_in = in;

      if (f > 1)
        {
          avg_pool (be, in, t3, n, *h, *w, b->downsample.c_in, f);
          ds_in = t3;
        }
      /* The identity goes to whichever of t1 and t2 conv3 does not read. */
      sum = in3 == t1 ? t2 : t1;
      record_conv (be, &b->downsample, &bw->downsample, ds_in, n, ho, wo, sum,
                   CLIPSCOPE_ACT_NONE, FALSE);
    }
  /* relu(conv3(·) + identity), accumulated onto the identity. */
  record_conv (be, &b->conv3, &bw->conv3, in3, n, ho, wo, sum, CLIPSCOPE_ACT_RELU, TRUE);
  for (int i = 1; i < 4; i++)
    if (maps[i] == sum)
      {
        maps[i] = maps[0];
        maps[0] = sum;
      }
  *h = ho;
  *w = wo;
}

/* SLOT_X [n · seq, pool_dim]: the attention pool's tokens, the mean of
 * the last feature map and then its cells, plus positions. */
static void
record_tokens (ClipscopeGraphBackend *be,
               int                    n)
{
  const ClipscopeResnet *r = &be->model->resnet;
  const ClipscopeWeights *wt = be->weights;
  const int s = r->image_size, seq = r->pool_grid * r->pool_grid + 1;
  const ClipscopeMap pixels = { n, 3, s, s, 3 * s * s, s * s, s, 1 };
  ClipscopeSlot maps[4] = {
    CLIPSCOPE_SLOT_MAP_A, CLIPSCOPE_SLOT_MAP_B, CLIPSCOPE_SLOT_MAP_C, CLIPSCOPE_SLOT_MAP_D,
  };
  int h, w;

  /* The stem: the input is channel-first, everything after it is not. */
  be->ops->conv (be, S (PIXELS), &pixels, wt->stem[0].w, wt->stem[0].b, r->stem[0].c_out,
                 r->stem[0].kernel, r->stem[0].stride, r->stem[0].pad, S (MAP_B),
                 CLIPSCOPE_ACT_RELU, FALSE);
  h = w = clipscope_conv_out (&r->stem[0], s);
  record_conv (be, &r->stem[1], &wt->stem[1], CLIPSCOPE_SLOT_MAP_B, n, h, w, CLIPSCOPE_SLOT_MAP_C,
               CLIPSCOPE_ACT_RELU, FALSE);
  record_conv (be, &r->stem[2], &wt->stem[2], CLIPSCOPE_SLOT_MAP_C, n, h, w, CLIPSCOPE_SLOT_MAP_B,
               CLIPSCOPE_ACT_RELU, FALSE);
  avg_pool (be, CLIPSCOPE_SLOT_MAP_B, CLIPSCOPE_SLOT_MAP_A, n, h, w, r->stem[2].c_out, 2);
  h /= 2;
  w /= 2;
  for (int i = 0; i < r->n_blocks; i++)
    record_bottleneck (be, &r->blocks[i], &wt->bottlenecks[i], maps, n, &h, &w);

  be->ops->assemble_tokens (be, S (X), be->ops->slot (be, maps[0]), CLIPSCOPE_NO_VIEW,
                            wt->pool_pos, n, seq, r->pool_dim,
                            CLIPSCOPE_FIRST_MEAN);
}

/* Attention pooling: the first token of each sequence queries all of
 * them, then the output projection. In the spatial pass every token of
 * the one image is a query in turn. */
void
clipscope_resnet_record (ClipscopeGraphBackend *be,
                         int                    n,
                         gboolean               spatial)
{
  const ClipscopeGraphOps *ops = be->ops;
  const ClipscopeResnet *r = &be->model->resnet;
  const ClipscopeWeights *wt = be->weights;
  const int d = r->pool_dim, seq = r->pool_grid * r->pool_grid + 1;
  const int e = be->model->info.embed_dim, n_q = spatial ? seq : 1;
  const ClipscopeView q = spatial ? S (SPATIAL_Q) : S (POOL);
  const ClipscopeView out = spatial ? S (SPATIAL_ATTN) : S (ATTN);
  const ClipscopeView kv_w[] = { wt->pool_kv_w, wt->pool_v_w };
  const ClipscopeView kv_b[] = { wt->pool_kv_b, wt->pool_v_b };
  const ClipscopeAttention attn = {
    .q = q, .k = S (QKV), .v = clipscope_view_at (S (QKV), d), .out = out,
    .ldq = d, .ldkv = 2 * d, .ldout = d,
    .batch = n, .seq = seq, .n_q = n_q, .q_bstride = n_q,
    .width = d, .n_heads = r->pool_heads, .causal = FALSE,
  };

  record_tokens (be, n);
  /* Without the spatial pass, q only for the first token of each image:
   * a row stride of seq rows. */
  ops->linear (be, S (X), spatial ? d : seq * d, n * n_q, d, wt->pool_q_w, wt->pool_q_b, d, q, d,
               CLIPSCOPE_ACT_NONE, FALSE);
  clipscope_graph_linear_parts (be, S (X), d, n * seq, d, kv_w, kv_b, 2, d, S (QKV), 2 * d);
  ops->attention (be, &attn);
  ops->linear (be, out, d, n * n_q, d, wt->pool_c_w, wt->pool_c_b, e,
               spatial ? S (SPATIAL_OUT) : S (OUT), e, CLIPSCOPE_ACT_NONE, FALSE);
}
