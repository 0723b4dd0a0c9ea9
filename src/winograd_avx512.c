/* winograd_avx512.c - the AVX-512F parts of the Winograd path, one zmm a
 * panel of tiles (16 float32 / 8 float64):
 *   GEMM steps (both dtypes; 3x3 and 5x5 layers):
 *     mk22: 12 output channels (two packed 6-channel blocks) x 2 panels, 24 accumulators;
 *     mk2:  6 channels x 2 panels (an odd last block);
 *     mk12: 12 (or 6) channels x 1 panel (a block of a single panel, 14x14: 16 tiles);
 *   input and output transforms of a panel (16 float32 / 8 float64 4x4 tiles);
 *   the weight transform (packing and raw-weight calls, both dtypes), 8
 *   filters a zmm of doubles, where zmm FMAs run at full rate.
 *
 * The driver and the rest of the weight packing stay in winograd_avx2.c
 * (winograd_template.h); the V panels ([c][WP], 64 bytes a channel) and M
 * rows are the AVX2 path's layout, and the 1-D transforms the same macros
 * (winograd_1d.h).  Per lane every sum and transform runs the same
 * operations in the same order as the AVX2 code, so the results are bitwise
 * the same (tests/test_winograd.py checks it).  conv_select.c says when they
 * run; called only after the AVX-512 run-time check.
 */
#include <immintrin.h>
#include <stdint.h>
#include "winograd.h"
#include "winograd_g.h"

#define KR 6   /* output channels per packed weight block (winograd_avx2.c) */

#if defined(__GNUC__) || defined(__clang__)
#define WG_AINLINE static inline __attribute__((always_inline))
#else
#define WG_AINLINE static __forceinline
#endif

/* NB (1, 2) blocks of 6 channels, the second's weights at u + us, x NP (1, 2)
 * panels, the second at v + vps: rows i < 6 * NB at m + i*ms, panel p's
 * tiles at + p * (64 bytes).  Named accumulators (an array stayed in memory
 * with GCC, see conv_simd_template.h); NB and NP are constants at each use.
 * S: the intrinsics' suffix, ps (float32) or pd (float64) */
#define WG_ROW(V, S, i, wsrc)                                                  \
    do {                                                                       \
        const V w_ = _mm512_set1_##S(wsrc);                                    \
        a##i = _mm512_fmadd_##S(w_, x0, a##i);                                 \
        if (NP > 1) b##i = _mm512_fmadd_##S(w_, x1, b##i);                     \
    } while (0)
#define WG_OUT(S, i)                                                           \
    do {                                                                       \
        _mm512_storeu_##S(m + i * ms, a##i);                                   \
        if (NP > 1) _mm512_storeu_##S(m + i * ms + h, b##i);                   \
    } while (0)
