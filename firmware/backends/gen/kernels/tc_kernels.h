/* tinycodec portable int8 kernels (the `gen` backend).
 * Layout: NHWC activations (batch 1), OHWI conv weights, 1HWO depthwise weights, as TFLite stores them.
 * Semantics are bit-exact with TFLite's reference kernels (reference_integer_ops / reference_ops).
 * No allocation, no floating point: every float-derived constant is precomputed by codegen. */
#ifndef TC_KERNELS_H
#define TC_KERNELS_H

#include <stdint.h>

/* CONV_2D, per-channel int8 weights (symmetric), int32 bias.
 * Optional fused nearest-neighbour upsampling of the input: when y_map/x_map are set, the conv sees a
 * virtual in_h x in_w input whose row r / column c is source row y_map[r] / column x_map[c] of a
 * src_w-wide tensor (RESIZE_NEAREST_NEIGHBOR + CONV_2D without materialising the resized tensor). */
typedef struct {
  int32_t in_h, in_w, in_c; /* (virtual) input seen by the convolution */
  int32_t out_h, out_w, out_c;
  int32_t k_h, k_w;
  int32_t stride_h, stride_w;
  int32_t dil_h, dil_w;
  int32_t pad_h, pad_w;     /* top / left padding */
  int32_t in_offset;        /* -input zero point */
  int32_t out_offset;       /* output zero point */
  int32_t act_min, act_max; /* fused activation as output clamp */
  const int8_t *weights;    /* [out_c][k_h][k_w][in_c] */
  const int32_t *bias;      /* [out_c] or NULL */
  const int32_t *out_mult;  /* [out_c] Q31 */
  const int32_t *out_shift; /* [out_c] */
  const uint16_t *y_map;    /* [in_h] source rows, or NULL */
  const uint16_t *x_map;    /* [in_w] source columns, or NULL */
  int32_t src_w;            /* width of the source tensor (= in_w without maps) */
  /* Fast paths (tc_conv_fast.c; the portable loop ignores these): */
  const int32_t *bias_fold; /* [out_c] bias + in_offset * sum(weights[oc]) (MVE path), or NULL */
  int8_t *scratch;          /* TC_CONV_SCRATCH_BYTES(k_h * k_w * in_c, out_c) bytes, or NULL */
  int32_t scratch_bytes;    /* size of scratch */
  /* Row-banded execution (codegen's patch-wise schedule; 0 = a plain full tensor): */
  int32_t in_ring_h;  /* input is a ring of this many source rows: source row r lives at row r % in_ring_h */
  int32_t out_ring_h; /* output is a ring of this many rows: output row oy is stored at row oy % out_ring_h */
  /* Strided output (the phases of tc_transpose_conv_s8; 0 = a dense NHWC tensor): output pixel (oy, ox)
   * is stored at out + row * out_row_pitch + ox * out_px_pitch (row = oy, or oy % out_ring_h). */
  int32_t out_row_pitch; /* bytes from one output row to the next; 0 = out_w * out_c */
  int32_t out_px_pitch;  /* bytes from one output pixel to the next in a row; 0 = out_c */
} tc_conv_params_t;

/* Scratch needed by the fast paths for a reduction depth k = k_h * k_w * in_c and out_c output channels
 * (DSP: 4 output pixels x int16 x round_up(k, 8) + 16 bytes of requantization constants per channel, + the
 * weights in rows of round_up(k, 4) bytes if k % 4 != 0 (or they start unaligned); MVE: 2 pixels x int8 x
 * round_up(k, 16), never more). Codegen sizes one static buffer (the max over all convs of all models); with
 * less the DSP path falls back to slower C. */
#define TC_CONV_SCRATCH_BYTES(k, out_c) \
  (8 * (((k) + 7) / 8 * 8) + 16 * (out_c) + ((k) % 4 != 0 ? (out_c) * (((k) + 3) / 4 * 4) : 0))

/* All output rows: tc_conv_rows(p, in, out, 0, p->out_h). */
void tc_conv2d_s8(const tc_conv_params_t *p, const int8_t *in, int8_t *out);
/* Output rows [oy_begin, oy_end) only (row-banded schedules). With in_ring_h / out_ring_h set, input and
 * output rows are addressed modulo the ring height; the caller guarantees that the source rows these
 * output rows read are resident. Same arithmetic as the full conv, bit-exact. */
void tc_conv_rows(const tc_conv_params_t *p, const int8_t *in, int8_t *out, int32_t oy_begin, int32_t oy_end);
/* The target's fast path (MVE, DSP, or the host's TC_CONV_GENERIC_BLOCKED build) for output rows
 * [oy_begin, oy_end): returns 1 if it ran, 0 if not available for this target/parameters (the caller
 * then runs the reference loop). */
int tc_conv_rows_fast(const tc_conv_params_t *p, const int8_t *in, int8_t *out, int32_t oy_begin,
                      int32_t oy_end);
int tc_conv2d_s8_fast(const tc_conv_params_t *p, const int8_t *in, int8_t *out); /* all rows */

/* TRANSPOSE_CONV, per-channel int8 weights (symmetric), optional int32 bias, fused activation clamp.
 * Bit-exact with reference_integer_ops::TransposeConv, computed as stride_h x stride_w output phases
 * (sub-pixel convolution): phase (py, px) holds the output pixels (stride_h * y + py, stride_w * x + px)
 * and is an ordinary stride-1 CONV_2D of the input with a sub-kernel of the (flipped) filter taps that
 * reach it, precomputed by codegen. Every output is still bias + the int32 sum of exactly the
 * (input + in_offset) * weight products of the reference scatter loop, then the same requantization;
 * the phases run through tc_conv2d_s8 (reference loop or the target's fast path) writing strided. */
