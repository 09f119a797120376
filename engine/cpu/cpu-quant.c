/* cpu-quant.c — symmetric int8 quantisation (see cpu-quant.h) */
#include "cpu-quant.h"

#include <math.h>

/* As cpu-ops.c's loops: on the OpenMP threads where `spread` says so. */
#ifdef _OPENMP
# define PARALLEL_FOR _Pragma ("omp parallel for schedule(static) if(spread)")
#else
# define PARALLEL_FOR
#endif

static void
quantize_row (const float *x,
              int          n,
              gint8       *q,
              float       *scale)
{
  float m = 0.0f, nan = 0.0f, s;

  for (int i = 0; i < n; i++)
    {
      m = fmaxf (m, fabsf (x[i]));
      nan += x[i] * 0.0f;       /* NaN where some x is NaN or infinite */
    }
  s = m / 127.0f;
  if (!(s > 0.0f) || nan != 0.0f || !isfinite (s))
    {
      /* Zeros, or a row that is not finite, which makes every sum of the
       * row NaN, as it would in float32. */
      *scale = s > 0.0f || nan != 0.0f ? NAN : 0.0f;
      for (int i = 0; i < n; i++)
        q[i] = 0;
      return;
    }
  *scale = s;
  for (int i = 0; i < n; i++)
    {
      /* rintf rounds ties to even in the default rounding mode. */
      float v = rintf (x[i] / s);

      q[i] = (gint8) CLAMP (v, -127.0f, 127.0f);
    }
}

void
clipscope_cpu_quantize_rows (const float *x,
                             int          ldx,
                             int          rows,
                             int          n,
                             gint8       *q,
                             float       *scales,
                             gboolean     parallel)
{
  const gboolean spread G_GNUC_UNUSED = parallel && (gsize) rows * n >= 1 << 16;

  PARALLEL_FOR
  for (int r = 0; r < rows; r++)
    quantize_row (x + (gsize) r * ldx, n, q + (gsize) r * n, scales + r);
}

static void
activate_row (float       *y,
              int          n,
              ClipscopeAct act)
{
  switch (act)
    {
    case CLIPSCOPE_ACT_QUICK_GELU:
    case CLIPSCOPE_ACT_GELU:
      clipscope_cpu_gelu (y, n, act == CLIPSCOPE_ACT_QUICK_GELU);
      break;
    case CLIPSCOPE_ACT_GELU_TANH:
      clipscope_cpu_gelu_tanh (y, n);
      break;
    case CLIPSCOPE_ACT_RELU:
      clipscope_cpu_relu (y, n);
      break;
    case CLIPSCOPE_ACT_NONE:
    default:
      break;
    }
}

void
clipscope_cpu_dequantize (const gint32 *acc,
                          int           rows,
                          int           n_out,
                          const float  *row_scales,
                          const float  *col_scales,
                          const float  *b,
                          float        *y,
                          int           ldy,
                          ClipscopeAct  act,
                          gboolean      accumulate,
                          gboolean      parallel)
{
  const gboolean spread G_GNUC_UNUSED = parallel && (gsize) rows * n_out >= 1 << 15;

  PARALLEL_FOR
  for (int r = 0; r < rows; r++)
    {
      const gint32 *a = acc + (gsize) r * n_out;
      const float rs = row_scales[r];
      float *yr = y + (gsize) r * ldy;

      for (int c = 0; c < n_out; c++)
        {
          float v = (float) a[c] * (rs * col_scales[c]);

          if (b != NULL)
            v += b[c];
          yr[c] = accumulate ? yr[c] + v : v;
        }
      activate_row (yr, n_out, act);
    }
}
