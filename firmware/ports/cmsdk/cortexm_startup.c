/* Vector table and reset handler for a Cortex-M with FPU (M4F, M55). Interrupts stay masked
 * (PRIMASK): the UART RX interrupt is only used to wake WFI, so all IRQ vectors are defaults. */
#include <stdint.h>

#include "tc_board.h"

extern uint32_t __stack_top, __data_start, __data_end, __data_load, __bss_start, __bss_end;
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);
int main(void);

void Reset_Handler(void);
void Default_Handler(void);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

__attribute__((noreturn)) void Reset_Handler(void) {
  SCB_CPACR |= (0xFu << 20); /* CP10, CP11 full access: enable the FPU before any FP code */
  __asm volatile("dsb\n isb" ::: "memory");
  uint32_t *src = &__data_load, *dst = &__data_start;
  while (dst < &__data_end) *dst++ = *src++;
  for (dst = &__bss_start; dst < &__bss_end;) *dst++ = 0;
  for (void (**f)(void) = __init_array_start; f < __init_array_end; f++) (*f)();
  main();
  for (;;) __asm volatile("wfi");
}

void Default_Handler(void) {
  for (;;) __asm volatile("bkpt #0"); /* a fault stops here; visible with qemu -d int or gdb */
}

/* 16 system exceptions + TC_BOARD_N_IRQ external IRQs (Default_Handler, filled at the end). */
__attribute__((section(".vectors"), used)) void (*const tc_vectors[16 + TC_BOARD_N_IRQ])(void) = {
    (void (*)(void))(&__stack_top),
    Reset_Handler,
    Default_Handler, /* NMI */
    Default_Handler, /* HardFault */
    Default_Handler, /* MemManage */
    Default_Handler, /* BusFault */
    Default_Handler, /* UsageFault */
    Default_Handler, /* SecureFault (v8-M) */
    0,
    0,
    0,
    Default_Handler, /* SVC */
    Default_Handler, /* DebugMon */
    0,
    Default_Handler, /* PendSV */
    Default_Handler, /* SysTick */
    [16 ... 16 + TC_BOARD_N_IRQ - 1] = Default_Handler,
};
