/* fewshot.h — helpers shared by scoring, prototypes and probes */
#pragma once

#include "clipscope-private.h"

G_BEGIN_DECLS

/* Whether every example label lies in [0, n_labels). */
gboolean clipscope_example_labels_valid (const int *example_labels,
                                         int        n_examples,
                                         int        n_labels);

/* out[n] = softmax (scale × x); @out may be @x. */
void clipscope_softmax (const float *x,
                        int          n,
                        float        scale,
                        float       *out);

G_END_DECLS
