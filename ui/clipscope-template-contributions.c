/* clipscope-template-contributions.c — what each prompt template adds to a label
 *
 * Under the template list, for the shown image and one label, a row per
 * enabled template: the prompt with the label filled in, its own cosine
 * with the image, and the label's similarity were that template disabled.
 * The prompts are encoded one by one on the session's worker, whose cache
 * already holds them once the label has been scored; the sums are then
 * clipscope_template_contributions() on the main thread. A request holds
 * the cancellable that was current when it was made, and a result whose
 * cancellable has since been replaced is dropped.
 */
#include "clipscope-template-contributions.h"
#include <glib/gi18n.h>
#include "clipscope-label-dropdown.h"
#include "clipscope-weak-ref.h"

#include <clipscope.h>
#include <math.h>

typedef struct {
  char  *prompt;
  float  cosine;
  float  without;   /* NaN when no other template is left */
} Contribution;

struct _ClipscopeTemplateContributions {
  AdwBin                  parent_instance;

  /* Template Widgets */
  ClipscopeLabelDropdown  labels;
  GtkLabel               *summary;
  GtkWidget              *scroller;
  GtkListBox             *rows;

  /* Owned References */
  ClipscopeSession       *session;
  ClipscopeImage         *image;
  GCancellable           *cancellable;    /* of the request in flight, or NULL */
  char                   *key;            /* what the shown or pending result is of */
  GArray                 *contributions;  /* of Contribution, highest cosine first */
  char                   *result_label;
  char                   *result_image;
  char                   *error_message;

  float                   ensemble;
};

G_DEFINE_FINAL_TYPE (ClipscopeTemplateContributions, clipscope_template_contributions, ADW_TYPE_BIN)

typedef struct {
  GWeakRef        ref;
  ClipscopeImage *image;
  char           *label;
  GStrv           prompts;
} Request;

static void
request_free (Request *request)
{
  g_weak_ref_clear (&request->ref);
  g_clear_object (&request->image);
  g_free (request->label);
  g_strfreev (request->prompts);
  g_free (request);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Request, request_free)

static void
contribution_clear (Contribution *c)
{
  g_free (c->prompt);
}

/* ------------------------------------------------------------ state */

static void
cancel_request (ClipscopeTemplateContributions *self)
{
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
}

static void
clear_result (ClipscopeTemplateContributions *self)
{
  g_array_set_size (self->contributions, 0);
  g_clear_pointer (&self->result_label, g_free);
  g_clear_pointer (&self->result_image, g_free);
  g_clear_pointer (&self->error_message, g_free);
  self->ensemble = NAN;
}

/* The enabled templates as scored, each with @label filled in. */
static GStrv
dup_prompts (ClipscopeTemplateContributions *self,
             const char                     *label)
{
  g_auto(GStrv) templates = clipscope_session_dup_enabled_templates (self->session);
  guint n = g_strv_length (templates);
  GStrv prompts = g_new0 (char *, n + 1);

  for (guint i = 0; i < n; i++)
    prompts[i] = clipscope_template_apply (templates[i], label);
  return prompts;
}

/* Everything a result depends on; the image's embedding is cleared when
 * a model loads, so its absence covers a model change. */
static char *
make_key (ClipscopeTemplateContributions *self,
          const char                     *label,
          const char * const             *prompts)
{
  g_autofree char *joined = g_strjoinv ("\x1f", (char **) prompts);

  return g_strdup_printf ("%s\x1e%s\x1e%s\x1e%s", clipscope_session_get_model_path (self->session),
                          clipscope_image_get_path (self->image), label, joined);
}

/* ------------------------------------------------------------ display */

static int
compare_cosines (gconstpointer a,
                 gconstpointer b)
{
  float x = ((const Contribution *) a)->cosine, y = ((const Contribution *) b)->cosine;

  return (x < y) - (x > y);
}

