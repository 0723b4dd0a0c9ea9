/* winograd_1d.h - the 1-D Winograd F(4,3), F(2,5) and F(3,4) transforms on 6 vectors
 * of tiles, shared by winograd_avx2.c (8/4 tiles a vector), winograd_avx512.c (16
 * float32 tiles a vector) and winograd_s2_avx2.c (F(3,4) along rows): the
 * same operations in the same order per lane,
 * so every vector width gives the same bits.  The includer defines WV and
 * the W_* operations of its vector type first. */
#ifndef CCONV_WINOGRAD_1D_H
#define CCONV_WINOGRAD_1D_H

/* ---- 1-D transforms on 6 vectors of tiles (the dtype's W_* ops) ---- */

/* Points 0, 1, -1, 2, -1/2, inf: about half the rounding error of the
 * usual 0, +-1, +-2 on data where one channel dominates (measured).
 *   B^T = [1  3/2  -2  -3/2  1  0]     A^T = [1  1  1  1     1  0]
 *         [0  -1 -5/2 -1/2  1  0]           [0  1 -1  2  -1/2  0]
 *         [0   1  1/2 -5/2  1  0]           [0  1  1  4   1/4  0]
 *         [0 -1/2 -1   1/2  1  0]           [0  1 -1  8  -1/8  1]
 *         [0   2  -1   -2   1  0]
 *         [0   1  3/2  -2 -3/2 1]   G: winograd_g.h */
#define W_IN1D(d0, d1, d2, d3, d4, d5, o0, o1, o2, o3, o4, o5)                       \
    do {                                                                                 \
        const WV h_ = W_SET1(0.5), f15_ = W_SET1(1.5), f2_ = W_SET1(2.0), f25_ = W_SET1(2.5); \
        const WV s_ = W_SUB(d4, d2), q_ = W_SUB(d1, d3);                                 \
        o0 = W_FMA(f15_, q_, W_FNMA(f2_, d2, W_ADD(d0, d4)));                             \
        o1 = W_FNMA(h_, d3, W_FNMA(f25_, d2, W_SUB(d4, d1)));                             \
        o2 = W_FNMA(f25_, d3, W_FMA(h_, d2, W_ADD(d4, d1)));                              \
        o3 = W_FNMA(h_, q_, s_);                                                          \
        o4 = W_FMA(f2_, q_, s_);                                                          \
        o5 = W_FNMA(f15_, s_, W_FNMA(f2_, d3, W_ADD(d5, d1)));                            \
    } while (0)

#define W_OUT1D(m0, m1, m2, m3, m4, m5, o0, o1, o2, o3)                                  \
    do {                                                                                 \
        const WV s12_ = W_ADD(m1, m2), d12_ = W_SUB(m1, m2);                             \
        o0 = W_ADD(W_ADD(m0, s12_), W_ADD(m3, m4));                                       \
        o1 = W_FMA(W_SET1(2.0), m3, W_FNMA(W_SET1(0.5), m4, d12_));                       \
        o2 = W_FMA(W_SET1(4.0), m3, W_FMA(W_SET1(0.25), m4, s12_));                       \
        o3 = W_ADD(W_FMA(W_SET1(8.0), m3, W_FNMA(W_SET1(0.125), m4, d12_)), m5);          \
    } while (0)

/* F(3,4) (winograd_s2_avx2.c): the first three rows of W_OUT1D's A^T, the
 * last picking m5 (the inf point)
 *   A^T = [1  1  1  1  1    0]
 *         [0  1 -1  2 -1/2  0]
 *         [0  1  1  4  1/4  1] */
#define W_OUT1D3(m0, m1, m2, m3, m4, m5, o0, o1, o2)                                      \
    do {                                                                                 \
        const WV s12_ = W_ADD(m1, m2), d12_ = W_SUB(m1, m2);                             \
        o0 = W_ADD(W_ADD(m0, s12_), W_ADD(m3, m4));                                       \
        o1 = W_FMA(W_SET1(2.0), m3, W_FNMA(W_SET1(0.5), m4, d12_));                       \
        o2 = W_ADD(W_FMA(W_SET1(4.0), m3, W_FMA(W_SET1(0.25), m4, s12_)), m5);            \
    } while (0)

/* F(2,5) on the same points (B^T above, the same input transform):
 *   A^T = [1  1  1  1     1  0]
 *         [0  1 -1  2  -1/2  1]   G: W_G5 of winograd_g.h */
#define W_OUT1D2(m0, m1, m2, m3, m4, m5, o0, o1)                                          \
    do {                                                                                 \
        const WV s12_ = W_ADD(m1, m2), d12_ = W_SUB(m1, m2);                             \
        o0 = W_ADD(W_ADD(m0, s12_), W_ADD(m3, m4));                                       \
        o1 = W_ADD(W_FMA(W_SET1(2.0), m3, W_FNMA(W_SET1(0.5), m4, d12_)), m5);            \
    } while (0)

/* the input transform's second pass: the row-transformed patch w[6][6]
 * (vectors of tiles), column by column, to the 36 elements at dst + e*es */
