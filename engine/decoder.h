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
 * tensor, or with a thumbnail (RGBA pixels fit in a box) where that is
 * asked, or with an error message.
 */
#pragma once

#include "preprocess.h"

G_BEGIN_DECLS

#define CLIPSCOPE_DECODER_MAGIC 0x31445343u   /* "CSD1" */

/* The helper's socket is this descriptor. */
#define CLIPSCOPE_DECODER_FD 3

/* Longest name sent with a request; longer ones are cut for messages. */
#define CLIPSCOPE_DECODER_MAX_NAME 4096

/* The largest box a thumbnail may be asked to fit in. */
#define CLIPSCOPE_THUMBNAIL_MAX_SIDE 4096

typedef enum {
  CLIPSCOPE_DECODE_PREPROCESS,     /* the model's input tensor */
  CLIPSCOPE_DECODE_THUMBNAIL,      /* RGBA pixels fit in max_width × max_height */
} ClipscopeDecodeKind;

typedef struct {
  guint32                   magic;
  guint32                   name_bytes;     /* the file's name follows, for messages */
  guint32                   cpu_seconds;    /* CPU time the decoding may take */
  guint32                   kind;           /* a ClipscopeDecodeKind */
  guint32                   max_width;      /* a thumbnail's box */
  guint32                   max_height;
  ClipscopePreprocessParams params;
} ClipscopeDecodeRequest;

/* tests/test-hostile.py writes requests byte by byte: a change of size
 * must be made there too. */
G_STATIC_ASSERT (sizeof (ClipscopeDecodeRequest) == 88);

typedef struct {
  guint32 magic;
  guint32 ok;                /* 1: crop² × 3 floats, or width × height × 4 bytes, follow;
                              * 0: a message */
  gint32  code;              /* the ClipscopeError of a message */
  guint32 payload_bytes;
  guint32 width;             /* a thumbnail's size */
  guint32 height;
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

/* Decodes a thumbnail of @path (see clipscope_image_thumbnail_fd()) in
 * the pool's first helper; cancelling @cancellable ends the helper at
 * once. Returns RGBA pixels, rows packed, or NULL with @error set. */
GBytes *clipscope_decoder_pool_thumbnail (ClipscopeDecoderPool            *pool,
                                          const char                      *path,
                                          const ClipscopePreprocessParams *params,
                                          int                              max_width,
                                          int                              max_height,
                                          GCancellable                    *cancellable,
                                          int                             *width,
                                          int                             *height,
                                          GError                         **error);

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
