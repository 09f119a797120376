/* clipscope.h — the public interface of libclipscope
 *
 * libclipscope runs CLIP (contrastive language–image pre-training) locally:
 * it loads a checkpoint, turns images and texts into L2-normalised
 * embeddings and scores images against labels the way CLIP's zero-shot
 * classifier does.
 *
 *   g_autoptr(ClipscopeModel) model = clipscope_model_load ("clip-vit-base-patch32", NULL, NULL, &error);
 *   ClipscopeContextOptions copts = clipscope_context_options_default ();
 *   g_autoptr(ClipscopeContext) ctx = clipscope_context_new (model, &copts, &error);
 *   float image[512], labels[2 * 512];
 *   clipscope_context_encode_image_files (ctx, paths, 1, image, NULL, NULL, NULL, &error);
 *   clipscope_context_encode_labels (ctx, names, 2, templates, 1, labels, NULL, &error);
 *
 * Thread safety: a ClipscopeModel is immutable once loaded and may be shared
 * by any number of threads. A ClipscopeContext holds scratch memory and a
 * backend, and must be used by one thread at a time; give each worker thread
 * its own context.
 *
 * Memory layout: every tensor in this interface is a row-major float array;
 * a "[n, d]" array holds row i at offset i × d.
 */
#pragma once

#include <glib.h>
#include <gio/gio.h>
#include <stdint.h>

G_BEGIN_DECLS

#if defined(CLIPSCOPE_COMPILATION) && defined(__GNUC__)
# define CLIPSCOPE_API __attribute__ ((visibility ("default")))
#else
# define CLIPSCOPE_API
#endif

/* ---------------------------------------------------------------- errors */

#define CLIPSCOPE_ERROR (clipscope_error_quark ())

/**
 * ClipscopeError:
 * @CLIPSCOPE_ERROR_IO: a file could not be opened, read or mapped
 * @CLIPSCOPE_ERROR_SAFETENSORS: a safetensors file is malformed
 * @CLIPSCOPE_ERROR_CONFIG: a model configuration file is missing or malformed
 * @CLIPSCOPE_ERROR_TENSOR_MISSING: a tensor the model needs is absent
 * @CLIPSCOPE_ERROR_TENSOR_SHAPE: a tensor has a shape other than expected
 * @CLIPSCOPE_ERROR_TENSOR_DTYPE: a tensor has a dtype the model cannot use
 * @CLIPSCOPE_ERROR_TOKENIZER: the vocabulary or merges cannot be loaded
 * @CLIPSCOPE_ERROR_IMAGE: an image cannot be decoded
 * @CLIPSCOPE_ERROR_LIMIT: an input exceeds a size limit
 * @CLIPSCOPE_ERROR_BACKEND: the compute backend failed or is unavailable
 * @CLIPSCOPE_ERROR_INVALID_ARGUMENT: an argument is out of range
 * @CLIPSCOPE_ERROR_UNSUPPORTED: the model uses a feature Clipscope lacks
 */
typedef enum {
  CLIPSCOPE_ERROR_IO,
  CLIPSCOPE_ERROR_SAFETENSORS,
  CLIPSCOPE_ERROR_CONFIG,
  CLIPSCOPE_ERROR_TENSOR_MISSING,
  CLIPSCOPE_ERROR_TENSOR_SHAPE,
  CLIPSCOPE_ERROR_TENSOR_DTYPE,
  CLIPSCOPE_ERROR_TOKENIZER,
  CLIPSCOPE_ERROR_IMAGE,
  CLIPSCOPE_ERROR_LIMIT,
  CLIPSCOPE_ERROR_BACKEND,
  CLIPSCOPE_ERROR_INVALID_ARGUMENT,
  CLIPSCOPE_ERROR_UNSUPPORTED,
} ClipscopeError;

CLIPSCOPE_API GQuark clipscope_error_quark (void);

/* ----------------------------------------------------------------- model */

typedef struct _ClipscopeModel ClipscopeModel;

typedef enum {
  CLIPSCOPE_FORMAT_HF,
  CLIPSCOPE_FORMAT_OPEN_CLIP,
} ClipscopeFormat;

typedef enum {
  CLIPSCOPE_VISION_VIT,
  CLIPSCOPE_VISION_RESNET,
} ClipscopeVisionKind;

/**
 * ClipscopeFamily:
 * @CLIPSCOPE_FAMILY_CLIP: OpenAI's CLIP and the models trained like it
 *   (open_clip's LAION, DataComp, MetaCLIP …)
 * @CLIPSCOPE_FAMILY_SIGLIP: SigLIP and SigLIP 2 (fixed resolution)
 * @CLIPSCOPE_FAMILY_CHINESE_CLIP: Chinese-CLIP (a BERT text tower)
 */
typedef enum {
  CLIPSCOPE_FAMILY_CLIP,
  CLIPSCOPE_FAMILY_SIGLIP,
  CLIPSCOPE_FAMILY_CHINESE_CLIP,
} ClipscopeFamily;

/**
 * clipscope_family_to_string:
 *
 * Returns: (transfer none): "clip", "siglip" or "chinese-clip"
 */
CLIPSCOPE_API const char *clipscope_family_to_string (ClipscopeFamily family);

/**
 * ClipscopeScoring:
 * @CLIPSCOPE_SCORING_SOFTMAX: a softmax of logit_scale × cosine across
 *   the labels: the probabilities of an image add up to 1
 * @CLIPSCOPE_SCORING_SIGMOID: a sigmoid of logit_scale × cosine +
 *   logit_bias for each image–label pair on its own: the probabilities
 *   are independent and need not add up to 1
 *
 * How a model turns cosines into probabilities.
 */
typedef enum {
  CLIPSCOPE_SCORING_SOFTMAX,
  CLIPSCOPE_SCORING_SIGMOID,
} ClipscopeScoring;

/**
 * clipscope_scoring_to_string:
 *
 * Returns: (transfer none): "softmax" or "sigmoid"
 */
CLIPSCOPE_API const char *clipscope_scoring_to_string (ClipscopeScoring scoring);

/**
 * ClipscopeModelInfo:
 *
 * What a loaded model is. Owned by the model; valid while it lives.
 */
typedef struct {
  ClipscopeFormat     format;
  ClipscopeVisionKind vision_kind;
  const char         *dtype;           /* "float32", "float16" or "bfloat16" (the file's) */
  int                 embed_dim;       /* size of every embedding */
  int64_t             n_parameters;    /* parameters the towers use */
  size_t              weight_bytes;    /* memory the f32 weights take outside the mapping */

  int   image_size;                    /* input side after resize and crop */
  int   image_resize;                  /* shorter side after resize, before the crop */
  float image_mean[3];
  float image_std[3];
  gboolean image_alpha_composited;     /* transparent pixels composited onto ↓ */
  guint8   image_alpha_background[3];  /* rather than alpha dropped as CLIP does */

  int vision_width;                    /* ViT: hidden size; ResNet: stem width */
  int vision_layers;                   /* ViT: blocks; ResNet: total bottlenecks */
  int vision_heads;
  int vision_patch_size;               /* 0 for ResNet */
  int vision_resnet_layers[4];         /* bottlenecks per stage; 0 for ViT */
  gboolean vision_quick_gelu;

  int text_width;
  int text_layers;
  int text_heads;
  int text_vocab_size;
  int context_length;
  gboolean text_quick_gelu;

  ClipscopeFamily  family;
  ClipscopeScoring scoring;
  float logit_scale;                   /* already exponentiated */
  float logit_bias;                    /* added before a sigmoid; 0 for softmax */

  gboolean    image_squash;            /* resized straight to image_size × image_size, no crop */
  const char *image_resample;          /* Pillow's filter: "bicubic" or "bilinear" */
} ClipscopeModelInfo;

/**
 * ClipscopeModelOptions:
 * @max_image_pixels: images with more pixels are refused before decoding
 * @ignore_exif_orientation: leave images as stored rather than turned as
 *   their EXIF orientation says (JPEG, PNG); OpenAI's CLIP
 *   preprocessing does not turn them, Hugging Face's image loading does
 *
 * Options for clipscope_model_load(); get them from
 * clipscope_model_options_default() and change what you need.
 */
typedef struct {
  int64_t  max_image_pixels;
  gboolean ignore_exif_orientation;
} ClipscopeModelOptions;

CLIPSCOPE_API ClipscopeModelOptions clipscope_model_options_default (void);

/**
 * clipscope_model_load:
 * @dir: a model folder in the Hugging Face layout (CLIP, SigLIP, Chinese-CLIP)
 *   or in open_clip's (CLIP, SigLIP)
 * @options: (nullable): load options, or %NULL for the defaults
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for an error naming the file and the problem
 *
 * Loads and validates a checkpoint. Safetensors files are mapped; float32
 * weights are used in place, float16 and bfloat16 ones are converted to
 * float32 once.
 *
 * Returns: (transfer full) (nullable): the model, or %NULL with @error set
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
ClipscopeModel *clipscope_model_load (const char                  *dir,
                                      const ClipscopeModelOptions *options,
                                      GCancellable                *cancellable,
                                      GError                     **error);

/** clipscope_model_ref: Adds a reference. Returns: (transfer full): @model */
CLIPSCOPE_API ClipscopeModel *clipscope_model_ref (ClipscopeModel *model);
/** clipscope_model_unref: Drops a reference; the last one frees the model. */
CLIPSCOPE_API void clipscope_model_unref (ClipscopeModel *model);

