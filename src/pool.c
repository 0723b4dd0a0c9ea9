/* pool.c - max and average pooling over contiguous (N*C) planes in 3-D
 * (1-D and 2-D set leading dims to 1), PyTorch semantics: max pooling
 * propagates NaN and supports dilation; average pooling divides by the
 * window clipped to the padded input (count_include_pad) or to the input.
 * Also the element-wise ReLU.  Parallel over planes x output rows.
 *
 * Pooling is separable: for each output row, a vertical pass reduces the
 * window's input rows (depth x height taps) into one row buffer, padded on
 * both sides with the reduction's identity (-inf or 0); a horizontal pass
 * then reduces width taps with no bounds checks.  Both inner loops run over
 * contiguous (or constant-stride) memory and vectorise.
 */
#include <math.h>
#include "cconv.h"
#include "fpenv.h"
#include "scratch.h"

#ifdef _OPENMP
#define OMP_PARALLEL _Pragma("omp parallel num_threads(nt) reduction(|: failed)")
#else
#define OMP_PARALLEL
#endif

/* b replaces a when larger or NaN: NaN propagates, as in PyTorch */
#define MAXNAN(a, b) (((b) > (a) || (b) != (b)) ? (b) : (a))

/* the extent of the window [st, st + k) clipped to the padded input and to the input */
static inline void clip_window(int64_t st, int64_t k, int64_t n, int64_t pad,
                               int64_t *size, int64_t *count)
{
    int64_t e = st + k;
    if (e > n + pad) e = n + pad;
    *size = e - st;
    int64_t lo = st < 0 ? 0 : st, hi = e > n ? n : e;
    *count = hi > lo ? hi - lo : 0;
}

/* The taps j in [0, k) of a window starting at s with dilation d that land
 * in [0, n), as [*lo, *hi): by arithmetic, so a huge kernel or padding costs
 * nothing (the other taps read only padding). */
static inline void pool_taps(int64_t s, int64_t d, int64_t k, int64_t n, int64_t *lo, int64_t *hi)
{
    int64_t a = s >= 0 ? 0 : (-s + d - 1) / d;
    int64_t b = n - 1 - s >= 0 ? (n - 1 - s) / d + 1 : 0;
    if (b > k) b = k;
    *lo = a;
    *hi = b > a ? b : a;
}

