/* winograd_s2_template.h - one dtype's stride-2 1-D Winograd F(3,4) path
 * (the algorithm: winograd_s2_avx2.c): the weight transform, the GEMM tile,
 * the transformed input rows, the output transform and the driver, written
 * once over a vector abstraction and instantiated by winograd_s2_avx2.c
 * (ymm: float32 8 tiles a vector, float64 4) and winograd_s2_avx512.c (zmm:
 * 16 and 8).
 *
 * The includer defines ST (the dtype), SV (its vector type), SL (lanes),
 * SN(x) (name suffix), S_DT (its cconv_dtype), the operations SLOADU,
 * SSTOREU, SBCAST, SFMA, SADD, SMAX, SZERO, SSET1, SMASK_T and SMASK(nv) (a
 * mask of lanes [0, nv)), SMLOAD(p, m), SMSTORE(p, m, v), S_OUT3(o0, o1,
 * o2, v) (three vectors of outputs 3j, 3j + 1, 3j + 2 -> v[0..2], 3 * SL
 * consecutive outputs), SSUB and SFNMA (winograd_1d.h's W_* operations
 * are these), and S2_WEIGHTS (1: also the weight transform, which does not depend on the
 * vectors: one instantiation per dtype has it); this header undefines them
 * all at its end.
 */

/* winograd_1d.h's vector operations: the dtype's */
#define WV SV
#define W_SET1(c) SSET1((ST)(c))
#define W_ADD SADD
#define W_SUB SSUB
#define W_FMA SFMA
#define W_FNMA SFNMA

/* U[e][kb][q][6], q = (c*R + r)*2 + phase, from the direct kernel's packed
 * weights (off: where it keeps weight (k, (c, r, s))), each value computed
 * in double and rounded once; 0 when a value is not finite */
#if S2_WEIGHTS
int SN(cconv_ws2_weights)(const cconv_wshape *ws, const ST *wd, cconv_weight_offset_fn off, ST *U)
{
    static const double pts[5] = {0, 1, -1, 2, -0.5};
    static const double sc[5] = {1, -1.0 / 3, 1.0 / 3, 1.0 / 15, -16.0 / 15};
    const int64_t C = ws->Cg, R = ws->ks[1], S = ws->ks[2], nkb = a2_cdiv(ws->K, S2_KR);
    const int64_t nq = C * R * 2;
    memset(U, 0, sizeof(ST) * (size_t)cconv_ws2_weights_size(ws));
    /* U's block kb holds channels 6kb .. 6kb + 5 */
    for (int64_t k = 0; k < ws->K; k++) {
        const int64_t kb = k / S2_KR, i = k % S2_KR;
        /* a channel's weights lie one block width apart (the layouts are
         * [oc block][c][tap][width]): two lookups a channel, not one a weight */
        const int64_t o0 = off(ws, k, 0), js = off(ws, k, 1) - o0;
        const ST *wk = wd + o0;
        for (int64_t c = 0; c < C; c++)
            for (int64_t r = 0; r < R; r++)
                for (int ph = 0; ph < 2; ph++) {
                    const int64_t q = (c * R + r) * 2 + ph;
                    double g[S2_RT] = {0, 0, 0, 0};
                    for (int t = 0; t < S2_RT; t++) {
                        const int64_t s = 2 * t + ph;
                        if (s < S) g[t] = wk[((c * R + r) * S + s) * js];
                    }
                    for (int e = 0; e < 6; e++) {
                        double u = g[S2_RT - 1];
                        if (e < 5) {
                            double pw = 1;
                            u = 0;
                            for (int t = 0; t < S2_RT; t++) {
                                u += pw * g[t];
                                pw *= pts[e];
                            }
                            u *= sc[e];
                        }
                        U[((e * nkb + kb) * nq + q) * S2_KR + i] = (ST)u;
                    }
                }
    }
    return cconv_all_finite(S_DT, U, cconv_ws2_weights_size(ws));
}
#endif

