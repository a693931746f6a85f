/* Memory-lean int8 TRANSPOSE_CONV for TFLM (see tc_tflm_tconv.h): a gather loop, no scratch buffer. */
#include "tc_tflm_tconv.h"

#include <stdint.h>

#include "tensorflow/lite/c/builtin_op_data.h"
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/kernels/internal/common.h"
#include "tensorflow/lite/kernels/kernel_util.h"
#include "tensorflow/lite/kernels/padding.h"
#include "tensorflow/lite/micro/kernels/kernel_util.h"
#include "tensorflow/lite/micro/micro_context.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace {

/* TRANSPOSE_CONV's tensors: input 0 is the output-shape tensor (static in TFLM, unused). */
constexpr int kFilter = 1;
constexpr int kInput = 2;
constexpr int kBias = 3;
constexpr int kOutput = 0;

struct LeanTconvData {
  int32_t *mult; /* [out_c] Q31 per-channel multipliers */
  int32_t *shift;
  int32_t pad_h, pad_w, stride_h, stride_w;
  int32_t in_offset, out_offset, act_min, act_max;
};

/* The fused activation where the params carry one (TFLM 2023+), else none (the 2022 reference ignores it,
 * and the converter emits a separate RELU after a transposed conv). */
template <typename P>
auto fused_activation(const P *p, int) -> decltype(p->activation) {
  return p->activation;
}
template <typename P>
TfLiteFusedActivation fused_activation(const P *, long) {
  return kTfLiteActNone;
}

void *Init(TfLiteContext *context, const char *, size_t) {
  return context->AllocatePersistentBuffer(context, sizeof(LeanTconvData));
}

TfLiteStatus Prepare(TfLiteContext *context, TfLiteNode *node) {
  auto *data = static_cast<LeanTconvData *>(node->user_data);
  const auto *params = static_cast<const TfLiteTransposeConvParams *>(node->builtin_data);
  TF_LITE_ENSURE(context, data != nullptr && params != nullptr);
  const bool has_bias = node->inputs->size == 4;
  TF_LITE_ENSURE(context, has_bias || node->inputs->size == 3);
  TF_LITE_ENSURE_EQ(context, node->outputs->size, 1);

  tflite::MicroContext *mc = tflite::GetMicroContext(context);
  TfLiteTensor *input = mc->AllocateTempInputTensor(node, kInput);
  TfLiteTensor *filter = mc->AllocateTempInputTensor(node, kFilter);
  TfLiteTensor *bias = has_bias ? mc->AllocateTempInputTensor(node, kBias) : nullptr;
  TfLiteTensor *output = mc->AllocateTempOutputTensor(node, kOutput);
  TfLiteStatus status = kTfLiteError;
  if (input != nullptr && filter != nullptr && output != nullptr && input->type == kTfLiteInt8 &&
      filter->type == kTfLiteInt8 && output->type == kTfLiteInt8 &&
      filter->quantization.type == kTfLiteAffineQuantization) {
    const int out_c = filter->dims->data[0];
    data->mult = static_cast<int32_t *>(context->AllocatePersistentBuffer(context, out_c * sizeof(int32_t)));
    data->shift = static_cast<int32_t *>(context->AllocatePersistentBuffer(context, out_c * sizeof(int32_t)));
    int unused_h = 0, unused_w = 0;
    const TfLitePaddingValues pad = tflite::ComputePaddingHeightWidth(
        params->stride_height, params->stride_width, 1, 1, output->dims->data[1], output->dims->data[2],
        filter->dims->data[1], filter->dims->data[2], params->padding, &unused_h, &unused_w);
    data->pad_h = pad.height;
    data->pad_w = pad.width;
    data->stride_h = params->stride_height;
    data->stride_w = params->stride_width;
    data->in_offset = -input->params.zero_point;
    data->out_offset = output->params.zero_point;
    int32_t unused_mult = 0;
    int unused_shift = 0;
    if (data->mult != nullptr && data->shift != nullptr) {
      status = tflite::PopulateConvolutionQuantizationParams(
          context, input, filter, bias, output, fused_activation(params, 0), &unused_mult, &unused_shift,
          &data->act_min, &data->act_max, data->mult, data->shift, out_c);
    }
  }
  if (input != nullptr) mc->DeallocateTempTfLiteTensor(input);
  if (filter != nullptr) mc->DeallocateTempTfLiteTensor(filter);
  if (bias != nullptr) mc->DeallocateTempTfLiteTensor(bias);
  if (output != nullptr) mc->DeallocateTempTfLiteTensor(output);
  return status;
}

