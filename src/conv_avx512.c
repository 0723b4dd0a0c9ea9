/* conv_avx512.c - the AVX-512 (F) convolution kernels (float32, float64).
 *
 * The kernels of conv_simd_template.h (a 6-oc x 2-vector register tile, 1x1
 * as a GEMM over packed pixel panels, direct KxK over zero-padded
 * stride-phase bands) instantiated for zmm vectors: a tile is 6 output
 * channels x 32 float32 (16 float64) pixels.  Float32 KxK layers with at
 * least 24 output channels per group use their own output-channel-vectorised
 * tile instead (below), with its own packed layout.  Compiled with -mavx512f
 * and only called after dispatch.c has checked that the CPU has AVX-512F and
 * the OS saves the zmm and opmask state.
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cconv.h"
#include "fpenv.h"
#include "scratch.h"
#ifdef _OPENMP
#include <omp.h>
#endif

/* lanes [lo, hi) of the vector holding lanes [base, base + 16) / + 8) */
static inline uint32_t a5_bits(int64_t lo, int64_t hi, int64_t base, int64_t lanes)
{
    lo -= base; hi -= base;
    if (lo < 0) lo = 0;
    if (hi > lanes) hi = lanes;
    if (hi <= lo) return 0;
    return (uint32_t)(((1ull << hi) - 1) & ~((1ull << lo) - 1));
}
static inline __mmask16 a5_mrange16(int64_t lo, int64_t hi, int64_t base)
{
    return (__mmask16)a5_bits(lo, hi, base, 16);
}
static inline __mmask8 a5_mrange8(int64_t lo, int64_t hi, int64_t base)
{
    return (__mmask8)a5_bits(lo, hi, base, 8);
}

/* lanes 0, 2, 4, ... of the 2 * VL values at p (stride-2 gathers) */
static inline __m512 a5_evens32(const float *p)
{
    const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(_mm512_loadu_ps(p), idx, _mm512_loadu_ps(p + 16));
}
static inline __m512d a5_evens64(const double *p)
{
    const __m512i idx = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    return _mm512_permutex2var_pd(_mm512_loadu_pd(p), idx, _mm512_loadu_pd(p + 8));
}



/* ---- float32 direct KxK, output-channel vectorised (A2_OCV hooks) ----
 * The spatially vectorised tile of conv_simd_template.h loads two unaligned
 * zmm of pixels per (channel, tap): with 16 lanes nearly every such load
 * splits a cache line, and the kernel becomes load-bound.  Here a tile is 12
 * output pixels x 32 output channels (24 zmm accumulators): per (channel,
 * tap) two aligned weight vectors are loaded and each pixel is broadcast
 * (4 bytes, never split) into two FMAs: 14 loads for 24 FMAs.  Pixels are
 * read from the same prepared band (flat rows of width Wq, stride phases), so
 * padding, stride and dilation cost nothing in the loop.  Weights are packed
 * [g][32-oc block][c][tap][32] and consumed in channel chunks whose weights
 * stay in L1 (A5_WCHUNK); partial sums of a tile park in per-thread scratch
 * between chunks (exact round trips, ascending (c, tap) order: bitwise the
 * same for any thread count).  The epilogue transposes a tile in registers
 * and applies bias, residual and ReLU on the way to NCHW. */
#define A5_NP 12                 /* output pixels per tile */
#define A5_KB 32                 /* output channels per tile (2 zmm) */
#define A5_TILE (A5_NP * A5_KB)  /* floats of one tile's sums */
#ifndef A5_WCHUNK
#define A5_WCHUNK (24 * 1024)    /* bytes of one channel chunk's weights (L1) */
#endif

static inline int64_t a5_min(int64_t a, int64_t b) { return a < b ? a : b; }

static inline int64_t a5_max1(int64_t a) { return a > 1 ? a : 1; }

/* the layers this tile serves: at least 24 output channels per group (fewer
 * would leave most of the 32 lanes idle) */
static int a5_ocv_use(const cconv_wshape *ws) { return ws->K / ws->groups >= 24; }

static int64_t a5_ocv_nkb(const cconv_wshape *ws) { return (ws->K / ws->groups + A5_KB - 1) / A5_KB; }

