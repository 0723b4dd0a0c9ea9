/* conv_avx512.c - the AVX-512 (F) convolution kernels (float32, float64).
 *
 * The kernels of conv_simd_template.h (6-oc register tiles, 1x1 as a GEMM
 * over packed pixel panels, direct KxK over zero-padded stride-phase bands)
 * instantiated for zmm vectors: a KxK tile is 6 output channels x 2 vectors
 * (32 float32 / 16 float64 pixels), a 1x1 tile 6 x 4 vectors (A2_NV1),
 * which reads cache-line-aligned input rows in place (A2_ALIGNED_NKB), or
 * 8 x 3 for layers of 8, 16 or 32 output channels per group (A2_MK8).
 * KxK layers with at least 24 (float64: 12) output channels per group use
 * their own output-channel-vectorised tile instead (below), with its own
 * packed layout.  Compiled with -mavx512f and only called after dispatch.c
 * has checked that the CPU has AVX-512F and the OS saves the zmm and opmask
 * state.
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cconv.h"
#include "fpenv.h"
#include "scratch.h"
/* 1x1 layers on cache-line-aligned input read its rows in place: up to 22
 * oc blocks (conv_simd_common.h; with more it lost on Intel: 64 -> 256
 * x0.94-1.03, 1024 -> 256 x0.96, 128 -> 512 x0.97), for any number in
 * float32 on Zen 4 (the CPU cconv_cpu_zmm_split() names).  Paired A/B in
 * one process, Zen 4, aligned input, one thread: 256 -> 1024 at 14x14
 * x1.08-1.10, 1024 -> 256 x1.02-1.03, 64 -> 256 at 56x56 x1.015, 128 -> 512
 * at 28x28 x1.00-1.02, 512 -> 2048 at 7x7 x1.00; two threads 1024 -> 256
 * x1.03, 64 -> 256 x0.99; float64 x0.97-1.04, so it keeps 22.  The same
 * bits. */
#ifndef A2_ALIGNED_NKB
#define A2_ALIGNED_NKB (sizeof(T) == 4 && cconv_cpu_zmm_split() ? INT64_MAX : 22)
#endif
/* ... and only while at most 256 rows of a tile's column share a line
 * position within the 4 KiB page (conv_simd_common.h): planes a multiple of
 * 4 KiB apart (32x32, 64x64, 128x128) put every row's tile at the same
 * offset, so the column's lines crowd into 1/64 of the L1 and L2 sets, and
 * with more than 256 channels they evict each other between oc blocks; the
 * panel copy spreads them.  Paired A/B in one process, Intel family 6 model
 * 167, aligned input, in place -> panels, one thread: 1024 -> 64 at 32x32
 * x2.03-2.06, 1024 -> 128 x1.97, 512 -> 64 x1.27-1.30, 512 -> 128 x1.29,
 * 512 -> 128 at 64x64 x1.29-1.56; two threads x1.28-1.54; float64
 * x1.44-1.86.  With 256 channels in place ran 82-166 GFLOP/s by allocation
 * (L2 is physically indexed) at 64x64, panels a steady 116-148: equal on
 * average, so they stay (and 128 channels, x0.91-1.03 with panels) */
#ifndef A2_ALIGNED_SET_LINES
#define A2_ALIGNED_SET_LINES 256
#endif
/* one thread's in-place 1x1 tiles fetch the next tile's rows into L2
 * (conv_simd_template.h, a2_conv1x1).  Measured on Intel only; the AVX2
 * kernels on that machine x1.04 at 256 -> 64 at 56x56 batch 8, x0.99-1.01
 * on the other layers, so AVX2 (Zen 3 above all) keeps the default, off */