#define WG_KERNELS(SFX, T, V, S)                                               \
    WG_AINLINE void wg_mk_##SFX(const int NB, const int NP, const T *u, int64_t us, \
                                const T *v, int64_t vps, int64_t C, T *m, int64_t ms) \
    {                                                                          \
        V a0 = _mm512_setzero_##S(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0; \
        V a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;              \
        V b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0;                \
        V b6 = a0, b7 = a0, b8 = a0, b9 = a0, b10 = a0, b11 = a0;              \
        const T *u1 = u + us, *v1 = v + vps;                                   \
        const int64_t h = 64 / sizeof(T);                                      \
        for (int64_t c = 0; c < C; c++) {                                      \
            const V x0 = _mm512_loadu_##S(v);                                  \
            const V x1 = NP > 1 ? _mm512_loadu_##S(v1) : x0;                   \
            WG_ROW(V, S, 0, u[0]); WG_ROW(V, S, 1, u[1]); WG_ROW(V, S, 2, u[2]); \
            WG_ROW(V, S, 3, u[3]); WG_ROW(V, S, 4, u[4]); WG_ROW(V, S, 5, u[5]); \
            if (NB > 1) {                                                      \
                WG_ROW(V, S, 6, u1[0]); WG_ROW(V, S, 7, u1[1]); WG_ROW(V, S, 8, u1[2]); \
                WG_ROW(V, S, 9, u1[3]); WG_ROW(V, S, 10, u1[4]); WG_ROW(V, S, 11, u1[5]); \
            }                                                                  \
            u += KR;                                                           \
            u1 += KR;                                                          \
            v += h;                                                            \
            v1 += h;                                                           \
        }                                                                      \
        WG_OUT(S, 0); WG_OUT(S, 1); WG_OUT(S, 2);                              \
        WG_OUT(S, 3); WG_OUT(S, 4); WG_OUT(S, 5);                              \
        if (NB > 1) {                                                          \
            WG_OUT(S, 6); WG_OUT(S, 7); WG_OUT(S, 8);                          \
            WG_OUT(S, 9); WG_OUT(S, 10); WG_OUT(S, 11);                        \
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

WG_KERNELS(f32, float, __m512, ps)
WG_KERNELS(f64, double, __m512d, pd)
#undef WG_KERNELS
#undef WG_ROW
#undef WG_OUT

/* ---- float32 transforms, 16 tiles a zmm (the V panel / M row layout of
 * the AVX2 path, a panel a vector; transform math from winograd_1d.h) ---- */
#define WV __m512
#define W_LOAD _mm512_load_ps
#define W_STORE _mm512_store_ps
#define W_FMA _mm512_fmadd_ps
#define W_FNMA _mm512_fnmadd_ps
#define W_ADD _mm512_add_ps
#define W_SUB _mm512_sub_ps
#define W_SET1(c) _mm512_set1_ps((float)(c))
#include "winograd_1d.h"

/* 4 floats at offset o of tiles k, k + 4, k + 8, k + 12 in the 4 128-bit lanes */
static inline __m512 wg_load4(const float *const *src, int k, int64_t o)
{
    __m512 v = _mm512_castps128_ps512(_mm_loadu_ps(src[k] + o));
    v = _mm512_insertf32x4(v, _mm_loadu_ps(src[k + 4] + o), 1);
    v = _mm512_insertf32x4(v, _mm_loadu_ps(src[k + 8] + o), 2);
    return _mm512_insertf32x4(v, _mm_loadu_ps(src[k + 12] + o), 3);
}

/* input transform of 16 tiles of one channel: tile t's 6x6 patch starts at
 * src[t] (row stride ld; 8 columns readable).  Element e goes to dst + e*es
 * (16 floats, 64-byte aligned).  The transpose is the AVX2 one in each
 * 128-bit lane: lane g holds tiles 4g..4g+3 */
void cconv_wino_itrans_avx512_f32(const float *const *src, int64_t ld, float *dst, int64_t es)
{
    __m512 w[6][6];
    for (int r = 0; r < 6; r++) {
        const int64_t o = r * ld;
        const __m512 L0 = wg_load4(src, 0, o), L1 = wg_load4(src, 1, o);
        const __m512 L2 = wg_load4(src, 2, o), L3 = wg_load4(src, 3, o);
        const __m512 H0 = wg_load4(src, 0, o + 4), H1 = wg_load4(src, 1, o + 4);
        const __m512 H2 = wg_load4(src, 2, o + 4), H3 = wg_load4(src, 3, o + 4);
        __m512 d0, d1, d2, d3, d4, d5;
        W_F32_IN_T(_mm512, __m512, L0, L1, L2, L3, H0, H1, H2, H3, d0, d1, d2, d3, d4, d5);
        W_IN1D(d0, d1, d2, d3, d4, d5, w[r][0], w[r][1], w[r][2], w[r][3], w[r][4], w[r][5]);
    }
    W_IN_COLS(w, dst, es)
}

/* 128-bit lane g (0..3) of v */
static inline __m128 wg_lane(__m512 v, int g)
{
    switch (g) {
    case 0: return _mm512_castps512_ps128(v);
    case 1: return _mm512_extractf32x4_ps(v, 1);
    case 2: return _mm512_extractf32x4_ps(v, 2);
    default: return _mm512_extractf32x4_ps(v, 3);
    }
}

/* output transform of 16 tiles of one channel, fused epilogue (bias,
 * residual that may alias y, ReLU).  m: element e at m + e*es; tiles: the
 * 16 (ntl valid) tiles; full: all 16 valid and whole. */
void cconv_wino_otrans_avx512_f32(const float *m, int64_t es, const w_tile *tiles, int ntl,
                                  int full, float *yk, const float *rk, int64_t Wo, float bias,
                                  int relu)
{
    __m512 t[4][6];
    W_OUT_COLS(m, es, t)
    const __m512 vb = _mm512_set1_ps(bias);
    __m512 u[4][4];   /* u[i][p]: row i of tiles p, p + 4, p + 8, p + 12 (lanes 0-3) */
    for (int i = 0; i < 4; i++) {
        __m512 y0, y1, y2, y3;
        W_OUT1D(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5], y0, y1, y2, y3);
        y0 = _mm512_add_ps(y0, vb); y1 = _mm512_add_ps(y1, vb);
        y2 = _mm512_add_ps(y2, vb); y3 = _mm512_add_ps(y3, vb);
        W_F32_OUT_T(_mm512, __m512, y0, y1, y2, y3, u[i][0], u[i][1], u[i][2], u[i][3]);
    }
    const __m128 z = _mm_setzero_ps();
    const int n = full ? 16 : ntl;
    for (int tt = 0; tt < n; tt++) {
        const int p = tt & 3, g = tt >> 2;
        float *yp = yk + tiles[tt].yoff;
        const float *rp = rk ? rk + tiles[tt].yoff : NULL;
        const int nr = full ? 4 : tiles[tt].nr, nc = full ? 4 : tiles[tt].nc;
        const __mmask16 mk = (__mmask16)((1u << nc) - 1);
        for (int i = 0; i < nr; i++) {
            __m128 v = wg_lane(u[i][p], g);
            if (nc == 4) {
                if (rp) v = _mm_add_ps(v, _mm_loadu_ps(rp + i * Wo));
                if (relu) v = _mm_max_ps(z, v);   /* max(0, NaN) = NaN */
                _mm_storeu_ps(yp + i * Wo, v);
            } else {
                /* 4 lanes of a zmm, masked: reads and writes only the nc valid ones */
                __m512 v5 = _mm512_castps128_ps512(v);
                if (rp) v5 = _mm512_add_ps(v5, _mm512_maskz_loadu_ps(mk, rp + i * Wo));
                if (relu) v5 = _mm512_max_ps(_mm512_setzero_ps(), v5);
                _mm512_mask_storeu_ps(yp + i * Wo, mk, v5);
            }
        }
    }
}

/* ---- float64 transforms, 8 tiles a zmm ---- */
#undef WV
#undef W_LOAD
#undef W_STORE
#undef W_FMA
#undef W_FNMA
#undef W_ADD
#undef W_SUB
#undef W_SET1
#define WV __m512d
#define W_LOAD _mm512_load_pd
#define W_STORE _mm512_store_pd
#define W_FMA _mm512_fmadd_pd
#define W_FNMA _mm512_fnmadd_pd
#define W_ADD _mm512_add_pd
#define W_SUB _mm512_sub_pd
#define W_SET1(c) _mm512_set1_pd((double)(c))

/* input transform of 8 tiles of one channel (as the float32 one; a tile
 * row's 6 values: 4 + 2).  d_k lane t = tile t's value k */
void cconv_wino_itrans_avx512_f64(const double *const *src, int64_t ld, double *dst, int64_t es)
{
    /* lanes of 2 doubles, picked from a (indices 0-7) and b (8-15) */
    const __m512i ev = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
    const __m512i od = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    const __m512i lo = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    const __m512i hi = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
    __m512d w[6][6];
    for (int r = 0; r < 6; r++) {
        const int64_t o = r * ld;
        __m512d A[4];
        for (int k = 0; k < 4; k++)   /* [tile k values 0-3 | tile k + 4 values 0-3] */
            A[k] = _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_loadu_pd(src[k] + o)),
                                      _mm256_loadu_pd(src[k + 4] + o), 1);
        __m512d B[2];
        for (int h = 0; h < 2; h++) {   /* values 4, 5 of tiles 4h .. 4h + 3 (AVX-512F inserts) */
            __m512 b = _mm512_castps128_ps512(_mm_castpd_ps(_mm_loadu_pd(src[4 * h] + o + 4)));
            b = _mm512_insertf32x4(b, _mm_castpd_ps(_mm_loadu_pd(src[4 * h + 1] + o + 4)), 1);
            b = _mm512_insertf32x4(b, _mm_castpd_ps(_mm_loadu_pd(src[4 * h + 2] + o + 4)), 2);
            B[h] = _mm512_castps_pd(
                _mm512_insertf32x4(b, _mm_castpd_ps(_mm_loadu_pd(src[4 * h + 3] + o + 4)), 3));
        }
        const __m512d t0 = _mm512_unpacklo_pd(A[0], A[1]), t1 = _mm512_unpackhi_pd(A[0], A[1]);
        const __m512d t2 = _mm512_unpacklo_pd(A[2], A[3]), t3 = _mm512_unpackhi_pd(A[2], A[3]);
        const __m512d d0 = _mm512_permutex2var_pd(t0, ev, t2);
        const __m512d d1 = _mm512_permutex2var_pd(t1, ev, t3);
        const __m512d d2 = _mm512_permutex2var_pd(t0, od, t2);
        const __m512d d3 = _mm512_permutex2var_pd(t1, od, t3);
        const __m512d d4 = _mm512_permutex2var_pd(B[0], lo, B[1]);
        const __m512d d5 = _mm512_permutex2var_pd(B[0], hi, B[1]);
        W_IN1D(d0, d1, d2, d3, d4, d5, w[r][0], w[r][1], w[r][2], w[r][3], w[r][4], w[r][5]);
    }
    W_IN_COLS(w, dst, es)
}

