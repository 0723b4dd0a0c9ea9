/* fpenv.h - flush-to-zero / denormals-are-zero for the duration of a kernel.
 *
 * Denormal inputs or weights make FMA loops many times slower.  Each worker
 * thread calls cconv_fpenv_enter() when it starts and cconv_fpenv_leave()
 * when it ends, so the caller's floating-point state is left as it was.
 */
#ifndef CCONV_FPENV_H
#define CCONV_FPENV_H

#include <stdint.h>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#include <xmmintrin.h>
typedef unsigned int cconv_fpstate;
static inline cconv_fpstate cconv_fpenv_enter(void)
{
    unsigned int old = _mm_getcsr();
    _mm_setcsr(old | 0x8040u);        /* FTZ (bit 15) | DAZ (bit 6) */
    return old;
}
static inline void cconv_fpenv_leave(cconv_fpstate old) { _mm_setcsr(old); }
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
typedef uint64_t cconv_fpstate;
static inline cconv_fpstate cconv_fpenv_enter(void)
{
    uint64_t old;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(old));
    __asm__ __volatile__("msr fpcr, %0" ::"r"(old | (UINT64_C(1) << 24)));  /* FZ */
    return old;
}
static inline void cconv_fpenv_leave(cconv_fpstate old)
{
    __asm__ __volatile__("msr fpcr, %0" ::"r"(old));
}
#else
typedef int cconv_fpstate;
static inline cconv_fpstate cconv_fpenv_enter(void) { return 0; }
static inline void cconv_fpenv_leave(cconv_fpstate old) { (void)old; }
#endif

#endif