/**
 * clipscope_model_get_info:
 *
 * Returns: (transfer none): the model's description
 */
CLIPSCOPE_API const ClipscopeModelInfo *clipscope_model_get_info (ClipscopeModel *model);

/** clipscope_model_get_path: Returns: (transfer none): the folder it was loaded from */
CLIPSCOPE_API const char *clipscope_model_get_path (ClipscopeModel *model);

/**
 * clipscope_model_tokenize:
 * @text: UTF-8 text (invalid UTF-8 is an error)
 * @n_tokens: (out): number of ids returned, at most the context length
 *
 * Tokenises @text as CLIP does: start-of-text, byte-level BPE ids,
 * end-of-text; cut to the context length with end-of-text last.
 *
 * Returns: (transfer full) (array length=n_tokens): the ids, or %NULL
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
int32_t *clipscope_model_tokenize (ClipscopeModel *model,
                                   const char     *text,
                                   int            *n_tokens,
                                   GError        **error);

/**
 * clipscope_model_preprocess_file:
 * @path: an image file GdkPixbuf can decode
 * @pixels: (out caller-allocates): 3 × image_size × image_size floats
 *
 * Decodes, orients, converts to RGB, resizes with PIL's antialiased
 * bicubic or bilinear filter (the shorter side, then a centre crop; or,
 * for models that squash, the whole image to image_size × image_size)
 * and normalises, writing the channel-major input tensor.
 *
 * Returns: %TRUE on success
 */
CLIPSCOPE_API gboolean clipscope_model_preprocess_file (ClipscopeModel *model,
                                                        const char     *path,
                                                        float          *pixels,
                                                        GError        **error);

/* ------------------------------------------------------------ thumbnails */

/**
 * clipscope_thumbnail_load:
 * @path: an image file
 * @max_width: the widest the thumbnail may be, 1 to 4096 pixels
 * @max_height: the tallest it may be, 1 to 4096 pixels
 * @options: (nullable): its max_image_pixels and ignore_exif_orientation
 *   apply, as they do to a model's input; %NULL for the defaults
 * @cancellable: (nullable): a #GCancellable; cancelling it ends the
 *   decoding at once
 * @width: (out): the thumbnail's width
 * @height: (out): its height
 *
 * Decodes @path as a model's input is decoded, in one of the library's
 * sandboxed decoder processes (the same checks before allocation, memory,
 * CPU and wall-time limits, EXIF orientation, an animation's first
 * frame), made to fit in @max_width × @max_height: a vector image is
 * drawn at that size, a raster image larger than it is scaled down as it
 * decodes, a smaller one is kept as it is. A file that crashes or
 * exhausts the decoder is an error for that file alone. Blocks; see
 * clipscope_thumbnail_load_async() for a main loop. May be called from
 * any thread.
 *
 * Returns: (transfer full) (nullable): RGBA pixels, 8 bits a channel, not
 *   premultiplied, rows packed (4 × @width bytes), or %NULL with @error
 *   set, naming the file
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
GBytes *clipscope_thumbnail_load (const char                  *path,
                                  int                          max_width,
                                  int                          max_height,
                                  const ClipscopeModelOptions *options,
                                  GCancellable                *cancellable,
                                  int                         *width,
                                  int                         *height,
                                  GError                     **error);

/**
 * clipscope_thumbnail_load_async:
 *
 * clipscope_thumbnail_load() in one of the library's threads (two, shared
 * by every caller, each with its decoder process); @callback runs in the
 * thread-default main context of the caller.
 */
CLIPSCOPE_API void clipscope_thumbnail_load_async (const char                  *path,
                                                   int                          max_width,
                                                   int                          max_height,
                                                   const ClipscopeModelOptions *options,
                                                   GCancellable                *cancellable,
                                                   GAsyncReadyCallback          callback,
                                                   gpointer                     user_data);

/**
 * clipscope_thumbnail_load_finish:
 * @width: (out): the thumbnail's width
 * @height: (out): its height
 *
 * Returns: (transfer full) (nullable): what clipscope_thumbnail_load()
 *   returns
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
GBytes *clipscope_thumbnail_load_finish (GAsyncResult  *result,
                                         int           *width,
                                         int           *height,
                                         GError       **error);

/* --------------------------------------------------------------- context */

typedef struct _ClipscopeContext ClipscopeContext;

typedef enum {
  CLIPSCOPE_BACKEND_AUTO,
  CLIPSCOPE_BACKEND_CPU,
  CLIPSCOPE_BACKEND_VULKAN,
} ClipscopeBackend;

/**
 * ClipscopePrecision:
 * @CLIPSCOPE_PRECISION_F32: float32 throughout, the reference
 * @CLIPSCOPE_PRECISION_BF16: the CPU backend's matrix products in bfloat16
 *   (float32 sums), where the CPU has bfloat16 instructions (AVX512-BF16 or
 *   AMX) and the build has oneDNN; float32 elsewhere
 * @CLIPSCOPE_PRECISION_INT8: the CPU backend's weight matrices kept as
 *   signed bytes with one float32 scale per output channel (a quarter of
 *   their float32 memory), quantised symmetrically once per model from its
 *   float32, float16 or bfloat16 weights, and each product's input rows
 *   quantised the same way, one scale a row, with int32 sums; layer norms,
 *   attention and softmax stay float32. It needs oneDNN in the build and a
 *   CPU with AVX512-VNNI or AMX: elsewhere clipscope_context_new() fails
 *   with %CLIPSCOPE_ERROR_BACKEND rather than run in float32, as a
 *   model chosen for int8 may not fit in memory as float32. The Vulkan
 *   backend computes in float32 whatever the precision.
 */
typedef enum {
  CLIPSCOPE_PRECISION_F32,
  CLIPSCOPE_PRECISION_BF16,
  CLIPSCOPE_PRECISION_INT8,
} ClipscopePrecision;

/**
 * ClipscopeContextOptions:
 * @backend: which backend runs the encoders
 * @max_batch: most images or texts encoded in one pass (scratch grows with it)
 * @n_threads: threads for the CPU backend; 0 leaves OpenBLAS's and OpenMP's own choice
 * @precision: what the CPU backend computes its matrix products in
 */
typedef struct {
  ClipscopeBackend   backend;
  int                max_batch;
  int                n_threads;
  ClipscopePrecision precision;
} ClipscopeContextOptions;

CLIPSCOPE_API ClipscopeContextOptions clipscope_context_options_default (void);

/**
 * clipscope_precision_available:
 *
 * Returns: whether the CPU backend computes in @precision here, rather than
 *   falling back to float32 (bfloat16) or refusing (int8): bfloat16 needs
 *   oneDNN in the build and a CPU with AVX512-BF16 or AMX, int8 oneDNN and
 *   a CPU with AVX512-VNNI or AMX
 */
CLIPSCOPE_API gboolean clipscope_precision_available (ClipscopePrecision precision);

/**
 * clipscope_context_new:
 * @model: the model; the context keeps a reference
 * @options: (nullable): options, or %NULL for the defaults
 *
 * Creates the per-thread state: the backend and its scratch buffers.
 *
 * Returns: (transfer full) (nullable): a context, or %NULL with @error set
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
ClipscopeContext *clipscope_context_new (ClipscopeModel                *model,
                                         const ClipscopeContextOptions *options,
                                         GError                       **error);

CLIPSCOPE_API void clipscope_context_free (ClipscopeContext *ctx);

/** clipscope_context_get_backend_name: Returns: (transfer none): "cpu" or "vulkan" */
CLIPSCOPE_API const char *clipscope_context_get_backend_name (ClipscopeContext *ctx);

/** clipscope_context_get_device_name: Returns: (transfer none): the device, e.g. the CPU and BLAS core */
CLIPSCOPE_API const char *clipscope_context_get_device_name (ClipscopeContext *ctx);

/** clipscope_context_get_model: Returns: (transfer none): the model the context runs */
CLIPSCOPE_API ClipscopeModel *clipscope_context_get_model (ClipscopeContext *ctx);

/**
 * ClipscopeProgressFunc:
 * @done: items finished so far
 * @total: items in the call
 *
 * Called on the calling thread after each batch.
 */
typedef void (*ClipscopeProgressFunc) (int done, int total, gpointer user_data);

/**
 * clipscope_context_encode_pixels:
 * @pixels: [n, 3, image_size, image_size] preprocessed inputs
 * @embeddings: (out caller-allocates): [n, embed_dim], L2-normalised
 *
 * Runs the image tower on already preprocessed inputs, in batches of at
 * most max_batch.
 */
CLIPSCOPE_API gboolean clipscope_context_encode_pixels (ClipscopeContext *ctx,
                                                        const float      *pixels,
                                                        int               n,
                                                        float            *embeddings,
                                                        GCancellable     *cancellable,
                                                        GError          **error);

/**
 * clipscope_context_encode_image_files:
 * @paths: (array length=n): image files
 * @embeddings: (out caller-allocates): [n, embed_dim], L2-normalised
 *
 * Decodes, preprocesses and encodes images, one batch of decoded pixels
 * in memory at a time. The first file that fails stops the call.
 */