static GtkWidget *
make_level_bar (double fraction)
{
  GtkWidget *bar = gtk_level_bar_new_for_interval (0.0, 1.0);

  /* One colour for every row: the default thresholds would paint low
   * cosines as warnings, and a low cosine here is no fault. */
  gtk_level_bar_remove_offset_value (GTK_LEVEL_BAR (bar), GTK_LEVEL_BAR_OFFSET_LOW);
  gtk_level_bar_remove_offset_value (GTK_LEVEL_BAR (bar), GTK_LEVEL_BAR_OFFSET_HIGH);
  gtk_level_bar_remove_offset_value (GTK_LEVEL_BAR (bar), GTK_LEVEL_BAR_OFFSET_FULL);
  gtk_level_bar_set_value (GTK_LEVEL_BAR (bar), fraction);
  gtk_widget_set_hexpand (bar, TRUE);
  gtk_widget_set_valign (bar, GTK_ALIGN_CENTER);
  return bar;
}

static GtkWidget *
make_label (const char *text,
            const char *css_class)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), 0.0f);
  if (css_class != NULL)
    gtk_widget_add_css_class (label, css_class);
  return label;
}

/* "without: 0.270 (−0.013 vs ensemble)": below zero, disabling the
 * template would lower the label's similarity, so the template helps. */
static GtkWidget *
make_without_label (float without,
                    float ensemble)
{
  g_autofree char *text = NULL;
  GtkWidget *label;

  if (isnan (without) || isnan (ensemble))
    return make_label (_("without: —"), "dim-label");
  text = g_strdup_printf (_("without: %.3f (%+.3f vs ensemble)"), without, without - ensemble);
  label = make_label (text, without < ensemble ? "success" : "warning");
  gtk_widget_set_tooltip_text (label, without < ensemble ? _("Disabling this template would lower the similarity")
                                                         : _("Disabling this template would raise the similarity"));
  return label;
}

/* The bars show rank and spread rather than the raw cosine: the prompts
 * of one label land in a narrow band, where bars from zero would all
 * look alike. The lowest keeps a stub so it still reads as a bar. */
static GtkWidget *
make_row (const Contribution *c,
          float               low,
          float               high,
          float               ensemble)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *line = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  GtkWidget *prompt = make_label (c->prompt, NULL);
  g_autofree char *value = g_strdup_printf ("%.3f", c->cosine);
  double fraction = high - low > 1e-6f ? 0.15 + 0.85 * (c->cosine - low) / (high - low) : 1.0;
  GtkWidget *without = make_without_label (c->without, ensemble);
  GtkWidget *row;

  gtk_widget_set_margin_start (box, 10);
  gtk_widget_set_margin_end (box, 10);
  gtk_widget_set_margin_top (box, 6);
  gtk_widget_set_margin_bottom (box, 6);
  gtk_label_set_ellipsize (GTK_LABEL (prompt), PANGO_ELLIPSIZE_END);
  gtk_widget_set_tooltip_text (prompt, c->prompt);
  gtk_box_append (GTK_BOX (box), prompt);
  gtk_box_append (GTK_BOX (line), make_level_bar (fraction));
  gtk_box_append (GTK_BOX (line), make_label (value, "numeric"));
  gtk_box_append (GTK_BOX (box), line);
  gtk_widget_add_css_class (without, "caption");
  gtk_widget_add_css_class (without, "numeric");
  gtk_box_append (GTK_BOX (box), without);

  row = gtk_list_box_row_new ();
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), FALSE);
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);
  return row;
}

static void
fill_rows (ClipscopeTemplateContributions *self)
{
  float low = INFINITY, high = -INFINITY;
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->rows))) != NULL)
    gtk_list_box_remove (self->rows, child);
  for (guint i = 0; i < self->contributions->len; i++)
    {
      float c = g_array_index (self->contributions, Contribution, i).cosine;

      low = MIN (low, c);
      high = MAX (high, c);
    }
  for (guint i = 0; i < self->contributions->len; i++)
    gtk_list_box_append (self->rows, make_row (&g_array_index (self->contributions, Contribution, i),
                                               low, high, self->ensemble));
  gtk_widget_set_visible (self->scroller, self->contributions->len > 0);
}

