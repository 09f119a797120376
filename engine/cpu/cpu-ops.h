/* cpu-ops.h — the CPU backend's building blocks
 *
 * Matrix products go to OpenBLAS (clipscope_cpu_linear(); cpu-gemm.h has
 * the oneDNN ones); everything else is plain loops written so that the
 * compiler can vectorise them. Arrays are row-major float32;
 * "[rows, cols]" gives their shape.
 */
#pragma once

#include "clipscope-private.h"

G_BEGIN_DECLS

/* y[rows, n_out] (+)= x[rows, n_in] · w[n_out, n_in]ᵀ + b[n_out].
 * @ldx and @ldy are the row strides of x and y; @accumulate adds to y
 * (a residual connection) instead of overwriting it; @b may be NULL. */
void clipscope_cpu_linear (const float *x,
                           int          ldx,
                           int          rows,
                           int          n_in,
                           const float *w,
                           const float *b,
                           int          n_out,
                           float       *y,
                           int          ldy,
                           gboolean     accumulate);

/* The OpenMP threads the @parallel loops below spread over; 1 without
 * OpenMP. */
int clipscope_cpu_threads (void);
/* Sets that for the calling thread (OpenMP's count is per thread); @n 0
 * leaves it as it is. */
void clipscope_cpu_set_threads (int n);

/* Work on rows [r0, r0 + count) of something. */
typedef void (*ClipscopeCpuRowsFunc) (gsize r0, gsize count, gpointer data);

/* @fn over rows [0, n), in one run of consecutive rows per thread where
 * @parallel and each would have at least @min_rows, else in one call. */
void clipscope_cpu_parallel_rows (gsize                n,
                                  gsize                min_rows,
                                  gboolean             parallel,
                                  ClipscopeCpuRowsFunc fn,
                                  gpointer             data);

/* y[rows, dim] = LayerNorm(x[rows, dim]) · w + b; x and y may alias;
 * @parallel spreads the rows over the threads. */
void clipscope_cpu_layer_norm (const float *x,
                               int          ldx,
                               int          rows,
                               int          dim,
                               const float *w,
                               const float *b,
                               float        eps,
                               float       *y,
                               int          ldy,
                               gboolean     parallel);

/* In place: QuickGELU x·σ(1.702x) or the exact, erf-based GELU. */
void clipscope_cpu_gelu (float   *x,
                         gsize    n,
                         gboolean quick);

/* In place: GELU's tanh approximation. */
void clipscope_cpu_gelu_tanh (float *x,
                              gsize  n);

/* In place: max(x, 0). */
void clipscope_cpu_relu (float *x,
                         gsize  n);

/* Multi-head scaled dot-product attention for a batch of sequences of
 * @seq keys: k and v [batch · seq, width] with row stride @ldkv (they may
 * be column slices of one array). Query i of sequence b is row
 * b · q_bstride + first + i of q (row stride @ldq), first being
 * index[b] with @index and 0 without; @causal hides the keys after
 * position first + i, and @lengths those at or past lengths[b]. Its
 * output is row b · n_q + i of out. */
typedef struct {
  const float   *q, *k, *v;
  float         *out;
  const int32_t *index, *lengths;   /* or NULL */
  int            ldq, ldkv, ldout;
  int            batch, seq, n_q, q_bstride, width, n_heads;
  gboolean       causal;
} ClipscopeCpuAttention;

/* @a with a loop over (sequence, head) pairs: @scratch is
 * clipscope_cpu_attention_scratch() floats; @parallel spreads the pairs
 * over the threads. */
void clipscope_cpu_attention (const ClipscopeCpuAttention *a,
                              float                       *scratch,
                              gboolean                     parallel);

/* The floats of scratch clipscope_cpu_attention() needs for @a, on
 * clipscope_cpu_threads() threads. */
gsize clipscope_cpu_attention_scratch (const ClipscopeCpuAttention *a);

/* Softmax of each row of attention's scores s[batch, n_heads, n_q, seq]
 * over the keys query i of sequence b sees, [0, valid), valid being
 * lengths[b] (@lengths) or seq, and at most i + 1 when @causal; the keys
 * past them are set to 0. @parallel spreads the rows over the threads. */
void clipscope_cpu_attention_softmax (float         *s,
                                      int            batch,
                                      int            n_heads,
                                      int            n_q,
                                      int            seq,
                                      gboolean       causal,
                                      const int32_t *lengths,
                                      gboolean       parallel);

/* out[rows, n] = x[rows, n] (row stride @ldx) rounded to the nearest
 * bfloat16, ties to even; NaN stays NaN. @parallel spreads the rows over
 * the threads. */
void clipscope_cpu_to_bf16 (const float *x,
                            int          ldx,
                            int          rows,
                            int          n,
                            guint16     *out,
                            gboolean     parallel);

/* Each row of x[rows, dim] divided by its L2 norm. */
void clipscope_cpu_l2_normalize (float *x,
                                 int    rows,
                                 int    dim);

/* exp(x) to about one ulp, in a form compilers vectorise. */
float clipscope_cpu_expf (float x);

G_END_DECLS
