/* MUL int8 (same shapes, no broadcast), reference_integer_ops::MulElementwise semantics:
 * out = out_offset + MultiplyByQuantizedMultiplier((in1 + in1_offset) * (in2 + in2_offset)), clamped.
 * Elementwise: safe to run in place (out may alias in1 or in2; in1 and in2 may be the same tensor). */
#include "tc_fixedpoint.h"
#include "tc_kernels.h"

void tc_mul_s8(const tc_mul_params_t *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  /* The parameters in locals: the int8 stores may alias *p (char aliasing), which made the compiler reload
   * every field and recompute the shifts' masks per element (~58 instructions per element on the M4). */
  const int32_t n = p->size, off1 = p->in1_offset, off2 = p->in2_offset, out_off = p->out_offset;
  const int32_t mult = p->out_mult, lo = p->act_min, hi = p->act_max;
  const int shift = (int)p->out_shift;
  for (int32_t i = 0; i < n; ++i) {
    const int32_t prod = (off1 + in1[i]) * (off2 + in2[i]); /* |prod| <= 255 * 255 */
    out[i] = (int8_t)tc_clamp_i32(out_off + tc_mul_by_quantized_multiplier(prod, mult, shift), lo, hi);
  }
}