static int64_t a5_ocv_packed_size(const cconv_wshape *ws)
{
    const int64_t taps = ws->ks[0] * ws->ks[1] * ws->ks[2];
    return ws->groups * a5_ocv_nkb(ws) * ws->Cg * taps * A5_KB * (int64_t)sizeof(float);
}

static void a5_ocv_pack(const cconv_wshape *ws, const float *w, float *p)
{
    const int64_t taps = ws->ks[0] * ws->ks[1] * ws->ks[2];
    const int64_t Kg = ws->K / ws->groups, Cg = ws->Cg, nkb = a5_ocv_nkb(ws);
    for (int64_t g = 0; g < ws->groups; g++)
        for (int64_t kb = 0; kb < nkb; kb++)
            for (int64_t c = 0; c < Cg; c++)
                for (int64_t t = 0; t < taps; t++, p += A5_KB)
                    for (int64_t l = 0; l < A5_KB; l++) {
                        const int64_t k = kb * A5_KB + l;
                        p[l] = k < Kg ? w[((g * Kg + k) * Cg + c) * taps + t] : 0.0f;
                    }
}

static int64_t a5_ocv_chunk(int64_t taps)
{
    const int64_t c = A5_WCHUNK / (taps * A5_KB * (int64_t)sizeof(float));
    return c > 0 ? c : 1;
}

/* bytes of per-thread scratch for a band of npx flat positions */
static size_t a5_ocv_scratch(int64_t npx, int64_t Cg, int64_t taps)
{
    const int64_t nch = (Cg + a5_ocv_chunk(taps) - 1) / a5_ocv_chunk(taps);
    const int64_t slots = 1 + (nch > 1 ? (npx + A5_NP - 1) / A5_NP : 0);
    return sizeof(float) * (size_t)(slots * A5_TILE);
}

/* 12 pixels x 32 channels over nc channels x ntaps taps; sums start from
 * zero or ain, end in aout ([pixel][32] each) */
static void a5_ocv_mk(const float *w, const float *b, int64_t nc, int64_t cs, const int64_t *off,
                      int64_t ntaps, const float *ain, float *aout)
{
    __m512 a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11;
    __m512 b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11;
    if (ain) {
#define LD(i) a##i = _mm512_loadu_ps(ain + i * A5_KB); b##i = _mm512_loadu_ps(ain + i * A5_KB + 16);
        LD(0) LD(1) LD(2) LD(3) LD(4) LD(5) LD(6) LD(7) LD(8) LD(9) LD(10) LD(11)
#undef LD
    } else {
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = a8 = a9 = a10 = a11 = _mm512_setzero_ps();
        b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = b8 = b9 = b10 = b11 = a0;
    }
    for (int64_t c = 0; c < nc; c++) {
        const float *bc = b + c * cs;
        for (int64_t t = 0; t < ntaps; t++) {
            const float *bp = bc + off[t];
            const __m512 w0 = _mm512_loadu_ps(w), w1 = _mm512_loadu_ps(w + 16);
            w += A5_KB;
            __m512 x;
#define ST(i) x = _mm512_set1_ps(bp[i]); a##i = _mm512_fmadd_ps(w0, x, a##i); b##i = _mm512_fmadd_ps(w1, x, b##i);
            ST(0) ST(1) ST(2) ST(3) ST(4) ST(5) ST(6) ST(7) ST(8) ST(9) ST(10) ST(11)
#undef ST
        }
    }
#define SV(i) _mm512_storeu_ps(aout + i * A5_KB, a##i); _mm512_storeu_ps(aout + i * A5_KB + 16, b##i);
    SV(0) SV(1) SV(2) SV(3) SV(4) SV(5) SV(6) SV(7) SV(8) SV(9) SV(10) SV(11)
#undef SV
}

/* c[o] lane p = src[p * stride + o] for p < 12 (lanes 12..15 zero), o < 16:
 * a 16x16 transpose in registers (unpack ps, unpack pd, two 128-bit lane
 * shuffles); gathers are several times slower on current cores */
