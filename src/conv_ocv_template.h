/* conv_ocv_template.h - the output-channel-vectorised convolution tile,
 * written once over a vector abstraction and instantiated per ISA, dtype and
 * tile shape by conv_avx512.c (zmm: float32, float64) and conv_avx2.c (ymm:
 * float32); conv_ocv_pick.h chooses the shape per layer.
 *
 * The spatially vectorised tile of conv_simd_template.h loads two unaligned
 * vectors of pixels per (channel, tap): with 16 lanes nearly every such load
 * splits a cache line, and the kernel becomes load-bound.  Here a tile is ONP
 * output pixels x OKB output channels (ONV vectors each, ONP * ONV
 * accumulators): per (channel, tap) ONV aligned weight vectors are loaded and
 * each pixel is broadcast (never split) into ONV FMAs.  KxK layers read
 * pixels from the prepared band of conv_simd_template.h (flat rows of width
 * Wq, stride phases), so padding, stride and dilation cost nothing in the
 * loop.  1x1 layers do not come here (see ocv_use).  Weights are packed
 * [g][OKB-oc block][c][tap][OKB] and consumed in channel chunks whose weights
 * stay in L1; partial sums of a tile park in per-thread scratch between
 * chunks (exact round trips, ascending (c, tap) order: bitwise the same for
 * any thread count).  The epilogue transposes a tile in registers
 * (O_TRANSPOSE) and applies bias, residual and ReLU on the way to NCHW.
 *
 * The including file defines the dtype's OT, OV, OL (lanes), OM (a lane bit
 * mask: bit p for lane p), O_LOADU, O_STOREU, O_SET1, O_FMA, O_ADD, O_MAX,
 * O_ZERO, O_MLOADZ(m, p), O_MSTORE(p, m, v) and O_TRANSPOSE(src, stride,
 * nrows, col) (col[o] lane p = src[p * stride + o], o < OL, p < nrows;
 * conv_ocv_undef.h undefines them), the ISA's OCV_WCHUNK and OCV_WCHUNK_WIDE
 * (bytes of a channel chunk's weights) and, optionally, O_PF (software
 * prefetches of the next channel's band lines per (channel, tap): 2, the
 * default, or 0), optionally O_COMPACT (1: tiles run over the output
 * pixels, not the band's flat positions; below), and the shape's ONP (pixels per tile), ONV (2 or 4 vectors
 * of output channels), ONM(x) (name suffix) and O_ALL(X) (X(0) ..
 * X(ONP - 1)), which this header undefines at its end.
 *
 * Tile placement.  By default tile tl covers the band's flat positions
 * tl*ONP.. (rows of width Wq): the Wq - Wo columns past each output row are
 * computed and thrown away (5x5/pad 2 at 28 wide: 4 of 32, an eighth of the
 * FMAs).  With O_COMPACT a tile covers output pixels tl*ONP.. (rows of width
 * Wo) instead; a tile that crosses a row end reads its first S pixels from
 * one band row and the rest Wq - Wo further on (variant S of the kernel),
 * and its ONP outputs are contiguous in y.
 */
#ifndef O_PF
#define O_PF 2
#endif
#ifndef O_COMPACT
#define O_COMPACT 0
#endif
#define OKB (ONV * OL)     /* output channels per tile */
#define OTILE (ONP * OKB)  /* values of one tile's sums */

static int64_t ONM(ocv_nkb)(const cconv_wshape *ws) { return (ws->K / ws->groups + OKB - 1) / OKB; }

static int64_t ONM(ocv_packed_size)(const cconv_wshape *ws)
{
    const int64_t taps = ws->ks[0] * ws->ks[1] * ws->ks[2];
    return ws->groups * ONM(ocv_nkb)(ws) * ws->Cg * taps * OKB * (int64_t)sizeof(OT);
}

typedef struct { const cconv_wshape *ws; const OT *w; OT *dst; } ONM(ocv_pack_ctx);

