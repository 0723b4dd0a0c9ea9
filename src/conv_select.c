/* conv_select.c - the AVX2 and AVX-512 float32 kernel tables with algorithm
 * selection: 3x3 stride-1 layers go to Winograd F(4x4,3x3) (winograd_avx2.c)
 * when it applies and pays off, everything else to the direct kernels of the
 * table's ISA (conv_avx2.c, conv_avx512.c), each with its own direct layout.
 *
 * The packed weights hold the ISA's direct layout, then (64-byte aligned) the
 * Winograd-transformed weights unless CCONV_PACK_DIRECT_ONLY was asked for.
 * Winograd mixes the inputs of a whole tile, so a NaN or Inf input would
 * spread to outputs whose window does not contain it; inputs that are not all
 * finite therefore take the direct path (chosen per image), which keeps IEEE
 * propagation exact.
 * Compiled for the baseline ISA: it only selects, and runs nothing wide.
 */
#include <string.h>
#include "cconv.h"

#if (defined(__x86_64__) || defined(_M_X64)) && defined(CCONV_HAVE_AVX2)
#include "winograd.h"

extern const cconv_conv_kernels cconv_avx2_f32, cconv_avx512_f32;

static int64_t wino_offset(const cconv_conv_kernels *direct, const cconv_wshape *ws)
{
    return (direct->packed_size(ws) + 63) / 64 * 64;
}

static int has_wino(const cconv_wshape *ws)
{
    return !(ws->flags & CCONV_PACK_DIRECT_ONLY) && cconv_wino3x3_packed_size_f32(ws) > 0;
}

static int64_t sel_packed_size(const cconv_conv_kernels *direct, const cconv_wshape *ws)
{
    if (has_wino(ws)) return wino_offset(direct, ws) + cconv_wino3x3_packed_size_f32(ws);
    return direct->packed_size(ws);
}

static void sel_pack(const cconv_conv_kernels *direct, const cconv_wshape *ws, const void *w,
                     void *dst, int nthreads)
{
    direct->pack(ws, w, dst, nthreads);
    if (has_wino(ws))
        cconv_wino3x3_pack_f32(ws, (const float *)w, (char *)dst + wino_offset(direct, ws),
                               nthreads);
}

/* 1 when every input value image n holds is finite (bit test: vectorises) */
static int image_finite(const cconv_conv_params *p, const float *x, int64_t n)
{
    const int64_t plane = p->in[0] * p->in[1] * p->in[2];
    for (int64_t c = 0; c < p->C; c++) {
        const float *xc = x + n * p->x_sn + c * p->x_sc;
        uint32_t bad = 0;
        for (int64_t i = 0; i < plane; i++) {
            uint32_t u;
            memcpy(&u, xc + i, sizeof u);
            bad |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
        }
        if (bad) return 0;
    }
    return 1;
}

static int wino_conv(const cconv_conv_kernels *direct, const cconv_conv_params *p, const void *x,
                     const void *packed, const void *bias, const void *res, void *y, int nthreads)
{
    return cconv_wino3x3_conv_f32(p, (const float *)x,
                                  (const char *)packed + wino_offset(direct, &p->w),
                                  (const float *)bias, (const float *)res, (float *)y, nthreads);
}

/* The algorithm is chosen per image, so an image's result never depends on
 * which other images share the call (or on how a caller splits a batch). */
static int sel_conv(const cconv_conv_kernels *direct, const cconv_conv_params *p,
                    const void *x, const void *packed, const void *bias, const void *res,
                    void *y, int nthreads)
{
    if (!has_wino(&p->w) || !cconv_wino3x3_applies(p))
        return direct->conv(p, x, packed, bias, res, y, nthreads);
    int64_t n = 0;
    while (n < p->N && image_finite(p, (const float *)x, n)) n++;
    if (n == p->N) return wino_conv(direct, p, x, packed, bias, res, y, nthreads);
    /* some image holds NaN/Inf: run runs of images, each with its own algorithm */
    int rc = CCONV_OK;
    for (int64_t n0 = 0; n0 < p->N && rc == CCONV_OK;) {
        const int fin = image_finite(p, (const float *)x, n0);
        int64_t n1 = n0 + 1;
        while (n1 < p->N && image_finite(p, (const float *)x, n1) == fin) n1++;
        cconv_conv_params q = *p;
        q.N = n1 - n0;
        const void *xq = (const float *)x + n0 * p->x_sn;
        const void *rq = res ? (const void *)((const float *)res + n0 * p->r_sn) : NULL;
        void *yq = (float *)y + n0 * p->y_sn;
        rc = fin ? wino_conv(direct, &q, xq, packed, bias, rq, yq, nthreads)
                 : direct->conv(&q, xq, packed, bias, rq, yq, nthreads);
        n0 = n1;
    }
    return rc;
}

/* one table per ISA: thin wrappers naming their direct kernels */
#define SEL_TABLE(name, isa, direct)                                                       \
    static int64_t name##_size(const cconv_wshape *ws) { return sel_packed_size(&direct, ws); } \
    static void name##_pack(const cconv_wshape *ws, const void *w, void *dst, int nthreads) \
    {                                                                                       \
        sel_pack(&direct, ws, w, dst, nthreads);                                            \
    }                                                                                       \
    static int name##_conv(const cconv_conv_params *p, const void *x, const void *packed,  \
                           const void *bias, const void *res, void *y, int nthreads)        \
    {                                                                                       \
        return sel_conv(&direct, p, x, packed, bias, res, y, nthreads);                    \
    }                                                                                       \
    static int name##_chain(const cconv_chain_params *p, const void *x, void *y, int nthreads) \
    {                                                                                       \
        return direct.chain(p, x, y, nthreads); /* 1x1: never Winograd */                   \
    }                                                                                       \
    const cconv_conv_kernels name = {isa, name##_size, name##_pack, name##_conv, name##_chain};

SEL_TABLE(cconv_avx2_select_f32, "avx2", cconv_avx2_f32)
SEL_TABLE(cconv_avx512_select_f32, "avx512", cconv_avx512_f32)
#undef SEL_TABLE

#else
typedef int cconv_conv_select_unused; /* no AVX2 kernels on this target */
#endif
