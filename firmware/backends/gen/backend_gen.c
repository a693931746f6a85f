/* The `gen` inference backend: generated C (firmware/generated/, from `tinycodec codegen`) running on
 * the portable int8 kernels in kernels/. Everything is static: weights in flash, one activation arena
 * whose size is fixed at code generation time, plus
 * the conv kernels' im2col scratch (TC_GEN_RAM_BYTES = arena + scratch). */
#include "tc_backend.h"
#include "tc_model_data.h"

static int tc_gen_init(void) { return 0; }

const tc_backend_t tc_backend = {
    "gen", tc_gen_model_hash, TC_GEN_N_MODELS, tc_gen_models, TC_GEN_RAM_BYTES, tc_gen_init, tc_gen_run,
};
