/* l2_norm.comp — each row of x[rows, dim] divided by its L2 norm, in place.
 * One workgroup per row. */
#version 450
#include "types.glsl"

layout (local_size_x_id = 0) in;

layout (binding = 0) buffer X { afp x[]; };

layout (push_constant) uniform Push {
  uint rows, dim, x_off;
} p;


#include "reduce.glsl"

void
main ()
{
  const uint row = gl_WorkGroupID.x, lid = gl_LocalInvocationID.x;
  const uint xr = p.x_off + row * p.dim;
  afp sum = 0.0, inv;

  if (row >= p.rows)
    return;
  for (uint i = lid; i < p.dim; i += gl_WorkGroupSize.x)
    sum += x[xr + i] * x[xr + i];
  sum = reduce_sum (sum);
  inv = sum > 0.0 ? 1.0 / sqrt (sum) : 0.0;
  for (uint i = lid; i < p.dim; i += gl_WorkGroupSize.x)
    x[xr + i] *= inv;
}
