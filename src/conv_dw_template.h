/* conv_dw_template.h - depthwise KxK convolution (one input and one output
 * channel a group: MobileNet's and ConvNeXt's 3x3 to 7x7 layers), written
 * once over conv_simd_template.h's vector abstraction and included by it, so
 * instantiated per ISA and dtype by conv_avx2.c and conv_avx512.c.
 *
 * Such a layer has no reduction over channels for a register tile to share:
 * the spatial and output-channel tiles of the other paths would run one
 * output channel a tile (6 rows of 1x1 blocks, 5 of 6 padding), so these
 * layers get their own loop.  A task is one channel's band of output rows:
 * its input rows are copied once into a zero-padded scratch band (stride-2
 * rows split into their two column phases, as the band path does), and each
 * output row is then DW_NB vectors of pixels at a time, every tap one
 * broadcast weight and DW_NB unaligned loads from the band: padding, stride
 * and dilation cost nothing in the loop.  Sums run over the taps in (r, s)
 * order from zero, then bias, residual and ReLU, as everywhere else.
 *
 * The packed layout is the raw one, [K][R][S] (nothing to block).  2-D and
 * 1-D layers, and 3-D ones with a kernel depth of 1. */
#ifndef DW_BUDGET
#define DW_BUDGET (48 * 1024)   /* bytes of one task's prepared band */
#endif
#ifndef DW_MAXBAND
#define DW_MAXBAND (1024 * 1024)   /* most bytes of one output row's band */
#endif
#ifndef DW_NB
#define DW_NB 4                 /* vectors of one output row a step */
#endif

static int NM(dw_use)(const cconv_wshape *ws)
{
    return ws->Cg == 1 && ws->K == ws->groups && ws->ks[0] == 1 && ws->ks[1] * ws->ks[2] > 1;
}

/* the epilogue of one vector of sums: bias, residual, ReLU, stored whole or
 * (m) in the row's last lanes */
AINLINE void NM(dw_store)(V a, int64_t j, int64_t Wo, T *yr, const T *rr, const T *bk, int relu)
{
    if (bk) a = VADD(a, VSET1(*bk));
    if (j + VL <= Wo) {
        if (rr) a = VADD(a, VLOADU(rr + j));
        if (relu) a = VMAX(VZERO(), a);   /* max(0, NaN) = NaN */
        VSTOREU(yr + j, a);
        return;
    }
    const VMASK_T m = VMRANGE(0, Wo, j);
    if (rr) a = VADD(a, VMLOAD(rr + j, m));
    if (relu) a = VMAX(VZERO(), a);
    VMSTORE(yr + j, m, a);
}

/* DW_NB vectors of sums, slot u's tap t from src[u] + toff[t], stored at
 * y[u] (residual r[u]) in lanes [0, nl[u]); slots past ns are not stored.
 * The slots are a row's next vectors, or one vector of several rows where
 * rows are short: independent sums either way (one row of one vector would
 * wait on each FMA's latency) */
static void NM(dw_block)(int ns, const T *const *src, const int64_t *toff, const T *wk,
                         int64_t taps, T *const *y, const T *const *r, const int64_t *nl,
                         const T *bk, int relu)
{
    V a0 = VZERO(), a1 = VZERO(), a2 = VZERO(), a3 = VZERO();
    /* slots past ns repeat slot 0 */
    const T *s0 = src[0], *s1 = ns > 1 ? src[1] : s0, *s2 = ns > 2 ? src[2] : s0, *s3 = ns > 3 ? src[3] : s0;
    for (int64_t t = 0; t < taps; t++) {
        const int64_t o = toff[t];
        const V w = VSET1(wk[t]);
        a0 = VFMA(w, VLOADU(s0 + o), a0);
        a1 = VFMA(w, VLOADU(s1 + o), a1);
        a2 = VFMA(w, VLOADU(s2 + o), a2);
        a3 = VFMA(w, VLOADU(s3 + o), a3);
    }
    const V acc[4] = {a0, a1, a2, a3};
    for (int u = 0; u < ns; u++) NM(dw_store)(acc[u], 0, nl[u], y[u], r[u], bk, relu);
}

/* the column phases the taps read: phase b holds input columns j * sw +
 * cpv[b] - pw; tap column s reads phase cpi[s] (at most KS phases, however
 * large the stride).  Returns their number */
static int64_t NM(dw_phases)(const cconv_conv_params *p, int64_t *cpv, int64_t *cpi)
{
    const int64_t KS = p->w.ks[2], sw = p->stride[2], dw = p->dil[2];
    int64_t ncp = 0;
    for (int64_t s = 0; s < KS; s++) {
        const int64_t v = (s * dw) % sw;
        int64_t b = 0;
        while (b < ncp && cpv[b] != v) b++;
        if (b == ncp) cpv[ncp++] = v;
        cpi[s] = b;
    }
    return ncp;
}

