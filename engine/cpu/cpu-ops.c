/* cpu-ops.c — the CPU backend's building blocks */
#include "cpu-ops.h"
#include "cpu-loops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>
#ifdef _OPENMP
# include <dlfcn.h>
# include <omp.h>
#endif

#ifdef _OPENMP
/* libgomp has read GOMP_SPINCOUNT by now: where cpu-wait.c set it, the
 * programs this one starts should not inherit it. That library is not
 * linked into every program that has this file (the tests), hence the
 * look-up. */
__attribute__ ((constructor)) static void
unset_wait_env (void)
{
  int (*set) (void);

  /* POSIX's way to turn dlsym()'s object pointer into a function's. */
  *(void **) &set = dlsym (RTLD_DEFAULT, "clipscope_wait_env_set");
  if (set != NULL && set ())
    g_unsetenv ("GOMP_SPINCOUNT");
}
#endif

int
clipscope_cpu_threads (void)
{
#ifdef _OPENMP
  return omp_get_max_threads ();
#else
  return 1;
#endif
}

void
clipscope_cpu_set_threads (int n)
{
#ifdef _OPENMP
  if (n > 0 && omp_get_max_threads () != n)
    omp_set_num_threads (n);
#endif
}

void
clipscope_cpu_parallel_rows (gsize                n,
                             gsize                min_rows,
                             gboolean             parallel,
                             ClipscopeCpuRowsFunc fn,
                             gpointer             data)
{
  const int parts = parallel ? (int) MIN ((gsize) clipscope_cpu_threads (), n / MAX (min_rows, 1)) : 1;
  const gboolean spread G_GNUC_UNUSED = parts > 1;

  if (parts <= 1)
    {
      if (n > 0)
        fn (0, n, data);
      return;
    }
  PARALLEL_FOR
  for (int t = 0; t < parts; t++)
    {
      const gsize r0 = n * t / parts, r1 = n * (t + 1) / parts;

      fn (r0, r1 - r0, data);
    }
}

static int
thread_id (void)
{
#ifdef _OPENMP
  return omp_get_thread_num ();
#else
  return 0;
#endif
}

/* ------------------------------------------------------------ exp and friends */

/* @x held to [@lo, @hi] (NaN stays NaN) by selecting bits with masks. The
 * same as two conditionals, but GCC threads those through whole loops:
 * with the bound a constant, the rest of a sigmoid step folds, and the
 * vectorised loop computes every lane three times, its divisions
 * included, and blends; five times slower than this. (Softmax's and
 * erf's loops, without such a division, are a little faster with the
 * conditionals.) */
static inline float
clamp_bits (float x,
            float lo,
            float hi)
{
  guint32 xb, lb, hb, below, above;

  memcpy (&xb, &x, sizeof xb);
  memcpy (&lb, &lo, sizeof lb);
  memcpy (&hb, &hi, sizeof hb);
  below = -(guint32) (x < lo);
  above = -(guint32) (x > hi);
  xb = (xb & ~(below | above)) | (lb & below) | (hb & above);
  memcpy (&x, &xb, sizeof x);
  return x;
}

/* exp(x) = 2ⁿ · exp(r) with n = round(x / ln 2) and |r| ≤ ln 2 / 2, where a
 * degree-6 Taylor polynomial is accurate to ~6e-8 relative. Rounding with
 * the 1.5 · 2²³ trick instead of rintf keeps the loop branch-free, so that
 * plain SSE2 code vectorises it; libm's expf does not vectorise. For x
 * in [−87, 88], the callers hold it there. */
static inline float
clamped_expf (float x)
{
  const float magic = 12582912.0f; /* 1.5 · 2²³ */
  union { float f; int32_t i; } scale;
  float n, r, p;

  n = (x * 1.44269504f + magic) - magic;
  r = x - n * 0.693145752f;     /* ln 2, split so n · hi is exact */
  r = r - n * 1.42860677e-6f;
  p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  scale.i = ((int32_t) n + 127) << 23;
  return p * scale.f;
}

/* exp(x) for any x, below e⁻⁸⁷ and above e⁸⁸ held there. */
static inline float
fast_expf (float x)
{
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  return clamped_expf (x);
}

