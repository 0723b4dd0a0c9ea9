/* conv_simd_common.h - what every SIMD convolution kernel file shares,
 * whatever its ISA and dtype: blocking parameters, small integer helpers,
 * the output-channel block split, thread balancing and the row segments of a
 * tile in a prepared band.  Included by conv_simd_template.h and
 * conv_ocv_template.h. */
#ifndef CCONV_SIMD_COMMON_H
#define CCONV_SIMD_COMMON_H

#include <stdint.h>
#include <immintrin.h>

#ifndef A2_PFD
#define A2_PFD 4                   /* prefetch distance in channels (band path) */
#endif
#define OCB 6                      /* output channels per packed block / tile rows */
#ifndef BAND_BUDGET
#define BAND_BUDGET (512 * 1024)
#endif   /* bytes of prepared input per thread (L2) */
#ifndef PANEL_BUDGET
#define PANEL_BUDGET (160 * 1024)  /* bytes of packed 1x1 input panel per thread */
#endif
#ifndef A2_KBO_BYTES
#define A2_KBO_BYTES (16 * 1024)   /* oc-block-outer order above this many weight bytes per block */
#endif
#ifndef A2_DIRECT_NKB
#define A2_DIRECT_NKB 4            /* 1x1: run unpacked when K/6 <= this */
#endif
#ifndef A2_DIRECT_BYTES
#define A2_DIRECT_BYTES (48 * 1024) /* 1x1: ... and one tile's column of all channels fits L1 */
#endif
#ifndef A2_WCHUNK
#define A2_WCHUNK (128 * 1024)     /* bytes of one chunk's weights, all oc blocks (L2) */
#endif
#ifndef A2_BAND_TPT
#define A2_BAND_TPT 4              /* KxK: at least this many band tasks per thread (7x7/s2 3 -> 64 at 224x224, 2 threads: 2 bands -> 8, x1.04-1.10) */
#endif
#ifndef A2_MIN_CHUNK
#define A2_MIN_CHUNK 64            /* 1x1: shorter channel chunks than this: oc-block-outer instead */
#endif
/* 1x1: input rows that start on cache lines are read in place (no panel
 * copy) up to A2_ALIGNED_NKB oc blocks and from A2_ALIGNED_MIN_C channels.
 * Paired A/B on AVX-512, aligned input, 1 and 2 threads: 256 -> 64 at 56x56
 * x1.08-1.13, 192 -> 64 at 28x28 x1.07-1.17, 512 -> 128 x1.05-1.10, 128 -> 128
 * x1.08, batch 8 x0.95-1.05, float64 x1.02-1.09; with more oc blocks it lost
 * (64 -> 256 x0.94-1.03, 1024 -> 256 x0.96, 128 -> 512 x0.97), and with 32
 * channels (32 -> 64 at 112x112 x0.85-0.90) */
#ifndef A2_ALIGNED_NKB
#define A2_ALIGNED_NKB 22
#endif
#ifndef A2_ALIGNED_MIN_C
#define A2_ALIGNED_MIN_C 64
#endif
/* ... and only while a tile's column of rows, one line per channel, puts at
 * most this many lines in any one L1 set (64 sets): rows a multiple of 4 KiB
 * apart, give or take a few lines, crowd into a few sets and evict one
 * another before the next oc block reads them (0: no limit) */
#ifndef A2_ALIGNED_SET_LINES
#define A2_ALIGNED_SET_LINES 0
#endif

/* the most lines that nrows rows stride bytes apart (a multiple of 64),
 * one line each, put in one set of a 64-set cache */
static inline int64_t a2_lines_per_set(int64_t nrows, int64_t stride)
{
    int64_t a = (stride / 64) % 64, b = 64;
    while (a) { const int64_t t = b % a; b = a; a = t; }  /* b = gcd(stride lines, 64) */
    return (nrows * b + 63) / 64;
}
/* 1x1 tiles read in place fetch the next tile's rows into L2 (one thread,
 * at least A2_MK1_L2PF_NKB oc blocks, an input of at least
 * A2_MK1_L2PF_MIN_BYTES; a2_conv1x1).  Off unless the ISA's file turns it
 * on (conv_avx512.c) */
