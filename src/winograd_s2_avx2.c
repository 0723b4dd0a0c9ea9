/* winograd_s2_avx2.c - stride-2 layers with 7- or 8-wide kernels (ResNet's
 * 7x7/s2 stem) as 1-D Winograd F(3,4) along the rows, float32, AVX2+FMA.
 *
 * Column phases: output column ow reads padded input columns 2*ow + s.  The
 * even taps s = 2t read the even padded columns E[j] = xpad[2j] at
 * j = ow + t, the odd taps s = 2t + 1 the odd ones O[j] = xpad[2j + 1]: each
 * kernel row is two stride-1 correlations of at most 4 taps (the odd phase
 * of a 7-wide kernel padded with a zero tap).  Each runs as F(3,4): a tile
 * of 3 outputs reads 6 phase values d, and
 *     y_tile = A^T [ sum_(c, r, phase) (G g) .* (B^T d) ]
 * with the Toom-Cook points 0, 1, -1, 2, -1/2, inf of winograd_1d.h: the
 * same B^T (W_IN1D) as the 2-D F(4x4,3x3) path, G and A^T for 4 taps and 3
 * outputs.  Rows stay direct (stride 2): output row oh sums input rows
 * 2*oh + r.  So the reduction has C * R * 2 steps per transform element, 6
 * elements per 3 outputs: 4 multiply-adds per output per (c, r) where the
 * direct kernel does 7 (x1.75 fewer).
 *
 * Per task (image, band of output rows):
 *  1. transformed input rows D[c][u][phase][e][tile], built lazily, two
 *     input rows per output row, in the task's scratch: each padded input
 *     row is split into its 6 column phases (xpad[6j + m]), so the 8-tile
 *     vectors of d_0..d_5 are plain loads, then B^T;
 *  2. two output rows at a time, per element e and 6-channel block: the
 *     GEMM M[e][k][tile] = sum_q U[e][k][q] D[q][e][tile] over the steps
 *     q = (c, r, phase), 6 channels x 16 tiles in 12 accumulators, steps
 *     read with constant strides from the row pair's base (the 8-tile tail of
 *     both rows in one call);
 *  3. the output transform (A^T) on 8 tiles, the 3 output vectors
 *     interleaved into 24 consecutive outputs, fused bias, residual and
 *     ReLU.
 * The weights come in the direct kernel's packed layout (AVX2 or AVX-512,
 * spatial or output-channel tile: read through its offset function) and
 * are transformed per call (U = G g, in double, rounded once); the caller
 * runs the direct kernel instead where the transformed weights or an image
 * are not all finite (the transforms would turn an Inf into NaN).
 *
 * Determinism: each output is the same operations in the same order for
 * any band split or thread count.
 */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>
#include "cconv.h"
#include "fpenv.h"
#include "scratch.h"
#include "winograd.h"
#include "conv_simd_common.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#define S2_RT 4                       /* taps per column phase */
#define S2_MO 3                       /* outputs per tile: F(3,4) */
#define S2_KR OCB                     /* output channels per block */
#define S2_BAND_BYTES (192 * 1024)    /* a band's transformed input rows (L2) */
#define S2_SCRATCH_MAX (1024 * 1024)  /* the most scratch a thread (smallest band) */
#define S2_MAX_CT 1024                /* default rule: C*R*S below this (7x7: 20 channels) */


/* tiles a row, padded to whole vectors of 8 */
static int64_t s2_ntp(int64_t Wo) { return a2_cdiv(a2_cdiv(Wo, S2_MO), 8) * 8; }

/* a thread's scratch in floats: D, nrows transformed input rows of C
 * channels ([phase][e][ntp] each), and M, a row pair's sums ([e][K padded
 * to blocks][ntp] each) */
