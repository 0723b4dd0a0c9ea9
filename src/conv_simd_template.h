/* conv_simd_template.h - the SIMD direct and 1x1 convolution kernels, written
 * once over a vector abstraction and instantiated per ISA and dtype by
 * conv_avx2.c (ymm) and conv_avx512.c (zmm); see conv_avx2.c for the design.
 *
 * The including file defines, for one dtype: T, V (vector type), VL (lanes),
 * NM(x) (name suffix), TABLE (the kernel table's name), ISA_NAME, VLOADU,
 * VSTOREU, VBCAST, VSET1, VFMA, VADD, VMAX, VZERO, VMASK_T (a lane mask),
 * VMRANGE(lo, hi, base) (lanes [lo, hi) of the vector holding lanes
 * [base, base + VL)), VMLOAD(p, m) (masked load, zeros elsewhere),
 * optionally VMLOADM(v, p, m) (masked load, v's lanes elsewhere),
 * VMSTORE(p, m, v) and VEVENS(p) (lanes 0, 2, 4, ... of the 2*VL values at p),
 * and, where VL >= OCB, may define VTRANSPOSE (see a2_pack_block).
 * The packed weight layout depends only on OCB, never on the ISA.
 */
#include "conv_simd_common.h"

#define NR (2 * VL)  /* pixels per register tile (band path) */
#ifndef A2_NV1
#define A2_NV1 2     /* vectors per 1x1 tile row: OCB x A2_NV1 accumulators */
#endif
#define NR1 (A2_NV1 * VL)  /* pixels per 1x1 register tile */
#define NR8 (3 * VL)       /* pixels per 8-row 1x1 tile (A2_MK8) */

/* ---- weight packing: [g][kb][c][t][r][s][OCB] ---- */

static int64_t NM(a2_nkb)(const cconv_wshape *ws) { return a2_cdiv(ws->K / ws->groups, OCB); }

/* The 8-row 1x1 tile (A2_MK8, the including file's choice): 8 output
 * channels x 3 vectors (NR8 pixels), for layers of 8, 16 or 32 output
 * channels per group (A2_MK8_KMAX; more on one thread: A2_MK8_KMAX1), which
 * the 6-row tile covers in uneven blocks
 * (16 = 6 + 5 + 5: three passes over each pixel tile where two do; 8 = 4 + 4;
 * 32 = 6 + 6 + 5 + 5 + 5 + 5).  Only the direct 1x1 path (rows read in place)
 * runs it, and takes layers of up to A2_DIRECT_NKB such blocks whose tile
 * column fits A2_DIRECT_BYTES, aligned rows or not.  Its packed weights
 * [g][kb][c][A2_MR8] follow the 6-row layout, which the other paths keep
 * using.  Each output sums the same products in the same order as the 6-row
 * tile: the same bits.  Paired A/B in one binary, AVX-512, Intel family 6
 * model 167, one thread: 96 -> 16 at 55x55 x1.05-1.09 (batch 8 x1.02-1.05),
 * 192 -> 16 at 28x28 x1.05, 64 -> 8 at 56x56 x1.07-1.11, 256 -> 32 at 28x28
 * x1.03-1.06, 512 -> 32 x1.08-1.12, and where the 6-row tile had packed
 * panels (32 outputs on misaligned rows) 128 -> 32 at 55x55 x1.09, 256 -> 32
 * at 27x27 x1.18; float64 x1.02-1.22 but 128 -> 32 at 55x55 x0.97; two
 * threads x1.00-1.27.  256 -> 32 at 56x56 (3.2 MB of input) x0.96-1.06 */
#ifndef A2_MK8
#define A2_MK8 0
#endif
#define A2_MR8 8
#define A2_MRMAX (A2_MK8 ? A2_MR8 : OCB)   /* most rows of a 1x1 tile */
#ifndef A2_MK8_KMAX
#define A2_MK8_KMAX 32
#endif
/* ... and on one thread up to this many, for at least A2_MK8_MINC1 input
 * channels per group and inputs of at most A2_MK8_BYTES1 a call (the
 * including file's choice; the layout is packed for both, a2_conv1x1 picks
 * the tile per call) */
#ifndef A2_MK8_KMAX1
#define A2_MK8_KMAX1 A2_MK8_KMAX
#endif
#ifndef A2_MK8_MINC1
#define A2_MK8_MINC1 96
#endif
#ifndef A2_MK8_BYTES1
#define A2_MK8_BYTES1 (8.0 * 1024 * 1024)
#endif
static int NM(a2_mk8_use)(const cconv_wshape *ws)
{
    const int64_t Kg = ws->K / ws->groups;
    return A2_MK8 && ws->ks[0] * ws->ks[1] * ws->ks[2] == 1 && Kg > 0 && Kg % A2_MR8 == 0
           && Kg <= a2_max(A2_MK8_KMAX, A2_MK8_KMAX1) && Kg % OCB != 0;
}
/* where the 8-row layout starts in the packed weights (values; 64-byte aligned) */
static int64_t NM(a2_mk8_offset)(const cconv_wshape *ws)
{
    const int64_t b = ws->groups * NM(a2_nkb)(ws) * ws->Cg * OCB * (int64_t)sizeof(T);
    return (b + 63) / 64 * 64 / (int64_t)sizeof(T);
}

/* KxK layers with a short reduction and enough output channels (Cg * taps
 * <= A2_PANEL_CT, K/groups >= A2_PANEL_KG: ResNet's 7x7/s2 on 3 channels to
 * 64, NIN's 5x5 on 3 channels to 192) run the 1x1 tile over a per-tile
 * panel [Cg * taps][NR1] copied from the prepared band (a2_convband), with
 * the spatial weight layout.  Each panel serves every oc block; with fewer
 * blocks, or a longer reduction, the copy costs more than it saves.  The
 * defaults here are AVX-512's, whose other KxK path, the output-channel
 * tile, wins on longer reductions (conv_avx2.c sets its own): 160 x 64
 * float32 is 40 KiB, within L1.  Paired A/B against the output-channel
 * tile, 1 and 2 threads: 7x7/s2 3 -> 64 x1.08-1.12, 3x3 12 -> 64
 * x1.20-1.25, 3x3 16 -> 96 x1.08-1.19, but 3x3 32 -> 64 (288 rows)
 * x0.92-1.03 and 24 -> 64 (216) x0.87-1.09, 3x3 16 -> 32 x0.92-0.94.
 * float64 keeps the narrower rule (128 rows, 96 channels): its 64-channel
 * layers lost (7x7/s2 3 -> 64 x0.80-0.94).  A layer on at most 4 input
 * channels per group (an image's) needs only A2_PANEL_KG_IMG output
 * channels: float32 3x3/s2 3 -> 32 x1.22, 7x7/s2 3 -> 48 x1.44-1.48 (the
 * wide tile pads 48 channels to 64 lanes), where 3x3/s2 16 -> 32 lost
 * (x0.72-0.93) and 8 -> 32 broke even. */
#ifndef A2_PANEL_CT
#define A2_PANEL_CT (sizeof(T) == 4 ? 160 : 128)
#endif
#ifndef A2_PANEL_KG
#define A2_PANEL_KG (sizeof(T) == 4 ? 64 : 96)
#endif
#ifndef A2_PANEL_KG_IMG
#define A2_PANEL_KG_IMG (sizeof(T) == 4 ? 32 : 96)
#endif
/* channels ahead whose input rows a band's preparation prefetches (0: none;
 * conv_avx2.c sets its own) */
/* weight packing's transposed columns stored as whole overlapping vectors
 * (1) or by masked stores (0; conv_avx2.c sets its own) */
#ifndef A2_PACK_OVERLAP
#define A2_PACK_OVERLAP 0
#endif
#ifndef A2_BAND_PF
#define A2_BAND_PF 0
#endif
/* KxK panel path: bands of rows whose pixels fill whole tiles where
 * possible (1; 0: the budget's rows; conv_avx2.c sets its own) */
#ifndef A2_PANEL_WHOLE
#define A2_PANEL_WHOLE 0
#endif
/* 1x1 panel path: oc blocks ahead whose output lines a tile prefetches
 * (0: none; conv_avx2.c sets its own) */
#ifndef A2_YPF
#define A2_YPF 0
#endif
/* KxK panel path: the same, oc blocks ahead (0: none) */
#ifndef A2_KYPF
#define A2_KYPF 0
#endif
/* KxK panel path on an image's channels (Cg <= 4): a tile within one
 * output row reads its steps from the band in place, no panel copy, up to
 * this many steps (Cg * taps; 0: never; conv_avx2.c sets its own) */
#ifndef A2_PANEL_INROW_CT
#define A2_PANEL_INROW_CT 0
#endif
static int NM(a2_panel_use)(const cconv_wshape *ws)
{
    const int64_t taps = ws->ks[0] * ws->ks[1] * ws->ks[2], Kg = ws->K / ws->groups;
    return taps > 1 && ws->Cg * taps <= A2_PANEL_CT
           && (Kg >= A2_PANEL_KG || (ws->Cg <= 4 && Kg >= A2_PANEL_KG_IMG));
}

#ifdef A2_OCV
/* the output-channel-vectorised layout: what A2_OCV_USE asks for, unless
 * the panel path takes the layer, or there are no input channels (its
 * epilogue runs at the end of a channel chunk: with no chunk, never) */
static int NM(a2_ocv)(const cconv_wshape *ws)
{
    return ws->Cg > 0 && !NM(a2_panel_use)(ws) && A2_OCV_USE(ws);
}
#endif

/* depthwise layers take conv_dw_template.h's loop and raw layout */
static int NM(dw_use)(const cconv_wshape *ws);

static int64_t NM(a2_packed_size)(const cconv_wshape *ws)
{
    const int64_t taps = ws->ks[0] * ws->ks[1] * ws->ks[2];
    if (ws->flags & CCONV_PACK_IN_PLACE_1X1) return 0;
    if (NM(dw_use)(ws)) return ws->K * taps * (int64_t)sizeof(T);
#ifdef A2_OCV
    if (NM(a2_ocv)(ws)) return A2_OCV_PACKED_SIZE(ws);
#endif
    if (NM(a2_mk8_use)(ws)) return (NM(a2_mk8_offset)(ws) + ws->K * ws->Cg) * (int64_t)sizeof(T);
    return ws->groups * NM(a2_nkb)(ws) * ws->Cg * taps * OCB * (int64_t)sizeof(T);
}

/* where the packed layout keeps weight (k, j) of group 0, j = (c, tap): both
 * layouts are [g][oc block][c][tap][block width] (the spatial tile's blocks
 * of at most OCB channels from a2_kfirst, the output-channel tile's of
 * A2_OCV_KB), so consecutive j lie one block width apart.  Packed weights
 * only (not 1x1 weights read in place, CCONV_PACK_IN_PLACE_1X1) */
static int64_t NM(a2_weight_offset)(const cconv_wshape *ws, int64_t k, int64_t j)
{
    const int64_t ct = ws->Cg * ws->ks[0] * ws->ks[1] * ws->ks[2];
    if (NM(dw_use)(ws)) return k * ct + j;
#ifdef A2_OCV
    if (NM(a2_ocv)(ws)) {
        const int64_t kbw = A2_OCV_KB(ws);
        return ((k / kbw) * ct + j) * kbw + k % kbw;
    }
#endif
    const int64_t Kg = ws->K / ws->groups;
    int64_t b = k / OCB;   /* blocks hold at most OCB channels: k's is no earlier */
    while (a2_kfirst(Kg, b + 1) <= k) b++;
    return (b * ct + j) * OCB + (k - a2_kfirst(Kg, b));
}

typedef struct { const cconv_wshape *ws; const T *w; T *dst; } NM(a2_pack_ctx);

/* block gk = (group, oc block): the block's mr <= OCB weight rows
 * transposed to [ct][OCB].  Where the including file defines VTRANSPOSE
 * (src, stride, nrows, col) (col[o] lane p = src[p * stride + o], p < nrows,
 * zeros past it; VL >= OCB), VL columns at a time in registers, each column
 * stored as OCB lanes: contiguous reads and writes (1x1 1024 -> 256 packed
 * at 3 GB/s a value at a time, a third of a one-shot call).  Otherwise, and
 * for the last ct % VL columns, row by row. */
static void NM(a2_pack_block)(void *vctx, int64_t gk)
{
    const NM(a2_pack_ctx) *cx = (const NM(a2_pack_ctx) *)vctx;
    const cconv_wshape *ws = cx->ws;
    const int64_t Kg = ws->K / ws->groups, nkb = NM(a2_nkb)(ws);
    const int64_t ct = ws->Cg * ws->ks[0] * ws->ks[1] * ws->ks[2]; /* (c, tap) pairs per oc */
    const int64_t g = gk / nkb, kb = gk % nkb;
    const int64_t k0 = a2_kfirst(Kg, kb), mr = a2_kfirst(Kg, kb + 1) - k0;
    const T *src = cx->w + (g * Kg + k0) * ct;
    T *p = cx->dst + gk * ct * OCB;
    int64_t j0 = 0;
#ifdef VTRANSPOSE
    const VMASK_T m = VMRANGE(0, OCB, 0);
    for (; j0 + VL <= ct; j0 += VL) {
        V col[VL];
        VTRANSPOSE(src + j0, ct, (int)mr, col);
        /* with A2_PACK_OVERLAP, whole-vector stores in column order: a
         * column's lanes past OCB land on later columns, which overwrite
         * them; only a store that would run past the block's end is masked */
        for (int o = 0; o < VL; o++) {
            if (A2_PACK_OVERLAP && (j0 + o) * OCB + VL <= ct * OCB) VSTOREU(p + (j0 + o) * OCB, col[o]);
            else VMSTORE(p + (j0 + o) * OCB, m, col[o]);
        }
    }
#endif
    for (int64_t l = 0; l < OCB; l++) {
        if (l < mr) {
            const T *sr = src + l * ct;
            for (int64_t j = j0; j < ct; j++) p[j * OCB + l] = sr[j];
        } else {
            for (int64_t j = j0; j < ct; j++) p[j * OCB + l] = (T)0;
        }
    }
}

static void NM(a2_pack)(const cconv_wshape *ws, const void *wv, void *dst, int nthreads)
{
    if (ws->flags & CCONV_PACK_IN_PLACE_1X1) return;
    if (NM(dw_use)(ws)) {   /* the raw layout (conv_dw_template.h) */
        memcpy(dst, wv, (size_t)NM(a2_packed_size)(ws));
        return;
    }
#ifdef A2_OCV
    if (NM(a2_ocv)(ws)) { A2_OCV_PACK(ws, (const T *)wv, (T *)dst, nthreads); return; }
#endif
    NM(a2_pack_ctx) cx = {ws, (const T *)wv, (T *)dst};
    const int64_t nblk = ws->groups * NM(a2_nkb)(ws);
    cconv_pack_blocks(nthreads, NM(a2_packed_size)(ws) / (int64_t)sizeof(T), nblk,
                      NM(a2_pack_block), &cx);
    if (NM(a2_mk8_use)(ws)) {
        /* the 8-row tile's blocks, [g][kb][c][A2_MR8]: (K, Cg) rows
         * transposed 8 at a time (a few thousand values: one thread) */
        const T *w = (const T *)wv;
        T *d = (T *)dst + NM(a2_mk8_offset)(ws);
        const int64_t Cg = ws->Cg, nr = ws->K / A2_MR8;
        for (int64_t r = 0; r < nr; r++)
            for (int64_t c = 0; c < Cg; c++)
                for (int64_t i = 0; i < A2_MR8; i++) d[(r * Cg + c) * A2_MR8 + i] = w[(r * A2_MR8 + i) * Cg + c];
    }
}

