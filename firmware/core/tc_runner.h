/* tc_runner.h - runs one backend model and times only the backend call. */
#ifndef TC_RUNNER_H
#define TC_RUNNER_H

#include <stdint.h>

/* Returns the backend's status (0 = ok); *ticks = tc_port_ticks() delta around tc_backend.run. */
int tc_runner_run(int idx, const int8_t *in, int8_t *out, uint64_t *ticks);

#endif
