/* TRANSPOSE_CONV int8 per-channel, reference_integer_ops::TransposeConv semantics (batch 1), as
 * stride_h x stride_w stride-1 convolutions (sub-pixel phases) writing interleaved output pixels.
 *
 * The reference scatters: input pixel (iy, ix) adds (in + in_offset) * w[ky][kx] to output
 * (iy * s - pad + ky, ix * s - pad + kx) in an int32 scratch, then adds the bias and requantizes.
 * Gathered per output pixel oy = s * y + py instead, the taps that reach it are ky = s * t + r with
 * r = (py + pad) % s, read from input row iy = y + (py + pad) / s - t: a stride-1 convolution of the input
 * with the sub-kernel of those taps (flipped: sub-row k' = T - 1 - t, top padding T - 1 - (py + pad) / s),
 * which codegen precomputes per phase (weights, k_h/k_w, pad_h/pad_w). The int32 sums contain exactly the
 * reference's products (integer addition is associative), so the result is bit-exact, without an int32
 * scratch of the whole output and without a MAC on an inserted zero. */
#include "tc_kernels.h"

void tc_transpose_conv_s8(const tc_tconv_params_t *p, const int8_t *in, int8_t *out) {
  const int32_t sh = p->stride_h, sw = p->stride_w;
  const int8_t *w = p->weights;
  for (int32_t py = 0; py < sh; ++py) {
    for (int32_t px = 0; px < sw; ++px) {
      const int32_t phase = py * sw + px;
      const int32_t *g = p->phases + phase * TC_TCONV_PHASE_FIELDS;
      tc_conv_params_t c = {0};
      c.in_h = p->in_h;
      c.in_w = p->in_w;
      c.in_c = p->in_c;
      c.out_h = (p->out_h - py + sh - 1) / sh; /* output rows py, py + sh, ... */
      c.out_w = (p->out_w - px + sw - 1) / sw;
      c.out_c = p->out_c;
      c.k_h = g[0];
      c.k_w = g[1];
      c.stride_h = c.stride_w = c.dil_h = c.dil_w = 1;
      c.pad_h = g[2];
      c.pad_w = g[3];
      c.in_offset = p->in_offset;
      c.out_offset = p->out_offset;
      c.act_min = p->act_min;
      c.act_max = p->act_max;
      c.weights = w;
      c.bias = p->bias;
      c.out_mult = p->out_mult;
      c.out_shift = p->out_shift;
      c.src_w = p->in_w;
      c.bias_fold = p->bias_fold != 0 ? p->bias_fold + (int64_t)phase * p->out_c : 0;
      c.scratch = p->scratch;
      c.scratch_bytes = p->scratch_bytes;
      c.out_row_pitch = sh * p->out_w * p->out_c;
      c.out_px_pitch = sw * p->out_c;
      w += (int64_t)p->out_c * c.k_h * c.k_w * p->in_c;
      if (c.out_h > 0 && c.out_w > 0) {
        tc_conv2d_s8(&c, in, out + ((int64_t)py * p->out_w + px) * p->out_c);
      }
    }
  }
}
