/* winograd_avx2.c - Winograd F(4x4,3x3) convolution, float32, AVX2+FMA.
 *
 * For 3x3 / stride 1 / dilation 1 / groups 1 2-D layers (any padding).  The
 * output is cut into 4x4 tiles, each reading a 6x6 input patch:
 *     y_tile = A^T [ sum_c (G g_kc G^T) .* (B^T d_c B) ] A
 * (Toom-Cook points 0, 1, -1, 2, -1/2, inf; see W_IN1D).  Per block of tiles:
 *  1. input transform: channel by channel, the block's input rows are copied
 *     into a small zero-padded band (padding handled there, any pad/size),
 *     then 8 tiles at a time are transposed into vectors over tiles and
 *     transformed: V[e][c][tile] for the 36 transform elements e, stored as
 *     16-tile panels [e][panel][c][16] so the GEMM streams them linearly;
 *  2. 36 GEMMs per chunk of output channels: M[e][k][tile] = sum_c
 *     U[e][k][c] V[e][c][tile], register tile 6 k x 16 tiles (12 ymm
 *     accumulators, U broadcast from the packed weights [e][k/6][c][6]);
 *  3. output transform 8 tiles at a time, fused with bias, residual (may
 *     alias y) and ReLU, written through y_sn / y_sk (channel slices ok).
 * Scratch per thread: V (36*C*32 floats), M (36*66*32), a band, metadata.
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
#ifdef _OPENMP
#include <omp.h>
#endif

#define NE 36          /* transform elements per tile (6x6) */
#define KR 6           /* output channels per register tile / packed block */
#ifndef WINO_NBP
#define WINO_NBP 32    /* tiles per block (multiple of 8) */
#endif
#ifndef WINO_KBC
#define WINO_KBC 11    /* 6-channel blocks per output-channel chunk */
#endif

