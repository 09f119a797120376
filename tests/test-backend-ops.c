/* test-backend-ops.c — every graph operation on both backends
 *
 * Each case fills its inputs from a fixed, printed seed of awkward sizes
 * (widths that are no multiple of 32, one row, long sequences), runs one
 * operation (graph.h) on the CPU backend and on the Vulkan backend, and
 * compares them element by element, reporting the first mismatch; where
 * a plain-loop reference is simple (convolutions, token and row
 * shuffling), both backends are held to it. Outputs sit between guard bands of sentinel values
 * (and, for strided outputs, sentinel columns) that must come back
 * untouched. Weights stored as float16 are compared with a reference
 * that uses the same rounded weights, so the tolerance stays tight.
 *
 * The validation layer is on (CLIPSCOPE_VULKAN_VALIDATE=1 from meson);
 * any message it prints makes clipscope_vk_submit_wait() fail. A machine
 * without a Vulkan device fails, unless CLIPSCOPE_TEST_SKIP_VULKAN=1 asks
 * to skip.
 */
#include "clipscope-private.h"
#include "cpu/cpu-backend.h"
#include "cpu/cpu-ops.h"
#include "vulkan/vulkan-backend.h"
#include "vulkan/vulkan-weights.h"

#include <math.h>
#include <string.h>

#define GUARD 12                   /* floats on each side of an output */
#define SENTINEL 12345.678f
#define SEED 20261127u

static ClipscopeGraphBackend *cpu, *vk;
static ClipscopeVkDevice *dev;      /* vk's */

/* ------------------------------------------------------------ helpers */

/* A view of host memory, which is what the CPU backend works on. */
static ClipscopeView
host (const void *p,
      gsize       off)
{
  ClipscopeView v = { p, off, FALSE };
  return v;
}

static float *
random_floats (GRand *rng,
               gsize  n,
               double scale)
{
  float *v = g_new (float, n + 1);

  for (gsize i = 0; i < n; i++)
    v[i] = (float) g_rand_double_range (rng, -scale, scale);
  return v;
}

static float
half_to_float (uint16_t h)
{
  int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  float v = e == 0 ? ldexpf ((float) m, -24) : ldexpf ((float) (m | 0x400), e - 25);

  if (e == 31)
    v = m ? NAN : INFINITY;

  return (h & 0x8000) ? -v : v;
}

/* Rounds @w to float16 in place and returns the float16 words. */
static uint16_t *
round_to_half (float *w,
               gsize  n)
{
  uint16_t *h = g_new (uint16_t, n + 1);

  for (gsize i = 0; i < n; i++)
    {
      h[i] = clipscope_vk_half_from_float (w[i]);
      w[i] = half_to_float (h[i]);
    }
  return h;
}

static void
buffer_new (ClipscopeVkBuffer *buf,
            gsize              bytes)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (clipscope_vk_buffer_init (dev, buf, bytes, &error));
  g_assert_no_error (error);
}

/* A buffer of float16 weights: its texel view reads float16 vec4s. */
static void
buffer_new_half (ClipscopeVkBuffer *buf,
                 gsize              bytes)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (clipscope_vk_buffer_init_half (dev, buf, bytes, &error));
  g_assert_no_error (error);
}

/* An output array of @n floats between guards, all set to SENTINEL. */
static float *
sentinel_floats (gsize n)
{
  float *v = g_new (float, n + 2 * GUARD);

  for (gsize i = 0; i < n + 2 * GUARD; i++)
    v[i] = SENTINEL;
  return v;
}

/* Compares got[0 : n] with want, and checks the guards of @got (which
 * points GUARD floats into its allocation) and entries @want marks as
 * SENTINEL. Returns FALSE after reporting the first mismatch. */
static gboolean
check_close (const char  *what,
             const float *got,
             const float *want,
             gsize        n,
             double       tol)
{
  for (gsize i = 0; i < GUARD; i++)
    if (got[-(gssize) GUARD + (gssize) i] != SENTINEL || got[n + i] != SENTINEL)
      {
        g_test_fail_printf ("%s: a guard value was overwritten (%s, offset %" G_GSIZE_FORMAT ")",
                            what, got[-(gssize) GUARD + (gssize) i] != SENTINEL ? "before" : "after", i);
        return FALSE;
      }
  for (gsize i = 0; i < n; i++)
    {
      gboolean bad = !isfinite (got[i]) || fabs (got[i] - want[i]) > tol * (1.0 + fabs (want[i]));

      if (want[i] == SENTINEL)
        bad = got[i] != SENTINEL;
      if (bad)
        {
          g_test_fail_printf ("%s: first mismatch at index %" G_GSIZE_FORMAT ": got %.7g, want %.7g",
                              what, i, got[i], want[i]);
          return FALSE;
        }
    }
  return TRUE;
}

static void
submit (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (clipscope_vk_submit_wait (dev, &error));
  g_assert_no_error (error);
}

static void
begin (gsize staging)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (clipscope_vk_begin (dev, staging, &error));
  g_assert_no_error (error);
}

/* Runs @run on a device created with the environment variable @name set
 * to each of @values in turn (NULL-terminated), then restores the
 * default device: the ways of the device that only its creation picks. */
