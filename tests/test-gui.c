/* test-gui.c — the desktop application under Xvfb
 *
 * A tiny random model, a few generated images and the real widgets: scores
 * must arrive through the worker and match `clipscope classify`, edits must
 * coalesce into one job and reuse cached texts, a drop must add files and
 * name the ones that are not images, and every object must die.
 *
 * Set CLIPSCOPE_SHOTS_DIR to keep screenshots of the windows it builds.
 */
#include <clipscope.h>
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>

#include "clipscope-application.h"
#include "clipscope-colormap.h"
#include "clipscope-compare-window.h"
#include "clipscope-explain-panel.h"
#include "clipscope-export.h"
#include "clipscope-heatmap-view.h"
#include "clipscope-models.h"
#include "clipscope-models-page.h"
#include "clipscope-preferences-window.h"
#include "clipscope-search-view.h"
#include "clipscope-session.h"
#include "clipscope-sort-dialog.h"
#include "clipscope-template.h"
#include "clipscope-template-contributions.h"
#include "clipscope-text-row.h"
#include "clipscope-window.h"
#include "test-memory.h"

#define N_IMAGES 4

static char *workdir;
static char *scratch_dir;   /* renders, outside the folder that drops walk */
static char *model_dir;
static char *data_dir;
static char *bundled_dir;
static GSubprocess *hub;
static char *image_paths[N_IMAGES];
static char *text_path;
static const char *labels[] = { "cat", "dog", "red car", "tree", NULL };
static const char *templates[] = { "a photo of a {}.", "a drawing of the {}", NULL };

/* ------------------------------------------------------------ fixtures */

static void
write_image (const char *path,
             int         seed)
{
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 48 + 16 * seed, 40);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);
  guchar *pixels = gdk_pixbuf_get_pixels (pixbuf);
  g_autoptr(GError) error = NULL;

  for (int y = 0; y < gdk_pixbuf_get_height (pixbuf); y++)
    for (int x = 0; x < gdk_pixbuf_get_width (pixbuf); x++)
      {
        guchar *p = pixels + y * stride + x * 3;

        p[0] = (guchar) (x * 5 + seed * 60);
        p[1] = (guchar) (y * 6 + seed * 25);
        p[2] = (guchar) ((x ^ y) * 3 + seed * 90);
      }
  g_assert_true (gdk_pixbuf_save (pixbuf, path, "png", &error, NULL));
  g_assert_no_error (error);
}

static void
make_tiny_model (const char *dir,
                 const char *format,
                 const char *seed)
{
  g_autofree char *script = g_build_filename (g_getenv ("CLIPSCOPE_TESTS_DIR"), "tinyclip.py", NULL);
  g_autoptr(GError) error = NULL;
  int status = 0;

  g_assert_true (g_spawn_sync (NULL, (char *[]) { (char *) "/usr/bin/python3", script, (char *) dir,
                                                  (char *) "--format", (char *) format,
                                                  (char *) "--seed", (char *) seed, NULL },
                               NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, 0);
}

static void
make_fixtures (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (g_getenv ("CLIPSCOPE_TESTS_DIR"));
  g_assert_nonnull (g_getenv ("CLIPSCOPE_CLI"));
  workdir = g_dir_make_tmp ("clipscope-gui-XXXXXX", &error);
  g_assert_no_error (error);
  scratch_dir = g_dir_make_tmp ("clipscope-gui-shots-XXXXXX", &error);
  g_assert_no_error (error);
  model_dir = g_build_filename (workdir, "model", NULL);
  make_tiny_model (model_dir, "hf", "0");

  /* A stand-in for the bundled model: the tests need one, not its quality. */
  data_dir = g_build_filename (workdir, "share", NULL);
  bundled_dir = g_build_filename (data_dir, "models", "emoji-demo", NULL);
  make_tiny_model (bundled_dir, "open_clip", "3");
  for (int i = 0; i < N_IMAGES; i++)
    {
      g_autofree char *name = g_strdup_printf ("image-%d.png", i);

      image_paths[i] = g_build_filename (workdir, name, NULL);
      write_image (image_paths[i], i);
    }
  text_path = g_build_filename (workdir, "notes.txt", NULL);
  g_assert_true (g_file_set_contents (text_path, "not an image", -1, NULL));
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static gboolean
timeout_cb (gpointer user_data)
{
  gboolean *timed_out = user_data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main loop while @busy says @object has work in flight. */
static void
wait_while (gboolean (*busy) (gpointer object),
            gpointer   object)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add_seconds (60, timeout_cb, &timed_out);

  /* One pass first, so sources queued by the caller get to run. */
  g_main_context_iteration (NULL, FALSE);
  while (busy (object) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (timed_out);
  g_source_remove (id);
}

/* Runs the main loop until @session has nothing in flight. */
static void
wait_idle (ClipscopeSession *session)
{
  wait_while ((gboolean (*) (gpointer)) clipscope_session_get_busy, session);
}

static gboolean
thumbnails_pending (gpointer user_data)
{
  GListModel *images = clipscope_session_get_images (user_data);

  for (guint i = 0; i < g_list_model_get_n_items (images); i++)
    {
      g_autoptr(ClipscopeImage) image = g_list_model_get_item (images, i);

      if (clipscope_image_get_thumbnail (image) == NULL)
        return TRUE;
    }
  return FALSE;
}

/* Runs the main loop until every image of @session shows its thumbnail,
 * which the decoder processes make while the session may be idle. */
static void
wait_thumbnails (ClipscopeSession *session)
{
  wait_while (thumbnails_pending, session);
}

static void
wait_ms (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, timeout_cb, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

/* Lets the main loop run until @cond holds, for up to 10 s: a layout that
 * follows a resize over several frames takes longer on a loaded machine. */
#define WAIT_FOR(cond) \
  G_STMT_START { \
    for (int wait_i_ = 0; wait_i_ < 500 && !(cond); wait_i_++) \
      wait_ms (20); \
  } G_STMT_END

static void
count_notice_cb (ClipscopeSession *session,
                 const char       *message,
                 GPtrArray        *notices)
{
  g_ptr_array_add (notices, g_strdup (message));
}

static ClipscopeSession *
loaded_session (GPtrArray *notices)
{
  ClipscopeSession *session = clipscope_session_new ();
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);

  if (notices != NULL)
    g_signal_connect (session, "notice", G_CALLBACK (count_notice_cb), notices);
  clipscope_session_load_model (session, model_dir);
  clipscope_session_add_labels_text (session, "cat\ndog\r\nred car");
  clipscope_session_add_labels_text (session, "tree");
  for (const char **t = templates; *t != NULL; t++)
    clipscope_session_add_template (session, *t, TRUE);
  for (int i = 0; i < N_IMAGES; i++)
    g_ptr_array_add (files, g_file_new_for_path (image_paths[i]));
  g_ptr_array_add (files, g_file_new_for_path (text_path));
  g_ptr_array_add (files, g_file_new_build_filename (workdir, "gone.png", NULL));
  clipscope_session_add_files (session, (GFile **) files->pdata, files->len);
  wait_idle (session);
  return session;
}

/* ------------------------------------------------------------ colour map */

static void
test_colormap (void)
{
  GdkRGBA c, prev;

  clipscope_colormap_viridis (0.0, &c);
  g_assert_cmpfloat_with_epsilon (c.red, 0x44 / 255.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (c.green, 0x01 / 255.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (c.blue, 0x54 / 255.0, 1e-6);
  clipscope_colormap_viridis (1.0, &c);
  g_assert_cmpfloat_with_epsilon (c.red, 0xfd / 255.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (c.green, 0xe7 / 255.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (c.blue, 0x25 / 255.0, 1e-6);

  /* Halfway sits between the 5th and 6th of ten stops: teal. */
  clipscope_colormap_viridis (0.5, &c);
  g_assert_cmpfloat_with_epsilon (c.red, (0x26 + 0x1f) / 2.0 / 255.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (c.green, (0x82 + 0x9e) / 2.0 / 255.0, 1e-6);

  /* Out of range and NaN clamp instead of reading past the table. */
  clipscope_colormap_viridis (-3.0, &prev);
  clipscope_colormap_viridis (0.0, &c);
  g_assert_true (gdk_rgba_equal (&prev, &c));
  clipscope_colormap_viridis (NAN, &prev);
  g_assert_true (gdk_rgba_equal (&prev, &c));
  clipscope_colormap_viridis (7.0, &prev);
  clipscope_colormap_viridis (1.0, &c);
  g_assert_true (gdk_rgba_equal (&prev, &c));

  /* Viridis is made to grow steadily lighter, which is what lets a
   * reader order cells by brightness. */
  clipscope_colormap_viridis (0.0, &prev);
  for (int i = 1; i <= 100; i++)
    {
      clipscope_colormap_viridis (i / 100.0, &c);
      g_assert_cmpfloat (clipscope_colormap_luminance (&c), >, clipscope_colormap_luminance (&prev));
      g_assert_cmpfloat (c.alpha, ==, 1.0);
      prev = c;
    }
}

/* ------------------------------------------------------------ templates */

static void
notify_count_cb (GObject    *object,
                 GParamSpec *pspec,
                 int        *count)
{
  (*count)++;
}

static void
test_template_validation (void)
{
  ClipscopeTemplate *t = clipscope_template_new ("a photo of a {}.", TRUE);
  int n_valid = 0, n_text = 0;

  g_signal_connect (t, "notify::valid", G_CALLBACK (notify_count_cb), &n_valid);
  g_signal_connect (t, "notify::text", G_CALLBACK (notify_count_cb), &n_text);
  g_assert_true (clipscope_template_get_valid (t));

  clipscope_template_set_text (t, "a photo of a cat.");
  g_assert_false (clipscope_template_get_valid (t));
  g_assert_cmpint (n_valid, ==, 1);
  g_assert_cmpint (n_text, ==, 1);

  /* Still invalid: the text changes, the validity does not. */
  clipscope_template_set_text (t, "{} and {}");
  g_assert_false (clipscope_template_get_valid (t));
  g_assert_cmpint (n_valid, ==, 1);
  g_assert_cmpint (n_text, ==, 2);

  /* Setting the same text again notifies nothing. */
  clipscope_template_set_text (t, "{} and {}");
  g_assert_cmpint (n_text, ==, 2);

  clipscope_template_set_text (t, "itap of a {}.");
  g_assert_true (clipscope_template_get_valid (t));
  g_assert_cmpint (n_valid, ==, 2);

  clipscope_template_set_text (t, NULL);
  g_assert_cmpstr (clipscope_template_get_text (t), ==, "");
  g_assert_false (clipscope_template_get_valid (t));

  g_assert_finalize_object (t);
}

/* ------------------------------------------------------------ scores */

/* Runs the CLI with @argv (NULL-terminated) and parses what it prints. */
static JsonObject *
run_cli (GPtrArray  *argv,
         JsonParser *parser)
{
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &out, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, 0);
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

static JsonObject *
run_classify_with (JsonParser         *parser,
                   const char         *backend,
                   const char * const *with_templates)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();

  g_ptr_array_add (argv, (char *) g_getenv ("CLIPSCOPE_CLI"));
  g_ptr_array_add (argv, (char *) "classify");
  g_ptr_array_add (argv, (char *) "--backend");
  g_ptr_array_add (argv, (char *) backend);
  g_ptr_array_add (argv, (char *) "--model");
  g_ptr_array_add (argv, model_dir);
  for (const char **l = labels; *l != NULL; l++)
    {
      g_ptr_array_add (argv, (char *) "--label");
      g_ptr_array_add (argv, (char *) *l);
    }
  for (const char * const *t = with_templates; *t != NULL; t++)
    {
      g_ptr_array_add (argv, (char *) "--template");
      g_ptr_array_add (argv, (char *) *t);
    }
  g_ptr_array_add (argv, (char *) "--");
  for (int i = 0; i < N_IMAGES; i++)
    g_ptr_array_add (argv, image_paths[i]);
  g_ptr_array_add (argv, NULL);
  return run_cli (argv, parser);
}

static JsonObject *
run_classify (JsonParser *parser,
              const char *backend)
{
  return run_classify_with (parser, backend, templates);
}

/* The session's matrix is the CLI's for the same images and labels. */
static void
assert_scores_match (ClipscopeSession *session,
                     JsonObject       *expected)
{
  JsonArray *images = json_object_get_array_member (expected, "images");
  const float *sim, *prob;
  guint n_images, n_labels;

  g_assert_true (clipscope_session_get_scores (session, &n_images, &n_labels, &sim, &prob));
  g_assert_cmpuint (n_images, ==, N_IMAGES);
  g_assert_true (g_strv_equal (clipscope_session_get_scored_labels (session), labels));
  g_assert_cmpuint (json_array_get_length (images), ==, N_IMAGES);
  for (guint i = 0; i < n_images; i++)
    {
      JsonObject *row = json_array_get_object_element (images, i);
      JsonArray *s = json_object_get_array_member (row, "similarity");
      JsonArray *p = json_object_get_array_member (row, "probabilities");

      g_assert_cmpstr (json_object_get_string_member (row, "path"), ==, image_paths[i]);
      for (guint j = 0; j < n_labels; j++)
        {
          g_assert_cmpfloat_with_epsilon (sim[i * n_labels + j], json_array_get_double_element (s, j), 1e-5);
          g_assert_cmpfloat_with_epsilon (prob[i * n_labels + j], json_array_get_double_element (p, j), 1e-5);
        }
    }
}

static void
test_session_matches_cli (void)
{
  g_autoptr(GPtrArray) notices = g_ptr_array_new_with_free_func (g_free);
  ClipscopeSession *session = loaded_session (notices);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *expected = run_classify (parser, clipscope_session_get_backend_name (session));
  const char * const *scored = clipscope_session_get_scored_labels (session);
  guint n_images, n_labels;

  /* The text file is named in one notice; the images still load. */
  /* A file that is not an image, and one that is not there, each said
   * for what it is. */
  g_assert_cmpuint (notices->len, ==, 2);
  g_assert_cmpstr (notices->pdata[0], ==, "Not an image: notes.txt");
  g_assert_cmpstr (notices->pdata[1], ==, "No such file: gone.png");
  g_assert_cmpuint (g_list_model_get_n_items (clipscope_session_get_images (session)), ==, N_IMAGES);

  g_assert_true (clipscope_session_get_scores (session, &n_images, &n_labels, NULL, NULL));
  g_assert_cmpuint (n_labels, ==, g_strv_length ((char **) labels));
  g_assert_true (g_strv_equal (scored, labels));
  assert_scores_match (session, expected);

  /* Every (template, label) text went through the encoder exactly once. */
  g_assert_cmpuint (clipscope_session_get_n_texts_encoded (session), ==,
                    g_strv_length ((char **) labels) * g_strv_length ((char **) templates));
  g_assert_finalize_object (session);
}

/* ------------------------------------------------------------ debounce */

/* The matrix and the labels of its columns agree whenever the session
 * reports progress: a finished label job has new labels before the matrix
 * is scored again, and views draw both in between. */
static void
check_columns_cb (ClipscopeSession *session,
                  GParamSpec       *pspec,
                  guint            *n_checked)
{
  const char * const *columns = clipscope_session_get_scored_labels (session);
  guint n_images = 0, n_labels = 0;

  clipscope_session_get_scores (session, &n_images, &n_labels, NULL, NULL);
  if (n_labels > 0)
    {
      g_assert_nonnull (columns);
      g_assert_cmpuint (g_strv_length ((char **) columns), ==, n_labels);
    }
  (*n_checked)++;
}

static void
test_session_debounce (void)
{
  ClipscopeSession *session = loaded_session (NULL);
  GtkStringList *list = clipscope_session_get_labels (session);
  guint jobs = clipscope_session_get_n_label_jobs (session);
  guint texts = clipscope_session_get_n_texts_encoded (session);
  const guint n_templates = g_strv_length ((char **) templates);
  guint n_checked = 0;
  gulong check_id = g_signal_connect (session, "notify::progress",
                                      G_CALLBACK (check_columns_cb), &n_checked);

  /* A burst of edits inside the delay is one job. */
  clipscope_session_add_labels_text (session, "b");
  wait_ms (CLIPSCOPE_SESSION_DEBOUNCE_MS / 3);
  clipscope_session_set_label (session, 4, "bi");
  wait_ms (CLIPSCOPE_SESSION_DEBOUNCE_MS / 3);
  clipscope_session_set_label (session, 4, "bird");
  g_assert_cmpuint (clipscope_session_get_n_label_jobs (session), ==, jobs);
  wait_idle (session);
  g_assert_cmpuint (clipscope_session_get_n_label_jobs (session), ==, jobs + 1);

  /* Only the new label's texts were encoded; the rest came from the cache. */
  g_assert_cmpuint (clipscope_session_get_n_texts_encoded (session), ==, texts + n_templates);
  g_assert_cmpstr (clipscope_session_get_scored_labels (session)[4], ==, "bird");

  /* Disabling a template re-scores from cached texts alone. */
  texts = clipscope_session_get_n_texts_encoded (session);
  {
    g_autoptr(ClipscopeTemplate) t = g_list_model_get_item (clipscope_session_get_templates (session), 1);

    clipscope_template_set_enabled (t, FALSE);
  }
  wait_idle (session);
  g_assert_cmpuint (clipscope_session_get_n_texts_encoded (session), ==, texts);

  /* A job overtaken by a newer one is cancelled and its result dropped:
   * the matrix ends with the latest labels. */
  jobs = clipscope_session_get_n_label_jobs (session);
  clipscope_session_add_labels_text (session, "boat");
  clipscope_session_flush (session);
  gtk_string_list_remove (list, 0);
  clipscope_session_flush (session);
  g_assert_cmpuint (clipscope_session_get_n_label_jobs (session), ==, jobs + 2);
  wait_idle (session);
  {
    const char *want[] = { "dog", "red car", "tree", "bird", "boat", NULL };

    g_assert_true (g_strv_equal (clipscope_session_get_scored_labels (session), want));
  }
  g_assert_cmpuint (n_checked, >, 0);
  g_signal_handler_disconnect (session, check_id);
  g_assert_finalize_object (session);
}

/* ------------------------------------------------------------ chunks */

typedef struct {
  double last;
  guint  n_between;    /* reports strictly between none and all */
  gboolean backwards;
} ProgressLog;

static void
log_progress_cb (ClipscopeSession *session,
                 GParamSpec       *pspec,
                 ProgressLog      *log)
{
  double p = clipscope_session_get_progress (session);

  /* The bar shows only while there is progress to show. */
  if (!clipscope_session_get_busy (session) || p == 0.0)
    return;
  if (p > 0.0 && p < 1.0)
    log->n_between++;
  if (p < log->last)
    log->backwards = TRUE;
  log->last = p;
}

static gboolean
no_progress_yet (gpointer session)
{
  return clipscope_session_get_progress (session) == 0.0;
}

static void
test_session_chunks (void)
{
  ClipscopeSession *session = loaded_session (NULL);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_auto(GStrv) all = NULL;
  const guint n_labels = g_strv_length ((char **) labels);
  ProgressLog log = { 0 };
  gulong id;
  guint texts, jobs;

  /* Enough templates that the labels' texts go in several chunks. */
  for (const char **t = templates; *t != NULL; t++)
    g_strv_builder_add (builder, *t);
  for (int i = 0; i < 40; i++)
    {
      g_autofree char *t = g_strdup_printf ("picture %d of the {}", i);

      g_strv_builder_add (builder, t);
      if (i < 20)
        clipscope_session_add_template (session, t, TRUE);
    }
  all = g_strv_builder_end (builder);

  /* Cancel stops the job after a chunk: the columns and scores stay
   * those of the last finished job, and nothing is busy. */
  texts = clipscope_session_get_n_texts_encoded (session);
  clipscope_session_flush (session);
  wait_while (no_progress_yet, session);
  clipscope_session_cancel (session);
  g_assert_false (clipscope_session_get_busy (session));
  g_assert_cmpfloat (clipscope_session_get_progress (session), ==, 0.0);
  g_assert_cmpuint (clipscope_session_get_n_texts_encoded (session), >, texts);
  g_assert_cmpuint (clipscope_session_get_n_texts_encoded (session), <, texts + 20 * n_labels);
  texts = clipscope_session_get_n_texts_encoded (session);
  assert_scores_match (session, run_classify (parser, clipscope_session_get_backend_name (session)));

  /* The next job shows growing progress, reuses the chunks encoded
   * before the cancel, and scores as the CLI does with every template. */
  id = g_signal_connect (session, "notify::progress", G_CALLBACK (log_progress_cb), &log);
  jobs = clipscope_session_get_n_label_jobs (session);
  for (int i = 20; i < 40; i++)
    clipscope_session_add_template (session, all[i + 2], TRUE);
  clipscope_session_flush (session);
  wait_idle (session);
  g_signal_handler_disconnect (session, id);
  g_assert_cmpuint (clipscope_session_get_n_label_jobs (session), ==, jobs + 1);
  g_assert_cmpuint (log.n_between, >=, 2);
  g_assert_false (log.backwards);
  g_assert_cmpfloat (clipscope_session_get_progress (session), ==, 0.0);
  /* No text twice, though a chunk may have finished as it was cancelled. */
  g_assert_cmpuint (clipscope_session_get_n_texts_encoded (session), <=,
                    n_labels * g_strv_length (all));
  g_assert_cmpuint (clipscope_session_get_n_texts_encoded (session) - texts, <, 40 * n_labels);
  assert_scores_match (session, run_classify_with (parser, clipscope_session_get_backend_name (session),
                                                   (const char * const *) all));
  g_assert_finalize_object (session);
}

/* ------------------------------------------------------------ errors */

static void
model_failed_cb (ClipscopeSession *session,
                 const char       *dir,
                 const char       *message,
                 char            **out)
{
  *out = g_strdup (message);
}

static void
test_session_bad_model (void)
{
  ClipscopeSession *session = loaded_session (NULL);
  g_autofree char *message = NULL;
  g_autofree char *missing = g_build_filename (workdir, "no-such-model", NULL);
  const float *sim;
  guint n_images, n_labels;

  g_signal_connect (session, "model-failed", G_CALLBACK (model_failed_cb), &message);
  clipscope_session_load_model (session, missing);
  wait_idle (session);

  /* The engine's message, and the previous model still scoring. */
  g_assert_nonnull (message);
  g_assert_nonnull (strstr (message, "no-such-model"));
  g_assert_cmpstr (clipscope_session_get_model_path (session), ==, model_dir);
  g_assert_true (clipscope_session_get_scores (session, &n_images, &n_labels, &sim, NULL));
  g_assert_cmpuint (n_images, ==, N_IMAGES);
  g_assert_false (isnan (sim[0]));

  /* A corrupt image among good ones costs only itself. */
  {
    g_autofree char *bad = g_build_filename (workdir, "broken.png", NULL);
    g_autoptr(GFile) file = g_file_new_for_path (bad);

    g_assert_true (g_file_set_contents (bad, "\x89PNG\r\n\x1a\n but no more", -1, NULL));
    clipscope_session_add_files (session, &file, 1);
    wait_idle (session);
    g_assert_cmpuint (g_list_model_get_n_items (clipscope_session_get_images (session)), ==, N_IMAGES);
  }
  g_assert_finalize_object (session);
}

/* ------------------------------------------------------------ window */

/* Presents @window at the size given, scoring the fixture's images
 * against four labels, and waits for the scores. */
static void
show_scored_window (ClipscopeWindow *window,
                    int              width,
                    int              height)
{
  ClipscopeSession *session = clipscope_window_get_session (window);
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);

  gtk_window_set_default_size (GTK_WINDOW (window), width, height);
  gtk_window_present (GTK_WINDOW (window));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.clear-labels", NULL);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.add-labels", "s", "cat\ndog\nred car\ntree");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.load-model", "s", model_dir);
  for (int i = 0; i < N_IMAGES; i++)
    g_ptr_array_add (files, g_file_new_for_path (image_paths[i]));
  clipscope_session_add_files (session, (GFile **) files->pdata, files->len);
  wait_idle (session);
}

static void
save_shot (ClipscopeWindow *window,
           const char      *name)
{
  const char *dir = g_getenv ("CLIPSCOPE_SHOTS_DIR");
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;

  if (dir == NULL)
    return;
  for (int i = 0; i < 100 && !gtk_widget_get_mapped (GTK_WIDGET (window)); i++)
    wait_ms (50);
  wait_ms (300);
  path = g_build_filename (dir, name, NULL);

  /* A layout pending since the last change leaves nothing to draw until
   * the next frame. */
  for (int i = 0; i < 40 && !clipscope_window_save_screenshot (window, path, NULL); i++)
    wait_ms (50);
  clipscope_window_save_screenshot (window, path, &error);
  g_assert_no_error (error);
}

static void
set_templates (ClipscopeSession   *session,
               const char * const *list)
{
  clipscope_session_clear_templates (session);
  for (const char * const *t = list; *t != NULL; t++)
    clipscope_session_add_template (session, *t, TRUE);
}

static void
assert_templates (ClipscopeSession   *session,
                  const char * const *want)
{
  g_auto(GStrv) enabled = clipscope_session_dup_enabled_templates (session);

  g_assert_cmpstrv (enabled, want);
}

/* A template list that is only the default follows the model's family,
 * with Undo; one the person made stays. */
static void
test_window_family_template (void)
{
  ClipscopeWindow *window = g_object_ref_sink (clipscope_window_new (NULL));
  ClipscopeSession *session = clipscope_window_get_session (window);
  g_autofree char *script = g_build_filename (g_getenv ("CLIPSCOPE_TESTS_DIR"), "chinese_clip_reference.py",
                                              NULL);
  g_autofree char *cn_dir = g_build_filename (workdir, "chinese-clip", NULL);
  const char *photo[] = { "a photo of a {}.", NULL }, *chinese[] = { "一张{}的照片。", NULL };
  const char *own[] = { "{}的画。", NULL };
  g_autoptr(GError) error = NULL;
  int status = 0;

  g_assert_true (g_spawn_sync (NULL, (char *[]) { (char *) "/usr/bin/python3", script, cn_dir, NULL },
                               NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, 0);
  gtk_window_present (GTK_WINDOW (window));
  clipscope_window_load_model (window, model_dir);
  wait_idle (session);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.clear-labels", NULL);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.add-labels", "s", "猫\n狗");
  set_templates (session, photo);

  clipscope_window_load_model (window, cn_dir);
  wait_idle (session);
  g_assert_cmpint (clipscope_session_get_model_info (session)->family, ==, CLIPSCOPE_FAMILY_CHINESE_CLIP);
  assert_templates (session, chinese);
  /* Chinese-CLIP scores with a softmax, as CLIP does. */
  g_assert_null (clipscope_session_get_scoring_note (session));
  g_assert_false (gtk_widget_get_visible (clipscope_window_get_probability_caption (window)));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.undo", NULL);
  assert_templates (session, photo);

  /* Back to CLIP: the Chinese default becomes CLIP's. */
  set_templates (session, chinese);
  clipscope_window_load_model (window, model_dir);
  wait_idle (session);
  g_assert_cmpint (clipscope_session_get_model_info (session)->family, ==, CLIPSCOPE_FAMILY_CLIP);
  assert_templates (session, photo);

  /* A template of one's own is kept. */
  set_templates (session, own);
  clipscope_window_load_model (window, cn_dir);
  wait_idle (session);
  g_assert_cmpint (clipscope_session_get_model_info (session)->family, ==, CLIPSCOPE_FAMILY_CHINESE_CLIP);
  assert_templates (session, own);

  /* No template at all: the session falls back on the family's. */
  clipscope_session_clear_templates (session);
  assert_templates (session, chinese);

  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (window);
}

/* A SigLIP's probabilities are a sigmoid for each cell: the caption under
 * them says they are independent, and the export says "sigmoid". */
static void
test_window_sigmoid (void)
{
  ClipscopeWindow *window = g_object_ref_sink (clipscope_window_new (NULL));
  ClipscopeSession *session = clipscope_window_get_session (window);
  g_autofree char *tool = g_build_filename (g_getenv ("CLIPSCOPE_TESTS_DIR"), "..", "tools", "make-tiny-model",
                                            NULL);
  g_autofree char *siglip_dir = g_build_filename (workdir, "siglip", NULL);
  g_autofree char *json_path = g_build_filename (workdir, "sigmoid.json", NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);
  const ClipscopeModelInfo *info;
  const float *sim = NULL, *prob = NULL;
  guint n_images = 0, n_labels = 0;
  GtkWidget *caption;
  int status = 0;
  double sum = 0;

  g_assert_true (g_spawn_sync (NULL, (char *[]) { (char *) "/usr/bin/python3", tool, siglip_dir,
                                                  (char *) "--family", (char *) "siglip", NULL },
                               NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, 0);
  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 800);
  gtk_window_present (GTK_WINDOW (window));
  clipscope_window_load_model (window, siglip_dir);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.clear-labels", NULL);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.add-labels", "s", "ab\ncd\nefg");
  for (int i = 0; i < 3; i++)
    g_ptr_array_add (files, g_file_new_for_path (image_paths[i]));
  clipscope_session_add_files (session, (GFile **) files->pdata, files->len);
  wait_idle (session);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.select-image", "i", 0);
  wait_idle (session);

  info = clipscope_session_get_model_info (session);
  g_assert_nonnull (info);
  g_assert_cmpint (info->family, ==, CLIPSCOPE_FAMILY_SIGLIP);
  g_assert_cmpint (clipscope_session_get_scoring (session), ==, CLIPSCOPE_SCORING_SIGMOID);
  g_assert_true (clipscope_session_get_scores (session, &n_images, &n_labels, &sim, &prob));
  g_assert_cmpuint (n_labels, ==, 3);
  for (guint i = 0; i < n_images * n_labels; i++)
    {
      double want = 1.0 / (1.0 + exp (-(info->logit_scale * (double) sim[i] + info->logit_bias)));

      g_assert_cmpfloat_with_epsilon (prob[i], want, 1e-6);
    }
  for (guint j = 0; j < n_labels; j++)
    sum += prob[j];
  g_assert_cmpfloat (fabs (sum - 1.0), >, 1e-3);

  caption = clipscope_window_get_probability_caption (window);
  g_assert_true (gtk_widget_get_visible (caption));
  g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (caption)), ==, clipscope_session_get_scoring_note (session));
  g_assert_nonnull (strstr (gtk_label_get_label (GTK_LABEL (caption)), "independent"));
  save_shot (window, "test-sigmoid.png");

  gtk_widget_activate_action (GTK_WIDGET (window), "win.export-to", "s", json_path);
  g_assert_true (json_parser_load_from_file (parser, json_path, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (json_parser_get_root (parser)),
                                                  "scoring"), ==, "sigmoid");

  /* Back on a CLIP the caption goes. */
  clipscope_window_load_model (window, model_dir);
  wait_idle (session);
  g_assert_cmpint (clipscope_session_get_scoring (session), ==, CLIPSCOPE_SCORING_SOFTMAX);
  g_assert_false (gtk_widget_get_visible (caption));

  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (window);
}

static void
test_window_drop_and_actions (void)
{
  ClipscopeWindow *window = clipscope_window_new (NULL);
  ClipscopeSession *session = clipscope_window_get_session (window);
  GtkDropTarget *target = clipscope_window_get_drop_target (window);
  g_autoptr(GFile) image = g_file_new_for_path (image_paths[0]);
  g_autoptr(GFile) text = g_file_new_for_path (text_path);
  g_autoptr(GFile) folder = g_file_new_for_path (workdir);
  g_autofree char *csv_path = g_build_filename (workdir, "scores.csv", NULL);
  g_autofree char *json_path = g_build_filename (workdir, "scores.json", NULL);
  g_autofree char *png_path = g_build_filename (workdir, "heatmap.png", NULL);
  g_autofree char *csv = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) png = NULL;
  g_auto(GValue) value = G_VALUE_INIT;
  GSList *files = NULL;
  gboolean accepted = FALSE;

  g_object_ref_sink (window);
  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 800);
  gtk_window_present (GTK_WINDOW (window));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.clear-labels", NULL);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.add-labels", "s", "cat\ndog\nred car\ntree");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.load-model", "s", model_dir);
  save_shot (window, "test-empty.png");

  /* A drop of one image and one text file, as a file manager sends it. */
  files = g_slist_append (files, image);
  files = g_slist_append (files, text);
  g_value_init (&value, GDK_TYPE_FILE_LIST);
  g_value_set_boxed (&value, files);
  g_slist_free (files);
  g_signal_emit_by_name (target, "drop", &value, 10.0, 10.0, &accepted);
  g_assert_true (accepted);
  wait_idle (session);
  g_assert_cmpuint (g_list_model_get_n_items (clipscope_session_get_images (session)), ==, 1);

  /* A dropped folder is walked; the image already there is not added twice. */
  g_value_unset (&value);
  g_value_init (&value, G_TYPE_FILE);
  g_value_set_object (&value, folder);
  g_signal_emit_by_name (target, "drop", &value, 10.0, 10.0, &accepted);
  g_assert_true (accepted);
  wait_idle (session);
  g_assert_cmpuint (g_list_model_get_n_items (clipscope_session_get_images (session)), ==, N_IMAGES);

  /* Ctrl+V with a picture on the clipboard, as an image editor puts it. */
  {
    g_autoptr(GdkTexture) texture = gdk_texture_new_from_filename (image_paths[3], &error);
    guint n;

    g_assert_no_error (error);
    gdk_clipboard_set_texture (gtk_widget_get_clipboard (GTK_WIDGET (window)), texture);
    gtk_widget_activate_action (GTK_WIDGET (window), "win.paste", NULL);
    for (int i = 0; i < 100 && g_list_model_get_n_items (clipscope_session_get_images (session)) == N_IMAGES; i++)
      wait_ms (20);
    wait_idle (session);
    n = g_list_model_get_n_items (clipscope_session_get_images (session));
    g_assert_cmpuint (n, ==, N_IMAGES + 1);
    clipscope_session_remove_image (session, n - 1);
    wait_idle (session);
  }

  gtk_widget_activate_action (GTK_WIDGET (window), "win.select-image", "i", 2);
  g_assert_cmpint (clipscope_heatmap_view_get_selected (CLIPSCOPE_HEATMAP_VIEW (clipscope_window_get_heatmap (window))), ==, 2);
  save_shot (window, "test-session.png");

  /* The switch to per-image probabilities recolours the same matrix. */
  {
    ClipscopeHeatmapView *heatmap = CLIPSCOPE_HEATMAP_VIEW (clipscope_window_get_heatmap (window));
    float low, high;

    g_assert_false (clipscope_heatmap_view_get_show_probabilities (heatmap));
    gtk_widget_activate_action (GTK_WIDGET (window), "view.show-probabilities", NULL);
    g_assert_true (clipscope_heatmap_view_get_show_probabilities (heatmap));
    g_assert_true (clipscope_heatmap_view_get_range (heatmap, &low, &high));
    g_assert_cmpfloat (low, ==, 0.0f);
    g_assert_cmpfloat (high, ==, 1.0f);
    save_shot (window, "test-probabilities.png");
    gtk_widget_activate_action (GTK_WIDGET (window), "view.show-probabilities", NULL);
    g_assert_false (clipscope_heatmap_view_get_show_probabilities (heatmap));
  }

  /* A CLIP's probabilities are a softmax: no caption says otherwise. */
  g_assert_cmpint (clipscope_session_get_scoring (session), ==, CLIPSCOPE_SCORING_SOFTMAX);
  g_assert_null (clipscope_session_get_scoring_note (session));
  g_assert_false (gtk_widget_get_visible (clipscope_window_get_probability_caption (window)));

  /* The ImageNet preset brings CLIP's 80 templates, all valid. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.template-preset", "s", "imagenet");
  g_assert_cmpuint (g_list_model_get_n_items (clipscope_session_get_templates (session)), ==, 80);
  {
    g_auto(GStrv) enabled = clipscope_session_dup_enabled_templates (session);

    g_assert_cmpuint (g_strv_length (enabled), ==, 80);
  }

  /* The Chinese presets: the short default, and Chinese-CLIP's 80. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.template-preset", "s", "chinese");
  {
    g_auto(GStrv) enabled = clipscope_session_dup_enabled_templates (session);

    g_assert_cmpstrv (enabled, ((const char *[]) { "一张{}的照片。", NULL }));
  }
  gtk_widget_activate_action (GTK_WIDGET (window), "win.template-preset", "s", "chinese-imagenet");
  {
    g_auto(GStrv) enabled = clipscope_session_dup_enabled_templates (session);

    g_assert_cmpuint (g_strv_length (enabled), ==, 80);
    g_assert_cmpstr (enabled[0], ==, "{}的照片。");
  }
  /* A name that is no preset changes nothing. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.template-preset", "s", "klingon");
  g_assert_cmpuint (g_list_model_get_n_items (clipscope_session_get_templates (session)), ==, 80);

  /* A template without {} is kept in the list, flagged, and left out. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.clear-templates", NULL);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.add-template", "s", "a photo of a {}.");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.add-template", "s", "no placeholder here");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.add-template", "s", "itap of a {}.");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.add-template", "s", "a sketch of the {}");
  {
    g_autoptr(ClipscopeTemplate) t = g_list_model_get_item (clipscope_session_get_templates (session), 3);
    g_auto(GStrv) enabled = NULL;
    const char *want[] = { "a photo of a {}.", "itap of a {}.", NULL };

    clipscope_template_set_enabled (t, FALSE);
    enabled = clipscope_session_dup_enabled_templates (session);
    g_assert_true (g_strv_equal ((const char * const *) enabled, want));
  }
  gtk_widget_activate_action (GTK_WIDGET (window), "win.show-page", "s", "templates");
  wait_idle (session);
  save_shot (window, "test-templates.png");

  /* Exports, through the same action Ctrl+E's dialog ends in. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.export-to", "s", csv_path);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.export-to", "s", json_path);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.export-to", "s", png_path);
  g_assert_true (g_file_get_contents (csv_path, &csv, NULL, NULL));
  g_assert_true (g_str_has_prefix (csv, "image,cat,dog,red car,tree,top\r\n"));
  g_assert_true (json_parser_load_from_file (parser, json_path, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                      json_node_get_object (json_parser_get_root (parser)), "images")), ==, N_IMAGES);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (json_parser_get_root (parser)),
                                                  "scoring"), ==, "softmax");
  png = gdk_pixbuf_new_from_file (png_path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_height (png), >, N_IMAGES * 30);

  /* Delete empties the grid and brings the empty state back. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.cancel", NULL);
  for (int i = N_IMAGES - 1; i >= 0; i--)
    clipscope_session_remove_image (session, i);
  wait_idle (session);
  g_assert_cmpuint (g_list_model_get_n_items (clipscope_session_get_images (session)), ==, 0);

  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (window);
}

/* ------------------------------------------------------------ few-shot */

