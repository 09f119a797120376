/* clipscope-session.h — images, labels and templates, and their scores */
#pragma once

#include <gtk/gtk.h>

#include "clipscope-image.h"
#include "clipscope-template.h"

G_BEGIN_DECLS

/* Typing coalesces for this long before the labels are encoded again. */
#define CLIPSCOPE_SESSION_DEBOUNCE_MS 150

#define CLIPSCOPE_TYPE_SESSION (clipscope_session_get_type ())
G_DECLARE_FINAL_TYPE (ClipscopeSession, clipscope_session, CLIPSCOPE, SESSION, GObject)

ClipscopeSession *clipscope_session_new                (void);
GListModel       *clipscope_session_get_images         (ClipscopeSession  *self);
GtkStringList    *clipscope_session_get_labels         (ClipscopeSession  *self);
GListModel       *clipscope_session_get_templates      (ClipscopeSession  *self);
const char       *clipscope_session_get_model_path     (ClipscopeSession  *self);
const char       *clipscope_session_get_backend_name   (ClipscopeSession  *self);
const char       *clipscope_session_get_device_name    (ClipscopeSession  *self);
gboolean          clipscope_session_get_busy           (ClipscopeSession  *self);
double            clipscope_session_get_progress       (ClipscopeSession  *self);
guint             clipscope_session_get_max_folder_images (ClipscopeSession *self);
void              clipscope_session_set_max_folder_images (ClipscopeSession *self,
                                                           guint             max);
void              clipscope_session_load_model         (ClipscopeSession  *self,
                                                        const char        *dir);
void              clipscope_session_add_files          (ClipscopeSession  *self,
                                                        GFile            **files,
                                                        guint              n_files);
void              clipscope_session_add_texture        (ClipscopeSession  *self,
                                                        GdkTexture        *texture);
void              clipscope_session_remove_image       (ClipscopeSession  *self,
                                                        guint              position);
void              clipscope_session_cancel             (ClipscopeSession  *self);
void              clipscope_session_add_labels_text    (ClipscopeSession  *self,
                                                        const char        *text);
void              clipscope_session_set_label          (ClipscopeSession  *self,
                                                        guint              position,
                                                        const char        *text);
void              clipscope_session_add_template       (ClipscopeSession  *self,
                                                        const char        *text,
                                                        gboolean           enabled);
void              clipscope_session_remove_template    (ClipscopeSession  *self,
                                                        guint              position);
void              clipscope_session_clear_templates    (ClipscopeSession  *self);
GStrv             clipscope_session_dup_enabled_templates (ClipscopeSession *self);
void              clipscope_session_flush              (ClipscopeSession  *self);

const char * const *clipscope_session_get_scored_labels (ClipscopeSession *self);
gboolean          clipscope_session_get_scores         (ClipscopeSession  *self,
                                                        guint             *n_images,
                                                        guint             *n_labels,
                                                        const float      **similarity,
                                                        const float      **probabilities);
guint             clipscope_session_get_n_label_jobs   (ClipscopeSession  *self);
guint             clipscope_session_get_n_texts_encoded (ClipscopeSession *self);

void              clipscope_session_explain_image_async  (ClipscopeSession    *self,
                                                          ClipscopeImage      *image,
                                                          GCancellable        *cancellable,
                                                          GAsyncReadyCallback  callback,
                                                          gpointer             user_data);
float            *clipscope_session_explain_image_finish (ClipscopeSession    *self,
                                                          GAsyncResult        *result,
                                                          int                 *grid,
                                                          int                 *embed_dim,
                                                          double              *crop,
                                                          GError             **error);
const float      *clipscope_session_get_label_embedding  (ClipscopeSession    *self,
                                                          guint                column,
                                                          int                 *embed_dim);

G_END_DECLS
