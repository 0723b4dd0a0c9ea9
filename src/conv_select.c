/* conv_select.c - the AVX2 and AVX-512 kernel tables (float32, float64) with
 * algorithm selection: 3x3 stride-1 layers go to Winograd F(4x4,3x3) and 5x5
 * ones to F(2x2,5x5) (winograd_avx2.c; on AVX-512 its GEMM and transforms can
 * run in winograd_avx512.c), stride-2 layers with 7- or 8-wide
 * kernels to the 1-D F(3,4) path (winograd_s2_avx2.c, ymm: on the AVX-512
 * table only where zmm FMAs run at the ymm rate),
 * each when it applies and pays off; everything else to the direct kernels of
 * the table's ISA (conv_avx2.c, conv_avx512.c), each with its own direct layout.
 *
 * The packed weights hold the ISA's direct layout, then (64-byte aligned) the
 * Winograd-transformed weights unless CCONV_PACK_DIRECT_ONLY was asked for.
 * Winograd mixes the inputs of a whole tile, so a NaN or Inf input would
 * spread to outputs whose window does not contain it; inputs that are not all
 * finite therefore take the direct path (chosen per image), which keeps IEEE
 * propagation exact.
 * cconv_select_wino_applies tells the Python layers whether a call would
 * take Winograd, so a layer can leave the transformed weights out until one
 * does.  Compiled for the baseline ISA: it only selects, and runs nothing
 * wide.
 */
#include "cconv.h"
#include "scratch.h"

#if (defined(__x86_64__) || defined(_M_X64)) && defined(CCONV_HAVE_AVX2)
#include "winograd.h"

extern const cconv_conv_kernels cconv_avx2_f32, cconv_avx512_f32;
extern const cconv_conv_kernels cconv_avx2_f64, cconv_avx512_f64;

/* the fewest 4x4 output tiles an image for Winograd (see wino_f64 below) */
#ifndef WINO_F32_MIN_TILES
#define WINO_F32_MIN_TILES 8
#endif
#ifndef WINO_F64_MIN_TILES
#define WINO_F64_MIN_TILES 16
#endif

/* one dtype's Winograd entry points */
typedef struct {
    cconv_dtype dt;
    int64_t min_tiles;   /* the fewest 4x4 output tiles per image that pay off */
    int64_t (*size)(const cconv_wshape *ws);
    void (*pack)(const cconv_wshape *ws, const void *w, void *dst, int nthreads);
    int (*conv)(const cconv_conv_params *p, const void *x, const void *packed, const void *bias,
                const void *res, void *y, int nthreads);
    /* the same from raw weights (CCONV_PACK_WINO_RAW) */
    int (*conv_raw)(const cconv_conv_params *p, const void *x, const void *w, const void *bias,
                    const void *res, void *y, int nthreads);
    /* stride-2 7- and 8-wide kernels take winograd_s2_avx2.c, which reads
     * the weights from the direct kernel's layout through this */
    cconv_weight_offset_fn ws2;
    /* 1: the path in zmm vectors (winograd_s2_avx512.c) where 512-bit FMAs
     * run at twice the 256-bit rate */
    int ws2_zmm;
} wino_ops;

static size_t dt_bytes(cconv_dtype dt) { return dt == CCONV_F64 ? sizeof(double) : sizeof(float); }

/* 1 when every input value image n holds is finite: its channels split over
 * up to nthreads threads from 128K values (cconv_finite_threads) (3x3 64 -> 64 at 56x56 holds 200K,
 * ~0.035 ms on one thread).  Paired A/B, packed, two threads, Zen 3: batch 8
 * of those x1.02-1.06, one image x0.99-1.02; smaller images stay on one
 * thread, outside any parallel region (a one-thread region cost fire2's
 * 16 -> 64 at 55x55 x0.97-0.98) */
static int image_finite(cconv_dtype dt, const cconv_conv_params *p, const void *xv, int64_t n,
                        int nthreads)
{
    const size_t es = dt_bytes(dt);
    const int64_t plane = p->in[0] * p->in[1] * p->in[2], C = p->C;
    const char *xn = (const char *)xv + (size_t)(n * p->x_sn) * es;
    const size_t cstep = (size_t)p->x_sc * es;
    const int nt = cconv_finite_threads(nthreads, C * plane, C);
    if (nt <= 1) {
        for (int64_t c = 0; c < C; c++)
            if (!cconv_all_finite(dt, xn + (size_t)c * cstep, plane)) return 0;
        return 1;
    }
    int bad = 0;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) reduction(| : bad)