static ClipscopeTextRow *
find_label_row (GtkWidget  *widget,
                const char *label)
{
  if (CLIPSCOPE_IS_TEXT_ROW (widget)
      && clipscope_text_row_get_drop_target (CLIPSCOPE_TEXT_ROW (widget)) != NULL
      && g_strcmp0 (clipscope_text_row_get_text (CLIPSCOPE_TEXT_ROW (widget)), label) == 0)
    return CLIPSCOPE_TEXT_ROW (widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      ClipscopeTextRow *row = find_label_row (child, label);

      if (row != NULL)
        return row;
    }
  return NULL;
}

/* Drops image files on a label's row, as a file manager would. */
static void
drop_examples (ClipscopeWindow *window,
               const char      *label,
               const int       *images,
               int              n)
{
  ClipscopeTextRow *row = find_label_row (GTK_WIDGET (window), label);
  g_auto(GValue) value = G_VALUE_INIT;
  GSList *files = NULL;
  gboolean accepted = FALSE;

  g_assert_nonnull (row);
  for (int i = 0; i < n; i++)
    files = g_slist_append (files, g_file_new_for_path (image_paths[images[i]]));
  g_value_init (&value, GDK_TYPE_FILE_LIST);
  g_value_set_boxed (&value, files);
  g_slist_free_full (files, g_object_unref);
  g_signal_emit_by_name (clipscope_text_row_get_drop_target (row), "drop", &value, 5.0, 5.0, &accepted);
  g_assert_true (accepted);
  wait_idle (clipscope_window_get_session (window));
}

/* The session's embedding of each test image, in image_paths order. */
static float *
image_embeddings (ClipscopeSession *session,
                  int              *dim)
{
  GListModel *images = clipscope_session_get_images (session);
  float *rows = NULL;

  for (guint i = 0; i < g_list_model_get_n_items (images); i++)
    {
      g_autoptr(ClipscopeImage) image = g_list_model_get_item (images, i);
      const float *e = clipscope_image_get_embedding (image, dim);

      g_assert_nonnull (e);
      g_assert_cmpstr (clipscope_image_get_path (image), ==, image_paths[i]);
      if (rows == NULL)
        rows = g_new (float, (gsize) N_IMAGES * *dim);
      memcpy (rows + (gsize) i * *dim, e, *dim * sizeof (float));
    }
  return rows;
}

static void
assert_scores (ClipscopeSession *session,
               const float      *want_sim,
               const float      *want_prob)
{
  const float *sim, *prob;
  guint n_images, n_labels;

  g_assert_true (clipscope_session_get_scores (session, &n_images, &n_labels, &sim, &prob));
  g_assert_cmpuint (n_images, ==, N_IMAGES);
  for (guint i = 0; i < n_images * n_labels; i++)
    {
      g_assert_cmpfloat_with_epsilon (sim[i], want_sim[i], 1e-5);
      g_assert_cmpfloat_with_epsilon (prob[i], want_prob[i], 1e-5);
    }
}

