/* winograd_template.h - the dtype-generic parts of the Winograd F(4x4,3x3)
 * and F(2x2,5x5) path (weight transform and packing, GEMM microkernel, the driver),
 * written once and instantiated for float32 and float64 by winograd_avx2.c.
 *
 * The including file defines WT (element type), WV (ymm vector type), WL
 * (lanes), WN(x) (name suffix), W_LOAD (aligned), W_STORE (aligned),
 * W_BCAST(p) (broadcast *p), W_ZERO(), W_FMA(a, b, c) (a*b + c), W_FNMA(a, b,
 * c) (c - a*b), W_ADD, W_SUB, W_SET1(c) (the last four for W_IN1D/W_OUT1D),
 * W_GATHER4(p0, p1, p2, p3) (the __m256d of *p0 .. *p3 in double) and,
 * optionally, for 3x3 filters, W_GATHER9(g, gv) (the same for all 9 taps of the 4 filters at
 * g[0..3], gv[t] for tap t, in fewer instructions),
 * W_PACK_STORE2(d, d2, v) (lanes 0-1 of the __m256d v to d, lanes 2-3 to d2,
 * as WT), W_PACK_STORE(d, v, n) (the first n = 4 or 2 lanes of the __m256d v to d
 * as WT), and the dtype's transforms WN(w_itrans) (WL tiles of one channel
 * into the 36 transform elements), WN(w_otrans) (WL tiles of the 36
 * GEMM results to 4x4 outputs, fused epilogue), and for 5x5 layers
 * WN(w_itrans2) (WL tiles side by side, 2 apart), WN(w_otrans2) (2x2
 * outputs) and WN(w_lanes2) (the lane order of tiles these two keep).  A panel of V holds
 * WP = 2*WL tiles (one 6 x 2-vector register tile wide); this header
 * undefines its parameters at its end.
 */
#define WP (2 * WL)   /* tiles per V panel */
/* raw weights (cconv_wino_conv_raw): 6-channel blocks per output-channel
 * chunk, each chunk transformed by the task that runs it, at most
 * WINO_RAW_KBC of them and WINO_RAW_BYTES of transformed weights (L2).
 * One-shot 3x3 at 14x14, Zen 3, against 4 blocks: 512 -> 512 (1 block)
 * x0.99-1.09, 256 -> 256 (2) x1.02-1.05, 128 -> 128 (4); 11 blocks
 * x0.73 on 512 -> 512 */
#ifndef WINO_RAW_KBC
#define WINO_RAW_KBC 4
#endif
#ifndef WINO_RAW_BYTES
#define WINO_RAW_BYTES (512 * 1024)
#endif
#define W_SIDE 1      /* group flags: see gfl in wino_conv */
#define W_FULL 2

/* ---- weights: U = G g G^T, packed [e][K/6][C][6] (K zero-padded) ---- */

int64_t WN(cconv_wino_packed_size)(const cconv_wshape *ws)
{
    if (!w_shape_ok(ws)) return 0;
    return (int64_t)NE * w_cdiv(ws->K, KR) * KR * ws->Cg * (int64_t)sizeof(WT);
}

typedef struct {
    const cconv_wshape *ws;
    const WT *w;
    WT *u;
    const WN(cconv_wino_wide) *wk;   /* a wider ISA's transform, or NULL */
} WN(wino_pack_ctx);

/* U = G g G^T for the 4 filters whose R x R taps lane l reads at g[l] (in
 * double, rounded to WT once, at the end), row by row: row i of T = G g,
 * then row i of U = T G^T (a whole T in registers next to g spilled on
 * 16-register AVX2); G rows 0 and 5 pick a single tap.  R = 3: F(4x4,3x3)
 * (W_G3), R = 5: F(2x2,5x5) (W_G5).  Element e = 6i + j
 * goes to d + e*es: all 4 lanes (pair 0), lanes 0-1 only (pair < 0), or
 * lanes 0-1 there and lanes 2-3 at d + pair (pair > 0: the same two output
 * channels of the next input channel). */
