/* vulkan-weights.c — packing and uploading a model's weights
 *
 * Packing is planned first (which arena and offset each tensor gets),
 * then the arenas are created and filled through the staging buffer in
 * chunks, converting matrices to float16 on the way when the device
 * stores them so (a float16 matrix of the model is copied as it is, a
 * bfloat16 one widened first).
 */
#include "vulkan-weights.h"

#include <string.h>

#define KIND_F32 CLIPSCOPE_WEIGHT_VECTOR
#define KIND_MATRIX CLIPSCOPE_WEIGHT_MATRIX
#define MAX_PARTS 3
#define CHUNK_BYTES ((gsize) 32 << 20)

typedef struct {
  const float *parts[MAX_PARTS];     /* of dtype */
  gsize        sizes[MAX_PARTS];     /* elements */
  ClipscopeDtype dtype;
  int          kind, arena;
  gsize        off;                  /* elements */
} Piece;

typedef struct {
  ClipscopeVkWeights *w;
  GArray             *pieces;        /* Piece */
  gsize               arena_used[2][CLIPSCOPE_VK_MAX_ARENAS];   /* elements */
  gsize               limit[2];      /* elements per arena */
  gboolean            f16;
  GError             *error;
} Packer;

uint16_t
clipscope_vk_half_from_float (float f)
{
  union { float f; uint32_t u; } v = { f };
  uint32_t sign = (v.u >> 16) & 0x8000u, exp = (v.u >> 23) & 0xffu, man = v.u & 0x7fffffu;
  int e = (int) exp - 127 + 15;

  if (exp == 0xffu)                          /* inf and NaN */
    return (uint16_t) (sign | 0x7c00u | (man ? 0x200u : 0u));
  if (e >= 31)                               /* too large: inf */
    return (uint16_t) (sign | 0x7c00u);
  if (e <= 0)
    {
      /* Subnormal or zero: shift the implicit one in, round to even. */
      uint32_t m, shift, half_bit, rest;
      if (e < -10)
        return (uint16_t) sign;
      m = man | 0x800000u;
      shift = (uint32_t) (14 - e);
      half_bit = 1u << (shift - 1);
      rest = m & ((1u << shift) - 1);
      m >>= shift;
      if (rest > half_bit || (rest == half_bit && (m & 1u)))
        m++;
      return (uint16_t) (sign | m);
    }
  {
    uint32_t h = sign | ((uint32_t) e << 10) | (man >> 13);
    uint32_t rest = man & 0x1fffu;

    /* A carry out of the mantissa correctly bumps the exponent. */
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
      h++;
    return (uint16_t) h;
  }
}

/* Plans one tensor made of @n consecutive parts (q, k and v stacked):
 * the ClipscopeBindFunc of this backend. */
static ClipscopeView
pack_parts (gpointer             packer,
            ClipscopeWeightKind  kind,
            ClipscopeDtype       dtype,
            int                  n,
            const float *const  *parts,
            const gsize         *sizes)
{
  Packer *pk = packer;
  ClipscopeView t = CLIPSCOPE_NO_VIEW;
  Piece piece = { .kind = kind, .dtype = dtype };
  gsize total = 0;
  int a;

  for (int i = 0; i < n; i++)
    {
      piece.parts[i] = parts[i];
      piece.sizes[i] = sizes[i];
      total += sizes[i];
    }
  if (pk->error != NULL)
    return t;
  if (total > pk->limit[kind])
    {
      g_set_error (&pk->error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT,
                   "Vulkan: a weight of %" G_GSIZE_FORMAT " elements exceeds the device's "
                   "largest buffer binding", total);
      return t;
    }
  a = MAX (pk->w->n_arenas[kind] - 1, 0);
  if (pk->w->n_arenas[kind] == 0 || pk->arena_used[kind][a] + total > pk->limit[kind])
    {
      if (pk->w->n_arenas[kind] == CLIPSCOPE_VK_MAX_ARENAS)
        {
          g_set_error_literal (&pk->error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_LIMIT,
                               "Vulkan: the model needs too many weight buffers");
          return t;
        }
      a = pk->w->n_arenas[kind]++;
    }
  piece.arena = a;
  piece.off = pk->arena_used[kind][a];
  /* 64 elements keep every tensor aligned for vec4 loads and beyond. */
  pk->arena_used[kind][a] = (piece.off + total + 63) & ~(gsize) 63;
  g_array_append_val (pk->pieces, piece);
  t.buf = &pk->w->arenas[kind][a];
  t.off = piece.off;
  t.f16 = kind == KIND_MATRIX && pk->f16;
  return t;
}

