/* attention.comp — multi-head scaled dot-product attention
 *
 * One invocation per (sequence b, head h, query i) computes
 * softmax(q kᵀ / √hd) · v for its query in one pass over the keys, with
 * the running maximum subtracted before exp so that exp never overflows:
 * when a key raises the maximum, the sum and the accumulated values so
 * far are scaled down by exp(old − new) (an "online" softmax). Each key
 * and value row is read once.
 *
 * Query i of sequence b is row b · q_bstride + first + i of Q, where
 * first is index[b] with USE_INDEX (a pooled row: the class token or the
 * end-of-text token) and 0 otherwise; with the causal mask it sees the
 * keys up to position first + i. Its output is row b · n_q + i of O.
 *
 * The head dimension is the specialization constant HEAD_DIM, so that
 * the loops over it unroll and q and the accumulators stay in registers
 * (see gemm.comp on arrays indexed at run time). With TEXEL defined, q, k
 * and v are read four at a time through uniform texel buffers (bindings
 * 4 and 5; see gemm.comp for why); HEAD_DIM and every offset and stride
 * are then multiples of 4.
 */
#version 450
#include "types.glsl"
#extension GL_EXT_control_flow_attributes : require

layout (local_size_x_id = 0) in;
layout (constant_id = 4) const uint HEAD_DIM = 64;

layout (binding = 0) readonly buffer Q { afp q[]; };
layout (binding = 1) readonly buffer KV { afp kv[]; };
layout (binding = 2) writeonly buffer O { afp o[]; };
layout (binding = 3) readonly buffer I { int index[]; };

#ifdef TEXEL
layout (binding = 4) uniform samplerBuffer q_texels;
layout (binding = 5) uniform samplerBuffer kv_texels;
#define VEC afpvec4
#define WIDTH 4u
#define LOAD_Q(i) texelFetch (q_texels, int ((i) / 4u))
#define LOAD_KV(i) texelFetch (kv_texels, int ((i) / 4u))
#define DOT(a, b) dot (a, b)
#define COMPONENT(v, c) (v)[c]
#else
#define VEC afp
#define WIDTH 1u
#define LOAD_Q(i) q[i]
#define LOAD_KV(i) kv[i]
#define DOT(a, b) ((a) * (b))
#define COMPONENT(v, c) (v)
#endif
#define N_VEC ((HEAD_DIM + WIDTH - 1u) / WIDTH)

layout (push_constant) uniform Push {
  uint batch, seq, n_q, n_heads, head_dim;
  uint ldq, ldkv, ldo;
  uint q_off, k_off, v_off, o_off;
  uint q_bstride, flags;      /* 1: causal, 2: use index */
  float scale;
} p;

void
main ()
{
  const uint id = gl_GlobalInvocationID.x;
  const uint i = id % p.n_q, h = (id / p.n_q) % p.n_heads, b = id / (p.n_q * p.n_heads);
  afp max_s = -3.402823e38, sum = 0.0;
  uint first, n_keys, qrow, krow0;
  VEC qv[N_VEC], acc[N_VEC];

  if (b >= p.batch)
    return;
  first = (p.flags & 2u) != 0u ? uint (index[b]) : 0u;
  n_keys = (p.flags & 1u) != 0u ? min (first + i + 1, p.seq) : p.seq;
  qrow = p.q_off + (b * p.q_bstride + first + i) * p.ldq + h * HEAD_DIM;
  krow0 = b * p.seq;
  [[unroll]] for (uint d = 0; d < N_VEC; d++)
    {
      qv[d] = LOAD_Q (qrow + d * WIDTH) * p.scale;
      acc[d] = VEC (0.0);
    }
  for (uint j = 0; j < n_keys; j++)
    {
      const uint kr = p.k_off + (krow0 + j) * p.ldkv + h * HEAD_DIM;
      const uint vr = p.v_off + (krow0 + j) * p.ldkv + h * HEAD_DIM;
      afp s = 0.0, m, r, e;

      [[unroll]] for (uint d = 0; d < N_VEC; d++)
        s += DOT (qv[d], LOAD_KV (kr + d * WIDTH));
      m = max (max_s, s);
      r = exp (max_s - m);
      e = exp (s - m);
      max_s = m;
      sum = sum * r + e;
      [[unroll]] for (uint d = 0; d < N_VEC; d++)
        acc[d] = acc[d] * r + e * LOAD_KV (vr + d * WIDTH);
    }
  [[unroll]] for (uint d = 0; d < N_VEC; d++)
    [[unroll]] for (uint c = 0; c < WIDTH; c++)
      o[p.o_off + (b * p.n_q + i) * p.ldo + h * HEAD_DIM + d * WIDTH + c] = COMPONENT (acc[d], c) / sum;
}