static int64_t s2_d_floats(int64_t C, int64_t nrows, int64_t ntp) { return C * nrows * 12 * ntp; }
static int64_t s2_m_floats(int64_t K, int64_t ntp) { return 2 * 6 * a2_cdiv(K, S2_KR) * S2_KR * ntp; }

int cconv_ws2_applies_f32(const cconv_conv_params *p)
{
    const cconv_wshape *ws = &p->w;
    if (ws->groups != 1 || ws->ks[0] != 1 || (ws->ks[2] != 7 && ws->ks[2] != 8) || ws->K <= 0
        || ws->Cg <= 0 || p->C != ws->Cg)
        return 0;
    if (p->in[0] != 1 || p->out[0] != 1 || p->pad[0] != 0) return 0;
    if (p->stride[1] != 2 || p->stride[2] != 2) return 0;
    if (p->dil[0] != 1 || p->dil[1] != 1 || p->dil[2] != 1) return 0;
    /* per-thread scratch: the smallest band's transformed input rows (two
     * output rows: R + 2 input rows) and a row pair's transform sums within
     * S2_SCRATCH_MAX (conv1: 174 KiB) */
    const int64_t ntp = s2_ntp(p->out[2]);
    if ((s2_d_floats(ws->Cg, ws->ks[1] + 2, ntp) + s2_m_floats(ws->K, ntp)) * (int64_t)sizeof(float)
        > S2_SCRATCH_MAX)
        return 0;
    const int mode = cconv_wino_mode();
    if (mode) return mode > 0;
    /* a whole vector of tiles (24 outputs) a row, enough output channels to
     * pay for the input transform, and a short reduction (C*R*S below
     * S2_MAX_CT): the direct kernels run long ones well.  Paired A/B, Zen 4,
     * one thread, direct time / this path's, 7x7/s2 -> 64 at 112x112, AVX2
     * table and AVX-512 table: 3 channels (the stem, at 224x224) x1.21-1.28
     * and x1.10-1.14; 8 (AVX-512) x0.88-1.03; 16 (AVX-512) x0.92-1.01;
     * 24 -> 48 x0.94-1.03 and x0.99-1.12; 32 x0.92-1.01 and x0.91-0.93; 64 at
     * 56x56 x0.63-0.65 and x0.47-0.50 */
    return ws->K >= 32 && p->out[2] >= 24 && ws->Cg * ws->ks[1] * ws->ks[2] < S2_MAX_CT;
}

int64_t cconv_ws2_weights_size_f32(const cconv_wshape *ws)
{
    return 6 * a2_cdiv(ws->K, S2_KR) * ws->Cg * ws->ks[1] * 2 * S2_KR;
}

/* U[e][kb][q][6], q = (c*R + r)*2 + phase, from the direct kernel's packed
 * weights (off: where it keeps weight (k, (c, r, s))); 0 when a value is
 * not finite */
int cconv_ws2_weights_f32(const cconv_wshape *ws, const float *wd, cconv_weight_offset_fn off,
                          float *U)
{
    static const double pts[5] = {0, 1, -1, 2, -0.5};
    static const double sc[5] = {1, -1.0 / 3, 1.0 / 3, 1.0 / 15, -16.0 / 15};
    const int64_t C = ws->Cg, R = ws->ks[1], S = ws->ks[2], nkb = a2_cdiv(ws->K, S2_KR);
    const int64_t nq = C * R * 2;
    memset(U, 0, sizeof(float) * (size_t)cconv_ws2_weights_size_f32(ws));
    /* U's block kb holds channels 6kb .. 6kb + 5 */
    for (int64_t k = 0; k < ws->K; k++) {
        const int64_t kb = k / S2_KR, i = k % S2_KR;
        /* a channel's weights lie one block width apart (the layouts are
         * [oc block][c][tap][width]): two lookups a channel, not one a weight */
        const int64_t o0 = off(ws, k, 0), js = off(ws, k, 1) - o0;
        const float *wk = wd + o0;
        for (int64_t c = 0; c < C; c++)
            for (int64_t r = 0; r < R; r++)
                for (int ph = 0; ph < 2; ph++) {
                    const int64_t q = (c * R + r) * 2 + ph;
                    double g[S2_RT] = {0, 0, 0, 0};
                    for (int t = 0; t < S2_RT; t++) {
                        const int64_t s = 2 * t + ph;
                        if (s < S) g[t] = wk[((c * R + r) * S + s) * js];
                    }
                    for (int e = 0; e < 6; e++) {
                        double u = g[S2_RT - 1];
                        if (e < 5) {
                            double pw = 1;
                            u = 0;
                            for (int t = 0; t < S2_RT; t++) {
                                u += pw * g[t];
                                pw *= pts[e];
                            }
                            u *= sc[e];
                        }
                        U[((e * nkb + kb) * nq + q) * S2_KR + i] = (float)u;
                    }
                }
    }
    return cconv_all_finite(CCONV_F32, U, cconv_ws2_weights_size_f32(ws));
}

