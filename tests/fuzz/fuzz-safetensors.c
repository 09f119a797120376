/* fuzz-safetensors.c — the safetensors header and tensor table
 *
 * Any bytes are a candidate file: validation must refuse or accept them
 * without reading out of bounds, and every accepted float tensor must
 * convert.
 */
#include "safetensors.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GBytes) bytes = g_bytes_new_static (data, size);
  g_autoptr(ClipscopeSafetensors) st = NULL;
  g_autoptr(GError) error = NULL;

  st = clipscope_safetensors_new_from_bytes ("fuzz.safetensors", bytes, &error);
  if (st == NULL)
    return 0;
  for (guint i = 0; i < clipscope_safetensors_get_n_tensors (st); i++)
    {
      const ClipscopeTensor *t = clipscope_safetensors_get_tensor (st, i);
      g_autofree float *dst = NULL;
      g_autoptr(GError) convert_error = NULL;

      g_assert_true (clipscope_safetensors_lookup (st, t->name) != NULL);
      g_assert_true (t->offset + t->n_bytes <= size);
      /* Tensors hold at most the file's bytes, so this stays small. */
      dst = g_new (float, t->n_elements + 1);
      clipscope_tensor_to_f32 (st, t, dst, &convert_error);
    }
  return 0;
}
