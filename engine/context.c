/* context.c — per-thread state: the backends, batching, falling back */
#include "graph.h"
#include "cpu/cpu-backend.h"
#include "cpu/cpu-gemm.h"
#include "cpu/cpu-ops.h"
#include "decoder.h"
#ifdef HAVE_VULKAN
# include "vulkan/vulkan-backend.h"
#endif

#include <cblas.h>
#include <string.h>
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <json-glib/json-glib.h>

struct _ClipscopeContext {
  ClipscopeContextOptions options;         /* .backend: the one in use, never AUTO */
  ClipscopeBackend        requested;       /* what the caller asked for */
  char                   *device_name;     /* of the CPU backend */

  /* Owned References */
  ClipscopeModel         *model;
  ClipscopeGraphBackend  *cpu;             /* made on first use */
  ClipscopeDecoderPool   *decoders;        /* NULL: images decode in this process */
  gboolean                decoders_tried;
#ifdef HAVE_VULKAN
  ClipscopeGraphBackend  *vulkan;          /* NULL: the CPU runs the encoders */
#endif
};

ClipscopeContextOptions
clipscope_context_options_default (void)
{
  ClipscopeContextOptions options = {
    .backend = CLIPSCOPE_BACKEND_AUTO,
    .max_batch = 16,
    .n_threads = 0,
  };
  return options;
}