/* ---- the fused epilogue of one tile ----
 * Tile row i is output channel k0 + i: y + i*ysk.  The tile's lanes fall into
 * nseg segments; segment s holds lanes [lo[s], hi[s]), and lane l of it goes
 * to spatial position base[s] + l (base may be negative: only the masked
 * lanes are touched). */
typedef struct {
    T *y;
    const T *r;        /* residual (same layout as y, stride rsk) or NULL */
    const T *bias;     /* bias of channel k0, or NULL */
    int64_t ysk, rsk;
    int relu, nseg;
    int full;          /* one segment covering all NR lanes */
    int64_t base[NR];
    int lo[NR], hi[NR];
} NM(a2_epi_t);

AINLINE void NM(a2_epi_row)(const NM(a2_epi_t) *e, int i, V ca, V cb)
{
    T *yr = e->y + i * e->ysk;
    const T *rr = e->r ? e->r + i * e->rsk : NULL;
    if (e->bias) {
        const V vb = VSET1(e->bias[i]);
        ca = VADD(ca, vb);
        cb = VADD(cb, vb);
    }
    const V z = VZERO();
    for (int s = 0; s < e->nseg; s++) {
        const int lo = e->lo[s], hi = e->hi[s];
        T *yp = yr + e->base[s];
        const T *rp = rr ? rr + e->base[s] : NULL;
        if (lo == 0 && hi == NR) {
            V u0 = ca, u1 = cb;
            if (rp) { u0 = VADD(u0, VLOADU(rp)); u1 = VADD(u1, VLOADU(rp + VL)); }
            if (e->relu) { u0 = VMAX(z, u0); u1 = VMAX(z, u1); }  /* max(0, NaN) = NaN */
            VSTOREU(yp, u0);
            VSTOREU(yp + VL, u1);
            continue;
        }
        if (lo < VL) {
            const VMASK_T m = VMRANGE(lo, hi, 0);
            V u = ca;
            if (rp) u = VADD(u, VMLOAD(rp, m));
            if (e->relu) u = VMAX(z, u);
            VMSTORE(yp, m, u);
        }
        if (hi > VL) {
            const VMASK_T m = VMRANGE(lo, hi, VL);
            V u = cb;
            if (rp) u = VADD(u, VMLOAD(rp + VL, m));
            if (e->relu) u = VMAX(z, u);
            VMSTORE(yp + VL, m, u);
        }
    }
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static void NM(a2_epi_tile)(const NM(a2_epi_t) *e, int mr, const V *acc)
{
    for (int i = 0; i < mr; i++) NM(a2_epi_row)(e, i, acc[2 * i], acc[2 * i + 1]);
}

/* ---- the band microkernel: MR (<= OCB) channels x NR pixels ----
 * a: packed weights [c][tap][OCB]; b: the prepared band, channel c at
 * b + c*cs, tap t at + off[t].  The sums end in the fused epilogue. */
AINLINE void NM(a2_mk)(const int MR, const T *a, const T *b, int64_t nc, int64_t cs,
                       const int64_t *off, int64_t ntaps, const NM(a2_epi_t) *e)
{
    V c0a, c0b, c1a, c1b, c2a, c2b, c3a, c3b, c4a, c4b, c5a, c5b;
    c0a = c0b = c1a = c1b = c2a = c2b = VZERO();
    c3a = c3b = c4a = c4b = c5a = c5b = VZERO();
#define A2_STEP(bp)                                                                  \
    do {                                                                             \
        const V x0 = VLOADU(bp), x1 = VLOADU((bp) + VL);                             \
        V w_ = VBCAST(a);                                                            \
        c0a = VFMA(w_, x0, c0a); c0b = VFMA(w_, x1, c0b);                            \
        if (MR > 1) { w_ = VBCAST(a + 1); c1a = VFMA(w_, x0, c1a); c1b = VFMA(w_, x1, c1b); } \
        if (MR > 2) { w_ = VBCAST(a + 2); c2a = VFMA(w_, x0, c2a); c2b = VFMA(w_, x1, c2b); } \
        if (MR > 3) { w_ = VBCAST(a + 3); c3a = VFMA(w_, x0, c3a); c3b = VFMA(w_, x1, c3b); } \
        if (MR > 4) { w_ = VBCAST(a + 4); c4a = VFMA(w_, x0, c4a); c4b = VFMA(w_, x1, c4b); } \
        if (MR > 5) { w_ = VBCAST(a + 5); c5a = VFMA(w_, x0, c5a); c5b = VFMA(w_, x1, c5b); } \
        a += OCB;                                                                    \
    } while (0)
    for (int64_t c = 0; c < nc; c++) {
        const T *bc = b + c * cs;
        for (int64_t t = 0; t < ntaps; t++) {
            /* the band streams from L2: fetch a later channel's lines */
            const T *bp = bc + off[t];
            _mm_prefetch((const char *)(bp + A2_PFD * cs), _MM_HINT_T0);
            _mm_prefetch((const char *)(bp + A2_PFD * cs + NR - 1), _MM_HINT_T0);
            A2_STEP(bp);
        }
    }
#undef A2_STEP
    if (e->full) {
        /* a whole MR x NR tile in one contiguous run of pixels: fused
         * epilogue straight from the registers */
        T *y0 = e->y + e->base[0];
        const int64_t ysk = e->ysk;
        if (e->bias) {
            V bv;
            bv = VBCAST(e->bias + 0); c0a = VADD(c0a, bv); c0b = VADD(c0b, bv);
            if (MR > 1) { bv = VBCAST(e->bias + 1); c1a = VADD(c1a, bv); c1b = VADD(c1b, bv); }
            if (MR > 2) { bv = VBCAST(e->bias + 2); c2a = VADD(c2a, bv); c2b = VADD(c2b, bv); }
            if (MR > 3) { bv = VBCAST(e->bias + 3); c3a = VADD(c3a, bv); c3b = VADD(c3b, bv); }
            if (MR > 4) { bv = VBCAST(e->bias + 4); c4a = VADD(c4a, bv); c4b = VADD(c4b, bv); }
            if (MR > 5) { bv = VBCAST(e->bias + 5); c5a = VADD(c5a, bv); c5b = VADD(c5b, bv); }
        }
        if (e->r) {
            const T *r0 = e->r + e->base[0];
            const int64_t rsk = e->rsk;
            c0a = VADD(c0a, VLOADU(r0)); c0b = VADD(c0b, VLOADU(r0 + VL));
            if (MR > 1) { r0 += rsk; c1a = VADD(c1a, VLOADU(r0)); c1b = VADD(c1b, VLOADU(r0 + VL)); }
            if (MR > 2) { r0 += rsk; c2a = VADD(c2a, VLOADU(r0)); c2b = VADD(c2b, VLOADU(r0 + VL)); }
            if (MR > 3) { r0 += rsk; c3a = VADD(c3a, VLOADU(r0)); c3b = VADD(c3b, VLOADU(r0 + VL)); }
            if (MR > 4) { r0 += rsk; c4a = VADD(c4a, VLOADU(r0)); c4b = VADD(c4b, VLOADU(r0 + VL)); }
            if (MR > 5) { r0 += rsk; c5a = VADD(c5a, VLOADU(r0)); c5b = VADD(c5b, VLOADU(r0 + VL)); }
        }
        if (e->relu) {
            const V z = VZERO();  /* max(0, NaN) = NaN */
            c0a = VMAX(z, c0a); c0b = VMAX(z, c0b); c1a = VMAX(z, c1a); c1b = VMAX(z, c1b);
            c2a = VMAX(z, c2a); c2b = VMAX(z, c2b); c3a = VMAX(z, c3a); c3b = VMAX(z, c3b);
            c4a = VMAX(z, c4a); c4b = VMAX(z, c4b); c5a = VMAX(z, c5a); c5b = VMAX(z, c5b);
        }
        VSTOREU(y0, c0a); VSTOREU(y0 + VL, c0b);
        if (MR > 1) { y0 += ysk; VSTOREU(y0, c1a); VSTOREU(y0 + VL, c1b); }
        if (MR > 2) { y0 += ysk; VSTOREU(y0, c2a); VSTOREU(y0 + VL, c2b); }
        if (MR > 3) { y0 += ysk; VSTOREU(y0, c3a); VSTOREU(y0 + VL, c3b); }
        if (MR > 4) { y0 += ysk; VSTOREU(y0, c4a); VSTOREU(y0 + VL, c4b); }
        if (MR > 5) { y0 += ysk; VSTOREU(y0, c5a); VSTOREU(y0 + VL, c5b); }
        return;
    }
    /* hand the tile to an out-of-line epilogue: keeps the epilogue's
     * registers from pushing an accumulator out of the hot loop */
    V acc[2 * OCB];
    acc[0] = c0a; acc[1] = c0b; acc[2] = c1a; acc[3] = c1b; acc[4] = c2a; acc[5] = c2b;
    acc[6] = c3a; acc[7] = c3b; acc[8] = c4a; acc[9] = c4b; acc[10] = c5a; acc[11] = c5b;
    NM(a2_epi_tile)(e, MR, acc);
}

typedef void (*NM(a2_mk_fn))(const T *, const T *, int64_t, int64_t, const int64_t *, int64_t,
                             const NM(a2_epi_t) *);
#define A2_MKDEF(mr)                                                                      \
    static void NM(a2_mkg_##mr)(const T *a, const T *b, int64_t nc, int64_t cs,             \
                                 const int64_t *off, int64_t nt, const NM(a2_epi_t) *e)     \
    { NM(a2_mk)(mr, a, b, nc, cs, off, nt, e); }
A2_MKDEF(1)
A2_MKDEF(2)
A2_MKDEF(3)
A2_MKDEF(4)
A2_MKDEF(5)
A2_MKDEF(6)
#undef A2_MKDEF
static const NM(a2_mk_fn) NM(a2_mkg)[OCB + 1] = {
    NULL, NM(a2_mkg_1), NM(a2_mkg_2), NM(a2_mkg_3), NM(a2_mkg_4), NM(a2_mkg_5), NM(a2_mkg_6)};

/* ---- the 1x1 tail: a few pixels, output channels in the lanes ----
 * A last tile of nv <= A2_TAIL_PX pixels (14x14: 196 = 3 * 64 + 4 on
 * AVX-512, 12 * 16 + 4 on AVX2) in the spatial tile is one vector per
 * output channel: a few lanes of use, 6 chains of FMAs waiting on their
 * latency, a whole pass over every block's weights for those pixels.
 * Here a vector holds one or two oc blocks' OCB packed weights of a channel
 * (A2_TAIL_BPV; the other lanes masked off) and each pixel is broadcast:
 * A2_TAIL_NB vectors x npx
 * pixels of sums, every output the same fma(w, x, sum) chain over the
 * channels in the same order as in the spatial tile, so the same bits.  Packed weights only (a block's OCB
 * weights of a channel contiguous), VL >= OCB, whole reductions (no
 * channel chunks). */
#ifndef A2_TAIL_PX
#define A2_TAIL_PX 4
#endif
#define A2_TAIL_NB 6
#define A2_TAIL_OK (VL >= OCB && A2_TAIL_PX > 0)
/* oc blocks a vector holds: two where the lanes take 2 * OCB and the
 * including file defines VMLOADM(v, p, m) (v with the lanes in m loaded
 * from p), which merges the second block's weights into the first's vector:
 * 12 of 16 lanes at work instead of 6.  Paired A/B in one binary, AVX-512,
 * Intel family 6 model 167, one thread: 1024 -> 256 at 14x14 x1.01,
 * 256 -> 1024 x1.02, 128 -> 512 x1.02, 2048 -> 512 x1.01; two threads
 * x1.00-1.01 */
#if defined(VMLOADM) && VL >= 2 * OCB
#define A2_TAIL_BPV 2
#else
#define A2_TAIL_BPV 1
#endif
#define A2_TAIL_MAXB (A2_TAIL_NB * A2_TAIL_BPV)  /* most blocks one tail call sums */
/* a2_conv1x1's tail call for group g of image n at pixel pp, blocks
 * [kb0, kb1), pixels at xt (channel stride xcs) */
#define A2_TAIL_CALL(kb0, kb1, xt, xcs, npx, pp)                                                  \
    NM(a2_tail1x1)(wp + g * nkb * Cg * OCB, Cg, Kg, kb0, kb1, xt, xcs, (int)(npx),                \
                   y + n * p->y_sn + g * Kg * p->y_sk + (pp), p->y_sk,                             \
                   res ? res + n * p->r_sn + g * Kg * p->r_sk + (pp) : NULL, p->r_sk,               \
                   bias ? bias + g * Kg : NULL, relu)
#if A2_TAIL_OK
/* sums of blocks [0, NB) (weights w + b*wbs, [c][OCB]) x pixels [0, NP)
 * (pixel p of channel c at x[c*xcs + p]) over nc channels, into acc
 * ([A2_TAIL_NB][A2_TAIL_PX][VL]): block b in vector b / A2_TAIL_BPV from
 * lane (b % A2_TAIL_BPV) * OCB */
AINLINE void NM(a2_tail_mk)(const int NB, const int NP, const T *w, int64_t wbs, const T *x,
                            int64_t xcs, int64_t nc, T *acc)
{
#define A2_TP(X, b) X(b, 0) X(b, 1) X(b, 2) X(b, 3)
#define A2_TALL(X) A2_TP(X, 0) A2_TP(X, 1) A2_TP(X, 2) A2_TP(X, 3) A2_TP(X, 4) A2_TP(X, 5)
#define A2_TZ(b, p) V s##b##p = VZERO();
    A2_TALL(A2_TZ)
#undef A2_TZ
    const VMASK_T m = VMRANGE(0, OCB, 0);
#if A2_TAIL_BPV == 2
    /* the second block's lanes [OCB, 2 * OCB), read from OCB values before
     * its channel's weights (within the buffer: the first block's) */
    const VMASK_T m2 = VMRANGE(OCB, 2 * OCB, 0);
#endif
    for (int64_t c = 0; c < nc; c++) {
        const T *xc = x + c * xcs;
        const V x0 = VSET1(xc[0]);
        const V x1 = NP > 1 ? VSET1(xc[1]) : x0;
        const V x2 = NP > 2 ? VSET1(xc[2]) : x0;
        const V x3 = NP > 3 ? VSET1(xc[3]) : x0;
#define A2_TF(b, p) if (NP > p) s##b##p = VFMA(w_, x##p, s##b##p);
#if A2_TAIL_BPV == 2
#define A2_TW2(b) if (NB > 2 * b + 1) w_ = VMLOADM(w_, w + (2 * b + 1) * wbs + (c - 1) * OCB, m2);
#else
#define A2_TW2(b)
#endif
#define A2_TB(b)                                                       \
        if (NB > A2_TAIL_BPV * b) {                                    \
            V w_ = VMLOAD(w + A2_TAIL_BPV * b * wbs + c * OCB, m);     \
            A2_TW2(b)                                                  \
            A2_TP(A2_TF, b)                                            \
        }
        A2_TB(0) A2_TB(1) A2_TB(2) A2_TB(3) A2_TB(4) A2_TB(5)
#undef A2_TB
#undef A2_TW2
#undef A2_TF
    }
#define A2_TS(b, p) if (NB > A2_TAIL_BPV * b && NP > p) VSTOREU(acc + (b * A2_TAIL_PX + p) * VL, s##b##p);
    A2_TALL(A2_TS)
#undef A2_TS
#undef A2_TALL
#undef A2_TP
}
typedef void (*NM(a2_tail_fn))(const T *, int64_t, const T *, int64_t, int64_t, T *);
#define A2_TDEF(nb, np)                                                                      \
    static void NM(a2_tail_##nb##_##np)(const T *w, int64_t wbs, const T *x, int64_t xcs,    \
                                        int64_t nc, T *acc)                                  \
    { NM(a2_tail_mk)(nb, np, w, wbs, x, xcs, nc, acc); }
#define A2_TROW(nb) A2_TDEF(nb, 1) A2_TDEF(nb, 2) A2_TDEF(nb, 3) A2_TDEF(nb, 4)
#define A2_TENT(nb) {NULL, NM(a2_tail_##nb##_1), NM(a2_tail_##nb##_2), NM(a2_tail_##nb##_3), \
                     NM(a2_tail_##nb##_4)}
A2_TROW(1) A2_TROW(2) A2_TROW(3) A2_TROW(4) A2_TROW(5) A2_TROW(6)
#if A2_TAIL_BPV == 2
A2_TROW(7) A2_TROW(8) A2_TROW(9) A2_TROW(10) A2_TROW(11) A2_TROW(12)
static const NM(a2_tail_fn) NM(a2_tailt)[A2_TAIL_MAXB + 1][5] = {
    {NULL}, A2_TENT(1), A2_TENT(2), A2_TENT(3), A2_TENT(4), A2_TENT(5), A2_TENT(6),
    A2_TENT(7), A2_TENT(8), A2_TENT(9), A2_TENT(10), A2_TENT(11), A2_TENT(12)};
#else
static const NM(a2_tail_fn) NM(a2_tailt)[A2_TAIL_MAXB + 1][5] = {
    {NULL}, A2_TENT(1), A2_TENT(2), A2_TENT(3), A2_TENT(4), A2_TENT(5), A2_TENT(6)};
#endif
#undef A2_TDEF
#undef A2_TROW
#undef A2_TENT

/* oc blocks [kb0, kb1) of group g (packed weights wg = the group's block
 * 0, Cg channels) for npx <= A2_TAIL_PX pixels (pixel p of channel c at
 * x[c*xcs + p]): the outputs at y (channel k at y + k*ysk, k counted from
 * the group's first), the fused epilogue in scalars, as the tile's */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))  /* out of the 1x1 driver: its other tiles' code stays as it was */
