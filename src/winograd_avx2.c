/* winograd_avx2.c - Winograd F(4x4,3x3) and F(2x2,5x5) convolution, float32
 * and float64, AVX2+FMA: the dtype's transforms here, the rest in
 * winograd_template.h.
 *
 * For 3x3 and 5x5 / stride 1 / dilation 1 / groups 1 2-D layers (any
 * padding).  The output is cut into 4x4 (5x5 kernels: 2x2) tiles, each
 * reading a 6x6 input patch:
 *     y_tile = A^T [ sum_c (G g_kc G^T) .* (B^T d_c B) ] A
 * (Toom-Cook points 0, 1, -1, 2, -1/2, inf; see W_IN1D).  Both tile shapes
 * share the input transform B^T and the GEMM; G and A^T differ (W_G3 / W_G5,
 * W_OUT1D / W_OUT1D2), and 2x2 tiles, 2 apart, have their own faster input
 * transform (w_itrans2_*).  Per block of tiles:
 *  1. input transform: channel by channel, the block's input rows are copied
 *     into a small zero-padded band (padding handled there, any pad/size),
 *     then 8 (float64: 4) tiles at a time are transposed into vectors over tiles and
 *     transformed: V[e][c][tile] for the 36 transform elements e, stored as
 *     16-tile (float64: 8) panels [e][panel][c][16] so the GEMM streams them
 *     linearly;
 *  2. 36 GEMMs per chunk of output channels: M[e][k][tile] = sum_c
 *     U[e][k][c] V[e][c][tile], register tile 6 k x 2 vectors (12 ymm
 *     accumulators, U broadcast from the packed weights [e][k/6][c][6]);
 *     on AVX-512 (conv_select.c says for which layers) the GEMM steps and
 *     the transforms of steps 1 and 3 run in winograd_avx512.c instead, a
 *     panel (16 float32 / 8 float64 tiles) a zmm, with the same results;
 *  3. output transform a vector of tiles at a time, fused with bias, residual (may
 *     alias y) and ReLU, written through y_sn / y_sk (channel slices ok).
 * Scratch per thread: V (36*C*32 values), M (36*66*32), a band, metadata.
 * float64 runs the same design with 4-lane vectors (its weights are
 * transformed in double and stored unrounded).
 *
 * Determinism: every output value is computed by the same operations in the
 * same order whatever the blocking or the thread count (the sum over c runs
 * whole, in order, in one register lane per tile; transforms are per tile),
 * so the block sizes may follow the thread count for balance and results
 * are still bitwise identical for any number of threads.
 */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>
#include "cconv.h"
#include "fpenv.h"
#include "scratch.h"
#include "winograd.h"
#include "winograd_g.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#define NE 36          /* transform elements per tile (6x6) */
#define KR 6           /* output channels per register tile / packed block */
#ifndef WINO_KBC
#define WINO_KBC 11    /* 6-channel blocks per output-channel chunk */
#endif