/* "AMD EPYC 7B13" from /proc/cpuinfo, or NULL where there is none. */
static char *
cpu_model_name (void)
{
  g_autofree char *info = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/cpuinfo", &info, NULL, NULL))
    return NULL;
  lines = g_strsplit (info, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    if (g_str_has_prefix (*l, "model name") && strchr (*l, ':') != NULL)
      return g_strstrip (g_strdup (strchr (*l, ':') + 1));
  return NULL;
}

/* oneDNN where it multiplies the CPU backend's matrices in @precision,
 * else NULL. */
static char *
dnnl_description (ClipscopePrecision precision)
{
  ClipscopeCpuGemm *gemm = clipscope_cpu_gemm_new (precision, NULL);
  char *name = g_strdup (clipscope_cpu_gemm_describe (gemm));

  clipscope_cpu_gemm_free (gemm);
  return name;
}

gboolean
clipscope_precision_available (ClipscopePrecision precision)
{
  ClipscopeCpuGemm *gemm;
  gboolean available;

  if (precision == CLIPSCOPE_PRECISION_F32)
    return TRUE;
  gemm = clipscope_cpu_gemm_new (precision, NULL);
  available = gemm != NULL;
  clipscope_cpu_gemm_free (gemm);
  return available;
}

static char *
blas_description (void)
{
#ifdef HAVE_OPENBLAS
  /* The core name is OpenBLAS's own static string: copy, then trim. */
  g_autofree char *core = g_strdup (openblas_get_corename ());

  return g_strdup_printf ("OpenBLAS %s", g_strstrip (core));
#else
  return g_strdup ("CBLAS");
#endif
}

/* ------------------------------------------------------ backend choice */

/* Under AUTO, a Vulkan failure means the CPU does the work; the user hears
 * about it once per context, on stderr, since stdout may carry JSON. */
static void
fall_back_to_cpu (ClipscopeContext *ctx,
                  const GError     *why)
{
#ifdef HAVE_VULKAN
  g_clear_pointer (&ctx->vulkan, clipscope_vk_backend_free);
#endif
  ctx->options.backend = CLIPSCOPE_BACKEND_CPU;
  g_message ("using the CPU backend: %s", why->message);
}

/* CPU: the CPU. VULKAN: a Vulkan device, or an error. AUTO: a Vulkan
 * device when one is usable, else the CPU. */
static gboolean
choose_backend (ClipscopeContext *ctx,
                GError          **error)
{
  g_autoptr(GError) local = NULL;

  if (ctx->requested == CLIPSCOPE_BACKEND_CPU)
    {
      ctx->options.backend = CLIPSCOPE_BACKEND_CPU;
      return TRUE;
    }
#ifdef HAVE_VULKAN
  /* A CPU implementation of Vulkan (lavapipe) runs the encoders several
   * times slower than OpenBLAS on the same cores, so AUTO passes it
   * over unless CLIPSCOPE_VULKAN_DEVICE names it; that is a choice, not
   * a failure, and goes unannounced. */
  ctx->vulkan = clipscope_vk_backend_new (ctx->model, ctx->options.max_batch,
                                          ctx->requested == CLIPSCOPE_BACKEND_VULKAN, &local);
  if (ctx->vulkan != NULL)
    {
      ctx->options.backend = CLIPSCOPE_BACKEND_VULKAN;
      return TRUE;
    }
#else
  /* Without Vulkan in the build, AUTO means the CPU without a word. */
  if (ctx->requested == CLIPSCOPE_BACKEND_AUTO)
    {
      ctx->options.backend = CLIPSCOPE_BACKEND_CPU;
      return TRUE;
    }
  g_set_error_literal (&local, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_BACKEND,
                       "the Vulkan backend is not available in this build of Clipscope");
#endif
  if (ctx->requested == CLIPSCOPE_BACKEND_VULKAN)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
    ctx->options.backend = CLIPSCOPE_BACKEND_CPU;
  else
    fall_back_to_cpu (ctx, local);
  return TRUE;
}

#ifdef HAVE_VULKAN
/* After a failed Vulkan call: TRUE when the work is to be redone on the
 * CPU — only under AUTO, and only for failures of the device, not of the
 * input — else FALSE with @local passed on as the error. */
static gboolean
recover_on_cpu (ClipscopeContext *ctx,
                GError           *local,
                GError          **error)
{
  if (ctx->requested != CLIPSCOPE_BACKEND_AUTO
      || !g_error_matches (local, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_BACKEND))
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  fall_back_to_cpu (ctx, local);
  g_error_free (local);
  return TRUE;
}
#endif

ClipscopeContext *
clipscope_context_new (ClipscopeModel                *model,
                       const ClipscopeContextOptions *options,
                       GError                       **error)
{
  ClipscopeContextOptions defaults = clipscope_context_options_default ();
  g_autofree char *cpu = NULL;
  g_autofree char *blas = NULL;
  ClipscopeContext *ctx;

  g_return_val_if_fail (model != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (options == NULL)
    options = &defaults;
  if (options->precision != CLIPSCOPE_PRECISION_F32 && options->precision != CLIPSCOPE_PRECISION_BF16
      && options->precision != CLIPSCOPE_PRECISION_INT8)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT,
                   "precision %d: neither float32, bfloat16 nor int8", (int) options->precision);
      return NULL;
    }
  /* A model chosen for int8 may not fit as float32: no quiet fallback. */
  if (options->precision == CLIPSCOPE_PRECISION_INT8
      && !clipscope_precision_available (CLIPSCOPE_PRECISION_INT8))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_BACKEND,
                   "int8 precision is not available here: it needs oneDNN in the build (not "
                   "OpenBLAS) and a CPU with AVX512-VNNI or AMX");
      return NULL;
    }
  if (options->max_batch < 1 || options->n_threads < 0)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT,
                   "batch size %d and thread count %d: the batch must be at least 1 and threads not negative",
                   options->max_batch, options->n_threads);
      return NULL;
    }

#ifdef HAVE_OPENBLAS
  /* OpenBLAS's thread count is process-wide; the last context wins. */
  if (options->n_threads > 0)
    openblas_set_num_threads (options->n_threads);
#endif
  ctx = g_new0 (ClipscopeContext, 1);
  ctx->model = clipscope_model_ref (model);
  ctx->options = *options;
  ctx->requested = options->backend;
  cpu = cpu_model_name ();
  /* bfloat16 where the CPU cannot: the float32 products, on oneDNN still. */
  if ((blas = dnnl_description (options->precision)) == NULL
      && (blas = dnnl_description (CLIPSCOPE_PRECISION_F32)) == NULL)
    blas = blas_description ();
  ctx->device_name = g_strdup_printf ("%s · %s", cpu ? cpu : "CPU", blas);
  if (!choose_backend (ctx, error))
    g_clear_pointer (&ctx, clipscope_context_free);
  return ctx;
}