/* The same for the loops of a sigmoid, see clamp_bits(). */
static inline float
sigmoid_expf (float x)
{
  return clamped_expf (clamp_bits (x, -87.0f, 88.0f));
}

float
clipscope_cpu_expf (float x)
{
  return fast_expf (x);
}

/* erf by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7, a few
 * float ulps), built on fast_expf so the GELU loop vectorises. */
static inline float
fast_erff (float x)
{
  float a = fabsf (x);
  float t = 1.0f / (1.0f + 0.3275911f * a);
  float y = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f
            + t * (-1.453152027f + t * 1.061405429f))));

  y = 1.0f - y * fast_expf (-a * a);
  return copysignf (y, x);
}

/* The loops live in static functions so that their clones and resolvers
 * stay local to the library. */
static VECTOR_CLONES void
gelu (float   *x,
      gsize    n,
      gboolean quick)
{
  /* QuickGELU is what OpenAI's weights were trained with; the exact form
   * is what open_clip uses for models trained without quick_gelu. */
  if (quick)
    for (gsize i = 0; i < n; i++)
      x[i] = x[i] / (1.0f + sigmoid_expf (-1.702f * x[i]));
  else
    for (gsize i = 0; i < n; i++)
      x[i] = 0.5f * x[i] * (1.0f + fast_erff (x[i] * (float) M_SQRT1_2));
}

void
clipscope_cpu_gelu (float   *x,
                    gsize    n,
                    gboolean quick)
{
  gelu (x, n, quick);
}

/* 0.5 x (1 + tanh u) = x / (1 + exp(−2u)) with u = √(2/π) (x + 0.044715 x³):
 * the form SigLIP's towers were trained with. */
static VECTOR_CLONES void
gelu_tanh (float *x,
           gsize  n)
{
  for (gsize i = 0; i < n; i++)
    x[i] = x[i] / (1.0f + sigmoid_expf (-1.5957691216f * (x[i] + 0.044715f * x[i] * x[i] * x[i])));
}

void
clipscope_cpu_gelu_tanh (float *x,
                         gsize  n)
{
  gelu_tanh (x, n);
}

void
clipscope_cpu_relu (float *x,
                    gsize  n)
{
  for (gsize i = 0; i < n; i++)
    x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* ---------------------------------------------------------------- linear */

/* The hot spot: nearly all of an encoder's time is spent here. */
void
clipscope_cpu_linear (const float *x,
                      int          ldx,
                      int          rows,
                      int          n_in,
                      const float *w,
                      const float *b,
                      int          n_out,
                      float       *y,
                      int          ldy,
                      gboolean     accumulate)
{
  if (b != NULL)
    for (int r = 0; r < rows; r++)
      {
        float *yr = y + (gsize) r * ldy;

        if (accumulate)
          for (int j = 0; j < n_out; j++)
            yr[j] += b[j];
        else
          memcpy (yr, b, (gsize) n_out * sizeof (float));
      }
  clipscope_blas_begin ();
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, rows, n_out, n_in,
               1.0f, x, ldx, w, n_in,
               (b != NULL || accumulate) ? 1.0f : 0.0f, y, ldy);
  clipscope_blas_end ();
}

/* ----------------------------------------------------------- layer norm */

/* Sums over a row kept in LANES running partial sums, element i in
 * partial i % LANES, so that the loops vectorise (a single running sum
 * is a chain of dependent additions that compilers must keep in order)
 * and every build adds in the same order, with the same result. */
#define LANES 16

static inline float
lanes_total (const float acc[LANES])
{
  float s = 0.0f;

  for (int l = 0; l < LANES; l++)
    s += acc[l];
  return s;
}

/* Σ x[i]. */
static inline float
row_sum (const float *x,
         int          n)
{
  float acc[LANES] = { 0.0f };
  int i = 0;

  for (; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; l++)
      acc[l] += x[i + l];
  for (int l = 0; i < n; i++, l++)
    acc[l] += x[i];
  return lanes_total (acc);
}

/* Σ (x[i] − c)². */
static inline float
row_sum_sq (const float *x,
            int          n,
            float        c)
{
  float acc[LANES] = { 0.0f };
  int i = 0;

  for (; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; l++)
      acc[l] += (x[i + l] - c) * (x[i + l] - c);
  for (int l = 0; i < n; i++, l++)
    acc[l] += (x[i] - c) * (x[i] - c);
  return lanes_total (acc);
}