static void
test_window_examples (void)
{
  static const int cat[] = { 0, 1 }, dog[] = { 2, 3 }, car[] = { 0, 2 }, tree[] = { 1, 3 };
  static const int y[] = { 0, 0, 1, 1, 2, 2, 3, 3 };
  static const int example_images[] = { 0, 1, 2, 3, 0, 2, 1, 3 };
  ClipscopeWindow *window = clipscope_window_new (NULL);
  ClipscopeSession *session = clipscope_window_get_session (window);
  g_autoptr(GSettings) settings = clipscope_settings_new ();
  g_autofree float *images = NULL;
  g_autofree float *text = NULL;
  g_autofree float *rows = NULL;
  g_autofree float *examples = NULL;
  g_autofree float *want_sim = NULL;
  g_autofree float *want_prob = NULL;
  g_autoptr(ClipscopeProbe) probe = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) cat_examples = NULL;
  const float *sim;
  guint n_images, n_labels, n_unclassified;
  float logit_scale;
  int dim = 0;

  g_object_ref_sink (window);
  show_scored_window (window, 1300, 850);

  /* Without examples every label is zero-shot. */
  g_assert_cmpstr (clipscope_text_row_get_mode_text (find_label_row (GTK_WIDGET (window), "cat")), ==,
                   "zero-shot");
  images = image_embeddings (session, &dim);
  text = g_new (float, 4 * dim);
  for (int j = 0; j < 4; j++)
    memcpy (text + j * dim, clipscope_session_get_label_embedding (session, j, NULL), dim * sizeof (float));
  {
    g_autoptr(ClipscopeModel) model = clipscope_model_load (model_dir, NULL, NULL, &error);

    g_assert_no_error (error);
    logit_scale = clipscope_model_get_info (model)->logit_scale;
  }

  /* Two examples dropped on "cat" make it a prototype, and its column
   * is what the engine's blend gives. */
  drop_examples (window, "cat", cat, 2);
  cat_examples = clipscope_session_dup_examples (session, "cat");
  g_assert_cmpuint (g_strv_length (cat_examples), ==, 2);
  g_assert_cmpint (clipscope_session_get_label_mode (session, "cat"), ==, CLIPSCOPE_LABEL_MODE_PROTOTYPE);
  g_assert_cmpint (clipscope_session_get_label_mode (session, "dog"), ==, CLIPSCOPE_LABEL_MODE_ZERO_SHOT);
  g_assert_true (g_str_has_prefix (clipscope_text_row_get_mode_text (find_label_row (GTK_WIDGET (window), "cat")),
                                   "prototype · "));
  g_assert_false (isnan (clipscope_session_get_label_accuracy (session, "cat")));
  examples = g_new (float, 8 * dim);
  for (int i = 0; i < 8; i++)
    memcpy (examples + i * dim, images + example_images[i] * dim, dim * sizeof (float));
  rows = g_new (float, 4 * dim);
  want_sim = g_new (float, N_IMAGES * 4);
  want_prob = g_new (float, N_IMAGES * 4);
  clipscope_prototypes_build (text, 4, dim, examples, y, 2, CLIPSCOPE_EXAMPLE_WEIGHT_DEFAULT, rows);
  clipscope_score (images, N_IMAGES, rows, 4, dim, logit_scale, want_sim, want_prob);
  assert_scores (session, want_sim, want_prob);

  /* The weight, a setting, moves the blend at once. */
  g_settings_set_double (settings, "example-weight", 0.9);
  wait_idle (session);
  clipscope_prototypes_build (text, 4, dim, examples, y, 2, 0.9f, rows);
  clipscope_score (images, N_IMAGES, rows, 4, dim, logit_scale, want_sim, want_prob);
  assert_scores (session, want_sim, want_prob);
  g_settings_reset (settings, "example-weight");

  /* The probe needs two examples of every label: asked for too early,
   * it leaves the labels in prototype mode. */
  gtk_widget_activate_action (GTK_WIDGET (window), "fewshot.classifier", "s", "probe");
  wait_idle (session);
  g_assert_false (clipscope_session_can_probe (session));
  g_assert_cmpint (clipscope_session_get_label_mode (session, "cat"), ==, CLIPSCOPE_LABEL_MODE_PROTOTYPE);
  drop_examples (window, "dog", dog, 2);
  drop_examples (window, "red car", car, 2);
  g_assert_false (clipscope_session_can_probe (session));
  drop_examples (window, "tree", tree, 2);
  g_assert_true (clipscope_session_can_probe (session));
  g_assert_cmpint (clipscope_session_get_label_mode (session, "tree"), ==, CLIPSCOPE_LABEL_MODE_PROBE);
  g_assert_true (g_str_has_prefix (clipscope_text_row_get_mode_text (find_label_row (GTK_WIDGET (window), "dog")),
                                   "probe · "));
  probe = clipscope_probe_train (examples, y, 8, 4, dim, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  clipscope_prototypes_build (text, 4, dim, examples, y, 8, CLIPSCOPE_EXAMPLE_WEIGHT_DEFAULT, rows);
  clipscope_score (images, N_IMAGES, rows, 4, dim, logit_scale, want_sim, want_prob);
  clipscope_probe_predict (probe, images, N_IMAGES, NULL, want_prob);
  assert_scores (session, want_sim, want_prob);
  save_shot (window, "test-examples.png");

  /* Removing an example takes the probe away again. */
  g_signal_emit_by_name (find_label_row (GTK_WIDGET (window), "tree"), "example-removed", image_paths[3]);
  wait_idle (session);
  g_assert_false (clipscope_session_can_probe (session));
  g_assert_cmpint (clipscope_session_get_label_mode (session, "tree"), ==, CLIPSCOPE_LABEL_MODE_PROTOTYPE);

  /* Text only ignores the examples. */
  gtk_widget_activate_action (GTK_WIDGET (window), "fewshot.classifier", "s", "zero-shot");
  wait_idle (session);
  g_assert_cmpint (clipscope_session_get_label_mode (session, "cat"), ==, CLIPSCOPE_LABEL_MODE_ZERO_SHOT);
  clipscope_score (images, N_IMAGES, text, 4, dim, logit_scale, want_sim, want_prob);
  assert_scores (session, want_sim, want_prob);

  /* A threshold above every cosine leaves every image unclassified, one
   * below them none; the setting drives it. */
  g_settings_set_double (settings, "threshold", 1.0);
  g_settings_set_boolean (settings, "use-threshold", TRUE);
  wait_idle (session);
  clipscope_session_get_top (session, &n_images, &n_unclassified);
  g_assert_cmpuint (n_unclassified, ==, N_IMAGES);
  g_assert_true (clipscope_session_is_unclassified (session, 0));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.select-image", "i", 1);
  save_shot (window, "test-unclassified.png");
  {
    /* Just above the lowest best cosine: that image alone is unclassified. */
    float best[N_IMAGES], cut;
    int lowest = 0;

    clipscope_session_get_scores (session, &n_images, &n_labels, &sim, NULL);
    for (guint i = 0; i < N_IMAGES; i++)
      {
        best[i] = -INFINITY;
        for (guint j = 0; j < n_labels; j++)
          best[i] = MAX (best[i], sim[i * n_labels + j]);
        if (best[i] < best[lowest])
          lowest = i;
      }
    cut = best[lowest] + 1e-4f;
    g_settings_set_double (settings, "threshold", cut);
    wait_idle (session);
    for (guint i = 0; i < N_IMAGES; i++)
      g_assert_cmpint (clipscope_session_is_unclassified (session, i), ==, best[i] < cut);
  }
  g_settings_set_boolean (settings, "use-threshold", FALSE);
  wait_idle (session);
  clipscope_session_get_top (session, &n_images, &n_unclassified);
  g_assert_cmpuint (n_unclassified, ==, 0);
  g_settings_reset (settings, "threshold");

  /* "Clear Examples", and a removed label takes its examples along. */
  g_signal_emit_by_name (find_label_row (GTK_WIDGET (window), "cat"), "examples-cleared");
  g_strfreev (cat_examples);
  cat_examples = clipscope_session_dup_examples (session, "cat");
  g_assert_cmpuint (g_strv_length (cat_examples), ==, 0);
  gtk_string_list_remove (clipscope_session_get_labels (session), 1);
  wait_idle (session);
  {
    g_auto(GStrv) dog_examples = clipscope_session_dup_examples (session, "dog");

    g_assert_cmpuint (g_strv_length (dog_examples), ==, 0);
  }

  /* The examples and the scoring mode are settings: a new window has them. */
  {
    g_autoptr(GVariant) saved = g_settings_get_value (settings, "label-examples");
    g_auto(GStrv) car_examples = clipscope_session_dup_examples (session, "red car");
    g_auto(GStrv) tree_examples = clipscope_session_dup_examples (session, "tree");
    g_auto(GStrv) restored_car = NULL;
    g_auto(GStrv) restored_tree = NULL;
    g_autofree char *mode = NULL;
    g_autofree char *restored_mode = NULL;
    ClipscopeWindow *second;

    g_assert_cmpuint (g_variant_n_children (saved), ==, 2);
    g_assert_cmpuint (g_strv_length (car_examples), ==, 2);
    g_assert_cmpuint (g_strv_length (tree_examples), ==, 1);
    mode = g_settings_get_string (settings, "classifier");
    g_assert_cmpstr (mode, ==, "zero-shot");
    second = g_object_ref_sink (clipscope_window_new (NULL));
    restored_car = clipscope_session_dup_examples (clipscope_window_get_session (second), "red car");
    restored_tree = clipscope_session_dup_examples (clipscope_window_get_session (second), "tree");
    g_assert_true (g_strv_equal ((const char * const *) restored_car, (const char * const *) car_examples));
    g_assert_true (g_strv_equal ((const char * const *) restored_tree, (const char * const *) tree_examples));
    g_object_get (clipscope_window_get_session (second), "classifier", &restored_mode, NULL);
    g_assert_cmpstr (restored_mode, ==, "zero-shot");
    gtk_window_destroy (GTK_WINDOW (second));
    g_assert_finalize_object (second);
  }
  gtk_widget_activate_action (GTK_WIDGET (window), "fewshot.classifier", "s", "prototype");
  g_settings_reset (settings, "label-examples");

  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (window);
}

/* ------------------------------------------------------------ heatmap keyboard */

static void
read_text_cb (GObject      *clipboard,
              GAsyncResult *result,
              gpointer      user_data)
{
  char **text = user_data;

  *text = gdk_clipboard_read_text_finish (GDK_CLIPBOARD (clipboard), result, NULL);
  if (*text == NULL)
    *text = g_strdup ("");
}

static char *
clipboard_text (GtkWidget *widget)
{
  char *text = NULL;

  gdk_clipboard_read_text_async (gtk_widget_get_clipboard (widget), NULL, read_text_cb, &text);
  for (int i = 0; i < 200 && text == NULL; i++)
    wait_ms (10);
  g_assert_nonnull (text);
  return text;
}

/* The colour of the window at @widget's point (@x, @y), as drawn now. */
static guint32
pixel_at (ClipscopeWindow *window,
          GtkWidget       *widget,
          double           x,
          double           y)
{
  g_autofree char *path = g_build_filename (scratch_dir, "pixel.png", NULL);
  g_autoptr(GdkPixbuf) shot = NULL;
  g_autoptr(GError) error = NULL;
  graphene_point_t p;
  guchar *pixel;

  for (int i = 0; i < 40 && !clipscope_window_save_screenshot (window, path, NULL); i++)
    wait_ms (50);
  shot = gdk_pixbuf_new_from_file (path, &error);
  g_assert_no_error (error);
  g_assert_true (gtk_widget_compute_point (widget, GTK_WIDGET (window), &GRAPHENE_POINT_INIT (x, y), &p));
  g_assert_cmpint ((int) p.x, <, gdk_pixbuf_get_width (shot));
  g_assert_cmpint ((int) p.y, <, gdk_pixbuf_get_height (shot));
  pixel = gdk_pixbuf_get_pixels (shot) + (int) p.y * gdk_pixbuf_get_rowstride (shot)
          + (int) p.x * gdk_pixbuf_get_n_channels (shot);
  return pixel[0] << 16 | pixel[1] << 8 | pixel[2];
}

/* The grid's cursor selects its image; the focused cell and the matrix
 * copy as numbers; the legend and headers stay put while it scrolls. */
static void
test_window_heatmap_cells (void)
{
  ClipscopeWindow *window = g_object_ref_sink (clipscope_window_new (NULL));
  ClipscopeSession *session = clipscope_window_get_session (window);
  GtkWidget *widget = clipscope_window_get_heatmap (window);
  ClipscopeHeatmapView *heatmap = CLIPSCOPE_HEATMAP_VIEW (widget);
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *cell = NULL;
  g_autofree char *want = NULL;
  g_autofree char *matrix = NULL;
  g_auto(GStrv) lines = NULL;
  GtkScrolledWindow *scrolled;
  GtkAdjustment *vadjustment, *hadjustment;
  const float *sim;
  guint n_images, n_labels;
  guint32 legend;
  int row, column;
  double x, y;

  gtk_window_set_default_size (GTK_WINDOW (window), 1300, 520);
  gtk_window_present (GTK_WINDOW (window));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.clear-labels", NULL);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.add-labels", "s",
                              "cat\ndog\nred car\ntree\nboat\nhouse\nbird\nfish\nlamp\nchair\ncup\n"
                              "a key on a long chain, long enough to fill its header");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.load-model", "s", model_dir);
  for (int i = 0; i < N_IMAGES; i++)
    g_ptr_array_add (files, g_file_new_for_path (image_paths[i]));
  clipscope_session_add_files (session, (GFile **) files->pdata, files->len);
  wait_idle (session);
  /* Each thumbnail that arrives redraws the row headers. */
  wait_thumbnails (session);
  g_assert_true (clipscope_session_get_scores (session, &n_images, &n_labels, &sim, NULL));
  g_assert_cmpuint (n_labels, ==, 12);

  save_shot (window, "test-heatmap-top.png");

  /* F6 takes the focus to the matrix, on its cursor's cell. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.focus-heatmap", NULL);
  g_assert_true (gtk_widget_is_ancestor (gtk_root_get_focus (GTK_ROOT (window)), widget));

  /* The cursor moves the selection, and clamps at the edges. */
  g_assert_true (clipscope_heatmap_view_set_cursor (heatmap, 2, 3));
  g_assert_cmpint (clipscope_heatmap_view_get_selected (heatmap), ==, 2);
  g_assert_true (clipscope_heatmap_view_set_cursor (heatmap, 99, -4));
  g_assert_true (clipscope_heatmap_view_get_cursor (heatmap, &row, &column));
  g_assert_cmpint (row, ==, N_IMAGES - 1);
  g_assert_cmpint (column, ==, 0);
  g_assert_true (clipscope_heatmap_view_set_cursor (heatmap, 1, 2));
  g_assert_true (gtk_widget_has_focus (gtk_root_get_focus (GTK_ROOT (window))));
  g_assert_true (gtk_widget_is_ancestor (gtk_root_get_focus (GTK_ROOT (window)), widget));

  /* A fixed colour scale keeps its range whatever the scores; off, the
   * scale follows them again. */
  {
    g_autoptr(GSettings) settings = clipscope_settings_new ();
    float low, high;

    g_settings_set_double (settings, "scale-low", 0.05);
    g_settings_set_double (settings, "scale-high", 0.35);
    g_settings_set_boolean (settings, "fixed-scale", TRUE);
    g_assert_true (clipscope_heatmap_view_get_range (heatmap, &low, &high));
    g_assert_cmpfloat_with_epsilon (low, 0.05f, 1e-6);
    g_assert_cmpfloat_with_epsilon (high, 0.35f, 1e-6);
    g_settings_reset (settings, "fixed-scale");
    g_settings_reset (settings, "scale-low");
    g_settings_reset (settings, "scale-high");
    g_assert_true (clipscope_heatmap_view_get_range (heatmap, &low, &high));
    for (guint i = 0; i < n_images * n_labels; i++)
      {
        g_assert_cmpfloat (sim[i], >=, low);
        g_assert_cmpfloat (sim[i], <=, high);
      }
    g_assert_cmpfloat (high - low, <, 0.9f);
  }

  /* Copy: the focused cell's value, then the whole matrix as TSV. */
  cell = clipscope_heatmap_view_dup_cell_text (heatmap);
  want = g_strdup_printf ("%.4f", sim[1 * n_labels + 2]);
  g_assert_cmpstr (cell, ==, want);
  gtk_widget_activate_action (widget, "heatmap.copy-cell", NULL);
  g_free (cell);
  cell = clipboard_text (widget);
  g_assert_cmpstr (cell, ==, want);
  gtk_widget_activate_action (widget, "heatmap.copy-matrix", NULL);
  matrix = clipboard_text (widget);
  lines = g_strsplit (matrix, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, N_IMAGES + 2);
  g_assert_true (g_str_has_prefix (lines[0], "image (cosine)\tcat\tdog\tred car\ttree\t"));
  g_assert_cmpstr (lines[N_IMAGES + 1], ==, "");
  {
    g_auto(GStrv) fields = g_strsplit (lines[2], "\t", -1);

    g_assert_cmpuint (g_strv_length (fields), ==, 13);
    g_assert_cmpstr (fields[0], ==, "image-1.png");
    g_assert_cmpstr (fields[3], ==, want);
  }

  /* Scrolled to the far corner, the legend is drawn where it was. */
  scrolled = GTK_SCROLLED_WINDOW (gtk_widget_get_ancestor (widget, GTK_TYPE_SCROLLED_WINDOW));
  vadjustment = gtk_scrolled_window_get_vadjustment (scrolled);
  hadjustment = gtk_scrolled_window_get_hadjustment (scrolled);
  gtk_adjustment_set_value (vadjustment, 0);
  gtk_adjustment_set_value (hadjustment, 0);
  g_assert_cmpfloat (gtk_adjustment_get_upper (hadjustment), >, gtk_adjustment_get_page_size (hadjustment));
  g_assert_cmpfloat (gtk_adjustment_get_upper (vadjustment), >, gtk_adjustment_get_page_size (vadjustment));
  /* 12 (PAD) + 188 (ROW_HEADER) + 110: the middle of the gradient. */
  legend = pixel_at (window, widget, 12 + 188 + 110, 12 + 10);
  gtk_adjustment_set_value (vadjustment, gtk_adjustment_get_upper (vadjustment));
  gtk_adjustment_set_value (hadjustment, gtk_adjustment_get_upper (hadjustment));
  x = gtk_adjustment_get_value (hadjustment);
  y = gtk_adjustment_get_value (vadjustment);
  g_assert_cmpfloat (y, >, 0);
  g_assert_cmpfloat (x, >, 0);
  wait_ms (100);
  save_shot (window, "test-heatmap-scrolled.png");
  g_assert_cmphex (pixel_at (window, widget, x + 12 + 188 + 110, y + 12 + 10), ==, legend);
  /* A click in the frozen headers' band picks no cell. */
  g_assert_false (clipscope_heatmap_view_cell_at (heatmap, x + 400, y + 20, &row, &column));
  g_assert_true (clipscope_heatmap_view_cell_at (heatmap, x + 20, y + gtk_adjustment_get_page_size (vadjustment) - 20,
                                                 &row, &column));
  g_assert_cmpint (row, ==, N_IMAGES - 1);
  g_assert_cmpint (column, ==, -1);

  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (window);
}

/* ------------------------------------------------------------ lists */

static GtkWidget *
find_entry (GtkWidget  *widget,
            const char *placeholder)
{
  if (GTK_IS_ENTRY (widget)
      && g_strcmp0 (gtk_entry_get_placeholder_text (GTK_ENTRY (widget)), placeholder) == 0)
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_entry (child, placeholder);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static GStrv
session_labels (ClipscopeSession *session)
{
  GListModel *list = G_LIST_MODEL (clipscope_session_get_labels (session));
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; i < g_list_model_get_n_items (list); i++)
    g_strv_builder_add (builder, gtk_string_list_get_string (GTK_STRING_LIST (list), i));
  return g_strv_builder_end (builder);
}

/* A label is one string: typed, pasted, saved and restored, its commas
 * stay in it. Only a pasted list is split, and only at new lines. */
static void
test_window_label_commas (void)
{
  static const char *want[] = { "a red, shiny apple", "pear", "kiwi, sliced", "fig", NULL };
  g_autoptr(GSettings) settings = clipscope_settings_new ();
  ClipscopeWindow *window = g_object_ref_sink (clipscope_window_new (NULL));
  ClipscopeSession *session = clipscope_window_get_session (window);
  GtkWidget *entry = find_entry (GTK_WIDGET (window), "Add a label, or paste a list");
  g_auto(GStrv) shown = NULL;
  g_auto(GStrv) saved = NULL;
  g_auto(GStrv) restored = NULL;
  ClipscopeWindow *second;

  g_assert_nonnull (entry);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.clear-labels", NULL);
  gtk_editable_set_text (GTK_EDITABLE (entry), "a red, shiny apple");
  g_signal_emit_by_name (entry, "activate");
  gtk_editable_set_text (GTK_EDITABLE (entry), "pear\nkiwi, sliced\n");
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (entry)), ==, "");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.add-labels", "s", "fig");
  shown = session_labels (session);
  g_assert_true (g_strv_equal ((const char * const *) shown, want));
  saved = g_settings_get_strv (settings, "labels");
  g_assert_true (g_strv_equal ((const char * const *) saved, want));
  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (window);

  second = g_object_ref_sink (clipscope_window_new (NULL));
  restored = session_labels (clipscope_window_get_session (second));
  g_assert_true (g_strv_equal ((const char * const *) restored, want));

  /* --label "x, y" is one label too, and is not saved... */
  clipscope_window_set_labels (second, (const char *[]) { "black, white", NULL });
  g_strfreev (restored);
  restored = session_labels (clipscope_window_get_session (second));
  g_assert_cmpuint (g_strv_length (restored), ==, 1);
  g_assert_cmpstr (restored[0], ==, "black, white");
  g_strfreev (saved);
  saved = g_settings_get_strv (settings, "labels");
  g_assert_true (g_strv_equal ((const char * const *) saved, want));

  /* ...until the list is edited in the window: then what shows is kept. */
  gtk_widget_activate_action (GTK_WIDGET (second), "win.add-labels", "s", "owl");
  g_strfreev (saved);
  saved = g_settings_get_strv (settings, "labels");
  g_assert_true (g_strv_equal ((const char * const *) saved, (const char *[]) { "black, white", "owl", NULL }));
  gtk_window_destroy (GTK_WINDOW (second));
  g_assert_finalize_object (second);
  g_settings_reset (settings, "labels");
}

/* Each destructive action can be undone, most recent first. */
static void
test_window_undo (void)
{
  static const char *three[] = { "cat", "dog", "red car", NULL };
  static const char *two[] = { "cat", "red car", NULL };
  ClipscopeWindow *window = g_object_ref_sink (clipscope_window_new (NULL));
  ClipscopeSession *session = clipscope_window_get_session (window);
  GListModel *images = clipscope_session_get_images (session);
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);
  g_auto(GStrv) labels_now = NULL;
  g_autoptr(GSettings) settings = clipscope_settings_new ();

  gtk_window_present (GTK_WINDOW (window));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.clear-labels", NULL);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.add-labels", "s", "cat\ndog\nred car");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.load-model", "s", model_dir);
  for (int i = 0; i < N_IMAGES; i++)
    g_ptr_array_add (files, g_file_new_for_path (image_paths[i]));
  clipscope_session_add_files (session, (GFile **) files->pdata, files->len);
  wait_idle (session);

  /* A label's remove button, then Clear; undone in turn. */
  {
    int dog[] = { 1 };

    drop_examples (window, "dog", dog, 1);
  }
  g_signal_emit_by_name (find_label_row (GTK_WIDGET (window), "dog"), "remove");
  labels_now = session_labels (session);
  g_assert_true (g_strv_equal ((const char * const *) labels_now, two));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.clear-labels", NULL);
  g_strfreev (labels_now);
  labels_now = session_labels (session);
  g_assert_cmpuint (g_strv_length (labels_now), ==, 0);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.undo", NULL);
  g_strfreev (labels_now);
  labels_now = session_labels (session);
  g_assert_true (g_strv_equal ((const char * const *) labels_now, two));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.undo", NULL);
  g_strfreev (labels_now);
  labels_now = session_labels (session);
  g_assert_true (g_strv_equal ((const char * const *) labels_now, three));
  wait_idle (session);
  {
    g_auto(GStrv) examples = clipscope_session_dup_examples (session, "dog");

    g_assert_cmpuint (g_strv_length (examples), ==, 1);
    g_assert_cmpstr (examples[0], ==, image_paths[1]);
  }

  /* A preset that replaces the templates gives the old ones back. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.clear-templates", NULL);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.add-template", "s", "a drawing of the {}");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.add-template", "s", "itap of a {}.");
  {
    g_autoptr(ClipscopeTemplate) t = g_list_model_get_item (clipscope_session_get_templates (session), 1);

    clipscope_template_set_enabled (t, FALSE);
  }
  gtk_widget_activate_action (GTK_WIDGET (window), "win.template-preset", "s", "imagenet");
  g_assert_cmpuint (g_list_model_get_n_items (clipscope_session_get_templates (session)), ==, 80);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.undo", NULL);
  g_assert_cmpuint (g_list_model_get_n_items (clipscope_session_get_templates (session)), ==, 2);
  {
    g_autoptr(ClipscopeTemplate) a = g_list_model_get_item (clipscope_session_get_templates (session), 0);
    g_autoptr(ClipscopeTemplate) b = g_list_model_get_item (clipscope_session_get_templates (session), 1);

    g_assert_cmpstr (clipscope_template_get_text (a), ==, "a drawing of the {}");
    g_assert_true (clipscope_template_get_enabled (a));
    g_assert_cmpstr (clipscope_template_get_text (b), ==, "itap of a {}.");
    g_assert_false (clipscope_template_get_enabled (b));
  }

  /* Delete on a selected image; Undo brings its file back. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.select-image", "i", 2);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.remove-selected", NULL);
  wait_idle (session);
  g_assert_cmpuint (g_list_model_get_n_items (images), ==, N_IMAGES - 1);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.undo", NULL);
  wait_idle (session);
  g_assert_cmpuint (g_list_model_get_n_items (images), ==, N_IMAGES);
  {
    g_autoptr(ClipscopeImage) back = g_list_model_get_item (images, N_IMAGES - 1);

    g_assert_cmpstr (clipscope_image_get_path (back), ==, image_paths[2]);
  }

  /* Undoing past the oldest record does nothing more. */
  for (int i = 0; i < 30; i++)
    gtk_widget_activate_action (GTK_WIDGET (window), "win.undo", NULL);
  g_assert_cmpuint (g_list_model_get_n_items (images), ==, N_IMAGES);

  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (window);
  g_settings_reset (settings, "labels");
  g_settings_reset (settings, "templates");
  g_settings_reset (settings, "label-examples");
}

