/* CONCATENATION int8 (any axis), reference_ops::Concatenation semantics (no rescaling). */
#include <string.h>

#include "tc_kernels.h"

void tc_concat_s8(const tc_concat_params_t *p, const int8_t *const *ins, int8_t *out) {
  int8_t *dst = out;
  for (int32_t k = 0; k < p->outer; ++k) {
    for (int32_t i = 0; i < p->n_inputs; ++i) {
      const int32_t n = p->copy_size[i];
      memcpy(dst, ins[i] + (int64_t)k * n, (size_t)n);
      dst += n;
    }
  }
}
