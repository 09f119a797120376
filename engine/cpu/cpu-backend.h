/* cpu-backend.h — the graph operations on the CPU (see graph.h) */
#pragma once

#include "graph.h"

G_BEGIN_DECLS

/* Without @model, the backend has no slots
 * or weights: for running single operations on the caller's arrays. */
ClipscopeGraphBackend *clipscope_cpu_backend_new (ClipscopeModel *model,
                                                  int             max_batch,
                                                  GError        **error);
void clipscope_cpu_backend_free (ClipscopeGraphBackend *be);

G_END_DECLS
