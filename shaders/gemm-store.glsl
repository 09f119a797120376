/* gemm-store.glsl — the epilogue of a product, for kernels that declare
 * bias[] and c1[] and include gemm-push.glsl:
 * C[m, n] = act(v + bias[n] (+ C[m, n])), nothing outside C. */
void
gemm_store (uint m,
            uint n,
            afp  v)
{
  const uint at = p.c_off + m * p.ldc + n;

  if (m >= p.m || n >= p.n)
    return;
  if ((p.flags & FLAG_BIAS) != 0u)
    v += bias[p.b_off + n];
  if ((p.flags & FLAG_ACCUMULATE) != 0u)
    v += c1[at];
  c1[at] = activate (v, p.flags & 7u);
}
