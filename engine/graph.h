/* graph.h — graphs and backends: each tower written once
 *
 * A tower (vit.c, resnet.c, text.c, bert.c, with transformer.c for the
 * blocks CLIP's share) is one description of its forward pass as a sequence of
 * operations on tensors; a backend implements those operations. The CPU
 * backend (cpu/cpu-backend.c) runs each operation as it is called; the
 * Vulkan backend (vulkan/vulkan-backend.c) records each as a dispatch
 * into one command buffer, run at submit(). A new tower is one file
 * that runs on every backend; a new backend implements ClipscopeGraphOps
 * and runs every tower.
 *
 * Tensors are opaque to the towers: a backend's buffer plus an offset in
 * elements. Activations live in named slots (ClipscopeSlot), sized per
 * input by clipscope_graph_slot_sizes() and allocated by the backend
 * for as many inputs as it takes in one chunk. Weights are bound once
 * per model (ClipscopeWeights): clipscope_weights_bind() walks the
 * model's tensors and asks the backend to bind each; the CPU keeps
 * pointers into the model, Vulkan uploads them (as float16 where the
 * device can). A backend may stack q, k and v into one matrix or keep
 * them apart; the graphs take either.
 *
 * Activations are float32 and row-major; ResNet feature maps are
 * channel-last, [batch, height, width, channels], so that a 1 × 1
 * convolution is a linear layer.
 *
 * The operations:
 *   linear       y = act(x · wᵀ + b (+ y)): with or without bias, an
 *                accumulate for residuals, a fused activation
 *   conv         the same over a convolution's implicit im2col
 *   im2col       a convolution's input as rows (the patch embedding)
 *   layer_norm   any eps, strided rows
 *   attention    multi-head, causal, padding-masked or full; n_q query
 *                rows per sequence, which may be fewer than the keys, at
 *                a per-sequence index (pooling heads)
 *   (activations: exact, tanh or quick GELU, ReLU, fused into linear and
 *   conv; residual adds are their accumulate)
 *   embed_tokens, assemble_tokens (class token, mean or neither, plus
 *                positions)
 *   gather_rows  one row per sequence at an index: class token, first
 *                token, last position or the argmax end-of-text token
 *   avg_pool, l2_norm
 */
#pragma once

#include "model.h"

G_BEGIN_DECLS

typedef struct {
  const void *buf;      /* the backend's storage; NULL: absent */
  gsize       off;      /* elements */
  gboolean    f16;      /* float16 elements (weights only) */
  gboolean    bf16;     /* bfloat16 elements (the CPU's weights only) */
} ClipscopeView;

static inline ClipscopeView
clipscope_view_at (ClipscopeView t,
                     gsize           off)
{
  t.off += off;
  return t;
}

#define CLIPSCOPE_NO_VIEW ((ClipscopeView) { NULL, 0, FALSE, FALSE })

/* What assemble_tokens puts before the rows of src; its values are the
 * kernel's push constant. */
typedef enum {
  CLIPSCOPE_FIRST_CLASS,   /* the class embedding (CLIP's ViT) */
  CLIPSCOPE_FIRST_MEAN,    /* the mean of the sequence's rows (ResNet pooling) */
  CLIPSCOPE_FIRST_NONE,    /* nothing: the rows alone (SigLIP's ViT) */
} ClipscopeFirstToken;

/* The values of the kernels' ACT_* flags (shaders/types.glsl). */
typedef enum {
  CLIPSCOPE_ACT_NONE,
  CLIPSCOPE_ACT_QUICK_GELU,
  CLIPSCOPE_ACT_GELU,
  CLIPSCOPE_ACT_RELU,
  CLIPSCOPE_ACT_GELU_TANH,    /* GELU's tanh approximation */
} ClipscopeAct;

/* The input of a convolution: @n images of @c channels, @h × @w, at
 * element strides s_b (image), s_c (channel), s_y (row), s_x (column). */
typedef struct {
  int n, c, h, w;
  int s_b, s_c, s_y, s_x;
} ClipscopeMap;

/* Query i of sequence b is row b · q_bstride + first + i of q, where
 * first is index[b] with an @index (int32 [batch]) and 0 without; under
 * @causal it sees keys 0 … first + i, else all @seq, and with @lengths
 * (int32 [batch], each at least 1: a padding mask) none at or past
 * lengths[b]. Its output is row b · n_q + i of out. k and v are column
 * slices of one array; @index and @lengths, when both are given, views of
 * one array. */
