/* tc_port.h - what the portable core needs from a board port (firmware/ports/<board>/). */
#ifndef TC_PORT_H
#define TC_PORT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bring up clocks, UART and the tick timer. Called once before anything else. */
void tc_port_init(void);
/* Blocking write of one byte to the host link. */
void tc_port_putc(uint8_t c);
/* Blocking read of one byte from the host link (may sleep the core until a byte arrives). */
uint8_t tc_port_getc(void);
/* Monotonic tick counter (64-bit, never wraps in practice) and its rate in Hz. */
uint64_t tc_port_ticks(void);
uint32_t tc_port_tick_hz(void);
/* Board name reported in INFO, e.g. "mps2-an386". */
const char *tc_port_board_name(void);
/* What the ticks count, e.g. "qemu-icount FPGAIO 25MHz" (instructions under QEMU, not cycles). */
const char *tc_port_tick_source(void);

#ifdef __cplusplus
}
#endif

#endif /* TC_PORT_H */