W_AINLINE void WN(wino_u4)(const int R, const WT *const g[4], WT *d, int64_t es, int64_t pair)
{
    /* each lane vector built in registers (a stack copy read back as
     * vectors stalled on store forwarding: ~10x slower) */
    __m256d gv[25];
#ifdef W_GATHER9
    if (R == 3) W_GATHER9(g, gv);
    else
#endif
        for (int t = 0; t < R * R; t++)
            gv[t] = W_GATHER4(g[0] + t, g[1] + t, g[2] + t, g[3] + t);
#define W_U4_STORE(e, v)                                                   \
    do {                                                                   \
        WT *de = d + (int64_t)(e) * es;                                    \
        if (pair > 0) W_PACK_STORE2(de, de + pair, v);                     \
        else W_PACK_STORE(de, v, pair < 0 ? 2 : 4);                        \
    } while (0)
    W_GGT(R, __m256d, _mm256_mul_pd, _mm256_fmadd_pd, _mm256_set1_pd, gv, W_U4_STORE);
#undef W_U4_STORE
}

/* output-channel block kb (KR = 6 channels) into ub, element e at ub + e*es,
 * every input channel: channels
 * 0-3 of the block one input channel at a time, channels 4-5 two input
 * channels at a time (lanes 4, 5 of c and of c + 1), so no lane computes a
 * zero: 1.5 vectors of transform work per input channel, not 2 (128 x 96
 * 3x3 packing x1.3, paired A/B, 1 thread; the packed bytes are the same).
 * W_CB input channels at a time are transformed into a stage in L1, then
 * each element's run goes out as one contiguous copy: stored straight to
 * d + e*es, the 36 elements' 16-byte pieces went to 36 streams a block
 * apart, which share a few L1 sets when es is a multiple of a large power
 * of two (256 x 256: 2 sets) */
#define W_CB 16   /* input channels per stage (even: a pair never straddles two) */
static void WN(wino_pack_one)(const cconv_wshape *ws, const WT *w, int64_t kb, WT *ub, int64_t es)
{
    const int64_t K = ws->K, C = ws->Cg;
    const int R = (int)ws->ks[1], RR = R * R;
    static const WT zero25[25] = {0};
    const WT *f[KR];                   /* filter kb*KR + l at input channel 0, or zeros */
    int64_t fs[KR];
    for (int l = 0; l < KR; l++) {
        const int64_t k = kb * KR + l;
        f[l] = k < K ? w + k * C * RR : zero25;
        fs[l] = k < K ? RR : 0;
    }
    WT st[NE * W_CB * KR];             /* [e][c - c0][KR] */
    const int64_t ses = W_CB * KR;
    for (int64_t c0 = 0; c0 < C; c0 += W_CB) {
        const int64_t cn = C - c0 < W_CB ? C - c0 : W_CB;
        for (int64_t c = c0; c < c0 + cn; c++) {
            const WT *g[4] = {f[0] + c * fs[0], f[1] + c * fs[1], f[2] + c * fs[2], f[3] + c * fs[3]};
            if (R == 3) WN(wino_u4)(3, g, st + (c - c0) * KR, ses, 0);
            else WN(wino_u4)(5, g, st + (c - c0) * KR, ses, 0);
        }
        int64_t c = c0;
        for (; c + 1 < c0 + cn; c += 2) {
            const WT *g[4] = {f[4] + c * fs[4], f[5] + c * fs[5], f[4] + (c + 1) * fs[4],
                              f[5] + (c + 1) * fs[5]};
            if (R == 3) WN(wino_u4)(3, g, st + (c - c0) * KR + 4, ses, KR);
            else WN(wino_u4)(5, g, st + (c - c0) * KR + 4, ses, KR);
        }
        if (c < c0 + cn) {   /* an odd last channel: its lanes 4, 5, and two zero lanes */
            const WT *g[4] = {f[4] + c * fs[4], f[5] + c * fs[5], zero25, zero25};
            if (R == 3) WN(wino_u4)(3, g, st + (c - c0) * KR + 4, ses, -1);
            else WN(wino_u4)(5, g, st + (c - c0) * KR + 4, ses, -1);
        }
        /* written as a plain loop, but GCC 12 -O3 still emits it as memcpy
         * calls (36 a stage, a few hundred bytes each).  Copying through
         * ymm registers instead made no measurable difference (packing
         * 3x3 128 -> 96, 256 -> 256, 64 -> 64 and 5x5 192 -> 32, Zen 3:
         * x0.98-1.05, paired) */
        for (int e = 0; e < NE; e++) {
            WT *dd = ub + e * es + c0 * KR;
            const WT *ss = st + e * ses;
            for (int64_t i = 0; i < cn * KR; i++) dd[i] = ss[i];
        }
    }
}
#undef W_CB

