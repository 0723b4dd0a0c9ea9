/* conv_generic.h - the portable direct-convolution kernel, written once as a
 * template and instantiated per dtype (and per ISA: conv_portable.c builds it
 * for the baseline, other translation units may build it with wider vector
 * flags).  No im2col.  A task is one tile of an output row (up to CG_WT
 * pixels) for a range of KB-channel blocks.  The pixels whose taps all read
 * inside the image run in chunks of CG_CW pixels x CG_KH channels whose
 * sums stay in registers over the whole reduction; every channel block of
 * the task passes over a chunk's input while it is hot, first copied into
 * contiguous memory where several blocks read it; the few edge pixels
 * (padding) run one at a time over their valid taps, vectorised across the
 * KB channels.  Each sum ends in the epilogue (bias, residual, ReLU) and is
 * stored once.  Both paths add a pixel's terms in the same order (channel,
 * then tap t, r, s), so a pixel's value does not depend on which computed
 * it.  Plain C shaped for the compiler: GCC and Clang get 16-byte vectors
 * through their vector extensions (SSE2 on x86-64, NEON on aarch64), other
 * compilers (or -DCG_SCALAR, which tests that branch) the same arithmetic
 * on scalars.
 *
 * Before including, define:
 *   CG_T       element type (float or double)
 *   CG_NAME(x) name mangler, e.g. x##_portable_f32
 *   CG_TABLE   name of the cconv_conv_kernels table to define
 *   CG_ISA     ISA name string
 */
#include <stdlib.h>
#include <string.h>
#include "cconv.h"
#include "fpenv.h"
#include "scratch.h"

#define CG_KB 8      /* output channels per block (packed lane count) */
#define CG_WT 256    /* output pixels per tile */
#define CG_CW (32 / (int)sizeof(CG_T))  /* pixels per register chunk: 8 float / 4 double */
#define CG_KH 4      /* output channels per register chunk */
#define CG_PG (sizeof(CG_T) == 4 ? 4 : 1)  /* interior pixels per group past the chunks */
#define CG_COPY_MAX (2 << 20)  /* bytes: larger chunk inputs are read in place */
#if defined(__GNUC__) && !defined(CG_SCALAR)
#define CG_VL (16 / (int)sizeof(CG_T))  /* lanes of a 16-byte vector */
typedef CG_T CG_NAME(vec) __attribute__((vector_size(16)));
typedef CG_T CG_NAME(uvec) __attribute__((vector_size(16), aligned(sizeof(CG_T)), may_alias));
#endif

static int64_t CG_NAME(nkb)(const cconv_wshape *ws)
{
    int64_t Kg = ws->K / ws->groups;
    return (Kg + CG_KB - 1) / CG_KB;
}

static int64_t CG_NAME(taps)(const cconv_wshape *ws)
{
    return ws->ks[0] * ws->ks[1] * ws->ks[2];
}

static int64_t CG_NAME(packed_size)(const cconv_wshape *ws)
{
    return ws->groups * CG_NAME(nkb)(ws) * ws->Cg * CG_NAME(taps)(ws) * CG_KB
           * (int64_t)sizeof(CG_T);
}

/* Layout: [group][k-block][c][t][r][s][KB lanes], zero-padded lanes. */
typedef struct { const cconv_wshape *ws; const CG_T *w; CG_T *dst; } CG_NAME(pack_ctx);

/* block gk = (group, k-block) of the packed weights */
static void CG_NAME(pack_block)(void *vctx, int64_t gk)
{
    const CG_NAME(pack_ctx) *cx = (const CG_NAME(pack_ctx) *)vctx;
    const cconv_wshape *ws = cx->ws;
    const int64_t Kg = ws->K / ws->groups, nkb = CG_NAME(nkb)(ws);
    const int64_t taps = CG_NAME(taps)(ws), Cg = ws->Cg;
    const int64_t g = gk / nkb, kb = gk % nkb;
    CG_T *p = cx->dst + gk * Cg * taps * CG_KB;
    for (int64_t c = 0; c < Cg; c++)
        for (int64_t t = 0; t < taps; t++) {
            for (int64_t l = 0; l < CG_KB; l++) {
                int64_t k = kb * CG_KB + l;
                p[l] = k < Kg ? cx->w[((g * Kg + k) * Cg + c) * taps + t] : (CG_T)0;
            }
            p += CG_KB;
        }
}