/* the 1-D transforms of winograd_1d.h on 8 float32 tiles a vector */
#define WV __m256
#define W_SET1(c) _mm256_set1_ps((float)(c))
#define W_ADD _mm256_add_ps
#define W_SUB _mm256_sub_ps
#define W_FMA _mm256_fmadd_ps
#define W_FNMA _mm256_fnmadd_ps
#include "winograd_1d.h"

/* GEMM tile: 6 channels x (8 tiles, and 8 more at + b2 when NV == 2) over
 * the steps (c, j): channel c's rows at b + c*cs, its nj = 2R (kernel row,
 * phase) steps js apart; sums to m (row i at + i*ms), the second vector's
 * at + m2 */
static inline __attribute__((always_inline)) void s2_mk(const int NV, const float *a,
                                                        const float *b, int64_t b2, int64_t C,
                                                        int64_t cs, int64_t nj, int64_t js,
                                                        float *m, int64_t m2, int64_t ms)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int64_t c = 0; c < C; c++) {
        const float *bp = b + c * cs;
        /* not unrolled (-funroll-loops): GCC's unrolled copies moved the
         * accumulators between registers, a vmovaps per two FMAs */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 1
#endif
        for (int64_t j = 0; j < nj; j++, bp += js) {
            const __m256 x0 = _mm256_loadu_ps(bp);
            const __m256 x1 = NV > 1 ? _mm256_loadu_ps(bp + b2) : x0;
            __m256 w;
#define S2_ROW(i)                                                \
            w = _mm256_broadcast_ss(a + i);                      \
            c##i##0 = _mm256_fmadd_ps(w, x0, c##i##0);           \
            if (NV > 1) c##i##1 = _mm256_fmadd_ps(w, x1, c##i##1);
            S2_ROW(0) S2_ROW(1) S2_ROW(2) S2_ROW(3) S2_ROW(4) S2_ROW(5)
#undef S2_ROW
            a += S2_KR;
        }
    }
    _mm256_storeu_ps(m, c00);
    _mm256_storeu_ps(m + ms, c10);
    _mm256_storeu_ps(m + 2 * ms, c20);
    _mm256_storeu_ps(m + 3 * ms, c30);
    _mm256_storeu_ps(m + 4 * ms, c40);
    _mm256_storeu_ps(m + 5 * ms, c50);
    if (NV > 1) {
        _mm256_storeu_ps(m + m2, c01);
        _mm256_storeu_ps(m + ms + m2, c11);
        _mm256_storeu_ps(m + 2 * ms + m2, c21);
        _mm256_storeu_ps(m + 3 * ms + m2, c31);
        _mm256_storeu_ps(m + 4 * ms + m2, c41);
        _mm256_storeu_ps(m + 5 * ms + m2, c51);
    }
}
static void s2_mk1(const float *a, const float *b, int64_t C, int64_t cs, int64_t nj, int64_t js,
                   float *m, int64_t ms)
{
    s2_mk(1, a, b, 0, C, cs, nj, js, m, 0, ms);
}
static void s2_mk2(const float *a, const float *b, int64_t b2, int64_t C, int64_t cs, int64_t nj,
                   int64_t js, float *m, int64_t m2, int64_t ms)
{
    s2_mk(2, a, b, b2, C, cs, nj, js, m, m2, ms);
}