/* block kb into ub: a wider ISA's transform (wk) where it takes it, else this file's */
static void WN(wino_transform_block)(const WN(cconv_wino_wide) *wk, const cconv_wshape *ws,
                                     const WT *w, int64_t kb, WT *ub, int64_t es)
{
    if (!(wk && wk->wpack && wk->wpack(ws, w, kb, ub, es))) WN(wino_pack_one)(ws, w, kb, ub, es);
}

/* block kb of the packed weights: at u + kb*C*KR, elements nkb*C*KR apart */
static void WN(wino_pack_block)(void *vctx, int64_t kb)
{
    const WN(wino_pack_ctx) *cx = (const WN(wino_pack_ctx) *)vctx;
    const int64_t C = cx->ws->Cg, nkb = w_cdiv(cx->ws->K, KR);
    WN(wino_transform_block)(cx->wk, cx->ws, cx->w, kb, cx->u + kb * C * KR, nkb * C * KR);
}

void WN(cconv_wino_pack)(const cconv_wshape *ws, const WT *w, void *dst, int nthreads)
{
    WN(cconv_wino_pack_wide)(ws, w, dst, nthreads, NULL);
}

void WN(cconv_wino_pack_wide)(const cconv_wshape *ws, const WT *w, void *dst, int nthreads,
                              const WN(cconv_wino_wide) *wk)
{
    if (!w_shape_ok(ws)) return;
    WN(wino_pack_ctx) cx = {ws, w, (WT *)dst, wk};
    const int64_t nkb = w_cdiv(ws->K, KR);
    cconv_pack_blocks(nthreads, WN(cconv_wino_packed_size)(ws) / (int64_t)sizeof(WT), nkb,
                      WN(wino_pack_block), &cx);
}

/* ---- GEMM microkernel: 6 k x NT (WP or WL) tiles over C channels ----
 * u: [c][6] packed weights; v: [c][WP] transformed input panel;
 * m: row i at m + i*ms. */
W_AINLINE void WN(w_mk)(const int NT, const WT *u, const WT *v, int64_t C, WT *m, int64_t ms)
{
    WV c0a = W_ZERO(), c0b = c0a, c1a = c0a, c1b = c0a, c2a = c0a, c2b = c0a;
    WV c3a = c0a, c3b = c0a, c4a = c0a, c4b = c0a, c5a = c0a, c5b = c0a;
    for (int64_t c = 0; c < C; c++) {
        const WV x0 = W_LOAD(v);
        const WV x1 = NT > WL ? W_LOAD(v + WL) : x0;
        WV a;
        a = W_BCAST(u + 0); c0a = W_FMA(a, x0, c0a); if (NT > WL) c0b = W_FMA(a, x1, c0b);
        a = W_BCAST(u + 1); c1a = W_FMA(a, x0, c1a); if (NT > WL) c1b = W_FMA(a, x1, c1b);
        a = W_BCAST(u + 2); c2a = W_FMA(a, x0, c2a); if (NT > WL) c2b = W_FMA(a, x1, c2b);
        a = W_BCAST(u + 3); c3a = W_FMA(a, x0, c3a); if (NT > WL) c3b = W_FMA(a, x1, c3b);
        a = W_BCAST(u + 4); c4a = W_FMA(a, x0, c4a); if (NT > WL) c4b = W_FMA(a, x1, c4b);
        a = W_BCAST(u + 5); c5a = W_FMA(a, x0, c5a); if (NT > WL) c5b = W_FMA(a, x1, c5b);
        u += KR;
        v += WP;
    }
    W_STORE(m + 0 * ms, c0a);
    W_STORE(m + 1 * ms, c1a);
    W_STORE(m + 2 * ms, c2a);
    W_STORE(m + 3 * ms, c3a);
    W_STORE(m + 4 * ms, c4a);
    W_STORE(m + 5 * ms, c5a);
    if (NT > WL) {
        W_STORE(m + 0 * ms + WL, c0b);
        W_STORE(m + 1 * ms + WL, c1b);
        W_STORE(m + 2 * ms + WL, c2b);
        W_STORE(m + 3 * ms + WL, c3b);
        W_STORE(m + 4 * ms + WL, c4b);
        W_STORE(m + 5 * ms + WL, c5b);
    }
}

