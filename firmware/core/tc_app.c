#include "tc_app.h"

#include <string.h>

#include "tc_backend.h"
#include "tc_codec.h"
#include "tc_config.h"
#include "tc_port.h"
#include "tc_proto.h"
#include "tc_rans.h"
#include "tc_runner.h"

#define TC_RX_CAP (TC_HDR_BYTES + TC_MAX_BODY + TC_CRC_BYTES)

/* The only large buffers: decoded request packet (RUN input lives in it at offset 12, so
 * 4-byte aligned) and the reply body (RUN output, INFO scratch). Static, no heap. */
static uint8_t s_rx_buf[TC_RX_CAP] __attribute__((aligned(16)));
static int8_t s_out_buf[TC_MAX_BODY] __attribute__((aligned(16)));
static tc_frame_rx_t s_rx;
static int s_backend_rc;

static void put_port(void *ctx, uint8_t b) {
  (void)ctx;
  tc_port_putc(b);
}

void tc_app_send(uint8_t type, uint16_t req_id, const tc_span_t *parts, int n_parts) {
  tc_frame_send(put_port, 0, type, req_id, parts, n_parts);
}

void tc_app_send_error(uint16_t req_id, uint8_t code, const char *msg) {
  uint8_t hdr[4];
  size_t n = strlen(msg);
  if (n > 200) n = 200;
  hdr[0] = code;
  hdr[1] = 0;
  tc_wr_u16(hdr + 2, (uint16_t)n);
  tc_span_t parts[2] = {{hdr, 4}, {msg, (uint32_t)n}};
  tc_app_send(TC_T_ERROR, req_id, parts, 2);
}

/* --- INFO ------------------------------------------------------------------------------------ */
typedef struct {
  uint8_t *p;
  uint32_t n, cap;
} wbuf_t;

static void w_bytes(wbuf_t *w, const void *d, uint32_t n) {
  if (w->n + n > w->cap) {
    w->n = w->cap + 1; /* mark overflow */
    return;
  }
  memcpy(w->p + w->n, d, n);
  w->n += n;
}
static void w_u8(wbuf_t *w, uint8_t v) { w_bytes(w, &v, 1); }
static void w_u16(wbuf_t *w, uint16_t v) {
  uint8_t b[2];
  tc_wr_u16(b, v);
  w_bytes(w, b, 2);
}
static void w_u32(wbuf_t *w, uint32_t v) {
  uint8_t b[4];
  tc_wr_u32(b, v);
  w_bytes(w, b, 4);
}
static void w_str(wbuf_t *w, const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n > 255) n = 255;
  w_u8(w, (uint8_t)n);
  w_bytes(w, s, (uint32_t)n);
}

static void send_info(uint16_t req_id) {
  static const uint8_t zero_hash[32] = {0};
  wbuf_t w = {(uint8_t *)s_out_buf, 0, sizeof s_out_buf};
  int n_models = tc_backend.n_models > 255 ? 255 : tc_backend.n_models;
  w_u8(&w, TC_PROTO_VERSION);
  w_u8(&w, (uint8_t)n_models);
  w_u16(&w, tc_codec_available() ? TC_CAP_CODEC : 0u); /* capabilities (was reserved = 0) */
  w_u32(&w, tc_port_tick_hz());
  w_u32(&w, tc_backend.ram_bytes);
  w_u32(&w, TC_MAX_BODY);
  w_bytes(&w, tc_backend.model_hash ? tc_backend.model_hash : zero_hash, 32);
  w_str(&w, TC_FW_VERSION);
  w_str(&w, tc_port_board_name());
  w_str(&w, tc_backend.name);
  for (int i = 0; i < n_models; i++) {
    const tc_model_desc_t *m = &tc_backend.models[i];
    w_str(&w, m->name);
    w_u16(&w, m->in_h);
    w_u16(&w, m->in_w);
    w_u16(&w, m->in_c);
    w_u16(&w, m->out_h);
    w_u16(&w, m->out_w);
    w_u16(&w, m->out_c);
  }
  /* appended after the models: older hosts stop reading before it */
  const int nq = tc_codec_n_qualities() > 255 ? 255 : tc_codec_n_qualities();
  w_u8(&w, (uint8_t)nq);
  for (int i = 0; i < nq; i++) w_u8(&w, (uint8_t)tc_codec_quality(i));
  w_str(&w, tc_port_tick_source()); /* appended after the qualities: what the ticks count (docs/protocol.md) */
  if (w.n > w.cap) {
    tc_app_send_error(req_id, TC_E_RUN_FAILED, "INFO does not fit max_body");
    return;
  }
  tc_span_t part = {w.p, w.n};
  tc_app_send(TC_T_INFO, req_id, &part, 1);
}

