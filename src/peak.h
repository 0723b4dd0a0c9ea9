/* peak.h - what the FMA throughput probes (peak.c, peak_avx2.c,
 * peak_avx512.c) share: the clock, the result sink, and how long a block of
 * FMAs runs between two reads of the clock. */
#ifndef CCONV_PEAK_H
#define CCONV_PEAK_H

double cconv_now_seconds(void);
extern volatile double sink;

/* After each block of `inner` iterations (`el` seconds since the start,
 * `prev` at the block before): double the block while it lasts under a
 * millisecond.  Reading the clock can cost a microsecond (a virtual
 * machine's clock source); with a fixed block of 4096 iterations (6 us of
 * AVX-512 FMAs) the probe read 211 GFLOP/s where 246 ran, Intel family 6
 * model 167 under KVM. */
#define CCONV_PEAK_GROW(inner, el, prev)                      \
    do {                                                      \
        if ((el) - (prev) < 1e-3 && (inner) < (1 << 24)) (inner) *= 2; \
        (prev) = (el);                                        \
    } while (0)

#endif
