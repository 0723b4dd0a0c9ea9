/* winograd.h - Winograd F(4x4,3x3) and F(2x2,5x5) convolution for 3x3 and 5x5,
 * stride 1, dilation 1, groups 1, 2-D float32 and float64 layers on AVX2+FMA
 * (src/winograd_avx2.c; 5x5 layers run its kernels on AVX-512 machines too).
 *
 * The AVX2 and AVX-512 kernel tables (conv_select.c) append the transformed
 * weights after their direct packed weights and call
 * cconv_wino_conv_f32/_f64() when cconv_wino_applies() says so.
 * Only call these after the AVX2+FMA run-time check.
 *
 * The environment variable CCONV_WINOGRAD (read on each applies() call)
 * overrides the size heuristic: "0"/"off" never uses Winograd, "force" uses
 * it for every eligible shape (meant for tests); unset or anything else:
 * the heuristic.
 */
#ifndef CCONV_WINOGRAD_H
#define CCONV_WINOGRAD_H

#include <stdint.h>
#include "cconv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* float32 tiles per tile block (a multiple of 8; float64 blocks hold half):
 * every block transforms the weights chunk by chunk again when they come
 * raw (CCONV_PACK_WINO_RAW) */
#ifndef WINO_NBP
#define WINO_NBP 32
#endif

/* one 4x4 (2x2) output tile of a block (the driver's metadata for the output transform) */
typedef struct {
    int64_t yoff;      /* offset of the tile's top-left output in a channel plane */
    int nr, nc;        /* valid rows / columns (1..4, 1..2) */
} w_tile;

/* bytes of the transformed weights; 0 unless the weight shape is 3x3 or 5x5, groups 1, 2-D */
int64_t cconv_wino_packed_size_f32(const cconv_wshape *ws);
/* w: contiguous (K, C, 1, r, r) float32; dst: 64-byte aligned, packed_size bytes */
void cconv_wino_pack_f32(const cconv_wshape *ws, const float *w, void *dst, int nthreads);
/* 1 when the Winograd path is eligible for p and expected to be faster:
 * among other things, when an image of a 3x3 layer has at least min_tiles 4x4
 * output tiles (5x5 layers: see its own rule) */
int cconv_wino_applies(const cconv_conv_params *p, int64_t min_tiles);
/* y = act(conv(x, w) + bias + residual); packed from cconv_wino_pack_f32.
 * Returns CCONV_OK or CCONV_ENOMEM.  Bitwise identical for any nthreads. */
int cconv_wino_conv_f32(const cconv_conv_params *p, const float *x, const void *packed,
                           const float *bias, const float *residual, float *y, int nthreads);

/* the same from the raw weights w (contiguous (K, C, 1, r, r)): each task
 * transforms the chunk of output channels it runs (no packed weights; the
 * results are bitwise those of cconv_wino_conv_f32).  For images with few
 * tiles, where the whole transform would not pay: a tile block transforms
 * its chunks again.  CCONV_EINVAL unless the weight shape has a transform */
int cconv_wino_conv_raw_f32(const cconv_conv_params *p, const float *x, const float *w,
                            const float *bias, const float *residual, float *y, int nthreads);

/* the same for float64 (weights transformed in double, stored unrounded) */
int64_t cconv_wino_packed_size_f64(const cconv_wshape *ws);
void cconv_wino_pack_f64(const cconv_wshape *ws, const double *w, void *dst, int nthreads);
int cconv_wino_conv_f64(const cconv_conv_params *p, const double *x, const void *packed,
                           const double *bias, const double *residual, double *y, int nthreads);
int cconv_wino_conv_raw_f64(const cconv_conv_params *p, const double *x, const double *w,
                            const double *bias, const double *residual, double *y, int nthreads);

/* A GEMM kernel of a wider ISA for two whole V panels (32 float32 / 16 float64
 * tiles): m[i][t] = sum_c u[c][i] v(t)[c] for the 6 output channels i of one
 * packed block, tiles 0..WP-1 from the panel at v ([c][WP]) and WP..2WP-1 from
 * the panel at v + vps, into m + i*ms (tiles contiguous).  The sum over c runs
 * in order with one FMA a step per lane, as in the AVX2 kernel: the results
 * are bitwise the same. */
typedef void (*cconv_wino_mk2_fn_f32)(const float *u, const float *v, int64_t vps, int64_t C,
                                      float *m, int64_t ms);
typedef void (*cconv_wino_mk2_fn_f64)(const double *u, const double *v, int64_t vps, int64_t C,
                                      double *m, int64_t ms);
/* ... and for a block of one panel: 6 channels of the block at u, and when
 * two, 6 more of the next block at u + us, into m + i*ms (i < 6 or 12) */
