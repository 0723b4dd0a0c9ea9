/* winograd_s2_avx2.c - stride-2 layers with 7- or 8-wide kernels (ResNet's
 * 7x7/s2 stem) as 1-D Winograd F(3,4) along the rows, float32 and float64,
 * AVX2+FMA (the code, once: winograd_s2_template.h).
 *
 * Column phases: output column ow reads padded input columns 2*ow + s.  The
 * even taps s = 2t read the even padded columns E[j] = xpad[2j] at
 * j = ow + t, the odd taps s = 2t + 1 the odd ones O[j] = xpad[2j + 1]: each
 * kernel row is two stride-1 correlations of at most 4 taps (the odd phase
 * of a 7-wide kernel padded with a zero tap).  Each runs as F(3,4): a tile
 * of 3 outputs reads 6 phase values d, and
 *     y_tile = A^T [ sum_(c, r, phase) (G g) .* (B^T d) ]
 * with the Toom-Cook points 0, 1, -1, 2, -1/2, inf of winograd_1d.h: the
 * same B^T (W_IN1D) as the 2-D F(4x4,3x3) path, G and A^T for 4 taps and 3
 * outputs.  Rows stay direct (stride 2): output row oh sums input rows
 * 2*oh + r.  So the reduction has C * R * 2 steps per transform element, 6
 * elements per 3 outputs: 4 multiply-adds per output per (c, r) where the
 * direct kernel does 7 (x1.75 fewer).
 *
 * Per task (image, band of output rows):
 *  1. transformed input rows D[c][u][phase][e][tile], built lazily, two
 *     input rows per output row, in the task's scratch: each padded input
 *     row is split into its 6 column phases (xpad[6j + m]), so the vectors
 *     of tiles (8 float32, 4 float64) of d_0..d_5 are plain loads, then B^T;
 *  2. two output rows at a time, per element e and 6-channel block: the
 *     GEMM M[e][k][tile] = sum_q U[e][k][q] D[q][e][tile] over the steps
 *     q = (c, r, phase), 6 channels x 2 vectors of tiles in 12
 *     accumulators, steps read with constant strides from the row pair's
 *     base (a one-vector tail of both rows in one call);
 *  3. the output transform (A^T) on a vector of tiles, the 3 output vectors
 *     interleaved into 3 vectors of consecutive outputs, fused bias,
 *     residual and ReLU.
 * The weights come in the direct kernel's packed layout (AVX2 or AVX-512,
 * spatial or output-channel tile: read through its offset function) and
 * are transformed per call (U = G g, in double, rounded once to the dtype); the caller
 * runs the direct kernel instead where the transformed weights or an image
 * are not all finite (the transforms would turn an Inf into NaN).
 *
 * Determinism: each output is the same operations in the same order for
 * any band split or thread count.
 */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>
#include "cconv.h"
#include "fpenv.h"
#include "scratch.h"
#include "winograd_s2_common.h"
#ifdef _OPENMP
#include <omp.h>
#endif

int cconv_ws2_applies_f32(const cconv_conv_params *p) { return s2_applies(p, sizeof(float), 8, 0); }
int cconv_ws2_applies_f64(const cconv_conv_params *p) { return s2_applies(p, sizeof(double), 4, 0); }

int64_t cconv_ws2_weights_size(const cconv_wshape *ws)
{
    return 6 * a2_cdiv(ws->K, S2_KR) * ws->Cg * ws->ks[1] * 2 * S2_KR;
}

/* the 1-D transforms of winograd_1d.h (the template names their vector ops) */
#include "winograd_1d.h"

/* ==== float32: 8 tiles a vector ==== */
/* A^T's outputs a_j, b_j, c_j (3j, 3j+1, 3j+2) of 8 tiles, interleaved:
 * a0 b0 c0 a1 b1 c1 a2 b2 | c2 a3 b3 c3 a4 b4 c4 a5 | b5 c5 a6 b6 c6 a7 b7 c7 */
