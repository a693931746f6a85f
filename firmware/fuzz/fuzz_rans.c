/* libFuzzer target "rans": the C entropy coder (tc_rans.c) with the generated tc-small tables at every
 * quality. Input: byte 0 selects the quality (index mod the number of tables) and the mode:
 *   bit 7 clear: decode. The rest is a tile payload, decoded to the real latent size (16 * channels) and,
 *     with bit 6 set, to (byte 1) symbols. A successful decode must re-encode and decode to the same latent.
 *   bit 7 set: encode. The rest is an int8 latent (any length <= 4096) encoded into an output buffer of
 *     (byte 1 * 16) bytes or the worst case; it must either fail with OUT_FULL or decode back to the
 *     clipped latent, byte for byte in length TC_RANS_MAX_BYTES bounds.
 * Oracles: ASan/UBSan (no read outside the payload, no write outside the latent) and the round trips. */
#include <stdlib.h>
#include <string.h>

#include "tc_entropy_tables.h"
#include "tc_rans.h"

#define MAX_N 4096u
static int8_t s_lat[MAX_N], s_lat2[MAX_N];

static void clip(const tc_entropy_tables_t *t, const int8_t *in, int8_t *out, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    const tc_entropy_channel_t *ch = &t->channels[i % t->n_channels];
    int32_t v = in[i];
    if (v < ch->offset) v = ch->offset;
    if (v > ch->offset + (int32_t)ch->count - 1) v = ch->offset + (int32_t)ch->count - 1;
    out[i] = (int8_t)v;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  const tc_entropy_tables_t *t =
      tc_entropy_tables_for_quality(tc_entropy_qualities[data[0] % TC_ENTROPY_N_TABLES]);
  static int checked;
  if (!checked) { /* O(total symbols): once per process */
    for (int k = 0; k < TC_ENTROPY_N_TABLES; k++)
      if (tc_rans_check_tables(tc_entropy_tables_for_quality(tc_entropy_qualities[k])) != TC_RANS_OK) abort();
    checked = 1;
  }
  if (t == NULL) abort();
  if ((data[0] & 0x80u) == 0u) {
    const uint32_t n = (data[0] & 0x40u) ? data[1] : 16u * t->n_channels;
    const uint8_t *p = data + 2;
    const uint32_t len = (uint32_t)(size - 2);
    /* a heap copy of exactly len bytes, so ASan sees any read past the payload */
    uint8_t *in = malloc(len ? len : 1);
    memcpy(in, p, len);
    int8_t *lat = malloc(n ? n : 1);
    const int rc = tc_rans_decode_latent(in, len, t, lat, n);
    if (rc != TC_RANS_OK && rc != TC_RANS_ERR_TRUNCATED && rc != TC_RANS_ERR_CORRUPT &&
        rc != TC_RANS_ERR_TRAILING)
      abort();
    if (rc == TC_RANS_OK) {
      uint8_t *buf = malloc(TC_RANS_MAX_BYTES(n));
      uint32_t out_len = 0;
      if (tc_rans_encode_latent(lat, n, t, buf, TC_RANS_MAX_BYTES(n), &out_len) != TC_RANS_OK) abort();
      if (tc_rans_decode_latent(buf + TC_RANS_MAX_BYTES(n) - out_len, out_len, t, s_lat2, n) != TC_RANS_OK)
        abort();
      if (memcmp(lat, s_lat2, n) != 0) abort();
      free(buf);
    }
    free(lat);
    free(in);
    return 0;
  }
  uint32_t n = (uint32_t)(size - 2);
  if (n > MAX_N) n = MAX_N;
  memcpy(s_lat, data + 2, n);
  const uint32_t cap = data[1] ? 16u * data[1] : TC_RANS_MAX_BYTES(n);
  uint8_t *buf = malloc(cap);
  uint32_t out_len = 0;
  const int rc = tc_rans_encode_latent(s_lat, n, t, buf, cap, &out_len);
  if (rc == TC_RANS_ERR_OUT_FULL) {
    if (cap >= TC_RANS_MAX_BYTES(n)) abort(); /* the documented worst case must always be enough */
  } else if (rc != TC_RANS_OK) {
    abort();
  } else {
    if (out_len > cap || out_len > TC_RANS_MAX_BYTES(n) || out_len < 4u) abort();
    if (tc_rans_decode_latent(buf + cap - out_len, out_len, t, s_lat2, n) != TC_RANS_OK) abort();
    clip(t, s_lat, s_lat, n);
    if (memcmp(s_lat, s_lat2, n) != 0) abort();
  }
  free(buf);
  return 0;
}