/* rows [u0, u1) of the band's transformed input: D[c][u - ubase][phase][e][ntp] */
static void s2_rows(const cconv_conv_params *p, const float *xn, int64_t u0, int64_t u1,
                    int64_t ubase, int64_t nrows, int64_t ntp, float *D, float *row, float *Q)
{
    const int64_t C = p->C, H = p->in[1], W = p->in[2], ph = p->pad[1], pw = p->pad[2];
    const int64_t qn = ntp + 2, L = 6 * qn, rs = 12 * ntp;
    for (int64_t c = 0; c < C; c++)
        for (int64_t u = u0; u < u1; u++) {
            const int64_t ih = u - ph;
            memset(row, 0, sizeof(float) * (size_t)L);
            if (ih >= 0 && ih < H) {
                const int64_t lo = a2_min(L, a2_max(0, pw)), hi = a2_min(L, W + pw);
                if (hi > lo)
                    memcpy(row + lo, xn + c * p->x_sc + ih * W + (lo - pw), sizeof(float) * (size_t)(hi - lo));
            }
            for (int64_t mm = 0; mm < 6; mm++)
                for (int64_t j = 0; j < qn; j++) Q[mm * qn + j] = row[6 * j + mm];
            float *Dr = D + (c * nrows + (u - ubase)) * rs;
            for (int phs = 0; phs < 2; phs++)
                for (int64_t j0 = 0; j0 < ntp; j0 += 8) {
                    __m256 d[6], o[6];
                    for (int t = 0; t < 6; t++) {
                        const int idx = 2 * t + phs;
                        d[t] = _mm256_loadu_ps(Q + (idx % 6) * qn + j0 + idx / 6);
                    }
                    W_IN1D(d[0], d[1], d[2], d[3], d[4], d[5], o[0], o[1], o[2], o[3], o[4], o[5]);
                    for (int e = 0; e < 6; e++) _mm256_storeu_ps(Dr + (phs * 6 + e) * ntp + j0, o[e]);
                }
        }
}

