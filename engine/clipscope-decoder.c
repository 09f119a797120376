/* clipscope-decoder.c — the helper process that decodes images
 *
 * Started by libclipscope's decoder pool (decoder.c) with its end of a
 * Unix socket as descriptor 3. It limits its own address space, allows
 * itself only the system calls decoding needs, then answers requests until
 * the socket closes: each brings an open image file, which is decoded
 * and preprocessed, and the answer is the model's input tensor (or the
 * thumbnail asked for) or an error message.
 */
#include "decoder.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
# include <linux/audit.h>
# include <linux/filter.h>
# include <linux/seccomp.h>
# define HAVE_SECCOMP_FILTER 1
#endif

/* Sanitizers reserve terabytes of address space up front. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
# define LIMIT_ADDRESS_SPACE 0
#elif defined(__has_feature)
# if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#  define LIMIT_ADDRESS_SPACE 0
# endif
#endif
#ifndef LIMIT_ADDRESS_SPACE
# define LIMIT_ADDRESS_SPACE 1
#endif

#if !LIMIT_ADDRESS_SPACE
/* LeakSanitizer's check at exit stops the process's threads with ptrace,
 * which the seccomp filter refuses; the helper's leaks are checked by the
 * library's own tests, in-process. */
int __lsan_is_turned_off (void);

int
__lsan_is_turned_off (void)
{
  return 1;
}
#endif

/* Room for the largest image the pixel limit lets through (100 MP as
 * RGBA, its RGB copy) and the decoders' own buffers. */
#define DEFAULT_MEMORY_MIB 2048

#ifdef HAVE_SECCOMP_FILTER
# if defined(__x86_64__)
#  define AUDIT_ARCH_HERE AUDIT_ARCH_X86_64
# else
#  define AUDIT_ARCH_HERE AUDIT_ARCH_AARCH64
# endif

/* What a system call outside the list gets: an error, which decoders
 * report as they would any failure, so the image fails and the helper
 * lives on. */
# define REFUSED (SECCOMP_RET_ERRNO | EPERM)

# define RETURN_IF(nr, action) \
  BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
  BPF_STMT (BPF_RET | BPF_K, (action))
# define ALLOW(nr) RETURN_IF (nr, SECCOMP_RET_ALLOW)

/* Opening for anything but reading is refused: the flags are the second
 * argument of open and the third of openat. */
# define OPEN_WRITE_FLAGS (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)
# define READ_ONLY_OPEN(nr, arg) \
  BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 4), \
  BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, args[arg])), \
  BPF_JUMP (BPF_JMP | BPF_JSET | BPF_K, OPEN_WRITE_FLAGS, 0, 1), \
  BPF_STMT (BPF_RET | BPF_K, REFUSED), \
  BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

/* clone makes threads only (CLONE_THREAD in its flags, the first
 * argument), not processes. clone3 passes its flags in memory, which a
 * filter cannot read: "not implemented" makes glibc fall back to clone. */
# define THREADS_ONLY_CLONE \
  BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 4), \
  BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, args[0])), \
  BPF_JUMP (BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1), \
  BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW), \
  BPF_STMT (BPF_RET | BPF_K, REFUSED), \
  RETURN_IF (SYS_clone3, SECCOMP_RET_ERRNO | ENOSYS)

/* An allow list: the system calls the helper and GdkPixbuf's loaders
 * (librsvg's threads and fontconfig among them) were seen to make while
 * decoding every format of the test suites, traced with strace, and the
 * harmless ones of the same families that other paths of GLib and glibc
 * take (sleeping, restarting, signal returns). Everything else fails with
 * EPERM; ioctl fails as on a file that is no terminal. A process of
 * another architecture is killed. */
static gboolean
install_seccomp_filter (void)
{
  struct sock_filter filter[] = {
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, arch)),
    BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_HERE, 1, 0),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr)),
