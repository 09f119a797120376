/* embed_tokens.comp — x[b · seq + t] = token_emb[ids[b · ctx + t]] + pos[t]
 * One invocation per output element. */
#version 450
#include "types.glsl"

layout (local_size_x_id = 0) in;

layout (binding = 0) writeonly buffer X { afp x[]; };
layout (binding = 1) readonly buffer T { sfp tok[]; };
layout (binding = 2) readonly buffer P { float pos[]; };
layout (binding = 3) readonly buffer I { int ids[]; };

layout (push_constant) uniform Push {
  uint batch, seq, ctx, width;
  uint tok_off, pos_off, ids_off;
} p;

void
main ()
{
  const uint id = gl_GlobalInvocationID.x;
  const uint d = id % p.width, t = (id / p.width) % p.seq, b = id / (p.width * p.seq);

  if (b >= p.batch)
    return;
  x[id] = afp (tok[p.tok_off + uint (ids[p.ids_off + b * p.ctx + t]) * p.width + d])
          + pos[p.pos_off + t * p.width + d];
}
