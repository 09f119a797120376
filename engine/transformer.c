/* transformer.c — the residual attention blocks both towers share
 *
 * A block is pre-LN: x += attn(LN₁(x)); x += mlp(LN₂(x)), where attn is
 * multi-head self-attention and mlp is fc₂(gelu(fc₁(·))).
 */
#include "encoder.h"
#include "cpu/cpu-ops.h"

float *
clipscope_scratch_get (ClipscopeScratch    *s,
                       ClipscopeScratchSlot slot,
                       gsize                n,
                       GError             **error)
{
  if (s->size[slot] >= n)
    return s->buf[slot];
  g_free (s->buf[slot]);
  s->buf[slot] = g_try_malloc_n (n, sizeof (float));
  s->size[slot] = s->buf[slot] ? n : 0;
  if (s->buf[slot] == NULL)
    g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT,
                 "not enough memory for %" G_GSIZE_FORMAT " MiB of activations",
                 n * sizeof (float) >> 20);
  return s->buf[slot];
}

void
clipscope_scratch_clear (ClipscopeScratch *s)
{
  for (int i = 0; i < N_SCRATCH; i++)
    g_clear_pointer (&s->buf[i], g_free);
  memset (s->size, 0, sizeof s->size);
}

typedef struct {
  float *h;        /* [rows, width] */
  float *qkv;      /* [rows, 3 · width] */
  float *attn;     /* [rows, width] */
  float *mlp;      /* [rows, mlp_width] */
  float *scores;   /* [seq, seq] */
} Buffers;

static gboolean
get_buffers (const ClipscopeTransformer *tf,
             gsize                       rows,
             gsize                       seq,
             ClipscopeScratch           *s,
             Buffers                    *b,
             GError                    **error)
{
  gsize w = tf->width;

  return (b->h = clipscope_scratch_get (s, SCRATCH_H, rows * w, error))
         && (b->qkv = clipscope_scratch_get (s, SCRATCH_QKV, rows * 3 * w, error))
         && (b->attn = clipscope_scratch_get (s, SCRATCH_ATTN, rows * w, error))
         && (b->mlp = clipscope_scratch_get (s, SCRATCH_MLP, rows * tf->mlp_width, error))
         && (b->scores = clipscope_scratch_get (s, SCRATCH_SCORES, seq * seq, error));
}

/* q, k and v as three column slices of one [rows, 3 · width] array; when
 * the weights are contiguous (open_clip's in_proj) that is one product. */
static void
project_qkv (const ClipscopeBlock *blk,
             int                   w,
             int                   rows,
             const float          *h,
             float                *qkv)
{
  if (blk->k_w == blk->q_w + (gsize) w * w && blk->v_w == blk->k_w + (gsize) w * w
      && blk->k_b == blk->q_b + w && blk->v_b == blk->k_b + w)
    {
      clipscope_cpu_linear (h, w, rows, w, blk->q_w, blk->q_b, 3 * w, qkv, 3 * w, FALSE);
      return;
    }
  clipscope_cpu_linear (h, w, rows, w, blk->q_w, blk->q_b, w, qkv, 3 * w, FALSE);
  clipscope_cpu_linear (h, w, rows, w, blk->k_w, blk->k_b, w, qkv + w, 3 * w, FALSE);
  clipscope_cpu_linear (h, w, rows, w, blk->v_w, blk->v_b, w, qkv + 2 * w, 3 * w, FALSE);
}

/* x += mlp(LN₂(x)) over the first @rows rows. */
static void
mlp (const ClipscopeTransformer *tf,
     const ClipscopeBlock       *blk,
     float                      *x,
     int                         rows,
     const Buffers              *b)
{
  const int w = tf->width, m = tf->mlp_width;

  clipscope_cpu_layer_norm (x, w, rows, w, blk->ln_2_w, blk->ln_2_b, tf->ln_eps, b->h, w);
  clipscope_cpu_linear (b->h, w, rows, w, blk->fc1_w, blk->fc1_b, m, b->mlp, m, FALSE);
  clipscope_cpu_gelu (b->mlp, (gsize) rows * m, tf->quick_gelu);
  clipscope_cpu_linear (b->mlp, m, rows, m, blk->fc2_w, blk->fc2_b, w, x, w, TRUE);
}

/* Packs row pool_rows[i] of each sequence i at the front of x; row i
 * moves to a position at or before its own, so ascending order is safe. */
static void
gather_rows (float     *x,
             int        width,
             int        batch,
             int        seq,
             const int *pool_rows)
{
  for (int i = 0; i < batch; i++)
    memmove (x + (gsize) i * width, x + ((gsize) i * seq + pool_rows[i]) * width,
             width * sizeof (float));
}

static void
block_forward (const ClipscopeTransformer *tf,
               const ClipscopeBlock       *blk,
               float                      *x,
               int                         batch,
               int                         seq,
               gboolean                    causal,
               const int                  *pool_rows,
               const Buffers              *b)
{
  const int w = tf->width, rows = batch * seq;
  const float *qkv = b->qkv;
  int out_rows = rows;

  clipscope_cpu_layer_norm (x, w, rows, w, blk->ln_1_w, blk->ln_1_b, tf->ln_eps, b->h, w);
  project_qkv (blk, w, rows, b->h, b->qkv);
  clipscope_cpu_attention (qkv, qkv + w, qkv + 2 * w, 3 * w, batch, seq, w, tf->n_heads,
                           causal, pool_rows, b->scores, b->attn, w);
  if (pool_rows != NULL)
    {
      gather_rows (x, w, batch, seq, pool_rows);
      out_rows = batch;
    }
  clipscope_cpu_linear (b->attn, w, out_rows, w, blk->out_w, blk->out_b, w, x, w, TRUE);
  mlp (tf, blk, x, out_rows, b);
}

gboolean
clipscope_transformer_forward (const ClipscopeTransformer *tf,
                               float                      *x,
                               int                         batch,
                               int                         seq,
                               gboolean                    causal,
                               const int                  *pool_rows,
                               ClipscopeScratch           *s,
                               GCancellable               *cancellable,
                               GError                    **error)
{
  Buffers b;

  if (!get_buffers (tf, (gsize) batch * seq, seq, s, &b, error))
    return FALSE;
  for (int l = 0; l < tf->n_layers; l++)
    {
      gboolean last = l == tf->n_layers - 1;

      /* Cancelling between layers keeps the wait short on big models. */
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      block_forward (tf, &tf->blocks[l], x, batch, seq, causal, last ? pool_rows : NULL, &b);
    }
  /* With no layers, the pooled rows still have to be gathered. */
  if (tf->n_layers == 0 && pool_rows != NULL)
    gather_rows (x, tf->width, batch, seq, pool_rows);
  return TRUE;
}
