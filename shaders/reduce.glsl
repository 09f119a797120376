/* reduce.glsl — a workgroup-wide sum; every invocation gets the total.
 * The workgroup size must be a power of two.
 *
 * Without SUBGROUP defined: a tree through shared memory, one barrier a
 * level. With it (for devices with subgroup arithmetic), the
 * specialization constant SUBGROUP_REDUCE picks (vulkan-device.c picks
 * it per device):
 *   1: subgroupAdd() in each subgroup, then the subgroups' sums through
 *      shared memory: two barriers;
 *   2: subgroupAdd() alone, for a workgroup that is one subgroup. CPU
 *      implementations take this: lavapipe runs a kernel that has a
 *      barrier as coroutines, one per SIMD group, switched at every
 *      barrier, which costs more than the sums themselves.
 * The mode not taken is removed when the pipeline is specialized, and
 * with it its barriers. */
#ifdef SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout (constant_id = 5) const uint SUBGROUP_REDUCE = 1;
#endif

shared afp partial[gl_WorkGroupSize.x];

afp
reduce_sum (afp v)
{
  const uint lid = gl_LocalInvocationID.x;
  afp total;

#ifdef SUBGROUP
  v = subgroupAdd (v);
  if (SUBGROUP_REDUCE == 2)
    return v;
  if (subgroupElect ())
    partial[gl_SubgroupID] = v;
  barrier ();
  total = 0.0;
  for (uint s = 0; s < gl_NumSubgroups; s++)
    total += partial[s];
#else
  partial[lid] = v;
  barrier ();
  for (uint s = gl_WorkGroupSize.x / 2; s > 0; s /= 2)
    {
      if (lid < s)
        partial[lid] += partial[lid + s];
      barrier ();
    }
  total = partial[0];
#endif
  /* Nobody may overwrite a sum before everyone has read it. */
  barrier ();
  return total;
}
