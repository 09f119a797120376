/* test-worker.c — the engine's worker thread: order, caches, cancellation */
#include "clipscope-private.h"
#include "test-memory.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

static struct {
  char *dir;
  char *model_dir;
  char *image;
  char *not_image;
} fixture;

static const char *labels[] = { "cat", "dog", "a red car", NULL };
static const char *templates[] = { "a photo of a {}.", "itap of the {}", NULL };

static void
make_fixture (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  const char *tests = g_getenv ("CLIPSCOPE_TESTS_DIR");
  g_autofree char *script = g_build_filename (tests ? tests : "tests", "tinyclip.py", NULL);
  const char *argv[] = { "/usr/bin/python3", script, NULL, NULL };
  int status = 0;

  fixture.dir = g_dir_make_tmp ("clipscope-worker-XXXXXX", &error);
  g_assert_no_error (error);
  fixture.model_dir = g_build_filename (fixture.dir, "model", NULL);
  argv[2] = fixture.model_dir;
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                NULL, NULL, &status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));

  fixture.image = g_build_filename (fixture.dir, "photo.png", NULL);
  pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 64, 48);
  gdk_pixbuf_fill (pixbuf, 0x3366aaff);
  g_assert_true (gdk_pixbuf_save (pixbuf, fixture.image, "png", &error, NULL));
  fixture.not_image = g_build_filename (fixture.dir, "notes.png", NULL);
  g_assert_true (g_file_set_contents (fixture.not_image, "not a PNG at all", -1, NULL));
}

static void
remove_fixture (void)
{
  const char *names[] = { "config.json", "model.safetensors", "vocab.json", "merges.txt",
                          "preprocessor_config.json", NULL };

  for (const char **n = names; *n != NULL; n++)
    {
      g_autofree char *path = g_build_filename (fixture.model_dir, *n, NULL);
      g_unlink (path);
    }
  g_rmdir (fixture.model_dir);
  g_unlink (fixture.image);
  g_unlink (fixture.not_image);
  g_rmdir (fixture.dir);
}

/* Collects a GAsyncResult so a test can wait for one job synchronously. */
static void
store_result_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

/* The CPU backend, so the results can be compared with a CPU context and
 * the test runs the same on machines with and without a GPU. */
static ClipscopeContextOptions
cpu_options (void)
{
  ClipscopeContextOptions options = clipscope_context_options_default ();

  options.backend = CLIPSCOPE_BACKEND_CPU;
  return options;
}

static ClipscopeWorker *
loaded_worker (void)
{
  ClipscopeContextOptions options = cpu_options ();
  ClipscopeWorker *worker = clipscope_worker_new (&options);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeModel) model = NULL;
  g_autofree char *backend = NULL;
  g_autofree char *device = NULL;

  clipscope_worker_load_model_async (worker, fixture.model_dir, NULL, store_result_cb, &result);
  model = clipscope_worker_load_model_finish (worker, wait_result (&result), &backend, &device, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);
  g_assert_cmpstr (backend, ==, "cpu");
  g_assert_nonnull (device);
  return worker;
}

static float *
encode_labels (ClipscopeWorker     *worker,
               const char * const  *l,
               const char * const  *t,
               GCancellable        *cancellable,
               int                 *n_encoded,
               GError             **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  clipscope_worker_encode_labels_async (worker, l, t, cancellable, store_result_cb, &result);
  return clipscope_worker_encode_labels_finish (worker, wait_result (&result), n_encoded, error);
}

static float *
encode_image (ClipscopeWorker  *worker,
              const char       *path,
              GError          **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  clipscope_worker_encode_image_async (worker, path, NULL, store_result_cb, &result);
  return clipscope_worker_encode_image_finish (worker, wait_result (&result), NULL, error);
}

/* The worker's cached ensemble equals the context's own; a second request
 * encodes nothing, a new label only its own texts. */
