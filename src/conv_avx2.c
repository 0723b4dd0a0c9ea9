/* conv_avx2.c - the AVX2/FMA convolution kernels (float32, float64).
 *
 * Only called after dispatch.c has checked that the CPU and OS support AVX2
 * and FMA.  One register tile for everything: up to OCB=6 output channels x
 * NR output pixels (2 vectors: 16 floats / 8 doubles), 12 accumulators; the
 * weights (packed once by pack(): [group][oc-block][c][t][r][s][6 lanes],
 * zero-padded) are broadcast, the pixels are loaded as vectors.  The Kg
 * output channels of a group are cut into ceil(Kg/6) blocks of near-equal
 * size (32 -> 6,6,5,5,5,5) so no block is left with too few accumulators.
 *
 *  - 1x1, unpadded (any stride): a GEMM per image, out[K,P] = W[K,C] X[C,P].
 *    A block of NR-pixel columns of X (all C channels) is copied into a
 *    contiguous per-thread panel [tile][c][NR] (strided pixels gathered).
 *    Small C: tile-outer, each tile's panel (a chunk of <= A2_C1CHUNK
 *    channels) stays in L1 while every oc block runs over it, partial sums of
 *    earlier chunks parked in a small per-thread buffer.  Large C (one
 *    block's weights > A2_KBO_BYTES) or many oc blocks (chunks would be
 *    shorter than A2_MIN_CHUNK): oc-block-outer, the panel streams past.
 *    Few oc blocks and a tile column within A2_DIRECT_BYTES: no panel, the
 *    tiles read the input rows directly.
 *  - KxK with K/groups >= A2_PANEL_KG and Cg * taps <= A2_PANEL_CT: the
 *    prepared band below, each tile's (c, tap) rows copied into a panel
 *    (L1/L2) and run through the 1x1 tile, so the copy serves every oc
 *    block and the tile reads one contiguous row per step.
 *  - everything else (KxK, strides, dilation, padding, 3-D, groups): a
 *    direct convolution over a prepared band of input rows.  The band is a
 *    zero-padded copy of the input rows that one band of output rows needs,
 *    split into stride phases, so that every kernel tap becomes a constant
 *    offset in a flat array with row width Wq.  Consecutive rows share their
 *    zero padding (3x3/pad 1: Wq = Wo + 1), so the microkernel walks (c, tap)
 *    with no branches and only Wq - Wo junk columns per row are computed and
 *    discarded by the epilogue.  Oc-block-outer; the band streams from L2
 *    with a software prefetch a few channels ahead.
 *
 * Each output value is reduced over (c, tap) in ascending order whatever the
 * thread count or blocking (a partial sum parked between channel chunks
 * round-trips through memory exactly), and a task computes whole outputs:
 * results are bitwise identical for any number of threads and any schedule.  Epilogue fused: bias, residual (may alias y), ReLU.
 * The kernels themselves live in conv_simd_template.h, shared with
 * conv_avx512.c; this file instantiates them for ymm vectors, once per dtype.
 */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>
#include "cconv.h"
#include "fpenv.h"
#include "scratch.h"
#ifdef _OPENMP
#include <omp.h>
#endif

/* lanes [lo, hi) of the vector holding lanes [base, base + width) */
static inline __m256i a2_mrange32(int64_t lo, int64_t hi, int64_t base)
{
    const __m256i idx = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                         _mm256_set1_epi32((int)base));
    return _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), idx),
                            _mm256_cmpgt_epi32(idx, _mm256_set1_epi32((int)lo - 1)));
}
static inline __m256i a2_mrange64(int64_t lo, int64_t hi, int64_t base)
{
    const __m256i idx = _mm256_add_epi64(_mm256_setr_epi64x(0, 1, 2, 3), _mm256_set1_epi64x(base));
    return _mm256_and_si256(_mm256_cmpgt_epi64(_mm256_set1_epi64x(hi), idx),
                            _mm256_cmpgt_epi64(idx, _mm256_set1_epi64x(lo - 1)));
}