static inline void a5_transpose12(const float *src, int64_t stride, __m512 *c)
{
    __m512 r[16], t[16];
    for (int p = 0; p < 12; p++) r[p] = _mm512_loadu_ps(src + p * stride);
    for (int p = 12; p < 16; p++) r[p] = _mm512_setzero_ps();
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        const __m512d t0 = _mm512_castps_pd(t[i]), t1 = _mm512_castps_pd(t[i + 1]);
        const __m512d t2 = _mm512_castps_pd(t[i + 2]), t3 = _mm512_castps_pd(t[i + 3]);
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    }
    /* r[4q + j] lane group L holds column 4L + j of rows 4q..4q+3 */
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < 4; j++) {
            t[8 * h + j] = _mm512_shuffle_f32x4(r[8 * h + j], r[8 * h + 4 + j], 0x88);
            t[8 * h + 4 + j] = _mm512_shuffle_f32x4(r[8 * h + j], r[8 * h + 4 + j], 0xdd);
        }
    for (int j = 0; j < 8; j++) {
        c[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        c[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);
    }
}

/* one tile's sums tb ([pixel][32]) for flat positions q0.. of the band, to
 * output channels [k0, k0 + kn): transposed in registers, bias, residual
 * (may alias y), ReLU */
static void a5_ocv_epi(const float *tb, int64_t q0, int64_t rbn, int64_t Wq, int64_t Wo,
                       int64_t kn, float *yk, int64_t ysk, const float *rk, int64_t rsk,
                       const float *bk, int relu)
{
    int64_t base[A5_NP];
    __mmask16 msk[A5_NP];
    int ns = 0;
    int64_t l = 0;
    while (l < A5_NP) {
        const int64_t q = q0 + l, i = q / Wq, j = q - i * Wq;
        if (i >= rbn) break;
        const int64_t len = a5_min(A5_NP - l, Wq - j), cnt = a5_min(len, Wo - j);
        if (cnt > 0) {
            base[ns] = i * Wo + j - l;
            msk[ns] = (__mmask16)(((1u << (l + cnt)) - 1) & ~((1u << l) - 1));
            ns++;
        }
        l += len;
    }
    if (ns == 0) return;
    const __m512 z = _mm512_setzero_ps();
    __m512 col[16];
    for (int64_t o = 0; o < kn; o++) {
        if ((o & 15) == 0) a5_transpose12(tb + o, A5_KB, col);
        __m512 v = col[o & 15];
        if (bk) v = _mm512_add_ps(v, _mm512_set1_ps(bk[o]));
        float *yr = yk + o * ysk;
        const float *rr = rk ? rk + o * rsk : NULL;
        for (int s = 0; s < ns; s++) {
            __m512 u = v;
            if (rr) u = _mm512_add_ps(u, _mm512_maskz_loadu_ps(msk[s], rr + base[s]));
            if (relu) u = _mm512_max_ps(z, u);  /* max(0, NaN) = NaN */
            _mm512_mask_storeu_ps(yr + base[s], msk[s], u);
        }
    }
}

/* output-channel blocks [kb0, kb1) of one prepared band (group's weights wg,
 * outputs yg/rg/bg at the band's first pixel of the group's channel 0) */
static void a5_ocv_band(const float *wg, const float *band, int64_t Cg, int64_t cs,
                        const int64_t *off, int64_t taps, int64_t rbn, int64_t Wq, int64_t Wo,
                        int64_t kb0, int64_t kb1, int64_t Kg, float *yg, int64_t ysk,
                        const float *rg, int64_t rsk, const float *bg, int relu, float *pb)
{
    const int64_t ntl = (rbn * Wq + A5_NP - 1) / A5_NP;
    const int64_t cch = a5_ocv_chunk(taps), nch = (Cg + cch - 1) / cch;
    float *tb = pb;
    for (int64_t kb = kb0; kb < kb1; kb++) {
        const float *wk = wg + kb * Cg * taps * A5_KB;
        const int64_t k0 = kb * A5_KB, kn = a5_min(A5_KB, Kg - k0);
        for (int64_t ch = 0; ch < nch; ch++) {
            const int64_t c0 = ch * cch, cn = a5_min(cch, Cg - c0);
            const int last = ch == nch - 1;
            for (int64_t tl = 0; tl < ntl; tl++) {
                float *acc = nch > 1 ? pb + (tl + 1) * A5_TILE : NULL;
                a5_ocv_mk(wk + c0 * taps * A5_KB, band + c0 * cs + tl * A5_NP, cn, cs, off, taps,
                          ch > 0 ? acc : NULL, last ? tb : acc);
                if (last)
                    a5_ocv_epi(tb, tl * A5_NP, rbn, Wq, Wo, kn, yg + k0 * ysk, ysk,
                               rg ? rg + k0 * rsk : NULL, rsk, bg ? bg + k0 : NULL, relu);
            }
        }
    }
}