/* max x[i], n ≥ 1. */
static inline float
row_max (const float *x,
         int          n)
{
  float acc[LANES];
  int i = 0;

  for (int l = 0; l < LANES; l++)
    acc[l] = x[0];
  for (; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; l++)
      acc[l] = x[i + l] > acc[l] ? x[i + l] : acc[l];
  for (int l = 0; i < n; i++, l++)
    acc[l] = x[i] > acc[l] ? x[i] : acc[l];
  for (int l = 1; l < LANES; l++)
    acc[0] = acc[l] > acc[0] ? acc[l] : acc[0];
  return acc[0];
}

static VECTOR_CLONES void
layer_norm (const float *x,
            int          ldx,
            int          rows,
            int          dim,
            const float *w,
            const float *b,
            float        eps,
            float       *y,
            int          ldy,
            gboolean     parallel)
{
  /* Waking the threads costs more than a few rows take (some 20 µs each). */
  const gboolean spread G_GNUC_UNUSED = parallel && (gsize) rows * dim >= 1 << 14;

  PARALLEL_FOR
  for (int r = 0; r < rows; r++)
    {
      const float *xr = x + (gsize) r * ldx;
      float *yr = y + (gsize) r * ldy;
      float mean, var, inv;

      /* Two passes over the row: the mean first, then the variance around
       * it, which avoids the cancellation of E[x²] − E[x]². */
      mean = row_sum (xr, dim) / (float) dim;
      var = row_sum_sq (xr, dim, mean) / (float) dim;
      inv = 1.0f / sqrtf (var + eps);
      for (int i = 0; i < dim; i++)
        yr[i] = (xr[i] - mean) * inv * w[i] + b[i];
    }
}

void
clipscope_cpu_layer_norm (const float *x,
                          int          ldx,
                          int          rows,
                          int          dim,
                          const float *w,
                          const float *b,
                          float        eps,
                          float       *y,
                          int          ldy,
                          gboolean     parallel)
{
  layer_norm (x, ldx, rows, dim, w, b, eps, y, ldy, parallel);
}

/* -------------------------------------------------------------- softmax */

static VECTOR_CLONES void
softmax (float *x,
         int    n)
{
  /* The maximum is subtracted first so that exp never overflows; the
   * result is the same because softmax is shift-invariant. */
  const float max = row_max (x, n);
  float inv;

  for (int i = 0; i < n; i++)
    x[i] = fast_expf (x[i] - max);
  inv = 1.0f / row_sum (x, n);
  for (int i = 0; i < n; i++)
    x[i] *= inv;
}

/* ------------------------------------------------------------ attention */

/* Keys padded to a whole number of LANES, with zero scores past them. */
static inline int
padded_keys (int keys)
{
  return (keys + LANES - 1) / LANES * LANES;
}

/* s[r][j0 : j0 + LANES] = qs[r] · kᵀ for the four rows of qs [4, hd]
 * against kt [hd, kp], in four running sums of LANES that stay in
 * registers. */
static inline void
scores_tile (const float *qs,
             const float *kt,
             int          hd,
             int          kp,
             int          j0,
             float       *s)
{
  float a0[LANES] = { 0.0f }, a1[LANES] = { 0.0f }, a2[LANES] = { 0.0f }, a3[LANES] = { 0.0f };

  for (int d = 0; d < hd; d++)
    {
      const float *kd = kt + (gsize) d * kp + j0;
      const float q0 = qs[d], q1 = qs[hd + d], q2 = qs[2 * hd + d], q3 = qs[3 * hd + d];

      for (int l = 0; l < LANES; l++)
        {
          a0[l] += q0 * kd[l];
          a1[l] += q1 * kd[l];
          a2[l] += q2 * kd[l];
          a3[l] += q3 * kd[l];
        }
    }
  memcpy (s + j0, a0, sizeof a0);
  memcpy (s + kp + j0, a1, sizeof a1);
  memcpy (s + 2 * (gsize) kp + j0, a2, sizeof a2);
  memcpy (s + 3 * (gsize) kp + j0, a3, sizeof a3);
}