#ifndef A2_MK1_L2PF
#define A2_MK1_L2PF 1
#endif
/* ... each line over two passes where the rows lie 8 KiB apart or more
 * (conv_simd_common.h).  Paired A/B in one process, Intel family 6 model
 * 167, aligned input, one pass a line -> two: 256 -> 64 at 56x56 x1.04-1.13
 * (8-row tiles; batch 2 x1.08-1.13, batch 8 x1.005-1.05), 128 -> 64 batch 8
 * x1.07-1.22, 256 -> 128 x1.01-1.12, 512 -> 64 and 512 -> 128 at 56x56
 * x1.07-1.20, 256 -> 64 at 64x64 and 112x112 x1.06, at 32x64 (8 KiB)
 * x1.02; shorter rows gained nothing or lost: 40x48 x1.01, 36x36 x1.00,
 * 28x28 x0.96-1.00 (512 -> 64 and 512 -> 128 x0.96-0.98) */
#ifndef A2_MK1_L2PF_SPREAD
#define A2_MK1_L2PF_SPREAD 8192
#endif
/* 1x1 panel path: streaming stores for outputs of 8 MiB and more a call
 * from up to 96 input channels (conv_simd_common.h).  Paired A/B in one
 * process, Intel family 6 model 167, one thread, outputs into the same
 * buffer, normal -> streaming: 64 -> 256 at 56x56 batch 4 x1.17, batch 8
 * x1.52-1.75, batch 16 x1.78, 96 -> 384 at 28x28 batch 8 x1.26, 16 -> 64 at
 * 112x112 batch 2 x1.36; but 128 -> 512 at 28x28 batch 8 x0.97 (batch 16
 * x1.00: half the outputs a FLOP) and the tiles read in place lost (64 ->
 * 128 at 56x56 batch 8 x0.75).  The next layer then reads them from memory:
 * 64 -> 256 followed by 256 -> 64 (outputs allocated each call), whole pair
 * batch 8 x1.15, batch 4 x1.11, 96 -> 384 -> 96 batch 8 x1.05, but batch 2
 * (6.3 MiB) x0.99, hence 8 MiB */
#ifndef A2_NT_BYTES
#define A2_NT_BYTES (8.0 * 1024 * 1024)
#endif
#include "conv_simd_common.h"
#ifdef _OPENMP
#include <omp.h>
#endif

/* lanes [lo, hi) of the vector holding lanes [base, base + 16) / + 8) */
static inline uint32_t a5_bits(int64_t lo, int64_t hi, int64_t base, int64_t lanes)
{
    lo -= base; hi -= base;
    if (lo < 0) lo = 0;
    if (hi > lanes) hi = lanes;
    if (hi <= lo) return 0;
    return (uint32_t)(((1ull << hi) - 1) & ~((1ull << lo) - 1));
}
static inline __mmask16 a5_mrange16(int64_t lo, int64_t hi, int64_t base)
{
    return (__mmask16)a5_bits(lo, hi, base, 16);
}
static inline __mmask8 a5_mrange8(int64_t lo, int64_t hi, int64_t base)
{
    return (__mmask8)a5_bits(lo, hi, base, 8);
}

/* lanes 0, 2, 4, ... of the 2 * VL values at p (stride-2 gathers) */
static inline __m512 a5_evens32(const float *p)
{
    const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(_mm512_loadu_ps(p), idx, _mm512_loadu_ps(p + 16));
}
/* the even and odd lanes of the 2 * VL values lo, hi (one stride-2 input
 * row's two column phases) */
static inline void a5_deint32(__m512 lo, __m512 hi, __m512 *ev, __m512 *od)
{
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    *ev = _mm512_permutex2var_ps(lo, ie, hi);
    *od = _mm512_permutex2var_ps(lo, io, hi);
}
static inline void a5_deint64(__m512d lo, __m512d hi, __m512d *ev, __m512d *od)
{
    const __m512i ie = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    const __m512i io = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
    *ev = _mm512_permutex2var_pd(lo, ie, hi);
    *od = _mm512_permutex2var_pd(lo, io, hi);
}
static inline __m512d a5_evens64(const double *p)
{
    const __m512i idx = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    return _mm512_permutex2var_pd(_mm512_loadu_pd(p), idx, _mm512_loadu_pd(p + 8));
}