# if defined(__x86_64__)
    /* The x32 numbering would bypass every rule below. */
    BPF_JUMP (BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
    BPF_STMT (BPF_RET | BPF_K, REFUSED),
# endif
    /* Reading what the parent sent, answering, and reading files. */
    ALLOW (SYS_read), ALLOW (SYS_pread64), ALLOW (SYS_readv), ALLOW (SYS_recvmsg),
    ALLOW (SYS_recvfrom), ALLOW (SYS_write), ALLOW (SYS_writev), ALLOW (SYS_lseek),
    ALLOW (SYS_close), ALLOW (SYS_fstat), ALLOW (SYS_newfstatat), ALLOW (SYS_statx),
    ALLOW (SYS_fstatfs), ALLOW (SYS_statfs), ALLOW (SYS_readlinkat), ALLOW (SYS_getdents64),
    ALLOW (SYS_faccessat), ALLOW (SYS_getcwd), ALLOW (SYS_fcntl), ALLOW (SYS_dup),
    ALLOW (SYS_dup3), ALLOW (SYS_pipe2), ALLOW (SYS_eventfd2), ALLOW (SYS_ppoll),
    ALLOW (SYS_getpeername), ALLOW (SYS_getsockname),
# ifdef SYS_faccessat2
    ALLOW (SYS_faccessat2),
# endif
# ifdef SYS_fadvise64
    ALLOW (SYS_fadvise64),
# endif
    READ_ONLY_OPEN (SYS_openat, 2),
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr)),
    /* Memory. */
    ALLOW (SYS_mmap), ALLOW (SYS_munmap), ALLOW (SYS_mprotect), ALLOW (SYS_mremap),
    ALLOW (SYS_madvise), ALLOW (SYS_brk),
    /* Threads, signals and time. */
    ALLOW (SYS_futex), ALLOW (SYS_set_robust_list), ALLOW (SYS_get_robust_list),
    ALLOW (SYS_sched_yield), ALLOW (SYS_sched_getaffinity), ALLOW (SYS_membarrier),
    ALLOW (SYS_rt_sigaction), ALLOW (SYS_rt_sigprocmask), ALLOW (SYS_rt_sigreturn),
    ALLOW (SYS_sigaltstack), ALLOW (SYS_restart_syscall), ALLOW (SYS_exit),
    ALLOW (SYS_exit_group), ALLOW (SYS_clock_gettime), ALLOW (SYS_clock_getres),
    ALLOW (SYS_gettimeofday), ALLOW (SYS_nanosleep), ALLOW (SYS_clock_nanosleep),
# ifdef SYS_rseq
    ALLOW (SYS_rseq),
# endif
    /* What the process may know of itself, and its limits. */
    ALLOW (SYS_getpid), ALLOW (SYS_gettid), ALLOW (SYS_getuid), ALLOW (SYS_geteuid),
    ALLOW (SYS_getgid), ALLOW (SYS_getegid), ALLOW (SYS_uname), ALLOW (SYS_sysinfo),
    ALLOW (SYS_getrandom), ALLOW (SYS_getrusage), ALLOW (SYS_prlimit64),
# if defined(__x86_64__)
    ALLOW (SYS_stat), ALLOW (SYS_lstat), ALLOW (SYS_access), ALLOW (SYS_readlink),
    ALLOW (SYS_poll), ALLOW (SYS_pipe), ALLOW (SYS_dup2), ALLOW (SYS_getrlimit),
    ALLOW (SYS_time), ALLOW (SYS_arch_prctl),
# endif
# if !LIMIT_ADDRESS_SPACE
    /* The sanitizers' runtimes: their reports, their own threads. */
    ALLOW (SYS_prctl), ALLOW (SYS_tgkill), ALLOW (SYS_getppid), ALLOW (SYS_wait4),
    ALLOW (SYS_mincore), ALLOW (SYS_sched_getparam), ALLOW (SYS_sched_getscheduler),
#  if defined(__x86_64__)
    ALLOW (SYS_setrlimit),
#  endif
# endif
    THREADS_ONLY_CLONE,
    RETURN_IF (SYS_ioctl, SECCOMP_RET_ERRNO | ENOTTY),
# if defined(__x86_64__)
    READ_ONLY_OPEN (SYS_open, 1),
# endif
    BPF_STMT (BPF_RET | BPF_K, REFUSED),
  };
  struct sock_fprog program = { (unsigned short) G_N_ELEMENTS (filter), filter };

  return prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
         && prctl (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) == 0;
}
#endif

static void
limit_memory (void)
{
  const char *env = g_getenv ("CLIPSCOPE_DECODE_MEMORY_MB");
  guint64 mib = DEFAULT_MEMORY_MIB;
  struct rlimit limit;

  if (env != NULL)
    g_ascii_string_to_unsigned (env, 10, 16, G_MAXUINT32, &mib, NULL);
  if (!LIMIT_ADDRESS_SPACE)
    return;
  limit.rlim_cur = limit.rlim_max = (rlim_t) mib << 20;
  setrlimit (RLIMIT_AS, &limit);
}

/* Lets this request use @seconds more of CPU time; past it, SIGXCPU
 * ends the process (the soft limit is raised per request, the hard one
 * stays a little above it). */
static void
limit_cpu (guint32 seconds)
{
  struct rusage usage;
  struct rlimit limit;

  if (seconds == 0 || getrusage (RUSAGE_SELF, &usage) != 0)
    return;
  limit.rlim_cur = (rlim_t) usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + 1 + seconds;
  limit.rlim_max = RLIM_INFINITY;
  setrlimit (RLIMIT_CPU, &limit);
}