static void
test_labels_and_cache (void)
{
  g_autoptr(ClipscopeWorker) worker = loaded_worker ();
  g_autoptr(GError) error = NULL;
  ClipscopeContextOptions options = cpu_options ();
  g_autoptr(ClipscopeModel) model = clipscope_model_load (fixture.model_dir, NULL, NULL, &error);
  g_autoptr(ClipscopeContext) ctx = clipscope_context_new (model, &options, &error);
  const int e = clipscope_model_get_info (model)->embed_dim;
  g_autofree float *expected = g_new (float, 3 * e);
  g_autofree float *first = NULL;
  g_autofree float *again = NULL;
  g_autofree float *more = NULL;
  const char *more_labels[] = { "cat", "dog", "a red car", "tree", NULL };
  int n_encoded = -1;

  g_assert_no_error (error);
  g_assert_true (clipscope_context_encode_labels (ctx, labels, 3, templates, 2, expected, NULL, &error));
  g_assert_no_error (error);

  first = encode_labels (worker, labels, templates, NULL, &n_encoded, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n_encoded, ==, 6);
  for (int i = 0; i < 3 * e; i++)
    g_assert_cmpfloat_with_epsilon (first[i], expected[i], 1e-6);

  again = encode_labels (worker, labels, templates, NULL, &n_encoded, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n_encoded, ==, 0);
  g_assert_cmpmem (again, 3 * e * sizeof (float), first, 3 * e * sizeof (float));

  more = encode_labels (worker, more_labels, templates, NULL, &n_encoded, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n_encoded, ==, 2);
  g_assert_cmpmem (more, 3 * e * sizeof (float), first, 3 * e * sizeof (float));
}

static void
test_invalid_template (void)
{
  g_autoptr(ClipscopeWorker) worker = loaded_worker ();
  g_autoptr(GError) error = NULL;
  const char *bad[] = { "a photo of a {}.", "no placeholder", NULL };
  const char *none[] = { NULL };
  g_autofree float *a = encode_labels (worker, labels, bad, NULL, NULL, &error);
  g_autofree float *b = NULL;

  g_assert_null (a);
  g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  b = encode_labels (worker, labels, none, NULL, NULL, &error);
  g_assert_null (b);
  g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT);
}

/* A file that does not decode fails alone; the next one still encodes,
 * and a second request for it comes from the cache, identical. */
static void
test_images (void)
{
  g_autoptr(ClipscopeWorker) worker = loaded_worker ();
  g_autoptr(GError) error = NULL;
  g_autofree float *bad = encode_image (worker, fixture.not_image, &error);
  g_autofree float *good = NULL;
  g_autofree float *cached = NULL;
  g_autoptr(ClipscopeModel) model = clipscope_model_load (fixture.model_dir, NULL, NULL, NULL);
  const int e = clipscope_model_get_info (model)->embed_dim;

  g_assert_null (bad);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "notes.png"));
  g_clear_error (&error);

  good = encode_image (worker, fixture.image, &error);
  g_assert_no_error (error);
  cached = encode_image (worker, fixture.image, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (good, e * sizeof (float), cached, e * sizeof (float));
}

static float *
explain_image (ClipscopeWorker *worker,
               const char      *path,
               int             *grid,
               GError         **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  clipscope_worker_explain_image_async (worker, path, NULL, store_result_cb, &result);
  return clipscope_worker_explain_image_finish (worker, wait_result (&result), grid, NULL, error);
}

/* The worker's spatial embeddings are a context's; the same pass's image
 * row is the ordinary embedding; a file that does not decode is named. */