CLIPSCOPE_API gboolean clipscope_context_encode_image_files (ClipscopeContext      *ctx,
                                                             const char * const    *paths,
                                                             int                    n,
                                                             float                 *embeddings,
                                                             ClipscopeProgressFunc  progress,
                                                             gpointer               user_data,
                                                             GCancellable          *cancellable,
                                                             GError               **error);

/**
 * clipscope_context_preprocess_file:
 * @path: an image file
 * @pixels: (out caller-allocates): 3 × image_size × image_size floats
 *
 * clipscope_model_preprocess_file() in the context's decoder processes
 * (see the README), so that a hostile image cannot take the caller down.
 *
 * Returns: %TRUE on success
 */
CLIPSCOPE_API gboolean clipscope_context_preprocess_file (ClipscopeContext *ctx,
                                                          const char       *path,
                                                          float            *pixels,
                                                          GError          **error);

/**
 * clipscope_context_encode_image_files_each:
 * @paths: (array length=n): image files
 * @embeddings: (out caller-allocates): [n, embed_dim], L2-normalised; a
 *   row of zeros for each file that failed
 * @errors: (out caller-allocates) (array length=n): for each file, %NULL
 *   when it was encoded, else why it failed (the caller frees each)
 *
 * Like clipscope_context_encode_image_files(), but a file that cannot be
 * read or decoded costs only its own result: the others are encoded all
 * the same.
 *
 * Returns: %FALSE with @error set only when the encoder itself fails or
 *   the call is cancelled
 */
CLIPSCOPE_API gboolean clipscope_context_encode_image_files_each (ClipscopeContext      *ctx,
                                                                  const char * const    *paths,
                                                                  int                    n,
                                                                  float                 *embeddings,
                                                                  GError               **errors,
                                                                  ClipscopeProgressFunc  progress,
                                                                  gpointer               user_data,
                                                                  GCancellable          *cancellable,
                                                                  GError               **error);

/**
 * clipscope_context_encode_tokens:
 * @tokens: [n, context_length] ids, each row start-of-text … end-of-text,
 *   zero-padded
 * @embeddings: (out caller-allocates): [n, embed_dim], L2-normalised
 *
 * Runs the text tower; each row is pooled at its highest id (end-of-text).
 */
CLIPSCOPE_API gboolean clipscope_context_encode_tokens (ClipscopeContext *ctx,
                                                        const int32_t    *tokens,
                                                        int               n,
                                                        float            *embeddings,
                                                        GCancellable     *cancellable,
                                                        GError          **error);

/**
 * clipscope_context_encode_texts:
 * @texts: (array length=n): UTF-8 texts
 * @embeddings: (out caller-allocates): [n, embed_dim], L2-normalised
 */
CLIPSCOPE_API gboolean clipscope_context_encode_texts (ClipscopeContext   *ctx,
                                                       const char * const *texts,
                                                       int                 n,
                                                       float              *embeddings,
                                                       GCancellable       *cancellable,
                                                       GError            **error);

/**
 * clipscope_context_encode_labels:
 * @labels: (array length=n_labels): class names
 * @templates: (array length=n_templates): prompts, each holding one "{}"
 * @embeddings: (out caller-allocates): [n_labels, embed_dim]
 *
 * Builds CLIP's zero-shot classifier: each label is put into every
 * template, the normalised text embeddings are averaged over templates and
 * the mean is normalised again.
 */
CLIPSCOPE_API gboolean clipscope_context_encode_labels (ClipscopeContext   *ctx,
                                                        const char * const *labels,
                                                        int                 n_labels,
                                                        const char * const *templates,
                                                        int                 n_templates,
                                                        float              *embeddings,
                                                        GCancellable       *cancellable,
                                                        GError            **error);

/* --------------------------------------------------------------- scoring */

/**
 * clipscope_template_is_valid:
 *
 * Returns: %TRUE when @template holds exactly one "{}" placeholder
 */
CLIPSCOPE_API gboolean clipscope_template_is_valid (const char *template_);

/**
 * clipscope_template_apply:
 *
 * Returns: (transfer full): @template with its "{}" replaced by @label
 */
CLIPSCOPE_API char *clipscope_template_apply (const char *template_,
                                              const char *label);

/**
 * clipscope_score:
 * @images: [n_images, dim] normalised image embeddings
 * @labels: [n_labels, dim] normalised label embeddings
 * @logit_scale: the exponentiated temperature (ClipscopeModelInfo.logit_scale)
 * @similarity: (out caller-allocates): [n_images, n_labels] cosines
 * @probabilities: (out caller-allocates) (nullable): [n_images, n_labels],
 *   softmax over each row of logit_scale × cosine
 */
CLIPSCOPE_API void clipscope_score (const float *images,
                                    int          n_images,
                                    const float *labels,
                                    int          n_labels,
                                    int          dim,
                                    float        logit_scale,
                                    float       *similarity,
                                    float       *probabilities);

/**
 * clipscope_score_with:
 * @scoring: the model's (ClipscopeModelInfo.scoring)
 * @logit_bias: ClipscopeModelInfo.logit_bias; ignored by a softmax
 * @probabilities: (out caller-allocates) (nullable): [n_images, n_labels]:
 *   as clipscope_score() for %CLIPSCOPE_SCORING_SOFTMAX; for
 *   %CLIPSCOPE_SCORING_SIGMOID each entry is
 *   sigmoid (logit_scale × cosine + logit_bias) on its own
 *
 * clipscope_score() for any model.
 */
CLIPSCOPE_API void clipscope_score_with (const float      *images,
                                         int               n_images,
                                         const float      *labels,
                                         int               n_labels,
                                         int               dim,
                                         ClipscopeScoring  scoring,
                                         float             logit_scale,
                                         float             logit_bias,
                                         float            *similarity,
                                         float            *probabilities);

/**
 * clipscope_read_list_file:
 * @path: a UTF-8 text file
 *
 * Reads labels or templates, one a line, as every front end does: each
 * line is trimmed, and blank lines and lines starting with "#" are
 * skipped. Files over 16 MiB or with over 100,000 entries are refused
 * before they are read whole. Pipes and other special files (a shell's
 * <(…), /dev/stdin) are read to their end, up to the same limit.
 *
 * Returns: (transfer full) (nullable): a %NULL-terminated array, or %NULL
 *   with @error set
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
char **clipscope_read_list_file (const char *path,
                                 GError    **error);

/**
 * clipscope_template_preset_names:
 *
 * The prompt template sets every front end offers: "photo" (CLIP's
 * default, `a photo of a {}.`), "imagenet" (the 80 templates CLIP's
 * authors ensembled for ImageNet), "chinese" (`一张{}的照片。`) and
 * "chinese-imagenet" (Chinese-CLIP's 80 ImageNet templates, in Chinese).
 *
 * Returns: (transfer none) (array zero-terminated=1): their names
 */
CLIPSCOPE_API const char * const *clipscope_template_preset_names (void);

/**
 * clipscope_template_preset_get:
 * @name: one of clipscope_template_preset_names()
 *
 * Returns: (transfer full) (nullable): the preset's templates in order,
 *   %NULL-terminated, or %NULL when there is no preset @name
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
char **clipscope_template_preset_get (const char *name);

/**
 * clipscope_family_default_template:
 *
 * The template used when none is given: `一张{}的照片。` for Chinese-CLIP,
 * whose text tower was trained on Chinese, and CLIP's `a photo of a {}.`
 * for the others.
 *
 * Returns: (transfer none): a template
 */
CLIPSCOPE_API const char *clipscope_family_default_template (ClipscopeFamily family);

/* ------------------------------------------------------------- few-shot */

/*
 * A label's classifier is built one of three ways (ClipscopeLabelMode):
 * zero-shot from text alone (clipscope_context_encode_labels()); a
 * prototype that blends the text embedding with the mean of the label's
 * example images (clipscope_prototypes_build()); or a linear probe, a
 * logistic regression trained on the example images of every label, which
 * replaces the text (clipscope_probe_train()).
 *
 * Examples are passed the same way everywhere: @examples, [n_examples,
 * dim] normalised image embeddings, and @example_labels, [n_examples]
 * label indexes in [0, n_labels).
 *
 * The functions of this section only compute: they read no files, keep no
 * global state and may be called from any thread. A front end encodes the
 * example images once (clipscope_context_encode_image_files() or the
 * worker), keeps the embeddings, and rebuilds the classifier from them
 * whenever an example, a label or the weight changes.
 */

/**
 * ClipscopeLabelMode:
 * @CLIPSCOPE_LABEL_MODE_ZERO_SHOT: the text embedding alone
 * @CLIPSCOPE_LABEL_MODE_PROTOTYPE: the text blended with the mean of the
 *   label's examples
 * @CLIPSCOPE_LABEL_MODE_PROBE: a linear probe trained on all examples
 */
typedef enum {
  CLIPSCOPE_LABEL_MODE_ZERO_SHOT,
  CLIPSCOPE_LABEL_MODE_PROTOTYPE,
  CLIPSCOPE_LABEL_MODE_PROBE,
} ClipscopeLabelMode;

/**
 * clipscope_label_mode_to_string:
 *
 * Returns: (transfer none): "zero-shot", "prototype" or "probe"
 */
CLIPSCOPE_API const char *clipscope_label_mode_to_string (ClipscopeLabelMode mode);

