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
    /* padded row: index j holds input column j - pw; long enough for every tap */        \
    const int64_t L = (Wo - 1) * sw + (kw - 1) * dw + 1 + W + pw;                         \
    const double work = (double)rows * (W * kd * kh + Wo * kw);                           \
    const int nt = cconv_threads_for(nthreads, work, rows);                               \
    int failed = 0;                                                                       \
    OMP_PARALLEL                                                                          \
    {                                                                                     \
        cconv_fpstate fps = cconv_fpenv_enter();                                          \
        T *buf = (T *)cconv_scratch_alloc(sizeof(T) * (size_t)(L + Wo));                  \
        if (!buf) {                                                                       \
            failed = 1;                                                                   \
        } else {                                                                          \
            T *acc = buf + L;                                                             \
            T *row = buf + pw;                                                            \
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
                for (int64_t a = 0; a < kd; a++) {                                        \
                    const int64_t id = sd + a * p->dil[0];                                \
                    if (id < 0 || id >= D) continue;                                      \
                    for (int64_t b = 0; b < kh; b++) {                                    \
                        const int64_t ih = sh + b * p->dil[1];                            \
                        if (ih < 0 || ih >= H) continue;                                  \
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
                for (int64_t c = 0; c < kw; c++) {                                        \
                    const T *src = buf + c * dw;                                          \
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
                        const int64_t div = p->count_include_pad ? dsz * hsz * wsz        \
                                                                 : dcnt * hcnt * wcnt;    \
                        yr[ow] = div > 0 ? acc[ow] / (T)div : (T)NAN;                     \
                    }                                                                     \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
        cconv_scratch_free(buf);                                                          \
        cconv_fpenv_leave(fps);                                                           \
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
