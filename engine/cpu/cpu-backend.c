/* cpu-backend.c — the graph operations run at once on the CPU
 *
 * Weights stay where the model keeps them (float32, or the matrices of a
 * 16-bit file as they are); with oneDNN (cpu-gemm.h) the weight matrices
 * are also packed for its matmul, once per model, and q, k and v stacked
 * into one matrix (once per model) where the model keeps them apart, so
 * that they are one product. OpenBLAS multiplies a 16-bit matrix widened
 * to float32 at each use, into a scratch array of the context, so that no
 * float32 copy of the weights stays. Activations live in
 * slots that grow on demand and are kept between passes, so a context
 * allocates once per batch size, not per call; so do the scratch arrays
 * of attention and convolutions. A cancelled pass, or one short of
 * memory, skips its remaining operations, and submit() says why.
 */
#include "cpu-backend.h"
#include "cpu-gemm.h"
#include "cpu-ops.h"

#include <cblas.h>
#include <string.h>

/* At most this many floats of im2col rows at a time (at least one row). */
#define COLS_FLOATS ((gsize) 1 << 20)
/* A chunk's slots together stay within this, unless one input needs more. */
#define CHUNK_BYTES ((gsize) 512 << 20)

typedef struct {
  ClipscopeGraphBackend parent;
  ClipscopeWeights      weights;
  ClipscopeCpuGemm     *gemm;                       /* NULL: OpenBLAS */
  int                   n_threads;                  /* 0: OpenMP's default */
  gsize                 per_item[CLIPSCOPE_N_SLOTS];
  float                *slots[CLIPSCOPE_N_SLOTS];
  gsize                 size[CLIPSCOPE_N_SLOTS];   /* bytes */
  float                *scores;                     /* attention's, grown on demand */
  gsize                 scores_size;                /* bytes */
  float                *cols;                       /* conv's, grown on demand */
  gsize                 cols_size;                  /* bytes */
  float                *wide;                       /* a 16-bit matrix widened for OpenBLAS */
  gsize                 wide_size;                  /* bytes */
  const void           *wide_of;                    /* the matrix in wide */
  gsize                 wide_n;                     /* its first elements widened */
  gboolean              stopped;                    /* cancelled or failed mid-pass */
  GError               *error;                      /* why it failed */
} CpuBackend;

#define CPU(be) ((CpuBackend *) (be))
#define F(t) ((float *) (t).buf + (t).off)
/* A weight, of any dtype. */
#define W(t) ((t).f16 || (t).bf16 ? (const float *) (const void *) ((const guint16 *) (t).buf + (t).off) \
                                  : (const float *) (t).buf + (t).off)
#define W_DTYPE(t) ((t).f16 ? CLIPSCOPE_DTYPE_F16 : (t).bf16 ? CLIPSCOPE_DTYPE_BF16 : CLIPSCOPE_DTYPE_F32)
#define IDX(t) ((const int32_t *) (t).buf + (t).off)
/* Every operation of a cancelled pass returns at once. */
#define RUNNING(be) (!CPU (be)->stopped)

static gboolean
grow (float  **buf,
      gsize   *size,
      gsize    bytes,
      GError **error)
{
  if (*size >= bytes)
    return TRUE;
  g_free (*buf);
  *buf = g_try_malloc (MAX (bytes, 4));
  *size = *buf ? bytes : 0;
  if (*buf == NULL)
    g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT,
                 "not enough memory for %" G_GSIZE_FORMAT " MiB of activations", bytes >> 20);
  return *buf != NULL;
}

static gboolean
cpu_begin (ClipscopeGraphBackend *be,
           int                    n,
           gboolean               spatial,
           gsize                  staging,
           GError               **error)
{
  CpuBackend *cpu = CPU (be);

  cpu->stopped = FALSE;
  g_clear_error (&cpu->error);
  clipscope_cpu_set_threads (cpu->n_threads);
  for (int s = 0; s < CLIPSCOPE_N_SLOTS; s++)
    {
      gsize need = s >= CLIPSCOPE_FIRST_SPATIAL_SLOT ? (spatial ? cpu->per_item[s] : 0)
                                                     : cpu->per_item[s] * n;

      if (!grow (&cpu->slots[s], &cpu->size[s], need, error))
        return FALSE;
    }
  return TRUE;
}