/* ---- the output-channel-vectorised tile (conv_ocv_template.h) ---- */
/* bytes of one channel chunk's weights, narrow and wide tile, by CPU (read
 * per call, not packed: the chunks keep the (c, tap) order, so the same
 * bits).  A tile's sums park in scratch between chunks.
 * Zen 4 (32 KiB L1, 1 MiB L2; cconv_cpu_zmm_split() names it): those round
 * trips cost more than streaming a chunk's weights from L2.  Paired A/B in
 * one process, one thread, wide tile: 80 KiB against 40, 3x3/s2 128 -> 128
 * at 56x56 x1.03, 256 -> 256 at 28x28 x1.03, 3x3 512 -> 512 at 7x7
 * x1.02-1.07 (20 KiB x0.92-0.98); 160 against 80 x1.00-1.05 on the same
 * layers; 160 against 40 on two threads x0.99-1.12; 400 no better than 160.
 * Narrow 96 KiB against 24: 3x3/s2 96 -> 96 x1.03-1.04, 64 -> 96
 * x1.03-1.05, 256 -> 160 at 14x14 x1.02-1.03; float64 x1.00-1.06.
 * Intel (48 KiB L1, 2 MiB L2): small chunks that stay in L1.  Paired A/B,
 * family 6 model 167, one thread, against 96/160: 40/24 (wide/narrow)
 * x1.02-1.05 (3x3/s2 128 -> 128, 256 -> 256, 64 -> 64; 512 -> 512 at 7x7);
 * 24/16 x1.04-1.05 more on the 3x3/s2 layers (float32 x1.04-1.08 in all,
 * float64 x1.04-1.05 but the 7x7/s2 3 -> 64 stem x0.965; two threads
 * x1.02-1.06); 16/12 x0.98-0.99 and 12/8 x0.97-0.98 against 24/16, 32/16
 * x0.98-1.00.  (Emerald Rapids, session 20: wide 40 beat 16 by x1.10 on
 * 3x3/s2 128 -> 128; 24 was not measured there.) */
#ifndef OCV_WCHUNK
#define OCV_WCHUNK (cconv_cpu_zmm_split() ? 96 * 1024 : 16 * 1024)
#endif
#ifndef OCV_WCHUNK_WIDE
#define OCV_WCHUNK_WIDE (cconv_cpu_zmm_split() ? 160 * 1024 : 24 * 1024)
#endif



/* c[o] lane p = src[p * stride + o] for p < nrows (<= 16; lanes past it
 * zero), o < 16: a 16x16 transpose in registers (unpack ps, unpack pd, two
 * 128-bit lane shuffles); gathers are several times slower on current cores */
static inline void a5_transpose16(const float *src, int64_t stride, int nrows, __m512 *c)
{
    __m512 r[16], t[16];
    for (int p = 0; p < 16; p++) r[p] = p < nrows ? _mm512_loadu_ps(src + p * stride) : _mm512_setzero_ps();
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        const __m512d t0 = _mm512_castps_pd(t[i]), t1 = _mm512_castps_pd(t[i + 1]);
        const __m512d t2 = _mm512_castps_pd(t[i + 2]), t3 = _mm512_castps_pd(t[i + 3]);
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    }
    /* r[4q + j] lane group L holds column 4L + j of rows 4q..4q+3 */
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < 4; j++) {
            t[8 * h + j] = _mm512_shuffle_f32x4(r[8 * h + j], r[8 * h + 4 + j], 0x88);
            t[8 * h + 4 + j] = _mm512_shuffle_f32x4(r[8 * h + j], r[8 * h + 4 + j], 0xdd);
        }
    for (int j = 0; j < 8; j++) {
        c[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        c[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);
    }
}

/* c[o] lane p = src[p * stride + o] for p < nrows (<= 8; lanes past it
 * zero), o < 8: an 8x8 transpose of doubles in registers */
