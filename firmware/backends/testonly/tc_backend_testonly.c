/* TEST-ONLY backend (env qemu_m4_selftest, -DTC_BACKEND_TESTONLY): no neural network. It exists
 * so the protocol tests can RUN something without generated model code. Model 0 "negate"
 * (64x64x3 -> 64x64x3, out = -in saturated), model 1 "sum4" (4x4x4 -> 1x1x4, per-channel sum
 * of 16 values, saturated). Never use its numbers as codec results. */
#include <stddef.h>

#include "tc_backend.h"

static const tc_model_desc_t k_models[] = {
    {"negate", 64 * 64 * 3, 64 * 64 * 3, 64, 64, 3, 64, 64, 3, TC_ROLE_NONE, 0},
    {"sum4", 4 * 4 * 4, 4, 4, 4, 4, 1, 1, 4, TC_ROLE_NONE, 0},
};

static const uint8_t k_hash[32] = {'t', 'e', 's', 't', 'o', 'n', 'l', 'y'};

static int8_t sat8(int v) { return (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v); }

static int testonly_init(void) { return 0; }

static int testonly_run(int idx, const int8_t *in, int8_t *out) {
  if (idx == 0) {
    for (size_t i = 0; i < k_models[0].input_bytes; i++) out[i] = sat8(-in[i]);
    return 0;
  }
  if (idx == 1) {
    for (int c = 0; c < 4; c++) {
      int s = 0;
      for (int p = 0; p < 16; p++) s += in[p * 4 + c];
      out[c] = sat8(s);
    }
    return 0;
  }
  return -1;
}

const tc_backend_t tc_backend = {
    "testonly", k_hash, 2, k_models, 0, testonly_init, testonly_run,
};