static ClipscopeView
cpu_slot (ClipscopeGraphBackend *be,
          ClipscopeSlot          slot)
{
  ClipscopeView t = { CPU (be)->slots[slot], 0, FALSE, FALSE };
  return t;
}

static void
cpu_upload (ClipscopeGraphBackend *be,
            ClipscopeView        dst,
            const void            *src,
            gsize                  bytes)
{
  memcpy (F (dst), src, bytes);
}

static void
cpu_download (ClipscopeGraphBackend *be,
              ClipscopeView        src,
              void                  *dst,
              gsize                  bytes)
{
  if (RUNNING (be))
    memcpy (dst, F (src), bytes);
}

static gboolean
cpu_submit (ClipscopeGraphBackend *be,
            GError               **error)
{
  CpuBackend *cpu = CPU (be);

  clipscope_cpu_gemm_pass_done (cpu->gemm);
  if (cpu->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&cpu->error));
      return FALSE;
    }
  return !cpu->stopped || !g_cancellable_set_error_if_cancelled (be->cancellable, error);
}

/* act() over y[rows, n] with row stride @ldy. */
static void
activate (float        *y,
          int           rows,
          int           n,
          int           ldy,
          ClipscopeAct  act)
{
  if (act == CLIPSCOPE_ACT_NONE)
    return;
  if (ldy == n)
    {
      n *= rows;
      rows = 1;
    }
  for (int r = 0; r < rows; r++)
    if (act == CLIPSCOPE_ACT_RELU)
      clipscope_cpu_relu (y + (gsize) r * ldy, n);
    else if (act == CLIPSCOPE_ACT_GELU_TANH)
      clipscope_cpu_gelu_tanh (y + (gsize) r * ldy, n);
    else
      clipscope_cpu_gelu (y + (gsize) r * ldy, n, act == CLIPSCOPE_ACT_QUICK_GELU);
}

/* y = act(x · wᵀ + b (+ y)): oneDNN where it can, else OpenBLAS, w of
 * @w_dtype widened first where it is 16-bit. */
static void
product (CpuBackend    *cpu,
         const float   *x,
         int            ldx,
         int            rows,
         int            n_in,
         const float   *w,
         ClipscopeDtype w_dtype,
         const float   *b,
         int            n_out,
         float         *y,
         int            ldy,
         ClipscopeAct   act,
         gboolean       accumulate)
{
  const gsize n = (gsize) n_out * n_in;
  const ClipscopeCpuStack *stack;

  if (cpu->gemm != NULL
      && clipscope_cpu_gemm_linear (cpu->gemm, x, ldx, rows, n_in, w, w_dtype, b, n_out, y, ldy,
                                    act, accumulate))
    return;
  /* Stacked matrices oneDNN could not multiply: a part at a time. */
  if ((stack = clipscope_cpu_gemm_stack_of (cpu->gemm, w)) != NULL)
    {
      int first = 0;

      for (int i = 0; i < stack->n_parts; i++)
        {
          const int part_out = (int) (stack->sizes[i] / n_in);

          product (cpu, x, ldx, rows, n_in, stack->parts[i], stack->dtype,
                   b != NULL ? b + first : NULL, part_out, y + first, ldy, act, accumulate);
          first += part_out;
        }
      return;
    }
  if (w_dtype != CLIPSCOPE_DTYPE_F32)
    {
      if (cpu->wide_of != w || cpu->wide_n < n)
        {
          cpu->wide_of = NULL;
          if (!grow (&cpu->wide, &cpu->wide_size, n * sizeof (float), &cpu->error))
            {
              cpu->stopped = TRUE;
              return;
            }
          clipscope_widen_16 (w_dtype, (const guint16 *) (const void *) w, n, cpu->wide);
          cpu->wide_of = w;
          cpu->wide_n = n;
        }
      w = cpu->wide;
    }
  clipscope_cpu_linear (x, ldx, rows, n_in, w, b, n_out, y, ldy, accumulate);
  activate (y, rows, n_out, ldy, act);
}

