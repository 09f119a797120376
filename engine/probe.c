/* probe.c — linear probes: L2-regularised multinomial logistic regression
 *
 * The parameters are θ = [W | b]: W [k, d] row-major, then b [k], for k
 * labels and d-dimensional embeddings. Training minimises
 *
 *   F(θ) = (Σ_i v_i · −log softmax (W x_i + b)[y_i] + ‖W‖² / (2C)) / n
 *
 * which is scikit-learn's C × Σ v_i · cross-entropy + ½‖W‖², divided by
 * C × n so that the tolerance means the same for any C and n. The sample
 * weight v_i = n / (k · n_{y_i}) is scikit-learn's class_weight="balanced":
 * with the bias unpenalised, a label's share of the examples would
 * otherwise become its prior, and leaving one example out would tip
 * every prediction against that example's label — with two examples a
 * label, leave-one-out accuracy falls to zero on data the probe
 * classifies perfectly.
 *
 * F is smooth and convex, so L-BFGS with a backtracking line search
 * converges from zero.
 * Everything is in double: near the optimum the line search compares
 * values of F that differ by less than float's resolution.
 */
#include "fewshot.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <string.h>

#define HISTORY          10     /* L-BFGS correction pairs */
#define ARMIJO           1e-4   /* sufficient decrease of the line search */
#define MAX_BACKTRACKS   50

struct _ClipscopeProbe {
  int    n_labels;
  int    dim;
  int    iterations;
  float *weights;                /* [n_labels, dim] */
  float *bias;                   /* [n_labels] */
};

ClipscopeProbeOptions
clipscope_probe_options_default (void)
{
  ClipscopeProbeOptions options = {
    .c = 1.0,
    .max_iterations = 1000,
    .tolerance = 1e-8,
  };
  return options;
}

/* ------------------------------------------------------------ the loss */

typedef struct {
  const double *x;               /* [n, d] examples */
  const int    *y;               /* [n] labels */
  const double *weight;          /* [k] the weight of each label's examples */
  int           n, d, k;
  double        c;
  double       *z;               /* [n, k] scratch: logits, then P − Y */
} Problem;

/* Turns row z[k] of logits into softmax − one-hot(y); returns the row's
 * cross-entropy. */
static double
cross_entropy_row (double *z,
                   int     k,
                   int     y)
{
  double max = z[0], sum = 0.0, lse, loss;

  /* Subtracting the largest logit keeps exp from overflowing. */
  for (int c = 1; c < k; c++)
    max = MAX (max, z[c]);
  for (int c = 0; c < k; c++)
    sum += exp (z[c] - max);
  lse = max + log (sum);
  loss = lse - z[y];
  for (int c = 0; c < k; c++)
    z[c] = exp (z[c] - lse);
  z[y] -= 1.0;
  return loss;
}

/* Returns F(θ) and writes ∇F into grad [k × (d + 1)]. */
static double
loss_and_gradient (const Problem *p,
                   const double  *theta,
                   double        *grad)
{
  const int n = p->n, d = p->d, k = p->k;
  const double *w = theta, *b = theta + (gsize) k * d;
  double *grad_b = grad + (gsize) k * d;
  double loss = 0.0, norm_w = 0.0;

  /* z[n, k] = X Wᵀ + b: the hot spot, with the product below. */
  cblas_dgemm (CblasRowMajor, CblasNoTrans, CblasTrans, n, k, d,
               1.0, p->x, d, w, d, 0.0, p->z, k);
  memset (grad_b, 0, (gsize) k * sizeof (double));
  for (int i = 0; i < n; i++)
    {
      double *zi = p->z + (gsize) i * k;

      const double weight = p->weight[p->y[i]];

      for (int c = 0; c < k; c++)
        zi[c] += b[c];
      loss += weight * cross_entropy_row (zi, k, p->y[i]);
      for (int c = 0; c < k; c++)
        {
          zi[c] *= weight;
          grad_b[c] += zi[c];
        }
    }
  /* ∇_W = (P − Y)ᵀ X + W / C */
  cblas_dgemm (CblasRowMajor, CblasTrans, CblasNoTrans, k, d, n,
               1.0, p->z, k, p->x, d, 0.0, grad, d);
  for (gsize j = 0; j < (gsize) k * d; j++)
    {
      norm_w += w[j] * w[j];
      grad[j] += w[j] / p->c;
    }
  cblas_dscal (k * (d + 1), 1.0 / n, grad, 1);
  return (loss + norm_w / (2.0 * p->c)) / n;
}

