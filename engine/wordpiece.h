/* wordpiece.h — BERT's WordPiece tokenizer, as Chinese-CLIP uses it */
#pragma once

#include "clipscope-private.h"

G_BEGIN_DECLS

typedef struct _ClipscopeWordPiece ClipscopeWordPiece;

/* From a vocab.txt: one piece a line, the line's index its id (a piece
 * given twice keeps its last id). [UNK], [CLS] and [SEP] must be there.
 * Errors name the file and, where it applies, the line. */
ClipscopeWordPiece *clipscope_wordpiece_new_from_file (const char *path,
                                                       GError    **error) G_GNUC_WARN_UNUSED_RESULT;
ClipscopeWordPiece *clipscope_wordpiece_new_from_data (const char *data,
                                                       gsize       size,
                                                       const char *path,
                                                       GError    **error) G_GNUC_WARN_UNUSED_RESULT;
void clipscope_wordpiece_free (ClipscopeWordPiece *wp);

int clipscope_wordpiece_get_vocab_size (const ClipscopeWordPiece *wp);
int32_t clipscope_wordpiece_get_cls (const ClipscopeWordPiece *wp);
int32_t clipscope_wordpiece_get_sep (const ClipscopeWordPiece *wp);

/* Appends the ids of @text (valid UTF-8), without [CLS] or [SEP], to @ids:
 * BERT's basic tokenizer with lower-casing and accent stripping, then
 * greedy longest-match WordPiece. Thread-safe. */
void clipscope_wordpiece_encode (const ClipscopeWordPiece *wp,
                                 const char               *text,
                                 GArray                   *ids);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ClipscopeWordPiece, clipscope_wordpiece_free)

G_END_DECLS