#ifndef A2_MK1_L2PF
#define A2_MK1_L2PF 0
#endif
#ifndef A2_MK1_L2PF_NKB
#define A2_MK1_L2PF_NKB 8
#endif
#ifndef A2_MK1_L2PF_MIN_BYTES
#define A2_MK1_L2PF_MIN_BYTES (1.5 * 1024 * 1024)
#endif
/* ... each line over two passes (every other row a step, twice as many
 * passes) where the rows lie at least this many bytes apart and the tile
 * has the passes for it (0: one pass a line) */
#ifndef A2_MK1_L2PF_SPREAD
#define A2_MK1_L2PF_SPREAD 0
#endif
/* 1x1 panel path: whole tiles store their outputs past the caches
 * (streaming stores, where the including file defines VSTREAM) for layers
 * of at most A2_NT_MAXC input channels per group whose output is at least
 * A2_NT_BYTES a call (0: never) */
#ifndef A2_NT_BYTES
#define A2_NT_BYTES 0
#endif
#ifndef A2_NT_MAXC
#define A2_NT_MAXC 96
#endif
#ifndef A2_C1CHUNK
#define A2_C1CHUNK 256             /* 1x1: most input channels per chunk */
#endif
/* 1x1 at unit stride: while a thread runs a task (a panel, or the direct
 * path's tiles), the input rows of its next task (and, panels, the output
 * rows it will write where they are not streamed) go to L2, a few lines
 * before each kernel call (a2_pfwalk), for inputs and outputs of at least
 * A2_TASK_L2PF_BYTES a call, and on one thread for inputs of at least
 * A2_MK1_L2PF_MIN_BYTES.  Off unless the ISA's file turns it on
 * (conv_avx2.c) */
#ifndef A2_TASK_L2PF
#define A2_TASK_L2PF 0
#endif
#ifndef A2_TASK_L2PF_BYTES
#define A2_TASK_L2PF_BYTES (8.0 * 1024 * 1024)
#endif

#if defined(__GNUC__) || defined(__clang__)
#define AINLINE static inline __attribute__((always_inline))
#else
#define AINLINE static __forceinline
#endif