typedef struct {
  ClipscopeView q, k, v, out;
  ClipscopeView index, lengths;
  int ldq, ldkv, ldout;
  int batch, seq, n_q, q_bstride, width, n_heads;
  gboolean causal;
} ClipscopeAttention;

typedef enum {
  CLIPSCOPE_SLOT_PIXELS,   /* [n, 3, s, s] input images */
  CLIPSCOPE_SLOT_X,        /* residual stream [n · seq, width] */
  CLIPSCOPE_SLOT_H,        /* normalised input of a sub-layer */
  CLIPSCOPE_SLOT_QKV,      /* [n · seq, 3 · width]; also the patch embeddings */
  CLIPSCOPE_SLOT_ATTN,     /* attention output [n · seq, width] */
  CLIPSCOPE_SLOT_MLP,      /* [n · seq, mlp_width]; also the ViT's image patches */
  CLIPSCOPE_SLOT_POOL,     /* the pooled rows [n, width] */
  CLIPSCOPE_SLOT_OUT,      /* [n, embed_dim] */
  CLIPSCOPE_SLOT_IDS,      /* int32 [n, context_length] */
  CLIPSCOPE_SLOT_INDEX,    /* int32 [n]: the pooled positions */
  CLIPSCOPE_SLOT_MAP_A,    /* ResNet feature maps */
  CLIPSCOPE_SLOT_MAP_B,
  CLIPSCOPE_SLOT_MAP_C,
  CLIPSCOPE_SLOT_MAP_D,
  /* The spatial pass's, for one image, made on its first use. */
  CLIPSCOPE_SLOT_SPATIAL_Q,     /* ResNet: every token's query [seq, pool_dim] */
  CLIPSCOPE_SLOT_SPATIAL_ATTN,  /* ResNet: every token's attention output */
  CLIPSCOPE_SLOT_SPATIAL_OUT,   /* [seq, embed_dim]: the image's row, then the cells' */
  CLIPSCOPE_N_SLOTS,
} ClipscopeSlot;

#define CLIPSCOPE_FIRST_SPATIAL_SLOT CLIPSCOPE_SLOT_SPATIAL_Q

typedef struct _ClipscopeGraphBackend ClipscopeGraphBackend;
typedef struct _ClipscopeWeights ClipscopeWeights;

typedef struct {
  /* Readies the slots for @n inputs (the spatial ones too, with
   * @spatial) and starts a pass; @staging is the bytes of all uploads
   * and downloads to come before submit(). */
  gboolean (*begin) (ClipscopeGraphBackend *be, int n, gboolean spatial, gsize staging,
                     GError **error);
  ClipscopeView (*slot) (ClipscopeGraphBackend *be, ClipscopeSlot slot);
  void (*upload) (ClipscopeGraphBackend *be, ClipscopeView dst, const void *src, gsize bytes);
  /* @dst holds the data once submit() returns. */
  void (*download) (ClipscopeGraphBackend *be, ClipscopeView src, void *dst, gsize bytes);
  gboolean (*submit) (ClipscopeGraphBackend *be, GError **error);

  void (*linear) (ClipscopeGraphBackend *be, ClipscopeView x, int ldx, int rows, int n_in,
                  ClipscopeView w, ClipscopeView b, int n_out, ClipscopeView y, int ldy,
                  ClipscopeAct act, gboolean accumulate);
  /* y[n, ho, wo, c_out] = act(conv(x, w) + b (+ y)), w [c_out, c · k · k]
   * ordered (channel, y, x). */
  void (*conv) (ClipscopeGraphBackend *be, ClipscopeView x, const ClipscopeMap *map,
                ClipscopeView w, ClipscopeView b, int c_out, int kernel, int stride, int pad,
                ClipscopeView y, ClipscopeAct act, gboolean accumulate);
  /* y[n · ho · wo, c · k · k]: the rows conv multiplies with w. */
  void (*im2col) (ClipscopeGraphBackend *be, ClipscopeView x, const ClipscopeMap *map,
                  int kernel, int stride, int pad, ClipscopeView y);
  void (*layer_norm) (ClipscopeGraphBackend *be, ClipscopeView x, int ldx, int rows, int dim,
                      ClipscopeView w, ClipscopeView b, float eps, ClipscopeView y, int ldy);
  void (*attention) (ClipscopeGraphBackend *be, const ClipscopeAttention *a);
  /* x[batch · seq, width] = tok[ids[b · ctx + t]] + pos[t]. */
  void (*embed_tokens) (ClipscopeGraphBackend *be, ClipscopeView x, ClipscopeView tok,
                        ClipscopeView pos, ClipscopeView ids, int batch, int seq, int ctx,
                        int width);
  /* x[batch, seq, width]: @cls (CLASS) or the mean of src (MEAN), then
   * src [batch, seq − 1, width], plus pos; with NONE, src [batch, seq,
   * width] plus pos. */
  void (*assemble_tokens) (ClipscopeGraphBackend *be, ClipscopeView x, ClipscopeView src,
                           ClipscopeView cls, ClipscopeView pos, int batch, int seq,
                           int width, ClipscopeFirstToken first);
  /* dst[b] = src[b · seq + (index ? index[b] : 0)]. */
  void (*gather_rows) (ClipscopeGraphBackend *be, ClipscopeView src, ClipscopeView dst,
                       ClipscopeView index, int batch, int seq, int width);
  /* dst[n, h / f, w / f, c] = AvgPool2d(f) of src[n, h, w, c]. */
  void (*avg_pool) (ClipscopeGraphBackend *be, ClipscopeView src, ClipscopeView dst, int n,
                    int h, int w, int c, int f);
  void (*l2_norm) (ClipscopeGraphBackend *be, ClipscopeView x, int rows, int dim);
} ClipscopeGraphOps;

