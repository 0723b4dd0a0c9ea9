/* finite.c - "is every value finite?" over float32/float64 values, by a bit
 * test on the exponent field (finite_scan.h, vectorised by the compiler for
 * the kernels' ISA), on one thread or several.  Winograd mixes a tile's
 * inputs and a filter's taps, so the callers keep non-finite weights
 * (PackedWeights) and images (conv_select.c) on the direct path, where IEEE
 * propagation stays exact.
 */
#include <string.h>
#include "cconv.h"
#include "scratch.h"

#define FS_NAME(x) fs_base_##x
#include "finite_scan.h"

#ifdef CCONV_HAVE_AVX2
int cconv_all_finite_avx2(cconv_dtype dt, const void *x, int64_t n);    /* finite_avx2.c */
int cconv_all_finite_avx512(cconv_dtype dt, const void *x, int64_t n);  /* finite_avx512.c */
#endif

/* The kernels' ISA's scan: the baseline's (SSE2) ran at ~10 bytes a cycle,
 * 4 % of a Winograd layer's call (3x3 64 -> 64 at 56x56 scans 200K input
 * values).  The same answer on every ISA. */
int cconv_all_finite(cconv_dtype dt, const void *x, int64_t n)
{
#ifdef CCONV_HAVE_AVX2
    const int isa = cconv_active_isa();
    if (isa == CCONV_ISA_AVX512) return cconv_all_finite_avx512(dt, x, n);
    if (isa == CCONV_ISA_AVX2) return cconv_all_finite_avx2(dt, x, n);
#endif
    return dt == CCONV_F64 ? fs_base_f64((const double *)x, n) : fs_base_f32((const float *)x, n);
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
#define FINITE_MIN_PER_THREAD 32768.0   /* 64K until the packing went to 32K (threads.c) */
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