/* block gk = (group, OKB-oc block): a transpose of its OKB rows, OL x OL
 * at a time in registers (O_TRANSPOSE), OL (c, tap) columns of every row
 * per step: contiguous row reads, contiguous OKB-wide output rows (scalar
 * copies took 1.7 ns a weight for 3x3 256 -> 256, a third of a one-shot
 * call); the last ct % OL columns one value at a time */
static void ONM(ocv_pack_block)(void *vctx, int64_t gk)
{
    const ONM(ocv_pack_ctx) *cx = (const ONM(ocv_pack_ctx) *)vctx;
    const cconv_wshape *ws = cx->ws;
    const int64_t Kg = ws->K / ws->groups, nkb = ONM(ocv_nkb)(ws);
    const int64_t ct = ws->Cg * ws->ks[0] * ws->ks[1] * ws->ks[2];  /* one weight row */
    const int64_t g = gk / nkb, kb = gk % nkb;
    const OT *src = cx->w + (g * Kg + kb * OKB) * ct;  /* row l of the block: src + l * ct */
    const int64_t nr = a2_min(OKB, Kg - kb * OKB);       /* rows past Kg pack as zeros */
    OT *p = cx->dst + gk * ct * OKB;
    int64_t j0 = 0;
    for (; j0 + OL <= ct; j0 += OL)
        for (int64_t l0 = 0; l0 < OKB; l0 += OL) {
            OV col[OL];
            const int64_t n = a2_max(0, a2_min(OL, nr - l0));
            if (n > 0) O_TRANSPOSE(src + l0 * ct + j0, ct, (int)n, col);
            for (int o = 0; o < OL; o++)
                O_STOREU(p + (j0 + o) * OKB + l0, n > 0 ? col[o] : O_ZERO());
        }
    for (int64_t j = j0; j < ct; j++)
        for (int64_t l = 0; l < OKB; l++) p[j * OKB + l] = l < nr ? src[l * ct + j] : (OT)0;
}

static void ONM(ocv_pack)(const cconv_wshape *ws, const OT *w, OT *dst, int nthreads)
{
    ONM(ocv_pack_ctx) cx = {ws, w, dst};
    const int64_t nblk = ws->groups * ONM(ocv_nkb)(ws);
    cconv_pack_blocks(nthreads, ONM(ocv_packed_size)(ws) / (int64_t)sizeof(OT), nblk,
                      ONM(ocv_pack_block), &cx);
}

static int64_t ONM(ocv_chunk)(int64_t taps)
{
    const int64_t c = (ONV > 2 ? OCV_WCHUNK_WIDE : OCV_WCHUNK) / (taps * OKB * (int64_t)sizeof(OT));
    return c > 0 ? c : 1;
}

/* bytes of per-thread scratch for a band of npx flat positions */
static size_t ONM(ocv_scratch)(int64_t npx, int64_t Cg, int64_t taps)
{
    const int64_t nch = (Cg + ONM(ocv_chunk)(taps) - 1) / ONM(ocv_chunk)(taps);
    const int64_t slots = 1 + (nch > 1 ? (npx + ONP - 1) / ONP : 0);
    return sizeof(OT) * (size_t)(slots * OTILE);
}

/* ONP pixels x OKB channels over nc channels x ntaps taps; sums start from
 * zero or ain, end in aout ([pixel][OKB] each).  Pixel i of a (channel, tap)
 * is at bp[i] for i < S or S == 0, else at bp[i + d] (a tile that crosses an
 * output row's end, O_COMPACT) */