/* lanes 0, 2, 4, ... of the 2 * VL values at p (stride-2 gathers) */
static inline __m256 a2_evens32(const float *p)
{
    const __m256 u = _mm256_loadu_ps(p), v = _mm256_loadu_ps(p + 8);
    /* [u0 u2 v0 v2 | u4 u6 v4 v6] -> [u0 u2 u4 u6 v0 v2 v4 v6] */
    const __m256 e = _mm256_shuffle_ps(u, v, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
}
static inline __m256d a2_evens64(const double *p)
{
    /* [u0 v0 | u2 v2] -> [u0 u2 v0 v2] */
    const __m256d e = _mm256_unpacklo_pd(_mm256_loadu_pd(p), _mm256_loadu_pd(p + 4));
    return _mm256_permute4x64_pd(e, 0xD8);
}


/* c[o] lane p = src[p * stride + o] for p < nrows (<= 8; lanes past it
 * zero), o < 8: an 8x8 transpose in registers (weight packing) */
static inline void a2_transpose8(const float *src, int64_t stride, int nrows, __m256 *c)
{
    __m256 r[8], t[8];
    for (int p = 0; p < 8; p++) r[p] = p < nrows ? _mm256_loadu_ps(src + p * stride) : _mm256_setzero_ps();
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);      /* per 128-bit half: a0 b0 a1 b1 */
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);  /* a2 b2 a3 b3 */
    }
    for (int i = 0; i < 8; i += 4)
        for (int h = 0; h < 2; h++) {
            r[i + 2 * h] = _mm256_shuffle_ps(t[i + h], t[i + 2 + h], _MM_SHUFFLE(1, 0, 1, 0));
            r[i + 2 * h + 1] = _mm256_shuffle_ps(t[i + h], t[i + 2 + h], _MM_SHUFFLE(3, 2, 3, 2));
        }
    /* r[4q + j]: column j of rows 4q..4q+3 (lower half), column j + 4 (upper) */
    for (int j = 0; j < 4; j++) {
        c[j] = _mm256_permute2f128_ps(r[j], r[4 + j], 0x20);
        c[4 + j] = _mm256_permute2f128_ps(r[j], r[4 + j], 0x31);
    }
}

/* 1x1 tiles read cache-line-aligned rows in place (see A2_ALIGNED_NKB in
 * conv_simd_common.h) where a tile's column, one line per channel, leaves at
 * most 4 lines in an L1 set.  A 16-pixel tile reads one line per row, and
 * the column must stay in L1 while every oc block reads it: 256 -> 64 at
 * 56x56 (rows 196 lines apart: 16 sets, 16 lines each) ran x0.79-0.81,
 * batch 8 x0.77-0.80, 512 -> 128 at 28x28 (8 a set) x0.96.  Within the
 * limit, paired A/B, Zen 3, one thread: 192 -> 64 at 28x28 x1.11, 256 -> 64
 * at 28x28 x1.14, 64 -> 64 at 56x56 x1.09, 128 -> 128 at 28x28 x1.07 */
#ifndef A2_ALIGNED_NKB
#define A2_ALIGNED_NKB 22
#endif
#ifndef A2_ALIGNED_SET_LINES
#define A2_ALIGNED_SET_LINES 4
#endif

/* The panel path (see a2_panel_use) for every KxK layer with K/groups >= 48
 * (float64: 64) whose panel [Cg * taps][16 floats / 8 doubles] stays
 * within 144 KiB (L2):
 * against the 6 x 16 band tile, paired A/B, 1 and 2 threads, float32:
 * 3x3/s2 128 -> 128 x1.08-1.16, 256 -> 256 x1.07-1.11, 3x3 96 -> 128
 * x1.13-1.16, 256 -> 256 at 14x14 x1.04-1.20, 7x7/s2 3 -> 64 x1.15-1.21,
 * 64 -> 64 x0.97-1.04, 5x5 192 -> 64 x1.00-1.04; float64 x1.04-1.25 on
 * the 3x3 layers, x1.07-1.20 on 7x7/s2 and 5x5 3 -> 192.  A longer panel
 * (3x3 512 -> 512 at 7x7, 4608 rows: x0.84) costs more to copy than it
 * saves.  float32 at 48 channels: 7x7/s2 3 -> 48 x1.12-1.16, 3x3/s2 16 -> 48
 * x1.08-1.10; at 32 it loses (3x3 3 -> 32 at 112x112 x0.85-0.88). */
