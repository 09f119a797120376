/* clipscope-session.h — images, labels and templates, and their scores */
#pragma once

#include <clipscope.h>
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
int               clipscope_session_find_image         (ClipscopeSession  *self,
                                                        ClipscopeImage    *image);
GtkStringList    *clipscope_session_get_labels         (ClipscopeSession  *self);
GListModel       *clipscope_session_get_templates      (ClipscopeSession  *self);
void              clipscope_session_disconnect_by_data (ClipscopeSession  *self,
                                                        gpointer           data);
const char       *clipscope_session_get_model_path     (ClipscopeSession  *self);
const char       *clipscope_session_get_backend_name   (ClipscopeSession  *self);
const char       *clipscope_session_get_device_name    (ClipscopeSession  *self);
gboolean          clipscope_session_get_busy           (ClipscopeSession  *self);
gboolean          clipscope_session_get_labels_encoding (ClipscopeSession *self);
double            clipscope_session_get_progress       (ClipscopeSession  *self);
void              clipscope_session_get_progress_counts (ClipscopeSession *self,
                                                         guint            *images_done,
                                                         guint            *images_total,
                                                         guint            *texts_done,
                                                         guint            *texts_total);
guint             clipscope_session_get_max_folder_images (ClipscopeSession *self);
void              clipscope_session_set_max_folder_images (ClipscopeSession *self,
                                                           guint             max);
void              clipscope_session_set_precision      (ClipscopeSession  *self,
                                                        ClipscopePrecision precision);
void              clipscope_session_load_model         (ClipscopeSession  *self,
                                                        const char        *dir);
void              clipscope_session_add_files          (ClipscopeSession  *self,
                                                        GFile            **files,
                                                        guint              n_files);
void              clipscope_session_add_texture        (ClipscopeSession  *self,
                                                        GdkTexture        *texture);
void              clipscope_session_add_image_stream   (ClipscopeSession  *self,
                                                        GInputStream      *stream,
                                                        const char        *extension);
void              clipscope_session_remove_image       (ClipscopeSession  *self,
                                                        guint              position);
void              clipscope_session_follow_images      (ClipscopeSession  *self,
                                                        GListModel        *source);
void              clipscope_session_cancel             (ClipscopeSession  *self);
void              clipscope_session_add_label          (ClipscopeSession  *self,
                                                        const char        *text);
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
ClipscopeScoring  clipscope_session_get_scoring        (ClipscopeSession  *self);
const char       *clipscope_session_get_scoring_note   (ClipscopeSession  *self);
const ClipscopeModelInfo *clipscope_session_get_model_info (ClipscopeSession *self);
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


void              clipscope_session_add_examples         (ClipscopeSession    *self,
                                                          const char          *label,
                                                          GFile              **files,
                                                          guint                n_files);
void              clipscope_session_remove_example       (ClipscopeSession    *self,
                                                          const char          *label,
                                                          const char          *path);
void              clipscope_session_clear_examples       (ClipscopeSession    *self,
                                                          const char          *label);
GStrv             clipscope_session_dup_examples         (ClipscopeSession    *self,
                                                          const char          *label);
ClipscopeLabelMode clipscope_session_get_label_mode      (ClipscopeSession    *self,
                                                          const char          *label);
double            clipscope_session_get_label_accuracy   (ClipscopeSession    *self,
                                                          const char          *label);
gboolean          clipscope_session_can_probe            (ClipscopeSession    *self);
ClipscopeLabelMode clipscope_session_get_classifier      (ClipscopeSession    *self);
void              clipscope_session_set_classifier       (ClipscopeSession    *self,
                                                          ClipscopeLabelMode   mode);
double            clipscope_session_get_example_weight   (ClipscopeSession    *self);
void              clipscope_session_set_example_weight   (ClipscopeSession    *self,
                                                          double               weight);
gboolean          clipscope_session_get_use_threshold    (ClipscopeSession    *self);
void              clipscope_session_set_use_threshold    (ClipscopeSession    *self,
                                                          gboolean             use);
double            clipscope_session_get_threshold        (ClipscopeSession    *self);
void              clipscope_session_set_threshold        (ClipscopeSession    *self,
                                                          double               threshold);
const int        *clipscope_session_get_top              (ClipscopeSession    *self,
                                                          guint               *n_images,
                                                          guint               *n_unclassified);
gboolean          clipscope_session_is_unclassified      (ClipscopeSession    *self,
                                                          guint                row);
void              clipscope_session_encode_texts_async   (ClipscopeSession    *self,
                                                          const char * const  *texts,
                                                          GCancellable        *cancellable,
                                                          GAsyncReadyCallback  callback,
                                                          gpointer             user_data);
float            *clipscope_session_encode_texts_finish  (ClipscopeSession    *self,
                                                          GAsyncResult        *result,
                                                          int                 *embed_dim,
                                                          GError             **error);

G_END_DECLS