/* -------------------------------------------------------------- L-BFGS */

typedef struct {
  int     m;                     /* parameters */
  int     len;                   /* pairs stored, at most HISTORY */
  int     next;                  /* the slot the next pair goes to */
  double *s;                     /* [HISTORY, m] steps */
  double *y;                     /* [HISTORY, m] gradient changes */
  double  rho[HISTORY];          /* 1 / (s · y) */
  double  alpha[HISTORY];        /* scratch of the two-loop recursion */
} History;

static void
history_push (History      *h,
              const double *s,
              const double *y)
{
  double sy = cblas_ddot (h->m, s, 1, y, 1);

  /* F is convex, so s · y > 0 but in rounding; a pair without curvature
   * would make the inverse Hessian estimate indefinite. */
  if (!(sy > 1e-12 * cblas_dnrm2 (h->m, s, 1) * cblas_dnrm2 (h->m, y, 1)))
    return;
  memcpy (h->s + (gsize) h->next * h->m, s, (gsize) h->m * sizeof (double));
  memcpy (h->y + (gsize) h->next * h->m, y, (gsize) h->m * sizeof (double));
  h->rho[h->next] = 1.0 / sy;
  h->next = (h->next + 1) % HISTORY;
  h->len = MIN (h->len + 1, HISTORY);
}

/* dir = −H g by the two-loop recursion, H scaled by the newest pair's
 * s · y / y · y (Nocedal and Wright, algorithm 7.4). */
static void
history_direction (History      *h,
                   const double *g,
                   double       *dir)
{
  const int m = h->m;

  memcpy (dir, g, (gsize) m * sizeof (double));
  for (int i = 0; i < h->len; i++)
    {
      int slot = (h->next - 1 - i + HISTORY) % HISTORY;

      h->alpha[slot] = h->rho[slot] * cblas_ddot (m, h->s + (gsize) slot * m, 1, dir, 1);
      cblas_daxpy (m, -h->alpha[slot], h->y + (gsize) slot * m, 1, dir, 1);
    }
  if (h->len > 0)
    {
      int newest = (h->next - 1 + HISTORY) % HISTORY;
      const double *y = h->y + (gsize) newest * m;

      cblas_dscal (m, 1.0 / (h->rho[newest] * cblas_ddot (m, y, 1, y, 1)), dir, 1);
    }
  for (int i = h->len - 1; i >= 0; i--)
    {
      int slot = (h->next - 1 - i + HISTORY) % HISTORY;
      double beta = h->rho[slot] * cblas_ddot (m, h->y + (gsize) slot * m, 1, dir, 1);

      cblas_daxpy (m, h->alpha[slot] - beta, h->s + (gsize) slot * m, 1, dir, 1);
    }
  cblas_dscal (m, -1.0, dir, 1);
}

static double
max_abs (const double *v,
         int           m)
{
  double max = 0.0;

  for (int j = 0; j < m; j++)
    max = MAX (max, fabs (v[j]));
  return max;
}

/* Work buffers of one minimisation, each [m]. */
typedef struct {
  double *g, *dir, *trial, *g_trial;
} Buffers;

/* Backtracks from @step along @dir until F decreases enough; θ, g and *f
 * move to the accepted point and the pair is recorded. FALSE when no step
 * decreases F: the iterate is as good as double precision allows. */