/* output transform of 8 tiles of one channel, fused epilogue (as the
 * float32 one; a tile's output row is 4 doubles) */
void cconv_wino_otrans_avx512_f64(const double *m, int64_t es, const w_tile *tiles, int ntl,
                                  int full, double *yk, const double *rk, int64_t Wo,
                                  double bias, int relu)
{
    const __m512i ev = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
    const __m512i od = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
    __m512d t[4][6];
    W_OUT_COLS(m, es, t)
    const __m512d vb = _mm512_set1_pd(bias);
    __m256d u[4][8];   /* u[i][p]: row i of tile p */
    for (int i = 0; i < 4; i++) {
        __m512d y0, y1, y2, y3;
        W_OUT1D(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5], y0, y1, y2, y3);
        y0 = _mm512_add_pd(y0, vb); y1 = _mm512_add_pd(y1, vb);
        y2 = _mm512_add_pd(y2, vb); y3 = _mm512_add_pd(y3, vb);
        /* a0 lane g: (y0, y1) of tile 2g; a1: of tile 2g + 1; a2, a3: (y2, y3) */
        const __m512d a0 = _mm512_unpacklo_pd(y0, y1), a1 = _mm512_unpackhi_pd(y0, y1);
        const __m512d a2 = _mm512_unpacklo_pd(y2, y3), a3 = _mm512_unpackhi_pd(y2, y3);
        const __m512d e02 = _mm512_permutex2var_pd(a0, ev, a2);   /* tiles 0 | 2 */
        const __m512d e46 = _mm512_permutex2var_pd(a0, od, a2);   /* tiles 4 | 6 */
        const __m512d o13 = _mm512_permutex2var_pd(a1, ev, a3);   /* tiles 1 | 3 */
        const __m512d o57 = _mm512_permutex2var_pd(a1, od, a3);   /* tiles 5 | 7 */
        u[i][0] = _mm512_castpd512_pd256(e02); u[i][2] = _mm512_extractf64x4_pd(e02, 1);
        u[i][4] = _mm512_castpd512_pd256(e46); u[i][6] = _mm512_extractf64x4_pd(e46, 1);
        u[i][1] = _mm512_castpd512_pd256(o13); u[i][3] = _mm512_extractf64x4_pd(o13, 1);
        u[i][5] = _mm512_castpd512_pd256(o57); u[i][7] = _mm512_extractf64x4_pd(o57, 1);
    }
    const __m256d z = _mm256_setzero_pd();
    const int n = full ? 8 : ntl;
    for (int tt = 0; tt < n; tt++) {
        double *yp = yk + tiles[tt].yoff;
        const double *rp = rk ? rk + tiles[tt].yoff : NULL;
        const int nr = full ? 4 : tiles[tt].nr, nc = full ? 4 : tiles[tt].nc;
        const __mmask8 mk = (__mmask8)((1u << nc) - 1);
        for (int i = 0; i < nr; i++) {
            __m256d v = u[i][tt];
            if (nc == 4) {
                if (rp) v = _mm256_add_pd(v, _mm256_loadu_pd(rp + i * Wo));
                if (relu) v = _mm256_max_pd(z, v);   /* max(0, NaN) = NaN */
                _mm256_storeu_pd(yp + i * Wo, v);
            } else {
                __m512d v5 = _mm512_castpd256_pd512(v);
                if (rp) v5 = _mm512_add_pd(v5, _mm512_maskz_loadu_pd(mk, rp + i * Wo));
                if (relu) v5 = _mm512_max_pd(_mm512_setzero_pd(), v5);
                _mm512_mask_storeu_pd(yp + i * Wo, mk, v5);
            }
        }
    }
}