/* A^T on 8 tiles (outputs 3j, 3j+1, 3j+2), interleaved: 24 consecutive outputs */
static inline void s2_out(const float *m, int64_t es, __m256 v[3])
{
    const __m256 m0 = _mm256_loadu_ps(m), m1 = _mm256_loadu_ps(m + es);
    const __m256 m2 = _mm256_loadu_ps(m + 2 * es), m3 = _mm256_loadu_ps(m + 3 * es);
    const __m256 m4 = _mm256_loadu_ps(m + 4 * es), m5 = _mm256_loadu_ps(m + 5 * es);
    __m256 o0, o1, o2;
    W_OUT1D3(m0, m1, m2, m3, m4, m5, o0, o1, o2);
    /* a0 b0 c0 a1 b1 c1 a2 b2 | c2 a3 b3 c3 a4 b4 c4 a5 | b5 c5 a6 b6 c6 a7 b7 c7 */
    const __m256i ia0 = _mm256_setr_epi32(0, 0, 0, 1, 0, 0, 2, 0);
    const __m256i ib0 = _mm256_setr_epi32(0, 0, 0, 0, 1, 0, 0, 2);
    const __m256i ic0 = _mm256_setr_epi32(0, 0, 0, 0, 0, 1, 0, 0);
    const __m256i ia1 = _mm256_setr_epi32(0, 3, 0, 0, 4, 0, 0, 5);
    const __m256i ib1 = _mm256_setr_epi32(0, 0, 3, 0, 0, 4, 0, 0);
    const __m256i ic1 = _mm256_setr_epi32(2, 0, 0, 3, 0, 0, 4, 0);
    const __m256i ia2 = _mm256_setr_epi32(0, 0, 6, 0, 0, 7, 0, 0);
    const __m256i ib2 = _mm256_setr_epi32(5, 0, 0, 6, 0, 0, 7, 0);
    const __m256i ic2 = _mm256_setr_epi32(0, 5, 0, 0, 6, 0, 0, 7);
    v[0] = _mm256_blend_ps(_mm256_blend_ps(_mm256_permutevar8x32_ps(o0, ia0),
                                           _mm256_permutevar8x32_ps(o1, ib0), 0x92),
                           _mm256_permutevar8x32_ps(o2, ic0), 0x24);
    v[1] = _mm256_blend_ps(_mm256_blend_ps(_mm256_permutevar8x32_ps(o0, ia1),
                                           _mm256_permutevar8x32_ps(o1, ib1), 0x24),
                           _mm256_permutevar8x32_ps(o2, ic1), 0x49);
    v[2] = _mm256_blend_ps(_mm256_blend_ps(_mm256_permutevar8x32_ps(o0, ia2),
                                           _mm256_permutevar8x32_ps(o1, ib2), 0x49),
                           _mm256_permutevar8x32_ps(o2, ic2), 0x92);
}

int cconv_ws2_conv_f32(const cconv_conv_params *p, const float *x, const float *U,
                       const float *bias, const float *res, float *y, int nthreads)
{
    const int64_t N = p->N, C = p->C, K = p->w.K, R = p->w.ks[1];
    const int64_t Ho = p->out[1], Wo = p->out[2];
    if (N <= 0 || K <= 0 || Ho <= 0 || Wo <= 0) return CCONV_OK;
    const int relu = p->activation == CCONV_ACT_RELU;
    const int64_t ntp = s2_ntp(Wo), nkb = a2_cdiv(K, S2_KR), nq = C * R * 2;
    const int64_t rs = 12 * ntp;                      /* a transformed row: [phase][e][ntp] */
    /* bands of rb output rows (even: rows run in pairs) whose transformed
     * input rows fit the budget; at least 4 bands a thread */
    const int64_t rowb = C * rs * (int64_t)sizeof(float);
    int64_t rb = a2_max(2, (S2_BAND_BYTES / rowb - (R - 2)) / 2);
    rb = a2_min(rb, Ho);
    const double work = (double)N * K * C * R * p->w.ks[2] * Ho * Wo;
    const int nt = cconv_threads_for(nthreads, work, N * a2_cdiv(Ho, 2));
    if (nt > 1 && N * a2_cdiv(Ho, rb) < 4 * nt) rb = a2_max(2, a2_cdiv(Ho, a2_cdiv(4 * nt, N)));
    rb = (rb + 1) / 2 * 2;
    const int64_t nbands = a2_cdiv(Ho, rb), tasks = N * nbands;
    const int64_t nrows = 2 * (rb - 1) + R;           /* input rows a band reads */
    const int64_t qn = ntp + 2, MS = s2_m_floats(K, ntp) / 2;
    /* step (c, r, phase) of the GEMM: D + c*cs + (2r + phase)*js */
    const int64_t cs = nrows * rs, js = 6 * ntp, nj = 2 * R;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int failed = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) reduction(| : failed)
#endif
    {
        cconv_fpstate fps = cconv_fpenv_enter();
        float *D = (float *)cconv_scratch_alloc(sizeof(float) * (size_t)s2_d_floats(C, nrows, ntp));
        float *M = (float *)cconv_scratch_alloc(sizeof(float) * (size_t)(2 * MS));
        float *row = (float *)cconv_scratch_alloc(sizeof(float) * (size_t)(12 * qn));
        if (!D || !M || !row) failed = 1;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1) nowait