static void
with_each_setting (const char        *name,
                   const char *const *values,
                   void             (*run) (void))
{
  ClipscopeGraphBackend *saved = vk;
  g_autofree char *old = g_strdup (g_getenv (name));

  for (guint i = 0; values[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;

      g_test_message ("%s=%s", name, values[i]);
      g_setenv (name, values[i], TRUE);
      vk = clipscope_vk_backend_new (NULL, 1, TRUE, &error);
      g_assert_no_error (error);
      dev = clipscope_vk_backend_get_device (vk);
      run ();
      clipscope_vk_backend_free (vk);
    }
  if (old != NULL)
    g_setenv (name, old, TRUE);
  else
    g_unsetenv (name);
  vk = saved;
  dev = clipscope_vk_backend_get_device (vk);
}

static const char *const reduce_modes[] = { "tree", "subgroups", "subgroup", NULL };

/* ------------------------------------------------------------- linear */

typedef struct {
  int rows, n_in, n_out;
  int pad_x, pad_y;            /* extra columns: strided rows */
  int x_shift;                 /* x starts this many floats in: misaligned */
  gboolean bias, accumulate, f16;
  ClipscopeAct act;
} LinearCase;

static void
cpu_act (float *y, int rows, int n, int ld, ClipscopeAct act)
{
  for (int r = 0; r < rows; r++)
    if (act == CLIPSCOPE_ACT_RELU)
      clipscope_cpu_relu (y + (gsize) r * ld, n);
    else if (act == CLIPSCOPE_ACT_GELU_TANH)
      clipscope_cpu_gelu_tanh (y + (gsize) r * ld, n);
    else if (act != CLIPSCOPE_ACT_NONE)
      clipscope_cpu_gelu (y + (gsize) r * ld, n, act == CLIPSCOPE_ACT_QUICK_GELU);
}

static void
run_linear (const LinearCase *c,
            guint32           seed)
{
  g_autoptr(GRand) rng = g_rand_new_with_seed (seed);
  const int ldx = c->n_in + c->pad_x, ldy = c->n_out + c->pad_y;
  const gsize nx = (gsize) c->rows * ldx + c->x_shift, nw = (gsize) c->n_out * c->n_in;
  const gsize ny = (gsize) c->rows * ldy;
  g_autofree float *x = random_floats (rng, nx, 1.0);
  g_autofree float *w = random_floats (rng, nw, 0.2);
  g_autofree float *b = random_floats (rng, c->n_out, 0.5);
  g_autofree float *y0 = random_floats (rng, ny, 1.0);
  g_autofree float *want = g_new (float, ny);
  g_autofree float *got = sentinel_floats (ny);
  g_autofree uint16_t *wh = c->f16 ? round_to_half (w, nw) : NULL;
  g_autofree char *what = g_strdup_printf ("linear %dx%d→%d pad %d/%d shift %d%s%s%s act %d seed %u",
                                           c->rows, c->n_in, c->n_out, c->pad_x, c->pad_y,
                                           c->x_shift, c->bias ? " bias" : "",
                                           c->accumulate ? " acc" : "", c->f16 ? " f16" : "",
                                           c->act, seed);
  ClipscopeVkBuffer bx, bw, bb, by;
  ClipscopeView tw;

  /* Padding columns of y are sentinels in and must be sentinels out. */
  for (gsize r = 0; r < (gsize) c->rows; r++)
    for (int j = c->n_out; j < ldy; j++)
      y0[r * ldy + j] = SENTINEL;
  memcpy (got + GUARD, y0, ny * sizeof (float));
  memcpy (want, y0, ny * sizeof (float));
  if (!c->accumulate)
    for (gsize r = 0; r < (gsize) c->rows; r++)
      memset (want + r * ldy, 0, c->n_out * sizeof (float));
  cpu->ops->linear (cpu, host (x, c->x_shift), ldx, c->rows, c->n_in, host (w, 0),
                    c->bias ? host (b, 0) : CLIPSCOPE_NO_VIEW, c->n_out, host (want, 0), ldy,
                    c->act, c->accumulate);

  buffer_new (&bx, nx * 4);
  if (c->f16)
    buffer_new_half (&bw, nw * 2);
  else
    buffer_new (&bw, nw * 4);
  buffer_new (&bb, c->n_out * 4);
  buffer_new (&by, (ny + 2 * GUARD) * 4);
  begin ((nx + nw + c->n_out + 2 * (ny + 2 * GUARD)) * 4 + 256);
  clipscope_vk_upload (dev, &bx, 0, x, nx * 4);
  clipscope_vk_upload (dev, &bw, 0, c->f16 ? (void *) wh : (void *) w, nw * (c->f16 ? 2 : 4));
  clipscope_vk_upload (dev, &bb, 0, b, c->n_out * 4);
  clipscope_vk_upload (dev, &by, 0, got, (ny + 2 * GUARD) * 4);
  tw = clipscope_vk_tensor (&bw, 0);
  tw.f16 = c->f16;
  vk->ops->linear (vk, clipscope_vk_tensor (&bx, c->x_shift), ldx, c->rows, c->n_in, tw,
                   c->bias ? clipscope_vk_tensor (&bb, 0) : CLIPSCOPE_NO_VIEW,
                   c->n_out, clipscope_vk_tensor (&by, GUARD), ldy, c->act, c->accumulate);
  clipscope_vk_download (dev, &by, 0, got, (ny + 2 * GUARD) * 4);
  submit ();
  check_close (what, got + GUARD, want, ny, 1e-4);
  clipscope_vk_buffer_clear (dev, &bx);
  clipscope_vk_buffer_clear (dev, &bw);
  clipscope_vk_buffer_clear (dev, &bb);
  clipscope_vk_buffer_clear (dev, &by);
}

static void
run_linear_cases (void)
{
  const LinearCase cases[] = {
    { 1, 8, 5, 0, 0, 0, TRUE, FALSE, FALSE, CLIPSCOPE_ACT_NONE },
    { 77, 64, 48, 0, 0, 0, TRUE, FALSE, FALSE, CLIPSCOPE_ACT_QUICK_GELU },
    { 50, 96, 192, 0, 0, 0, TRUE, FALSE, FALSE, CLIPSCOPE_ACT_GELU },
    { 50, 48, 48, 0, 0, 0, TRUE, TRUE, FALSE, CLIPSCOPE_ACT_NONE },
    { 33, 27, 17, 0, 0, 0, FALSE, FALSE, FALSE, CLIPSCOPE_ACT_RELU },
    { 19, 36, 70, 4, 3, 0, TRUE, TRUE, FALSE, CLIPSCOPE_ACT_RELU },
    { 16, 40, 24, 8, 5, 1, TRUE, FALSE, FALSE, CLIPSCOPE_ACT_NONE },   /* scalar path */
    { 130, 72, 33, 0, 0, 0, TRUE, FALSE, TRUE, CLIPSCOPE_ACT_QUICK_GELU },
    { 3, 20, 9, 4, 1, 0, TRUE, TRUE, TRUE, CLIPSCOPE_ACT_NONE },
    { 17, 13, 11, 0, 0, 0, TRUE, FALSE, TRUE, CLIPSCOPE_ACT_GELU },
    { 70, 50, 130, 3, 2, 1, TRUE, TRUE, TRUE, CLIPSCOPE_ACT_GELU },   /* misaligned, f16 */
    { 33, 40, 70, 8, 1, 0, TRUE, TRUE, TRUE, CLIPSCOPE_ACT_NONE },    /* f16, 8 a texel */
    { 9, 36, 10, 0, 0, 0, TRUE, FALSE, TRUE, CLIPSCOPE_ACT_NONE },    /* f16, 36 = 4 · 9 */
    { 1, 16, 9, 0, 0, 0, TRUE, FALSE, TRUE, CLIPSCOPE_ACT_NONE },
    { 77, 32, 50, 0, 0, 0, TRUE, TRUE, TRUE, CLIPSCOPE_ACT_QUICK_GELU },
    { 150, 200, 70, 0, 0, 0, FALSE, FALSE, FALSE, CLIPSCOPE_ACT_NONE },
    { 45, 68, 37, 0, 3, 0, TRUE, FALSE, FALSE, CLIPSCOPE_ACT_GELU_TANH },
    { 1, 24, 90, 0, 0, 1, TRUE, TRUE, TRUE, CLIPSCOPE_ACT_GELU_TANH },
  };

  g_test_message ("seed %u", SEED);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      if (cases[i].f16 && !clipscope_vk_device_has_f16 (dev))
        {
          g_test_message ("case %u: float16 storage not supported here", i);
          continue;
        }
      run_linear (&cases[i], SEED + i);
    }
}

