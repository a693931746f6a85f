/* CONV_2D int8 fast paths: im2col of a few output pixels into the codegen-sized scratch buffer, blocks of
 * output pixels x output channels, then TFLite's requantization arithmetic for each output.
 * Bit-exact with tc_conv2d_s8's reference loop (integer sums are exact; only the order changes).
 *
 *   Cortex-M55 (__ARM_FEATURE_MVE): pairs of output pixels, their receptive fields as int8 im2col
 *     (padding = the input zero point; WLSTP/LETP copies) or, when out_c is small and the fields lie inside
 *     the input, read straight from it (kernel rows, or taps through x_map); hand-written tail-predicated
 *     VMLADAVA loops over blocks of 2 pixels x 3 channels (12 instructions per 96 MACs); the input offset
 *     enters through bias_fold (= bias + in_offset * sum(weights), precomputed by codegen);
 *     requantization 4 channels at a time (VQRDMULH, VRSHL).
 *   Cortex-M4/M7 (__ARM_FEATURE_DSP): int16 im2col of the raw input (padding = the zero point; the offset
 *     enters through bias_fold), each group of 4 values stored as (x0,x2),(x1,x3) so that the weights need
 *     only SXTB16 / SXTB16 ROR 8 (which yield (w0,w2),(w1,w3)); blocks of 4 pixels, all output channels in
 *     one asm call (2 SMLAD per 4 MACs and pixel, 16 K per trip), requantization in 6 instructions per
 *     output (one SMMLAR, see rqf_apply) inside it. out_c = 3 (the decoders' last layers): no im2col, the
 *     input read directly against weights widened once per call (conv_d3).
 *   TC_CONV_GENERIC_BLOCKED (host tests only): the DSP path's im2col, layout, blocking, requantization and
 *     out_c = 3 path in plain C.
 * Without one of these (or without scratch, or with -D TC_CONV_PORTABLE_ONLY) tc_conv2d_s8 runs the
 * portable reference loop. */
#include <string.h>

#include "tc_fixedpoint.h"
#include "tc_kernels.h"

#if defined(TC_CONV_PORTABLE_ONLY)
/* measurement/debug builds: always the reference loop */
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define TC_CONV_MVE 1
#include <arm_mve.h>
#elif defined(__ARM_FEATURE_DSP) && !defined(TC_CONV_GENERIC_BLOCKED)
#define TC_CONV_DSP 1
#include <arm_acle.h>
#elif defined(TC_CONV_GENERIC_BLOCKED)
#define TC_CONV_GENERIC 1
#endif

#if defined(TC_CONV_MVE) || defined(TC_CONV_DSP) || defined(TC_CONV_GENERIC)

/* Per-channel requantization constants, loaded once per output channel and block. */
typedef struct {
  int32_t mult, lshift, rshift, mask, out_offset, lo, hi;
} rq_t;

static inline rq_t rq_load(const tc_conv_params_t *p, int32_t oc) {
  const int32_t shift = p->out_shift[oc];
  rq_t r;
  r.mult = p->out_mult[oc];
  r.lshift = shift > 0 ? shift : 0;
  r.rshift = shift > 0 ? 0 : -shift;
  r.mask = (int32_t)(((int64_t)1 << r.rshift) - 1);
  r.out_offset = p->out_offset;
  r.lo = p->act_min;
  r.hi = p->act_max;
  return r;
}

/* == tc_mul_by_quantized_multiplier + offset + clamp. SaturatingRoundingDoublingHighMul's nudge
 * (+2^30, or 1 - 2^30 with truncating division for negative products) equals a floor shift of
 * (ab + 2^30) in both cases; the saturating case needs both operands INT32_MIN (r.mult never is:
 * codegen multipliers are in [2^30, 2^31) or 0, and requant() falls back to the reference if so). */
static inline int8_t rq_apply(const rq_t *r, int32_t acc) {
  const int32_t x = (int32_t)((uint32_t)acc << r->lshift);
  int32_t h = (int32_t)(((int64_t)x * r->mult + ((int64_t)1 << 30)) >> 31);
  const int32_t rem = h & r->mask, thr = (r->mask >> 1) + (h < 0 ? 1 : 0);
  h = (h >> r->rshift) + (rem > thr ? 1 : 0) + r->out_offset;
  return (int8_t)(h < r->lo ? r->lo : (h > r->hi ? r->hi : h));
}

static inline int8_t requant(const tc_conv_params_t *p, const rq_t *r, int32_t acc, int32_t oc) {
  if (r->mult == INT32_MIN) { /* not produced by codegen; exact reference for completeness */
    acc = tc_mul_by_quantized_multiplier(acc, p->out_mult[oc], (int)p->out_shift[oc]) + p->out_offset;
    return (int8_t)tc_clamp_i32(acc, p->act_min, p->act_max);
  }
  return rq_apply(r, acc);
}

/* Source pointer of input row iy (virtual coordinates, through y_map), or NULL in the padding. */
static inline const int8_t *src_row(const tc_conv_params_t *p, const int8_t *in, int32_t iy) {
  if (iy < 0 || iy >= p->in_h) {
    return 0;
  }
  int32_t sy = p->y_map != 0 ? (int32_t)p->y_map[iy] : iy;
  if (p->in_ring_h > 0) {
    sy %= p->in_ring_h;
  }
  return in + (int64_t)sy * p->src_w * p->in_c;
}

/* Bytes between output rows / between the pixels of a row (strided for transpose-conv phases). */
static inline int32_t row_pitch(const tc_conv_params_t *p) {
  return p->out_row_pitch > 0 ? p->out_row_pitch : p->out_w * p->out_c;
}
static inline int32_t px_pitch(const tc_conv_params_t *p) {
  return p->out_px_pitch > 0 ? p->out_px_pitch : p->out_c;
}

/* Output pixel (oy, ox), through the output ring if any; rp / pp = row_pitch(p) / px_pitch(p). */
static inline int8_t *out_px(const tc_conv_params_t *p, int8_t *out, int32_t oy, int32_t ox, int32_t rp,
                             int32_t pp) {
  const int32_t row = p->out_ring_h > 0 ? oy % p->out_ring_h : oy;
  return out + (int64_t)row * rp + (int64_t)ox * pp;
}

#if defined(TC_CONV_MVE)
/* ---------------------------------------------------------------- M55 / MVE: int8 im2col */
/* n bytes, 16 per trip of a tail-predicated loop (WLSTP/LETP: VLDRB + VSTRB + LETP; n = 0 skips it). */
static inline void copy_run(int8_t *dst, const int8_t *src, int32_t n) {
  __asm volatile(
      "wlstp.8 lr, %[n], 2f\n\t"
      "1:\n\t"
      "vldrb.8 q0, [%[s]], #16\n\t"
      "vstrb.8 q0, [%[d]], #16\n\t"
      "letp lr, 1b\n\t"
      "2:\n\t"
      : [d] "+r"(dst), [s] "+r"(src)
      : [n] "r"(n)
      : "lr", "d0", "d1", "memory");
}

static inline void fill_run(int8_t *dst, int8_t v, int32_t n) {
  const int8x16_t vv = vdupq_n_s8(v);
  __asm volatile(
      "wlstp.8 lr, %[n], 2f\n\t"
      "1:\n\t"
      "vstrb.8 %q[v], [%[d]], #16\n\t"
      "letp lr, 1b\n\t"
      "2:\n\t"
      : [d] "+r"(dst)
      : [n] "r"(n), [v] "w"(vv)
      : "lr", "memory");
}

/* One output pixel's receptive field, [k_h][k_w][in_c] int8, padding = input zero point, then zeros
 * up to kpad. */
static void im2col_s8(const tc_conv_params_t *p, const int8_t *in, int32_t oy, int32_t ox, int8_t *dst,
                      int32_t kpad) {
  const int32_t in_c = p->in_c, k_w = p->k_w;
  const int8_t zp = (int8_t)(-p->in_offset);
  const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
  const int32_t run = k_w * in_c;
  int8_t *d = dst;
  for (int32_t ky = 0; ky < p->k_h; ++ky, d += run) {
    const int8_t *row = src_row(p, in, y0 + p->dil_h * ky);
    if (row == 0) {
      fill_run(d, zp, run);
      continue;
    }
    if (p->x_map == 0 && p->dil_w == 1 && x0 >= 0 && x0 + k_w <= p->in_w) {
      copy_run(d, row + (int64_t)x0 * in_c, run);
      continue;
    }
    for (int32_t kx = 0; kx < k_w; ++kx) {
      const int32_t ix = x0 + p->dil_w * kx;
      if (ix < 0 || ix >= p->in_w) {
        fill_run(d + kx * in_c, zp, in_c);
      } else {
        const int32_t sx = p->x_map != 0 ? (int32_t)p->x_map[ix] : ix;
        copy_run(d + kx * in_c, row + (int64_t)sx * in_c, in_c);
      }
    }
  }
  fill_run(dst + p->k_h * run, 0, kpad - p->k_h * run);
}

