/* Register map of the pieces of the MPS2 AN386 that the port uses (as modelled by QEMU). */
#ifndef MPS2_AN386_H
#define MPS2_AN386_H

#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(addr))

/* CMSDK APB UART0 */
#define UART0_BASE 0x40004000u
#define UART0_DATA REG32(UART0_BASE + 0x00u)
#define UART0_STATE REG32(UART0_BASE + 0x04u) /* bit0 TX full, bit1 RX full */
#define UART0_CTRL REG32(UART0_BASE + 0x08u)  /* bit0 TX en, bit1 RX en, bit3 RX irq en */
#define UART0_INTSTATUS REG32(UART0_BASE + 0x0Cu) /* write 1 to clear; bit1 RX */
#define UART0_BAUDDIV REG32(UART0_BASE + 0x10u)
#define UART_STATE_TXFULL 1u
#define UART_STATE_RXFULL 2u
#define UART0_RX_IRQn 0

/* FPGA IO block: COUNTER counts at 25 MHz (PRESCALE = 0). Under QEMU -icount shift=0 one tick
 * is 40 guest instructions' worth of virtual time (1 ns per instruction). */
#define FPGAIO_BASE 0x40028000u
#define FPGAIO_CLK1HZ REG32(FPGAIO_BASE + 0x10u)
#define FPGAIO_CLK100HZ REG32(FPGAIO_BASE + 0x14u)
#define FPGAIO_COUNTER REG32(FPGAIO_BASE + 0x18u)
#define FPGAIO_PRESCALE REG32(FPGAIO_BASE + 0x1Cu)
#define FPGAIO_TICK_HZ 25000000u

#define NVIC_ISER0 REG32(0xE000E100u)
#define NVIC_ICPR0 REG32(0xE000E280u)

#endif
