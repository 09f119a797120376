/* bench-vulkan-ops.c — times each Vulkan kernel at the shapes of one
 * ViT-B/32 batch (16 images: 800 token rows of width 768), so that the
 * encoder's time can be split by op. Built and run by
 * tools/bench-vulkan-ops; see there.
 *
 * Each op is submitted alone, once to warm up and then REPS times; the
 * time is wall-clock around the submission, the fastest of the REPS.
 */
#include "clipscope-private.h"
#include "vulkan/vulkan-backend.h"
#include "vulkan/vulkan-ops.h"
#include "vulkan/vulkan-weights.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static ClipscopeGraphBackend *vk;
static ClipscopeVkDevice *dev;      /* vk's */
static int reps = 5;
static const char *only;   /* run only the ops whose name contains this */

static gboolean
wanted (const char *name)
{
  return only == NULL || strstr (name, only) != NULL;
}

/* One buffer of @floats random values in [-0.5, 0.5], float16 if @half. */
static void
buffer_random (ClipscopeVkBuffer *buf,
               gsize              floats,
               gboolean           half)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rng = g_rand_new_with_seed (7);
  gsize bytes = floats * (half ? 2 : 4);
  void *host = g_malloc (bytes);

  for (gsize i = 0; i < floats; i++)
    {
      float v = (float) g_rand_double_range (rng, -0.5, 0.5);

      if (half)
        ((uint16_t *) host)[i] = clipscope_vk_half_from_float (v);
      else
        ((float *) host)[i] = v;
    }
  if (!(half ? clipscope_vk_buffer_init_half (dev, buf, bytes, &error)
             : clipscope_vk_buffer_init (dev, buf, bytes, &error))
      || !clipscope_vk_begin (dev, bytes, &error))
    g_error ("%s", error->message);
  clipscope_vk_upload (dev, buf, 0, host, bytes);
  if (!clipscope_vk_submit_wait (dev, &error))
    g_error ("%s", error->message);
  g_free (host);
}

static void
clear_buffers (ClipscopeVkBuffer *first,
               ...)
{
  va_list ap;

  va_start (ap, first);
  for (ClipscopeVkBuffer *b = first; b != NULL; b = va_arg (ap, ClipscopeVkBuffer *))
    clipscope_vk_buffer_clear (dev, b);
  va_end (ap);
}

typedef void (*RecordFunc) (gpointer data);

