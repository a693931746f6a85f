/* Kernel benchmark driver (scripts/bench_kernels.py, `make bench-kernels`): bare-metal, semihosted stdout,
 * on the emulated boards under QEMU -icount shift=0. Runs every generated model (codegen with per-op
 * profiling hooks: tc_gen_profile_step after each kernel call) once on a pseudo-random input and prints
 *   model <idx> <ticks>
 *   op <idx> <op index> <ticks> <calls>
 * Ticks are the FPGAIO 25 MHz counter: under -icount shift=0 one tick = 40 guest instructions (an
 * instruction count, not cycles). Not part of any firmware build. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tc_model_data.h"
#include "tc_port.h"

#ifndef KB_IN_BYTES
#error "KB_IN_BYTES (largest model input) must be defined"
#endif
#ifndef KB_OUT_BYTES
#error "KB_OUT_BYTES (largest model output) must be defined"
#endif
#define KB_MAX_OPS 256

void tc_fpgaio_timer_init(void);
void initialise_monitor_handles(void); /* newlib rdimon: semihosted stdio */

static int8_t s_in[KB_IN_BYTES] __attribute__((aligned(16)));
static int8_t s_out[KB_OUT_BYTES] __attribute__((aligned(16)));
static uint64_t s_op_ticks[KB_MAX_OPS];
static uint32_t s_op_calls[KB_MAX_OPS];
static uint64_t s_last;

void tc_gen_profile_step(int32_t op) {
  const uint64_t now = tc_port_ticks();
  if (op >= 0 && op < KB_MAX_OPS) {
    s_op_ticks[op] += now - s_last;
    s_op_calls[op] += 1u;
  }
  s_last = tc_port_ticks(); /* the hook's own printf-free cost is excluded from the next op */
}

int main(void) {
  initialise_monitor_handles();
  tc_fpgaio_timer_init();
  uint32_t seed = 12345u;
  for (uint32_t i = 0; i < KB_IN_BYTES; ++i) {
    seed = seed * 1664525u + 1013904223u;
    s_in[i] = (int8_t)(seed >> 24);
  }
  for (int m = 0; m < TC_GEN_N_MODELS; ++m) {
    for (int k = 0; k < KB_MAX_OPS; ++k) {
      s_op_ticks[k] = 0u;
      s_op_calls[k] = 0u;
    }
    const uint64_t t0 = tc_port_ticks();
    s_last = t0;
    const int rc = tc_gen_run(m, s_in, s_out);
    const uint64_t t1 = tc_port_ticks();
    if (rc != 0) {
      printf("error model %d rc %d\n", m, rc);
      exit(1);
    }
    printf("model %d %lu\n", m, (unsigned long)(t1 - t0));
    for (int k = 0; k < KB_MAX_OPS; ++k) {
      if (s_op_calls[k] != 0u) {
        printf("op %d %d %lu %lu\n", m, k, (unsigned long)s_op_ticks[k], (unsigned long)s_op_calls[k]);
      }
    }
    uint32_t sum = 0u; /* keep the output live */
    for (uint32_t i = 0; i < tc_gen_models[m].output_bytes; ++i) {
      sum = sum * 31u + (uint8_t)s_out[i];
    }
    printf("hash %d %08lx\n", m, (unsigned long)sum);
  }
  fflush(stdout);
  exit(0);
}
