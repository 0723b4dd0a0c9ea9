/* peak.c - a small FMA throughput probe: the GFLOP/s one thread reaches on
 * independent multiply-add chains, for the benchmark's "% of peak".  Uses
 * the AVX2 or AVX-512 probe (peak_avx2.c, peak_avx512.c) when dispatch chose
 * those kernels. */
#include <time.h>
#include "cconv.h"
#include "peak.h"

#if (defined(__x86_64__) || defined(_M_X64)) && defined(CCONV_HAVE_AVX2)
double cconv_fma_peak_avx2(cconv_dtype dt, double seconds);
double cconv_fma_peak_avx512(cconv_dtype dt, double seconds);
#endif

double cconv_now_seconds(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define PORTABLE_PROBE(T, LANES)                                                 \
    {                                                                            \
        T acc[12][LANES], m[LANES], a[LANES];                                    \
        for (int i = 0; i < 12; i++)                                             \
            for (int l = 0; l < LANES; l++) acc[i][l] = (T)(i + l) * (T)1e-3;    \
        for (int l = 0; l < LANES; l++) { m[l] = (T)0.999999; a[l] = (T)1e-7; } \
        double t0 = cconv_now_seconds(), el = 0, prev = 0;                       \
        int64_t iters = 0, inner = 4096;                                         \
        do {                                                                     \
            for (int64_t it = 0; it < inner; it++)                               \
                for (int i = 0; i < 12; i++)                                     \
                    for (int l = 0; l < LANES; l++) acc[i][l] = acc[i][l] * m[l] + a[l]; \
            iters += inner;                                                      \
            el = cconv_now_seconds() - t0;                                       \
            CCONV_PEAK_GROW(inner, el, prev);                                    \
        } while (el < seconds);                                                  \
        T s = 0;                                                                 \
        for (int i = 0; i < 12; i++)                                             \
            for (int l = 0; l < LANES; l++) s += acc[i][l];                      \
        sink = (double)s;                                                        \
        return 2.0 * 12 * LANES * (double)iters / el * 1e-9;                     \
    }

volatile double sink;

double cconv_fma_peak_gflops(cconv_dtype dt, double seconds)
{
#if (defined(__x86_64__) || defined(_M_X64)) && defined(CCONV_HAVE_AVX2)
    if (cconv_active_isa() == CCONV_ISA_AVX512) return cconv_fma_peak_avx512(dt, seconds);
    if (cconv_active_isa() == CCONV_ISA_AVX2) return cconv_fma_peak_avx2(dt, seconds);
#endif
    if (dt == CCONV_F64) PORTABLE_PROBE(double, 2)
    PORTABLE_PROBE(float, 4)
}
