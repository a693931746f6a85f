/* Tick source: the MPS2/MPS3 FPGAIO COUNTER (25 MHz), extended to 64 bits in software. Under QEMU with
 * -icount shift=0 it counts virtual time = executed instructions (not cycles). The 32-bit counter
 * wraps every ~171 s of virtual time; tc_port_ticks() must be called at least that often
 * (it is: around every backend run, and runs are far shorter). */
#include "cmsdk_board.h"
#include "tc_port.h"

static uint32_t s_last, s_high;

void tc_fpgaio_timer_init(void) {
  FPGAIO_PRESCALE = 0u;
  s_last = FPGAIO_COUNTER;
  s_high = 0u;
}

uint64_t tc_port_ticks(void) {
  uint32_t now = FPGAIO_COUNTER;
  if (now < s_last) s_high++;
  s_last = now;
  return ((uint64_t)s_high << 32) | now;
}

uint32_t tc_port_tick_hz(void) { return TC_BOARD_TICK_HZ; }

const char *tc_port_tick_source(void) { return "qemu-icount FPGAIO 25MHz"; }