static void
cpu_linear (ClipscopeGraphBackend *be,
            ClipscopeView        x,
            int                    ldx,
            int                    rows,
            int                    n_in,
            ClipscopeView        w,
            ClipscopeView        b,
            int                    n_out,
            ClipscopeView        y,
            int                    ldy,
            ClipscopeAct           act,
            gboolean               accumulate)
{
  /* Linear layers are where the time goes: the place to notice a cancel. */
  if (!RUNNING (be) || (CPU (be)->stopped = g_cancellable_is_cancelled (be->cancellable)))
    return;
  product (CPU (be), F (x), ldx, rows, n_in, W (w), W_DTYPE (w), b.buf ? F (b) : NULL, n_out, F (y),
           ldy, act, accumulate);
}

/* One value of the input, or the zero padding around it. */
static inline float
pixel (const float        *x,
       const ClipscopeMap *m,
       gsize               img,
       int                 c,
       int                 sy,
       int                 sx)
{
  if (sy < 0 || sy >= m->h || sx < 0 || sx >= m->w)
    return 0.0f;
  return x[img * m->s_b + (gsize) c * m->s_c + (gsize) sy * m->s_y + (gsize) sx * m->s_x];
}

/* rows[r - r0] for output pixels r0 … r0 + count − 1: each the
 * (channel, ky, kx)-ordered patch under the kernel. Channel-first maps
 * (the pixels) are copied a kernel row at a time; channel-last maps
 * spread each pixel's channels, read in order, over the row. */
static void
im2col_rows (const float        *x,
             const ClipscopeMap *m,
             int                 kernel,
             int                 stride,
             int                 pad,
             gsize               r0,
             gsize               count,
             float              *rows)
{
  const int ho = (m->h + 2 * pad - kernel) / stride + 1, wo = (m->w + 2 * pad - kernel) / stride + 1;
  const int kk = kernel * kernel;
  const gsize k = (gsize) m->c * kk;
  gsize img = r0 / ((gsize) ho * wo);
  int oy = (int) (r0 / wo % ho), ox = (int) (r0 % wo);

  for (gsize r = 0; r < count; r++)
    {
      float *dst = rows + r * k;
      const int y0 = oy * stride - pad, x0 = ox * stride - pad;

      if (m->s_x == 1)
        for (int c = 0; c < m->c; c++)
          for (int ky = 0; ky < kernel; ky++)
            {
              float *d = dst + ((gsize) c * kernel + ky) * kernel;

              if (y0 + ky >= 0 && y0 + ky < m->h && x0 >= 0 && x0 + kernel <= m->w)
                memcpy (d, x + img * m->s_b + (gsize) c * m->s_c + (gsize) (y0 + ky) * m->s_y + x0,
                        kernel * sizeof (float));
              else
                for (int kx = 0; kx < kernel; kx++)
                  d[kx] = pixel (x, m, img, c, y0 + ky, x0 + kx);
            }
      else
        for (int ky = 0; ky < kernel; ky++)
          for (int kx = 0; kx < kernel; kx++)
            {
              float *d = dst + ky * kernel + kx;

              if (y0 + ky >= 0 && y0 + ky < m->h && x0 + kx >= 0 && x0 + kx < m->w)
                {
                  const float *src = x + img * m->s_b + (gsize) (y0 + ky) * m->s_y
                                     + (gsize) (x0 + kx) * m->s_x;

                  for (int c = 0; c < m->c; c++)
                    d[(gsize) c * kk] = src[(gsize) c * m->s_c];
                }
              else
                for (int c = 0; c < m->c; c++)
                  d[(gsize) c * kk] = 0.0f;
            }
      if (++ox == wo)
        {
          ox = 0;
          if (++oy == ho)
            {
              oy = 0;
              img++;
            }
        }
    }
}

typedef struct {
  const float        *x;
  const ClipscopeMap *map;
  int                 kernel, stride, pad;
  gsize               first;
  float              *rows;
} Im2col;

static void
im2col_part (gsize    r0,
             gsize    count,
             gpointer data)
{
  const Im2col *c = data;
  const gsize k = (gsize) c->map->c * c->kernel * c->kernel;

  im2col_rows (c->x, c->map, c->kernel, c->stride, c->pad, c->first + r0, count, c->rows + r0 * k);
}

/* im2col_rows() of @count rows from c->first, spread over the threads
 * that oneDNN's products use. */
static void
im2col_spread (CpuBackend   *cpu,
               const Im2col *c,
               gsize         count)
{
  const gsize k = (gsize) c->map->c * c->kernel * c->kernel;

  /* A thread's share is worth waking it for from some 32 K floats on. */
  clipscope_cpu_parallel_rows (count, MAX (((gsize) 1 << 15) / k, 1), cpu->gemm != NULL,
                               im2col_part, (gpointer) c);
}

