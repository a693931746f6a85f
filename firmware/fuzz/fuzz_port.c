/* Host implementation of the port layer (tc_port.h) for the libFuzzer harnesses: the "UART" output is
 * checked as it is written (every reply must be a well-formed frame: valid COBS, CRC32, version 1,
 * body_len == bytes and <= max_body) and the tick counter is a variable the harness advances. */
#include "fuzz_port.h"

#include <stdlib.h>
#include <string.h>

#include "tc_cobs.h"
#include "tc_config.h"
#include "tc_crc32.h"
#include "tc_frame.h"
#include "tc_port.h"
#include "tc_proto.h"

uint64_t fuzz_ticks;
uint32_t fuzz_replies;
uint8_t fuzz_last_type, fuzz_last_err;
uint16_t fuzz_last_req;

#define OUT_CAP (2u * (TC_HDR_BYTES + TC_MAX_BODY + TC_CRC_BYTES))
static uint8_t s_wire[OUT_CAP];
static uint8_t s_pkt[OUT_CAP];
static size_t s_n;

static void check_reply(void) {
  size_t n = tc_cobs_decode(s_wire, s_n, s_pkt, sizeof s_pkt);
  if (n == TC_COBS_ERR || n < TC_HDR_BYTES + TC_CRC_BYTES) abort(); /* not a decodable frame */
  if (tc_crc32_update(0, s_pkt, n - TC_CRC_BYTES) != tc_rd_u32(s_pkt + n - TC_CRC_BYTES)) abort();
  const uint32_t body_len = tc_rd_u32(s_pkt + 4);
  if (s_pkt[0] != TC_PROTO_VERSION || body_len > TC_MAX_BODY) abort();
  if (body_len != n - TC_HDR_BYTES - TC_CRC_BYTES) abort();
  if ((s_pkt[1] & 0x80u) == 0u) abort(); /* replies only */
  fuzz_last_type = s_pkt[1];
  fuzz_last_req = tc_rd_u16(s_pkt + 2);
  fuzz_last_err = (s_pkt[1] == TC_T_ERROR && body_len >= 1u) ? s_pkt[TC_HDR_BYTES] : 0u;
  if (s_pkt[1] == TC_T_ERROR && (body_len < 4u || 4u + tc_rd_u16(s_pkt + TC_HDR_BYTES + 2) != body_len))
    abort();
  fuzz_replies++;
}

void fuzz_port_reset(void) {
  s_n = 0;
  fuzz_ticks = 0;
  fuzz_replies = 0;
}

void tc_port_init(void) {}
void tc_port_putc(uint8_t c) {
  if (c == 0) {
    check_reply();
    s_n = 0;
    return;
  }
  if (s_n >= sizeof s_wire) abort(); /* a reply longer than any legal frame */
  s_wire[s_n++] = c;
}
uint8_t tc_port_getc(void) { abort(); /* the harness feeds tc_app_feed directly */ }
uint64_t tc_port_ticks(void) { return fuzz_ticks; }
uint32_t tc_port_tick_hz(void) { return 1000000u; }
const char *tc_port_board_name(void) { return "fuzz-host"; }
const char *tc_port_tick_source(void) { return "fuzz harness counter"; }
