/* cconv.h - the C interface of cconv's kernels: convolution and pooling
 * descriptors, the per-ISA kernel table, and run-time dispatch.
 *
 * Everything is expressed in 3-D (D, H, W); 1-D and 2-D problems set the
 * leading dimensions to 1.  The C side knows nothing of Python: the Cython
 * layer validates every argument before calling in here, so kernels may
 * assume consistent, in-range parameters.  All index arithmetic is 64-bit.
 */
#ifndef CCONV_H
#define CCONV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { CCONV_F32 = 0, CCONV_F64 = 1 } cconv_dtype;

enum { CCONV_ACT_NONE = 0, CCONV_ACT_RELU = 1 };

/* Return codes. */
enum { CCONV_OK = 0, CCONV_ENOMEM = 1, CCONV_EINVAL = 2 };

/* Packing options (cconv_wshape.flags). */
enum {
    CCONV_PACK_DIRECT_ONLY = 1,  /* pack for direct convolution only (no Winograd weights) */
    /* 1x1 weights used in place (SIMD kernels, unpadded 1x1 calls only): no
     * packed bytes, pack() does nothing, conv() reads the contiguous
     * (K, Cg) weights through its `packed` pointer.  A one-shot call's pack
     * would touch every weight once for a single use */
    CCONV_PACK_IN_PLACE_1X1 = 2,
    /* 3x3/5x5 weights kept raw for Winograd (SIMD kernels): no packed bytes,
     * pack() does nothing, conv() reads the contiguous (K, Cg, r, r) weights
     * through its `packed` pointer and transforms each chunk of output
     * channels where it runs it; calls (or images) that Winograd does not
     * take pack the direct layout for themselves.  A one-shot call on images
     * with few tiles, where a whole transform would not pay */
    CCONV_PACK_WINO_RAW = 4
};

/* Weight shape, independent of the input size: what packing depends on. */
typedef struct {
    int64_t K;        /* output channels (all groups) */
    int64_t Cg;       /* input channels per group */
    int64_t groups;
    int64_t ks[3];    /* kernel T, R, S */
    int64_t flags;    /* CCONV_PACK_* */
} cconv_wshape;

/* One convolution call.
 *   x[n*x_sn + c*x_sc + (d*H + h)*W + w]   input, spatial dims contiguous
 *   y[n*y_sn + k*y_sk + (d*Ho + h)*Wo + w]  output, spatial dims contiguous
 *   r[n*r_sn + k*r_sk + ...]                optional residual, same shape as y
 * y = act(conv(x, w) + bias + r).  y must not overlap x; it may be r itself.
 */
typedef struct {
    cconv_wshape w;
    int64_t N, C;             /* batch, input channels (= w.Cg * w.groups) */
    int64_t in[3];            /* input D, H, W */
    int64_t out[3];           /* output D, H, W */
    int64_t stride[3];
    int64_t pad[3];           /* leading padding; trailing padding is implied by out[] */
    int64_t dil[3];
    int64_t x_sn, x_sc;       /* input strides in elements */
    int64_t y_sn, y_sk;       /* output strides in elements */
    int64_t r_sn, r_sk;       /* residual strides in elements (if residual != NULL) */
    int activation;           /* CCONV_ACT_* */
} cconv_conv_params;

/* A chain of 1x1 convolutions (stride 1, no padding, one group):
 *   y_0 = x,  y_l = act_l(W_l y_(l-1) + b_l),  y = y_nl
 * computed one pixel tile at a time, so the intermediate activations stay in
 * per-thread cache-sized scratch and never reach memory (NIN's cccp layers).
 *   x[n*x_sn + c*x_sc + p], y[n*y_sn + k*y_sk + p], p < P (pixels per image)
 * w[l] is layer l's (C[l+1], C[l], 1, 1, 1) weight packed by the same table. */
#define CCONV_CHAIN_MAX 8
typedef struct {
    int64_t N, P;
    int nl;                               /* layers, 1 .. CCONV_CHAIN_MAX */
    int64_t C[CCONV_CHAIN_MAX + 1];       /* C[0] input channels, C[l+1] layer l's outputs */
    const void *w[CCONV_CHAIN_MAX];
    const void *bias[CCONV_CHAIN_MAX];    /* each may be NULL */
    int act[CCONV_CHAIN_MAX];             /* CCONV_ACT_* */
    int64_t x_sn, x_sc, y_sn, y_sk;
} cconv_chain_params;

/* Kernels for one ISA and one dtype.  The packed weight layout is private to
 * the table that packed it: conv() must only be given weights packed by the
 * same table's pack(). */