static double
cpu_ms (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3
         + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* CPU time of the fastest run, for a CPU implementation. */
static double last_cpu_ms;

/* Milliseconds one recording of @record takes: the fastest of REPS
 * submissions, after one to warm up. The machine is shared, so the
 * fastest run is the one least disturbed; the CPU time of the process
 * over that run is kept in last_cpu_ms. */
static double
time_op (RecordFunc record,
         gpointer   data)
{
  g_autoptr(GError) error = NULL;
  double best = G_MAXDOUBLE;

  for (int i = -1; i < reps; i++)
    {
      gint64 t0;
      double c0, ms;

      if (!clipscope_vk_begin (dev, 0, &error))
        g_error ("%s", error->message);
      record (data);
      t0 = g_get_monotonic_time ();
      c0 = cpu_ms ();
      if (!clipscope_vk_submit_wait (dev, &error))
        g_error ("%s", error->message);
      ms = (g_get_monotonic_time () - t0) / 1000.0;
      if (i >= 0 && ms < best)
        {
          best = ms;
          last_cpu_ms = cpu_ms () - c0;
        }
    }
  return best;
}

typedef struct {
  const char       *name;
  int               rows, n_in, n_out;
  ClipscopeAct    act;
  gboolean          accumulate;
  ClipscopeVkBuffer x, w, b, y;
  gboolean          f16;
} Linear;

static void
record_linear (gpointer data)
{
  Linear *l = data;
  ClipscopeView w = clipscope_vk_tensor (&l->w, 0);

  w.f16 = l->f16;
  vk->ops->linear (vk, clipscope_vk_tensor (&l->x, 0), l->n_in, l->rows, l->n_in, w,
                   clipscope_vk_tensor (&l->b, 0), l->n_out,
                   clipscope_vk_tensor (&l->y, 0), l->n_out, l->act, l->accumulate);
}

typedef struct {
  ClipscopeVkBuffer qkv, out, ln_w, y;
  int               images;
} Other;

static void
record_attention (gpointer data)
{
  Other *o = data;

  const ClipscopeAttention a = {
    .q = clipscope_vk_tensor (&o->qkv, 0), .k = clipscope_vk_tensor (&o->qkv, 768),
    .v = clipscope_vk_tensor (&o->qkv, 1536), .out = clipscope_vk_tensor (&o->out, 0),
    .ldq = 3 * 768, .ldkv = 3 * 768, .ldout = 768,
    .batch = o->images, .seq = 50, .n_q = 50, .q_bstride = 50, .width = 768, .n_heads = 12,
  };

  vk->ops->attention (vk, &a);
}

static void
record_layer_norm (gpointer data)
{
  Other *o = data;

  vk->ops->layer_norm (vk, clipscope_vk_tensor (&o->out, 0), 768, o->images * 50, 768,
                       clipscope_vk_tensor (&o->ln_w, 0), clipscope_vk_tensor (&o->ln_w, 768),
                       1e-5f, clipscope_vk_tensor (&o->y, 0), 768);
}

/* The ViT's patch embedding as the backend records it: the patches laid
 * out as rows (x → b), then a linear layer. */
static void
record_patches (gpointer data)
{
  Linear *l = data;
  ClipscopeMap map = { l->rows / 49, 3, 224, 224, 3 * 224 * 224, 224 * 224, 224, 1 };
  ClipscopeView w = clipscope_vk_tensor (&l->w, 0);

  w.f16 = l->f16;
  vk->ops->im2col (vk, clipscope_vk_tensor (&l->x, 0), &map, 32, 32, 0,
                   clipscope_vk_tensor (&l->b, 0));
  vk->ops->linear (vk, clipscope_vk_tensor (&l->b, 0), 3072, l->rows, 3072, w,
                   CLIPSCOPE_NO_VIEW, 768, clipscope_vk_tensor (&l->y, 0), 768,
                   CLIPSCOPE_ACT_NONE, FALSE);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  const int images = argc > 1 ? atoi (argv[1]) : 16, rows = images * 50;
  Linear lin[] = {
    { "qkv", rows, 768, 2304, CLIPSCOPE_ACT_NONE, FALSE },
    { "out_proj", rows, 768, 768, CLIPSCOPE_ACT_NONE, TRUE },
    { "fc1", rows, 768, 3072, CLIPSCOPE_ACT_QUICK_GELU, FALSE },
    { "fc2", rows, 3072, 768, CLIPSCOPE_ACT_NONE, TRUE },
  };
  Linear patches = { "patches", images * 49, 3072, 768 };
  Other o = { .images = images };
  double layer = 0.0, ms, total;

  if (argc > 2)
    reps = atoi (argv[2]);
  if (argc > 3)
    only = argv[3];
  if ((vk = clipscope_vk_backend_new (NULL, 1, TRUE, &error)) == NULL)
    g_error ("%s", error->message);
  dev = clipscope_vk_backend_get_device (vk);
  printf ("device %s, float16 weights %s, %d images, %d reps\n",
          clipscope_vk_device_get_name (dev), clipscope_vk_device_has_f16 (dev) ? "yes" : "no",
          images, reps);
  for (guint i = 0; i < G_N_ELEMENTS (lin); i++)
    {
      Linear *l = &lin[i];

      if (!wanted (l->name))
        continue;
      l->f16 = clipscope_vk_device_has_f16 (dev);
      buffer_random (&l->x, (gsize) l->rows * l->n_in, FALSE);
      buffer_random (&l->w, (gsize) l->n_out * l->n_in, l->f16);
      buffer_random (&l->b, l->n_out, FALSE);
      buffer_random (&l->y, (gsize) l->rows * l->n_out, FALSE);
      ms = time_op (record_linear, l);
      layer += ms;
      printf ("%-12s %4d x %4d -> %4d  %8.2f ms  %6.1f GFLOP/s  (CPU %.0f ms, %.1f GFLOP/s per core)\n",
              l->name, l->rows, l->n_in, l->n_out, ms, 2.0 * l->rows * l->n_in * l->n_out / ms / 1e6,
              last_cpu_ms, 2.0 * l->rows * l->n_in * l->n_out / last_cpu_ms / 1e6);
      clear_buffers (&l->x, &l->w, &l->b, &l->y, NULL);
    }
  buffer_random (&o.qkv, (gsize) rows * 3 * 768, FALSE);
  buffer_random (&o.out, (gsize) rows * 768, FALSE);
  buffer_random (&o.y, (gsize) rows * 768, FALSE);
  buffer_random (&o.ln_w, 2 * 768, FALSE);
  if (wanted ("attention"))
    {
      ms = time_op (record_attention, &o);
      layer += ms;
      printf ("%-12s %27.2f ms  %6.1f GFLOP/s\n", "attention", ms,
              4.0 * images * 12 * 50 * 50 * 64 / ms / 1e6);
    }
  if (wanted ("layer norm"))
    {
      ms = time_op (record_layer_norm, &o);
      layer += 2 * ms;
      printf ("%-12s %27.2f ms (twice per layer)\n", "layer norm", ms);
    }

  ms = 0.0;
  if (wanted ("patches"))
    {
      patches.f16 = clipscope_vk_device_has_f16 (dev);
      buffer_random (&patches.x, (gsize) images * 3 * 224 * 224, FALSE);
      buffer_random (&patches.w, (gsize) 768 * 3072, patches.f16);
      buffer_random (&patches.b, (gsize) images * 49 * 3072, FALSE);
      buffer_random (&patches.y, (gsize) images * 49 * 768, FALSE);
      ms = time_op (record_patches, &patches);
      printf ("%-12s %4d x %4d -> %4d  %8.2f ms  %6.1f GFLOP/s\n", "patches", patches.rows, 3072,
              768, ms, 2.0 * patches.rows * 3072 * 768 / ms / 1e6);
      clear_buffers (&patches.x, &patches.w, &patches.b, &patches.y, NULL);
    }
  clear_buffers (&o.qkv, &o.out, &o.y, &o.ln_w, NULL);
  total = 12 * layer + ms;
  printf ("one layer %.1f ms; 12 layers + patches %.1f ms = %.1f ms/image, %.1f GFLOP/s\n",
          layer, total, total / images, 8.8 * images / total * 1e3);
  clipscope_vk_backend_free (vk);
  return 0;
}