/* GEMM tile: 6 channels x (SL tiles, and SL more at + b2 when NV == 2) over
 * the steps (c, j): channel c's rows at b + c*cs, its nj = 2R (kernel row,
 * phase) steps js apart; sums to m (row i at + i*ms), the second vector's
 * at + m2 */
static inline __attribute__((always_inline)) void SN(s2_mk)(const int NV, const ST *a,
                                                            const ST *b, int64_t b2, int64_t C,
                                                            int64_t cs, int64_t nj, int64_t js,
                                                            ST *m, int64_t m2, int64_t ms)
{
    SV c00 = SZERO(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    SV c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int64_t c = 0; c < C; c++) {
        const ST *bp = b + c * cs;
        /* not unrolled (-funroll-loops): GCC's unrolled copies moved the
         * accumulators between registers, a vmovaps per two FMAs */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 1
#endif
        for (int64_t j = 0; j < nj; j++, bp += js) {
            const SV x0 = SLOADU(bp);
            const SV x1 = NV > 1 ? SLOADU(bp + b2) : x0;
            SV w;
#define S2_ROW(i)                                   \
            w = SBCAST(a + i);                      \
            c##i##0 = SFMA(w, x0, c##i##0);         \
            if (NV > 1) c##i##1 = SFMA(w, x1, c##i##1);
            S2_ROW(0) S2_ROW(1) S2_ROW(2) S2_ROW(3) S2_ROW(4) S2_ROW(5)
#undef S2_ROW
            a += S2_KR;
        }
    }
    SSTOREU(m, c00);
    SSTOREU(m + ms, c10);
    SSTOREU(m + 2 * ms, c20);
    SSTOREU(m + 3 * ms, c30);
    SSTOREU(m + 4 * ms, c40);
    SSTOREU(m + 5 * ms, c50);
    if (NV > 1) {
        SSTOREU(m + m2, c01);
        SSTOREU(m + ms + m2, c11);
        SSTOREU(m + 2 * ms + m2, c21);
        SSTOREU(m + 3 * ms + m2, c31);
        SSTOREU(m + 4 * ms + m2, c41);
        SSTOREU(m + 5 * ms + m2, c51);
    }
}
static void SN(s2_mk1)(const ST *a, const ST *b, int64_t C, int64_t cs, int64_t nj, int64_t js,
                       ST *m, int64_t ms)
{
    SN(s2_mk)(1, a, b, 0, C, cs, nj, js, m, 0, ms);
}
static void SN(s2_mk2)(const ST *a, const ST *b, int64_t b2, int64_t C, int64_t cs, int64_t nj,
                       int64_t js, ST *m, int64_t m2, int64_t ms)
{
    SN(s2_mk)(2, a, b, b2, C, cs, nj, js, m, m2, ms);
}

/* rows [u0, u1) of the band's transformed input: D[c][u - ubase][phase][e][ntp] */
static void SN(s2_rows)(const cconv_conv_params *p, const ST *xn, int64_t u0, int64_t u1,
                        int64_t ubase, int64_t nrows, int64_t ntp, ST *D, ST *row, ST *Q)
{
    const int64_t C = p->C, H = p->in[1], W = p->in[2], ph = p->pad[1], pw = p->pad[2];
    const int64_t qn = ntp + 2, L = 6 * qn, rs = 12 * ntp;
    for (int64_t c = 0; c < C; c++)
        for (int64_t u = u0; u < u1; u++) {
            const int64_t ih = u - ph;
            memset(row, 0, sizeof(ST) * (size_t)L);
            if (ih >= 0 && ih < H) {
                const int64_t lo = a2_min(L, a2_max(0, pw)), hi = a2_min(L, W + pw);
                if (hi > lo)
                    memcpy(row + lo, xn + c * p->x_sc + ih * W + (lo - pw), sizeof(ST) * (size_t)(hi - lo));
            }
            for (int64_t mm = 0; mm < 6; mm++)
                for (int64_t j = 0; j < qn; j++) Q[mm * qn + j] = row[6 * j + mm];
            ST *Dr = D + (c * nrows + (u - ubase)) * rs;
            for (int phs = 0; phs < 2; phs++)
                for (int64_t j0 = 0; j0 < ntp; j0 += SL) {
                    SV d[6], o[6];
                    for (int t = 0; t < 6; t++) {
                        const int idx = 2 * t + phs;
                        d[t] = SLOADU(Q + (idx % 6) * qn + j0 + idx / 6);
                    }
                    W_IN1D(d[0], d[1], d[2], d[3], d[4], d[5], o[0], o[1], o[2], o[3], o[4], o[5]);
                    for (int e = 0; e < 6; e++) SSTOREU(Dr + (phs * 6 + e) * ntp + j0, o[e]);
                }
        }
}