static void CG_NAME(pack)(const cconv_wshape *ws, const void *wv, void *dst, int nthreads)
{
    CG_NAME(pack_ctx) cx = {ws, (const CG_T *)wv, (CG_T *)dst};
    const int64_t nblk = ws->groups * CG_NAME(nkb)(ws);
    cconv_pack_blocks(nthreads, nblk * ws->Cg * CG_NAME(taps)(ws) * CG_KB, nblk,
                      CG_NAME(pack_block), &cx);
}

/* first ow in [0, Wo) with 0 <= ow*s + off, and one past the last with ow*s + off < W */
static inline void CG_NAME(valid)(int64_t off, int64_t s, int64_t W, int64_t Wo,
                                  int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = (W - 1 - off) >= 0 ? (W - 1 - off) / s + 1 : 0;
    *lo = a;
    *hi = b < Wo ? b : Wo;
}

/* The epilogue of one output value: s + bias (0 without one), + residual,
 * ReLU.  (s + 0 also turns a -0 sum into +0, as every path does.) */
static inline CG_T CG_NAME(epi)(CG_T s, CG_T b, const CG_T *rr, int relu)
{
    CG_T v = s + b;
    if (rr) v += *rr;
    if (relu) v = v < (CG_T)0 ? (CG_T)0 : v;
    return v;
}

/* Where a task's outputs go: y, the residual and the bias at channel k,
 * pixel sp of image n (the caller's offsets), and the activation. */
typedef struct {
    CG_T *y;
    const CG_T *r, *bias;
    int64_t ysk, rsk;
    int relu;
} CG_NAME(out_t);

/* Channels l < nl, pixels v < np of o get the epilogue of the sum at
 * s[l*sl + v*sv]. */
static inline void CG_NAME(store)(const CG_NAME(out_t) *o, int64_t nl, int np, const CG_T *s,
                                  int64_t sl, int64_t sv)
{
    for (int64_t l = 0; l < nl; l++) {
        const CG_T b = o->bias ? o->bias[l] : (CG_T)0;
        const CG_T *rr = o->r ? o->r + l * o->rsk : NULL;
        CG_T *yy = o->y + l * o->ysk;
        for (int v = 0; v < np; v++)
            yy[v] = CG_NAME(epi)(s[l * sl + v * sv], b, rr ? rr + v : NULL, o->relu);
    }
}

/* One chunk of CG_CW pixels x kh <= CG_KH channels, all taps inside the
 * image: the sum over channels c and taps i of w[c][tap i][l] *
 * x[c][tap i][v*sw], through the epilogue into channel l, pixel v of o.
 * xc: channel 0's input at the chunk's first pixel (tap offsets tapx[i]);
 * wc: channel 0's weights of the chunk's first lane (tap i at tapw[i]).
 * SW1 (a constant where inlined): unit stride, the inputs contiguous. */