static inline int64_t w_min(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t w_max(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t w_cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* 3x3 or 5x5, 2-D, one group */
static int w_shape_ok(const cconv_wshape *ws)
{
    return ws->groups == 1 && ws->ks[0] == 1 && (ws->ks[1] == 3 || ws->ks[1] == 5)
           && ws->ks[2] == ws->ks[1] && ws->K > 0 && ws->Cg > 0;
}

/* n values of es bytes rounded up to an odd number of 64-byte lines, in values */
static inline int64_t w_odd_lines(int64_t n, int64_t es)
{
    const int64_t per = 64 / es, lines = (n + per - 1) / per;
    return (lines | 1) * per;
}

/* output tile side for kernel side r: F(4x4,3x3), F(2x2,5x5) */
static inline int64_t w_tile_side(int64_t r) { return r == 5 ? 2 : 4; }


#if defined(__GNUC__) || defined(__clang__)
#define W_AINLINE static inline __attribute__((always_inline))
#else
#define W_AINLINE static __forceinline
#endif

/* ---- when to use it (min_tiles: 4x4 tiles, for 3x3 layers) ---- */

int cconv_wino_mode(void)
{
    const char *mode = getenv("CCONV_WINOGRAD");
    if (mode && (strcmp(mode, "0") == 0 || strcmp(mode, "off") == 0)) return -1;
    return mode && strcmp(mode, "force") == 0;
}

int cconv_wino_applies(const cconv_conv_params *p, int64_t min_tiles)
{
    if (!w_shape_ok(&p->w) || p->C != p->w.Cg) return 0;
    if (p->in[0] != 1 || p->out[0] != 1 || p->pad[0] != 0) return 0;
    if (p->stride[0] != 1 || p->stride[1] != 1 || p->stride[2] != 1) return 0;
    if (p->dil[0] != 1 || p->dil[1] != 1 || p->dil[2] != 1) return 0;
    const int mode = cconv_wino_mode();
    if (mode) return mode > 0;
    /* 3x3: measured on Zen 3, one core, against the direct kernel: 1.2-2.8x
     * faster from 16 channels in and out once there are >= 8 tiles (one
     * vector of tiles); with 1-4 tiles (images up to 8x8) it wins little or
     * loses (4x4: 0.65x).  Below 16 input channels the accuracy margin to
     * the (9C + 2) eps bound gets thin, so those stay direct.  The caller
     * names the fewest tiles that pay for streaming the transformed weights
     * (36/9 the direct ones' bytes) once per tile block. */
    /* 5x5, F(2x2,5x5), against the output-channel tile (float64: the
     * spatial one), Zen 3, one thread: 192 -> 32 at 28x28 x1.6 (float64
     * x2.4), 32 -> 96 x1.8, 48 -> 128 at 7x7 (16 tiles) x1.6 (x1.9),
     * 32 -> 64 at 6x6 (9 tiles) x1.22, but at 5x5 (9 tiles, 3 of them
     * partial) x0.99, 4x4 x0.96; 16 -> 16 x0.93-0.96 on 7x7 and 14x14,
     * x1.27 at 56x56; 8 or 3 input channels x0.84-0.91 */
    if (p->w.ks[1] == 5) return p->C >= 16 && p->w.K >= 16 && p->out[1] >= 6 && p->out[2] >= 6;
    const int64_t tiles = ((p->out[1] + 3) / 4) * ((p->out[2] + 3) / 4);
    return p->C >= 16 && p->w.K >= 16 && tiles >= min_tiles;
}

/* ---- splitting the work ---- */

/* Task t = (n, tile block, channel chunk) weighs (tile vectors: groups of
 * tv tiles, as the transforms run them) x (6-channel blocks); it belongs to
 * the thread whose even share holds its midpoint.
 * Returns the total weight (maxshare NULL) or the largest thread's share. */
static int64_t w_task_weight(int64_t T, int64_t nkb, int64_t nbp, int64_t kbc, int64_t nkc,
                             int64_t nblk, int64_t tv, int64_t task)
{
    const int64_t kc = task % nkc, blk = (task / nkc) % nblk;
    return w_cdiv(w_min(nbp, T - blk * nbp), tv) * w_min(kbc, nkb - kc * kbc);
}

static int64_t w_split(int64_t N, int64_t T, int64_t nkb, int64_t nbp, int64_t kbc, int64_t tv,
                       int64_t nt, int64_t *maxshare)
{
    const int64_t nblk = w_cdiv(T, nbp), nkc = w_cdiv(nkb, kbc), tasks = N * nblk * nkc;
    int64_t tot = 0;
    for (int64_t t = 0; t < tasks; t++) tot += w_task_weight(T, nkb, nbp, kbc, nkc, nblk, tv, t);
    if (!maxshare) return tot;
    *maxshare = 0;
    int64_t pre = 0, cur = 0, owner = 0, best = 0;
    for (int64_t t = 0; t < tasks; t++) {
        const int64_t wt = w_task_weight(T, nkb, nbp, kbc, nkc, nblk, tv, t);
        const int64_t o = w_min(nt - 1, (2 * pre + wt) * nt / (2 * tot));
        if (o != owner) { best = w_max(best, cur); cur = 0; owner = o; }
        cur += wt;
        pre += wt;
    }
    *maxshare = w_max(best, cur);
    return *maxshare;
}


#include "winograd_1d.h"

/* ==== float32: 8 tiles a vector ==== */
#define WT float
#define WV __m256
#define WL 8
#define WN(x) x##_f32
#define W_LOAD _mm256_load_ps
#define W_STORE _mm256_store_ps
#define W_BCAST _mm256_broadcast_ss
#define W_ZERO _mm256_setzero_ps
#define W_FMA _mm256_fmadd_ps
#define W_FNMA _mm256_fnmadd_ps
#define W_ADD _mm256_add_ps
#define W_SUB _mm256_sub_ps
#define W_SET1(c) _mm256_set1_ps((float)(c))
#define W_PACK_STORE(d, v, n)                                          \
    do {                                                               \
        const __m128 f_ = _mm256_cvtpd_ps(v);                          \
        if ((n) == 4) _mm_storeu_ps(d, f_);                            \
        else _mm_storel_pi((__m64 *)(d), f_);                          \
    } while (0)
/* the 9 taps of 4 float filters as double lane vectors: taps 0-7 of each
 * filter in one load, a 4 x 8 transpose in registers, tap 8 gathered (a
 * third of the instructions of nine 4-value gathers) */
static inline void w_gather9_f32(const float *const g[4], __m256d gv[9])
{
    const __m256 r0 = _mm256_loadu_ps(g[0]), r1 = _mm256_loadu_ps(g[1]);
    const __m256 r2 = _mm256_loadu_ps(g[2]), r3 = _mm256_loadu_ps(g[3]);
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    /* u_j: [tap j of filters 0-3 | tap j + 4 of filters 0-3] */
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    gv[0] = _mm256_cvtps_pd(_mm256_castps256_ps128(u0));
    gv[1] = _mm256_cvtps_pd(_mm256_castps256_ps128(u1));
    gv[2] = _mm256_cvtps_pd(_mm256_castps256_ps128(u2));
    gv[3] = _mm256_cvtps_pd(_mm256_castps256_ps128(u3));
    gv[4] = _mm256_cvtps_pd(_mm256_extractf128_ps(u0, 1));
    gv[5] = _mm256_cvtps_pd(_mm256_extractf128_ps(u1, 1));
    gv[6] = _mm256_cvtps_pd(_mm256_extractf128_ps(u2, 1));
    gv[7] = _mm256_cvtps_pd(_mm256_extractf128_ps(u3, 1));
    gv[8] = _mm256_cvtps_pd(_mm_setr_ps(g[0][8], g[1][8], g[2][8], g[3][8]));
}
#define W_GATHER9 w_gather9_f32
#define W_GATHER4(p0, p1, p2, p3) _mm256_cvtps_pd(_mm_setr_ps(*(p0), *(p1), *(p2), *(p3)))
#define W_PACK_STORE2(d, d2, v)                                        \
    do {                                                               \
        const __m128 f_ = _mm256_cvtpd_ps(v);                          \
        _mm_storel_pi((__m64 *)(d), f_);                               \
        _mm_storeh_pi((__m64 *)(d2), f_);                              \
    } while (0)

static inline __m256 w_load2(const float *lo, const float *hi)
{
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(lo)), _mm_loadu_ps(hi), 1);
}

