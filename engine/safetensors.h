/* safetensors.h — a validated, memory-mapped safetensors file */
#pragma once

#include "clipscope-private.h"

G_BEGIN_DECLS

/* Every dtype the safetensors format defines; the loader reads only F32,
 * F16 and BF16 tensors but must accept files holding the others. */
typedef enum {
  CLIPSCOPE_DTYPE_BOOL,
  CLIPSCOPE_DTYPE_U8,
  CLIPSCOPE_DTYPE_I8,
  CLIPSCOPE_DTYPE_U16,
  CLIPSCOPE_DTYPE_I16,
  CLIPSCOPE_DTYPE_F16,
  CLIPSCOPE_DTYPE_BF16,
  CLIPSCOPE_DTYPE_U32,
  CLIPSCOPE_DTYPE_I32,
  CLIPSCOPE_DTYPE_F32,
  CLIPSCOPE_DTYPE_F64,
  CLIPSCOPE_DTYPE_U64,
  CLIPSCOPE_DTYPE_I64,
  CLIPSCOPE_DTYPE_F8_E4M3,
  CLIPSCOPE_DTYPE_F8_E5M2,
} ClipscopeDtype;

typedef struct {
  const char     *name;                           /* owned by the file */
  ClipscopeDtype  dtype;
  int             n_dims;                         /* 0 for a scalar */
  int64_t         shape[CLIPSCOPE_MAX_TENSOR_DIMS];
  int64_t         n_elements;                     /* product of shape; 1 for a scalar */
  const guint8   *data;                           /* into the mapping (or the bytes) */
  gsize           n_bytes;
  gsize           offset;                         /* of data, from the start of the file */
} ClipscopeTensor;

typedef struct _ClipscopeSafetensors ClipscopeSafetensors;

/* Maps @path and validates its whole header before any data is touched. */
ClipscopeSafetensors *clipscope_safetensors_open (const char *path, GError **error);

/* Validates an in-memory file (for tests and fuzzing); @name is used in
 * messages, @bytes is referenced. */
ClipscopeSafetensors *clipscope_safetensors_new_from_bytes (const char *name,
                                                            GBytes     *bytes,
                                                            GError    **error);

void clipscope_safetensors_free (ClipscopeSafetensors *st);

/* The path or name given when opening, for messages. */
const char *clipscope_safetensors_get_name (ClipscopeSafetensors *st);

/* NULL when absent. */
const ClipscopeTensor *clipscope_safetensors_lookup (ClipscopeSafetensors *st,
                                                     const char           *name);

/* Tensors in file order. */
guint clipscope_safetensors_get_n_tensors (ClipscopeSafetensors *st);
const ClipscopeTensor *clipscope_safetensors_get_tensor (ClipscopeSafetensors *st,
                                                         guint                 index);

/* "F32", "BF16", … */
const char *clipscope_dtype_to_string (ClipscopeDtype dtype);
gsize clipscope_dtype_size (ClipscopeDtype dtype);

/* Converts an F32, F16 or BF16 tensor to float32 in @dst (n_elements
 * floats). Other dtypes are a CLIPSCOPE_ERROR_TENSOR_DTYPE error naming
 * the file and the tensor. */
gboolean clipscope_tensor_to_f32 (ClipscopeSafetensors  *st,
                                  const ClipscopeTensor *tensor,
                                  float                 *dst,
                                  GError               **error);

/* IEEE half precision bits to float, exactly (the index stores float16). */
float clipscope_half_to_float (guint16 half);

/* Whether the CPU converts halves in hardware (F16C, with AVX). */
gboolean clipscope_cpu_has_f16c (void);

/* Widens @n float16 or bfloat16 values (@dtype; in the host's byte
 * order) to float32, exactly. */
void clipscope_widen_16 (ClipscopeDtype  dtype,
                         const guint16  *src,
                         gsize           n,
                         float          *dst);

/* The index of the first infinity or NaN among @n float16 or bfloat16
 * values, or -1. */
gssize clipscope_first_non_finite_16 (ClipscopeDtype  dtype,
                                      const guint16  *src,
                                      gsize           n);

/* The index of the first infinity or NaN among @n float32 values (at
 * least 2-byte aligned), or -1. */
gssize clipscope_first_non_finite_32 (const float *src,
                                      gsize        n);

/* Maps the pages of [p, p + n_bytes) of a mapped file at once, rather
 * than at a fault each, before the range is read through. */
void clipscope_safetensors_prefault (ClipscopeSafetensors *st,
                                     const void           *p,
                                     gsize                 n_bytes);

/* Lets the kernel drop the pages of a mapped file that lie wholly within
 * [p, p + n_bytes) from the process's memory, once their data has been
 * read (checked, or packed elsewhere); touched again, they come back from
 * the file. Does nothing for a file made from bytes. */
void clipscope_safetensors_release (ClipscopeSafetensors *st,
                                    const void           *p,
                                    gsize                 n_bytes);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ClipscopeSafetensors, clipscope_safetensors_free)

G_END_DECLS
