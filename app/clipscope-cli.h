/* clipscope-cli.h — what the files of the `clipscope` tool share */
#pragma once

#include <clipscope.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define EXIT_USAGE 2

typedef struct {
  const char *name;
  const char *parameters;     /* positional arguments, for --help */
  const char *summary;
  int       (*run) (int argc, char **argv);
} Command;

const Command *find_command (const char *name);

/* Prints a usage error and returns EXIT_USAGE. */
int usage_error (const char *sub,
                 const char *message);
/* Prints "clipscope: error: …" and returns EXIT_FAILURE. */
int fail (const GError *error);

/* Parses --model, --backend and @entries; on return argv[1 …] are the
 * positional arguments. FALSE means a usage error has been printed. */
gboolean parse_options (const Command      *cmd,
                        const GOptionEntry *entries,
                        int                *argc,
                        char             ***argv);
/* Checks the common options; a usage error has been printed on FALSE. */
gboolean check_common (const Command    *cmd,
                       ClipscopeBackend *backend);

ClipscopeModel *load_model (GError **error);
ClipscopeContext *new_context (ClipscopeModel  *model,
                               ClipscopeBackend backend,
                               int              batch,
                               GError         **error);

void print_json (JsonBuilder *builder);
void add_int (JsonBuilder *b,
              const char  *name,
              gint64       v);
void add_string (JsonBuilder *b,
                 const char  *name,
                 const char  *v);

/* Adds the templates of --template-preset @name (none when NULL); FALSE
 * means a usage error has been printed. */
gboolean add_template_preset (const Command *cmd,
                              const char    *name,
                              GPtrArray     *templates);

/* clipscope-cli-search.c */
int cmd_index (int argc, char **argv);
int cmd_search (int argc, char **argv);
int cmd_duplicates (int argc, char **argv);

G_END_DECLS
