/* winograd_s2_avx512.c - the stride-2 1-D Winograd F(3,4) path
 * (winograd_s2_avx2.c: the algorithm; winograd_s2_template.h: the code) in
 * zmm vectors: 16 float32 / 8 float64 tiles a vector, for CPUs whose 512-bit
 * FMAs run at twice the 256-bit rate (conv_select.c chooses).  The weights
 * come transformed by winograd_s2_avx2.c's cconv_ws2_weights_*: the same U,
 * and each output the same operations in the same order as there, so both
 * widths give the same bits.  Compiled with -mavx512f and only called after
 * dispatch.c has checked that the CPU has AVX-512F and the OS saves the zmm
 * and opmask state.
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

/* the ymm path's rule, and a row's tiles filling three quarters of its
 * vectors (winograd_s2_common.h) */
int cconv_ws2_applies_avx512_f32(const cconv_conv_params *p) { return s2_applies(p, sizeof(float), 16, 1); }
int cconv_ws2_applies_avx512_f64(const cconv_conv_params *p) { return s2_applies(p, sizeof(double), 8, 1); }

/* the 1-D transforms of winograd_1d.h (the template names their vector ops) */
#include "winograd_1d.h"

/* A^T's outputs a_j, b_j, c_j (3j, 3j+1, 3j+2) of a vector of tiles,
 * interleaved into three vectors of consecutive outputs: per output vector
 * one two-source permute picks its a and b values, a second its c values */
static inline void s2_out3_avx512_f32(__m512 o0, __m512 o1, __m512 o2, __m512 v[3])
{
    const __m512i ab0 = _mm512_setr_epi32(0, 16, 0, 1, 17, 0, 2, 18, 0, 3, 19, 0, 4, 20, 0, 5);
    const __m512i c0 = _mm512_setr_epi32(0, 1, 16, 3, 4, 17, 6, 7, 18, 9, 10, 19, 12, 13, 20, 15);
    const __m512i ab1 = _mm512_setr_epi32(21, 0, 6, 22, 0, 7, 23, 0, 8, 24, 0, 9, 25, 0, 10, 26);
    const __m512i c1 = _mm512_setr_epi32(0, 21, 2, 3, 22, 5, 6, 23, 8, 9, 24, 11, 12, 25, 14, 15);
    const __m512i ab2 = _mm512_setr_epi32(0, 11, 27, 0, 12, 28, 0, 13, 29, 0, 14, 30, 0, 15, 31, 0);
    const __m512i c2 = _mm512_setr_epi32(26, 1, 2, 27, 4, 5, 28, 7, 8, 29, 10, 11, 30, 13, 14, 31);
    v[0] = _mm512_permutex2var_ps(_mm512_permutex2var_ps(o0, ab0, o1), c0, o2);
    v[1] = _mm512_permutex2var_ps(_mm512_permutex2var_ps(o0, ab1, o1), c1, o2);
    v[2] = _mm512_permutex2var_ps(_mm512_permutex2var_ps(o0, ab2, o1), c2, o2);
}
static inline __mmask16 s2_mask_avx512_f32(int64_t nv) { return (__mmask16)((1u << nv) - 1); }

/* ==== float32: 16 tiles a vector ==== */
#define ST float
#define SV __m512
#define SL 16
#define SN(x) x##_avx512_f32
#define S_DT CCONV_F32
#define SLOADU _mm512_loadu_ps
#define SSTOREU _mm512_storeu_ps
#define SBCAST(p) _mm512_set1_ps(*(p))
#define SFMA _mm512_fmadd_ps
#define SADD _mm512_add_ps
#define SMAX _mm512_max_ps
#define SZERO _mm512_setzero_ps
#define SSET1 _mm512_set1_ps
#define SMASK_T __mmask16
#define SMASK s2_mask_avx512_f32
#define SMLOAD(p, m) _mm512_maskz_loadu_ps((m), (p))
#define SMSTORE(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define S_OUT3 s2_out3_avx512_f32
#define S2_WEIGHTS 0
#define SSUB _mm512_sub_ps
#define SFNMA _mm512_fnmadd_ps
#include "winograd_s2_template.h"

/* ==== float64: 8 tiles a vector ==== */
static inline void s2_out3_avx512_f64(__m512d o0, __m512d o1, __m512d o2, __m512d v[3])
{
    const __m512i ab0 = _mm512_setr_epi64(0, 8, 0, 1, 9, 0, 2, 10);
    const __m512i c0 = _mm512_setr_epi64(0, 1, 8, 3, 4, 9, 6, 7);
    const __m512i ab1 = _mm512_setr_epi64(0, 3, 11, 0, 4, 12, 0, 5);
    const __m512i c1 = _mm512_setr_epi64(10, 1, 2, 11, 4, 5, 12, 7);
    const __m512i ab2 = _mm512_setr_epi64(13, 0, 6, 14, 0, 7, 15, 0);
    const __m512i c2 = _mm512_setr_epi64(0, 13, 2, 3, 14, 5, 6, 15);
    v[0] = _mm512_permutex2var_pd(_mm512_permutex2var_pd(o0, ab0, o1), c0, o2);
    v[1] = _mm512_permutex2var_pd(_mm512_permutex2var_pd(o0, ab1, o1), c1, o2);
    v[2] = _mm512_permutex2var_pd(_mm512_permutex2var_pd(o0, ab2, o1), c2, o2);
}
static inline __mmask8 s2_mask_avx512_f64(int64_t nv) { return (__mmask8)((1u << nv) - 1); }

#define ST double
#define SV __m512d
#define SL 8
#define SN(x) x##_avx512_f64
#define S_DT CCONV_F64
#define SLOADU _mm512_loadu_pd
#define SSTOREU _mm512_storeu_pd
#define SBCAST(p) _mm512_set1_pd(*(p))
#define SFMA _mm512_fmadd_pd
#define SADD _mm512_add_pd
#define SMAX _mm512_max_pd
#define SZERO _mm512_setzero_pd
#define SSET1 _mm512_set1_pd
#define SMASK_T __mmask8
#define SMASK s2_mask_avx512_f64
#define SMLOAD(p, m) _mm512_maskz_loadu_pd((m), (p))
#define SMSTORE(p, m, v) _mm512_mask_storeu_pd((p), (m), (v))
#define S_OUT3 s2_out3_avx512_f64
#define S2_WEIGHTS 0
#define SSUB _mm512_sub_pd
#define SFNMA _mm512_fnmadd_pd
#include "winograd_s2_template.h"