static void
cpu_im2col (ClipscopeGraphBackend *be,
            ClipscopeView        x,
            const ClipscopeMap    *map,
            int                    kernel,
            int                    stride,
            int                    pad,
            ClipscopeView        y)
{
  const gsize ho = (map->h + 2 * pad - kernel) / stride + 1, wo = (map->w + 2 * pad - kernel) / stride + 1;

  if (RUNNING (be))
    {
      const Im2col c = { F (x), map, kernel, stride, pad, 0, F (y) };

      im2col_spread (CPU (be), &c, map->n * ho * wo);
    }
}

/* The rows of the im2col matrix a block at a time, each block times wᵀ. */
static void
cpu_conv (ClipscopeGraphBackend *be,
          ClipscopeView        x,
          const ClipscopeMap    *map,
          ClipscopeView        w,
          ClipscopeView        b,
          int                    c_out,
          int                    kernel,
          int                    stride,
          int                    pad,
          ClipscopeView        y,
          ClipscopeAct           act,
          gboolean               accumulate)
{
  CpuBackend *cpu = CPU (be);
  const gsize ho = (map->h + 2 * pad - kernel) / stride + 1, wo = (map->w + 2 * pad - kernel) / stride + 1;
  const gsize k = (gsize) map->c * kernel * kernel, m = map->n * ho * wo;
  const gsize block = MAX (COLS_FLOATS / k, 1);

  if (!RUNNING (be) || (cpu->stopped = g_cancellable_is_cancelled (be->cancellable)))
    return;
  if (!grow (&cpu->cols, &cpu->cols_size, MIN (block, m) * k * sizeof (float), &cpu->error))
    {
      cpu->stopped = TRUE;
      return;
    }
  for (gsize r0 = 0; r0 < m; r0 += block)
    {
      const gsize count = MIN (block, m - r0);
      float *yr = F (y) + r0 * c_out;
      const Im2col c = { F (x), map, kernel, stride, pad, r0, cpu->cols };

      im2col_spread (cpu, &c, count);
      product (cpu, cpu->cols, k, count, k, W (w), W_DTYPE (w), b.buf ? F (b) : NULL, c_out, yr,
               c_out, act, accumulate);
    }
}

static void
cpu_layer_norm (ClipscopeGraphBackend *be,
                ClipscopeView        x,
                int                    ldx,
                int                    rows,
                int                    dim,
                ClipscopeView        w,
                ClipscopeView        b,
                float                  eps,
                ClipscopeView        y,
                int                    ldy)
{
  if (RUNNING (be))
    clipscope_cpu_layer_norm (F (x), ldx, rows, dim, F (w), F (b), eps, F (y), ldy,
                              CPU (be)->gemm != NULL);
}

static void
cpu_attention (ClipscopeGraphBackend    *be,
               const ClipscopeAttention *a)
{
  CpuBackend *cpu = CPU (be);
  const ClipscopeCpuAttention c = {
    .q = F (a->q), .k = F (a->k), .v = F (a->v), .out = F (a->out),
    .index = a->index.buf ? IDX (a->index) : NULL,
    .lengths = a->lengths.buf ? IDX (a->lengths) : NULL,
    .ldq = a->ldq, .ldkv = a->ldkv, .ldout = a->ldout,
    .batch = a->batch, .seq = a->seq, .n_q = a->n_q, .q_bstride = a->q_bstride,
    .width = a->width, .n_heads = a->n_heads, .causal = a->causal,
  };

  if (!RUNNING (be))
    return;
  /* With oneDNN, every head's products at once where it can. */
  if (cpu->gemm != NULL && clipscope_cpu_gemm_attention (cpu->gemm, &c))
    return;
  if (!grow (&cpu->scores, &cpu->scores_size,
             clipscope_cpu_attention_scratch (&c) * sizeof (float),
             &cpu->error))
    {
      cpu->stopped = TRUE;
      return;
    }
  clipscope_cpu_attention (&c, cpu->scores, cpu->gemm != NULL);
}

