/* resnet.c — OpenAI's ModifiedResNet image tower
 *
 * A three-convolution stem and an average pool, four stages of Bottleneck
 * blocks that down-sample with average pools instead of strided
 * convolutions, and attention pooling: the mean of the final grid queries
 * the grid through one multi-head attention layer. For a spatial map,
 * every token of that layer queries the grid in turn
 * (clipscope_resnet_encode_spatial).
 *
 * Feature maps are [channels, height, width] per image. Convolutions are
 * matrix products over im2col columns, with the batch norms folded into
 * their weights at load time.
 */
#include "encoder.h"
#include "cpu/cpu-ops.h"

#include <cblas.h>

static int
conv_out_size (const ClipscopeConv *c,
               int                  in)
{
  return (in + 2 * c->pad - c->kernel) / c->stride + 1;
}

/* cols[c_in · k · k, ho · wo] for a k × k convolution with zero padding. */
static void
im2col (const ClipscopeConv *c,
        const float         *in,
        int                  h,
        int                  w,
        float               *cols)
{
  const int k = c->kernel, ho = conv_out_size (c, h), wo = conv_out_size (c, w);

  for (int ch = 0; ch < c->c_in; ch++)
    for (int ky = 0; ky < k; ky++)
      for (int kx = 0; kx < k; kx++)
        {
          float *dst = cols + (((gsize) ch * k + ky) * k + kx) * ho * wo;

          for (int y = 0; y < ho; y++)
            {
              int sy = y * c->stride + ky - c->pad;
              const float *src = in + ((gsize) ch * h + sy) * w;

              for (int x = 0; x < wo; x++)
                {
                  int sx = x * c->stride + kx - c->pad;
                  gboolean inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
                  dst[y * wo + x] = inside ? src[sx] : 0.0f;
                }
            }
        }
}

/* out[c_out, ho, wo] = conv(in) + b, optionally followed by ReLU. */
static void
conv_forward (const ClipscopeConv *c,
              const float         *in,
              int                  h,
              int                  w,
              float               *cols,
              float               *out,
              gboolean             relu)
{
  const int ho = conv_out_size (c, h), wo = conv_out_size (c, w);
  const int n = ho * wo, kk = c->c_in * c->kernel * c->kernel;
  const float *src = in;

  if (c->kernel != 1 || c->stride != 1)
    {
      im2col (c, in, h, w, cols);
      src = cols;
    }
  for (int o = 0; o < c->c_out; o++)
    for (int i = 0; i < n; i++)
      out[(gsize) o * n + i] = c->b[o];
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, c->c_out, n, kk,
               1.0f, c->w, kk, src, n, 1.0f, out, n);
  if (relu)
    clipscope_cpu_relu (out, (gsize) c->c_out * n);
}

/* out[c, h / f, w / f]: mean over each f × f cell (AvgPool2d(f)). */
static void
avg_pool (const float *in,
          int          c,
          int          h,
          int          w,
          int          f,
          float       *out)
{
  const int ho = h / f, wo = w / f;
  const float inv = 1.0f / (float) (f * f);

  for (int ch = 0; ch < c; ch++)
    for (int y = 0; y < ho; y++)
      for (int x = 0; x < wo; x++)
        {
          float sum = 0.0f;

          for (int dy = 0; dy < f; dy++)
            for (int dx = 0; dx < f; dx++)
              sum += in[((gsize) ch * h + y * f + dy) * w + x * f + dx];
          out[((gsize) ch * ho + y) * wo + x] = sum * inv;
        }
}

/* The largest feature map and im2col array any layer needs, in floats,
 * found by walking the same shapes the forward pass will see. */
static void
scratch_sizes (const ClipscopeResnet *r,
               gsize                 *act,
               gsize                 *cols)
{
  int s = r->image_size;

  *act = (gsize) 3 * s * s;
  *cols = 0;
  for (int i = 0; i < 3; i++)
    {
      const ClipscopeConv *c = &r->stem[i];

      *cols = MAX (*cols, (gsize) c->c_in * c->kernel * c->kernel * conv_out_size (c, s) * conv_out_size (c, s));
      s = conv_out_size (c, s);
      *act = MAX (*act, (gsize) c->c_out * s * s);
    }
  s /= 2;
  for (int i = 0; i < r->n_blocks; i++)
    {
      const ClipscopeBottleneck *b = &r->blocks[i];

      *act = MAX (*act, (gsize) b->conv3.c_out * s * s);
      *act = MAX (*act, (gsize) b->conv1.c_out * s * s);
      *cols = MAX (*cols, (gsize) b->conv2.c_in * 9 * s * s);
      s /= b->stride;
    }
}

