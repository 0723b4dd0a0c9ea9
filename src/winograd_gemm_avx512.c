/* winograd_gemm_avx512.c - the Winograd GEMM steps on AVX-512F, one zmm a
 * transformed-input panel (16 float32 / 8 float64 tiles):
 *   mk22: 12 output channels (two packed 6-channel blocks) x 2 panels, 24 accumulators;
 *   mk2:  6 channels x 2 panels (an odd last block);
 *   mk12: 12 (or 6) channels x 1 panel (a block of a single panel, 14x14: 16 tiles).
 *
 * The driver, the transforms and the weight packing stay in winograd_avx2.c
 * (winograd_template.h); the V panels ([c][WP], 64 bytes a channel) are
 * exactly one zmm wide, so these kernels read the layout the AVX2 path
 * writes.  The AVX2 kernel spends 12 ymm FMAs per 6 channels, panel and input
 * channel; these spend 6 zmm FMAs.  Per lane the sum over c runs in order
 * with one FMA a step, as in the AVX2 kernel, so the results are bitwise the
 * same (tests/test_winograd.py checks it).  conv_select.c says when they
 * run; called only after the AVX-512 run-time check.
 */
#include <immintrin.h>
#include "winograd.h"

#define KR 6   /* output channels per packed weight block (winograd_avx2.c) */

#if defined(__GNUC__) || defined(__clang__)
#define WG_AINLINE static inline __attribute__((always_inline))
#else
#define WG_AINLINE static __forceinline
#endif

/* NB (1, 2) blocks of 6 channels, the second's weights at u + us, x NP (1, 2)
 * panels, the second at v + vps: rows i < 6 * NB at m + i*ms, panel p's
 * tiles at + p * (64 bytes).  Named accumulators (an array stayed in memory
 * with GCC, see conv_simd_template.h); NB and NP are constants at each use;
 * WG_V and its operations are defined per dtype at the end */
#define WG_ROW(i, wsrc)                                                        \
    do {                                                                       \
        const WG_V w_ = WG_BCAST(wsrc);                                        \
        a##i = WG_FMA(w_, x0, a##i);                                           \
        if (NP > 1) b##i = WG_FMA(w_, x1, b##i);                               \
    } while (0)
#define WG_OUT(i)                                                              \
    do {                                                                       \
        WG_STORE(m + i * ms, a##i);                                            \
        if (NP > 1) WG_STORE(m + i * ms + h, b##i);                            \
    } while (0)
#define WG_KERNELS(SFX, T)                                                     \
    WG_AINLINE void wg_mk_##SFX(const int NB, const int NP, const T *u, int64_t us, \
                                const T *v, int64_t vps, int64_t C, T *m, int64_t ms) \
    {                                                                          \
        WG_V a0 = WG_ZERO(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;      \
        WG_V a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;           \
        WG_V b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0;             \
        WG_V b6 = a0, b7 = a0, b8 = a0, b9 = a0, b10 = a0, b11 = a0;           \
        const T *u1 = u + us, *v1 = v + vps;                                   \
        const int64_t h = 64 / sizeof(T);                                      \
        for (int64_t c = 0; c < C; c++) {                                      \
            const WG_V x0 = WG_LOAD(v), x1 = NP > 1 ? WG_LOAD(v1) : x0;        \
            WG_ROW(0, u[0]); WG_ROW(1, u[1]); WG_ROW(2, u[2]);                 \
            WG_ROW(3, u[3]); WG_ROW(4, u[4]); WG_ROW(5, u[5]);                 \
            if (NB > 1) {                                                      \
                WG_ROW(6, u1[0]); WG_ROW(7, u1[1]); WG_ROW(8, u1[2]);          \
                WG_ROW(9, u1[3]); WG_ROW(10, u1[4]); WG_ROW(11, u1[5]);        \
            }                                                                  \
            u += KR;                                                           \
            u1 += KR;                                                          \
            v += h;                                                            \
            v1 += h;                                                           \
        }                                                                      \
        WG_OUT(0); WG_OUT(1); WG_OUT(2); WG_OUT(3); WG_OUT(4); WG_OUT(5);      \
        if (NB > 1) {                                                          \
            WG_OUT(6); WG_OUT(7); WG_OUT(8); WG_OUT(9); WG_OUT(10); WG_OUT(11); \
        }                                                                      \
    }                                                                          \
    void cconv_wino_mk22_avx512_##SFX(const T *u, int64_t us, const T *v, int64_t vps, \
                                      int64_t C, T *m, int64_t ms)             \
    {                                                                          \
        wg_mk_##SFX(2, 2, u, us, v, vps, C, m, ms);                            \
    }                                                                          \
    void cconv_wino_mk2_avx512_##SFX(const T *u, const T *v, int64_t vps, int64_t C, T *m, \
                                     int64_t ms)                               \
    {                                                                          \
        wg_mk_##SFX(1, 2, u, 0, v, vps, C, m, ms);                             \
    }                                                                          \
    void cconv_wino_mk12_avx512_##SFX(const T *u, int64_t us, int two, const T *v, int64_t C, \
                                      T *m, int64_t ms)                        \
    {                                                                          \
        if (two) wg_mk_##SFX(2, 1, u, us, v, 0, C, m, ms);                     \
        else wg_mk_##SFX(1, 1, u, 0, v, 0, C, m, ms);                          \
    }

#define WG_V __m512
#define WG_LOAD _mm512_loadu_ps
#define WG_STORE _mm512_storeu_ps
#define WG_BCAST _mm512_set1_ps
#define WG_FMA _mm512_fmadd_ps
#define WG_ZERO _mm512_setzero_ps
WG_KERNELS(f32, float)
#undef WG_V
#undef WG_LOAD
#undef WG_STORE
#undef WG_BCAST
#undef WG_FMA
#undef WG_ZERO
#define WG_V __m512d
#define WG_LOAD _mm512_loadu_pd
#define WG_STORE _mm512_storeu_pd
#define WG_BCAST _mm512_set1_pd
#define WG_FMA _mm512_fmadd_pd
#define WG_ZERO _mm512_setzero_pd
WG_KERNELS(f64, double)