/* Both products: gemm.comp's register tiles and gemm_tiled.comp's
 * shared-memory blocks, whichever the device would pick. */
static void
test_linear (void)
{
  static const char *const paths[] = { "registers", "tiled", NULL };

  with_each_setting ("CLIPSCOPE_VULKAN_GEMM", paths, run_linear_cases);
}

/* --------------------------------------------------------------- conv */

typedef struct {
  int n, c, h, w, c_out, k, stride, pad;
  gboolean channel_first, bias, accumulate;
  ClipscopeAct act;
} ConvCase;

/* Plain loops: out[n, ho, wo, c_out] (+)= sum w[o, ch, ky, kx] · in(ch, sy, sx) + b. */
static void
cpu_conv (const ConvCase *c,
          const float    *in,
          const float    *w,
          const float    *b,
          float          *out)
{
  const int ho = (c->h + 2 * c->pad - c->k) / c->stride + 1, wo = (c->w + 2 * c->pad - c->k) / c->stride + 1;

  for (int i = 0; i < c->n; i++)
    for (int y = 0; y < ho; y++)
      for (int x = 0; x < wo; x++)
        for (int o = 0; o < c->c_out; o++)
          {
            double sum = c->bias ? b[o] : 0.0;
            float *dst = out + (((gsize) i * ho + y) * wo + x) * c->c_out + o;

            for (int ch = 0; ch < c->c; ch++)
              for (int ky = 0; ky < c->k; ky++)
                for (int kx = 0; kx < c->k; kx++)
                  {
                    int sy = y * c->stride + ky - c->pad, sx = x * c->stride + kx - c->pad;
                    gsize at;

                    if (sy < 0 || sx < 0 || sy >= c->h || sx >= c->w)
                      continue;
                    at = c->channel_first ? (((gsize) i * c->c + ch) * c->h + sy) * c->w + sx
                                          : (((gsize) i * c->h + sy) * c->w + sx) * c->c + ch;
                    sum += (double) w[(((gsize) o * c->c + ch) * c->k + ky) * c->k + kx] * in[at];
                  }
            *dst = (float) (sum + (c->accumulate ? *dst : 0.0f));
          }
  cpu_act (out, 1, c->n * ho * wo * c->c_out, 0, c->act);
}

/* Records case @c on @be as one implicit-im2col product or, with
 * @explicit, as im2col followed by a linear layer through @cols. */
static void
record_conv (ClipscopeGraphBackend *be,
             const ConvCase        *c,
             const ClipscopeMap    *map,
             gboolean               explicit,
             ClipscopeView          in,
             ClipscopeView          cols,
             ClipscopeView          w,
             ClipscopeView          bias,
             ClipscopeView          out)
{
  const int ho = (c->h + 2 * c->pad - c->k) / c->stride + 1, wo = (c->w + 2 * c->pad - c->k) / c->stride + 1;
  const int kk = c->c * c->k * c->k;

  if (!explicit)
    {
      be->ops->conv (be, in, map, w, bias, c->c_out, c->k, c->stride, c->pad, out, c->act,
                     c->accumulate);
      return;
    }
  be->ops->im2col (be, in, map, c->k, c->stride, c->pad, cols);
  be->ops->linear (be, cols, kk, c->n * ho * wo, kk, w, bias, c->c_out, out, c->c_out, c->act,
                   c->accumulate);
}

static void
run_conv (const ConvCase *c,
          guint32         seed,
          gboolean        explicit)
{
  g_autoptr(GRand) rng = g_rand_new_with_seed (seed);
  const int ho = (c->h + 2 * c->pad - c->k) / c->stride + 1, wo = (c->w + 2 * c->pad - c->k) / c->stride + 1;
  const int kk = c->c * c->k * c->k, rows = c->n * ho * wo;
  const gsize nin = (gsize) c->n * c->c * c->h * c->w, nw = (gsize) c->c_out * kk;
  const gsize nout = (gsize) rows * c->c_out, ncol = (gsize) rows * kk;
  g_autofree float *in = random_floats (rng, nin, 1.0);
  g_autofree float *w = random_floats (rng, nw, 0.3);
  g_autofree float *b = random_floats (rng, c->c_out, 0.5);
  g_autofree float *want = random_floats (rng, nout, 1.0);
  g_autofree float *got = sentinel_floats (nout);
  g_autofree float *got_cpu = sentinel_floats (nout);
  g_autofree float *cols = g_new (float, ncol + 1);
  g_autofree char *what = g_strdup_printf ("conv %dx%dx%dx%d → %d k%d s%d p%d%s seed %u",
                                           c->n, c->c, c->h, c->w, c->c_out, c->k, c->stride,
                                           c->pad, explicit ? " (im2col, linear)" : "", seed);
  g_autofree char *what_cpu = g_strdup_printf ("%s on the CPU", what);
  ClipscopeMap map;
  ClipscopeVkBuffer bin, bcol, bw, bb, bout;

  if (c->channel_first)
    map = (ClipscopeMap) { c->n, c->c, c->h, c->w, c->c * c->h * c->w, c->h * c->w, c->w, 1 };
  else
    map = (ClipscopeMap) { c->n, c->c, c->h, c->w, c->h * c->w * c->c, 1, c->w * c->c, c->c };
  memcpy (got + GUARD, want, nout * sizeof (float));
  memcpy (got_cpu + GUARD, want, nout * sizeof (float));
  cpu_conv (c, in, w, b, want);
  record_conv (cpu, c, &map, explicit, host (in, 0), host (cols, 0), host (w, 0),
               c->bias ? host (b, 0) : CLIPSCOPE_NO_VIEW, host (got_cpu, GUARD));
  check_close (what_cpu, got_cpu + GUARD, want, nout, 1e-4);

  buffer_new (&bin, nin * 4);
  buffer_new (&bcol, ncol * 4);
  buffer_new (&bw, nw * 4);
  buffer_new (&bb, c->c_out * 4);
  buffer_new (&bout, (nout + 2 * GUARD) * 4);
  begin ((nin + nw + c->c_out + 2 * (nout + 2 * GUARD)) * 4 + 256);
  clipscope_vk_upload (dev, &bin, 0, in, nin * 4);
  clipscope_vk_upload (dev, &bw, 0, w, nw * 4);
  clipscope_vk_upload (dev, &bb, 0, b, c->c_out * 4);
  clipscope_vk_upload (dev, &bout, 0, got, (nout + 2 * GUARD) * 4);
  record_conv (vk, c, &map, explicit, clipscope_vk_tensor (&bin, 0), clipscope_vk_tensor (&bcol, 0),
               clipscope_vk_tensor (&bw, 0), c->bias ? clipscope_vk_tensor (&bb, 0) : CLIPSCOPE_NO_VIEW,
               clipscope_vk_tensor (&bout, GUARD));
  clipscope_vk_download (dev, &bout, 0, got, (nout + 2 * GUARD) * 4);
  submit ();
  check_close (what, got + GUARD, want, nout, 1e-4);
  clipscope_vk_buffer_clear (dev, &bin);
  clipscope_vk_buffer_clear (dev, &bcol);
  clipscope_vk_buffer_clear (dev, &bw);
  clipscope_vk_buffer_clear (dev, &bb);
  clipscope_vk_buffer_clear (dev, &bout);
}

