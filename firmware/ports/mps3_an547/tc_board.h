/* Board description for the shared CMSDK/Cortex-M port code (firmware/ports/cmsdk/):
 * Arm MPS3 AN547 (Corstone SSE-300, Cortex-M55 with MVE) as modelled by QEMU `-M mps3-an547`.
 * The core boots in Secure state, so everything uses the Secure aliases (address bit 28 set):
 * ITCM 0x10000000, DTCM 0x30000000, SRAM2 0x31000000, peripherals 0x5xxxxxxx. */
#ifndef TC_BOARD_H
#define TC_BOARD_H

#define TC_BOARD_NAME "mps3-an547"
#define TC_BOARD_UART0_BASE 0x59303000u
#define TC_BOARD_UART0_RX_IRQn 33
#define TC_BOARD_FPGAIO_BASE 0x59302000u /* COUNTER at +0x18 counts at 25 MHz (APB clock) */
#define TC_BOARD_TICK_HZ 25000000u
#define TC_BOARD_N_IRQ 96

#endif