/* What every backend starts with. */
struct _ClipscopeGraphBackend {
  const ClipscopeGraphOps *ops;
  ClipscopeModel          *model;     /* borrowed */
  int                      chunk;     /* inputs per pass */
  ClipscopeWeights        *weights;   /* borrowed, bound by the backend */
  GCancellable            *cancellable; /* of the pass running; borrowed */
};

/* ------------------------------------------------------------ weights */

typedef struct {
  ClipscopeView ln_1_w, ln_1_b;
  ClipscopeView qkv_w, qkv_b;       /* q, k and v stacked (3 · width, width); or q */
  ClipscopeView k_w, k_b, v_w, v_b; /* when not stacked; else absent */
  ClipscopeView out_w, out_b;
  ClipscopeView ln_2_w, ln_2_b;
  ClipscopeView fc1_w, fc1_b;
  ClipscopeView fc2_w, fc2_b;
} ClipscopeBlockWeights;

typedef struct {
  ClipscopeView w, b;
} ClipscopeConvWeights;

typedef struct {
  ClipscopeConvWeights conv1, conv2, conv3, downsample;
} ClipscopeBottleneckWeights;

struct _ClipscopeWeights {
  ClipscopeBlockWeights *vision_blocks;     /* ViT (n_layers) */
  ClipscopeBlockWeights *text_blocks;       /* (n_layers) */
  ClipscopeView patch_w, class_emb, vit_pos, ln_pre_w, ln_pre_b, ln_post_w, ln_post_b, vit_proj;
  ClipscopeView patch_b;                  /* SigLIP's MAP head: */
  ClipscopeView map_q, map_kv_w, map_kv_b;  /* k and v stacked; or k */
  ClipscopeView map_v_w, map_v_b;         /* when not stacked; else absent */
  ClipscopeView map_out_w, map_out_b, map_ln_w, map_ln_b;
  ClipscopeView map_fc1_w, map_fc1_b, map_fc2_w, map_fc2_b;
  ClipscopeConvWeights stem[3];
  ClipscopeBottleneckWeights *bottlenecks;  /* (n_blocks) */
  ClipscopeView pool_pos, pool_q_w, pool_q_b;
  ClipscopeView pool_kv_w, pool_kv_b;     /* k and v stacked; or k */
  ClipscopeView pool_v_w, pool_v_b;       /* when not stacked; else absent */
  ClipscopeView pool_c_w, pool_c_b;
  ClipscopeView token_emb, text_pos, ln_final_w, ln_final_b, text_proj, text_proj_b;
  ClipscopeView ln_emb_w, ln_emb_b;         /* BERT's, instead of ln_final */
};

typedef enum {
  CLIPSCOPE_WEIGHT_VECTOR,    /* biases, norms, positions */
  CLIPSCOPE_WEIGHT_MATRIX,    /* linear and convolution weights, the token embedding */
} ClipscopeWeightKind;

/* Binds one tensor of @n_parts consecutive parts (@sizes elements each),
 * all of @dtype: float32, or, for a matrix of a 16-bit file, float16 or
 * bfloat16, which the parts then point to despite their type (see
 * model.h); for several parts, may return an absent tensor to have them
 * bound one by one instead. */
