/* cpu-quant.h — symmetric int8 quantisation for the int8 products
 *
 * A row of n floats becomes n signed bytes q and one scale s with
 * x ≈ s · q: s = max|x| / 127 and q = x · (127 / max|x|) rounded to the
 * nearest integer, ties to even (all in float32), so q stays within ±127;
 * a row of zeros (or of magnitudes all below 1e-36) has s = 0 and q = 0,
 * one with NaN or an infinity s = NaN and q = 0. Weight
 * matrices [n_out, n_in] are quantised so once per output channel (row),
 * activations once per row of each product; the product's int32 sums
 * are turned back into floats by the epilogue below.
 */
#pragma once

#include "cpu-ops.h"
#include "graph.h"

G_BEGIN_DECLS

/* q[rows, n] and scales[rows] from x[rows, n] (row stride @ldx), as
 * above; @parallel spreads the rows over the threads. */
void clipscope_cpu_quantize_rows (const float *x,
                                  int          ldx,
                                  int          rows,
                                  int          n,
                                  gint8       *q,
                                  float       *scales,
                                  gboolean     parallel);

/* y[r, c] = act(acc[r, c] · (row_scales[r] · col_scales[c]) + b[c] (+ y[r, c]))
 * for acc[rows, n_out] (contiguous), @b possibly NULL, @accumulate adding
 * the residual y (row stride @ldy) before the activation; @parallel
 * spreads the rows over the threads. */
void clipscope_cpu_dequantize (const gint32 *acc,
                               int           rows,
                               int           n_out,
                               const float  *row_scales,
                               const float  *col_scales,
                               const float  *b,
                               float        *y,
                               int           ldy,
                               ClipscopeAct  act,
                               gboolean      accumulate,
                               gboolean      parallel);

G_END_DECLS