/* ------------------------------------------------------------ adaptive */

static void
find_flaps (GtkWidget *widget,
            GPtrArray *flaps)
{
  if (ADW_IS_FLAP (widget))
    g_ptr_array_add (flaps, widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    find_flaps (child, flaps);
}

static void
resize_and_settle (ClipscopeWindow *window,
                   int              width,
                   int              height)
{
  gtk_window_set_default_size (GTK_WINDOW (window), width, height);
  /* Without a window manager the frame's shadow comes off the size. */
  for (int i = 0; i < 100 && ABS (gtk_widget_get_width (GTK_WIDGET (window)) - width) > 20; i++)
    wait_ms (20);
  wait_ms (200);
  g_assert_cmpint (ABS (gtk_widget_get_width (GTK_WIDGET (window)) - width), <=, 20);
}

static GtkWidget *find_widget (GtkWidget  *root,
                               GType       type,
                               GMenuModel *menu);

/* The bar reads "Encoding labels… done/total" while many templates
 * encode; an edit starts it again for the new texts, Cancel hides it. */
static gboolean
no_label_progress_yet (gpointer session)
{
  guint texts_done;

  clipscope_session_get_progress_counts (session, NULL, NULL, &texts_done, NULL);
  return texts_done == 0;
}

static void
assert_label_progress_shown (ClipscopeWindow *window,
                             GtkProgressBar  *bar,
                             guint            n_labels)
{
  ClipscopeSession *session = clipscope_window_get_session (window);
  g_auto(GStrv) enabled = clipscope_session_dup_enabled_templates (session);
  g_autofree char *text = NULL;
  guint texts_done, texts_total;

  clipscope_session_get_progress_counts (session, NULL, NULL, &texts_done, &texts_total);
  g_assert_cmpuint (texts_total, ==, n_labels * g_strv_length (enabled));
  g_assert_cmpuint (texts_done, <, texts_total);
  text = g_strdup_printf ("Encoding labels… %u/%u", texts_done, texts_total);
  g_assert_cmpstr (gtk_progress_bar_get_text (bar), ==, text);
  g_assert_cmpfloat (gtk_progress_bar_get_fraction (bar), ==, (double) texts_done / texts_total);
  g_assert_true (gtk_revealer_get_reveal_child (GTK_REVEALER (gtk_widget_get_ancestor (GTK_WIDGET (bar),
                                                                                     GTK_TYPE_REVEALER))));
}

/* 80 more templates: the labels then encode in several chunks. */
static void
add_many_templates (ClipscopeSession *session)
{
  for (int i = 0; i < 80; i++)
    {
      g_autofree char *t = g_strdup_printf ("a picture, number %d, of the {}", i);

      clipscope_session_add_template (session, t, TRUE);
    }
}

static void
test_window_label_progress (void)
{
  g_autoptr(GSettings) settings = clipscope_settings_new ();
  ClipscopeWindow *window = g_object_ref_sink (clipscope_window_new (NULL));
  ClipscopeSession *session = clipscope_window_get_session (window);
  GtkProgressBar *bar;
  GtkRevealer *revealer;
  guint n_templates, jobs, n_images, n_labels;

  show_scored_window (window, 1200, 800);
  bar = GTK_PROGRESS_BAR (find_widget (GTK_WIDGET (window), GTK_TYPE_PROGRESS_BAR, NULL));
  revealer = GTK_REVEALER (gtk_widget_get_ancestor (GTK_WIDGET (bar), GTK_TYPE_REVEALER));
  g_assert_false (gtk_revealer_get_reveal_child (revealer));

  /* 80 templates for 4 labels: 320 texts, several chunks. */
  add_many_templates (session);
  clipscope_session_flush (session);
  assert_label_progress_shown (window, bar, 4);
  g_assert_true (no_label_progress_yet (session));
  wait_while (no_label_progress_yet, session);
  assert_label_progress_shown (window, bar, 4);
  save_shot (window, "test-label-progress.png");

  /* A new label supersedes the job: the count starts again, for five. */
  jobs = clipscope_session_get_n_label_jobs (session);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.add-labels", "s", "owl");
  clipscope_session_flush (session);
  g_assert_cmpuint (clipscope_session_get_n_label_jobs (session), ==, jobs + 1);
  assert_label_progress_shown (window, bar, 5);
  wait_while (no_label_progress_yet, session);
  assert_label_progress_shown (window, bar, 5);

  /* Cancel stops it after the chunk in flight; the matrix stays that of
   * the last job that finished, with four labels. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.cancel", NULL);
  g_assert_false (gtk_revealer_get_reveal_child (revealer));
  wait_idle (session);
  g_assert_false (gtk_revealer_get_reveal_child (revealer));
  g_assert_true (clipscope_session_get_scores (session, &n_images, &n_labels, NULL, NULL));
  g_assert_cmpuint (n_labels, ==, 4);

  /* Left alone, the job runs to the end and the bar goes. */
  n_templates = g_list_model_get_n_items (clipscope_session_get_templates (session));
  clipscope_session_remove_template (session, n_templates - 1);
  clipscope_session_flush (session);
  assert_label_progress_shown (window, bar, 5);
  wait_idle (session);
  g_assert_false (gtk_revealer_get_reveal_child (revealer));
  g_assert_true (clipscope_session_get_scores (session, &n_images, &n_labels, NULL, NULL));
  g_assert_cmpuint (n_images, ==, N_IMAGES);
  g_assert_cmpuint (n_labels, ==, 5);

  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (window);
  g_settings_reset (settings, "labels");
  g_settings_reset (settings, "templates");
}

/* The texts of the visible labels under @widget, one a line: those
 * mapped, or also those of a page not shown. */
static void
collect_texts (GtkWidget *widget,
               gboolean   mapped_only,
               GString   *texts)
{
  if (!gtk_widget_get_visible (widget) || (mapped_only && !gtk_widget_get_mapped (widget)))
    return;
  if (GTK_IS_LABEL (widget))
    g_string_append_printf (texts, "%s\n", gtk_label_get_text (GTK_LABEL (widget)));
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    collect_texts (child, mapped_only, texts);
}

/* What the window shows of the label state, as the person sees it, and
 * what the template contributions (in the details pane) say. */
static char *
shown_label_state (ClipscopeWindow *window)
{
  GString *texts = g_string_new (NULL);

  collect_texts (GTK_WIDGET (window), TRUE, texts);
  collect_texts (find_widget (GTK_WIDGET (window), CLIPSCOPE_TYPE_TEMPLATE_CONTRIBUTIONS, NULL), FALSE, texts);
  return g_string_free (texts, FALSE);
}

static void
assert_labels_encoding_shown (ClipscopeWindow *window)
{
  g_autofree char *texts = shown_label_state (window);

  g_assert_true (clipscope_session_get_labels_encoding (clipscope_window_get_session (window)));
  g_assert_null (strstr (texts, "\nAdd a label to "));
  g_assert_null (strstr (texts, "\nAdd labels to "));
  g_assert_null (strstr (texts, "(None)"));
  /* The explain panel's caption and the contributions' summary. */
  g_assert_nonnull (strstr (texts, "\nEncoding the labels…\n"));
  g_assert_nonnull (strstr (strstr (texts, "\nEncoding the labels…\n") + 1, "\nEncoding the labels…\n"));
}

/* While the labels of a new list encode, the window says so: the side
 * panel neither asks for labels nor offers an empty choice of them. */
static void
test_window_labels_encoding (void)
{
  g_autoptr(GSettings) settings = clipscope_settings_new ();
  ClipscopeWindow *window = g_object_ref_sink (clipscope_window_new (NULL));
  ClipscopeSession *session = clipscope_window_get_session (window);
  GtkWidget *dropdown;
  guint n_images, n_labels;

  show_scored_window (window, 1400, 850);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.select-image", "i", 1);
  dropdown = find_widget (find_widget (GTK_WIDGET (window), CLIPSCOPE_TYPE_EXPLAIN_PANEL, NULL),
                          GTK_TYPE_DROP_DOWN, NULL);
  g_assert_true (gtk_widget_get_mapped (dropdown));
  add_many_templates (session);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.clear-labels", NULL);
  clipscope_session_flush (session);
  wait_idle (session);
  g_assert_false (clipscope_session_get_scores (session, &n_images, &n_labels, NULL, NULL));
  g_assert_false (clipscope_session_get_labels_encoding (session));
  /* No labels: the panel asks for one, with no empty choice. */
  {
    g_autofree char *texts = shown_label_state (window);

    g_assert_nonnull (strstr (texts, "\nAdd a label to see where it is in the image\n"));
    g_assert_false (gtk_widget_get_visible (dropdown));
  }
  save_shot (window, "test-labels-none.png");

  /* Labels typed: encoding while the typing settles, and while the job
   * runs, chunk after chunk. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.add-labels", "s", "cat\ndog\nred car\ntree");
  assert_labels_encoding_shown (window);
  clipscope_session_flush (session);
  assert_labels_encoding_shown (window);
  wait_while (no_label_progress_yet, session);
  assert_labels_encoding_shown (window);
  save_shot (window, "test-labels-encoding.png");

  wait_idle (session);
  g_assert_false (clipscope_session_get_labels_encoding (session));
  g_assert_true (clipscope_session_get_scores (session, &n_images, &n_labels, NULL, NULL));
  g_assert_cmpuint (n_labels, ==, 4);
  g_assert_true (gtk_widget_get_mapped (dropdown));
  {
    g_autofree char *texts = shown_label_state (window);

    g_assert_null (strstr (texts, "\nEncoding the labels…\n"));
    g_assert_null (strstr (texts, "\nAdd a label to "));
  }

  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (window);
  g_settings_reset (settings, "labels");
  g_settings_reset (settings, "templates");
}

/* The top of each thumbnail shown in the strip, relative to the strip;
 * returns how many there are. */
static guint
thumbnail_tops (GtkWidget *grid,
                GArray    *tops)
{
  for (GtkWidget *child = gtk_widget_get_first_child (grid); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      graphene_rect_t bounds;

      if (gtk_widget_get_mapped (child) && GTK_IS_WIDGET (gtk_widget_get_first_child (child))
          && gtk_widget_compute_bounds (child, grid, &bounds))
        g_array_append_val (tops, bounds.origin.y);
    }
  return tops->len;
}

/* Sixty images stay one row of thumbnails, which scrolls sideways; the
 * strip and the heatmap bring each other's selected image into view. */
static void
test_window_thumbnail_strip (void)
{
  ClipscopeWindow *window = g_object_ref_sink (clipscope_window_new (NULL));
  ClipscopeSession *session = clipscope_window_get_session (window);
  ClipscopeHeatmapView *heatmap = CLIPSCOPE_HEATMAP_VIEW (clipscope_window_get_heatmap (window));
  GtkAdjustment *rows = gtk_scrolled_window_get_vadjustment (
    GTK_SCROLLED_WINDOW (gtk_widget_get_ancestor (GTK_WIDGET (heatmap), GTK_TYPE_SCROLLED_WINDOW)));
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GArray) tops = g_array_new (FALSE, FALSE, sizeof (float));
  GtkWidget *grid, *strip;
  GtkAdjustment *sideways;
  int height;

  show_scored_window (window, 1200, 800);
  wait_thumbnails (session);
  grid = find_widget (GTK_WIDGET (window), GTK_TYPE_GRID_VIEW, NULL);
  strip = gtk_widget_get_ancestor (grid, GTK_TYPE_SCROLLED_WINDOW);
  sideways = gtk_scrolled_window_get_hadjustment (GTK_SCROLLED_WINDOW (strip));
  /* The strip shows once its thumbnails are in, a frame or more later. */
  WAIT_FOR (gtk_widget_get_height (strip) >= 72);
  height = gtk_widget_get_height (strip);
  g_assert_cmpint (height, >=, 72);

  for (int i = 0; i < 60 - N_IMAGES; i++)
    {
      g_autofree char *name = g_strdup_printf ("strip-%02d.png", i);
      g_autofree char *path = g_build_filename (scratch_dir, name, NULL);

      write_image (path, i % 7);
      g_ptr_array_add (files, g_file_new_for_path (path));
    }
  clipscope_session_add_files (session, (GFile **) files->pdata, files->len);
  wait_idle (session);
  wait_thumbnails (session);
  wait_ms (300);
  g_assert_cmpuint (g_list_model_get_n_items (clipscope_session_get_images (session)), ==, 60);

  /* One row, as high as with four images, wider than the window. */
  g_assert_cmpint (gtk_widget_get_height (strip), ==, height);
  g_assert_cmpuint (thumbnail_tops (grid, tops), >=, 5);
  for (guint i = 1; i < tops->len; i++)
    g_assert_cmpfloat (g_array_index (tops, float, i), ==, g_array_index (tops, float, 0));
  g_assert_cmpfloat (gtk_adjustment_get_upper (sideways), >, 2 * gtk_adjustment_get_page_size (sideways));

  /* Choosing a thumbnail (as the arrow keys do) selects its heatmap row
   * and scrolls the matrix down to it. */
  g_assert_true (gtk_widget_activate_action (grid, "list.select-item", "(ubb)", 57, FALSE, FALSE));
  g_assert_cmpint (clipscope_heatmap_view_get_selected (heatmap), ==, 57);
  g_assert_cmpfloat (gtk_adjustment_get_value (rows), >, 0);
  g_assert_cmpfloat (gtk_adjustment_get_value (rows) + gtk_adjustment_get_page_size (rows), >,
                     gtk_adjustment_get_upper (rows) * 0.8);

  /* A row chosen in the heatmap brings its thumbnail into view. */
  gtk_adjustment_set_value (sideways, 0);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.select-image", "i", 59);
  for (int i = 0; i < 50 && gtk_adjustment_get_value (sideways) == 0; i++)
    wait_ms (20);
  g_assert_cmpfloat (gtk_adjustment_get_value (sideways), >, 0);
  save_shot (window, "test-strip-60.png");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.select-image", "i", 0);
  for (int i = 0; i < 50 && gtk_adjustment_get_value (sideways) > 0; i++)
    wait_ms (20);
  g_assert_cmpfloat (gtk_adjustment_get_value (sideways), ==, 0);
  g_assert_cmpint (gtk_widget_get_height (strip), ==, height);

  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (window);
}

/* Down to 360 px the side panes fold away, over the matrix when shown,
 * and the matrix keeps the width; wide, both stand beside it. */
static void
test_window_adaptive (void)
{
  ClipscopeWindow *window = g_object_ref_sink (clipscope_window_new (NULL));
  ClipscopeSession *session = clipscope_window_get_session (window);
  GtkWidget *heatmap = clipscope_window_get_heatmap (window);
  GtkWidget *scrolled = gtk_widget_get_ancestor (heatmap, GTK_TYPE_SCROLLED_WINDOW);
  g_autoptr(GPtrArray) flaps = g_ptr_array_new ();
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);
  AdwFlap *sidebar, *details;
  GtkWidget *strip;
  int minimum, wide_strip;

  /* GNOME's own title bar buttons (Xvfb without a desktop falls back to
   * minimize, maximize and close). */
  g_object_set (gtk_settings_get_default (), "gtk-decoration-layout", "appmenu:close", NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1400, 800);
  gtk_window_present (GTK_WINDOW (window));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.clear-labels", NULL);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.add-labels", "s",
                              "cat\ndog\nred car\ntree\na label long enough to be cut short in the sidebar list");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.load-model", "s", model_dir);
  for (int i = 0; i < N_IMAGES; i++)
    g_ptr_array_add (files, g_file_new_for_path (image_paths[i]));
  clipscope_session_add_files (session, (GFile **) files->pdata, files->len);
  wait_idle (session);
  /* The strip's height follows its thumbnails. */
  wait_thumbnails (session);
  find_flaps (GTK_WIDGET (window), flaps);
  g_assert_cmpuint (flaps->len, ==, 2);
  sidebar = g_ptr_array_index (flaps, 0);
  details = g_ptr_array_index (flaps, 1);
  g_assert_cmpint (adw_flap_get_flap_position (details), ==, GTK_PACK_END);

  resize_and_settle (window, 1400, 800);
  save_shot (window, "test-wide.png");
  g_assert_false (adw_flap_get_folded (sidebar));
  g_assert_false (adw_flap_get_folded (details));
  g_assert_true (adw_flap_get_reveal_flap (sidebar));
  g_assert_true (adw_flap_get_reveal_flap (details));
  /* A long label is cut short, not a reason to widen the sidebar. */
  g_assert_cmpint (gtk_widget_get_width (adw_flap_get_flap (sidebar)), <, 400);
  strip = gtk_widget_get_ancestor (find_widget (GTK_WIDGET (window), GTK_TYPE_GRID_VIEW, NULL),
                                   GTK_TYPE_SCROLLED_WINDOW);
  wide_strip = gtk_widget_get_height (strip);
  g_assert_cmpint (wide_strip, >=, 72);

  gtk_widget_measure (GTK_WIDGET (window), GTK_ORIENTATION_HORIZONTAL, -1, &minimum, NULL, NULL, NULL);
  g_assert_cmpint (minimum, <=, 360);
  /* Wide, the view switcher sits in the title; narrow, in a bar below. */
  g_assert_false (adw_view_switcher_bar_get_reveal (ADW_VIEW_SWITCHER_BAR (
    find_widget (GTK_WIDGET (window), ADW_TYPE_VIEW_SWITCHER_BAR, NULL))));
  resize_and_settle (window, 360, 640);
  save_shot (window, "test-360.png");
  {
    GtkWidget *bar = find_widget (GTK_WIDGET (window), ADW_TYPE_VIEW_SWITCHER_BAR, NULL);

    WAIT_FOR (gtk_widget_get_mapped (bar) && gtk_widget_get_height (bar) > 0);
    g_assert_true (adw_view_switcher_bar_get_reveal (ADW_VIEW_SWITCHER_BAR (bar)));
    g_assert_true (gtk_widget_get_mapped (bar));
    g_assert_cmpint (gtk_widget_get_height (bar), >, 0);
  }
  g_assert_true (adw_flap_get_folded (sidebar));
  g_assert_true (adw_flap_get_folded (details));
  g_assert_false (adw_flap_get_reveal_flap (sidebar));
  g_assert_false (adw_flap_get_reveal_flap (details));
  g_assert_cmpint (gtk_widget_get_width (scrolled), >=, 300);
  /* The thumbnail strip shrinks with the window, leaving the matrix room. */
  WAIT_FOR (gtk_widget_get_height (strip) < wide_strip);
  g_assert_cmpint (gtk_widget_get_height (strip), <, wide_strip);
  g_assert_cmpint (gtk_widget_get_height (strip), >=, 48);

  /* F9's action shows the labels over the matrix, and hides them. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.toggle-sidebar", NULL);
  g_assert_true (adw_flap_get_reveal_flap (sidebar));
  wait_ms (400);
  save_shot (window, "test-360-sidebar.png");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.toggle-sidebar", NULL);
  g_assert_false (adw_flap_get_reveal_flap (sidebar));

  /* Enter on a cell shows its explanation, in the folded details pane. */
  g_assert_true (clipscope_heatmap_view_set_cursor (CLIPSCOPE_HEATMAP_VIEW (heatmap), 1, 1));
  g_signal_emit_by_name (heatmap, "cell-activated", 1, 1);
  g_assert_true (adw_flap_get_reveal_flap (details));
  wait_ms (400);
  save_shot (window, "test-360-details.png");

  resize_and_settle (window, 1400, 800);
  g_assert_false (adw_flap_get_folded (sidebar));
  g_assert_true (adw_flap_get_reveal_flap (sidebar));

  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (window);
  gtk_settings_reset_property (gtk_settings_get_default (), "gtk-decoration-layout");
}

/* The dry run names a destination per image without writing anything;
 * the real run copies into one folder per top label. */
