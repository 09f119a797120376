/* cpu-loops.h — how the CPU backend's element-wise loops are built
 * (cpu-ops.c, cpu-quant.c); not for other files. */
#pragma once

/* Loops spread over the OpenMP threads that oneDNN's products run on, so
 * that one pool does all the work, where the variable `spread` says so;
 * when the products are OpenBLAS's, its threads are the pool and these
 * loops stay on the calling thread. */
#ifdef _OPENMP
# define PARALLEL_FOR _Pragma ("omp parallel for schedule(static) if(spread)")
#else
# define PARALLEL_FOR
#endif

/* The element-wise loops are built three times on x86-64, for the
 * baseline, AVX2 and AVX-512, and the loader picks one for the machine it
 * runs on; eight or sixteen floats a step instead of four. Sanitizer
 * builds keep one version: the resolvers run before the sanitizers'
 * runtimes are up. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) \
    && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
# define VECTOR_CLONES __attribute__ ((target_clones ("avx512f", "avx2", "default")))
#else
# define VECTOR_CLONES
#endif
