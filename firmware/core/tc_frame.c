#include "tc_frame.h"

#include "tc_crc32.h"
#include "tc_proto.h"

void tc_frame_rx_init(tc_frame_rx_t *rx, uint8_t *buf, size_t cap, uint32_t max_body) {
  rx->buf = buf;
  rx->cap = cap;
  rx->max_body = max_body;
  rx->len = 0;
  rx->overflow = 0;
  rx->last_tick = 0;
  tc_cobs_dec_reset(&rx->dec);
}

int tc_frame_rx_expire(tc_frame_rx_t *rx, uint64_t now, uint64_t timeout) {
  const int partial = rx->dec.started || rx->len || rx->overflow;
  const int stale = partial && timeout != 0u && now - rx->last_tick > timeout;
  rx->last_tick = now;
  if (!stale) return 0;
  rx->len = 0;
  rx->overflow = 0;
  tc_cobs_dec_reset(&rx->dec);
  return 1;
}

static int rx_error(tc_frame_t *f, uint8_t code, const char *msg, uint16_t req_id) {
  f->err = code;
  f->err_msg = msg;
  f->req_id = req_id;
  return TC_RX_ERROR;
}

static int rx_finish(tc_frame_rx_t *rx, tc_frame_t *f) {
  const uint8_t *b = rx->buf;
  size_t n = rx->len;
  uint16_t rid = n >= TC_HDR_BYTES ? tc_rd_u16(b + 2) : 0;
  f->version = 0;
  f->type = 0;
  f->req_id = 0;
  f->body_len = 0;
  f->body = 0;
  f->err = 0;
  f->err_msg = 0;
  if (rx->overflow) return rx_error(f, TC_E_TOO_LONG, "frame longer than max_body", rid);
  if (!tc_cobs_dec_complete(&rx->dec)) return rx_error(f, TC_E_BAD_FRAMING, "COBS block truncated", 0);
  if (n < TC_HDR_BYTES + TC_CRC_BYTES) return rx_error(f, TC_E_BAD_FRAMING, "packet too short", 0);
  if (tc_crc32_update(0, b, n - TC_CRC_BYTES) != tc_rd_u32(b + n - TC_CRC_BYTES))
    return rx_error(f, TC_E_BAD_CRC, "CRC32 mismatch", rid);
  f->version = b[0];
  f->type = b[1];
  f->req_id = rid;
  f->body_len = tc_rd_u32(b + 4);
  if (f->version != TC_PROTO_VERSION) return rx_error(f, TC_E_BAD_VERSION, "unsupported version", rid);
  if (f->body_len > rx->max_body) return rx_error(f, TC_E_TOO_LONG, "body_len > max_body", rid);
  if (f->body_len != n - TC_HDR_BYTES - TC_CRC_BYTES)
    return rx_error(f, TC_E_BAD_LENGTH, "body_len does not match frame", rid);
  f->body = b + TC_HDR_BYTES;
  return TC_RX_PACKET;
}

int tc_frame_rx_feed(tc_frame_rx_t *rx, uint8_t byte, tc_frame_t *f) {
  if (byte == 0) {
    int r = TC_RX_NONE;
    if (rx->dec.started || rx->len) r = rx_finish(rx, f);
    rx->len = 0;
    rx->overflow = 0;
    tc_cobs_dec_reset(&rx->dec);
    return r;
  }
  int out = tc_cobs_dec_feed(&rx->dec, byte);
  if (out >= 0) {
    if (rx->len < rx->cap)
      rx->buf[rx->len++] = (uint8_t)out;
    else
      rx->overflow = 1;
  }
  return TC_RX_NONE;
}

typedef struct {
  tc_cobs_enc_t enc;
  uint32_t crc;
} tx_state_t;

static void tx_feed(tx_state_t *s, const void *p, uint32_t n) {
  s->crc = tc_crc32_update(s->crc, p, n);
  tc_cobs_enc_feed(&s->enc, (const uint8_t *)p, n);
}

void tc_frame_send(tc_put_fn put, void *ctx, uint8_t type, uint16_t req_id, const tc_span_t *parts,
                   int n_parts) {
  tx_state_t s;
  uint8_t hdr[TC_HDR_BYTES], crc[TC_CRC_BYTES];
  uint32_t body_len = 0;
  for (int i = 0; i < n_parts; i++) body_len += parts[i].len;
  hdr[0] = TC_PROTO_VERSION;
  hdr[1] = type;
  tc_wr_u16(hdr + 2, req_id);
  tc_wr_u32(hdr + 4, body_len);
  s.crc = 0;
  tc_cobs_enc_begin(&s.enc, put, ctx);
  tx_feed(&s, hdr, sizeof hdr);
  for (int i = 0; i < n_parts; i++) tx_feed(&s, parts[i].data, parts[i].len);
  tc_wr_u32(crc, s.crc);
  tc_cobs_enc_feed(&s.enc, crc, sizeof crc);
  tc_cobs_enc_end(&s.enc);
}