static inline int64_t a2_min(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t a2_max(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t a2_cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* a fetch into L2 of nr rows (runs of bytes, stride bytes apart), spread
 * over steps calls of a2_pfwalk_step: row r, then the next, a line at a
 * time.  nr == 0: no fetch */
typedef struct {
    const char *base;
    int64_t stride, len, nr;  /* row r's lines at base + r * stride + [0, len) */
    int64_t r, e, per;        /* the next line (row, byte), lines a step */
} a2_pfwalk;

static inline void a2_pfwalk_init(a2_pfwalk *w, const void *p, int64_t stride, int64_t bytes,
                                  int64_t nr, int64_t steps)
{
    const int64_t mis = (int64_t)((uintptr_t)p % 64);
    w->base = (const char *)p - mis;
    w->stride = stride;
    w->len = a2_cdiv(bytes + mis, 64) * 64;
    w->nr = bytes > 0 ? nr : 0;
    w->r = w->e = 0;
    w->per = a2_cdiv(w->nr * (w->len / 64), a2_max(1, steps));
}

/* task t of the 1x1 driver: oc-block chunk kc, panel pb, group g, image n */
static inline void a2_task_split(int64_t t, int64_t nkc, int64_t npb, int64_t G, int64_t *kc,
                                 int64_t *pb, int64_t *g, int64_t *n)
{
    *kc = t % nkc; t /= nkc;
    *pb = t % npb; t /= npb;
    *g = t % G;
    *n = t / G;
}

/* tiles [*t0, *t1) of panel pb: tpp a panel, the last panel to ntiles */
static inline void a2_panel_tiles(int64_t pb, int64_t npb, int64_t tpp, int64_t ntiles,
                                  int64_t *t0, int64_t *t1)
{
    *t0 = pb * tpp;
    *t1 = pb + 1 == npb ? ntiles : a2_min(ntiles, *t0 + tpp);
}

/* tiles [*t0, *t1) of part q of an even split of nd tiles in npb parts */
static inline void a2_even_tiles(int64_t q, int64_t npb, int64_t nd, int64_t *t0, int64_t *t1)
{
    *t0 = nd * q / npb;
    *t1 = nd * (q + 1) / npb;
}

/* the first pixel of tile j of tw pixels after a head of hd (tile 0 holds
 * the head and the row's last few pixels, tile j >= 1 starts at hd) */
static inline int64_t a2_tile_px(int64_t j, int64_t hd, int64_t tw)
{
    return hd && j ? hd + (j - 1) * tw : j * tw;
}

static inline void a2_pfwalk_step(a2_pfwalk *w)
{
    for (int64_t i = 0; i < w->per && w->r < w->nr; i++) {
        _mm_prefetch(w->base + w->r * w->stride + w->e, _MM_HINT_T1);
        w->e += 64;
        if (w->e == w->len) { w->e = 0; w->r++; }
    }
}

/* Output-channel blocks: ceil(Kg/OCB) blocks whose sizes differ by at most
 * one (Kg = 32: 6,6,5,5,5,5 rather than 6,6,6,6,6,2), so that no block is
 * left with too few accumulators to hide the FMA latency.  Block kb holds
 * channels [a2_kfirst(Kg, kb), a2_kfirst(Kg, kb + 1)). */
static inline int64_t a2_kfirst(int64_t Kg, int64_t kb)
{
    const int64_t nkb = (Kg + OCB - 1) / OCB;
    if (nkb <= 0) return 0;
    const int64_t base = Kg / nkb, rem = Kg % nkb;
    return kb * base + (kb < rem ? kb : rem);
}

/* Pick the number of equal parts to split `base` tasks into so that nt
 * threads get balanced shares: returns a multiplier for `base`. */
static int64_t a2_balance(int64_t base, int64_t nt, int64_t maxsplit)
{
    if (nt <= 1 || base % nt == 0 || base >= 8 * nt) return 1;
    int64_t m = 1;
    while (m < maxsplit && ((base * m) % nt != 0) && base * m < 8 * nt) m++;
    return m;
}

/* A stride phase's data columns: output column j reads input column
 * j * sw + pwv, which lies in [0, W) for j in [*jlo, *jhi) */
static inline void a2_phase_cols(int64_t pwv, int64_t sw, int64_t W, int64_t *jlo, int64_t *jhi)
{
    *jlo = pwv >= 0 ? 0 : a2_cdiv(-pwv, sw);
    *jhi = (W - 1 - pwv) >= 0 ? (W - 1 - pwv) / sw + 1 : 0;
}

/* The valid lanes of a tile of nl lanes at flat position q0 of a band (rows
 * of width Wq, of which the first Wo columns and the first rbn rows are
 * outputs), row segment by row segment: segment s holds lanes
 * [lo[s], hi[s]), lane l of it going to output position base[s] + l.
 * Returns the number of segments (0: the tile holds only junk). */
static inline int a2_row_segments(int64_t q0, int64_t nl, int64_t rbn, int64_t Wq, int64_t Wo,
                                  int64_t *base, int *lo, int *hi)
{
    int ns = 0;
    int64_t l = 0;
    while (l < nl) {
        const int64_t q = q0 + l, i = q / Wq, j = q - i * Wq;
        if (i >= rbn) break;
        const int64_t len = a2_min(nl - l, Wq - j), cnt = a2_min(len, Wo - j);
        if (cnt > 0) {
            base[ns] = i * Wo + j - l;
            lo[ns] = (int)l;
            hi[ns] = (int)(l + cnt);
            ns++;
        }
        l += len;
    }
    return ns;
}

#endif /* CCONV_SIMD_COMMON_H */