/* Output (oy, ox) receives input row iy from kernel row ky iff iy * stride - pad + ky = oy: the taps are
 * ky = (oy + pad) mod stride, + stride, ... with iy = (oy + pad - ky) / stride (same for columns). */
TfLiteStatus Invoke(TfLiteContext *context, TfLiteNode *node) {
  const auto &d = *static_cast<const LeanTconvData *>(node->user_data);
  const TfLiteEvalTensor *input = tflite::micro::GetEvalInput(context, node, kInput);
  const TfLiteEvalTensor *filter = tflite::micro::GetEvalInput(context, node, kFilter);
  const TfLiteEvalTensor *bias =
      node->inputs->size == 4 ? tflite::micro::GetEvalInput(context, node, kBias) : nullptr;
  TfLiteEvalTensor *output = tflite::micro::GetEvalOutput(context, node, kOutput);
  const int32_t in_h = input->dims->data[1], in_w = input->dims->data[2], in_c = input->dims->data[3];
  const int32_t k_h = filter->dims->data[1], k_w = filter->dims->data[2];
  const int32_t out_h = output->dims->data[1], out_w = output->dims->data[2], out_c = output->dims->data[3];
  const int8_t *in = input->data.int8;
  const int8_t *w = filter->data.int8;
  const int32_t *b = bias != nullptr ? bias->data.i32 : nullptr;
  int8_t *out = output->data.int8;
  const int32_t sh = d.stride_h, sw = d.stride_w;
  for (int32_t oy = 0; oy < out_h; ++oy) {
    const int32_t ky0 = (oy + d.pad_h) % sh;
    for (int32_t ox = 0; ox < out_w; ++ox, out += out_c) {
      const int32_t kx0 = (ox + d.pad_w) % sw;
      for (int32_t oc = 0; oc < out_c; ++oc) {
        int32_t acc = b != nullptr ? b[oc] : 0;
        for (int32_t ky = ky0; ky < k_h; ky += sh) {
          const int32_t iy = (oy + d.pad_h - ky) / sh;
          if (iy < 0 || iy >= in_h) continue;
          for (int32_t kx = kx0; kx < k_w; kx += sw) {
            const int32_t ix = (ox + d.pad_w - kx) / sw;
            if (ix < 0 || ix >= in_w) continue;
            const int8_t *x = in + (iy * in_w + ix) * in_c;
            const int8_t *wk = w + ((oc * k_h + ky) * k_w + kx) * in_c;
            for (int32_t ic = 0; ic < in_c; ++ic) {
              acc += (static_cast<int32_t>(x[ic]) + d.in_offset) * static_cast<int32_t>(wk[ic]);
            }
          }
        }
        acc = tflite::MultiplyByQuantizedMultiplier(acc, d.mult[oc], d.shift[oc]) + d.out_offset;
        out[oc] = static_cast<int8_t>(acc < d.act_min ? d.act_min : (acc > d.act_max ? d.act_max : acc));
      }
    }
  }
  return kTfLiteOk;
}

}  // namespace

const TcTflmRegistration *tc_tflm_lean_transpose_conv() {
  static TcTflmRegistration reg = [] {
    TcTflmRegistration r = tflite::Register_TRANSPOSE_CONV();
    r.init = Init;
    r.prepare = Prepare;
    r.invoke = Invoke;
    r.builtin_code = tflite::BuiltinOperator_TRANSPOSE_CONV; /* the interpreter picks the parser by it */
    return r;
  }();
  return &reg;
}
