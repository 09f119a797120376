/* clipscope-window-undo.c — undoing what the window's destructive actions did
 *
 * Before an action removes or replaces something (labels and their
 * examples, templates, images), it records what was there; a toast says
 * what happened and offers Undo, which, like Ctrl+Z, puts back the most
 * recent record. Images come back at the end of the list, re-encoded from
 * their files (or from the cache).
 */
#include "clipscope-window-private.h"
#include <glib/gi18n.h>
#include "clipscope-template.h"

#define MAX_UNDO 20

struct _ClipscopeUndoStep {
  GStrv      labels;      /* NULL when the labels were not touched */
  GVariant  *examples;    /* a{sas}, with the labels or alone */
  GVariant  *templates;   /* a(sb) */
  GPtrArray *images;      /* GFile of each removed image */
};

static void
undo_step_free (ClipscopeUndoStep *step)
{
  g_strfreev (step->labels);
  g_clear_pointer (&step->examples, g_variant_unref);
  g_clear_pointer (&step->templates, g_variant_unref);
  g_clear_pointer (&step->images, g_ptr_array_unref);
  g_free (step);
}

static GStrv
dup_labels (ClipscopeWindow *self)
{
  GtkStringList *labels = clipscope_session_get_labels (self->session);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (labels)); i++)
    g_strv_builder_add (builder, gtk_string_list_get_string (labels, i));
  return g_strv_builder_end (builder);
}

static GVariant *
dup_examples (ClipscopeWindow *self)
{
  g_auto(GStrv) labels = dup_labels (self);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{sas}"));
  for (char **l = labels; *l != NULL; l++)
    {
      g_auto(GStrv) paths = clipscope_session_dup_examples (self->session, *l);

      if (paths != NULL && *paths != NULL)
        g_variant_builder_add (&builder, "{s^as}", *l, paths);
    }
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

static GVariant *
dup_templates (ClipscopeWindow *self)
{
  GListModel *templates = clipscope_session_get_templates (self->session);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sb)"));
  for (guint i = 0; i < g_list_model_get_n_items (templates); i++)
    {
      g_autoptr(ClipscopeTemplate) t = g_list_model_get_item (templates, i);

      g_variant_builder_add (&builder, "(sb)", clipscope_template_get_text (t),
                             clipscope_template_get_enabled (t));
    }
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

static void
update_undo_action (ClipscopeWindow *self)
{
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.undo", self->undo_steps->len > 0);
}

static void
push (ClipscopeWindow   *self,
      ClipscopeUndoStep *step,
      const char        *message)
{
  AdwToast *toast = adw_toast_new (message);

  if (self->undo_steps->len == MAX_UNDO)
    g_ptr_array_remove_index (self->undo_steps, 0);
  g_ptr_array_add (self->undo_steps, step);
  update_undo_action (self);
  adw_toast_set_button_label (toast, _("_Undo"));
  adw_toast_set_action_name (toast, "win.undo");
  adw_toast_set_timeout (toast, 8);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

/**
 * _clipscope_window_save_undo:
 * @what: what the action about to run changes
 * @message: the toast's text, saying what was done
 *
 * Records the state @what is about to lose.
 */
void
_clipscope_window_save_undo (ClipscopeWindow *self,
                             ClipscopeUndoWhat what,
                             const char      *message)
{
  ClipscopeUndoStep *step = g_new0 (ClipscopeUndoStep, 1);

  if (what & CLIPSCOPE_UNDO_LABELS)
    step->labels = dup_labels (self);
  if (what & (CLIPSCOPE_UNDO_LABELS | CLIPSCOPE_UNDO_EXAMPLES))
    step->examples = dup_examples (self);
  if (what & CLIPSCOPE_UNDO_TEMPLATES)
    step->templates = dup_templates (self);
  push (self, step, message);
}

/* Records images about to be removed, at @positions of the list. */
void
_clipscope_window_save_undo_images (ClipscopeWindow *self,
                                    const guint     *positions,
                                    guint            n_positions,
                                    const char      *message)
{
  GListModel *images = clipscope_session_get_images (self->session);
  ClipscopeUndoStep *step = g_new0 (ClipscopeUndoStep, 1);

  step->images = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < n_positions; i++)
    {
      g_autoptr(ClipscopeImage) image = g_list_model_get_item (images, positions[i]);

      /* A pasted picture has no file to bring it back from. */
      if (image != NULL && clipscope_image_get_file (image) != NULL)
        g_ptr_array_add (step->images, g_object_ref (clipscope_image_get_file (image)));
    }
  push (self, step, message);
}

static void
restore_examples (ClipscopeWindow *self,
                  GVariant        *examples)
{
  g_auto(GStrv) labels = dup_labels (self);

  for (char **l = labels; *l != NULL; l++)
    {
      g_autofree const char **paths = NULL;
      g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);

      clipscope_session_clear_examples (self->session, *l);
      if (!g_variant_lookup (examples, *l, "^a&s", &paths))
        continue;
      for (const char **p = paths; *p != NULL; p++)
        g_ptr_array_add (files, g_file_new_for_path (*p));
      clipscope_session_add_examples (self->session, *l, (GFile **) files->pdata, files->len);
    }
}

static void
undo_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  ClipscopeWindow *self = CLIPSCOPE_WINDOW (widget);
  ClipscopeUndoStep *step;

  if (self->undo_steps->len == 0)
    return;
  step = g_ptr_array_steal_index (self->undo_steps, self->undo_steps->len - 1);
  if (step->labels != NULL)
    {
      GtkStringList *labels = clipscope_session_get_labels (self->session);

      gtk_string_list_splice (labels, 0, g_list_model_get_n_items (G_LIST_MODEL (labels)),
                              (const char * const *) step->labels);
    }
  if (step->examples != NULL)
    restore_examples (self, step->examples);
  if (step->templates != NULL)
    {
      GVariantIter iter;
      const char *text;
      gboolean enabled;

      clipscope_session_clear_templates (self->session);
      g_variant_iter_init (&iter, step->templates);
      while (g_variant_iter_next (&iter, "(&sb)", &text, &enabled))
        clipscope_session_add_template (self->session, text, enabled);
    }
  if (step->images != NULL && step->images->len > 0)
    clipscope_session_add_files (self->session, (GFile **) step->images->pdata, step->images->len);
  undo_step_free (step);
  update_undo_action (self);
}

void
_clipscope_window_undo_class_init (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "win.undo", NULL, undo_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_z, GDK_CONTROL_MASK, "win.undo", NULL);
}

void
_clipscope_window_undo_init (ClipscopeWindow *self)
{
  self->undo_steps = g_ptr_array_new_with_free_func ((GDestroyNotify) undo_step_free);
  update_undo_action (self);
}

void
_clipscope_window_undo_dispose (ClipscopeWindow *self)
{
  g_clear_pointer (&self->undo_steps, g_ptr_array_unref);
}