/* o[r][0 : LANES] = Σ_j p[r][j] · v[j][d0 : d0 + LANES] for the four
 * rows of p [4, kp] over keys [0, n). */
static inline void
output_tile (const float *p,
             int          kp,
             const float *v,
             int          ldkv,
             int          n,
             int          d0,
             float        o[4][LANES])
{
  float o0[LANES] = { 0.0f }, o1[LANES] = { 0.0f }, o2[LANES] = { 0.0f }, o3[LANES] = { 0.0f };

  for (int j = 0; j < n; j++)
    {
      const float *vj = v + (gsize) j * ldkv + d0;
      const float p0 = p[j], p1 = p[kp + j], p2 = p[2 * (gsize) kp + j], p3 = p[3 * (gsize) kp + j];

      for (int l = 0; l < LANES; l++)
        {
          o0[l] += p0 * vj[l];
          o1[l] += p1 * vj[l];
          o2[l] += p2 * vj[l];
          o3[l] += p3 * vj[l];
        }
    }
  memcpy (o[0], o0, sizeof o0);
  memcpy (o[1], o1, sizeof o1);
  memcpy (o[2], o2, sizeof o2);
  memcpy (o[3], o3, sizeof o3);
}

/* One head of one sequence: rows q[n_q, hd] against k, v [keys, hd], all
 * with their row strides; query i sees keys [0, valid_i). @kt is scratch
 * of hd × kp floats (kp: keys rounded up to LANES), @s of 4 × kp and @qs
 * of 4 × hd. kᵀ is copied, zero-padded, so that both products run over
 * whole tiles of LANES columns, four query rows at a time, each load
 * feeding four sums kept in registers. */
static VECTOR_CLONES void
attend_head (const float *q,
             int          ldq,
             const float *k,
             const float *v,
             int          ldkv,
             int          n_q,
             int          keys,
             int          hd,
             float        scale,
             gboolean     causal,
             int          first,
             float       *kt,
             float       *s,
             float       *qs,
             float       *out,
             int          ldout)
{
  const int kp = padded_keys (keys), hd_tiles = hd / LANES * LANES;

  for (int d = 0; d < hd; d++)
    {
      float *ktd = kt + (gsize) d * kp;

      for (int j = 0; j < keys; j++)
        ktd[j] = k[(gsize) j * ldkv + d];
      for (int j = keys; j < kp; j++)
        ktd[j] = 0.0f;
    }
  for (int i0 = 0; i0 < n_q; i0 += 4)
    {
      const int m = MIN (4, n_q - i0);
      int valid[4], most = 0;

      /* Rows past the last query are zeros, whose scores are not used. */
      for (int r = 0; r < 4; r++)
        for (int d = 0; d < hd; d++)
          qs[(gsize) r * hd + d] = r < m ? q[(gsize) (i0 + r) * ldq + d] * scale : 0.0f;
      /* s[r] = q[i0 + r] · kᵀ / √hd over all keys; the hidden ones are
       * left out of the softmax and weigh 0 in the output. */
      for (int j0 = 0; j0 < kp; j0 += LANES)
        scores_tile (qs, kt, hd, kp, j0, s);
      for (int r = 0; r < 4; r++)
        {
          float *sr = s + (gsize) r * kp;

          valid[r] = r >= m ? 0 : causal ? MIN (first + i0 + r + 1, keys) : keys;
          if (valid[r] > 0)
            softmax (sr, valid[r]);
          memset (sr + valid[r], 0, (gsize) (kp - valid[r]) * sizeof (float));
          most = MAX (most, valid[r]);
        }
      for (int d0 = 0; d0 < hd_tiles; d0 += LANES)
        {
          float o[4][LANES];

          output_tile (s, kp, v, ldkv, most, d0, o);
          for (int r = 0; r < m; r++)
            memcpy (out + (gsize) (i0 + r) * ldout + d0, o[r], sizeof o[r]);
        }
      for (int r = 0; r < m; r++)
        for (int d = hd_tiles; d < hd; d++)
          {
            const float *sr = s + (gsize) r * kp;
            float sum = 0.0f;

            for (int j = 0; j < valid[r]; j++)
              sum += sr[j] * v[(gsize) j * ldkv + d];
            out[(gsize) (i0 + r) * ldout + d] = sum;
          }
    }
}

