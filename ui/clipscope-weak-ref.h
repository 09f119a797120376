/* clipscope-weak-ref.h — a GWeakRef on the heap, for async callbacks
 *
 * A callback given one of these finds its object if it still lives, so a
 * job in flight never keeps a window or a widget alive.
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

static inline GWeakRef *
clipscope_weak_ref_new (gpointer object)
{
  GWeakRef *ref = g_new0 (GWeakRef, 1);

  g_weak_ref_init (ref, object);
  return ref;
}

static inline void
clipscope_weak_ref_free (GWeakRef *ref)
{
  g_weak_ref_clear (ref);
  g_free (ref);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GWeakRef, clipscope_weak_ref_free)

G_END_DECLS