static void
test_explain (void)
{
  g_autoptr(ClipscopeWorker) worker = loaded_worker ();
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeModel) model = clipscope_model_load (fixture.model_dir, NULL, NULL, NULL);
  ClipscopeContextOptions options = cpu_options ();
  g_autoptr(ClipscopeContext) ctx = clipscope_context_new (model, &options, NULL);
  const ClipscopeModelInfo *info = clipscope_model_get_info (model);
  const int e = info->embed_dim, grid = clipscope_model_get_explain_grid (model);
  g_autofree float *pixels = g_new (float, 3 * info->image_size * info->image_size);
  g_autofree float *spatial = g_new (float, grid * grid * e);
  g_autofree float *image = g_new (float, e);
  g_autofree float *ordinary = g_new (float, e);
  g_autofree float *got = NULL;
  int got_grid = 0;

  g_assert_cmpint (grid, ==, info->image_size / info->vision_patch_size);
  got = explain_image (worker, fixture.image, &got_grid, &error);
  g_assert_no_error (error);
  g_assert_cmpint (got_grid, ==, grid);

  g_assert_true (clipscope_model_preprocess_file (model, fixture.image, pixels, NULL));
  g_assert_true (clipscope_context_explain_pixels (ctx, pixels, image, spatial, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (clipscope_context_encode_pixels (ctx, pixels, 1, ordinary, NULL, &error));
  for (int i = 0; i < grid * grid * e; i++)
    g_assert_cmpfloat_with_epsilon (got[i], spatial[i], 1e-6);
  for (int i = 0; i < e; i++)
    g_assert_cmpfloat_with_epsilon (image[i], ordinary[i], 1e-5);

  g_clear_pointer (&got, g_free);
  got = explain_image (worker, fixture.not_image, NULL, &error);
  g_assert_null (got);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "notes.png"));
}

/* A model that fails to load leaves the previous one working. */
static void
test_failed_load_keeps_model (void)
{
  g_autoptr(ClipscopeWorker) worker = loaded_worker ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *missing = g_build_filename (fixture.dir, "missing", NULL);
  g_autoptr(ClipscopeModel) model = NULL;
  g_autofree float *image = NULL;

  clipscope_worker_load_model_async (worker, missing, NULL, store_result_cb, &result);
  model = clipscope_worker_load_model_finish (worker, wait_result (&result), NULL, NULL, &error);
  g_assert_null (model);
  g_assert_nonnull (error);
  g_clear_error (&error);

  image = encode_image (worker, fixture.image, &error);
  g_assert_no_error (error);
  g_assert_nonnull (image);
}

/* Without a model, jobs fail with a message instead of crashing. */
static void
test_no_model (void)
{
  g_autoptr(ClipscopeWorker) worker = clipscope_worker_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree float *image = encode_image (worker, fixture.image, &error);

  g_assert_null (image);
  g_assert_error (error, CLIPSCOPE_ERROR, CLIPSCOPE_ERROR_INVALID_ARGUMENT);
}

static void
count_cancelled_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  int *counts = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree float *embedding = clipscope_worker_encode_image_finish (NULL, result, NULL, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    counts[0]++;
  else if (embedding != NULL)
    counts[1]++;
}

/* Jobs cancelled while queued finish as cancelled, without running; and
 * freeing the worker with jobs queued cancels them too. */
static void
test_cancel (void)
{
  ClipscopeWorker *worker = loaded_worker ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  int counts[2] = { 0, 0 };

  for (int i = 0; i < 20; i++)
    clipscope_worker_encode_image_async (worker, fixture.image, cancellable, count_cancelled_cb, counts);
  g_cancellable_cancel (cancellable);
  while (counts[0] + counts[1] < 20)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (counts[0], >=, 19);

  counts[0] = counts[1] = 0;
  for (int i = 0; i < 20; i++)
    clipscope_worker_encode_image_async (worker, fixture.image, NULL, count_cancelled_cb, counts);
  clipscope_worker_free (worker);
  while (counts[0] + counts[1] < 20)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (counts[0] + counts[1], ==, 20);
}

/* ---------------------------------------------------------------- fork */

/* A process spawned from the main thread (fork()) while the worker is in
 * a threaded BLAS call: OpenBLAS stops its threads before each fork, and
 * the call must still finish. Two BLAS threads whatever the machine. */
