/* cpu-gemm.c — the CPU backend's linear layers through oneDNN (see cpu-gemm.h) */
#include "cpu-gemm.h"
#include "cpu-quant.h"

#ifdef HAVE_DNNL

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_version.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>

/* What a matmul primitive is made for. Weights are the model's [n_out,
 * n_in] rows read transposed, or packed into the primitive's own layout. */
typedef struct {
  int              rows, n_in, n_out, ldx, ldy;
  ClipscopeAct     act;
  gboolean         bias, accumulate, packed;
  dnnl_data_type_t type;    /* of x and w; y is float32, int32 sums for int8 */
} Shape;

typedef struct {
  dnnl_primitive_t   prim;      /* NULL: no fast kernel for this shape */
  dnnl_memory_desc_t src, weights, bias, dst;
  gsize              scratch;   /* bytes */
} Kernel;

/* A pinned weight matrix, packed at its first use. */
typedef struct {
  dnnl_memory_t      mem;       /* NULL: not packed yet */
  dnnl_memory_desc_t md;
  int                n_in, n_out;
  ClipscopeDtype     dtype;     /* of the model's matrix */
  float             *scales;    /* int8: per output channel, else NULL */
  const ClipscopeCpuStack *stack; /* the parts it is stacked from, or NULL */
} Packed;

/* Stacked parts: a copy of them (vectors), or a description (matrices). */
typedef struct {
  ClipscopeCpuStack desc;       /* first, so that &desc is the Stack */
  guint8           *copy;
} Stack;

/* A model's pinned matrices and stacked parts, shared by its contexts
 * (model->derived, under model->derived_lock): each matrix is packed
 * once per precision, by the first context to use it, and freed with the
 * model. */
typedef struct {
  GHashTable *pinned[3];        /* per ClipscopePrecision: the model's matrix → Packed */
  GHashTable *stacks;           /* the first part → Stack */
  GHashTable *matrices;         /* the Stacks of matrices (by &desc) */
  guint8     *scratch;          /* where matrices are widened or stacked to pack them, in a pass */
  gsize       scratch_size;     /* bytes, mapped */
} Store;

struct _ClipscopeCpuGemm {
  ClipscopePrecision precision;
  dnnl_stream_t      stream;
  ClipscopeModel    *model;      /* borrowed; NULL: nothing pinned */
  Store             *store;      /* the model's */
  void              *scratch;
  gsize              scratch_size;
  guint16           *src16;      /* x rounded to bfloat16 */
  gsize              src16_size; /* elements */
  gint8             *src8;       /* x quantised to int8 */
  gsize              src8_size;  /* bytes */
  float             *src_scales; /* its rows' scales */
  gsize              src_scales_size; /* bytes */
  gint32            *sums;       /* the int8 products' */
  gsize              sums_size;  /* bytes */
  float             *scores;     /* attention's, for a chunk of sequences */
  gsize              scores_size; /* bytes */
  char               desc[48];
};

/* Attention's scores for as many sequences at a time as fit in this
 * (at least one), so that they stay in the caches between the products. */
#define ATTN_SCORES_BYTES ((gsize) 4 << 20)

/* The two batched products of attention over a chunk of sequences: the
 * scores s = q · kᵀ / √hd and the output o = p · v, every head at once,
 * q, k, v and o read and written where they lie, interleaved by head. */
typedef struct {
  int batch, heads, n_q, seq, hd, ldq, q_bstride, ldkv, ldout;
} AttnShape;

typedef struct {
  Kernel scores, output;
} AttnKernels;

/* Shared by every context: primitives may run on any thread once made,
 * as their scratch memory is the caller's. */
static dnnl_engine_t engine;
static GMutex kernels_lock;
static GHashTable *kernels;   /* Shape → Kernel */
static GHashTable *attn_kernels;   /* AttnShape → AttnKernels */

static guint
shape_hash (gconstpointer p)
{
  const Shape *s = p;

  return (guint) (s->rows * 2654435761u) ^ (guint) (s->n_in * 40503u) ^ (guint) (s->n_out << 7)
         ^ (guint) (s->ldx << 13) ^ (guint) (s->ldy << 19) ^ (guint) (s->act << 3)
         ^ (guint) ((s->bias << 1) | s->accumulate | (s->packed << 2)) ^ (guint) (s->type << 27);
}

static gboolean
shape_equal (gconstpointer a,
             gconstpointer b)
{
  return memcmp (a, b, sizeof (Shape)) == 0;
}

static guint
attn_shape_hash (gconstpointer p)
{
  const int *f = p;
  guint h = 2166136261u;

  for (gsize i = 0; i < sizeof (AttnShape) / sizeof (int); i++)
    h = (h ^ (guint) f[i]) * 16777619u;
  return h;
}

static gboolean
attn_shape_equal (gconstpointer a,
                  gconstpointer b)
{
  return memcmp (a, b, sizeof (AttnShape)) == 0;
}

static void
kernel_free (gpointer p)
{
  Kernel *k = p;

  if (k->prim != NULL)
    dnnl_primitive_destroy (k->prim);
  g_free (k);
}