/* nblk blocks of 2 pixels x 3 output channels over K int8 values: block b's 6 int32 sums acc[3b..3b+2]
 * (pixel 0) and acc[TC_MVE_G + 3b..] (pixel 1) += x0 . w0/w1/w2 and x1 . w0/w1/w2, then w0/w1/w2 advance
 * by wadv past where the loop left them (3K - round_up(K, 16): the next 3 channels). A tail-predicated
 * low-overhead loop (DLSTP/LETP: the last trip's lanes past K are neither loaded nor summed) of 16 K per
 * trip: 2 input + 3 weight VLDRB + 6 VMLADAVA + LETP = 12 instructions per 96 MACs, ~20 per block around
 * it. Hand-written: 6 accumulators (VMLADAVA needs even registers) + 5 post-incremented pointers + LR are
 * all the core registers, and GCC 12 neither allocates them so nor emits tail-predicated loops. The asm
 * advances acc and counts nblk down in the struct. */
#define TC_MVE_G 48        /* output channels per requantization group (a multiple of 3) */
#define TC_MVE_G_BYTES 192 /* 4 * TC_MVE_G, the pixel-1 offset in the asm */
_Static_assert(TC_MVE_G_BYTES == 4 * TC_MVE_G && TC_MVE_G % 3 == 0, "asm offsets");
#define TC_STR_(x) #x
#define TC_STR(x) TC_STR_(x)
/* The tail-predicated 2-pixel x 3-channel dot loop (r1/r3: the pixels' im2col rows, r5/r7/r9: the channels'
 * weights; accumulators r0/r2/r4 for pixel 0, r6/r8/r10 for pixel 1; lr: the DLSTP count set before it). */
#define TC_MVE_DOT_2X3_LOOP     \
  "1:\n\t"                      \
  "vldrb.8 q0, [r1], #16\n\t"   \
  "vldrb.8 q1, [r3], #16\n\t"   \
  "vldrb.8 q2, [r5], #16\n\t"   \
  "vmladava.s8 r0, q0, q2\n\t"  \
  "vmladava.s8 r6, q1, q2\n\t"  \
  "vldrb.8 q3, [r7], #16\n\t"   \
  "vmladava.s8 r2, q0, q3\n\t"  \
  "vmladava.s8 r8, q1, q3\n\t"  \
  "vldrb.8 q2, [r9], #16\n\t"   \
  "vmladava.s8 r4, q0, q2\n\t"  \
  "vmladava.s8 r10, q1, q2\n\t" \
  "letp lr, 1b\n\t"
typedef struct {
  const int8_t *x0, *x1;      /* +0, +4 */
  const int8_t *w0, *w1, *w2; /* +8 */
  int32_t k;                  /* +20 */
  int32_t *acc;               /* +24 */
  int32_t nblk;               /* +28 */
  int32_t wadv;               /* +32 */
} dot_args_t;

__attribute__((naked, noinline)) static void dot2x3(__attribute__((unused)) dot_args_t *a) {
  __asm volatile(
      "push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"
      "mov r12, r0\n\t"
      "add r11, r12, #8\n\t"
      "ldm r11, {r5, r7, r9}\n\t"
      "3:\n\t"
      "ldr r11, [r12, #24]\n\t"
      "ldm r11, {r0, r2, r4}\n\t"
      "add lr, r11, #" TC_STR(TC_MVE_G_BYTES) "\n\t"
      "ldm lr, {r6, r8, r10}\n\t"
      "ldrd r1, r3, [r12]\n\t"
      "ldr r11, [r12, #20]\n\t"
      "dlstp.8 lr, r11\n\t"
      TC_MVE_DOT_2X3_LOOP
      "ldr r11, [r12, #24]\n\t"
      "stm r11!, {r0, r2, r4}\n\t"
      "str r11, [r12, #24]\n\t"
      "add r11, r11, #" TC_STR(TC_MVE_G_BYTES) " - 12\n\t"
      "stm r11, {r6, r8, r10}\n\t"
      "ldr r11, [r12, #32]\n\t"
      "add r5, r5, r11\n\t"
      "add r7, r7, r11\n\t"
      "add r9, r9, r11\n\t"
      "ldr r11, [r12, #28]\n\t"
      "subs r11, r11, #1\n\t"
      "str r11, [r12, #28]\n\t"
      "bne 3b\n\t"
      "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n\t");
}

/* The same 2 x 3 block read straight from the input, without im2col: n runs of `run` contiguous bytes (whole
 * kernel rows, run = k_w * in_c, or single taps, run = in_c), pixel 0's run i at pairs[2i] and pixel 1's at
 * pairs[2i + 1]; the weights of consecutive runs are contiguous (OHWI), each run's loop overshoots them by
 * wfix = round_up(run, 16) - run. ~12 instructions of setup per run; the caller resets pairs and n before
 * each call. */
typedef struct {
  const int8_t *const *pairs; /* +0, advanced by the asm */
  int32_t unused;             /* +4 */
  const int8_t *w0, *w1, *w2; /* +8 */
  int32_t run;                /* +20 */
  int32_t *acc;               /* +24 */
  int32_t n;                  /* +28, counted down by the asm */
  int32_t wfix;               /* +32 */
} rows_args_t;

__attribute__((naked, noinline)) static void dot2x3_rows(__attribute__((unused)) rows_args_t *a) {
  __asm volatile(
      "push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"
      "mov r12, r0\n\t"
      "ldr r11, [r12, #24]\n\t"
      "ldm r11, {r0, r2, r4}\n\t"
      "add r11, r11, #" TC_STR(TC_MVE_G_BYTES) "\n\t"
      "ldm r11, {r6, r8, r10}\n\t"
      "add r11, r12, #8\n\t"
      "ldm r11, {r5, r7, r9}\n\t"
      "2:\n\t"
      "ldr r11, [r12, #0]\n\t"
      "ldrd r1, r3, [r11], #8\n\t"
      "str r11, [r12, #0]\n\t"
      "ldr r11, [r12, #20]\n\t"
      "dlstp.8 lr, r11\n\t"
      TC_MVE_DOT_2X3_LOOP
      "ldr r11, [r12, #32]\n\t"
      "sub r5, r5, r11\n\t"
      "sub r7, r7, r11\n\t"
      "sub r9, r9, r11\n\t"
      "ldr r11, [r12, #28]\n\t"
      "subs r11, r11, #1\n\t"
      "str r11, [r12, #28]\n\t"
      "bne 2b\n\t"
      "ldr r11, [r12, #24]\n\t"
      "stm r11, {r0, r2, r4}\n\t"
      "add r11, r11, #" TC_STR(TC_MVE_G_BYTES) "\n\t"
      "stm r11, {r6, r8, r10}\n\t"
      "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n\t");
}

/* MultiplyByQuantizedMultiplier + offset + clamp on 4 lanes, equal to tc_mul_by_quantized_multiplier:
 * VQRDMULH is SaturatingRoundingDoublingHighMul (floor((ab + 2^30) / 2^31), INT32_MIN^2 saturating), and
 * RoundingDivideByPOT (round half away from zero) = VRSHL (round half up) of x - 1 for negative x when
 * the shift is not 0 (fixup = sign of x & -shift, saturating add: INT32_MIN stays exact), as CMSIS-NN's
 * arm_requantize_mve_32x4. lsh = max(shift, 0), nrs = min(shift, 0) (= -right shift). */
static inline int32x4_t rq4(int32x4_t acc, int32x4_t mult, int32x4_t lsh, int32x4_t nrs, int32_t off,
                            int32_t lo, int32_t hi) {
  int32x4_t h = vqrdmulhq_s32(vshlq_s32(acc, lsh), mult);
  const int32x4_t fix = vshrq_n_s32(vandq_s32(h, nrs), 31);
  h = vrshlq_s32(vqaddq_s32(h, fix), nrs);
  h = vaddq_n_s32(h, off);
  return vminq_s32(vmaxq_s32(h, vdupq_n_s32(lo)), vdupq_n_s32(hi));
}

/* Output channels [oc, oc + n) of one pixel pair (o1 = NULL: one pixel) from the sums in acc[0..n) and
 * acc[TC_MVE_G..TC_MVE_G + n), 4 at a time (the last ones predicated). */
static void requant_group(const tc_conv_params_t *p, int32_t oc, int32_t n, const int32_t *acc, int8_t *o0,
                          int8_t *o1) {
  const int32_t off = p->out_offset, lo = p->act_min, hi = p->act_max;
  const int32x4_t zero = vdupq_n_s32(0);
  for (int32_t c = 0; c < n; c += 4) {
    const mve_pred16_t pr = vctp32q((uint32_t)(n - c));
    const int32x4_t mult = vldrwq_z_s32(p->out_mult + oc + c, pr);
    const int32x4_t shift = vldrwq_z_s32(p->out_shift + oc + c, pr);
    const int32x4_t lsh = vmaxq_s32(shift, zero), nrs = vminq_s32(shift, zero);
    vstrbq_p_s32(o0 + oc + c, rq4(vldrwq_s32(acc + c), mult, lsh, nrs, off, lo, hi), pr);
    if (o1 != 0) {
      vstrbq_p_s32(o1 + oc + c, rq4(vldrwq_s32(acc + TC_MVE_G + c), mult, lsh, nrs, off, lo, hi), pr);
    }
  }
}