#endif
    for (int64_t c = 0; c < C; c++)
        if (!bad) bad |= !cconv_all_finite(dt, xn + (size_t)c * cstep, plane);
    return !bad;
}

static void pack_f32(const cconv_wshape *ws, const void *w, void *dst, int nthreads)
{
    cconv_wino_pack_f32(ws, (const float *)w, dst, nthreads);
}
static void pack_f64(const cconv_wshape *ws, const void *w, void *dst, int nthreads)
{
    cconv_wino_pack_f64(ws, (const double *)w, dst, nthreads);
}
static int conv_f32(const cconv_conv_params *p, const void *x, const void *packed,
                    const void *bias, const void *res, void *y, int nthreads)
{
    return cconv_wino_conv_f32(p, (const float *)x, packed, (const float *)bias,
                                  (const float *)res, (float *)y, nthreads);
}
static int conv_f64(const cconv_conv_params *p, const void *x, const void *packed,
                    const void *bias, const void *res, void *y, int nthreads)
{
    return cconv_wino_conv_f64(p, (const double *)x, packed, (const double *)bias,
                                  (const double *)res, (double *)y, nthreads);
}
static int conv_raw_f32(const cconv_conv_params *p, const void *x, const void *w,
                        const void *bias, const void *res, void *y, int nthreads)
{
    return cconv_wino_conv_raw_f32(p, (const float *)x, (const float *)w, (const float *)bias,
                                   (const float *)res, (float *)y, nthreads);
}
static int conv_raw_f64(const cconv_conv_params *p, const void *x, const void *w,
                        const void *bias, const void *res, void *y, int nthreads)
{
    return cconv_wino_conv_raw_f64(p, (const double *)x, (const double *)w, (const double *)bias,
                                   (const double *)res, (double *)y, nthreads);
}
/* The same on AVX-512 with the GEMM steps and the input and output
 * transforms in zmm (winograd_avx512.c).  Code in zmm runs at a lower clock,
 * and so does what is left of a call in AVX2 and scalar code, so float32
 * layers take the wide kernels from WINO_WIDE_MIN_C_F32 input channels;
 * float64 ones (half the lanes a vector, twice the work a tile) always.
 * Paired A/B against the AVX2 kernels, one thread.  float32: 96 -> 128 at
 * 28x28 x1.14-1.32, 64 -> 64 at 56x56 x1.15-1.23 (batch 8 x1.18-1.20),
 * 256 -> 256 at 14x14 x1.09-1.19, 32 -> 64 x1.10, 48 -> 64 x1.04,
 * 64 -> 32 x1.12, 64 -> 64 at 12x12 x1.03; two threads x1.10-1.36; but
 * 16 -> 64 (fire2_ex) x0.90-1.02 and 16 -> 16 x0.99.  float64: 96 -> 128
 * x1.14, 64 -> 64 x1.18 (batch 8 x1.24), 32 -> 64 x1.24-1.27, 16 -> 64
 * x1.09-1.10, 16 -> 16 x1.05.  With only the GEMM in zmm, float32 16 -> 64
 * lost x0.94.  5x5 layers take the zmm GEMM under their own (ymm) 2x2
 * transforms (from 16 channels: takes_wide_f32); paired A/B against the AVX2 GEMM, Intel
 * family 6 model 167: float32 192 -> 32 at 28x28 x1.19 (two threads
 * x1.12), 32 -> 96 x1.16 (x1.07), 48 -> 128 at 7x7 x1.16 (x1.06), 64 -> 64
 * at 14x14 x1.14; float64 192 -> 32 x1.23, 48 -> 128 x1.29, 16 -> 32 x1.09.
 * Every path gives the same bits. */
#ifndef WINO_WIDE_MIN_C_F32
#define WINO_WIDE_MIN_C_F32 32
#endif
static const cconv_wino_wide_f32 wide_f32 = {cconv_wino_mk2_avx512_f32, cconv_wino_mk12_avx512_f32,
                                             cconv_wino_mk22_avx512_f32, cconv_wino_itrans_avx512_f32,
                                             cconv_wino_otrans_avx512_f32,
                                             cconv_wino_wpack_avx512_f32};
