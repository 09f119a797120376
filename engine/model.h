/* model.h — the loaded model: configuration and weights
 *
 * Every weight pointer below is row-major and either points into the
 * mapped safetensors file (float32 tensors at an aligned offset) or into
 * memory the model owns (converted float16/bfloat16 tensors, folded batch
 * norms), as float32 — except the weight matrices (linear and patch
 * weights, the token embedding) of a float16 or bfloat16 file, which stay
 * in the mapping as they are: clipscope_model_weight_dtype() tells them
 * apart, and only the backends read them, through the bound weights
 * (graph.h). Linear weights keep PyTorch's [out, in] layout, so a layer
 * computes y = x Wᵀ + b.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "clipscope-private.h"
#include "safetensors.h"
#include "text-tokenizer.h"
#include "preprocess.h"

G_BEGIN_DECLS

/* One pre-LN residual attention block, the same in both towers. */
typedef struct {
  const float *ln_1_w, *ln_1_b;     /* (width) */
  const float *q_w, *k_w, *v_w;     /* (width, width) each */
  const float *q_b, *k_b, *v_b;     /* (width) each */
  const float *out_w, *out_b;       /* (width, width), (width) */
  const float *ln_2_w, *ln_2_b;     /* (width) */
  const float *fc1_w, *fc1_b;       /* (mlp_width, width), (mlp_width) */
  const float *fc2_w, *fc2_b;       /* (width, mlp_width), (width) */
} ClipscopeBlock;

typedef struct {
  int             width;
  int             n_layers;
  int             n_heads;
  int             mlp_width;
  gboolean        quick_gelu;
  gboolean        gelu_tanh;        /* GELU's tanh approximation (unless quick_gelu) */
  float           ln_eps;
  ClipscopeBlock *blocks;           /* (n_layers) */
} ClipscopeTransformer;

/* SigLIP's multi-head attention pooling (MAP): a learnt probe queries
 * the post-normed tokens, then h += mlp(LN(h)), with no projection after
 * it. The probe's query, q = probe · W_qᵀ + b_q, is the same for every
 * image and is computed once, when the model loads. */
typedef struct {
  const float *q;                   /* (width) */
  const float *k_w, *v_w;           /* (width, width) each */
  const float *k_b, *v_b;           /* (width) each */
  const float *out_w, *out_b;
  const float *ln_w, *ln_b;
  const float *fc1_w, *fc1_b;       /* (mlp_width, width), (mlp_width) */
  const float *fc2_w, *fc2_b;       /* (width, mlp_width), (width) */
} ClipscopeMapHead;

typedef struct {
  ClipscopeTransformer tf;
  int          image_size;
  int          patch_size;
  int          n_patches;           /* (image_size / patch_size)² */
  /* CLIP: a class token, LN_pre, LN_post of the class token, projection.
   * SigLIP (map_head): patch bias, no class token, no LN_pre, LN_post of
   * every token, the MAP head, no projection. */
  gboolean     map_head;
  const float *patch_w;             /* (width, 3 · patch · patch): the conv as a matrix */
  const float *patch_b;             /* (width); SigLIP only */
  const float *class_emb;           /* (width); CLIP only */
  const float *pos_emb;             /* ((CLIP: 1 +) n_patches, width) */
  const float *ln_pre_w, *ln_pre_b; /* (width); CLIP only */
  const float *ln_post_w, *ln_post_b;
  const float *proj;                /* (embed_dim, width); CLIP only */
  ClipscopeMapHead head;            /* SigLIP only */
} ClipscopeVit;

/* A convolution with its batch norm folded in: y = conv(x, w) + b. */
typedef struct {
  int          c_in, c_out, kernel, stride, pad;
  const float *w;                   /* (c_out, c_in · kernel · kernel) */
  const float *b;                   /* (c_out) */
} ClipscopeConv;

typedef struct {
  int           stride;             /* avg-pool factor after conv2; 1 = none */
  ClipscopeConv conv1, conv2, conv3;
  gboolean      has_downsample;
  ClipscopeConv downsample;         /* 1×1, applied after an avg-pool of stride */
} ClipscopeBottleneck;