/* a band row's values a phase: the row's output vectors, and room for the
 * last vector's reads past Wo */
static int64_t NM(dw_wq)(const cconv_conv_params *p)
{
    const int64_t shmax = ((p->w.ks[2] - 1) * p->dil[2]) / p->stride[2];
    return a2_cdiv(p->out[2], VL) * VL + a2_cdiv(shmax, VL) * VL;
}

/* whether the loop takes call p: one output row's band within DW_MAXBAND
 * (huge dilations or paddings, whose rows would be mostly zeros, take the
 * band path instead: a2_conv) */
static int NM(dw_fits)(const cconv_conv_params *p)
{
    int64_t *cpv = (int64_t *)malloc(sizeof(int64_t) * (size_t)(2 * p->w.ks[2]));
    if (!cpv) return 0;
    const int64_t ncp = NM(dw_phases)(p, cpv, cpv + p->w.ks[2]);
    free(cpv);
    const double halo = (double)(p->w.ks[1] - 1) * (double)p->dil[1] + 1;
    return halo * (double)ncp * (double)NM(dw_wq)(p) * (double)sizeof(T) <= DW_MAXBAND;
}

/* band row br: ncp column phases of Wq values (phase b's value j: input
 * column j * sw + cpv[b] - pw of row xr, zero outside [0, W)); stores may
 * run up to VL - 1 values past the row, into what the caller writes next or
 * the band's slack */
static void NM(dw_prep_row)(T *br, const T *xr, int64_t W, int64_t Wq, int64_t sw, int64_t pw,
                            int64_t ncp, const int64_t *cpv, const T *lim)
{
    if (sw == 1) {
        /* masked loads: the lanes outside the row neither read nor fault */
        for (int64_t j = 0; j < Wq; j += VL) VSTOREU(br + j, VMLOAD(xr + j - pw, VMRANGE(pw, pw + W, j)));
        return;
    }
#ifdef VDEINT
    if (sw == 2 && ncp == 2) {
        /* phases 0 and 1 (tap 0 reads phase 0): two vectors of the row,
         * columns 2j - pw on, split into the evens and the odds */
        for (int64_t j = 0; j < Wq; j += VL) {
            const int64_t c0 = 2 * j - pw;
            V ev, od;
            VDEINT(VMLOAD(xr + c0, VMRANGE(-c0, W - c0, 0)),
                   VMLOAD(xr + c0 + VL, VMRANGE(-c0, W - c0, VL)), &ev, &od);
            VSTOREU(br + j, ev);
            VSTOREU(br + Wq + j, od);
        }
        return;
    }
#endif
    for (int64_t b = 0; b < ncp; b++) {
        T *dr = br + b * Wq;
        int64_t jlo, jhi;
        a2_phase_cols(cpv[b] - pw, sw, W, &jlo, &jhi);
        jhi = a2_min(jhi, Wq);
        jlo = a2_min(jlo, jhi);
        if (jlo > 0) memset(dr, 0, sizeof(T) * (size_t)jlo);
        /* [j * sw]: column j * sw + cpv[b] - pw */
        NM(a2_gather)(dr, xr + (cpv[b] - pw), jlo, jhi, sw, lim);
        if (jhi < Wq) memset(dr + jhi, 0, sizeof(T) * (size_t)(Wq - jhi));
    }
}

/* a call dw_fits refuses: the band path (a2_convband) on its own layout,
 * packed from the raw weights for this call */
static int NM(dw_by_bands)(const cconv_conv_params *p, const T *x, const T *wp, const T *bias,
                           const T *res, T *y, int nthreads)
{
    const int64_t nblk = p->w.groups * NM(a2_nkb)(&p->w);
    const int64_t nv = nblk * p->w.Cg * p->w.ks[0] * p->w.ks[1] * p->w.ks[2] * OCB;
    T *blk = (T *)cconv_scratch_alloc(sizeof(T) * (size_t)nv);
    if (!blk) return CCONV_ENOMEM;
    NM(a2_pack_ctx) cx = {&p->w, wp, blk};
    cconv_pack_blocks(nthreads, nv, nblk, NM(a2_pack_block), &cx);
    const int rc = NM(a2_convband)(p, x, blk, bias, res, y, nthreads);
    cconv_scratch_free(blk);
    return rc;
}