static const cconv_wino_wide_f64 wide_f64 = {cconv_wino_mk2_avx512_f64, cconv_wino_mk12_avx512_f64,
                                             cconv_wino_mk22_avx512_f64, cconv_wino_itrans_avx512_f64,
                                             cconv_wino_otrans_avx512_f64,
                                             cconv_wino_wpack_avx512_f64};
/* the whole transform packed in zmm whatever the layer (the same bytes) */
static void pack512_f32(const cconv_wshape *ws, const void *w, void *dst, int nthreads)
{
    cconv_wino_pack_wide_f32(ws, (const float *)w, dst, nthreads, &wide_f32);
}
static void pack512_f64(const cconv_wshape *ws, const void *w, void *dst, int nthreads)
{
    cconv_wino_pack_wide_f64(ws, (const double *)w, dst, nthreads, &wide_f64);
}
/* the packed and the raw-weight float32 calls take the wide kernels alike;
 * 5x5 layers, whose transforms stay in ymm, whatever their channels (from
 * 16, where Winograd starts): paired A/B against the ymm GEMM, Intel family
 * 6 model 167, one / two threads: 16 -> 32 at 28x28 x1.06 / x1.02,
 * 24 -> 64 x1.10 / x1.04, 16 -> 32 at 56x56 x1.14 / x1.13, but 16 -> 48 at
 * 14x14 x0.96-0.99 / x1.00 */
static int takes_wide_f32(const cconv_conv_params *p)
{
    return p->w.ks[1] == 5 || p->C >= WINO_WIDE_MIN_C_F32;
}
static int conv512_f32(const cconv_conv_params *p, const void *x, const void *packed,
                       const void *bias, const void *res, void *y, int nthreads)
{
    if (!takes_wide_f32(p)) return conv_f32(p, x, packed, bias, res, y, nthreads);
    return cconv_wino_conv_wide_f32(p, (const float *)x, packed, (const float *)bias,
                                       (const float *)res, (float *)y, nthreads, &wide_f32);
}
static int conv512_f64(const cconv_conv_params *p, const void *x, const void *packed,
                       const void *bias, const void *res, void *y, int nthreads)
{
    return cconv_wino_conv_wide_f64(p, (const double *)x, packed, (const double *)bias,
                                       (const double *)res, (double *)y, nthreads, &wide_f64);
}
/* raw weights (a one-shot call) on the same kernels, by the same rule (the
 * AVX2 ones had served them on every table).  One-shot, paired A/B in one
 * process, Intel family 6 model 167, one thread: 3x3 at 14x14 256 -> 256
 * x1.09-1.11, 512 -> 512 x1.08-1.12, 64 -> 64 x1.11, 128 -> 128 x1.01,
 * 1024 -> 256 x1.02; two threads x1.05-1.10; float64 x1.18-1.20.  The same
 * bits */
static int conv512_raw_f32(const cconv_conv_params *p, const void *x, const void *w,
                           const void *bias, const void *res, void *y, int nthreads)
{
    if (!takes_wide_f32(p)) return conv_raw_f32(p, x, w, bias, res, y, nthreads);
    return cconv_wino_conv_raw_wide_f32(p, (const float *)x, (const float *)w, (const float *)bias,
                                        (const float *)res, (float *)y, nthreads, &wide_f32);
}
static int conv512_raw_f64(const cconv_conv_params *p, const void *x, const void *w,
                           const void *bias, const void *res, void *y, int nthreads)
{
    return cconv_wino_conv_raw_wide_f64(p, (const double *)x, (const double *)w,
                                        (const double *)bias, (const double *)res, (double *)y,
                                        nthreads, &wide_f64);
}
/* float64 weights are twice the bytes to stream per tile block, so
 * float64 needs more tiles.  Paired A/B, 16 tiles against the 20 this used
 * to ask (Winograd against direct), one thread, AVX-512 kernels: 14x14
 * 256 -> 256 x1.60-1.69, 1024 -> 256 x1.79, 13x13 256 -> 256 x1.54, 64 -> 64
 * x1.49, 16 -> 16 at 14x14 x1.11, 15x15 32 -> 32 x1.29 (two threads x0.96-
 * 1.60); AVX2 kernels x1.39-1.96 on the same layers.  With 9 tiles it lost
 * on images that fill their tiles badly (9x9 64 -> 64 x0.71, 10x10
 * 256 -> 256 x0.91, where 12x12 won x1.27-1.39), and with 4 (8x8, 7x7)
 * x0.79-0.90. */
