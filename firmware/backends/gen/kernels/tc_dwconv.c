/* DEPTHWISE_CONV_2D int8 per-channel, reference_integer_ops::DepthwiseConvPerChannel semantics. */
#include "tc_fixedpoint.h"
#include "tc_kernels.h"

void tc_dwconv2d_s8(const tc_dwconv_params_t *p, const int8_t *in, int8_t *out) {
  for (int32_t oy = 0; oy < p->out_h; ++oy) {
    const int32_t in_y0 = oy * p->stride_h - p->pad_h;
    for (int32_t ox = 0; ox < p->out_w; ++ox) {
      const int32_t in_x0 = ox * p->stride_w - p->pad_w;
      int8_t *out_px = out + ((int64_t)oy * p->out_w + ox) * p->out_c;
      for (int32_t ic = 0; ic < p->in_c; ++ic) {
        for (int32_t m = 0; m < p->depth_mult; ++m) {
          const int32_t oc = m + ic * p->depth_mult;
          int32_t acc = 0;
          for (int32_t ky = 0; ky < p->k_h; ++ky) {
            const int32_t iy = in_y0 + p->dil_h * ky;
            if (iy < 0 || iy >= p->in_h) {
              continue;
            }
            for (int32_t kx = 0; kx < p->k_w; ++kx) {
              const int32_t ix = in_x0 + p->dil_w * kx;
              if (ix < 0 || ix >= p->in_w) {
                continue;
              }
              const int32_t in_val = in[((int64_t)iy * p->in_w + ix) * p->in_c + ic];
              const int32_t w_val = p->weights[((int64_t)ky * p->k_w + kx) * p->out_c + oc];
              acc += w_val * (in_val + p->in_offset);
            }
          }
          if (p->bias != 0) {
            acc += p->bias[oc];
          }
          acc = tc_mul_by_quantized_multiplier(acc, p->out_mult[oc], (int)p->out_shift[oc]);
          acc += p->out_offset;
          out_px[oc] = (int8_t)tc_clamp_i32(acc, p->act_min, p->act_max);
        }
      }
    }
  }
}