static inline void a5_transpose8(const double *src, int64_t stride, int nrows, __m512d *c)
{
    __m512d r[8], t[8];
    for (int p = 0; p < 8; p++) r[p] = p < nrows ? _mm512_loadu_pd(src + p * stride) : _mm512_setzero_pd();
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm512_unpacklo_pd(r[i], r[i + 1]);      /* columns 0,2,4,6 of rows i, i+1 */
        t[i + 1] = _mm512_unpackhi_pd(r[i], r[i + 1]);  /* columns 1,3,5,7 */
    }
    /* t[2q + h] lane group L (2 lanes) holds column 2L + h of rows 2q, 2q+1 */
    for (int h = 0; h < 2; h++) {
        r[h] = _mm512_shuffle_f64x2(t[h], t[2 + h], 0x88);      /* groups 0,2 of t[h] | 0,2 of t[2+h] */
        r[2 + h] = _mm512_shuffle_f64x2(t[h], t[2 + h], 0xdd);  /* groups 1,3 */
        r[4 + h] = _mm512_shuffle_f64x2(t[4 + h], t[6 + h], 0x88);
        r[6 + h] = _mm512_shuffle_f64x2(t[4 + h], t[6 + h], 0xdd);
    }
    for (int h = 0; h < 4; h++) {
        c[h] = _mm512_shuffle_f64x2(r[h], r[4 + h], 0x88);
        c[4 + h] = _mm512_shuffle_f64x2(r[h], r[4 + h], 0xdd);
    }
}

/* Two shapes of the tile per dtype (both 24 accumulators): the narrow one,
 * 12 pixels (float64: 8) x 2 vectors of output channels, and the wide one,
 * 6 pixels x 4 vectors.  Per (channel, tap) the wide tile loads 4 weight
 * vectors and broadcasts 6 pixels for its 24 FMAs, where the narrow one
 * loads 2 and broadcasts 12: 10 loads, not 14 (forced direct, 1 thread,
 * in-process paired A/B: float32 res3_3x3_128s2 x1.03, 3x3 128->128 at
 * 28x28 x1.06, 7x7/s2 3->64 x1.00; float64 x1.12, x1.08, 5x5 192->32
 * x1.23).  conv_ocv_pick.h picks the wide tile where it pads the
 * output channels to no more lanes. */
#define A5_ALL6(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define A5_ALL8(X) A5_ALL6(X) X(6) X(7)
#define A5_ALL12(X) A5_ALL8(X) X(8) X(9) X(10) X(11)

#define OT float
#define OV __m512
#define OL 16
#define OM __mmask16
#define O_LOADU _mm512_loadu_ps
#define O_STOREU _mm512_storeu_ps
#define O_SET1 _mm512_set1_ps
#define O_FMA _mm512_fmadd_ps
#define O_ADD _mm512_add_ps
#define O_MAX _mm512_max_ps
#define O_ZERO _mm512_setzero_ps
#define O_MLOADZ _mm512_maskz_loadu_ps
#define O_MSTORE _mm512_mask_storeu_ps
#define O_TRANSPOSE a5_transpose16
/* tiles over output pixels, not the band's flat positions (as on AVX2):
 * paired A/B in one process, Zen 4, one thread: 3x3 512 -> 512 at 7x7
 * x1.06-1.11, 3x3/s2 256 -> 256 at 28x28 x1.03-1.04, 128 -> 128 at 56x56
 * x1.01-1.02, 5x5 192 -> 32 (direct) x1.05; Intel family 6 model 167: 3x3
 * 512 -> 512 at 7x7 x1.09-1.10, 3x3/s2 256 -> 256 x1.045-1.05, 128 -> 128
 * x1.02-1.03, 64 -> 64 x1.03; the same bits */
#define O_COMPACT 1
#define ONP 12
#define ONV 2
#define ONM(x) x##_f32n
#define O_ALL A5_ALL12
#include "conv_ocv_template.h"
#define ONP 6
#define ONV 4
#define ONM(x) x##_f32w
#define O_ALL A5_ALL6
#include "conv_ocv_template.h"
#define OPK(x) x##_f32
#define ONARROW(x) x##_f32n
#define OWIDE(x) x##_f32w
#include "conv_ocv_pick.h"
#include "conv_ocv_undef.h"