static void
attn_kernels_free (gpointer p)
{
  AttnKernels *a = p;

  if (a->scores.prim != NULL)
    dnnl_primitive_destroy (a->scores.prim);
  if (a->output.prim != NULL)
    dnnl_primitive_destroy (a->output.prim);
  g_free (a);
}

static gboolean
engine_init (void)
{
  static gsize once;

  if (g_once_init_enter (&once))
    {
      if (dnnl_engine_create (&engine, dnnl_cpu, 0) != dnnl_success)
        engine = NULL;
      kernels = g_hash_table_new_full (shape_hash, shape_equal, g_free, kernel_free);
      attn_kernels = g_hash_table_new_full (attn_shape_hash, attn_shape_equal, g_free,
                                            attn_kernels_free);
      g_once_init_leave (&once, 1);
    }
  return engine != NULL;
}

static void
md_2d (dnnl_memory_desc_t *md,
       int                 rows,
       int                 cols,
       dnnl_data_type_t    type,
       int                 row_stride,
       int                 col_stride)
{
  const dnnl_dims_t dims = { rows, cols }, strides = { row_stride, col_stride };

  dnnl_memory_desc_init_by_strides (md, 2, dims, type, strides);
}

static dnnl_alg_kind_t
eltwise_of (ClipscopeAct act,
            float       *alpha)
{
  *alpha = 0.0f;
  switch (act)
    {
    case CLIPSCOPE_ACT_QUICK_GELU:
      *alpha = 1.702f;              /* x · σ(1.702 x) is swish with α = 1.702 */
      return dnnl_eltwise_swish;
    case CLIPSCOPE_ACT_GELU:
      return dnnl_eltwise_gelu_erf;
    case CLIPSCOPE_ACT_GELU_TANH:
      return dnnl_eltwise_gelu_tanh;
    case CLIPSCOPE_ACT_RELU:
      return dnnl_eltwise_relu;
    case CLIPSCOPE_ACT_NONE:
    default:
      return dnnl_alg_kind_undef;
    }
}

/* k->prim for @op (NULL: failed before) with @attr, and what it wants of
 * the weights and scratch; no primitive where oneDNN has only its slow
 * reference code for it. */
