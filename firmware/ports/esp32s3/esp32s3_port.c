/* Board port for the ESP32-S3-DevKitC-1 (ESP-IDF): host link over the chip's USB-Serial/JTAG
 * controller (the board's "USB" connector, /dev/ttyACM*), esp_timer (1 MHz, 64-bit) as tick source.
 * The core loop runs in the main task (app_main); CONFIG_ESP_MAIN_TASK_STACK_SIZE is raised in
 * sdkconfig.defaults for TFLM. Bytes are buffered and flushed at each 0x00 (the end of every COBS
 * frame) or when the buffer is full, so a reply costs a few driver calls, not one per byte. */
#include <stdint.h>

#include "driver/usb_serial_jtag.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "tc_main.h"
#include "tc_port.h"

#define TC_ESP_BUF 256

static uint8_t s_tx[TC_ESP_BUF], s_rx[TC_ESP_BUF];
static int s_tx_n, s_rx_n, s_rx_pos;

void tc_port_init(void) {
  usb_serial_jtag_driver_config_t cfg = USB_SERIAL_JTAG_DRIVER_CONFIG_DEFAULT();
  cfg.tx_buffer_size = 4096;
  cfg.rx_buffer_size = 4096;
  ESP_ERROR_CHECK(usb_serial_jtag_driver_install(&cfg));
}

static void tx_flush(void) {
  int off = 0;
  while (off < s_tx_n) {
    int n = usb_serial_jtag_write_bytes(s_tx + off, (size_t)(s_tx_n - off), portMAX_DELAY);
    if (n > 0) off += n;
  }
  s_tx_n = 0;
}

void tc_port_putc(uint8_t c) {
  s_tx[s_tx_n++] = c;
  if (c == 0 || s_tx_n == TC_ESP_BUF) tx_flush();
}

uint8_t tc_port_getc(void) {
  while (s_rx_pos == s_rx_n) {
    int n = usb_serial_jtag_read_bytes(s_rx, TC_ESP_BUF, portMAX_DELAY); /* blocks the task, not the core */
    s_rx_pos = 0;
    s_rx_n = n > 0 ? n : 0;
  }
  return s_rx[s_rx_pos++];
}

uint64_t tc_port_ticks(void) { return (uint64_t)esp_timer_get_time(); }
uint32_t tc_port_tick_hz(void) { return 1000000u; }
const char *tc_port_board_name(void) { return "esp32-s3-devkitc-1"; }
const char *tc_port_tick_source(void) { return "esp_timer 1MHz (CPU 240MHz)"; }

void app_main(void) { tc_main_loop(); }