/* 1x1, unit stride, unpadded: out[K, P] = W[K, C] X[C, P] with the same
 * 12 x 32 tile, pixels broadcast from a per-task panel.  A task is a block
 * of up to A5_PXB pixels of one image and group (its panel [tile][c][12]
 * within A5_PANEL bytes) and a range of 32-oc blocks; channels run in chunks
 * whose weights stay in L1 (A5_C1CHUNK), partial sums parked per tile. */
#ifndef A5_C1CHUNK
#define A5_C1CHUNK 128           /* 1x1: input channels per chunk (16 KiB of weights) */
#endif
#ifndef A5_PANEL
#define A5_PANEL (256 * 1024)    /* 1x1: bytes of a task's packed pixels (L2) */
#endif
#ifndef A5_PXB
#define A5_PXB (16 * A5_NP)      /* 1x1: pixels per task */
#endif

static int a5_ocv_gemm(const cconv_conv_params *p, const float *x, const float *wp,
                       const float *bias, const float *res, float *y, int nthreads)
{
    static const int64_t zoff[1] = {0};
    const int64_t G = p->w.groups, Cg = p->w.Cg, Kg = p->w.K / G, C1 = a5_max1(Cg);
    const int64_t nkb = (Kg + A5_KB - 1) / A5_KB;
    const int64_t P = p->out[0] * p->out[1] * p->out[2];
    /* pixels per task: whole tiles, the packed panel within A5_PANEL bytes */
    int64_t pxb = A5_PANEL / (C1 * A5_NP * (int64_t)sizeof(float)) * A5_NP;
    pxb = pxb < A5_NP ? A5_NP : pxb > A5_PXB ? A5_PXB : pxb;
    const int64_t npb = (P + pxb - 1) / pxb, tpb = pxb / A5_NP;
    const int64_t cch = A5_C1CHUNK, nch = (C1 + cch - 1) / cch;
    const int relu = p->activation == CCONV_ACT_RELU;
    const double work = (double)p->N * p->w.K * Cg * P;
    const int nt = cconv_threads_for(nthreads, work, p->N * G * npb * nkb);
    /* split the oc blocks too when there are too few pixel blocks to share */
    int64_t nkc = 1;
    if (nt > 1 && p->N * G * npb < 4 * nt) nkc = a5_min(nkb, (4 * nt + p->N * G * npb - 1) / (p->N * G * npb));
    const int64_t tasks = p->N * G * npb * nkc, nkbt = (nkb + nkc - 1) / nkc;
    int failed = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) reduction(| : failed)