typedef struct {
  int                  image_size;
  int                  width;                /* stem width */
  int                  n_layers[4];
  ClipscopeConv        stem[3];
  ClipscopeBottleneck *blocks;               /* all stages, in order */
  int                  n_blocks;
  /* Attention pooling over the final (image_size / 32)² grid. */
  int          pool_dim;                     /* width · 32 */
  int          pool_heads;
  int          pool_grid;                    /* image_size / 32 */
  const float *pool_pos;                     /* (1 + grid², pool_dim) */
  const float *pool_q_w, *pool_k_w, *pool_v_w; /* (pool_dim, pool_dim) */
  const float *pool_q_b, *pool_k_b, *pool_v_b; /* (pool_dim) */
  const float *pool_c_w, *pool_c_b;          /* (embed_dim, pool_dim), (embed_dim) */
} ClipscopeResnet;

/* CLIP's and SigLIP's text tower, or with @bert Chinese-CLIP's BERT (bert.c): its
 * blocks post-LN (ln_1 after attention, ln_2 after the MLP), the
 * embeddings normalised by ln_emb, padding masked, the first token pooled,
 * and no final LN. */
typedef struct {
  ClipscopeTransformer tf;
  int          vocab_size;
  int          context_length;
  /* CLIP: causal, pooled at the end-of-text token (the largest id), the
   * sequence cut after the chunk's last one. SigLIP: bidirectional, no
   * padding mask, always the whole context, pooled at the last position.
   * Chinese-CLIP (@bert): see above. */
  gboolean     pool_last;
  gboolean     no_head;             /* SigLIP's config says there is no head */
  gboolean     bert;
  int          n_positions;         /* BERT: rows of the position table */
  int          n_token_types;       /* BERT: rows of the token-type table */
  int          pad_id;              /* BERT: the id padding uses, masked */
  const float *token_emb;           /* (vocab_size, width) */
  const float *pos_emb;             /* (context_length, width); BERT: plus token type 0 */
  const float *ln_final_w, *ln_final_b;  /* CLIP, SigLIP */
  const float *ln_emb_w, *ln_emb_b;      /* BERT */
  const float *proj;                /* (embed_dim, width); NULL: the identity (SigLIP) */
  const float *proj_b;              /* (embed_dim) or NULL */
} ClipscopeTextTower;

struct _ClipscopeModel {
  gatomicrefcount ref_count;
  char           *path;

  ClipscopeModelInfo         info;
  ClipscopePreprocessParams  preprocess;

  ClipscopeVit               vit;          /* when info.vision_kind is VIT */
  ClipscopeResnet            resnet;       /* when info.vision_kind is RESNET */
  ClipscopeTextTower         text;

  /* Owned References */
  ClipscopeSafetensors *weights_file;
  ClipscopeTextTokenizer *tokenizer;
  GPtrArray            *owned;             /* converted or folded weights (g_free) */
  GHashTable           *half_weights;      /* matrix left 16-bit → its ClipscopeDtype */

  /* What a backend derives once from the weights and shares between the
   * contexts of the model (cpu-gemm.c's packed matrices): made under
   * derived_lock, freed with the model by derived_free. */
  GMutex                derived_lock;
  gpointer              derived;
  GDestroyNotify        derived_free;
};

/* F32, or F16 or BF16 for a weight matrix of a 16-bit file that @data
 * points to (a pointer of the model's, or of a part of one). */
ClipscopeDtype clipscope_model_weight_dtype (const ClipscopeModel *model,
                                             const void           *data);

/* config.c: fills model->info, ->preprocess and the tower dimensions from
 * the folder's JSON files. */
gboolean clipscope_model_read_config (ClipscopeModel *model,
                                      GError        **error);

/* Parses a JSON file of at most CLIPSCOPE_MAX_CONFIG_BYTES into an object. */
JsonObject *clipscope_read_json_object (const char *path,
                                        GError    **error);

G_END_DECLS