static void
cpu_embed_tokens (ClipscopeGraphBackend *be,
                  ClipscopeView        x,
                  ClipscopeView        tok,
                  ClipscopeView        pos,
                  ClipscopeView        ids,
                  int                    batch,
                  int                    seq,
                  int                    ctx,
                  int                    width)
{
  if (!RUNNING (be))
    return;
  for (int i = 0; i < batch; i++)
    for (int j = 0; j < seq; j++)
      {
        const gsize row = (gsize) IDX (ids)[(gsize) i * ctx + j] * width;
        const float *p = F (pos) + (gsize) j * width;
        float *xr = F (x) + ((gsize) i * seq + j) * width;

        if (W_DTYPE (tok) != CLIPSCOPE_DTYPE_F32)
          {
            /* The row widened in place, then the position added. */
            clipscope_widen_16 (W_DTYPE (tok), (const guint16 *) (const void *) W (tok) + row,
                                width, xr);
            for (int k = 0; k < width; k++)
              xr[k] += p[k];
          }
        else
          for (int k = 0; k < width; k++)
            xr[k] = W (tok)[row + k] + p[k];
      }
}

static void
cpu_assemble_tokens (ClipscopeGraphBackend *be,
                     ClipscopeView        x,
                     ClipscopeView        src,
                     ClipscopeView        cls,
                     ClipscopeView        pos,
                     int                    batch,
                     int                    seq,
                     int                    width,
                     ClipscopeFirstToken    first)
{
  const int lead = first == CLIPSCOPE_FIRST_NONE ? 0 : 1, rows = seq - lead;

  if (!RUNNING (be))
    return;
  for (int i = 0; i < batch; i++)
    {
      const float *s = F (src) + (gsize) i * rows * width, *p = F (pos);
      float *xi = F (x) + (gsize) i * seq * width;

      /* Row by row, so that the additions vectorise. */
      for (int t = 0; t < rows; t++)
        {
          const float *st = s + (gsize) t * width, *pt = p + (gsize) (t + lead) * width;
          float *xt = xi + (gsize) (t + lead) * width;

          for (int c = 0; c < width; c++)
            xt[c] = st[c] + pt[c];
        }
      if (first == CLIPSCOPE_FIRST_CLASS)
        for (int c = 0; c < width; c++)
          xi[c] = F (cls)[c] + p[c];
      else if (first == CLIPSCOPE_FIRST_MEAN)
        for (int c = 0; c < width; c++)
          {
            double sum = 0.0;

            for (int t = 0; t < rows; t++)
              sum += s[(gsize) t * width + c];
            xi[c] = (float) (sum / rows) + p[c];
          }
    }
}

static void
cpu_gather_rows (ClipscopeGraphBackend *be,
                 ClipscopeView        src,
                 ClipscopeView        dst,
                 ClipscopeView        index,
                 int                    batch,
                 int                    seq,
                 int                    width)
{
  if (!RUNNING (be))
    return;
  for (int b = 0; b < batch; b++)
    memcpy (F (dst) + (gsize) b * width,
            F (src) + ((gsize) b * seq + (index.buf ? IDX (index)[b] : 0)) * width,
            width * sizeof (float));
}

static void
cpu_avg_pool (ClipscopeGraphBackend *be,
              ClipscopeView        src,
              ClipscopeView        dst,
              int                    n,
              int                    h,
              int                    w,
              int                    c,
              int                    f)
{
  const int ho = h / f, wo = w / f;
  const float inv = 1.0f / (float) (f * f);

  if (!RUNNING (be))
    return;
  for (int i = 0; i < n; i++)
    for (int y = 0; y < ho; y++)
      for (int x = 0; x < wo; x++)
        {
          float *out = F (dst) + (((gsize) i * ho + y) * wo + x) * c;

          memset (out, 0, c * sizeof (float));
          for (int dy = 0; dy < f; dy++)
            for (int dx = 0; dx < f; dx++)
              {
                const float *in = F (src) + (((gsize) i * h + y * f + dy) * w + x * f + dx) * c;

                for (int ch = 0; ch < c; ch++)
                  out[ch] += in[ch];
              }
          for (int ch = 0; ch < c; ch++)
            out[ch] *= inv;
        }
}

static void
cpu_l2_norm (ClipscopeGraphBackend *be,
             ClipscopeView        x,
             int                    rows,
             int                    dim)
{
  if (RUNNING (be))
    clipscope_cpu_l2_normalize (F (x), rows, dim);
}