/* Weight packing stores whole vectors that overlap the next column
 * (conv_simd_template.h, a2_pack_block): the 6-lane masked stores it used
 * are microcoded on AMD.  Packing on Zen 3, one thread: 3x3 256 -> 256
 * x3.2, 96 -> 128 x2.8, 64 -> 64 x2.5, 1x1 256 -> 256 x2.6, 7x7 3 -> 64
 * x1.8; the same bytes */
#define A2_PACK_OVERLAP 1

/* A band's preparation prefetches the next channel's input rows: paired A/B,
 * Zen 3, one thread: 3x3/s2 128 -> 128 at 56x56 x1.05, 256 -> 128 x1.10,
 * 256 -> 256 at 28x28 x1.06; 3x3 and 5x5 stride-1 layers x0.99-1.02; two
 * channels ahead was no better */
#ifndef A2_BAND_PF
#define A2_BAND_PF 1
#endif

/* The 1x1 panel path's tile-outer order writes one line of 6 output rows
 * per oc block, each a stream of its own (64 -> 256: 258 of them), which no
 * hardware prefetcher follows: the tile fetches the next block's output
 * lines first.  Paired A/B, Zen 3, one thread: 64 -> 256 at 56x56
 * x1.05-1.09, 128 -> 512 at 28x28 x1.01; two threads x1.00; two or three
 * blocks ahead no better.  The direct tiles (192 -> 64, 256 -> 64, 96 -> 16)
 * gained nothing from it (x0.99-1.01) and do not prefetch. */
#ifndef A2_YPF
#define A2_YPF 1
#endif

/* The KxK panel path prefetches the next oc block's output lines the same
 * way: paired A/B, Zen 3: 7x7/s2 3 -> 64 at 224x224 x1.05-1.08 one
 * thread, x1.09 two; 3x3/s2 128 -> 128 x1.00-1.02; 3x3 16 -> 64 at 55x55
 * x0.98 (noise); two blocks ahead x1.07 */
#ifndef A2_KYPF
#define A2_KYPF 1
#endif

/* Panel-path bands sized so their pixels fill whole 16-pixel tiles (see
 * a2_convband): paired A/B, Zen 3, one thread: 3x3/s2 128 -> 128 at 56x56
 * (4 rows of 28, not 7) x1.05-1.06; two threads x0.99; layers whose rows
 * keep their count (3x3/s2 64 -> 128, 256 -> 256, 7x7/s2 3 -> 64)
 * x0.97-1.00 */
#ifndef A2_PANEL_WHOLE
#define A2_PANEL_WHOLE 1
#endif

/* 1x1 layers at unit stride: a thread fetches the input rows of its next
 * task into L2 while it runs one, and on the panel path the output rows
 * the next panel writes (a2_pfwalk; calls of 8 MiB and more, one thread
 * from 1.5 MiB of input).  The panel path's copy pass reads one line of
 * each of Cg rows a tile, too many streams for the hardware prefetcher:
 * with 256 -> 64 at 56x56 it took a fifth of the time on one image, and on
 * inputs beyond the last-level cache it waited on memory for half its time
 * (one thread: 98 GFLOP/s at batch 1, 55 at batch 8).  Paired A/B in one
 * process, Intel family 6 model 167 with the AVX2 kernels (the issue's
 * Zen 3 not at hand), one thread: 256 -> 64 at 56x56 batch 8 x1.40-1.57,
 * batch 4 x1.34, batch 3 x1.16; 64 -> 256 batch 8 x1.23-1.41, batch 4
 * x1.04; 512 -> 128 at 28x28 batch 8 x1.31; float64 256 -> 64 batch 4
 * x1.33; two threads (each fetching for task + 2) 256 -> 64 batch 8
 * x1.33-1.47, batch 4 x1.01-1.03, 64 -> 256 batch 8 x1.14-1.19, batch 4
 * x0.97-0.99, 512 -> 128 batch 8 x1.22.  Below 8 MiB, inputs of 1.5 MiB
 * and more on one thread: 256 -> 64 at 56x56 batch 1 x1.03-1.06 (float64
 * x1.15), 256 -> 128 x1.04, 512 -> 64 and 512 -> 128 at 28x28 x1.02-1.04;
 * two threads x0.95-0.98 on 256 -> 64 batch 1 (each core's share of the
 * input stays in the caches), and smaller inputs x0.97 (64 -> 256 at
 * 56x56): off there.  The direct path (few oc blocks): 96 -> 16 at 55x55
 * batch 8 x1.10-1.12 (two threads x1.05), float64 x1.13-1.15 (batch 8
 * x1.16, two threads x1.10), 192 -> 64 at 28x28 batch 8 x1.05; with the
 * input in L2 it lost (96 -> 16 float32 batch 1, x0.96).  AVX-512 lost,
 * x0.89-1.00 (64 -> 256 at 56x56, streaming stores at batch 8; 96 -> 16,
 * whose tiles fetch rows a few channels ahead): off there */