static inline int64_t w_min(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t w_max(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t w_cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

static int w_shape_ok(const cconv_wshape *ws)
{
    return ws->groups == 1 && ws->ks[0] == 1 && ws->ks[1] == 3 && ws->ks[2] == 3 && ws->K > 0
           && ws->Cg > 0;
}

/* ---- weights: U = G g G^T, packed [e][K/6][C][6] (K zero-padded) ---- */

int64_t cconv_wino3x3_packed_size_f32(const cconv_wshape *ws)
{
    if (!w_shape_ok(ws)) return 0;
    return (int64_t)NE * w_cdiv(ws->K, KR) * KR * ws->Cg * (int64_t)sizeof(float);
}

typedef struct { const cconv_wshape *ws; const float *w; float *u; } wino_pack_ctx;

/* output-channel block kb (KR channels), every input channel: in double, 6
 * output channels at a time (lanes 0-3 and 4-5 of two vectors): T = G g
 * (6x3), then U = T G^T (6x6); G rows 0 and 5 pick a single tap.  Rounded to
 * float once, at the end. */
static void wino_pack_block(void *vctx, int64_t kb)
{
    static const double G[6][3] = {
        {1, 0, 0},
        {-1.0 / 3, -1.0 / 3, -1.0 / 3},
        {1.0 / 3, -1.0 / 3, 1.0 / 3},
        {1.0 / 15, 2.0 / 15, 4.0 / 15},
        {-16.0 / 15, 8.0 / 15, -4.0 / 15},
        {0, 0, 1}};
    const wino_pack_ctx *cx = (const wino_pack_ctx *)vctx;
    const float *w = cx->w;
    float *u = cx->u;
    const int64_t K = cx->ws->K, C = cx->ws->Cg, nkb = w_cdiv(K, KR);
    static const float zero9[9] = {0};
    for (int64_t c = 0; c < C; c++) {
        for (int h = 0; h < 2; h++) {
            /* lane l: channel kb*KR + 4h + l (zeros past KR or K), built in
             * registers (a stack copy read back as vectors stalled on store
             * forwarding: ~10x slower) */
            const float *g[4];
            for (int l = 0; l < 4; l++) {
                const int64_t k = kb * KR + 4 * h + l;
                g[l] = (4 * h + l < KR && k < K) ? w + (k * C + c) * 9 : zero9;
            }
            __m256d gv[9];
            for (int t = 0; t < 9; t++)
                gv[t] = _mm256_cvtps_pd(_mm_setr_ps(g[0][t], g[1][t], g[2][t], g[3][t]));
            /* row by row: row i of T, then row i of U (a whole T in
             * registers next to g spilled on 16-register AVX2) */
            for (int i = 0; i < 6; i++) {
                __m256d T[3];
                for (int s2 = 0; s2 < 3; s2++) {
                    if (i == 0) T[s2] = gv[s2];
                    else if (i == 5) T[s2] = gv[6 + s2];
                    else T[s2] = _mm256_fmadd_pd(_mm256_set1_pd(G[i][2]), gv[6 + s2],
                                 _mm256_fmadd_pd(_mm256_set1_pd(G[i][1]), gv[3 + s2],
                                 _mm256_mul_pd(_mm256_set1_pd(G[i][0]), gv[s2])));
                }
                for (int j = 0; j < 6; j++) {
                    __m256d v;
                    if (j == 0) v = T[0];
                    else if (j == 5) v = T[2];
                    else v = _mm256_fmadd_pd(_mm256_set1_pd(G[j][2]), T[2],
                             _mm256_fmadd_pd(_mm256_set1_pd(G[j][1]), T[1],
                             _mm256_mul_pd(_mm256_set1_pd(G[j][0]), T[0])));
                    const __m128 f = _mm256_cvtpd_ps(v);
                    float *d = u + (((int64_t)(i * 6 + j) * nkb + kb) * C + c) * KR + 4 * h;
                    if (h == 0) _mm_storeu_ps(d, f);
                    else _mm_storel_pi((__m64 *)d, f);
                }
            }
        }
    }
}

void cconv_wino3x3_pack_f32(const cconv_wshape *ws, const float *w, void *dst, int nthreads)
{
    if (!w_shape_ok(ws)) return;
    wino_pack_ctx cx = {ws, w, (float *)dst};
    const int64_t nkb = w_cdiv(ws->K, KR);
    cconv_pack_blocks(nthreads, cconv_wino3x3_packed_size_f32(ws) / (int64_t)sizeof(float), nkb,
                      wino_pack_block, &cx);
}

/* ---- when to use it ---- */

int cconv_wino3x3_applies(const cconv_conv_params *p)
{
    if (!w_shape_ok(&p->w) || p->C != p->w.Cg) return 0;
    if (p->in[0] != 1 || p->out[0] != 1 || p->pad[0] != 0) return 0;
    if (p->stride[0] != 1 || p->stride[1] != 1 || p->stride[2] != 1) return 0;
    if (p->dil[0] != 1 || p->dil[1] != 1 || p->dil[2] != 1) return 0;
    const char *mode = getenv("CCONV_WINOGRAD");
    if (mode && (strcmp(mode, "0") == 0 || strcmp(mode, "off") == 0)) return 0;
    if (mode && strcmp(mode, "force") == 0) return 1;
    /* Measured on Zen 3, one core, against the direct kernel: 1.2-2.8x
     * faster from 16 channels in and out once there are >= 8 tiles (one
     * vector of tiles); with 1-4 tiles (images up to 8x8) it wins little or
     * loses (4x4: 0.65x).  Below 16 input channels the accuracy margin to
     * the (9C + 2) eps bound gets thin, so those stay direct. */
    const int64_t tiles = ((p->out[1] + 3) / 4) * ((p->out[2] + 3) / 4);
    return p->C >= 16 && p->w.K >= 16 && tiles >= 8;
}

/* ---- 1-D transforms on 6 (8-tile) vectors ---- */

/* Points 0, 1, -1, 2, -1/2, inf: about half the rounding error of the
 * usual 0, +-1, +-2 on data where one channel dominates (measured).
 *   B^T = [1  3/2  -2  -3/2  1  0]     A^T = [1  1  1  1     1  0]
 *         [0  -1 -5/2 -1/2  1  0]           [0  1 -1  2  -1/2  0]
 *         [0   1  1/2 -5/2  1  0]           [0  1  1  4   1/4  0]
 *         [0 -1/2 -1   1/2  1  0]           [0  1 -1  8  -1/8  1]
 *         [0   2  -1   -2   1  0]
 *         [0   1  3/2  -2 -3/2 1]   G: see cconv_wino3x3_pack_f32 */
#define W_IN1D(d0, d1, d2, d3, d4, d5, o0, o1, o2, o3, o4, o5)                       \
    do {                                                                                 \
        const __m256 h_ = _mm256_set1_ps(0.5f), f15_ = _mm256_set1_ps(1.5f);             \
        const __m256 f2_ = _mm256_set1_ps(2.0f), f25_ = _mm256_set1_ps(2.5f);            \
        const __m256 s_ = _mm256_sub_ps(d4, d2), q_ = _mm256_sub_ps(d1, d3);             \
        o0 = _mm256_fmadd_ps(f15_, q_, _mm256_fnmadd_ps(f2_, d2, _mm256_add_ps(d0, d4))); \
        o1 = _mm256_fnmadd_ps(h_, d3, _mm256_fnmadd_ps(f25_, d2, _mm256_sub_ps(d4, d1))); \
        o2 = _mm256_fnmadd_ps(f25_, d3, _mm256_fmadd_ps(h_, d2, _mm256_add_ps(d4, d1)));  \
        o3 = _mm256_fnmadd_ps(h_, q_, s_);                                                \
        o4 = _mm256_fmadd_ps(f2_, q_, s_);                                                \
        o5 = _mm256_fnmadd_ps(f15_, s_, _mm256_fnmadd_ps(f2_, d3, _mm256_add_ps(d5, d1))); \
    } while (0)

#define W_OUT1D(m0, m1, m2, m3, m4, m5, o0, o1, o2, o3)                                  \
    do {                                                                                 \
        const __m256 s12_ = _mm256_add_ps(m1, m2), d12_ = _mm256_sub_ps(m1, m2);         \
        o0 = _mm256_add_ps(_mm256_add_ps(m0, s12_), _mm256_add_ps(m3, m4));              \
        o1 = _mm256_fmadd_ps(_mm256_set1_ps(2.0f), m3,                                   \
                             _mm256_fnmadd_ps(_mm256_set1_ps(0.5f), m4, d12_));          \
        o2 = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), m3,                                   \
                             _mm256_fmadd_ps(_mm256_set1_ps(0.25f), m4, s12_));          \
        o3 = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.0f), m3,                     \
                           _mm256_fnmadd_ps(_mm256_set1_ps(0.125f), m4, d12_)), m5);     \
    } while (0)