static const ClipscopeGraphOps cpu_ops = {
  .begin = cpu_begin,
  .slot = cpu_slot,
  .upload = cpu_upload,
  .download = cpu_download,
  .submit = cpu_submit,
  .linear = cpu_linear,
  .conv = cpu_conv,
  .im2col = cpu_im2col,
  .layer_norm = cpu_layer_norm,
  .attention = cpu_attention,
  .embed_tokens = cpu_embed_tokens,
  .assemble_tokens = cpu_assemble_tokens,
  .gather_rows = cpu_gather_rows,
  .avg_pool = cpu_avg_pool,
  .l2_norm = cpu_l2_norm,
};

/* The model's own arrays; q, k and v stacked where they lie stacked, and
 * for oneDNN also where they do not: their biases into a copy, their
 * matrices packed from the parts (see clipscope_cpu_gemm_stack()), once
 * for the model's contexts. */
static ClipscopeView
cpu_bind (gpointer             binder,
          ClipscopeWeightKind  kind,
          ClipscopeDtype       dtype,
          int                  n_parts,
          const float *const  *parts,
          const gsize         *sizes)
{
  CpuBackend *cpu = binder;
  const gsize elem = clipscope_dtype_size (dtype);
  ClipscopeView t = { parts[0], 0, dtype == CLIPSCOPE_DTYPE_F16, dtype == CLIPSCOPE_DTYPE_BF16 };

  for (int i = 1; i < n_parts; i++)
    if ((const guint8 *) parts[i] != (const guint8 *) parts[i - 1] + sizes[i - 1] * elem)
      t.buf = NULL;
  if (t.buf == NULL)
    t.buf = clipscope_cpu_gemm_stack (cpu->gemm, n_parts, parts, sizes, dtype,
                                      kind != CLIPSCOPE_WEIGHT_MATRIX);
  if (t.buf != NULL && kind == CLIPSCOPE_WEIGHT_MATRIX)
    clipscope_cpu_gemm_pin (cpu->gemm, t.buf, dtype);
  return t.buf != NULL ? t : CLIPSCOPE_NO_VIEW;
}

ClipscopeGraphBackend *
clipscope_cpu_backend_new (ClipscopeModel     *model,
                           int                 max_batch,
                           ClipscopePrecision  precision,
                           int                 n_threads,
                           GError            **error)
{
  CpuBackend *cpu = g_new0 (CpuBackend, 1);
  gsize per_input = 0;

  cpu->gemm = clipscope_cpu_gemm_new (precision, model);
  if (cpu->gemm == NULL && precision != CLIPSCOPE_PRECISION_F32)
    cpu->gemm = clipscope_cpu_gemm_new (CLIPSCOPE_PRECISION_F32, model);
  cpu->n_threads = n_threads;

  cpu->parent.ops = &cpu_ops;
  cpu->parent.weights = &cpu->weights;
  cpu->parent.chunk = MAX (max_batch, 1);
  if (model != NULL)
    {
      cpu->parent.model = clipscope_model_ref (model);
      clipscope_graph_slot_sizes (model, cpu->per_item);
      for (int s = 0; s < CLIPSCOPE_FIRST_SPATIAL_SLOT; s++)
        per_input += cpu->per_item[s];
      cpu->parent.chunk = CLAMP ((int) MIN (CHUNK_BYTES / MAX (per_input, 1), G_MAXINT), 1,
                                 cpu->parent.chunk);
      clipscope_weights_bind (&cpu->weights, model, cpu_bind, cpu);
    }
  return &cpu->parent;
}

void
clipscope_cpu_backend_free (ClipscopeGraphBackend *be)
{
  CpuBackend *cpu = CPU (be);

  if (be == NULL)
    return;
  for (int s = 0; s < CLIPSCOPE_N_SLOTS; s++)
    g_free (cpu->slots[s]);
  g_free (cpu->scores);
  g_free (cpu->cols);
  g_free (cpu->wide);
  g_clear_error (&cpu->error);
  clipscope_weights_clear (&cpu->weights);
  clipscope_cpu_gemm_free (cpu->gemm);
  g_clear_pointer (&be->model, clipscope_model_unref);
  g_free (cpu);
}

const char *
clipscope_cpu_backend_describe (ClipscopeGraphBackend *be)
{
  return clipscope_cpu_gemm_describe (CPU (be)->gemm);
}