static void
test_conv (void)
{
  const ConvCase cases[] = {
    { 2, 3, 16, 16, 8, 4, 4, 0, TRUE, FALSE, FALSE, CLIPSCOPE_ACT_NONE },   /* ViT patches */
    { 3, 3, 18, 18, 19, 3, 3, 0, TRUE, FALSE, FALSE, CLIPSCOPE_ACT_NONE },  /* 37 rows, k 27 */
    { 2, 3, 15, 15, 5, 3, 2, 1, TRUE, TRUE, FALSE, CLIPSCOPE_ACT_RELU },    /* ResNet stem */
    { 3, 6, 7, 9, 10, 3, 1, 1, FALSE, TRUE, FALSE, CLIPSCOPE_ACT_RELU },
    { 1, 5, 6, 6, 7, 3, 1, 1, FALSE, TRUE, TRUE, CLIPSCOPE_ACT_RELU },
    { 2, 3, 11, 13, 9, 3, 2, 1, TRUE, TRUE, FALSE, CLIPSCOPE_ACT_GELU_TANH },
    { 2, 4, 5, 5, 3, 1, 1, 0, FALSE, TRUE, FALSE, CLIPSCOPE_ACT_NONE },
  };

  g_test_message ("seed %u", SEED);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    for (int explicit = 0; explicit < 2; explicit++)
      run_conv (&cases[i], SEED + i, explicit);
}

/* --------------------------------------------------------- layer norm */

static void
run_layer_norm (void)
{
  /* The last column picks the eps: 1e-5 (CLIP) or 1e-6. */
  const int shapes[][4] = {
    { 1, 7, 0, 5 }, { 50, 48, 3, 5 }, { 77, 512, 0, 5 }, { 5, 100, 9, 5 }, { 3, 33, 2, 6 },
  };

  g_test_message ("seed %u", SEED);
  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      const int rows = shapes[i][0], dim = shapes[i][1], ld = dim + shapes[i][2];
      const float eps = shapes[i][3] == 5 ? 1e-5f : 1e-6f;
      const gsize n = (gsize) rows * ld;
      g_autoptr(GRand) rng = g_rand_new_with_seed (SEED + i);
      g_autofree float *x = random_floats (rng, n, 3.0);
      g_autofree float *wb = random_floats (rng, 2 * dim, 1.0);
      g_autofree float *want = g_new (float, n);
      g_autofree float *got = sentinel_floats (n);
      g_autofree char *what = g_strdup_printf ("layer norm %dx%d ld %d eps %g seed %u", rows, dim, ld,
                                               eps, SEED + i);
      ClipscopeVkBuffer bx, bwb, by;

      /* A large common offset checks that the variance is taken around the mean. */
      for (gsize j = 0; j < n; j++)
        x[j] += 100.0f;
      for (gsize j = 0; j < n; j++)
        want[j] = (j % ld) < (gsize) dim ? 0.0f : SENTINEL;
      for (gsize j = 0; j < n; j++)
        got[GUARD + j] = want[j];
      cpu->ops->layer_norm (cpu, host (x, 0), ld, rows, dim, host (wb, 0), host (wb, dim), eps,
                            host (want, 0), ld);
      buffer_new (&bx, n * 4);
      buffer_new (&bwb, 2 * dim * 4);
      buffer_new (&by, (n + 2 * GUARD) * 4);
      begin ((n + 2 * dim + 2 * (n + 2 * GUARD)) * 4 + 256);
      clipscope_vk_upload (dev, &bx, 0, x, n * 4);
      clipscope_vk_upload (dev, &bwb, 0, wb, 2 * dim * 4);
      clipscope_vk_upload (dev, &by, 0, got, (n + 2 * GUARD) * 4);
      vk->ops->layer_norm (vk, clipscope_vk_tensor (&bx, 0), ld, rows, dim,
                           clipscope_vk_tensor (&bwb, 0), clipscope_vk_tensor (&bwb, dim),
                           eps, clipscope_vk_tensor (&by, GUARD), ld);
      clipscope_vk_download (dev, &by, 0, got, (n + 2 * GUARD) * 4);
      submit ();
      check_close (what, got + GUARD, want, n, 1e-4);
      clipscope_vk_buffer_clear (dev, &bx);
      clipscope_vk_buffer_clear (dev, &bwb);
      clipscope_vk_buffer_clear (dev, &by);
    }
}

/* Every way of summing a row (see reduce.glsl). */
static void
test_layer_norm (void)
{
  with_each_setting ("CLIPSCOPE_VULKAN_REDUCE", reduce_modes, run_layer_norm);
}

/* ---------------------------------------------------------- attention */

