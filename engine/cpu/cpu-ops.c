/* cpu-ops.c — the CPU backend's building blocks */
#include "cpu-ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* The element-wise loops are built twice on x86-64, for the baseline and
 * for AVX2, and the loader picks one for the machine it runs on; eight
 * floats a step instead of four. Sanitizer builds keep one version: the
 * resolvers run before the sanitizers' runtimes are up. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) \
    && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
# define VECTOR_CLONES __attribute__ ((target_clones ("avx2", "default")))
#else
# define VECTOR_CLONES
#endif

/* ------------------------------------------------------------ exp and friends */

/* exp(x) = 2ⁿ · exp(r) with n = round(x / ln 2) and |r| ≤ ln 2 / 2, where a
 * degree-6 Taylor polynomial is accurate to ~6e-8 relative. Rounding with
 * the 1.5 · 2²³ trick instead of rintf keeps the loop branch-free, so that
 * plain SSE2 code vectorises it; libm's expf does not vectorise. */
static inline float
fast_expf (float x)
{
  const float magic = 12582912.0f; /* 1.5 · 2²³ */
  union { float f; int32_t i; } scale;
  float n, r, p;

  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
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
      x[i] = x[i] / (1.0f + fast_expf (-1.702f * x[i]));
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
    x[i] = x[i] / (1.0f + fast_expf (-1.5957691216f * (x[i] + 0.044715f * x[i] * x[i] * x[i])));
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

static VECTOR_CLONES void
layer_norm (const float *x,
            int          ldx,
            int          rows,
            int          dim,
            const float *w,
            const float *b,
            float        eps,
            float       *y,
            int          ldy)
{
  for (int r = 0; r < rows; r++)
    {
      const float *xr = x + (gsize) r * ldx;
      float *yr = y + (gsize) r * ldy;
      float mean = 0.0f, var = 0.0f, inv;

      /* Two passes over the row: the mean first, then the variance around
       * it, which avoids the cancellation of E[x²] − E[x]². */
      for (int i = 0; i < dim; i++)
        mean += xr[i];
      mean /= (float) dim;
      for (int i = 0; i < dim; i++)
        var += (xr[i] - mean) * (xr[i] - mean);
      var /= (float) dim;
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
                          int          ldy)
{
  layer_norm (x, ldx, rows, dim, w, b, eps, y, ldy);
}

/* -------------------------------------------------------------- softmax */

static VECTOR_CLONES void
softmax (float *x,
         int    n)
{
  float max = x[0], sum = 0.0f, inv;

  /* The maximum is subtracted first so that exp never overflows; the
   * result is the same because softmax is shift-invariant. */
  for (int i = 1; i < n; i++)
    max = x[i] > max ? x[i] : max;
  for (int i = 0; i < n; i++)
    {
      x[i] = fast_expf (x[i] - max);
      sum += x[i];
    }
  inv = 1.0f / sum;
  for (int i = 0; i < n; i++)
    x[i] *= inv;
}

/* In place over each row r of x[rows, n] (row stride @ld). With @causal,
 * row r sees only its first first_pos + r + 1 entries (the rest become
 * 0), as the query at sequence position first_pos + r. */
static void
softmax_rows (float   *x,
              int      rows,
              int      n,
              int      ld,
              gboolean causal,
              int      first_pos)
{
  for (int r = 0; r < rows; r++)
    {
      float *xr = x + (gsize) r * ld;
      int valid = causal ? MIN (first_pos + r + 1, n) : n;

      softmax (xr, valid);
      for (int i = valid; i < n; i++)
        xr[i] = 0.0f;
    }
}

/* ------------------------------------------------------------ attention */

void
clipscope_cpu_attention (const float   *q,
                         int            ldq,
                         const float   *k,
                         const float   *v,
                         int            ldkv,
                         int            batch,
                         int            seq,
                         int            n_q,
                         int            q_bstride,
                         int            width,
                         int            n_heads,
                         gboolean       causal,
                         const int32_t *index,
                         const int32_t *lengths,
                         float         *scores,
                         float         *out,
                         int            ldout)
{
  const int hd = width / n_heads;
  const float scale = 1.0f / sqrtf ((float) hd);

  clipscope_blas_begin ();
  for (int b = 0; b < batch; b++)
    for (int h = 0; h < n_heads; h++)
      {
        const int first = index ? index[b] : 0, keys = lengths ? MIN (lengths[b], seq) : seq;
        const float *qh = q + ((gsize) b * q_bstride + first) * ldq + (gsize) h * hd;
        const float *kh = k + (gsize) b * seq * ldkv + (gsize) h * hd;
        const float *vh = v + (gsize) b * seq * ldkv + (gsize) h * hd;
        float *oh = out + (gsize) b * n_q * ldout + (gsize) h * hd;

        /* scores[n_q, keys] = q kᵀ / √hd, then softmax, then · v. */
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, n_q, keys, hd,
                     scale, qh, ldq, kh, ldkv, 0.0f, scores, keys);
        softmax_rows (scores, n_q, keys, keys, causal, first);
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n_q, hd, keys,
                     1.0f, scores, keys, vh, ldkv, 0.0f, oh, ldout);
      }
  clipscope_blas_end ();
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