/* float32 input transform of 8 tiles of one channel: tile t's 6x6 patch starts at
 * src[t] (row stride ld; 8 columns readable).  Element e goes to
 * dst + e*es (8 floats, 32-byte aligned). */
static void w_itrans_f32(const float *const *src, int64_t ld, float *dst, int64_t es)
{
    __m256 w[6][6];
    for (int r = 0; r < 6; r++) {
        const int64_t o = r * ld;
        const __m256 L0 = w_load2(src[0] + o, src[4] + o), L1 = w_load2(src[1] + o, src[5] + o);
        const __m256 L2 = w_load2(src[2] + o, src[6] + o), L3 = w_load2(src[3] + o, src[7] + o);
        const __m256 H0 = w_load2(src[0] + o + 4, src[4] + o + 4);
        const __m256 H1 = w_load2(src[1] + o + 4, src[5] + o + 4);
        const __m256 H2 = w_load2(src[2] + o + 4, src[6] + o + 4);
        const __m256 H3 = w_load2(src[3] + o + 4, src[7] + o + 4);
        __m256 d0, d1, d2, d3, d4, d5;
        W_F32_IN_T(_mm256, __m256, L0, L1, L2, L3, H0, H1, H2, H3, d0, d1, d2, d3, d4, d5);
        W_IN1D(d0, d1, d2, d3, d4, d5, w[r][0], w[r][1], w[r][2], w[r][3], w[r][4], w[r][5]);
    }
    W_IN_COLS(w, dst, es)
}