/**
 * clipscope_template_contributions:
 * @texts: [n_templates, dim] normalised text embeddings of one label, one
 *   per template (clipscope_context_encode_texts() on each
 *   clipscope_template_apply() of the label)
 * @image: [dim] a normalised image embedding
 * @cosines: (out caller-allocates): [n_templates], the cosine of @image
 *   with each template's text
 * @without: (out caller-allocates) (nullable): [n_templates], the cosine
 *   of @image with the ensemble of the other templates (their mean,
 *   normalised): the label's similarity if that template were disabled.
 *   NaN where nothing is left to ensemble (a single template) or the
 *   others cancel out
 *
 * Shows what each prompt template contributes to a label's zero-shot
 * similarity. Costs O(n_templates × dim).
 *
 * Returns: the cosine of @image with the ensemble of all templates, which
 *   is the zero-shot similarity of the label
 */
CLIPSCOPE_API float clipscope_template_contributions (const float *texts,
                                                      int          n_templates,
                                                      const float *image,
                                                      int          dim,
                                                      float       *cosines,
                                                      float       *without);

/**
 * clipscope_score_top:
 * @similarity: [n_images, n_labels] cosines
 * @probabilities: (nullable): [n_images, n_labels]; %NULL ranks the
 *   labels by @similarity
 * @threshold: an image whose top label has a cosine below this is
 *   unclassified; -INFINITY classifies every image
 * @top: (out caller-allocates): [n_images], the index of each image's
 *   top label, or -1 when it is unclassified
 *
 * Picks each image's label: the one of highest probability (the first of
 * equals), which in zero-shot and prototype mode is also the one of
 * highest cosine. The threshold applies to the raw cosine, never to a
 * probability, and leaves the probabilities as they are.
 *
 * Returns: the number of unclassified images
 */
CLIPSCOPE_API int clipscope_score_top (const float *similarity,
                                       const float *probabilities,
                                       int          n_images,
                                       int          n_labels,
                                       float        threshold,
                                       int         *top);

/* The weight of the examples in a prototype when the person sets none. */
#define CLIPSCOPE_EXAMPLE_WEIGHT_DEFAULT 0.5f

/**
 * clipscope_prototypes_build:
 * @text: [n_labels, dim] normalised zero-shot label embeddings
 * @examples: [n_examples, dim] normalised image embeddings
 * @example_labels: [n_examples] the label of each example
 * @weight: w in [0, 1], how far a prototype moves from the text towards
 *   the examples: 0 keeps the zero-shot classifier, 1 uses the examples
 *   alone (CLIPSCOPE_EXAMPLE_WEIGHT_DEFAULT: halfway)
 * @classifier: (out caller-allocates): [n_labels, dim]; may be @text
 *
 * Builds the few-shot classifier, row j being
 *
 *   normalise ((1 − w) · text[j] + w · mean { examples[i] : label i = j })
 *
 * Labels without examples keep their text row. Score images against it
 * with clipscope_score() as against the zero-shot classifier.
 */
CLIPSCOPE_API void clipscope_prototypes_build (const float *text,
                                               int          n_labels,
                                               int          dim,
                                               const float *examples,
                                               const int   *example_labels,
                                               int          n_examples,
                                               float        weight,
                                               float       *classifier);

/**
 * clipscope_prototypes_leave_one_out:
 * @predicted: (out caller-allocates): [n_examples], the label each example
 *   gets from prototypes built without it
 *
 * Measures the prototype classifier on its own examples: each example is
 * classified by clipscope_prototypes_build() of the others (its label
 * falls back to its text row when it was the label's only example).
 * Costs O(n_examples × n_labels × dim), about one scoring pass.
 *
 * Returns: the fraction of examples given their own label; 0 when there
 *   are none
 */
CLIPSCOPE_API double clipscope_prototypes_leave_one_out (const float *text,
                                                         int          n_labels,
                                                         int          dim,
                                                         const float *examples,
                                                         const int   *example_labels,
                                                         int          n_examples,
                                                         float        weight,
                                                         int         *predicted);

/**
 * ClipscopeProbeOptions:
 * @c: the inverse regularisation strength, as scikit-learn's C: training
 *   minimises C × Σ_i v_i · cross-entropy_i + ½ ‖W‖² (the biases are not
 *   penalised). Larger follows the examples more closely
 * @max_iterations: L-BFGS iterations at most
 * @tolerance: training stops once no component of the gradient of that
 *   loss divided by C × n_examples exceeds this
 *
 * Options for clipscope_probe_train(); get them from
 * clipscope_probe_options_default() (c = 1, 1000 iterations, 1e-8).
 *
 * The example weights v_i = n_examples / (n_labels × the number of
 * examples of label y_i) are scikit-learn's class_weight="balanced": every
 * label weighs the same in all, so a label's share of the examples does
 * not become a prior, and leave-one-out accuracy is not biased against
 * the label of the example left out. With equally many examples per
 * label, every v_i is 1.
 */
typedef struct {
  double c;
  int    max_iterations;
  double tolerance;
} ClipscopeProbeOptions;

CLIPSCOPE_API ClipscopeProbeOptions clipscope_probe_options_default (void);

/**
 * ClipscopeProbe:
 *
 * A linear probe: multinomial logistic regression on normalised image
 * embeddings, as the CLIP paper's linear-probe evaluation trains it.
 * Immutable once trained; may be shared between threads.
 */
typedef struct _ClipscopeProbe ClipscopeProbe;

/**
 * clipscope_probe_train:
 * @examples: [n_examples, dim] normalised image embeddings
 * @example_labels: [n_examples] label indexes
 * @n_labels: the number of classes; every one needs at least 2 examples
 * @label_names: (nullable) (array length=n_labels): names for error
 *   messages, else labels are named by index
 * @options: (nullable): options, or %NULL for the defaults
 * @cancellable: (nullable): checked at every iteration
 *
 * Trains the probe with L-BFGS in double precision, deterministically
 * (the same inputs give the same weights). With tens of examples it takes
 * milliseconds; the cost of an iteration is two products of the
 * [n_examples, dim] examples with the [n_labels, dim] weights.
 *
 * Returns: (transfer full) (nullable): the probe, or %NULL with @error set
 *   (%CLIPSCOPE_ERROR_INVALID_ARGUMENT naming a label with fewer than two
 *   examples, or an example label out of range)
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
ClipscopeProbe *clipscope_probe_train (const float                 *examples,
                                       const int                   *example_labels,
                                       int                          n_examples,
                                       int                          n_labels,
                                       int                          dim,
                                       const char * const          *label_names,
                                       const ClipscopeProbeOptions *options,
                                       GCancellable                *cancellable,
                                       GError                     **error);

/** clipscope_probe_free: Frees a probe. */
CLIPSCOPE_API void clipscope_probe_free (ClipscopeProbe *probe);

/**
 * clipscope_probe_get_weights:
 * @n_labels: (out) (optional): rows
 * @dim: (out) (optional): columns
 *
 * Returns: (transfer none): W, [n_labels, dim]; the logits of an image x
 *   are W x + b
 */
CLIPSCOPE_API const float *clipscope_probe_get_weights (const ClipscopeProbe *probe,
                                                        int                  *n_labels,
                                                        int                  *dim);

/**
 * clipscope_probe_get_bias:
 *
 * Returns: (transfer none): b, [n_labels]; it sums to zero, since adding
 *   the same constant to every logit changes no probability
 */
CLIPSCOPE_API const float *clipscope_probe_get_bias (const ClipscopeProbe *probe);

/** clipscope_probe_get_iterations: Returns: the L-BFGS iterations training took */
CLIPSCOPE_API int clipscope_probe_get_iterations (const ClipscopeProbe *probe);

/**
 * clipscope_probe_predict:
 * @images: [n_images, dim] normalised image embeddings
 * @logits: (out caller-allocates) (nullable): [n_images, n_labels], W x + b
 * @probabilities: (out caller-allocates) (nullable): [n_images, n_labels],
 *   the softmax of the logits
 */
CLIPSCOPE_API void clipscope_probe_predict (const ClipscopeProbe *probe,
                                            const float          *images,
                                            int                   n_images,
                                            float                *logits,
                                            float                *probabilities);

/**
 * clipscope_probe_leave_one_out:
 * @predicted: (out caller-allocates): [n_examples], the label each example
 *   gets from a probe trained on the others
 * @accuracy: (out) (optional): the fraction of examples given their own
 *   label
 *
 * Trains the probe n_examples + 1 times: once on every example, then once
 * without each, starting from the first solution. Costs n_examples times
 * clipscope_probe_train(): for 50 examples of 512 dimensions, well under a
 * second; run it off the main thread.
 *
 * Returns: %TRUE on success, else %FALSE with @error set as
 *   clipscope_probe_train() sets it
 */
CLIPSCOPE_API gboolean clipscope_probe_leave_one_out (const float                 *examples,
                                                      const int                   *example_labels,
                                                      int                          n_examples,
                                                      int                          n_labels,
                                                      int                          dim,
                                                      const char * const          *label_names,
                                                      const ClipscopeProbeOptions *options,
                                                      int                         *predicted,
                                                      double                      *accuracy,
                                                      GCancellable                *cancellable,
                                                      GError                     **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ClipscopeProbe, clipscope_probe_free)

/* ------------------------------------------------------------- sorting */

/**
 * ClipscopeSortAction:
 * @CLIPSCOPE_SORT_COPY: copy the file
 * @CLIPSCOPE_SORT_HARD_LINK: make a hard link (same file system only)
 * @CLIPSCOPE_SORT_SYMLINK: make a symbolic link to the file's absolute path
 */
