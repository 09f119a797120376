/* clipscope-cli-search.c — `clipscope index`, `search` and `duplicates` */
#include "clipscope-cli.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_TOP        20
#define DEFAULT_THRESHOLD  0.95

/* Opens the model's index (or @path), saying on stderr when the file was
 * not usable and has been made anew. */
static ClipscopeIndex *
open_index (ClipscopeModel *model,
            const char     *path,
            GError        **error)
{
  g_autofree char *rebuilt = NULL;
  ClipscopeIndex *index = clipscope_index_open (model, path, &rebuilt, error);

  if (rebuilt != NULL)
    g_printerr ("clipscope: warning: %s\n", rebuilt);
  return index;
}

/* ------------------------------------------------------------- index */

typedef struct {
  ClipscopeIndex      *index;
  ClipscopeContext    *ctx;
  char               **folders;
  GCancellable        *cancellable;
  GMainLoop           *loop;
  gboolean             tty;
  gint64               last_report;
  gboolean             reported;
  gboolean             ok;
  ClipscopeIndexStats *stats;
  GError              *error;
} IndexRun;

/* On the indexing thread: one line rewritten on a terminal, else a line
 * a second at most. */
static void
index_progress_cb (int         done,
                   int         total,
                   const char *path,
                   gpointer    user_data)
{
  IndexRun *run = user_data;
  gint64 now = g_get_monotonic_time ();

  if (now - run->last_report < (run->tty ? G_USEC_PER_SEC / 10 : G_USEC_PER_SEC) && done < total)
    return;
  run->last_report = now;
  run->reported = TRUE;
  if (run->tty)
    {
      g_autofree char *line = g_strdup_printf (_("indexing %d/%d  %s"), done, total, path);

      g_printerr ("\r\033[K%s", line);
    }
  else
    g_printerr (_("clipscope: indexed %d of %d\n"), done, total);
}

static gboolean
quit_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static gpointer
index_thread (gpointer data)
{
  IndexRun *run = data;

  run->ok = clipscope_index_update (run->index, run->ctx, (const char * const *) run->folders,
                                    g_strv_length (run->folders), index_progress_cb, run,
                                    &run->stats, run->cancellable, &run->error);
  g_idle_add (quit_cb, run->loop);
  return NULL;
}

static gboolean
interrupt_cb (gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
  return G_SOURCE_CONTINUE;
}

/* Runs the update on a thread of its own so that Ctrl-C (or SIGTERM)
 * cancels it cleanly: what was committed stays in the index. */
static void
run_update (IndexRun *run)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  GThread *thread;
  guint sigint, sigterm;

  run->loop = loop;
  run->cancellable = cancellable;
  run->tty = isatty (STDERR_FILENO);
  sigint = g_unix_signal_add (SIGINT, interrupt_cb, cancellable);
  sigterm = g_unix_signal_add (SIGTERM, interrupt_cb, cancellable);
  thread = g_thread_new ("clipscope-index", index_thread, run);
  g_main_loop_run (loop);
  g_thread_join (thread);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  if (run->tty && run->reported)
    g_printerr ("\n");
  run->loop = NULL;
  run->cancellable = NULL;
}