/* --- handlers --------------------------------------------------------------------------------- */
static void h_hello(const tc_frame_t *f) {
  if (f->body_len != 0) {
    tc_app_send_error(f->req_id, TC_E_BAD_LENGTH, "HELLO has no body");
    return;
  }
  send_info(f->req_id);
}

static void h_echo(const tc_frame_t *f) {
  tc_span_t part = {f->body, f->body_len};
  tc_app_send(TC_T_ECHO_REPLY, f->req_id, &part, 1);
}

static void h_run(const tc_frame_t *f) {
  if (f->body_len < TC_RUN_HDR_BYTES) {
    tc_app_send_error(f->req_id, TC_E_BAD_LENGTH, "RUN body shorter than 4 bytes");
    return;
  }
  int idx = f->body[0];
  if (idx >= tc_backend.n_models) {
    tc_app_send_error(f->req_id, TC_E_BAD_MODEL, "model index out of range");
    return;
  }
  const tc_model_desc_t *m = &tc_backend.models[idx];
  if (f->body_len != TC_RUN_HDR_BYTES + m->input_bytes) {
    tc_app_send_error(f->req_id, TC_E_BAD_LENGTH, "RUN input size != model input_bytes");
    return;
  }
  if (m->output_bytes > sizeof s_out_buf - TC_RUN_TICKS_BYTES) {
    tc_app_send_error(f->req_id, TC_E_RUN_FAILED, "model output larger than max_body");
    return;
  }
  if (s_backend_rc != 0) {
    tc_app_send_error(f->req_id, TC_E_RUN_FAILED, "backend init failed");
    return;
  }
  uint64_t ticks = 0;
  int rc = tc_runner_run(idx, (const int8_t *)(f->body + TC_RUN_HDR_BYTES), s_out_buf, &ticks);
  if (rc != 0) {
    tc_app_send_error(f->req_id, TC_E_RUN_FAILED, "backend run returned an error");
    return;
  }
  uint8_t tb[TC_RUN_TICKS_BYTES];
  tc_wr_u64(tb, ticks);
  tc_span_t parts[2] = {{tb, sizeof tb}, {s_out_buf, m->output_bytes}};
  tc_app_send(TC_T_RUN_RESULT, f->req_id, parts, 2);
}

/* --- ENCODE / DECODE (the codec on the device, tc_codec.c) ----------------------------------- */
static void send_codec_error(uint16_t req_id, uint8_t code, const char *what, const char *why) {
  static char msg[128];
  size_t n = 0;
  for (const char *p = what; *p && n < sizeof msg - 1; p++) msg[n++] = *p;
  for (const char *p = ": "; *p && n < sizeof msg - 1; p++) msg[n++] = *p;
  for (const char *p = why; *p && n < sizeof msg - 1; p++) msg[n++] = *p;
  msg[n] = '\0';
  tc_app_send_error(req_id, code, msg);
}

/* Common checks; on success *cq is the quality's models/tables. */
static int codec_request(const tc_frame_t *f, const char *what, tc_codec_q_t *cq) {
  const char *why = "";
  if (!tc_codec_available()) {
    send_codec_error(f->req_id, TC_E_UNKNOWN_TYPE, what, "this firmware has no codec (no entropy tables)");
    return -1;
  }
  if (f->body_len < TC_CODEC_HDR_BYTES) {
    send_codec_error(f->req_id, TC_E_BAD_LENGTH, what, "body shorter than 4 bytes");
    return -1;
  }
  if (tc_codec_lookup(f->body[0], cq, &why) != 0) {
    send_codec_error(f->req_id, TC_E_BAD_QUALITY, what, why);
    return -1;
  }
  if (s_backend_rc != 0) {
    send_codec_error(f->req_id, TC_E_RUN_FAILED, what, "backend init failed");
    return -1;
  }
  return 0;
}

static void send_codec_result(uint16_t req_id, uint8_t type, uint64_t t0, uint64_t t1, const void *data,
                              uint32_t len) {
  uint8_t tb[TC_CODEC_TICKS_BYTES];
  tc_wr_u64(tb, t0);
  tc_wr_u64(tb + 8, t1);
  tc_span_t parts[2] = {{tb, sizeof tb}, {data, len}};
  tc_app_send(type, req_id, parts, 2);
}

