/* cpu-gemm.h — the CPU backend's linear layers through oneDNN
 *
 * Where the build has oneDNN (-Ddnnl), a linear layer is one oneDNN
 * matmul: bias, activation and residual accumulate fused into it, the
 * weight matrices of the model reordered once, at their first use, into
 * the blocked layout the matmul wants (and to bfloat16 when the context
 * computes in bfloat16, or quantised to int8 with a scale per output
 * channel when it computes in int8, see cpu-quant.h; a float16 matrix of
 * the model is widened exactly to float32 on the way and a bfloat16 one
 * reordered as it is (widened too for int8), so that a 16-bit file
 * computes as its float32 twin would). In int8 each product's input rows
 * are quantised too and the int32 sums scaled back, bias, residual and
 * activation added, by cpu-quant.h's epilogue, as oneDNN 2.6's fast int8
 * kernels cannot scale by row. Primitives are made once per shape and
 * shared by every context of the process, packed weights once per model
 * and precision and shared by the model's contexts; each context owns its
 * stream and scratch, so contexts run concurrently on their own threads.
 * Without oneDNN, or with CLIPSCOPE_CPU_GEMM=openblas in the environment
 * (the tests run both), clipscope_cpu_gemm_new() returns NULL and the
 * backend multiplies with OpenBLAS.
 */
#pragma once

#include "cpu-ops.h"
#include "graph.h"

G_BEGIN_DECLS

typedef struct _ClipscopeCpuGemm ClipscopeCpuGemm;

/* A context's oneDNN state computing in @precision for @model (NULL: no
 * weights pinned), or NULL where linear layers go to OpenBLAS: without
 * oneDNN, when the environment asks for OpenBLAS, for bfloat16 on a
 * CPU without bfloat16 instructions and for int8 on one without VNNI. */
ClipscopeCpuGemm *clipscope_cpu_gemm_new (ClipscopePrecision precision,
                                          ClipscopeModel    *model);
void clipscope_cpu_gemm_free (ClipscopeCpuGemm *gemm);

/* Ends a pass of the context: what packing the model's matrices needed
 * for the while goes. */
void clipscope_cpu_gemm_pass_done (ClipscopeCpuGemm *gemm);

/* Marks @w, of @dtype (F32, or F16 or BF16, see model.h), as a weight
 * matrix of the model, which stays unchanged as long as the model lives:
 * it may be packed once and the packed copy reused by every context. */
void clipscope_cpu_gemm_pin (ClipscopeCpuGemm *gemm,
                             const float      *w,
                             ClipscopeDtype    dtype);

/* Matrices the model keeps apart (q, k and v) multiplied as one, stacked
 * by rows. */
typedef struct {
  int            n_parts;
  const float   *parts[3];
  gsize          sizes[3];     /* elements */
  ClipscopeDtype dtype;
} ClipscopeCpuStack;

/* @n_parts (at most 3) arrays of @dtype stacked, once per model (keyed by
 * parts[0]) and freed with it; NULL without oneDNN or memory. With @copy
 * (vectors), a copy of them one after the other; without (matrices), a
 * ClipscopeCpuStack naming them, which stands for the stacked matrix:
 * pinned, it is packed from the parts, and clipscope_cpu_gemm_stack_of()
 * tells it apart where it has to be multiplied part by part. */
const void *clipscope_cpu_gemm_stack (ClipscopeCpuGemm   *gemm,
                                      int                 n_parts,
                                      const float *const *parts,
                                      const gsize        *sizes,
                                      ClipscopeDtype      dtype,
                                      gboolean            copy);

/* The parts @w stands for, where it is a stack of matrices; else NULL. */
const ClipscopeCpuStack *clipscope_cpu_gemm_stack_of (ClipscopeCpuGemm *gemm,
                                                      const void       *w);

/* y[rows, n_out] = act(x · wᵀ + b (+ y)), as clipscope_cpu_linear() and
 * the activations of cpu-ops.h, w of @w_dtype (a 16-bit one must be
 * pinned); FALSE, having done nothing, where oneDNN has no fast kernel
 * for the case (or runs out of memory): the caller then computes it with
 * OpenBLAS. */
gboolean clipscope_cpu_gemm_linear (ClipscopeCpuGemm *gemm,
                                    const float      *x,
                                    int               ldx,
                                    int               rows,
                                    int               n_in,
                                    const float      *w,
                                    ClipscopeDtype    w_dtype,
                                    const float      *b,
                                    int               n_out,
                                    float            *y,
                                    int               ldy,
                                    ClipscopeAct      act,
                                    gboolean          accumulate);

/* @a as two batched products per chunk of sequences, every head at once,
 * with a softmax between them; FALSE where oneDNN cannot (an index of
 * first queries, a query shared by all sequences, no fast kernel, out of
 * memory): the caller then runs clipscope_cpu_attention(), which
 * overwrites all of out. */
gboolean clipscope_cpu_gemm_attention (ClipscopeCpuGemm            *gemm,
                                       const ClipscopeCpuAttention *a);

/* "oneDNN 2.6.3" or "oneDNN 2.6.3 bf16", or NULL without oneDNN. */
const char *clipscope_cpu_gemm_describe (const ClipscopeCpuGemm *gemm);

G_END_DECLS
