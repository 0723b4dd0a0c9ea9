/* dispatch.c - run-time choice of kernels: cpuid + xgetbv once at import
 * decide between the AVX-512, AVX2/FMA and portable kernels (the best the
 * CPU and OS support); a list of refused features
 * (CCONV_DISABLE_CPU_FEATURES) steps down: AVX512F refused -> AVX2, AVX2
 * refused -> portable. */
#include <string.h>
#include <ctype.h>
#include "cconv.h"

#if (defined(__x86_64__) || defined(_M_X64)) && defined(CCONV_HAVE_AVX2)
#define CCONV_X86_DISPATCH 1
extern const cconv_conv_kernels cconv_avx2_select_f32, cconv_avx2_select_f64;
extern const cconv_conv_kernels cconv_avx512_select_f32, cconv_avx512_select_f64;
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

extern const cconv_conv_kernels cconv_portable_f32, cconv_portable_f64;

static int active_isa = CCONV_ISA_PORTABLE;
static int cpu_level = -1;  /* cached detect_level(): -1 not yet asked */

/* 0: neither, 1: AVX2 + FMA, 2: that and AVX-512F (each with OS support) */
static int detect_level(void)
{
#ifdef CCONV_X86_DISPATCH
    unsigned int a, b, c, d;
#if defined(_MSC_VER)
    int r[4];
    __cpuid(r, 0); if (r[0] < 7) return 0;
    __cpuid(r, 1); c = (unsigned)r[2];
#else
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid(1, a, b, c, d);
#endif
    const unsigned fma = 1u << 12, osxsave = 1u << 27, avx = 1u << 28;
    if ((c & (fma | osxsave | avx)) != (fma | osxsave | avx)) return 0;
    /* the OS must save the ymm state (and for AVX-512 the opmask and zmm state) */
#if defined(_MSC_VER)
    unsigned long long xcr0 = _xgetbv(0);
#else
    unsigned int lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    unsigned long long xcr0 = ((unsigned long long)hi << 32) | lo;
#endif
    if ((xcr0 & 6) != 6) return 0;
#if defined(_MSC_VER)
    __cpuidex(r, 7, 0); b = (unsigned)r[1];
#else
    __cpuid_count(7, 0, a, b, c, d);
#endif
    (void)a; (void)d;
    if (!(b & (1u << 5))) return 0;                 /* AVX2 */
    if ((b & (1u << 16)) && (xcr0 & 0xe6) == 0xe6)  /* AVX-512F; opmask, zmm0-15 hi, zmm16-31 */
        return 2;
    return 1;
#else
    return 0;
#endif
}

static int cpu_level_cached(void)
{
    if (cpu_level < 0) cpu_level = detect_level();
    return cpu_level;
}

int cconv_cpu_has_avx2_fma(void) { return cpu_level_cached() >= 1; }

int cconv_cpu_has_avx512(void) { return cpu_level_cached() >= 2; }

/* AVX-512 on AMD family 19h (Zen 4): each 512-bit FMA runs as two 256-bit
 * halves, so ymm code keeps the zmm FMA rate there, where Intel's cores
 * (and Zen 5) run zmm at twice the ymm rate */
static int detect_zmm_split(void)
{
#ifdef CCONV_X86_DISPATCH
    if (!cconv_cpu_has_avx512()) return 0;
    unsigned int vb, vc, vd, sig;
#if defined(_MSC_VER)
    int r[4];
    __cpuid(r, 0); vb = (unsigned)r[1]; vc = (unsigned)r[2]; vd = (unsigned)r[3];
    __cpuid(r, 1); sig = (unsigned)r[0];
#else
    unsigned int a, b, c, d;
    __cpuid(0, a, vb, vc, vd);
    __cpuid(1, sig, b, c, d);
    (void)a; (void)b; (void)c; (void)d;
#endif
    /* "AuthenticAMD" in ebx, edx, ecx */
    if (vb != 0x68747541u || vd != 0x69746e65u || vc != 0x444d4163u) return 0;
    unsigned int family = (sig >> 8) & 0xf;
    if (family == 0xf) family += (sig >> 20) & 0xff;
    return family == 0x19;
#else
    return 0;
#endif
}

int cconv_cpu_zmm_split(void)
{
    static int split = -1;
    if (split < 0) split = detect_zmm_split();
    return split;
}

/* does the comma/space separated list name `feat` (case-insensitive)? */
static int list_names(const char *list, const char *feat)
{
    size_t n = strlen(feat);
    const char *p = list;
    while (p && *p) {
        while (*p == ',' || *p == ' ') p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ') e++;
        if ((size_t)(e - p) == n) {
            size_t i = 0;
            while (i < n && toupper((unsigned char)p[i]) == toupper((unsigned char)feat[i])) i++;
            if (i == n) return 1;
        }
        p = e;
    }
    return 0;
}

void cconv_dispatch_init(const char *disable)
{
    active_isa = CCONV_ISA_PORTABLE;
    if (cconv_cpu_has_avx2_fma() && !(disable && (list_names(disable, "AVX2")
                                                  || list_names(disable, "FMA")
                                                  || list_names(disable, "FMA3")
                                                  || list_names(disable, "AVX"))))
        active_isa = CCONV_ISA_AVX2;
    if (active_isa == CCONV_ISA_AVX2 && cconv_cpu_has_avx512()
        && !(disable && (list_names(disable, "AVX512F") || list_names(disable, "AVX512"))))
        active_isa = CCONV_ISA_AVX512;
}

int cconv_active_isa(void) { return active_isa; }

const char *cconv_isa_name(int isa)
{
    return isa == CCONV_ISA_AVX512 ? "avx512" : isa == CCONV_ISA_AVX2 ? "avx2" : "portable";
}

const cconv_conv_kernels *cconv_conv_kernels_for(int isa, cconv_dtype dt)
{
#ifdef CCONV_X86_DISPATCH
    if (isa == CCONV_ISA_AVX512 && cconv_cpu_has_avx512())
        return dt == CCONV_F64 ? &cconv_avx512_select_f64 : &cconv_avx512_select_f32;
    if (isa == CCONV_ISA_AVX2 && cconv_cpu_has_avx2_fma())
        return dt == CCONV_F64 ? &cconv_avx2_select_f64 : &cconv_avx2_select_f32;
#endif
    (void)isa;
    return dt == CCONV_F64 ? &cconv_portable_f64 : &cconv_portable_f32;
}

const cconv_conv_kernels *cconv_conv_kernels_get(cconv_dtype dt)
{
    return cconv_conv_kernels_for(active_isa, dt);
}
