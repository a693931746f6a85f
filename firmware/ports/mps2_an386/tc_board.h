/* Board description for the shared CMSDK/Cortex-M port code (firmware/ports/cmsdk/):
 * Arm MPS2 AN386 (Cortex-M4F) as modelled by QEMU `-M mps2-an386`. */
#ifndef TC_BOARD_H
#define TC_BOARD_H

#define TC_BOARD_NAME "mps2-an386"
#define TC_BOARD_UART0_BASE 0x40004000u /* CMSDK APB UART0 */
#define TC_BOARD_UART0_RX_IRQn 0
#define TC_BOARD_FPGAIO_BASE 0x40028000u /* COUNTER at +0x18 counts at 25 MHz */
#define TC_BOARD_TICK_HZ 25000000u
#define TC_BOARD_N_IRQ 32 /* external interrupts in the vector table */

#endif
