/* cpu-wait.c — how long idle OpenMP threads spin, set before libgomp starts
 *
 * oneDNN's products and the CPU backend's loops run on libgomp's threads.
 * Unless told otherwise an idle libgomp thread spins for 300 000 rounds,
 * milliseconds, waiting for the next parallel loop before it sleeps: on a
 * machine whose cores are busy with other work those spinning threads take
 * the time the thread they wait for needs, and a small batch runs several
 * times slower. OMP_WAIT_POLICY=passive cures that, but libgomp reads its
 * environment once, in its constructor, before main() or any constructor
 * of a library that needs libgomp runs.
 *
 * So this tiny library, which needs nothing but the C library, sets it
 * from its own constructor. libclipscope names it among the libraries it
 * needs after libgomp, and the dynamic loader runs the constructors of
 * libraries that do not depend on each other in the reverse of that
 * order: this one first (test-cli.py checks libgomp's settings). Where the
 * user has chosen neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT, it sets
 * GOMP_SPINCOUNT to a short spin, some tens of microseconds: enough to
 * bridge two products in a row, little to lose while the thread waited for
 * is descheduled. A round of libgomp's spin is one `pause`, which takes
 * from about ten to a hundred and forty cycles depending on the core, so
 * on x86 the rounds are counted for SPIN_NS from the time a few hundred
 * of them take here (1000 rounds, 13 µs on a Sapphire Rapids core, did not
 * even bridge two parallel loops in a row, each then paying a wake-up of
 * some 30 µs). libclipscope's constructor, which runs after libgomp's,
 * takes the variable out of the environment again, so that no program the
 * process starts inherits it. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Where the rounds cannot be timed. */
#define SPIN_COUNT 1000
#define SPIN_NS 40000
#define MIN_SPIN_COUNT 1000
#define MAX_SPIN_COUNT 100000

int clipscope_wait_env_set (void);

static int set_here;

#if defined(__x86_64__) || defined(__i386__)
/* libgomp's rounds in SPIN_NS here: the fastest of a few timings of 256
 * pauses, as a thread descheduled meanwhile only makes one slower. */
static long
spin_count (void)
{
  const int rounds = 256;
  double best = 0.0;

  for (int trial = 0; trial < 5; trial++)
    {
      struct timespec t0, t1;
      double ns;

      if (clock_gettime (CLOCK_MONOTONIC, &t0) != 0)
        return SPIN_COUNT;
      for (int i = 0; i < rounds; i++)
        __builtin_ia32_pause ();
      if (clock_gettime (CLOCK_MONOTONIC, &t1) != 0)
        return SPIN_COUNT;
      ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
      if (ns > 0 && (best == 0.0 || ns < best))
        best = ns;
    }
  if (best == 0.0)
    return SPIN_COUNT;
  if (SPIN_NS * rounds / best < MIN_SPIN_COUNT)
    return MIN_SPIN_COUNT;
  return SPIN_NS * rounds / best > MAX_SPIN_COUNT ? MAX_SPIN_COUNT
                                                  : (long) (SPIN_NS * rounds / best);
}
#else
static long
spin_count (void)
{
  return SPIN_COUNT;
}
#endif

__attribute__ ((constructor)) static void
set_spin_count (void)
{
  char count[24];

  if (getenv ("OMP_WAIT_POLICY") == NULL && getenv ("GOMP_SPINCOUNT") == NULL)
    {
      snprintf (count, sizeof count, "%ld", spin_count ());
      set_here = setenv ("GOMP_SPINCOUNT", count, 0) == 0;
    }
}

/* Whether GOMP_SPINCOUNT is in the environment because of the above. */
__attribute__ ((visibility ("default"))) int
clipscope_wait_env_set (void)
{
  return set_here;
}