#ifndef A2_TASK_L2PF
#define A2_TASK_L2PF 1
#endif

#ifndef A2_PANEL_CT
#define A2_PANEL_CT 2304
#endif
/* In-place tiles on an image's channels (see the template): paired A/B,
 * Zen 3, against the panel copy: 7x7/s2 3 -> 64 x1.04-1.06 one thread while
 * the machine was quiet, x0.97-1.01 while it was busy (its kernel runs at
 * the FMA peak either way: the copy is what it saves), x0.98-1.06 two;
 * 7x7/s2 3 -> 48 x1.06; 5x5 3 -> 192 x1.01; 3x3/s2 3 -> 32 x1.01; but
 * 11x11/s4 3 -> 96 (363 steps) x0.985, and on more channels, where the
 * band's reads spread over more lines than the panel's, 3x3/s2 16 -> 64
 * x0.95, 3x3/s2 128 -> 128 x0.86.  float64 (8-pixel tiles) broke even or
 * lost (7x7/s2 3 -> 64 x0.99-1.00, 3x3/s2 3 -> 32 x0.99): panel copy */
#ifndef A2_PANEL_INROW_CT
#define A2_PANEL_INROW_CT (sizeof(T) == 4 ? 160 : 0)
#endif
#ifndef A2_PANEL_KG
#define A2_PANEL_KG (sizeof(T) == 4 ? 48 : 64)
#endif
#ifndef A2_PANEL_KG_IMG
#define A2_PANEL_KG_IMG A2_PANEL_KG
#endif

/* Only here, after this file's own tunables above: conv_simd_common.h's
 * #ifndef defaults would otherwise win (A2_ALIGNED_NKB 22, AVX-512's, made
 * 256 -> 64 at 56x56 on aligned input x0.6 here) */
#include "conv_simd_common.h"

/* ---- the output-channel-vectorised tile (conv_ocv_template.h), float32 ----
 * The narrow shape only: 6 pixels x 2 ymm of output channels, 12
 * accumulators, 2 weight vectors and a broadcast pixel (the 4-vector shape
 * needs 17 registers of 16 and spilled: 5x5 192 -> 32 x0.68), with no
 * software prefetch (2 per (channel, tap) cost x0.85-0.95 on Zen 3).  It
 * takes the KxK layers with long reductions that the panel path leaves
 * (Cg * taps >= OCV_MIN_CT): paired A/B against the spatial band tile, one
 * thread, Zen 3: 3x3 512 -> 512 at 7x7 x1.37-1.43, 5x5 192 -> 32 x1.06-1.19,
 * 5x5 48 -> 32 x1.00-1.12; on shorter reductions it lost or broke even
 * (3x3 64 -> 64 x0.94-0.96, 32 -> 32 x0.96, 16 -> 16 x0.91, 3x3/s2 16 -> 32
 * x0.84, 7x7/s2 3 -> 32 x0.96).  float64 keeps the spatial tile. */
