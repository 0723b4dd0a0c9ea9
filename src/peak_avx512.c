/* peak_avx512.c - the AVX-512 throughput probe: 12 independent zmm FMA chains
 * (what the AVX-512 kernels can reach: one or two 512-bit FMA units). */
#include <immintrin.h>
#include "cconv.h"
#include "peak.h"

double cconv_fma_peak_avx512(cconv_dtype dt, double seconds)
{
    const int lanes = dt == CCONV_F64 ? 8 : 16;
    __m512 acc[12], m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps((float)i * 1e-3f);
    double t0 = cconv_now_seconds(), el, prev = 0;
    long long iters = 0, inner = 4096;
    do {
        for (long long it = 0; it < inner; it++) {
#define F(i) acc[i] = _mm512_fmadd_ps(acc[i], m, a);
            F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11)
#undef F
        }
        iters += inner;
        el = cconv_now_seconds() - t0;
        CCONV_PEAK_GROW(inner, el, prev);
    } while (el < seconds);
    __m512 s = acc[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, acc[i]);
    float out[16];
    _mm512_storeu_ps(out, s);
    sink = out[0];
    /* fp64 FMAs run at the same instruction rate with half the lanes */
    return 2.0 * 12 * lanes * (double)iters / el * 1e-9;
}