/* F(2x2,5x5) keeps tiles in the vector lanes in the order w_lanes2_f32
 * (tile 0, 1, 4, 5, 2, 3, 6, 7): the one the even/odd shuffles below leave
 * and w_otrans2_f32's interleave undoes, so neither permutes across halves;
 * the general w_itrans_f32 gets its tiles in this order */
static const int w_lanes2_f32[8] = {0, 1, 4, 5, 2, 3, 6, 7};

/* F(2x2,5x5) float32 input transform of 8 tiles side by side (tile q's
 * patch at s + 2q, row stride ld; 20 columns readable): column k of every
 * tile is the even (k even) or odd values of the 16 at s + 2*(k/2), one
 * shuffle of two loads, where w_itrans_f32 gathers and transposes 8
 * patches.  Element e to dst + e*es in the order of w_lanes2_f32. */
static void w_itrans2_f32(const float *s, int64_t ld, float *dst, int64_t es)
{
    __m256 w[6][6];
    for (int r = 0; r < 6; r++) {
        const float *q = s + r * ld;
        const __m256 a0 = _mm256_loadu_ps(q), b0 = _mm256_loadu_ps(q + 8);
        const __m256 a2 = _mm256_loadu_ps(q + 2), b2 = _mm256_loadu_ps(q + 10);
        const __m256 a4 = _mm256_loadu_ps(q + 4), b4 = _mm256_loadu_ps(q + 12);
        const __m256 d0 = _mm256_shuffle_ps(a0, b0, 0x88), d1 = _mm256_shuffle_ps(a0, b0, 0xDD);
        const __m256 d2 = _mm256_shuffle_ps(a2, b2, 0x88), d3 = _mm256_shuffle_ps(a2, b2, 0xDD);
        const __m256 d4 = _mm256_shuffle_ps(a4, b4, 0x88), d5 = _mm256_shuffle_ps(a4, b4, 0xDD);
        W_IN1D(d0, d1, d2, d3, d4, d5, w[r][0], w[r][1], w[r][2], w[r][3], w[r][4], w[r][5]);
    }
    W_IN_COLS(w, dst, es)
}


static inline __m128i w_mask4(int n)
{
    return _mm_cmpgt_epi32(_mm_set1_epi32(n), _mm_setr_epi32(0, 1, 2, 3));
}

/* float32 output transform of 8 tiles of one channel, fused epilogue.
 * m: element e at m + e*es; tiles: the 8 (ntl valid) tiles; full: all 8
 * valid and whole; yk/rk: channel planes of y and the residual (or NULL). */