/* ---- weight transform U = G g G^T, 8 filters a zmm of doubles ----
 * winograd_template.h's wino_u4 runs 4 filters a ymm; both expand W_GGT
 * (winograd_g.h) and round to the dtype once, at the end, so the packed
 * bytes are the same.  One step covers 4 input channels of the block's 6
 * output channels: 24 filters, three vectors whose lanes follow the packed
 * order [c][6], so each element's 24 values land as one run. */
#define WG_CB 16   /* input channels per stage in L1 (a multiple of 4) */

/* element e of the 8 filters whose taps are gv[0 .. R*R) to d + e*es */
WG_AINLINE void wg_u8(const int R, const int F32, const __m512d *gv, void *d, int64_t es)
{
#define WG_U8_STORE(e, v)                                                      \
    do {                                                                       \
        const int64_t o_ = (int64_t)(e) * es;                                  \
        if (F32) _mm256_storeu_ps((float *)d + o_, _mm512_cvtpd_ps(v));         \
        else _mm512_storeu_pd((double *)d + o_, v);                            \
    } while (0)
    W_GGT(R, __m512d, _mm512_mul_pd, _mm512_fmadd_pd, _mm512_set1_pd, gv, WG_U8_STORE);
#undef WG_U8_STORE
}

/* gv[t] = tap t of the 8 filters at base + idx[lane] (lanes off in m: 0) */
#define WG_GATHER_f32(gv, RR, base, idx, m)                                    \
    do {                                                                       \
        const __m256 mk_ = _mm256_castsi256_ps(wg_lane_mask(m));               \
        for (int t = 0; t < (RR); t++)                                          \
            gv[t] = _mm512_cvtps_pd(_mm256_mask_i32gather_ps(_mm256_setzero_ps(), (base) + t, \
                                                             idx, mk_, 4));     \
    } while (0)