/* All output channels of one pixel pair (o1 = NULL: one pixel), groups of TC_MVE_G channels, blocks of 3
 * (the last block of a group repeats its last channel's weights; the extra sums land in unused slots).
 * Receptive fields: pairs == NULL: im2col buffers x0 / x1 (K contiguous int8 each; x1 == x0 for a single
 * pixel); else nrun runs of `run` bytes read from the input at pairs[] (see rows_args_t). */
static void pair_dot(const tc_conv_params_t *p, const int8_t *x0, const int8_t *x1,
                     const int8_t *const *pairs, int32_t nrun, int32_t run, int8_t *o0, int8_t *o1) {
  const int32_t K = p->k_h * p->k_w * p->in_c, out_c = p->out_c;
  int32_t acc[2 * TC_MVE_G] __attribute__((aligned(8)));
  dot_args_t a;
  rows_args_t r;
  a.x0 = x0;
  a.x1 = x1;
  a.k = K;
  a.wadv = 3 * K - ((K + 15) & ~15);
  r.unused = 0;
  r.run = run;
  r.wfix = ((run + 15) & ~15) - run;
  for (int32_t oc = 0; oc < out_c; oc += TC_MVE_G) {
    const int32_t n = out_c - oc < TC_MVE_G ? out_c - oc : TC_MVE_G;
    for (int32_t c = 0; c < n; c += 4) { /* sums start at bias + in_offset * sum(w) */
      const int32x4_t b = vldrwq_z_s32(p->bias_fold + oc + c, vctp32q((uint32_t)(n - c)));
      vstrwq_s32(acc + c, b);
      vstrwq_s32(acc + TC_MVE_G + c, b);
    }
    const int8_t *w = p->weights + (int64_t)oc * K;
    if (pairs == 0) {
      const int32_t full = n / 3, rem = n - 3 * full;
      a.acc = acc;
      if (full > 0) {
        a.w0 = w;
        a.w1 = w + K;
        a.w2 = w + 2 * K;
        a.nblk = full;
        dot2x3(&a); /* leaves a.acc at acc + 3 * full */
        w += 3 * full * K;
      }
      if (rem > 0) { /* the last 1-2 channels, the last one repeated */
        a.w0 = w;
        a.w1 = rem > 1 ? w + K : w;
        a.w2 = a.w1;
        a.nblk = 1;
        dot2x3(&a);
      }
    } else {
      for (int32_t c = 0; c < n; c += 3, w += 3 * K) {
        r.pairs = pairs;
        r.n = nrun;
        r.w0 = w;
        r.w1 = c + 1 < n ? w + K : w;
        r.w2 = c + 2 < n ? w + 2 * K : r.w1;
        r.acc = acc + c;
        dot2x3_rows(&r);
      }
    }
    requant_group(p, oc, n, acc, o0, o1);
  }
}

/* The receptive fields of pixel (oy, ox) and (if two) (oy, ox + 1) as runs in the input when both lie
 * inside it: whole kernel rows (taps == 0: no x_map, no horizontal dilation; n = k_h) or single taps
 * (n = k_h * k_w, through x_map), pairs[2i] / pairs[2i + 1] = run i of pixel 0 / 1 (d = stride_w * in_c
 * apart without x_map). Returns 0 if padding is involved (im2col then). */
#define TC_MVE_MAX_RUNS 25
static int direct_fields(const tc_conv_params_t *p, const int8_t *in, int32_t oy, int32_t ox, int two,
                         int taps, const int8_t **pairs) {
  const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w, c = p->in_c;
  const int32_t s1 = two ? p->stride_w : 0;
  if (x0 < 0 || x0 + s1 + p->dil_w * (p->k_w - 1) >= p->in_w || y0 < 0 ||
      y0 + p->dil_h * (p->k_h - 1) >= p->in_h) {
    return 0;
  }
  if (!taps) {
    const int32_t off0 = x0 * c, off1 = off0 + s1 * c;
    for (int32_t ky = 0; ky < p->k_h; ++ky, pairs += 2) {
      const int8_t *row = src_row(p, in, y0 + p->dil_h * ky);
      pairs[0] = row + off0;
      pairs[1] = row + off1;
    }
    return 1;
  }
  for (int32_t ky = 0; ky < p->k_h; ++ky) {
    const int8_t *row = src_row(p, in, y0 + p->dil_h * ky);
    for (int32_t kx = 0; kx < p->k_w; ++kx, pairs += 2) {
      const int32_t ix = x0 + p->dil_w * kx;
      const int32_t sx0 = p->x_map != 0 ? (int32_t)p->x_map[ix] : ix;
      const int32_t sx1 = p->x_map != 0 ? (int32_t)p->x_map[ix + s1] : ix + s1;
      pairs[0] = row + (int64_t)sx0 * c;
      pairs[1] = row + (int64_t)sx1 * c;
    }
  }
  return 1;
}

static void conv_mve(const tc_conv_params_t *p, const int8_t *in, int8_t *out, int32_t oy0, int32_t oy1) {
  const int32_t K = p->k_h * p->k_w * p->in_c, k16 = (K + 15) & ~15;
  const int32_t n_px = (oy1 - oy0) * p->out_w;
  int8_t *const b0 = p->scratch, *const b1 = p->scratch + k16;
  const int32_t rp = row_pitch(p), pp = px_pitch(p);
  /* Reading the input directly costs per block of 3 channels ~12 instructions per run + its partial last
   * vector; im2col costs per pixel ~3 per 16 bytes + ~8 per kernel row (~15 per tap through x_map), once
   * for all channels: direct when cheaper (small out_c, e.g. the last layer's 3 channels). */
  const int taps = p->x_map != 0 || p->dil_w != 1;
  const int32_t nrun = taps ? p->k_h * p->k_w : p->k_h, run = taps ? p->in_c : p->k_w * p->in_c;
  const int32_t blocks = (p->out_c + 2) / 3, r16 = (run + 15) >> 4;
  const int32_t cost_direct = blocks * (nrun * (12 + 12 * r16) + 20);
  const int32_t cost_im2col = 2 * nrun * ((taps ? 15 : 8) + 3 * r16) + blocks * (20 + 12 * (k16 >> 4));
  const int fields_ok = nrun <= TC_MVE_MAX_RUNS && (!taps || cost_direct < cost_im2col);
  const int direct_ok = cost_direct < cost_im2col;
  const int8_t *pairs[2 * TC_MVE_MAX_RUNS];
  int32_t oy = oy0, ox = 0;
  for (int32_t n = 0; n < n_px; n += 2) {
    int8_t *o0 = out_px(p, out, oy, ox, rp, pp), *o1 = 0;
    const int two = n + 1 < n_px;
    if (fields_ok && (!two || ox + 1 < p->out_w) && direct_fields(p, in, oy, ox, two, taps, pairs)) {
      if (two) {
        o1 = out_px(p, out, oy, ox + 1, rp, pp);
      }
      ox += two ? 2 : 1;
      if (ox == p->out_w) {
        ox = 0;
        ++oy;
      }
      if (direct_ok) {
        pair_dot(p, 0, 0, pairs, nrun, run, o0, o1);
      } else { /* im2col of whole kernel rows, without the per-row checks of im2col_s8 */
        for (int32_t i = 0; i < nrun; ++i) {
          copy_run(b0 + i * run, pairs[2 * i], run);
          if (two) {
            copy_run(b1 + i * run, pairs[2 * i + 1], run);
          }
        }
        pair_dot(p, b0, two ? b1 : b0, 0, 0, 0, o0, o1);
      }
      continue;
    }
    im2col_s8(p, in, oy, ox, b0, K);
    if (++ox == p->out_w) {
      ox = 0;
      ++oy;
    }
    if (two) {
      o1 = out_px(p, out, oy, ox, rp, pp);
      im2col_s8(p, in, oy, ox, b1, K);
      if (++ox == p->out_w) {
        ox = 0;
        ++oy;
      }
    }
    pair_dot(p, b0, o1 != 0 ? b1 : b0, 0, 0, 0, o0, o1);
  }
}

int tc_conv_rows_fast(const tc_conv_params_t *p, const int8_t *in, int8_t *out, int32_t oy_begin,
                      int32_t oy_end) {
  const int32_t K = p->k_h * p->k_w * p->in_c;
  if (p->scratch == 0 || p->bias_fold == 0 || p->scratch_bytes < 2 * ((K + 15) & ~15) || p->k_h < 1 ||
      K < 1) {
    return 0;
  }
  conv_mve(p, in, out, oy_begin, oy_end);
  return 1;
}

