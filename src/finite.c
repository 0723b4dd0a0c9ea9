/* finite.c - "is every value finite?" over float32/float64 values, by a bit
 * test on the exponent field (a loop the compiler vectorises with the
 * baseline ISA).  Winograd mixes a tile's inputs and a filter's taps, so
 * the callers keep non-finite weights (PackedWeights) and images
 * (conv_select.c) on the direct path, where IEEE propagation stays exact.
 */
#include <string.h>
#include "cconv.h"
#include "scratch.h"

/* blocks of this many values: one early exit test a block */
#define FINITE_BLOCK 1024

#define ALL_FINITE(name, T, U, EXP)                                   \
    static int name(const T *x, int64_t n)                            \
    {                                                                 \
        for (int64_t i0 = 0; i0 < n; i0 += FINITE_BLOCK) {            \
            const int64_t i1 = n - i0 < FINITE_BLOCK ? n : i0 + FINITE_BLOCK; \
            U bad = 0;                                                \
            for (int64_t i = i0; i < i1; i++) {                       \
                U u;                                                  \
                memcpy(&u, x + i, sizeof u);                          \
                bad |= (U)((u & EXP) == EXP);                         \
            }                                                         \
            if (bad) return 0;                                        \
        }                                                             \
        return 1;                                                     \
    }
ALL_FINITE(all_finite_f32, float, uint32_t, 0x7f800000u)
ALL_FINITE(all_finite_f64, double, uint64_t, 0x7ff0000000000000ull)
#undef ALL_FINITE

int cconv_all_finite(cconv_dtype dt, const void *x, int64_t n)
{
    return dt == CCONV_F64 ? all_finite_f64((const double *)x, n)
                           : all_finite_f32((const float *)x, n);
}

/* a thread pays for itself from about this many scanned values.  A one-shot
 * 3x3 256 -> 256 call scans 590K weights, ~0.1 ms on one thread; split over
 * two, each thread also leaves in its own cache the half of the weights that
 * the Winograd tasks it then runs transform (contiguous output channels a
 * thread).  Paired A/B, one-shot, two threads, Zen 3, against one thread's
 * scan: 3x3 at 14x14 256 -> 256 x1.12-1.16, 512 -> 512 x1.10, 1024 -> 256
 * x1.10, 128 -> 128 (147K weights) x1.02-1.05 with 64K a thread, x1.00 on
 * the layers that pack the whole transform (96 -> 128 at 28x28, 5x5
 * 192 -> 32) */
#ifndef FINITE_MIN_PER_THREAD
#define FINITE_MIN_PER_THREAD 65536.0
#endif

int cconv_finite_threads(int nthreads, int64_t values, int64_t parts)
{
    /* one task a FINITE_MIN_PER_THREAD values, no more than parts: the
     * thread count is capped by tasks, never by multiply-add work */
    int64_t tasks = (int64_t)((double)values / FINITE_MIN_PER_THREAD);
    if (tasks > parts) tasks = parts;
    return cconv_threads_for(nthreads, 1e15, tasks);
}

int cconv_all_finite_mt(cconv_dtype dt, const void *x, int64_t n, int nthreads)
{
    const int64_t nblk = (n + FINITE_BLOCK - 1) / FINITE_BLOCK;
    const int nt = cconv_finite_threads(nthreads, n, nblk);
    if (nt <= 1) return cconv_all_finite(dt, x, n);
    const size_t es = dt == CCONV_F64 ? sizeof(double) : sizeof(float);
    int bad = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) reduction(| : bad)
#endif
    {
        int64_t b0, b1;
        cconv_thread_range(nblk, &b0, &b1);
        const int64_t i0 = b0 * FINITE_BLOCK, i1 = b1 * FINITE_BLOCK < n ? b1 * FINITE_BLOCK : n;
        if (i1 > i0) bad |= !cconv_all_finite(dt, (const char *)x + (size_t)i0 * es, i1 - i0);
    }
    return !bad;
}