#define OT double
#define OV __m512d
#define OL 8
#define OM __mmask8
#define O_LOADU _mm512_loadu_pd
#define O_STOREU _mm512_storeu_pd
#define O_SET1 _mm512_set1_pd
#define O_FMA _mm512_fmadd_pd
#define O_ADD _mm512_add_pd
#define O_MAX _mm512_max_pd
#define O_ZERO _mm512_setzero_pd
#define O_MLOADZ _mm512_maskz_loadu_pd
#define O_MSTORE _mm512_mask_storeu_pd
#define O_TRANSPOSE a5_transpose8
#define ONP 8
#define ONV 2
#define ONM(x) x##_f64n
#define O_ALL A5_ALL8
#include "conv_ocv_template.h"
#define ONP 6
#define ONV 4
#define ONM(x) x##_f64w
#define O_ALL A5_ALL6
#include "conv_ocv_template.h"
#define OPK(x) x##_f64
#define ONARROW(x) x##_f64n
#define OWIDE(x) x##_f64w
#include "conv_ocv_pick.h"
#include "conv_ocv_undef.h"

/* A band's preparation prefetches the next channel's input rows (as on
 * AVX2).  Paired A/B in one process, Zen 4, one thread: 3x3/s2 128 -> 128 at
 * 56x56 x1.01-1.02 (two threads x1.03-1.04), 256 -> 128 x1.05-1.08, 64 -> 64
 * x1.03-1.07; stride-1 direct layers x0.97-1.01 (3x3 8 -> 64 at 112x112,
 * 512 -> 512 at 7x7, 7x7 32 -> 64).  Intel family 6 model 167: x1.00-1.02 */
#ifndef A2_BAND_PF
#define A2_BAND_PF 1
#endif
/* the spatial 1x1 tile: 6 output channels x 4 vectors (64 floats / 32
 * doubles), 24 accumulators, the weights broadcast from memory */
#define A2_NV1 4
/* unpacked 1x1 tiles prefetch their rows 4 channels ahead (A/B, both run
 * orders: 96 -> 16 at 55x55 67 -> 84 GFLOP/s, 192 -> 16 at 28x28 65 -> 86;
 * mixed on AVX2, so only here) */
#ifndef A2_MK1_PF
#define A2_MK1_PF 4
#endif
/* layers of 8, 16 or 32 output channels per group run 8-row 1x1 tiles
 * (conv_simd_template.h, a2_mk8_use: measured on Intel only).  AVX2 keeps
 * 6-row tiles: 8 rows x 1 ymm would broadcast a weight per FMA */
#ifndef A2_MK8
#define A2_MK8 1
#endif
/* float32 on one thread: up to 128 outputs per group (multiples of 8, not
 * of 6), from 96 channels, inputs of up to 8 MiB a call.  Fewer passes over
 * each pixel tile (64 outputs: 8 blocks of 8, not 11 of 6 or fewer), each
 * a shorter tile (3 lines a row).  Paired A/B in one process (weights
 * packed per variant), Intel family 6 model 167, NumPy's misaligned
 * inputs, before -> after, two ways of running.  Warm (calls of one layer
 * in a row): 256 -> 64 at 56x56 x1.03-1.04 (batch 2 x1.08), 192 -> 64 at
 * 28x28 x1.02-1.03, 512 -> 64 x1.04-1.05, 256 -> 40 x1.08, 256 -> 56
 * x1.06, 256 -> 128 x1.07, 512 -> 128 at 28x28 x1.03-1.13, 128 -> 128
 * x1.02-1.06; one-shot (weights in place) 256 -> 64 and 192 -> 64 x1.05.
 * Cold (PyTorch's call of the same layer before each, as the benchmark
 * runs): 256 -> 64 x1.05-1.06, batch 2 x1.03, batch 4 (12.5 MiB of input)
 * x0.99, batch 8 (25 MiB) x0.88-0.89, hence the 8 MiB (A2_MK8_BYTES1);
 * 192 -> 64 x1.03, 512 -> 64 x1.04, 256 -> 128 x1.03 (batch 2 x1.03),
 * 512 -> 128 x1.04, 128 -> 64 and 128 -> 128 at 56x56 x1.03-1.04, 96 -> 64
 * and 96 -> 128 x1.02, but 64 channels x0.97-0.99 (64 -> 64, 80 and 128 at
 * 56x56), hence 96 (A2_MK8_MINC1).  Two threads lost at 28x28 (192 -> 64
 * x0.95-0.995, 96 -> 64 x0.91: fewer, longer tiles to share), float64
 * x0.98-1.03: both keep A2_MK8_KMAX */