static const wino_ops wino_f32 = {CCONV_F32, WINO_F32_MIN_TILES,
                                  cconv_wino_packed_size_f32, pack_f32, conv_f32, conv_raw_f32,
                                  cconv_avx2_f32_weight_offset, 0};
static const wino_ops wino_f64 = {CCONV_F64, WINO_F64_MIN_TILES,
                                  cconv_wino_packed_size_f64, pack_f64, conv_f64, conv_raw_f64,
                                  cconv_avx2_f64_weight_offset, 0};
/* The stride-2 path is ymm code.  On Zen 4, whose zmm FMAs run at the ymm
 * rate, it beats the AVX-512 direct kernel (7x7/s2 3 -> 64 at 224x224,
 * paired: x1.10-1.14 one thread, x1.04-1.06 two); where zmm runs at twice
 * the ymm rate (Intel) it would have half the lanes for 1.75x fewer
 * multiply-adds, so the default keeps the direct kernel there.  float64
 * follows the same rule, the same trade; measured on Intel only (family 6
 * model 167, forced against the zmm direct kernel, the stem: float64 x0.96,
 * float32 x0.84), not on Zen 4. */
static const wino_ops wino512_f32 = {CCONV_F32, WINO_F32_MIN_TILES,
                                     cconv_wino_packed_size_f32, pack512_f32, conv512_f32,
                                     conv512_raw_f32, cconv_avx512_f32_weight_offset, 1};
static const wino_ops wino512_f64 = {CCONV_F64, WINO_F64_MIN_TILES,
                                     cconv_wino_packed_size_f64, pack512_f64, conv512_f64,
                                     conv512_raw_f64, cconv_avx512_f64_weight_offset, 1};

static int64_t wino_offset(const cconv_conv_kernels *direct, const cconv_wshape *ws)
{
    return (direct->packed_size(ws) + 63) / 64 * 64;
}

static int has_wino(const wino_ops *wo, const cconv_wshape *ws)
{
    return !(ws->flags & CCONV_PACK_DIRECT_ONLY) && wo->size(ws) > 0;
}

static int64_t sel_packed_size(const cconv_conv_kernels *direct, const wino_ops *wo,
                               const cconv_wshape *ws)
{
    if (ws->flags & CCONV_PACK_WINO_RAW) return 0;
    if (has_wino(wo, ws)) return wino_offset(direct, ws) + wo->size(ws);
    return direct->packed_size(ws);
}

static void sel_pack(const cconv_conv_kernels *direct, const wino_ops *wo, const cconv_wshape *ws,
                     const void *w, void *dst, int nthreads)
{
    if (ws->flags & CCONV_PACK_WINO_RAW) return;
    direct->pack(ws, w, dst, nthreads);
    if (has_wino(wo, ws)) wo->pack(ws, w, (char *)dst + wino_offset(direct, ws), nthreads);
}

/* the direct kernel on packed weights or, for raw weights
 * (CCONV_PACK_WINO_RAW), on the direct layout packed for this call alone */
static int sel_direct(const cconv_conv_kernels *direct, const cconv_conv_params *p,
                      const void *x, const void *w, const void *bias, const void *res, void *y,
                      int nthreads)
{
    if (!(p->w.flags & CCONV_PACK_WINO_RAW)) return direct->conv(p, x, w, bias, res, y, nthreads);
    cconv_conv_params q = *p;
    q.w.flags = (q.w.flags & ~CCONV_PACK_WINO_RAW) | CCONV_PACK_DIRECT_ONLY;
    void *buf = cconv_scratch_alloc((size_t)direct->packed_size(&q.w));
    if (!buf) return CCONV_ENOMEM;
    direct->pack(&q.w, w, buf, nthreads);
    const int rc = direct->conv(&q, x, buf, bias, res, y, nthreads);
    cconv_scratch_free(buf);
    return rc;
}

/* the path for finite images: Winograd (2-D, packed or raw weights) or the
 * stride-2 1-D Winograd (ws2: U transformed for this call) */