typedef struct {
  int batch, seq, width, heads;
  gboolean causal, pooled;
  int n_q;          /* > 0: that many queries per sequence, from their own
                     * array rather than the keys' (a pooling head) */
  gboolean padded;  /* a random length of each sequence masks the keys past it */
  gboolean shared;  /* the own queries are the same for every sequence
                     * (q_bstride 0: SigLIP's learnt probe) */
} AttnCase;

static void
run_attention (void)
{
  const AttnCase cases[] = {
    { 2, 50, 48, 4, FALSE, FALSE, 0 },     /* a small ViT */
    { 3, 77, 32, 2, TRUE, FALSE, 0 },      /* a full text context */
    { 3, 13, 32, 4, TRUE, TRUE, 0 },       /* the pooled end-of-text row */
    { 2, 50, 64, 1, FALSE, TRUE, 0 },      /* the class token */
    { 1, 1, 8, 2, TRUE, FALSE, 0 },
    { 2, 9, 18, 3, TRUE, FALSE, 0 },       /* head dimension 6: no vec4 loads */
    { 1, 50, 20, 4, FALSE, TRUE, 0 },      /* head dimension 5 */
    { 2, 7, 128, 1, FALSE, FALSE, 0 },     /* the largest head */
    { 1, 577, 40, 2, FALSE, FALSE, 0 },    /* a long sequence (ViT-L/14 at 336) */
    { 2, 300, 24, 3, TRUE, TRUE, 0 },      /* long and causal, pooled */
    { 3, 50, 96, 3, FALSE, FALSE, 1 },     /* attention pooling: one query */
    { 1, 17, 60, 5, FALSE, FALSE, 17 },    /* every token queries in turn */
    { 2, 10, 12, 2, FALSE, FALSE, 3 },     /* fewer queries than keys */
    { 3, 40, 36, 3, FALSE, FALSE, 0, TRUE },  /* padding-masked (BERT) */
    { 3, 52, 48, 4, FALSE, TRUE, 0, TRUE },   /* BERT's last block: [CLS] over padded keys */
    { 2, 20, 16, 2, TRUE, TRUE, 0, TRUE },    /* causal, pooled and padded */
    { 2, 33, 20, 4, FALSE, FALSE, 1, TRUE },  /* a pooling head over padded keys */
    { 3, 49, 36, 3, FALSE, FALSE, 1, FALSE, TRUE },  /* one probe for every image (MAP) */
    { 2, 16, 40, 4, FALSE, FALSE, 1, FALSE, TRUE },  /* head dimension 10 */
  };

  g_test_message ("seed %u", SEED);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const AttnCase *c = &cases[i];
      g_autoptr(GRand) rng = g_rand_new_with_seed (SEED + i);
      const gboolean own_q = c->n_q > 0;
      const int w = c->width, ld = 3 * w, n_q = own_q ? c->n_q : c->pooled ? 1 : c->seq;
      const gsize nqkv = (gsize) c->batch * c->seq * ld, nout = (gsize) c->batch * n_q * w;
      const gsize nq = own_q ? (gsize) (c->shared ? 1 : c->batch) * n_q * w : 1;
      g_autofree float *qkv = random_floats (rng, nqkv, 2.0);
      g_autofree float *q = random_floats (rng, nq, 2.0);
      g_autofree float *want = g_new (float, nout);
      g_autofree float *got = sentinel_floats (nout);
      g_autofree int32_t *rows = g_new0 (int32_t, 2 * c->batch);   /* index, lengths */
      g_autofree char *what = g_strdup_printf ("attention b%d seq %d w %d h %d%s%s%s%s q %d seed %u",
                                               c->batch, c->seq, w, c->heads,
                                               c->causal ? " causal" : "", c->pooled ? " pooled" : "",
                                               c->padded ? " padded" : "", c->shared ? " shared" : "",
                                               n_q, SEED + i);
      ClipscopeVkBuffer bqkv, bq, bidx, bout;
      gboolean with_index = c->pooled && c->causal;
      ClipscopeAttention a = {
        .ldq = own_q ? w : ld, .ldkv = ld, .ldout = w,
        .batch = c->batch, .seq = c->seq, .n_q = n_q,
        .q_bstride = c->shared ? 0 : own_q ? n_q : c->seq,
        .width = w, .n_heads = c->heads, .causal = c->causal,
      };

      for (int b = 0; b < c->batch; b++)
        {
          rows[b] = with_index ? g_rand_int_range (rng, 0, c->seq) : 0;
          rows[c->batch + b] = g_rand_int_range (rng, 1, c->seq + 1);
        }
      a.lengths = c->padded ? host (rows, c->batch) : CLIPSCOPE_NO_VIEW;
      a.q = own_q ? host (q, 0) : host (qkv, 0);
      a.k = host (qkv, w);
      a.v = host (qkv, 2 * w);
      a.index = with_index ? host (rows, 0) : CLIPSCOPE_NO_VIEW;
      a.out = host (want, 0);
      cpu->ops->attention (cpu, &a);

      buffer_new (&bqkv, nqkv * 4);
      buffer_new (&bq, nq * 4);
      buffer_new (&bidx, 2 * c->batch * 4);
      buffer_new (&bout, (nout + 2 * GUARD) * 4);
      begin ((nqkv + nq + 2 * c->batch + 2 * (nout + 2 * GUARD)) * 4 + 256);
      clipscope_vk_upload (dev, &bqkv, 0, qkv, nqkv * 4);
      clipscope_vk_upload (dev, &bq, 0, q, nq * 4);
      clipscope_vk_upload (dev, &bidx, 0, rows, 2 * c->batch * 4);
      clipscope_vk_upload (dev, &bout, 0, got, (nout + 2 * GUARD) * 4);
      a.q = own_q ? clipscope_vk_tensor (&bq, 0) : clipscope_vk_tensor (&bqkv, 0);
      a.k = clipscope_vk_tensor (&bqkv, w);
      a.v = clipscope_vk_tensor (&bqkv, 2 * w);
      a.index = with_index ? clipscope_vk_tensor (&bidx, 0) : CLIPSCOPE_NO_VIEW;
      a.lengths = c->padded ? clipscope_vk_tensor (&bidx, c->batch) : CLIPSCOPE_NO_VIEW;
      a.out = clipscope_vk_tensor (&bout, GUARD);
      vk->ops->attention (vk, &a);
      clipscope_vk_download (dev, &bout, 0, got, (nout + 2 * GUARD) * 4);
      submit ();
      check_close (what, got + GUARD, want, nout, 1e-4);
      clipscope_vk_buffer_clear (dev, &bqkv);
      clipscope_vk_buffer_clear (dev, &bq);
      clipscope_vk_buffer_clear (dev, &bidx);
      clipscope_vk_buffer_clear (dev, &bout);
    }
}