static inline void s2_out3_f32(__m256 o0, __m256 o1, __m256 o2, __m256 v[3])
{
    const __m256i ia0 = _mm256_setr_epi32(0, 0, 0, 1, 0, 0, 2, 0);
    const __m256i ib0 = _mm256_setr_epi32(0, 0, 0, 0, 1, 0, 0, 2);
    const __m256i ic0 = _mm256_setr_epi32(0, 0, 0, 0, 0, 1, 0, 0);
    const __m256i ia1 = _mm256_setr_epi32(0, 3, 0, 0, 4, 0, 0, 5);
    const __m256i ib1 = _mm256_setr_epi32(0, 0, 3, 0, 0, 4, 0, 0);
    const __m256i ic1 = _mm256_setr_epi32(2, 0, 0, 3, 0, 0, 4, 0);
    const __m256i ia2 = _mm256_setr_epi32(0, 0, 6, 0, 0, 7, 0, 0);
    const __m256i ib2 = _mm256_setr_epi32(5, 0, 0, 6, 0, 0, 7, 0);
    const __m256i ic2 = _mm256_setr_epi32(0, 5, 0, 0, 6, 0, 0, 7);
    v[0] = _mm256_blend_ps(_mm256_blend_ps(_mm256_permutevar8x32_ps(o0, ia0),
                                           _mm256_permutevar8x32_ps(o1, ib0), 0x92),
                           _mm256_permutevar8x32_ps(o2, ic0), 0x24);
    v[1] = _mm256_blend_ps(_mm256_blend_ps(_mm256_permutevar8x32_ps(o0, ia1),
                                           _mm256_permutevar8x32_ps(o1, ib1), 0x24),
                           _mm256_permutevar8x32_ps(o2, ic1), 0x49);
    v[2] = _mm256_blend_ps(_mm256_blend_ps(_mm256_permutevar8x32_ps(o0, ia2),
                                           _mm256_permutevar8x32_ps(o1, ib2), 0x49),
                           _mm256_permutevar8x32_ps(o2, ic2), 0x92);
}
static inline __m256i s2_mask_f32(int64_t nv)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)nv), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#define ST float
#define SV __m256
#define SL 8
#define SN(x) x##_f32
#define S_DT CCONV_F32
#define SLOADU _mm256_loadu_ps
#define SSTOREU _mm256_storeu_ps
#define SBCAST _mm256_broadcast_ss
#define SFMA _mm256_fmadd_ps
#define SADD _mm256_add_ps
#define SMAX _mm256_max_ps
#define SZERO _mm256_setzero_ps
#define SSET1 _mm256_set1_ps
#define SMASK_T __m256i
#define SMASK s2_mask_f32
#define S2_WEIGHTS 1
#define SMLOAD _mm256_maskload_ps
#define SMSTORE _mm256_maskstore_ps
#define S_OUT3 s2_out3_f32
#define SSUB _mm256_sub_ps
#define SFNMA _mm256_fnmadd_ps
#include "winograd_s2_template.h"

/* ==== float64: 4 tiles a vector ==== */
/* the same interleave of 4 tiles: a0 b0 c0 a1 | b1 c1 a2 b2 | c2 a3 b3 c3 */
static inline void s2_out3_f64(__m256d o0, __m256d o1, __m256d o2, __m256d v[3])
{
    /* _mm256_permute4x64_pd picks lane (imm >> 2i) & 3 for lane i */
    v[0] = _mm256_blend_pd(_mm256_blend_pd(_mm256_permute4x64_pd(o0, 0x40),   /* a0 . . a1 */
                                           _mm256_permute4x64_pd(o1, 0x00), 0x2), /* . b0 . . */
                           _mm256_permute4x64_pd(o2, 0x00), 0x4);               /* . . c0 . */
    v[1] = _mm256_blend_pd(_mm256_blend_pd(_mm256_permute4x64_pd(o1, 0x81),   /* b1 . . b2 */
                                           _mm256_permute4x64_pd(o0, 0xAA), 0x4), /* . . a2 . */
                           _mm256_permute4x64_pd(o2, 0x55), 0x2);               /* . c1 . . */
    v[2] = _mm256_blend_pd(_mm256_blend_pd(_mm256_permute4x64_pd(o2, 0xC2),   /* c2 . . c3 */
                                           _mm256_permute4x64_pd(o0, 0xFF), 0x2), /* . a3 . . */
                           _mm256_permute4x64_pd(o1, 0xFF), 0x4);               /* . . b3 . */
}
static inline __m256i s2_mask_f64(int64_t nv)
{
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(nv), _mm256_setr_epi64x(0, 1, 2, 3));
}
#define ST double
#define SV __m256d
#define SL 4
#define SN(x) x##_f64
#define S_DT CCONV_F64
#define SLOADU _mm256_loadu_pd
#define SSTOREU _mm256_storeu_pd
#define SBCAST _mm256_broadcast_sd
#define SFMA _mm256_fmadd_pd
#define SADD _mm256_add_pd
#define SMAX _mm256_max_pd
#define SZERO _mm256_setzero_pd
#define SSET1 _mm256_set1_pd
#define SMASK_T __m256i
#define SMASK s2_mask_f64
#define S2_WEIGHTS 1
#define SMLOAD _mm256_maskload_pd
#define SMSTORE _mm256_maskstore_pd
#define S_OUT3 s2_out3_f64
#define SSUB _mm256_sub_pd
#define SFNMA _mm256_fnmadd_pd
#include "winograd_s2_template.h"
