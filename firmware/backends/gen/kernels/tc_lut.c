/* Elementwise int8 lookup table (RELU and other int8 -> int8 maps precomputed by codegen). Safe in place. */
#include "tc_kernels.h"

void tc_lut_s8(const tc_lut_params_t *p, const int8_t *in, int8_t *out) {
  const int8_t *t = p->table + 128;
  const int32_t n = p->size; /* a local: the int8 stores may alias *p */
  for (int32_t i = 0; i < n; ++i) {
    out[i] = t[in[i]];
  }
}