typedef struct {
    const wino_ops *wo;
    const void *w;     /* transformed weights (wino) or U (ws2) */
    int raw, ws2;      /* ws2: 0 not that path, 1 in ymm, 2 in zmm */
} fast_path;

/* the stride-2 path's entry points for the dtype (zmm: the zmm ones) */
static int ws2_applies(cconv_dtype dt, int zmm, const cconv_conv_params *p)
{
    if (zmm) return dt == CCONV_F64 ? cconv_ws2_applies_avx512_f64(p) : cconv_ws2_applies_avx512_f32(p);
    return dt == CCONV_F64 ? cconv_ws2_applies_f64(p) : cconv_ws2_applies_f32(p);
}
static int ws2_weights(cconv_dtype dt, const cconv_wshape *ws, const void *wd,
                       cconv_weight_offset_fn off, void *U)
{
    return dt == CCONV_F64 ? cconv_ws2_weights_f64(ws, (const double *)wd, off, (double *)U)
                           : cconv_ws2_weights_f32(ws, (const float *)wd, off, (float *)U);
}
static int ws2_run(cconv_dtype dt, int zmm, const cconv_conv_params *q, const void *x,
                   const void *U, const void *bias, const void *res, void *y, int nthreads)
{
    if (zmm && dt == CCONV_F64)
        return cconv_ws2_conv_avx512_f64(q, (const double *)x, (const double *)U,
                                         (const double *)bias, (const double *)res, (double *)y,
                                         nthreads);
    if (zmm)
        return cconv_ws2_conv_avx512_f32(q, (const float *)x, (const float *)U, (const float *)bias,
                                         (const float *)res, (float *)y, nthreads);
    if (dt == CCONV_F64)
        return cconv_ws2_conv_f64(q, (const double *)x, (const double *)U, (const double *)bias,
                                  (const double *)res, (double *)y, nthreads);
    return cconv_ws2_conv_f32(q, (const float *)x, (const float *)U, (const float *)bias,
                              (const float *)res, (float *)y, nthreads);
}

static int fast_conv(const fast_path *f, const cconv_conv_params *q, const void *x,
                     const void *bias, const void *res, void *y, int nthreads)
{
    if (f->ws2) return ws2_run(f->wo->dt, f->ws2 == 2, q, x, f->w, bias, res, y, nthreads);
    return f->raw ? f->wo->conv_raw(q, x, f->w, bias, res, y, nthreads)
                  : f->wo->conv(q, x, f->w, bias, res, y, nthreads);
}

/* The algorithm is chosen per image, so an image's result never depends on
 * which other images share the call (or on how a caller splits a batch):
 * runs of images, all finite (the fast path) or not (direct: NaN/Inf stay
 * exact); each image is scanned once, a whole finite batch is one run */
static int by_finite_runs(const cconv_conv_kernels *direct, const fast_path *f,
                          const cconv_conv_params *p, const void *x, const void *packed,
                          const void *bias, const void *res, void *y, int nthreads)
{
    const cconv_dtype dt = f->wo->dt;
    const size_t es = dt_bytes(dt);
    int rc = CCONV_OK, fin = p->N > 0 ? image_finite(dt, p, x, 0, nthreads) : 1;
    for (int64_t n0 = 0; n0 < p->N && rc == CCONV_OK;) {
        int64_t n1 = n0 + 1;
        int next = fin;
        while (n1 < p->N && (next = image_finite(dt, p, x, n1, nthreads)) == fin) n1++;
        cconv_conv_params q = *p;
        q.N = n1 - n0;
        const void *xq = (const char *)x + (size_t)(n0 * p->x_sn) * es;
        const void *rq = res ? (const char *)res + (size_t)(n0 * p->r_sn) * es : NULL;
        void *yq = (char *)y + (size_t)(n0 * p->y_sn) * es;
        rc = fin ? fast_conv(f, &q, xq, bias, rq, yq, nthreads)
                 : sel_direct(direct, &q, xq, packed, bias, rq, yq, nthreads);
        n0 = n1;
        fin = next;
    }
    return rc;
}

/* stride-2 layers with 7- or 8-wide kernels (ws2): the weights transformed
 * for this call from the direct layout (ResNet's 3 -> 64 stem: 16K values),
 * the direct kernel where one of them is not finite */