void
clipscope_context_free (ClipscopeContext *ctx)
{
  if (ctx == NULL)
    return;
#ifdef HAVE_VULKAN
  g_clear_pointer (&ctx->vulkan, clipscope_vk_backend_free);
#endif
  g_clear_pointer (&ctx->cpu, clipscope_cpu_backend_free);
  g_clear_pointer (&ctx->decoders, clipscope_decoder_pool_free);
  g_clear_pointer (&ctx->model, clipscope_model_unref);
  g_free (ctx->device_name);
  g_free (ctx);
}

const char *
clipscope_context_get_backend_name (ClipscopeContext *ctx)
{
  g_return_val_if_fail (ctx != NULL, NULL);

  return ctx->options.backend == CLIPSCOPE_BACKEND_VULKAN ? "vulkan" : "cpu";
}

const char *
clipscope_context_get_device_name (ClipscopeContext *ctx)
{
  g_return_val_if_fail (ctx != NULL, NULL);

#ifdef HAVE_VULKAN
  if (ctx->vulkan != NULL)
    return clipscope_vk_backend_get_device_name (ctx->vulkan);
#endif
  return ctx->device_name;
}

ClipscopeModel *
clipscope_context_get_model (ClipscopeContext *ctx)
{
  g_return_val_if_fail (ctx != NULL, NULL);
  return ctx->model;
}

/* ------------------------------------------------------------ encoding */

/* Runs @pass on the Vulkan backend when it is in use, and on the CPU
 * when not or when the device failed under AUTO. */
static gboolean
run_pass (ClipscopeContext *ctx,
          ClipscopePass     pass,
          gconstpointer     in,
          int               n,
          float            *out,
          GCancellable     *cancellable,
          GError          **error)
{
#ifdef HAVE_VULKAN
  if (ctx->vulkan != NULL)
    {
      GError *local = NULL;

      if (clipscope_graph_run (ctx->vulkan, pass, in, n, out, cancellable, &local))
        return TRUE;
      if (!recover_on_cpu (ctx, local, error))
        return FALSE;
    }
#endif
  if (ctx->cpu == NULL
      && (ctx->cpu = clipscope_cpu_backend_new (ctx->model, ctx->options.max_batch,
                                                ctx->options.precision, ctx->options.n_threads,
                                                error)) == NULL)
    return FALSE;
  return clipscope_graph_run (ctx->cpu, pass, in, n, out, cancellable, error);
}

/* The image tower on one batch, normalised. */
static gboolean
encode_pixel_batch (ClipscopeContext *ctx,
                    const float      *pixels,
                    int               n,
                    float            *out,
                    GCancellable     *cancellable,
                    GError          **error)
{
  return run_pass (ctx, CLIPSCOPE_PASS_PIXELS, pixels, n, out, cancellable, error);
}

gboolean
clipscope_context_encode_pixels (ClipscopeContext *ctx,
                                 const float      *pixels,
                                 int               n,
                                 float            *embeddings,
                                 GCancellable     *cancellable,
                                 GError          **error)
{
  int s, e;

  g_return_val_if_fail (ctx != NULL, FALSE);
  g_return_val_if_fail (n >= 0 && (n == 0 || (pixels != NULL && embeddings != NULL)), FALSE);

  s = ctx->model->info.image_size;
  e = ctx->model->info.embed_dim;

  for (int done = 0; done < n; done += ctx->options.max_batch)
    {
      int b = MIN (ctx->options.max_batch, n - done);

      if (!encode_pixel_batch (ctx, pixels + (gsize) done * 3 * s * s, b,
                               embeddings + (gsize) done * e, cancellable, error))
        return FALSE;
    }
  return TRUE;
}

/* Decodes and preprocesses @n files into their slots of @pixels, in the
 * pool of decoder processes when there is one; a file that fails gets
 * its error in @errors[i]. */