static void
update_summary (ClipscopeTemplateContributions *self)
{
  g_autofree char *text = NULL;
  guint n = self->contributions->len;

  if (self->session == NULL || clipscope_session_get_model_path (self->session) == NULL)
    text = g_strdup (_("Open a model to compare templates"));
  else if (self->error_message != NULL)
    text = g_strdup_printf (_("Could not encode the prompts: %s"), self->error_message);
  else if (self->image == NULL)
    text = g_strdup (_("Select a cell of the heatmap to see what each template adds to it"));
  else if (clipscope_template_contributions_get_label (self) == NULL
           && clipscope_session_get_labels_encoding (self->session))
    text = g_strdup (_("Encoding the labels…"));
  else if (clipscope_template_contributions_get_label (self) == NULL)
    text = g_strdup (_("Add a label to see what each template adds to it"));
  else if (n > 0)
    {
      /* These are the label's prompts; with examples the heatmap's cell
       * is not their ensemble, and the summary says so. */
      ClipscopeLabelMode mode = clipscope_session_get_label_mode (self->session, self->result_label);
      const char *note = mode == CLIPSCOPE_LABEL_MODE_PROTOTYPE
                         ? _("These are its prompts alone: the heatmap blends in its example images.")
                         : mode == CLIPSCOPE_LABEL_MODE_PROBE
                         ? _("These are its prompts alone: the heatmap scores it with the linear probe.")
                         : NULL;
      g_autofree char *summary = NULL;

      summary = g_strdup_printf (ngettext ("“%s” on %s: %.3f, the ensemble of %u template",
                                           "“%s” on %s: %.3f, the ensemble of %u templates", n),
                                 self->result_label, self->result_image, self->ensemble, n);
      /* TRANSLATORS: the summary, then a note on it */
      text = note != NULL ? g_strdup_printf (_("%s. %s"), summary, note) : g_steal_pointer (&summary);
    }
  else
    text = g_strdup (_("Encoding…"));
  gtk_label_set_label (self->summary, text);
}

static void
update_display (ClipscopeTemplateContributions *self)
{
  fill_rows (self);
  update_summary (self);
  /* Rows of the previous request stay, greyed, until the new ones come. */
  gtk_widget_set_sensitive (self->scroller, self->cancellable == NULL);
}

/* ------------------------------------------------------------ requests */

/* Takes the per-template texts of @request and sums them against the
 * image; FALSE when the image has no embedding of their size (a model
 * changed meanwhile), so the next signal asks again. */
static gboolean
store_result (ClipscopeTemplateContributions *self,
              Request                        *request,
              const float                    *texts,
              int                             dim)
{
  int n = (int) g_strv_length (request->prompts), image_dim = 0;
  const float *image = clipscope_image_get_embedding (request->image, &image_dim);
  g_autofree float *cosines = NULL;
  g_autofree float *without = NULL;

  if (image == NULL || image_dim != dim || n == 0)
    return FALSE;
  cosines = g_new (float, n);
  without = g_new (float, n);
  clear_result (self);
  self->ensemble = clipscope_template_contributions (texts, n, image, dim, cosines, without);
  for (int k = 0; k < n; k++)
    {
      Contribution c = { g_strdup (request->prompts[k]), cosines[k], without[k] };

      g_array_append_val (self->contributions, c);
    }
  g_array_sort (self->contributions, compare_cosines);
  self->result_label = g_strdup (request->label);
  self->result_image = g_strdup (clipscope_image_get_name (request->image));
  return TRUE;
}

static void
texts_ready_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(Request) request = user_data;
  g_autoptr(ClipscopeTemplateContributions) self = g_weak_ref_get (&request->ref);
  g_autoptr(GError) error = NULL;
  g_autofree float *texts = NULL;
  int dim = 0;

  if (self == NULL || g_task_get_cancellable (G_TASK (result)) != self->cancellable)
    return;
  texts = clipscope_session_encode_texts_finish (self->session, result, &dim, &error);
  g_clear_object (&self->cancellable);
  if (texts == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      clear_result (self);
      self->error_message = g_strdup (error->message);
    }
  else if (texts == NULL || !store_result (self, request, texts, dim))
    {
      /* A model load overtook the request; its scores bring a new one. */
      clear_result (self);
      g_clear_pointer (&self->key, g_free);
    }
  update_display (self);
}

/* Asks for the prompts of the shown image and label unless the result at
 * hand, or the one on its way, is already of them. */