gsize
clipscope_cpu_attention_scratch (const ClipscopeCpuAttention *a)
{
  const gsize hd = a->width / a->n_heads, kp = padded_keys (a->seq);

  return (gsize) clipscope_cpu_threads () * ((hd + 4) * kp + 4 * hd);
}

void
clipscope_cpu_attention (const ClipscopeCpuAttention *a,
                         float                       *scratch,
                         gboolean                     parallel)
{
  const int hd = a->width / a->n_heads, seq = a->seq, n_q = a->n_q;
  const float scale = 1.0f / sqrtf ((float) hd);
  const gsize kp = padded_keys (seq), per_thread = (hd + 4) * kp + 4 * (gsize) hd;
  const gboolean spread G_GNUC_UNUSED = parallel && a->batch * a->n_heads > 1
                          && (gsize) a->batch * a->n_heads * n_q * seq * hd >= 1 << 22;

  /* Every (sequence, head) pair on its own; each thread its own scratch. */
  PARALLEL_FOR
  for (int t = 0; t < a->batch * a->n_heads; t++)
    {
      const int b = t / a->n_heads, h = t % a->n_heads;
      const int first = a->index ? a->index[b] : 0;
      const int keys = a->lengths ? MIN (a->lengths[b], seq) : seq;
      const gsize kv = (gsize) b * seq * a->ldkv + (gsize) h * hd;
      float *kt = scratch + per_thread * thread_id (), *s = kt + hd * kp;

      attend_head (a->q + ((gsize) b * a->q_bstride + first) * a->ldq + (gsize) h * hd, a->ldq,
                   a->k + kv, a->v + kv, a->ldkv, n_q, keys, hd, scale, a->causal, first, kt, s,
                   s + 4 * kp, a->out + (gsize) b * n_q * a->ldout + (gsize) h * hd, a->ldout);
    }
}

void
clipscope_cpu_attention_softmax (float         *s,
                                 int            batch,
                                 int            n_heads,
                                 int            n_q,
                                 int            seq,
                                 gboolean       causal,
                                 const int32_t *lengths,
                                 gboolean       parallel)
{
  const gsize rows = (gsize) batch * n_heads * n_q;
  const gboolean spread G_GNUC_UNUSED = parallel && rows * seq >= 1 << 14;

  PARALLEL_FOR
  for (gsize r = 0; r < rows; r++)
    {
      const int b = (int) (r / ((gsize) n_heads * n_q)), i = (int) (r % n_q);
      const int keys = lengths != NULL ? MIN (lengths[b], seq) : seq;
      const int valid = causal ? MIN (i + 1, keys) : keys;
      float *sr = s + r * seq;

      softmax (sr, valid);
      memset (sr + valid, 0, (gsize) (seq - valid) * sizeof (float));
    }
}

/* ------------------------------------------------------------- bfloat16 */

static VECTOR_CLONES void
to_bf16_row (const float *x,
             int          n,
             guint16     *out)
{
  for (int i = 0; i < n; i++)
    {
      guint32 u;

      memcpy (&u, &x[i], sizeof u);
      out[i] = (u & 0x7fffffffu) > 0x7f800000u ? (guint16) ((u >> 16) | 0x40)
                                               : (guint16) ((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
    }
}

void
clipscope_cpu_to_bf16 (const float *x,
                       int          ldx,
                       int          rows,
                       int          n,
                       guint16     *out,
                       gboolean     parallel)
{
  const gboolean spread G_GNUC_UNUSED = parallel && (gsize) rows * n >= 1 << 16;

  PARALLEL_FOR
  for (int r = 0; r < rows; r++)
    to_bf16_row (x + (gsize) r * ldx, n, out + (gsize) r * n);
}

/* -------------------------------------------------------- normalisation */

void
clipscope_cpu_l2_normalize (float *x,
                            int    rows,
                            int    dim)
{
  for (int r = 0; r < rows; r++)
    {
      float *xr = x + (gsize) r * dim;
      double sum = 0.0;
      float inv;

      for (int i = 0; i < dim; i++)
        sum += (double) xr[i] * xr[i];
      inv = sum > 0.0 ? (float) (1.0 / sqrt (sum)) : 0.0f;
      for (int i = 0; i < dim; i++)
        xr[i] *= inv;
    }
}