static void
add_stats (JsonBuilder               *b,
           const ClipscopeIndexStats *stats)
{
  add_int (b, "found", stats->found);
  add_int (b, "unchanged", stats->unchanged);
  add_int (b, "encoded", stats->encoded);
  add_int (b, "reused", stats->reused);
  add_int (b, "removed", stats->removed);
  json_builder_set_member_name (b, "failed");
  json_builder_begin_array (b);
  for (guint i = 0; i < stats->failures->len; i++)
    {
      const ClipscopeIndexFailure *f = stats->failures->pdata[i];

      json_builder_begin_object (b);
      add_string (b, "path", f->path);
      add_string (b, "error", f->message);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

int
cmd_index (int    argc,
           char **argv)
{
  const Command *cmd = find_command ("index");
  g_autofree char *index_path = NULL;
  int batch = 0;
  const GOptionEntry entries[] = {
    { "index", 0, 0, G_OPTION_ARG_FILENAME, &index_path,
      N_("The index file (default: the model's, under $XDG_DATA_HOME/clipscope/index)"), "FILE" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, N_("Images encoded in one pass (default 16)"), "N" },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeModel) model = NULL;
  g_autoptr(ClipscopeContext) ctx = NULL;
  g_autoptr(ClipscopeIndex) index = NULL;
  g_autoptr(ClipscopeIndexStats) stats = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  IndexRun run = { 0 };
  ClipscopeBackend backend;
  int64_t count;

  if (!parse_options (cmd, entries, &argc, &argv) || !check_common (cmd, &backend))
    return EXIT_USAGE;
  if (argc < 2)
    return usage_error (cmd->name, _("no folders: give one or more FOLDER"));
  if (batch < 0)
    return usage_error (cmd->name, _("--batch must be positive"));
  if ((model = load_model (&error)) == NULL
      || (ctx = new_context (model, backend, batch, &error)) == NULL
      || (index = open_index (model, index_path, &error)) == NULL)
    return fail (error);

  run.index = index;
  run.ctx = ctx;
  run.folders = g_strdupv (argv + 1);
  run_update (&run);
  g_strfreev (run.folders);
  stats = run.stats;
  for (guint i = 0; stats != NULL && i < stats->failures->len; i++)
    g_printerr ("clipscope: warning: %s\n",
                ((ClipscopeIndexFailure *) stats->failures->pdata[i])->message);
  if (!run.ok)
    {
      g_autoptr(GError) owned = run.error;

      if (g_error_matches (owned, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_printerr (_("clipscope: error: interrupted; the %d images indexed so far are kept "
                        "(run the same command to go on)\n"),
                      stats ? stats->encoded + stats->reused : 0);
          return EXIT_FAILURE;
        }
      return fail (owned);
    }
  if ((count = clipscope_index_count (index, &error)) < 0)
    return fail (error);

  json_builder_begin_object (b);
  add_string (b, "index", clipscope_index_get_path (index));
  add_stats (b, stats);
  add_int (b, "images", count);
  json_builder_end_object (b);
  print_json (b);
  return EXIT_SUCCESS;
}

/* ------------------------------------------------------------ search */

static void
add_strings (JsonBuilder        *b,
             const char         *name,
             const char * const *v,
             int                 n)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (int i = 0; i < n; i++)
    json_builder_add_string_value (b, v[i]);
  json_builder_end_array (b);
}

static void
add_hits (JsonBuilder             *b,
          const ClipscopeIndexHit *hits,
          int                      n_hits)
{
  json_builder_set_member_name (b, "results");
  json_builder_begin_array (b);
  for (int i = 0; i < n_hits; i++)
    {
      json_builder_begin_object (b);
      add_string (b, "path", hits[i].path);
      json_builder_set_member_name (b, "score");
      json_builder_add_double_value (b, hits[i].score);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

/* --template entries and those of --templates-file, in that order. */
static GPtrArray *
gather_templates (char      **options,
                  const char *file,
                  GError    **error)
{
  g_autoptr(GPtrArray) templates = g_ptr_array_new_with_free_func (g_free);

  for (char **t = options; t != NULL && *t != NULL; t++)
    g_ptr_array_add (templates, g_strdup (*t));
  if (file != NULL)
    {
      g_auto(GStrv) lines = clipscope_read_list_file (file, error);

      if (lines == NULL)
        return NULL;
      for (char **t = lines; *t != NULL; t++)
        g_ptr_array_add (templates, g_strdup (*t));
    }
  return g_steal_pointer (&templates);
}

int
cmd_search (int    argc,
            char **argv)
{
  const Command *cmd = find_command ("search");
  g_autofree char *index_path = NULL, *within = NULL, *templates_file = NULL, *preset = NULL;
  g_auto(GStrv) images = NULL, template_opts = NULL;
  int top = DEFAULT_TOP;
  const GOptionEntry entries[] = {
    { "image", 'i', 0, G_OPTION_ARG_FILENAME_ARRAY, &images, N_("An example image (repeatable)"), "FILE" },
    { "top", 'k', 0, G_OPTION_ARG_INT, &top, N_("How many results (default 20; 0 for all)"), "K" },
    { "in", 0, 0, G_OPTION_ARG_FILENAME, &within, N_("Only images under this folder"), "FOLDER" },
    { "template", 't', 0, G_OPTION_ARG_STRING_ARRAY, &template_opts,
      N_("A prompt with {} each text is put into (repeatable; default: the text as typed)"), "T" },
    { "templates-file", 0, 0, G_OPTION_ARG_FILENAME, &templates_file, N_("Prompts, one a line"), "F" },
    { "template-preset", 0, 0, G_OPTION_ARG_STRING, &preset,
      N_("A set of prompts: photo, imagenet, chinese or chinese-imagenet"), "NAME" },
    { "index", 0, 0, G_OPTION_ARG_FILENAME, &index_path,
      N_("The index file (default: the model's, under $XDG_DATA_HOME/clipscope/index)"), "FILE" },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeModel) model = NULL;
  g_autoptr(ClipscopeContext) ctx = NULL;
  g_autoptr(ClipscopeIndex) index = NULL;
  g_autoptr(GPtrArray) templates = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree float *query = NULL;
  ClipscopeIndexHit *hits;
  ClipscopeBackend backend;
  int n_texts, n_images, n_hits;

  if (!parse_options (cmd, entries, &argc, &argv) || !check_common (cmd, &backend))
    return EXIT_USAGE;
  n_texts = argc - 1;
  n_images = images ? (int) g_strv_length (images) : 0;
  if (n_texts + n_images == 0)
    return usage_error (cmd->name, _("nothing to search for: give a QUERY or --image FILE"));
  if (top < 0)
    return usage_error (cmd->name, _("--top must be 0 (all) or more"));
  if ((templates = gather_templates (template_opts, templates_file, &error)) == NULL)
    return fail (error);
  if (!add_template_preset (cmd, preset, templates))
    return EXIT_USAGE;
  for (guint i = 0; i < templates->len; i++)
    if (!clipscope_template_is_valid (templates->pdata[i]))
      {
        g_autofree char *msg = g_strdup_printf (_("template \"%s\" must hold exactly one {}"),
                                                (char *) templates->pdata[i]);
        return usage_error (cmd->name, msg);
      }
  if ((model = load_model (&error)) == NULL
      || (ctx = new_context (model, backend, 0, &error)) == NULL
      || (index = open_index (model, index_path, &error)) == NULL)
    return fail (error);

  query = g_new (float, clipscope_model_get_info (model)->embed_dim);
  if (!clipscope_query_build (ctx, (const char * const *) argv + 1, n_texts,
                              (const char * const *) templates->pdata, templates->len,
                              (const char * const *) images, n_images, query, NULL, &error))
    return fail (error);
  hits = clipscope_index_search (index, query, top, within, &n_hits, &error);
  if (hits == NULL)
    return fail (error);

  json_builder_begin_object (b);
  add_strings (b, "texts", (const char * const *) argv + 1, n_texts);
  add_strings (b, "images", (const char * const *) images, n_images);
  add_strings (b, "templates", (const char * const *) templates->pdata, templates->len);
  add_hits (b, hits, n_hits);
  json_builder_end_object (b);
  print_json (b);
  clipscope_index_hits_free (hits, n_hits);
  return EXIT_SUCCESS;
}

/* -------------------------------------------------------- duplicates */

int
cmd_duplicates (int    argc,
                char **argv)
{
  const Command *cmd = find_command ("duplicates");
  g_autofree char *index_path = NULL, *within = NULL;
  double threshold = DEFAULT_THRESHOLD;
  const GOptionEntry entries[] = {
    { "threshold", 0, 0, G_OPTION_ARG_DOUBLE, &threshold,
      N_("The cosine from which two images count as near-identical (default 0.95)"), "COS" },
    { "in", 0, 0, G_OPTION_ARG_FILENAME, &within, N_("Only images under this folder"), "FOLDER" },
    { "index", 0, 0, G_OPTION_ARG_FILENAME, &index_path,
      N_("The index file (default: the model's, under $XDG_DATA_HOME/clipscope/index)"), "FILE" },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeModel) model = NULL;
  g_autoptr(ClipscopeIndex) index = NULL;
  g_autoptr(GPtrArray) groups = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  ClipscopeBackend backend;

  if (!parse_options (cmd, entries, &argc, &argv) || !check_common (cmd, &backend))
    return EXIT_USAGE;
  if (argc > 1)
    return usage_error (cmd->name, _("duplicates takes no arguments"));
  if (!(threshold >= -1.0 && threshold <= 1.0))
    return usage_error (cmd->name, _("--threshold is a cosine: it must be between -1 and 1"));
  if ((model = load_model (&error)) == NULL
      || (index = open_index (model, index_path, &error)) == NULL
      || (groups = clipscope_index_find_duplicates (index, (float) threshold, within,
                                                     NULL, &error)) == NULL)
    return fail (error);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "threshold");
  json_builder_add_double_value (b, threshold);
  json_builder_set_member_name (b, "groups");
  json_builder_begin_array (b);
  for (guint i = 0; i < groups->len; i++)
    {
      const char * const *paths = groups->pdata[i];

      json_builder_begin_object (b);
      add_strings (b, "paths", paths, g_strv_length ((char **) paths));
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  print_json (b);
  return EXIT_SUCCESS;
}
