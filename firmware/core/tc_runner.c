#include "tc_runner.h"

#include "tc_backend.h"
#include "tc_port.h"

int tc_runner_run(int idx, const int8_t *in, int8_t *out, uint64_t *ticks) {
  uint64_t t0 = tc_port_ticks();
  int rc = tc_backend.run(idx, in, out);
  uint64_t t1 = tc_port_ticks();
  *ticks = t1 - t0;
  return rc;
}
