/* types.glsl — storage and arithmetic types shared by every kernel
 *
 * "sfp" is how weights are stored (float32, or float16 when WEIGHT_F16 is
 * defined and the device can read 16-bit storage); "afp" is the type the
 * arithmetic and the accumulators use, always float32, as DESIGN.md asks.
 * Activations are always stored as float32.
 */
#ifdef WEIGHT_F16
#extension GL_EXT_shader_16bit_storage : require
#define sfp float16_t
#define sfpvec4 f16vec4
#else
#define sfp float
#define sfpvec4 vec4
#endif

#define afp float
#define afpvec4 vec4

/* Epilogue activations of the matrix product (see gemm.comp). */
#define ACT_NONE 0u
#define ACT_QUICK_GELU 1u
#define ACT_GELU 2u
#define ACT_RELU 3u
#define ACT_GELU_TANH 4u

afp
activate (afp v, uint act)
{
  if (act == ACT_QUICK_GELU)
    return v / (1.0 + exp (-1.702 * v));
  if (act == ACT_GELU)
    {
      /* erf by Abramowitz and Stegun 7.1.26, as the CPU backend does. */
      afp x = v * 0.70710678118654752;
      afp a = abs (x);
      afp t = 1.0 / (1.0 + 0.3275911 * a);
      afp y = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
              + t * (-1.453152027 + t * 1.061405429))));
      afp e = 1.0 - y * exp (-a * a);
      return 0.5 * v * (1.0 + (x < 0.0 ? -e : e));
    }
  if (act == ACT_RELU)
    return max (v, 0.0);
  /* 0.5 v (1 + tanh u) = v / (1 + exp(−2u)), u = √(2/π) (v + 0.044715 v³). */
  if (act == ACT_GELU_TANH)
    return v / (1.0 + exp (-1.5957691216057308 * (v + 0.044715 * v * v * v)));
  return v;
}