typedef enum {
  CLIPSCOPE_SORT_COPY,
  CLIPSCOPE_SORT_HARD_LINK,
  CLIPSCOPE_SORT_SYMLINK,
} ClipscopeSortAction;

/**
 * ClipscopeSorter:
 *
 * Puts images into one sub-folder per label of an output folder, as
 * "Sort into folders…" and `clipscope sort` do. Each label gets a safe
 * folder name: path separators, control characters and characters other
 * systems forbid become "_", a leading dot becomes "_" (so no label names
 * "..", a hidden folder or a path outside), and labels whose names clash
 * get a suffix "-2", "-3" …; unclassified images go to "unclassified"
 * (suffixed likewise if a label took that name). A file never replaces
 * another: the second "cat.png" of a folder becomes "cat-2.png".
 *
 * Every file is recorded in a journal, INTO/.clipscope-sort.journal,
 * before and after it is placed, so that a sort that stopped (an error,
 * Ctrl-C, a crash) can be resumed without placing any file twice: see
 * clipscope_sorter_resume(). Hard links are made to the file a symbolic
 * link leads to, and symbolic links point to the file's real path; a
 * label's folder that is a symbolic link is refused. Folder names that
 * Windows reserves (CON, NUL, COM1 …) get a "_" after them.
 *
 * In a dry run the sorter only plans: it creates, copies and links
 * nothing, yet gives every file the name a real run would, as far as the
 * disk stays as it is.
 *
 * Thread safety: one thread at a time; the calls block on the disk.
 */
typedef struct _ClipscopeSorter ClipscopeSorter;

/**
 * clipscope_sorter_new:
 * @into: the output folder; created (with parents) on the first file
 * @labels: (array length=n_labels): the labels, in the order their
 *   indexes refer to
 * @dry_run: %TRUE to plan without touching the disk
 *
 * Returns: (transfer full): a sorter
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
ClipscopeSorter *clipscope_sorter_new (const char          *into,
                                       const char * const  *labels,
                                       int                  n_labels,
                                       ClipscopeSortAction  action,
                                       gboolean             dry_run);

/** clipscope_sorter_free: Frees a sorter; what it made on disk stays. */
CLIPSCOPE_API void clipscope_sorter_free (ClipscopeSorter *sorter);

/**
 * clipscope_sorter_get_folder:
 * @label: a label index, or -1 for unclassified images
 *
 * Returns: (transfer none): the name of the label's sub-folder
 */
CLIPSCOPE_API const char *clipscope_sorter_get_folder (ClipscopeSorter *sorter,
                                                       int              label);

/**
 * clipscope_sorter_add:
 * @path: a regular file
 * @label: the index of its top label, or -1 when it is unclassified
 *
 * Copies or links @path into its label's sub-folder under its own base
 * name, suffixed "-2", "-3" … before the extension when that name is
 * taken on disk or by an earlier file of this sorter.
 *
 * Returns: (transfer full) (nullable): the destination (planned, in a dry
 *   run), or %NULL with @error set naming the file
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
char *clipscope_sorter_add (ClipscopeSorter *sorter,
                            const char      *path,
                            int              label,
                            GCancellable    *cancellable,
                            GError         **error);

/**
 * clipscope_sorter_resume:
 *
 * Reads the journal an earlier sort into the same folder left
 * (INTO/.clipscope-sort.journal), so that the files it placed are known
 * (clipscope_sorter_lookup()) and not placed again; a destination an
 * interrupted run made but did not record as complete is removed (not in
 * a dry run). Without a journal there is nothing to resume.
 *
 * Returns: %FALSE with @error set when the journal cannot be read
 */
CLIPSCOPE_API gboolean clipscope_sorter_resume (ClipscopeSorter *sorter,
                                                GError         **error);

/**
 * clipscope_sorter_lookup:
 * @path: a source file
 * @label: (out) (optional) (transfer none): its label then, %NULL when it
 *   was unclassified
 *
 * Returns: (transfer none) (nullable): where an earlier run put @path
 *   (the same file, links resolved), if it is still there
 */
CLIPSCOPE_API const char *clipscope_sorter_lookup (ClipscopeSorter *sorter,
                                                   const char      *path,
                                                   const char     **label);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ClipscopeSorter, clipscope_sorter_free)

/* ---------------------------------------------------------------- worker */

/**
 * ClipscopeWorker:
 *
 * A thread that owns one model and one context and runs jobs from a queue,
 * in order, so a front end never encodes on its own thread. Every call
 * below is made from one thread (a GUI's main thread); each job is a
 * #GTask whose callback runs in the thread-default main context of the
 * caller. A job whose cancellable is cancelled before it runs finishes with
 * %G_IO_ERROR_CANCELLED without touching the encoders.
 *
 * The worker caches text embeddings per (template, label) and image
 * embeddings per (file, size, modification time); loading another model
 * empties both caches.
 */
typedef struct _ClipscopeWorker ClipscopeWorker;

/**
 * clipscope_worker_new:
 * @options: (nullable): options for the contexts it creates, or %NULL for
 *   the defaults
 *
 * Starts the thread.
 *
 * Returns: (transfer full): a worker
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
ClipscopeWorker *clipscope_worker_new (const ClipscopeContextOptions *options);

/** clipscope_worker_free: Cancels queued jobs, joins the thread and frees the worker. */
CLIPSCOPE_API void clipscope_worker_free (ClipscopeWorker *worker);

/**
 * clipscope_worker_set_precision:
 *
 * Sets the precision of the contexts made by the loads queued after this
 * call (from the thread that queues them); the model in use keeps its own
 * until one is loaded again.
 */
CLIPSCOPE_API void clipscope_worker_set_precision (ClipscopeWorker    *worker,
                                                   ClipscopePrecision  precision);

/**
 * clipscope_worker_load_model_async:
 * @dir: a model folder
 *
 * Loads a model and makes a context for it. On failure the previous model
 * stays in use.
 */
CLIPSCOPE_API void clipscope_worker_load_model_async (ClipscopeWorker     *worker,
                                                      const char          *dir,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);

/**
 * clipscope_worker_load_model_finish:
 * @backend_name: (out) (optional) (transfer full): "cpu" or "vulkan"
 * @device_name: (out) (optional) (transfer full): the device in use
 *
 * Returns: (transfer full) (nullable): the loaded model, or %NULL with @error set
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
ClipscopeModel *clipscope_worker_load_model_finish (ClipscopeWorker  *worker,
                                                    GAsyncResult     *result,
                                                    char            **backend_name,
                                                    char            **device_name,
                                                    GError          **error);

/**
 * clipscope_worker_encode_image_async:
 * @path: an image file
 *
 * Encodes one image with the current model.
 */
CLIPSCOPE_API void clipscope_worker_encode_image_async (ClipscopeWorker     *worker,
                                                        const char          *path,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);

/**
 * clipscope_worker_encode_image_finish:
 * @embed_dim: (out) (optional): the length of the embedding
 *
 * Returns: (transfer full) (nullable): the normalised embedding, or %NULL
 *   with @error set (naming the file when it cannot be decoded)
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
float *clipscope_worker_encode_image_finish (ClipscopeWorker  *worker,
                                             GAsyncResult     *result,
                                             int              *embed_dim,
                                             GError          **error);

/**
 * clipscope_worker_encode_labels_async:
 * @labels: (array zero-terminated=1): class names
 * @templates: (array zero-terminated=1): prompts, each holding one "{}"
 *
 * Builds the zero-shot classifier as clipscope_context_encode_labels()
 * does, encoding only the (template, label) texts not already cached.
 */
CLIPSCOPE_API void clipscope_worker_encode_labels_async (ClipscopeWorker     *worker,
                                                         const char * const  *labels,
                                                         const char * const  *templates,
                                                         GCancellable        *cancellable,
                                                         GAsyncReadyCallback  callback,
                                                         gpointer             user_data);

/**
 * clipscope_worker_encode_labels_finish:
 * @n_encoded: (out) (optional): texts that went through the encoder
 *
 * Returns: (transfer full) (nullable): [n_labels, embed_dim], or %NULL with
 *   @error set
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
float *clipscope_worker_encode_labels_finish (ClipscopeWorker  *worker,
                                              GAsyncResult     *result,
                                              int              *n_encoded,
                                              GError          **error);

/* --------------------------------------------------------------- devices */

/**
 * ClipscopeVulkanDevice:
 * @index: the position in Vulkan's device list (for CLIPSCOPE_VULKAN_DEVICE)
 * @name: the device name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"
 * @type: "discrete-gpu", "integrated-gpu", "virtual-gpu", "cpu" or "other"
 * @driver: the Vulkan and driver versions
 * @usable: whether the device meets the Vulkan backend's needs
 * @selected: whether a context with the Vulkan backend would use it
 * @reason: why it is selected, or why not
 *
 * One Vulkan device, as clipscope_vulkan_list_devices() describes it.
 */
typedef struct {
  int      index;
  char    *name;
  char    *type;
  char    *driver;
  gboolean usable;
  gboolean selected;
  char    *reason;
} ClipscopeVulkanDevice;

