/* cpu-quant.c — symmetric int8 quantisation (see cpu-quant.h) */
#include "cpu-quant.h"
#include "cpu-loops.h"

#include <float.h>
#include <math.h>
#include <string.h>

static VECTOR_CLONES void
quantize_row (const float *x,
              int          n,
              gint8       *q,
              float       *scale)
{
  guint32 top = 0;
  gboolean bad;
  float m, s, inv;

  /* max |x| as the largest bit pattern with the sign cleared, which
   * orders non-negative floats as their values, NaN and infinities above
   * all: an integer maximum, which vectorises where a float one, with
   * its NaN rules, does not. */
  for (int i = 0; i < n; i++)
    {
      guint32 bits;

      memcpy (&bits, x + i, sizeof bits);
      bits &= 0x7fffffffu;
      top = bits > top ? bits : top;
    }
  bad = top > 0x7f7fffffu;      /* beyond FLT_MAX: NaN or infinite */
  memcpy (&m, &top, sizeof m);
  s = m / 127.0f;
  inv = 127.0f / m;
  if (!(s > 0.0f) || bad || !(inv <= FLT_MAX))
    {
      /* Zeros (or all below 1e-36), or a row that is not finite, which
       * makes every sum of the row NaN, as it would in float32. */
      *scale = bad ? NAN : 0.0f;
      for (int i = 0; i < n; i++)
        q[i] = 0;
      return;
    }
  *scale = s;
  for (int i = 0; i < n; i++)
    {
      /* |x · 127 / m| <= 127 (and a little, by rounding): adding and
       * taking away 1.5 · 2²³ rounds it to an integer, ties to even, as
       * rintf would in the default rounding mode, but in a loop that
       * vectorises without SSE4.1's rounding instruction. It is held to
       * ±127 as an integer: GCC vectorises a float CLAMP of constants
       * into blends of every case, at half the speed. */
      const float magic = 12582912.0f;
      int v = (int) ((x[i] * inv + magic) - magic);

      v = v < -127 ? -127 : v;
      q[i] = (gint8) (v > 127 ? 127 : v);
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

static VECTOR_CLONES void
dequantize_row (const gint32 *a,
                int           n_out,
                float         rs,
                const float  *col_scales,
                const float  *b,
                float        *y,
                gboolean      accumulate)
{
  for (int c = 0; c < n_out; c++)
    {
      float v = (float) a[c] * (rs * col_scales[c]);

      if (b != NULL)
        v += b[c];
      y[c] = accumulate ? y[c] + v : v;
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
      float *yr = y + (gsize) r * ldy;

      dequantize_row (acc + (gsize) r * n_out, n_out, row_scales[r], col_scales, b, yr, accumulate);
      activate_row (yr, n_out, act);
    }
}
