/* gemm_tiled.comp — C[M, N] = act(A[M, K] · W[N, K]ᵀ + bias[N] (+ C)),
 * tiled through shared memory, for GPUs
 *
 * A workgroup of WX × WY invocations computes a BM × BN block of C, BM =
 * WY · TM and BN = WX · TN. For each slice of BK columns of K it copies
 * the block's rows of A and of W into shared memory, every invocation
 * copying a few elements with neighbours reading neighbouring addresses,
 * and then each invocation accumulates its TM × TN outputs from shared
 * memory. The outputs of an invocation are strided by WY rows and WX
 * columns, so that neighbouring invocations read neighbouring shared
 * words and write neighbouring words of C. Elements past the edges of A
 * and W are read as 0, so any shape and stride works.
 *
 * This is the product for GPUs: on CPU implementations shared memory is
 * ordinary memory and its barriers are costly, and gemm.comp's register
 * tiles are faster there (see vulkan-device.c).
 */
#version 450
#include "types.glsl"
#extension GL_EXT_control_flow_attributes : require

layout (local_size_x_id = 0, local_size_y_id = 3) in;
layout (constant_id = 1) const uint TM = 4;
layout (constant_id = 2) const uint TN = 4;

#define WX gl_WorkGroupSize.x
#define WY gl_WorkGroupSize.y
#define BK 16u
const uint BM = WY * TM, BN = WX * TN;

layout (binding = 0) readonly buffer A1 { afp a1[]; };
layout (binding = 1) readonly buffer W1 { sfp w1[]; };
layout (binding = 2) readonly buffer B1 { float bias[]; };
layout (binding = 3) buffer C1 { afp c1[]; };

#include "gemm-push.glsl"
#include "gemm-store.glsl"

/* [k][m] and [k][n]; the rows are one longer than the block, so that the
 * copies, whose neighbours differ in k, do not all hit one bank. */
shared afp a_tile[BK * (BM + 1)];
shared afp w_tile[BK * (BN + 1)];

void
main ()
{
  const uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
  const uint tid = ty * WX + tx, threads = WX * WY;
  const uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN;
  afp acc[TM * TN];

  [[unroll]] for (uint i = 0; i < TM * TN; i++)
    acc[i] = 0.0;
  for (uint k0 = 0; k0 < p.k; k0 += BK)
    {
      for (uint e = tid; e < BM * BK; e += threads)
        {
          uint r = e / BK, c = e % BK, m = m0 + r, k = k0 + c;

          a_tile[c * (BM + 1) + r] = m < p.m && k < p.k ? a1[p.a_off + m * p.lda + k] : 0.0;
        }
      for (uint e = tid; e < BN * BK; e += threads)
        {
          uint r = e / BK, c = e % BK, n = n0 + r, k = k0 + c;

          w_tile[c * (BN + 1) + r] = n < p.n && k < p.k ? afp (w1[p.w_off + n * p.ldw + k]) : 0.0;
        }
      barrier ();
      [[unroll]] for (uint kk = 0; kk < BK; kk++)
        {
          afp a[TM], w[TN];

          [[unroll]] for (uint i = 0; i < TM; i++)
            a[i] = a_tile[kk * (BM + 1) + ty + i * WY];
          [[unroll]] for (uint j = 0; j < TN; j++)
            w[j] = w_tile[kk * (BN + 1) + tx + j * WX];
          [[unroll]] for (uint i = 0; i < TM; i++)
            [[unroll]] for (uint j = 0; j < TN; j++)
              acc[i * TN + j] += a[i] * w[j];
        }
      /* The next slice may not overwrite what others still read. */
      barrier ();
    }
  [[unroll]] for (uint i = 0; i < TM; i++)
    [[unroll]] for (uint j = 0; j < TN; j++)
      gemm_store (m0 + ty + i * WY, n0 + tx + j * WX, acc[i * TN + j]);
}
