/* finite.c - "is every value finite?" over float32/float64 values, by a bit
 * test on the exponent field (a loop the compiler vectorises with the
 * baseline ISA).  Winograd mixes a tile's inputs and a filter's taps, so
 * the callers keep non-finite weights (PackedWeights) and images
 * (conv_select.c) on the direct path, where IEEE propagation stays exact.
 */
#include <string.h>
#include "cconv.h"

/* blocks of this many values: one early exit test a block */
#define FINITE_BLOCK 1024

#define ALL_FINITE(name, T, U, EXP)                                   \
    static int name(const T *x, int64_t n)                            \
    {                                                                 \
        for (int64_t i0 = 0; i0 < n; i0 += FINITE_BLOCK) {            \
            const int64_t i1 = n - i0 < FINITE_BLOCK ? n : i0 + FINITE_BLOCK; \
            U bad = 0;                                                \
            for (int64_t i = i0; i < i1; i++) {                       \
                U u;                                                  \
                memcpy(&u, x + i, sizeof u);                          \
                bad |= (U)((u & EXP) == EXP);                         \
            }                                                         \
            if (bad) return 0;                                        \
        }                                                             \
        return 1;                                                     \
    }
ALL_FINITE(all_finite_f32, float, uint32_t, 0x7f800000u)
ALL_FINITE(all_finite_f64, double, uint64_t, 0x7ff0000000000000ull)
#undef ALL_FINITE

int cconv_all_finite(cconv_dtype dt, const void *x, int64_t n)
{
    return dt == CCONV_F64 ? all_finite_f64((const double *)x, n)
                           : all_finite_f32((const float *)x, n);
}