typedef struct {
  float *a, *b, *c, *d;   /* feature maps, each of the largest size */
  float *cols;
} Maps;

/* x → relu(conv3(pool(relu(conv2(relu(conv1(x)))))) + identity); the
 * result replaces x. *h and *w are updated to the output size. */
static void
bottleneck_forward (const ClipscopeBottleneck *b,
                    Maps                      *m,
                    int                       *h,
                    int                       *w)
{
  const int f = b->stride, ho = *h / f, wo = *w / f;
  const gsize n_out = (gsize) b->conv3.c_out * ho * wo;
  float *identity = m->a;

  conv_forward (&b->conv1, m->a, *h, *w, m->cols, m->b, TRUE);
  conv_forward (&b->conv2, m->b, *h, *w, m->cols, m->c, TRUE);
  if (f > 1)
    {
      avg_pool (m->c, b->conv2.c_out, *h, *w, f, m->b);
      conv_forward (&b->conv3, m->b, ho, wo, m->cols, m->d, FALSE);
    }
  else
    conv_forward (&b->conv3, m->c, ho, wo, m->cols, m->d, FALSE);

  if (b->has_downsample)
    {
      if (f > 1)
        {
          avg_pool (m->a, b->downsample.c_in, *h, *w, f, m->b);
          conv_forward (&b->downsample, m->b, ho, wo, m->cols, m->c, FALSE);
        }
      else
        conv_forward (&b->downsample, m->a, ho, wo, m->cols, m->c, FALSE);
      identity = m->c;
    }
  for (gsize i = 0; i < n_out; i++)
    {
      float v = m->d[i] + identity[i];
      m->a[i] = v > 0.0f ? v : 0.0f;
    }
  *h = ho;
  *w = wo;
}

/* The convolutional trunk of one image: pixels → m->a[pool_dim, grid²]. */
static void
trunk_forward (const ClipscopeResnet *r,
               const float           *pixels,
               Maps                  *m)
{
  int h = r->image_size, w = r->image_size;

  conv_forward (&r->stem[0], pixels, h, w, m->cols, m->b, TRUE);
  h = conv_out_size (&r->stem[0], h);
  w = conv_out_size (&r->stem[0], w);
  conv_forward (&r->stem[1], m->b, h, w, m->cols, m->c, TRUE);
  conv_forward (&r->stem[2], m->c, h, w, m->cols, m->b, TRUE);
  avg_pool (m->b, r->stem[2].c_out, h, w, 2, m->a);
  h /= 2;
  w /= 2;
  for (int i = 0; i < r->n_blocks; i++)
    bottleneck_forward (&r->blocks[i], m, &h, &w);
}

/* tokens[seq, dim]: the mean of the grid, then the grid positions, each
 * plus its positional embedding. @map is [dim, grid²]. */
static void
make_tokens (const ClipscopeResnet *r,
             const float           *map,
             float                 *tokens)
{
  const int d = r->pool_dim, hw = r->pool_grid * r->pool_grid;

  for (int ch = 0; ch < d; ch++)
    {
      double sum = 0.0;

      for (int p = 0; p < hw; p++)
        {
          sum += map[(gsize) ch * hw + p];
          tokens[(gsize) (p + 1) * d + ch] = map[(gsize) ch * hw + p] + r->pool_pos[(gsize) (p + 1) * d + ch];
        }
      tokens[ch] = (float) (sum / hw) + r->pool_pos[ch];
    }
}

/* Attention pooling for the batch: the first token of each sequence
 * queries all of them; then the output projection. With @every_query,
 * every token of each sequence is a query in turn, and out holds one row
 * per token, [n · seq, embed_dim], instead of [n, embed_dim]. */