static void w_otrans_f32(const float *m, int64_t es, const w_tile *tiles, int ntl, int full,
                         float *yk, const float *rk, int64_t Wo, float bias, int relu)
{
    __m256 t[4][6];
    W_OUT_COLS(m, es, t)
    const __m256 vb = _mm256_set1_ps(bias);
    __m256 u[4][4];   /* u[i][p]: row i of tile p (low half) and tile p+4 (high half) */
    for (int i = 0; i < 4; i++) {
        __m256 y0, y1, y2, y3;
        W_OUT1D(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5], y0, y1, y2, y3);
        y0 = _mm256_add_ps(y0, vb); y1 = _mm256_add_ps(y1, vb);
        y2 = _mm256_add_ps(y2, vb); y3 = _mm256_add_ps(y3, vb);
        W_F32_OUT_T(_mm256, __m256, y0, y1, y2, y3, u[i][0], u[i][1], u[i][2], u[i][3]);
    }
    const __m128 z = _mm_setzero_ps();
    if (full) {
        for (int tt = 0; tt < 8; tt++) {
            const int p = tt & 3;
            float *yp = yk + tiles[tt].yoff;
            const float *rp = rk ? rk + tiles[tt].yoff : NULL;
            for (int i = 0; i < 4; i++) {
                __m128 v = tt < 4 ? _mm256_castps256_ps128(u[i][p]) : _mm256_extractf128_ps(u[i][p], 1);
                if (rp) v = _mm_add_ps(v, _mm_loadu_ps(rp + i * Wo));
                if (relu) v = _mm_max_ps(z, v);   /* max(0, NaN) = NaN */
                _mm_storeu_ps(yp + i * Wo, v);
            }
        }
        return;
    }
    for (int tt = 0; tt < ntl; tt++) {
        const int p = tt & 3;
        float *yp = yk + tiles[tt].yoff;
        const float *rp = rk ? rk + tiles[tt].yoff : NULL;
        const int nr = tiles[tt].nr, nc = tiles[tt].nc;
        const __m128i mk = w_mask4(nc);
        for (int i = 0; i < nr; i++) {
            __m128 v = tt < 4 ? _mm256_castps256_ps128(u[i][p]) : _mm256_extractf128_ps(u[i][p], 1);
            if (nc == 4) {
                if (rp) v = _mm_add_ps(v, _mm_loadu_ps(rp + i * Wo));
                if (relu) v = _mm_max_ps(z, v);
                _mm_storeu_ps(yp + i * Wo, v);
            } else {
                if (rp) v = _mm_add_ps(v, _mm_maskload_ps(rp + i * Wo, mk));
                if (relu) v = _mm_max_ps(z, v);
                _mm_maskstore_ps(yp + i * Wo, mk, v);
            }
        }
    }
}

/* F(2x2,5x5) float32 output transform of 8 tiles of one channel (lanes in
 * the order w_lanes2_f32), fused epilogue (arguments as w_otrans_f32).
 * Interleaving the two output columns leaves each output row's 16 values
 * in tile order: with full (8 whole tiles side by side in one row, yoff 2
 * apart) they are stored as two vectors; otherwise tile by tile, 2 values
 * a row, from a stack copy. */
