/* clipscope-label-dropdown.c — a drop-down of the scored labels that follows the image's best
 *
 * The explain panel and the template contributions each look into one
 * label of the shown image. Their drop-down lists the session's scored
 * labels and, until the person picks one, selects the label the image
 * matches best, again for every image shown. What the owner selects
 * itself is done with @syncing set, so its notify::selected handler can
 * tell the person's picks apart (clipscope_label_dropdown_picked()).
 */
#include "clipscope-label-dropdown.h"

/**
 * clipscope_label_dropdown_bind_template:
 * @struct_offset: where the #ClipscopeLabelDropdown is in the instance struct
 *
 * Binds the template's "label_dropdown" and "label_names"; call it from
 * the owner's class_init.
 */
void
clipscope_label_dropdown_bind_template (GtkWidgetClass *widget_class,
                                        gssize          struct_offset)
{
  gtk_widget_class_bind_template_child_full (widget_class, "label_dropdown", FALSE,
                                             struct_offset
                                             + G_STRUCT_OFFSET (ClipscopeLabelDropdown, dropdown));
  gtk_widget_class_bind_template_child_full (widget_class, "label_names", FALSE,
                                             struct_offset
                                             + G_STRUCT_OFFSET (ClipscopeLabelDropdown, names));
}

/** clipscope_label_dropdown_get_label: Returns: (nullable): the selected label */
const char *
clipscope_label_dropdown_get_label (ClipscopeLabelDropdown *self)
{
  guint selected = gtk_drop_down_get_selected (self->dropdown);

  if (selected == GTK_INVALID_LIST_POSITION)
    return NULL;
  return gtk_string_list_get_string (self->names, selected);
}

static guint
find_label (ClipscopeLabelDropdown *self,
            const char             *label)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->names));

  for (guint i = 0; label != NULL && i < n; i++)
    if (g_strcmp0 (gtk_string_list_get_string (self->names, i), label) == 0)
      return i;
  return GTK_INVALID_LIST_POSITION;
}

/* The label @image matches best, or 0 while it has no scores; an image
 * left unclassified still has a best label to look into. */
static guint
top_label (ClipscopeLabelDropdown *self,
           ClipscopeSession       *session,
           ClipscopeImage         *image)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->names));
  const float *similarity = NULL;
  guint n_images = 0, n_labels = 0, best = 0;
  int row = clipscope_session_find_image (session, image);
  const float *v;

  clipscope_session_get_scores (session, &n_images, &n_labels, &similarity, NULL);
  if (row < 0 || (guint) row >= n_images)
    return 0;
  v = similarity + (gsize) row * n_labels;
  for (guint j = 1; j < MIN (n, n_labels); j++)
    if (v[j] > v[best])
      best = j;
  return best;
}

/* Selects @label, or when it is gone or none was chosen, the label
 * @image matches best; neither counts as a choice of the person's. */
static void
select_quietly (ClipscopeLabelDropdown *self,
                ClipscopeSession       *session,
                ClipscopeImage         *image,
                const char             *label)
{
  guint position = self->chosen ? find_label (self, label) : GTK_INVALID_LIST_POSITION;

  if (position == GTK_INVALID_LIST_POSITION)
    position = top_label (self, session, image);
  self->syncing = TRUE;
  gtk_drop_down_set_selected (self->dropdown, position);
  self->syncing = FALSE;
}

/**
 * clipscope_label_dropdown_sync:
 * @image: (nullable): the image shown
 *
 * Refills the drop-down with @session's scored labels, keeping the chosen
 * label while it is there.
 */
void
clipscope_label_dropdown_sync (ClipscopeLabelDropdown *self,
                               ClipscopeSession       *session,
                               ClipscopeImage         *image)
{
  const char * const *scored = clipscope_session_get_scored_labels (session);
  const char * const none[] = { NULL };
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->names));
  g_autofree char *selected = g_strdup (clipscope_label_dropdown_get_label (self));
  gboolean same;

  if (scored == NULL)
    scored = none;
  same = g_strv_length ((char **) scored) == n;
  for (guint i = 0; same && i < n; i++)
    same = g_strcmp0 (scored[i], gtk_string_list_get_string (self->names, i)) == 0;
  if (!same)
    {
      self->syncing = TRUE;
      gtk_string_list_splice (self->names, 0, n, scored);
      self->syncing = FALSE;
    }
  select_quietly (self, session, image, selected);
  /* With no scored label there is nothing to choose: no "(None)". The
   * owner's caption says why (no labels, or labels still encoding). */
  gtk_widget_set_visible (GTK_WIDGET (self->dropdown), scored[0] != NULL);
}

/**
 * clipscope_label_dropdown_follow_image:
 * @session: (nullable): the session that scored @image
 * @image: (nullable): the image now shown
 *
 * Selects @image's best label unless the person chose one.
 */
void
clipscope_label_dropdown_follow_image (ClipscopeLabelDropdown *self,
                                       ClipscopeSession       *session,
                                       ClipscopeImage         *image)
{
  if (!self->chosen && session != NULL)
    select_quietly (self, session, image, NULL);
}

/**
 * clipscope_label_dropdown_choose:
 *
 * Selects @label as if the person had picked it, without a call to the
 * owner's handler.
 *
 * Returns: %FALSE when @label is not one of the scored labels
 */
gboolean
clipscope_label_dropdown_choose (ClipscopeLabelDropdown *self,
                                 const char             *label)
{
  guint position = find_label (self, label);

  if (position == GTK_INVALID_LIST_POSITION)
    return FALSE;
  self->chosen = TRUE;
  self->syncing = TRUE;
  gtk_drop_down_set_selected (self->dropdown, position);
  self->syncing = FALSE;
  return TRUE;
}

/**
 * clipscope_label_dropdown_picked:
 *
 * For the owner's notify::selected handler.
 *
 * Returns: %TRUE when the person picked the label, which then stays
 *   chosen; %FALSE when the owner changed the selection itself
 */
gboolean
clipscope_label_dropdown_picked (ClipscopeLabelDropdown *self)
{
  if (self->syncing)
    return FALSE;
  self->chosen = TRUE;
  return TRUE;
}
