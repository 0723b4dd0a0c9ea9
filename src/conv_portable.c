/* conv_portable.c - the portable C convolution kernels (baseline ISA), the
 * path every CPU can run and the reference the SIMD paths must match. */
#define CG_T float
#define CG_NAME(x) x##_portable_f32
#define CG_TABLE cconv_portable_f32
#define CG_ISA "portable"
#include "conv_generic.h"
#undef CG_T
#undef CG_NAME
#undef CG_TABLE
#undef CG_ISA

#define CG_T double
#define CG_NAME(x) x##_portable_f64
#define CG_TABLE cconv_portable_f64
#define CG_ISA "portable"
#include "conv_generic.h"