static void WN(w_mk_full)(const WT *u, const WT *v, int64_t C, WT *m, int64_t ms)
{
    WN(w_mk)(WP, u, v, C, m, ms);
}
static void WN(w_mk_half)(const WT *u, const WT *v, int64_t C, WT *m, int64_t ms)
{
    WN(w_mk)(WL, u, v, C, m, ms);
}

/* ---- the convolution ---- */

/* wk: NULL (this file's AVX2 kernels), or a wider ISA's kernels (winograd.h)
 * that then run every GEMM step and every transform: the
 * wide GEMM on only some steps of a call (28x28, 32 + 17 tiles, the first
 * block wide) ran x0.81, the AVX2 steps at the wide code's lower clock */
static int WN(wino_conv)(const cconv_conv_params *p, const WT *x, const void *packed,
                         const WT *bias, const WT *res, WT *y, int nthreads,
                         const WN(cconv_wino_wide) *wk, const WT *wraw)
{
    const int64_t N = p->N, C = p->C, K = p->w.K;
    const int64_t H = p->in[1], W = p->in[2], Ho = p->out[1], Wo = p->out[2];
    const int64_t ph = p->pad[1], pw = p->pad[2];
    if (N <= 0 || K <= 0 || Ho <= 0 || Wo <= 0) return CCONV_OK;
    const int relu = p->activation == CCONV_ACT_RELU;
    const WT *U = (const WT *)packed;
    /* output tile side: F(4x4,3x3) or F(2x2,5x5), both 6x6 input patches;
     * the wide transforms (wtr) are 4x4 ones: 5x5 layers run this file's
     * transforms and the wide GEMM */
    const int64_t mt = w_tile_side(p->w.ks[1]);
    const WN(cconv_wino_wide) *wtr = mt == 4 ? wk : NULL;
    const int64_t th = w_cdiv(Ho, mt), tw = w_cdiv(Wo, mt), T = th * tw;
    const int64_t nkb = w_cdiv(K, KR);

    /* tiles per block: the same bytes of V and M per dtype (float64: half the tiles) */
    int64_t nbp = WINO_NBP * (int64_t)sizeof(float) / (int64_t)sizeof(WT), kbc = WINO_KBC;
    /* tvl, the unit of tiles for blocks and balance: a wide GEMM's panel WP,
     * or 8 (one float32 AVX2 vector, two float64 ones); tvx: tiles a
     * transform call */
    const int64_t tvl = wk ? WP : 8, tvx = wtr ? WP : WL;
    if (nbp > T) nbp = w_cdiv(T, tvl) * tvl;
    if (wraw) kbc = w_max(1, w_min(WINO_RAW_KBC, WINO_RAW_BYTES / (NE * KR * w_max(C, 1)
                                                             * (int64_t)sizeof(WT))));
    if (kbc > nkb) kbc = nkb;
    int64_t nblk = w_cdiv(T, nbp), nkc = w_cdiv(nkb, kbc);
    const double work = (double)N * T * NE * C * K;
    const int nt = cconv_threads_for(nthreads, work, N * w_cdiv(T, 8) * nkb);
    /* finer tasks until the static split is within 8% of even (the
     * results do not depend on the blocking) */
    while (nt > 1) {
        int64_t share = 0;
        const int64_t ideal = w_cdiv(w_split(N, T, nkb, nbp, kbc, tvl, nt, NULL), nt);
        if (w_split(N, T, nkb, nbp, kbc, tvl, nt, &share) * 100 <= ideal * 108) break;
        /* raw weights: a block transforms its chunks again, so blocks stay whole */
        if (nbp > 16 && !wraw) nbp = w_max(16, (nbp / 2 + tvl - 1) / tvl * tvl);
        else if (kbc > 2) kbc = w_cdiv(kbc, 2);
        else break;
    }
    nblk = w_cdiv(T, nbp);
    nkc = w_cdiv(nkb, kbc);
    /* M row, V panels: with wk a whole number of panel pairs (or one panel),
     * every tile of a block in the wide kernels (lanes past the block's tiles
     * are zeroed below; their sums are never read) */
    const int64_t pstep = wk && nbp > WP ? 2 * WP : WP;
    const int64_t nbpp = w_cdiv(nbp, pstep) * pstep, npan = nbpp / WP;
    const int64_t KL = kbc * KR;                       /* M rows per chunk */
    /* V's element stride: an odd number of cache lines, so the input
     * transform's 36 element streams fall in 36 different L1 sets (a
     * multiple of 4 KiB put them all in one: 5x5 192 -> 32, 3x3 96 -> 128) */
    const int64_t ves = w_odd_lines(npan * w_max(C, 1) * WP, (int64_t)sizeof(WT));
    /* raw weights: a chunk's transformed elements the same (written in place
     * by a transform that stores each element straight to its stream) */
    const int64_t ues = w_odd_lines(KL * w_max(C, 1), (int64_t)sizeof(WT));
    const int64_t Wb = mt * w_min(nbp, tw) + 8 - mt;  /* band row length */
    const int64_t nseg_max = w_min(nbp, w_cdiv(nbp, tw) + 1);
    const int64_t tasks = N * nblk * nkc;
    const int64_t wtot = w_split(N, T, nkb, nbp, kbc, tvl, nt, NULL);
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
        WT *V = (WT *)cconv_scratch_alloc(sizeof(WT) * (size_t)(NE * ves));
        WT *M = (WT *)cconv_scratch_alloc(sizeof(WT) * (size_t)(NE * KL * nbpp));
        WT *band = (WT *)cconv_scratch_alloc(sizeof(WT) * (size_t)(nseg_max * 6 * Wb + 8));
        w_tile *tiles = (w_tile *)cconv_scratch_alloc(sizeof(w_tile) * (size_t)nbpp);
        const WT **src = (const WT **)cconv_scratch_alloc(sizeof(WT *) * (size_t)nbpp);
        int64_t *seg = (int64_t *)cconv_scratch_alloc(sizeof(int64_t) * 3 * (size_t)nseg_max);
        /* per group of tvx tiles: W_SIDE (2x2 tiles: side by side in one
         * row, as w_itrans2 reads them), W_FULL (all whole; for 2x2 tiles
         * side by side too, as w_otrans2 stores them) */
        unsigned char *gfl = (unsigned char *)cconv_scratch_alloc((size_t)(nbpp / tvx + 1));
        /* raw weights: the chunk's transformed weights, [e][kb - kb0][C][KR],
         * elements ues apart */
        WT *Uc = wraw ? (WT *)cconv_scratch_alloc(sizeof(WT) * (size_t)(NE * ues)) : NULL;
        if (!V || !M || !band || !tiles || !src || !seg || !gfl || (wraw && !Uc)) {
            failed = 1;
        } else {
            int64_t cached = -1, pre = 0, ucached = -1;
            for (int64_t task = 0; task < tasks; task++) {
                const int64_t kc = task % nkc, blk = (task / nkc) % nblk, n = task / (nkc * nblk);
                const int64_t j0 = blk * nbp, nb = w_min(nbp, T - j0), nbw = w_cdiv(nb, tvx) * tvx;
                const int64_t kb0 = kc * kbc, nkl = w_min(kbc, nkb - kb0);
                const int64_t wt = w_task_weight(T, nkb, nbp, kbc, nkc, nblk, tvl, task);
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
                        const WT *bs = band + ns * 6 * Wb;
                        seg[3 * ns] = ty; seg[3 * ns + 1] = txa; seg[3 * ns + 2] = len;
                        for (int64_t q = 0; q < len; q++) {
                            const int64_t jj = j + q - j0, tx = txa + q;
                            src[jj] = bs + mt * q;
                            tiles[jj].yoff = ty * mt * Wo + tx * mt;
                            tiles[jj].nr = (int)w_min(mt, Ho - ty * mt);
                            tiles[jj].nc = (int)w_min(mt, Wo - tx * mt);
                        }
                        ns++;
                        j += len;
                    }
                    for (int64_t jj = nb; jj < nbw; jj++) {   /* lanes past the end: harmless */
                        src[jj] = src[0];
                        tiles[jj] = tiles[0];
                    }
                    for (int64_t g = 0; g < nbw; g += tvx) {
                        const int64_t ntl = w_min(tvx, nb - g);
                        int side = mt == 2, full = ntl == tvx;
                        for (int64_t q = 1; q < tvx && side; q++) side = src[g + q] == src[g] + 2 * q;
                        for (int64_t q = 0; q < ntl && full; q++)
                            full = tiles[g + q].nr == mt && tiles[g + q].nc == mt;
                        gfl[g / tvx] = (unsigned char)((side ? W_SIDE : 0)
                                                       | (full && (mt != 2 || side) ? W_FULL : 0));
                    }
                    const WT *xn = x + n * p->x_sn;
                    for (int64_t c = 0; c < C; c++) {
                        const WT *xc = xn + c * p->x_sc;
                        for (int64_t s = 0; s < ns; s++) {
                            const int64_t ty = seg[3 * s], txa = seg[3 * s + 1], len = seg[3 * s + 2];
                            /* the last tile's transform reads 8 columns */
                            const int64_t wseg = mt * len + 8 - mt, col0 = mt * txa - pw;
                            const int64_t jlo = w_min(wseg, w_max(0, -col0));
                            const int64_t jhi = w_max(jlo, w_min(wseg, W - col0));
                            WT *bs = band + s * 6 * Wb;
                            for (int64_t r = 0; r < 6; r++) {
                                WT *dr = bs + r * Wb;
                                const int64_t ih = ty * mt - ph + r;
                                if (ih < 0 || ih >= H) {
                                    memset(dr, 0, sizeof(WT) * (size_t)wseg);
                                    continue;
                                }
                                const WT *sr = xc + ih * W + col0;
                                if (jlo > 0) memset(dr, 0, sizeof(WT) * (size_t)jlo);
                                memcpy(dr + jlo, sr + jlo, sizeof(WT) * (size_t)(jhi - jlo));
                                if (jhi < wseg) memset(dr + jhi, 0, sizeof(WT) * (size_t)(wseg - jhi));
                            }
                        }
                        if (wtr)
                            for (int64_t g = 0; g < nbw; g += WP)
                                wtr->itrans(src + g, Wb, V + ((g / WP) * C + c) * WP, ves);
                        else if (mt == 2)
                            for (int64_t g = 0; g < nbw; g += WL) {
                                WT *dv = V + ((g / WP) * C + c) * WP + (g % WP);
                                if (gfl[g / tvx] & W_SIDE) {
                                    WN(w_itrans2)(src[g], Wb, dv, ves);
                                } else {
                                    const WT *ps[WL];
                                    for (int q = 0; q < WL; q++) ps[q] = src[g + WN(w_lanes2)[q]];
                                    WN(w_itrans)(ps, Wb, dv, ves);
                                }
                            }
                        else
                            for (int64_t g = 0; g < nbw; g += WL)
                                WN(w_itrans)(src + g, Wb, V + ((g / WP) * C + c) * WP + (g % WP),
                                             ves);
                    }
                    /* the wide kernels run whole panel pairs: zeros in the
                     * lanes past the block (sums never read, but kept finite) */
                    if (wk)
                        for (int64_t g = nbw; g < nbpp; g += WL)
                            for (int64_t e = 0; e < NE; e++)
                                for (int64_t c = 0; c < C; c++)
                                    W_STORE(V + e * ves + ((g / WP) * C + c) * WP + (g % WP),
                                            W_ZERO());
                    cached = key;
                }
                if (wraw && kc != ucached) {
                    for (int64_t kb = 0; kb < nkl; kb++)
                        WN(wino_transform_block)(wk, &p->w, wraw, kb0 + kb, Uc + kb * C * KR, ues);
                    ucached = kc;
                }
                /* 36 GEMMs for this chunk of output channels */
                for (int64_t e = 0; e < NE; e++) {
                    const WT *Ve = V + e * ves;
                    /* element e of the chunk's first block; blocks C*KR apart */
                    const WT *Ue = wraw ? Uc + e * ues : U + (e * nkb + kb0) * C * KR;
                    if (wk && nbpp == WP) {   /* one panel: two blocks a call */
                        for (int64_t kb = 0; kb < nkl; kb += 2)
                            wk->mk12(Ue + kb * C * KR, C * KR, kb + 1 < nkl, Ve,
                                     C, M + (e * KL + kb * KR) * nbpp, nbpp);
                        continue;
                    }
                    if (wk) {   /* panel pairs: two blocks a call, an odd last one alone */
                        for (int64_t kb = 0; kb < nkl; kb += 2) {
                            const WT *u = Ue + kb * C * KR;
                            WT *m = M + (e * KL + kb * KR) * nbpp;
                            for (int64_t tv = 0; tv < nbw; tv += 2 * WP) {
                                if (kb + 1 < nkl)
                                    wk->mk22(u, C * KR, Ve + tv * C, WP * C, C, m + tv, nbpp);
                                else
                                    wk->mk2(u, Ve + tv * C, WP * C, C, m + tv, nbpp);
                            }
                        }
                        continue;
                    }
                    for (int64_t kb = 0; kb < nkl; kb++) {
                        const WT *u = Ue + kb * C * KR;
                        WT *m = M + (e * KL + kb * KR) * nbpp;
                        int64_t tv = 0;
                        for (; tv + WP <= nbw; tv += WP)
                            WN(w_mk_full)(u, Ve + tv * C, C, m + tv, nbpp);
                        if (tv < nbw) WN(w_mk_half)(u, Ve + tv * C, C, m + tv, nbpp);
                    }
                }
                /* output transform + epilogue */
                const int64_t k0 = kb0 * KR, kn = w_min(nkl * KR, K - k0);
                for (int64_t kl = 0; kl < kn; kl++) {
                    const int64_t k = k0 + kl;
                    WT *yk = y + n * p->y_sn + k * p->y_sk;
                    const WT *rk = res ? res + n * p->r_sn + k * p->r_sk : NULL;
                    const WT bk = bias ? bias[k] : (WT)0;
                    for (int64_t g = 0; g < nbw; g += tvx) {
                        const int ntl = (int)w_min(tvx, nb - g);
                        const int full = (gfl[g / tvx] & W_FULL) != 0;
                        if (mt == 2)
                            WN(w_otrans2)(M + kl * nbpp + g, KL * nbpp, tiles + g, ntl, full, yk,
                                          rk, Wo, bk, relu);
                        else if (wtr)
                            wtr->otrans(M + kl * nbpp + g, KL * nbpp, tiles + g, ntl, full, yk, rk,
                                       Wo, bk, relu);
                        else
                            WN(w_otrans)(M + kl * nbpp + g, KL * nbpp, tiles + g, ntl, full, yk,
                                         rk, Wo, bk, relu);
                    }
                }
            }
        }
        cconv_scratch_free(Uc);
        cconv_scratch_free(gfl);
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