typedef void (*cconv_wino_mk12_fn_f32)(const float *u, int64_t us, int two, const float *v,
                                       int64_t C, float *m, int64_t ms);
typedef void (*cconv_wino_mk12_fn_f64)(const double *u, int64_t us, int two, const double *v,
                                       int64_t C, double *m, int64_t ms);
/* ... and two blocks (the second at u + us) x two panels: 12 channels x 2WP tiles */
typedef void (*cconv_wino_mk22_fn_f32)(const float *u, int64_t us, const float *v, int64_t vps,
                                       int64_t C, float *m, int64_t ms);
typedef void (*cconv_wino_mk22_fn_f64)(const double *u, int64_t us, const double *v,
                                       int64_t vps, int64_t C, double *m, int64_t ms);
/* transforms of a whole panel of tiles (WP: 16 float32, 8 float64), as w_itrans /
 * w_otrans of winograd_avx2.c do for WL tiles */
typedef void (*cconv_wino_itrans_fn_f32)(const float *const *src, int64_t ld, float *dst,
                                         int64_t es);
typedef void (*cconv_wino_otrans_fn_f32)(const float *m, int64_t es, const w_tile *tiles, int ntl,
                                         int full, float *yk, const float *rk, int64_t Wo,
                                         float bias, int relu);
typedef void (*cconv_wino_itrans_fn_f64)(const double *const *src, int64_t ld, double *dst,
                                         int64_t es);
typedef void (*cconv_wino_otrans_fn_f64)(const double *m, int64_t es, const w_tile *tiles,
                                         int ntl, int full, double *yk, const double *rk,
                                         int64_t Wo, double bias, int relu);
/* the weight transform of output-channel block kb (6 channels, every input
 * channel) into ub, element e at ub + e*es, bitwise as winograd_template.h's
 * own; returns 0 where it cannot (the caller then runs its own) */
typedef int (*cconv_wino_wpack_fn_f32)(const cconv_wshape *ws, const float *w, int64_t kb,
                                       float *ub, int64_t es);
typedef int (*cconv_wino_wpack_fn_f64)(const cconv_wshape *ws, const double *w, int64_t kb,
                                       double *ub, int64_t es);
typedef struct {
    cconv_wino_mk2_fn_f32 mk2;
    cconv_wino_mk12_fn_f32 mk12;
    cconv_wino_mk22_fn_f32 mk22;
    cconv_wino_itrans_fn_f32 itrans;
    cconv_wino_otrans_fn_f32 otrans;
    cconv_wino_wpack_fn_f32 wpack;
} cconv_wino_wide_f32;
typedef struct {
    cconv_wino_mk2_fn_f64 mk2;
    cconv_wino_mk12_fn_f64 mk12;
    cconv_wino_mk22_fn_f64 mk22;
    cconv_wino_itrans_fn_f64 itrans;
    cconv_wino_otrans_fn_f64 otrans;
    cconv_wino_wpack_fn_f64 wpack;
} cconv_wino_wide_f64;
/* cconv_wino_pack_f32/f64 with the wide weight transform (the same bytes) */
void cconv_wino_pack_wide_f32(const cconv_wshape *ws, const float *w, void *dst, int nthreads,
                              const cconv_wino_wide_f32 *wk);
void cconv_wino_pack_wide_f64(const cconv_wshape *ws, const double *w, void *dst, int nthreads,
                              const cconv_wino_wide_f64 *wk);
/* cconv_wino_conv_f32 with every GEMM step in the wide kernels */
int cconv_wino_conv_wide_f32(const cconv_conv_params *p, const float *x, const void *packed,
                                const float *bias, const float *residual, float *y, int nthreads,
                                const cconv_wino_wide_f32 *wk);
int cconv_wino_conv_wide_f64(const cconv_conv_params *p, const double *x, const void *packed,
                                const double *bias, const double *residual, double *y,
                                int nthreads, const cconv_wino_wide_f64 *wk);
/* cconv_wino_conv_raw_f32/f64 (raw weights) with the wide kernels */
int cconv_wino_conv_raw_wide_f32(const cconv_conv_params *p, const float *x, const float *w,
                                 const float *bias, const float *residual, float *y, int nthreads,
                                 const cconv_wino_wide_f32 *wk);
int cconv_wino_conv_raw_wide_f64(const cconv_conv_params *p, const double *x, const double *w,
                                 const double *bias, const double *residual, double *y,
                                 int nthreads, const cconv_wino_wide_f64 *wk);
/* the AVX-512F kernels (winograd_avx512.c): call only after the AVX-512 check */
void cconv_wino_itrans_avx512_f32(const float *const *src, int64_t ld, float *dst, int64_t es);
void cconv_wino_otrans_avx512_f32(const float *m, int64_t es, const w_tile *tiles, int ntl,
                                  int full, float *yk, const float *rk, int64_t Wo, float bias,
                                  int relu);