#ifndef OCV_WCHUNK
#define OCV_WCHUNK (16 * 1024)
#endif
#ifndef OCV_WCHUNK_WIDE
#define OCV_WCHUNK_WIDE OCV_WCHUNK
#endif
/* the lanes whose bit is set in m, as a vector mask */
static inline __m256i a2_bits32(unsigned m)
{
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)m), bit), bit);
}
#define A2_ALL6(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define OT float
#define OV __m256
#define OL 8
#define OM unsigned
#define O_LOADU _mm256_loadu_ps
#define O_STOREU _mm256_storeu_ps
#define O_SET1 _mm256_set1_ps
#define O_FMA _mm256_fmadd_ps
#define O_ADD _mm256_add_ps
#define O_MAX _mm256_max_ps
#define O_ZERO _mm256_setzero_ps
#define O_MLOADZ(m, p) _mm256_maskload_ps((p), a2_bits32(m))
#define O_MSTORE(p, m, v) _mm256_maskstore_ps((p), a2_bits32(m), (v))
#define O_TRANSPOSE a2_transpose8
#define O_PF 0
/* tiles over output pixels, not the band's flat positions (no junk columns
 * computed): paired A/B, Zen 3, one thread: 5x5 192 -> 32 at 28x28
 * x1.04, 48 -> 32 x1.04-1.07, 192 -> 32 at 14x14 x1.15, 3x3 512 -> 512 at
 * 7x7 x1.07 */
#ifndef O_COMPACT
#define O_COMPACT 1
#endif
#ifndef OCV_MIN_CT
#define OCV_MIN_CT 1024
#endif
#define ONP 6
#define ONV 2
#define ONM(x) x##_f32n
#define O_ALL A2_ALL6
#include "conv_ocv_template.h"
#define OPK(x) x##_f32
#define ONARROW(x) x##_f32n
#include "conv_ocv_pick.h"
#include "conv_ocv_undef.h"

#define T float
#define V __m256
#define VL 8
#define NM(x) x##_f32
#define TABLE cconv_avx2_f32
#define VLOADU _mm256_loadu_ps
#define VSTOREU _mm256_storeu_ps
#define VBCAST _mm256_broadcast_ss
#define VSET1 _mm256_set1_ps
#define VFMA _mm256_fmadd_ps
#define VADD _mm256_add_ps
#define VMAX _mm256_max_ps
#define VZERO _mm256_setzero_ps
#define VMLOAD _mm256_maskload_ps
#define VMLOAD2(pa, ma, pb, mb) _mm256_or_ps(_mm256_maskload_ps((pa), (ma)), _mm256_maskload_ps((pb), (mb)))  /* lanes ma at pa, mb at pb (disjoint), zeros elsewhere */
#define VMSTORE _mm256_maskstore_ps
#define VMASK_T __m256i
#define VMRANGE a2_mrange32
#define VEVENS a2_evens32
#define VMZERO(m, v) _mm256_and_ps(_mm256_castsi256_ps(m), (v))
#define VTRANSPOSE a2_transpose8
#define ISA_NAME "avx2"
#include "conv_simd_template.h"
#include "conv_simd_undef.h"

/* the packed layouts' offset of weight (k, j): what winograd_s2_avx2.c
 * transforms from (float64: below) */
int64_t cconv_avx2_f32_weight_offset(const cconv_wshape *ws, int64_t k, int64_t j)
{
    return a2_weight_offset_f32(ws, k, j);
}

/* float64: the spatial tile only */
#include "conv_ocv_hooks_undef.h"

#define T double
#define V __m256d
#define VL 4
#define NM(x) x##_f64
#define TABLE cconv_avx2_f64
#define VLOADU _mm256_loadu_pd
#define VSTOREU _mm256_storeu_pd
#define VBCAST _mm256_broadcast_sd
#define VSET1 _mm256_set1_pd
#define VFMA _mm256_fmadd_pd
#define VADD _mm256_add_pd
#define VMAX _mm256_max_pd
#define VZERO _mm256_setzero_pd
#define VMLOAD _mm256_maskload_pd
#define VMLOAD2(pa, ma, pb, mb) _mm256_or_pd(_mm256_maskload_pd((pa), (ma)), _mm256_maskload_pd((pb), (mb)))  /* lanes ma at pa, mb at pb (disjoint), zeros elsewhere */
#define VMSTORE _mm256_maskstore_pd
#define VMASK_T __m256i
#define VMRANGE a2_mrange64
#define VEVENS a2_evens64
#define VMZERO(m, v) _mm256_and_pd(_mm256_castsi256_pd(m), (v))
#define ISA_NAME "avx2"
#include "conv_simd_template.h"

int64_t cconv_avx2_f64_weight_offset(const cconv_wshape *ws, int64_t k, int64_t j)
{
    return a2_weight_offset_f64(ws, k, j);
}

#include "conv_simd_undef.h"