/**
 * clipscope_vulkan_list_devices:
 * @n_devices: (out): number of devices returned
 * @error: return location for an error
 *
 * Lists the Vulkan devices, ranked and chosen as a context would choose
 * (discrete > integrated > virtual > CPU, or CLIPSCOPE_VULKAN_DEVICE).
 * Free the result with clipscope_vulkan_devices_free().
 *
 * Returns: (transfer full) (array length=n_devices) (nullable): the
 *   devices, or %NULL with @error set when Vulkan is unavailable
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
ClipscopeVulkanDevice *clipscope_vulkan_list_devices (int     *n_devices,
                                                      GError **error);

/** clipscope_vulkan_devices_free: Frees what clipscope_vulkan_list_devices() returned. */
CLIPSCOPE_API void clipscope_vulkan_devices_free (ClipscopeVulkanDevice *devices,
                                                  int                    n_devices);

/* ------------------------------------------------------------------ misc */

/** clipscope_version: Returns: (transfer none): the library version */
CLIPSCOPE_API const char *clipscope_version (void);

/**
 * clipscope_system_info:
 *
 * Returns: (transfer full): one line naming the library, GLib, json-glib,
 *   GdkPixbuf and OpenBLAS versions and the BLAS core in use
 */
CLIPSCOPE_API char *clipscope_system_info (void);

/* ----------------------------------------------------------- model store */

/**
 * ClipscopeModelStore:
 *
 * The models a person can use: the small model bundled with Clipscope, a
 * catalogue of CLIP checkpoints on the Hugging Face hub, models downloaded
 * from the hub into `$XDG_DATA_HOME/clipscope/models/NAME/`, and local
 * folders the person has added.
 *
 * A NAME is a catalogue name ("clip-vit-base-patch32"), the bundled
 * model's name ("emoji-demo"), the name given to an added local folder, or
 * a Hugging Face repository id ("owner/name") holding a CLIP model in
 * either supported format.
 *
 * A download lists the repository's files through the hub's API (falling
 * back to the known file names), fetches only the files its format needs
 * into a staging folder `.FOLDER.partial/`, resumes each file with an HTTP
 * Range request, checks each file's size and, where the hub gives it, its
 * SHA-256, checks that the result loads, and renames the folder into place
 * in one step: a model folder is either absent or complete. An interrupted
 * download (cancelled, network lost, disk full) leaves the staging folder
 * for the next attempt to resume; a file whose hash is wrong is deleted.
 *
 * Thread safety: a store holds only configuration and may be used from any
 * thread. Calls that touch the network or the disk block, except
 * clipscope_model_store_download_async().
 */
typedef struct _ClipscopeModelStore ClipscopeModelStore;

#define CLIPSCOPE_STORE_ERROR (clipscope_store_error_quark ())

/**
 * ClipscopeStoreError:
 * @CLIPSCOPE_STORE_ERROR_INVALID_NAME: not a valid model name or repository id
 * @CLIPSCOPE_STORE_ERROR_NOT_INSTALLED: the model is not installed
 * @CLIPSCOPE_STORE_ERROR_EXISTS: a model of that name is already installed
 * @CLIPSCOPE_STORE_ERROR_READ_ONLY: the bundled model cannot be removed
 * @CLIPSCOPE_STORE_ERROR_NOT_FOUND: the hub has no such repository or file (HTTP 404)
 * @CLIPSCOPE_STORE_ERROR_AUTH: the hub refused access (HTTP 401 or 403; set HF_TOKEN)
 * @CLIPSCOPE_STORE_ERROR_HTTP: the server answered with another error status
 * @CLIPSCOPE_STORE_ERROR_CHECKSUM: a downloaded file has the wrong size or SHA-256
 * @CLIPSCOPE_STORE_ERROR_UNSUPPORTED: the repository holds no CLIP model Clipscope reads
 * @CLIPSCOPE_STORE_ERROR_BUSY: another process is downloading the same model
 *
 * Errors of the model store. Network failures other than HTTP statuses
 * (refused connections, timeouts) and disk errors keep their %G_IO_ERROR
 * code, e.g. %G_IO_ERROR_TIMED_OUT or %G_IO_ERROR_NO_SPACE, with a message
 * that names the URL or the file; cancellation is %G_IO_ERROR_CANCELLED.
 */
typedef enum {
  CLIPSCOPE_STORE_ERROR_INVALID_NAME,
  CLIPSCOPE_STORE_ERROR_NOT_INSTALLED,
  CLIPSCOPE_STORE_ERROR_EXISTS,
  CLIPSCOPE_STORE_ERROR_READ_ONLY,
  CLIPSCOPE_STORE_ERROR_NOT_FOUND,
  CLIPSCOPE_STORE_ERROR_AUTH,
  CLIPSCOPE_STORE_ERROR_HTTP,
  CLIPSCOPE_STORE_ERROR_CHECKSUM,
  CLIPSCOPE_STORE_ERROR_UNSUPPORTED,
  CLIPSCOPE_STORE_ERROR_BUSY,
} ClipscopeStoreError;

CLIPSCOPE_API GQuark clipscope_store_error_quark (void);

/**
 * ClipscopeModelStoreOptions:
 * @models_dir: where downloaded models live; %NULL for
 *   `$XDG_DATA_HOME/clipscope/models`
 * @data_dir: the folder holding `models/emoji-demo`; %NULL for
 *   `$CLIPSCOPE_DATA_DIR`, else the installed data folder
 * @endpoint: the hub's base URL; %NULL for `$HF_ENDPOINT`, else
 *   `https://huggingface.co`
 * @token: a hub access token sent as `Authorization: Bearer`; %NULL for
 *   `$HF_TOKEN`, else none
 * @timeout_s: seconds a connection or a read may wait before the download
 *   fails; 0 for `$CLIPSCOPE_HTTP_TIMEOUT`, else 30
 *
 * Get them from clipscope_model_store_options_default(); the store copies
 * the strings.
 */
typedef struct {
  const char *models_dir;
  const char *data_dir;
  const char *endpoint;
  const char *token;
  int         timeout_s;
} ClipscopeModelStoreOptions;

CLIPSCOPE_API ClipscopeModelStoreOptions clipscope_model_store_options_default (void);

/**
 * clipscope_model_store_new:
 * @options: (nullable): options, or %NULL for the defaults
 *
 * Creates a store. Nothing is read or created on disk until it is used.
 *
 * Returns: (transfer full): a store
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
ClipscopeModelStore *clipscope_model_store_new (const ClipscopeModelStoreOptions *options);

/** clipscope_model_store_ref: Adds a reference. Returns: (transfer full): @store */
CLIPSCOPE_API ClipscopeModelStore *clipscope_model_store_ref (ClipscopeModelStore *store);
/** clipscope_model_store_unref: Drops a reference; the last one frees the store. */
CLIPSCOPE_API void clipscope_model_store_unref (ClipscopeModelStore *store);

/** clipscope_model_store_get_models_dir: Returns: (transfer none): where downloads are installed */
CLIPSCOPE_API const char *clipscope_model_store_get_models_dir (ClipscopeModelStore *store);

/**
 * ClipscopeModelSource:
 * @CLIPSCOPE_MODEL_SOURCE_BUNDLED: shipped with Clipscope; cannot be removed
 * @CLIPSCOPE_MODEL_SOURCE_CATALOGUE: one of the catalogue's checkpoints
 * @CLIPSCOPE_MODEL_SOURCE_HUB: another Hugging Face repository
 * @CLIPSCOPE_MODEL_SOURCE_LOCAL: a local folder the person added
 */
typedef enum {
  CLIPSCOPE_MODEL_SOURCE_BUNDLED,
  CLIPSCOPE_MODEL_SOURCE_CATALOGUE,
  CLIPSCOPE_MODEL_SOURCE_HUB,
  CLIPSCOPE_MODEL_SOURCE_LOCAL,
} ClipscopeModelSource;

/**
 * ClipscopeModelEntry:
 * @name: what to pass as NAME (and to `--model`)
 * @description: one line on what the model is good for
 * @repo: (nullable): the Hugging Face repository id, or %NULL
 * @format: the folder's layout; meaningful when @format_known
 * @format_known: %FALSE for a hub model not yet downloaded
 * @family: the model's family; meaningful when @family_known
 * @family_known: %TRUE for the bundled and the catalogue models
 * @size: bytes on disk when installed, else the download's size
 * @size_is_estimate: %TRUE when @size is approximate (a catalogue
 *   model not yet downloaded; the exact size comes from the hub)
 * @installed: whether @path holds the complete model
 * @path: (nullable): the model folder when installed, else %NULL
 * @partial_bytes: bytes already downloaded by an interrupted download
 *   that the next one resumes, else 0
 * @source: where it comes from
 * @removable: whether clipscope_model_store_remove() may remove it
 *
 * One model as clipscope_model_store_list() describes it.
 */
typedef struct {
  char                *name;
  char                *description;
  char                *repo;
  ClipscopeFormat      format;
  gboolean             format_known;
  int64_t              size;
  gboolean             size_is_estimate;
  gboolean             installed;
  char                *path;
  int64_t              partial_bytes;
  ClipscopeModelSource source;
  gboolean             removable;
  ClipscopeFamily      family;
  gboolean             family_known;
} ClipscopeModelEntry;

/** clipscope_model_entry_free: Frees an entry. */
CLIPSCOPE_API void clipscope_model_entry_free (ClipscopeModelEntry *entry);