#endif
static void NM(a2_tail1x1)(const T *wg, int64_t Cg, int64_t Kg, int64_t kb0, int64_t kb1,
                           const T *x, int64_t xcs, int npx, T *y, int64_t ysk, const T *r,
                           int64_t rsk, const T *bias, int relu)
{
    T acc[A2_TAIL_NB * A2_TAIL_PX * VL];
    for (int64_t b0 = kb0; b0 < kb1; b0 += A2_TAIL_MAXB) {
        const int nb = (int)a2_min(A2_TAIL_MAXB, kb1 - b0);
        NM(a2_tailt)[nb][npx](wg + b0 * Cg * OCB, Cg * OCB, x, xcs, Cg, acc);
        for (int b = 0; b < nb; b++) {
            const int64_t k0 = a2_kfirst(Kg, b0 + b), mr = a2_kfirst(Kg, b0 + b + 1) - k0;
            const T *ab = acc + (b / A2_TAIL_BPV * A2_TAIL_PX) * VL + b % A2_TAIL_BPV * OCB;
            for (int64_t i = 0; i < mr; i++) {
                const int64_t k = k0 + i;
                for (int q = 0; q < npx; q++) {
                    T u = ab[q * VL + i];
                    if (bias) u = u + bias[k];
                    if (r) u = u + r[k * rsk + q];
                    if (relu) u = (T)0 > u ? (T)0 : u;  /* max(0, u) as VMAX: NaN stays */
                    y[k * ysk + q] = u;
                }
            }
        }
    }
}
#endif

/* ---- the 1x1 microkernel: MR (<= OCB) channels x NV (<= A2_NV1) vectors,
 * or the 8-row tile (MR = A2_MR8, NV <= 3: a2_mk8_use) ----
 * a: weights (broadcast), packed [c][OCB] ([c][A2_MR8] for the 8-row tile),
 * or with INP the caller's (K, Cg)
 * rows in place (row i of step c at a + i*e->lda + c); b: the tile's pixels of channel 0,
 * channel c at b + c*bcs.  The sums start from zero or from the partial sums
 * at ain ([OCB][A2_NV1][VL], written by an earlier input-channel chunk; never
 * for the 8-row tile, whose path runs whole reductions) and
 * end in aout (for a later chunk) or, when aout is NULL, in the fused
 * epilogue.  A partial sum round-trips through memory exactly, so chunking
 * the reduction gives the same bits as one pass.  The epilogue writes a contiguous run of e->nv <= NV*VL pixels per
 * channel.  A narrower NV serves a short last tile (14x14: 196 = 3*64 + 4
 * pixels costs 3 full tiles and one vector, not 4 full tiles). */
typedef struct {
    T *y;
    const T *r;        /* residual (same layout as y, stride rsk) or NULL */
    const T *bias;     /* bias of the tile's first channel, or NULL */
    int64_t ysk, rsk, nv;
    int64_t lda;       /* in-place weights (INP): row i of step c at a + i*lda + c */
    int relu;
    int64_t pfd;       /* with PF: each step fetches the line pfd bytes past its row into L2 */
    int64_t pfm, pfv;  /* ... the steps c with (c & pfm) == pfv only */
    int nts;           /* a whole tile's outputs by streaming stores (VSTREAM) */
    T *cpd;            /* with CP: step c's pixels are also stored at cpd + c * NR1 */
    int64_t sa, d2;    /* MSK: lanes [0, sa) of the tile at its pointers, lanes [sa, nv)
                        * d2 values further (a tile read where it lies, in two segments) */
} NM(a2_e1_t);

AINLINE void NM(a2_mk1x1)(const int MR, const int NV, const int INP, const int OFS, const int PF,
                          const int CP, const int MSK,
                          const T *a, const T *b,
                          int64_t nc, int64_t bcs, const int64_t *bo, const T *ain, T *aout,
                          const NM(a2_e1_t) *e)
{
    /* the sums live in named variables, not an array: with an array GCC
     * kept the AVX2 (16-register) tile in memory, a store per FMA */
#define A2_C4(i) V c##i##0 = VZERO(), c##i##1 = VZERO(), c##i##2 = VZERO(), c##i##3 = VZERO();
    A2_C4(0) A2_C4(1) A2_C4(2) A2_C4(3) A2_C4(4) A2_C4(5) A2_C4(6) A2_C4(7)
#undef A2_C4
    const int64_t ars = INP ? e->lda : 1, acs = INP ? 1 : MR > OCB ? A2_MR8 : OCB;
    if (ain) {
#define A2_IN(i, j) if (MR > i && NV > j) c##i##j = VLOADU(ain + (i * A2_NV1 + j) * VL);
#define A2_IN4(i) A2_IN(i, 0) A2_IN(i, 1) A2_IN(i, 2) A2_IN(i, 3)
        A2_IN4(0) A2_IN4(1) A2_IN4(2) A2_IN4(3) A2_IN4(4) A2_IN4(5) A2_IN4(6) A2_IN4(7)
#undef A2_IN4
#undef A2_IN
    }
#if defined(A2_MK1_PF) && A2_MK1_PF > 0
    /* unpacked tiles read NCHW rows straight from memory, one stream per
     * channel (too many for the hardware prefetcher): fetch the rows
     * A2_MK1_PF channels ahead, at fixed byte offsets from the row (so the
     * loop adds nothing for them: GCC otherwise chose between that and a
     * pointer of its own by what else the file held, x0.97 for the latter
     * on AVX-512 192 -> 64 at 28x28) */
    const int pfr = bcs > NR1;
    const int64_t pfo = A2_MK1_PF * bcs * (int64_t)sizeof(T);
#endif
    const int64_t pfd = PF ? e->pfd : 0, pfm = PF ? e->pfm : 0, pfv = PF ? e->pfv : 0;
    T *cpd = CP ? e->cpd : NULL;
    /* MSK: a partial tile read where it lies, under lane masks (masked
     * loads do not fault past them): lanes [0, sa) at b, [sa, nv) at b + d2 */
    const int64_t sa = MSK ? e->sa : 0, d2 = MSK ? e->d2 : 0, nve = MSK ? e->nv : 0;
    const VMASK_T ma0 = VMRANGE(0, sa, 0), mb0 = VMRANGE(sa, nve, 0);
    const VMASK_T ma1 = VMRANGE(0, sa, VL), mb1 = VMRANGE(sa, nve, VL);
    const VMASK_T ma2 = VMRANGE(0, sa, 2 * VL), mb2 = VMRANGE(sa, nve, 2 * VL);
    const VMASK_T ma3 = VMRANGE(0, sa, 3 * VL), mb3 = VMRANGE(sa, nve, 3 * VL);
    (void)ma0; (void)ma1; (void)ma2; (void)ma3; (void)mb0; (void)mb1; (void)mb2; (void)mb3;
    for (int64_t c = 0; c < nc; c++) {
        if (PF && (c & pfm) == pfv) _mm_prefetch((const char *)b + pfd, _MM_HINT_T1);
#if defined(A2_MK1_PF) && A2_MK1_PF > 0
        if (pfr) {
            const char *bq = (const char *)b + pfo;
            _mm_prefetch(bq, _MM_HINT_T0);
            if (NV > 1) _mm_prefetch(bq + VL * sizeof(T), _MM_HINT_T0);
            if (NV > 2) _mm_prefetch(bq + 2 * VL * sizeof(T), _MM_HINT_T0);
            if (NV > 3) _mm_prefetch(bq + 3 * VL * sizeof(T), _MM_HINT_T0);
        }
#endif
        const T *bp = OFS ? b + bo[c] : b;
        const V x0 = MSK ? VMLOAD2(bp, ma0, bp + d2, mb0) : VLOADU(bp);
        const V x1 = NV > 1 ? (MSK ? VMLOAD2(bp + VL, ma1, bp + d2 + VL, mb1) : VLOADU(bp + VL)) : x0;
        const V x2 = NV > 2 ? (MSK ? VMLOAD2(bp + 2 * VL, ma2, bp + d2 + 2 * VL, mb2)
                                   : VLOADU(bp + 2 * VL)) : x0;
        const V x3 = NV > 3 ? (MSK ? VMLOAD2(bp + 3 * VL, ma3, bp + d2 + 3 * VL, mb3)
                                   : VLOADU(bp + 3 * VL)) : x0;
        if (CP) {   /* the pixels into the panel too (a whole tile's) */
            VSTOREU(cpd, x0);
            if (NV > 1) VSTOREU(cpd + VL, x1);
            if (NV > 2) VSTOREU(cpd + 2 * VL, x2);
            if (NV > 3) VSTOREU(cpd + 3 * VL, x3);
            cpd += NR1;
        }
#define A2_ROW(i)                                              \
        if (MR > i) {                                          \
            const V w_ = VBCAST(a + i * ars);                  \
            c##i##0 = VFMA(w_, x0, c##i##0);                   \
            if (NV > 1) c##i##1 = VFMA(w_, x1, c##i##1);       \
            if (NV > 2) c##i##2 = VFMA(w_, x2, c##i##2);       \
            if (NV > 3) c##i##3 = VFMA(w_, x3, c##i##3);       \
        }
        A2_ROW(0) A2_ROW(1) A2_ROW(2) A2_ROW(3) A2_ROW(4) A2_ROW(5) A2_ROW(6) A2_ROW(7)
#undef A2_ROW
        a += acs;
        if (!OFS) b += bcs;
    }
    if (!aout && !MSK && e->nv == NV * VL) {
        /* a whole tile: the fused epilogue straight from the registers.
         * The general one below parks the sums in an array first, 13 % of
         * the kernel's time on a 64-channel reduction (AVX2, 64 -> 256 at
         * 56x56: x1.11, 192 -> 64 x1.05, paired A/B) */
        T *yr = e->y;
        const T *rr = e->r, *bs = e->bias;
        const int64_t ysk = e->ysk, rsk = e->rsk;
        const V z = VZERO();  /* max(0, NaN) = NaN */
        /* one test per step over all sums, not three per vector: the
         * per-vector tests cost 72 branches a call (AVX-512 1x1, 6 x 4
         * vectors); the same operations in the same order per sum */
#define A2_FE4(i, OP) OP(i, 0) OP(i, 1) OP(i, 2) OP(i, 3)
#define A2_FEALL(OP) A2_FE4(0, OP) A2_FE4(1, OP) A2_FE4(2, OP) A2_FE4(3, OP) A2_FE4(4, OP) \
                     A2_FE4(5, OP) A2_FE4(6, OP) A2_FE4(7, OP)
#define A2_FB(i, j) if (MR > i && NV > j) c##i##j = VADD(c##i##j, VSET1(bs[i]));
#define A2_FR(i, j) if (MR > i && NV > j) c##i##j = VADD(c##i##j, VLOADU(rr + i * rsk + j * VL));
#define A2_FL(i, j) if (MR > i && NV > j) c##i##j = VMAX(z, c##i##j);
#ifdef VSTREAM
#define A2_FS(i, j) if (MR > i && NV > j) { if (e->nts) VSTREAM(yr + i * ysk + j * VL, c##i##j); \
                                            else VSTOREU(yr + i * ysk + j * VL, c##i##j); }
#else
#define A2_FS(i, j) if (MR > i && NV > j) VSTOREU(yr + i * ysk + j * VL, c##i##j);
#endif
        if (bs) { A2_FEALL(A2_FB) }
        if (rr) { A2_FEALL(A2_FR) }
        if (e->relu) { A2_FEALL(A2_FL) }
        A2_FEALL(A2_FS)
#undef A2_FB
#undef A2_FR
#undef A2_FL
#undef A2_FS
#undef A2_FEALL
#undef A2_FE4
        return;
    }
    V acc[A2_MRMAX][A2_NV1];
#define A2_OUT(i, j) if (MR > i && j < A2_NV1) acc[i % A2_MRMAX][j % A2_NV1] = c##i##j;
#define A2_OUT4(i) A2_OUT(i, 0) A2_OUT(i, 1) A2_OUT(i, 2) A2_OUT(i, 3)
    A2_OUT4(0) A2_OUT4(1) A2_OUT4(2) A2_OUT4(3) A2_OUT4(4) A2_OUT4(5) A2_OUT4(6) A2_OUT4(7)
#undef A2_OUT4
#undef A2_OUT
    if (aout) {
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NV; j++) VSTOREU(aout + (i * A2_NV1 + j) * VL, acc[i][j]);
        return;
    }
    const V z = VZERO();  /* max(0, NaN) = NaN */
    const int64_t nv = e->nv;
    if (MSK) {   /* the sums to both segments' places */
        for (int i = 0; i < MR; i++) {
            T *yr = e->y + i * e->ysk;
            const T *rr = e->r ? e->r + i * e->rsk : NULL;
            const V vb = e->bias ? VSET1(e->bias[i]) : z;
            for (int j = 0; j < NV; j++) {
                const VMASK_T ma = VMRANGE(0, sa, j * VL), mb = VMRANGE(sa, nv, j * VL);
                V u = e->bias ? VADD(acc[i][j], vb) : acc[i][j];
                if (rr) u = VADD(u, VMLOAD2(rr + j * VL, ma, rr + d2 + j * VL, mb));
                if (e->relu) u = VMAX(z, u);
                VMSTORE(yr + j * VL, ma, u);
                VMSTORE(yr + d2 + j * VL, mb, u);
            }
        }
        return;
    }
    for (int i = 0; i < MR; i++) {
        T *yr = e->y + i * e->ysk;
        const T *rr = e->r ? e->r + i * e->rsk : NULL;
        const V vb = e->bias ? VSET1(e->bias[i]) : z;
        for (int j = 0; j < NV; j++) {
            V u = e->bias ? VADD(acc[i][j], vb) : acc[i][j];
            if (nv >= (j + 1) * VL) {
                if (rr) u = VADD(u, VLOADU(rr + j * VL));
                if (e->relu) u = VMAX(z, u);
                VSTOREU(yr + j * VL, u);
            } else if (nv > j * VL) {
                const VMASK_T m = VMRANGE(0, nv, j * VL);
                if (rr) u = VADD(u, VMLOAD(rr + j * VL, m));
                if (e->relu) u = VMAX(z, u);
                VMSTORE(yr + j * VL, m, u);
            }
        }
    }
}

