/* tc_frame.h - packet framing: header + body + CRC32, COBS-encoded, 0x00-delimited.
 * The receiver decodes COBS on the fly into one bounded buffer (no second copy) and validates
 * the packet at the delimiter; errors carry the code to report and the req_id if readable. */
#ifndef TC_FRAME_H
#define TC_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "tc_cobs.h"

typedef struct {
  uint8_t version, type;
  uint16_t req_id;
  uint32_t body_len;
  const uint8_t *body; /* points into the receiver's buffer, valid until the next feed */
  uint8_t err;         /* tc_err_code when tc_frame_rx_feed returned TC_RX_ERROR */
  const char *err_msg;
} tc_frame_t;

typedef struct {
  uint8_t *buf; /* decoded packet: header + body + crc */
  size_t cap;   /* = TC_HDR_BYTES + max_body + TC_CRC_BYTES */
  uint32_t max_body;
  size_t len;
  uint8_t overflow;
  tc_cobs_dec_t dec;
  uint64_t last_tick; /* tick of the last byte seen by tc_frame_rx_expire */
} tc_frame_rx_t;

enum { TC_RX_NONE = 0, TC_RX_PACKET = 1, TC_RX_ERROR = 2 };

void tc_frame_rx_init(tc_frame_rx_t *rx, uint8_t *buf, size_t cap, uint32_t max_body);
/* Feed one wire byte. At a 0x00 delimiter returns TC_RX_PACKET (f filled) or TC_RX_ERROR (f->err,
 * f->err_msg, f->req_id set; req_id 0 when it could not be read); otherwise TC_RX_NONE. */
int tc_frame_rx_feed(tc_frame_rx_t *rx, uint8_t byte, tc_frame_t *f);
/* Request timeout: call with the current tick before feeding each byte. If a frame has started and no
 * byte arrived for more than `timeout` ticks, the partial frame is dropped (silently; returns 1) so a
 * peer that stops mid-frame cannot glue its garbage to the next request. timeout 0 disables. */
int tc_frame_rx_expire(tc_frame_rx_t *rx, uint64_t now, uint64_t timeout);

/* Frame transmitter: the body may be given in several pieces (no assembly buffer needed). */
typedef struct {
  const void *data;
  uint32_t len;
} tc_span_t;
void tc_frame_send(tc_put_fn put, void *ctx, uint8_t type, uint16_t req_id, const tc_span_t *parts,
                   int n_parts);

static inline uint16_t tc_rd_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t tc_rd_u32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline void tc_wr_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void tc_wr_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void tc_wr_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

#endif
