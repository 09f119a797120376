/* graph.c — binding weights, sizing slots, and running the towers in
 * chunks on any backend (see graph.h) */
#include "graph.h"

/* ------------------------------------------------------------ weights */

typedef struct {
  ClipscopeBindFunc     bind;
  gpointer              binder;
  const ClipscopeModel *model;
} Binder;

static ClipscopeView
bind1 (const Binder        *bd,
       ClipscopeWeightKind  kind,
       const float         *data,
       gsize                n)
{
  return bd->bind (bd->binder, kind, clipscope_model_weight_dtype (bd->model, data), 1, &data, &n);
}

/* A tensor that only some models have; absent where @data is NULL. */
static ClipscopeView
bind_opt (const Binder        *bd,
          ClipscopeWeightKind  kind,
          const float         *data,
          gsize                n)
{
  return data != NULL ? bind1 (bd, kind, data, n) : CLIPSCOPE_NO_VIEW;
}

/* Binds @n parts stacked, or into out[0 : n] one by one when the backend
 * will not stack them. */
static void
bind_parts (const Binder        *bd,
            ClipscopeWeightKind  kind,
            int                  n,
            const float *const  *parts,
            const gsize         *sizes,
            ClipscopeView    **out)
{
  const ClipscopeDtype dtype = clipscope_model_weight_dtype (bd->model, parts[0]);
  gboolean same = TRUE;

  /* Parts of different dtypes are bound one by one. */
  for (int i = 1; i < n; i++)
    same = same && clipscope_model_weight_dtype (bd->model, parts[i]) == dtype;
  *out[0] = same ? bd->bind (bd->binder, kind, dtype, n, parts, sizes) : CLIPSCOPE_NO_VIEW;
  if (out[0]->buf != NULL)
    return;
  for (int i = 0; i < n; i++)
    *out[i] = bind1 (bd, kind, parts[i], sizes[i]);
}

/* What a block and a pooling head end with: the attention's output
 * projection, a norm and the MLP, in that order. */
static void
bind_tail (const Binder        *bd,
           const float *const   src[8],
           ClipscopeView *const dst[8],
           gsize                w,
           gsize                m)
{
  const gsize sizes[8] = { w * w, w, w, w, m * w, m, w * m, w };

  for (int i = 0; i < 8; i++)
    *dst[i] = bind1 (bd, i == 0 || i == 4 || i == 6 ? CLIPSCOPE_WEIGHT_MATRIX : CLIPSCOPE_WEIGHT_VECTOR,
                     src[i], sizes[i]);
}

static ClipscopeBlockWeights *
bind_transformer (const Binder               *bd,
                  const ClipscopeTransformer *tf)
{
  const gsize w = tf->width, m = tf->mlp_width;
  ClipscopeBlockWeights *out = g_new0 (ClipscopeBlockWeights, MAX (tf->n_layers, 1));

  for (int l = 0; l < tf->n_layers; l++)
    {
      const ClipscopeBlock *b = &tf->blocks[l];
      ClipscopeBlockWeights *o = &out[l];
      const float *qkv_w[] = { b->q_w, b->k_w, b->v_w }, *qkv_b[] = { b->q_b, b->k_b, b->v_b };
      const gsize ww[] = { w * w, w * w, w * w }, wb[] = { w, w, w };
      ClipscopeView *ow[] = { &o->qkv_w, &o->k_w, &o->v_w }, *ob[] = { &o->qkv_b, &o->k_b, &o->v_b };

      const float *const tail[8] = {
        b->out_w, b->out_b, b->ln_2_w, b->ln_2_b, b->fc1_w, b->fc1_b, b->fc2_w, b->fc2_b,
      };
      ClipscopeView *const tail_out[8] = {
        &o->out_w, &o->out_b, &o->ln_2_w, &o->ln_2_b, &o->fc1_w, &o->fc1_b, &o->fc2_w, &o->fc2_b,
      };

      o->ln_1_w = bind1 (bd, CLIPSCOPE_WEIGHT_VECTOR, b->ln_1_w, w);
      o->ln_1_b = bind1 (bd, CLIPSCOPE_WEIGHT_VECTOR, b->ln_1_b, w);
      bind_parts (bd, CLIPSCOPE_WEIGHT_MATRIX, 3, qkv_w, ww, ow);
      bind_parts (bd, CLIPSCOPE_WEIGHT_VECTOR, 3, qkv_b, wb, ob);
      bind_tail (bd, tail, tail_out, w, m);
    }
  return out;
}

