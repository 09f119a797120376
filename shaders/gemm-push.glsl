/* gemm-push.glsl — the push constants of gemm.comp, gemm_tiled.comp and
 * im2col.comp; the C twin is ClipscopeVkGemmPush in
 * engine/vulkan/vulkan-ops.h. Offsets and strides count elements, not
 * bytes. */
layout (push_constant) uniform Push {
  uint m, n, k;
  uint lda, ldw, ldc;
  uint a_off, w_off, b_off, c_off;
  uint flags;                 /* act | FLAG_* */
  /* Implicit im2col (CONV): the input map's size and element strides. */
  uint in_h, in_w, out_h, out_w;
  uint ksize, stride, pad;
  uint s_b, s_c, s_y, s_x;
} p;

/* Bits of p.flags above the activation (ACT_* in types.glsl, bits 0-2). */
#define FLAG_BIAS 8u
#define FLAG_ACCUMULATE 16u
#define FLAG_VEC4 32u
