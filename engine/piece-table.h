/* piece-table.h — a string → id table looked up by pointer and length
 *
 * The SentencePiece and WordPiece tokenizers look up every substring of a
 * word that may be a piece; keys given as (pointer, length) spare them a
 * copy per lookup. Lookups never write, so one table may be read by any
 * number of threads at once.
 */
#pragma once

#include "clipscope-private.h"

G_BEGIN_DECLS

typedef struct _ClipscopePieceTable ClipscopePieceTable;

ClipscopePieceTable *clipscope_piece_table_new (guint expected_size);
void clipscope_piece_table_free (ClipscopePieceTable *table);

/* Maps the @length bytes at @key to @id (≥ 0), replacing an earlier id.
 * The bytes are copied. Returns the id the key had before, or -1. */
int32_t clipscope_piece_table_insert (ClipscopePieceTable *table,
                                      const char          *key,
                                      gsize                length,
                                      int32_t              id);

/* The id of the @length bytes at @key, or -1. */
int32_t clipscope_piece_table_lookup (const ClipscopePieceTable *table,
                                      const char                *key,
                                      gsize                      length);

/* The length in bytes of the longest key. */
gsize clipscope_piece_table_get_max_length (const ClipscopePieceTable *table);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ClipscopePieceTable, clipscope_piece_table_free)

G_END_DECLS
