/* im2col.comp — C[M, K] = the im2col matrix of a convolution (see
 * im2col.glsl), written out so that the product that follows runs as a
 * plain linear layer with vector loads. For a ViT's patch embedding
 * (stride = kernel, no padding) this only reorders the pixels, and the
 * product then runs several times faster than gemm.comp's implicit
 * im2col, whose loads of A are scalar and irregular.
 *
 * One invocation per kernel row (m, channel, kernel_y) copies its ksize
 * taps: the divisions that find them, which CPU implementations do lane
 * by lane, are then shared by a whole row. */
#version 450
#include "types.glsl"

layout (local_size_x_id = 0) in;

layout (binding = 0) readonly buffer A1 { afp a1[]; };
layout (binding = 1) writeonly buffer C1 { afp c1[]; };

#include "gemm-push.glsl"
#include "im2col.glsl"

void
main ()
{
  const uint id = gl_GlobalInvocationID.x, kernel_rows = p.k / p.ksize;
  const uint m = id / kernel_rows, k0 = (id % kernel_rows) * p.ksize;
  int b, oy, ox;

  if (m >= p.m)
    return;
  conv_window (m, b, oy, ox);
  for (uint k = k0; k < k0 + p.ksize; k++)
    c1[p.c_off + m * p.ldc + k] = conv_load (b, oy, ox, k);
}
