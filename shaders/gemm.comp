/* gemm.comp — C[M, N] = act(A[M, K] · W[N, K]ᵀ + bias[N] (+ C))
 *
 * The product of linear layers on CPU implementations (GPUs take
 * gemm_tiled.comp) and of convolutions everywhere. W keeps PyTorch's
 * [out, in] layout. Each invocation computes a TM × TN block of C in
 * registers and reads A and W straight from memory without shared
 * memory: on CPU implementations (lavapipe) shared memory is plain memory
 * plus barriers, and register blocking is what makes the loop fast there.
 *
 * Every loop over the tile is marked [[unroll]]: TM and TN are
 * specialization constants, and a loop the compiler leaves rolled makes
 * acc[] an array indexed at run time, which lavapipe keeps in memory and
 * reaches lane by lane. Unrolled, the accumulators are plain values; that
 * alone made the product on lavapipe about twice as fast.
 *
 * With TEXEL defined, the vector loads go through uniform texel buffers
 * (bindings 4 and 5) instead: on lavapipe a texel fetch is a vector
 * gather, where a load from a storage buffer is a loop over the SIMD
 * lanes. Each fetch costs about the same whatever it brings, and costs
 * more than the multiply-adds it feeds, so fetches are made as wide as
 * they go: 16 bytes, four float32 values of A, and with WEIGHT_F16 too
 * eight float16 weights, fetched as four 32-bit words of two halves
 * each (that made the products on lavapipe a quarter faster than
 * fetching four halves converted by the texel format).
 *
 * With CONV defined, A is not stored: A(m, k) is read from a feature map
 * as an implicit im2col, m = (image, out_y, out_x) and k = (channel,
 * kernel_y, kernel_x), which matches the [c_out, c_in, k, k] weight.
 */
#version 450
#include "types.glsl"
#extension GL_EXT_control_flow_attributes : require

layout (local_size_x_id = 0) in;
layout (constant_id = 1) const int TM = 4;
layout (constant_id = 2) const int TN = 4;

layout (binding = 0) readonly buffer A1 { afp a1[]; };
layout (binding = 0) readonly buffer A4 { afpvec4 a4[]; };
layout (binding = 1) readonly buffer W1 { sfp w1[]; };
layout (binding = 1) readonly buffer W4 { sfpvec4 w4[]; };
layout (binding = 2) readonly buffer B1 { float bias[]; };
layout (binding = 3) buffer C1 { afp c1[]; };
/* LOAD_W (i, w) sets w[0 … WQ − 1], the WQ quads of weights from
 * element i on. */
#ifdef TEXEL
layout (binding = 4) uniform samplerBuffer a_texels;
#define LOAD_A4(i) texelFetch (a_texels, int ((i) / 4))
#ifdef WEIGHT_F16
layout (binding = 5) uniform usamplerBuffer w_texels;
#define WQ 2
#define LOAD_W(i, w)                                                    \
  {                                                                     \
    uvec4 u_ = texelFetch (w_texels, int ((i) / 8));                    \
    w[0] = afpvec4 (unpackHalf2x16 (u_.x), unpackHalf2x16 (u_.y));      \
    w[1] = afpvec4 (unpackHalf2x16 (u_.z), unpackHalf2x16 (u_.w));      \
  }
#else
layout (binding = 5) uniform samplerBuffer w_texels;
#define WQ 1
#define LOAD_W(i, w) w[0] = texelFetch (w_texels, int ((i) / 4))
#endif
#else
#define LOAD_A4(i) a4[(i) / 4]
#define WQ 1
#define LOAD_W(i, w) w[0] = afpvec4 (w4[(i) / 4])
#endif

#include "gemm-push.glsl"
#include "gemm-store.glsl"

#ifdef CONV
#include "im2col.glsl"
#endif

void
main ()
{
  /* Each invocation owns one TM × TN tile; neighbouring invocations take
   * neighbouring tiles of the same rows. */
  const uint tiles_n = (p.n + TN - 1) / TN;
  const uint tile = gl_GlobalInvocationID.x;
  const uint m0 = (tile / tiles_n) * TM, n0 = (tile % tiles_n) * TN;
  afp acc[TM * TN];
  uint rows[TM], cols[TN];

  if (m0 >= p.m)
    return;
  /* Rows and columns past the edge read the last valid one, which keeps
   * the inner loop free of branches; their results are not written. */
  [[unroll]] for (int i = 0; i < TM; i++)
    rows[i] = min (m0 + i, p.m - 1);
  [[unroll]] for (int j = 0; j < TN; j++)
    cols[j] = min (n0 + j, p.n - 1);
  [[unroll]] for (int i = 0; i < TM * TN; i++)
    acc[i] = 0.0;

#ifdef CONV
  int img[TM], oy[TM], ox[TM];
  [[unroll]] for (int i = 0; i < TM; i++)
    conv_window (rows[i], img[i], oy[i], ox[i]);
  for (uint k = 0; k < p.k; k++)
    {
      afp a[TM];
      [[unroll]] for (int i = 0; i < TM; i++)
        a[i] = conv_load (img[i], oy[i], ox[i], k);
      [[unroll]] for (int j = 0; j < TN; j++)
        {
          afp w = afp (w1[p.w_off + cols[j] * p.ldw + k]);
          [[unroll]] for (int i = 0; i < TM; i++)
            acc[i * TN + j] += a[i] * w;
        }
    }
#else
  /* FLAG_VEC4: rows of A start on 4-element boundaries and rows of W on
   * 4 · WQ-element ones. */
  uint k = 0;
  if ((p.flags & FLAG_VEC4) != 0u)
    for (; k + 4 * WQ <= p.k; k += 4 * WQ)
      {
        afpvec4 a[TM * WQ];
        [[unroll]] for (int i = 0; i < TM; i++)
          [[unroll]] for (int q = 0; q < WQ; q++)
            a[i * WQ + q] = LOAD_A4 (p.a_off + rows[i] * p.lda + k + 4 * q);
        [[unroll]] for (int j = 0; j < TN; j++)
          {
            afpvec4 w[WQ];
            LOAD_W (p.w_off + cols[j] * p.ldw + k, w);
            [[unroll]] for (int i = 0; i < TM; i++)
              [[unroll]] for (int q = 0; q < WQ; q++)
                acc[i * TN + j] += dot (a[i * WQ + q], w[q]);
          }
      }
  for (; k < p.k; k++)
    {
      afp a[TM];
      [[unroll]] for (int i = 0; i < TM; i++)
        a[i] = a1[p.a_off + rows[i] * p.lda + k];
      [[unroll]] for (int j = 0; j < TN; j++)
        {
          afp w = afp (w1[p.w_off + cols[j] * p.ldw + k]);
          [[unroll]] for (int i = 0; i < TM; i++)
            acc[i * TN + j] += a[i] * w;
        }
    }
#endif

  [[unroll]] for (int i = 0; i < TM; i++)
    [[unroll]] for (int j = 0; j < TN; j++)
      gemm_store (m0 + i, n0 + j, acc[i * TN + j]);
}
