/* clipscope-error.c — the engine's error domain */
#include "clipscope-private.h"

G_DEFINE_QUARK (clipscope-error-quark, clipscope_error)
