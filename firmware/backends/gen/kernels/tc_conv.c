/* CONV_2D int8 per-channel, reference_integer_ops::ConvPerChannel semantics (batch 1, groups 1),
 * optionally reading its input through nearest-neighbour index maps (fused upsampling). */
#include "tc_fixedpoint.h"
#include "tc_kernels.h"

void tc_conv2d_s8(const tc_conv_params_t *p, const int8_t *in, int8_t *out) {
  tc_conv_rows(p, in, out, 0, p->out_h);
}

void tc_conv_rows(const tc_conv_params_t *p, const int8_t *in, int8_t *out, int32_t oy_begin,
                  int32_t oy_end) {
  if (tc_conv_rows_fast(p, in, out, oy_begin, oy_end)) {
    return;
  }
  const int32_t in_c = p->in_c;
  const int64_t row_pitch = p->out_row_pitch > 0 ? p->out_row_pitch : (int64_t)p->out_w * p->out_c;
  const int64_t px_pitch = p->out_px_pitch > 0 ? p->out_px_pitch : p->out_c;
  for (int32_t oy = oy_begin; oy < oy_end; ++oy) {
    const int32_t in_y0 = oy * p->stride_h - p->pad_h;
    const int32_t row = p->out_ring_h > 0 ? oy % p->out_ring_h : oy;
    for (int32_t ox = 0; ox < p->out_w; ++ox) {
      const int32_t in_x0 = ox * p->stride_w - p->pad_w;
      int8_t *out_px = out + row * row_pitch + ox * px_pitch;
      for (int32_t oc = 0; oc < p->out_c; ++oc) {
        const int8_t *w_oc = p->weights + (int64_t)oc * p->k_h * p->k_w * in_c;
        int32_t acc = 0;
        for (int32_t ky = 0; ky < p->k_h; ++ky) {
          const int32_t iy = in_y0 + p->dil_h * ky;
          if (iy < 0 || iy >= p->in_h) {
            continue;
          }
          int32_t sy = p->y_map != 0 ? (int32_t)p->y_map[iy] : iy;
          if (p->in_ring_h > 0) {
            sy %= p->in_ring_h;
          }
          for (int32_t kx = 0; kx < p->k_w; ++kx) {
            const int32_t ix = in_x0 + p->dil_w * kx;
            if (ix < 0 || ix >= p->in_w) {
              continue;
            }
            const int32_t sx = p->x_map != 0 ? (int32_t)p->x_map[ix] : ix;
            const int8_t *in_px = in + ((int64_t)sy * p->src_w + sx) * in_c;
            const int8_t *w = w_oc + ((int64_t)ky * p->k_w + kx) * in_c;
            for (int32_t ic = 0; ic < in_c; ++ic) {
              acc += (int32_t)w[ic] * ((int32_t)in_px[ic] + p->in_offset);
            }
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