static void
test_window_sort (void)
{
  g_autoptr(GPtrArray) notices = g_ptr_array_new_with_free_func (g_free);
  ClipscopeSession *session = loaded_session (notices);
  g_autofree char *into = g_build_filename (workdir, "sorted", NULL);
  const char * const *scored = clipscope_session_get_scored_labels (session);
  const char * const *destinations;
  ClipscopeSortDialog *dialog;
  guint n_images, n_unclassified;
  const int *top;

  clipscope_session_set_use_threshold (session, TRUE);
  clipscope_session_set_threshold (session, -1.0);
  wait_idle (session);
  top = clipscope_session_get_top (session, &n_images, &n_unclassified);
  g_assert_cmpuint (n_unclassified, ==, 0);

  dialog = CLIPSCOPE_SORT_DIALOG (clipscope_sort_dialog_new (NULL, session));
  g_object_ref_sink (dialog);
  gtk_window_present (GTK_WINDOW (dialog));
  clipscope_sort_dialog_set_folder (dialog, into);
  while (clipscope_sort_dialog_get_busy (dialog))
    g_main_context_iteration (NULL, TRUE);
  destinations = clipscope_sort_dialog_get_destinations (dialog);
  g_assert_null (clipscope_sort_dialog_get_error (dialog));
  g_assert_cmpuint (g_strv_length ((char **) destinations), ==, N_IMAGES);
  for (int i = 0; i < N_IMAGES; i++)
    {
      g_autofree char *name = g_path_get_basename (image_paths[i]);
      g_autofree char *want = g_build_filename (into, scored[top[i]], name, NULL);

      g_assert_cmpstr (destinations[i], ==, want);
    }
  g_assert_false (g_file_test (into, G_FILE_TEST_EXISTS));
  if (g_getenv ("CLIPSCOPE_SHOTS_DIR") != NULL)
    {
      g_autofree char *path = g_build_filename (g_getenv ("CLIPSCOPE_SHOTS_DIR"), "test-sort.png", NULL);
      g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (GTK_WIDGET (dialog));
      g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
      g_autoptr(GskRenderNode) node = NULL;
      g_autoptr(GdkTexture) texture = NULL;
      int w, h;

      wait_ms (300);
      w = gtk_widget_get_width (GTK_WIDGET (dialog));
      h = gtk_widget_get_height (GTK_WIDGET (dialog));
      gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), w, h);
      node = gtk_snapshot_to_node (snapshot);
      texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (dialog)), node,
                                             &GRAPHENE_RECT_INIT (0, 0, w, h));
      gdk_texture_save_to_png (texture, path);
    }

  clipscope_sort_dialog_sort (dialog);
  while (clipscope_sort_dialog_get_busy (dialog))
    g_main_context_iteration (NULL, TRUE);
  g_assert_null (clipscope_sort_dialog_get_error (dialog));
  for (int i = 0; i < N_IMAGES; i++)
    {
      g_autofree char *name = g_path_get_basename (image_paths[i]);
      g_autofree char *copy = g_build_filename (into, scored[top[i]], name, NULL);
      g_autofree char *a = NULL, *b = NULL;
      gsize la, lb;

      g_assert_true (g_file_get_contents (copy, &a, &la, NULL));
      g_assert_true (g_file_get_contents (image_paths[i], &b, &lb, NULL));
      g_assert_cmpmem (a, la, b, lb);
      g_assert_false (g_file_test (copy, G_FILE_TEST_IS_SYMLINK));
    }
  gtk_window_destroy (GTK_WINDOW (dialog));
  g_assert_finalize_object (dialog);
  remove_tree (into);
  g_assert_finalize_object (session);
}

/* ------------------------------------------------------------ compare */

/* Each image's top label as the engine alone gives it with @dir's model,
 * the templates of this file and zero-shot scoring. */
static char *second_dir;

static GStrv
engine_tops (const char         *dir,
             const char * const *names,
             const char * const *paths)
{
  ClipscopeContextOptions options = clipscope_context_options_default ();
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(ClipscopeModel) model = NULL;
  g_autoptr(ClipscopeContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree float *images = NULL;
  g_autofree float *text = NULL;
  g_autofree float *sim = NULL;
  int n_images = g_strv_length ((char **) paths);
  int n_labels = g_strv_length ((char **) names);
  int dim;

  model = clipscope_model_load (dir, NULL, NULL, &error);
  g_assert_no_error (error);
  options.backend = CLIPSCOPE_BACKEND_CPU;
  ctx = clipscope_context_new (model, &options, &error);
  g_assert_no_error (error);
  dim = clipscope_model_get_info (model)->embed_dim;
  images = g_new (float, (gsize) n_images * dim);
  text = g_new (float, (gsize) n_labels * dim);
  sim = g_new (float, (gsize) n_images * n_labels);
  g_assert_true (clipscope_context_encode_image_files (ctx, paths, n_images, images, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (clipscope_context_encode_labels (ctx, names, n_labels, templates,
                                                  g_strv_length ((char **) templates), text, NULL, &error));
  g_assert_no_error (error);
  clipscope_score (images, n_images, text, n_labels, dim, clipscope_model_get_info (model)->logit_scale,
                   sim, NULL);
  for (int i = 0; i < n_images; i++)
    {
      int best = 0;

      for (int j = 1; j < n_labels; j++)
        if (sim[i * n_labels + j] > sim[i * n_labels + best])
          best = j;
      g_strv_builder_add (builder, names[best]);
    }
  return g_strv_builder_end (builder);
}

static void
wait_compare (ClipscopeCompareWindow *compare)
{
  wait_while ((gboolean (*) (gpointer)) clipscope_compare_window_get_busy, compare);
}

/* Every row's mark says whether the two engines' tops agree, and the
 * summary counts them; returns how many rows agree. */
static guint
assert_agreement (ClipscopeCompareWindow *compare,
                  const char * const     *names,
                  const char * const     *paths)
{
  g_auto(GStrv) tops_a = engine_tops (model_dir, names, paths);
  g_auto(GStrv) tops_b = engine_tops (second_dir, names, paths);
  g_autofree char *summary = NULL;
  guint n = g_strv_length ((char **) paths);
  guint n_agree = 0;

  for (guint i = 0; i < n; i++)
    {
      gboolean agree = g_strcmp0 (tops_a[i], tops_b[i]) == 0;

      g_assert_cmpstr (clipscope_compare_window_get_mark (compare, i), ==, agree ? "✓" : "✗");
      n_agree += agree;
    }
  g_assert_null (clipscope_compare_window_get_mark (compare, n));
  summary = g_strdup_printf ("Agree on %u of %u images", n_agree, n);
  g_assert_cmpstr (clipscope_compare_window_get_summary (compare), ==, summary);
  return n_agree;
}

static void
test_window_compare (void)
{
  ClipscopeWindow *window = clipscope_window_new (NULL);
  ClipscopeSession *session = clipscope_window_get_session (window);
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *missing = g_build_filename (workdir, "no-such-model", NULL);
  const char *names[] = { "cat", "dog", "red car", "tree", NULL };
  const char *fewer[] = { "cat", "dog", "red car", NULL };
  const char *paths[N_IMAGES + 1] = { NULL };
  ClipscopeCompareWindow *compare;
  ClipscopeSession *second;
  guint n_agree;

  g_object_ref_sink (window);
  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 800);
  gtk_window_present (GTK_WINDOW (window));
  clipscope_window_set_labels (window, names);
  clipscope_window_set_templates (window, templates);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.load-model", "s", model_dir);
  for (int i = 0; i < N_IMAGES; i++)
    {
      paths[i] = image_paths[i];
      g_ptr_array_add (files, g_file_new_for_path (image_paths[i]));
    }
  clipscope_session_add_files (session, (GFile **) files->pdata, files->len);
  wait_idle (session);

  /* Of the seeds, 2 agrees with 0 on one image of four. */
  second_dir = g_build_filename (workdir, "second-model", NULL);
  make_tiny_model (second_dir, "hf", "2");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.compare-with", "s", second_dir);
  compare = clipscope_compare_window_open (GTK_WINDOW (window), session);
  g_object_add_weak_pointer (G_OBJECT (compare), (gpointer *) &compare);
  second = clipscope_compare_window_get_session (compare);
  g_assert_true (second != session);
  wait_compare (compare);
  g_assert_null (clipscope_compare_window_get_error (compare));
  g_assert_true (clipscope_models_same_folder (clipscope_session_get_model_path (second), second_dir));
  g_assert_cmpuint (g_list_model_get_n_items (clipscope_session_get_images (second)), ==, N_IMAGES);
  n_agree = assert_agreement (compare, names, paths);
  /* Both marks are checked. */
  g_assert_cmpuint (n_agree, >, 0);
  g_assert_cmpuint (n_agree, <, N_IMAGES);
  if (g_getenv ("CLIPSCOPE_SHOTS_DIR") != NULL)
    wait_ms (300);

  /* The comparison follows the window: a label and an image taken out. */
  clipscope_session_set_label (session, 3, "");
  clipscope_session_remove_image (session, 0);
  wait_compare (compare);
  assert_agreement (compare, fewer, paths + 1);

  /* A folder that is not a model leaves the second model in use and says
   * what the engine says. */
  clipscope_compare_window_load_model (compare, missing);
  wait_compare (compare);
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(ClipscopeModel) model = clipscope_model_load (missing, NULL, NULL, &error);

    g_assert_null (model);
    g_assert_nonnull (error);
    g_assert_cmpstr (clipscope_compare_window_get_error (compare), ==, error->message);
  }
  g_assert_true (clipscope_models_same_folder (clipscope_session_get_model_path (second), second_dir));
  assert_agreement (compare, fewer, paths + 1);

  /* The comparison closes with its window. */
  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (window);
  g_assert_null (compare);
  g_clear_pointer (&second_dir, g_free);
}

/* ------------------------------------------------------------ preferences */

/* Every row binds to a key of the schema; a type that cannot be mapped
 * would be a critical warning, fatal in this suite. */
/* ------------------------------------------------------------ search */

static gboolean
search_busy (gpointer view)
{
  return clipscope_search_view_get_busy (view);
}

static JsonArray *
run_search (JsonParser         *parser,
            const char         *query,
            const char * const *search_templates)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  JsonObject *result;

  g_ptr_array_add (argv, (char *) g_getenv ("CLIPSCOPE_CLI"));
  g_ptr_array_add (argv, (char *) "search");
  g_ptr_array_add (argv, (char *) "--model");
  g_ptr_array_add (argv, model_dir);
  g_ptr_array_add (argv, (char *) "--top");
  g_ptr_array_add (argv, (char *) "0");
  for (const char * const *t = search_templates; t != NULL && *t != NULL; t++)
    {
      g_ptr_array_add (argv, (char *) "--template");
      g_ptr_array_add (argv, (char *) *t);
    }
  g_ptr_array_add (argv, (char *) "--");
  g_ptr_array_add (argv, (char *) query);
  g_ptr_array_add (argv, NULL);
  result = run_cli (argv, parser);
  return json_object_get_array_member (result, "results");
}

/* An index made by `clipscope index`, searched as typed and by example,
 * ranked as the command line ranks it; a result added to Classify; a
 * folder added from the window indexed on its thread. */
static void
test_window_search (void)
{
  ClipscopeWindow *window = clipscope_window_new (NULL);
  ClipscopeSession *session = clipscope_window_get_session (window);
  ClipscopeSearchView *view = CLIPSCOPE_SEARCH_VIEW (clipscope_window_get_search_view (window));
  GListModel *results = clipscope_search_view_get_results (view);
  g_autofree char *photos = g_build_filename (workdir, "photos", NULL);
  g_autofree char *later = g_build_filename (workdir, "photos-later", NULL);
  g_autofree char *extra = g_build_filename (later, "extra.png", NULL);
  g_autofree char *first = g_build_filename (photos, "photo-0.png", NULL);
  g_autoptr(GFile) later_file = g_file_new_for_path (later);
  g_autoptr(GFile) first_file = g_file_new_for_path (first);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(JsonParser) search_parser = json_parser_new ();
  g_auto(GStrv) enabled = NULL;
  JsonArray *expected;
  guint n_images;

  g_assert_cmpint (g_mkdir_with_parents (photos, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (later, 0700), ==, 0);
  for (int i = 0; i < N_IMAGES; i++)
    {
      g_autofree char *name = g_strdup_printf ("photo-%d.png", i);
      g_autofree char *path = g_build_filename (photos, name, NULL);

      write_image (path, i + 5);
    }
  write_image (extra, 9);
  g_ptr_array_add (argv, (char *) g_getenv ("CLIPSCOPE_CLI"));
  g_ptr_array_add (argv, (char *) "index");
  g_ptr_array_add (argv, (char *) "--model");
  g_ptr_array_add (argv, model_dir);
  g_ptr_array_add (argv, photos);
  g_ptr_array_add (argv, NULL);
  run_cli (argv, parser);

  g_object_ref_sink (window);
  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 800);
  gtk_window_present (GTK_WINDOW (window));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.load-model", "s", model_dir);
  wait_idle (session);

  /* Typed words, through the enabled templates, as `search` ranks them. */
  clipscope_window_show_search (window, "a red car");
  wait_while (search_busy, view);
  enabled = clipscope_session_dup_enabled_templates (session);
  expected = run_search (search_parser, "a red car", (const char * const *) enabled);
  g_assert_cmpuint (g_list_model_get_n_items (results), ==, N_IMAGES);
  g_assert_cmpuint (json_array_get_length (expected), ==, N_IMAGES);
  for (guint i = 0; i < N_IMAGES; i++)
    {
      JsonObject *want = json_array_get_object_element (expected, i);
      g_autoptr(GObject) hit = g_list_model_get_item (results, i);
      ClipscopeImage *image = NULL;
      float score = 0.0f;

      g_object_get (hit, "image", &image, "score", &score, NULL);
      g_assert_cmpstr (clipscope_image_get_path (image), ==, json_object_get_string_member (want, "path"));
      g_assert_cmpfloat_with_epsilon (score, json_object_get_double_member (want, "score"), 1e-5);
      g_object_unref (image);
    }
  save_shot (window, "test-search.png");

  /* A result goes into Classify. */
  n_images = g_list_model_get_n_items (clipscope_session_get_images (session));
  gtk_widget_activate_action (GTK_WIDGET (view), "search.add-to-classify", "s", first);
  wait_idle (session);
  g_assert_cmpuint (g_list_model_get_n_items (clipscope_session_get_images (session)), ==, n_images + 1);

  /* An example image alone finds itself first. */
  clipscope_search_view_set_query (view, "");
  clipscope_search_view_set_example (view, first_file);
  wait_while (search_busy, view);
  {
    g_autoptr(GObject) hit = g_list_model_get_item (results, 0);
    ClipscopeImage *image = NULL;
    float score = 0.0f;

    g_object_get (hit, "image", &image, "score", &score, NULL);
    g_assert_cmpstr (clipscope_image_get_path (image), ==, first);
    g_assert_cmpfloat (score, >, 0.999f);
    g_object_unref (image);
  }

  /* A folder added in the window is indexed, then searched too. */
  clipscope_search_view_add_folders (view, &later_file, 1);
  g_assert_true (clipscope_search_view_get_busy (view));
  wait_while (search_busy, view);
  g_assert_cmpuint (g_list_model_get_n_items (results), ==, N_IMAGES + 1);

  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (window);
}

static void
test_preferences (void)
{
  GtkWidget *prefs = clipscope_preferences_window_new (NULL);

  g_object_ref_sink (prefs);
  gtk_window_present (GTK_WINDOW (prefs));
  wait_ms (100);
  gtk_window_destroy (GTK_WINDOW (prefs));
  g_assert_finalize_object (prefs);
}

static void close_window (gpointer window);

/* The "precision" key reaches the window's context, which names bf16 or
 * int8 in its device once the model is loaded again; the Preferences row
 * follows the key, and cannot be changed where only float32 can run. */
static void
test_preferences_precision (void)
{
  gboolean available = clipscope_precision_available (CLIPSCOPE_PRECISION_BF16);
  gboolean int8 = clipscope_precision_available (CLIPSCOPE_PRECISION_INT8);
  g_autoptr(GSettings) settings = clipscope_settings_new ();
  GtkWidget *prefs = g_object_ref_sink (clipscope_preferences_window_new (NULL));
  AdwComboRow *row = ADW_COMBO_ROW (find_widget (prefs, ADW_TYPE_COMBO_ROW, NULL));
  ClipscopeWindow *window;
  ClipscopeSession *session;
  g_autofree char *chosen = NULL;

  g_assert_nonnull (row);
  g_assert_true (gtk_widget_get_sensitive (GTK_WIDGET (row)) == (available || int8));
  close_window (prefs);
  if (!available)
    {
      g_test_skip ("bfloat16 cannot run here (CPU without AVX512-BF16 or AMX, or no oneDNN)");
      return;
    }

  window = g_object_ref_sink (clipscope_window_new (NULL));
  session = clipscope_window_get_session (window);
  show_scored_window (window, 1200, 800);
  g_assert_null (strstr (clipscope_session_get_device_name (session), "bf16"));

  prefs = g_object_ref_sink (clipscope_preferences_window_new (GTK_WINDOW (window)));
  row = ADW_COMBO_ROW (find_widget (prefs, ADW_TYPE_COMBO_ROW, NULL));
  g_assert_cmpuint (adw_combo_row_get_selected (row), ==, 0);
  adw_combo_row_set_selected (row, 1);
  chosen = g_settings_get_string (settings, "precision");
  g_assert_cmpstr (chosen, ==, "bf16");
  wait_idle (session);
  g_assert_nonnull (strstr (clipscope_session_get_device_name (session), "bf16"));
  g_assert_cmpuint (g_list_model_get_n_items (clipscope_session_get_images (session)), ==, N_IMAGES);
  /* A CPU with bfloat16 instructions has VNNI's too. */
  g_assert_true (int8);
  g_free (chosen);
  adw_combo_row_set_selected (row, 2);
  chosen = g_settings_get_string (settings, "precision");
  g_assert_cmpstr (chosen, ==, "int8");
  wait_idle (session);
  g_assert_nonnull (strstr (clipscope_session_get_device_name (session), "int8"));
  g_assert_cmpuint (g_list_model_get_n_items (clipscope_session_get_images (session)), ==, N_IMAGES);

  g_settings_reset (settings, "precision");
  g_assert_cmpuint (adw_combo_row_get_selected (row), ==, 0);
  wait_idle (session);
  g_assert_null (strstr (clipscope_session_get_device_name (session), "bf16"));
  close_window (prefs);
  close_window (window);
}

/* ------------------------------------------------------------ models */

static ClipscopePreferencesWindow *
open_models_page (ClipscopeWindow      *window,
                  ClipscopeModelsPage **page)
{
  GtkWidget *prefs = clipscope_preferences_window_new (GTK_WINDOW (window));

  g_object_ref_sink (prefs);
  clipscope_preferences_window_show_models (CLIPSCOPE_PREFERENCES_WINDOW (prefs));
  gtk_window_present (GTK_WINDOW (prefs));
  *page = CLIPSCOPE_MODELS_PAGE (adw_preferences_window_get_visible_page (ADW_PREFERENCES_WINDOW (prefs)));
  g_assert_cmpstr (adw_preferences_page_get_name (ADW_PREFERENCES_PAGE (*page)), ==, "models");
  return CLIPSCOPE_PREFERENCES_WINDOW (prefs);
}

static void
close_window (gpointer window)
{
  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (window);
}

/* Runs the main loop until a removal or an addition has finished. */
static void
wait_page (ClipscopeModelsPage *page)
{
  for (int i = 0; i < 3000 && clipscope_models_page_get_busy (page); i++)
    wait_ms (10);
  g_assert_false (clipscope_models_page_get_busy (page));
}

static AdwMessageDialog *
find_message_dialog (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWidget) window = g_list_model_get_item (toplevels, i);

      if (ADW_IS_MESSAGE_DIALOG (window) && gtk_widget_get_visible (window))
        return ADW_MESSAGE_DIALOG (window);
    }
  return NULL;
}

/* Waits for the dialog a step put up, checks that its heading and body
 * hold @heading and @body, and answers it with @response. */
static void
answer_dialog (const char *heading,
               const char *body,
               const char *response)
{
  AdwMessageDialog *dialog = NULL;

  for (int i = 0; i < 500 && (dialog = find_message_dialog ()) == NULL; i++)
    wait_ms (10);
  g_assert_nonnull (dialog);
  g_assert_nonnull (strstr (adw_message_dialog_get_heading (dialog), heading));
  if (body != NULL && strstr (adw_message_dialog_get_body (dialog), body) == NULL)
    g_error ("the dialog says \"%s\", not \"%s\"", adw_message_dialog_get_body (dialog), body);
  /* As a click on a button does: the response, then the dialog closes. */
  adw_message_dialog_response (dialog, response);
  gtk_window_close (GTK_WINDOW (dialog));
  wait_ms (20);
  g_assert_null (find_message_dialog ());
}

/* The first widget of @type under @root, depth first, that @menu (when
 * given) is the menu of. */
static GtkWidget *
find_widget (GtkWidget  *root,
             GType       type,
             GMenuModel *menu)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (root, type)
      && (menu == NULL || gtk_menu_button_get_menu_model (GTK_MENU_BUTTON (root)) == menu))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_widget (child, type, menu);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static GtkMenuButton *
find_model_button (ClipscopeWindow *window)
{
  GtkWidget *button = find_widget (GTK_WIDGET (window), GTK_TYPE_MENU_BUTTON,
                                   clipscope_window_get_model_menu (window));

  g_assert_nonnull (button);
  return GTK_MENU_BUTTON (button);
}

static const char *
group_of (ClipscopeModelRow *row)
{
  GtkWidget *group = gtk_widget_get_ancestor (GTK_WIDGET (row), ADW_TYPE_PREFERENCES_GROUP);

  return group != NULL ? adw_preferences_group_get_title (ADW_PREFERENCES_GROUP (group)) : NULL;
}

static gboolean
menu_has_item (GMenuModel *menu,
               const char *label,
               const char *action,
               const char *target)
{
  for (int i = 0; i < g_menu_model_get_n_items (menu); i++)
    {
      g_autoptr(GMenuModel) section = g_menu_model_get_item_link (menu, i, G_MENU_LINK_SECTION);
      g_autofree char *item_label = NULL;
      g_autofree char *item_action = NULL;
      g_autoptr(GVariant) item_target = NULL;

      if (section != NULL && menu_has_item (section, label, action, target))
        return TRUE;
      g_menu_model_get_item_attribute (menu, i, G_MENU_ATTRIBUTE_LABEL, "s", &item_label);
      g_menu_model_get_item_attribute (menu, i, G_MENU_ATTRIBUTE_ACTION, "s", &item_action);
      item_target = g_menu_model_get_item_attribute_value (menu, i, G_MENU_ATTRIBUTE_TARGET, G_VARIANT_TYPE_STRING);
      if (g_strcmp0 (item_label, label) == 0 && g_strcmp0 (item_action, action) == 0
          && (target == NULL || (item_target != NULL && g_strcmp0 (g_variant_get_string (item_target, NULL), target) == 0)))
        return TRUE;
    }
  return FALSE;
}

