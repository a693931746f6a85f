/* UART0 (CMSDK APB UART) for the host link (MPS2/MPS3 boards). RX sleeps in WFI until the RX interrupt is
 * pending (interrupts stay masked by PRIMASK; the pending bit alone wakes WFI), so an idle board costs no
 * host CPU under QEMU. Build with -DTC_UART_POLL for a plain busy-wait instead. */
#include "cmsdk_board.h"
#include "tc_port.h"

void tc_cmsdk_uart_init(void) {
  UART0_BAUDDIV = 25000000u / 115200u;
#ifdef TC_UART_POLL
  UART0_CTRL = 0x3u;
#else
  __asm volatile("cpsid i" ::: "memory");
  UART0_CTRL = 0x3u | 0x8u; /* TX, RX, RX interrupt */
  NVIC_ISER(TC_BOARD_UART0_RX_IRQn / 32) = 1u << (TC_BOARD_UART0_RX_IRQn % 32);
#endif
}

void tc_port_putc(uint8_t c) {
  while (UART0_STATE & UART_STATE_TXFULL) {
  }
  UART0_DATA = c;
}

uint8_t tc_port_getc(void) {
  while (!(UART0_STATE & UART_STATE_RXFULL)) {
#ifndef TC_UART_POLL
    __asm volatile("wfi" ::: "memory");
#endif
  }
  uint8_t c = (uint8_t)UART0_DATA;
#ifndef TC_UART_POLL
  UART0_INTSTATUS = 2u; /* drop the RX interrupt line, then forget the latched pending bit */
  NVIC_ICPR(TC_BOARD_UART0_RX_IRQn / 32) = 1u << (TC_BOARD_UART0_RX_IRQn % 32);
#endif
  return c;
}
