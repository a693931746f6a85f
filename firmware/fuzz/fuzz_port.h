#ifndef FUZZ_PORT_H
#define FUZZ_PORT_H
#include <stdint.h>
extern uint64_t fuzz_ticks;    /* tc_port_ticks(); 1 MHz */
extern uint32_t fuzz_replies;  /* well-formed reply frames since fuzz_port_reset() */
extern uint8_t fuzz_last_type; /* type of the last reply */
extern uint8_t fuzz_last_err;  /* its error code if it was an ERROR frame */
extern uint16_t fuzz_last_req; /* its req_id */
void fuzz_port_reset(void);
#endif