static ClipscopeConvWeights
bind_conv (const Binder        *bd,
           const ClipscopeConv *c)
{
  ClipscopeConvWeights o;

  o.w = bind1 (bd, CLIPSCOPE_WEIGHT_MATRIX, c->w, (gsize) c->c_out * c->c_in * c->kernel * c->kernel);
  o.b = bind1 (bd, CLIPSCOPE_WEIGHT_VECTOR, c->b, c->c_out);
  return o;
}

static void
bind_map_head (const Binder           *bd,
               const ClipscopeMapHead *h,
               gsize                   width,
               gsize                   mlp,
               ClipscopeWeights       *w)
{
  const float *kv_w[] = { h->k_w, h->v_w }, *kv_b[] = { h->k_b, h->v_b };
  const gsize sw[] = { width * width, width * width }, sb[] = { width, width };
  ClipscopeView *ow[] = { &w->map_kv_w, &w->map_v_w }, *ob[] = { &w->map_kv_b, &w->map_v_b };

  const float *const tail[8] = {
    h->out_w, h->out_b, h->ln_w, h->ln_b, h->fc1_w, h->fc1_b, h->fc2_w, h->fc2_b,
  };
  ClipscopeView *const tail_out[8] = {
    &w->map_out_w, &w->map_out_b, &w->map_ln_w, &w->map_ln_b,
    &w->map_fc1_w, &w->map_fc1_b, &w->map_fc2_w, &w->map_fc2_b,
  };

  w->map_q = bind1 (bd, CLIPSCOPE_WEIGHT_VECTOR, h->q, width);
  bind_parts (bd, CLIPSCOPE_WEIGHT_MATRIX, 2, kv_w, sw, ow);
  bind_parts (bd, CLIPSCOPE_WEIGHT_VECTOR, 2, kv_b, sb, ob);
  bind_tail (bd, tail, tail_out, width, mlp);
}

static void
bind_vit (const Binder         *bd,
          const ClipscopeModel *model,
          ClipscopeWeights     *w)
{
  const ClipscopeVit *v = &model->vit;
  const gsize width = v->tf.width;

  w->patch_w = bind1 (bd, CLIPSCOPE_WEIGHT_MATRIX, v->patch_w, width * 3 * v->patch_size * v->patch_size);
  w->patch_b = bind_opt (bd, CLIPSCOPE_WEIGHT_VECTOR, v->patch_b, width);
  w->class_emb = bind_opt (bd, CLIPSCOPE_WEIGHT_VECTOR, v->class_emb, width);
  w->vit_pos = bind1 (bd, CLIPSCOPE_WEIGHT_VECTOR, v->pos_emb,
                      ((v->map_head ? 0 : 1) + v->n_patches) * width);
  w->ln_pre_w = bind_opt (bd, CLIPSCOPE_WEIGHT_VECTOR, v->ln_pre_w, width);
  w->ln_pre_b = bind_opt (bd, CLIPSCOPE_WEIGHT_VECTOR, v->ln_pre_b, width);
  w->ln_post_w = bind1 (bd, CLIPSCOPE_WEIGHT_VECTOR, v->ln_post_w, width);
  w->ln_post_b = bind1 (bd, CLIPSCOPE_WEIGHT_VECTOR, v->ln_post_b, width);
  w->vit_proj = bind_opt (bd, CLIPSCOPE_WEIGHT_MATRIX, v->proj, model->info.embed_dim * width);
  w->vision_blocks = bind_transformer (bd, &v->tf);
  if (v->map_head)
    bind_map_head (bd, &v->head, width, v->tf.mlp_width, w);
}

