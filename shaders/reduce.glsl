/* reduce.glsl — a workgroup-wide sum through the shared array "partial",
 * which the including kernel declares with one slot per invocation. Every
 * invocation gets the total. The workgroup size must be a power of two. */
afp
reduce_sum (afp v)
{
  const uint lid = gl_LocalInvocationID.x;
  afp total;

  partial[lid] = v;
  barrier ();
  for (uint s = gl_WorkGroupSize.x / 2; s > 0; s /= 2)
    {
      if (lid < s)
        partial[lid] += partial[lid + s];
      barrier ();
    }
  total = partial[0];
  /* Nobody may overwrite slot 0 before everyone has read it. */
  barrier ();
  return total;
}