static void w_otrans2_f32(const float *m, int64_t es, const w_tile *tiles, int ntl, int full,
                          float *yk, const float *rk, int64_t Wo, float bias, int relu)
{
    __m256 t[2][6];
    W_OUT_COLS2(m, es, t)
    const __m256 vb = _mm256_set1_ps(bias), z = _mm256_setzero_ps();
    __m256 u[2][2];   /* u[i][h]: output row i of tiles 4h..4h+3, interleaved */
    for (int i = 0; i < 2; i++) {
        __m256 y0, y1;
        W_OUT1D2(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5], y0, y1);
        y0 = _mm256_add_ps(y0, vb);
        y1 = _mm256_add_ps(y1, vb);
        u[i][0] = _mm256_unpacklo_ps(y0, y1);   /* tiles 0-3 */
        u[i][1] = _mm256_unpackhi_ps(y0, y1);   /* tiles 4-7 */
    }
    if (full) {
        float *yp = yk + tiles[0].yoff;
        const float *rp = rk ? rk + tiles[0].yoff : NULL;
        for (int i = 0; i < 2; i++)
            for (int h = 0; h < 2; h++) {
                __m256 v = u[i][h];
                if (rp) v = _mm256_add_ps(v, _mm256_loadu_ps(rp + i * Wo + 8 * h));
                if (relu) v = _mm256_max_ps(z, v);   /* max(0, NaN) = NaN */
                _mm256_storeu_ps(yp + i * Wo + 8 * h, v);
            }
        return;
    }
    float buf[2][16];
    for (int i = 0; i < 2; i++) {
        _mm256_storeu_ps(buf[i], u[i][0]);
        _mm256_storeu_ps(buf[i] + 8, u[i][1]);
    }
    for (int tt = 0; tt < ntl; tt++) {
        float *yp = yk + tiles[tt].yoff;
        const float *rp = rk ? rk + tiles[tt].yoff : NULL;
        for (int i = 0; i < tiles[tt].nr; i++)
            for (int j = 0; j < tiles[tt].nc; j++) {
                float v = buf[i][2 * tt + j];
                if (rp) v += rp[i * Wo + j];
                if (relu) v = 0.0f > v ? 0.0f : v;   /* as max(0, v): NaN, -0 stay */
                yp[i * Wo + j] = v;
            }
    }
}

#include "winograd_template.h"

/* ==== float64: 4 tiles a vector ==== */
#define WT double
#define WV __m256d
#define WL 4
#define WN(x) x##_f64
#define W_LOAD _mm256_load_pd
#define W_STORE _mm256_store_pd
#define W_BCAST _mm256_broadcast_sd
#define W_ZERO _mm256_setzero_pd
#define W_FMA _mm256_fmadd_pd
#define W_FNMA _mm256_fnmadd_pd
#define W_ADD _mm256_add_pd
#define W_SUB _mm256_sub_pd
#define W_SET1(c) _mm256_set1_pd((double)(c))
#define W_PACK_STORE(d, v, n)                                          \
    do {                                                               \
        if ((n) == 4) _mm256_storeu_pd(d, v);                          \
        else _mm_storeu_pd(d, _mm256_castpd256_pd128(v));              \
    } while (0)
#define W_GATHER4(p0, p1, p2, p3) _mm256_setr_pd(*(p0), *(p1), *(p2), *(p3))
#define W_PACK_STORE2(d, d2, v)                                        \
    do {                                                               \
        _mm_storeu_pd(d, _mm256_castpd256_pd128(v));                   \
        _mm_storeu_pd(d2, _mm256_extractf128_pd(v, 1));                \
    } while (0)

/* [a0 a1 b0 b1] from the low halves' pairs (a0 a1) and (b0 b1) */
static inline __m256d w_join(__m128d lo, __m128d hi)
{
    return _mm256_insertf128_pd(_mm256_castpd128_pd256(lo), hi, 1);
}

/* float64 input transform of 4 tiles of one channel: tile t's 6x6 patch
 * starts at src[t] (row stride ld; 8 columns readable).  Element e goes to
 * dst + e*es (4 doubles, 32-byte aligned). */