#endif
    {
        cconv_fpstate fps = cconv_fpenv_enter();
        const size_t nacc = (size_t)(A5_TILE * (1 + (nch > 1 ? nkbt * tpb : 0)));
        float *tb = (float *)cconv_scratch_alloc(sizeof(float) * (nacc + (size_t)(tpb * A5_NP * C1)));
        if (!tb) failed = 1;
        float *acc = tb + A5_TILE, *panel = tb + nacc;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (int64_t task = 0; task < tasks; task++) {
            if (!tb) continue;
            int64_t q = task;
            const int64_t kc = q % nkc; q /= nkc;
            const int64_t pb = q % npb; q /= npb;
            const int64_t g = q % G;
            const int64_t n = q / G;
            const int64_t kb0 = nkb * kc / nkc, kb1 = nkb * (kc + 1) / nkc;
            const int64_t px0 = pb * pxb, npx = a5_min(P, px0 + pxb) - px0;
            const int64_t ntl = (npx + A5_NP - 1) / A5_NP;
            const float *xg = x + n * p->x_sn + g * Cg * p->x_sc;
            const float *wg = wp + g * nkb * Cg * A5_KB;
            /* pack the block's pixels [tile][c][12], zero past P: the input
             * rows of a channel lie a whole plane apart (often a multiple of
             * 4 KiB, all in one L1 set); the panel is read sequentially */
            for (int64_t c = 0; c < Cg; c++) {
                const float *src = xg + c * p->x_sc + px0;
                for (int64_t tl = 0; tl < ntl; tl++) {
                    const int64_t cnt = a5_min(A5_NP, npx - tl * A5_NP);
                    const __mmask16 m = (__mmask16)((1u << cnt) - 1);
                    _mm512_mask_storeu_ps(panel + (tl * Cg + c) * A5_NP, (__mmask16)0x0fff,
                                          _mm512_maskz_loadu_ps(m, src + tl * A5_NP));
                }
            }
            for (int64_t ch = 0; ch < nch; ch++) {
                const int64_t c0 = ch * cch, cn = a5_min(cch, Cg - c0);
                const int last = ch == nch - 1;
                for (int64_t kb = kb0; kb < kb1; kb++) {
                    const int64_t k0 = kb * A5_KB, kn = a5_min(A5_KB, Kg - k0);
                    const float *wc = wg + (kb * Cg + c0) * A5_KB;
                    const int64_t k = g * Kg + k0;
                    for (int64_t tl = 0; tl < ntl; tl++) {
                        const float *b = panel + (tl * Cg + c0) * A5_NP;
                        float *ap = nch > 1 ? acc + ((kb - kb0) * tpb + tl) * A5_TILE : NULL;
                        a5_ocv_mk(wc, b, cn, A5_NP, zoff, 1, ch > 0 ? ap : NULL, last ? tb : ap);
                        if (last)
                            a5_ocv_epi(tb, px0 + tl * A5_NP, 1, P, P, kn,
                                       y + n * p->y_sn + k * p->y_sk, p->y_sk,
                                       res ? res + n * p->r_sn + k * p->r_sk : NULL, p->r_sk,
                                       bias ? bias + k : NULL, relu);
                    }
                }
            }
        }
        cconv_scratch_free(tb);
        cconv_fpenv_leave(fps);
    }
    return failed ? CCONV_ENOMEM : CCONV_OK;
}

#define A2_OCV 1
#define A2_OCV_KB A5_KB
#define A2_OCV_USE a5_ocv_use
#define A2_OCV_PACKED_SIZE a5_ocv_packed_size
#define A2_OCV_PACK a5_ocv_pack
#define A2_OCV_SCRATCH a5_ocv_scratch
#define A2_OCV_BAND a5_ocv_band
#define A2_OCV_GEMM a5_ocv_gemm

#define T float
#define V __m512
#define VL 16
#define NM(x) x##_f32
#define TABLE cconv_avx512_f32
#define VLOADU _mm512_loadu_ps
#define VSTOREU _mm512_storeu_ps
#define VBCAST(p) _mm512_set1_ps(*(p))
#define VSET1 _mm512_set1_ps
#define VFMA _mm512_fmadd_ps
#define VADD _mm512_add_ps
#define VMAX _mm512_max_ps
#define VZERO _mm512_setzero_ps
#define VMLOAD(p, m) _mm512_maskz_loadu_ps((m), (p))
#define VMSTORE(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define VMASK_T __mmask16
#define VMRANGE a5_mrange16
#define VEVENS a5_evens32
#define ISA_NAME "avx512"
#include "conv_simd_template.h"
#include "conv_simd_undef.h"

#undef A2_OCV

#define T double
#define V __m512d
#define VL 8
#define NM(x) x##_f64
#define TABLE cconv_avx512_f64
#define VLOADU _mm512_loadu_pd
#define VSTOREU _mm512_storeu_pd
#define VBCAST(p) _mm512_set1_pd(*(p))
#define VSET1 _mm512_set1_pd
#define VFMA _mm512_fmadd_pd
#define VADD _mm512_add_pd
#define VMAX _mm512_max_pd
#define VZERO _mm512_setzero_pd
#define VMLOAD(p, m) _mm512_maskz_loadu_pd((m), (p))
#define VMSTORE(p, m, v) _mm512_mask_storeu_pd((p), (m), (v))
#define VMASK_T __mmask8
#define VMRANGE a5_mrange8
#define VEVENS a5_evens64
#define ISA_NAME "avx512"
#include "conv_simd_template.h"

#include "conv_simd_undef.h"