static gboolean
line_search (const Problem *p,
             History       *h,
             Buffers       *buf,
             double        *theta,
             double        *f,
             double         step)
{
  const int m = h->m;
  double slope = cblas_ddot (m, buf->g, 1, buf->dir, 1), f_trial;

  /* A decrease F cannot resolve: the test below would accept steps on
   * rounding noise alone. */
  if (-slope * step <= DBL_EPSILON * fabs (*f))
    return FALSE;
  for (int tries = 0; ; tries++, step *= 0.5)
    {
      memcpy (buf->trial, theta, (gsize) m * sizeof (double));
      cblas_daxpy (m, step, buf->dir, 1, buf->trial, 1);
      f_trial = loss_and_gradient (p, buf->trial, buf->g_trial);
      if (f_trial <= *f + ARMIJO * step * slope)
        break;
      if (tries == MAX_BACKTRACKS)
        return FALSE;
    }
  /* trial becomes s = θ' − θ, g_trial becomes y = g' − g, then the new
   * point is taken. */
  cblas_daxpy (m, -1.0, theta, 1, buf->trial, 1);
  cblas_daxpy (m, -1.0, buf->g, 1, buf->g_trial, 1);
  history_push (h, buf->trial, buf->g_trial);
  cblas_daxpy (m, 1.0, buf->trial, 1, theta, 1);
  cblas_daxpy (m, 1.0, buf->g_trial, 1, buf->g, 1);
  *f = f_trial;
  return TRUE;
}

/* Minimises F from the θ given; returns the iterations, or -1 with @error
 * set when cancelled. */
static int
minimise (const Problem               *p,
          const ClipscopeProbeOptions *options,
          double                      *theta,
          GCancellable                *cancellable,
          GError                     **error)
{
  const int m = p->k * (p->d + 1);
  g_autofree double *storage = g_new (double, (gsize) (4 + 2 * HISTORY) * m);
  Buffers buf = { storage, storage + m, storage + 2 * m, storage + 3 * m };
  History h = { m, 0, 0, storage + 4 * (gsize) m, storage + (4 + HISTORY) * (gsize) m };
  double f;
  int iter;

  clipscope_blas_begin ();
  f = loss_and_gradient (p, theta, buf.g);
  for (iter = 0; iter < options->max_iterations; iter++)
    {
      double step = 1.0;

      /* A fork in another thread may go between two iterations. */
      clipscope_blas_end ();
      clipscope_blas_begin ();
      if (max_abs (buf.g, m) <= options->tolerance)
        break;
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          iter = -1;
          break;
        }
      history_direction (&h, buf.g, buf.dir);
      /* The first step, or one after a restart, has no curvature to
       * scale it; a unit step along the gradient's direction is safe. */
      if (h.len == 0 || cblas_ddot (m, buf.g, 1, buf.dir, 1) >= 0.0)
        {
          h.len = 0;
          memcpy (buf.dir, buf.g, (gsize) m * sizeof (double));
          cblas_dscal (m, -1.0, buf.dir, 1);
          step = MIN (1.0, 1.0 / cblas_dnrm2 (m, buf.g, 1));
        }
      if (!line_search (p, &h, &buf, theta, &f, step))
        break;
    }
  clipscope_blas_end ();
  return iter;
}

/* --------------------------------------------------------------- probe */

static gboolean
check_examples (const int          *example_labels,
                int                 n_examples,
                int                 n_labels,
                const char * const *label_names,
                GError            **error)
{
  g_autofree int *counts = g_new0 (int, n_labels);

  for (int i = 0; i < n_examples; i++)
    {
      if (example_labels[i] < 0 || example_labels[i] >= n_labels)
        {
          g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT,
                       "example %d has label %d, outside 0 … %d", i, example_labels[i], n_labels - 1);
          return FALSE;
        }
      counts[example_labels[i]]++;
    }
  for (int j = 0; j < n_labels; j++)
    if (counts[j] < 2)
      {
        g_autofree char *name = label_names ? g_strdup_printf ("\"%s\"", label_names[j])
                                            : g_strdup_printf ("%d", j);

        g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT,
                     "label %s has %d example%s; the linear probe needs at least 2 per label",
                     name, counts[j], counts[j] == 1 ? "" : "s");
        return FALSE;
      }
  return TRUE;
}

static double *
to_double (const float *v,
           gsize        n)
{
  double *out = g_new (double, MAX (n, 1));

  for (gsize i = 0; i < n; i++)
    out[i] = v[i];
  return out;
}

/* Trains from θ as given (zero, or a warm start); returns the iterations,
 * or -1 with @error set. */