static void
decode_batch (ClipscopeContext   *ctx,
              const char * const *paths,
              int                 n,
              float              *pixels,
              GError            **errors)
{
  const ClipscopePreprocessParams *params = &ctx->model->preprocess;
  const gsize image = (gsize) 3 * params->crop * params->crop;

  if (!ctx->decoders_tried)
    {
      ctx->decoders = clipscope_decoder_pool_new (MIN (ctx->options.max_batch,
                                                       (int) g_get_num_processors ()));
      ctx->decoders_tried = TRUE;
    }
  if (ctx->decoders != NULL)
    {
      clipscope_decoder_pool_preprocess (ctx->decoders, paths, n, params, pixels, errors);
      return;
    }
  for (int i = 0; i < n; i++)
    clipscope_preprocess_file (paths[i], params, pixels + i * image, &errors[i]);
}

/* Decodes, encodes and scatters the files of @paths. With @errors, a file
 * that fails gets its error there and a row of zeros, and the others go
 * on; without, the first one that fails stops the call. */
static gboolean
encode_files (ClipscopeContext      *ctx,
              const char * const    *paths,
              int                    n,
              float                 *embeddings,
              GError               **errors,
              ClipscopeProgressFunc  progress,
              gpointer               user_data,
              GCancellable          *cancellable,
              GError               **error)
{
  const int s = ctx->model->info.image_size, e = ctx->model->info.embed_dim;
  const gsize image = (gsize) 3 * s * s;
  const int batch = MIN (n, ctx->options.max_batch);
  /* Only one batch of decoded pixels is alive at a time. */
  g_autofree float *pixels = g_new (float, image * batch + 1);
  g_autofree float *packed = g_new (float, (gsize) batch * e + 1);
  g_autofree int *rows = g_new (int, batch + 1);
  g_autofree GError **failed = g_new0 (GError *, batch + 1);

  for (int done = 0; done < n; done += ctx->options.max_batch)
    {
      int b = MIN (ctx->options.max_batch, n - done), good = 0;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      decode_batch (ctx, paths + done, b, pixels, failed);
      /* The images that decoded move up to be encoded together. */
      for (int i = 0; i < b; i++)
        if (failed[i] == NULL)
          {
            if (good != i)
              memmove (pixels + good * image, pixels + i * image, image * sizeof (float));
            rows[good++] = done + i;
          }
        else if (errors != NULL)
          {
            errors[done + i] = g_steal_pointer (&failed[i]);
            memset (embeddings + (gsize) (done + i) * e, 0, (gsize) e * sizeof (float));
          }
        else
          {
            g_propagate_error (error, g_steal_pointer (&failed[i]));
            for (int j = i + 1; j < b; j++)
              g_clear_error (&failed[j]);
            return FALSE;
          }
      if (good > 0 && !encode_pixel_batch (ctx, pixels, good, packed, cancellable, error))
        return FALSE;
      for (int i = 0; i < good; i++)
        memcpy (embeddings + (gsize) rows[i] * e, packed + (gsize) i * e, (gsize) e * sizeof (float));
      if (progress != NULL)
        progress (done + b, n, user_data);
    }
  return TRUE;
}

gboolean
clipscope_context_preprocess_file (ClipscopeContext *ctx,
                                   const char       *path,
                                   float            *pixels,
                                   GError          **error)
{
  GError *failed = NULL;

  g_return_val_if_fail (ctx != NULL && path != NULL && pixels != NULL, FALSE);

  decode_batch (ctx, &path, 1, pixels, &failed);
  if (failed == NULL)
    return TRUE;
  g_propagate_error (error, failed);
  return FALSE;
}

gboolean
clipscope_context_encode_image_files (ClipscopeContext      *ctx,
                                      const char * const    *paths,
                                      int                    n,
                                      float                 *embeddings,
                                      ClipscopeProgressFunc  progress,
                                      gpointer               user_data,
                                      GCancellable          *cancellable,
                                      GError               **error)
{
  g_return_val_if_fail (ctx != NULL, FALSE);
  g_return_val_if_fail (n >= 0 && (n == 0 || (paths != NULL && embeddings != NULL)), FALSE);

  return encode_files (ctx, paths, n, embeddings, NULL, progress, user_data, cancellable, error);
}

