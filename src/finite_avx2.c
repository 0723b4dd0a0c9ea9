/* finite_avx2.c - the finiteness scan (finite_scan.h) compiled for AVX2:
 * 256-bit vectors, twice the baseline's values a step.  finite.c calls it
 * after dispatch.c has chosen this ISA. */
#include "cconv.h"

#define FS_NAME(x) fs_avx2_##x
#include "finite_scan.h"

int cconv_all_finite_avx2(cconv_dtype dt, const void *x, int64_t n)
{
    return dt == CCONV_F64 ? fs_avx2_f64((const double *)x, n) : fs_avx2_f32((const float *)x, n);
}
