/* piece-table.c — a string → id table looked up by pointer and length
 *
 * Open addressing with linear probing over a power-of-two array, kept at
 * most half full. Keys live in one growing string pool.
 */
#include "piece-table.h"

#include <string.h>

typedef struct
{
  guint32 hash;
  int32_t id;      /* -1: empty */
  gsize   offset;  /* of the key in the pool */
  gsize   length;
} Slot;

struct _ClipscopePieceTable
{
  Slot    *slots;
  gsize    mask;     /* number of slots − 1 */
  gsize    n_used;
  GString *pool;
  gsize    max_length;
};

/* FNV-1a, 32 bits. */
static guint32
hash_bytes (const char *key,
            gsize       length)
{
  guint32 h = 2166136261u;

  for (gsize i = 0; i < length; i++)
    h = (h ^ (guint8) key[i]) * 16777619u;
  return h;
}

static Slot *
alloc_slots (gsize n)
{
  Slot *slots = g_new (Slot, n);

  for (gsize i = 0; i < n; i++)
    slots[i].id = -1;
  return slots;
}

ClipscopePieceTable *
clipscope_piece_table_new (guint expected_size)
{
  ClipscopePieceTable *table = g_new0 (ClipscopePieceTable, 1);
  gsize n = 16;

  while (n < 2 * (gsize) expected_size)
    n *= 2;
  table->slots = alloc_slots (n);
  table->mask = n - 1;
  table->pool = g_string_new (NULL);
  return table;
}

void
clipscope_piece_table_free (ClipscopePieceTable *table)
{
  if (table == NULL)
    return;
  g_free (table->slots);
  g_string_free (table->pool, TRUE);
  g_free (table);
}

static gsize
find_slot (const ClipscopePieceTable *table,
           const char                *key,
           gsize                      length,
           guint32                    hash)
{
  gsize i = hash & table->mask;

  for (;; i = (i + 1) & table->mask)
    {
      const Slot *s = &table->slots[i];

      if (s->id < 0)
        return i;
      if (s->hash == hash && s->length == length
          && memcmp (table->pool->str + s->offset, key, length) == 0)
        return i;
    }
}

static void
grow (ClipscopePieceTable *table)
{
  Slot *old = table->slots;
  gsize n_old = table->mask + 1;

  table->slots = alloc_slots (2 * n_old);
  table->mask = 2 * n_old - 1;
  for (gsize i = 0; i < n_old; i++)
    if (old[i].id >= 0)
      {
        gsize j = old[i].hash & table->mask;

        while (table->slots[j].id >= 0)
          j = (j + 1) & table->mask;
        table->slots[j] = old[i];
      }
  g_free (old);
}

int32_t
clipscope_piece_table_insert (ClipscopePieceTable *table,
                              const char          *key,
                              gsize                length,
                              int32_t              id)
{
  guint32 hash = hash_bytes (key, length);
  Slot *s;

  g_return_val_if_fail (id >= 0, -1);

  if (2 * (table->n_used + 1) > table->mask + 1)
    grow (table);
  s = &table->slots[find_slot (table, key, length, hash)];
  if (s->id >= 0)
    {
      int32_t previous = s->id;

      s->id = id;
      return previous;
    }
  s->hash = hash;
  s->id = id;
  s->offset = table->pool->len;
  s->length = length;
  g_string_append_len (table->pool, key, length);
  table->n_used++;
  table->max_length = MAX (table->max_length, length);
  return -1;
}

int32_t
clipscope_piece_table_lookup (const ClipscopePieceTable *table,
                              const char                *key,
                              gsize                      length)
{
  if (length > table->max_length)
    return -1;
  return table->slots[find_slot (table, key, length, hash_bytes (key, length))].id;
}

gsize
clipscope_piece_table_get_max_length (const ClipscopePieceTable *table)
{
  return table->max_length;
}
