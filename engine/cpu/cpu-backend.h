/* cpu-backend.h — the graph operations on the CPU (see graph.h) */
#pragma once

#include "graph.h"

G_BEGIN_DECLS

/* Without @model, the backend has no slots
 * or weights: for running single operations on the caller's arrays.
 * @precision and @n_threads are those of ClipscopeContextOptions. */
ClipscopeGraphBackend *clipscope_cpu_backend_new (ClipscopeModel     *model,
                                                  int                 max_batch,
                                                  ClipscopePrecision  precision,
                                                  int                 n_threads,
                                                  GError            **error);
void clipscope_cpu_backend_free (ClipscopeGraphBackend *be);

/* What multiplies its matrices ("oneDNN 2.6.3"), or NULL for OpenBLAS. */
const char *clipscope_cpu_backend_describe (ClipscopeGraphBackend *be);

G_END_DECLS
