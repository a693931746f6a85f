/* Registers of the CMSDK UART, the MPS2/MPS3 FPGAIO counter and the NVIC; addresses come from the
 * board's tc_board.h (firmware/ports/<board>/). */
#ifndef CMSDK_BOARD_H
#define CMSDK_BOARD_H

#include <stdint.h>

#include "tc_board.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))

#define UART0_DATA REG32(TC_BOARD_UART0_BASE + 0x00u)
#define UART0_STATE REG32(TC_BOARD_UART0_BASE + 0x04u)     /* bit0 TX full, bit1 RX full */
#define UART0_CTRL REG32(TC_BOARD_UART0_BASE + 0x08u)      /* bit0 TX en, bit1 RX en, bit3 RX irq en */
#define UART0_INTSTATUS REG32(TC_BOARD_UART0_BASE + 0x0Cu) /* write 1 to clear; bit1 RX */
#define UART0_BAUDDIV REG32(TC_BOARD_UART0_BASE + 0x10u)
#define UART_STATE_TXFULL 1u
#define UART_STATE_RXFULL 2u

/* FPGAIO: COUNTER increments at TC_BOARD_TICK_HZ while PRESCALE = 0. Under QEMU -icount shift=0
 * virtual time advances 1 ns per guest instruction: 25 MHz = one tick per 40 instructions. */
#define FPGAIO_COUNTER REG32(TC_BOARD_FPGAIO_BASE + 0x18u)
#define FPGAIO_PRESCALE REG32(TC_BOARD_FPGAIO_BASE + 0x1Cu)

#define NVIC_ISER(n) REG32(0xE000E100u + 4u * (n))
#define NVIC_ICPR(n) REG32(0xE000E280u + 4u * (n))

#endif