#endif
        for (int64_t task = 0; task < tasks; task++) {
            if (failed) continue;
            const int64_t n = task / nbands, h0 = (task % nbands) * rb, h1 = a2_min(Ho, h0 + rb);
            const float *xn = x + n * p->x_sn;
            const int64_t ubase = 2 * h0;
            int64_t built = ubase;
            for (int64_t oh0 = h0; oh0 < h1; oh0 += 2) {
                const int64_t nr = a2_min(2, h1 - oh0);
                const int64_t need = 2 * (oh0 + nr - 1) + R;
                if (need > built) {
                    s2_rows(p, xn, built, need, ubase, nrows, ntp, D, row, row + 6 * qn);
                    built = need;
                }
                const float *Db = D + (2 * (oh0 - h0)) * rs;
                for (int64_t e = 0; e < 6; e++)
                    for (int64_t kb = 0; kb < nkb; kb++) {
                        const float *a = U + (e * nkb + kb) * nq * S2_KR;
                        float *Me = M + (e * nkb + kb) * S2_KR * ntp;
                        const float *De = Db + e * ntp;
                        int64_t t0 = 0;
                        for (; t0 + 16 <= ntp; t0 += 16)
                            for (int64_t rr = 0; rr < nr; rr++)
                                s2_mk2(a, De + rr * 2 * rs + t0, 8, C, cs, nj, js, Me + rr * MS + t0, 8, ntp);
                        if (t0 < ntp) {   /* an 8-tile tail: both rows' in one call */
                            if (nr == 2) s2_mk2(a, De + t0, 2 * rs, C, cs, nj, js, Me + t0, MS, ntp);
                            else s2_mk1(a, De + t0, C, cs, nj, js, Me + t0, ntp);
                        }
                    }
                for (int64_t rr = 0; rr < nr; rr++) {
                    const int64_t oh = oh0 + rr;
                    const float *Mr = M + rr * MS;
                    for (int64_t k = 0; k < K; k++) {
                        float *yk = y + n * p->y_sn + k * p->y_sk + oh * Wo;
                        const float *rk = res ? res + n * p->r_sn + k * p->r_sk + oh * Wo : NULL;
                        const __m256 vb = _mm256_set1_ps(bias ? bias[k] : 0.f), z = _mm256_setzero_ps();
                        const float *mk = Mr + k * ntp;   /* element e at + e*nkb*6*ntp */
                        for (int64_t j0 = 0; j0 < ntp; j0 += 8) {
                            const int64_t ow = S2_MO * j0;
                            if (ow >= Wo) break;
                            __m256 v[3];
                            s2_out(mk + j0, nkb * S2_KR * ntp, v);
                            for (int i = 0; i < 3; i++) {
                                const int64_t o = ow + 8 * i, nv = a2_min(8, Wo - o);
                                if (nv <= 0) break;
                                __m256 u = bias ? _mm256_add_ps(v[i], vb) : v[i];
                                if (nv == 8) {
                                    if (rk) u = _mm256_add_ps(u, _mm256_loadu_ps(rk + o));
                                    if (relu) u = _mm256_max_ps(z, u);  /* max(0, NaN) = NaN */
                                    _mm256_storeu_ps(yk + o, u);
                                } else {
                                    const __m256i mv = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)nv), lane);
                                    if (rk) u = _mm256_add_ps(u, _mm256_maskload_ps(rk + o, mv));
                                    if (relu) u = _mm256_max_ps(z, u);
                                    _mm256_maskstore_ps(yk + o, mv, u);
                                }
                            }
                        }
                    }
                }
            }
        }
        cconv_scratch_free(row);
        cconv_scratch_free(M);
        cconv_scratch_free(D);
        cconv_fpenv_leave(fps);
    }
    return failed ? CCONV_ENOMEM : CCONV_OK;
}