static void w_itrans_f64(const double *const *src, int64_t ld, double *dst, int64_t es)
{
    __m256d w[6][6];
    for (int r = 0; r < 6; r++) {
        const int64_t o = r * ld;
        const __m256d A0 = _mm256_loadu_pd(src[0] + o), A1 = _mm256_loadu_pd(src[1] + o);
        const __m256d A2 = _mm256_loadu_pd(src[2] + o), A3 = _mm256_loadu_pd(src[3] + o);
        const __m128d B0 = _mm_loadu_pd(src[0] + o + 4), B1 = _mm_loadu_pd(src[1] + o + 4);
        const __m128d B2 = _mm_loadu_pd(src[2] + o + 4), B3 = _mm_loadu_pd(src[3] + o + 4);
        const __m256d t0 = _mm256_unpacklo_pd(A0, A1), t1 = _mm256_unpackhi_pd(A0, A1);
        const __m256d t2 = _mm256_unpacklo_pd(A2, A3), t3 = _mm256_unpackhi_pd(A2, A3);
        const __m256d d0 = _mm256_permute2f128_pd(t0, t2, 0x20);
        const __m256d d1 = _mm256_permute2f128_pd(t1, t3, 0x20);
        const __m256d d2 = _mm256_permute2f128_pd(t0, t2, 0x31);
        const __m256d d3 = _mm256_permute2f128_pd(t1, t3, 0x31);
        const __m256d d4 = w_join(_mm_unpacklo_pd(B0, B1), _mm_unpacklo_pd(B2, B3));
        const __m256d d5 = w_join(_mm_unpackhi_pd(B0, B1), _mm_unpackhi_pd(B2, B3));
        W_IN1D(d0, d1, d2, d3, d4, d5, w[r][0], w[r][1], w[r][2], w[r][3], w[r][4], w[r][5]);
    }
    W_IN_COLS(w, dst, es)
}

/* F(2x2,5x5) float64 lane order (tiles 0, 2, 1, 3) and input transform of 4
 * tiles side by side (12 columns readable), as w_itrans2_f32 */
static const int w_lanes2_f64[4] = {0, 2, 1, 3};
static void w_itrans2_f64(const double *s, int64_t ld, double *dst, int64_t es)
{
    __m256d w[6][6];
    for (int r = 0; r < 6; r++) {
        const double *q = s + r * ld;
        const __m256d a0 = _mm256_loadu_pd(q), b0 = _mm256_loadu_pd(q + 4);
        const __m256d a2 = _mm256_loadu_pd(q + 2), b2 = _mm256_loadu_pd(q + 6);
        const __m256d a4 = _mm256_loadu_pd(q + 4), b4 = _mm256_loadu_pd(q + 8);
        const __m256d d0 = _mm256_unpacklo_pd(a0, b0), d1 = _mm256_unpackhi_pd(a0, b0);
        const __m256d d2 = _mm256_unpacklo_pd(a2, b2), d3 = _mm256_unpackhi_pd(a2, b2);
        const __m256d d4 = _mm256_unpacklo_pd(a4, b4), d5 = _mm256_unpackhi_pd(a4, b4);
        W_IN1D(d0, d1, d2, d3, d4, d5, w[r][0], w[r][1], w[r][2], w[r][3], w[r][4], w[r][5]);
    }
    W_IN_COLS(w, dst, es)
}

/* float64 output transform of 4 tiles of one channel, fused epilogue (as
 * w_otrans_f32; a tile's output row is one vector) */