static int NM(dw_conv)(const cconv_conv_params *p, const T *x, const T *wp, const T *bias,
                       const T *res, T *y, int nthreads)
{
    if (!NM(dw_fits)(p)) return NM(dw_by_bands)(p, x, wp, bias, res, y, nthreads);
    const int64_t K = p->w.K, D = p->in[0], H = p->in[1], W = p->in[2];
    const int64_t Do = p->out[0], Ho = p->out[1], Wo = p->out[2];
    const int64_t KR = p->w.ks[1], KS = p->w.ks[2], taps = KR * KS;
    const int64_t sd = p->stride[0], sh = p->stride[1], sw = p->stride[2];
    const int64_t dh = p->dil[1], dw = p->dil[2];
    const int64_t pd = p->pad[0], ph = p->pad[1], pw = p->pad[2];
    const int relu = p->activation == CCONV_ACT_RELU;
    /* toff: tap t's offset from an output row's band row; cpv, cpi: the
     * column phases (dw_phases) */
    int64_t *meta = (int64_t *)malloc(sizeof(int64_t) * (size_t)(taps + 2 * KS));
    if (!meta) return CCONV_ENOMEM;
    int64_t *toff = meta, *cpv = meta + taps, *cpi = meta + taps + KS;
    const int64_t ncp = NM(dw_phases)(p, cpv, cpi);
    const int64_t Wq = NM(dw_wq)(p), rowv = ncp * Wq, halo = (KR - 1) * dh + 1;
    for (int64_t r = 0; r < KR; r++)
        for (int64_t s = 0; s < KS; s++)
            toff[r * KS + s] = (r * dh * ncp + cpi[s]) * Wq + (s * dw) / sw;
    int64_t rb = (DW_BUDGET / (rowv * (int64_t)sizeof(T)) - halo) / sh + 1;
    rb = a2_max(1, a2_min(rb, Ho));
    const int64_t nbands = a2_cdiv(Ho, rb);
    rb = a2_cdiv(Ho, nbands);
    const int64_t nq = (rb - 1) * sh + halo;     /* band rows */
    const int64_t tasks = p->N * K * Do * nbands;
    const double work = (double)p->N * K * Do * Ho * Wo * taps;
    const int nt = cconv_threads_for(nthreads, work, tasks);
    /* tasks a grab: small planes are short tasks, and each grab is an
     * atomic step of the dynamic schedule */
    const int64_t grab = a2_max(1, tasks / (8 * (int64_t)nt));
    const int64_t nvr = a2_cdiv(Wo, VL);   /* vectors an output row */
    int failed = 0;

#ifdef _OPENMP
#pragma omp parallel num_threads(nt) reduction(| : failed)
#endif
    {
        cconv_fpstate fps = cconv_fpenv_enter();
        /* + VL: a row's stores may run past the last row */
        T *band = (T *)cconv_scratch_alloc(sizeof(T) * (size_t)(nq * rowv + VL));
        if (!band) failed = 1;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, grab) nowait
#endif
        for (int64_t task = 0; task < tasks; task++) {
            if (!band) continue;
            int64_t q = task;
            const int64_t bd = q % nbands; q /= nbands;
            const int64_t od = q % Do; q /= Do;
            const int64_t k = q % K; q /= K;
            const int64_t n = q;
            const int64_t h0 = bd * rb, rbn = a2_min(rb, Ho - h0);
            const int64_t id = od * sd - pd;   /* the input plane (kernel depth 1) */
            const T *xp = id >= 0 && id < D ? x + n * p->x_sn + k * p->x_sc + id * H * W : NULL;
            /* band row i: input row h0 * sh - ph + i, zero outside the image */
            for (int64_t i = 0; i < (rbn - 1) * sh + halo; i++) {
                T *br = band + i * rowv;
                const int64_t ih = h0 * sh - ph + i;
                if (!xp || ih < 0 || ih >= H) {
                    for (int64_t j = 0; j < rowv; j += VL) VSTOREU(br + j, VZERO());
                    continue;
                }
                NM(dw_prep_row)(br, xp + ih * W, W, Wq, sw, pw, ncp, cpv, xp + H * W);
            }
            T *const yk = y + n * p->y_sn + k * p->y_sk + (od * Ho + h0) * Wo;
            const T *const rk = res ? res + n * p->r_sn + k * p->r_sk + (od * Ho + h0) * Wo : NULL;
            const T *wk = wp + k * taps, *bk = bias ? bias + k : NULL;
            /* the band's vectors in row order, DW_NB a block (rows of one
             * vector: DW_NB rows a block); (i, jv) the next vector */
            int64_t i = 0, jv = 0;
            while (i < rbn) {
                const T *src[DW_NB] = {NULL};
                T *yu[DW_NB];
                const T *ru[DW_NB];
                int64_t nl[DW_NB];
                int ns = 0;
                for (; ns < DW_NB && i < rbn; ns++) {
                    const int64_t j = jv * VL;
                    src[ns] = band + i * sh * rowv + j;
                    yu[ns] = yk + i * Wo + j;
                    ru[ns] = rk ? rk + i * Wo + j : NULL;
                    nl[ns] = a2_min(VL, Wo - j);
                    if (++jv == nvr) { jv = 0; i++; }
                }
                NM(dw_block)(ns, src, toff, wk, taps, yu, ru, nl, bk, relu);
            }
        }
        cconv_scratch_free(band);
        cconv_fpenv_leave(fps);
    }
    free(meta);
    return failed ? CCONV_ENOMEM : CCONV_OK;
}
