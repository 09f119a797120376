/* decoder.h — images decoded in separate processes
 *
 * Image decoders are the code that reads strangers' files, so they run in
 * a pool of helper processes (clipscope-decoder), each with limits on its
 * memory, CPU time and wall time, and a seccomp filter that takes away
 * what a decoder never needs (new processes, sockets, writing files). A
 * file that crashes, exhausts or hangs its decoder becomes an error for
 * that file alone; the helper is started again for the next one.
 *
 * The parent opens each file (so a FIFO or a missing file never reaches
 * a helper) and passes the descriptor over a Unix socket with the
 * preprocessing parameters; the helper answers with the model's input
 * tensor or an error message.
 */
#pragma once

#include "preprocess.h"

G_BEGIN_DECLS

#define CLIPSCOPE_DECODER_MAGIC 0x31445343u   /* "CSD1" */

/* The helper's socket is this descriptor. */
#define CLIPSCOPE_DECODER_FD 3

/* Longest name sent with a request; longer ones are cut for messages. */
#define CLIPSCOPE_DECODER_MAX_NAME 4096

typedef struct {
  guint32                   magic;
  guint32                   name_bytes;     /* the file's name follows, for messages */
  guint32                   cpu_seconds;    /* CPU time the decoding may take */
  guint32                   reserved;
  ClipscopePreprocessParams params;
} ClipscopeDecodeRequest;

typedef struct {
  guint32 magic;
  guint32 ok;                /* 1: crop² × 3 floats follow; 0: a message */
  gint32  code;              /* the ClipscopeError of a message */
  guint32 payload_bytes;
} ClipscopeDecodeReply;

typedef struct _ClipscopeDecoderPool ClipscopeDecoderPool;

/* A pool of up to @n_workers helpers, started as they are needed; NULL
 * when decoding is to stay in this process (CLIPSCOPE_DECODER=in-process,
 * or no helper installed). */
ClipscopeDecoderPool *clipscope_decoder_pool_new (int n_workers);

void clipscope_decoder_pool_free (ClipscopeDecoderPool *pool);

/* Decodes and preprocesses @paths[0 … n), in parallel, into @pixels
 * ([n, 3, crop, crop]); a file that fails gets its error in @errors[i]
 * (which must be NULL on entry) and leaves its pixels undefined. */
void clipscope_decoder_pool_preprocess (ClipscopeDecoderPool            *pool,
                                        const char * const              *paths,
                                        int                              n,
                                        const ClipscopePreprocessParams *params,
                                        float                           *pixels,
                                        GError                         **errors);

/* Reads and writes all of @len bytes, retrying on EINTR; FALSE on end of
 * file or an error (errno says which). */
gboolean clipscope_read_all (int    fd,
                             void  *buf,
                             gsize  len);
gboolean clipscope_write_all (int         fd,
                              const void *buf,
                              gsize       len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ClipscopeDecoderPool, clipscope_decoder_pool_free)

G_END_DECLS