static void w_otrans_f64(const double *m, int64_t es, const w_tile *tiles, int ntl, int full,
                         double *yk, const double *rk, int64_t Wo, double bias, int relu)
{
    __m256d t[4][6];
    W_OUT_COLS(m, es, t)
    const __m256d vb = _mm256_set1_pd(bias), z = _mm256_setzero_pd();
    __m256d u[4][4];   /* u[i][p]: row i of tile p */
    for (int i = 0; i < 4; i++) {
        __m256d y0, y1, y2, y3;
        W_OUT1D(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5], y0, y1, y2, y3);
        y0 = _mm256_add_pd(y0, vb); y1 = _mm256_add_pd(y1, vb);
        y2 = _mm256_add_pd(y2, vb); y3 = _mm256_add_pd(y3, vb);
        const __m256d a0 = _mm256_unpacklo_pd(y0, y1), a1 = _mm256_unpackhi_pd(y0, y1);
        const __m256d a2 = _mm256_unpacklo_pd(y2, y3), a3 = _mm256_unpackhi_pd(y2, y3);
        u[i][0] = _mm256_permute2f128_pd(a0, a2, 0x20);
        u[i][1] = _mm256_permute2f128_pd(a1, a3, 0x20);
        u[i][2] = _mm256_permute2f128_pd(a0, a2, 0x31);
        u[i][3] = _mm256_permute2f128_pd(a1, a3, 0x31);
    }
    for (int tt = 0; tt < ntl; tt++) {
        double *yp = yk + tiles[tt].yoff;
        const double *rp = rk ? rk + tiles[tt].yoff : NULL;
        const int nr = full ? 4 : tiles[tt].nr, nc = full ? 4 : tiles[tt].nc;
        const __m256i mk = _mm256_cmpgt_epi64(_mm256_set1_epi64x(nc),
                                              _mm256_setr_epi64x(0, 1, 2, 3));
        for (int i = 0; i < nr; i++) {
            __m256d v = u[i][tt];
            if (nc == 4) {
                if (rp) v = _mm256_add_pd(v, _mm256_loadu_pd(rp + i * Wo));
                if (relu) v = _mm256_max_pd(z, v);   /* max(0, NaN) = NaN */
                _mm256_storeu_pd(yp + i * Wo, v);
            } else {
                if (rp) v = _mm256_add_pd(v, _mm256_maskload_pd(rp + i * Wo, mk));
                if (relu) v = _mm256_max_pd(z, v);
                _mm256_maskstore_pd(yp + i * Wo, mk, v);
            }
        }
    }
}

/* F(2x2,5x5) float64 output transform of 4 tiles of one channel (lanes in
 * the order w_lanes2_f64), fused epilogue (as w_otrans2_f32: 8 contiguous
 * outputs a row when the tiles sit side by side) */
static void w_otrans2_f64(const double *m, int64_t es, const w_tile *tiles, int ntl, int full,
                          double *yk, const double *rk, int64_t Wo, double bias, int relu)
{
    __m256d t[2][6];
    W_OUT_COLS2(m, es, t)
    const __m256d vb = _mm256_set1_pd(bias), z = _mm256_setzero_pd();
    __m256d u[2][2];   /* u[i][h]: output row i of tiles 2h, 2h + 1, interleaved */
    for (int i = 0; i < 2; i++) {
        __m256d y0, y1;
        W_OUT1D2(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5], y0, y1);
        y0 = _mm256_add_pd(y0, vb);
        y1 = _mm256_add_pd(y1, vb);
        u[i][0] = _mm256_unpacklo_pd(y0, y1);   /* tiles 0, 1 */
        u[i][1] = _mm256_unpackhi_pd(y0, y1);   /* tiles 2, 3 */
    }
    if (full) {
        double *yp = yk + tiles[0].yoff;
        const double *rp = rk ? rk + tiles[0].yoff : NULL;
        for (int i = 0; i < 2; i++)
            for (int h = 0; h < 2; h++) {
                __m256d v = u[i][h];
                if (rp) v = _mm256_add_pd(v, _mm256_loadu_pd(rp + i * Wo + 4 * h));
                if (relu) v = _mm256_max_pd(z, v);   /* max(0, NaN) = NaN */
                _mm256_storeu_pd(yp + i * Wo + 4 * h, v);
            }
        return;
    }
    double buf[2][8];
    for (int i = 0; i < 2; i++) {
        _mm256_storeu_pd(buf[i], u[i][0]);
        _mm256_storeu_pd(buf[i] + 4, u[i][1]);
    }
    for (int tt = 0; tt < ntl; tt++) {
        double *yp = yk + tiles[tt].yoff;
        const double *rp = rk ? rk + tiles[tt].yoff : NULL;
        for (int i = 0; i < tiles[tt].nr; i++)
            for (int j = 0; j < tiles[tt].nc; j++) {
                double v = buf[i][2 * tt + j];
                if (rp) v += rp[i * Wo + j];
                if (relu) v = 0.0 > v ? 0.0 : v;   /* as max(0, v): NaN, -0 stay */
                yp[i * Wo + j] = v;
            }
    }
}

#include "winograd_template.h"