static inline __m256 w_load2(const float *lo, const float *hi)
{
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(lo)), _mm_loadu_ps(hi), 1);
}

/* Input transform of 8 tiles of one channel: tile t's 6x6 patch starts at
 * src[t] (row stride ld; 8 columns readable).  Element e goes to
 * dst + e*es (8 floats, 32-byte aligned). */
static void w_itrans8(const float *const *src, int64_t ld, float *dst, int64_t es)
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
        const __m256 t0 = _mm256_unpacklo_ps(L0, L1), t1 = _mm256_unpackhi_ps(L0, L1);
        const __m256 t2 = _mm256_unpacklo_ps(L2, L3), t3 = _mm256_unpackhi_ps(L2, L3);
        const __m256 h0 = _mm256_unpacklo_ps(H0, H1), h2 = _mm256_unpacklo_ps(H2, H3);
        const __m256 d0 = _mm256_shuffle_ps(t0, t2, 0x44), d1 = _mm256_shuffle_ps(t0, t2, 0xEE);
        const __m256 d2 = _mm256_shuffle_ps(t1, t3, 0x44), d3 = _mm256_shuffle_ps(t1, t3, 0xEE);
        const __m256 d4 = _mm256_shuffle_ps(h0, h2, 0x44), d5 = _mm256_shuffle_ps(h0, h2, 0xEE);
        W_IN1D(d0, d1, d2, d3, d4, d5, w[r][0], w[r][1], w[r][2], w[r][3], w[r][4], w[r][5]);
    }
    for (int j = 0; j < 6; j++) {
        __m256 v0, v1, v2, v3, v4, v5;
        W_IN1D(w[0][j], w[1][j], w[2][j], w[3][j], w[4][j], w[5][j], v0, v1, v2, v3, v4, v5);
        _mm256_store_ps(dst + (0 * 6 + j) * es, v0);
        _mm256_store_ps(dst + (1 * 6 + j) * es, v1);
        _mm256_store_ps(dst + (2 * 6 + j) * es, v2);
        _mm256_store_ps(dst + (3 * 6 + j) * es, v3);
        _mm256_store_ps(dst + (4 * 6 + j) * es, v4);
        _mm256_store_ps(dst + (5 * 6 + j) * es, v5);
    }
}