#define W_IN_COLS(w, dst, es)                                                            \
    for (int j_ = 0; j_ < 6; j_++) {                                                     \
        WV v0_, v1_, v2_, v3_, v4_, v5_;                                                 \
        W_IN1D(w[0][j_], w[1][j_], w[2][j_], w[3][j_], w[4][j_], w[5][j_],               \
               v0_, v1_, v2_, v3_, v4_, v5_);                                            \
        W_STORE((dst) + (0 * 6 + j_) * (es), v0_);                                       \
        W_STORE((dst) + (1 * 6 + j_) * (es), v1_);                                       \
        W_STORE((dst) + (2 * 6 + j_) * (es), v2_);                                       \
        W_STORE((dst) + (3 * 6 + j_) * (es), v3_);                                       \
        W_STORE((dst) + (4 * 6 + j_) * (es), v4_);                                       \
        W_STORE((dst) + (5 * 6 + j_) * (es), v5_);                                       \
    }

/* the output transform's first pass: the 36 GEMM results at m + e*es,
 * column by column, to t[4][6] (F(4,3)) or t[2][6] (W_OUT_COLS2, F(2,5)) */
#define W_OUT_COLS(m, es, t)                                                             \
    for (int j_ = 0; j_ < 6; j_++) {                                                     \
        const WV m0_ = W_LOAD((m) + (0 * 6 + j_) * (es)), m1_ = W_LOAD((m) + (1 * 6 + j_) * (es)); \
        const WV m2_ = W_LOAD((m) + (2 * 6 + j_) * (es)), m3_ = W_LOAD((m) + (3 * 6 + j_) * (es)); \
        const WV m4_ = W_LOAD((m) + (4 * 6 + j_) * (es)), m5_ = W_LOAD((m) + (5 * 6 + j_) * (es)); \
        W_OUT1D(m0_, m1_, m2_, m3_, m4_, m5_, t[0][j_], t[1][j_], t[2][j_], t[3][j_]);   \
    }

#define W_OUT_COLS2(m, es, t)                                                            \
    for (int j_ = 0; j_ < 6; j_++) {                                                     \
        const WV m0_ = W_LOAD((m) + (0 * 6 + j_) * (es)), m1_ = W_LOAD((m) + (1 * 6 + j_) * (es)); \
        const WV m2_ = W_LOAD((m) + (2 * 6 + j_) * (es)), m3_ = W_LOAD((m) + (3 * 6 + j_) * (es)); \
        const WV m4_ = W_LOAD((m) + (4 * 6 + j_) * (es)), m5_ = W_LOAD((m) + (5 * 6 + j_) * (es)); \
        W_OUT1D2(m0_, m1_, m2_, m3_, m4_, m5_, t[0][j_], t[1][j_]);                      \
    }

/* float32 4 x 4 transposes within each 128-bit lane (lane g: tiles 4g..4g+3),
 * P the intrinsics' prefix (_mm256, _mm512), V the vector type:
 * W_F32_IN_T: L0..L3 / H0..H3 values 0-3 / 4-7 of a patch row of tiles
 * 0..3 of each lane -> d0..d5, value k of every tile;
 * W_F32_OUT_T: y0..y3 output column k of every tile -> u0..u3, whose lane g
 * holds the output row of tile 4g + p in u_p */
#define W_F32_IN_T(P, V, L0, L1, L2, L3, H0, H1, H2, H3, d0, d1, d2, d3, d4, d5)   \
    do {                                                                        \
        const V t0_ = P##_unpacklo_ps(L0, L1), t1_ = P##_unpackhi_ps(L0, L1);   \
        const V t2_ = P##_unpacklo_ps(L2, L3), t3_ = P##_unpackhi_ps(L2, L3);   \
        const V h0_ = P##_unpacklo_ps(H0, H1), h2_ = P##_unpacklo_ps(H2, H3);   \
        d0 = P##_shuffle_ps(t0_, t2_, 0x44); d1 = P##_shuffle_ps(t0_, t2_, 0xEE); \
        d2 = P##_shuffle_ps(t1_, t3_, 0x44); d3 = P##_shuffle_ps(t1_, t3_, 0xEE); \
        d4 = P##_shuffle_ps(h0_, h2_, 0x44); d5 = P##_shuffle_ps(h0_, h2_, 0xEE); \
    } while (0)
#define W_F32_OUT_T(P, V, y0, y1, y2, y3, u0, u1, u2, u3)                       \
    do {                                                                        \
        const V a0_ = P##_unpacklo_ps(y0, y1), a1_ = P##_unpackhi_ps(y0, y1);   \
        const V a2_ = P##_unpacklo_ps(y2, y3), a3_ = P##_unpackhi_ps(y2, y3);   \
        u0 = P##_shuffle_ps(a0_, a2_, 0x44);                                    \
        u1 = P##_shuffle_ps(a0_, a2_, 0xEE);                                    \
        u2 = P##_shuffle_ps(a1_, a3_, 0x44);                                    \
        u3 = P##_shuffle_ps(a1_, a3_, 0xEE);                                    \
    } while (0)

#endif
