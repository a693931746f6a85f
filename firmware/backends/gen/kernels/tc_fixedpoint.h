/* Fixed-point helpers, bit-exact with TFLite's reference integer arithmetic
 * (tensorflow/lite/kernels/internal/common.h, gemmlowp fixedpoint.h), double-rounding variant
 * (TFLITE_SINGLE_ROUNDING not defined, as in TFLite and TFLM default builds).
 * Assumes arithmetic right shift of negative int32 (true for gcc/clang on all our targets). */
#ifndef TC_FIXEDPOINT_H
#define TC_FIXEDPOINT_H

#include <stdint.h>

static inline int32_t tc_sat_rounding_doubling_high_mul(int32_t a, int32_t b) {
  if (a == b && a == INT32_MIN) {
    return INT32_MAX;
  }
  const int64_t ab = (int64_t)a * (int64_t)b;
  const int64_t nudge = ab >= 0 ? (int64_t)(1 << 30) : (int64_t)(1 - (1 << 30));
  return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

static inline int32_t tc_rounding_divide_by_pot(int32_t x, int exponent) {
  const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* MultiplyByQuantizedMultiplier: x * multiplier * 2^shift (multiplier is Q31). */
static inline int32_t tc_mul_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift) {
  const int left_shift = shift > 0 ? shift : 0;
  const int right_shift = shift > 0 ? 0 : -shift;
  const int32_t shifted = (int32_t)((uint32_t)x << left_shift); /* TFLite: x * (1 << left_shift) */
  return tc_rounding_divide_by_pot(tc_sat_rounding_doubling_high_mul(shifted, multiplier), right_shift);
}

static inline int32_t tc_clamp_i32(int32_t v, int32_t lo, int32_t hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

#endif /* TC_FIXEDPOINT_H */
