/* vulkan-weights.c — packing and uploading a model's weights
 *
 * Packing is planned first (which arena and offset each tensor gets),
 * then the arenas are created and filled through the staging buffer in
 * chunks, converting matrices to float16 on the way when the device
 * stores them so.
 */
#include "vulkan-weights.h"

#include <string.h>

#define KIND_F32 0
#define KIND_MATRIX 1
#define MAX_PARTS 3
#define CHUNK_BYTES ((gsize) 32 << 20)

typedef struct {
  const float *parts[MAX_PARTS];
  gsize        sizes[MAX_PARTS];     /* floats */
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

/* Plans one tensor made of @n consecutive parts (q, k and v stacked). */
static ClipscopeVkTensor
pack_parts (Packer             *pk,
            int                 kind,
            int                 n,
            const float *const *parts,
            const gsize        *sizes)
{
  ClipscopeVkTensor t = { NULL, 0, FALSE };
  Piece piece = { .kind = kind };
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
  t.off = (uint32_t) piece.off;
  t.f16 = kind == KIND_MATRIX && pk->f16;
  return t;
}

static ClipscopeVkTensor
pack (Packer      *pk,
      int          kind,
      const float *data,
      gsize        n)
{
  return pack_parts (pk, kind, 1, &data, &n);
}

static ClipscopeVkBlock *
pack_transformer (Packer                     *pk,
                  const ClipscopeTransformer *tf)
{
  const gsize w = tf->width, m = tf->mlp_width;
  ClipscopeVkBlock *out = g_new0 (ClipscopeVkBlock, MAX (tf->n_layers, 1));

  for (int l = 0; l < tf->n_layers; l++)
    {
      const ClipscopeBlock *b = &tf->blocks[l];
      ClipscopeVkBlock *o = &out[l];
      const float *qkv_w[] = { b->q_w, b->k_w, b->v_w }, *qkv_b[] = { b->q_b, b->k_b, b->v_b };
      const gsize ww[] = { w * w, w * w, w * w }, wb[] = { w, w, w };

      o->ln_1_w = pack (pk, KIND_F32, b->ln_1_w, w);
      o->ln_1_b = pack (pk, KIND_F32, b->ln_1_b, w);
      o->qkv_w = pack_parts (pk, KIND_MATRIX, 3, qkv_w, ww);
      o->qkv_b = pack_parts (pk, KIND_F32, 3, qkv_b, wb);
      o->out_w = pack (pk, KIND_MATRIX, b->out_w, w * w);
      o->out_b = pack (pk, KIND_F32, b->out_b, w);
      o->ln_2_w = pack (pk, KIND_F32, b->ln_2_w, w);
      o->ln_2_b = pack (pk, KIND_F32, b->ln_2_b, w);
      o->fc1_w = pack (pk, KIND_MATRIX, b->fc1_w, m * w);
      o->fc1_b = pack (pk, KIND_F32, b->fc1_b, m);
      o->fc2_w = pack (pk, KIND_MATRIX, b->fc2_w, w * m);
      o->fc2_b = pack (pk, KIND_F32, b->fc2_b, w);
    }
  return out;
}

static ClipscopeVkConv
pack_conv (Packer              *pk,
           const ClipscopeConv *c)
{
  ClipscopeVkConv o;

  o.w = pack (pk, KIND_MATRIX, c->w, (gsize) c->c_out * c->c_in * c->kernel * c->kernel);
  o.b = pack (pk, KIND_F32, c->b, c->c_out);
  return o;
}

static void
pack_vit (Packer                 *pk,
          const ClipscopeModel   *model)
{
  const ClipscopeVit *v = &model->vit;
  ClipscopeVkWeights *w = pk->w;
  const gsize width = v->tf.width;

  w->patch_w = pack (pk, KIND_MATRIX, v->patch_w, width * 3 * v->patch_size * v->patch_size);
  w->class_emb = pack (pk, KIND_F32, v->class_emb, width);
  w->vit_pos = pack (pk, KIND_F32, v->pos_emb, (1 + v->n_patches) * width);
  w->ln_pre_w = pack (pk, KIND_F32, v->ln_pre_w, width);
  w->ln_pre_b = pack (pk, KIND_F32, v->ln_pre_b, width);
  w->ln_post_w = pack (pk, KIND_F32, v->ln_post_w, width);
  w->ln_post_b = pack (pk, KIND_F32, v->ln_post_b, width);
  w->vit_proj = pack (pk, KIND_MATRIX, v->proj, model->info.embed_dim * width);
  w->vision_blocks = pack_transformer (pk, &v->tf);
}

static void
pack_resnet (Packer               *pk,
             const ClipscopeModel *model)
{
  const ClipscopeResnet *r = &model->resnet;
  ClipscopeVkWeights *w = pk->w;
  const gsize d = r->pool_dim, seq = (gsize) r->pool_grid * r->pool_grid + 1;
  const float *kv_w[] = { r->pool_k_w, r->pool_v_w }, *kv_b[] = { r->pool_k_b, r->pool_v_b };
  const gsize sw[] = { d * d, d * d }, sb[] = { d, d };

  for (int i = 0; i < 3; i++)
    w->stem[i] = pack_conv (pk, &r->stem[i]);
  w->bottlenecks = g_new0 (ClipscopeVkBottleneck, MAX (r->n_blocks, 1));
  for (int i = 0; i < r->n_blocks; i++)
    {
      const ClipscopeBottleneck *b = &r->blocks[i];

      w->bottlenecks[i].conv1 = pack_conv (pk, &b->conv1);
      w->bottlenecks[i].conv2 = pack_conv (pk, &b->conv2);
      w->bottlenecks[i].conv3 = pack_conv (pk, &b->conv3);
      if (b->has_downsample)
        w->bottlenecks[i].downsample = pack_conv (pk, &b->downsample);
    }
  w->pool_pos = pack (pk, KIND_F32, r->pool_pos, seq * d);
  w->pool_q_w = pack (pk, KIND_MATRIX, r->pool_q_w, d * d);
  w->pool_q_b = pack (pk, KIND_F32, r->pool_q_b, d);
  w->pool_kv_w = pack_parts (pk, KIND_MATRIX, 2, kv_w, sw);
  w->pool_kv_b = pack_parts (pk, KIND_F32, 2, kv_b, sb);
  w->pool_c_w = pack (pk, KIND_MATRIX, r->pool_c_w, model->info.embed_dim * d);
  w->pool_c_b = pack (pk, KIND_F32, r->pool_c_b, model->info.embed_dim);
}

static void
pack_text (Packer               *pk,
           const ClipscopeModel *model)
{
  const ClipscopeTextTower *t = &model->text;
  ClipscopeVkWeights *w = pk->w;
  const gsize width = t->tf.width;

  w->token_emb = pack (pk, KIND_MATRIX, t->token_emb, (gsize) t->vocab_size * width);
  w->text_pos = pack (pk, KIND_F32, t->pos_emb, (gsize) t->context_length * width);
  w->ln_final_w = pack (pk, KIND_F32, t->ln_final_w, width);
  w->ln_final_b = pack (pk, KIND_F32, t->ln_final_b, width);
  w->text_proj = pack (pk, KIND_MATRIX, t->proj, model->info.embed_dim * width);
  w->text_blocks = pack_transformer (pk, &t->tf);
}

/* Copies one part into staging memory, converted to the arena's type. */
static void
fill (void        *dst,
      const float *src,
      gsize        n,
      gboolean     half)
{
  if (!half)
    {
      memcpy (dst, src, n * sizeof (float));
      return;
    }
  for (gsize i = 0; i < n; i++)
    ((uint16_t *) dst)[i] = clipscope_vk_half_from_float (src[i]);
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
              fill (to, p->parts[part] + done, n, half);
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

  w->model = model;
  pk.pieces = g_array_new (FALSE, TRUE, sizeof (Piece));
  pk.limit[KIND_F32] = clipscope_vk_device_max_range (d) / 4;
  pk.limit[KIND_MATRIX] = clipscope_vk_device_max_range (d) / (pk.f16 ? 2 : 4);
  if (model->info.vision_kind == CLIPSCOPE_VISION_VIT)
    pack_vit (&pk, model);
  else
    pack_resnet (&pk, model);
  pack_text (&pk, model);
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
  g_clear_pointer (&w->vision_blocks, g_free);
  g_clear_pointer (&w->text_blocks, g_free);
  g_clear_pointer (&w->bottlenecks, g_free);
  memset (w, 0, sizeof *w);
}