/* The page lists the bundled model as installed and every catalogue
 * model as one to download, with its approximate size; the model menu
 * of the window says what the bundled model is. */
static void
test_models_list (void)
{
  ClipscopeWindow *window = g_object_ref_sink (clipscope_window_new (NULL));
  g_autoptr(GPtrArray) entries = clipscope_model_store_list (clipscope_models_get_store ());
  ClipscopeModelsPage *page;
  ClipscopePreferencesWindow *prefs;
  ClipscopeModelRow *row;
  guint n_catalogue = 0;

  gtk_window_present (GTK_WINDOW (window));
  prefs = open_models_page (window, &page);

  row = clipscope_models_page_get_row (page, "emoji-demo");
  g_assert_nonnull (row);
  g_assert_cmpstr (group_of (row), ==, "Installed");
  g_assert_true (clipscope_models_same_folder (clipscope_model_row_get_entry (row)->path, bundled_dir));
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), "Emoji demo"));
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), "open_clip format"));

  for (guint i = 0; i < entries->len; i++)
    {
      ClipscopeModelEntry *e = g_ptr_array_index (entries, i);
      g_autofree char *size = g_format_size (e->size);
      g_autofree char *about = g_strdup_printf ("about %s", size);

      if (e->source != CLIPSCOPE_MODEL_SOURCE_CATALOGUE)
        continue;
      n_catalogue++;
      row = clipscope_models_page_get_row (page, e->name);
      g_assert_nonnull (row);
      g_assert_cmpstr (group_of (row), ==, "Available for Download");
      g_assert_nonnull (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), about));
      /* Each says its family before its size. */
      g_assert_nonnull (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)),
                                e->family == CLIPSCOPE_FAMILY_SIGLIP ? "\nSigLIP · "
                                : e->family == CLIPSCOPE_FAMILY_CHINESE_CLIP ? "\nChinese-CLIP · " : "\nCLIP · "));
    }
  g_assert_cmpuint (n_catalogue, >=, 9);
  g_assert_nonnull (clipscope_models_page_get_row (page, "siglip-base-patch16-224"));
  g_assert_nonnull (clipscope_models_page_get_row (page, "siglip2-so400m-patch14-384"));
  g_assert_nonnull (clipscope_models_page_get_row (page, "chinese-clip-vit-base-patch16"));

  g_assert_true (menu_has_item (clipscope_window_get_model_menu (window),
                                "Emoji demo — small model trained on emoji; download a CLIP model for photos",
                                "win.load-model", clipscope_model_row_get_entry (
                                  clipscope_models_page_get_row (page, "emoji-demo"))->path));
  g_assert_true (menu_has_item (clipscope_window_get_model_menu (window), "_Manage Models…",
                                "win.manage-models", NULL));
  close_window (prefs);

  /* "Manage Models…" opens the Preferences on this page. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.manage-models", NULL);
  {
    GListModel *toplevels = gtk_window_get_toplevels ();
    GtkWidget *found = NULL;

    for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
      {
        g_autoptr(GtkWidget) w = g_list_model_get_item (toplevels, i);

        if (CLIPSCOPE_IS_PREFERENCES_WINDOW (w))
          found = w;
      }
    g_assert_nonnull (found);
    g_assert_cmpstr (adw_preferences_window_get_visible_page_name (ADW_PREFERENCES_WINDOW (found)), ==, "models");
    gtk_window_destroy (GTK_WINDOW (found));
  }
  close_window (window);
}

static void
collect_failures_cb (ClipscopeSession   *session,
                     const char         *summary,
                     const char * const *reasons,
                     GPtrArray          *got)
{
  g_ptr_array_add (got, g_strdup (summary));
  for (const char * const *r = reasons; *r != NULL; r++)
    g_ptr_array_add (got, g_strdup (*r));
}

/* An image that cannot be decoded is left out with its reason, the others
 * are scored, and the toast's Details list the reason. */
static void
test_window_image_failures (void)
{
  ClipscopeWindow *window = g_object_ref_sink (clipscope_window_new (NULL));
  ClipscopeSession *session = clipscope_window_get_session (window);
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *cut = g_build_filename (workdir, "cut-short.png", NULL);
  g_autofree char *contents = NULL;
  gsize length;
  const char *reasons[2] = { NULL, NULL };

  g_assert_true (g_file_get_contents (image_paths[0], &contents, &length, NULL));
  g_assert_true (g_file_set_contents (cut, contents, length / 2, NULL));
  g_signal_connect (session, "images-failed", G_CALLBACK (collect_failures_cb), got);
  gtk_window_present (GTK_WINDOW (window));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.load-model", "s", model_dir);
  g_ptr_array_add (files, g_file_new_for_path (image_paths[0]));
  g_ptr_array_add (files, g_file_new_for_path (cut));
  g_ptr_array_add (files, g_file_new_for_path (image_paths[1]));
  clipscope_session_add_files (session, (GFile **) files->pdata, files->len);
  wait_idle (session);

  g_assert_cmpuint (got->len, ==, 2);
  g_assert_cmpstr (got->pdata[0], ==, "Could not read cut-short.png");
  g_assert_nonnull (strstr (got->pdata[1], "cut-short.png"));
  g_assert_nonnull (strstr (got->pdata[1], "truncated"));
  g_assert_cmpuint (g_list_model_get_n_items (clipscope_session_get_images (session)), ==, 2);

  reasons[0] = got->pdata[1];
  clipscope_window_show_image_failures (window, reasons);
  answer_dialog ("This Image Could Not Be Read", got->pdata[1], "close");
  g_signal_handlers_disconnect_by_data (session, got);
  close_window (window);
}

/* "Use" loads the model in the window the Preferences serve, which then
 * calls it by its name; with no model chosen, or the last one gone, the
 * bundled model is the default. */
static void
test_models_use (void)
{
  ClipscopeWindow *window = g_object_ref_sink (clipscope_window_new (NULL));
  ClipscopeSession *session = clipscope_window_get_session (window);
  g_autoptr(GSettings) settings = clipscope_settings_new ();
  g_autofree char *missing = g_build_filename (workdir, "gone", NULL);
  g_autofree char *chosen = NULL;
  ClipscopeModelsPage *page;
  ClipscopePreferencesWindow *prefs;
  ClipscopeModelRow *row;

  gtk_window_present (GTK_WINDOW (window));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.load-model", "s", model_dir);
  wait_idle (session);
  prefs = open_models_page (window, &page);
  row = clipscope_models_page_get_row (page, "emoji-demo");
  g_assert_false (clipscope_model_row_get_in_use (row));

  gtk_widget_activate_action (GTK_WIDGET (page), "models.use", "s", "emoji-demo");
  wait_idle (session);
  g_assert_true (clipscope_models_same_folder (clipscope_session_get_model_path (session), bundled_dir));
  g_assert_true (clipscope_model_row_get_in_use (row));
  g_assert_cmpstr (gtk_menu_button_get_label (find_model_button (window)), ==, "emoji-demo");
  {
    AdwViewSwitcherTitle *title = ADW_VIEW_SWITCHER_TITLE (find_widget (GTK_WIDGET (window), ADW_TYPE_VIEW_SWITCHER_TITLE, NULL));

    g_assert_true (g_str_has_prefix (adw_view_switcher_title_get_subtitle (title), "emoji-demo · "));
  }
  close_window (prefs);

  /* The default: the last model while it exists, else the bundled one. */
  g_settings_set_string (settings, "last-model", model_dir);
  chosen = clipscope_application_dup_default_model ();
  g_assert_cmpstr (chosen, ==, model_dir);
  g_clear_pointer (&chosen, g_free);
  g_settings_set_string (settings, "last-model", missing);
  chosen = clipscope_application_dup_default_model ();
  g_assert_true (clipscope_models_same_folder (chosen, bundled_dir));
  g_clear_pointer (&chosen, g_free);
  g_settings_reset (settings, "last-model");
  chosen = clipscope_application_dup_default_model ();
  g_assert_true (clipscope_models_same_folder (chosen, bundled_dir));

  close_window (window);
}

static void
copy_folder (const char *from,
             const char *to)
{
  g_autoptr(GDir) dir = g_dir_open (from, 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  g_assert_cmpint (g_mkdir_with_parents (to, 0700), ==, 0);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autoptr(GFile) source = g_file_new_build_filename (from, name, NULL);
      g_autoptr(GFile) copy = g_file_new_build_filename (to, name, NULL);

      g_assert_true (g_file_copy (source, copy, G_FILE_COPY_NONE, NULL, NULL, NULL, NULL));
    }
}

/* A stand-in for the Hugging Face hub: files under @root as the hub
 * serves them, no file listing (the downloader then tries the known file
 * names), and any request for "owner/slow-clip" left unanswered. It ends
 * when its input closes, so a test that aborts leaves no server behind. */
static const char hub_script[] =
  "import http.server, os, sys, threading, time\n"
  "threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()\n"
  "class Handler(http.server.SimpleHTTPRequestHandler):\n"
  "    def __init__(self, *args, **kwargs):\n"
  "        super().__init__(*args, directory=sys.argv[1], **kwargs)\n"
  "    def log_message(self, *args):\n"
  "        pass\n"
  "    def do_GET(self):\n"
  "        if 'owner/slow-clip' in self.path:\n"
  "            time.sleep(600)\n"
  "        else:\n"
  "            super().do_GET()\n"
  "server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)\n"
  "server.daemon_threads = True\n"
  "print(server.server_address[1], flush=True)\n"
  "server.serve_forever()\n";

/* Starts the hub and returns its address, for HF_ENDPOINT. */
static char *
start_hub (void)
{
  g_autofree char *root = g_build_filename (workdir, "hub", NULL);
  g_autofree char *files = g_build_filename (root, "owner", "tiny-clip", "resolve", "main", NULL);
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *port = NULL;

  copy_folder (model_dir, files);
  hub = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                          "/usr/bin/python3", "-c", hub_script, root, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (hub));
  port = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (port);
  return g_strdup_printf ("http://127.0.0.1:%s", port);
}

static void
wait_downloads (ClipscopeModelsPage *page)
{
  for (int i = 0; i < 6000 && clipscope_models_page_get_n_downloads (page) > 0; i++)
    wait_ms (10);
  g_assert_cmpuint (clipscope_models_page_get_n_downloads (page), ==, 0);
}

/* A repository typed as owner/name downloads into the models folder and
 * moves to the installed models; one the hub does not have fails with
 * the downloader's message, in its row. */
static void
test_models_download (void)
{
  ClipscopeWindow *window = g_object_ref_sink (clipscope_window_new (NULL));
  ClipscopeModelsPage *page;
  ClipscopePreferencesWindow *prefs;
  ClipscopeModelRow *row;
  g_autofree char *config = NULL;

  gtk_window_present (GTK_WINDOW (window));
  prefs = open_models_page (window, &page);

  gtk_widget_activate_action (GTK_WIDGET (page), "models.download", "s", "owner/tiny-clip");
  row = clipscope_models_page_get_row (page, "owner/tiny-clip");
  g_assert_nonnull (row);
  g_assert_true (clipscope_model_row_get_downloading (row));
  g_assert_cmpstr (group_of (row), ==, "Available for Download");
  wait_downloads (page);
  g_assert_null (clipscope_model_row_get_error (row));
  g_assert_false (clipscope_model_row_get_downloading (row));
  g_assert_true (clipscope_model_row_get_entry (row)->installed);
  g_assert_cmpstr (group_of (row), ==, "Installed");
  config = g_build_filename (clipscope_model_row_get_entry (row)->path, "config.json", NULL);
  g_assert_true (g_file_test (config, G_FILE_TEST_IS_REGULAR));

  /* Once installed, it can be used. */
  gtk_widget_activate_action (GTK_WIDGET (page), "models.use", "s", "owner/tiny-clip");
  wait_idle (clipscope_window_get_session (window));
  g_assert_true (clipscope_model_row_get_in_use (row));

  gtk_widget_activate_action (GTK_WIDGET (page), "models.download", "s", "owner/no-such-clip");
  row = clipscope_models_page_get_row (page, "owner/no-such-clip");
  g_assert_nonnull (row);
  wait_downloads (page);
  g_assert_nonnull (clipscope_model_row_get_error (row));
  g_assert_nonnull (strstr (clipscope_model_row_get_error (row), "HTTP 404"));
  g_assert_false (clipscope_model_row_get_entry (row)->installed);
  g_assert_cmpstr (group_of (row), ==, "Available for Download");
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), "Download failed"));

  /* With nothing downloaded there is nothing to confirm: it just goes. */
  gtk_widget_activate_action (GTK_WIDGET (page), "models.remove", "s", "owner/no-such-clip");
  wait_page (page);
  g_assert_null (find_message_dialog ());
  g_assert_null (clipscope_models_page_get_row (page, "owner/no-such-clip"));

  close_window (prefs);
  close_window (window);
}

/* A download is cancelled from its row, and closing the Preferences
 * while one runs asks first. */
static void
test_models_cancel (void)
{
  ClipscopeWindow *window = g_object_ref_sink (clipscope_window_new (NULL));
  ClipscopeModelsPage *page;
  ClipscopePreferencesWindow *prefs;
  ClipscopeModelRow *row;

  gtk_window_present (GTK_WINDOW (window));
  prefs = open_models_page (window, &page);

  gtk_widget_activate_action (GTK_WIDGET (page), "models.download", "s", "owner/slow-clip");
  row = clipscope_models_page_get_row (page, "owner/slow-clip");
  g_assert_true (clipscope_model_row_get_downloading (row));
  wait_ms (100);
  gtk_widget_activate_action (GTK_WIDGET (page), "models.cancel", "s", "owner/slow-clip");
  wait_downloads (page);
  g_assert_false (clipscope_model_row_get_downloading (row));
  g_assert_null (clipscope_model_row_get_error (row));

  gtk_widget_activate_action (GTK_WIDGET (page), "models.download", "s", "owner/slow-clip");
  g_assert_cmpuint (clipscope_models_page_get_n_downloads (page), ==, 1);
  gtk_window_close (GTK_WINDOW (prefs));
  answer_dialog ("Stop the Download?", "resumes", "keep");
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (prefs)));
  g_assert_cmpuint (clipscope_models_page_get_n_downloads (page), ==, 1);
  g_object_add_weak_pointer (G_OBJECT (page), (gpointer *) &page);
  gtk_window_close (GTK_WINDOW (prefs));
  answer_dialog ("Stop the Download?", NULL, "stop");
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (prefs)));
  g_assert_finalize_object (prefs);

  /* The page lives on until its cancelled download has wound up, and no
   * longer. */
  for (int i = 0; i < 1000 && page != NULL; i++)
    wait_ms (10);
  g_assert_null (page);
  close_window (window);
}

/* Folders added, refused and removed again; the bundled model stays. */
static void
test_models_add_remove (void)
{
  ClipscopeWindow *window = g_object_ref_sink (clipscope_window_new (NULL));
  g_autofree char *odd = g_build_filename (workdir, "My CLIP (v2)", NULL);
  g_autofree char *bad = g_build_filename (workdir, "not-a-model", NULL);
  g_autofree char *notes = g_build_filename (bad, "notes.txt", NULL);
  ClipscopeModelsPage *page;
  ClipscopePreferencesWindow *prefs;
  ClipscopeModelRow *row;

  gtk_window_present (GTK_WINDOW (window));
  prefs = open_models_page (window, &page);

  gtk_widget_activate_action (GTK_WIDGET (page), "models.add-local", "s", model_dir);
  wait_page (page);
  row = clipscope_models_page_get_row (page, "model");
  g_assert_nonnull (row);
  g_assert_cmpstr (group_of (row), ==, "Installed");
  g_assert_cmpint (clipscope_model_row_get_entry (row)->source, ==, CLIPSCOPE_MODEL_SOURCE_LOCAL);
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), "Hugging Face format"));

  /* The window's menu, built as it opens, offers it by name. */
  {
    GtkMenuButton *button = find_model_button (window);

    gtk_menu_button_popup (button);
    g_assert_true (menu_has_item (clipscope_window_get_model_menu (window), "model", "win.load-model",
                                  clipscope_model_row_get_entry (row)->path));
    gtk_menu_button_popdown (button);
  }

  /* The same folder twice, and a folder that holds no model, are refused
   * with a message that names them. */
  gtk_widget_activate_action (GTK_WIDGET (page), "models.add-local", "s", model_dir);
  wait_page (page);
  answer_dialog ("Could Not Add the Folder", "already installed as “model”", "close");
  g_assert_cmpint (g_mkdir (bad, 0700), ==, 0);
  g_assert_true (g_file_set_contents (notes, "not a model", -1, NULL));
  gtk_widget_activate_action (GTK_WIDGET (page), "models.add-local", "s", bad);
  wait_page (page);
  answer_dialog ("Could Not Add the Folder", "not-a-model", "close");
  g_assert_null (clipscope_models_page_get_row (page, "not-a-model"));

  /* A folder name the store would refuse is made into one it takes. */
  copy_folder (model_dir, odd);
  gtk_widget_activate_action (GTK_WIDGET (page), "models.add-local", "s", odd);
  wait_page (page);
  g_assert_nonnull (clipscope_models_page_get_row (page, "My-CLIP-v2"));

  /* Removing asks first; cancelling keeps the model. */
  gtk_widget_activate_action (GTK_WIDGET (page), "models.remove", "s", "model");
  answer_dialog ("Forget “model”?", "Its files stay where they are", "cancel");
  wait_page (page);
  g_assert_nonnull (clipscope_models_page_get_row (page, "model"));
  gtk_widget_activate_action (GTK_WIDGET (page), "models.remove", "s", "model");
  answer_dialog ("Forget “model”?", model_dir, "remove");
  wait_page (page);
  g_assert_null (clipscope_models_page_get_row (page, "model"));
  g_assert_true (g_file_test (model_dir, G_FILE_TEST_IS_DIR));

  gtk_widget_activate_action (GTK_WIDGET (page), "models.remove", "s", "My-CLIP-v2");
  answer_dialog ("Forget “My-CLIP-v2”?", NULL, "remove");
  wait_page (page);
  g_assert_null (clipscope_models_page_get_row (page, "My-CLIP-v2"));

  /* The bundled model cannot go, and the store says so. */
  gtk_widget_activate_action (GTK_WIDGET (page), "models.remove", "s", "emoji-demo");
  answer_dialog ("Could Not Remove the Model", "cannot be removed", "close");
  g_assert_nonnull (clipscope_models_page_get_row (page, "emoji-demo"));

  /* A name that is not one is refused before anything is downloaded. */
  gtk_widget_activate_action (GTK_WIDGET (page), "models.download", "s", "not a name!");
  answer_dialog ("Not a Model Name", "not a name!", "close");
  g_assert_cmpuint (clipscope_models_page_get_n_downloads (page), ==, 0);

  close_window (prefs);
  close_window (window);
}

/* ------------------------------------------------------------ responsiveness */

typedef struct {
  gint64 last;
  gint64 worst;
} Ticks;

static gboolean
tick_cb (gpointer user_data)
{
  Ticks *ticks = user_data;
  gint64 now = g_get_monotonic_time ();

  ticks->worst = MAX (ticks->worst, now - ticks->last);
  ticks->last = now;
  return G_SOURCE_CONTINUE;
}

/* Five hundred images dropped at once: decoding, encoding and folder
 * walking all happen off the main loop, which keeps turning. */
static void
test_window_responsive (void)
{
  ClipscopeWindow *window = clipscope_window_new (NULL);
  ClipscopeSession *session = clipscope_window_get_session (window);
  g_autofree char *dir = g_build_filename (workdir, "many", NULL);
  g_autoptr(GFile) folder = g_file_new_for_path (dir);
  g_autoptr(GFile) source = g_file_new_for_path (image_paths[1]);
  g_auto(GValue) value = G_VALUE_INIT;
  Ticks ticks = { 0, 0 };
  gboolean accepted = FALSE;
  guint id;

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  for (int i = 0; i < 500; i++)
    {
      g_autofree char *name = g_strdup_printf ("copy-%03d.png", i);
      g_autoptr(GFile) copy = g_file_get_child (folder, name);

      g_assert_true (g_file_copy (source, copy, G_FILE_COPY_NONE, NULL, NULL, NULL, NULL));
    }

  g_object_ref_sink (window);
  gtk_window_present (GTK_WINDOW (window));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.load-model", "s", model_dir);
  wait_idle (session);

  /* The first frame loads fonts and builds caches once; it is not what
   * this test measures. */
  for (int i = 0; i < 100 && !gtk_widget_get_mapped (GTK_WIDGET (window)); i++)
    wait_ms (20);
  wait_ms (300);

  g_value_init (&value, G_TYPE_FILE);
  g_value_set_object (&value, folder);
  ticks.last = g_get_monotonic_time ();
  id = g_timeout_add (10, tick_cb, &ticks);
  g_signal_emit_by_name (clipscope_window_get_drop_target (window), "drop", &value, 1.0, 1.0, &accepted);
  g_assert_true (accepted);
  wait_idle (session);
  g_source_remove (id);

  g_assert_cmpuint (g_list_model_get_n_items (clipscope_session_get_images (session)), ==, 500);
  g_test_message ("longest main-loop stall while adding 500 images: %.1f ms", ticks.worst / 1000.0);
  /* Encoding them on the main thread would stall it for seconds; the
   * bound leaves room for a loaded CI machine and sanitizers. */
  g_assert_cmpint (ticks.worst, <, 1000 * G_TIME_SPAN_MILLISECOND);

  /* 500 rows by 50 columns, more than the 200 × 50 the heatmap is made
   * for: building its render nodes stays well under a frame budget of a
   * few frames (they are then reused while scrolling). */
  {
    GtkWidget *heatmap = clipscope_window_get_heatmap (window);
    gint64 start;
    double ms;

    for (int i = 0; i < 50; i++)
      {
        g_autofree char *label = g_strdup_printf ("label number %d", i);

        gtk_widget_activate_action (GTK_WIDGET (window), "win.add-labels", "s", label);
      }
    clipscope_session_flush (session);
    wait_idle (session);
    g_assert_cmpuint (g_strv_length ((char **) clipscope_session_get_scored_labels (session)), >=, 50);
    wait_ms (100);

    start = g_get_monotonic_time ();
    for (int i = 0; i < 5; i++)
      {
        g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
        g_autoptr(GskRenderNode) node = NULL;

        /* The class's own snapshot, since the widget would hand back its
         * cached node: this is what a redraw costs. */
        GTK_WIDGET_GET_CLASS (heatmap)->snapshot (heatmap, snapshot);
        node = gtk_snapshot_to_node (snapshot);
        g_assert_nonnull (node);
      }
    ms = (g_get_monotonic_time () - start) / 5000.0;
    g_test_message ("redraw of a 500 x %u heatmap: %.1f ms",
                    g_strv_length ((char **) clipscope_session_get_scored_labels (session)), ms);
    g_assert_cmpfloat (ms, <, 250.0);

    /* An export draws every cell; it may take longer, once. */
    start = g_get_monotonic_time ();
    {
      g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
      g_autoptr(GskRenderNode) node = NULL;

      clipscope_heatmap_view_snapshot_all (CLIPSCOPE_HEATMAP_VIEW (heatmap), snapshot);
      node = gtk_snapshot_to_node (snapshot);
      g_assert_nonnull (node);
    }
    g_test_message ("all cells, for an export: %.1f ms", (g_get_monotonic_time () - start) / 1000.0);
  }

  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (window);
}