/**
 * clipscope_model_store_list:
 *
 * Lists the bundled model (when installed), every catalogue model
 * (installed or not), every other downloaded or partly downloaded hub
 * model, and every added local folder, in that order. Reads only the
 * disk.
 *
 * Returns: (transfer full) (element-type ClipscopeModelEntry): the
 *   entries; free with g_ptr_array_unref()
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
GPtrArray *clipscope_model_store_list (ClipscopeModelStore *store);

/**
 * clipscope_model_store_lookup:
 * @name: a NAME
 *
 * Describes one model, installed or not (a valid repository id that was
 * never downloaded gives an entry with @installed %FALSE and size 0).
 *
 * Returns: (transfer full) (nullable): the entry, or %NULL with @error set
 *   when @name is not a valid name
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
ClipscopeModelEntry *clipscope_model_store_lookup (ClipscopeModelStore *store,
                                                   const char          *name,
                                                   GError             **error);

/**
 * clipscope_model_store_resolve:
 * @name: a NAME
 *
 * Finds the folder of an installed model, for clipscope_model_load().
 *
 * Returns: (transfer full) (nullable): the folder, or %NULL with @error
 *   set (%CLIPSCOPE_STORE_ERROR_NOT_INSTALLED when it is not installed)
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
char *clipscope_model_store_resolve (ClipscopeModelStore *store,
                                     const char          *name,
                                     GError             **error);

/**
 * clipscope_model_store_get_default:
 *
 * Finds the bundled default model (`emoji-demo`) that front ends use when
 * no model is chosen.
 *
 * Returns: (transfer full) (nullable): its folder, or %NULL with @error
 *   set naming where it was looked for
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
char *clipscope_model_store_get_default (ClipscopeModelStore *store,
                                         GError             **error);

/**
 * clipscope_model_store_remove:
 * @name: an installed model's NAME
 *
 * Removes a downloaded model, or forgets an added local folder (its files
 * are left alone). Also deletes what an interrupted download of @name
 * left, so a model that is only partly downloaded can be removed too.
 *
 * Returns: %TRUE on success
 */
CLIPSCOPE_API gboolean clipscope_model_store_remove (ClipscopeModelStore *store,
                                                     const char          *name,
                                                     GError             **error);

/**
 * clipscope_model_store_add_local:
 * @dir: a Hugging Face or open_clip model folder
 * @name: (nullable): the NAME to give it; %NULL for the folder's base name
 *
 * Checks that @dir loads as a model and records it (as a symbolic link in
 * the models folder) under @name. The folder is not copied.
 *
 * Returns: (transfer full) (nullable): the new entry, or %NULL with @error
 *   set naming the folder and the problem
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
ClipscopeModelEntry *clipscope_model_store_add_local (ClipscopeModelStore *store,
                                                      const char          *dir,
                                                      const char          *name,
                                                      GError             **error);

/**
 * ClipscopeDownloadProgress:
 * @file: the file being downloaded, relative to the model folder
 * @file_index: its position, from 0
 * @n_files: files in the download
 * @file_done: bytes of @file on disk
 * @file_total: @file's size, or -1 while unknown
 * @done: bytes of all files on disk, resumed ones included
 * @total: size of all files, or -1 while unknown
 *
 * Where a download stands.
 */
typedef struct {
  const char *file;
  int         file_index;
  int         n_files;
  int64_t     file_done;
  int64_t     file_total;
  int64_t     done;
  int64_t     total;
} ClipscopeDownloadProgress;

/**
 * ClipscopeDownloadProgressFunc:
 * @progress: (transfer none): valid during the call only
 *
 * Called when a file starts, at most ten times a second while it
 * downloads, and when it is complete.
 */
typedef void (*ClipscopeDownloadProgressFunc) (const ClipscopeDownloadProgress *progress,
                                               gpointer                         user_data);

/**
 * clipscope_model_store_download:
 * @name: a catalogue NAME or a repository id "owner/name"
 * @progress: (nullable) (scope call): called on the calling thread
 * @cancellable: (nullable): cancels the download; what is on disk is kept
 *   for the next attempt
 *
 * Downloads, verifies and installs a model, resuming an interrupted
 * download of the same model; a model already installed is not fetched
 * again. Blocks; for a command-line tool or a worker thread.
 *
 * Returns: (transfer full) (nullable): the installed folder, or %NULL with
 *   @error set
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
char *clipscope_model_store_download (ClipscopeModelStore           *store,
                                      const char                    *name,
                                      ClipscopeDownloadProgressFunc  progress,
                                      gpointer                       progress_data,
                                      GCancellable                  *cancellable,
                                      GError                       **error);

/**
 * clipscope_model_store_download_async:
 * @progress: (nullable) (scope notified): called in the thread-default
 *   main context of the caller
 * @progress_notify: (nullable): frees @progress_data once the download has
 *   finished and no further @progress call will come
 *
 * Runs clipscope_model_store_download() on a worker thread. Progress
 * reports are coalesced: when the main context is busy, only the latest
 * is delivered. @callback runs in the same main context, after the last
 * progress report.
 */
CLIPSCOPE_API void clipscope_model_store_download_async (ClipscopeModelStore           *store,
                                                         const char                    *name,
                                                         ClipscopeDownloadProgressFunc  progress,
                                                         gpointer                       progress_data,
                                                         GDestroyNotify                 progress_notify,
                                                         GCancellable                  *cancellable,
                                                         GAsyncReadyCallback            callback,
                                                         gpointer                       user_data);

/**
 * clipscope_model_store_download_finish:
 *
 * Returns: (transfer full) (nullable): the installed folder, or %NULL with
 *   @error set
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
char *clipscope_model_store_download_finish (ClipscopeModelStore  *store,
                                             GAsyncResult         *result,
                                             GError              **error);

/* --------------------------------------------------------------- explain */

/*
 * Where in the image: a map of how much each part of an image agrees with
 * a label. The image tower is run once and yields, besides its embedding,
 * one embedding per cell of a grid over the model's input (the centre
 * crop): the spatial embeddings. A label's map is the cosine between the
 * label's embedding and each spatial embedding, so one pass of the tower
 * serves every label.
 *
 * What a spatial embedding is:
 *
 * - ViT: the grid is image_size / patch_size cells a side, one per patch.
 *   The last block runs over every token (the ordinary pass runs it for
 *   the class token alone), and each patch token of its output goes
 *   through LN_post and the projection, exactly as the class token does
 *   for the image embedding.
 * - ResNet: the grid is image_size / 32 cells a side, the feature map the
 *   attention pool sees. The ordinary pass lets the pool's first token
 *   (the mean of the map plus its position) query all grid² + 1 tokens;
 *   here each grid position's token is the query in turn, over the same
 *   keys and values, through the same q, k, v and output projections.
 *
 * Each spatial embedding is L2-normalised, like the image embedding. The
 * context's backend computes them: on a Vulkan device the same kernels
 * run as for the image embedding, with the last block (ViT) or the
 * attention pool (ResNet) over every token. On float32 weights the CPU
 * agrees with a float64 reference to 1e-4, and the device with the CPU
 * within the encoders' usual tolerance.
 */

/**
 * clipscope_model_get_explain_grid:
 *
 * Returns: the side of the grid of spatial embeddings: image_size /
 *   patch_size for a ViT, image_size / 32 for a ResNet
 */
CLIPSCOPE_API int clipscope_model_get_explain_grid (ClipscopeModel *model);

/**
 * clipscope_context_explain_pixels:
 * @pixels: [3, image_size, image_size], one preprocessed input
 * @embedding: (out caller-allocates) (optional): [embed_dim], the image's
 *   normalised embedding from the same pass
 * @spatial: (out caller-allocates): [grid · grid, embed_dim], the
 *   normalised spatial embeddings; row y · grid + x is the cell x from the
 *   left and y from the top of the model's input
 *
 * Runs the image tower on one input and returns its spatial embeddings
 * (see above for what they are). Blocks; call it on the context's thread.
 *
 * Returns: %TRUE on success
 */
CLIPSCOPE_API gboolean clipscope_context_explain_pixels (ClipscopeContext *ctx,
                                                         const float      *pixels,
                                                         float            *embedding,
                                                         float            *spatial,
                                                         GCancellable     *cancellable,
                                                         GError          **error);

/**
 * clipscope_explain_map:
 * @spatial: [n_cells, dim] normalised spatial embeddings
 * @label: [dim] a normalised label embedding, such as one row of
 *   clipscope_context_encode_labels()
 * @map: (out caller-allocates): [n_cells] cosines
 *
 * The map of one label: the cosine of @label with each spatial embedding.
 */
CLIPSCOPE_API void clipscope_explain_map (const float *spatial,
                                          int          n_cells,
                                          const float *label,
                                          int          dim,
                                          float       *map);

/**
 * clipscope_worker_explain_image_async:
 * @path: an image file
 *
 * Decodes and preprocesses @path and computes its spatial embeddings with
 * the current model, on the worker's thread.
 */
CLIPSCOPE_API void clipscope_worker_explain_image_async (ClipscopeWorker     *worker,
                                                         const char          *path,
                                                         GCancellable        *cancellable,
                                                         GAsyncReadyCallback  callback,
                                                         gpointer             user_data);

