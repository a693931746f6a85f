/* Board port for the ST NUCLEO-H743ZI / -H743ZI2 (Cortex-M7, Arduino core for STM32): host link over
 * `Serial` = the ST-LINK virtual COM port (USART3, the board's ST-LINK USB connector, /dev/ttyACM*),
 * DWT cycle counter as tick source (core clock = SystemCoreClock, extended to 64 bits in software;
 * the 32-bit counter wraps every ~9 s at 480 MHz and tc_port_ticks() runs around every backend call).
 * 115200 baud: the host opens serial ports at 115200 (python/tinycodec/host/transport.py). */
#include <Arduino.h>

#include "tc_main.h"
#include "tc_port.h"

#ifndef TC_BAUD
#define TC_BAUD 115200
#endif

static uint32_t s_last, s_high;

extern "C" void tc_port_init(void) {
  Serial.begin(TC_BAUD);
  CoreDebug->DEMCR |= CoreDebug_DEMCR_TRCENA_Msk;
#if defined(DWT_LAR_KEY) || defined(__CORE_CM7_H_GENERIC)
  DWT->LAR = 0xC5ACCE55u; /* Cortex-M7: unlock the DWT before enabling CYCCNT */
#endif
  DWT->CYCCNT = 0;
  DWT->CTRL |= DWT_CTRL_CYCCNTENA_Msk;
  s_last = 0;
  s_high = 0;
}

extern "C" void tc_port_putc(uint8_t c) { Serial.write(c); }

extern "C" uint8_t tc_port_getc(void) {
  int c;
  while ((c = Serial.read()) < 0) {
    (void)tc_port_ticks(); /* keep the 64-bit extension exact across long idle gaps (request timeout) */
  }
  return (uint8_t)c;
}

extern "C" uint64_t tc_port_ticks(void) {
  uint32_t now = DWT->CYCCNT;
  if (now < s_last) s_high++;
  s_last = now;
  return ((uint64_t)s_high << 32) | now;
}

extern "C" uint32_t tc_port_tick_hz(void) { return SystemCoreClock; }
extern "C" const char *tc_port_board_name(void) { return "nucleo-h743zi"; }
extern "C" const char *tc_port_tick_source(void) { return "DWT CYCCNT (core clock)"; }

void setup() { tc_main_loop(); }
void loop() {}
