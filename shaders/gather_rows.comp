/* gather_rows.comp — dst[b] = src[b · seq + first], where first is
 * index[b] (the end-of-text position) with USE_INDEX set, else 0 (the
 * class token). One invocation per output element. */
#version 450
#include "types.glsl"

layout (local_size_x_id = 0) in;

layout (binding = 0) readonly buffer S { afp src[]; };
layout (binding = 1) writeonly buffer D { afp dst[]; };
layout (binding = 2) readonly buffer I { int index[]; };

layout (push_constant) uniform Push {
  uint batch, seq, width, use_index;
} p;

void
main ()
{
  const uint id = gl_GlobalInvocationID.x, d = id % p.width, b = id / p.width;
  uint first;

  if (b >= p.batch)
    return;
  first = p.use_index != 0u ? uint (index[b]) : 0u;
  dst[id] = src[(b * p.seq + first) * p.width + d];
}