#define POOL_BODY(T)                                                                      \
    const T *x = (const T *)xv;                                                           \
    T *y = (T *)yv;                                                                       \
    const int64_t D = p->in[0], H = p->in[1], W = p->in[2];                               \
    const int64_t Do = p->out[0], Ho = p->out[1], Wo = p->out[2];                         \
    const int64_t kd = p->ks[0], kh = p->ks[1], kw = p->ks[2];                            \
    const int64_t sw = p->stride[2], dw = p->dil[2], pw = p->pad[2];                      \
    const int is_max = p->kind == CCONV_POOL_MAX;                                         \
    const T ident = is_max ? -(T)INFINITY : (T)0;                                         \
    const int64_t rows = p->NC * Do * Ho;                                                 \
    if (rows <= 0 || Wo <= 0) return CCONV_OK;                                            \
    /* width taps [c_lo, c_hi) read an input column for some output; the others read   \
     * only padding (the identity) and are skipped.  Padded row: index j holds input    \
     * column j - pw + shift, long enough for every tap kept. */                         \
    int64_t c_lo, c_hi;                                                                   \
    pool_taps((Wo - 1) * sw - pw, dw, kw, W + (Wo - 1) * sw, &c_lo, &c_hi);              \
    const int64_t shift = c_lo * dw < pw ? c_lo * dw : pw;                                \
    int64_t L = pw - shift + W;                                                           \
    if (c_hi > c_lo && (c_hi - 1) * dw + (Wo - 1) * sw - shift + 1 > L)                   \
        L = (c_hi - 1) * dw + (Wo - 1) * sw - shift + 1;                                  \
    const double work = (double)rows * (W * kd * kh + Wo * kw);                           \
    const int nt = cconv_threads_for(nthreads, work, rows);                               \
    int failed = 0;                                                                       \
    OMP_PARALLEL                                                                          \
    {                                                                                     \
        /* FTZ/DAZ for averages only: a max must see denormals as they are */           \
        cconv_fpstate fps = is_max ? (cconv_fpstate)0 : cconv_fpenv_enter();              \
        T *buf = (T *)cconv_scratch_alloc(sizeof(T) * (size_t)(L + Wo));                  \
        if (!buf) {                                                                       \
            failed = 1;                                                                   \
        } else {                                                                          \
            T *acc = buf + L;                                                             \
            T *row = buf + (pw - shift);                                                  \
            int64_t r0, r1;                                                               \
            cconv_thread_range(rows, &r0, &r1);                                           \
            for (int64_t i = 0; i < L; i++) buf[i] = ident;                               \
            for (int64_t task = r0; task < r1; task++) {                                  \
                const int64_t oh = task % Ho, od = (task / Ho) % Do, nc = task / (Ho * Do); \
                const T *xp = x + nc * D * H * W;                                         \
                const int64_t sd = od * p->stride[0] - p->pad[0];                         \
                const int64_t sh = oh * p->stride[1] - p->pad[1];                         \
                /* vertical pass over the window's input rows */                         \
                for (int64_t iw = 0; iw < W; iw++) row[iw] = ident;                       \
                int64_t a0, a1, b0, b1;                                                   \
                pool_taps(sd, p->dil[0], kd, D, &a0, &a1);                                \
                pool_taps(sh, p->dil[1], kh, H, &b0, &b1);                                \
                for (int64_t a = a0; a < a1; a++) {                                       \
                    const int64_t id = sd + a * p->dil[0];                                \
                    for (int64_t b = b0; b < b1; b++) {                                   \
                        const int64_t ih = sh + b * p->dil[1];                            \
                        const T *xr = xp + (id * H + ih) * W;                             \
                        if (is_max) {                                                     \
                            for (int64_t iw = 0; iw < W; iw++) row[iw] = MAXNAN(row[iw], xr[iw]); \
                        } else {                                                          \
                            for (int64_t iw = 0; iw < W; iw++) row[iw] += xr[iw];         \
                        }                                                                 \
                    }                                                                     \
                }                                                                         \
                /* horizontal pass over the padded row */                                \
                for (int64_t ow = 0; ow < Wo; ow++) acc[ow] = ident;                      \
                for (int64_t c = c_lo; c < c_hi; c++) {                                   \
                    const T *src = buf + (c * dw - shift);                                \
                    if (is_max) {                                                         \
                        for (int64_t ow = 0; ow < Wo; ow++)                               \
                            acc[ow] = MAXNAN(acc[ow], src[ow * sw]);                      \
                    } else {                                                              \
                        for (int64_t ow = 0; ow < Wo; ow++) acc[ow] += src[ow * sw];      \
                    }                                                                     \
                }                                                                         \
                T *yr = y + task * Wo;                                                    \
                if (is_max) {                                                             \
                    for (int64_t ow = 0; ow < Wo; ow++) yr[ow] = acc[ow];                 \
                } else {                                                                  \
                    int64_t dsz, dcnt, hsz, hcnt, wsz, wcnt;                              \
                    clip_window(sd, kd, D, p->pad[0], &dsz, &dcnt);                       \
                    clip_window(sh, kh, H, p->pad[1], &hsz, &hcnt);                       \
                    for (int64_t ow = 0; ow < Wo; ow++) {                                 \
                        clip_window(ow * sw - pw, kw, W, pw, &wsz, &wcnt);                \
                        /* double: a huge window's size overflows int64 */               \
                        const double div = p->count_include_pad                           \
                            ? (double)dsz * (double)hsz * (double)wsz                     \
                            : (double)dcnt * (double)hcnt * (double)wcnt;                 \
                        yr[ow] = div > 0 ? acc[ow] / (T)div : (T)NAN;                     \
                    }                                                                     \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
        cconv_scratch_free(buf);                                                          \
        if (!is_max) cconv_fpenv_leave(fps);                                              \
    }                                                                                     \
    return failed ? CCONV_ENOMEM : CCONV_OK;

static int pool_f32(const cconv_pool_params *p, const void *xv, void *yv, int nthreads)
{
    POOL_BODY(float)
}

static int pool_f64(const cconv_pool_params *p, const void *xv, void *yv, int nthreads)
{
    POOL_BODY(double)
}

int cconv_pool(const cconv_pool_params *p, cconv_dtype dt, const void *x, void *y, int nthreads)
{
    return dt == CCONV_F64 ? pool_f64(p, x, y, nthreads) : pool_f32(p, x, y, nthreads);
}

#ifdef _OPENMP
#define OMP_FOR _Pragma("omp parallel for schedule(static) num_threads(nt)")
#else
#define OMP_FOR
#endif

#define RELU_BODY(T)                                                  \
    const T *x = (const T *)xv;                                       \
    T *y = (T *)yv;                                                   \
    const int nt = cconv_threads_for(nthreads, (double)n / 8.0, n);   \
    OMP_FOR                                                           \
    for (int64_t i = 0; i < n; i++) y[i] = x[i] < (T)0 ? (T)0 : x[i];

void cconv_relu(cconv_dtype dt, const void *xv, void *yv, int64_t n, int nthreads)
{
    if (dt == CCONV_F64) {
        RELU_BODY(double)
    } else {
        RELU_BODY(float)
    }
}