static void
refresh (ClipscopeTemplateContributions *self)
{
  const char *label = clipscope_template_contributions_get_label (self);
  g_auto(GStrv) prompts = NULL;
  g_autofree char *key = NULL;
  Request *request;

  if (self->session != NULL && self->image != NULL && label != NULL
      && clipscope_session_get_model_path (self->session) != NULL
      && clipscope_image_get_embedding (self->image, NULL) != NULL)
    {
      prompts = dup_prompts (self, label);
      key = make_key (self, label, (const char * const *) prompts);
    }
  if (key != NULL && g_strcmp0 (key, self->key) == 0)
    {
      /* The same prompts; the label's mode, in the summary, may not be. */
      update_summary (self);
      return;
    }
  cancel_request (self);
  g_free (self->key);
  self->key = g_steal_pointer (&key);
  if (self->key == NULL)
    clear_result (self);
  else
    {
      g_clear_pointer (&self->error_message, g_free);
      request = g_new0 (Request, 1);
      g_weak_ref_init (&request->ref, self);
      request->image = g_object_ref (self->image);
      request->label = g_strdup (label);
      request->prompts = g_steal_pointer (&prompts);
      self->cancellable = g_cancellable_new ();
      clipscope_session_encode_texts_async (self->session, (const char * const *) request->prompts,
                                            self->cancellable, texts_ready_cb, request);
    }
  update_display (self);
}

/* ------------------------------------------------------------ labels */

/* Follows new scores: templates that were added, edited or switched, and
 * images that were encoded. */
static void
scores_changed_cb (ClipscopeTemplateContributions *self)
{
  clipscope_label_dropdown_sync (&self->labels, self->session, self->image);
  refresh (self);
}

static void
label_selected_cb (ClipscopeTemplateContributions *self)
{
  if (clipscope_label_dropdown_picked (&self->labels))
    refresh (self);
}

/* ------------------------------------------------------------ GObject */

static void
clipscope_template_contributions_dispose (GObject *object)
{
  ClipscopeTemplateContributions *self = CLIPSCOPE_TEMPLATE_CONTRIBUTIONS (object);

  cancel_request (self);
  clipscope_template_contributions_set_session (self, NULL);
  g_clear_object (&self->image);
  gtk_widget_dispose_template (GTK_WIDGET (self), CLIPSCOPE_TYPE_TEMPLATE_CONTRIBUTIONS);
  G_OBJECT_CLASS (clipscope_template_contributions_parent_class)->dispose (object);
}

static void
clipscope_template_contributions_finalize (GObject *object)
{
  ClipscopeTemplateContributions *self = CLIPSCOPE_TEMPLATE_CONTRIBUTIONS (object);

  clear_result (self);
  g_array_unref (self->contributions);
  g_free (self->key);
  G_OBJECT_CLASS (clipscope_template_contributions_parent_class)->finalize (object);
}

static void
clipscope_template_contributions_class_init (ClipscopeTemplateContributionsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = clipscope_template_contributions_dispose;
  object_class->finalize = clipscope_template_contributions_finalize;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/clipscope/Clipscope/clipscope-template-contributions.ui");
  clipscope_label_dropdown_bind_template (widget_class,
                                          G_STRUCT_OFFSET (ClipscopeTemplateContributions, labels));
  gtk_widget_class_bind_template_child (widget_class, ClipscopeTemplateContributions, summary);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeTemplateContributions, scroller);
  gtk_widget_class_bind_template_child (widget_class, ClipscopeTemplateContributions, rows);
  gtk_widget_class_bind_template_callback (widget_class, label_selected_cb);
}

static void
clipscope_template_contributions_init (ClipscopeTemplateContributions *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->contributions = g_array_new (FALSE, FALSE, sizeof (Contribution));
  g_array_set_clear_func (self->contributions, (GDestroyNotify) contribution_clear);
  self->ensemble = NAN;
  update_display (self);
}

GtkWidget *
clipscope_template_contributions_new (void)
{
  return g_object_new (CLIPSCOPE_TYPE_TEMPLATE_CONTRIBUTIONS, NULL);
}

/**
 * clipscope_template_contributions_set_session:
 * @session: (nullable): the session whose worker, templates and scores to use
 */
