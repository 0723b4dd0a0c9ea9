/* finite_scan.h - the "is every value finite?" loop, a bit test on the
 * exponent field in blocks of FINITE_BLOCK values with one early-exit test a
 * block, written once and compiled per ISA (finite.c for the baseline,
 * finite_avx2.c, finite_avx512.c), where the compiler vectorises it to that
 * ISA's width.  The including file defines FS_NAME(x), the name of its pair
 * of functions. */
#include <stdint.h>
#include <string.h>

#ifndef FINITE_BLOCK
#define FINITE_BLOCK 1024   /* values a block: one early exit test a block */
#endif

#define FS_LOOP(name, T, U, EXP)                                      \
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
FS_LOOP(FS_NAME(f32), float, uint32_t, 0x7f800000u)
FS_LOOP(FS_NAME(f64), double, uint64_t, 0x7ff0000000000000ull)
#undef FS_LOOP