typedef ClipscopeView (*ClipscopeBindFunc) (gpointer             binder,
                                              ClipscopeWeightKind  kind,
                                              ClipscopeDtype       dtype,
                                              int                  n_parts,
                                              const float *const  *parts,
                                              const gsize         *sizes);

void clipscope_weights_bind (ClipscopeWeights     *w,
                             const ClipscopeModel *model,
                             ClipscopeBindFunc     bind,
                             gpointer              binder);
void clipscope_weights_clear (ClipscopeWeights *w);

/* ------------------------------------------------------------- graphs */

/* A side of @c's output, for a side of @in. */
static inline int
clipscope_conv_out (const ClipscopeConv *c,
                    int                  in)
{
  return (in + 2 * c->pad - c->kernel) / c->stride + 1;
}

/* Bytes one input needs in each slot; the spatial slots' for one image. */
void clipscope_graph_slot_sizes (const ClipscopeModel *model,
                                 gsize                 per_item[CLIPSCOPE_N_SLOTS]);

typedef enum {
  CLIPSCOPE_PASS_PIXELS,    /* float [n, 3, s, s] → [n, embed_dim] */
  CLIPSCOPE_PASS_TOKENS,    /* int32 [n, context_length], zero-padded → [n, embed_dim] */
  CLIPSCOPE_PASS_EXPLAIN,   /* one image → [1 + grid², embed_dim]: its embedding, then
                             * its spatial ones (see clipscope_context_explain_pixels()) */
} ClipscopePass;

/* Runs the tower of @pass over @in, a chunk at a time; @out receives
 * L2-normalised rows. */
gboolean clipscope_graph_run (ClipscopeGraphBackend *be,
                              ClipscopePass          pass,
                              gconstpointer          in,
                              int                    n,
                              float                 *out,
                              GCancellable          *cancellable,
                              GError               **error);

/* The towers, recorded for @n inputs already in their slots. With
 * @spatial (one image), SPATIAL_OUT receives every token's projected row;
 * otherwise OUT receives [n, embed_dim], neither normalised. */
void clipscope_vit_record (ClipscopeGraphBackend *be,
                           int                    n,
                           gboolean               spatial);
void clipscope_resnet_record (ClipscopeGraphBackend *be,
                              int                    n,
                              gboolean               spatial);
/* @index holds each sequence's end-of-text position, seq the longest. */
void clipscope_text_record (ClipscopeGraphBackend *be,
                            int                    n,
                            int                    seq);
/* Chinese-CLIP's BERT (bert.c): @index holds each sequence's length, seq
 * the longest. */
void clipscope_bert_record (ClipscopeGraphBackend *be,
                            int                    n,
                            int                    seq);

/* The activation of @tf's MLPs. */
static inline ClipscopeAct
clipscope_transformer_act (const ClipscopeTransformer *tf)
{
  if (tf->quick_gelu)
    return CLIPSCOPE_ACT_QUICK_GELU;
  return tf->gelu_tanh ? CLIPSCOPE_ACT_GELU_TANH : CLIPSCOPE_ACT_GELU;
}

/* transformer.c: x += attn(LN₁(x)); x += mlp(LN₂(x)) for every block, on
 * SLOT_X [n · seq, width]. With @every_row, every row stays in SLOT_X;
 * otherwise the last block computes only the pooled row of each sequence
 * (row index[b], or 0 without @index) and leaves it in SLOT_POOL. */
void clipscope_transformer_record (ClipscopeGraphBackend       *be,
                                   const ClipscopeTransformer  *tf,
                                   const ClipscopeBlockWeights *blocks,
                                   int                          n,
                                   int                          seq,
                                   gboolean                     causal,
                                   ClipscopeView              index,
                                   gboolean                     every_row);

/* y[:, 0 : n_out] (and the next parts' columns) = x · wᵀ + b for a weight
 * bound stacked (@w2 absent) or as parts w, w2 (, w3), n_out columns each. */
void clipscope_graph_linear_parts (ClipscopeGraphBackend *be,
                                   ClipscopeView        x,
                                   int                    ldx,
                                   int                    rows,
                                   int                    n_in,
                                   const ClipscopeView *w,
                                   const ClipscopeView *b,
                                   int                    n_parts,
                                   int                    n_out,
                                   ClipscopeView        y,
                                   int                    ldy);

G_END_DECLS