gboolean
clipscope_context_encode_image_files_each (ClipscopeContext      *ctx,
                                           const char * const    *paths,
                                           int                    n,
                                           float                 *embeddings,
                                           GError               **errors,
                                           ClipscopeProgressFunc  progress,
                                           gpointer               user_data,
                                           GCancellable          *cancellable,
                                           GError               **error)
{
  g_return_val_if_fail (ctx != NULL, FALSE);
  g_return_val_if_fail (n >= 0 && (n == 0 || (paths != NULL && embeddings != NULL && errors != NULL)),
                        FALSE);

  for (int i = 0; i < n; i++)
    errors[i] = NULL;
  return encode_files (ctx, paths, n, embeddings, errors, progress, user_data, cancellable, error);
}

/* The text tower on one batch, normalised. */
static gboolean
encode_token_batch (ClipscopeContext *ctx,
                    const int32_t    *tokens,
                    int               n,
                    float            *out,
                    GCancellable     *cancellable,
                    GError          **error)
{
  return run_pass (ctx, CLIPSCOPE_PASS_TOKENS, tokens, n, out, cancellable, error);
}

gboolean
clipscope_context_encode_tokens (ClipscopeContext *ctx,
                                 const int32_t    *tokens,
                                 int               n,
                                 float            *embeddings,
                                 GCancellable     *cancellable,
                                 GError          **error)
{
  int ctx_len, e;

  g_return_val_if_fail (ctx != NULL, FALSE);
  g_return_val_if_fail (n >= 0 && (n == 0 || (tokens != NULL && embeddings != NULL)), FALSE);

  ctx_len = ctx->model->info.context_length;
  e = ctx->model->info.embed_dim;

  for (int done = 0; done < n; done += ctx->options.max_batch)
    {
      int b = MIN (ctx->options.max_batch, n - done);
      float *out = embeddings + (gsize) done * e;

      if (!encode_token_batch (ctx, tokens + (gsize) done * ctx_len, b, out, cancellable, error))
        return FALSE;
    }
  return TRUE;
}

/* Tokenises texts[0 : n] into rows of a zero-padded [n, context] array. */
static int32_t *
tokenize_rows (ClipscopeContext   *ctx,
               const char * const *texts,
               int                 n,
               GError            **error)
{
  const int ctx_len = ctx->model->info.context_length;
  g_autofree int32_t *rows = g_new0 (int32_t, (gsize) n * ctx_len);

  for (int i = 0; i < n; i++)
    {
      int n_ids = 0;
      g_autofree int32_t *ids = clipscope_model_tokenize (ctx->model, texts[i], &n_ids, error);

      if (ids == NULL)
        return NULL;
      memcpy (rows + (gsize) i * ctx_len, ids, (gsize) n_ids * sizeof (int32_t));
    }
  return g_steal_pointer (&rows);
}