AINLINE void ONM(ocv_mki)(const int S, const OT *w, const OT *b, int64_t nc, int64_t cs,
                          const int64_t *off, int64_t ntaps, int64_t d, const OT *ain, OT *aout)
{
    /* pixel i's sums: a##i, b##i (channels 0..2*OL), c##i, d##i (ONV 4) */
#define DC(i) OV a##i, b##i, c##i, d##i;
    O_ALL(DC)
#undef DC
    if (ain) {
#define LD(i) a##i = O_LOADU(ain + i * OKB); b##i = O_LOADU(ain + i * OKB + OL); \
              if (ONV > 2) { c##i = O_LOADU(ain + i * OKB + 2 * OL); d##i = O_LOADU(ain + i * OKB + 3 * OL); }
        O_ALL(LD)
#undef LD
    } else {
#define ZR(i) a##i = b##i = c##i = d##i = O_ZERO();
        O_ALL(ZR)
#undef ZR
    }
    for (int64_t c = 0; c < nc; c++) {
        const OT *bc = b + c * cs;
        for (int64_t t = 0; t < ntaps; t++) {
            const OT *bp = bc + off[t], *bq = bp + d;
            (void)bq;
#if O_PF
            /* the band streams from L2: fetch the next channel's lines
             * (AVX-512, res3_3x3_128s2: ~70 -> ~85 GFLOP/s; per (channel,
             * tap) this beat a tap-outer order, A/B) */
            _mm_prefetch((const char *)(bp + cs), _MM_HINT_T0);
            _mm_prefetch((const char *)(bp + cs + ONP - 1), _MM_HINT_T0);
#endif
            const OV w0 = O_LOADU(w), w1 = O_LOADU(w + OL);
            const OV w2 = ONV > 2 ? O_LOADU(w + 2 * OL) : w0, w3 = ONV > 2 ? O_LOADU(w + 3 * OL) : w0;
            w += OKB;
            OV x;
#define ST(i) x = O_SET1((S == 0 || i < S) ? bp[i] : bq[i]); a##i = O_FMA(w0, x, a##i); b##i = O_FMA(w1, x, b##i); \
              if (ONV > 2) { c##i = O_FMA(w2, x, c##i); d##i = O_FMA(w3, x, d##i); }
            O_ALL(ST)
#undef ST
        }
    }
#define SV(i) O_STOREU(aout + i * OKB, a##i); O_STOREU(aout + i * OKB + OL, b##i); \
              if (ONV > 2) { O_STOREU(aout + i * OKB + 2 * OL, c##i); O_STOREU(aout + i * OKB + 3 * OL, d##i); }
    O_ALL(SV)
#undef SV
}

typedef void (*ONM(ocv_mk_fn))(const OT *, const OT *, int64_t, int64_t, const int64_t *, int64_t,
                               int64_t, const OT *, OT *);
/* the kernel per split S (0: no row end inside the tile) */
#define MKS(s)                                                                                \
    static void ONM(ocv_mk_s##s)(const OT *w, const OT *b, int64_t nc, int64_t cs,            \
                                 const int64_t *off, int64_t ntaps, int64_t d, const OT *ain, \
                                 OT *aout)                                                     \
    { ONM(ocv_mki)(s, w, b, nc, cs, off, ntaps, d, ain, aout); }
#define MKE(s) ONM(ocv_mk_s##s),
#if O_COMPACT
O_ALL(MKS)
static const ONM(ocv_mk_fn) ONM(ocv_mkt)[ONP] = {O_ALL(MKE)};
#else
MKS(0)
static const ONM(ocv_mk_fn) ONM(ocv_mkt)[1] = {ONM(ocv_mk_s0)};
#endif
#undef MKS
#undef MKE

/* the output segments of the tile at flat band position q0 (rows of width
 * Wq, Wo of them output): segment s writes lanes msk[s] at base[s] */
static int ONM(ocv_segs)(int64_t q0, int64_t rbn, int64_t Wq, int64_t Wo, int64_t *base, OM *msk)
{
    int lo[ONP], hi[ONP];
    const int ns = a2_row_segments(q0, ONP, rbn, Wq, Wo, base, lo, hi);
    for (int s = 0; s < ns; s++) msk[s] = (OM)(((1u << hi[s]) - 1) & ~((1u << lo[s]) - 1));
    return ns;
}

/* one tile's sums tb ([pixel][OKB]) to output channels [k0, k0 + kn) in ns
 * segments (lanes msk[s] at yk + base[s]): transposed in registers, bias,
 * residual (may alias y), ReLU */
static void ONM(ocv_epi)(const OT *tb, int ns, const int64_t *base, const OM *msk, int64_t kn,
                         OT *yk, int64_t ysk, const OT *rk, int64_t rsk, const OT *bk, int relu)
{
    if (ns == 0) return;
    const OV z = O_ZERO();
    OV col[OL];
    for (int64_t o = 0; o < kn; o++) {
        if (o % OL == 0) O_TRANSPOSE(tb + o, OKB, ONP, col);
        OV v = col[o % OL];
        if (bk) v = O_ADD(v, O_SET1(bk[o]));
        OT *yr = yk + o * ysk;
        const OT *rr = rk ? rk + o * rsk : NULL;
        for (int s = 0; s < ns; s++) {
            OV u = v;
            if (rr) u = O_ADD(u, O_MLOADZ(msk[s], rr + base[s]));
            if (relu) u = O_MAX(z, u);  /* max(0, NaN) = NaN */
            O_MSTORE(yr + base[s], msk[s], u);
        }
    }
}

/* output-channel blocks [kb0, kb1) of one prepared band (group's weights wg,
 * outputs yg/rg/bg at the band's first pixel of the group's channel 0) */
static void ONM(ocv_band)(const OT *wg, const OT *band, int64_t Cg, int64_t cs,
                        const int64_t *off, int64_t taps, int64_t rbn, int64_t Wq, int64_t Wo,
                        int64_t kb0, int64_t kb1, int64_t Kg, OT *yg, int64_t ysk,
                        const OT *rg, int64_t rsk, const OT *bg, int relu, OT *pb)
{
    /* compact placement where a tile crosses at most one row end */
    const int cmp = O_COMPACT && Wo >= ONP;
    const int64_t npx = cmp ? rbn * Wo : rbn * Wq, ntl = (npx + ONP - 1) / ONP;
    const int64_t cch = ONM(ocv_chunk)(taps), nch = (Cg + cch - 1) / cch;
    OT *tb = pb;
    for (int64_t kb = kb0; kb < kb1; kb++) {
        const OT *wk = wg + kb * Cg * taps * OKB;
        const int64_t k0 = kb * OKB, kn = a2_min(OKB, Kg - k0);
        for (int64_t ch = 0; ch < nch; ch++) {
            const int64_t c0 = ch * cch, cn = a2_min(cch, Cg - c0);
            const int last = ch == nch - 1;
            for (int64_t tl = 0; tl < ntl; tl++) {
                OT *acc = nch > 1 ? pb + (tl + 1) * OTILE : NULL;
                const int64_t m0 = tl * ONP;
                int64_t q0 = m0, split = 0;
                if (cmp) {
                    /* output pixel m0 = (i, j): band position i * Wq + j */
                    const int64_t i = m0 / Wo, j = m0 - i * Wo;
                    q0 = i * Wq + j;
                    if (j + ONP > Wo) split = Wo - j;
                }
                ONM(ocv_mkt)[split](wk + c0 * taps * OKB, band + c0 * cs + q0, cn, cs, off, taps,
                                    Wq - Wo, ch > 0 ? acc : NULL, last ? tb : acc);
                if (!last) continue;
                int64_t base[ONP];
                OM msk[ONP];
                int ns = 1;
                if (cmp) {  /* one segment: the tile's outputs are contiguous */
                    base[0] = m0;
                    msk[0] = (OM)((1u << a2_min(ONP, npx - m0)) - 1);
                } else {
                    ns = ONM(ocv_segs)(m0, rbn, Wq, Wo, base, msk);
                }
                ONM(ocv_epi)(tb, ns, base, msk, kn, yg + k0 * ysk, ysk, rg ? rg + k0 * rsk : NULL,
                             rsk, bg ? bg + k0 : NULL, relu);
            }
        }
    }
}

#undef OTILE
/* the shape's parameters end with the instantiation */
#undef ONP
#undef ONV
#undef OKB
#undef ONM
#undef O_ALL