static void
bind_resnet (const Binder         *bd,
             const ClipscopeModel *model,
             ClipscopeWeights     *w)
{
  const ClipscopeResnet *r = &model->resnet;
  const gsize d = r->pool_dim, seq = (gsize) r->pool_grid * r->pool_grid + 1;
  const float *kv_w[] = { r->pool_k_w, r->pool_v_w }, *kv_b[] = { r->pool_k_b, r->pool_v_b };
  const gsize sw[] = { d * d, d * d }, sb[] = { d, d };
  ClipscopeView *ow[] = { &w->pool_kv_w, &w->pool_v_w }, *ob[] = { &w->pool_kv_b, &w->pool_v_b };

  for (int i = 0; i < 3; i++)
    w->stem[i] = bind_conv (bd, &r->stem[i]);
  w->bottlenecks = g_new0 (ClipscopeBottleneckWeights, MAX (r->n_blocks, 1));
  for (int i = 0; i < r->n_blocks; i++)
    {
      const ClipscopeBottleneck *b = &r->blocks[i];

      w->bottlenecks[i].conv1 = bind_conv (bd, &b->conv1);
      w->bottlenecks[i].conv2 = bind_conv (bd, &b->conv2);
      w->bottlenecks[i].conv3 = bind_conv (bd, &b->conv3);
      if (b->has_downsample)
        w->bottlenecks[i].downsample = bind_conv (bd, &b->downsample);
    }
  w->pool_pos = bind1 (bd, CLIPSCOPE_WEIGHT_VECTOR, r->pool_pos, seq * d);
  w->pool_q_w = bind1 (bd, CLIPSCOPE_WEIGHT_MATRIX, r->pool_q_w, d * d);
  w->pool_q_b = bind1 (bd, CLIPSCOPE_WEIGHT_VECTOR, r->pool_q_b, d);
  bind_parts (bd, CLIPSCOPE_WEIGHT_MATRIX, 2, kv_w, sw, ow);
  bind_parts (bd, CLIPSCOPE_WEIGHT_VECTOR, 2, kv_b, sb, ob);
  w->pool_c_w = bind1 (bd, CLIPSCOPE_WEIGHT_MATRIX, r->pool_c_w, model->info.embed_dim * d);
  w->pool_c_b = bind1 (bd, CLIPSCOPE_WEIGHT_VECTOR, r->pool_c_b, model->info.embed_dim);
}

static void
bind_text (const Binder         *bd,
           const ClipscopeModel *model,
           ClipscopeWeights     *w)
{
  const ClipscopeTextTower *t = &model->text;
  const gsize width = t->tf.width;

  w->token_emb = bind1 (bd, CLIPSCOPE_WEIGHT_MATRIX, t->token_emb, (gsize) t->vocab_size * width);
  w->text_pos = bind1 (bd, CLIPSCOPE_WEIGHT_VECTOR, t->pos_emb, (gsize) t->context_length * width);
  if (t->bert)
    {
      w->ln_emb_w = bind1 (bd, CLIPSCOPE_WEIGHT_VECTOR, t->ln_emb_w, width);
      w->ln_emb_b = bind1 (bd, CLIPSCOPE_WEIGHT_VECTOR, t->ln_emb_b, width);
    }
  else
    {
      w->ln_final_w = bind1 (bd, CLIPSCOPE_WEIGHT_VECTOR, t->ln_final_w, width);
      w->ln_final_b = bind1 (bd, CLIPSCOPE_WEIGHT_VECTOR, t->ln_final_b, width);
    }
  w->text_proj = bind_opt (bd, CLIPSCOPE_WEIGHT_MATRIX, t->proj, model->info.embed_dim * width);
  w->text_proj_b = bind_opt (bd, CLIPSCOPE_WEIGHT_VECTOR, t->proj_b, model->info.embed_dim);
  w->text_blocks = bind_transformer (bd, &t->tf);
}

void
clipscope_weights_bind (ClipscopeWeights     *w,
                        const ClipscopeModel *model,
                        ClipscopeBindFunc     bind,
                        gpointer              binder)
{
  const Binder bd = { bind, binder, model };

  if (model->info.vision_kind == CLIPSCOPE_VISION_VIT)
    bind_vit (&bd, model, w);
  else
    bind_resnet (&bd, model, w);
  bind_text (&bd, model, w);
}

void
clipscope_weights_clear (ClipscopeWeights *w)
{
  g_clear_pointer (&w->vision_blocks, g_free);
  g_clear_pointer (&w->text_blocks, g_free);
  g_clear_pointer (&w->bottlenecks, g_free);
  memset (w, 0, sizeof *w);
}