static void
kernel_finish (Kernel                   *k,
               const dnnl_matmul_desc_t *op,
               const_dnnl_primitive_attr_t attr)
{
  dnnl_primitive_desc_t pd = NULL;
  const char *impl = NULL;

  k->prim = NULL;
  if (op != NULL && dnnl_primitive_desc_create (&pd, op, attr, engine, NULL) == dnnl_success
      && dnnl_primitive_desc_query (pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success
      && strstr (impl, "ref") == NULL && dnnl_primitive_create (&k->prim, pd) == dnnl_success)
    {
      k->weights = *dnnl_primitive_desc_query_md (pd, dnnl_query_weights_md, 0);
      k->scratch = dnnl_memory_desc_get_size (dnnl_primitive_desc_query_md (pd, dnnl_query_scratchpad_md, 0));
    }
  else
    k->prim = NULL;
  if (pd != NULL)
    dnnl_primitive_desc_destroy (pd);
}

/* The matmul of @s, or one without a primitive where oneDNN has only its
 * slow reference code for it. */
static void
kernel_make (Kernel      *k,
             const Shape *s)
{
  dnnl_primitive_attr_t attr = NULL;
  dnnl_post_ops_t post = NULL;
  dnnl_matmul_desc_t op;
  dnnl_alg_kind_t alg;
  float alpha;
  gboolean ok;

  md_2d (&k->src, s->rows, s->n_in, s->type, s->ldx, 1);
  if (s->packed)
    {
      const dnnl_dims_t dims = { s->n_in, s->n_out };

      dnnl_memory_desc_init_by_tag (&k->weights, 2, dims, s->type, dnnl_format_tag_any);
    }
  else
    md_2d (&k->weights, s->n_in, s->n_out, s->type, 1, s->n_in);
  md_2d (&k->bias, 1, s->n_out, dnnl_f32, s->n_out, 1);
  if (s->type == dnnl_s8)
    md_2d (&k->dst, s->rows, s->n_out, dnnl_s32, s->n_out, 1);
  else
    md_2d (&k->dst, s->rows, s->n_out, dnnl_f32, s->ldy, 1);

  ok = dnnl_matmul_desc_init (&op, &k->src, &k->weights, s->bias ? &k->bias : NULL, &k->dst)
         == dnnl_success
       && dnnl_primitive_attr_create (&attr) == dnnl_success
       && dnnl_primitive_attr_set_scratchpad_mode (attr, dnnl_scratchpad_mode_user) == dnnl_success
       && dnnl_post_ops_create (&post) == dnnl_success;
  /* y = act(x · wᵀ + b + y): the sum first, then the activation. */
  if (ok && s->accumulate)
    ok = dnnl_post_ops_append_sum (post, 1.0f) == dnnl_success;
  if (ok && (alg = eltwise_of (s->act, &alpha)) != dnnl_alg_kind_undef)
    ok = dnnl_post_ops_append_eltwise (post, 1.0f, alg, alpha, 0.0f) == dnnl_success;
  ok = ok && dnnl_primitive_attr_set_post_ops (attr, post) == dnnl_success;
  kernel_finish (k, ok ? &op : NULL, attr);
  if (post != NULL)
    dnnl_post_ops_destroy (post);
  if (attr != NULL)
    dnnl_primitive_attr_destroy (attr);
}

/* The primitives cached in @table for @key (of @key_size bytes), made by
 * @make into a new zeroed @value_size block on first use. */
static gconstpointer
cached (GHashTable   *table,
        gconstpointer key,
        gsize         key_size,
        gsize         value_size,
        void        (*make) (gpointer value, gconstpointer key))
{
  gpointer v;

  g_mutex_lock (&kernels_lock);
  if ((v = g_hash_table_lookup (table, key)) == NULL)
    {
      v = g_malloc0 (value_size);
      make (v, key);
      g_hash_table_insert (table, g_memdup2 (key, key_size), v);
    }
  g_mutex_unlock (&kernels_lock);
  return v;
}

static void
kernel_make_cb (gpointer      value,
                gconstpointer key)
{
  kernel_make (value, key);
}

static const Kernel *
kernel_get (const Shape *s)
{
  return cached (kernels, s, sizeof *s, sizeof (Kernel), kernel_make_cb);
}

/* A [batch, heads, rows, cols] float32 array with the given strides. */
static void
md_4d (dnnl_memory_desc_t *md,
       const AttnShape    *a,
       int                 rows,
       int                 cols,
       dnnl_dim_t          batch_stride,
       dnnl_dim_t          head_stride,
       dnnl_dim_t          row_stride,
       dnnl_dim_t          col_stride)
{
  const dnnl_dims_t dims = { a->batch, a->heads, rows, cols };
  const dnnl_dims_t strides = { batch_stride, head_stride, row_stride, col_stride };

  dnnl_memory_desc_init_by_strides (md, 4, dims, dnnl_f32, strides);
}

/* One matmul of attention: dst = src · weights · @scale. */
static void
attn_product (Kernel *k,
              float   scale)
{
  dnnl_primitive_attr_t attr = NULL;
  dnnl_matmul_desc_t op;
  gboolean ok;

  ok = dnnl_matmul_desc_init (&op, &k->src, &k->weights, NULL, &k->dst) == dnnl_success
       && dnnl_primitive_attr_create (&attr) == dnnl_success
       && dnnl_primitive_attr_set_scratchpad_mode (attr, dnnl_scratchpad_mode_user) == dnnl_success
       && dnnl_primitive_attr_set_output_scales (attr, 1, 0, &scale) == dnnl_success;
  kernel_finish (k, ok ? &op : NULL, attr);
  if (attr != NULL)
    dnnl_primitive_attr_destroy (attr);
}

/* Head h of sequence b: q rows [n_q, hd] from row b · q_bstride, k and v
 * rows [seq, hd] from row b · seq, out rows [n_q, hd] from row b · n_q,
 * each at column h · hd; the scores between them [batch, heads, n_q, seq]
 * are the kernels' own. */
static void
attn_make (AttnKernels     *ak,
           const AttnShape *a)
{
  const dnnl_dim_t kv_batch = (dnnl_dim_t) a->seq * a->ldkv;

  md_4d (&ak->scores.src, a, a->n_q, a->hd, (dnnl_dim_t) a->q_bstride * a->ldq, a->hd, a->ldq, 1);
  md_4d (&ak->scores.weights, a, a->hd, a->seq, kv_batch, a->hd, 1, a->ldkv);
  md_4d (&ak->scores.dst, a, a->n_q, a->seq, (dnnl_dim_t) a->heads * a->n_q * a->seq,
         (dnnl_dim_t) a->n_q * a->seq, a->seq, 1);
  attn_product (&ak->scores, 1.0f / sqrtf ((float) a->hd));
  ak->output.src = ak->scores.dst;
  md_4d (&ak->output.weights, a, a->seq, a->hd, kv_batch, a->hd, a->ldkv, 1);
  md_4d (&ak->output.dst, a, a->n_q, a->hd, (dnnl_dim_t) a->n_q * a->ldout, a->hd, a->ldout, 1);
  attn_product (&ak->output, 1.0f);
}

static void
attn_make_cb (gpointer      value,
              gconstpointer key)
{
  attn_make (value, key);
}

static const AttnKernels *
attn_get (const AttnShape *a)
{
  return cached (attn_kernels, a, sizeof *a, sizeof (AttnKernels), attn_make_cb);
}

static void
packed_free (gpointer p)
{
  Packed *pk = p;

  if (pk->mem != NULL)
    dnnl_memory_destroy (pk->mem);
  g_free (pk->scales);
  g_free (pk);
}

/* A memory object over @data, or NULL. */
static dnnl_memory_t
wrap (const dnnl_memory_desc_t *md,
      const void               *data)
{
  dnnl_memory_t m = NULL;

  if (dnnl_memory_create (&m, md, engine, (void *) data) != dnnl_success)
    return NULL;
  return m;
}

/* Calls @fn on the pages of the mapped file that @pk is read from:
 * clipscope_safetensors_prefault() before they are read, as the load's
 * check let them go, or clipscope_safetensors_release() once packed. */
static void
each_source (ClipscopeCpuGemm *gemm,
             const Packed     *pk,
             const float      *w,
             gsize             n,
             void            (*fn) (ClipscopeSafetensors *, const void *, gsize))
{
  for (int i = 0; i < (pk->stack != NULL ? pk->stack->n_parts : 1); i++)
    fn (gemm->model->weights_file, pk->stack != NULL ? pk->stack->parts[i] : w,
        (pk->stack != NULL ? pk->stack->sizes[i] : n) * clipscope_dtype_size (pk->dtype));
}

/* The store's scratch, of at least @bytes, or NULL. It is mapped, so that
 * none of it stays in the heap once it goes, and kept from one matrix to
 * the next until the pass ends (clipscope_cpu_gemm_pass_done()), so that
 * its pages are not made anew for each. */
static guint8 *
store_scratch (Store *st,
               gsize  bytes)
{
  if (st->scratch_size < bytes)
    {
      if (st->scratch != NULL)
        munmap (st->scratch, st->scratch_size);
      st->scratch_size = 0;
      st->scratch = mmap (NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (st->scratch == MAP_FAILED)
        return st->scratch = NULL;
      st->scratch_size = bytes;
    }
  return st->scratch;
}

/* Reorders w[n_out, n_in] into @md (converting to its type) once, then
 * lets the source's pages go. A float32 or bfloat16 matrix is reordered
 * as it lies (bfloat16 widens exactly); a float16 one, or a bfloat16 one
 * for int8, is widened exactly to float32 first, and parts are stacked
 * first, in the store's scratch. For int8 the float32 rows are quantised
 * first (cpu-quant.h), their scales kept in @pk. */
static gboolean
pack (ClipscopeCpuGemm         *gemm,
      Packed                   *pk,
      const float              *w,
      int                       n_in,
      int                       n_out,
      const dnnl_memory_desc_t *md)
{
  const gsize n = (gsize) n_in * n_out;
  const gboolean int8 = gemm->precision == CLIPSCOPE_PRECISION_INT8;
  /* int8 quantises from float32 rows. */
  const gboolean as_is = pk->dtype == CLIPSCOPE_DTYPE_F32
                         || (pk->dtype == CLIPSCOPE_DTYPE_BF16 && !int8);
  const gsize elem = as_is ? clipscope_dtype_size (pk->dtype) : sizeof (float);
  guint8 *wide = NULL;
  dnnl_memory_desc_t plain;
  dnnl_primitive_desc_t pd = NULL;
  dnnl_primitive_t reorder = NULL;
  dnnl_memory_t from, to = NULL;
  gint8 *q8 = NULL;
  float *scales = NULL;
  gboolean ok;

  if (pk->stack != NULL || !as_is)
    {
      const ClipscopeCpuStack one = { 1, { w }, { n }, pk->dtype };
      const ClipscopeCpuStack *from_parts = pk->stack != NULL ? pk->stack : &one;
      gsize at = 0;

      if ((wide = store_scratch (gemm->store, n * elem)) == NULL)
        return FALSE;
      each_source (gemm, pk, w, n, clipscope_safetensors_prefault);
      for (int i = 0; i < from_parts->n_parts; at += from_parts->sizes[i], i++)
        if (as_is)
          memcpy (wide + at * elem, from_parts->parts[i], from_parts->sizes[i] * elem);
        else
          clipscope_widen_16 (pk->dtype, (const guint16 *) (const void *) from_parts->parts[i],
                              from_parts->sizes[i], (float *) (void *) (wide + at * elem));
      each_source (gemm, pk, w, n, clipscope_safetensors_release);
    }
  else
    each_source (gemm, pk, w, n, clipscope_safetensors_prefault);
  if (int8)
    {
      q8 = mmap (NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      scales = g_try_new (float, n_out);
      if (q8 == MAP_FAILED || scales == NULL)
        {
          if (q8 != MAP_FAILED)
            munmap (q8, n);
          g_free (scales);
          return FALSE;
        }
      clipscope_cpu_quantize_rows (wide != NULL ? (const float *) (const void *) wide : w, n_in,
                                   n_out, n_in, q8, scales, TRUE);
    }
  md_2d (&plain, n_in, n_out,
         int8 ? dnnl_s8 : elem == sizeof (float) ? dnnl_f32 : dnnl_bf16, 1, n_in);
  from = wrap (&plain, int8 ? (const void *) q8
                       : wide != NULL ? (const void *) wide : (const void *) w);
  ok = from != NULL
       && dnnl_memory_create (&to, md, engine, DNNL_MEMORY_ALLOCATE) == dnnl_success
       && dnnl_reorder_primitive_desc_create (&pd, &plain, engine, md, engine, NULL) == dnnl_success
       && dnnl_primitive_create (&reorder, pd) == dnnl_success;
  if (ok)
    {
      dnnl_exec_arg_t args[] = { { DNNL_ARG_FROM, from }, { DNNL_ARG_TO, to } };

      ok = dnnl_primitive_execute (reorder, gemm->stream, 2, args) == dnnl_success
           && dnnl_stream_wait (gemm->stream) == dnnl_success;
    }
  if (reorder != NULL)
    dnnl_primitive_destroy (reorder);
  if (pd != NULL)
    dnnl_primitive_desc_destroy (pd);
  if (from != NULL)
    dnnl_memory_destroy (from);
  if (ok)
    {
      pk->mem = to;
      pk->md = *md;
      pk->n_in = n_in;
      pk->n_out = n_out;
      pk->scales = g_steal_pointer (&scales);
      if (wide == NULL)
        each_source (gemm, pk, w, n, clipscope_safetensors_release);
    }
  else if (to != NULL)
    dnnl_memory_destroy (to);
  if (q8 != NULL)
    munmap (q8, n);
  g_free (scales);
  return ok;
}

static gboolean
grow (void  **buf,
      gsize  *size,
      gsize   bytes)
{
  if (*size >= bytes)
    return TRUE;
  g_free (*buf);
  *size = 0;
  if ((*buf = g_try_malloc (MAX (bytes, 64))) == NULL)
    return FALSE;
  *size = bytes;
  return TRUE;
}

/* Rounds to the nearest bfloat16, ties to even; NaN stays NaN. */
static void
to_bf16 (const float *x,
         int          ldx,
         int          rows,
         int          n,
         guint16     *out)
{
  clipscope_cpu_to_bf16 (x, ldx, rows, n, out, TRUE);
}

static void
stack_free (gpointer p)
{
  Stack *sk = p;

  g_free (sk->copy);
  g_free (sk);
}

static void
store_free (gpointer p)
{
  Store *st = p;

  for (int i = 0; i < (int) G_N_ELEMENTS (st->pinned); i++)
    g_hash_table_destroy (st->pinned[i]);
  g_hash_table_destroy (st->matrices);
  g_hash_table_destroy (st->stacks);
  if (st->scratch != NULL)
    munmap (st->scratch, st->scratch_size);
  g_free (st);
}

/* The model's store, made by its first context. */
static Store *
store_get (ClipscopeModel *model)
{
  Store *st;

  g_mutex_lock (&model->derived_lock);
  if (model->derived == NULL)
    {
      st = g_new0 (Store, 1);
      for (int i = 0; i < (int) G_N_ELEMENTS (st->pinned); i++)
        st->pinned[i] = g_hash_table_new_full (NULL, NULL, NULL, packed_free);
      st->stacks = g_hash_table_new_full (NULL, NULL, NULL, stack_free);
      st->matrices = g_hash_table_new (NULL, NULL);
      model->derived = st;
      model->derived_free = store_free;
    }
  st = model->derived;
  g_mutex_unlock (&model->derived_lock);
  return st;
}

ClipscopeCpuGemm *
clipscope_cpu_gemm_new (ClipscopePrecision precision,
                        ClipscopeModel    *model)
{
  const char *choice = g_getenv ("CLIPSCOPE_CPU_GEMM");
  const dnnl_version_t *v = dnnl_version ();
  ClipscopeCpuGemm *gemm;

  if ((choice != NULL && g_strcmp0 (choice, "openblas") == 0) || !engine_init ())
    return NULL;
  /* Without AVX512-BF16 or AMX oneDNN would emulate bfloat16 slowly. Its
   * instruction sets are supersets of each other's bits; asking oneDNN
   * rather than the compiler also honours ONEDNN_MAX_CPU_ISA. */
  if (precision == CLIPSCOPE_PRECISION_BF16
      && (dnnl_get_effective_cpu_isa () & dnnl_cpu_isa_avx512_core_bf16)
         != dnnl_cpu_isa_avx512_core_bf16)
    return NULL;
  /* int8 products want VNNI (or AMX, whose bits include it). */
  if (precision == CLIPSCOPE_PRECISION_INT8
      && (dnnl_get_effective_cpu_isa () & dnnl_cpu_isa_avx512_core_vnni)
         != dnnl_cpu_isa_avx512_core_vnni)
    return NULL;
  gemm = g_new0 (ClipscopeCpuGemm, 1);
  gemm->precision = precision;
  if (dnnl_stream_create (&gemm->stream, engine, dnnl_stream_default_flags) != dnnl_success)
    {
      g_free (gemm);
      return NULL;
    }
  gemm->model = model;
  gemm->store = model != NULL ? store_get (model) : NULL;
  g_snprintf (gemm->desc, sizeof gemm->desc, "oneDNN %d.%d.%d%s", v->major, v->minor, v->patch,
              precision == CLIPSCOPE_PRECISION_BF16 ? " bf16"
              : precision == CLIPSCOPE_PRECISION_INT8 ? " int8" : "");
  return gemm;
}

void
clipscope_cpu_gemm_free (ClipscopeCpuGemm *gemm)
{
  if (gemm == NULL)
    return;
  dnnl_stream_destroy (gemm->stream);
  g_free (gemm->scratch);
  g_free (gemm->src16);
  g_free (gemm->src8);
  g_free (gemm->src_scales);
  g_free (gemm->sums);
  g_free (gemm->scores);
  g_free (gemm);
}

void
clipscope_cpu_gemm_pass_done (ClipscopeCpuGemm *gemm)
{
  Store *st = gemm != NULL ? gemm->store : NULL;

  if (st == NULL)
    return;
  g_mutex_lock (&gemm->model->derived_lock);
  if (st->scratch != NULL)
    munmap (st->scratch, st->scratch_size);
  st->scratch = NULL;
  st->scratch_size = 0;
  g_mutex_unlock (&gemm->model->derived_lock);
}

void
clipscope_cpu_gemm_pin (ClipscopeCpuGemm *gemm,
                        const float      *w,
                        ClipscopeDtype    dtype)
{
  GHashTable *pinned;

  if (gemm == NULL || gemm->store == NULL)
    return;
  pinned = gemm->store->pinned[gemm->precision];
  g_mutex_lock (&gemm->model->derived_lock);
  if (!g_hash_table_contains (pinned, w))
    {
      Packed *pk = g_new0 (Packed, 1);

      pk->dtype = dtype;
      pk->stack = g_hash_table_lookup (gemm->store->matrices, w);
      g_hash_table_insert (pinned, (gpointer) w, pk);
    }
  g_mutex_unlock (&gemm->model->derived_lock);
}

const void *
clipscope_cpu_gemm_stack (ClipscopeCpuGemm   *gemm,
                          int                 n_parts,
                          const float *const *parts,
                          const gsize        *sizes,
                          ClipscopeDtype      dtype,
                          gboolean            copy)
{
  const gsize elem = clipscope_dtype_size (dtype);
  Stack *sk;
  gsize total = 0, off = 0;

  if (gemm == NULL || gemm->store == NULL || n_parts > 3)
    return NULL;
  for (int i = 0; i < n_parts; i++)
    total += sizes[i];
  g_mutex_lock (&gemm->model->derived_lock);
  sk = g_hash_table_lookup (gemm->store->stacks, parts[0]);
  if (sk == NULL)
    {
      sk = g_new0 (Stack, 1);
      sk->desc.n_parts = n_parts;
      sk->desc.dtype = dtype;
      for (int i = 0; i < n_parts; i++)
        {
          sk->desc.parts[i] = parts[i];
          sk->desc.sizes[i] = sizes[i];
        }
      if (copy && (sk->copy = g_try_malloc (total * elem)) != NULL)
        for (int i = 0; i < n_parts; off += sizes[i], i++)
          memcpy (sk->copy + off * elem, parts[i], sizes[i] * elem);
      g_hash_table_insert (gemm->store->stacks, (gpointer) parts[0], sk);
      if (!copy)
        g_hash_table_add (gemm->store->matrices, &sk->desc);
    }
  g_mutex_unlock (&gemm->model->derived_lock);
  return copy ? (const void *) sk->copy : (const void *) &sk->desc;
}

const ClipscopeCpuStack *
clipscope_cpu_gemm_stack_of (ClipscopeCpuGemm *gemm,
                             const void       *w)
{
  const ClipscopeCpuStack *stack = NULL;

  if (gemm == NULL || gemm->store == NULL)
    return NULL;
  g_mutex_lock (&gemm->model->derived_lock);
  if (g_hash_table_contains (gemm->store->matrices, w))
    stack = w;
  g_mutex_unlock (&gemm->model->derived_lock);
  return stack;
}

gboolean
clipscope_cpu_gemm_linear (ClipscopeCpuGemm *gemm,
                           const float      *x,
                           int               ldx,
                           int               rows,
                           int               n_in,
                           const float      *w,
                           ClipscopeDtype    w_dtype,
                           const float      *b,
                           int               n_out,
                           float            *y,
                           int               ldy,
                           ClipscopeAct      act,
                           gboolean          accumulate)
{
  const gboolean bf16 = gemm->precision == CLIPSCOPE_PRECISION_BF16;
  const gboolean int8 = gemm->precision == CLIPSCOPE_PRECISION_INT8;
  /* int8 products leave int32 sums; bias, residual and activation are
   * then the epilogue's (cpu-quant.h), as the rows have their own scales. */
  const float *kb = int8 ? NULL : b;
  Packed *pk = NULL;
  Shape s = { rows, n_in, n_out, ldx, int8 ? n_out : ldy, int8 ? CLIPSCOPE_ACT_NONE : act,
              kb != NULL, accumulate && !int8, FALSE,
              bf16 ? dnnl_bf16 : int8 ? dnnl_s8 : dnnl_f32 };
  const Kernel *k;
  dnnl_memory_t mem[5] = { NULL };
  dnnl_memory_desc_t scratch_md;
  gboolean ok, parts = FALSE;
  int n_args = 0;

  if (gemm->store != NULL)
    {
      g_mutex_lock (&gemm->model->derived_lock);
      pk = g_hash_table_lookup (gemm->store->pinned[gemm->precision], w);
      /* A matrix bound twice with another shape is multiplied as it lies. */
      if (pk != NULL && pk->mem != NULL && (pk->n_in != n_in || pk->n_out != n_out))
        pk = NULL;
      parts = g_hash_table_contains (gemm->store->matrices, w);
      g_mutex_unlock (&gemm->model->derived_lock);
    }
  /* Stacked parts are only ever read packed. */
  if (parts && pk == NULL)
    return FALSE;
  s.packed = pk != NULL;
  /* bfloat16, int8 and 16-bit matrices need packed (converted) weights. */
  if ((bf16 || int8 || w_dtype != CLIPSCOPE_DTYPE_F32) && pk == NULL)
    return FALSE;
  /* float32 rows are read in place, bfloat16 and int8 ones from their copy. */
  if (bf16 || int8)
    s.ldx = n_in;
  k = kernel_get (&s);
  if (k->prim == NULL)
    return FALSE;
  if (pk != NULL)
    {
      /* The first context to need the matrix packs it for all. */
      g_mutex_lock (&gemm->model->derived_lock);
      ok = pk->mem != NULL || pack (gemm, pk, w, n_in, n_out, &k->weights);
      g_mutex_unlock (&gemm->model->derived_lock);
      if (!ok || !dnnl_memory_desc_equal (&pk->md, &k->weights))
        return FALSE;
    }
  if (!grow (&gemm->scratch, &gemm->scratch_size, k->scratch))
    return FALSE;
  if (bf16)
    {
      if (!grow ((void **) &gemm->src16, &gemm->src16_size, (gsize) rows * n_in * sizeof (guint16)))
        return FALSE;
      to_bf16 (x, ldx, rows, n_in, gemm->src16);
    }
  if (int8)
    {
      if (!grow ((void **) &gemm->src8, &gemm->src8_size, (gsize) rows * n_in)
          || !grow ((void **) &gemm->src_scales, &gemm->src_scales_size, (gsize) rows * sizeof (float))
          || !grow ((void **) &gemm->sums, &gemm->sums_size, (gsize) rows * n_out * sizeof (gint32)))
        return FALSE;
      clipscope_cpu_quantize_rows (x, ldx, rows, n_in, gemm->src8, gemm->src_scales, TRUE);
    }

  {
    const dnnl_dims_t scratch_dims = { (dnnl_dim_t) MAX (k->scratch, 1) };

    dnnl_memory_desc_init_by_tag (&scratch_md, 1, scratch_dims, dnnl_u8, dnnl_a);
  }
  mem[0] = wrap (&k->src, bf16 ? (const void *) gemm->src16
                          : int8 ? (const void *) gemm->src8 : (const void *) x);
  mem[1] = pk != NULL ? NULL : wrap (&k->weights, w);
  mem[2] = kb != NULL ? wrap (&k->bias, kb) : NULL;
  mem[3] = wrap (&k->dst, int8 ? (void *) gemm->sums : (void *) y);
  mem[4] = wrap (&scratch_md, gemm->scratch);
  ok = mem[0] != NULL && (pk != NULL || mem[1] != NULL) && (kb == NULL || mem[2] != NULL)
       && mem[3] != NULL && mem[4] != NULL;
  if (ok)
    {
      dnnl_exec_arg_t args[5];

      args[n_args++] = (dnnl_exec_arg_t) { DNNL_ARG_SRC, mem[0] };
      args[n_args++] = (dnnl_exec_arg_t) { DNNL_ARG_WEIGHTS, pk != NULL ? pk->mem : mem[1] };
      if (kb != NULL)
        args[n_args++] = (dnnl_exec_arg_t) { DNNL_ARG_BIAS, mem[2] };
      args[n_args++] = (dnnl_exec_arg_t) { DNNL_ARG_DST, mem[3] };
      args[n_args++] = (dnnl_exec_arg_t) { DNNL_ARG_SCRATCHPAD, mem[4] };
      ok = dnnl_primitive_execute (k->prim, gemm->stream, n_args, args) == dnnl_success
           && dnnl_stream_wait (gemm->stream) == dnnl_success;
    }
  for (int i = 0; i < 5; i++)
    if (mem[i] != NULL)
      dnnl_memory_destroy (mem[i]);
  if (ok && int8)
    clipscope_cpu_dequantize (gemm->sums, rows, n_out, gemm->src_scales, pk->scales, b, y, ldy,
                              act, accumulate, TRUE);
  return ok;
}

/* dst = src · weights through @k, with @gemm's scratch. */
static gboolean
attn_run (ClipscopeCpuGemm *gemm,
          const Kernel     *k,
          const float      *src,
          const float      *weights,
          float            *dst)
{
  dnnl_memory_t mem[4] = { wrap (&k->src, src), wrap (&k->weights, weights), wrap (&k->dst, dst) };
  dnnl_memory_desc_t scratch_md;
  const dnnl_dims_t scratch_dims = { (dnnl_dim_t) MAX (k->scratch, 1) };
  gboolean ok;

  dnnl_memory_desc_init_by_tag (&scratch_md, 1, scratch_dims, dnnl_u8, dnnl_a);
  mem[3] = wrap (&scratch_md, gemm->scratch);
  ok = mem[0] != NULL && mem[1] != NULL && mem[2] != NULL && mem[3] != NULL;
  if (ok)
    {
      const dnnl_exec_arg_t args[] = {
        { DNNL_ARG_SRC, mem[0] }, { DNNL_ARG_WEIGHTS, mem[1] }, { DNNL_ARG_DST, mem[2] },
        { DNNL_ARG_SCRATCHPAD, mem[3] },
      };

      ok = dnnl_primitive_execute (k->prim, gemm->stream, G_N_ELEMENTS (args), args) == dnnl_success
           && dnnl_stream_wait (gemm->stream) == dnnl_success;
    }
  for (int i = 0; i < 4; i++)
    if (mem[i] != NULL)
      dnnl_memory_destroy (mem[i]);
  return ok;
}

gboolean
clipscope_cpu_gemm_attention (ClipscopeCpuGemm            *gemm,
                              const ClipscopeCpuAttention *a)
{
  const gsize per_seq = (gsize) a->n_heads * a->n_q * a->seq * sizeof (float);
  const int chunk = (int) CLAMP (ATTN_SCORES_BYTES / per_seq, 1, (gsize) a->batch);
  AttnShape shape = { 0, a->n_heads, a->n_q, a->seq, a->width / a->n_heads, a->ldq, a->q_bstride,
                      a->ldkv, a->ldout };

  /* A query shared by every sequence (q_bstride 0) would need a
   * broadcast that the batched products do not do. */
  if (a->index != NULL || a->q_bstride < a->n_q || a->width % a->n_heads != 0
      || !grow ((void **) &gemm->scores, &gemm->scores_size, per_seq * chunk))
    return FALSE;
  for (int b0 = 0; b0 < a->batch; b0 += chunk)
    {
      const gsize kv = (gsize) b0 * a->seq * a->ldkv;
      const AttnKernels *ak;

      shape.batch = MIN (chunk, a->batch - b0);
      ak = attn_get (&shape);
      if (ak->scores.prim == NULL || ak->output.prim == NULL
          || !grow (&gemm->scratch, &gemm->scratch_size, MAX (ak->scores.scratch, ak->output.scratch))
          || !attn_run (gemm, &ak->scores, a->q + (gsize) b0 * a->q_bstride * a->ldq, a->k + kv,
                        gemm->scores))
        return FALSE;
      clipscope_cpu_attention_softmax (gemm->scores, shape.batch, a->n_heads, a->n_q, a->seq,
                                       a->causal, a->lengths != NULL ? a->lengths + b0 : NULL, TRUE);
      if (!attn_run (gemm, &ak->output, gemm->scores, a->v + kv,
                     a->out + (gsize) b0 * a->n_q * a->ldout))
        return FALSE;
    }
  return TRUE;
}

const char *
clipscope_cpu_gemm_describe (const ClipscopeCpuGemm *gemm)
{
  return gemm != NULL ? gemm->desc : NULL;
}

#else /* !HAVE_DNNL */

ClipscopeCpuGemm *
clipscope_cpu_gemm_new (ClipscopePrecision precision,
                        ClipscopeModel    *model)
{
  return NULL;
}

void
clipscope_cpu_gemm_free (ClipscopeCpuGemm *gemm)
{
}

void
clipscope_cpu_gemm_pass_done (ClipscopeCpuGemm *gemm)
{
}

void
clipscope_cpu_gemm_pin (ClipscopeCpuGemm *gemm,
                        const float      *w,
                        ClipscopeDtype    dtype)
{
}

const void *
clipscope_cpu_gemm_stack (ClipscopeCpuGemm   *gemm,
                          int                 n_parts,
                          const float *const *parts,
                          const gsize        *sizes,
                          ClipscopeDtype      dtype,
                          gboolean            copy)
{
  return NULL;
}

const ClipscopeCpuStack *
clipscope_cpu_gemm_stack_of (ClipscopeCpuGemm *gemm,
                             const void       *w)
{
  return NULL;
}

gboolean
clipscope_cpu_gemm_linear (ClipscopeCpuGemm *gemm,
                           const float      *x,
                           int               ldx,
                           int               rows,
                           int               n_in,
                           const float      *w,
                           ClipscopeDtype    w_dtype,
                           const float      *b,
                           int               n_out,
                           float            *y,
                           int               ldy,
                           ClipscopeAct      act,
                           gboolean          accumulate)
{
  return FALSE;
}

gboolean
clipscope_cpu_gemm_attention (ClipscopeCpuGemm            *gemm,
                              const ClipscopeCpuAttention *a)
{
  return FALSE;
}

const char *
clipscope_cpu_gemm_describe (const ClipscopeCpuGemm *gemm)
{
  return NULL;
}

#endif