/* One query an invocation (GPUs) and four (CPU implementations; two for
 * the head of 128), which leaves a part block at the end of most shapes
 * above. */
static void
test_attention (void)
{
  static const char *const queries[] = { "1", "4", NULL };

  with_each_setting ("CLIPSCOPE_VULKAN_ATTENTION_QUERIES", queries, run_attention);
}

/* ------------------------------------------- token and row shuffling */

static void
test_embed_tokens (void)
{
  const int batch = 3, ctx = 9, seq = 7, width = 12, vocab = 20;
  g_autoptr(GRand) rng = g_rand_new_with_seed (SEED);
  const gsize nout = (gsize) batch * seq * width;
  g_autofree float *tok = random_floats (rng, (gsize) vocab * width, 1.0);
  g_autofree float *pos = random_floats (rng, (gsize) ctx * width, 1.0);
  g_autofree int32_t *ids = g_new (int32_t, batch * ctx);
  g_autofree float *want = g_new (float, nout);
  g_autofree float *got = sentinel_floats (nout);
  g_autofree float *got_cpu = sentinel_floats (nout);
  g_autofree uint16_t *tok_h = NULL;
  ClipscopeVkBuffer btok, bpos, bids, bout;

  g_test_message ("seed %u", SEED);
  for (int f16 = 0; f16 < 2; f16++)
    {
      ClipscopeView t;

      if (f16 && !clipscope_vk_device_has_f16 (dev))
        break;
      if (f16)
        tok_h = round_to_half (tok, (gsize) vocab * width);
      for (int i = 0; i < batch * ctx; i++)
        ids[i] = g_rand_int_range (rng, 0, vocab);
      for (int b = 0; b < batch; b++)
        for (int s = 0; s < seq; s++)
          for (int d = 0; d < width; d++)
            want[((gsize) b * seq + s) * width + d] = tok[(gsize) ids[b * ctx + s] * width + d]
                                                      + pos[(gsize) s * width + d];
      cpu->ops->embed_tokens (cpu, host (got_cpu, GUARD), host (tok, 0), host (pos, 0), host (ids, 0),
                              batch, seq, ctx, width);
      check_close ("embed tokens on the CPU", got_cpu + GUARD, want, nout, 1e-6);
      if (f16)
        buffer_new_half (&btok, (gsize) vocab * width * 2);
      else
        buffer_new (&btok, (gsize) vocab * width * 4);
      buffer_new (&bpos, (gsize) ctx * width * 4);
      buffer_new (&bids, batch * ctx * 4);
      buffer_new (&bout, nout * 4);
      begin ((vocab * width + ctx * width + batch * ctx + nout) * 4 + 256);
      clipscope_vk_upload (dev, &btok, 0, f16 ? (void *) tok_h : (void *) tok,
                           (gsize) vocab * width * (f16 ? 2 : 4));
      clipscope_vk_upload (dev, &bpos, 0, pos, (gsize) ctx * width * 4);
      clipscope_vk_upload (dev, &bids, 0, ids, batch * ctx * 4);
      t = clipscope_vk_tensor (&btok, 0);
      t.f16 = f16;
      vk->ops->embed_tokens (vk, clipscope_vk_tensor (&bout, 0), t, clipscope_vk_tensor (&bpos, 0),
                             clipscope_vk_tensor (&bids, 0), batch, seq, ctx, width);
      clipscope_vk_download (dev, &bout, 0, got + GUARD, nout * 4);
      submit ();
      check_close (f16 ? "embed tokens f16" : "embed tokens", got + GUARD, want, nout, 1e-6);
      clipscope_vk_buffer_clear (dev, &btok);
      clipscope_vk_buffer_clear (dev, &bpos);
      clipscope_vk_buffer_clear (dev, &bids);
      clipscope_vk_buffer_clear (dev, &bout);
    }
}

static void
test_assemble_tokens (void)
{
  const int batch = 2, seq = 10, width = 6;
  g_autoptr(GRand) rng = g_rand_new_with_seed (SEED);
  const gsize nsrc = (gsize) batch * seq * width, nout = (gsize) batch * seq * width;
  g_autofree float *src = random_floats (rng, nsrc, 1.0);
  g_autofree float *cls = random_floats (rng, width, 1.0);
  g_autofree float *pos = random_floats (rng, (gsize) seq * width, 1.0);
  g_autofree float *want = g_new (float, nout);
  g_autofree float *got = sentinel_floats (nout);
  g_autofree float *got_cpu = sentinel_floats (nout);
  static const char * const names[] = {
    "assemble tokens (class)", "assemble tokens (mean)", "assemble tokens (none)",
  };

  g_test_message ("seed %u", SEED);
  for (ClipscopeFirstToken first = CLIPSCOPE_FIRST_CLASS; first <= CLIPSCOPE_FIRST_NONE; first++)
    {
      ClipscopeVkBuffer bsrc, bcls, bpos, bout;
      const int lead = first == CLIPSCOPE_FIRST_NONE ? 0 : 1, rows = seq - lead;
      const ClipscopeView cls_cpu = first == CLIPSCOPE_FIRST_CLASS ? host (cls, 0) : CLIPSCOPE_NO_VIEW;

      for (int b = 0; b < batch; b++)
        for (int d = 0; d < width; d++)
          {
            double sum = 0.0;
            for (int s = 0; s < rows; s++)
              {
                float v = src[((gsize) b * rows + s) * width + d];
                sum += v;
                want[((gsize) b * seq + s + lead) * width + d] = v + pos[(gsize) (s + lead) * width + d];
              }
            if (lead)
              want[(gsize) b * seq * width + d] = (first == CLIPSCOPE_FIRST_MEAN ? (float) (sum / rows)
                                                                                 : cls[d]) + pos[d];
          }
      cpu->ops->assemble_tokens (cpu, host (got_cpu, GUARD), host (src, 0), cls_cpu, host (pos, 0),
                                 batch, seq, width, first);
      check_close ("assemble tokens on the CPU", got_cpu + GUARD, want, nout, 1e-5);
      buffer_new (&bsrc, nsrc * 4);
      buffer_new (&bcls, width * 4);
      buffer_new (&bpos, (gsize) seq * width * 4);
      buffer_new (&bout, nout * 4);
      begin ((nsrc + width + seq * width + nout) * 4 + 256);
      clipscope_vk_upload (dev, &bsrc, 0, src, nsrc * 4);
      clipscope_vk_upload (dev, &bcls, 0, cls, width * 4);
      clipscope_vk_upload (dev, &bpos, 0, pos, (gsize) seq * width * 4);
      vk->ops->assemble_tokens (vk, clipscope_vk_tensor (&bout, 0), clipscope_vk_tensor (&bsrc, 0),
                                first == CLIPSCOPE_FIRST_CLASS ? clipscope_vk_tensor (&bcls, 0)
                                                               : CLIPSCOPE_NO_VIEW,
                                clipscope_vk_tensor (&bpos, 0), batch, seq, width, first);
      clipscope_vk_download (dev, &bout, 0, got + GUARD, nout * 4);
      submit ();
      check_close (names[first], got + GUARD, want, nout, 1e-5);
      clipscope_vk_buffer_clear (dev, &bsrc);
      clipscope_vk_buffer_clear (dev, &bcls);
      clipscope_vk_buffer_clear (dev, &bpos);
      clipscope_vk_buffer_clear (dev, &bout);
    }
}

