/* threads.c - OpenMP facts and policy: whether OpenMP is compiled in, what
 * num_threads=None means, how many threads a given amount of work deserves,
 * per-thread scratch allocation, fork detection (a forked child runs serial)
 * and access to the floating-point control register for tests.  Never
 * changes global OpenMP state. */
#define _POSIX_C_SOURCE 200112L
#define _DEFAULT_SOURCE  /* madvise flags (MADV_HUGEPAGE) */
#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include "cconv.h"
#include "scratch.h"
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(_MSC_VER)
#include <malloc.h>
#endif
#include "fpenv.h"
#if defined(_OPENMP) && !defined(_WIN32) && (defined(__unix__) || defined(__APPLE__))
#include <pthread.h>
#define CCONV_HAVE_ATFORK 1
#endif

/* Set in a child made by fork(): GNU libgomp's thread pool does not survive
 * fork, and a child that enters a parallel region after its parent used one
 * hangs.  So a forked child runs every kernel on one thread. */
static volatile int cconv_in_forked_child = 0;

#ifdef CCONV_HAVE_ATFORK
static void cconv_atfork_child(void) { cconv_in_forked_child = 1; }
#endif

void cconv_runtime_init(void)
{
    static int done = 0;
    if (done) return;
    done = 1;
#ifdef CCONV_HAVE_ATFORK
    pthread_atfork(NULL, NULL, cconv_atfork_child);
#endif
}

int cconv_forked_child(void) { return cconv_in_forked_child; }

uint64_t cconv_fpstate_get(void)
{
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
    return (uint64_t)_mm_getcsr();
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
    uint64_t v;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(v));
    return v;
#else
    return 0;
#endif
}

void cconv_fpstate_set(uint64_t v)
{
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
    _mm_setcsr((unsigned int)v);
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
    __asm__ __volatile__("msr fpcr, %0" ::"r"(v));
#else
    (void)v;
#endif
}

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
    if (cconv_in_forked_child) return 1;
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int cconv_threads_for(int requested, double work, int64_t tasks)
{
    if (cconv_in_forked_child) return 1;   /* see cconv_runtime_init */
    int64_t nt = requested > 0 ? requested : cconv_default_threads();
    int64_t by_work = (int64_t)(work / CCONV_MIN_WORK_PER_THREAD);
    if (nt > tasks) nt = tasks;
    if (nt > by_work) nt = by_work;
    if (nt < 1) nt = 1;
    return (int)nt;
}

/* a thread pays for itself from about this many packed weights (with the
 * weight scan's FINITE_MIN_PER_THREAD, finite.c).  32K against 64K, both,
 * one-shot, two threads, Intel family 6 model 167, paired: 3x3 96 -> 128 at
 * 28x28 (110K weights: the direct layout had packed on one thread while
 * the other waited) x1.05, 5x5 48 -> 64 x1.07, 3x3 128 -> 128 x1.01, the
 * rest x0.99-1.01; 16K won 3x3 32 -> 32 at 28x28 x1.08 but lost 16 -> 64
 * at 55x55 x0.987 */
#ifndef CCONV_MIN_PACK_PER_THREAD
#define CCONV_MIN_PACK_PER_THREAD 32768.0
#endif

void cconv_pack_blocks(int requested, int64_t values, int64_t nblk,
                       void (*fn)(void *ctx, int64_t b), void *ctx)
{
    const int nt = cconv_threads_for(requested, (double)values / CCONV_MIN_PACK_PER_THREAD
                                                    * CCONV_MIN_WORK_PER_THREAD, nblk);
    (void)nt;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static)
#endif
    for (int64_t b = 0; b < nblk; b++) fn(ctx, b);
}

#ifndef CCONV_HUGE_MIN
#define CCONV_HUGE_MIN ((size_t)32 << 20)
#endif
void *cconv_scratch_alloc(size_t bytes)
{
    if (bytes == 0) bytes = 64;
    bytes = (bytes + 63) & ~(size_t)63;
#if defined(_MSC_VER)
    return _aligned_malloc(bytes, 64);
#else
    void *p = NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (bytes >= CCONV_HUGE_MIN) {
        /* Buffers this large (packed weights: 3x3 512 -> 512 packs 45 MiB)
         * come fresh from mmap on every allocation, beyond glibc's largest
         * mmap threshold, and their pack spent ~60% of its time in page
         * faults on 4 KiB pages; on 2 MiB pages (where the kernel grants
         * them on request) packing ran x1.76-1.93 on one thread, x1.32 on
         * two (512 -> 512 and 1024 -> 256, 3x3).  Smaller buffers are reused
         * from the heap without faults, and lost on 2 MiB pages (x0.65 for
         * an 11.8 MiB pack at two threads). */
        if (posix_memalign(&p, (size_t)2 << 20, bytes) != 0) return NULL;
        madvise(p, bytes & ~(((size_t)2 << 20) - 1), MADV_HUGEPAGE);
        return p;
    }
#endif
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