#else
/* ------------------------------------------- M4/M7 DSP (and its plain-C twin): int16 im2col */
/* Four pixels interleaved per group of 4 K values: [g][pixel 0..3][x0,x2,x1,x3] (int16, the raw input: the
 * input offset enters through bias_fold, so the padding is the input zero point), zeros from K up to
 * round_up(K, 8). */
#define NPX 4
#define GSTRIDE (4 * NPX) /* int16 per group */
static inline int32_t slot(int32_t j) { return (j >> 2) * GSTRIDE + ((j & 1) << 1) + ((j >> 1) & 1); }

static inline uint32_t rd32(const void *ptr) {
  uint32_t v;
  memcpy(&v, ptr, 4);
  return v;
}

#if defined(TC_CONV_DSP)
/* sign-extended bytes 1 and 3 of b: SXTB16 with the rotate folded in (GCC emits a separate ROR) */
static inline int32_t sxtb16_ror8(uint32_t b) {
  int32_t r;
  __asm("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(b));
  return r;
}

/* groups x 4 int8 values -> (x0,x2),(x1,x3) int16 pairs, one pixel's slots (GSTRIDE apart): per 8 values
 * 2 LDR + 4 SXTB16 + 2 STRD + 3 = 11 instructions (GCC: 15). Out of line: inlined into im2col, GCC spills its
 * loop variables. */
__attribute__((noinline)) static void cvt_groups(int32_t *q, const int8_t *src, int32_t groups) {
  int32_t pairs = groups >> 1;
  if (pairs > 0) {
    uint32_t a, b, c, d;
    __asm volatile(
        "1:\n\t"
        "ldr %[a], [%[s]], #4\n\t"
        "ldr %[b], [%[s]], #4\n\t"
        "sxtb16 %[c], %[a], ror #8\n\t"
        "sxtb16 %[a], %[a]\n\t"
        "sxtb16 %[d], %[b], ror #8\n\t"
        "sxtb16 %[b], %[b]\n\t"
        "strd %[a], %[c], [%[q]]\n\t"
        "strd %[b], %[d], [%[q], #32]\n\t"
        "add %[q], %[q], #64\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b\n\t"
        : [q] "+r"(q), [s] "+r"(src), [n] "+r"(pairs), [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c), [d] "=&r"(d)
        :
        : "cc", "memory");
  }
  if (groups & 1) {
    const uint32_t w0 = rd32(src);
    q[0] = __sxtb16((int32_t)w0);
    q[1] = sxtb16_ror8(w0);
  }
}
#endif

/* n values from src at K positions j.. of the pixel whose slots start at d: scalar up to the next group of 4,
 * whole groups 4 at a time (also when a run starts mid-group, e.g. in_c = 3), then the scalar tail. */
static inline void copy_run(int16_t *d, int32_t j, const int8_t *src, int32_t n) {
  int32_t i = 0;
  for (; i < n && (j & 3) != 0; ++i, ++j) {
    d[slot(j)] = src[i];
  }
#if defined(TC_CONV_DSP)
  const int32_t groups = (n - i) >> 2;
  if (groups > 0) {
    cvt_groups((int32_t *)(void *)(d + (j >> 2) * GSTRIDE), src + i, groups);
    i += 4 * groups;
    j += 4 * groups;
  }
#else
  for (; i + 4 <= n; i += 4, j += 4) {
    int16_t *q = d + (j >> 2) * GSTRIDE;
    q[0] = src[i];
    q[1] = src[i + 2];
    q[2] = src[i + 1];
    q[3] = src[i + 3];
  }
#endif
  for (; i < n; ++i, ++j) {
    d[slot(j)] = src[i];
  }
}

static inline void fill_run(int16_t *d, int32_t j, int32_t n, int16_t v) {
  for (int32_t e = j + n; j < e; ++j) {
    d[slot(j)] = v;
  }
}

/* round_up(n, 4) bytes (n >= 1; the plain-C twin: n) by words (GCC would make the loop a memcpy call) */
static inline void copy_words(uint8_t *dst, const int8_t *src, int32_t n) {
#if defined(TC_CONV_DSP)
  uint32_t t;
  __asm volatile(
      "1:\n\t"
      "ldr %[t], [%[s]], #4\n\t"
      "str %[t], [%[d]], #4\n\t"
      "subs %[n], %[n], #4\n\t"
      "bgt 1b\n\t"
      : [d] "+r"(dst), [s] "+r"(src), [n] "+r"(n), [t] "=&r"(t)
      :
      : "cc", "memory");
#else
  memcpy(dst, src, (size_t)n);
#endif
}

#define TC_MAX_KH 16 /* kernel rows of the row-pointer fast paths */
#define TC_STAGE 128 /* bytes: the staged im2col of in_c % 4 != 0 up to this round_up(K, 8) */
/* A field inside the input whose kernel rows (rows[ky] + off, k_w * in_c bytes each) start mid-group
 * (in_c = 3): gathered into one int8 row by words, then converted in whole groups (k8 <= TC_STAGE). The word
 * copies read up to 3 bytes past each run, inside the source row unless the field ends at the row's end
 * (at_end: then exactly). */
static void stage_field(const tc_conv_params_t *p, const int8_t *const *rows, int32_t off, int16_t *d,
                        int32_t k8, int at_end) {
  const int32_t run = p->k_w * p->in_c, K = p->k_h * run, r4 = at_end ? run & ~3 : run;
  uint32_t stage[TC_STAGE / 4 + 3];
  uint8_t *const st = (uint8_t *)stage;
  for (int32_t ky = 0, j = 0; ky < p->k_h; ++ky, j += run) {
    const int8_t *src = rows[ky] + off;
    if (r4 > 0) {
      copy_words(st + j, src, r4);
    }
    for (int32_t i = r4; i < run; ++i) {
      st[j + i] = (uint8_t)src[i];
    }
  }
  memset(st + K, 0, 8);
#if defined(TC_CONV_DSP)
  cvt_groups((int32_t *)(void *)d, (const int8_t *)st, k8 >> 2);
#else
  copy_run(d, 0, (const int8_t *)st, k8);
#endif
}

/* The fields of NPX pixels of one output row (the first at input column x0, stride_w apart), all inside the
 * input, whole kernel rows (no x_map, no horizontal dilation): the source rows found once per block. */
static void im2col_row_block(const tc_conv_params_t *p, const int8_t *const *rows, int32_t x0, int16_t *buf,
                             int32_t k8) {
  const int32_t in_c = p->in_c, run = p->k_w * in_c, K = p->k_h * run;
  for (int32_t q = 0; q < NPX; ++q) {
    int16_t *const d = buf + 4 * q;
    const int32_t off = (x0 + q * p->stride_w) * in_c;
    if ((in_c & 3) != 0) {
      stage_field(p, rows, off, d, k8, x0 + q * p->stride_w + p->k_w == p->in_w);
      continue;
    }
    for (int32_t ky = 0, j = 0; ky < p->k_h; ++ky, j += run) {
#if defined(TC_CONV_DSP)
      cvt_groups((int32_t *)(void *)(d + (j >> 2) * GSTRIDE), rows[ky] + off, run >> 2);
#else
      copy_run(d, j, rows[ky] + off, run);
#endif
    }
    fill_run(d, K, k8 - K, 0);
  }
}

/* One output pixel's receptive field into slots d (pixel q: buf + 4 q): the input, its zero point in the
 * padding, zeros from K up to k8. */
static void im2col_s16(const tc_conv_params_t *p, const int8_t *in, int32_t oy, int32_t ox, int16_t *d,
                       int32_t k8) {
  const int32_t in_c = p->in_c, k_w = p->k_w;
  const int16_t zp = (int16_t)(-p->in_offset);
  const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
  const int32_t run = k_w * in_c;
  if ((in_c & 3) != 0 && k8 <= TC_STAGE && p->k_h <= TC_MAX_KH && p->x_map == 0 && p->dil_w == 1 && x0 >= 0 &&
      x0 + k_w <= p->in_w && y0 >= 0 && y0 + p->dil_h * (p->k_h - 1) < p->in_h) {
    const int8_t *rows[TC_MAX_KH];
    for (int32_t ky = 0; ky < p->k_h; ++ky) {
      rows[ky] = src_row(p, in, y0 + p->dil_h * ky);
    }
    stage_field(p, rows, x0 * in_c, d, k8, x0 + k_w == p->in_w);
    return;
  }
  int32_t j = 0;
  for (int32_t ky = 0; ky < p->k_h; ++ky, j += run) {
    const int8_t *row = src_row(p, in, y0 + p->dil_h * ky);
    if (row == 0) {
      fill_run(d, j, run, zp);
      continue;
    }
    if (p->x_map == 0 && p->dil_w == 1 && x0 >= 0 && x0 + k_w <= p->in_w) {
      copy_run(d, j, row + (int64_t)x0 * in_c, run);
      continue;
    }
    for (int32_t kx = 0; kx < k_w; ++kx) {
      const int32_t ix = x0 + p->dil_w * kx;
      if (ix < 0 || ix >= p->in_w) {
        fill_run(d, j + kx * in_c, in_c, zp);
      } else {
        const int32_t sx = p->x_map != 0 ? (int32_t)p->x_map[ix] : ix;
        copy_run(d, j + kx * in_c, row + (int64_t)sx * in_c, in_c);
      }
    }
  }
  fill_run(d, j, k8 - j, 0);
}

/* Requantization in 6 instructions (DSP). TFLite's MultiplyByQuantizedMultiplier with a right shift
 * r >= 1 is RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x, m), r) = floor(floor((x m + 2^30) /
 * 2^31) + 2^(r-1) - [h < 0]) / 2^r) (h: the high mul, round half away from zero), and since
 * floor((floor(A / 2^31) + c) / 2^r) = floor((A + c 2^31) / 2^(31 + r)) for integer c, both roundings merge:
 *   out = floor((x m + 2^30 + 2^(30+r) - [x < 0] 2^31 + off 2^(31+r)) / 2^(31+r))
 * ([h < 0] may be replaced by [x < 0] for m >= 0, r >= 1: for -2^30 <= x m < 0 both give the same floor).
 * = SMMLAR(2x, m, c) >> r with c = 2^(r-1) + off 2^r - [x < 0] (SMMLAR: (c 2^32 + 2x m + 2^31) >> 32, exact
 * 64-bit), then SSAT #8. Valid when |x| < 2^30 (|bias| + K 255 128 < 2^30), r >= 1, |c| < 2^30 - 2 (then
 * SMMLAR's result, |round(x m / 2^31)| + |c - [x < 0]| < 2^31, does not overflow; with a zero output offset,
 * e.g. the latent's, up to r = 30), m >= 0, out_offset in [-128, 127] and the clamp is [-128, 127]; rq_table
 * checks all channels, else the conv takes rq_apply (any shift, any clamp). Checked against
 * tc_mul_by_quantized_multiplier over ~1e9 random and exhaustive (x, m, r, off) (tests/test_kernels.py). */
typedef struct {
  int32_t mult; /* +0 */
  int32_t c;    /* +4: 2^(r-1) + out_offset 2^r */
  int32_t rsh;  /* +8 */
  int32_t bias; /* +12: bias_fold[oc], the accumulators' start */
} rqf_t;

static int rq_table(const tc_conv_params_t *p, rqf_t *t, int32_t K) {
  const int64_t lim = ((int64_t)1 << 30) - (int64_t)K * 255 * 128;
  if (p->act_min != -128 || p->act_max != 127 || p->out_offset < -128 || p->out_offset > 127) {
    return 0;
  }
  for (int32_t oc = 0; oc < p->out_c; ++oc) {
    const int32_t sh = p->out_shift[oc], m = p->out_mult[oc];
    const int64_t b = p->bias != 0 ? p->bias[oc] : 0;
    if (sh > -1 || sh < -31 || m < 0 || b >= lim || -b >= lim) {
      return 0;
    }
    const int64_t c = ((int64_t)1 << (-sh - 1)) + (int64_t)p->out_offset * ((int64_t)1 << -sh);
    if (c > (1 << 30) - 2 || c < -(1 << 30) + 3) {
      return 0;
    }
    t[oc].bias = p->bias_fold[oc];
    t[oc].mult = m;
    t[oc].c = (int32_t)c;
    t[oc].rsh = -sh;
  }
  return 1;
}

static inline int8_t rqf_apply(const rqf_t *e, int32_t x) {
  const int32_t c = e->c + (x >> 31), x2 = (int32_t)((uint32_t)x << 1);
#if defined(TC_CONV_DSP)
  int32_t h;
  __asm("smmlar %0, %1, %2, %3" : "=r"(h) : "r"(x2), "r"(e->mult), "r"(c));
  return (int8_t)__ssat(h >> e->rsh, 8);
#else
  const int32_t h =
      (int32_t)(((int64_t)c * 4294967296LL + (int64_t)x2 * e->mult + 2147483648LL) >> 32) >> e->rsh;
  return (int8_t)(h < -128 ? -128 : (h > 127 ? 127 : h));
#endif
}

#if defined(TC_CONV_DSP)
typedef int32_t pair_t; /* two int16 lanes */
#define SX_LO(w) __sxtb16((int32_t)(w))
#define SX_HI(w) __sxtb16((int32_t)(((w) >> 8) | ((w) << 24)))
#define MLA2(acc, x, w) ((acc) = __smlad((x), (w), (acc)))
/* x pairs of one pixel, (x0,x2) and (x1,x3), with one LDRD */
#define LOADX2(b, i, lo, hi)                                            \
  const uint64_t lo##hi = *(const uint64_t *)(const void *)((b) + (i)); \
  const pair_t lo = (pair_t)(uint32_t)lo##hi;                           \
  const pair_t hi = (pair_t)(uint32_t)(lo##hi >> 32)
#else
typedef struct {
  int32_t lo, hi;
} pair_t;
static inline pair_t sx_lo(uint32_t w) {
  pair_t r = {(int8_t)(w & 0xff), (int8_t)((w >> 16) & 0xff)};
  return r;
}
static inline pair_t sx_hi(uint32_t w) {
  pair_t r = {(int8_t)((w >> 8) & 0xff), (int8_t)(w >> 24)};
  return r;
}
static inline pair_t loadx(const int32_t *b, int i) {
  const int16_t *h = (const int16_t *)(const void *)(b + i);
  pair_t r = {h[0], h[1]};
  return r;
}
#define SX_LO(w) sx_lo(w)
#define SX_HI(w) sx_hi(w)
#define MLA2(acc, x, w) ((acc) += (x).lo * (w).lo + (x).hi * (w).hi)
#define LOADX2(b, i, lo, hi)         \
  const pair_t lo = loadx((b), (i)); \
  const pair_t hi = loadx((b), (i) + 1)
#endif

/* The last (K % 4) weights of a row, zero-extended to a word (never reads past the row). */
static inline uint32_t rd_tail(const int8_t *w, int32_t r) {
  uint32_t v = 0;
  for (int32_t i = 0; i < r; ++i) {
    v |= (uint32_t)(uint8_t)w[i] << (8 * i);
  }
  return v;
}

/* 4 pixels x 1 output channel: 4 weights expanded once (LDR + 2 SXTB16 + ROR), used by 8 SMLAD. */
#define STEP4(b, wv)             \
  do {                           \
    const pair_t wl = SX_LO(wv); \
    const pair_t wh = SX_HI(wv); \
    {                            \
      LOADX2(b, 0, x0l, x0h);    \
      MLA2(a0, x0l, wl);         \
      MLA2(a0, x0h, wh);         \
    }                            \
    {                            \
      LOADX2(b, 2, x1l, x1h);    \
      MLA2(a1, x1l, wl);         \
      MLA2(a1, x1h, wh);         \
    }                            \
    {                            \
      LOADX2(b, 4, x2l, x2h);    \
      MLA2(a2, x2l, wl);         \
      MLA2(a2, x2h, wh);         \
    }                            \
    {                            \
      LOADX2(b, 6, x3l, x3h);    \
      MLA2(a3, x3l, wl);         \
      MLA2(a3, x3h, wh);         \
    }                            \
  } while (0)

/* Output channels [oc0, oc1) of one block of NPX pixels at o[0..NPX) (a missing pixel's slots and output
 * repeat pixel 0's), in C: the plain-C twin, and on the DSP the channels the asm leaves (the last one when
 * its weight row would be read past K) or all of them when the conv's requantization has no table (t ==
 * NULL: rq_apply). Out of line so that the dot-product loop gets the registers to itself. */
__attribute__((noinline)) static void block_dot_c(const tc_conv_params_t *p, const int16_t *buf,
                                                  int8_t *const *o, int32_t oc0, int32_t oc1,
                                                  const rqf_t *t) {
  const int32_t K = p->k_h * p->k_w * p->in_c, groups = K >> 2, rem = K & 3;
  const int8_t *w = p->weights + (int64_t)oc0 * K;
  int8_t *const o0 = o[0], *const o1 = o[1], *const o2 = o[2], *const o3 = o[3];
  for (int32_t oc = oc0; oc < oc1; ++oc) {
    const int32_t *b = (const int32_t *)(const void *)buf;
    int32_t a0 = p->bias_fold[oc], a1 = a0, a2 = a0, a3 = a0;
    int32_t g = groups;
    for (; g >= 2; g -= 2) { /* 8 K values per trip */
      const uint32_t wv = rd32(w), wv2 = rd32(w + 4);
      w += 8;
      STEP4(b, wv);
      STEP4(b + 8, wv2);
      b += 16;
    }
    if (g) {
      const uint32_t wv = rd32(w);
      w += 4;
      STEP4(b, wv);
      b += 8;
    }
    if (rem) {
      const uint32_t wv = rd_tail(w, rem);
      w += rem;
      STEP4(b, wv);
    }
    if (t != 0) {
      o0[oc] = rqf_apply(&t[oc], a0);
      o1[oc] = rqf_apply(&t[oc], a1);
      o2[oc] = rqf_apply(&t[oc], a2);
      o3[oc] = rqf_apply(&t[oc], a3);
      continue;
    }
    const rq_t r = rq_load(p, oc);
    o0[oc] = requant(p, &r, a0, oc);
    o1[oc] = requant(p, &r, a1, oc);
    o2[oc] = requant(p, &r, a2, oc);
    o3[oc] = requant(p, &r, a3, oc);
  }
}

#if defined(TC_CONV_DSP)
/* All output channels of a block of 4 pixels in asm: per channel the 4 accumulators start at the table's
 * bias, a 4-K and an 8-K unit first if round_up(K, 4) % 16 has them (dot4_rq_4/8/12), then 16 K per trip,
 * then the 4 requantizations (rqf_apply: 6 instructions each), the output pointers advancing one byte per
 * channel. Per 8 K: 1 LDRD (weights) + 4 SXTB16 (2 with ROR #8) + 4 LDM (2 pixels x 2 words each) + 16 SMLAD
 * = 25 instructions per 32 MACs, + 2 per 16 K for the loop; 38 per channel around it. Weight rows of
 * round_up(K, 8) bytes, 4-byte aligned (the weights, or their zero-padded copy in the scratch). Exact: the
 * same SMLAD products and int32 sums. */
typedef struct {
  const int8_t *w;     /* +0 */
  const int16_t *buf;  /* +4 */
  int32_t n16;         /* +8: trips of 16 K (>= 1) after the 4-/8-K units, if any */
  const rqf_t *rq;     /* +12: entry of the first channel */
  const rqf_t *rq_end; /* +16 */
  int8_t *o[NPX];      /* +20: advanced by the asm */
} dot_args_t;
#define TC_DOT_HALF(wreg)           \
  "sxtb16 r10, " wreg               \
  "\n\t"                            \
  "sxtb16 " wreg ", " wreg          \
  ", ror #8\n\t"                    \
  "ldm r0!, {r3, r11, r12, lr}\n\t" \
  "smlad r4, r3, r10, r4\n\t"       \
  "smlad r4, r11, " wreg            \
  ", r4\n\t"                        \
  "smlad r5, r12, r10, r5\n\t"      \
  "smlad r5, lr, " wreg             \
  ", r5\n\t"                        \
  "ldm r0!, {r3, r11, r12, lr}\n\t" \
  "smlad r6, r3, r10, r6\n\t"       \
  "smlad r6, r11, " wreg            \
  ", r6\n\t"                        \
  "smlad r7, r12, r10, r7\n\t"      \
  "smlad r7, lr, " wreg ", r7\n\t"
/* acc -> byte at o, o += 1 (r8 = mult, r9 = c, r10 = rsh; r11 scratch) */
#define TC_RQ(acc, o)      \
  "add r11, r9, " acc      \
  ", asr #31\n\t"          \
  "lsl " acc ", " acc      \
  ", #1\n\t"               \
  "smmlar " acc ", " acc   \
  ", r8, r11\n\t"          \
  "asr " acc ", " acc      \
  ", r10\n\t"              \
  "ssat " acc ", #8, " acc \
  "\n\t"                   \
  "strb " acc ", [" o "], #1\n\t"
#define TC_LDW "ldrd r8, r9, [r1], #8\n\t"
#define TC_UNIT8 TC_LDW TC_DOT_HALF("r8") TC_DOT_HALF("r9")
/* frame after the second push: sp+0 buf, +4 n16, +8 rq cursor, +12 rq_end, +16 o[0..3]; the loop's flags
 * (rq cursor == rq_end) survive the requantization (no flag-setting instruction in it) */
#define TC_DOT4_RQ(name, odd)                                                                          \
  __attribute__((naked, noinline)) static void name(__attribute__((unused)) const dot_args_t *a) {     \
    __asm volatile("push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"                                 \
                   "ldm r0, {r1, r2, r3, r4, r5, r6, r7, r8, r9}\n\t"                                \
                   "push {r2, r3, r4, r5, r6, r7, r8, r9}\n\t"                                       \
                   "3:\n\t"                                                                          \
                   "ldm sp, {r0, r2, r11}\n\t"                                                       \
                   "ldr r4, [r11, #12]\n\t"                                                          \
                   "mov r5, r4\n\t"                                                                  \
                   "mov r6, r4\n\t"                                                                  \
                   "mov r7, r4\n\t" odd "1:\n\t" TC_UNIT8 TC_UNIT8                                  \
                   "subs r2, r2, #1\n\t"                                                             \
                   "bne 1b\n\t"                                                                      \
                   "ldr r11, [sp, #8]\n\t"                                                           \
                   "ldm r11!, {r8, r9, r10, r12}\n\t"                                                \
                   "str r11, [sp, #8]\n\t"                                                           \
                   "ldr r12, [sp, #12]\n\t"                                                          \
                   "cmp r11, r12\n\t"                                                                \
                   "add r12, sp, #16\n\t"                                                            \
                   "ldm r12, {r0, r2, r3, lr}\n\t" TC_RQ("r4", "r0") TC_RQ("r5", "r2") TC_RQ("r6", "r3") \
                       TC_RQ("r7", "lr") "stm r12, {r0, r2, r3, lr}\n\t"                              \
                   "bne 3b\n\t"                                                                      \
                   "add sp, sp, #32\n\t"                                                             \
                   "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n\t"); \
  }
#define TC_UNIT4 "ldr r8, [r1], #4\n\t" TC_DOT_HALF("r8")
/* [a 4-K unit][an 8-K unit] then the 16-K loop: by round_up(K, 4) % 16 */
TC_DOT4_RQ(dot4_rq_0, "")
TC_DOT4_RQ(dot4_rq_4, TC_UNIT4)
TC_DOT4_RQ(dot4_rq_8, TC_UNIT8)
TC_DOT4_RQ(dot4_rq_12, TC_UNIT4 TC_UNIT8)
#undef TC_UNIT4
#undef TC_DOT4_RQ
#undef TC_UNIT8
#undef TC_LDW
#undef TC_RQ
#undef TC_DOT_HALF
#endif

/* Small out_c (3 channels: the decoders' last layers). Through im2col each value would feed only 3 MACs
 * (~0.5 instructions per MAC of im2col alone), so these convs read the input directly: per output pixel
 * its runs of contiguous input bytes (whole kernel rows, or single taps through x_map / with horizontal
 * dilation), each group of 4 widened once (LDR + SXTB16 + SXTB16 ROR #8) for the 3 channels, whose
 * weights the call widens once into the scratch as int16 pairs [K/4][3][(w0,w2),(w1,w3)] (one LDM of 6
 * words per 4 K): 10 instructions per 12 MACs. Pixels whose field reaches into the padding get it copied
 * into an int8 buffer first (zero point in the padding; the input offset is in bias_fold). Needs in_c % 8
 * == 0 (runs of whole 8-K units) and the table requantization. */
#define TC_D3_MAX_RUNS 25
/* The arguments, laid out as dot1x3_runs's stack frame (the asm copies them there). */
typedef struct {
  const int32_t *w16;            /* +0: widened weights */
  int32_t bias[3];               /* +4: the accumulators' start (bias_fold) */
  int32_t px_off;                /* +16: 0 (the asm's running offset of the pixel in the input) */
  int32_t run8;                  /* +20: run length / 8, >= 2 (the asm: / 2, the loop's trips) */
  const int8_t *const *cur;      /* +24: (the asm's run cursor) */
  const int8_t *const *runs_end; /* +28 */
  const int8_t *const *runs;     /* +32: the first pixel's runs, >= 1 */
  int8_t *out;                   /* +36: the first pixel's 3 outputs */
  int32_t ostep;                 /* +40: output bytes per pixel */
  int32_t xstep;                 /* +44: input bytes per pixel */
  int32_t npix;                  /* +48: >= 1 */
  const rqf_t *rq;               /* +52: 3 entries */
} d3_args_t;

#if defined(TC_CONV_DSP)
_Static_assert(sizeof(d3_args_t) == 56, "dot1x3_runs frame");
/* 4 K of one pixel x 3 channels: r0 input, r1 weights, r4-r6 accumulators */
#define TC_D3_Q4                             \
  "ldr r3, [r0], #4\n\t"                     \
  "ldm r1!, {r7, r8, r9, r10, r11, r12}\n\t" \
  "sxtb16 lr, r3\n\t"                        \
  "sxtb16 r3, r3, ror #8\n\t"                \
  "smlad r4, lr, r7, r4\n\t"                 \
  "smlad r4, r3, r8, r4\n\t"                 \
  "smlad r5, lr, r9, r5\n\t"                 \
  "smlad r5, r3, r10, r5\n\t"                \
  "smlad r6, lr, r11, r6\n\t"                \
  "smlad r6, r3, r12, r6\n\t"
/* channel idx of the pixel at r0 (r7 = mult, r8 = c, r9 = rsh from the table entry; r10 scratch) */
#define TC_D3_RQ(acc, idx) \
  "add r10, r8, " acc      \
  ", asr #31\n\t"          \
  "lsl " acc ", " acc      \
  ", #1\n\t"               \
  "smmlar " acc ", " acc   \
  ", r7, r10\n\t"          \
  "asr " acc ", " acc      \
  ", r9\n\t"               \
  "ssat " acc ", #8, " acc \
  "\n\t"                   \
  "strb " acc ", [r0, #" idx "]\n\t"
/* Per pixel ~37 instructions + ~9 per run around the loop (16 K per trip, an odd 8-K unit first: _odd). */
#define TC_D3_FN(name, odd)                                                                       \
  __attribute__((naked, noinline)) static void name(__attribute__((unused)) const d3_args_t *a) { \
    __asm volatile("push {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"                    \
                   "sub sp, sp, #56\n\t"                                                \
                   "ldm r0!, {r1, r2, r3, r4, r5, r6, r7}\n\t"                          \
                   "stm sp, {r1, r2, r3, r4, r5, r6, r7}\n\t"                           \
                   "ldm r0, {r1, r2, r3, r4, r5, r6, r7}\n\t"                           \
                   "add r12, sp, #28\n\t"                                               \
                   "stm r12, {r1, r2, r3, r4, r5, r6, r7}\n\t"                          \
                   "ldr r2, [sp, #20]\n\t"                                              \
                   "lsr r2, r2, #1\n\t"                                                 \
                   "str r2, [sp, #20]\n\t"                                              \
                   "4:\n\t"                                                             \
                   "ldm sp, {r1, r4, r5, r6}\n\t"                                       \
                   "ldr r12, [sp, #32]\n\t"                                             \
                   "str r12, [sp, #24]\n\t"                                             \
                   "5:\n\t"                                                             \
                   "ldr r12, [sp, #24]\n\t"                                             \
                   "ldr r0, [r12], #4\n\t"                                              \
                   "str r12, [sp, #24]\n\t"                                             \
                   "ldrd r12, r2, [sp, #16]\n\t"                                        \
                   "add r0, r0, r12\n\t" odd "1:\n\t" TC_D3_Q4 TC_D3_Q4 TC_D3_Q4 TC_D3_Q4 \
                   "subs r2, r2, #1\n\t"                                                \
                   "bne 1b\n\t"                                                         \
                   "ldrd r11, r12, [sp, #24]\n\t"                                       \
                   "cmp r11, r12\n\t"                                                   \
                   "bne 5b\n\t"                                                         \
                   "ldr r11, [sp, #52]\n\t"                                             \
                   "ldr r0, [sp, #36]\n\t"                                              \
                   "ldm r11!, {r7, r8, r9, r10}\n\t" TC_D3_RQ("r4", "0")                \
                   "ldm r11!, {r7, r8, r9, r10}\n\t" TC_D3_RQ("r5", "1")                \
                   "ldm r11, {r7, r8, r9, r10}\n\t" TC_D3_RQ("r6", "2")                 \
                   "ldr r7, [sp, #40]\n\t"                                              \
                   "add r0, r0, r7\n\t"                                                 \
                   "str r0, [sp, #36]\n\t"                                              \
                   "ldr r7, [sp, #16]\n\t"                                              \
                   "ldr r8, [sp, #44]\n\t"                                              \
                   "add r7, r7, r8\n\t"                                                 \
                   "str r7, [sp, #16]\n\t"                                              \
                   "ldr r7, [sp, #48]\n\t"                                              \
                   "subs r7, r7, #1\n\t"                                                \
                   "str r7, [sp, #48]\n\t"                                              \
                   "bne 4b\n\t"                                                         \
                   "add sp, sp, #56\n\t"                                                \
                   "pop {r4, r5, r6, r7, r8, r9, r10, r11, pc}\n\t");         \
  }
TC_D3_FN(dot1x3_even, "")
TC_D3_FN(dot1x3_odd, TC_D3_Q4 TC_D3_Q4)
#undef TC_D3_FN
#undef TC_D3_Q4
#undef TC_D3_RQ
static void dot1x3_runs(const d3_args_t *a) {
  if (a->run8 & 1) {
    dot1x3_odd(a);
  } else {
    dot1x3_even(a);
  }
}
#else
/* the plain-C twin of dot1x3_runs */
static void dot1x3_runs(const d3_args_t *a) {
  int8_t *out = a->out;
  for (int32_t px = 0; px < a->npix; ++px, out += a->ostep) {
    int32_t acc[3] = {a->bias[0], a->bias[1], a->bias[2]};
    const int32_t *w = a->w16;
    for (const int8_t *const *r = a->runs; r < a->runs_end; ++r) {
      const int8_t *x = *r + (int64_t)px * a->xstep;
      for (int32_t i = 0; i < 8 * a->run8; i += 4, w += 6) {
        for (int32_t c = 0; c < 3; ++c) {
          const uint32_t lo = (uint32_t)w[2 * c], hi = (uint32_t)w[2 * c + 1];
          acc[c] += x[i] * (int16_t)(lo & 0xffff) + x[i + 2] * (int16_t)(lo >> 16) +
                    x[i + 1] * (int16_t)(hi & 0xffff) + x[i + 3] * (int16_t)(hi >> 16);
        }
      }
    }
    for (int32_t c = 0; c < 3; ++c) {
      out[c] = rqf_apply(&a->rq[c], acc[c]);
    }
  }
}
#endif

/* Pixels [x0, x1) of output row oy whose fields reach into the padding: each field copied into fb (int8,
 * the zero point in the padding), then one run of K. */
static void d3_border(const tc_conv_params_t *p, const int8_t *in, int32_t oy, int32_t x0, int32_t x1,
                      int8_t *orow, int8_t *fb, d3_args_t *a) {
  const int32_t in_c = p->in_c, pp = px_pitch(p);
  const uint32_t zp4 = 0x01010101u * (uint8_t)(-p->in_offset);
  const int8_t *fbp = fb;
  a->runs = &fbp;
  a->runs_end = &fbp + 1;
  a->run8 = p->k_h * p->k_w * in_c >> 3;
  a->npix = 1;
  a->xstep = 0;
  for (int32_t ox = x0; ox < x1; ++ox) {
    const int32_t y0 = oy * p->stride_h - p->pad_h, xs = ox * p->stride_w - p->pad_w;
    int8_t *d = fb;
    for (int32_t ky = 0; ky < p->k_h; ++ky) {
      const int8_t *row = src_row(p, in, y0 + p->dil_h * ky);
      for (int32_t kx = 0; kx < p->k_w; ++kx, d += in_c) {
        const int32_t ix = xs + p->dil_w * kx;
        if (row == 0 || ix < 0 || ix >= p->in_w) {
          for (int32_t i = 0; i < in_c; i += 4) { /* in_c % 8 == 0: whole words (GCC: not a memset call) */
            memcpy(d + i, &zp4, 4);
          }
        } else {
          copy_words((uint8_t *)d, row + (int64_t)(p->x_map != 0 ? (int32_t)p->x_map[ix] : ix) * in_c, in_c);
        }
      }
    }
    a->out = orow + (int64_t)ox * pp;
    dot1x3_runs(a);
  }
}

/* The conv through dot1x3_runs if it qualifies (returns 0 otherwise, nothing written). */
static int conv_d3(const tc_conv_params_t *p, const int8_t *in, int8_t *out, int32_t oy0, int32_t oy1) {
  const int32_t in_c = p->in_c, k_w = p->k_w, K = p->k_h * k_w * in_c;
  const int taps = p->x_map != 0 || p->dil_w != 1;
  const int32_t nrun = taps ? p->k_h * k_w : p->k_h, run = taps ? in_c : k_w * in_c;
  if (p->out_c != 3 || (in_c & 7) != 0 || run < 16 || nrun > TC_D3_MAX_RUNS ||
      p->scratch_bytes < 7 * K + 3 * (int32_t)sizeof(rqf_t)) {
    return 0;
  }
  int32_t *const w16 = (int32_t *)(void *)p->scratch;
  int8_t *const fb = p->scratch + 6 * K;
  rqf_t *const t = (rqf_t *)(void *)(p->scratch + 7 * K);
  if (!rq_table(p, t, K)) {
    return 0;
  }
  for (int32_t g = 0, i = 0; g < K; g += 4) { /* [K/4][3][(w0,w2),(w1,w3)] */
    for (int32_t c = 0; c < 3; ++c) {
      const int8_t *s = p->weights + (int64_t)c * K + g;
      w16[i++] = (int32_t)((uint32_t)(uint16_t)s[0] | ((uint32_t)(uint16_t)s[2] << 16));
      w16[i++] = (int32_t)((uint32_t)(uint16_t)s[1] | ((uint32_t)(uint16_t)s[3] << 16));
    }
  }
  const int32_t rp = row_pitch(p), pp = px_pitch(p), span = p->dil_w * (k_w - 1) + 1;
  /* the pixels whose fields lie inside the input horizontally: [xa, xb) */
  int32_t xa = (p->pad_w + p->stride_w - 1) / p->stride_w;
  int32_t xb = p->in_w - span + p->pad_w >= 0 ? (p->in_w - span + p->pad_w) / p->stride_w + 1 : 0;
  xa = xa < p->out_w ? xa : p->out_w;
  xb = xb < p->out_w ? xb : p->out_w;
  xb = xb > xa ? xb : xa;
  d3_args_t a;
  a.w16 = w16;
  for (int32_t c = 0; c < 3; ++c) {
    a.bias[c] = t[c].bias;
  }
  a.px_off = 0;
  a.cur = 0;
  a.rq = t;
  a.ostep = pp;
  const int8_t *runs[TC_D3_MAX_RUNS];
  for (int32_t oy = oy0; oy < oy1; ++oy) {
    int8_t *const orow = out_px(p, out, oy, 0, rp, pp);
    const int32_t y0 = oy * p->stride_h - p->pad_h;
    if (y0 < 0 || y0 + p->dil_h * (p->k_h - 1) >= p->in_h || xb == xa) {
      d3_border(p, in, oy, 0, p->out_w, orow, fb, &a);
      continue;
    }
    d3_border(p, in, oy, 0, xa, orow, fb, &a);
    a.runs = runs;
    a.runs_end = runs + nrun;
    a.run8 = run >> 3;
    if (!taps) {
      for (int32_t ky = 0; ky < p->k_h; ++ky) {
        runs[ky] = src_row(p, in, y0 + p->dil_h * ky) + (int64_t)(xa * p->stride_w - p->pad_w) * in_c;
      }
      a.npix = xb - xa;
      a.xstep = p->stride_w * in_c;
      a.out = orow + (int64_t)xa * pp;
      dot1x3_runs(&a);
    } else {
      a.npix = 1;
      a.xstep = 0;
      for (int32_t ox = xa; ox < xb; ++ox) {
        const int32_t xs = ox * p->stride_w - p->pad_w;
        for (int32_t ky = 0, i = 0; ky < p->k_h; ++ky) {
          const int8_t *row = src_row(p, in, y0 + p->dil_h * ky);
          for (int32_t kx = 0; kx < k_w; ++kx, ++i) {
            const int32_t ix = xs + p->dil_w * kx;
            runs[i] = row + (int64_t)(p->x_map != 0 ? (int32_t)p->x_map[ix] : ix) * in_c;
          }
        }
        a.out = orow + (int64_t)ox * pp;
        dot1x3_runs(&a);
      }
    }
    d3_border(p, in, oy, xb, p->out_w, orow, fb, &a);
  }
  return 1;
}

static void conv_blocked(const tc_conv_params_t *p, const int8_t *in, int8_t *out, int32_t oy0, int32_t oy1) {
  const int32_t K = p->k_h * p->k_w * p->in_c, k8 = (K + 7) & ~7, out_c = p->out_c;
  const int32_t n_px = (oy1 - oy0) * p->out_w;
  int16_t *const buf = (int16_t *)(void *)p->scratch;
  const int32_t rp = row_pitch(p), pp = px_pitch(p);
  rqf_t *t = p->scratch_bytes >= NPX * 2 * k8 + (int32_t)sizeof(rqf_t) * out_c
                 ? (rqf_t *)(void *)(p->scratch + NPX * 2 * k8)
                 : 0;
  if (t != 0 && !rq_table(p, t, K)) {
    t = 0;
  }
#if defined(TC_CONV_DSP)
  /* the asm reads word-aligned weight rows of round_up(K, 4) bytes: else a zero-padded copy (if room) */
  const int32_t k4 = (K + 3) & ~3;
  const int8_t *w = p->weights;
  if (t != 0 && ((K & 3) != 0 || ((uintptr_t)w & 3u) != 0)) {
    int8_t *const wp = p->scratch + NPX * 2 * k8 + (int32_t)sizeof(rqf_t) * out_c;
    if (p->scratch_bytes >= NPX * 2 * k8 + ((int32_t)sizeof(rqf_t) + k4) * out_c) {
      for (int32_t oc = 0; oc < out_c; ++oc) { /* by words: up to 3 bytes past K, zeroed after */
        const int8_t *src = p->weights + (int64_t)oc * K;
        const int32_t n = oc + 1 < out_c ? K : K & ~3; /* not past the end of the last row */
        if (n > 0) {
          copy_words((uint8_t *)wp + oc * k4, src, n);
        }
        for (int32_t i = n; i < k4; ++i) {
          wp[oc * k4 + i] = i < K ? src[i] : 0;
        }
      }
      w = wp;
    } else {
      w = 0;
    }
  }
  const int32_t n_asm = t != 0 && w != 0 && k4 >= 16 ? out_c : 0;
  dot_args_t a;
  a.n16 = k4 >> 4;
  a.rq_end = t + out_c;
#else
  const int32_t n_asm = 0;
#endif
  const int whole_rows =
      p->x_map == 0 && p->dil_w == 1 && p->k_h <= TC_MAX_KH && ((p->in_c & 3) == 0 || k8 <= TC_STAGE);
  int32_t oy = oy0, ox = 0;
  for (int32_t n = 0; n < n_px;) {
    const int32_t cnt = n_px - n < NPX ? n_px - n : NPX, oy_first = oy, ox_first = ox;
    int8_t *o[NPX]; /* each pixel addressed on its own: blocks may cross rows, the ring's wrap, phases */
    n += cnt;
    const int32_t y0 = oy * p->stride_h - p->pad_h, x0 = ox * p->stride_w - p->pad_w;
    if (whole_rows && cnt == NPX && ox + NPX <= p->out_w && y0 >= 0 &&
        y0 + p->dil_h * (p->k_h - 1) < p->in_h && x0 >= 0 &&
        x0 + (NPX - 1) * p->stride_w + p->k_w <= p->in_w) { /* one row, inside the input */
      const int8_t *rows[TC_MAX_KH];
      for (int32_t ky = 0; ky < p->k_h; ++ky) {
        rows[ky] = src_row(p, in, y0 + p->dil_h * ky);
      }
      im2col_row_block(p, rows, x0, buf, k8);
      o[0] = out_px(p, out, oy, ox, rp, pp);
      for (int32_t q = 1; q < NPX; ++q) {
        o[q] = o[q - 1] + pp;
      }
      if ((ox += NPX) == p->out_w) {
        ox = 0;
        ++oy;
      }
    } else {
      for (int32_t q = 0; q < NPX; ++q) {
        if (q < cnt) {
          o[q] = out_px(p, out, oy, ox, rp, pp);
          im2col_s16(p, in, oy, ox, buf + 4 * q, k8);
          if (++ox == p->out_w) {
            ox = 0;
            ++oy;
          }
        } else { /* a copy of pixel 0, stored to pixel 0 again (the same bytes) */
          o[q] = o[0];
          im2col_s16(p, in, oy_first, ox_first, buf + 4 * q, k8);
        }
      }
    }
#if defined(TC_CONV_DSP)
    if (n_asm > 0) {
      a.w = w;
      a.buf = buf;
      a.rq = t;
      for (int32_t q = 0; q < NPX; ++q) {
        a.o[q] = o[q];
      }
      switch (k4 & 12) {
        case 0:
          dot4_rq_0(&a);
          break;
        case 4:
          dot4_rq_4(&a);
          break;
        case 8:
          dot4_rq_8(&a);
          break;
        default:
          dot4_rq_12(&a);
          break;
      }
    }
#endif
    block_dot_c(p, buf, o, n_asm, out_c, t);
  }
}

int tc_conv_rows_fast(const tc_conv_params_t *p, const int8_t *in, int8_t *out, int32_t oy_begin,
                      int32_t oy_end) {
  const int32_t K = p->k_h * p->k_w * p->in_c;
  if (p->scratch == 0 || p->bias_fold == 0 || K < 1 || p->scratch_bytes < NPX * 2 * ((K + 7) & ~7)) {
    return 0;
  }
  if (!conv_d3(p, in, out, oy_begin, oy_end)) {
    conv_blocked(p, in, out, oy_begin, oy_end);
  }
  return 1;
}
#endif
#else /* portable build: no fast path */
int tc_conv_rows_fast(const tc_conv_params_t *p, const int8_t *in, int8_t *out, int32_t oy_begin,
                      int32_t oy_end) {
  (void)p;
  (void)in;
  (void)out;
  (void)oy_begin;
  (void)oy_end;
  return 0;
}
#endif

int tc_conv2d_s8_fast(const tc_conv_params_t *p, const int8_t *in, int8_t *out) {
  return tc_conv_rows_fast(p, in, out, 0, p->out_h);
}