static int
fit (const double                *x,
     const int                   *y,
     int                          n,
     int                          k,
     int                          d,
     const ClipscopeProbeOptions *options,
     double                      *theta,
     GCancellable                *cancellable,
     GError                     **error)
{
  g_autofree double *z = g_new (double, (gsize) n * k);
  g_autofree double *weight = g_new0 (double, k);
  Problem p = { x, y, weight, n, d, k, options->c, z };

  /* Every label weighs n / k in all, however many examples it has. */
  for (int i = 0; i < n; i++)
    weight[y[i]] += 1.0;
  for (int c = 0; c < k; c++)
    weight[c] = weight[c] > 0.0 ? n / (k * weight[c]) : 0.0;
  return minimise (&p, options, theta, cancellable, error);
}

static ClipscopeProbe *
probe_new (const double *theta,
           int           k,
           int           d,
           int           iterations)
{
  ClipscopeProbe *probe = g_new0 (ClipscopeProbe, 1);
  double mean = 0.0;

  probe->n_labels = k;
  probe->dim = d;
  probe->iterations = iterations;
  probe->weights = g_new (float, (gsize) k * d);
  probe->bias = g_new (float, k);
  for (gsize j = 0; j < (gsize) k * d; j++)
    probe->weights[j] = (float) theta[j];
  /* Only differences of biases matter; centring makes them unique. */
  for (int c = 0; c < k; c++)
    mean += theta[(gsize) k * d + c] / k;
  for (int c = 0; c < k; c++)
    probe->bias[c] = (float) (theta[(gsize) k * d + c] - mean);
  return probe;
}

static gboolean
check_options (const ClipscopeProbeOptions *options,
               GError                     **error)
{
  if (!(options->c > 0.0 && isfinite (options->c)) || options->max_iterations < 0
      || !(options->tolerance >= 0.0))
    {
      g_set_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT,
                   "probe options out of range: C = %g (must be positive), %d iterations, "
                   "tolerance %g", options->c, options->max_iterations, options->tolerance);
      return FALSE;
    }
  return TRUE;
}

ClipscopeProbe *
clipscope_probe_train (const float                 *examples,
                       const int                   *example_labels,
                       int                          n_examples,
                       int                          n_labels,
                       int                          dim,
                       const char * const          *label_names,
                       const ClipscopeProbeOptions *options,
                       GCancellable                *cancellable,
                       GError                     **error)
{
  ClipscopeProbeOptions defaults = clipscope_probe_options_default ();
  g_autofree double *x = NULL, *theta = NULL;
  int iterations;

  g_return_val_if_fail (n_examples >= 0 && n_labels > 0 && dim > 0, NULL);
  g_return_val_if_fail (n_examples == 0 || (examples != NULL && example_labels != NULL), NULL);

  options = options ? options : &defaults;
  if (!check_options (options, error)
      || !check_examples (example_labels, n_examples, n_labels, label_names, error))
    return NULL;
  x = to_double (examples, (gsize) n_examples * dim);
  theta = g_new0 (double, (gsize) n_labels * (dim + 1));
  iterations = fit (x, example_labels, n_examples, n_labels, dim, options, theta,
                    cancellable, error);
  return iterations < 0 ? NULL : probe_new (theta, n_labels, dim, iterations);
}

void
clipscope_probe_free (ClipscopeProbe *probe)
{
  if (probe == NULL)
    return;
  g_free (probe->weights);
  g_free (probe->bias);
  g_free (probe);
}

const float *
clipscope_probe_get_weights (const ClipscopeProbe *probe,
                             int                  *n_labels,
                             int                  *dim)
{
  g_return_val_if_fail (probe != NULL, NULL);

  if (n_labels != NULL)
    *n_labels = probe->n_labels;
  if (dim != NULL)
    *dim = probe->dim;
  return probe->weights;
}

const float *
clipscope_probe_get_bias (const ClipscopeProbe *probe)
{
  g_return_val_if_fail (probe != NULL, NULL);

  return probe->bias;
}

int
clipscope_probe_get_iterations (const ClipscopeProbe *probe)
{
  g_return_val_if_fail (probe != NULL, 0);

  return probe->iterations;
}

