/* threads.c - OpenMP facts and policy: whether OpenMP is compiled in, what
 * num_threads=None means, how many threads a given amount of work deserves,
 * and per-thread scratch allocation.  Never changes global OpenMP state. */
#define _POSIX_C_SOURCE 200112L
#include <stdlib.h>
#include "cconv.h"
#include "scratch.h"
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(_MSC_VER)
#include <malloc.h>
#endif

/* Below this many multiply-adds per thread, another thread costs more than it saves. */
#define CCONV_MIN_WORK_PER_THREAD 2.0e5

int cconv_openmp_enabled(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int cconv_default_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int cconv_threads_for(int requested, double work, int64_t tasks)
{
    int64_t nt = requested > 0 ? requested : cconv_default_threads();
    int64_t by_work = (int64_t)(work / CCONV_MIN_WORK_PER_THREAD);
    if (nt > tasks) nt = tasks;
    if (nt > by_work) nt = by_work;
    if (nt < 1) nt = 1;
    return (int)nt;
}

void *cconv_scratch_alloc(size_t bytes)
{
    if (bytes == 0) bytes = 64;
    bytes = (bytes + 63) & ~(size_t)63;
#if defined(_MSC_VER)
    return _aligned_malloc(bytes, 64);
#else
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0) return NULL;
    return p;
#endif
}

void cconv_scratch_free(void *p)
{
#if defined(_MSC_VER)
    _aligned_free(p);
#else
    free(p);
#endif
}