/* ---- GEMM microkernel: 6 k x NT (16 or 8) tiles over C channels ----
 * u: [c][6] packed weights; v: [c][16] transformed input panel;
 * m: row i at m + i*ms. */
#if defined(__GNUC__) || defined(__clang__)
#define W_AINLINE static inline __attribute__((always_inline))
#else
#define W_AINLINE static __forceinline
#endif

W_AINLINE void w_mk(const int NT, const float *u, const float *v, int64_t C, float *m, int64_t ms)
{
    __m256 c0a = _mm256_setzero_ps(), c0b = c0a, c1a = c0a, c1b = c0a, c2a = c0a, c2b = c0a;
    __m256 c3a = c0a, c3b = c0a, c4a = c0a, c4b = c0a, c5a = c0a, c5b = c0a;
    for (int64_t c = 0; c < C; c++) {
        const __m256 x0 = _mm256_load_ps(v);
        const __m256 x1 = NT > 8 ? _mm256_load_ps(v + 8) : x0;
        __m256 a;
        a = _mm256_broadcast_ss(u + 0); c0a = _mm256_fmadd_ps(a, x0, c0a); if (NT > 8) c0b = _mm256_fmadd_ps(a, x1, c0b);
        a = _mm256_broadcast_ss(u + 1); c1a = _mm256_fmadd_ps(a, x0, c1a); if (NT > 8) c1b = _mm256_fmadd_ps(a, x1, c1b);
        a = _mm256_broadcast_ss(u + 2); c2a = _mm256_fmadd_ps(a, x0, c2a); if (NT > 8) c2b = _mm256_fmadd_ps(a, x1, c2b);
        a = _mm256_broadcast_ss(u + 3); c3a = _mm256_fmadd_ps(a, x0, c3a); if (NT > 8) c3b = _mm256_fmadd_ps(a, x1, c3b);
        a = _mm256_broadcast_ss(u + 4); c4a = _mm256_fmadd_ps(a, x0, c4a); if (NT > 8) c4b = _mm256_fmadd_ps(a, x1, c4b);
        a = _mm256_broadcast_ss(u + 5); c5a = _mm256_fmadd_ps(a, x0, c5a); if (NT > 8) c5b = _mm256_fmadd_ps(a, x1, c5b);
        u += KR;
        v += 16;
    }
    _mm256_store_ps(m + 0 * ms, c0a);
    _mm256_store_ps(m + 1 * ms, c1a);
    _mm256_store_ps(m + 2 * ms, c2a);
    _mm256_store_ps(m + 3 * ms, c3a);
    _mm256_store_ps(m + 4 * ms, c4a);
    _mm256_store_ps(m + 5 * ms, c5a);
    if (NT > 8) {
        _mm256_store_ps(m + 0 * ms + 8, c0b);
        _mm256_store_ps(m + 1 * ms + 8, c1b);
        _mm256_store_ps(m + 2 * ms + 8, c2b);
        _mm256_store_ps(m + 3 * ms + 8, c3b);
        _mm256_store_ps(m + 4 * ms + 8, c4b);
        _mm256_store_ps(m + 5 * ms + 8, c5b);
    }
}

static void w_mk16(const float *u, const float *v, int64_t C, float *m, int64_t ms)
{
    w_mk(16, u, v, C, m, ms);
}
static void w_mk8(const float *u, const float *v, int64_t C, float *m, int64_t ms)
{
    w_mk(8, u, v, C, m, ms);
}

/* ---- output transform of 8 tiles of one channel, fused epilogue ---- */
typedef struct {
    int64_t yoff;      /* offset of the tile's top-left output in a channel plane */
    int nr, nc;        /* valid rows / columns (1..4) */
} w_tile;

static inline __m128i w_mask4(int n)
{
    return _mm_cmpgt_epi32(_mm_set1_epi32(n), _mm_setr_epi32(0, 1, 2, 3));
}

/* m: element e at m + e*es; tiles: the 8 (ntl valid) tiles; full: all 8
 * valid and whole; yk/rk: channel planes of y and the residual (or NULL). */
