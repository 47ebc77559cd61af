/* The affine loops of one instruction-set level (see core/affine.h for
 * what they compute): quantize with given scales and zero points, its
 * inverse, and the per-candidate squared errors behind clip="mse".  Included once by
 * templates/level_body.h in each level's translation unit, so every level,
 * MSVC's included, compiles them with its own flags.
 *
 * Plain C with no calls and no early exits in the inner loops (so they
 * auto-vectorize), and only IEEE operations that are exact or correctly
 * rounded by definition, so every level gives bit-identical results. */

#include "core/layout.h"

/* r = v rounded to an integer per EVEN (core/rules.h; |v| <= 383 here). */
#define AFF_ROUND(T, SUF, EVEN, v, r) ((r) = (int32_t)int8q_round_##SUF((v), (EVEN)))

/* One element: clamp v = x / s to [lo, hi] = [qmin - z, qmax - z] before
 * rounding (as MLAS's MlasQuantizeLinear does); clamping to integer bounds
 * commutes with rounding, so this is saturate(round(v) + z) and never wraps.
 * `v >= lo ? v : lo` also maps NaN to lo, so the int conversion is always
 * defined; `bad` records the NaN/inf for the caller. */
#define AFF_ONE(T, SUF, EVEN, QT, xi, si, zi, qi)                                                  \
    do {                                                                                           \
        T x_ = (xi), v_ = x_ / (si);                                                               \
        T lo_ = (T)(qmin - (zi)), hi_ = (T)(qmax - (zi));                                          \
        int32_t r_;                                                                                \
        bad |= !(x_ - x_ == (T)0);                                                                 \
        v_ = v_ >= lo_ ? v_ : lo_;                                                                 \
        v_ = v_ <= hi_ ? v_ : hi_;                                                                 \
        AFF_ROUND(T, SUF, EVEN, v_, r_);                                                           \
        (qi) = (QT)(r_ + (zi));                                                                    \
    } while (0)

/* out[k B + j] = z[k] for j < B, k < g: a tile's zero points spread out as
 * templates/loops.h's spread does its scales. */
INT8Q_INLINE void spread_i32(const int32_t *z, ptrdiff_t g, ptrdiff_t B, int32_t *out)
{
    FOR_BLOCK_LENGTH(B, for (ptrdiff_t k = 0; k < g; k++) for (ptrdiff_t j = 0; j < Bc; j++)
                            out[k * Bc + j] = z[k])
}

/* Blocks along a non-last axis of rows narrower than this go a tile of
 * whole rows at a time with each element's scale and zero point spread
 * out (core/layout.h SPREAD_ROWS), and their min/max a block's rows
 * regrouped whole vectors wide: row by row, the inner loops ran over a
 * row's columns, which the compiler vectorizes 64 int8 outputs wide.
 * Given scales, blocks of 32 along axis 0 of 2^24 float32 (one core of an
 * AMD EPYC Zen 4, avx512): rows of 2-63 took 22-32 ms row by row and take
 * 6-9.5 spread; rows of 64 4.1 ms row by row; asymmetric rows of 2 45-67
 * -> 18 ms, dequantize with zero points 72-74 -> 11-14. */
#define AFFINE_NARROW_BELOW 64

/* STMT for every element J of piece p of layout L (core/layout.h; n
 * elements from the piece's start), with S and Z its scale (a T, from
 * scales) and zero point (from zps): a piece with one scale per element,
 * whole blocks with one scale each, or part of one block (which is then
 * the block).  STMT is an argument, so that the walks below share the
 * piece's shapes and their inner loops stay free of calls. */