typedef void (*NM(a2_mk1x1_fn))(const T *, const T *, int64_t, int64_t, const T *, T *,
                                const NM(a2_e1_t) *);
/* the kernels a2_<pfx>_<inp>_<nv>_<mr> of one family (flags INPF, PF, MSK of
 * a2_mk1x1), a row of them for mr = 1..OCB, and the row's table entry */
#define A2_MKVDEF(pfx, inp, nv, mr, INPF, PF, MSK)                                             \
    static void NM(a2_##pfx##_##inp##_##nv##_##mr)(const T *a, const T *b, int64_t nc,        \
                                                   int64_t bcs, const T *ain, T *aout,         \
                                                   const NM(a2_e1_t) *e)                       \
    { NM(a2_mk1x1)(mr, nv, INPF, 0, PF, 0, MSK, a, b, nc, bcs, NULL, ain, aout, e); }
#define A2_MKVROW(pfx, inp, nv, INPF, PF, MSK)                                                  \
    A2_MKVDEF(pfx, inp, nv, 1, INPF, PF, MSK) A2_MKVDEF(pfx, inp, nv, 2, INPF, PF, MSK)         \
    A2_MKVDEF(pfx, inp, nv, 3, INPF, PF, MSK) A2_MKVDEF(pfx, inp, nv, 4, INPF, PF, MSK)         \
    A2_MKVDEF(pfx, inp, nv, 5, INPF, PF, MSK) A2_MKVDEF(pfx, inp, nv, 6, INPF, PF, MSK)