/* A^T on SL tiles (outputs 3j, 3j+1, 3j+2), interleaved: 3 * SL consecutive outputs */
static inline void SN(s2_out)(const ST *m, int64_t es, SV v[3])
{
    const SV m0 = SLOADU(m), m1 = SLOADU(m + es);
    const SV m2 = SLOADU(m + 2 * es), m3 = SLOADU(m + 3 * es);
    const SV m4 = SLOADU(m + 4 * es), m5 = SLOADU(m + 5 * es);
    SV o0, o1, o2;
    W_OUT1D3(m0, m1, m2, m3, m4, m5, o0, o1, o2);
    S_OUT3(o0, o1, o2, v);
}

int SN(cconv_ws2_conv)(const cconv_conv_params *p, const ST *x, const ST *U, const ST *bias,
                       const ST *res, ST *y, int nthreads)
{
    const int64_t N = p->N, C = p->C, K = p->w.K, R = p->w.ks[1];
    const int64_t Ho = p->out[1], Wo = p->out[2];
    if (N <= 0 || K <= 0 || Ho <= 0 || Wo <= 0) return CCONV_OK;
    const int relu = p->activation == CCONV_ACT_RELU;
    const int64_t ntp = s2_ntp(Wo, SL), nkb = a2_cdiv(K, S2_KR), nq = C * R * 2;
    const int64_t rs = 12 * ntp;                      /* a transformed row: [phase][e][ntp] */
    /* bands of rb output rows (even: rows run in pairs) whose transformed
     * input rows fit the budget; at least 4 bands a thread */
    const int64_t rowb = C * rs * (int64_t)sizeof(ST);
    int64_t rb = a2_max(2, (S2_BAND_BYTES / rowb - (R - 2)) / 2);
    rb = a2_min(rb, Ho);
    const double work = (double)N * K * C * R * p->w.ks[2] * Ho * Wo;
    const int nt = cconv_threads_for(nthreads, work, N * a2_cdiv(Ho, 2));
    if (nt > 1 && N * a2_cdiv(Ho, rb) < 4 * nt) rb = a2_max(2, a2_cdiv(Ho, a2_cdiv(4 * nt, N)));
    rb = (rb + 1) / 2 * 2;
    const int64_t nbands = a2_cdiv(Ho, rb), tasks = N * nbands;
    const int64_t nrows = 2 * (rb - 1) + R;           /* input rows a band reads */
    const int64_t qn = ntp + 2, MS = s2_m_vals(K, ntp) / 2;
    /* step (c, r, phase) of the GEMM: D + c*cs + (2r + phase)*js */
    const int64_t cs = nrows * rs, js = 6 * ntp, nj = 2 * R;
    int failed = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) reduction(| : failed)
#endif
    {
        cconv_fpstate fps = cconv_fpenv_enter();
        ST *D = (ST *)cconv_scratch_alloc(sizeof(ST) * (size_t)s2_d_vals(C, nrows, ntp));
        ST *M = (ST *)cconv_scratch_alloc(sizeof(ST) * (size_t)(2 * MS));
        ST *row = (ST *)cconv_scratch_alloc(sizeof(ST) * (size_t)(12 * qn));
        if (!D || !M || !row) failed = 1;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1) nowait
