/* attention.comp — multi-head scaled dot-product attention
 *
 * One invocation per (sequence b, head h, query i) computes
 * softmax(q kᵀ / √hd) · v for its query: a first pass over the keys finds
 * the largest score, which is subtracted before exp so that exp never
 * overflows; a second pass accumulates the weighted values.
 *
 * Query i of sequence b is row b · q_bstride + first + i of Q, where
 * first is index[b] with USE_INDEX (a pooled row: the class token or the
 * end-of-text token) and 0 otherwise; with the causal mask it sees the
 * keys up to position first + i. Its output is row b · n_q + i of O.
 *
 * With TEXEL defined, q, k and v are read four at a time through uniform
 * texel buffers (bindings 4 and 5; see gemm.comp for why); head_dim and
 * every offset and stride are then multiples of 4.
 */
#version 450
#include "types.glsl"

layout (local_size_x_id = 0) in;

#define MAX_HEAD_DIM 128

layout (binding = 0) readonly buffer Q { afp q[]; };
layout (binding = 1) readonly buffer KV { afp kv[]; };
layout (binding = 2) writeonly buffer O { afp o[]; };
layout (binding = 3) readonly buffer I { int index[]; };
#ifdef TEXEL
layout (binding = 4) uniform samplerBuffer q_texels;
layout (binding = 5) uniform samplerBuffer kv_texels;
#endif

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
  const uint hd = p.head_dim;
  afp max_s = -3.402823e38, sum = 0.0;
  uint first, n_keys, qrow, krow0;

  if (b >= p.batch)
    return;
  first = (p.flags & 2u) != 0u ? uint (index[b]) : 0u;
  n_keys = (p.flags & 1u) != 0u ? min (first + i + 1, p.seq) : p.seq;
  qrow = p.q_off + (b * p.q_bstride + first + i) * p.ldq + h * hd;
  krow0 = b * p.seq;
#ifdef TEXEL
  afpvec4 qv4[MAX_HEAD_DIM / 4], acc4[MAX_HEAD_DIM / 4];
  const uint hd4 = hd / 4;

  for (uint d = 0; d < hd4; d++)
    {
      qv4[d] = texelFetch (q_texels, int (qrow / 4 + d)) * p.scale;
      acc4[d] = afpvec4 (0.0);
    }
  for (uint j = 0; j < n_keys; j++)
    {
      uint kr = (p.k_off + (krow0 + j) * p.ldkv + h * hd) / 4;
      afp s = 0.0;
      for (uint d = 0; d < hd4; d++)
        s += dot (qv4[d], texelFetch (kv_texels, int (kr + d)));
      max_s = max (max_s, s);
    }
  for (uint j = 0; j < n_keys; j++)
    {
      uint kr = (p.k_off + (krow0 + j) * p.ldkv + h * hd) / 4;
      uint vr = (p.v_off + (krow0 + j) * p.ldkv + h * hd) / 4;
      afp s = 0.0, e;
      for (uint d = 0; d < hd4; d++)
        s += dot (qv4[d], texelFetch (kv_texels, int (kr + d)));
      e = exp (s - max_s);
      sum += e;
      for (uint d = 0; d < hd4; d++)
        acc4[d] += e * texelFetch (kv_texels, int (vr + d));
    }
  for (uint d = 0; d < hd4; d++)
    for (uint c = 0; c < 4; c++)
      o[p.o_off + (b * p.n_q + i) * p.ldo + h * hd + 4 * d + c] = acc4[d][c] / sum;
#else
  afp qv[MAX_HEAD_DIM], acc[MAX_HEAD_DIM];

  for (uint d = 0; d < hd; d++)
    {
      qv[d] = q[qrow + d] * p.scale;
      acc[d] = 0.0;
    }

  for (uint j = 0; j < n_keys; j++)
    {
      uint kr = p.k_off + (krow0 + j) * p.ldkv + h * hd;
      afp s = 0.0;
      for (uint d = 0; d < hd; d++)
        s += qv[d] * kv[kr + d];
      max_s = max (max_s, s);
    }
  for (uint j = 0; j < n_keys; j++)
    {
      uint kr = p.k_off + (krow0 + j) * p.ldkv + h * hd;
      uint vr = p.v_off + (krow0 + j) * p.ldkv + h * hd;
      afp s = 0.0, e;
      for (uint d = 0; d < hd; d++)
        s += qv[d] * kv[kr + d];
      e = exp (s - max_s);
      sum += e;
      for (uint d = 0; d < hd; d++)
        acc[d] += e * kv[vr + d];
    }
  for (uint d = 0; d < hd; d++)
    o[p.o_off + (b * p.n_q + i) * p.ldo + h * hd + d] = acc[d] / sum;
#endif
}
