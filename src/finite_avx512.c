/* finite_avx512.c - the finiteness scan (finite_scan.h) compiled for AVX-512F:
 * 512-bit vectors, four times the baseline's values a step.  finite.c calls it
 * after dispatch.c has chosen this ISA. */
#include "cconv.h"

#define FS_NAME(x) fs_avx512_##x
#include "finite_scan.h"

int cconv_all_finite_avx512(cconv_dtype dt, const void *x, int64_t n)
{
    return dt == CCONV_F64 ? fs_avx512_f64((const double *)x, n) : fs_avx512_f32((const float *)x, n);
}
