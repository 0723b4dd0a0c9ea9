/* pool.c - max and average pooling over contiguous (N*C) planes in 3-D
 * (1-D and 2-D set leading dims to 1), PyTorch semantics: max pooling
 * propagates NaN and supports dilation; average pooling divides by the
 * window clipped to the padded input (count_include_pad) or to the input.
 * Also the element-wise ReLU.  Parallel over planes x output rows. */
#include <math.h>
#include "cconv.h"
#include "fpenv.h"
#include "scratch.h"

#define POOL_BODY(T)                                                                   \
    const T *x = (const T *)xv;                                                        \
    T *y = (T *)yv;                                                                    \
    const int64_t D = p->in[0], H = p->in[1], W = p->in[2];                            \
    const int64_t Do = p->out[0], Ho = p->out[1], Wo = p->out[2];                      \
    const int64_t rows = p->NC * Do * Ho;                                              \
    if (rows <= 0 || Wo <= 0) return;                                                  \
    const double work = (double)rows * Wo * p->ks[0] * p->ks[1] * p->ks[2];            \
    const int nt = cconv_threads_for(nthreads, work, rows);                            \
    OMP_PARALLEL                                                                       \
    {                                                                                  \
        cconv_fpstate fps = cconv_fpenv_enter();                                       \
        int64_t r0, r1;                                                                \
        cconv_thread_range(rows, &r0, &r1);                                            \
        for (int64_t row = r0; row < r1; row++) {                                      \
            const int64_t oh = row % Ho, od = (row / Ho) % Do, nc = row / (Ho * Do);   \
            const T *xp = x + nc * D * H * W;                                          \
            T *yr = y + row * Wo;                                                      \
            for (int64_t ow = 0; ow < Wo; ow++) {                                      \
                int64_t st[3], en[3], idx[3] = {od, oh, ow};                            \
                for (int i = 0; i < 3; i++) st[i] = idx[i] * p->stride[i] - p->pad[i]; \
                if (p->kind == CCONV_POOL_MAX) {                                       \
                    T m = -(T)INFINITY;                                                \
                    for (int64_t a = 0; a < p->ks[0]; a++) {                           \
                        int64_t id = st[0] + a * p->dil[0];                            \
                        if (id < 0 || id >= D) continue;                               \
                        for (int64_t b = 0; b < p->ks[1]; b++) {                       \
                            int64_t ih = st[1] + b * p->dil[1];                        \
                            if (ih < 0 || ih >= H) continue;                           \
                            const T *xr = xp + (id * H + ih) * W;                      \
                            for (int64_t c = 0; c < p->ks[2]; c++) {                   \
                                int64_t iw = st[2] + c * p->dil[2];                    \
                                if (iw < 0 || iw >= W) continue;                       \
                                T v = xr[iw];                                          \
                                if (v > m || v != v) m = v;                            \
                                if (m != m) goto done_max;                             \
                            }                                                          \
                        }                                                              \
                    }                                                                  \
                done_max:                                                              \
                    yr[ow] = m;                                                        \
                } else {                                                               \
                    int64_t dims[3] = {D, H, W};                                       \
                    int64_t size = 1, count = 1;                                       \
                    for (int i = 0; i < 3; i++) {                                      \
                        int64_t e = st[i] + p->ks[i];                                  \
                        if (e > dims[i] + p->pad[i]) e = dims[i] + p->pad[i];          \
                        size *= e - st[i];                                             \
                        int64_t s0 = st[i] < 0 ? 0 : st[i];                            \
                        if (e > dims[i]) e = dims[i];                                  \
                        st[i] = s0; en[i] = e;                                         \
                        count *= (e > s0 ? e - s0 : 0);                                \
                    }                                                                  \
                    T sum = 0;                                                         \
                    for (int64_t id = st[0]; id < en[0]; id++)                         \
                        for (int64_t ih = st[1]; ih < en[1]; ih++) {                   \
                            const T *xr = xp + (id * H + ih) * W;                      \
                            for (int64_t iw = st[2]; iw < en[2]; iw++) sum += xr[iw];  \
                        }                                                              \
                    int64_t div = p->count_include_pad ? size : count;                 \
                    yr[ow] = div > 0 ? sum / (T)div : (T)NAN;                          \
                }                                                                      \
            }                                                                          \
        }                                                                              \
        cconv_fpenv_leave(fps);                                                        \
    }

#ifdef _OPENMP
#define OMP_PARALLEL _Pragma("omp parallel num_threads(nt)")
#else
#define OMP_PARALLEL
#endif

static void pool_f32(const cconv_pool_params *p, const void *xv, void *yv, int nthreads)
{
    POOL_BODY(float)
}

static void pool_f64(const cconv_pool_params *p, const void *xv, void *yv, int nthreads)
{
    POOL_BODY(double)
}

void cconv_pool(const cconv_pool_params *p, cconv_dtype dt, const void *x, void *y, int nthreads)
{
    if (dt == CCONV_F64) pool_f64(p, x, y, nthreads);
    else pool_f32(p, x, y, nthreads);
}

#define RELU_BODY(T)                                                  \
    const T *x = (const T *)xv;                                       \
    T *y = (T *)yv;                                                   \
    const int nt = cconv_threads_for(nthreads, (double)n / 8.0, n);   \
    OMP_FOR                                                           \
    for (int64_t i = 0; i < n; i++) y[i] = x[i] < (T)0 ? (T)0 : x[i];

#ifdef _OPENMP
#define OMP_FOR _Pragma("omp parallel for schedule(static) num_threads(nt)")
#else
#define OMP_FOR
#endif

void cconv_relu(cconv_dtype dt, const void *xv, void *yv, int64_t n, int nthreads)
{
    if (dt == CCONV_F64) {
        RELU_BODY(double)
    } else {
        RELU_BODY(float)
    }
}
