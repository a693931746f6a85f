#include "tc_cobs.h"

size_t tc_cobs_encode(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
  size_t o = 1, code_at = 0;
  uint8_t code = 1;
  if (cap < 1) return TC_COBS_ERR;
  for (size_t i = 0; i < n; i++) {
    if (in[i] != 0) {
      if (o >= cap) return TC_COBS_ERR;
      out[o++] = in[i];
      code++;
    }
    if (in[i] == 0 || code == 0xFF) {
      out[code_at] = code;
      if (o >= cap) return TC_COBS_ERR;
      code_at = o++;
      code = 1;
    }
  }
  out[code_at] = code;
  return o;
}

size_t tc_cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
  size_t i = 0, o = 0;
  while (i < n) {
    uint8_t code = in[i++];
    if (code == 0) return TC_COBS_ERR;
    for (uint8_t k = 1; k < code; k++) {
      if (i >= n || in[i] == 0 || o >= cap) return TC_COBS_ERR;
      out[o++] = in[i++];
    }
    if (code != 0xFF && i < n) {
      if (o >= cap) return TC_COBS_ERR;
      out[o++] = 0;
    }
  }
  return o;
}

static void enc_flush(tc_cobs_enc_t *e) {
  e->put(e->ctx, (uint8_t)(e->n + 1u));
  for (uint8_t k = 0; k < e->n; k++) e->put(e->ctx, e->block[k]);
  e->n = 0;
}

void tc_cobs_enc_begin(tc_cobs_enc_t *e, tc_put_fn put, void *ctx) {
  e->put = put;
  e->ctx = ctx;
  e->n = 0;
}

void tc_cobs_enc_feed(tc_cobs_enc_t *e, const uint8_t *data, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (data[i] == 0) {
      enc_flush(e);
    } else {
      e->block[e->n++] = data[i];
      if (e->n == 254u) enc_flush(e);
    }
  }
}

void tc_cobs_enc_end(tc_cobs_enc_t *e) {
  enc_flush(e);
  e->put(e->ctx, 0);
}

void tc_cobs_dec_reset(tc_cobs_dec_t *d) {
  d->code = 0;
  d->remaining = 0;
  d->started = 0;
}

int tc_cobs_dec_feed(tc_cobs_dec_t *d, uint8_t byte) {
  if (d->remaining > 0) {
    d->remaining--;
    return byte;
  }
  /* byte is a code byte: the previous block (if any, and not a full 0xFF block) ended in a zero */
  int out = (d->started && d->code != 0xFF) ? 0 : -1;
  d->started = 1;
  d->code = byte;
  d->remaining = (uint8_t)(byte - 1u);
  return out;
}

int tc_cobs_dec_complete(const tc_cobs_dec_t *d) { return d->started && d->remaining == 0; }
