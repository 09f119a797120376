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
 * is descheduled. libclipscope's constructor, which runs after libgomp's,
 * takes the variable out of the environment again, so that no program the
 * process starts inherits it.
 */
#include <stdlib.h>

#define SPIN_COUNT "1000"

int clipscope_wait_env_set (void);

static int set_here;

__attribute__ ((constructor)) static void
set_spin_count (void)
{
  if (getenv ("OMP_WAIT_POLICY") == NULL && getenv ("GOMP_SPINCOUNT") == NULL)
    set_here = setenv ("GOMP_SPINCOUNT", SPIN_COUNT, 0) == 0;
}

/* Whether GOMP_SPINCOUNT is in the environment because of the above. */
__attribute__ ((visibility ("default"))) int
clipscope_wait_env_set (void)
{
  return set_here;
}