gboolean
clipscope_context_encode_texts (ClipscopeContext   *ctx,
                                const char * const *texts,
                                int                 n,
                                float              *embeddings,
                                GCancellable       *cancellable,
                                GError            **error)
{
  int e;

  g_return_val_if_fail (ctx != NULL, FALSE);
  g_return_val_if_fail (n >= 0 && (n == 0 || (texts != NULL && embeddings != NULL)), FALSE);

  e = ctx->model->info.embed_dim;

  /* Tokenised a batch at a time, so 10,000 texts do not hold 10,000 rows. */
  for (int done = 0; done < n; done += ctx->options.max_batch)
    {
      int b = MIN (ctx->options.max_batch, n - done);
      g_autofree int32_t *rows = tokenize_rows (ctx, texts + done, b, error);

      if (rows == NULL
          || !clipscope_context_encode_tokens (ctx, rows, b, embeddings + (gsize) done * e,
                                               cancellable, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
clipscope_context_encode_labels (ClipscopeContext   *ctx,
                                 const char * const *labels,
                                 int                 n_labels,
                                 const char * const *templates,
                                 int                 n_templates,
                                 float              *embeddings,
                                 GCancellable       *cancellable,
                                 GError            **error)
{
  int e, total, chunk;
  g_autofree float *batch = NULL;
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);

  g_return_val_if_fail (ctx != NULL, FALSE);
  g_return_val_if_fail (n_labels >= 0 && n_templates > 0, FALSE);

  e = ctx->model->info.embed_dim;
  total = n_labels * n_templates;
  chunk = ctx->options.max_batch;

  for (int t = 0; t < n_templates; t++)
    if (!clipscope_template_is_valid (templates[t]))
      {
        g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT,
                     "template \"%s\" does not hold exactly one {} placeholder", templates[t]);
        return FALSE;
      }

  /* CLIP's zero-shot classifier: the mean over templates of normalised
   * text embeddings, normalised again. Texts go through in batches over
   * the flat (label, template) list, summed into their label's row. */
  memset (embeddings, 0, (gsize) n_labels * e * sizeof (float));
  batch = g_new (float, (gsize) chunk * e);
  for (int done = 0; done < total; done += chunk)
    {
      int b = MIN (chunk, total - done);

      g_ptr_array_set_size (texts, 0);
      for (int i = done; i < done + b; i++)
        g_ptr_array_add (texts, clipscope_template_apply (templates[i % n_templates],
                                                          labels[i / n_templates]));
      if (!clipscope_context_encode_texts (ctx, (const char * const *) texts->pdata, b, batch,
                                           cancellable, error))
        return FALSE;
      for (int i = 0; i < b; i++)
        {
          float *dst = embeddings + (gsize) ((done + i) / n_templates) * e;

          for (int j = 0; j < e; j++)
            dst[j] += batch[(gsize) i * e + j];
        }
    }
  clipscope_cpu_l2_normalize (embeddings, n_labels, e);
  return TRUE;
}

/* ------------------------------------------------------------- explain */

gboolean
clipscope_context_explain_pixels (ClipscopeContext *ctx,
                                  const float      *pixels,
                                  float            *embedding,
                                  float            *spatial,
                                  GCancellable     *cancellable,
                                  GError          **error)
{
  int e, grid;
  g_autofree float *out = NULL;

  g_return_val_if_fail (ctx != NULL, FALSE);
  g_return_val_if_fail (pixels != NULL && spatial != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  e = ctx->model->info.embed_dim;
  grid = clipscope_model_get_explain_grid (ctx->model);
  /* out[1 + grid², embed_dim]: the image's row, then the cells'. */
  if ((out = g_try_new (float, (gsize) (1 + grid * grid) * e)) == NULL)
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT,
                   "not enough memory for %d spatial embeddings of %d values", grid * grid, e);
      return FALSE;
    }
  if (!run_pass (ctx, CLIPSCOPE_PASS_EXPLAIN, pixels, 1, out, cancellable, error))
    return FALSE;
  if (embedding != NULL)
    memcpy (embedding, out, e * sizeof (float));
  memcpy (spatial, out + e, (gsize) grid * grid * e * sizeof (float));
  return TRUE;
}

#ifndef HAVE_VULKAN
ClipscopeVulkanDevice *
clipscope_vulkan_list_devices (int     *n_devices,
                               GError **error)
{
  g_return_val_if_fail (n_devices != NULL, NULL);

  *n_devices = 0;
  g_set_error_literal (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_BACKEND,
                       "the Vulkan backend is not available in this build of Clipscope");
  return NULL;
}

void
clipscope_vulkan_devices_free (ClipscopeVulkanDevice *devices,
                               int                    n_devices)
{
  g_free (devices);
}
#endif

/* ------------------------------------------------------------- versions */

const char *
clipscope_version (void)
{
  return CLIPSCOPE_VERSION;
}

char *
clipscope_system_info (void)
{
  g_autofree char *blas = blas_description ();
  g_autofree char *dnnl = dnnl_description (CLIPSCOPE_PRECISION_F32);

  return g_strdup_printf ("Clipscope %s; GLib %u.%u.%u; json-glib %s; GdkPixbuf %s; %s%s%s",
                          CLIPSCOPE_VERSION, glib_major_version, glib_minor_version,
                          glib_micro_version, JSON_VERSION_S, gdk_pixbuf_version, blas,
                          dnnl ? "; " : "", dnnl ? dnnl : "");
}