/* Receives a request and the descriptor sent with it; FALSE at the end. */
static gboolean
receive_request (ClipscopeDecodeRequest *request,
                 int                    *fd)
{
  union {
    struct cmsghdr header;
    char           space[CMSG_SPACE (sizeof (int))];
  } control;
  struct iovec iov = { request, sizeof *request };
  struct msghdr msg = { 0 };
  struct cmsghdr *cmsg;
  gssize got;

  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.space;
  msg.msg_controllen = sizeof control.space;
  do
    got = recvmsg (CLIPSCOPE_DECODER_FD, &msg, MSG_CMSG_CLOEXEC);
  while (got < 0 && errno == EINTR);
  if (got <= 0)
    return FALSE;
  *fd = -1;
  for (cmsg = CMSG_FIRSTHDR (&msg); cmsg != NULL; cmsg = CMSG_NXTHDR (&msg, cmsg))
    if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS)
      memcpy (fd, CMSG_DATA (cmsg), sizeof (int));
  /* The rest of the header, should it have come in pieces. */
  return (gsize) got == sizeof *request
         || clipscope_read_all (CLIPSCOPE_DECODER_FD, (char *) request + got,
                                sizeof *request - (gsize) got);
}

static gboolean
reply_sized (guint32     ok,
             gint32      code,
             const void *payload,
             guint32     bytes,
             int         width,
             int         height)
{
  ClipscopeDecodeReply header = { CLIPSCOPE_DECODER_MAGIC, ok, code, bytes,
                                  (guint32) width, (guint32) height };

  return clipscope_write_all (CLIPSCOPE_DECODER_FD, &header, sizeof header)
         && clipscope_write_all (CLIPSCOPE_DECODER_FD, payload, bytes);
}

static gboolean
reply (guint32     ok,
       gint32      code,
       const void *payload,
       guint32     bytes)
{
  return reply_sized (ok, code, payload, bytes, 0, 0);
}

static gboolean
reply_error (const GError *error)
{
  return reply (0, error->domain == CLIPSCOPE_ERROR ? error->code : CLIPSCOPE_ERROR_IMAGE,
                error->message, (guint32) strlen (error->message));
}

static gboolean
serve_thumbnail (const ClipscopeDecodeRequest *request,
                 int                           fd,
                 const char                   *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) pixels = NULL;
  int width = 0, height = 0;

  pixels = clipscope_image_thumbnail_fd (fd, name, &request->params, (int) request->max_width,
                                         (int) request->max_height, &width, &height, &error);
  close (fd);
  if (pixels == NULL)
    return reply_error (error);
  return reply_sized (1, 0, g_bytes_get_data (pixels, NULL), (guint32) g_bytes_get_size (pixels),
                      width, height);
}

static gboolean
serve_one (const ClipscopeDecodeRequest *request,
           int                           fd)
{
  g_autofree char *name = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(ClipscopeRgbImage) image = NULL;
  const ClipscopePreprocessParams *params = &request->params;
  gsize n_floats;
  g_autofree float *out = NULL;

  if (request->magic != CLIPSCOPE_DECODER_MAGIC || request->name_bytes > CLIPSCOPE_DECODER_MAX_NAME
      || (request->kind == CLIPSCOPE_DECODE_PREPROCESS
          && (params->crop <= 0 || params->crop > 65536
              || (params->resample != CLIPSCOPE_RESAMPLE_BICUBIC
                  && params->resample != CLIPSCOPE_RESAMPLE_BILINEAR)))
      || (request->kind == CLIPSCOPE_DECODE_THUMBNAIL
          && (request->max_width < 1 || request->max_width > CLIPSCOPE_THUMBNAIL_MAX_SIDE
              || request->max_height < 1 || request->max_height > CLIPSCOPE_THUMBNAIL_MAX_SIDE))
      || request->kind > CLIPSCOPE_DECODE_THUMBNAIL)
    return FALSE;
  name = g_malloc0 (request->name_bytes + 1);
  if (!clipscope_read_all (CLIPSCOPE_DECODER_FD, name, request->name_bytes))
    return FALSE;
  if (fd < 0)
    {
      g_autofree char *shown = g_filename_display_name (name);
      g_autofree char *message = g_strdup_printf ("%s: no file came with the request", shown);

      return reply (0, CLIPSCOPE_ERROR_IO, message, (guint32) strlen (message));
    }
  limit_cpu (request->cpu_seconds);
  if (request->kind == CLIPSCOPE_DECODE_THUMBNAIL)
    return serve_thumbnail (request, fd, name);
  image = clipscope_image_load_fd (fd, name, params, &error);
  close (fd);
  if (image == NULL)
    return reply_error (error);
  n_floats = (gsize) 3 * params->crop * params->crop;
  out = g_new (float, n_floats);
  clipscope_image_preprocess (image, params, out);
  return reply (1, 0, out, (guint32) (n_floats * sizeof (float)));
}

int
main (void)
{
  ClipscopeDecodeRequest request;
  int fd;

  limit_memory ();
#ifdef HAVE_SECCOMP_FILTER
  if (g_strcmp0 (g_getenv ("CLIPSCOPE_DECODER_SECCOMP"), "0") != 0 && !install_seccomp_filter ())
    return 1;
#endif
  while (receive_request (&request, &fd))
    if (!serve_one (&request, fd))
      return 1;
  return 0;
}
