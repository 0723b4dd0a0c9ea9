/* conv_ocv_pick.h - which layers run the output-channel-vectorised tile of
 * conv_ocv_template.h, and in which of its shapes; the hooks that
 * conv_simd_template.h calls (A2_OCV_*) dispatch here.  Instantiated per
 * dtype by conv_avx512.c and conv_avx2.c: OPK(x) names this dtype's
 * functions, ONARROW(x) its narrow (2-vector) tile instance and, where the
 * ISA has one (AVX-512: 32 registers), OWIDE(x) its wide (4-vector) one; OT
 * and OL are the dtype's, as for conv_ocv_template.h.  OCV_MIN_CT (default
 * 0): the shortest reduction, input channels x taps, that the tile takes.
 */
#ifndef OCV_MIN_CT
#define OCV_MIN_CT 0
#endif
#define OPK_NKB (2 * OL)  /* output channels of a narrow tile */
#define OPK_WKB (4 * OL)  /* ... of a wide tile */

static int OPK(ocv_use)(const cconv_wshape *ws)
{
    /* KxK only, at least 3/4 of the narrow tile's lanes busy.  1x1 layers
     * keep the spatial tile (conv_simd_template.h, 6 oc x 4 vectors on
     * AVX-512): its pixel panel is a plain row copy, aligned, and needs no
     * transposes */
    const int64_t taps = ws->ks[0] * ws->ks[1] * ws->ks[2];
    return taps > 1 && ws->K / ws->groups >= OPK_NKB * 3 / 4 && ws->Cg * taps >= OCV_MIN_CT;
}

/* the wide tile wherever it pads a group's Kg output channels to no more
 * lanes than the narrow one (AVX-512 float32: Kg 48, 64, 128 go wide; 32,
 * 96, 160 stay narrow) */
static int OPK(ocv_wide)(int64_t Kg)
{
#ifdef OWIDE
    return a2_cdiv(Kg, OPK_WKB) * OPK_WKB <= a2_cdiv(Kg, OPK_NKB) * OPK_NKB;
#else
    (void)Kg;
    return 0;
#endif
}
#ifndef OWIDE
#define OWIDE ONARROW  /* never called: ocv_wide() is 0 */
#define OPK_NO_WIDE
#endif

/* output channels per packed block */
static int64_t OPK(ocv_kb)(const cconv_wshape *ws)
{
    return OPK(ocv_wide)(ws->K / ws->groups) ? OPK_WKB : OPK_NKB;
}

static int64_t OPK(ocv_packed_size)(const cconv_wshape *ws)
{
    return OPK(ocv_wide)(ws->K / ws->groups) ? OWIDE(ocv_packed_size)(ws)
                                                 : ONARROW(ocv_packed_size)(ws);
}

static void OPK(ocv_pack)(const cconv_wshape *ws, const OT *w, OT *dst, int nthreads)
{
    if (OPK(ocv_wide)(ws->K / ws->groups)) OWIDE(ocv_pack)(ws, w, dst, nthreads);
    else ONARROW(ocv_pack)(ws, w, dst, nthreads);
}

/* bytes of per-thread scratch for a band of npx flat positions */
static size_t OPK(ocv_scratch)(int64_t Kg, int64_t npx, int64_t Cg, int64_t taps)
{
    return OPK(ocv_wide)(Kg) ? OWIDE(ocv_scratch)(npx, Cg, taps)
                                : ONARROW(ocv_scratch)(npx, Cg, taps);
}

static void OPK(ocv_band)(const OT *wg, const OT *band, int64_t Cg, int64_t cs,
                             const int64_t *off, int64_t taps, int64_t rbn, int64_t Wq, int64_t Wo,
                             int64_t kb0, int64_t kb1, int64_t Kg, OT *yg, int64_t ysk,
                             const OT *rg, int64_t rsk, const OT *bg, int relu, OT *pb)
{
    if (OPK(ocv_wide)(Kg))
        OWIDE(ocv_band)(wg, band, Cg, cs, off, taps, rbn, Wq, Wo, kb0, kb1, Kg, yg, ysk, rg, rsk,
                           bg, relu, pb);
    else
        ONARROW(ocv_band)(wg, band, Cg, cs, off, taps, rbn, Wq, Wo, kb0, kb1, Kg, yg, ysk, rg,
                             rsk, bg, relu, pb);
}

#undef OPK_NKB
#undef OPK_WKB
#ifdef OPK_NO_WIDE
#undef OWIDE
#undef OPK_NO_WIDE
#endif

/* the template's hooks, by the name of the dtype being instantiated (NM:
 * ocv_use_f32, ocv_use_f64, ...); conv_ocv_hooks_undef.h undefines them
 * where the ISA file's last dtype with the tile ends */
#ifndef A2_OCV
#define A2_OCV 1
#define A2_OCV_KB NM(ocv_kb)
#define A2_OCV_USE NM(ocv_use)
#define A2_OCV_PACKED_SIZE NM(ocv_packed_size)
#define A2_OCV_PACK NM(ocv_pack)
#define A2_OCV_SCRATCH NM(ocv_scratch)
#define A2_OCV_BAND NM(ocv_band)
#endif
