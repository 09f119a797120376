/* encoder.h — the encoder graphs of the CPU backend */
#pragma once

#include "model.h"

G_BEGIN_DECLS

/* Named scratch buffers that grow on demand and are kept between calls,
 * so a context allocates once per batch size, not per call. */
typedef enum {
  SCRATCH_X,          /* the residual stream or feature map */
  SCRATCH_H,          /* normalised input of a sub-layer */
  SCRATCH_QKV,        /* [rows, 3 · width] */
  SCRATCH_ATTN,       /* attention output */
  SCRATCH_MLP,        /* [rows, mlp_width] */
  SCRATCH_SCORES,     /* one head's [seq, seq] */
  SCRATCH_COLS,       /* im2col patches */
  SCRATCH_TMP,
  SCRATCH_TMP2,
  N_SCRATCH,
} ClipscopeScratchSlot;

typedef struct {
  float *buf[N_SCRATCH];
  gsize  size[N_SCRATCH];          /* in floats */
} ClipscopeScratch;

/* The buffer of @slot with room for @n floats, or NULL with @error set. */
float *clipscope_scratch_get (ClipscopeScratch    *s,
                              ClipscopeScratchSlot slot,
                              gsize                n,
                              GError             **error);
void clipscope_scratch_clear (ClipscopeScratch *s);

/* Runs the blocks of @tf over x[batch · seq, width] in place. With
 * @pool_rows, the towers want only row pool_rows[b] of each sequence b out
 * of the last block, so that block computes just those rows and leaves
 * them in x[0 : batch]; the rest of x is then undefined. */
gboolean clipscope_transformer_forward (const ClipscopeTransformer *tf,
                                        float                      *x,
                                        int                         batch,
                                        int                         seq,
                                        gboolean                    causal,
                                        const int                  *pool_rows,
                                        ClipscopeScratch           *s,
                                        GCancellable               *cancellable,
                                        GError                    **error);

/* Each writes [n, embed_dim] projected, not yet normalised embeddings. */
gboolean clipscope_vit_encode (ClipscopeModel   *model,
                               ClipscopeScratch *s,
                               const float      *pixels,
                               int               n,
                               float            *out,
                               GCancellable     *cancellable,
                               GError          **error);

gboolean clipscope_resnet_encode (ClipscopeModel   *model,
                                  ClipscopeScratch *s,
                                  const float      *pixels,
                                  int               n,
                                  float            *out,
                                  GCancellable     *cancellable,
                                  GError          **error);

/* Each writes out[1 + grid², embed_dim], projected, not yet normalised:
 * row 0 the image's embedding, then one row per grid cell, row by row
 * from the top left. @pixels is one image. */
gboolean clipscope_vit_encode_spatial (ClipscopeModel   *model,
                                       ClipscopeScratch *s,
                                       const float      *pixels,
                                       float            *out,
                                       GCancellable     *cancellable,
                                       GError          **error);

gboolean clipscope_resnet_encode_spatial (ClipscopeModel   *model,
                                          ClipscopeScratch *s,
                                          const float      *pixels,
                                          float            *out,
                                          GCancellable     *cancellable,
                                          GError          **error);

/* explain.c: out[1 + grid², embed_dim], L2-normalised: the image's
 * embedding, then its spatial embeddings, by the CPU graphs. */
gboolean clipscope_explain_pixels_cpu (ClipscopeModel   *model,
                                       ClipscopeScratch *s,
                                       const float      *pixels,
                                       float            *out,
                                       GCancellable     *cancellable,
                                       GError          **error);

/* @tokens: [n, context_length], zero-padded. */
gboolean clipscope_text_encode (ClipscopeModel   *model,
                                ClipscopeScratch *s,
                                const int32_t    *tokens,
                                int               n,
                                float            *out,
                                GCancellable     *cancellable,
                                GError          **error);

G_END_DECLS