/* Copies one part, of @dtype, into staging memory, converted to the
 * arena's type. */
static void
fill (void           *dst,
      const void     *src,
      ClipscopeDtype  dtype,
      gsize           n,
      gboolean        half)
{
  float wide[1024];

  if (dtype == (half ? CLIPSCOPE_DTYPE_F16 : CLIPSCOPE_DTYPE_F32))
    {
      memcpy (dst, src, n * (half ? 2 : 4));
      return;
    }
  if (dtype == CLIPSCOPE_DTYPE_F32)
    {
      for (gsize i = 0; i < n; i++)
        ((uint16_t *) dst)[i] = clipscope_vk_half_from_float (((const float *) src)[i]);
      return;
    }
  for (gsize at = 0; at < n; at += G_N_ELEMENTS (wide))
    {
      const gsize m = MIN (n - at, G_N_ELEMENTS (wide));

      clipscope_widen_16 (dtype, (const guint16 *) src + at, m, half ? wide : (float *) dst + at);
      for (gsize i = 0; half && i < m; i++)
        ((uint16_t *) dst)[at + i] = clipscope_vk_half_from_float (wide[i]);
    }
}

/* Streams every piece into its arena, CHUNK_BYTES of staging at a time. */
static gboolean
upload_pieces (ClipscopeVkDevice *d,
               Packer            *pk,
               GError           **error)
{
  gsize used = 0;

  if (!clipscope_vk_begin (d, CHUNK_BYTES, error))
    return FALSE;
  for (guint i = 0; i < pk->pieces->len; i++)
    {
      const Piece *p = &g_array_index (pk->pieces, Piece, i);
      const gboolean half = p->kind == KIND_MATRIX && pk->f16;
      const gsize elem = half ? 2 : 4;
      gsize at = p->off;

      for (int part = 0; part < MAX_PARTS && p->parts[part] != NULL; part++)
        for (gsize done = 0; done < p->sizes[part];)
          {
            gsize n = MIN (p->sizes[part] - done, CHUNK_BYTES / 2 / elem);
            void *to;

            if (used + n * elem + 16 > CHUNK_BYTES)
              {
                if (!clipscope_vk_submit_wait (d, error) || !clipscope_vk_begin (d, CHUNK_BYTES, error))
                  return FALSE;
                used = 0;
              }
            to = clipscope_vk_upload_map (d, &pk->w->arenas[p->kind][p->arena], at * elem,
                                          n * elem);
            if (to != NULL)
              fill (to, (const guint8 *) p->parts[part] + done * clipscope_dtype_size (p->dtype),
                    p->dtype, n, half);
            used += ((n * elem + 15) & ~(gsize) 15);
            done += n;
            at += n;
          }
    }
  return clipscope_vk_submit_wait (d, error);
}

gboolean
clipscope_vk_weights_upload (ClipscopeVkDevice    *d,
                             const ClipscopeModel *model,
                             ClipscopeVkWeights   *w,
                             GError              **error)
{
  Packer pk = { .w = w, .f16 = clipscope_vk_device_has_f16 (d) };
  gboolean ok = TRUE;

  pk.pieces = g_array_new (FALSE, TRUE, sizeof (Piece));
  pk.limit[KIND_F32] = clipscope_vk_device_max_range (d) / 4;
  pk.limit[KIND_MATRIX] = clipscope_vk_device_max_range (d) / (pk.f16 ? 2 : 4);
  clipscope_weights_bind (&w->graph, model, pack_parts, &pk);
  if (pk.error != NULL)
    {
      g_propagate_error (error, pk.error);
      ok = FALSE;
    }
  for (int k = 0; ok && k < 2; k++)
    for (int a = 0; ok && a < w->n_arenas[k]; a++)
      ok = k == KIND_MATRIX && pk.f16
           ? clipscope_vk_buffer_init_half (d, &w->arenas[k][a], pk.arena_used[k][a] * 2, error)
           : clipscope_vk_buffer_init (d, &w->arenas[k][a], pk.arena_used[k][a] * 4, error);
  if (ok)
    ok = upload_pieces (d, &pk, error);
  g_array_unref (pk.pieces);
  return ok;
}

void
clipscope_vk_weights_clear (ClipscopeVkDevice  *d,
                            ClipscopeVkWeights *w)
{
  for (int k = 0; k < 2; k++)
    for (int a = 0; a < w->n_arenas[k]; a++)
      clipscope_vk_buffer_clear (d, &w->arenas[k][a]);
  clipscope_weights_clear (&w->graph);
  memset (w, 0, sizeof *w);
}