static inline void CG_NAME(chunk)(const int SW1, const CG_NAME(out_t) *o, int64_t kh,
                                  const CG_T *xc, int64_t xcs, int64_t sw, const CG_T *wc,
                                  int64_t wcs, int64_t Cg, const int64_t *tapx,
                                  const int64_t *tapw, int64_t ntap)
{
    CG_T s[CG_KH][CG_CW];
#if defined(__GNUC__) && !defined(CG_SCALAR)
    enum { NV = CG_CW / CG_VL };
    CG_NAME(vec) r[CG_KH][NV];
    for (int l = 0; l < CG_KH; l++)
        for (int j = 0; j < NV; j++) r[l][j] = (CG_NAME(vec)){0};
    for (int64_t c = 0; c < Cg; c++, xc += xcs, wc += wcs) {
        for (int64_t i = 0; i < ntap; i++) {
            const CG_T *xs = xc + tapx[i], *wv = wc + tapw[i];
            CG_NAME(vec) xv[NV];
            for (int j = 0; j < NV; j++) {
                if (SW1) {
                    xv[j] = *(const CG_NAME(uvec) *)(xs + j * CG_VL);
                } else {
                    CG_T g[CG_VL];
                    for (int v = 0; v < CG_VL; v++) g[v] = xs[(j * CG_VL + v) * sw];
                    memcpy(&xv[j], g, sizeof g);
                }
            }
            for (int l = 0; l < CG_KH; l++) {
                const CG_T w = wv[l];
                for (int j = 0; j < NV; j++) r[l][j] += w * xv[j];
            }
        }
    }
    for (int l = 0; l < CG_KH; l++)
        for (int j = 0; j < NV; j++) memcpy(&s[l][j * CG_VL], &r[l][j], sizeof r[l][j]);
#else
    for (int l = 0; l < CG_KH; l++)
        for (int v = 0; v < CG_CW; v++) s[l][v] = (CG_T)0;
    for (int64_t c = 0; c < Cg; c++, xc += xcs, wc += wcs) {
        for (int64_t i = 0; i < ntap; i++) {
            const CG_T *xs = xc + tapx[i], *wv = wc + tapw[i];
            CG_T xv[CG_CW];
            for (int v = 0; v < CG_CW; v++) xv[v] = SW1 ? xs[v] : xs[v * sw];
            for (int l = 0; l < CG_KH; l++)
                for (int v = 0; v < CG_CW; v++) s[l][v] += wv[l] * xv[v];
        }
    }
#endif
    CG_NAME(store)(o, kh, CG_CW, &s[0][0], CG_CW, 1);
}

/* NP <= 4 pixels (a constant where inlined), ps apart in the input,
 * x kc <= CG_KB channels (a packed block), over the same taps: input
 * offsets tapx[i] from channel 0 at the first pixel, weight offsets tapw[i]
 * (lanes).  Vectorised across the block's channels; the outputs go to
 * pixels 0..NP-1 of o. */
static inline void CG_NAME(pixels)(const int NP, const CG_NAME(out_t) *o, int64_t kc,
                                   const CG_T *xc, int64_t xcs, int64_t ps, const CG_T *wc,
                                   int64_t wcs, int64_t Cg, const int64_t *tapx,
                                   const int64_t *tapw, int64_t ntap)
{
    CG_T s[4][CG_KB];
#if defined(__GNUC__) && !defined(CG_SCALAR)
    enum { NV = CG_KB / CG_VL };
    CG_NAME(vec) r[4][NV];
    for (int v = 0; v < NP; v++)
        for (int j = 0; j < NV; j++) r[v][j] = (CG_NAME(vec)){0};
    for (int64_t c = 0; c < Cg; c++, xc += xcs, wc += wcs)
        for (int64_t i = 0; i < ntap; i++) {
            const CG_T *xs = xc + tapx[i];
            const CG_T *wv = wc + tapw[i];
            CG_NAME(vec) wj[NV];
            for (int j = 0; j < NV; j++) wj[j] = *(const CG_NAME(uvec) *)(wv + j * CG_VL);
            for (int v = 0; v < NP; v++) {
                const CG_T xv = xs[v * ps];
                for (int j = 0; j < NV; j++) r[v][j] += xv * wj[j];
            }
        }
    for (int v = 0; v < NP; v++)
        for (int j = 0; j < NV; j++) memcpy(&s[v][j * CG_VL], &r[v][j], sizeof r[v][j]);
#else
    for (int v = 0; v < NP; v++)
        for (int l = 0; l < CG_KB; l++) s[v][l] = (CG_T)0;
    for (int64_t c = 0; c < Cg; c++, xc += xcs, wc += wcs)
        for (int64_t i = 0; i < ntap; i++) {
            const CG_T *xs = xc + tapx[i];
            const CG_T *wv = wc + tapw[i];
            for (int v = 0; v < NP; v++)
                for (int l = 0; l < CG_KB; l++) s[v][l] += xs[v * ps] * wv[l];
        }
#endif
    CG_NAME(store)(o, kc, NP, &s[0][0], 1, CG_KB);
}

