/* conv_avx2.c - AVX2/FMA convolution kernels: for now the generic direct
 * kernel compiled with -mavx2 -mfma (auto-vectorised); only called after
 * dispatch.c has checked the CPU and OS support AVX2 and FMA. */
#define CG_T float
#define CG_NAME(x) x##_avx2_f32
#define CG_TABLE cconv_avx2_f32
#define CG_ISA "avx2"
#include "conv_generic.h"
#undef CG_T
#undef CG_NAME
#undef CG_TABLE
#undef CG_ISA

#define CG_T double
#define CG_NAME(x) x##_avx2_f64
#define CG_TABLE cconv_avx2_f64
#define CG_ISA "avx2"
#include "conv_generic.h"