#endif
        for (int64_t task = 0; task < tasks; task++) {
            if (failed) continue;
            const int64_t n = task / nbands, h0 = (task % nbands) * rb, h1 = a2_min(Ho, h0 + rb);
            const ST *xn = x + n * p->x_sn;
            const int64_t ubase = 2 * h0;
            int64_t built = ubase;
            for (int64_t oh0 = h0; oh0 < h1; oh0 += 2) {
                const int64_t nr = a2_min(2, h1 - oh0);
                const int64_t need = 2 * (oh0 + nr - 1) + R;
                if (need > built) {
                    SN(s2_rows)(p, xn, built, need, ubase, nrows, ntp, D, row, row + 6 * qn);
                    built = need;
                }
                const ST *Db = D + (2 * (oh0 - h0)) * rs;
                for (int64_t e = 0; e < 6; e++)
                    for (int64_t kb = 0; kb < nkb; kb++) {
                        const ST *a = U + (e * nkb + kb) * nq * S2_KR;
                        ST *Me = M + (e * nkb + kb) * S2_KR * ntp;
                        const ST *De = Db + e * ntp;
                        int64_t t0 = 0;
                        for (; t0 + 2 * SL <= ntp; t0 += 2 * SL)
                            for (int64_t rr = 0; rr < nr; rr++)
                                SN(s2_mk2)(a, De + rr * 2 * rs + t0, SL, C, cs, nj, js,
                                           Me + rr * MS + t0, SL, ntp);
                        if (t0 < ntp) {   /* a one-vector tail: both rows' in one call */
                            if (nr == 2) SN(s2_mk2)(a, De + t0, 2 * rs, C, cs, nj, js, Me + t0, MS, ntp);
                            else SN(s2_mk1)(a, De + t0, C, cs, nj, js, Me + t0, ntp);
                        }
                    }
                for (int64_t rr = 0; rr < nr; rr++) {
                    const int64_t oh = oh0 + rr;
                    const ST *Mr = M + rr * MS;
                    for (int64_t k = 0; k < K; k++) {
                        ST *yk = y + n * p->y_sn + k * p->y_sk + oh * Wo;
                        const ST *rk = res ? res + n * p->r_sn + k * p->r_sk + oh * Wo : NULL;
                        const SV vb = SSET1(bias ? bias[k] : (ST)0), z = SZERO();
                        const ST *mk = Mr + k * ntp;   /* element e at + e*nkb*6*ntp */
                        for (int64_t j0 = 0; j0 < ntp; j0 += SL) {
                            const int64_t ow = S2_MO * j0;
                            if (ow >= Wo) break;
                            SV v[3];
                            SN(s2_out)(mk + j0, nkb * S2_KR * ntp, v);
                            for (int i = 0; i < 3; i++) {
                                const int64_t o = ow + SL * i, nv = a2_min(SL, Wo - o);
                                if (nv <= 0) break;
                                SV u = bias ? SADD(v[i], vb) : v[i];
                                if (nv == SL) {
                                    if (rk) u = SADD(u, SLOADU(rk + o));
                                    if (relu) u = SMAX(z, u);  /* max(0, NaN) = NaN */
                                    SSTOREU(yk + o, u);
                                } else {
                                    const SMASK_T mv = SMASK(nv);
                                    if (rk) u = SADD(u, SMLOAD(rk + o, mv));
                                    if (relu) u = SMAX(z, u);
                                    SMSTORE(yk + o, mv, u);
                                }
                            }
                        }
                    }
                }
            }
        }
        cconv_scratch_free(row);
        cconv_scratch_free(M);
        cconv_scratch_free(D);
        cconv_fpenv_leave(fps);
    }
    return failed ? CCONV_ENOMEM : CCONV_OK;
}

#undef ST
#undef SV
#undef SL
#undef SN
#undef S_DT
#undef SLOADU
#undef SSTOREU
#undef SBCAST
#undef SFMA
#undef SADD
#undef SMAX
#undef SSUB
#undef SFNMA
#undef SZERO
#undef SSET1
#undef SMASK_T
#undef SMASK
#undef S2_WEIGHTS
#undef SMLOAD
#undef SMSTORE
#undef S_OUT3
#undef WV
#undef W_SET1
#undef W_ADD
#undef W_SUB
#undef W_FMA
#undef W_FNMA
