/* A memory-lean TRANSPOSE_CONV (int8, per-channel) for TFLM builds whose TRANSPOSE_CONV keeps an int32
 * copy of the whole output in the arena: TFLM's reference kernel (any version) and therefore every TFLM
 * without CMSIS-NN's transpose conv (e.g. the Nucleo env's 2022 pin). For tc-v2's decoder that copy is
 * 64x64x56 x 4 B = 917,504 B, which makes the arena ~1.2 MB, more than a Cortex-M7's 512 KB AXI SRAM.
 *
 * This kernel gathers instead of scattering: every output is bias + the int32 sum of exactly the
 * (input + input_offset) * weight products that the reference's scatter loop adds into that output
 * (integer addition is associative, so the sum is bit-identical), then the same requantization
 * (tflite::MultiplyByQuantizedMultiplier with the per-channel multipliers of
 * tflite::PopulateConvolutionQuantizationParams) and clamp. No scratch buffer, no int32 copy.
 *
 * Opt-in with -D TC_TFLM_LEAN_TRANSPOSE_CONV (backend_tflm.cc then resolves TRANSPOSE_CONV to it); int8
 * only (the op fails at Prepare on other types). Compiles against TFLM's 2022 API (TfLiteRegistration) and
 * later ones (TFLMRegistration): the registration type is whatever tflite::Register_TRANSPOSE_CONV()
 * returns. */
#ifndef TC_TFLM_TCONV_H
#define TC_TFLM_TCONV_H

#include "tensorflow/lite/micro/kernels/micro_ops.h"

using TcTflmRegistration = decltype(tflite::Register_TRANSPOSE_CONV());

/* The lean registration (static storage; same fields as the library's, other hooks replaced). */
const TcTflmRegistration *tc_tflm_lean_transpose_conv();

#endif /* TC_TFLM_TCONV_H */