static gboolean
attention_pool (const ClipscopeResnet *r,
                int                    embed_dim,
                ClipscopeScratch      *s,
                const float           *tokens,
                int                    n,
                gboolean               every_query,
                float                 *out,
                GError               **error)
{
  const int d = r->pool_dim, seq = r->pool_grid * r->pool_grid + 1;
  const int n_out = every_query ? n * seq : n;
  g_autofree int *query_rows = every_query ? NULL : g_new0 (int, n);
  float *qkv, *scores, *pooled;

  if (!(qkv = clipscope_scratch_get (s, SCRATCH_QKV, (gsize) n * seq * 3 * d, error))
      || !(scores = clipscope_scratch_get (s, SCRATCH_SCORES, (gsize) seq * seq, error))
      || !(pooled = clipscope_scratch_get (s, SCRATCH_ATTN, (gsize) n_out * d, error)))
    return FALSE;
  if (every_query)
    clipscope_cpu_linear (tokens, d, n * seq, d, r->pool_q_w, r->pool_q_b, d, qkv, 3 * d, FALSE);
  else
    /* q only for the first token of each image: a row stride of seq rows. */
    clipscope_cpu_linear (tokens, seq * d, n, d, r->pool_q_w, r->pool_q_b, d, qkv, seq * 3 * d, FALSE);
  clipscope_cpu_linear (tokens, d, n * seq, d, r->pool_k_w, r->pool_k_b, d, qkv + d, 3 * d, FALSE);
  clipscope_cpu_linear (tokens, d, n * seq, d, r->pool_v_w, r->pool_v_b, d, qkv + 2 * d, 3 * d, FALSE);
  clipscope_cpu_attention (qkv, qkv + d, qkv + 2 * d, 3 * d, n, seq, d, r->pool_heads,
                           FALSE, query_rows, scores, pooled, d);
  clipscope_cpu_linear (pooled, d, n_out, d, r->pool_c_w, r->pool_c_b, embed_dim, out, embed_dim, FALSE);
  return TRUE;
}

/* tokens[n, seq, pool_dim]: the trunk and the pool's input tokens of each
 * image. */
static float *
resnet_tokens (const ClipscopeResnet *r,
               ClipscopeScratch      *s,
               const float           *pixels,
               int                    n,
               GCancellable          *cancellable,
               GError               **error)
{
  const gsize image = (gsize) 3 * r->image_size * r->image_size;
  const gsize seq = (gsize) r->pool_grid * r->pool_grid + 1;
  gsize act, cols;
  float *maps, *tokens;
  Maps m;

  scratch_sizes (r, &act, &cols);
  if (!(maps = clipscope_scratch_get (s, SCRATCH_X, 4 * act, error))
      || !(m.cols = clipscope_scratch_get (s, SCRATCH_COLS, cols, error))
      || !(tokens = clipscope_scratch_get (s, SCRATCH_TMP, n * seq * r->pool_dim, error)))
    return NULL;
  m.a = maps;
  m.b = maps + act;
  m.c = maps + 2 * act;
  m.d = maps + 3 * act;

  for (int i = 0; i < n; i++)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      trunk_forward (r, pixels + i * image, &m);
      make_tokens (r, m.a, tokens + i * seq * r->pool_dim);
    }
  return tokens;
}

gboolean
clipscope_resnet_encode (ClipscopeModel   *model,
                         ClipscopeScratch *s,
                         const float      *pixels,
                         int               n,
                         float            *out,
                         GCancellable     *cancellable,
                         GError          **error)
{
  const ClipscopeResnet *r = &model->resnet;
  float *tokens = resnet_tokens (r, s, pixels, n, cancellable, error);

  return tokens != NULL
         && attention_pool (r, model->info.embed_dim, s, tokens, n, FALSE, out, error);
}

gboolean
clipscope_resnet_encode_spatial (ClipscopeModel   *model,
                                 ClipscopeScratch *s,
                                 const float      *pixels,
                                 float            *out,
                                 GCancellable     *cancellable,
                                 GError          **error)
{
  const ClipscopeResnet *r = &model->resnet;
  float *tokens = resnet_tokens (r, s, pixels, 1, cancellable, error);

  return tokens != NULL
         && attention_pool (r, model->info.embed_dim, s, tokens, 1, TRUE, out, error);
}