int WN(cconv_wino_conv)(const cconv_conv_params *p, const WT *x, const void *packed,
                           const WT *bias, const WT *res, WT *y, int nthreads)
{
    return WN(wino_conv)(p, x, packed, bias, res, y, nthreads, NULL, NULL);
}

int WN(cconv_wino_conv_raw)(const cconv_conv_params *p, const WT *x, const WT *w,
                            const WT *bias, const WT *res, WT *y, int nthreads)
{
    if (!w_shape_ok(&p->w)) return CCONV_EINVAL;
    return WN(wino_conv)(p, x, NULL, bias, res, y, nthreads, NULL, w);
}

int WN(cconv_wino_conv_wide)(const cconv_conv_params *p, const WT *x, const void *packed,
                                const WT *bias, const WT *res, WT *y, int nthreads,
                                const WN(cconv_wino_wide) *wk)
{
    return WN(wino_conv)(p, x, packed, bias, res, y, nthreads, wk, NULL);
}

int WN(cconv_wino_conv_raw_wide)(const cconv_conv_params *p, const WT *x, const WT *w,
                                 const WT *bias, const WT *res, WT *y, int nthreads,
                                 const WN(cconv_wino_wide) *wk)
{
    if (!w_shape_ok(&p->w)) return CCONV_EINVAL;
    return WN(wino_conv)(p, x, NULL, bias, res, y, nthreads, wk, w);
}

#undef WP
#undef W_SIDE
#undef W_FULL
/* the parameters end with the instantiation */
#undef WT
#undef WV
#undef WL
#undef WN
#undef W_LOAD
#undef W_STORE
#undef W_BCAST
#undef W_ZERO
#undef W_FMA
#undef W_FNMA
#undef W_ADD
#undef W_SUB
#undef W_SET1
#undef W_PACK_STORE
#undef W_PACK_STORE2
#undef W_GATHER4
#undef W_GATHER9