void
clipscope_probe_predict (const ClipscopeProbe *probe,
                         const float          *images,
                         int                   n_images,
                         float                *logits,
                         float                *probabilities)
{
  const int k = probe ? probe->n_labels : 0;
  g_autofree float *own = NULL;

  g_return_if_fail (probe != NULL && n_images >= 0);
  g_return_if_fail (n_images == 0 || images != NULL);

  if (n_images == 0 || (logits == NULL && probabilities == NULL))
    return;
  if (logits == NULL)
    logits = own = g_new (float, (gsize) n_images * k);
  clipscope_blas_begin ();
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, n_images, k, probe->dim,
               1.0f, images, probe->dim, probe->weights, probe->dim, 0.0f, logits, k);
  clipscope_blas_end ();
  for (int i = 0; i < n_images; i++)
    {
      float *l = logits + (gsize) i * k;

      for (int c = 0; c < k; c++)
        l[c] += probe->bias[c];
      if (probabilities != NULL)
        clipscope_softmax (l, k, 1.0f, probabilities + (gsize) i * k);
    }
}

/* The label θ gives example x[d]: the largest logit, the first of equals. */
static int
predict_one (const double *theta,
             const double *x,
             int           k,
             int           d)
{
  int best = 0;
  double best_logit = -INFINITY;

  clipscope_blas_begin ();
  for (int c = 0; c < k; c++)
    {
      double logit = cblas_ddot (d, theta + (gsize) c * d, 1, x, 1) + theta[(gsize) k * d + c];

      if (logit > best_logit)
        {
          best = c;
          best_logit = logit;
        }
    }
  clipscope_blas_end ();
  return best;
}

gboolean
clipscope_probe_leave_one_out (const float                 *examples,
                               const int                   *example_labels,
                               int                          n_examples,
                               int                          n_labels,
                               int                          dim,
                               const char * const          *label_names,
                               const ClipscopeProbeOptions *options,
                               int                         *predicted,
                               double                      *accuracy,
                               GCancellable                *cancellable,
                               GError                     **error)
{
  ClipscopeProbeOptions defaults = clipscope_probe_options_default ();
  const gsize m = (gsize) n_labels * (dim + 1);
  g_autofree double *x = NULL, *theta = NULL, *theta_i = NULL, *x_rest = NULL;
  g_autofree int *y_rest = NULL;
  int correct = 0;

  g_return_val_if_fail (n_examples >= 0 && n_labels > 0 && dim > 0 && predicted != NULL, FALSE);
  g_return_val_if_fail (n_examples == 0 || (examples != NULL && example_labels != NULL), FALSE);

  options = options ? options : &defaults;
  if (!check_options (options, error)
      || !check_examples (example_labels, n_examples, n_labels, label_names, error))
    return FALSE;
  x = to_double (examples, (gsize) n_examples * dim);
  theta = g_new0 (double, m);
  theta_i = g_new (double, m);
  x_rest = g_new (double, (gsize) (n_examples - 1) * dim);
  y_rest = g_new (int, n_examples - 1);
  if (fit (x, example_labels, n_examples, n_labels, dim, options, theta, cancellable, error) < 0)
    return FALSE;

  for (int i = 0; i < n_examples; i++)
    {
      /* The others, in order: rows before i, then rows after it. */
      memcpy (x_rest, x, (gsize) i * dim * sizeof (double));
      memcpy (x_rest + (gsize) i * dim, x + (gsize) (i + 1) * dim,
              (gsize) (n_examples - 1 - i) * dim * sizeof (double));
      memcpy (y_rest, example_labels, (gsize) i * sizeof (int));
      memcpy (y_rest + i, example_labels + i + 1, (gsize) (n_examples - 1 - i) * sizeof (int));
      memcpy (theta_i, theta, m * sizeof (double));
      if (fit (x_rest, y_rest, n_examples - 1, n_labels, dim, options, theta_i,
               cancellable, error) < 0)
        return FALSE;
      predicted[i] = predict_one (theta_i, x + (gsize) i * dim, n_labels, dim);
      correct += predicted[i] == example_labels[i];
    }
  if (accuracy != NULL)
    *accuracy = (double) correct / n_examples;
  return TRUE;
}