/* ------------------------------------------------------------ screenshot */

/* Pixels of @png near one of @colors, within a few units per channel. */
static guint
count_pixels_near (GdkPixbuf     *png,
                   const GdkRGBA *colors,
                   guint          n_colors)
{
  int n_channels = gdk_pixbuf_get_n_channels (png), stride = gdk_pixbuf_get_rowstride (png);
  const guchar *pixels = gdk_pixbuf_read_pixels (png);
  guint count = 0;

  for (int y = 0; y < gdk_pixbuf_get_height (png); y++)
    for (int x = 0; x < gdk_pixbuf_get_width (png); x++)
      {
        const guchar *p = pixels + y * stride + x * n_channels;

        for (guint k = 0; k < n_colors; k++)
          if (ABS (p[0] - colors[k].red * 255) <= 4 && ABS (p[1] - colors[k].green * 255) <= 4
              && ABS (p[2] - colors[k].blue * 255) <= 4)
            {
              count++;
              break;
            }
      }
  return count;
}

/* Runs clipscope-gui on the test images with --screenshot, in @envp
 * (NULL: this process's environment), and reads what it saved. */
static GdkPixbuf *
gui_screenshot (const char *name,
                char      **envp)
{
  g_autofree char *shot = g_build_filename (scratch_dir, name, NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  GdkPixbuf *png;
  int status = 0;

  g_ptr_array_add (argv, (char *) g_getenv ("CLIPSCOPE_GUI"));
  g_ptr_array_add (argv, (char *) "--model");
  g_ptr_array_add (argv, model_dir);
  for (const char **l = labels; *l != NULL; l++)
    {
      g_ptr_array_add (argv, (char *) "--label");
      g_ptr_array_add (argv, (char *) *l);
    }
  g_ptr_array_add (argv, (char *) "--screenshot");
  g_ptr_array_add (argv, shot);
  for (int i = 0; i < N_IMAGES; i++)
    g_ptr_array_add (argv, image_paths[i]);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL,
                               NULL, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, 0);

  png = gdk_pixbuf_new_from_file (shot, &error);
  g_assert_no_error (error);
  if (g_getenv ("CLIPSCOPE_SHOTS_DIR") != NULL)
    {
      g_autofree char *copy = g_build_filename (g_getenv ("CLIPSCOPE_SHOTS_DIR"), name, NULL);

      g_assert_true (gdk_pixbuf_save (png, copy, "png", NULL, NULL));
    }
  return png;
}

static void
test_app_screenshot (void)
{
  g_autoptr(GdkPixbuf) png = gui_screenshot ("app-screenshot.png", NULL);
  GdkRGBA viridis[256], accent;

  for (guint i = 0; i < G_N_ELEMENTS (viridis); i++)
    clipscope_colormap_viridis (i / 255.0, &viridis[i]);
  gdk_rgba_parse (&accent, "#3584e4");

  /* Four rows of four 64 × 40 cells, less text and outlines, and a
   * legend; and the bars of the selected image in the accent colour. */
  g_assert_cmpuint (count_pixels_near (png, viridis, G_N_ELEMENTS (viridis)), >, 16 * 1200);
  g_assert_cmpuint (count_pixels_near (png, &accent, 1), >, 300);
}

/* At scale 2 (GDK_SCALE, as on a HiDPI screen) a 640 × 480 window is
 * drawn with twice the pixels each way, and the matrix still has room:
 * the panes fold away rather than squeeze it. The window size comes from
 * the saved settings, as when the application starts again. */
static void
test_app_scale2 (void)
{
  g_autofree char *config = g_build_filename (scratch_dir, "scale2-config", NULL);
  g_autofree char *settings_dir = g_build_filename (config, "glib-2.0", "settings", NULL);
  g_autofree char *keyfile = g_build_filename (settings_dir, "keyfile", NULL);
  g_auto(GStrv) envp = g_get_environ ();
  g_autoptr(GdkPixbuf) png = NULL;
  GdkRGBA viridis[256];

  g_assert_cmpint (g_mkdir_with_parents (settings_dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (keyfile, "[io/github/clipscope/Clipscope]\n"
                                      "window-width=640\nwindow-height=480\n", -1, NULL));
  envp = g_environ_setenv (envp, "GDK_SCALE", "2", TRUE);
  envp = g_environ_setenv (envp, "GSETTINGS_BACKEND", "keyfile", TRUE);
  envp = g_environ_setenv (envp, "XDG_CONFIG_HOME", config, TRUE);
  png = gui_screenshot ("app-scale2.png", envp);

  /* The frame's shadow, without a window manager, takes a few pixels. */
  g_assert_cmpint (gdk_pixbuf_get_width (png), >, 2 * 600);
  g_assert_cmpint (gdk_pixbuf_get_width (png), <=, 2 * 640);
  for (guint i = 0; i < G_N_ELEMENTS (viridis); i++)
    clipscope_colormap_viridis (i / 255.0, &viridis[i]);
  /* All sixteen 64 × 40 cells, at four device pixels each, less text. */
  g_assert_cmpuint (count_pixels_near (png, viridis, G_N_ELEMENTS (viridis)), >, 4 * 16 * 1200);
}

/* ------------------------------------------------------------ explain */

/* The map `clipscope explain` writes for @label on @image, [grid²]. */
static float *
run_explain (const char *image,
             const char *label,
             const char *backend,
             int        *grid)
{
  g_autofree char *npy = g_build_filename (workdir, "explain.npy", NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *data = NULL;
  gsize length = 0, header;
  float *map;

  g_ptr_array_add (argv, (char *) g_getenv ("CLIPSCOPE_CLI"));
  g_ptr_array_add (argv, (char *) "explain");
  g_ptr_array_add (argv, (char *) "--backend");
  g_ptr_array_add (argv, (char *) backend);
  g_ptr_array_add (argv, (char *) "--model");
  g_ptr_array_add (argv, model_dir);
  g_ptr_array_add (argv, (char *) "--label");
  g_ptr_array_add (argv, (char *) label);
  for (const char **t = templates; *t != NULL; t++)
    {
      g_ptr_array_add (argv, (char *) "--template");
      g_ptr_array_add (argv, (char *) *t);
    }
  g_ptr_array_add (argv, (char *) "--npy");
  g_ptr_array_add (argv, npy);
  g_ptr_array_add (argv, (char *) image);
  g_ptr_array_add (argv, NULL);
  *grid = (int) json_array_get_int_element (
            json_object_get_array_member (run_cli (argv, parser), "grid"), 0);

  /* A .npy: magic, version, a little-endian header length, the header. */
  g_assert_true (g_file_get_contents (npy, &data, &length, NULL));
  header = 10 + ((guint8) data[8] | (guint8) data[9] << 8);
  g_assert_cmpuint (length, ==, header + (gsize) *grid * *grid * sizeof (float));
  map = g_new (float, *grid * *grid);
  memcpy (map, data + header, (gsize) *grid * *grid * sizeof (float));
  g_unlink (npy);
  return map;
}

/* The window as it is drawn now. */
static GdkPixbuf *
render_window (ClipscopeWindow *window)
{
  g_autofree char *path = g_build_filename (workdir, "explain-window.png", NULL);
  g_autoptr(GError) error = NULL;
  GdkPixbuf *png;

  wait_ms (100);
  for (int i = 0; i < 40 && !clipscope_window_save_screenshot (window, path, NULL); i++)
    wait_ms (50);
  png = gdk_pixbuf_new_from_file (path, &error);
  g_assert_no_error (error);
  /* Tests that drop the whole folder count the images in it. */
  g_unlink (path);
  return png;
}

/* Whether the pixel of @png at (x, y) has @t's viridis colour. */
static gboolean
pixel_is_viridis (GdkPixbuf *png,
                  double     x,
                  double     y,
                  double     t)
{
  const guchar *p = gdk_pixbuf_read_pixels (png) + (int) y * gdk_pixbuf_get_rowstride (png)
                    + (int) x * gdk_pixbuf_get_n_channels (png);
  GdkRGBA c;

  clipscope_colormap_viridis (t, &c);
  g_test_message ("pixel (%.0f, %.0f): %d %d %d, viridis(%.0f): %.0f %.0f %.0f",
                  x, y, p[0], p[1], p[2], t, c.red * 255, c.green * 255, c.blue * 255);
  return ABS (p[0] - c.red * 255) <= 24 && ABS (p[1] - c.green * 255) <= 24
         && ABS (p[2] - c.blue * 255) <= 24;
}

/* The centre of cell @i of the overlay's map, in window coordinates. */
static void
cell_centre (ClipscopeWindow         *window,
             ClipscopeExplainOverlay *overlay,
             int                      grid,
             int                      i,
             double                  *x,
             double                  *y)
{
  graphene_rect_t area;

  g_assert_true (clipscope_explain_overlay_get_area (overlay, &area));
  g_assert_true (gtk_widget_translate_coordinates (GTK_WIDGET (overlay), GTK_WIDGET (window),
                                                   area.origin.x + (i % grid + 0.5) * area.size.width / grid,
                                                   area.origin.y + (i / grid + 0.5) * area.size.height / grid,
                                                   x, y));
}

static int
arg_extreme (const float *v,
             int          n,
             int          sign)
{
  int best = 0;

  for (int i = 1; i < n; i++)
    if (sign * v[i] > sign * v[best])
      best = i;
  return best;
}

/* The selected image's map is computed on the worker, equals the CLI's,
 * follows the chosen label, and is drawn over the preview in viridis; the
 * switch hides it and the slider sets its opacity. */
static void
test_window_explain (void)
{
  ClipscopeWindow *window = g_object_ref_sink (clipscope_window_new (NULL));
  ClipscopeSession *session = clipscope_window_get_session (window);
  g_autoptr(GSettings) settings = clipscope_settings_new ();
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);
  ClipscopeExplainPanel *panel;
  ClipscopeExplainOverlay *overlay;
  g_autofree float *want = NULL;
  g_autoptr(GdkPixbuf) shown = NULL;
  g_autoptr(GdkPixbuf) hidden = NULL;
  const float *map, *sim;
  guint n_images, n_labels;
  int grid = 0, want_grid = 0, hi, lo;
  double x, y;

  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 800);
  gtk_window_present (GTK_WINDOW (window));
  panel = CLIPSCOPE_EXPLAIN_PANEL (find_widget (GTK_WIDGET (window), CLIPSCOPE_TYPE_EXPLAIN_PANEL, NULL));
  overlay = CLIPSCOPE_EXPLAIN_OVERLAY (find_widget (GTK_WIDGET (window), CLIPSCOPE_TYPE_EXPLAIN_OVERLAY, NULL));
  g_assert_nonnull (panel);
  g_assert_nonnull (overlay);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.clear-labels", NULL);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.add-labels", "s", "cat\ndog\nred car\ntree");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.clear-templates", NULL);
  for (const char **t = templates; *t != NULL; t++)
    gtk_widget_activate_action (GTK_WIDGET (window), "win.add-template", "s", *t);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.load-model", "s", model_dir);
  for (int i = 0; i < N_IMAGES; i++)
    g_ptr_array_add (files, g_file_new_for_path (image_paths[i]));
  clipscope_session_add_files (session, (GFile **) files->pdata, files->len);
  wait_idle (session);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.select-image", "i", 1);
  for (int i = 0; i < 600 && clipscope_explain_panel_get_busy (panel); i++)
    wait_ms (50);
  g_assert_false (clipscope_explain_panel_get_busy (panel));

  /* At first the map is of the image's best label. */
  g_assert_true (clipscope_session_get_scores (session, &n_images, &n_labels, &sim, NULL));
  g_assert_cmpstr (clipscope_explain_panel_get_label (panel), ==, labels[arg_extreme (sim + n_labels, n_labels, 1)]);

  /* Another label is one product away: no new job, the map at once. */
  g_assert_true (clipscope_explain_panel_select_label (panel, "red car"));
  g_assert_false (clipscope_explain_panel_get_busy (panel));
  map = clipscope_explain_panel_get_map (panel, &grid);
  g_assert_nonnull (map);
  want = run_explain (image_paths[1], "red car", clipscope_session_get_backend_name (session), &want_grid);
  g_assert_cmpint (grid, ==, want_grid);
  g_assert_cmpint (grid, ==, 4);
  for (int i = 0; i < grid * grid; i++)
    g_assert_cmpfloat_with_epsilon (map[i], want[i], 1e-5);
  g_assert_true (clipscope_explain_overlay_has_map (overlay));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (overlay)));

  /* Opaque, the highest cell is yellow and the lowest dark purple. */
  gtk_range_set_value (GTK_RANGE (find_widget (GTK_WIDGET (panel), GTK_TYPE_SCALE, NULL)), 1.0);
  g_assert_cmpfloat (gtk_widget_get_opacity (GTK_WIDGET (overlay)), ==, 1.0);
  hi = arg_extreme (map, grid * grid, 1);
  lo = arg_extreme (map, grid * grid, -1);
  shown = render_window (window);
  cell_centre (window, overlay, grid, hi, &x, &y);
  g_assert_true (pixel_is_viridis (shown, x, y, 1.0));
  cell_centre (window, overlay, grid, lo, &x, &y);
  g_assert_true (pixel_is_viridis (shown, x, y, 0.0));
  save_shot (window, "test-explain.png");

  /* The switch hides it, and the preview shows through. */
  gtk_switch_set_active (GTK_SWITCH (find_widget (GTK_WIDGET (panel), GTK_TYPE_SWITCH, NULL)), FALSE);
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (overlay)));
  hidden = render_window (window);
  g_assert_false (pixel_is_viridis (hidden, x, y, 0.0));
  save_shot (window, "test-explain-hidden.png");

  /* Both are settings, so the next window starts as this one was left. */
  g_assert_false (g_settings_get_boolean (settings, "show-explain-map"));
  g_assert_cmpfloat (g_settings_get_double (settings, "explain-opacity"), ==, 1.0);
  g_settings_set_double (settings, "explain-opacity", 0.25);
  g_assert_cmpfloat_with_epsilon (gtk_widget_get_opacity (GTK_WIDGET (overlay)), 0.25, 1.0 / 255);
  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (window);

  window = g_object_ref_sink (clipscope_window_new (NULL));
  panel = CLIPSCOPE_EXPLAIN_PANEL (find_widget (GTK_WIDGET (window), CLIPSCOPE_TYPE_EXPLAIN_PANEL, NULL));
  overlay = CLIPSCOPE_EXPLAIN_OVERLAY (find_widget (GTK_WIDGET (window), CLIPSCOPE_TYPE_EXPLAIN_OVERLAY, NULL));
  g_assert_false (gtk_switch_get_active (GTK_SWITCH (find_widget (GTK_WIDGET (panel), GTK_TYPE_SWITCH, NULL))));
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (overlay)));
  g_assert_cmpfloat (gtk_range_get_value (GTK_RANGE (find_widget (GTK_WIDGET (panel), GTK_TYPE_SCALE, NULL))),
                     ==, 0.25);
  g_assert_cmpfloat_with_epsilon (gtk_widget_get_opacity (GTK_WIDGET (overlay)), 0.25, 1.0 / 255);
  g_settings_reset (settings, "show-explain-map");
  g_settings_reset (settings, "explain-opacity");
  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (window);
}

/* ------------------------------------------------------------ contributions */

static void
wait_contributions (ClipscopeTemplateContributions *panel)
{
  for (int i = 0; i < 600 && clipscope_template_contributions_get_busy (panel); i++)
    wait_ms (50);
  g_assert_false (clipscope_template_contributions_get_busy (panel));
}

/* The text of the first label in each row of the panel's list, in order. */
static GStrv
shown_prompts (ClipscopeTemplateContributions *panel)
{
  GtkWidget *list = find_widget (GTK_WIDGET (panel), GTK_TYPE_LIST_BOX, NULL);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  g_assert_nonnull (list);
  for (GtkWidget *row = gtk_widget_get_first_child (list); row != NULL; row = gtk_widget_get_next_sibling (row))
    {
      GtkWidget *label = find_widget (row, GTK_TYPE_LABEL, NULL);

      g_assert_nonnull (label);
      g_strv_builder_add (builder, gtk_label_get_label (GTK_LABEL (label)));
    }
  return g_strv_builder_end (builder);
}

/* The panel shows one row per enabled template of @label on image @row,
 * highest cosine first, each as the engine computes it from texts it
 * encodes itself; and the ensemble is the heatmap's cell. */
