/* winograd_g.h - the Winograd weight transforms' G matrices, shared by the
 * AVX2 transform (winograd_template.h, 4 filters a ymm) and the AVX-512 one
 * (winograd_avx512.c, 8 filters a zmm), which run the same double operations
 * per filter with them. */
#ifndef CCONV_WINOGRAD_G_H
#define CCONV_WINOGRAD_G_H

/* the weight transform's G (points 0, 1, -1, 2, -1/2, inf): row p is
 * D_p (1, p, p^2, ...), the scales D_p those that W_IN1D's B^T leaves out,
 * the same for F(4,3) (W_G3) and F(2,5) (W_G5); row inf picks the last tap */
static const double W_G3[6][3] = {
    {1, 0, 0},
    {-1.0 / 3, -1.0 / 3, -1.0 / 3},
    {1.0 / 3, -1.0 / 3, 1.0 / 3},
    {1.0 / 15, 2.0 / 15, 4.0 / 15},
    {-16.0 / 15, 8.0 / 15, -4.0 / 15},
    {0, 0, 1}};
static const double W_G5[6][5] = {
    {1, 0, 0, 0, 0},
    {-1.0 / 3, -1.0 / 3, -1.0 / 3, -1.0 / 3, -1.0 / 3},
    {1.0 / 3, -1.0 / 3, 1.0 / 3, -1.0 / 3, 1.0 / 3},
    {1.0 / 15, 2.0 / 15, 4.0 / 15, 8.0 / 15, 16.0 / 15},
    {-16.0 / 15, 8.0 / 15, -4.0 / 15, 2.0 / 15, -1.0 / 15},
    {0, 0, 0, 0, 1}};

/* U = G g G^T for a vector of filters (one per lane) whose R x R taps are
 * gv[0 .. R*R), in double, row by row: row i of T = G g, then row i of
 * U = T G^T; rows 0 and 5 of G pick a single tap, the others multiply by
 * the first coefficient and add the rest by FMA in tap order.  Element
 * e = 6i + j (a VT) goes to STORE(e, v).  Both ISAs' transforms expand this,
 * so every lane runs the same operations in the same order: the same bits. */
#define W_GGT(R, VT, MUL, FMA, SET1, gv, STORE)                                          \
    do {                                                                                 \
        for (int i_ = 0; i_ < 6; i_++) {                                                 \
            VT T_[5];                                                                    \
            for (int s_ = 0; s_ < (R); s_++) {                                           \
                if (i_ == 0) T_[s_] = gv[s_];                                            \
                else if (i_ == 5) T_[s_] = gv[((R) - 1) * (R) + s_];                     \
                else {                                                                   \
                    VT a_ = MUL(SET1(W_GK(R, i_, 0)), gv[s_]);                           \
                    for (int k_ = 1; k_ < (R); k_++)                                     \
                        a_ = FMA(SET1(W_GK(R, i_, k_)), gv[k_ * (R) + s_], a_);          \
                    T_[s_] = a_;                                                         \
                }                                                                        \
            }                                                                            \
            for (int j_ = 0; j_ < 6; j_++) {                                             \
                VT v_;                                                                   \
                if (j_ == 0) v_ = T_[0];                                                 \
                else if (j_ == 5) v_ = T_[(R) - 1];                                      \
                else {                                                                   \
                    v_ = MUL(SET1(W_GK(R, j_, 0)), T_[0]);                               \
                    for (int k_ = 1; k_ < (R); k_++) v_ = FMA(SET1(W_GK(R, j_, k_)), T_[k_], v_); \
                }                                                                        \
                STORE(i_ * 6 + j_, v_);                                                  \
            }                                                                            \
        }                                                                                \
    } while (0)
#define W_GK(R, i, k) ((R) == 3 ? W_G3[i][k] : W_G5[i][k])

#endif