#define WG_GATHER_f64(gv, RR, base, idx, m)                                    \
    do {                                                                       \
        for (int t = 0; t < (RR); t++)                                          \
            gv[t] = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), m, idx, (base) + t, 8); \
    } while (0)

/* ymm lanes all ones where bit l of m is set (AVX2 gathers take a vector mask) */
static inline __m256i wg_lane_mask(__mmask8 m)
{
    const __m256i bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(m), bits), bits);
}

/* each element's run of n bytes from the stage (element e at s + e*ss) to
 * d + e*ds: in zmm moves, the last one masked (a memcpy call a run cost as
 * much as the transform's arithmetic) */
static inline void wg_copy_out(void *d, int64_t ds, const void *s, int64_t ss, int64_t n)
{
    const int64_t nf = n / 4, full = nf / 16, rem = nf % 16;
    const __mmask16 mr = (__mmask16)((1u << rem) - 1);
    for (int e = 0; e < 36; e++) {
        float *dd = (float *)((char *)d + e * ds);
        const float *sr = (const float *)((const char *)s + e * ss);
        for (int64_t i = 0; i < full; i++)
            _mm512_storeu_ps(dd + 16 * i, _mm512_loadu_ps(sr + 16 * i));
        if (rem)
            _mm512_mask_storeu_ps(dd + 16 * full, mr, _mm512_maskz_loadu_ps(mr, sr + 16 * full));
    }
}

