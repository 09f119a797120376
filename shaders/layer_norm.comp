/* layer_norm.comp — y[r] = (x[r] − mean) / √(var + eps) · w + b
 *
 * One workgroup per row. The mean comes first and the variance is taken
 * around it (two passes), as the CPU backend does, which avoids the
 * cancellation of E[x²] − E[x]².
 */
#version 450
#include "types.glsl"

layout (local_size_x_id = 0) in;

layout (binding = 0) readonly buffer X { afp x[]; };
layout (binding = 1) writeonly buffer Y { afp y[]; };
layout (binding = 2) readonly buffer G { float gamma[]; };
layout (binding = 3) readonly buffer Bt { float beta[]; };

layout (push_constant) uniform Push {
  uint rows, dim, ldx, ldy;
  uint x_off, y_off, w_off, b_off;
  float eps;
} p;


#include "reduce.glsl"

void
main ()
{
  const uint row = gl_WorkGroupID.x, lid = gl_LocalInvocationID.x;
  const uint xr = p.x_off + row * p.ldx, yr = p.y_off + row * p.ldy;
  afp sum = 0.0, mean, var, inv;

  if (row >= p.rows)
    return;
  for (uint i = lid; i < p.dim; i += gl_WorkGroupSize.x)
    sum += x[xr + i];
  mean = reduce_sum (sum) / afp (p.dim);
  sum = 0.0;
  for (uint i = lid; i < p.dim; i += gl_WorkGroupSize.x)
    {
      afp d = x[xr + i] - mean;
      sum += d * d;
    }
  var = reduce_sum (sum) / afp (p.dim);
  inv = 1.0 / sqrt (var + p.eps);
  for (uint i = lid; i < p.dim; i += gl_WorkGroupSize.x)
    y[yr + i] = (x[xr + i] - mean) * inv * gamma[p.w_off + i] + beta[p.b_off + i];
}
