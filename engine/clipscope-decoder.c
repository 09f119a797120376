/* clipscope-decoder.c — the helper process that decodes images
 *
 * Started by libclipscope's decoder pool (decoder.c) with its end of a
 * Unix socket as descriptor 3. It limits its own address space, takes
 * away system calls a decoder never needs, then answers requests until
 * the socket closes: each brings an open image file, which is decoded
 * and preprocessed, and the answer is the model's input tensor or an
 * error message.
 */
#include "decoder.h"

#include <errno.h>
#include <fcntl.h>
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

# define DENY(nr) \
  BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
  BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)

/* Opening for anything but reading is refused: the flags are the second
 * argument of open and the third of openat. */
# define OPEN_WRITE_FLAGS (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)
# define READ_ONLY_OPEN(nr, arg) \
  BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 3), \
  BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, args[arg])), \
  BPF_JUMP (BPF_JMP | BPF_JSET | BPF_K, OPEN_WRITE_FLAGS, 0, 1), \
  BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)

/* A deny list: what an image decoder has no use for. Everything else a
 * loader module may need (reading files, mapping memory, threads) stays.
 * A process of another architecture is killed. */
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
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    DENY (SYS_fork), DENY (SYS_vfork),
    DENY (SYS_unlink), DENY (SYS_rename), DENY (SYS_mkdir), DENY (SYS_rmdir),
    DENY (SYS_symlink), DENY (SYS_link), DENY (SYS_chmod), DENY (SYS_chown),
    DENY (SYS_lchown), DENY (SYS_mknod),
# endif
    DENY (SYS_execve), DENY (SYS_execveat), DENY (SYS_ptrace), DENY (SYS_kill),
    DENY (SYS_socket), DENY (SYS_socketpair), DENY (SYS_connect), DENY (SYS_bind),
    DENY (SYS_listen), DENY (SYS_accept), DENY (SYS_accept4),
    DENY (SYS_process_vm_readv), DENY (SYS_process_vm_writev),
    DENY (SYS_unlinkat), DENY (SYS_renameat), DENY (SYS_renameat2), DENY (SYS_mkdirat),
    DENY (SYS_symlinkat), DENY (SYS_linkat), DENY (SYS_fchmod), DENY (SYS_fchmodat),
    DENY (SYS_fchown), DENY (SYS_fchownat), DENY (SYS_truncate), DENY (SYS_mknodat),
    DENY (SYS_mount), DENY (SYS_umount2), DENY (SYS_setuid), DENY (SYS_setgid),
    DENY (SYS_bpf), DENY (SYS_perf_event_open), DENY (SYS_keyctl), DENY (SYS_add_key),
    DENY (SYS_io_uring_setup), DENY (SYS_userfaultfd),
# if defined(__x86_64__)
    READ_ONLY_OPEN (SYS_open, 1),
    BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr)),
# endif
    READ_ONLY_OPEN (SYS_openat, 2),
    BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
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
reply (guint32     ok,
       gint32      code,
       const void *payload,
       guint32     bytes)
{
  ClipscopeDecodeReply header = { CLIPSCOPE_DECODER_MAGIC, ok, code, bytes };

  return clipscope_write_all (CLIPSCOPE_DECODER_FD, &header, sizeof header)
         && clipscope_write_all (CLIPSCOPE_DECODER_FD, payload, bytes);
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
      || params->crop <= 0 || params->crop > 65536
      || (params->resample != CLIPSCOPE_RESAMPLE_BICUBIC && params->resample != CLIPSCOPE_RESAMPLE_BILINEAR))
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
  image = clipscope_image_load_fd (fd, name, params, &error);
  close (fd);
  if (image == NULL)
    return reply (0, error->domain == CLIPSCOPE_ERROR ? error->code : CLIPSCOPE_ERROR_IMAGE,
                  error->message, (guint32) strlen (error->message));
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