static void
test_fork_while_encoding (void)
{
  ClipscopeContextOptions options = cpu_options ();
  g_autoptr(ClipscopeWorker) worker = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) loaded = NULL;
  g_autoptr(ClipscopeModel) model = NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) many = NULL;
  g_autofree float *embeddings = NULL;
  const char *argv[] = { "/bin/true", NULL };
  const gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  int n_encoded = 0, n_spawned = 0;

  options.n_threads = 2;
  worker = clipscope_worker_new (&options);
  clipscope_worker_load_model_async (worker, fixture.model_dir, NULL, store_result_cb, &loaded);
  model = clipscope_worker_load_model_finish (worker, wait_result (&loaded), NULL, NULL, &error);
  g_assert_no_error (error);

  for (int i = 0; i < 150; i++)
    {
      g_autofree char *t = g_strdup_printf ("picture %d of a {}", i);

      g_strv_builder_add (builder, t);
    }
  many = g_strv_builder_end (builder);
  clipscope_worker_encode_labels_async (worker, labels, (const char * const *) many, NULL,
                                        store_result_cb, &result);
  while (result == NULL)
    {
      int status = 0;

      /* A stalled worker never answers: fail rather than hang. */
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                                   NULL, NULL, &status, &error));
      g_assert_no_error (error);
      n_spawned++;
      g_main_context_iteration (NULL, FALSE);
    }
  embeddings = clipscope_worker_encode_labels_finish (worker, result, &n_encoded, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n_encoded, ==, 3 * 150);
  g_test_message ("%d processes spawned while the worker encoded", n_spawned);
  g_assert_cmpint (n_spawned, >, 0);
}

/* ---------------------------------------------------------------- load */

#define N_LOAD 10000

typedef struct {
  ClipscopeWorker *worker;
  int              done;
  int              succeeded;
  int              cancel_after;   /* successes before the cancel */
  GCancellable    *cancellable;
  gint64           cancel_time;
  gint64           last_success;
} Load;

static void
load_image_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  Load *load = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree float *emb = clipscope_worker_encode_image_finish (load->worker, result, NULL, &error);

  load->done++;
  if (emb == NULL)
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      return;
    }
  load->succeeded++;
  load->last_success = g_get_monotonic_time ();
  if (load->succeeded == load->cancel_after)
    {
      load->cancel_time = g_get_monotonic_time ();
      g_cancellable_cancel (load->cancellable);
    }
}

/* 10,000 distinct files (links to one image, so each is a cache miss)
 * through the worker as the window feeds it: one job per image. The
 * first run keeps only embeddings, the second is cancelled part-way. */
static void
test_load (void)
{
  g_autoptr(GPtrArray) links = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *link_dir = g_build_filename (fixture.dir, "links", NULL);
  Load load = { 0 };
  long before, grown;

  g_assert_cmpint (g_mkdir (link_dir, 0700), ==, 0);
  for (int i = 0; i < N_LOAD; i++)
    {
      char *path = g_strdup_printf ("%s/%05d.png", link_dir, i);

      g_assert_cmpint (symlink (fixture.image, path), ==, 0);
      g_ptr_array_add (links, path);
    }

  load.worker = loaded_worker ();
  before = peak_rss_kib ();
  for (int i = 0; i < N_LOAD; i++)
    clipscope_worker_encode_image_async (load.worker, links->pdata[i], NULL, load_image_cb, &load);
  while (load.done < N_LOAD)
    g_main_context_iteration (NULL, TRUE);
  grown = peak_rss_kib () - before;
  g_test_message ("10,000 images: peak RSS grew by %ld KiB", grown);
  g_assert_cmpint (load.succeeded, ==, N_LOAD);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  /* Decoded 64 × 48 images alone would take 90 MiB; embeddings 1 MiB. */
  g_assert_cmpint (grown, <, 32 * 1024);
#else
  (void) grown;
#endif
  clipscope_worker_free (load.worker);

  /* Links are new paths again for a fresh worker's cache. */
  memset (&load, 0, sizeof load);
  load.worker = loaded_worker ();
  load.cancellable = g_cancellable_new ();
  load.cancel_after = 500;
  for (int i = 0; i < N_LOAD; i++)
    clipscope_worker_encode_image_async (load.worker, links->pdata[i], load.cancellable,
                                         load_image_cb, &load);
  while (load.done < N_LOAD)
    g_main_context_iteration (NULL, TRUE);
  g_test_message ("cancelled after %d images; the last result came %" G_GINT64_FORMAT " µs later",
                  load.succeeded, load.last_success - load.cancel_time);
  g_assert_cmpint (load.succeeded, <, N_LOAD);
  g_assert_cmpint (load.last_success - load.cancel_time, <, 200 * 1000);
  clipscope_worker_free (load.worker);
  g_object_unref (load.cancellable);

  for (guint i = 0; i < links->len; i++)
    g_unlink (links->pdata[i]);
  g_rmdir (link_dir);
}