void cconv_wino_itrans_avx512_f64(const double *const *src, int64_t ld, double *dst, int64_t es);
void cconv_wino_otrans_avx512_f64(const double *m, int64_t es, const w_tile *tiles, int ntl,
                                  int full, double *yk, const double *rk, int64_t Wo,
                                  double bias, int relu);
void cconv_wino_mk2_avx512_f32(const float *u, const float *v, int64_t vps, int64_t C, float *m,
                               int64_t ms);
void cconv_wino_mk2_avx512_f64(const double *u, const double *v, int64_t vps, int64_t C,
                               double *m, int64_t ms);
void cconv_wino_mk12_avx512_f32(const float *u, int64_t us, int two, const float *v, int64_t C,
                                float *m, int64_t ms);
void cconv_wino_mk12_avx512_f64(const double *u, int64_t us, int two, const double *v,
                                int64_t C, double *m, int64_t ms);
void cconv_wino_mk22_avx512_f32(const float *u, int64_t us, const float *v, int64_t vps,
                                int64_t C, float *m, int64_t ms);
void cconv_wino_mk22_avx512_f64(const double *u, int64_t us, const double *v, int64_t vps,
                                int64_t C, double *m, int64_t ms);
int cconv_wino_wpack_avx512_f32(const cconv_wshape *ws, const float *w, int64_t kb, float *ub,
                                int64_t es);
int cconv_wino_wpack_avx512_f64(const cconv_wshape *ws, const double *w, int64_t kb,
                                double *ub, int64_t es);

/* CCONV_WINOGRAD for both Winograd paths: -1 off ("0"/"off"), 1 "force",
 * 0 unset or anything else (each path's own size rule) */
int cconv_wino_mode(void);

/* ---- stride-2 layers, 7- or 8-wide kernels: 1-D Winograd F(3,4) along the
 * rows (winograd_s2_avx2.c), float32 and float64, AVX2+FMA (the AVX2 and
 * AVX-512 tables both take it), and in zmm (winograd_s2_avx512.c) ---- */
/* 1 when the call's shape takes it (CCONV_WINOGRAD as above) */
int cconv_ws2_applies_f32(const cconv_conv_params *p);
int cconv_ws2_applies_f64(const cconv_conv_params *p);
/* values (of the call's dtype) of the transformed weights */
int64_t cconv_ws2_weights_size(const cconv_wshape *ws);
/* offset of weight (k, j = (c, tap)) in a direct kernel's packed layout
 * (consecutive j one block width apart) */
typedef int64_t (*cconv_weight_offset_fn)(const cconv_wshape *ws, int64_t k, int64_t j);
/* U from the direct kernel's packed weights wd, read through off; returns 0
 * (U unusable) when a transformed weight is not finite */
int cconv_ws2_weights_f32(const cconv_wshape *ws, const float *wd, cconv_weight_offset_fn off,
                          float *U);
int cconv_ws2_weights_f64(const cconv_wshape *ws, const double *wd, cconv_weight_offset_fn off,
                          double *U);
/* y = act(conv(x, w) + bias + residual), every image finite */
int cconv_ws2_conv_f32(const cconv_conv_params *p, const float *x, const float *U,
                       const float *bias, const float *res, float *y, int nthreads);
int cconv_ws2_conv_f64(const cconv_conv_params *p, const double *x, const double *U,
                       const double *bias, const double *res, double *y, int nthreads);
/* the same in zmm vectors (winograd_s2_avx512.c: the same U, the same bits;
 * its own scratch rule, by its tiles a vector) */
int cconv_ws2_applies_avx512_f32(const cconv_conv_params *p);
int cconv_ws2_applies_avx512_f64(const cconv_conv_params *p);
int cconv_ws2_conv_avx512_f32(const cconv_conv_params *p, const float *x, const float *U,
                              const float *bias, const float *res, float *y, int nthreads);
int cconv_ws2_conv_avx512_f64(const cconv_conv_params *p, const double *x, const double *U,
                              const double *bias, const double *res, double *y, int nthreads);
/* the direct kernels' packed layouts (conv_avx2.c, conv_avx512.c) */
int64_t cconv_avx2_f32_weight_offset(const cconv_wshape *ws, int64_t k, int64_t j);
int64_t cconv_avx512_f32_weight_offset(const cconv_wshape *ws, int64_t k, int64_t j);
int64_t cconv_avx2_f64_weight_offset(const cconv_wshape *ws, int64_t k, int64_t j);
int64_t cconv_avx512_f64_weight_offset(const cconv_wshape *ws, int64_t k, int64_t j);

#ifdef __cplusplus
}
#endif
#endif