/* One row per sequence: at an index (the end-of-text token, the last
 * position), or without one the first (the class token). */
static void
test_gather_pool (void)
{
  const int batch = 3, seq = 5, width = 7, h = 6, w = 4, c = 5, f = 2;
  g_autoptr(GRand) rng = g_rand_new_with_seed (SEED);
  const gsize nx = (gsize) batch * seq * width, nmap = (gsize) batch * h * w * c;
  const gsize npool = (gsize) batch * (h / f) * (w / f) * c;
  g_autofree float *x = random_floats (rng, MAX (nx, nmap), 1.0);
  g_autofree float *want = g_new (float, MAX (nx, npool));
  g_autofree float *got = sentinel_floats (MAX (nx, npool));
  g_autofree float *got_cpu = sentinel_floats (MAX (nx, npool));
  int32_t index[3] = { 4, 0, 2 };
  ClipscopeVkBuffer bx, bidx, bout;

  g_test_message ("seed %u", SEED);
  buffer_new (&bx, MAX (nx, nmap) * 4);
  buffer_new (&bidx, sizeof index);
  buffer_new (&bout, MAX (nx, npool) * 4);

  for (int indexed = 0; indexed < 2; indexed++)
    {
      const char *what = indexed ? "gather rows" : "gather first rows";

      for (int b = 0; b < batch; b++)
        memcpy (want + (gsize) b * width, x + ((gsize) b * seq + (indexed ? index[b] : 0)) * width,
                width * 4);
      cpu->ops->gather_rows (cpu, host (x, 0), host (got_cpu, GUARD),
                             indexed ? host (index, 0) : CLIPSCOPE_NO_VIEW, batch, seq, width);
      check_close (what, got_cpu + GUARD, want, (gsize) batch * width, 0.0);
      begin ((2 * MAX (nx, nmap) + 16) * 4);
      clipscope_vk_upload (dev, &bx, 0, x, MAX (nx, nmap) * 4);
      clipscope_vk_upload (dev, &bidx, 0, index, sizeof index);
      vk->ops->gather_rows (vk, clipscope_vk_tensor (&bx, 0), clipscope_vk_tensor (&bout, 0),
                            indexed ? clipscope_vk_tensor (&bidx, 0) : CLIPSCOPE_NO_VIEW,
                            batch, seq, width);
      clipscope_vk_download (dev, &bout, 0, got + GUARD, (gsize) batch * width * 4);
      submit ();
      check_close (what, got + GUARD, want, (gsize) batch * width, 0.0);
    }

  /* average pool on channel-last maps */
  for (int b = 0; b < batch; b++)
    for (int y = 0; y < h / f; y++)
      for (int xx = 0; xx < w / f; xx++)
        for (int ch = 0; ch < c; ch++)
          {
            float sum = 0.0f;
            for (int dy = 0; dy < f; dy++)
              for (int dx = 0; dx < f; dx++)
                sum += x[(((gsize) b * h + y * f + dy) * w + xx * f + dx) * c + ch];
            want[(((gsize) b * (h / f) + y) * (w / f) + xx) * c + ch] = sum / (float) (f * f);
          }
  cpu->ops->avg_pool (cpu, host (x, 0), host (got_cpu, GUARD), batch, h, w, c, f);
  check_close ("avg pool on the CPU", got_cpu + GUARD, want, npool, 1e-6);
  begin ((2 * MAX (nx, nmap) + 16) * 4);
  vk->ops->avg_pool (vk, clipscope_vk_tensor (&bx, 0), clipscope_vk_tensor (&bout, 0), batch, h, w,
                     c, f);
  clipscope_vk_download (dev, &bout, 0, got + GUARD, npool * 4);
  submit ();
  check_close ("avg pool", got + GUARD, want, npool, 1e-6);

  clipscope_vk_buffer_clear (dev, &bx);
  clipscope_vk_buffer_clear (dev, &bidx);
  clipscope_vk_buffer_clear (dev, &bout);
}

/* L2 normalisation in place, with one row all zeros. */
static void
run_l2_norm (void)
{
  const int shapes[][2] = { { 15, 7 }, { 1, 512 }, { 77, 100 } };

  g_test_message ("seed %u", SEED);
  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      const int rows = shapes[i][0], dim = shapes[i][1];
      const gsize n = (gsize) rows * dim;
      g_autoptr(GRand) rng = g_rand_new_with_seed (SEED + i);
      g_autofree float *x = random_floats (rng, n, 2.0);
      g_autofree float *want = g_new (float, n);
      g_autofree float *got = sentinel_floats (n);
      g_autofree char *what = g_strdup_printf ("l2 norm %dx%d seed %u", rows, dim, SEED + i);
      ClipscopeVkBuffer bx;

      memset (x + (gsize) (rows / 2) * dim, 0, dim * sizeof (float));
      memcpy (want, x, n * sizeof (float));
      cpu->ops->l2_norm (cpu, host (want, 0), rows, dim);
      buffer_new (&bx, n * 4);
      begin (2 * n * 4 + 256);
      clipscope_vk_upload (dev, &bx, 0, x, n * 4);
      vk->ops->l2_norm (vk, clipscope_vk_tensor (&bx, 0), rows, dim);
      clipscope_vk_download (dev, &bx, 0, got + GUARD, n * 4);
      submit ();
      check_close (what, got + GUARD, want, n, 1e-6);
      clipscope_vk_buffer_clear (dev, &bx);
    }
}