static int ws2_conv(const cconv_conv_kernels *direct, const wino_ops *wo, int zmm,
                    const cconv_conv_params *p, const void *x, const void *packed,
                    const void *bias, const void *res, void *y, int nthreads)
{
    void *U = cconv_scratch_alloc(dt_bytes(wo->dt) * (size_t)cconv_ws2_weights_size(&p->w));
    if (!U) return CCONV_ENOMEM;
    int rc;
    if (!ws2_weights(wo->dt, &p->w, packed, wo->ws2, U)) {
        rc = direct->conv(p, x, packed, bias, res, y, nthreads);
    } else {
        const fast_path f = {wo, U, 0, zmm ? 2 : 1};
        rc = by_finite_runs(direct, &f, p, x, packed, bias, res, y, nthreads);
    }
    cconv_scratch_free(U);
    return rc;
}

static int sel_conv(const cconv_conv_kernels *direct, const wino_ops *wo,
                    const cconv_conv_params *p, const void *x, const void *packed,
                    const void *bias, const void *res, void *y, int nthreads)
{
    const int raw = (p->w.flags & CCONV_PACK_WINO_RAW) != 0;
    const int zmm = wo->ws2_zmm && !cconv_cpu_zmm_split();
    if (wo->ws2 && !raw && ws2_applies(wo->dt, zmm, p))
        return ws2_conv(direct, wo, zmm, p, x, packed, bias, res, y, nthreads);
    if (!has_wino(wo, &p->w) || !cconv_wino_applies(p, wo->min_tiles))
        return sel_direct(direct, p, x, packed, bias, res, y, nthreads);
    const fast_path f = {wo, raw ? packed : (const char *)packed + wino_offset(direct, &p->w), raw, 0};
    return by_finite_runs(direct, &f, p, x, packed, bias, res, y, nthreads);
}

int64_t cconv_select_wino_block_tiles(cconv_dtype dt)
{
    return dt == CCONV_F64 ? WINO_NBP / 2 : WINO_NBP;
}

int cconv_select_wino_applies(cconv_dtype dt, const cconv_conv_params *p)
{
    const wino_ops *wo = dt == CCONV_F64 ? &wino_f64 : &wino_f32;
    return has_wino(wo, &p->w) && cconv_wino_applies(p, wo->min_tiles);
}

/* one table per ISA and dtype: thin wrappers naming their direct kernels */
#define SEL_TABLE(name, isa, direct, wo)                                                   \
    static int64_t name##_size(const cconv_wshape *ws)                                      \
    {                                                                                       \
        return sel_packed_size(&direct, &wo, ws);                                           \
    }                                                                                       \
    static void name##_pack(const cconv_wshape *ws, const void *w, void *dst, int nthreads) \
    {                                                                                       \
        sel_pack(&direct, &wo, ws, w, dst, nthreads);                                       \
    }                                                                                       \
    static int name##_conv(const cconv_conv_params *p, const void *x, const void *packed,  \
                           const void *bias, const void *res, void *y, int nthreads)        \
    {                                                                                       \
        return sel_conv(&direct, &wo, p, x, packed, bias, res, y, nthreads);               \
    }                                                                                       \
    static int name##_chain(const cconv_chain_params *p, const void *x, void *y, int nthreads) \
    {                                                                                       \
        return direct.chain(p, x, y, nthreads); /* 1x1: never Winograd */                   \
    }                                                                                       \
    const cconv_conv_kernels name = {isa, name##_size, name##_pack, name##_conv, name##_chain};

SEL_TABLE(cconv_avx2_select_f32, "avx2", cconv_avx2_f32, wino_f32)
SEL_TABLE(cconv_avx512_select_f32, "avx512", cconv_avx512_f32, wino512_f32)
SEL_TABLE(cconv_avx2_select_f64, "avx2", cconv_avx2_f64, wino_f64)
SEL_TABLE(cconv_avx512_select_f64, "avx512", cconv_avx512_f64, wino512_f64)
#undef SEL_TABLE

#else
int64_t cconv_select_wino_block_tiles(cconv_dtype dt)
{
    (void)dt;
    return 0;
}

int cconv_select_wino_applies(cconv_dtype dt, const cconv_conv_params *p)
{
    (void)dt; (void)p;
    return 0; /* no Winograd kernels on this target */
}
#endif