static void w_otrans8(const float *m, int64_t es, const w_tile *tiles, int ntl, int full,
                      float *yk, const float *rk, int64_t Wo, float bias, int relu)
{
    __m256 t[4][6];
    for (int j = 0; j < 6; j++) {
        const __m256 m0 = _mm256_load_ps(m + (0 * 6 + j) * es), m1 = _mm256_load_ps(m + (1 * 6 + j) * es);
        const __m256 m2 = _mm256_load_ps(m + (2 * 6 + j) * es), m3 = _mm256_load_ps(m + (3 * 6 + j) * es);
        const __m256 m4 = _mm256_load_ps(m + (4 * 6 + j) * es), m5 = _mm256_load_ps(m + (5 * 6 + j) * es);
        W_OUT1D(m0, m1, m2, m3, m4, m5, t[0][j], t[1][j], t[2][j], t[3][j]);
    }
    const __m256 vb = _mm256_set1_ps(bias);
    __m256 u[4][4];   /* u[i][p]: row i of tile p (low half) and tile p+4 (high half) */
    for (int i = 0; i < 4; i++) {
        __m256 y0, y1, y2, y3;
        W_OUT1D(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5], y0, y1, y2, y3);
        y0 = _mm256_add_ps(y0, vb); y1 = _mm256_add_ps(y1, vb);
        y2 = _mm256_add_ps(y2, vb); y3 = _mm256_add_ps(y3, vb);
        const __m256 a0 = _mm256_unpacklo_ps(y0, y1), a1 = _mm256_unpackhi_ps(y0, y1);
        const __m256 a2 = _mm256_unpacklo_ps(y2, y3), a3 = _mm256_unpackhi_ps(y2, y3);
        u[i][0] = _mm256_shuffle_ps(a0, a2, 0x44);
        u[i][1] = _mm256_shuffle_ps(a0, a2, 0xEE);
        u[i][2] = _mm256_shuffle_ps(a1, a3, 0x44);
        u[i][3] = _mm256_shuffle_ps(a1, a3, 0xEE);
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

/* ---- the convolution ---- */

/* Task t = (n, tile block, channel chunk) weighs (8-tile groups) x (6-channel
 * blocks); it belongs to the thread whose even share holds its midpoint.
 * Returns the total weight (maxshare NULL) or the largest thread's share. */
static int64_t w_task_weight(int64_t T, int64_t nkb, int64_t nbp, int64_t kbc, int64_t nkc,
                             int64_t nblk, int64_t task)
{
    const int64_t kc = task % nkc, blk = (task / nkc) % nblk;
    return w_cdiv(w_min(nbp, T - blk * nbp), 8) * w_min(kbc, nkb - kc * kbc);
}

static int64_t w_split(int64_t N, int64_t T, int64_t nkb, int64_t nbp, int64_t kbc, int64_t nt,
                       int64_t *maxshare)
{
    const int64_t nblk = w_cdiv(T, nbp), nkc = w_cdiv(nkb, kbc), tasks = N * nblk * nkc;
    int64_t tot = 0;
    for (int64_t t = 0; t < tasks; t++) tot += w_task_weight(T, nkb, nbp, kbc, nkc, nblk, t);
    if (!maxshare) return tot;
    *maxshare = 0;
    int64_t pre = 0, cur = 0, owner = 0, best = 0;
    for (int64_t t = 0; t < tasks; t++) {
        const int64_t wt = w_task_weight(T, nkb, nbp, kbc, nkc, nblk, t);
        const int64_t o = w_min(nt - 1, (2 * pre + wt) * nt / (2 * tot));
        if (o != owner) { best = w_max(best, cur); cur = 0; owner = o; }
        cur += wt;
        pre += wt;
    }
    *maxshare = w_max(best, cur);
    return *maxshare;
}


int cconv_wino3x3_conv_f32(const cconv_conv_params *p, const float *x, const void *packed,
                           const float *bias, const float *res, float *y, int nthreads)
{
    const int64_t N = p->N, C = p->C, K = p->w.K;
    const int64_t H = p->in[1], W = p->in[2], Ho = p->out[1], Wo = p->out[2];
    const int64_t ph = p->pad[1], pw = p->pad[2];
    if (N <= 0 || K <= 0 || Ho <= 0 || Wo <= 0) return CCONV_OK;
    const int relu = p->activation == CCONV_ACT_RELU;
    const float *U = (const float *)packed;
    const int64_t th = w_cdiv(Ho, 4), tw = w_cdiv(Wo, 4), T = th * tw;
    const int64_t nkb = w_cdiv(K, KR);

    int64_t nbp = WINO_NBP, kbc = WINO_KBC;
    if (nbp > T) nbp = w_cdiv(T, 8) * 8;
    if (kbc > nkb) kbc = nkb;
    int64_t nblk = w_cdiv(T, nbp), nkc = w_cdiv(nkb, kbc);
    const double work = (double)N * T * NE * C * K;
    const int nt = cconv_threads_for(nthreads, work, N * w_cdiv(T, 8) * nkb);
    /* finer tasks until the static split is within 8% of even (the
     * results do not depend on the blocking) */
    while (nt > 1) {
        int64_t share = 0;
        const int64_t ideal = w_cdiv(w_split(N, T, nkb, nbp, kbc, nt, NULL), nt);
        if (w_split(N, T, nkb, nbp, kbc, nt, &share) * 100 <= ideal * 108) break;
        if (nbp > 16) nbp = w_max(16, (nbp / 2 + 7) / 8 * 8);
        else if (kbc > 2) kbc = w_cdiv(kbc, 2);
        else break;
    }
    nblk = w_cdiv(T, nbp);
    nkc = w_cdiv(nkb, kbc);
    const int64_t nbp16 = w_cdiv(nbp, 16) * 16, npan = nbp16 / 16;
    const int64_t KL = kbc * KR;                       /* M rows per chunk */
    const int64_t Wb = 4 * w_min(nbp, tw) + 4;        /* band row length */
    const int64_t nseg_max = w_min(nbp, w_cdiv(nbp, tw) + 1);
    const int64_t tasks = N * nblk * nkc;
    const int64_t wtot = w_split(N, T, nkb, nbp, kbc, nt, NULL);
    int failed = 0;

#ifdef _OPENMP
#pragma omp parallel num_threads(nt) reduction(| : failed)
#endif
    {
#ifdef _OPENMP
        const int64_t tid = omp_get_thread_num(), tn = omp_get_num_threads();
#else
        const int64_t tid = 0, tn = 1;
#endif
        cconv_fpstate fps = cconv_fpenv_enter();
        float *V = (float *)cconv_scratch_alloc(sizeof(float) * (size_t)(NE * w_max(C, 1) * nbp16));
        float *M = (float *)cconv_scratch_alloc(sizeof(float) * (size_t)(NE * KL * nbp16));
        float *band = (float *)cconv_scratch_alloc(sizeof(float) * (size_t)(nseg_max * 6 * Wb + 8));
        w_tile *tiles = (w_tile *)cconv_scratch_alloc(sizeof(w_tile) * (size_t)nbp16);
        const float **src = (const float **)cconv_scratch_alloc(sizeof(float *) * (size_t)nbp16);
        int64_t *seg = (int64_t *)cconv_scratch_alloc(sizeof(int64_t) * 3 * (size_t)nseg_max);
        if (!V || !M || !band || !tiles || !src || !seg) {
            failed = 1;
        } else {
            int64_t cached = -1, pre = 0;
            for (int64_t task = 0; task < tasks; task++) {
                const int64_t kc = task % nkc, blk = (task / nkc) % nblk, n = task / (nkc * nblk);
                const int64_t j0 = blk * nbp, nb = w_min(nbp, T - j0), nb8 = w_cdiv(nb, 8) * 8;
                const int64_t kb0 = kc * kbc, nkl = w_min(kbc, nkb - kb0);
                const int64_t wt = w_task_weight(T, nkb, nbp, kbc, nkc, nblk, task);
                /* owner: the thread whose share holds this task's midpoint */
                const int64_t owner = w_min(tn - 1, (2 * pre + wt) * tn / (2 * wtot));
                pre += wt;
                if (owner != tid) continue;
                const int64_t key = n * nblk + blk;
                if (key != cached) {
                    /* segments (runs of tiles in one tile row) and tile metadata */
                    int64_t ns = 0;
                    for (int64_t j = j0; j < j0 + nb;) {
                        const int64_t ty = j / tw, txa = j % tw, len = w_min(tw - txa, j0 + nb - j);
                        const float *bs = band + ns * 6 * Wb;
                        seg[3 * ns] = ty; seg[3 * ns + 1] = txa; seg[3 * ns + 2] = len;
                        for (int64_t q = 0; q < len; q++) {
                            const int64_t jj = j + q - j0, tx = txa + q;
                            src[jj] = bs + 4 * q;
                            tiles[jj].yoff = ty * 4 * Wo + tx * 4;
                            tiles[jj].nr = (int)w_min(4, Ho - ty * 4);
                            tiles[jj].nc = (int)w_min(4, Wo - tx * 4);
                        }
                        ns++;
                        j += len;
                    }
                    for (int64_t jj = nb; jj < nb8; jj++) {   /* lanes past the end: harmless */
                        src[jj] = src[0];
                        tiles[jj] = tiles[0];
                    }
                    const float *xn = x + n * p->x_sn;
                    for (int64_t c = 0; c < C; c++) {
                        const float *xc = xn + c * p->x_sc;
                        for (int64_t s = 0; s < ns; s++) {
                            const int64_t ty = seg[3 * s], txa = seg[3 * s + 1], len = seg[3 * s + 2];
                            const int64_t wseg = 4 * len + 4, col0 = 4 * txa - pw;
                            const int64_t jlo = w_min(wseg, w_max(0, -col0));
                            const int64_t jhi = w_max(jlo, w_min(wseg, W - col0));
                            float *bs = band + s * 6 * Wb;
                            for (int64_t r = 0; r < 6; r++) {
                                float *dr = bs + r * Wb;
                                const int64_t ih = ty * 4 - ph + r;
                                if (ih < 0 || ih >= H) {
                                    memset(dr, 0, sizeof(float) * (size_t)wseg);
                                    continue;
                                }
                                const float *sr = xc + ih * W + col0;
                                if (jlo > 0) memset(dr, 0, sizeof(float) * (size_t)jlo);
                                memcpy(dr + jlo, sr + jlo, sizeof(float) * (size_t)(jhi - jlo));
                                if (jhi < wseg) memset(dr + jhi, 0, sizeof(float) * (size_t)(wseg - jhi));
                            }
                        }
                        for (int64_t g = 0; g < nb8; g += 8)
                            w_itrans8(src + g, Wb, V + ((g >> 4) * C + c) * 16 + (g & 8),
                                      npan * C * 16);
                    }
                    cached = key;
                }
                /* 36 GEMMs for this chunk of output channels */
                for (int64_t e = 0; e < NE; e++) {
                    const float *Ve = V + e * npan * C * 16;
                    for (int64_t kb = 0; kb < nkl; kb++) {
                        const float *u = U + ((e * nkb + kb0 + kb) * C) * KR;
                        float *m = M + (e * KL + kb * KR) * nbp16;
                        int64_t tv = 0;
                        for (; tv + 16 <= nb8; tv += 16) w_mk16(u, Ve + tv * C, C, m + tv, nbp16);
                        if (tv < nb8) w_mk8(u, Ve + tv * C, C, m + tv, nbp16);
                    }
                }
                /* output transform + epilogue */
                const int64_t k0 = kb0 * KR, kn = w_min(nkl * KR, K - k0);
                for (int64_t kl = 0; kl < kn; kl++) {
                    const int64_t k = k0 + kl;
                    float *yk = y + n * p->y_sn + k * p->y_sk;
                    const float *rk = res ? res + n * p->r_sn + k * p->r_sk : NULL;
                    const float bk = bias ? bias[k] : 0.0f;
                    for (int64_t g = 0; g < nb8; g += 8) {
                        const int ntl = (int)w_min(8, nb - g);
                        int full = ntl == 8;
                        for (int q = 0; q < ntl && full; q++)
                            full = tiles[g + q].nr == 4 && tiles[g + q].nc == 4;
                        w_otrans8(M + kl * nbp16 + g, KL * nbp16, tiles + g, ntl, full, yk, rk, Wo,
                                  bk, relu);
                    }
                }
            }
        }
        cconv_scratch_free(seg);
        cconv_scratch_free((void *)src);
        cconv_scratch_free(tiles);
        cconv_scratch_free(band);
        cconv_scratch_free(M);
        cconv_scratch_free(V);
        cconv_fpenv_leave(fps);
    }
    return failed ? CCONV_ENOMEM : CCONV_OK;
}
