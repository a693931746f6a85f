/* Board port: Arm MPS2 AN386 (Cortex-M4F) under QEMU (-M mps2-an386). */
#include "tc_port.h"

void tc_mps2_uart_init(void);
void tc_mps2_timer_init(void);

void tc_port_init(void) {
  tc_mps2_uart_init();
  tc_mps2_timer_init();
}

const char *tc_port_board_name(void) { return "mps2-an386"; }
