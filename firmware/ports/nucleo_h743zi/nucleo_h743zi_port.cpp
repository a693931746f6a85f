/* Board port for the ST NUCLEO-H743ZI / -H743ZI2 (Cortex-M7, Arduino core for STM32): host link over
 * `Serial` = the ST-LINK virtual COM port (USART3, the board's ST-LINK USB connector, /dev/ttyACM*),
 * DWT cycle counter as tick source (core clock = SystemCoreClock, extended to 64 bits in software;
 * the 32-bit counter wraps every ~9 s at 480 MHz and tc_port_ticks() runs around every backend call).
 * 115200 baud: the host opens serial ports at 115200 (python/tinycodec/host/transport.py).
 *
 * tflm builds: this port provides TFLM's DebugLog (the env compiles the TFLM library's Arduino glue out
 * with -D ARDUINO_EXCLUDE_CODE; that glue prints to Serial, the protocol's port). By default the text is
 * dropped; with -D TC_DEBUG_UART_RX=<pin> -D TC_DEBUG_UART_TX=<pin> (e.g. PG9/PG14 = Arduino D0/D1 =
 * USART6 on the Nucleo-144 headers) it goes to that UART at TC_DEBUG_BAUD, never to Serial. */
#include <Arduino.h>

#include "tc_main.h"
#include "tc_port.h"

#ifndef TC_BAUD
#define TC_BAUD 115200
#endif

#if defined(TC_BACKEND_TFLM)
#include "tensorflow/lite/micro/debug_log.h" /* the pinned library's declaration: a mismatch fails to compile */

#if defined(TC_DEBUG_UART_RX) && defined(TC_DEBUG_UART_TX)
#ifndef TC_DEBUG_BAUD
#define TC_DEBUG_BAUD 115200
#endif
static HardwareSerial s_debug(TC_DEBUG_UART_RX, TC_DEBUG_UART_TX);
static bool s_debug_on;
extern "C" void DebugLog(const char *s) {
  if (s_debug_on) s_debug.print(s);
}
#define TC_DEBUG_BEGIN() (s_debug.begin(TC_DEBUG_BAUD), s_debug_on = true)
#else
extern "C" void DebugLog(const char *s) { (void)s; } /* nowhere: Serial carries the protocol */
#define TC_DEBUG_BEGIN() ((void)0)
#endif
#else
#define TC_DEBUG_BEGIN() ((void)0)
#endif

static uint32_t s_last, s_high;

extern "C" void tc_port_init(void) {
  Serial.begin(TC_BAUD);
  TC_DEBUG_BEGIN();
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
