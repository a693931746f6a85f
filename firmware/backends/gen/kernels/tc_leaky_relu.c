/* LEAKY_RELU int8, reference_ops::QuantizeLeakyRelu semantics. Elementwise: safe in place. */
#include "tc_fixedpoint.h"
#include "tc_kernels.h"

void tc_leaky_relu_s8(const tc_leaky_relu_params_t *p, const int8_t *in, int8_t *out) {
  for (int32_t i = 0; i < p->size; ++i) {
    const int32_t v = (int32_t)in[i] - p->in_zp;
    int32_t r;
    if (v >= 0) {
      r = p->out_zp + tc_mul_by_quantized_multiplier(v, p->mult_identity, (int)p->shift_identity);
    } else {
      r = p->out_zp + tc_mul_by_quantized_multiplier(v, p->mult_alpha, (int)p->shift_alpha);
    }
    out[i] = (int8_t)tc_clamp_i32(r, -128, 127);
  }
}