/* Two contexts of one model encoding on two threads at once, each with
 * its own CPU backend: where oneDNN multiplies, nothing is shared but the
 * primitives (thread-safe, their scratch is the caller's), and both get
 * what one context alone gets. OpenBLAS's threaded products are not safe
 * to call from two threads at once, so without oneDNN there is nothing to
 * test. */
#define N_TEXTS 5
#define N_ROUNDS 3

static const char *const concurrent_texts[N_TEXTS] = {
  "cat", "a dog", "a red car on a road", "x", "the sea"
};

typedef struct {
  ClipscopeModel *model;
  const float    *want;
  double          max_diff;
  gboolean        ok;
} Concurrent;

static gpointer
encode_thread (gpointer data)
{
  Concurrent *c = data;
  g_autoptr(ClipscopeContext) ctx = clipscope_context_new (c->model, NULL, NULL);
  const int e = clipscope_model_get_info (c->model)->embed_dim;
  g_autofree float *got = g_new (float, N_TEXTS * e);

  c->ok = ctx != NULL;
  for (int r = 0; c->ok && r < N_ROUNDS; r++)
    {
      c->ok = clipscope_context_encode_texts (ctx, concurrent_texts, N_TEXTS, got, NULL, NULL);
      for (int i = 0; c->ok && i < N_TEXTS * e; i++)
        c->max_diff = MAX (c->max_diff, fabs (got[i] - c->want[i]));
    }
  return NULL;
}

static void
test_concurrent_contexts (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeModel) model = clipscope_model_load (fixture.model_dir, NULL, NULL, &error);
  g_autoptr(ClipscopeContext) ctx = NULL;
  g_autofree float *want = NULL;
  Concurrent c[2] = { { 0 } };
  GThread *threads[2];

  g_assert_no_error (error);
  ctx = clipscope_context_new (model, NULL, &error);
  g_assert_no_error (error);
  if (strstr (clipscope_context_get_device_name (ctx), "oneDNN") == NULL)
    {
      g_test_skip ("the CPU backend multiplies with OpenBLAS");
      return;
    }
  want = g_new (float, N_TEXTS * clipscope_model_get_info (model)->embed_dim);
  g_assert_true (clipscope_context_encode_texts (ctx, concurrent_texts, N_TEXTS, want, NULL, &error));
  for (int t = 0; t < 2; t++)
    {
      c[t] = (Concurrent) { model, want, 0.0, FALSE };
      threads[t] = g_thread_new ("encode", encode_thread, &c[t]);
    }
  for (int t = 0; t < 2; t++)
    {
      g_thread_join (threads[t]);
      g_assert_true (c[t].ok);
      g_assert_cmpfloat (c[t].max_diff, <=, 1e-5);
    }
}

int
main (int   argc,
      char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);
  make_fixture ();

  g_test_add_func ("/engine/worker/labels-and-cache", test_labels_and_cache);
  g_test_add_func ("/engine/worker/invalid-template", test_invalid_template);
  g_test_add_func ("/engine/worker/images", test_images);
  g_test_add_func ("/engine/worker/explain", test_explain);
  g_test_add_func ("/engine/worker/failed-load-keeps-model", test_failed_load_keeps_model);
  g_test_add_func ("/engine/worker/no-model", test_no_model);
  g_test_add_func ("/engine/worker/cancel", test_cancel);
  g_test_add_func ("/engine/worker/fork-while-encoding", test_fork_while_encoding);
  g_test_add_func ("/engine/worker/load", test_load);
  g_test_add_func ("/engine/worker/concurrent-contexts", test_concurrent_contexts);
  status = g_test_run ();

  remove_fixture ();
  return status;
}