#define TC_TCONV_PHASE_FIELDS 4 /* per phase: k_h, k_w, pad_h, pad_w of the sub-kernel */
typedef struct {
  int32_t in_h, in_w, in_c;
  int32_t out_h, out_w, out_c;
  int32_t stride_h, stride_w; /* = phases per axis */
  int32_t in_offset;          /* -input zero point */
  int32_t out_offset;         /* output zero point */
  int32_t act_min, act_max;   /* fused activation as output clamp */
  const int8_t *weights;      /* the phases' sub-kernels, each [out_c][k_h][k_w][in_c], phase-major */
  const int32_t *bias;        /* [out_c] or NULL */
  const int32_t *out_mult;    /* [out_c] Q31 */
  const int32_t *out_shift;   /* [out_c] */
  const int32_t *phases;      /* [stride_h * stride_w][TC_TCONV_PHASE_FIELDS], phase = py * stride_w + px */
  const int32_t *bias_fold;   /* [stride_h * stride_w][out_c] per phase, as tc_conv_params_t, or NULL */
  int8_t *scratch;            /* conv fast-path scratch (max over the phases), or NULL */
  int32_t scratch_bytes;
} tc_tconv_params_t;

void tc_transpose_conv_s8(const tc_tconv_params_t *p, const int8_t *in, int8_t *out);

/* DEPTHWISE_CONV_2D: out_c = in_c * depth_mult, weights [1][k_h][k_w][out_c]. */
typedef struct {
  int32_t in_h, in_w, in_c;
  int32_t out_h, out_w, out_c;
  int32_t depth_mult;
  int32_t k_h, k_w;
  int32_t stride_h, stride_w;
  int32_t dil_h, dil_w;
  int32_t pad_h, pad_w;
  int32_t in_offset, out_offset;
  int32_t act_min, act_max;
  const int8_t *weights;
  const int32_t *bias;
  const int32_t *out_mult;
  const int32_t *out_shift;
} tc_dwconv_params_t;

void tc_dwconv2d_s8(const tc_dwconv_params_t *p, const int8_t *in, int8_t *out);

/* RESIZE_NEAREST_NEIGHBOR: source row/column tables are precomputed by codegen with the reference
 * kernel's float rules (align_corners / half_pixel_centers), so the kernel is a pure gather. */
typedef struct {
  int32_t in_h, in_w, c;
  int32_t out_h, out_w;
  const uint16_t *y_map; /* [out_h] source row */
  const uint16_t *x_map; /* [out_w] source column */
} tc_resize_nn_params_t;

void tc_resize_nearest_s8(const tc_resize_nn_params_t *p, const int8_t *in, int8_t *out);

/* ADD (same shapes, no broadcast): reference quantized add with left_shift 20. */
typedef struct {
  int32_t size;
  int32_t in1_offset, in2_offset, out_offset;
  int32_t left_shift;
  int32_t in1_mult, in1_shift;
  int32_t in2_mult, in2_shift;
  int32_t out_mult, out_shift;
  int32_t act_min, act_max;
} tc_add_params_t;

void tc_add_s8(const tc_add_params_t *p, const int8_t *in1, const int8_t *in2, int8_t *out);

/* MUL (same shapes, no broadcast): reference_integer_ops::MulElementwise; out_mult / out_shift from the
 * double in1_scale * in2_scale / out_scale (QuantizeMultiplier). Elementwise: safe in place. */
typedef struct {
  int32_t size;
  int32_t in1_offset, in2_offset, out_offset; /* -zero points of the inputs, output zero point */
  int32_t out_mult, out_shift;
  int32_t act_min, act_max;
} tc_mul_params_t;

void tc_mul_s8(const tc_mul_params_t *p, const int8_t *in1, const int8_t *in2, int8_t *out);

/* CONCATENATION: all inputs share the output scale and zero point (as the int8 reference requires). */
typedef struct {
  int32_t n_inputs;
  int32_t outer;            /* product of dims before the axis */
  const int32_t *copy_size; /* [n_inputs] dims(axis) * inner size of each input */
} tc_concat_params_t;

void tc_concat_s8(const tc_concat_params_t *p, const int8_t *const *ins, int8_t *out);

/* LEAKY_RELU int8. */
typedef struct {
  int32_t size;
  int32_t in_zp, out_zp;
  int32_t mult_identity, shift_identity;
  int32_t mult_alpha, shift_alpha;
} tc_leaky_relu_params_t;

void tc_leaky_relu_s8(const tc_leaky_relu_params_t *p, const int8_t *in, int8_t *out);

/* Any int8 -> int8 elementwise map as a 256-entry table: out[i] = table[in[i] + 128]. Used for RELU
 * (ReluQuantized: out_zp + MultiplyByQuantizedMultiplier(in - in_zp), clamped) and RSQRT (the integer
 * inverse square root of TFLite's int8 Rsqrt kernel); codegen evaluates them for all 256 inputs with the
 * exact integer arithmetic. Elementwise: safe in place. */
typedef struct {
  int32_t size;
  const int8_t *table; /* [256], indexed by input + 128 */
} tc_lut_params_t;

void tc_lut_s8(const tc_lut_params_t *p, const int8_t *in, int8_t *out);

#endif /* TC_KERNELS_H */
