/* avg_pool.comp — out[b, y, x, c] = mean of the f × f cell of in, on
 * channel-last maps [batch, h, w, c] (AvgPool2d(f)). One invocation per
 * output element. */
#version 450
#include "types.glsl"

layout (local_size_x_id = 0) in;

layout (binding = 0) readonly buffer I { afp src[]; };
layout (binding = 1) writeonly buffer O { afp dst[]; };

layout (push_constant) uniform Push {
  uint batch, h, w, c, f;
} p;

void
main ()
{
  const uint id = gl_GlobalInvocationID.x;
  const uint ho = p.h / p.f, wo = p.w / p.f;
  const uint c = id % p.c, x = (id / p.c) % wo, y = (id / (p.c * wo)) % ho;
  const uint b = id / (p.c * wo * ho);
  afp sum = 0.0;

  if (b >= p.batch)
    return;
  for (uint dy = 0; dy < p.f; dy++)
    for (uint dx = 0; dx < p.f; dx++)
      sum += src[((b * p.h + y * p.f + dy) * p.w + x * p.f + dx) * p.c + c];
  dst[id] = sum / afp (p.f * p.f);
}
