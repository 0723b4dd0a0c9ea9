/* conv_generic.h - the portable direct-convolution kernel, written once as a
 * template and instantiated per dtype (and per ISA: conv_portable.c builds it
 * for the baseline, other translation units may build it with wider vector
 * flags).  No im2col: each task computes KB output channels x one tile of an
 * output row into a small accumulator, looping over input channels and
 * kernel taps with the padding clipped per tap (never a branch per FMA).
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
    const int64_t ntile = (Wo + CG_WT - 1) / CG_WT;
    const int64_t tasks = p.N * groups * nkb * Do * Ho * ntile;
    if (tasks <= 0) return CCONV_OK;
    const double work = (double)p.N * ws->K * Cg * taps * Do * Ho * Wo;
    const int nt = cconv_threads_for(nthreads, work, tasks);
    int failed = 0;

#ifdef _OPENMP
#pragma omp parallel num_threads(nt) reduction(|: failed)
#endif
    {
        cconv_fpstate fps = cconv_fpenv_enter();
        CG_T *acc = (CG_T *)cconv_scratch_alloc(sizeof(CG_T) * CG_KB * CG_WT);
        if (!acc) {
            failed = 1;
        } else {
            int64_t t0, t1;
            cconv_thread_range(tasks, &t0, &t1);
            for (int64_t task = t0; task < t1; task++) {
                int64_t q = task;
                const int64_t tile = q % ntile; q /= ntile;
                const int64_t oh = q % Ho; q /= Ho;
                const int64_t od = q % Do; q /= Do;
                const int64_t kb = q % nkb; q /= nkb;
                const int64_t g = q % groups; q /= groups;
                const int64_t n = q;
                const int64_t ow0 = tile * CG_WT;
                const int64_t wn = (Wo - ow0) < CG_WT ? (Wo - ow0) : CG_WT;
                const int64_t k0 = kb * CG_KB;
                const int64_t kc = (Kg - k0) < CG_KB ? (Kg - k0) : CG_KB;
                memset(acc, 0, sizeof(CG_T) * CG_KB * CG_WT);
                const CG_T *wblk = wp + (g * nkb + kb) * Cg * taps * CG_KB;
                for (int64_t c = 0; c < Cg; c++) {
                    const CG_T *xc = x + n * p.x_sn + (g * Cg + c) * p.x_sc;
                    for (int64_t t = 0; t < T; t++) {
                        const int64_t id = od * p.stride[0] + t * p.dil[0] - p.pad[0];
                        if (id < 0 || id >= D) continue;
                        for (int64_t r = 0; r < R; r++) {
                            const int64_t ih = oh * p.stride[1] + r * p.dil[1] - p.pad[1];
                            if (ih < 0 || ih >= H) continue;
                            const CG_T *xrow = xc + (id * H + ih) * W;
                            for (int64_t s = 0; s < S; s++) {
                                const int64_t off = s * p.dil[2] - p.pad[2];
                                const int64_t sw = p.stride[2];
                                int64_t lo, hi;
                                CG_NAME(valid)(off, sw, W, Wo, &lo, &hi);
                                if (lo < ow0) lo = ow0;
                                if (hi > ow0 + wn) hi = ow0 + wn;
                                if (lo >= hi) continue;
                                const CG_T *wv = wblk + ((c * T + t) * R * S + r * S + s) * CG_KB;
                                const CG_T *xs = xrow + off;
                                for (int64_t l = 0; l < kc; l++) {
                                    CG_T *a = acc + l * CG_WT - ow0;
                                    const CG_T wl = wv[l];
                                    if (sw == 1) {
                                        for (int64_t ow = lo; ow < hi; ow++) a[ow] += wl * xs[ow];
                                    } else {
                                        for (int64_t ow = lo; ow < hi; ow++) a[ow] += wl * xs[ow * sw];
                                    }
                                }
                            }
                        }
                    }
                }
                /* epilogue: bias, residual, activation, store */
                const int64_t sp = (od * Ho + oh) * Wo + ow0;
                for (int64_t l = 0; l < kc; l++) {
                    const int64_t k = g * Kg + k0 + l;
                    const CG_T b = bias ? bias[k] : (CG_T)0;
                    const CG_T *a = acc + l * CG_WT;
                    const CG_T *rr = res ? res + n * p.r_sn + k * p.r_sk + sp : NULL;
                    CG_T *yy = y + n * p.y_sn + k * p.y_sk + sp;
                    for (int64_t i = 0; i < wn; i++) {
                        CG_T v = a[i] + b;
                        if (rr) v += rr[i];
                        if (p.activation == CCONV_ACT_RELU) v = v < (CG_T)0 ? (CG_T)0 : v;
                        yy[i] = v;
                    }
                }
            }
        }
        cconv_scratch_free(acc);
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