static void h_encode(const tc_frame_t *f) {
  tc_codec_q_t cq;
  if (codec_request(f, "ENCODE", &cq) != 0) return;
  if (f->body_len != TC_CODEC_HDR_BYTES + cq.tile_bytes) {
    send_codec_error(f->req_id, TC_E_BAD_LENGTH, "ENCODE", "body != 4 + tile*tile*3 bytes");
    return;
  }
  /* The tile is converted in place in the receive buffer (ours; the frame is not used afterwards). */
  uint8_t *tile = s_rx_buf + (f->body - s_rx_buf) + TC_CODEC_HDR_BYTES;
  /* s_out_buf: latent at the front, the rANS payload written backwards into the rest */
  const uint32_t lat_cap = (cq.latent_bytes + 15u) & ~15u;
  if (lat_cap >= sizeof s_out_buf) {
    send_codec_error(f->req_id, TC_E_RUN_FAILED, "ENCODE", "latent larger than max_body");
    return;
  }
  uint8_t *work = (uint8_t *)s_out_buf + lat_cap;
  uint32_t work_cap = (uint32_t)sizeof s_out_buf - lat_cap;
  if (work_cap > TC_MAX_BODY - TC_CODEC_TICKS_BYTES) work_cap = TC_MAX_BODY - TC_CODEC_TICKS_BYTES;
  const uint8_t *payload = NULL;
  uint32_t len = 0;
  uint64_t t_model = 0, t_ec = 0;
  int rc = tc_codec_encode(&cq, tile, s_out_buf, work, work_cap, &payload, &len, &t_model, &t_ec);
  if (rc == TC_CODEC_ERR_BACKEND) {
    send_codec_error(f->req_id, TC_E_RUN_FAILED, "ENCODE", "backend run returned an error");
  } else if (rc != 0) {
    send_codec_error(f->req_id, TC_E_RUN_FAILED, "ENCODE", tc_rans_strerror(rc));
  } else {
    send_codec_result(f->req_id, TC_T_ENCODE_RESULT, t_model, t_ec, payload, len);
  }
}

static void h_decode(const tc_frame_t *f) {
  tc_codec_q_t cq;
  if (codec_request(f, "DECODE", &cq) != 0) return;
  /* s_out_buf: the reconstruction at the front, the decoded latent after it */
  const uint32_t out_cap = (cq.tile_bytes + 15u) & ~15u;
  if (cq.tile_bytes > TC_MAX_BODY - TC_CODEC_TICKS_BYTES || out_cap + cq.latent_bytes > sizeof s_out_buf) {
    send_codec_error(f->req_id, TC_E_RUN_FAILED, "DECODE", "tile + latent larger than max_body");
    return;
  }
  uint64_t t_ed = 0, t_model = 0;
  int rc = tc_codec_decode(&cq, f->body + TC_CODEC_HDR_BYTES, f->body_len - TC_CODEC_HDR_BYTES,
                           s_out_buf + out_cap, (uint8_t *)s_out_buf, &t_ed, &t_model);
  if (rc == TC_CODEC_ERR_BACKEND) {
    send_codec_error(f->req_id, TC_E_RUN_FAILED, "DECODE", "backend run returned an error");
  } else if (rc != 0) {
    send_codec_error(f->req_id, TC_E_BAD_PAYLOAD, "DECODE: bad payload", tc_rans_strerror(rc));
  } else {
    send_codec_result(f->req_id, TC_T_DECODE_RESULT, t_ed, t_model, s_out_buf, cq.tile_bytes);
  }
}

/* Add new request types here. */
static const tc_handler_t k_handlers[] = {
    {TC_T_HELLO, h_hello},   {TC_T_ECHO, h_echo},     {TC_T_RUN, h_run},
    {TC_T_ENCODE, h_encode}, {TC_T_DECODE, h_decode},
};

void tc_app_init(int backend_init_rc) {
  s_backend_rc = backend_init_rc;
  tc_frame_rx_init(&s_rx, s_rx_buf, sizeof s_rx_buf, TC_MAX_BODY);
  send_info(0); /* boot INFO: the ready token */
}

void tc_app_feed(uint8_t byte) {
  tc_frame_t f;
#if TC_RX_TIMEOUT_MS > 0
  static uint64_t timeout_ticks;
  if (timeout_ticks == 0u) timeout_ticks = (uint64_t)tc_port_tick_hz() * TC_RX_TIMEOUT_MS / 1000u;
  tc_frame_rx_expire(&s_rx, tc_port_ticks(), timeout_ticks);
#endif
  int r = tc_frame_rx_feed(&s_rx, byte, &f);
  if (r == TC_RX_ERROR) {
    tc_app_send_error(f.req_id, f.err, f.err_msg);
  } else if (r == TC_RX_PACKET) {
    for (size_t i = 0; i < sizeof k_handlers / sizeof k_handlers[0]; i++) {
      if (k_handlers[i].type == f.type) {
        k_handlers[i].fn(&f);
        return;
      }
    }
    tc_app_send_error(f.req_id, TC_E_UNKNOWN_TYPE, "unknown request type");
  }
}