#define EACH_IN_PIECE(T, SUF, L, p, n, scales, zps, J, S, Z, STMT)                                 \
    do {                                                                                           \
        const T *sv_ = (scales) + (p).k;                                                           \
        const int32_t *zv_ = (zps) + (p).k;                                                        \
        ptrdiff_t n_ = (n), B_ = (p).per_element ? 1 : (p).whole_blocks ? (L)->block : n_;         \
        if ((p).per_element) {                                                                     \
            for (ptrdiff_t J = 0; J < n_; J++) {                                                   \
                T S = sv_[J];                                                                      \
                int32_t Z = zv_[J];                                                                \
                STMT;                                                                              \
            }                                                                                      \
        } else if ((p).whole_blocks && B_ < SPREAD_BELOW && B_ != 32) {                            \
            /* short blocks: a tile's scales and zero points spread out one                        \
             * per element (templates/loops.h), so that its loop vectorizes;                       \
             * blocks of 32 ran faster block by block (4.9 against 5.6 ms) */                      \
            T es_[SPREAD_TILE];                                                                    \
            int32_t ez_[SPREAD_TILE];                                                              \
            const ptrdiff_t G_ = SPREAD_TILE / B_;                                                 \
            for (ptrdiff_t b_ = 0; b_ < n_; b_ += G_ * B_) {                                       \
                ptrdiff_t g_ = (n_ - b_) / B_ < G_ ? (n_ - b_) / B_ : G_;                          \
                spread_##SUF(sv_ + b_ / B_, g_, B_, es_);                                          \
                spread_i32(zv_ + b_ / B_, g_, B_, ez_);                                            \
                for (ptrdiff_t J = b_; J < b_ + g_ * B_; J++) {                                    \
                    T S = es_[J - b_];                                                             \
                    int32_t Z = ez_[J - b_];                                                       \
                    STMT;                                                                          \
                }                                                                                  \
            }                                                                                      \
        } else {                                                                                   \
            for (ptrdiff_t b_ = 0; b_ < n_; b_ += B_) {                                            \
                T S = sv_[b_ / B_];                                                                \
                int32_t Z = zv_[b_ / B_];                                                          \
                for (ptrdiff_t J = b_; J < b_ + B_; J++)                                           \
                    STMT;                                                                          \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* Whole rows that share their scales and zero points (one per column),
 * four rows per load of them. */
#define DEFINE_AFFINE_ROWS(NAME, SUF, T, EVEN, QT)                                                 \
    static int NAME(const T *x, ptrdiff_t rows, ptrdiff_t n, const T *RESTRICT sv,                 \
                    const int32_t *RESTRICT zv, int qmin, int qmax, QT *RESTRICT q)                \
    {                                                                                              \
        int bad = 0;                                                                               \
        ptrdiff_t r = 0;                                                                           \
        for (; r + 4 <= rows; r += 4) {                                                            \
            const T *x0 = x + r * n, *x1 = x0 + n, *x2 = x1 + n, *x3 = x2 + n;                     \
            QT *q0 = q + r * n, *q1 = q0 + n, *q2 = q1 + n, *q3 = q2 + n;                          \
            for (ptrdiff_t j = 0; j < n; j++) {                                                    \
                T sj = sv[j];                                                                      \
                int32_t zj = zv[j];                                                                \
                AFF_ONE(T, SUF, EVEN, QT, x0[j], sj, zj, q0[j]);                                   \
                AFF_ONE(T, SUF, EVEN, QT, x1[j], sj, zj, q1[j]);                                   \
                AFF_ONE(T, SUF, EVEN, QT, x2[j], sj, zj, q2[j]);                                   \
                AFF_ONE(T, SUF, EVEN, QT, x3[j], sj, zj, q3[j]);                                   \
            }                                                                                      \
        }                                                                                          \
        for (; r < rows; r++)                                                                      \
            for (ptrdiff_t j = 0; j < n; j++)                                                      \
                AFF_ONE(T, SUF, EVEN, QT, x[r * n + j], sv[j], zv[j], q[r * n + j]);               \
        return bad;                                                                                \
    }

/* Narrow rows (AFFINE_NARROW_BELOW): STMT for every element J of the
 * whole rows [r, r + rows) of x (T) and q, with S and Z its scale and zero
 * point, sv and zv holding those of row r's block first; a tile of
 * SPREAD_TILE elements at a time. */
#define EACH_IN_NARROW_ROWS(T, L, r, rows, sv, zv, J, S, Z, STMT)                                  \
    do {                                                                                           \
        const ptrdiff_t cols_ = (L)->n_row, R_ = SPREAD_TILE / cols_, k0_ = row_key((L), (r));     \
        T es_[SPREAD_TILE];                                                                        \
        int32_t ez_[SPREAD_TILE];                                                                  \
        for (ptrdiff_t t_ = 0; t_ < (rows); t_ += R_) {                                            \
            ptrdiff_t nt_ = (rows) - t_ < R_ ? (rows) - t_ : R_;                                   \
            ptrdiff_t kt_ = (row_key((L), (r) + t_) - k0_) * cols_;                                \
            SPREAD_ROWS(L, (r) + t_, nt_, (sv) + kt_, es_);                                        \
            SPREAD_ROWS(L, (r) + t_, nt_, (zv) + kt_, ez_);                                        \
            for (ptrdiff_t J = t_ * cols_; J < (t_ + nt_) * cols_; J++) {                          \
                T S = es_[J - t_ * cols_];                                                         \
                int32_t Z = ez_[J - t_ * cols_];                                                   \
                STMT;                                                                              \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* Walk [s, e) of the flat index space piece by piece (core/layout.h, as
 * templates/ranges.h does; EACH_IN_PIECE), whole rows that share their
 * scales several at a time. */
#define DEFINE_AFFINE_WALK(NAME, SUF, T, EVEN, QT)                                                 \
    DEFINE_AFFINE_ROWS(NAME##_rows, SUF, T, EVEN, QT)                                              \
    static int NAME(const T *x, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L, const T *scales,  \
                    const int32_t *zps, int qmin, int qmax, QT *q)                                 \
    {                                                                                              \
        int bad = 0;                                                                               \
        for (ptrdiff_t i = s; i < e;) {                                                            \
            ptrdiff_t k0, rows = whole_rows(L, i, e, &k0);                                         \
            if (rows > 0 && L->rblk && L->n_row < AFFINE_NARROW_BELOW) {                           \
                const T *xs = x + (i - s);                                                         \
                QT *qs = q + (i - s);                                                              \
                rows = (e - i) / L->n_row;                                                         \
                EACH_IN_NARROW_ROWS(T, L, i / L->n_row, rows, scales + k0, zps + k0, j, sj, zj,    \
                                    AFF_ONE(T, SUF, EVEN, QT, xs[j], sj, zj, qs[j]));              \
                i += rows * L->n_row;                                                              \
                continue;                                                                          \
            }                                                                                      \
            if (rows > 1) {                                                                        \
                bad |= NAME##_rows(x + (i - s), rows, L->n_row, scales + k0, zps + k0, qmin, qmax, \
                                   q + (i - s));                                                   \
                i += rows * L->n_row;                                                              \
                continue;                                                                          \
            }                                                                                      \
            piece p = next_piece(L, i, e);                                                         \
            const T *xs = x + (i - s);                                                             \
            QT *qs = q + (i - s);                                                                  \
            EACH_IN_PIECE(T, SUF, L, p, p.end - i, scales, zps, j, sj, zj,                         \
                          AFF_ONE(T, SUF, EVEN, QT, xs[j], sj, zj, qs[j]));                        \
            i = p.end;                                                                             \
        }                                                                                          \
        return bad;                                                                                \
    }

/* Walk [s, e) of q as DEFINE_AFFINE_WALK does, for the affine dequantize:
 * out = (q - z) * s in T.  q - z is an exact integer of at most 9 bits, so
 * its conversion to T is exact and the product is the one rounding, as in
 * NumPy's (q.astype(int16) - z).astype(T) * s. */
#define DEFINE_AFFINE_DEQ_WALK(NAME, SUF, T, QT)                                                   \
    static void NAME(const QT *q, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,                 \
                     const T *scales, const int32_t *zps, T *out)                                  \
    {                                                                                              \
        for (ptrdiff_t i = s; i < e;) {                                                            \
            ptrdiff_t k0, rows = whole_rows(L, i, e, &k0);                                         \
            const QT *RESTRICT qs = q + (i - s);                                                   \
            T *RESTRICT os = out + (i - s);                                                        \
            if (rows > 0 && L->rblk && L->n_row < AFFINE_NARROW_BELOW) {                           \
                rows = (e - i) / L->n_row;                                                         \
                EACH_IN_NARROW_ROWS(T, L, i / L->n_row, rows, scales + k0, zps + k0, j, sj, zj,    \
                                    os[j] = (T)((int32_t)qs[j] - zj) * sj);                        \
                i += rows * L->n_row;                                                              \
                continue;                                                                          \
            }                                                                                      \
            piece p = next_piece(L, i, e);                                                         \
            EACH_IN_PIECE(T, SUF, L, p, p.end - i, scales, zps, j, sj, zj,                         \
                          os[j] = (T)((int32_t)qs[j] - zj) * sj);                                  \
            i = p.end;                                                                             \
        }                                                                                          \
    }

DEFINE_AFFINE_DEQ_WALK(adeq_f32_i8, f32, float, int8_t)
DEFINE_AFFINE_DEQ_WALK(adeq_f32_u8, f32, float, uint8_t)
DEFINE_AFFINE_DEQ_WALK(adeq_f64_i8, f64, double, int8_t)
DEFINE_AFFINE_DEQ_WALK(adeq_f64_u8, f64, double, uint8_t)

/* Errors of every candidate scale for one element (the inner loop runs over
 * candidates, so each err entry is a plain sequential sum).  No clamp is
 * needed before rounding: a candidate is at least absmax / 100 / 127 (up to
 * subnormal rounding), so |v| < 2^15 and the magic round is exact; the clamp
 * to [-127, 127] is then on integers, which GCC vectorizes (a float select
 * it keeps scalar under -ftrapping-math). */
#define MSE_ONE(T, SUF, EVEN, xi, cv, ev)                                                          \
    for (int c_ = 0; c_ < ncand; c_++) {                                                           \
        T sc_ = (cv)[c_], v_ = (xi) / sc_;                                                         \
        int32_t r_;                                                                                \
        double d_;                                                                                 \
        AFF_ROUND(T, SUF, EVEN, v_, r_);                                                           \
        r_ = r_ < -127 ? -127 : r_;                                                                \
        r_ = r_ > 127 ? 127 : r_;                                                                  \
        d_ = (double)(xi) - (double)((T)r_ * sc_);                                                 \
        (ev)[c_] += d_ * d_;                                                                       \
    }

#define DEFINE_MSE_WALK(NAME, SUF, T, EVEN)                                                        \
    static void NAME(const T *x, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L, const T *cand,   \
                     int ncand, double *err)                                                       \
    {                                                                                              \
        for (ptrdiff_t i = s; i < e;) {                                                            \
            piece p = next_piece(L, i, e);                                                         \
            const T *xs = x + (i - s);                                                             \
            ptrdiff_t n = p.end - i;                                                               \
            /* per element a block of 1, else whole blocks or a part of one */                     \
            ptrdiff_t B = p.per_element ? 1 : p.whole_blocks ? L->block : n;                       \
            for (ptrdiff_t b = 0; b < n; b += B) {                                                 \
                ptrdiff_t k = p.k + b / B;                                                         \
                for (ptrdiff_t j = b; j < b + B; j++)                                              \
                    MSE_ONE(T, SUF, EVEN, xs[j], cand + k * ncand, err + k * ncand)                \
            }                                                                                      \
            i = p.end;                                                                             \
        }                                                                                          \
    }

/* Order keys: a float's bit pattern as a signed integer in the float's
 * order (a negative value's magnitude bits flipped; the map is its own
 * inverse), -0 just below +0 and NaNs beyond the infinities on their sign's
 * side.  Integer min and max vectorize where float ones (NaN, signed zeros)
 * do not, and a NaN or inf ends up in the minimum or the maximum, which the
 * caller finds not finite.  Key 0 is +0: zeroed ranges start at 0. */
#define ORDER_KEY(U, MAG, b) ((b) ^ (((b) >> (sizeof(U) * 8 - 1)) & (U)(MAG)))

/* lo/hi[k] = min/max(lo/hi[k], keys of block b) for nb blocks of B. */
#define MINMAX_BLOCKS(U, MAG, xs, nb, B, lo, hi)                                                   \
    for (ptrdiff_t b_ = 0; b_ < (nb); b_++) {                                                      \
        const U *xb_ = (xs) + b_ * (B);                                                            \
        U l_ = (lo)[b_], h_ = (hi)[b_];                                                            \
        for (ptrdiff_t j_ = 0; j_ < (B); j_++) {                                                   \
            U k_ = ORDER_KEY(U, MAG, xb_[j_]);                                                     \
            l_ = k_ < l_ ? k_ : l_;                                                                \
            h_ = k_ > h_ ? k_ : h_;                                                                \
        }                                                                                          \
        (lo)[b_] = l_, (hi)[b_] = h_;                                                              \
    }

/* lo/hi[i] = min/max(lo/hi[i], keys of x[r n + i]) over `rows` rows of n
 * (one scale per column), four rows per load and store of lo and hi. */
#define DEFINE_MINMAX_ROWS(NAME, U, MAG)                                                           \
    static void NAME(const U *x, ptrdiff_t rows, ptrdiff_t n, U *RESTRICT lo, U *RESTRICT hi)      \
    {                                                                                              \
        ptrdiff_t r = 0;                                                                           \
        for (; r + 4 <= rows; r += 4) {                                                            \
            const U *x0 = x + r * n, *x1 = x0 + n, *x2 = x1 + n, *x3 = x2 + n;                     \
            for (ptrdiff_t i = 0; i < n; i++) {                                                    \
                U a = ORDER_KEY(U, MAG, x0[i]), b = ORDER_KEY(U, MAG, x1[i]);                      \
                U c = ORDER_KEY(U, MAG, x2[i]), d = ORDER_KEY(U, MAG, x3[i]);                      \
                U l = a < b ? a : b, h = a > b ? a : b;                                            \
                U l2 = c < d ? c : d, h2 = c > d ? c : d;                                          \
                l = l < l2 ? l : l2;                                                               \
                h = h > h2 ? h : h2;                                                               \
                lo[i] = l < lo[i] ? l : lo[i];                                                     \
                hi[i] = h > hi[i] ? h : hi[i];                                                     \
            }                                                                                      \
        }                                                                                          \
        for (; r < rows; r++) {                                                                    \
            const U *x0 = x + r * n;                                                               \
            for (ptrdiff_t i = 0; i < n; i++) {                                                    \
                U a = ORDER_KEY(U, MAG, x0[i]);                                                    \
                lo[i] = a < lo[i] ? a : lo[i];                                                     \
                hi[i] = a > hi[i] ? a : hi[i];                                                     \
            }                                                                                      \
        }                                                                                          \
    }

/* The rows of one block along a non-last axis of narrow rows
 * (AFFINE_NARROW_BELOW): g rows at a time as one row of w = lcm(n, 16)
 * elements (whole vectors, as templates/ranges.h narrow_amax takes its
 * abs-max), folded into the block's n columns at the end. */
#define DEFINE_MINMAX_NARROW(NAME, ROWS, U, MAG)                                                   \
    static void NAME(const U *x, ptrdiff_t rows, ptrdiff_t n, U *RESTRICT lo, U *RESTRICT hi)      \
    {                                                                                              \
        const ptrdiff_t g = rows_to_whole_vectors(n), w = g * n, nw = rows / g;                    \
        if (nw > 0) {                                                                              \
            U l[16 * AFFINE_NARROW_BELOW], h[16 * AFFINE_NARROW_BELOW];                            \
            for (ptrdiff_t c = 0; c < w; c++)                                                      \
                l[c] = (U)(MAG), h[c] = ~(U)(MAG);                                                 \
            ROWS(x, nw, w, l, h);                                                                  \
            for (ptrdiff_t c = 0; c < n; c++) {                                                    \
                U lc = lo[c], hc = hi[c];                                                          \
                for (ptrdiff_t a = c; a < w; a += n) {                                             \
                    lc = l[a] < lc ? l[a] : lc;                                                    \
                    hc = h[a] > hc ? h[a] : hc;                                                    \
                }                                                                                  \
                lo[c] = lc, hi[c] = hc;                                                            \
            }                                                                                      \
        }                                                                                          \
        if (rows > nw * g)                                                                         \
            ROWS(x + nw * w, rows - nw * g, n, lo, hi);                                            \
    }

/* The running range of every scale used in [s, e), as order keys of the
 * bit patterns x: whole rows that share their scales (one per column)
 * several at a time, else one per element, per whole block (blocks of 32,
 * the common size, with a loop of known length) or per part of a block. */
#define DEFINE_MINMAX_WALK(NAME, U, MAG)                                                           \
    DEFINE_MINMAX_ROWS(NAME##_rows, U, MAG)                                                        \
    DEFINE_MINMAX_NARROW(NAME##_narrow, NAME##_rows, U, MAG)                                       \
    static void NAME(const U *x, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L, U *RESTRICT lo,  \
                     U *RESTRICT hi)                                                               \
    {                                                                                              \
        for (ptrdiff_t i = s; i < e;) {                                                            \
            ptrdiff_t k0, rows = whole_rows(L, i, e, &k0);                                         \
            if (rows > 0 && L->rblk && L->n_row < AFFINE_NARROW_BELOW) {                           \
                NAME##_narrow(x + (i - s), rows, L->n_row, lo + k0, hi + k0);                      \
                i += rows * L->n_row;                                                              \
                continue;                                                                          \
            }                                                                                      \
            if (rows > 1) {                                                                        \
                NAME##_rows(x + (i - s), rows, L->n_row, lo + k0, hi + k0);                        \
                i += rows * L->n_row;                                                              \
                continue;                                                                          \
            }                                                                                      \
            piece p = next_piece(L, i, e);                                                         \
            const U *RESTRICT xs = x + (i - s);                                                    \
            ptrdiff_t n = p.end - i;                                                               \
            if (p.per_element) {                                                                   \
                U *RESTRICT l = lo + p.k, *RESTRICT h = hi + p.k;                                  \
                for (ptrdiff_t j = 0; j < n; j++) {                                                \
                    U k = ORDER_KEY(U, MAG, xs[j]);                                                \
                    l[j] = k < l[j] ? k : l[j];                                                    \
                    h[j] = k > h[j] ? k : h[j];                                                    \
                }                                                                                  \
            } else if (p.whole_blocks && L->block == 32) {                                         \
                MINMAX_BLOCKS(U, MAG, xs, n / 32, 32, lo + p.k, hi + p.k)                          \
            } else {                                                                               \
                ptrdiff_t B = p.whole_blocks ? L->block : n;                                       \
                MINMAX_BLOCKS(U, MAG, xs, n / B, B, lo + p.k, hi + p.k)                            \
            }                                                                                      \
            i = p.end;                                                                             \
        }                                                                                          \
    }

DEFINE_MINMAX_WALK(minmax_f32, int32_t, 0x7fffffff)
DEFINE_MINMAX_WALK(minmax_f64, int64_t, 0x7fffffffffffffffll)

DEFINE_AFFINE_WALK(aff_f32_i8_even, f32, float, 1, int8_t)
DEFINE_AFFINE_WALK(aff_f32_i8_away, f32, float, 0, int8_t)
DEFINE_AFFINE_WALK(aff_f32_u8_even, f32, float, 1, uint8_t)
DEFINE_AFFINE_WALK(aff_f32_u8_away, f32, float, 0, uint8_t)
DEFINE_AFFINE_WALK(aff_f64_i8_even, f64, double, 1, int8_t)
DEFINE_AFFINE_WALK(aff_f64_i8_away, f64, double, 0, int8_t)
DEFINE_AFFINE_WALK(aff_f64_u8_even, f64, double, 1, uint8_t)
DEFINE_AFFINE_WALK(aff_f64_u8_away, f64, double, 0, uint8_t)
DEFINE_MSE_WALK(mse_f32_even, f32, float, 1)
DEFINE_MSE_WALK(mse_f32_away, f32, float, 0)
DEFINE_MSE_WALK(mse_f64_even, f64, double, 1)
DEFINE_MSE_WALK(mse_f64_away, f64, double, 0)

/* The table entries: one walk per (dtype, output type, rounding). */
#define DEFINE_AFFINE_ENTRY(SUF, T)                                                                \
    static int affine_##SUF(const T *x, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,           \
                            const T *scales, const int32_t *zps, int qmin, int qmax, int mode,     \
                            int out_unsigned, void *q)                                             \
    {                                                                                              \
        int even = mode == INT8Q_HALF_EVEN;                                                        \
        if (out_unsigned)                                                                          \
            return (even ? aff_##SUF##_u8_even : aff_##SUF##_u8_away)(x, s, e, L, scales, zps,     \
                                                                      qmin, qmax, (uint8_t *)q);   \
        return (even ? aff_##SUF##_i8_even : aff_##SUF##_i8_away)(x, s, e, L, scales, zps, qmin,   \
                                                                  qmax, (int8_t *)q);              \
    }                                                                                              \
    static void affine_deq_##SUF(const void *q, int q_unsigned, ptrdiff_t s, ptrdiff_t e,          \
                                 const int8q_layout *L, const T *scales, const int32_t *zps,       \
                                 T *out)                                                           \
    {                                                                                              \
        if (q_unsigned)                                                                            \
            adeq_##SUF##_u8((const uint8_t *)q, s, e, L, scales, zps, out);                        \
        else                                                                                       \
            adeq_##SUF##_i8((const int8_t *)q, s, e, L, scales, zps, out);                         \
    }                                                                                              \
    static void mse_##SUF(const T *x, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,             \
                          const T *cand, int ncand, int mode, double *err)                         \
    {                                                                                              \
        (mode == INT8Q_HALF_EVEN ? mse_##SUF##_even : mse_##SUF##_away)(x, s, e, L, cand, ncand,   \
                                                                        err);                      \
    }

DEFINE_AFFINE_ENTRY(f32, float)
DEFINE_AFFINE_ENTRY(f64, double)

#undef DEFINE_AFFINE_ENTRY
#undef DEFINE_AFFINE_WALK
#undef DEFINE_AFFINE_DEQ_WALK
#undef EACH_IN_PIECE
#undef DEFINE_AFFINE_ROWS
#undef DEFINE_MSE_WALK
#undef DEFINE_MINMAX_WALK
#undef DEFINE_MINMAX_ROWS
#undef MINMAX_BLOCKS
#undef ORDER_KEY
#undef AFF_ONE
#undef AFF_ROUND
#undef MSE_ONE
