/* decoder.c — the pool of decoder processes (see decoder.h) */
#include "decoder.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>


extern char **environ;

/* Wall time and CPU time one image may take, unless
 * CLIPSCOPE_DECODE_TIMEOUT says otherwise (seconds). */
#define DEFAULT_TIMEOUT_S 30

typedef struct {
  GPid   pid;        /* 0: not running */
  int    sock;       /* -1: not running */
  int    job;        /* index of the image it decodes, or -1 when idle */
  gint64 deadline;   /* monotonic µs by which it must answer */
} Worker;

struct _ClipscopeDecoderPool {
  char   *helper;
  int     n_workers;
  Worker *workers;
  guint32 timeout_s;
};

/* Reads or writes all of @len bytes. */
static gboolean
transfer_all (int      fd,
              char    *buf,
              gsize    len,
              gboolean writing)
{
  for (gsize done = 0; done < len;)
    {
      gssize n = writing ? write (fd, buf + done, len - done) : read (fd, buf + done, len - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      done += (gsize) n;
    }
  return TRUE;
}

gboolean
clipscope_read_all (int    fd,
                    void  *buf,
                    gsize  len)
{
  return transfer_all (fd, buf, len, FALSE);
}

gboolean
clipscope_write_all (int         fd,
                     const void *buf,
                     gsize       len)
{
  return transfer_all (fd, (char *) buf, len, TRUE);
}

/* $CLIPSCOPE_DECODER, else the installed helper, else the one in the
 * build tree (for tests and uninstalled runs); NULL for in-process. */
static char *
find_helper (void)
{
  const char *env = g_getenv ("CLIPSCOPE_DECODER");
  const char *candidates[] = { CLIPSCOPE_LIBEXECDIR "/clipscope-decoder", CLIPSCOPE_BUILD_DECODER };

  if (env != NULL && *env != '\0')
    return strcmp (env, "in-process") == 0 ? NULL : g_strdup (env);
  for (gsize i = 0; i < G_N_ELEMENTS (candidates); i++)
    if (g_file_test (candidates[i], G_FILE_TEST_IS_EXECUTABLE))
      return g_strdup (candidates[i]);
  return NULL;
}

ClipscopeDecoderPool *
clipscope_decoder_pool_new (int n_workers)
{
  g_autofree char *helper = find_helper ();
  const char *timeout = g_getenv ("CLIPSCOPE_DECODE_TIMEOUT");
  const char *workers = g_getenv ("CLIPSCOPE_DECODE_WORKERS");
  ClipscopeDecoderPool *pool;
  guint64 seconds = DEFAULT_TIMEOUT_S, count = 0;

  if (helper == NULL)
    return NULL;
  if (timeout != NULL)
    g_ascii_string_to_unsigned (timeout, 10, 1, 24 * 3600, &seconds, NULL);
  if (workers != NULL && g_ascii_string_to_unsigned (workers, 10, 1, 1024, &count, NULL))
    n_workers = (int) count;
  pool = g_new0 (ClipscopeDecoderPool, 1);
  pool->helper = g_steal_pointer (&helper);
  pool->n_workers = MAX (n_workers, 1);
  pool->timeout_s = (guint32) seconds;
  pool->workers = g_new (Worker, pool->n_workers);
  for (int i = 0; i < pool->n_workers; i++)
    pool->workers[i] = (Worker) { 0, -1, -1, 0 };
  return pool;
}

/* Ends a worker's process and says how it ended: NULL when it exited by
 * itself without an error, or had to be killed. Closing its socket ends
 * a helper that waits for work, and one that has just died has closed it
 * a moment before it can be reaped, so it is given @grace_ms to exit. */
static char *
stop_worker (Worker *w,
             int     grace_ms)
{
  int status = 0;
  pid_t pid = w->pid;

  if (w->sock >= 0)
    close (w->sock);
  *w = (Worker) { 0, -1, -1, 0 };
  if (pid <= 0)
    return NULL;
  for (int waited = 0; waitpid (pid, &status, WNOHANG) == 0; waited += 5)
    {
      if (waited >= grace_ms)
        {
          kill (pid, SIGKILL);
          while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
            ;
          return NULL;
        }
      g_usleep (5000);
    }
  if (WIFSIGNALED (status) && WTERMSIG (status) == SIGXCPU)
    return g_strdup ("decoding used more CPU time than the limit");
  if (WIFSIGNALED (status))
    return g_strdup_printf ("the decoder crashed on it (%s), or ran out of memory",
                            g_strsignal (WTERMSIG (status)));
  if (WIFEXITED (status) && WEXITSTATUS (status) != 0)
    return g_strdup_printf ("the decoder failed on it (exit status %d)", WEXITSTATUS (status));
  return NULL;
}

void
clipscope_decoder_pool_free (ClipscopeDecoderPool *pool)
{
  if (pool == NULL)
    return;
  /* Closing the socket ends an idle helper; one still busy is killed. */
  for (int i = 0; i < pool->n_workers; i++)
    g_free (stop_worker (&pool->workers[i], pool->workers[i].job >= 0 ? 0 : 1000));

  g_free (pool->workers);
  g_free (pool->helper);
  g_free (pool);
}

/* Starts a helper with its socket as CLIPSCOPE_DECODER_FD, its stdout
 * and stderr on /dev/null. posix_spawn is safe in a threaded process. */
static gboolean
start_worker (ClipscopeDecoderPool *pool,
              Worker               *w)
{
  posix_spawn_file_actions_t actions;
  char *argv[] = { pool->helper, NULL };
  int sv[2], theirs;
  pid_t pid;
  int rc;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return FALSE;
  /* Above the descriptors dup2 writes, so that none is overwritten. */
  theirs = fcntl (sv[1], F_DUPFD_CLOEXEC, CLIPSCOPE_DECODER_FD + 1);
  close (sv[1]);
  if (theirs < 0)
    {
      close (sv[0]);
      return FALSE;
    }
  posix_spawn_file_actions_init (&actions);
  posix_spawn_file_actions_addopen (&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen (&actions, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2 (&actions, theirs, CLIPSCOPE_DECODER_FD);
  rc = posix_spawn (&pid, pool->helper, &actions, NULL, argv, environ);
  posix_spawn_file_actions_destroy (&actions);
  close (theirs);
  if (rc != 0)
    {
      close (sv[0]);
      return FALSE;
    }
  *w = (Worker) { pid, sv[0], -1, 0 };
  return TRUE;
}

/* Sends one request, @form with its name and limits filled in, with
 * @fd; FALSE when the helper is gone. */
static gboolean
send_request (ClipscopeDecoderPool         *pool,
              Worker                       *w,
              const char                   *path,
              int                           fd,
              const ClipscopeDecodeRequest *form)
{
  ClipscopeDecodeRequest request = *form;
  union {
    struct cmsghdr header;
    char           space[CMSG_SPACE (sizeof (int))];
  } control;
  gsize name_bytes = MIN (strlen (path), CLIPSCOPE_DECODER_MAX_NAME);
  struct iovec iov[2] = { { &request, sizeof request }, { (void *) path, name_bytes } };
  struct msghdr msg = { 0 };
  struct cmsghdr *cmsg;
  gsize total = sizeof request + name_bytes, sent = 0;
  gssize n;

  request.magic = CLIPSCOPE_DECODER_MAGIC;
  request.name_bytes = (guint32) name_bytes;
  request.cpu_seconds = pool->timeout_s;
  memset (&control, 0, sizeof control);
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  msg.msg_control = control.space;
  msg.msg_controllen = sizeof control.space;
  cmsg = CMSG_FIRSTHDR (&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cmsg), &fd, sizeof (int));
  do
    n = sendmsg (w->sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    return FALSE;
  sent = (gsize) n;
  /* What the socket did not take at once follows without the descriptor. */
  while (sent < total)
    {
      const char *from = sent < sizeof request ? (const char *) &request + sent
                                               : path + (sent - sizeof request);
      gsize len = sent < sizeof request ? sizeof request - sent : total - sent;

      do
        n = send (w->sock, from, len, MSG_NOSIGNAL);
      while (n < 0 && errno == EINTR);
      if (n <= 0)
        return FALSE;
      sent += (gsize) n;
    }
  return TRUE;
}

/* Hands image @job to @w, starting its helper when it is not running and
 * once more should a running one turn out to be gone. */
static gboolean
dispatch (ClipscopeDecoderPool         *pool,
          Worker                       *w,
          int                           job,
          const char                   *path,
          int                           fd,
          const ClipscopeDecodeRequest *form)
{
  for (int attempt = 0; attempt < 2; attempt++)
    {
      if (w->pid == 0 && !start_worker (pool, w))
        return FALSE;
      if (send_request (pool, w, path, fd, form))
        {
          w->job = job;
          w->deadline = g_get_monotonic_time () + (gint64) pool->timeout_s * G_USEC_PER_SEC;
          return TRUE;
        }
      g_free (stop_worker (w, 0));
    }
  return FALSE;
}

static void
set_error (GError    **error,
           int         code,
           const char *path,
           const char *problem)
{
  g_autofree char *name = g_filename_display_name (path);

  g_set_error (error, CLIPSCOPE_ERROR, code, "%s: %s", name, problem);
}

/* Reads the message of an answer that is one; FALSE if it cannot. */
static gboolean
read_error_reply (Worker                     *w,
                  const ClipscopeDecodeReply *reply,
                  GError                    **error)
{
  g_autofree char *message = NULL;

  if (reply->ok != 0 || reply->payload_bytes > 65536)
    return FALSE;
  message = g_malloc0 (reply->payload_bytes + 1);
  if (!clipscope_read_all (w->sock, message, reply->payload_bytes))
    return FALSE;
  g_set_error_literal (error, CLIPSCOPE_ERROR,
                       reply->code >= 0 && reply->code <= CLIPSCOPE_ERROR_UNSUPPORTED
                         ? reply->code : CLIPSCOPE_ERROR_IMAGE,
                       message);
  return TRUE;
}

/* Ends @w after it answered nothing usable, and says why in @error. */
static void
fail_worker (Worker      *w,
             const char  *path,
             GError     **error)
{
  g_autofree char *how = stop_worker (w, 1000);

  set_error (error, CLIPSCOPE_ERROR_IMAGE, path,
             how != NULL ? how : "the decoder stopped before it answered");
}

/* Reads @w's answer for its job. The helper writes it whole once it
 * starts, so reading blocks only briefly. */
static void
collect (Worker      *w,
         const char  *path,
         gsize        n_floats,
         float       *pixels,
         GError     **error)
{
  ClipscopeDecodeReply reply;

  w->job = -1;
  if (clipscope_read_all (w->sock, &reply, sizeof reply) && reply.magic == CLIPSCOPE_DECODER_MAGIC
      && ((reply.ok == 1 && reply.payload_bytes == n_floats * sizeof (float)
           && clipscope_read_all (w->sock, pixels, reply.payload_bytes))
          || read_error_reply (w, &reply, error)))
    return;
  fail_worker (w, path, error);
}

void
clipscope_decoder_pool_preprocess (ClipscopeDecoderPool            *pool,
                                   const char * const              *paths,
                                   int                              n,
                                   const ClipscopePreprocessParams *params,
                                   float                           *pixels,
                                   GError                         **errors)
{
  const gsize n_floats = (gsize) 3 * params->crop * params->crop;
  g_autofree struct pollfd *fds = g_new (struct pollfd, pool->n_workers);
  ClipscopeDecodeRequest form = { .kind = CLIPSCOPE_DECODE_PREPROCESS, .params = *params };
  int next = 0, busy = 0;

  while (next < n || busy > 0)
    {
      gint64 now, first_deadline = G_MAXINT64;
      int n_fds = 0, ready;

      for (int i = 0; i < pool->n_workers && next < n; i++)
        {
          Worker *w = &pool->workers[i];
          int fd;

          if (w->job >= 0)
            continue;
          fd = clipscope_image_open (paths[next], &errors[next]);
          if (fd >= 0)
            {
              if (dispatch (pool, w, next, paths[next], fd, &form))
                busy++;
              else
                set_error (&errors[next], CLIPSCOPE_ERROR_IO, paths[next],
                           "the image decoder could not be started");
              close (fd);
            }
          next++;
        }
      if (busy == 0)
        continue;

      for (int i = 0; i < pool->n_workers; i++)
        if (pool->workers[i].job >= 0)
          {
            fds[n_fds++] = (struct pollfd) { pool->workers[i].sock, POLLIN, 0 };
            first_deadline = MIN (first_deadline, pool->workers[i].deadline);
          }
      now = g_get_monotonic_time ();
      ready = poll (fds, (nfds_t) n_fds,
                    (int) CLAMP ((first_deadline - now + 999) / 1000, 0, G_MAXINT));
      if (ready < 0 && errno != EINTR)
        {
          int saved = errno;

          /* Nothing more can be waited for: every image not yet done fails. */
          for (int i = 0; i < pool->n_workers; i++)
            if (pool->workers[i].job >= 0)
              {
                set_error (&errors[pool->workers[i].job], CLIPSCOPE_ERROR_IO,
                           paths[pool->workers[i].job], g_strerror (saved));
                g_free (stop_worker (&pool->workers[i], 0));
              }
          for (; next < n; next++)
            set_error (&errors[next], CLIPSCOPE_ERROR_IO, paths[next], g_strerror (saved));
          return;
        }
      now = g_get_monotonic_time ();
      for (int i = 0, k = 0; i < pool->n_workers; i++)
        {
          Worker *w = &pool->workers[i];
          int job = w->job;

          if (job < 0)
            continue;
          if (fds[k++].revents != 0)
            {
              collect (w, paths[job], n_floats, pixels + (gsize) job * n_floats, &errors[job]);
              busy--;
            }
          else if (now >= w->deadline)
            {
              g_autofree char *problem = g_strdup_printf ("decoding took longer than %u s",
                                                          pool->timeout_s);

              g_free (stop_worker (w, 0));
              set_error (&errors[job], CLIPSCOPE_ERROR_LIMIT, paths[job], problem);
              busy--;
            }
        }
    }
}

/* Reads a thumbnail's answer: its size, then its pixels. */
static GBytes *
collect_thumbnail (Worker      *w,
                   const char  *path,
                   int          max_width,
                   int          max_height,
                   int         *width,
                   int         *height,
                   GError     **error)
{
  ClipscopeDecodeReply reply;

  w->job = -1;
  if (clipscope_read_all (w->sock, &reply, sizeof reply) && reply.magic == CLIPSCOPE_DECODER_MAGIC)
    {
      if (reply.ok == 1 && reply.width >= 1 && reply.width <= (guint32) max_width
          && reply.height >= 1 && reply.height <= (guint32) max_height
          && reply.payload_bytes == (gsize) reply.width * reply.height * 4)
        {
          g_autofree guint8 *pixels = g_malloc (reply.payload_bytes);

          if (clipscope_read_all (w->sock, pixels, reply.payload_bytes))
            {
              *width = (int) reply.width;
              *height = (int) reply.height;
              return g_bytes_new_take (g_steal_pointer (&pixels), reply.payload_bytes);
            }
        }
      else if (read_error_reply (w, &reply, error))
        return NULL;
    }
  fail_worker (w, path, error);
  return NULL;
}

GBytes *
clipscope_decoder_pool_thumbnail (ClipscopeDecoderPool            *pool,
                                  const char                      *path,
                                  const ClipscopePreprocessParams *params,
                                  int                              max_width,
                                  int                              max_height,
                                  GCancellable                    *cancellable,
                                  int                             *width,
                                  int                             *height,
                                  GError                         **error)
{
  ClipscopeDecodeRequest form = {
    .kind = CLIPSCOPE_DECODE_THUMBNAIL,
    .max_width = (guint32) max_width,
    .max_height = (guint32) max_height,
    .params = *params,
  };
  Worker *w = &pool->workers[0];
  struct pollfd fds[2];
  int fd;
  gboolean sent;

  g_return_val_if_fail (max_width >= 1 && max_width <= CLIPSCOPE_THUMBNAIL_MAX_SIDE, NULL);
  g_return_val_if_fail (max_height >= 1 && max_height <= CLIPSCOPE_THUMBNAIL_MAX_SIDE, NULL);

  fd = clipscope_image_open (path, error);
  if (fd < 0)
    return NULL;
  sent = dispatch (pool, w, 0, path, fd, &form);
  close (fd);
  if (!sent)
    {
      set_error (error, CLIPSCOPE_ERROR_IO, path, "the image decoder could not be started");
      return NULL;
    }

  fds[0] = (struct pollfd) { w->sock, POLLIN, 0 };
  fds[1] = (struct pollfd) { -1, POLLIN, 0 };
  if (cancellable != NULL)
    {
      GPollFD cancelled;

      if (g_cancellable_make_pollfd (cancellable, &cancelled))
        fds[1].fd = cancelled.fd;
    }
  for (;;)
    {
      gint64 left = w->deadline - g_get_monotonic_time ();
      int ready = poll (fds, 2, (int) CLAMP ((left + 999) / 1000, 0, G_MAXINT));
      int saved = errno;
      GBytes *pixels;

      if (ready < 0 && errno == EINTR)
        continue;
      if (fds[0].revents != 0)
        {
          pixels = collect_thumbnail (w, path, max_width, max_height, width, height, error);
          if (fds[1].fd >= 0)
            g_cancellable_release_fd (cancellable);
          return pixels;
        }
      /* Past the deadline (poll timed out), or cancelled: a thumbnail no
       * one waits for is not worth finishing. */
      if (ready <= 0 || g_cancellable_is_cancelled (cancellable))
        {
          g_autofree char *problem = g_strdup_printf ("decoding took longer than %u s",
                                                      pool->timeout_s);

          g_free (stop_worker (w, 0));
          if (fds[1].fd >= 0)
            g_cancellable_release_fd (cancellable);
          if (ready < 0)
            set_error (error, CLIPSCOPE_ERROR_IO, path, g_strerror (saved));
          else if (!g_cancellable_set_error_if_cancelled (cancellable, error))
            set_error (error, CLIPSCOPE_ERROR_LIMIT, path, problem);
          return NULL;
        }
    }
}
