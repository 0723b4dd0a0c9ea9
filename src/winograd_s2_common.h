/* winograd_s2_common.h - what the stride-2 1-D Winograd F(3,4) path's
 * instantiations share (winograd_s2_avx2.c: ymm, winograd_s2_avx512.c: zmm;
 * the algorithm: winograd_s2_avx2.c): its constants, a row's tiles, the
 * per-thread scratch and the rule for which calls take it.
 */
#ifndef CCONV_WINOGRAD_S2_COMMON_H
#define CCONV_WINOGRAD_S2_COMMON_H

#include "cconv.h"
#include "winograd.h"
#include "conv_simd_common.h"

#define S2_RT 4                       /* taps per column phase */
#define S2_MO 3                       /* outputs per tile: F(3,4) */
#define S2_KR OCB                     /* output channels per block */
#define S2_BAND_BYTES (192 * 1024)    /* a band's transformed input rows (L2) */
#define S2_SCRATCH_MAX (1024 * 1024)  /* the most scratch a thread (smallest band) */
#define S2_MAX_CT 1024                /* default rule: C*R*S below this (7x7: 20 channels) */


/* tiles a row, padded to whole vectors of `lanes` tiles */
static int64_t s2_ntp(int64_t Wo, int64_t lanes) { return a2_cdiv(a2_cdiv(Wo, S2_MO), lanes) * lanes; }

/* a thread's scratch in values: D, nrows transformed input rows of C
 * channels ([phase][e][ntp] each), and M, a row pair's sums ([e][K padded
 * to blocks][ntp] each) */
static int64_t s2_d_vals(int64_t C, int64_t nrows, int64_t ntp) { return C * nrows * 12 * ntp; }
static int64_t s2_m_vals(int64_t K, int64_t ntp) { return 2 * 6 * a2_cdiv(K, S2_KR) * S2_KR * ntp; }

/* whether call p takes the path (cconv_ws2_applies_*): values of es
 * bytes, lanes tiles a vector; fill: the default rule also asks a row's
 * tiles to fill three quarters of its vectors (the zmm instantiation) */
static int s2_applies(const cconv_conv_params *p, int64_t es, int64_t lanes, int fill)
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
    const int64_t ntp = s2_ntp(p->out[2], lanes);
    if ((s2_d_vals(ws->Cg, ws->ks[1] + 2, ntp) + s2_m_vals(ws->K, ntp)) * es > S2_SCRATCH_MAX)
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
     * 56x56 x0.63-0.65 and x0.47-0.50.  float64 keeps the same rule; it
     * would pay more widely (Intel family 6 model 167, AVX2 table, one
     * thread: the stem x1.40, 8, 16 and 32 channels x1.36-1.49, 64 at 56x56
     * x1.10, 3 -> 8 x1.04), but that was measured on one CPU only.
     * The fill: rows are padded to whole vectors of tiles (at 16 float32
     * tiles a vector the 19 tiles of a 56-wide output row take 32 lanes).
     * Paired A/B, zmm against the AVX-512 direct kernel, Intel family 6
     * model 167, one thread, 7x7/s2 3 -> 64, output width (tiles / lanes):
     * float32 24 (8/16) x0.60, 40 (14/16) x1.04, 56 (19/32) x0.77, 80
     * (27/32) x1.04, 96 (32/32) x1.25, 112 (38/48, the 224x224 stem) x1.07,
     * batch 4 x1.12, two threads x1.015; 8 -> 64 at 56 wide x0.89; float64
     * 24 (8/8) x1.28, 40 (14/16) x1.21, 56 (19/24) x1.14-1.19, 112 (38/40)
     * x1.39 */
    return ws->K >= 32 && p->out[2] >= 24 && ws->Cg * ws->ks[1] * ws->ks[2] < S2_MAX_CT
           && (!fill || 4 * a2_cdiv(p->out[2], S2_MO) >= 3 * ntp);
}

#endif
