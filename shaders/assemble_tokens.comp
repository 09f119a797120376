/* assemble_tokens.comp — the input sequence of a pooling transformer
 *
 * x[b, t] = first + pos[0] for t = 0 and src[b, t − 1] + pos[t] after it,
 * where src is [batch, seq − 1, width] (image patches or grid cells).
 * "first" is the class embedding (ViT, FIRST 0) or the mean of the
 * sequence's src rows (ResNet attention pooling, FIRST 1). With FIRST 2
 * there is no first token: x[b, t] = src[b, t] + pos[t], src [batch, seq,
 * width] (SigLIP's ViT). One invocation per output element.
 */
#version 450
#include "types.glsl"

layout (local_size_x_id = 0) in;

layout (binding = 0) writeonly buffer X { afp x[]; };
layout (binding = 1) readonly buffer S { afp src[]; };
layout (binding = 2) readonly buffer C { float cls[]; };
layout (binding = 3) readonly buffer P { float pos[]; };

layout (push_constant) uniform Push {
  uint batch, seq, width, first;
  uint cls_off, pos_off;
} p;

void
main ()
{
  const uint id = gl_GlobalInvocationID.x;
  const uint d = id % p.width, t = (id / p.width) % p.seq, b = id / (p.width * p.seq);
  const uint lead = p.first == 2u ? 0u : 1u;
  const uint rows = p.seq - lead, src0 = b * rows * p.width + d;
  afp v;

  if (b >= p.batch)
    return;
  if (t >= lead)
    v = src[src0 + (t - lead) * p.width];
  else if (p.first == 1u)
    {
      v = 0.0;
      for (uint r = 0; r < rows; r++)
        v += src[src0 + r * p.width];
      v /= afp (rows);
    }
  else
    v = cls[p.cls_off + d];
  x[id] = v + pos[p.pos_off + t * p.width + d];
}
