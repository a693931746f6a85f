/* ADD int8 (no broadcast), reference_integer_ops::AddElementwise semantics.
 * Elementwise: safe to run in place (out may alias in1 or in2). */
#include "tc_fixedpoint.h"
#include "tc_kernels.h"

static inline int32_t tc_mul_smaller_than_one(int32_t x, int32_t mult, int32_t left_shift) {
  return tc_rounding_divide_by_pot(tc_sat_rounding_doubling_high_mul(x, mult), (int)-left_shift);
}

void tc_add_s8(const tc_add_params_t *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  for (int32_t i = 0; i < p->size; ++i) {
    const int32_t v1 = (p->in1_offset + in1[i]) * (1 << p->left_shift);
    const int32_t v2 = (p->in2_offset + in2[i]) * (1 << p->left_shift);
    const int32_t s1 = tc_mul_smaller_than_one(v1, p->in1_mult, p->in1_shift);
    const int32_t s2 = tc_mul_smaller_than_one(v2, p->in2_mult, p->in2_shift);
    const int32_t raw = tc_mul_smaller_than_one(s1 + s2, p->out_mult, p->out_shift) + p->out_offset;
    out[i] = (int8_t)tc_clamp_i32(raw, p->act_min, p->act_max);
  }
}