/* -------------------------------------------------------------- sizes */

/* The largest channel-last feature map of one image, in floats. */
static gsize
resnet_map_floats (const ClipscopeResnet *r)
{
  int s = r->image_size;
  gsize most = 0;

  for (int i = 0; i < 3; i++)
    {
      s = clipscope_conv_out (&r->stem[i], s);
      most = MAX (most, (gsize) r->stem[i].c_out * s * s);
    }
  s /= 2;
  for (int i = 0; i < r->n_blocks; i++)
    {
      const ClipscopeBottleneck *b = &r->blocks[i];

      most = MAX (most, (gsize) MAX (b->conv1.c_out, b->conv3.c_out) * s * s);
      s /= b->stride;
    }
  return most;
}

static void
transformer_sizes (gsize                      *per,
                   const ClipscopeTransformer *tf,
                   gsize                       seq)
{
  per[CLIPSCOPE_SLOT_X] = MAX (per[CLIPSCOPE_SLOT_X], seq * tf->width * 4);
  per[CLIPSCOPE_SLOT_H] = MAX (per[CLIPSCOPE_SLOT_H], seq * tf->width * 4);
  per[CLIPSCOPE_SLOT_ATTN] = MAX (per[CLIPSCOPE_SLOT_ATTN], seq * tf->width * 4);
  per[CLIPSCOPE_SLOT_QKV] = MAX (per[CLIPSCOPE_SLOT_QKV], seq * 3 * tf->width * 4);
  per[CLIPSCOPE_SLOT_MLP] = MAX (per[CLIPSCOPE_SLOT_MLP], seq * tf->mlp_width * 4);
  per[CLIPSCOPE_SLOT_POOL] = MAX (per[CLIPSCOPE_SLOT_POOL], (gsize) tf->width * 4);
}

void
clipscope_graph_slot_sizes (const ClipscopeModel *m,
                            gsize                 per[CLIPSCOPE_N_SLOTS])
{
  const gsize seq = (gsize) clipscope_model_get_explain_grid ((ClipscopeModel *) m)
                    * clipscope_model_get_explain_grid ((ClipscopeModel *) m) + 1;

  memset (per, 0, CLIPSCOPE_N_SLOTS * sizeof *per);
  per[CLIPSCOPE_SLOT_PIXELS] = (gsize) 3 * m->info.image_size * m->info.image_size * 4;
  per[CLIPSCOPE_SLOT_OUT] = (gsize) m->info.embed_dim * 4;
  per[CLIPSCOPE_SLOT_IDS] = (gsize) m->text.context_length * 4;
  per[CLIPSCOPE_SLOT_INDEX] = 4;
  per[CLIPSCOPE_SLOT_SPATIAL_OUT] = seq * m->info.embed_dim * 4;
  transformer_sizes (per, &m->text.tf, m->text.context_length);
  if (m->info.vision_kind == CLIPSCOPE_VISION_VIT)
    {
      const gsize patch = (gsize) 3 * m->vit.patch_size * m->vit.patch_size;

      transformer_sizes (per, &m->vit.tf, 1 + m->vit.n_patches);
      per[CLIPSCOPE_SLOT_MLP] = MAX (per[CLIPSCOPE_SLOT_MLP], m->vit.n_patches * patch * 4);
    }
  else
    {
      const ClipscopeResnet *r = &m->resnet;
      const gsize map = resnet_map_floats (r) * 4;

      per[CLIPSCOPE_SLOT_X] = MAX (per[CLIPSCOPE_SLOT_X], seq * r->pool_dim * 4);
      per[CLIPSCOPE_SLOT_QKV] = MAX (per[CLIPSCOPE_SLOT_QKV], seq * 2 * r->pool_dim * 4);
      per[CLIPSCOPE_SLOT_ATTN] = MAX (per[CLIPSCOPE_SLOT_ATTN], (gsize) r->pool_dim * 4);
      per[CLIPSCOPE_SLOT_POOL] = MAX (per[CLIPSCOPE_SLOT_POOL], (gsize) r->pool_dim * 4);
      for (int s = CLIPSCOPE_SLOT_MAP_A; s <= CLIPSCOPE_SLOT_MAP_D; s++)
        per[s] = map;
      per[CLIPSCOPE_SLOT_SPATIAL_Q] = seq * r->pool_dim * 4;
      per[CLIPSCOPE_SLOT_SPATIAL_ATTN] = seq * r->pool_dim * 4;
    }
}

