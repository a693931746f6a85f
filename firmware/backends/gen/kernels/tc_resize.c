/* RESIZE_NEAREST_NEIGHBOR int8: gather with precomputed source indices. */
#include <string.h>

#include "tc_kernels.h"

void tc_resize_nearest_s8(const tc_resize_nn_params_t *p, const int8_t *in, int8_t *out) {
  const int32_t c = p->c;
  for (int32_t oy = 0; oy < p->out_h; ++oy) {
    const int8_t *in_row = in + (int64_t)p->y_map[oy] * p->in_w * c;
    int8_t *out_row = out + (int64_t)oy * p->out_w * c;
    for (int32_t ox = 0; ox < p->out_w; ++ox) {
      memcpy(out_row + (int64_t)ox * c, in_row + (int64_t)p->x_map[ox] * c, (size_t)c);
    }
  }
}
