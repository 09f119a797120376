/* attention.comp — multi-head scaled dot-product attention
 *
 * One invocation per (sequence b, head h, block of QT queries) computes
 * softmax(q kᵀ / √hd) · v for its queries in one pass over the keys, with
 * the running maximum subtracted before exp so that exp never overflows:
 * when a key raises a query's maximum, its sum and accumulated values so
 * far are scaled down by exp(old − new) (an "online" softmax). Each key
 * and value row is read once per block and serves all QT queries, which
 * matters where loads cost more than arithmetic (CPU implementations);
 * GPUs take QT = 1.
 *
 * Query i of sequence b is row b · q_bstride + first + i of Q, where
 * first is index[b] with USE_INDEX (a pooled row: the class token or the
 * end-of-text token) and 0 otherwise; with the causal mask it sees the
 * keys up to position first + i, and with USE_LENGTHS (a padding mask)
 * none at or past index[len_off + b]. Its output is row b · n_q + i of O.
 *
 * The specialization constant VARIANT holds the head dimension HEAD_DIM
 * (bits 0-7) and QT (bits 8-15), so that the loops over them unroll and q
 * and the accumulators stay in registers (see gemm.comp on arrays indexed
 * at run time); the host keeps QT · HEAD_DIM within bounds. With TEXEL defined, q, k
 * and v are read four at a time through uniform texel buffers (bindings
 * 4 and 5; see gemm.comp for why); HEAD_DIM and every offset and stride
 * are then multiples of 4.
 */
#version 450
#include "types.glsl"
#extension GL_EXT_control_flow_attributes : require

layout (local_size_x_id = 0) in;
layout (constant_id = 4) const uint VARIANT = 64u | (1u << 8);
const uint HEAD_DIM = VARIANT & 255u;
const uint QT = VARIANT >> 8;

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
  uint q_bstride, flags;      /* 1: causal, 2: use index, 4: use lengths */
  float scale;
  uint len_off;
} p;

void
main ()
{
  const uint id = gl_GlobalInvocationID.x, blocks = (p.n_q + QT - 1) / QT;
  const uint i0 = (id % blocks) * QT, h = (id / blocks) % p.n_heads, b = id / (blocks * p.n_heads);
  const uint hd_off = h * HEAD_DIM;
  afp max_s[QT], sum[QT];
  uint first, keys, n_keys[QT], last_key = 0, krow0;
  VEC qv[QT][N_VEC], acc[QT][N_VEC];

  if (b >= p.batch)
    return;
  first = (p.flags & 2u) != 0u ? uint (index[b]) : 0u;
  keys = (p.flags & 4u) != 0u ? uint (index[p.len_off + b]) : p.seq;
  krow0 = b * p.seq;
  [[unroll]] for (uint t = 0; t < QT; t++)
    {
      /* Queries past the last read the last one; they are not written. */
      const uint i = min (i0 + t, p.n_q - 1);
      const uint qrow = p.q_off + (b * p.q_bstride + first + i) * p.ldq + hd_off;

      n_keys[t] = min ((p.flags & 1u) != 0u ? min (first + i + 1, p.seq) : p.seq, keys);
      last_key = max (last_key, n_keys[t]);
      max_s[t] = -3.402823e38;
      sum[t] = 0.0;
      [[unroll]] for (uint d = 0; d < N_VEC; d++)
        {
          qv[t][d] = LOAD_Q (qrow + d * WIDTH) * p.scale;
          acc[t][d] = VEC (0.0);
        }
    }
  for (uint j = 0; j < last_key; j++)
    {
      const uint kr = p.k_off + (krow0 + j) * p.ldkv + hd_off;
      const uint vr = p.v_off + (krow0 + j) * p.ldkv + hd_off;
      afp s[QT], r[QT], e[QT];
      VEC kv_d;

      [[unroll]] for (uint t = 0; t < QT; t++)
        s[t] = 0.0;
      [[unroll]] for (uint d = 0; d < N_VEC; d++)
        {
          kv_d = LOAD_KV (kr + d * WIDTH);
          [[unroll]] for (uint t = 0; t < QT; t++)
            s[t] += DOT (qv[t][d], kv_d);
        }
      [[unroll]] for (uint t = 0; t < QT; t++)
        {
          /* A key the causal mask hides leaves the query as it was. */
          afp m = j < n_keys[t] ? max (max_s[t], s[t]) : max_s[t];

          r[t] = exp (max_s[t] - m);
          e[t] = j < n_keys[t] ? exp (s[t] - m) : 0.0;
          max_s[t] = m;
          sum[t] = sum[t] * r[t] + e[t];
        }
      [[unroll]] for (uint d = 0; d < N_VEC; d++)
        {
          kv_d = LOAD_KV (vr + d * WIDTH);
          [[unroll]] for (uint t = 0; t < QT; t++)
            acc[t][d] = acc[t][d] * r[t] + e[t] * kv_d;
        }
    }
  [[unroll]] for (uint t = 0; t < QT; t++)
    {
      const uint orow = p.o_off + (b * p.n_q + i0 + t) * p.ldo + hd_off;

      if (i0 + t >= p.n_q)
        break;
      [[unroll]] for (uint d = 0; d < N_VEC; d++)
        [[unroll]] for (uint c = 0; c < WIDTH; c++)
          o[orow + d * WIDTH + c] = COMPONENT (acc[t][d], c) / sum[t];
    }
}
