/* blas.c — BLAS calls that a fork() in another thread cannot stall
 *
 * OpenBLAS built with pthreads (Debian's 0.3.21 is) registers a
 * pthread_atfork() handler that stops its thread pool before every fork().
 * A BLAS call running in another thread at that moment has handed work to
 * those threads, or is about to, and then waits for them for ever: it
 * spins in exec_blas_async() or exec_blas_async_wait(). A front end that
 * encodes in a worker thread and spawns a process from its main thread
 * (GLib's g_spawn_*() fork) would see its worker hang.
 *
 * So the engine makes every BLAS call between clipscope_blas_begin() and
 * clipscope_blas_end(), and a fork handler of its own, registered after
 * OpenBLAS's and therefore run before it, waits for the calls in flight to
 * end and holds back new ones until the fork is done. posix_spawn(), which
 * the decoder pool uses, runs no fork handlers and is not concerned.
 */
#include "clipscope-private.h"

#include <pthread.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  changed = PTHREAD_COND_INITIALIZER;
static int      n_running;   /* BLAS calls in flight */
static int      n_forking;   /* forks waiting for them, or under way */

/* The lock is held from here until the fork is done, in both processes. */
static void
before_fork (void)
{
  pthread_mutex_lock (&lock);
  n_forking++;
  while (n_running > 0)
    pthread_cond_wait (&changed, &lock);
}

static void
after_fork_in_parent (void)
{
  n_forking--;
  pthread_cond_broadcast (&changed);
  pthread_mutex_unlock (&lock);
}

/* The child has only the thread that forked: no call is in flight. */
static void
after_fork_in_child (void)
{
  n_forking = 0;
  n_running = 0;
  pthread_mutex_unlock (&lock);
}

/* Registered as the library loads, after OpenBLAS's constructor registered
 * its own (the loader runs a dependency's first), so that ours runs first:
 * prepare handlers run in the reverse order. Not at the first BLAS call:
 * a fork then under way in another thread would run OpenBLAS's handler
 * without ours, under that very call. */
__attribute__ ((constructor)) static void
register_fork_handlers (void)
{
  pthread_atfork (before_fork, after_fork_in_parent, after_fork_in_child);
}

void
clipscope_blas_begin (void)
{
  pthread_mutex_lock (&lock);
  while (n_forking > 0)
    pthread_cond_wait (&changed, &lock);
  n_running++;
  pthread_mutex_unlock (&lock);
}

void
clipscope_blas_end (void)
{
  pthread_mutex_lock (&lock);
  if (--n_running == 0)
    pthread_cond_broadcast (&changed);
  pthread_mutex_unlock (&lock);
}