/* CG_NAME(pixels) for a run-time count np in 1..CG_PG (<= 4) */
static void CG_NAME(pixels_n)(int64_t np, const CG_NAME(out_t) *o, int64_t kc, const CG_T *xc,
                              int64_t xcs, int64_t ps, const CG_T *wc, int64_t wcs, int64_t Cg,
                              const int64_t *tapx, const int64_t *tapw, int64_t ntap)
{
    switch (np) {
    case 1: CG_NAME(pixels)(1, o, kc, xc, xcs, ps, wc, wcs, Cg, tapx, tapw, ntap); break;
    case 3: CG_NAME(pixels)(3, o, kc, xc, xcs, ps, wc, wcs, Cg, tapx, tapw, ntap); break;
    case 4: CG_NAME(pixels)(4, o, kc, xc, xcs, ps, wc, wcs, Cg, tapx, tapw, ntap); break;
    default: CG_NAME(pixels)(2, o, kc, xc, xcs, ps, wc, wcs, Cg, tapx, tapw, ntap); break;
    }
}

static int CG_NAME(conv)(const cconv_conv_params *pp, const void *xv, const void *packed,
                         const void *biasv, const void *resv, void *yv, int nthreads)
{
    cconv_conv_params p = *pp;
    const CG_T *x = (const CG_T *)xv, *wp = (const CG_T *)packed;
    const CG_T *bias = (const CG_T *)biasv, *res = (const CG_T *)resv;
    CG_T *y = (CG_T *)yv;
    const cconv_wshape *ws = &p.w;
    const int64_t groups = ws->groups, Cg = ws->Cg, Kg = ws->K / groups;
    const int64_t T = ws->ks[0], R = ws->ks[1], S = ws->ks[2], taps = T * R * S;
    const int64_t nkb = CG_NAME(nkb)(ws);

    /* A pointwise, unit-stride, unpadded convolution is one long row. */
    if (taps == 1 && p.stride[0] == 1 && p.stride[1] == 1 && p.stride[2] == 1
        && p.pad[0] == 0 && p.pad[1] == 0 && p.pad[2] == 0) {
        int64_t n = p.in[0] * p.in[1] * p.in[2];
        p.in[0] = p.in[1] = 1; p.in[2] = n;
        p.out[0] = p.out[1] = 1; p.out[2] = n;
    }
    const int64_t D = p.in[0], H = p.in[1], W = p.in[2];
    const int64_t Do = p.out[0], Ho = p.out[1], Wo = p.out[2];
    const int64_t sw = p.stride[2], dw = p.dil[2], pw = p.pad[2];
    const int64_t ntile = (Wo + CG_WT - 1) / CG_WT;
    const int64_t rows = p.N * groups * Do * Ho * ntile;
    if (rows <= 0 || nkb <= 0) return CCONV_OK;
    const double work = (double)p.N * ws->K * Cg * taps * Do * Ho * Wo;
    /* the oc blocks split across tasks only where row tiles are too few to
     * keep the threads busy (each split re-reads the tile's input) */
    int64_t nkg = 1;
    {
        const int nt0 = cconv_threads_for(nthreads, work, rows * nkb);
        if (rows < 4 * (int64_t)nt0) nkg = (4 * (int64_t)nt0 + rows - 1) / rows;
        if (nkg > nkb) nkg = nkb;
    }
    const int64_t tasks = rows * nkg;
    const int nt = cconv_threads_for(nthreads, work, tasks);
    int failed = 0;

#ifdef _OPENMP
#pragma omp parallel num_threads(nt) reduction(|: failed)
#endif
    {
        cconv_fpstate fps = cconv_fpenv_enter();
        /* a row's taps inside the image: input offset, weight offset; one
         * edge pixel's valid taps, the same; a copied chunk's tap offsets */
        int64_t *tapx = (int64_t *)cconv_scratch_alloc(sizeof(int64_t) * (size_t)(5 * taps));
        /* a chunk's input, copied contiguous [c][tap][CG_CW]: read in place,
         * hundreds of rows one image plane apart share a few L1 sets, and
         * every channel block's pass over them missed */
        const size_t cbytes = sizeof(CG_T) * (size_t)(Cg * taps * CG_CW + 1);
        CG_T *cbuf = cbytes <= CG_COPY_MAX ? (CG_T *)cconv_scratch_alloc(cbytes) : NULL;
        if (!tapx || (cbytes <= CG_COPY_MAX && !cbuf)) {
            failed = 1;
        } else {
            int64_t *tapw = tapx + taps, *ptx = tapx + 2 * taps, *ptw = tapx + 3 * taps;
            int64_t *tapc = tapx + 4 * taps;  /* a copied chunk's tap offsets */
            for (int64_t i = 0; i < taps; i++) tapc[i] = i * CG_CW;
            int64_t t0, t1;
            cconv_thread_range(tasks, &t0, &t1);
            for (int64_t task = t0; task < t1; task++) {
                int64_t q = task;
                const int64_t kg = q % nkg; q /= nkg;
                const int64_t tile = q % ntile; q /= ntile;
                const int64_t oh = q % Ho; q /= Ho;
                const int64_t od = q % Do; q /= Do;
                const int64_t g = q % groups; q /= groups;
                const int64_t n = q;
                const int64_t kb0 = nkb * kg / nkg, kb1 = nkb * (kg + 1) / nkg;
                const int64_t ow0 = tile * CG_WT;
                const int64_t ow1 = ow0 + ((Wo - ow0) < CG_WT ? (Wo - ow0) : CG_WT);
                const CG_T *xg = x + n * p.x_sn + g * Cg * p.x_sc;
                const CG_T *wg = wp + g * nkb * Cg * taps * CG_KB;
                const int64_t sp = (od * Ho + oh) * Wo;
                /* the row's taps: (t, r) inside the image, every s */
                int64_t ntap = 0;
                for (int64_t t = 0; t < T; t++) {
                    const int64_t id = od * p.stride[0] + t * p.dil[0] - p.pad[0];
                    if (id < 0 || id >= D) continue;
                    for (int64_t r = 0; r < R; r++) {
                        const int64_t ih = oh * p.stride[1] + r * p.dil[1] - p.pad[1];
                        if (ih < 0 || ih >= H) continue;
                        for (int64_t s = 0; s < S; s++) {
                            tapx[ntap] = (id * H + ih) * W + s * dw - pw;
                            tapw[ntap] = ((t * R + r) * S + s) * CG_KB;
                            ntap++;
                        }
                    }
                }
                /* the interior [ilo, ihi): pixels every column tap reads
                 * inside the row, in whole chunks */
                int64_t ilo = ow0, ihi = ow1;
                for (int64_t s = 0; s < S; s++) {
                    int64_t lo, hi;
                    CG_NAME(valid)(s * dw - pw, sw, W, Wo, &lo, &hi);
                    if (lo > ilo) ilo = lo;
                    if (hi < ihi) ihi = hi;
                }
                if (ihi <= ilo || ntap == 0) ilo = ihi = ow0;  /* all edge pixels */
                const int64_t ich = ilo + (ihi - ilo) / CG_CW * CG_CW;  /* end of the chunks */
                CG_NAME(out_t) o;
                o.ysk = p.y_sk; o.rsk = p.r_sk; o.relu = p.activation == CCONV_ACT_RELU;
                /* the interior in chunks (each output written once: the
                 * residual may be the output itself).  A chunk's input is
                 * copied when more than one block reads it, if pointwise
                 * (paired A/B: 96 -> 16 at 55x55 x1.11, 256 -> 64 at 56x56
                 * x1.26; one block x0.96) or strided (3x3/s2 128 -> 128
                 * x1.29-1.40, 7x7/s2 3 -> 64 x1.20-1.24), else from 8 blocks
                 * (3x3 64 -> 64 x1.47, 96 -> 128 x1.03-1.15, 16 -> 64
                 * x0.98-1.08; 4 blocks, 5x5 192 -> 32: x0.93-1.02) */
                const int copy = cbuf && kb1 - kb0 > 1 && (ntap == 1 || sw > 1 || kb1 - kb0 >= 8);
                for (int64_t oc = ilo; oc < ich; oc += CG_CW) {
                    const CG_T *xc = xg + oc * sw;
                    const int64_t *ctx = tapx;
                    int64_t xcs = p.x_sc, cs = sw;
                    if (copy) {
                        CG_T *d = cbuf;
                        for (int64_t c = 0; c < Cg; c++)
                            for (int64_t i = 0; i < ntap; i++, d += CG_CW) {
                                const CG_T *s0 = xc + c * p.x_sc + tapx[i];
                                if (sw == 1)
                                    for (int v = 0; v < CG_CW; v++) d[v] = s0[v];
                                else
                                    for (int v = 0; v < CG_CW; v++) d[v] = s0[v * sw];
                            }
                        xc = cbuf;
                        ctx = tapc;
                        xcs = ntap * CG_CW;
                        cs = 1;
                    }
                    for (int64_t kb = kb0; kb < kb1; kb++) {
                        const int64_t k0 = kb * CG_KB;
                        const int64_t kc = (Kg - k0) < CG_KB ? (Kg - k0) : CG_KB;
                        for (int64_t l0 = 0; l0 < kc; l0 += CG_KH) {
                            const int64_t k = g * Kg + k0 + l0;
                            const int64_t kh = kc - l0 < CG_KH ? kc - l0 : CG_KH;
                            const CG_T *wc = wg + kb * Cg * taps * CG_KB + l0;
                            o.y = y + n * p.y_sn + k * p.y_sk + sp + oc;
                            o.r = res ? res + n * p.r_sn + k * p.r_sk + sp + oc : NULL;
                            o.bias = bias ? bias + k : NULL;
                            if (cs == 1)
                                CG_NAME(chunk)(1, &o, kh, xc, xcs, 1, wc, taps * CG_KB, Cg, ctx,
                                               tapw, ntap);
                            else
                                CG_NAME(chunk)(0, &o, kh, xc, xcs, cs, wc, taps * CG_KB, Cg, ctx,
                                               tapw, ntap);
                        }
                    }
                }
                /* the rest of the tile: the interior past the chunks, CG_PG
                 * pixels at a time over all the row's taps, and the edges
                 * [ow0, ilo), [ihi, ow1), a pixel at a time over its valid taps */
                for (int64_t ow = ow0, np; ow < ow1; ow += np) {
                    if (ow == ilo && ich > ilo) {
                        np = ich - ilo;  /* the chunks' pixels: done */
                        continue;
                    }
                    const CG_T *xc = xg + ow * sw;
                    const int64_t *tx = tapx, *tw = tapw;
                    int64_t nti = ntap, ps = sw;
                    if (ow >= ich && ow < ihi) {
                        np = ihi - ow < CG_PG ? ihi - ow : CG_PG;
                    } else {
                        np = 1;
                        nti = 0;
                        for (int64_t i = 0; i < ntap; i++) {
                            const int64_t s = (tapw[i] / CG_KB) % S;
                            const int64_t col = ow * sw + s * dw - pw;
                            if (col < 0 || col >= W) continue;
                            ptx[nti] = tapx[i];
                            ptw[nti] = tapw[i];
                            nti++;
                        }
                        tx = ptx;
                        tw = ptw;
                        ps = 0;
                    }
                    for (int64_t kb = kb0; kb < kb1; kb++) {
                        const int64_t k0 = kb * CG_KB;
                        const int64_t kc = (Kg - k0) < CG_KB ? (Kg - k0) : CG_KB;
                        const int64_t k = g * Kg + k0;
                        o.y = y + n * p.y_sn + k * p.y_sk + sp + ow;
                        o.r = res ? res + n * p.r_sn + k * p.r_sk + sp + ow : NULL;
                        o.bias = bias ? bias + k : NULL;
                        const CG_T *wb = wg + kb * Cg * taps * CG_KB;
                        CG_NAME(pixels_n)(np, &o, kc, xc, p.x_sc, ps, wb, taps * CG_KB, Cg, tx, tw, nti);
                    }
                }
            }
        }
        cconv_scratch_free(cbuf);
        cconv_scratch_free(tapx);
        cconv_fpenv_leave(fps);
    }
    return failed ? CCONV_ENOMEM : CCONV_OK;
}

const cconv_conv_kernels CG_TABLE = {
    CG_ISA, CG_NAME(packed_size), CG_NAME(pack), CG_NAME(conv),
    NULL,  /* no fused 1x1 chain: callers run its layers one conv at a time */
};

#undef CG_KB
#undef CG_WT
#undef CG_CW
#undef CG_KH
#undef CG_PG
#undef CG_COPY_MAX
#ifdef CG_VL
#undef CG_VL
#endif