void
clipscope_template_contributions_set_session (ClipscopeTemplateContributions *self,
                                              ClipscopeSession               *session)
{
  g_return_if_fail (CLIPSCOPE_IS_TEMPLATE_CONTRIBUTIONS (self));
  g_return_if_fail (session == NULL || CLIPSCOPE_IS_SESSION (session));

  if (session == self->session)
    return;
  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  g_set_object (&self->session, session);
  if (session == NULL)
    return;
  g_signal_connect_swapped (session, "scores-changed", G_CALLBACK (scores_changed_cb), self);
  g_signal_connect_swapped (session, "notify::model-path", G_CALLBACK (refresh), self);
  g_signal_connect_swapped (session, "notify::labels-encoding", G_CALLBACK (update_summary), self);
  scores_changed_cb (self);
}

/**
 * clipscope_template_contributions_set_image:
 * @image: (nullable): the selected image
 */
void
clipscope_template_contributions_set_image (ClipscopeTemplateContributions *self,
                                            ClipscopeImage                 *image)
{
  g_return_if_fail (CLIPSCOPE_IS_TEMPLATE_CONTRIBUTIONS (self));
  g_return_if_fail (image == NULL || CLIPSCOPE_IS_IMAGE (image));

  if (!g_set_object (&self->image, image))
    return;
  clipscope_label_dropdown_follow_image (&self->labels, self->session, image);
  refresh (self);
}

/** clipscope_template_contributions_get_summary: Returns: the line above the rows */
const char *
clipscope_template_contributions_get_summary (ClipscopeTemplateContributions *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_TEMPLATE_CONTRIBUTIONS (self), NULL);

  return gtk_label_get_label (self->summary);
}

/** clipscope_template_contributions_get_busy: Returns: whether prompts are being encoded */
gboolean
clipscope_template_contributions_get_busy (ClipscopeTemplateContributions *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_TEMPLATE_CONTRIBUTIONS (self), FALSE);
  return self->cancellable != NULL;
}

/** clipscope_template_contributions_get_label: Returns: (nullable): the selected label */
const char *
clipscope_template_contributions_get_label (ClipscopeTemplateContributions *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_TEMPLATE_CONTRIBUTIONS (self), NULL);
  return clipscope_label_dropdown_get_label (&self->labels);
}

/**
 * clipscope_template_contributions_select_label:
 *
 * Compares the prompts of @label from now on, as if the person had picked
 * it; until then the panel shows each image's best label.
 *
 * Returns: %FALSE when @label is not one of the scored labels
 */
gboolean
clipscope_template_contributions_select_label (ClipscopeTemplateContributions *self,
                                               const char                     *label)
{
  g_return_val_if_fail (CLIPSCOPE_IS_TEMPLATE_CONTRIBUTIONS (self), FALSE);
  g_return_val_if_fail (label != NULL, FALSE);

  if (!clipscope_label_dropdown_choose (&self->labels, label))
    return FALSE;
  refresh (self);
  return TRUE;
}

/** clipscope_template_contributions_get_ensemble: Returns: the label's cosine with all templates, or NaN */
float
clipscope_template_contributions_get_ensemble (ClipscopeTemplateContributions *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_TEMPLATE_CONTRIBUTIONS (self), NAN);
  return self->ensemble;
}

/** clipscope_template_contributions_get_n_rows: Returns: the number of rows shown */
guint
clipscope_template_contributions_get_n_rows (ClipscopeTemplateContributions *self)
{
  g_return_val_if_fail (CLIPSCOPE_IS_TEMPLATE_CONTRIBUTIONS (self), 0);
  return self->contributions->len;
}

/**
 * clipscope_template_contributions_get_row:
 * @cosine: (out) (optional): the prompt's cosine with the image
 * @without: (out) (optional): the label's cosine without the template, or NaN
 *
 * Returns: (transfer none): the prompt of row @row, in the order shown
 */
const char *
clipscope_template_contributions_get_row (ClipscopeTemplateContributions *self,
                                          guint                           row,
                                          float                          *cosine,
                                          float                          *without)
{
  const Contribution *c;

  g_return_val_if_fail (CLIPSCOPE_IS_TEMPLATE_CONTRIBUTIONS (self), NULL);
  g_return_val_if_fail (row < self->contributions->len, NULL);

  c = &g_array_index (self->contributions, Contribution, row);
  if (cosine != NULL)
    *cosine = c->cosine;
  if (without != NULL)
    *without = c->without;
  return c->prompt;
}
