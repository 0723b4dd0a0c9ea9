/* scratch.h - aligned per-thread scratch buffers and the static split of a
 * task range over the threads of the current OpenMP team. */
#ifndef CCONV_SCRATCH_H
#define CCONV_SCRATCH_H

#include <stddef.h>
#include <stdint.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void *cconv_scratch_alloc(size_t bytes);   /* 64-byte aligned, NULL on failure */
void cconv_scratch_free(void *p);

/* This thread's contiguous share [*t0, *t1) of `tasks`, balanced to one task. */
static inline void cconv_thread_range(int64_t tasks, int64_t *t0, int64_t *t1)
{
#ifdef _OPENMP
    int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
#else
    int64_t nt = 1, id = 0;
#endif
    int64_t base = tasks / nt, rem = tasks % nt;
    *t0 = id * base + (id < rem ? id : rem);
    *t1 = *t0 + base + (id < rem ? 1 : 0);
}

#endif