#ifndef A2_MK8_KMAX1
#define A2_MK8_KMAX1 (sizeof(T) == 4 ? 128 : 32)
#endif

#define T float
#define V __m512
#define VL 16
#define NM(x) x##_f32
#define TABLE cconv_avx512_f32
#define VLOADU _mm512_loadu_ps
#define VSTOREU _mm512_storeu_ps
#define VSTREAM _mm512_stream_ps
#define VBCAST(p) _mm512_set1_ps(*(p))
#define VSET1 _mm512_set1_ps
#define VFMA _mm512_fmadd_ps
#define VADD _mm512_add_ps
#define VMAX _mm512_max_ps
#define VZERO _mm512_setzero_ps
#define VMLOAD(p, m) _mm512_maskz_loadu_ps((m), (p))
#define VMLOAD2(pa, ma, pb, mb) _mm512_mask_loadu_ps(_mm512_maskz_loadu_ps((ma), (pa)), (mb), (pb))  /* lanes ma at pa, mb at pb (disjoint), zeros elsewhere */
#define VMLOADM(v, p, m) _mm512_mask_loadu_ps((v), (m), (p))
#define VMSTORE(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define VMASK_T __mmask16
#define VMRANGE a5_mrange16
#define VEVENS a5_evens32
#define VDEINT a5_deint32
#define VTRANSPOSE a5_transpose16
#define ISA_NAME "avx512"
#include "conv_simd_template.h"
#include "conv_simd_undef.h"

/* the packed layouts' offset of weight (k, j): what winograd_s2_avx2.c
 * transforms from (float64: below) */
int64_t cconv_avx512_f32_weight_offset(const cconv_wshape *ws, int64_t k, int64_t j)
{
    return a2_weight_offset_f32(ws, k, j);
}

#define T double
#define V __m512d
#define VL 8
#define NM(x) x##_f64
#define TABLE cconv_avx512_f64
#define VLOADU _mm512_loadu_pd
#define VSTOREU _mm512_storeu_pd
#define VSTREAM _mm512_stream_pd
#define VBCAST(p) _mm512_set1_pd(*(p))
#define VSET1 _mm512_set1_pd
#define VFMA _mm512_fmadd_pd
#define VADD _mm512_add_pd
#define VMAX _mm512_max_pd
#define VZERO _mm512_setzero_pd
#define VMLOAD(p, m) _mm512_maskz_loadu_pd((m), (p))
#define VMLOAD2(pa, ma, pb, mb) _mm512_mask_loadu_pd(_mm512_maskz_loadu_pd((ma), (pa)), (mb), (pb))  /* lanes ma at pa, mb at pb (disjoint), zeros elsewhere */
#define VMSTORE(p, m, v) _mm512_mask_storeu_pd((p), (m), (v))
#define VMASK_T __mmask8
#define VMRANGE a5_mrange8
#define VEVENS a5_evens64
#define VDEINT a5_deint64
#define VTRANSPOSE a5_transpose8
#define ISA_NAME "avx512"
#include "conv_simd_template.h"

int64_t cconv_avx512_f64_weight_offset(const cconv_wshape *ws, int64_t k, int64_t j)
{
    return a2_weight_offset_f64(ws, k, j);
}

#include "conv_simd_undef.h"
#include "conv_ocv_hooks_undef.h"
#undef A2_NV1
#undef A2_MK1_PF
#undef A2_MK8
#undef A2_MK8_KMAX1