static void
test_l2_norm (void)
{
  with_each_setting ("CLIPSCOPE_VULKAN_REDUCE", reduce_modes, run_l2_norm);
}

/* The CPU's activations, the reference of the Vulkan ones, against their
 * definitions in double precision. */
static void
test_activations (void)
{
  const float values[] = { -9.0f, -3.1f, -1.0f, -0.3f, 0.0f, 1e-4f, 0.5f, 1.7f, 4.0f, 12.0f };
  float quick[G_N_ELEMENTS (values)], exact[G_N_ELEMENTS (values)], tanh_[G_N_ELEMENTS (values)];

  memcpy (quick, values, sizeof values);
  memcpy (exact, values, sizeof values);
  memcpy (tanh_, values, sizeof values);
  clipscope_cpu_gelu (quick, G_N_ELEMENTS (values), TRUE);
  clipscope_cpu_gelu (exact, G_N_ELEMENTS (values), FALSE);
  clipscope_cpu_gelu_tanh (tanh_, G_N_ELEMENTS (values));
  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    {
      double x = values[i];
      double u = sqrt (2.0 / G_PI) * (x + 0.044715 * x * x * x);

      g_assert_cmpfloat_with_epsilon (quick[i], x / (1.0 + exp (-1.702 * x)), 1e-6 * (1.0 + fabs (x)));
      g_assert_cmpfloat_with_epsilon (exact[i], 0.5 * x * (1.0 + erf (x / sqrt (2.0))), 1e-6 * (1.0 + fabs (x)));
      g_assert_cmpfloat_with_epsilon (tanh_[i], 0.5 * x * (1.0 + tanh (u)), 1e-6 * (1.0 + fabs (x)));
    }
}

/* The same over a dense range, long enough that the vectorised loops, not
 * only their tails, are what is checked, out to where exp is clamped. */
static void
test_activations_dense (void)
{
  const gsize n = 1 << 18;
  g_autofree float *quick = g_new (float, n);
  g_autofree float *exact = g_new (float, n);
  g_autofree float *tanh_ = g_new (float, n);
  double worst[3] = { 0.0 };

  for (gsize i = 0; i < n; i++)
    quick[i] = exact[i] = tanh_[i] = -60.0f + 120.0f * (float) i / (float) n;
  clipscope_cpu_gelu (quick, n, TRUE);
  clipscope_cpu_gelu (exact, n, FALSE);
  clipscope_cpu_gelu_tanh (tanh_, n);
  for (gsize i = 0; i < n; i++)
    {
      double x = -60.0f + 120.0f * (float) i / (float) n;
      double u = sqrt (2.0 / G_PI) * (x + 0.044715 * x * x * x);
      double tol = 1.0 + fabs (x);

      worst[0] = MAX (worst[0], fabs (quick[i] - x / (1.0 + exp (-1.702 * x))) / tol);
      worst[1] = MAX (worst[1], fabs (exact[i] - 0.5 * x * (1.0 + erf (x / sqrt (2.0)))) / tol);
      worst[2] = MAX (worst[2], fabs (tanh_[i] - 0.5 * x * (1.0 + tanh (u))) / tol);
    }
  g_test_message ("worst error / (1 + |x|): quick %.3g, erf %.3g, tanh %.3g",
                  worst[0], worst[1], worst[2]);
  for (guint k = 0; k < G_N_ELEMENTS (worst); k++)
    g_assert_cmpfloat (worst[k], <=, 1e-6);
}

static void
test_half (void)
{
  const float values[] = { 0.0f, 1.0f, -2.5f, 65504.0f, 1e-5f, 6.1e-5f, 3.0e-8f, 0.1f, 70000.0f };

  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    {
      float back = half_to_float (clipscope_vk_half_from_float (values[i]));

      if (values[i] > 65504.0f)
        g_assert_true (isinf (back));
      else
        g_assert_cmpfloat_with_epsilon (back, values[i], fabsf (values[i]) * 1e-3f + 6e-8f);
    }
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("clipscope-backend-ops-XXXXXX", NULL);
  int status;

  g_test_init (&argc, &argv, NULL);
  /* Nothing the test builds may land in the user's caches. */
  g_setenv ("XDG_CACHE_HOME", tmp, TRUE);
  g_setenv ("MESA_SHADER_CACHE_DIR", tmp, TRUE);
  cpu = clipscope_cpu_backend_new (NULL, 1, CLIPSCOPE_PRECISION_F32, 0, &error);
  g_assert_no_error (error);
  vk = clipscope_vk_backend_new (NULL, 1, TRUE, &error);
  if (vk == NULL)
    {
      if (g_strcmp0 (g_getenv ("CLIPSCOPE_TEST_SKIP_VULKAN"), "1") == 0)
        {
          g_test_skip_printf ("NO VULKAN DEVICE, SKIPPED ON REQUEST: %s", error->message);
          return g_test_run ();
        }
      g_printerr ("no Vulkan device: %s\n", error->message);
      return 1;
    }
  dev = clipscope_vk_backend_get_device (vk);
  g_test_message ("device: %s, float16 storage: %s", clipscope_vk_device_get_name (dev),
                  clipscope_vk_device_has_f16 (dev) ? "yes" : "no");
  g_test_add_func ("/backend/half", test_half);
  g_test_add_func ("/backend/activations", test_activations);
  g_test_add_func ("/backend/activations-dense", test_activations_dense);
  g_test_add_func ("/backend/linear", test_linear);
  g_test_add_func ("/backend/conv", test_conv);
  g_test_add_func ("/backend/layer-norm", test_layer_norm);
  g_test_add_func ("/backend/attention", test_attention);
  g_test_add_func ("/backend/embed-tokens", test_embed_tokens);
  g_test_add_func ("/backend/assemble-tokens", test_assemble_tokens);
  g_test_add_func ("/backend/gather-pool", test_gather_pool);
  g_test_add_func ("/backend/l2-norm", test_l2_norm);
  status = g_test_run ();
  clipscope_vk_backend_free (vk);
  clipscope_cpu_backend_free (cpu);
  {
    const char *rm[] = { "rm", "-rf", tmp, NULL };
    g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
  }
  return status;
}