static void
assert_contributions (ClipscopeTemplateContributions *panel,
                      ClipscopeSession               *session,
                      guint                           row,
                      const char                     *label,
                      guint                           column)
{
  g_auto(GStrv) enabled = clipscope_session_dup_enabled_templates (session);
  g_auto(GStrv) shown = shown_prompts (panel);
  int n = (int) g_strv_length (enabled), dim = 0, text_dim;
  g_autoptr(ClipscopeImage) image = g_list_model_get_item (clipscope_session_get_images (session), row);
  const float *embedding = clipscope_image_get_embedding (image, &dim);
  g_autoptr(GPtrArray) prompts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(ClipscopeModel) model = NULL;
  g_autoptr(ClipscopeContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree float *texts = NULL;
  g_autofree float *cosines = g_new (float, n);
  g_autofree float *without = g_new (float, n);
  const float *sim;
  guint n_images, n_labels;
  float ensemble, previous = INFINITY;

  g_assert_cmpstr (clipscope_template_contributions_get_label (panel), ==, label);
  g_assert_nonnull (embedding);
  for (int k = 0; k < n; k++)
    g_ptr_array_add (prompts, clipscope_template_apply (enabled[k], label));
  model = clipscope_model_load (model_dir, NULL, NULL, &error);
  g_assert_no_error (error);
  ctx = clipscope_context_new (model, NULL, &error);
  g_assert_no_error (error);
  text_dim = clipscope_model_get_info (model)->embed_dim;
  g_assert_cmpint (text_dim, ==, dim);
  texts = g_new (float, (gsize) n * dim);
  g_assert_true (clipscope_context_encode_texts (ctx, (const char * const *) prompts->pdata, n, texts,
                                                 NULL, &error));
  g_assert_no_error (error);
  ensemble = clipscope_template_contributions (texts, n, embedding, dim, cosines, without);

  g_assert_cmpfloat_with_epsilon (clipscope_template_contributions_get_ensemble (panel), ensemble, 1e-4);
  g_assert_true (clipscope_session_get_scores (session, &n_images, &n_labels, &sim, NULL));
  g_assert_cmpfloat_with_epsilon (sim[row * n_labels + column], ensemble, 1e-4);
  g_assert_cmpuint (clipscope_template_contributions_get_n_rows (panel), ==, n);
  g_assert_cmpuint (g_strv_length (shown), ==, n);
  for (int i = 0; i < n; i++)
    {
      float cosine, left_out;
      const char *prompt = clipscope_template_contributions_get_row (panel, i, &cosine, &left_out);
      int k = 0;

      while (k < n && g_strcmp0 (prompts->pdata[k], prompt) != 0)
        k++;
      g_assert_cmpint (k, <, n);
      g_assert_cmpstr (shown[i], ==, prompt);
      g_assert_cmpfloat_with_epsilon (cosine, cosines[k], 1e-4);
      g_assert_cmpint (isnan (left_out), ==, isnan (without[k]));
      if (!isnan (left_out))
        g_assert_cmpfloat_with_epsilon (left_out, without[k], 1e-4);
      g_assert_cmpfloat (cosine, <=, previous);
      previous = cosine;
    }
}

static void
set_template_enabled (ClipscopeSession *session,
                      guint             position,
                      gboolean          enabled)
{
  g_autoptr(ClipscopeTemplate) t = g_list_model_get_item (clipscope_session_get_templates (session), position);

  clipscope_template_set_enabled (t, enabled);
}

/* The templates pane shows what each enabled prompt adds to the selected
 * image's similarity with a label, and follows the templates. */
/* The first list box under @root with a row at @index. */
static GtkWidget *
find_list_box_with_row (GtkWidget *root,
                        int        index)
{
  if (GTK_IS_LIST_BOX (root) && gtk_list_box_get_row_at_index (GTK_LIST_BOX (root), index) != NULL)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_list_box_with_row (child, index);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static void
test_window_contributions (void)
{
  static const char *prompts[] = { "a photo of a {}.", "a drawing of the {}", "itap of a {}.", NULL };
  static const int car_examples[] = { 0, 2 };
  ClipscopeWindow *window = g_object_ref_sink (clipscope_window_new (NULL));
  ClipscopeSession *session = clipscope_window_get_session (window);
  g_autoptr(GSettings) settings = clipscope_settings_new ();
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);
  ClipscopeTemplateContributions *panel;
  const float *sim;
  guint n_images, n_labels;
  g_auto(GStrv) shown = NULL;
  float without;

  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 800);
  gtk_window_present (GTK_WINDOW (window));
  panel = CLIPSCOPE_TEMPLATE_CONTRIBUTIONS (find_widget (GTK_WIDGET (window),
                                                         CLIPSCOPE_TYPE_TEMPLATE_CONTRIBUTIONS, NULL));
  g_assert_nonnull (panel);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.clear-labels", NULL);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.add-labels", "s", "cat\ndog\nred car\ntree");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.clear-templates", NULL);
  for (const char **t = prompts; *t != NULL; t++)
    gtk_widget_activate_action (GTK_WIDGET (window), "win.add-template", "s", *t);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.load-model", "s", model_dir);
  for (int i = 0; i < N_IMAGES; i++)
    g_ptr_array_add (files, g_file_new_for_path (image_paths[i]));
  clipscope_session_add_files (session, (GFile **) files->pdata, files->len);
  wait_idle (session);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.show-page", "s", "templates");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.select-image", "i", 2);
  wait_contributions (panel);

  /* At first the label is the image's best. */
  g_assert_true (clipscope_session_get_scores (session, &n_images, &n_labels, &sim, NULL));
  {
    int top = arg_extreme (sim + 2 * n_labels, n_labels, 1);

    assert_contributions (panel, session, 2, labels[top], top);
  }

  /* A chosen label stays chosen as the image changes. */
  g_assert_true (clipscope_template_contributions_select_label (panel, "red car"));
  wait_contributions (panel);
  assert_contributions (panel, session, 2, "red car", 2);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.select-image", "i", 1);
  wait_contributions (panel);
  assert_contributions (panel, session, 1, "red car", 2);
  save_shot (window, "test-contributions.png");

  /* A disabled template's row goes; the others' "without" changes. */
  set_template_enabled (session, 1, FALSE);
  wait_idle (session);
  wait_contributions (panel);
  assert_contributions (panel, session, 1, "red car", 2);
  shown = shown_prompts (panel);
  g_assert_false (g_strv_contains ((const char * const *) shown, "a drawing of the red car"));
  g_clear_pointer (&shown, g_strfreev);

  /* With one template left nothing is left to ensemble without it. */
  set_template_enabled (session, 2, FALSE);
  wait_idle (session);
  wait_contributions (panel);
  assert_contributions (panel, session, 1, "red car", 2);
  g_assert_cmpstr (clipscope_template_contributions_get_row (panel, 0, NULL, &without), ==,
                   "a photo of a red car.");
  g_assert_true (isnan (without));

  /* An edited template is encoded anew. */
  set_template_enabled (session, 1, TRUE);
  {
    g_autoptr(ClipscopeTemplate) t = g_list_model_get_item (clipscope_session_get_templates (session), 1);

    clipscope_template_set_text (t, "a blurry photo of the {}");
  }
  wait_idle (session);
  wait_contributions (panel);
  assert_contributions (panel, session, 1, "red car", 2);
  shown = shown_prompts (panel);
  g_assert_true (g_strv_contains ((const char * const *) shown, "a blurry photo of the red car"));
  save_shot (window, "test-contributions-edited.png");

  /* With examples the cell is no longer the prompts' ensemble: said so. */
  g_assert_null (strstr (clipscope_template_contributions_get_summary (panel), "example"));
  drop_examples (window, "red car", car_examples, 2);
  wait_contributions (panel);
  g_assert_cmpint (clipscope_session_get_label_mode (session, "red car"), ==, CLIPSCOPE_LABEL_MODE_PROTOTYPE);
  g_assert_nonnull (strstr (clipscope_template_contributions_get_summary (panel),
                            "the heatmap blends in its example images"));
  save_shot (window, "test-contributions-examples.png");
  g_signal_emit_by_name (find_label_row (GTK_WIDGET (window), "red car"), "examples-cleared");
  wait_idle (session);
  wait_contributions (panel);
  g_assert_null (strstr (clipscope_template_contributions_get_summary (panel), "example"));
  g_settings_reset (settings, "label-examples");

  /* With CLIP's 80 templates the panel scrolls its own rows and leaves
   * the template list most of an 800 px window. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.template-preset", "s", "imagenet");
  wait_idle (session);
  wait_contributions (panel);
  wait_ms (200);
  {
    GtkWidget *list = find_list_box_with_row (GTK_WIDGET (window), 79);
    GtkWidget *row;

    g_assert_nonnull (list);
    row = GTK_WIDGET (gtk_list_box_get_row_at_index (GTK_LIST_BOX (list), 0));
    g_assert_cmpint (gtk_widget_get_height (gtk_widget_get_ancestor (list, GTK_TYPE_SCROLLED_WINDOW)), >=,
                     6 * gtk_widget_get_height (row));
  }
  save_shot (window, "test-contributions-imagenet.png");

  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (window);
}

/* ------------------------------------------------------------ hostile files */

/* A PNG of @width × @height grey zeros: a few hundred kilobytes that
 * decode to as many pixels, written by Python's zlib. */
static void
write_zeros_png (const char *path,
                 int         width,
                 int         height)
{
  static const char script[] =
    "import struct, sys, zlib\n"
    "def chunk(t, d):\n"
    "    return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))\n"
    "w, h = int(sys.argv[2]), int(sys.argv[3])\n"
    "z = zlib.compressobj(9)\n"
    "row = bytes(w + 1)\n"
    "data = b''.join(z.compress(row) for _ in range(h)) + z.flush()\n"
    "open(sys.argv[1], 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n'"
    " + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0))"
    " + chunk(b'IDAT', data) + chunk(b'IEND', b''))\n";
  g_autofree char *w = g_strdup_printf ("%d", width);
  g_autofree char *h = g_strdup_printf ("%d", height);
  g_autoptr(GError) error = NULL;
  int status = 0;

  g_assert_true (g_spawn_sync (NULL, (char *[]) { (char *) "/usr/bin/python3", (char *) "-c",
                                                  (char *) script, (char *) path, w, h, NULL },
                               NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, 0);
}

/* A small JPEG whose frame header claims 9999 × 9999 pixels. */
static void
write_claiming_jpeg (const char *path)
{
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 16, 16);
  g_autofree char *data = NULL;
  gsize len = 0;

  gdk_pixbuf_fill (pixbuf, 0x808080ff);
  g_assert_true (gdk_pixbuf_save_to_buffer (pixbuf, &data, &len, "jpeg", NULL, NULL));
  for (gsize i = 2; i + 9 < len; i++)
    if ((guchar) data[i] == 0xff && (guchar) data[i + 1] == 0xc0)
      {
        data[i + 5] = data[i + 7] = (char) (9999 >> 8);
        data[i + 6] = data[i + 8] = (char) (9999 & 0xff);
        break;
      }
  g_assert_true (g_file_set_contents (path, data, (gssize) len, NULL));
}

static gboolean
thumbnails_missing (gpointer user_data)
{
  ClipscopeImage **images = user_data;

  for (int i = 0; images[i] != NULL; i++)
    if (clipscope_image_get_thumbnail (images[i]) == NULL)
      return TRUE;
  return FALSE;
}

static ClipscopeImage *
find_image (ClipscopeSession *session,
            const char       *name)
{
  GListModel *images = clipscope_session_get_images (session);

  for (guint i = 0; i < g_list_model_get_n_items (images); i++)
    {
      g_autoptr(ClipscopeImage) image = g_list_model_get_item (images, i);

      if (g_str_equal (clipscope_image_get_name (image), name))
        return image;
    }
  return NULL;
}

static gboolean
failures_pending (gpointer user_data)
{
  GPtrArray *got = user_data;

  return got->len == 0;
}

/* Thumbnails are decoded in the engine's decoder processes: without a
 * model, a file that cannot be read is still named with its reason. */
static void
test_session_thumbnail_failure (void)
{
  g_autoptr(ClipscopeSession) session = clipscope_session_new ();
  g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *claims = g_build_filename (scratch_dir, "claims.jpg", NULL);
  g_autoptr(GFile) bad = g_file_new_for_path (claims);
  g_autoptr(GFile) good = g_file_new_for_path (image_paths[2]);
  GFile *files[2] = { bad, good };

  write_claiming_jpeg (claims);
  g_signal_connect (session, "images-failed", G_CALLBACK (collect_failures_cb), got);
  clipscope_session_add_files (session, files, 2);
  wait_while (failures_pending, got);
  wait_idle (session);

  g_assert_cmpuint (got->len, ==, 2);
  g_assert_cmpstr (got->pdata[0], ==, "Could not read claims.jpg");
  g_assert_nonnull (strstr (got->pdata[1], "claims.jpg"));
  g_assert_nonnull (strstr (got->pdata[1], "9999"));
  g_assert_cmpuint (g_list_model_get_n_items (clipscope_session_get_images (session)), ==, 1);
  g_signal_handlers_disconnect_by_data (session, got);
}

/* Hostile files dropped on the window are decoded in the decoder
 * processes: the window's memory does not grow by what they decode to,
 * its main loop keeps turning, the bad ones are named, and thumbnails of
 * the good ones look as GdkPixbuf draws them. */
static void
test_window_hostile_drop (void)
{
  ClipscopeWindow *window = g_object_ref_sink (clipscope_window_new (NULL));
  ClipscopeSession *session = clipscope_window_get_session (window);
  g_autofree char *dir = g_build_filename (scratch_dir, "hostile", NULL);
  g_autofree char *plain = g_build_filename (dir, "plain.png", NULL);
  g_autofree char *zeros = g_build_filename (dir, "zeros.png", NULL);
  g_autofree char *huge = g_build_filename (dir, "huge.png", NULL);
  g_autofree char *claims = g_build_filename (dir, "claims.jpg", NULL);
  g_autofree char *svg = g_build_filename (dir, "filters.svg", NULL);
  g_autoptr(GString) bomb = g_string_new (NULL);
  g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GFile) folder = g_file_new_for_path (dir);
  g_autoptr(GdkPixbuf) want = NULL;
  g_auto(GValue) value = G_VALUE_INIT;
  ClipscopeImage *shown[3] = { NULL, NULL, NULL };
  GdkTexture *texture;
  g_autofree guchar *pixels = NULL;
  Ticks ticks = { 0, 0 };
  gboolean accepted = FALSE;
  long before, after;
  int max_diff = 0;
  guint id;

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  {
    g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 300, 200);
    guchar *p = gdk_pixbuf_get_pixels (pixbuf);
    int stride = gdk_pixbuf_get_rowstride (pixbuf);

    for (int y = 0; y < 200; y++)
      for (int x = 0; x < 300; x++)
        {
          p[y * stride + 3 * x] = (guchar) (x * 255 / 299);
          p[y * stride + 3 * x + 1] = (guchar) (y * 255 / 199);
          p[y * stride + 3 * x + 2] = (guchar) (((x / 20) ^ (y / 20)) & 1 ? 220 : 30);
        }
    g_assert_true (gdk_pixbuf_save (pixbuf, plain, "png", NULL, NULL));
  }
  /* 81 million pixels, under the engine's limit: 243 MB as a GdkPixbuf. */
  write_zeros_png (zeros, 9000, 9000);
  /* 400 million, over it: refused before anything is allocated. */
  write_zeros_png (huge, 20000, 20000);
  write_claiming_jpeg (claims);
  g_string_append (bomb, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"40000\" height=\"40000\" "
                         "viewBox=\"0 0 100 100\"><defs><filter id=\"f\" x=\"-50\" y=\"-50\" "
                         "width=\"100\" height=\"100\"><feGaussianBlur stdDeviation=\"200\"/>"
                         "<feMorphology radius=\"400\" operator=\"dilate\"/></filter></defs>");
  for (int i = 0; i < 20; i++)
    g_string_append (bomb, "<rect width=\"100\" height=\"100\" filter=\"url(#f)\"/>");
  g_string_append (bomb, "</svg>");
  g_assert_true (g_file_set_contents (svg, bomb->str, (gssize) bomb->len, NULL));

  g_signal_connect (session, "images-failed", G_CALLBACK (collect_failures_cb), got);
  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 800);
  gtk_window_present (GTK_WINDOW (window));
  gtk_widget_activate_action (GTK_WIDGET (window), "win.load-model", "s", model_dir);
  wait_idle (session);
  for (int i = 0; i < 100 && !gtk_widget_get_mapped (GTK_WIDGET (window)); i++)
    wait_ms (20);
  wait_ms (300);

  if (!reset_peak_rss ())
    g_test_message ("the peak RSS could not be reset; growth is measured from the last peak");
  before = peak_rss_kib ();
  g_value_init (&value, G_TYPE_FILE);
  g_value_set_object (&value, folder);
  ticks.last = g_get_monotonic_time ();
  id = g_timeout_add (10, tick_cb, &ticks);
  g_signal_emit_by_name (clipscope_window_get_drop_target (window), "drop", &value, 1.0, 1.0, &accepted);
  g_assert_true (accepted);
  wait_idle (session);
  shown[0] = find_image (session, "plain.png");
  shown[1] = find_image (session, "zeros.png");
  g_assert_nonnull (shown[0]);
  g_assert_nonnull (shown[1]);
  wait_while (thumbnails_missing, shown);
  g_source_remove (id);
  after = peak_rss_kib ();

  g_test_message ("peak RSS grew by %.1f MB; longest main-loop stall %.1f ms",
                  (after - before) / 1024.0, ticks.worst / 1000.0);
  /* Decoding the 9000 × 9000 PNG here would take 243 MB at once. */
  g_assert_cmpint (after - before, <, 80 * 1024);
  g_assert_cmpint (ticks.worst, <, 1000 * G_TIME_SPAN_MILLISECOND);

  /* The two bad files are named, once, with their reasons. */
  g_assert_cmpuint (got->len, ==, 3);
  g_assert_nonnull (strstr (got->pdata[0], "claims.jpg"));
  g_assert_nonnull (strstr (got->pdata[0], "huge.png"));
  for (guint i = 1; i < 3; i++)
    g_assert_true (strstr (got->pdata[i], "9999") != NULL || strstr (got->pdata[i], "limit") != NULL);
  g_assert_null (find_image (session, "claims.jpg"));
  g_assert_null (find_image (session, "huge.png"));

  /* A plain PNG's thumbnail has GdkPixbuf's size and pixels. */
  want = gdk_pixbuf_new_from_file_at_scale (plain, 128, 128, TRUE, NULL);
  g_assert_nonnull (want);
  texture = clipscope_image_get_thumbnail (shown[0]);
  g_assert_cmpint (gdk_texture_get_width (texture), ==, gdk_pixbuf_get_width (want));
  g_assert_cmpint (gdk_texture_get_height (texture), ==, gdk_pixbuf_get_height (want));
  pixels = g_malloc ((gsize) 4 * 128 * 128);
  gdk_texture_download (texture, pixels, 4 * 128);
  for (int y = 0; y < gdk_pixbuf_get_height (want); y++)
    for (int x = 0; x < gdk_pixbuf_get_width (want); x++)
      {
        const guchar *w = gdk_pixbuf_read_pixels (want) + y * gdk_pixbuf_get_rowstride (want) + 3 * x;
        guint32 argb;

        /* Cairo's ARGB32, in native byte order. */
        memcpy (&argb, pixels + 4 * 128 * y + 4 * x, 4);
        max_diff = MAX (max_diff, ABS ((int) (argb >> 16 & 0xff) - w[0]));
        max_diff = MAX (max_diff, ABS ((int) (argb >> 8 & 0xff) - w[1]));
        max_diff = MAX (max_diff, ABS ((int) (argb & 0xff) - w[2]));
      }
  g_assert_cmpint (max_diff, <=, 2);
  g_assert_cmpint (gdk_texture_get_width (clipscope_image_get_thumbnail (shown[1])), ==, 128);

  save_shot (window, "test-hostile-drop.png");
  g_signal_handlers_disconnect_by_data (session, got);
  close_window (window);
}

/* A picture another program puts on the clipboard is stored as it is and
 * decoded in the decoder processes, not here: pasting a decompression
 * bomb costs the window nothing. */
static void
test_window_paste_bytes (void)
{
  ClipscopeWindow *window = g_object_ref_sink (clipscope_window_new (NULL));
  ClipscopeSession *session = clipscope_window_get_session (window);
  GListModel *images = clipscope_session_get_images (session);
  g_autofree char *zeros = g_build_filename (scratch_dir, "paste-zeros.png", NULL);
  g_autofree char *contents = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GdkContentProvider) provider = NULL;
  g_autoptr(ClipscopeImage) image = NULL;
  ClipscopeImage *shown[2] = { NULL, NULL };
  gsize length = 0;
  long before, after;

  write_zeros_png (zeros, 9000, 9000);
  g_assert_true (g_file_get_contents (zeros, &contents, &length, NULL));
  bytes = g_bytes_new_take (g_steal_pointer (&contents), length);
  provider = gdk_content_provider_new_for_bytes ("image/png", bytes);
  gtk_window_present (GTK_WINDOW (window));
  wait_idle (session);
  g_assert_true (gdk_clipboard_set_content (gtk_widget_get_clipboard (GTK_WIDGET (window)), provider));

  if (!reset_peak_rss ())
    g_test_message ("the peak RSS could not be reset; growth is measured from the last peak");
  before = peak_rss_kib ();
  gtk_widget_activate_action (GTK_WIDGET (window), "win.paste", NULL);
  for (int i = 0; i < 3000 && g_list_model_get_n_items (images) == 0; i++)
    wait_ms (20);
  g_assert_cmpuint (g_list_model_get_n_items (images), ==, 1);
  image = g_list_model_get_item (images, 0);
  shown[0] = image;
  wait_while (thumbnails_missing, shown);
  wait_idle (session);
  after = peak_rss_kib ();

  g_test_message ("peak RSS grew by %.1f MB", (after - before) / 1024.0);
  g_assert_cmpint (after - before, <, 80 * 1024);
  g_assert_true (g_str_has_prefix (clipscope_image_get_path (image), g_get_user_cache_dir ()));
  g_assert_true (g_str_has_suffix (clipscope_image_get_path (image), ".png"));
  g_assert_cmpint (gdk_texture_get_width (clipscope_image_get_thumbnail (image)), ==, 128);
  /* Folders the other tests drop hold the cache folder. */
  g_assert_cmpint (g_unlink (clipscope_image_get_path (image)), ==, 0);
  close_window (window);
}

int
main (int   argc,
      char *argv[])
{
  int status;

  make_fixtures ();

  /* Pasted pictures are stored in the cache folder: keep them in ours.
   * Set before GTK starts, since GLib reads it once. */
  {
    g_autofree char *cache = g_build_filename (workdir, "cache", NULL);

    g_setenv ("XDG_CACHE_HOME", cache, TRUE);
  }
  /* Models are installed under a folder of ours, and the bundled one is
   * our stand-in. */
  {
    g_autofree char *data_home = g_build_filename (workdir, "data", NULL);

    g_setenv ("XDG_DATA_HOME", data_home, TRUE);
    g_setenv ("CLIPSCOPE_DATA_DIR", data_dir, TRUE);
  }
  /* The Search view remembers its folders in the configuration folder. */
  {
    g_autofree char *config = g_build_filename (workdir, "config", NULL);

    g_setenv ("XDG_CONFIG_HOME", config, TRUE);
  }
  /* Downloads come from a hub of ours, whichever store makes them. */
  {
    g_autofree char *endpoint = start_hub ();

    g_setenv ("HF_ENDPOINT", endpoint, TRUE);
    g_unsetenv ("HF_TOKEN");
  }

  /* As tests/meson.build sets it: software GL would compile shaders with
   * LLVM on the main thread and blur the responsiveness figures. */
  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  g_test_add_func ("/gui/colormap/viridis", test_colormap);
  g_test_add_func ("/gui/template/validation", test_template_validation);
  g_test_add_func ("/gui/session/matches-cli", test_session_matches_cli);
  g_test_add_func ("/gui/session/debounce", test_session_debounce);
  g_test_add_func ("/gui/session/chunks", test_session_chunks);
  g_test_add_func ("/gui/session/bad-model", test_session_bad_model);
  g_test_add_func ("/gui/window/drop-and-actions", test_window_drop_and_actions);
  g_test_add_func ("/gui/window/label-commas", test_window_label_commas);
  g_test_add_func ("/gui/window/label-progress", test_window_label_progress);
  g_test_add_func ("/gui/window/labels-encoding", test_window_labels_encoding);
  g_test_add_func ("/gui/window/thumbnail-strip", test_window_thumbnail_strip);
  g_test_add_func ("/gui/window/undo", test_window_undo);
  g_test_add_func ("/gui/window/family-template", test_window_family_template);
  g_test_add_func ("/gui/window/sigmoid", test_window_sigmoid);
  g_test_add_func ("/gui/window/adaptive", test_window_adaptive);
  g_test_add_func ("/gui/window/heatmap-cells", test_window_heatmap_cells);
  g_test_add_func ("/gui/window/responsive", test_window_responsive);
  g_test_add_func ("/gui/window/explain", test_window_explain);
  g_test_add_func ("/gui/window/contributions", test_window_contributions);
  g_test_add_func ("/gui/window/examples", test_window_examples);
  g_test_add_func ("/gui/window/sort", test_window_sort);
  g_test_add_func ("/gui/window/compare", test_window_compare);
  g_test_add_func ("/gui/window/search", test_window_search);
  g_test_add_func ("/gui/window/image-failures", test_window_image_failures);
  g_test_add_func ("/gui/session/thumbnail-failure", test_session_thumbnail_failure);
  g_test_add_func ("/gui/window/hostile-drop", test_window_hostile_drop);
  g_test_add_func ("/gui/window/paste-bytes", test_window_paste_bytes);
  g_test_add_func ("/gui/preferences/bindings", test_preferences);
  g_test_add_func ("/gui/preferences/precision", test_preferences_precision);
  g_test_add_func ("/gui/models/list", test_models_list);
  g_test_add_func ("/gui/models/use", test_models_use);
  g_test_add_func ("/gui/models/add-remove", test_models_add_remove);
  g_test_add_func ("/gui/models/download", test_models_download);
  g_test_add_func ("/gui/models/cancel", test_models_cancel);
  g_test_add_func ("/gui/app/screenshot", test_app_screenshot);
  g_test_add_func ("/gui/app/scale2", test_app_scale2);
  status = g_test_run ();

  g_subprocess_force_exit (hub);
  g_subprocess_wait (hub, NULL, NULL);
  g_clear_object (&hub);
  remove_tree (workdir);
  remove_tree (scratch_dir);
  return status;
}