/* ------------------------------------------------------------ helpers */

void
clipscope_graph_linear_parts (ClipscopeGraphBackend *be,
                              ClipscopeView        x,
                              int                    ldx,
                              int                    rows,
                              int                    n_in,
                              const ClipscopeView *w,
                              const ClipscopeView *b,
                              int                    n_parts,
                              int                    n_out,
                              ClipscopeView        y,
                              int                    ldy)
{
  if (w[1].buf == NULL)
    {
      be->ops->linear (be, x, ldx, rows, n_in, w[0], b[0], n_parts * n_out, y, ldy,
                       CLIPSCOPE_ACT_NONE, FALSE);
      return;
    }
  for (int i = 0; i < n_parts; i++)
    be->ops->linear (be, x, ldx, rows, n_in, w[i], b[i], n_out,
                     clipscope_view_at (y, (gsize) i * n_out), ldy, CLIPSCOPE_ACT_NONE, FALSE);
}

/* ------------------------------------------------------- entry points */

static gboolean
encode_pixels (ClipscopeGraphBackend *be,
               const float           *pixels,
               int                    n,
               float                 *out,
               GCancellable          *cancellable,
               GError               **error)
{
  const ClipscopeGraphOps *ops = be->ops;
  const gsize image = (gsize) 3 * be->model->info.image_size * be->model->info.image_size;
  const int e = be->model->info.embed_dim;

  for (int done = 0; done < n; done += be->chunk)
    {
      const int b = MIN (be->chunk, n - done);
      const gsize in_bytes = (gsize) b * image * sizeof (float);
      const gsize out_bytes = (gsize) b * e * sizeof (float);

      be->cancellable = cancellable;
      if (g_cancellable_set_error_if_cancelled (cancellable, error)
          || !ops->begin (be, b, FALSE, in_bytes + out_bytes, error))
        return FALSE;
      ops->upload (be, ops->slot (be, CLIPSCOPE_SLOT_PIXELS), pixels + done * image, in_bytes);
      if (be->model->info.vision_kind == CLIPSCOPE_VISION_VIT)
        clipscope_vit_record (be, b, FALSE);
      else
        clipscope_resnet_record (be, b, FALSE);
      ops->l2_norm (be, ops->slot (be, CLIPSCOPE_SLOT_OUT), b, e);
      ops->download (be, ops->slot (be, CLIPSCOPE_SLOT_OUT), out + (gsize) done * e, out_bytes);
      if (!ops->submit (be, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
explain_pixels (ClipscopeGraphBackend *be,
                const float           *pixels,
                float                 *out,
                GCancellable          *cancellable,
                GError               **error)
{
  const ClipscopeGraphOps *ops = be->ops;
  const ClipscopeModel *m = be->model;
  const gsize image = (gsize) 3 * m->info.image_size * m->info.image_size * sizeof (float);
  const int grid = clipscope_model_get_explain_grid (be->model);
  const int seq = 1 + grid * grid, e = m->info.embed_dim;
  const gsize out_bytes = (gsize) seq * e * sizeof (float);

  be->cancellable = cancellable;
  if (g_cancellable_set_error_if_cancelled (cancellable, error)
      || !ops->begin (be, 1, TRUE, image + out_bytes, error))
    return FALSE;
  ops->upload (be, ops->slot (be, CLIPSCOPE_SLOT_PIXELS), pixels, image);
  if (m->info.vision_kind == CLIPSCOPE_VISION_VIT)
    clipscope_vit_record (be, 1, TRUE);
  else
    clipscope_resnet_record (be, 1, TRUE);
  ops->l2_norm (be, ops->slot (be, CLIPSCOPE_SLOT_SPATIAL_OUT), seq, e);
  ops->download (be, ops->slot (be, CLIPSCOPE_SLOT_SPATIAL_OUT), out, out_bytes);
  return ops->submit (be, error);
}

/* Checks every id of @tokens [n, context] against the vocabulary. */
static gboolean
check_ids (const ClipscopeTextTower *t,
           const int32_t            *tokens,
           int                       n,
           GError                  **error)
{
  const int ctx = t->context_length;

  for (int i = 0; i < n; i++)
    for (int j = 0; j < ctx; j++)
      {
        const int32_t id = tokens[(gsize) i * ctx + j];

        if (id < 0 || id >= t->vocab_size)
          {
            g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT,
                         "token id %d at text %d, position %d is outside the vocabulary of %d",
                         id, i, j, t->vocab_size);
            return FALSE;
          }
      }
  return TRUE;
}

/* CLIP: the end-of-text token has the highest id, so CLIP pools at the
 * row's maximum; the longest prefix in the chunk sets the sequence
 * length, because under the causal mask later rows cannot change earlier
 * ones: short labels then cost a fraction of the full context. SigLIP
 * attends in both directions and pools the last position: all of it,
 * always. BERT: index[b] is the length of row b, up to its last id that is not
 * padding (at least 1: [CLS]), the keys its attention sees; the longest
 * sets the sequence length, as the padding is masked. */
static gboolean
text_positions (const ClipscopeTextTower *t,
                const int32_t            *tokens,
                int                       n,
                int32_t                  *index,
                int                      *seq,
                GError                  **error)
{
  const int ctx = t->context_length;

  if (!check_ids (t, tokens, n, error))
    return FALSE;
  *seq = 1;
  for (int i = 0; i < n; i++)
    {
      const int32_t *row = tokens + (gsize) i * ctx;

      if (t->bert)
        {
          index[i] = ctx;
          while (index[i] > 1 && row[index[i] - 1] == t->pad_id)
            index[i]--;
          *seq = MAX (*seq, index[i]);
          continue;
        }
      index[i] = 0;
      for (int j = 0; j < ctx; j++)
        if (t->pool_last ? j == ctx - 1 : row[j] > row[index[i]])
          index[i] = j;
      *seq = MAX (*seq, index[i] + 1);
    }
  return TRUE;
}

static gboolean
encode_tokens (ClipscopeGraphBackend *be,
               const int32_t         *tokens,
               int                    n,
               float                 *out,
               GCancellable          *cancellable,
               GError               **error)
{
  const ClipscopeGraphOps *ops = be->ops;
  const ClipscopeTextTower *t = &be->model->text;
  const int ctx = t->context_length, e = be->model->info.embed_dim;
  g_autofree int32_t *index = g_new0 (int32_t, be->chunk);

  for (int done = 0; done < n; done += be->chunk)
    {
      const int b = MIN (be->chunk, n - done);
      const int32_t *rows = tokens + (gsize) done * ctx;
      const gsize ids_bytes = (gsize) b * ctx * sizeof (int32_t);
      const gsize out_bytes = (gsize) b * e * sizeof (float);
      int seq;

      be->cancellable = cancellable;
      if (g_cancellable_set_error_if_cancelled (cancellable, error)
          || !text_positions (t, rows, b, index, &seq, error)
          || !ops->begin (be, b, FALSE, ids_bytes + b * sizeof (int32_t) + out_bytes, error))
        return FALSE;
      ops->upload (be, ops->slot (be, CLIPSCOPE_SLOT_IDS), rows, ids_bytes);
      ops->upload (be, ops->slot (be, CLIPSCOPE_SLOT_INDEX), index, b * sizeof (int32_t));
      if (t->bert)
        clipscope_bert_record (be, b, seq);
      else
        clipscope_text_record (be, b, seq);
      ops->l2_norm (be, ops->slot (be, CLIPSCOPE_SLOT_OUT), b, e);
      ops->download (be, ops->slot (be, CLIPSCOPE_SLOT_OUT), out + (gsize) done * e, out_bytes);
      if (!ops->submit (be, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
clipscope_graph_run (ClipscopeGraphBackend *be,
                     ClipscopePass          pass,
                     gconstpointer          in,
                     int                    n,
                     float                 *out,
                     GCancellable          *cancellable,
                     GError               **error)
{
  if (pass == CLIPSCOPE_PASS_PIXELS)
    return encode_pixels (be, in, n, out, cancellable, error);
  if (pass == CLIPSCOPE_PASS_TOKENS)
    return encode_tokens (be, in, n, out, cancellable, error);
  return explain_pixels (be, in, out, cancellable, error);
}