/**
 * clipscope_worker_explain_image_finish:
 * @grid: (out) (optional): the grid side
 * @embed_dim: (out) (optional): the length of each embedding
 *
 * Returns: (transfer full) (nullable): [grid · grid, embed_dim], the
 *   normalised spatial embeddings, or %NULL with @error set (naming the
 *   file when it cannot be decoded)
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
float *clipscope_worker_explain_image_finish (ClipscopeWorker  *worker,
                                              GAsyncResult     *result,
                                              int              *grid,
                                              int              *embed_dim,
                                              GError          **error);

/* ----------------------------------------------------------------- index */

/*
 * A search index: the embeddings of every image in the folders a person
 * chose, kept in one SQLite file per model so that searching costs no
 * encoding. One row per image holds its absolute path, size, modification
 * time (nanoseconds), SHA-256 and its embedding as IEEE float16. The file
 * is in WAL mode, so a window and the command line can use it at once.
 *
 * An index belongs to one model: the file records the model's folder, its
 * weights file's size and modification time and the embedding size, and
 * a file made with another model, written by another program, or
 * corrupt is deleted and made anew when it is opened (the reason is
 * reported), so rows of two models never mix.
 *
 * Thread safety: one thread at a time per #ClipscopeIndex; open one per
 * thread to share a file.
 */
typedef struct _ClipscopeIndex ClipscopeIndex;

/**
 * clipscope_index_default_path:
 *
 * Returns: (transfer full): `$XDG_DATA_HOME/clipscope/index/NAME-HASH.sqlite`,
 *   NAME being the model folder's base name and HASH a digest of its
 *   absolute path
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
char *clipscope_index_default_path (ClipscopeModel *model);

/**
 * clipscope_index_open:
 * @path: (nullable): the index file, created with its folder if absent;
 *   %NULL for clipscope_index_default_path()
 * @rebuilt: (out) (optional) (transfer full): set to why the file was
 *   deleted and made anew (corrupt, not an index, another model), or to
 *   %NULL when it was used as it was
 *
 * Returns: (transfer full) (nullable): the index, or %NULL with @error set
 *   when the file cannot be created
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
ClipscopeIndex *clipscope_index_open (ClipscopeModel *model,
                                      const char     *path,
                                      char          **rebuilt,
                                      GError        **error);

/** clipscope_index_free: Closes the file; what was committed stays. */
CLIPSCOPE_API void clipscope_index_free (ClipscopeIndex *index);

/** clipscope_index_get_path: Returns: (transfer none): the index file */
CLIPSCOPE_API const char *clipscope_index_get_path (ClipscopeIndex *index);

/**
 * clipscope_index_count:
 *
 * Returns: the number of images in the index, or -1 with @error set
 */
CLIPSCOPE_API int64_t clipscope_index_count (ClipscopeIndex *index,
                                             GError        **error);

/**
 * ClipscopeIndexFailure:
 * @path: an image that could not be indexed
 * @message: why, naming the file
 */
typedef struct {
  char *path;
  char *message;
} ClipscopeIndexFailure;

/**
 * ClipscopeIndexStats:
 * @found: images found in the folders
 * @unchanged: of those, skipped because their size and modification time
 *   are as indexed (not read at all)
 * @encoded: images decoded and encoded
 * @reused: images whose content matched an indexed image (a touched,
 *   copied or moved file), given its embedding without encoding
 * @removed: rows of files no longer in the folders, forgotten
 * @failures: (element-type ClipscopeIndexFailure): images that could not
 *   be read or decoded; they are left out and tried again next time
 *
 * What clipscope_index_update() did, counted as far as it got.
 */
typedef struct {
  int        found;
  int        unchanged;
  int        encoded;
  int        reused;
  int        removed;
  GPtrArray *failures;
} ClipscopeIndexStats;

/** clipscope_index_stats_free: Frees the stats. */
CLIPSCOPE_API void clipscope_index_stats_free (ClipscopeIndexStats *stats);

/**
 * ClipscopeIndexProgressFunc:
 * @done: images checked or encoded so far of those that need it
 * @total: images that need checking or encoding (new or changed)
 * @path: (nullable): the image last finished
 *
 * Called on the thread that runs clipscope_index_update(), after each
 * batch is committed.
 */
typedef void (*ClipscopeIndexProgressFunc) (int         done,
                                            int         total,
                                            const char *path,
                                            gpointer    user_data);

/**
 * clipscope_index_update:
 * @ctx: a context of the index's model, used on this thread
 * @folders: (array length=n_folders): folders, searched recursively
 *   (hidden files and folders are skipped, symbolic links to folders are
 *   not followed)
 * @stats: (out) (optional) (transfer full): what was done, also when the
 *   call fails or is cancelled
 *
 * Brings the index up to date with @folders: images whose size and
 * modification time are unchanged are skipped without being read; new
 * and changed ones are hashed, and given the embedding of an indexed
 * image of the same content or else decoded and encoded; rows of files
 * that are gone from @folders are deleted. Decoding runs on a pool of
 * threads while this thread encodes. Rows are committed a batch at a
 * time, so a cancelled or failed update keeps every image it finished,
 * and the next update carries on from there.
 *
 * Returns: %TRUE on success; %FALSE with @error set when a folder cannot
 *   be read, the index cannot be written, or @cancellable was cancelled
 *   (%G_IO_ERROR_CANCELLED). Images that fail are not errors: they are
 *   listed in @stats.
 */
CLIPSCOPE_API gboolean clipscope_index_update (ClipscopeIndex             *index,
                                               ClipscopeContext           *ctx,
                                               const char * const         *folders,
                                               int                         n_folders,
                                               ClipscopeIndexProgressFunc  progress,
                                               gpointer                    user_data,
                                               ClipscopeIndexStats       **stats,
                                               GCancellable               *cancellable,
                                               GError                    **error);

/**
 * ClipscopeIndexHit:
 * @path: an indexed image
 * @score: its cosine with the query
 */
typedef struct {
  char  *path;
  float  score;
} ClipscopeIndexHit;

/**
 * clipscope_index_search:
 * @query: [embed_dim] a normalised query embedding
 * @top_k: the most hits to return; 0 for all
 * @within: (nullable): only images under this folder
 * @n_hits: (out): the number of hits returned
 *
 * Ranks the indexed images by cosine with @query, highest first (equal
 * scores in path order). The embeddings are read from the file on the
 * first search and kept in memory (4 × embed_dim bytes an image) until
 * the index changes; later searches only compute.
 *
 * Returns: (transfer full) (array length=n_hits) (nullable): the hits
 *   (free with clipscope_index_hits_free()), or %NULL with @error set
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
ClipscopeIndexHit *clipscope_index_search (ClipscopeIndex *index,
                                           const float    *query,
                                           int             top_k,
                                           const char     *within,
                                           int            *n_hits,
                                           GError        **error);

/** clipscope_index_hits_free: Frees what clipscope_index_search() returned. */
CLIPSCOPE_API void clipscope_index_hits_free (ClipscopeIndexHit *hits,
                                              int                n_hits);

/**
 * clipscope_index_find_duplicates:
 * @threshold: the cosine at or above which two images are near-identical
 * @within: (nullable): only images under this folder
 *
 * Groups near-identical images: two images whose embeddings have a cosine
 * of at least @threshold, or whose contents are the same bytes, are in
 * one group, and so are images linked through others. Costs one product
 * of the embeddings with themselves, done in blocks.
 *
 * Returns: (transfer full) (element-type GStrv) (nullable): the groups of
 *   two or more paths, each in path order, groups in the order of their
 *   first path; or %NULL with @error set
 */
CLIPSCOPE_API G_GNUC_WARN_UNUSED_RESULT
GPtrArray *clipscope_index_find_duplicates (ClipscopeIndex *index,
                                            float           threshold,
                                            const char     *within,
                                            GCancellable   *cancellable,
                                            GError        **error);

/**
 * clipscope_query_build:
 * @texts: (array length=n_texts) (nullable): query texts
 * @templates: (array length=n_templates) (nullable): prompts with one "{}";
 *   none uses each text as it is
 * @images: (array length=n_images) (nullable): example image files
 * @query: (out caller-allocates): [embed_dim]
 *
 * Builds a search query as the classifier builds a label: each text is
 * put into every template and its normalised embeddings are averaged;
 * then the texts' ensembles and the example images' embeddings are
 * averaged, each counting once, and the mean is normalised.
 *
 * Returns: %TRUE on success
 */
CLIPSCOPE_API gboolean clipscope_query_build (ClipscopeContext   *ctx,
                                              const char * const *texts,
                                              int                 n_texts,
                                              const char * const *templates,
                                              int                 n_templates,
                                              const char * const *images,
                                              int                 n_images,
                                              float              *query,
                                              GCancellable       *cancellable,
                                              GError            **error);

/**
 * clipscope_query_combine:
 * @rows: [n, dim] normalised embeddings
 * @query: (out caller-allocates): [dim], their mean, normalised
 *
 * The last step of clipscope_query_build(), for a front end that encodes
 * the parts itself.
 */
CLIPSCOPE_API void clipscope_query_combine (const float *rows,
                                            int          n,
                                            int          dim,
                                            float       *query);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ClipscopeIndex, clipscope_index_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ClipscopeIndexStats, clipscope_index_stats_free)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ClipscopeModelStore, clipscope_model_store_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ClipscopeModelEntry, clipscope_model_entry_free)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ClipscopeModel, clipscope_model_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ClipscopeContext, clipscope_context_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ClipscopeWorker, clipscope_worker_free)

G_END_DECLS
