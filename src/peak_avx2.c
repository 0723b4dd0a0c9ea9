/* peak_avx2.c - the AVX2/FMA throughput probe: 12 independent ymm FMA chains,
 * enough to cover the FMA latency x throughput of current x86 cores. */
#include <immintrin.h>
#include "cconv.h"
#include "peak.h"

double cconv_fma_peak_avx2(cconv_dtype dt, double seconds)
{
    const int lanes = dt == CCONV_F64 ? 4 : 8;
    __m256 acc[12], m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i * 1e-3f);
    double t0 = cconv_now_seconds(), el, prev = 0;
    long long iters = 0, inner = 4096;
    do {
        for (long long it = 0; it < inner; it++) {
#define F(i) acc[i] = _mm256_fmadd_ps(acc[i], m, a);
            F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11)
#undef F
        }
        iters += inner;
        el = cconv_now_seconds() - t0;
        CCONV_PEAK_GROW(inner, el, prev);
    } while (el < seconds);
    __m256 s = acc[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, acc[i]);
    float out[8];
    _mm256_storeu_ps(out, s);
    sink = out[0];
    /* fp64 FMAs run at the same instruction rate with half the lanes */
    return 2.0 * 12 * lanes * (double)iters / el * 1e-9;
}
