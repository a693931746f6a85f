/* Board port for the Arm MPS2/MPS3 FPGA boards (as modelled by QEMU): CMSDK UART0 to the host,
 * FPGAIO counter as tick source. The board is picked by tc_board.h (-I firmware/ports/<board>). */
#include "tc_board.h"
#include "tc_port.h"

void tc_cmsdk_uart_init(void);
void tc_fpgaio_timer_init(void);

void tc_port_init(void) {
  tc_cmsdk_uart_init();
  tc_fpgaio_timer_init();
}

const char *tc_port_board_name(void) { return TC_BOARD_NAME; }