#define WG_WPACK(SFX, T, F32)                                                  \
    WG_AINLINE void wg_wpack_r_##SFX(const int R, const int DIRECT, const T *w, int64_t K,  \
                                     int64_t C, int64_t kb, T *ub, int64_t es) \
    {                                                                          \
        const int RR = R * R;                                                  \
        const int64_t kn = K - kb * KR < KR ? K - kb * KR : KR;                \
        const T *wb = w + kb * KR * C * RR;                                    \
        /* lane i of vector v: filter q = 8v + i, output channel q % KR of  \
         * the block, input channel c + q / KR; mk: the lanes within K, and    \
         * mc[j]: those within the first j channels of a step (the last)  */  \
        __m256i idx[3];                                                        \
        unsigned mk[3], mc[3][4];                                              \
        for (int v = 0; v < 3; v++) {                                          \
            int o[8];                                                          \
            mk[v] = 0;                                                         \
            for (int j = 0; j < 4; j++) mc[v][j] = 0;                          \
            for (int i = 0; i < 8; i++) {                                      \
                const int q = 8 * v + i, l = q % KR, cc = q / KR;              \
                o[i] = (int)((l * C + cc) * RR);                               \
                if (l < kn) mk[v] |= 1u << i;                                  \
                for (int j = cc + 1; j < 4; j++) mc[v][j] |= 1u << i;          \
            }                                                                  \
            idx[v] = _mm256_loadu_si256((const __m256i *)o);                   \
        }                                                                      \
        T st[36 * WG_CB * KR];   /* [e][c - c0][KR] */                         \
        const int64_t ses = WG_CB * KR;                                        \
        for (int64_t c0 = 0; c0 < C; c0 += WG_CB) {                            \
            const int64_t cn = C - c0 < WG_CB ? C - c0 : WG_CB;                \
            /* with direct stores, only whole steps go straight out (a     \
             * partial one would write past the block's channels) */         \
            const int64_t cs = DIRECT ? c0 + (cn & ~(int64_t)3) : c0;          \
            for (int64_t c = c0; c < c0 + cn; c += 4) {                        \
                for (int v = 0; v < 3; v++) {                                  \
                    const unsigned m = C - c >= 4 ? mk[v] : mk[v] & mc[v][C - c]; \
                    __m512d gv[25];                                            \
                    WG_GATHER_##SFX(gv, RR, wb + c * RR, idx[v], (__mmask8)m); \
                    if (DIRECT && c < cs) wg_u8(R, F32, gv, ub + c * KR + 8 * v, es); \
                    else wg_u8(R, F32, gv, st + (c - c0) * KR + 8 * v, ses);   \
                }                                                              \
            }                                                                  \
            if (cs < c0 + cn)   /* the staged channels */                      \
                wg_copy_out(ub + cs * KR, es * (int64_t)sizeof(T), st + (cs - c0) * KR, \
                            ses * (int64_t)sizeof(T), (c0 + cn - cs) * KR * (int64_t)sizeof(T)); \
        }                                                                      \
    }                                                                          \
    int cconv_wino_wpack_avx512_##SFX(const cconv_wshape *ws, const T *w, int64_t kb, T *ub, \
                                      int64_t es)                              \
    {                                                                          \
        const int64_t C = ws->Cg, R = ws->ks[1];                               \
        /* gather offsets in 32 bits; zmm at the ymm rate (Zen 4): unmeasured */ \
        if ((KR * C + 4) * R * R > INT32_MAX || cconv_cpu_zmm_split()) return 0; \
        /* elements an odd number of lines apart fall in 36 L1 sets: stored \
         * where they go, no stage */                                          \
        const int direct = ((es * (int64_t)sizeof(T)) & 127) == 64;            \
        if (R == 3 && direct) wg_wpack_r_##SFX(3, 1, w, ws->K, C, kb, ub, es);  \
        else if (R == 3) wg_wpack_r_##SFX(3, 0, w, ws->K, C, kb, ub, es);      \
        else wg_wpack_r_##SFX(5, 0, w, ws->K, C, kb, ub, es);                  \
        return 1;                                                              \
    }

WG_WPACK(f32, float, 1)
WG_WPACK(f64, double, 0)
#undef WG_WPACK
#undef WG_GATHER_f32
#undef WG_GATHER_f64
#undef WG_CB