#define A2_MKVENT(pfx, inp, nv)                                                                  \
    {NULL, NM(a2_##pfx##_##inp##_##nv##_1), NM(a2_##pfx##_##inp##_##nv##_2),                     \
     NM(a2_##pfx##_##inp##_##nv##_3), NM(a2_##pfx##_##inp##_##nv##_4),                           \
     NM(a2_##pfx##_##inp##_##nv##_5), NM(a2_##pfx##_##inp##_##nv##_6)}
#define A2_MK1ROW(inp, nv) A2_MKVROW(mk1x1, inp, nv, (inp) & 1, (inp) >> 1, 0)
#define A2_MK1ENT(inp, nv) A2_MKVENT(mk1x1, inp, nv)
/* [inp][vectors][channels], inp = weights in place (INP) + 2 * L2 fetch of
 * the next tile (PF, whole tiles only: the direct path's); A2_MK1ROW splits
 * inp into the two flags */
A2_MK1ROW(0, 1) A2_MK1ROW(0, 2) A2_MK1ROW(1, 1) A2_MK1ROW(1, 2)
#if A2_NV1 == 4
A2_MK1ROW(0, 3) A2_MK1ROW(0, 4) A2_MK1ROW(1, 3) A2_MK1ROW(1, 4)
A2_MK1ROW(2, 4) A2_MK1ROW(3, 4)
#define A2_MK1T(inp) {{NULL}, A2_MK1ENT(inp, 1), A2_MK1ENT(inp, 2), A2_MK1ENT(inp, 3), A2_MK1ENT(inp, 4)}
#define A2_MK1TPF(inp) {{NULL}, {NULL}, {NULL}, {NULL}, A2_MK1ENT(inp, 4)}
#elif A2_NV1 == 2
A2_MK1ROW(2, 2) A2_MK1ROW(3, 2)
#define A2_MK1T(inp) {{NULL}, A2_MK1ENT(inp, 1), A2_MK1ENT(inp, 2)}
#define A2_MK1TPF(inp) {{NULL}, {NULL}, A2_MK1ENT(inp, 2)}
#else
#error "A2_NV1 must be 2 or 4"
#endif
/* a whole tile read in place that also copies its rows into the panel
 * (CP): the panel path's first oc block.  [inp][channels] */
#define A2_MK1CDEF(inp, mr)                                                                  \
    static void NM(a2_mk1cp_##inp##_##mr)(const T *a, const T *b, int64_t nc, int64_t bcs,    \
                                          const T *ain, T *aout, const NM(a2_e1_t) *e)        \
    { NM(a2_mk1x1)(mr, A2_NV1, inp, 0, 0, 1, 0, a, b, nc, bcs, NULL, ain, aout, e); }
#define A2_MK1CROW(inp) A2_MK1CDEF(inp, 1) A2_MK1CDEF(inp, 2) A2_MK1CDEF(inp, 3) \
                        A2_MK1CDEF(inp, 4) A2_MK1CDEF(inp, 5) A2_MK1CDEF(inp, 6)
#define A2_MK1CENT(inp) {NULL, NM(a2_mk1cp_##inp##_1), NM(a2_mk1cp_##inp##_2),                   \
                         NM(a2_mk1cp_##inp##_3), NM(a2_mk1cp_##inp##_4), NM(a2_mk1cp_##inp##_5), \
                         NM(a2_mk1cp_##inp##_6)}
A2_MK1CROW(0) A2_MK1CROW(1)
static const NM(a2_mk1x1_fn) NM(a2_mk1cpt)[2][OCB + 1] = {A2_MK1CENT(0), A2_MK1CENT(1)};
#undef A2_MK1CDEF
#undef A2_MK1CROW
#undef A2_MK1CENT
/* a partial tile read where it lies, under lane masks (MSK), with the L2
 * fetch of the next tile (PF; e->pfm, e->pfv select no step where it has
 * none): [inp][vectors][channels] */
#define A2_MK1MROW(inp, nv) A2_MKVROW(mk1m, inp, nv, inp, 1, 1)
#define A2_MK1MENT(inp, nv) A2_MKVENT(mk1m, inp, nv)
A2_MK1MROW(0, 1) A2_MK1MROW(0, 2) A2_MK1MROW(1, 1) A2_MK1MROW(1, 2)
#if A2_NV1 == 4
A2_MK1MROW(0, 3) A2_MK1MROW(0, 4) A2_MK1MROW(1, 3) A2_MK1MROW(1, 4)
#define A2_MK1MT(inp) {{NULL}, A2_MK1MENT(inp, 1), A2_MK1MENT(inp, 2), A2_MK1MENT(inp, 3), \
                       A2_MK1MENT(inp, 4)}
#else
#define A2_MK1MT(inp) {{NULL}, A2_MK1MENT(inp, 1), A2_MK1MENT(inp, 2)}
#endif
static const NM(a2_mk1x1_fn) NM(a2_mk1mt)[2][A2_NV1 + 1][OCB + 1] = {A2_MK1MT(0), A2_MK1MT(1)};
#undef A2_MK1MROW
#undef A2_MK1MENT
#undef A2_MK1MT
static const NM(a2_mk1x1_fn) NM(a2_mk1x1t)[4][A2_NV1 + 1][OCB + 1] = {
    A2_MK1T(0), A2_MK1T(1), A2_MK1TPF(2), A2_MK1TPF(3)};
#undef A2_MK1T
#undef A2_MK1TPF
#undef A2_MK1ROW
#undef A2_MK1ENT
#undef A2_MKVDEF
#undef A2_MKVROW
#undef A2_MKVENT

#if A2_MK8
/* the 8-row tile: [weights in place][vectors] */
#define A2_MK8DEF(inp, nv)                                                                   \
    static void NM(a2_mk8_##inp##_##nv)(const T *a, const T *b, int64_t nc, int64_t bcs,      \
                                        const T *ain, T *aout, const NM(a2_e1_t) *e)          \
    { NM(a2_mk1x1)(A2_MR8, (nv) & 3, (inp) & 1, 0, (inp) >> 1, 0, 0, a, b, nc, bcs, NULL, ain, aout, e); }
A2_MK8DEF(0, 1) A2_MK8DEF(0, 2) A2_MK8DEF(0, 3) A2_MK8DEF(1, 1) A2_MK8DEF(1, 2) A2_MK8DEF(1, 3)
A2_MK8DEF(2, 3) A2_MK8DEF(3, 3)
static const NM(a2_mk1x1_fn) NM(a2_mk8t)[4][4] = {
    {NULL, NM(a2_mk8_0_1), NM(a2_mk8_0_2), NM(a2_mk8_0_3)},
    {NULL, NM(a2_mk8_1_1), NM(a2_mk8_1_2), NM(a2_mk8_1_3)},
    {NULL, NULL, NULL, NM(a2_mk8_2_3)}, {NULL, NULL, NULL, NM(a2_mk8_3_3)}};
/* ... a partial tile under lane masks, as a2_mk1mt: [inp][vectors] */
#define A2_MK8MDEF(inp, nv)                                                                  \
    static void NM(a2_mk8m_##inp##_##nv)(const T *a, const T *b, int64_t nc, int64_t bcs,     \
                                         const T *ain, T *aout, const NM(a2_e1_t) *e)         \
    { NM(a2_mk1x1)(A2_MR8, nv, inp, 0, 1, 0, 1, a, b, nc, bcs, NULL, ain, aout, e); }
A2_MK8MDEF(0, 1) A2_MK8MDEF(0, 2) A2_MK8MDEF(0, 3) A2_MK8MDEF(1, 1) A2_MK8MDEF(1, 2) A2_MK8MDEF(1, 3)
static const NM(a2_mk1x1_fn) NM(a2_mk8mt)[2][4] = {
    {NULL, NM(a2_mk8m_0_1), NM(a2_mk8m_0_2), NM(a2_mk8m_0_3)},
    {NULL, NM(a2_mk8m_1_1), NM(a2_mk8m_1_2), NM(a2_mk8m_1_3)}};
#undef A2_MK8MDEF
#undef A2_MK8DEF
#endif

/* the same tile reading step c's pixels at b + bo[c] (the KxK panel path's
 * tiles within one output row, straight from the prepared band) */
typedef void (*NM(a2_mk1o_fn))(const T *, const T *, int64_t, const int64_t *, const NM(a2_e1_t) *);
#define A2_MK1ODEF(nv, mr)                                                                   \
    static void NM(a2_mk1o_##nv##_##mr)(const T *a, const T *b, int64_t nc, const int64_t *bo, \
                                        const NM(a2_e1_t) *e)                                 \
    { NM(a2_mk1x1)(mr, nv, 0, 1, 0, 0, 0, a, b, nc, 0, bo, NULL, NULL, e); }
#define A2_MK1OROW(nv) A2_MK1ODEF(nv, 1) A2_MK1ODEF(nv, 2) A2_MK1ODEF(nv, 3) A2_MK1ODEF(nv, 4) \
    A2_MK1ODEF(nv, 5) A2_MK1ODEF(nv, 6)
#define A2_MK1OENT(nv) {NULL, NM(a2_mk1o_##nv##_1), NM(a2_mk1o_##nv##_2), NM(a2_mk1o_##nv##_3), \
                        NM(a2_mk1o_##nv##_4), NM(a2_mk1o_##nv##_5), NM(a2_mk1o_##nv##_6)}
A2_MK1OROW(1) A2_MK1OROW(2)
static const NM(a2_mk1o_fn) NM(a2_mk1ot)[3][OCB + 1] = {{NULL}, A2_MK1OENT(1), A2_MK1OENT(2)};
#undef A2_MK1ODEF
#undef A2_MK1OROW
#undef A2_MK1OENT

/* d[c][0..NR1) = the nv pixels at s + c*sc (c < nc), zeros past nv: one
 * tile's panel.  A partial tile moves by masked vectors (masked-off lanes
 * read nothing): a value at a time, the 4-pixel tail of a 14x14 image with
 * 1024 channels cost as much as a third of a full tile */
static void NM(a2_tile_copy)(T *d, const T *s, int64_t sc, int64_t nc, int64_t nv)
{
    for (int64_t c = 0; c < nc; c++, d += NR1, s += sc) {
        if (nv == NR1) {
            for (int v = 0; v < A2_NV1; v++) VSTOREU(d + v * VL, VLOADU(s + v * VL));
        } else {
            for (int v = 0; v < A2_NV1; v++)
                VSTOREU(d + v * VL, VMLOAD(s + v * VL, VMRANGE(0, nv, v * VL)));
        }
    }
}

/* prefetch the NR1-pixel output lines of oc block kb (its rows: blocks
 * differ in size) for a tile whose block starting at channel k0 writes at y */
static inline void NM(a2_ypf)(const T *y, int64_t ysk, int64_t Kg, int64_t k0, int64_t kb)
{
    const int64_t f0 = a2_kfirst(Kg, kb), f1 = a2_kfirst(Kg, kb + 1);
    const T *yf = y + (f0 - k0) * ysk;
    for (int64_t i = 0; i < f1 - f0; i++) {
        const char *yq = (const char *)(yf + i * ysk);
        _mm_prefetch(yq, _MM_HINT_T0);
        _mm_prefetch(yq + NR1 * sizeof(T) - 1, _MM_HINT_T0);
    }
}

/* ---- 1x1 unpadded convolution: GEMM over packed pixel panels ---- */
static int NM(a2_conv1x1)(const cconv_conv_params *p, const T *x, const T *wp, const T *bias,
                          const T *res, T *y, int nthreads)
{
    const int64_t G = p->w.groups, Cg = p->w.Cg, Kg = p->w.K / G, nkb = a2_cdiv(Kg, OCB);
    const int64_t Do = p->out[0], Ho = p->out[1], Wo = p->out[2], P = Do * Ho * Wo;
    const int64_t H = p->in[1], W = p->in[2];
    const int64_t sd = p->stride[0], sh = p->stride[1], sw = p->stride[2];
    const int unit = sd == 1 && sh == 1 && sw == 1;
    const int relu = p->activation == CCONV_ACT_RELU;
    const int64_t ntiles = a2_cdiv(P, NR1);
    /* tiles per panel: the panel Cg x (nsub*NR1) stays within the L2 budget */
    int64_t nsub = PANEL_BUDGET / (a2_max(Cg, 1) * NR1 * (int64_t)sizeof(T));
    nsub = a2_max(1, a2_min(nsub, 16));
    int64_t npb = a2_cdiv(ntiles, nsub);
    const double work = (double)p->N * p->w.K * Cg * P;
    const int nt = cconv_threads_for(nthreads, work, p->N * G * ntiles * nkb);
    if (nt > 1) {
        /* balance: equal panels, a multiple of nt of them where possible */
        int64_t base = p->N * G * npb;
        if (base % nt && base < 8 * nt) {
            int64_t npb2 = npb * a2_balance(base, nt, 64);
            if (npb2 <= ntiles) npb = npb2;
        }
    }
    const int64_t tpp = a2_cdiv(ntiles, npb);     /* max tiles per panel */
    npb = a2_cdiv(ntiles, tpp);
    /* a last panel of only a few pixels (the tail kernel's) joins the one
     * before it, where the panels stay a multiple of the threads: on its
     * own it streamed every block's weights once more for those pixels
     * (1024 -> 256 at 14x14: 196 = 3 * 64 + 4) */
    const int inplace = (p->w.flags & CCONV_PACK_IN_PLACE_1X1) != 0;
    /* a last tile of a few pixels runs the tail kernel (packed weights) */
    const int tail = A2_TAIL_OK && !inplace;
    const int merged = tail && npb > 1
                       && P - (npb - 1) * tpp * NR1 <= A2_TAIL_PX && (p->N * G * (npb - 1)) % nt == 0;
    if (merged) npb--;
    const int64_t tmax = tpp + merged;            /* most tiles in a panel (the last) */
    int64_t nkc = 1;
    if (nt > 1 && p->N * G * npb < 2 * nt) nkc = a2_min(nkb, a2_cdiv(2 * nt, p->N * G * npb));
    const int64_t tasks = p->N * G * npb * nkc;
    const int64_t nkbt = a2_cdiv(nkb, nkc);       /* most oc blocks per task */
    /* input-channel chunks: fixed by Cg alone (never by the thread count) */
    /* unpacked tiles: few oc blocks, all channels of a tile within L1; or
     * input rows that start on cache lines (every tile load whole lines, none
     * split), at least A2_ALIGNED_MIN_C channels and at most A2_ALIGNED_NKB
     * oc blocks: the tiles read the rows where they are and no panel copy
     * stands between the input stream and the FMAs */
    const int64_t tsz = (int64_t)sizeof(T);
    /* rows a whole number of cache lines apart from a base that is not on
     * one (NumPy's allocations start 16 or 32 bytes into a line): the first
     * hd pixels of every row run in one tile with the row's last few, so
     * every whole tile starts on a line, as on an aligned base (and the
     * tiles are as many).  The tiles change, not the sums: each output adds
     * the same products in the same order.  Intel family 6 model 167, input
     * and output 16 or 32 bytes into a line (as conv() allocates the output)
     * against both aligned, before -> after, one thread: 256 -> 64 at 56x56
     * x0.84 -> x0.98-0.99 (batch 8 x0.85 -> x1.00-1.02), 192 -> 64 at 28x28
     * x0.86 -> x1.01-1.03, 512 -> 128 at 28x28 x0.89 -> x1.00; two threads
     * x0.88-0.93 -> x0.92-1.02 (the head alone in its tile: one thread
     * x0.95-0.99) */
    const int64_t xmis = (int64_t)((uintptr_t)x % 64);
    const int lined = (p->x_sc * tsz) % 64 == 0 && (p->N == 1 || (p->x_sn * tsz) % 64 == 0);
    const int64_t hd = unit && lined && xmis % tsz == 0 && (P * tsz) % 64 == 0
                       && (64 - xmis) / tsz < P ? (64 - xmis) % 64 / tsz : 0;
    const int aligned = lined && (xmis == 0 || hd > 0);
    const double xbytes = (double)p->N * p->C * P * tsz;   /* the input's */
    const int inset = A2_ALIGNED_SET_LINES == 0
                      || a2_lines_per_set(Cg, p->x_sc * tsz) <= A2_ALIGNED_SET_LINES;
    /* the 8-row tile fits the layer (past A2_MK8_KMAX outputs: on one
     * thread, from A2_MK8_MINC1 channels, inputs of up to A2_MK8_BYTES1) */
    const int mk8ok = NM(a2_mk8_use)(&p->w)
                      && (Kg <= A2_MK8_KMAX
                          || (nt == 1 && Cg >= A2_MK8_MINC1 && xbytes <= A2_MK8_BYTES1));
    const int direct = unit && ((nkb <= A2_DIRECT_NKB && Cg * NR1 * tsz <= A2_DIRECT_BYTES)
                                || (aligned && inset && nkb <= A2_ALIGNED_NKB
                                    && Cg >= A2_ALIGNED_MIN_C)
                                || (mk8ok && Kg / A2_MR8 <= A2_DIRECT_NKB
                                    && Cg * NR8 * tsz <= A2_DIRECT_BYTES));
    /* the panel path reads its tiles from the panel, so what a misaligned
     * base costs it is the stores: an output whose rows are a whole number
     * of cache lines apart from a base that is not runs its first hy pixels
     * as a call of their own, then the rest from a base on a line.  One
     * thread, Intel family 6 model 167, output 16 bytes into a line: 64 ->
     * 256 at 56x56 x0.92 -> x0.98-1.00 against aligned */
    if (unit && !direct) {
        const int64_t ymis = (int64_t)((uintptr_t)y % 64);
        const int ylined = (p->y_sk * tsz) % 64 == 0 && (p->N == 1 || (p->y_sn * tsz) % 64 == 0);
        const int64_t hy = ylined && ymis % tsz == 0 ? (64 - ymis) % 64 / tsz : 0;
        if (hy > 0 && hy < P) {
            cconv_conv_params q = *p;   /* the pixels as one row: unit stride, 1x1 */
            q.in[0] = q.in[1] = q.out[0] = q.out[1] = 1;
            q.in[2] = q.out[2] = hy;
            const int rc = NM(a2_conv1x1)(&q, x, wp, bias, res, y, nthreads);
            if (rc != CCONV_OK) return rc;
            q.in[2] = q.out[2] = P - hy;
            return NM(a2_conv1x1)(&q, x + hy, wp, bias, res ? res + hy : NULL, y + hy, nthreads);
        }
    }
    /* loop order: oc-block-outer when one block's weights are large, or
     * when so many oc blocks share the L2 weight budget that the channel
     * chunks would be short (256 -> 1024: 29 channels a chunk, a partial-sum
     * round trip every 29 steps) */
    const int64_t cbw = A2_WCHUNK / (nkb * OCB * (int64_t)sizeof(T));
    const int kbo = Cg * OCB * (int64_t)sizeof(T) > A2_KBO_BYTES
                    || (cbw < A2_MIN_CHUNK && Cg > cbw);
    const int64_t nch = kbo ? 1 : a2_cdiv(a2_max(Cg, 1), a2_max(1, a2_min(A2_C1CHUNK, cbw)));
    const int64_t cb = a2_cdiv(a2_max(Cg, 1), nch);
    /* weights of group g, oc block kb (first channel k0) from input channel c0 */
#define A2_W1(g, kb, k0, c0) (inplace ? wp + ((g) * Kg + (k0)) * Cg + (c0) \
                                      : wp + (((g) * nkb + (kb)) * Cg + (c0)) * OCB)
    const NM(a2_mk1x1_fn)(*mk1)[OCB + 1] = NM(a2_mk1x1t)[inplace];
    const NM(a2_mk1x1_fn)(*mkpf)[OCB + 1] = NM(a2_mk1x1t)[2 + inplace];
    /* the direct path's 8-row tiles (a2_mk8_use): blocks of A2_MR8 channels,
     * tiles of NR8 pixels, weights in place or packed after the 6-row ones */
#if A2_MK8
    const int mk8 = direct && mk8ok;
    /* block (g, kb) at w8 + k * Cg, k = g * Kg + kb * A2_MR8, in both layouts */
    const T *w8 = inplace ? wp : wp + NM(a2_mk8_offset)(&p->w);
#else
    const int mk8 = 0;
#endif
    /* the direct path's tile width and oc blocks */
    const int64_t tw = mk8 ? NR8 : NR1, nkd = mk8 ? Kg / A2_MR8 : nkb;
    /* tiles read in place fetch the next tile's rows into L2: the first
     * block pass over fresh rows otherwise waits on them, too many streams
     * for the hardware prefetcher.  Paired A/B, Intel family 6 model 167,
     * one thread: 256 -> 64 at 56x56 batch 8 x1.04-1.06 (float64 x1.12),
     * batch 1 x1.01-1.03, 512 -> 128 at 28x28 x1.00-1.04.  Only for inputs
     * too large to stay in L2 (192 -> 64 to 384 -> 64 at 28x28, 0.6-1.2 MB:
     * x0.94-0.97, fetching lines already there), with enough block passes
     * to spread the fetch over, and on one thread (two threads, batch 8:
     * x0.98, the two cores already share the memory bandwidth).  The 8-row
     * tiles fetch on cache-line-aligned rows only: 256 -> 32 at 56x56
     * x1.05-1.14 against no fetch, 512 -> 32 at 28x28 x1.07-1.18, where on
     * misaligned rows (a tile's row spans 4 lines, 2 passes fetch 2) 96 -> 16
     * at 55x55 batch 8 lost, x0.96-0.97 */
    const int l2pf = A2_MK1_L2PF && direct && nt == 1
                     && (mk8 ? aligned : nkb >= A2_MK1_L2PF_NKB)
                     && xbytes >= A2_MK1_L2PF_MIN_BYTES;
    const int spread = l2pf && A2_MK1_L2PF_SPREAD > 0 && p->x_sc * tsz >= A2_MK1_L2PF_SPREAD;
    /* the panel path's whole tiles on output rows a whole number of cache
     * lines apart: streaming stores (each tile's own base checked), for
     * few input channels (many outputs a FLOP) and outputs too large to
     * stay in the caches, where the stores' line reads took half the memory
     * traffic */
#ifdef VSTREAM
    const int ntst = A2_NT_BYTES > 0 && !direct && Cg <= A2_NT_MAXC
                     && (double)p->N * p->w.K * P * tsz >= A2_NT_BYTES
                     && (p->y_sk * tsz) % 64 == 0 && (p->N == 1 || (p->y_sn * tsz) % 64 == 0);
#else
    const int ntst = 0;
#endif
    /* a thread fetches the input rows of its next task into L2 while it
     * runs one, and (panels, chunk-outer) the output rows the next task
     * writes unless they are streamed (A2_TASK_L2PF): for calls whose input
     * and output exceed what the caches keep, and on one thread for inputs
     * that do not stay in L2.  Its next task is taken to be task + nt, the
     * one the dynamic schedule hands it while the tasks take equal times.
     * The direct path's tiles that fetch the next tile (l2pf) do not */
    const int tfetch = A2_TASK_L2PF && unit
                       && (xbytes + (double)p->N * p->w.K * P * tsz >= A2_TASK_L2PF_BYTES
                           || (nt == 1 && xbytes >= A2_MK1_L2PF_MIN_BYTES));
    const int pwx = tfetch && (direct ? !l2pf : !kbo);
    const int pwy = pwx && !direct && !ntst;
    int failed = 0;

#ifdef _OPENMP
#pragma omp parallel num_threads(nt) reduction(| : failed)
#endif
    {
        cconv_fpstate fps = cconv_fpenv_enter();
        /* the panel path's panel (the direct path reads every tile in place) */
        T *panel = direct ? NULL : (T *)cconv_scratch_alloc(sizeof(T) * (size_t)(tmax * NR1 * a2_max(Cg, 1)));
        int64_t *idx = unit ? NULL : (int64_t *)cconv_scratch_alloc(sizeof(int64_t) * (size_t)(tmax * NR1));
        T *accb = nch > 1 ? (T *)cconv_scratch_alloc(sizeof(T) * (size_t)(tmax * nkbt * OCB * NR1)) : NULL;
        NM(a2_e1_t) ep;
        ep.ysk = p->y_sk; ep.rsk = p->r_sk; ep.relu = relu;
        ep.pfm = ep.pfv = 0;
        ep.nts = 0;
        ep.cpd = NULL;
        ep.sa = ep.d2 = 0;
        ep.lda = Cg;
        const int ok = (direct || panel) && (unit || idx) && (nch <= 1 || accb);
        if (!ok) failed = 1;
        {
            /* dynamic: a thread slowed down (shared core) does fewer tasks;
             * every task computes whole outputs, so which thread runs it
             * never changes a result.  nowait: the region's end is the
             * barrier (libgomp's loop barrier costs a futex call even on
             * one thread, ~0.15 us of a ~1.5 us call; the kernels' other
             * task loops do the same) */
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1) nowait
#endif
            for (int64_t task = 0; task < tasks; task++) {
                if (!ok) continue;
                int64_t kc, pb, g, n;
                a2_task_split(task, nkc, npb, G, &kc, &pb, &g, &n);
                /* the next task's (task + nt): its image, group and panel */
                int64_t pb2 = -1, g2 = 0, n2 = 0, kc2;
                if (pwx && task + nt < tasks) a2_task_split(task + nt, nkc, npb, G, &kc2, &pb2, &g2, &n2);
                const T *const xg2 = x + n2 * p->x_sn + g2 * Cg * p->x_sc;
                int64_t tl0, tl1;
                a2_panel_tiles(pb, npb, tpp, ntiles, &tl0, &tl1);
                const int64_t ntl = tl1 - tl0;
                const int64_t px0 = tl0 * NR1, npx = a2_min(P, tl1 * NR1) - px0;
                const T *xg = x + n * p->x_sn + g * Cg * p->x_sc;
                if (direct) {
                    /* few oc blocks (packing would cost as much as it
                     * saves), aligned rows, or the 8-row tile: run the tiles
                     * straight from the input rows, a partial one under lane
                     * masks (a2_mk1mt, a2_mk8mt).  Fresh rows cost 15-30 %: a
                     * kernel harness (256 -> 64 at 56x56, batch 8, Intel
                     * family 6 model 167) ran 116-137 GFLOP/s over the
                     * image's tiles, 157-164 over one tile again and again,
                     * 139-154 with the L2 fetch (l2pf above).  For its 64
                     * outputs (11 blocks of 6 rows) 8 x 3 or 4 x 6 tiles lost
                     * (x0.87-0.96) */
                    /* tiles of tw pixels; after a head, tile 0 holds the
                     * row's last tl pixels and then the head's hd (as many
                     * vectors as the aligned layout's partial tile: P and
                     * the lines' tw are multiples of a line), read and
                     * written in two masked segments P apart, the rest whole
                     * tiles from pixel hd on.  Before, that tile and a
                     * partial last one were copied to a panel and the head
                     * tile's outputs scattered from a buffer (paired A/B,
                     * Intel family 6 model 167, one thread, input 16 bytes
                     * into a line: 256 -> 64 at 56x56 batch 8 x1.03-1.04,
                     * 512 -> 64 at 28x28 batch 8 x1.04, batch 1 and 28x28
                     * layers x0.99-1.015; two threads, float64 and AVX2
                     * x1.00-1.01).  The same bits */
                    const int64_t tl = hd ? (P - hd) % tw : 0;
                    const int64_t nd = hd ? 1 + (P - hd) / tw : a2_cdiv(P, tw);
                    const int even = mk8 || hd;   /* an even split of the nd tiles */
                    int64_t j0 = tl0, j1 = tl1;
                    if (even) a2_even_tiles(pb, npb, nd, &j0, &j1);
                    const int64_t kb0 = nkd * kc / nkc, kb1 = nkd * (kc + 1) / nkc;
                    T *const yg = y + n * p->y_sn + g * Kg * p->y_sk;
                    const T *const rg = res ? res + n * p->r_sn + g * Kg * p->r_sk : NULL;
                    /* the rows of the next group or image (one thread's next task) */
                    const T *nb = g + 1 < G ? xg + Cg * p->x_sc : n + 1 < p->N ? x + (n + 1) * p->x_sn : NULL;
                    /* the next task's rows (tfetch): its tiles' pixels
                     * (the head-and-tail tile's tail left out) */
                    a2_pfwalk wx = {NULL, 0, 0, 0, 0, 0, 0};
                    if (pb2 >= 0) {
                        int64_t i0, i1;
                        a2_panel_tiles(pb2, npb, tpp, ntiles, &i0, &i1);
                        if (even) a2_even_tiles(pb2, npb, nd, &i0, &i1);
                        const int64_t a0 = a2_tile_px(i0, hd, tw);
                        const int64_t a1 = a2_min(P, a2_tile_px(i1, hd, tw));
                        a2_pfwalk_init(&wx, xg2 + a0, p->x_sc * tsz, (a1 - a0) * tsz, Cg,
                                       (j1 - j0) * (kb1 - kb0));
                    }
                    for (int64_t j = j0; j < j1; j++) {
                        const int ht = hd && !j;   /* the head-and-tail tile */
                        const int64_t pp = ht ? P - tl : a2_tile_px(j, hd, tw);
                        const int64_t nv = ht ? tl + hd : a2_min(tw, P - pp);
                        const int part = nv < tw || ht;
                        const T *bj = xg + pp;
                        ep.nv = nv;
                        ep.sa = ht ? tl : nv;   /* lanes [tl, nv): pixels [0, hd) */
                        ep.d2 = ht ? -P : 0;
                        /* the tile that runs next (one thread: the next
                         * pixels, else the next group's or image's first, its
                         * head-and-tail tile where there is one): its rows,
                         * one line of each a step, go to L2 during this
                         * tile's first block passes, every row's at the same
                         * byte offset from the row this step reads (the
                         * head-and-tail tile: from its tail's) */
                        const T *nx = NULL;
                        if (l2pf && (nv == tw || ht)) {
                            if (j + 1 < nd) nx = ht ? xg + hd : bj + tw;
                            else if (nb) nx = nb + (hd ? P - tl : 0);
                        }
                        /* passes a line of the next tile's rows: two (half
                         * the rows each) where spread and the passes suffice */
                        const int64_t l2e = spread && (kb1 - kb0) * 64 >= 2 * tw * tsz ? 2 : 1;
                        const int nvec = (int)a2_cdiv(nv, VL);
                        for (int64_t kb = kb0; kb < kb1; kb++) {
                            const int64_t k0 = mk8 ? kb * A2_MR8 : a2_kfirst(Kg, kb);
                            const int64_t mr = mk8 ? A2_MR8 : a2_kfirst(Kg, kb + 1) - k0;
                            const int64_t k = g * Kg + k0;
                            const int64_t line = (kb - kb0) / l2e;  /* fetched by this pass */
                            const int pf = nx && line * 64 < tw * tsz;
                            ep.y = yg + k0 * p->y_sk + pp;
                            ep.r = res ? rg + k0 * p->r_sk + pp : NULL;
                            ep.bias = bias ? bias + k : NULL;
                            a2_pfwalk_step(&wx);
                            if (pf) {
                                ep.pfd = (const char *)nx - (const char *)bj + line * 64;
                                ep.pfm = l2e - 1;
                                ep.pfv = (kb - kb0) % l2e;
                            } else {   /* no step fetches (the masked kernels) */
                                ep.pfm = 0;
                                ep.pfv = 1;
                            }
#if A2_MK8
                            if (mk8) {
                                (part ? NM(a2_mk8mt)[inplace] : NM(a2_mk8t)[2 * pf + inplace])[nvec](
                                    w8 + k * Cg, bj, Cg, p->x_sc, NULL, NULL, &ep);
                                continue;
                            }
#endif
                            (part ? NM(a2_mk1mt)[inplace] : pf ? mkpf : mk1)[nvec][mr](
                                A2_W1(g, kb, k0, 0), bj, Cg, p->x_sc, NULL, NULL, &ep);
                        }
                    }
                    continue;
                }
                /* the panel: [tile][c][NR1], zero-filled past P.  At unit
                 * stride the first oc block's pass copies the whole tiles
                 * while it reads them in place (a2_mk1cpt), so only a
                 * partial last tile is packed here: a copy pass of its own
                 * read the input from L3 ahead of the FMAs (paired A/B,
                 * Intel family 6 model 167, one thread: 1024 -> 256 at
                 * 14x14 x1.02-1.03, batch 8 x1.02, 512 -> 256 at 28x28
                 * x1.02-1.03, 64 -> 256 at 56x56 batch 8 x1.04, 128 -> 512
                 * x1.02; two threads x1.03, float64 x1.02; the AVX2 kernels
                 * x1.00-1.02).  The same bits */
                const int64_t nfull = unit ? npx / NR1 : 0;
                const int64_t kb0 = nkb * kc / nkc, kb1 = nkb * (kc + 1) / nkc;
                /* the panel's last tile a few pixels: the tail kernel (whole
                 * reductions: oc-block-outer, or one channel chunk), which
                 * at unit stride reads them where they lie.  Copied into the
                 * panel first, they cost a whole tile's width a channel
                 * (1024 -> 256 at 14x14: 4 pixels, 256 KiB of panel; paired
                 * A/B, Intel family 6 model 167, one thread: x1.04, batch 8
                 * x1.04, 256 -> 1024 x1.01, float64 x1.02, AVX2 x1.01; two
                 * threads x1.00).  The same bits */
                const int ktail = tail && ntl > 0 && (kbo || nch == 1)
                                  && P - (px0 + (ntl - 1) * NR1) <= A2_TAIL_PX;
#if A2_TAIL_OK
                const T *const tx = unit ? xg + px0 + (ntl - 1) * NR1 : panel + (ntl - 1) * Cg * NR1;
                const int64_t txs = unit ? p->x_sc : NR1;   /* its channel stride */
#endif
                if (unit) {
                    for (int64_t j = nfull; j < ntl - ktail; j++)
                        NM(a2_tile_copy)(panel + j * Cg * NR1, xg + px0 + j * NR1, p->x_sc, Cg,
                                         npx - j * NR1);
                } else {
                    for (int64_t e = 0; e < ntl * NR1; e++) {
                        int64_t pp = px0 + e;
                        if (pp >= P) { idx[e] = -1; continue; }
                        int64_t ow = pp % Wo, r2 = pp / Wo, oh = r2 % Ho, od = r2 / Ho;
                        idx[e] = ((od * sd) * H + oh * sh) * W + ow * sw;
                    }
                    for (int64_t c = 0; c < Cg; c++) {
                        const T *src = xg + c * p->x_sc;
                        T *dst = panel + c * NR1;
                        for (int64_t j = 0; j < ntl; j++)
                            for (int64_t e = 0; e < NR1; e++) {
                                int64_t ii = idx[j * NR1 + e];
                                dst[j * Cg * NR1 + e] = ii >= 0 ? src[ii] : (T)0;
                            }
                    }
                }
                if (kbo) {
                    /* oc-block-outer: one block's weights (all Cg) stay in
                     * L1/L2 while the panel streams past them; a tail once
                     * per A2_TAIL_MAXB blocks, their weights still in L2 */
                    const int64_t kgrp = ktail ? A2_TAIL_MAXB : a2_max(1, kb1 - kb0);
                    for (int64_t kg0 = kb0; kg0 < kb1; kg0 += kgrp) {
                        const int64_t kg1 = a2_min(kb1, kg0 + kgrp);
                        for (int64_t kb = kg0; kb < kg1; kb++) {
                            const int64_t k0 = a2_kfirst(Kg, kb), mr = a2_kfirst(Kg, kb + 1) - k0;
                            const T *a = A2_W1(g, kb, k0, 0);
                            const int64_t k = g * Kg + k0;
                            ep.bias = bias ? bias + k : NULL;
                            for (int64_t j = 0; j < ntl - ktail; j++) {
                                const int64_t pp = px0 + j * NR1;
                                ep.y = y + n * p->y_sn + k * p->y_sk + pp;
                                ep.r = res ? res + n * p->r_sn + k * p->r_sk + pp : NULL;
                                ep.nv = a2_min(NR1, P - pp);
                                ep.nts = ntst && (uintptr_t)ep.y % 64 == 0;
                                if (kb == kb0 && j < nfull) {   /* in place, copied */
                                    ep.cpd = panel + j * Cg * NR1;
                                    NM(a2_mk1cpt)[inplace][mr](a, xg + pp, Cg, p->x_sc, NULL, NULL, &ep);
                                } else
                                    mk1[a2_cdiv(ep.nv, VL)][mr](a, panel + j * Cg * NR1, Cg, NR1,
                                                                NULL, NULL, &ep);
                            }
                        }
#if A2_TAIL_OK
                        if (ktail) {
                            const int64_t pp = px0 + (ntl - 1) * NR1;
                            A2_TAIL_CALL(kg0, kg1, tx, txs, P - pp, pp);
                        }
#endif
                    }
                    continue;
                }
                /* chunk-outer: a tile's chunk of the panel (cb x NR1) stays
                 * in L1 while every oc block runs over it; the chunk's
                 * weights for all blocks stay in L2 */
                a2_pfwalk wx = {NULL, 0, 0, 0, 0, 0, 0}, wy = wx;
                if (pb2 >= 0) {
                    /* the next task's panel: pixels [px2, px2 + npx2) */
                    int64_t t0, t1;
                    a2_panel_tiles(pb2, npb, tpp, ntiles, &t0, &t1);
                    const int64_t px2 = t0 * NR1, npx2 = a2_min(P, t1 * NR1) - px2;
                    const int64_t steps = nch * (ntl - ktail) * (kb1 - kb0);
                    a2_pfwalk_init(&wx, xg2 + px2, p->x_sc * tsz, npx2 * tsz, Cg, steps);
                    if (pwy)
                        a2_pfwalk_init(&wy, y + n2 * p->y_sn + g2 * Kg * p->y_sk + px2,
                                       p->y_sk * tsz, npx2 * tsz, Kg, steps);
                }
                for (int64_t ch = 0; ch < nch; ch++) {
                    const int64_t c0 = ch * cb, cn = a2_min(cb, Cg - c0);
                    for (int64_t j = 0; j < ntl - ktail; j++) {
                        const int64_t pp = px0 + j * NR1;
                        ep.nv = a2_min(NR1, P - pp);
                        const T *bj = panel + j * Cg * NR1 + c0 * NR1;
                        for (int64_t kb = kb0; kb < kb1; kb++) {
                            const int64_t k0 = a2_kfirst(Kg, kb), mr = a2_kfirst(Kg, kb + 1) - k0;
                            const T *a = A2_W1(g, kb, k0, c0);
                            T *ap = accb ? accb + (j * nkbt + (kb - kb0)) * (OCB * NR1) : NULL;
                            a2_pfwalk_step(&wx);
                            a2_pfwalk_step(&wy);
                            const int64_t k = g * Kg + k0;
                            ep.y = y + n * p->y_sn + k * p->y_sk + pp;
                            ep.r = res ? res + n * p->r_sn + k * p->r_sk + pp : NULL;
                            ep.bias = bias ? bias + k : NULL;
#if A2_YPF > 0
                            if (ch + 1 == nch && kb + A2_YPF < kb1) {
                                NM(a2_ypf)(ep.y, p->y_sk, Kg, k0, kb + A2_YPF);
                            }
#endif
                            ep.nts = ntst && (uintptr_t)ep.y % 64 == 0;
                            if (kb == kb0 && j < nfull) {   /* in place, copied */
                                ep.cpd = panel + j * Cg * NR1 + c0 * NR1;   /* bj */
                                NM(a2_mk1cpt)[inplace][mr](a, xg + c0 * p->x_sc + pp, cn, p->x_sc,
                                                           ch > 0 ? ap : NULL, ch + 1 < nch ? ap : NULL,
                                                           &ep);
                            } else
                                mk1[a2_cdiv(ep.nv, VL)][mr](a, bj, cn, NR1, ch > 0 ? ap : NULL,
                                                            ch + 1 < nch ? ap : NULL, &ep);
                        }
                    }
#if A2_TAIL_OK
                    if (ktail) {   /* nch == 1 */
                        const int64_t pp = px0 + (ntl - 1) * NR1;
                        A2_TAIL_CALL(kb0, kb1, tx, txs, P - pp, pp);
                    }
#endif
                }
            }
        }
#ifdef VSTREAM
        if (ntst) _mm_sfence();  /* the streamed outputs visible before the region ends */
#endif
        cconv_scratch_free(accb);
        cconv_scratch_free(idx);
        cconv_scratch_free(panel);
        cconv_fpenv_leave(fps);
    }
#undef A2_W1
#ifdef A2_TAIL_CALL
#undef A2_TAIL_CALL
#endif
    return failed ? CCONV_ENOMEM : CCONV_OK;
}

/* dr[j] = sr[j*sw] for j in [jlo, jhi): stride 2 deinterleaved with
 * VEVENS (two vectors in, the even lanes out), the last partial vector
 * stored under a mask or, where the including file defines VMZERO(m, v)
 * (v with the lanes outside m zero), whole with zeros past jhi: dr must
 * have room for VL - 1 values past jhi, where zeros do no harm.  VEVENS
 * reads 2*VL values, one past the last even one: only while that stays
 * below lim (the end of the input plane).  Building a whole band row with
 * AVX-512 masked loads instead (leading zeros, data and tail in whole
 * vectors, no memset calls) lost on 3x3/s2 layers, x0.90-0.97. */
static void NM(a2_gather)(T *dr, const T *sr, int64_t jlo, int64_t jhi, int64_t sw, const T *lim)
{
    int64_t j = jlo;
    if (sw == 2) {
        for (; j + VL <= jhi && sr + 2 * (j + VL) <= lim; j += VL) VSTOREU(dr + j, VEVENS(sr + 2 * j));
        if (j < jhi && sr + 2 * (j + VL) <= lim) {
#ifdef VMZERO
            /* a whole vector, zeros past jhi (masked stores are microcoded
             * on AMD): the caller leaves room for it and wants zeros there */
            VSTOREU(dr + j, VMZERO(VMRANGE(0, jhi - j, 0), VEVENS(sr + 2 * j)));
#else
            VMSTORE(dr + j, VMRANGE(0, jhi - j, 0), VEVENS(sr + 2 * j));
#endif
            j = jhi;
        }
    }
    for (; j < jhi; j++) dr[j] = sr[j * sw];
}

#ifdef VDEINT
/* one input row into both column phases of a stride-2 band (a2_gather_s2):
 * phase b gets d[b][j] = sr[2j + pv[b]] for j in [jl[b], jh[b]), nothing
 * elsewhere (the caller's zeros there stay).  Each pair of vectors of the
 * row is loaded once and split into its even and odd lanes, one phase
 * taking the evens, the other the odds: column 2j + pv[b] is lane j + sh[b]
 * of them.  The lane masks are the same for every row: made once, four an
 * iteration (the row's two loads, the two phases' stores), for rows of up to
 * A2_S2_MAXIT vectors a phase */
#define A2_S2_MAXIT 64
typedef struct {
    int64_t m0, nit, sh[2];
    int evb;              /* the phase that takes the evens */
    VMASK_T *mk;          /* [nit][4] */
} NM(a2_s2_t);

/* the plan for rows of W values into phases of width Wq (mk: room for
 * a2_cdiv(Wq, VL) iterations: the lanes m0 >= 0 to Wq at most) */
static void NM(a2_s2_plan)(NM(a2_s2_t) *g, int64_t W, int64_t Wq, const int64_t pv[2], VMASK_T *mk)
{
    int64_t mlo[2], mhi[2];
    for (int b = 0; b < 2; b++) {
        int64_t jl, jh;
        a2_phase_cols(pv[b], 2, W, &jl, &jh);
        jh = a2_max(jl, a2_min(jh, Wq));
        g->sh[b] = (pv[b] - (pv[b] & 1)) / 2;
        mlo[b] = jl + g->sh[b];
        mhi[b] = jh + g->sh[b];
    }
    g->evb = (pv[0] & 1) ? 1 : 0;
    g->m0 = a2_min(mlo[0], mlo[1]);
    g->nit = a2_max(0, a2_cdiv(a2_max(mhi[0], mhi[1]) - g->m0, VL));
    g->mk = mk;
    for (int64_t it = 0; it < g->nit; it++) {
        const int64_t m = g->m0 + it * VL;
        mk[4 * it] = VMRANGE(0, W, 2 * m);
        mk[4 * it + 1] = VMRANGE(0, W, 2 * m + VL);
        mk[4 * it + 2] = VMRANGE(mlo[g->evb], mhi[g->evb], m);
        mk[4 * it + 3] = VMRANGE(mlo[1 - g->evb], mhi[1 - g->evb], m);
    }
}

static void NM(a2_gather_s2)(T *const d[2], const T *sr, const NM(a2_s2_t) *g)
{
    T *de = d[g->evb] - g->sh[g->evb], *dod = d[1 - g->evb] - g->sh[1 - g->evb];
    const VMASK_T *mk = g->mk;
    for (int64_t it = 0, m = g->m0; it < g->nit; it++, m += VL, mk += 4) {
        V ev, od;
        VDEINT(VMLOAD(sr + 2 * m, mk[0]), VMLOAD(sr + 2 * m + VL, mk[1]), &ev, &od);
        VMSTORE(de + m, mk[2], ev);
        VMSTORE(dod + m, mk[3], od);
    }
}
#endif

/* ---- general direct convolution over prepared input bands ---- */
static int NM(a2_convband)(const cconv_conv_params *p, const T *x, const T *wp, const T *bias,
                           const T *res, T *y, int nthreads)
{
#ifdef A2_OCV
    /* weights packed for the output-channel-vectorised kernel (A2_OCV_BAND) */
    const int ocv = NM(a2_ocv)(&p->w);
    const int64_t kbw = ocv ? A2_OCV_KB(&p->w) : OCB;
#else
    const int64_t kbw = OCB;
#endif
    const int panel = NM(a2_panel_use)(&p->w);
    const int64_t G = p->w.groups, Cg = p->w.Cg, Kg = p->w.K / G, nkb = a2_cdiv(Kg, kbw);
    const int64_t D = p->in[0], H = p->in[1], W = p->in[2];
    const int64_t Do = p->out[0], Ho = p->out[1], Wo = p->out[2];
    const int64_t KT = p->w.ks[0], KR = p->w.ks[1], KS = p->w.ks[2], taps = KT * KR * KS;
    const int64_t sd = p->stride[0], sh = p->stride[1], sw = p->stride[2];
    const int64_t dd = p->dil[0], dh = p->dil[1], dw = p->dil[2];
    const int64_t pd = p->pad[0], ph = p->pad[1], pw = p->pad[2];
    const int relu = p->activation == CCONV_ACT_RELU;
    const int64_t U = 64 / (int64_t)sizeof(T);

    /* stride phases used by the taps: row phase of r is (r*dh) % sh */
    /* in-row panel tiles (A2_PANEL_INROW_CT): tiles of at most two vectors
     * only, the in-row kernels' (a2_mk1ot) and what the test of a tile's
     * moves below covers.  On AVX-512 (four) they ran x1.00-1.02 on 7x7/s2
     * 3 -> 64 at 224x224, x0.99-1.02 on 3x3 and 5x5 3- and 4-channel layers
     * (paired A/B, Intel family 6 model 167, one thread): not enabled */
    const int inrow_ok = panel && A2_NV1 == 2 && Cg <= 4 && Cg * taps <= A2_PANEL_INROW_CT;
    int64_t *meta = (int64_t *)malloc(sizeof(int64_t) * (size_t)(2 * KR + 2 * KS + taps
                                                                 + (inrow_ok ? Cg * taps : 0)));
    if (!meta) return CCONV_ENOMEM;
    int64_t *rpv = meta, *rpi = meta + KR, *cpv = meta + 2 * KR, *cpi = meta + 2 * KR + KS;
    int64_t *off = meta + 2 * KR + 2 * KS;
    int64_t nrp = 0, ncp = 0;
    for (int64_t r = 0; r < KR; r++) {
        int64_t v = (r * dh) % sh, i = 0;
        while (i < nrp && rpv[i] != v) i++;
        if (i == nrp) rpv[nrp++] = v;
        rpi[r] = i;
    }
    for (int64_t s = 0; s < KS; s++) {
        int64_t v = (s * dw) % sw, i = 0;
        while (i < ncp && cpv[i] != v) i++;
        if (i == ncp) cpv[ncp++] = v;
        cpi[s] = i;
    }
    const int64_t rsh_max = ((KR - 1) * dh) / sh;
    /* Row width of the prepared band.  Consecutive rows share their zero
     * padding: a tap that reads past the end of a row lands in the next
     * row's leading zeros, so a row needs only max(left, right) padding
     * columns, not both (3x3/pad 1: Wo + 1 instead of Wo + 2).  For each
     * column phase b (leading zero columns jlo_b, data up to jhi_b, largest
     * tap shift csh_b): Wq >= Wo + csh_b - jlo_b keeps the overflowing reads
     * within the next row's zeros, and Wq >= min(jhi_b, Wo + csh_b) keeps
     * every needed datum in its own row. */
    int64_t Wq = Wo, tailz = 0;
    for (int64_t b = 0; b < ncp; b++) {
        int64_t cshb = 0;
        for (int64_t s = 0; s < KS; s++)
            if (cpi[s] == b) cshb = a2_max(cshb, (s * dw) / sw);
        const int64_t pwv = cpv[b] - pw;
        int64_t jlo, jhi;
        a2_phase_cols(pwv, sw, W, &jlo, &jhi);
        Wq = a2_max(Wq, Wo + cshb - jlo);
        Wq = a2_max(Wq, a2_min(jhi, Wo + cshb));
        tailz = a2_max(tailz, cshb);
    }
    const int64_t bpr = a2_max(Cg, 1) * KT * nrp * ncp * Wq * (int64_t)sizeof(T);
    int64_t rb = BAND_BUDGET / bpr - rsh_max;
    rb = a2_max(1, a2_min(rb, Ho));
#if A2_PANEL_WHOLE
    /* the panel path runs a band's pixels in tiles of NR1, and a partial
     * tile costs a whole one: the most rows, down to half, whose pixels
     * fill whole tiles (3x3/s2 to 28 wide: 4 rows, 7 tiles, not 7 rows,
     * 12.25 tiles) */
    if (panel && rb < Ho && (rb * Wo) % NR1)
        for (int64_t r2 = rb - 1; r2 >= a2_max(1, (rb + 1) / 2); r2--)
            if ((r2 * Wo) % NR1 == 0) { rb = r2; break; }
#endif
    /* a band should hold at least a few tiles */
    const int64_t band_min_px = 4 * (panel ? NR1 : NR);
    if (rb * Wq < band_min_px) rb = a2_min(Ho, a2_cdiv(band_min_px, Wq));
    int64_t nbands = a2_cdiv(Ho, rb);
    const double work = (double)p->N * p->w.K * Cg * taps * Do * Ho * Wo;
    const int nt = cconv_threads_for(nthreads, work, p->N * Do * G * Ho * nkb);
    if (nt > 1) {
        const int64_t imgs = p->N * Do * G;
        int64_t base = imgs * nbands;
        if (base < A2_BAND_TPT * nt) {
            /* too few tasks for the dynamic schedule to even out a thread
             * that runs slow (a core shared with another process): smaller
             * bands, each still a few tiles wide */
            int64_t nb2 = a2_min(a2_cdiv(A2_BAND_TPT * nt, imgs),
                                 a2_max(1, Ho * Wq / band_min_px));
            if (nb2 > nbands) nbands = a2_min(nb2, Ho);
        } else if (base % nt && base < 8 * nt) {
            int64_t nb2 = nbands * a2_balance(base, nt, 16);
            if (nb2 <= Ho) nbands = nb2;
        }
    }
    rb = a2_cdiv(Ho, nbands);
    nbands = a2_cdiv(Ho, rb);
    int64_t nkc = 1;
    if (nt > 1 && p->N * Do * G * nbands < 2 * nt)
        nkc = a2_min(nkb, a2_cdiv(2 * nt, p->N * Do * G * nbands));
    /* each phase region ends in tailz zeros: the last row's overflowing
     * reads stay inside the region */
    const int64_t rows_q = rb + rsh_max, reg = rows_q * Wq + tailz;
    int64_t cs = a2_cdiv(nrp * ncp * reg, U) * U;
    if (((cs / U) & 1) == 0) cs += U;  /* odd multiple of a cache line: spreads L1 sets */
    const int64_t bufsz = a2_max(Cg, 1) * KT * cs + Wq + 2 * NR + U;
    for (int64_t t = 0; t < KT; t++)
        for (int64_t r = 0; r < KR; r++)
            for (int64_t s = 0; s < KS; s++)
                off[(t * KR + r) * KS + s] = t * cs + (rpi[r] * ncp + cpi[s]) * reg
                                             + ((r * dh) / sh) * Wq + (s * dw) / sw;
    /* step (c, tap) of a tile read in place: at c*KT*cs + off[tap] */
    int64_t *bofs = off + taps;
    for (int64_t c = 0; c < (inrow_ok ? Cg : 0); c++)
        for (int64_t t = 0; t < taps; t++) bofs[c * taps + t] = c * KT * cs + off[t];
#ifdef VDEINT
    /* stride 2 across with both column phases: a2_gather_s2's plan.  Paired
     * A/B in one binary against a2_gather a phase at a time, AVX-512, Intel
     * family 6 model 167, one thread: 3x3/s2 128 -> 128 at 56x56
     * x1.00-1.05, 256 -> 256 at 28x28 x1.02-1.03, 512 -> 512 at 14x14
     * x1.02-1.06; 7x7/s2 3 -> 64 at 224x224 x0.98-1.02, 3x3/s2 64 -> 64 at
     * 112x112 x0.96-1.01 */
    const int s2m = sw == 2 && ncp == 2 && a2_cdiv(Wq, VL) <= A2_S2_MAXIT;
    NM(a2_s2_t) s2g;
    VMASK_T s2mk[4 * A2_S2_MAXIT];
    int64_t s2pv[2] = {cpv[0] - pw, (ncp > 1 ? cpv[1] : 0) - pw};
    if (s2m) NM(a2_s2_plan)(&s2g, W, Wq, s2pv, s2mk);
#endif
    /* a task count that would leave threads idle at the end (3x3/s2 to
     * 28x28 rows: 7 bands on 2 threads): the last task's output-channel
     * blocks split over nt tasks, each preparing the band again.  Paired
     * A/B, Intel family 6 model 167, two threads: AVX2 3x3/s2 128 -> 128
     * at 56x56 x1.10-1.13, 256 -> 256 at 28x28 x1.04, 64 -> 64 at 112x112
     * x1.01, 5x5 192 -> 32 at 28x28 x1.06; AVX-512 x0.99-1.04 (256 -> 256
     * x1.04, 128 -> 128 x0.99-1.00) */
    const int64_t tasks1 = p->N * Do * G * nbands * nkc;
    const int lsplit = nt > 1 && nkc == 1 && tasks1 % nt != 0 && nkb >= nt;
    const int64_t tasks = lsplit ? tasks1 - 1 + nt : tasks1;
    int failed = 0;

#ifdef _OPENMP
#pragma omp parallel num_threads(nt) reduction(| : failed)
#endif
    {
        cconv_fpstate fps = cconv_fpenv_enter();
        T *band = (T *)cconv_scratch_alloc(sizeof(T) * (size_t)bufsz);
#ifdef A2_OCV
        T *pb = ocv ? (T *)cconv_scratch_alloc(A2_OCV_SCRATCH(Kg, rb * Wq, Cg, taps)) : NULL;
        if (ocv && !pb) { cconv_scratch_free(band); band = NULL; }
#endif
        /* the panel path's per-tile panel [Cg*taps][NR1] (+ VL: the last
         * row's copy may run past NR1) */
        T *pn = panel ? (T *)cconv_scratch_alloc(sizeof(T) * (size_t)(Cg * taps * NR1 + VL)) : NULL;
        if (panel && !pn) { cconv_scratch_free(band); band = NULL; }
        else if (pn) memset(pn, 0, sizeof(T) * (size_t)(Cg * taps * NR1 + VL));
        NM(a2_epi_t) ep;
        NM(a2_e1_t) e1;
        ep.ysk = p->y_sk; ep.rsk = p->r_sk; ep.relu = relu;
        e1.ysk = p->y_sk; e1.rsk = p->r_sk; e1.relu = relu;
        e1.lda = 0;
        e1.nts = 0;
        if (!band) failed = 1;
        else memset(band, 0, sizeof(T) * (size_t)bufsz);
        {
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1) nowait
#endif
            for (int64_t task = 0; task < tasks; task++) {
                if (!band) continue;
                /* part >= 0: part of the last task's oc blocks (lsplit) */
                const int64_t part = lsplit && task >= tasks1 - 1 ? task - (tasks1 - 1) : -1;
                int64_t q = part >= 0 ? tasks1 - 1 : task;
                const int64_t kc = q % nkc; q /= nkc;
                const int64_t bd = q % nbands; q /= nbands;
                const int64_t g = q % G; q /= G;
                const int64_t od = q % Do; q /= Do;
                const int64_t n = q;
                const int64_t h0 = bd * rb, rbn = a2_min(rb, Ho - h0);
                const int64_t nrows = rbn + rsh_max;
                /* prepare the band: [c][t][phase][row][Wq], zero padded */
#if A2_BAND_PF > 0
                /* input rows [ih0, ih1) of a channel feed this band (2-D) */
                const int64_t ih0 = a2_max(0, h0 * sh - ph);
                const int64_t ih1 = a2_min(H, (h0 + nrows - 1) * sh + (sh - 1) - ph + 1);
#endif
                for (int64_t c = 0; c < Cg; c++) {
                    const T *xc = x + n * p->x_sn + (g * Cg + c) * p->x_sc;
#if A2_BAND_PF > 0
                    /* each channel's rows are a short stream of their own,
                     * one plane apart: the hardware prefetcher does not
                     * follow, so fetch a later channel's rows */
                    if (D == 1 && c + A2_BAND_PF < Cg && ih1 > ih0) {
                        const char *q = (const char *)(xc + A2_BAND_PF * p->x_sc + ih0 * W);
                        const int64_t nb = (ih1 - ih0) * W * (int64_t)sizeof(T);
                        for (int64_t e = 0; e < nb; e += 64) _mm_prefetch(q + e, _MM_HINT_T0);
                    }
#endif
                    for (int64_t t = 0; t < KT; t++) {
                        T *pl = band + (c * KT + t) * cs;
                        const int64_t id = od * sd - pd + t * dd;
                        const int dvalid = id >= 0 && id < D;
                        for (int64_t a = 0; a < nrp; a++) {
#ifdef VDEINT
                            if (s2m) {
                                /* both column phases from one pass over each
                                 * input row: only the data columns written,
                                 * their zeros set once by the band's memset */
                                T *const d2[2] = {pl + (a * ncp) * reg, pl + (a * ncp + 1) * reg};
                                for (int64_t i = 0; i < nrows; i++) {
                                    const int64_t ih = (h0 + i) * sh + rpv[a] - ph;
                                    T *const dri[2] = {d2[0] + i * Wq, d2[1] + i * Wq};
                                    if (!dvalid || ih < 0 || ih >= H) {
                                        memset(dri[0], 0, sizeof(T) * (size_t)Wq);
                                        memset(dri[1], 0, sizeof(T) * (size_t)Wq);
                                    } else {
                                        NM(a2_gather_s2)(dri, xc + (id * H + ih) * W, &s2g);
                                    }
                                }
                                continue;
                            }
#endif
                            for (int64_t b = 0; b < ncp; b++) {
                                T *rg = pl + (a * ncp + b) * reg;
                                const int64_t pwv = cpv[b] - pw;  /* input col = j*sw + pwv */
                                int64_t jlo, jhi;
                                a2_phase_cols(pwv, sw, W, &jlo, &jhi);
                                jhi = a2_min(jhi, Wq);
                                if (jlo > jhi) jlo = jhi;
                                for (int64_t i = 0; i < nrows; i++) {
                                    T *dr = rg + i * Wq;
                                    const int64_t ih = (h0 + i) * sh + rpv[a] - ph;
                                    if (!dvalid || ih < 0 || ih >= H) {
                                        memset(dr, 0, sizeof(T) * (size_t)Wq);
                                        continue;
                                    }
                                    const T *sr = xc + (id * H + ih) * W + pwv;
                                    if (jlo > 0) memset(dr, 0, sizeof(T) * (size_t)jlo);
                                    if (sw == 1) {
                                        if (jhi > jlo) memcpy(dr + jlo, sr + jlo, sizeof(T) * (size_t)(jhi - jlo));
                                    } else {
                                        /* room past jhi: the row's own tail,
                                         * then the next row or region (written
                                         * after this one), the region's tail
                                         * zeros or the buffer's slack */
                                        NM(a2_gather)(dr, sr, jlo, jhi, sw, xc + D * H * W);
                                    }
                                    if (jhi < Wq) memset(dr + jhi, 0, sizeof(T) * (size_t)(Wq - jhi));
                                }
                            }
                        }
                    }
                }
                const int64_t nq = rbn * Wq, ntl = a2_cdiv(nq, NR);
                /* oc blocks: share kc of nkc, or (lsplit) part of nt */
                const int64_t kp = part >= 0 ? part : kc, nkp = part >= 0 ? nt : nkc;
                const int64_t kb0 = nkb * kp / nkp, kb1 = nkb * (kp + 1) / nkp;
                const int64_t ybase = n * p->y_sn + (od * Ho + h0) * Wo;
                const int64_t rbase = n * p->r_sn + (od * Ho + h0) * Wo;
                if (panel) {
                    /* tiles of NR1 consecutive output pixels; a tile's
                     * panel row (c, tap) is copied from the band row
                     * segment by row segment, then every oc block runs
                     * the 1x1 tile over the panel in L1.  On an image's
                     * channels a tile within one output row skips the copy
                     * and reads the band in place (same sums, same order) */
                    const int64_t npx = rbn * Wo, ct = Cg * taps;
                    for (int64_t pp = 0; pp < npx; pp += NR1) {
                        const int64_t nv = a2_min(NR1, npx - pp);
                        /* the tile's vector moves (panel, band offsets), row
                         * segment by row segment (a segment's overrun is
                         * overwritten by the next) */
                        int64_t mvd[NR1 + A2_NV1], mvs[NR1 + A2_NV1];
                        int nmv = 0;
                        for (int64_t l = 0; l < nv;) {
                            const int64_t i = (pp + l) / Wo, j = (pp + l) - i * Wo;
                            const int64_t len = a2_min(nv - l, Wo - j);
                            for (int64_t e = 0; e < len; e += VL, nmv++) {
                                mvd[nmv] = l + e;
                                mvs[nmv] = i * Wq + j + e;
                            }
                            l += len;
                        }
                        const int64_t d0 = nmv > 0 ? mvd[0] : 0, s0 = nmv > 0 ? mvs[0] : 0;
                        const int64_t d1 = nmv > 1 ? mvd[1] : 0, s1 = nmv > 1 ? mvs[1] : 0;
                        const int64_t d2 = nmv > 2 ? mvd[2] : 0, s2 = nmv > 2 ? mvs[2] : 0;
                        /* a tile within one output row: in place (A2_PANEL_INROW_CT) */
                        const int inrow = inrow_ok && nmv <= A2_NV1 && (nmv < 2 || s1 == s0 + VL);
                        for (int64_t c = 0; c < (inrow ? 0 : Cg); c++) {
                            const T *bc = band + c * KT * cs;
                            T *dc = pn + c * taps * NR1;
                            /* up to three moves a row (an AVX2 tile in one row or
                             * across two) with their offsets in registers */
                            if (nmv <= 3) {
                                for (int64_t t = 0; t < taps; t++) {
                                    const T *src = bc + off[t];
                                    T *dst = dc + t * NR1;
                                    VSTOREU(dst + d0, VLOADU(src + s0));
                                    if (nmv > 1) VSTOREU(dst + d1, VLOADU(src + s1));
                                    if (nmv > 2) VSTOREU(dst + d2, VLOADU(src + s2));
                                }
                                continue;
                            }
                            for (int64_t t = 0; t < taps; t++) {
                                const T *src = bc + off[t];
                                T *dst = dc + t * NR1;
                                for (int m = 0; m < nmv; m++)
                                    VSTOREU(dst + mvd[m], VLOADU(src + mvs[m]));
                            }
                        }
                        e1.nv = nv;
                        for (int64_t kb = kb0; kb < kb1; kb++) {
                            const int64_t k0 = a2_kfirst(Kg, kb), mr = a2_kfirst(Kg, kb + 1) - k0;
                            const int64_t k = g * Kg + k0;
                            e1.y = y + ybase + k * p->y_sk + pp;
                            e1.r = res ? res + rbase + k * p->r_sk + pp : NULL;
                            e1.bias = bias ? bias + k : NULL;
#if A2_KYPF > 0
                            if (kb + A2_KYPF < kb1) NM(a2_ypf)(e1.y, p->y_sk, Kg, k0, kb + A2_KYPF);
#endif
                            if (inrow)
                                NM(a2_mk1ot)[a2_cdiv(nv, VL)][mr](wp + (g * nkb + kb) * ct * OCB, band + s0,
                                                                  ct, bofs, &e1);
                            else
                                NM(a2_mk1x1t)[0][a2_cdiv(nv, VL)][mr](wp + (g * nkb + kb) * ct * OCB, pn,
                                                                      ct, NR1, NULL, NULL, &e1);
                        }
                    }
                    continue;
                }
                /* oc-block-outer: one block's weights (all Cg x taps) stay
                 * hot while the band streams past them from L2, a few
                 * channels prefetched ahead */
#ifdef A2_OCV
                if (ocv) {
                    A2_OCV_BAND(wp + g * nkb * Cg * taps * kbw, band, Cg, KT * cs, off, taps,
                                rbn, Wq, Wo, kb0, kb1, Kg, y + ybase + g * Kg * p->y_sk, p->y_sk,
                                res ? res + rbase + g * Kg * p->r_sk : NULL, p->r_sk,
                                bias ? bias + g * Kg : NULL, relu, pb);
                    continue;
                }
#endif
                for (int64_t kb = kb0; kb < kb1; kb++) {
                    const int64_t k0 = a2_kfirst(Kg, kb), mr = a2_kfirst(Kg, kb + 1) - k0;
                    const T *a = wp + (g * nkb + kb) * Cg * taps * OCB;
                    const NM(a2_mk_fn) mk = NM(a2_mkg)[mr];
                    const int64_t k = g * Kg + k0;
                    ep.y = y + ybase + k * p->y_sk;
                    ep.r = res ? res + rbase + k * p->r_sk : NULL;
                    ep.bias = bias ? bias + k : NULL;
                    for (int64_t tl = 0; tl < ntl; tl++) {
                        const int64_t q0 = tl * NR;
                        /* the valid lanes, row segment by row segment */
                        const int ns = a2_row_segments(q0, NR, rbn, Wq, Wo, ep.base, ep.lo, ep.hi);
                        ep.nseg = ns;
                        ep.full = ns == 1 && ep.lo[0] == 0 && ep.hi[0] == NR;
                        mk(a, band + q0, Cg, KT * cs, off, taps, &ep);
                    }
                }
            }
        }
        cconv_scratch_free(band);
        cconv_scratch_free(pn);
#ifdef A2_OCV
        cconv_scratch_free(pb);
#endif
        cconv_fpenv_leave(fps);
    }
    free(meta);
    return failed ? CCONV_ENOMEM : CCONV_OK;
}

#include "conv_dw_template.h"

static int NM(a2_conv)(const cconv_conv_params *p, const void *xv, const void *packed,
                       const void *biasv, const void *resv, void *yv, int nthreads)
{
    const T *x = (const T *)xv, *wp = (const T *)packed;
    const T *bias = (const T *)biasv, *res = (const T *)resv;
    T *y = (T *)yv;
    if (p->N <= 0 || p->w.K <= 0 || p->out[0] <= 0 || p->out[1] <= 0 || p->out[2] <= 0)
        return CCONV_OK;
    const int64_t taps = p->w.ks[0] * p->w.ks[1] * p->w.ks[2];
    const int unpadded = p->pad[0] == 0 && p->pad[1] == 0 && p->pad[2] == 0;
    if ((p->w.flags & CCONV_PACK_IN_PLACE_1X1) && !(taps == 1 && unpadded))
        return CCONV_EINVAL;  /* in-place weights serve the 1x1 GEMM only */
    if (NM(dw_use)(&p->w)) return NM(dw_conv)(p, x, wp, bias, res, y, nthreads);
#ifdef A2_OCV
    if (NM(a2_ocv)(&p->w)) {
        /* weights in the output-channel-vectorised layout (KxK only) */
        return NM(a2_convband)(p, x, wp, bias, res, y, nthreads);
    }
#endif
    if (taps == 1 && unpadded)
        return NM(a2_conv1x1)(p, x, wp, bias, res, y, nthreads);
    return NM(a2_convband)(p, x, wp, bias, res, y, nthreads);
}

/* ---- a chain of 1x1 convolutions, one NR1-pixel tile at a time ----
 * The tile's input channels are copied into a panel [C][NR1]; each layer
 * runs the 1x1 tile over it into the other panel (the full NR1 lanes: past
 * the image the input lanes are zero, the sums finite), the last layer into
 * y.  A tile's values are those of one conv() per layer: the same panels,
 * microkernel and ascending channel order. */
static int NM(a2_chain)(const cconv_chain_params *p, const void *xv, void *yv, int nthreads)
{
    const T *x = (const T *)xv;
    T *y = (T *)yv;
    const int64_t P = p->P, ntiles = a2_cdiv(P, NR1), tasks = p->N * ntiles;
    if (tasks <= 0) return CCONV_OK;
    int64_t cmax = 1;
    double work = 0;
    for (int l = 0; l <= p->nl; l++) cmax = a2_max(cmax, p->C[l]);
    for (int l = 0; l < p->nl; l++) work += (double)p->C[l] * p->C[l + 1];
    work *= (double)p->N * P;
    const int nt = cconv_threads_for(nthreads, work, tasks);
    int failed = 0;

#ifdef _OPENMP
#pragma omp parallel num_threads(nt) reduction(| : failed)
#endif
    {
        cconv_fpstate fps = cconv_fpenv_enter();
        T *buf = (T *)cconv_scratch_alloc(sizeof(T) * (size_t)(2 * cmax * NR1));
        if (!buf) failed = 1;
        NM(a2_e1_t) e1;
        e1.r = NULL;
        e1.rsk = 0;
        e1.lda = 0;
        e1.nts = 0;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1) nowait
#endif
        for (int64_t task = 0; task < tasks; task++) {
            if (!buf) continue;
            const int64_t n = task / ntiles, pp = (task % ntiles) * NR1;
            const int64_t nv = a2_min(NR1, P - pp);
            T *in = buf, *out = buf + cmax * NR1;
            NM(a2_tile_copy)(in, x + n * p->x_sn + pp, p->x_sc, p->C[0], nv);
            for (int l = 0; l < p->nl; l++) {
                const int last = l + 1 == p->nl;
                const int64_t Cin = p->C[l], Kl = p->C[l + 1], nkb = a2_cdiv(Kl, OCB);
                const T *wl = (const T *)p->w[l], *bl = (const T *)p->bias[l];
                T *yl = last ? y + n * p->y_sn + pp : out;
                e1.ysk = last ? p->y_sk : NR1;
                e1.nv = last ? nv : NR1;
                e1.relu = p->act[l] == CCONV_ACT_RELU;
                const int nvec = (int)a2_cdiv(e1.nv, VL);
                for (int64_t kb = 0; kb < nkb; kb++) {
                    const int64_t k0 = a2_kfirst(Kl, kb), mr = a2_kfirst(Kl, kb + 1) - k0;
                    e1.y = yl + k0 * e1.ysk;
                    e1.bias = bl ? bl + k0 : NULL;
                    NM(a2_mk1x1t)[0][nvec][mr](wl + kb * Cin * OCB, in, Cin, NR1, NULL, NULL, &e1);
                }
                T *t = in; in = out; out = t;
            }
        }
        cconv_scratch_free(buf);
        cconv_fpenv_leave(fps);
    }
    return failed ? CCONV_ENOMEM : CCONV_OK;
}

const cconv_conv_kernels TABLE = {
    ISA_NAME, NM(a2_packed_size), NM(a2_pack), NM(a2_conv), NM(a2_chain),
};

#undef NR
#undef NR1
#undef NR8