typedef struct {
    const char *isa;
    /* bytes needed for the packed weights (the buffer must be 64-byte aligned) */
    int64_t (*packed_size)(const cconv_wshape *ws);
    /* w: contiguous (K, Cg, T, R, S) array of the table's dtype; nthreads
     * as for conv (the packed bytes do not depend on it) */
    void (*pack)(const cconv_wshape *ws, const void *w, void *packed, int nthreads);
    /* bias may be NULL, residual may be NULL.  nthreads <= 0: OpenMP default.
     * Returns CCONV_OK or CCONV_ENOMEM (scratch allocation failed). */
    int (*conv)(const cconv_conv_params *p, const void *x, const void *packed,
                const void *bias, const void *residual, void *y, int nthreads);
    /* a 1x1 chain (above); NULL where the table has none (the caller then
     * runs the layers one conv() at a time).  y must not overlap x. */
    int (*chain)(const cconv_chain_params *p, const void *x, void *y, int nthreads);
} cconv_conv_kernels;

/* ---- dispatch (dispatch.c) ---- */
enum { CCONV_ISA_PORTABLE = 0, CCONV_ISA_AVX2 = 1, CCONV_ISA_AVX512 = 2 };
/* Detect the CPU once; `disable` is a comma-separated list of features to
 * refuse (e.g. "AVX2"), normally from CCONV_DISABLE_CPU_FEATURES. */
void cconv_dispatch_init(const char *disable);
int cconv_cpu_has_avx2_fma(void);  /* what the CPU and OS support */
int cconv_cpu_has_avx512(void);    /* AVX-512F + AVX2/FMA, zmm state saved by the OS */
int cconv_cpu_zmm_split(void);     /* AVX-512 FMAs at the ymm rate (two halves: AMD Zen 4) */
int cconv_active_isa(void);        /* what was chosen */
const char *cconv_isa_name(int isa);
const cconv_conv_kernels *cconv_conv_kernels_for(int isa, cconv_dtype dt);
const cconv_conv_kernels *cconv_conv_kernels_get(cconv_dtype dt); /* active ISA */

/* 1 when a call with these parameters (a finite image) would take the
 * Winograd kernels of the AVX2/AVX-512 tables, its 3x3 weights packed with
 * their Winograd layout (conv_select.c); 0 on targets without them */
int cconv_select_wino_applies(cconv_dtype dt, const cconv_conv_params *p);
/* tiles per Winograd tile block (each transforms raw weights again); 0 on
 * targets without Winograd kernels */
int64_t cconv_select_wino_block_tiles(cconv_dtype dt);

/* ---- threading helpers (threads.c) ---- */
int cconv_openmp_enabled(void);
int cconv_default_threads(void);   /* what num_threads=None means */
/* the thread count to use for `work` multiply-adds split into `tasks` tasks */
int cconv_threads_for(int requested, double work, int64_t tasks);
/* Weight packing: fn(ctx, b) for each of `nblk` independent blocks that
 * together write `values` packed weights, on as many of `requested` threads
 * as that many values pay for */
void cconv_pack_blocks(int requested, int64_t values, int64_t nblk,
                       void (*fn)(void *ctx, int64_t b), void *ctx);
/* Called once at import: registers a fork handler (POSIX + OpenMP builds) so
 * that a forked child runs every kernel on one thread (libgomp's pool does not
 * survive fork; entering a parallel region in the child would hang). */
void cconv_runtime_init(void);
int cconv_forked_child(void);      /* 1 in a child made by fork() after import */
/* The calling thread's FP control register (x86 MXCSR, aarch64 FPCR; 0 elsewhere). */
uint64_t cconv_fpstate_get(void);
void cconv_fpstate_set(uint64_t v);

/* ---- pooling (pool.c) ---- */
enum { CCONV_POOL_MAX = 0, CCONV_POOL_AVG = 1 };
typedef struct {
    int64_t NC;               /* batch * channels, each plane contiguous */
    int64_t in[3], out[3];
    int64_t ks[3], stride[3], pad[3], dil[3];
    int kind;                 /* CCONV_POOL_* */
    int count_include_pad;    /* avg only */
} cconv_pool_params;
/* Returns CCONV_OK or CCONV_ENOMEM (row buffer allocation failed). */
int cconv_pool(const cconv_pool_params *p, cconv_dtype dt, const void *x, void *y, int nthreads);

/* ---- finiteness (finite.c): 1 when none of the n values is Inf or NaN ---- */
int cconv_all_finite(cconv_dtype dt, const void *x, int64_t n);
/* the same split over up to nthreads threads (<= 0: the default), one
 * thread below a size where more pay off */
int cconv_all_finite_mt(cconv_dtype dt, const void *x, int64_t n, int nthreads);
/* threads for scanning `values` values split into at most `parts` pieces */
int cconv_finite_threads(int nthreads, int64_t values, int64_t parts);

/* ---- elementwise (pool.c) ---- */
void cconv_relu(cconv_dtype dt, const void *x, void *y, int64_t n, int nthreads);

/* ---- FMA peak probe (peak.c): GFLOP/s of one thread, measured ---- */
double cconv_fma_peak_gflops(cconv_dtype dt, double seconds);

#ifdef __cplusplus
}
#endif
#endif
