/* The `tflm` inference backend: the bundle's .tflite flatbuffers (tc_tflm_models.cc, from
 * `tinycodec codegen --backend tflm`) run by the TensorFlow Lite Micro interpreter with the target's
 * optimized kernels (ESP-NN on ESP32-S3, CMSIS-NN on Cortex-M) picked by the TFLM build.
 *
 * RAM: ONE static arena of TC_TFLM_ARENA_BYTES serves all models, one model at a time. The interpreter
 * of the current model lives in static storage; a RUN for another model destroys it and constructs a
 * new one in the same arena (AllocateTensors again). That costs the switch time once per change of
 * model (included in that RUN's ticks) but needs max(arena) instead of sum(arena): tc-small needs
 * ~167 KB for a decoder vs ~945 KB for all eight interpreters at once. init() allocates every model
 * once, so a too small arena fails at boot (INFO reports the backend init error), not mid-benchmark.
 * No heap: placement new into static storage. */
#include <stdint.h>
#include <string.h>

#include <new>

#include "tc_backend.h"
#include "tc_tflm_models.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

#if defined(TC_TFLM_LEAN_TRANSPOSE_CONV)
#include "tc_tflm_tconv.h"
#endif

#if defined(ESP_PLATFORM)
#include "esp_attr.h" /* EXT_RAM_BSS_ATTR, for -DTC_TFLM_ARENA_ATTR=EXT_RAM_BSS_ATTR (arena in PSRAM) */
#endif

#ifndef TC_TFLM_ARENA_ATTR
#define TC_TFLM_ARENA_ATTR /* e.g. EXT_RAM_BSS_ATTR to put the arena in PSRAM on ESP32-S3 */
#endif

namespace {

#if defined(TC_TFLM_LEAN_TRANSPOSE_CONV)
/* The generated resolver, with TRANSPOSE_CONV answered by tinycodec's memory-lean kernel (tc_tflm_tconv.h)
 * instead of the library's (whose int32 copy of the output makes tc-v2's decoder arena ~1.2 MB). */
class TcResolver : public TcTflmOpResolver {
 public:
  using TcTflmOpResolver::FindOp;
  const TcTflmRegistration *FindOp(tflite::BuiltinOperator op) const override {
    const TcTflmRegistration *r = TcTflmOpResolver::FindOp(op);
    return (r != nullptr && op == tflite::BuiltinOperator_TRANSPOSE_CONV) ? tc_tflm_lean_transpose_conv() : r;
  }
};
#else
using TcResolver = TcTflmOpResolver;
#endif

alignas(16) TC_TFLM_ARENA_ATTR uint8_t g_arena[TC_TFLM_ARENA_BYTES];
TcResolver g_resolver;
alignas(tflite::MicroInterpreter) unsigned char g_interp_mem[sizeof(tflite::MicroInterpreter)];
tflite::MicroInterpreter *g_interp = nullptr;
int g_current = -1;
bool g_ops_ok = false;

void drop_interpreter() {
  if (g_interp != nullptr) {
    g_interp->~MicroInterpreter();
    g_interp = nullptr;
  }
  g_current = -1;
}

bool tensor_ok(const TfLiteTensor *t, uint32_t bytes) {
  return t != nullptr && t->type == kTfLiteInt8 && t->bytes == bytes && t->data.int8 != nullptr;
}

/* Make model idx the current one (0 = ok). */
int select_model(int idx) {
  if (idx == g_current) return 0;
  drop_interpreter();
  const tflite::Model *model = tflite::GetModel(tc_tflm_model_data[idx]);
  if (model == nullptr || model->version() != TFLITE_SCHEMA_VERSION) return -1;
  g_interp = new (g_interp_mem) tflite::MicroInterpreter(model, g_resolver, g_arena, sizeof g_arena);
  if (g_interp->AllocateTensors() != kTfLiteOk || g_interp->inputs_size() != 1 || g_interp->outputs_size() != 1 ||
      !tensor_ok(g_interp->input(0), tc_tflm_models[idx].input_bytes) ||
      !tensor_ok(g_interp->output(0), tc_tflm_models[idx].output_bytes)) {
    drop_interpreter();
    return -1;
  }
  g_current = idx;
  return 0;
}

int tflm_init() {
  if (!g_ops_ok) {
    if (tc_tflm_add_ops(g_resolver) != 0) return -1;
    g_ops_ok = true;
  }
  for (int i = 0; i < TC_TFLM_N_MODELS; i++) {
    if (select_model(i) != 0) return -1;
  }
  return 0;
}

int tflm_run(int idx, const int8_t *in, int8_t *out) {
  if (!g_ops_ok || idx < 0 || idx >= TC_TFLM_N_MODELS) return -1;
  if (select_model(idx) != 0) return -1;
  memcpy(g_interp->input(0)->data.int8, in, tc_tflm_models[idx].input_bytes);
  if (g_interp->Invoke() != kTfLiteOk) return -1;
  memcpy(out, g_interp->output(0)->data.int8, tc_tflm_models[idx].output_bytes);
  return 0;
}

}  // namespace

extern "C" const tc_backend_t tc_backend = {
    "tflm", tc_tflm_model_hash, TC_TFLM_N_MODELS, tc_tflm_models, TC_TFLM_ARENA_BYTES, tflm_init, tflm_run,
};
