/* MUL int8 (same shapes, no broadcast), reference_integer_ops::MulElementwise semantics:
 * out = out_offset + MultiplyByQuantizedMultiplier((in1 + in1_offset) * (in2 + in2_offset)), clamped.
 * Elementwise: safe to run in place (out may alias in1 or in2; in1 and in2 may be the same tensor). */
#include "tc_fixedpoint.h"
#include "tc_kernels.h"

void tc_mul_s8(const tc_mul_params_t *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  for (int32_t i = 0; i < p->size; ++i) {
    const int32_t prod = (p->in1_offset + in1[i]) * (p->in2_offset + in2[i]); /* |prod| <= 255 * 255 */
    const int32_t raw = p->out_offset + tc_mul_by_quantized_multiplier(prod, p->out_mult, (int)p->out_shift);
    out[i] = (int8_t)tc_clamp_i32(raw, p->act_min, p->act_max);
  }
}
