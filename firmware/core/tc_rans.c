#include "tc_rans.h"

#include <stddef.h>

/* O(n_channels) checks done on every call: enough that no division by zero, no read outside a core[]
 * array and no unbounded loop is possible whatever the stream. tc_rans_check_tables() checks the rest. */
static int check_header(const tc_entropy_tables_t *t) {
  if (t == NULL || t->channels == NULL || t->n_channels == 0u) return TC_RANS_ERR_ARG;
  if (t->precision < 8u || t->precision > 16u) return TC_RANS_ERR_ARG;
  const uint32_t total = 1u << t->precision;
  for (uint32_t c = 0; c < t->n_channels; c++) {
    const tc_entropy_channel_t *ch = &t->channels[c];
    if (ch->count == 0u || ch->count > 256u) return TC_RANS_ERR_TABLES;
    if ((uint32_t)ch->head + ch->tail > ch->count) return TC_RANS_ERR_TABLES;
    const uint32_t m = (uint32_t)ch->count - ch->head - ch->tail;
    if (m == 0u) {
      if (ch->count != total) return TC_RANS_ERR_TABLES; /* all frequency 1: count must be the total */
    } else {
      /* core starts where the leading run ends, and its last entry is below the trailing run */
      if (ch->core == NULL || ch->core[0] != ch->head || ch->core[m - 1u] >= total - ch->tail) {
        return TC_RANS_ERR_TABLES;
      }
    }
  }
  return TC_RANS_OK;
}

int tc_rans_check_tables(const tc_entropy_tables_t *t) {
  int rc = check_header(t);
  if (rc != TC_RANS_OK) return rc;
  const uint32_t total = 1u << t->precision;
  for (uint32_t c = 0; c < t->n_channels; c++) {
    const tc_entropy_channel_t *ch = &t->channels[c];
    if (ch->offset < -128 || (int32_t)ch->offset + (int32_t)ch->count - 1 > 127) return TC_RANS_ERR_TABLES;
    for (uint32_t s = 0; s < ch->count; s++) {
      if (tc_entropy_cum(ch, s + 1u, total) <= tc_entropy_cum(ch, s, total)) return TC_RANS_ERR_TABLES;
    }
  }
  return TC_RANS_OK;
}

int tc_rans_encode_latent(const int8_t *latent, uint32_t n, const tc_entropy_tables_t *t, uint8_t *out,
                          uint32_t out_cap, uint32_t *out_len) {
  if (out_len != NULL) *out_len = 0;
  if (out == NULL || out_len == NULL || (latent == NULL && n != 0u)) return TC_RANS_ERR_ARG;
  int rc = check_header(t);
  if (rc != TC_RANS_OK) return rc;

  const uint32_t prec = t->precision;
  const uint32_t total = 1u << prec;
  const uint32_t x_max_unit = (TC_RANS_L >> prec) << 8; /* x_max = x_max_unit * f <= 2^31 */
  uint32_t x = TC_RANS_L;
  uint8_t *const begin = out;
  uint8_t *p = out + out_cap; /* bytes are written last-to-first */
  uint32_t c = (n == 0u) ? 0u : (n - 1u) % t->n_channels;

  for (uint32_t i = n; i-- > 0u;) {
    const tc_entropy_channel_t *ch = &t->channels[c];
    c = (c == 0u) ? (uint32_t)t->n_channels - 1u : c - 1u;
    int32_t s = (int32_t)latent[i] - (int32_t)ch->offset;
    if (s < 0) s = 0;
    if (s > (int32_t)ch->count - 1) s = (int32_t)ch->count - 1;
    const uint32_t start = tc_entropy_cum(ch, (uint32_t)s, total);
    const uint32_t f = tc_entropy_cum(ch, (uint32_t)s + 1u, total) - start;
    if (f == 0u || f > total) return TC_RANS_ERR_TABLES;
    const uint32_t x_max = x_max_unit * f;
    while (x >= x_max) { /* at most 2 iterations: x < 2^31, x_max >= 2^15 */
      if (p == begin) return TC_RANS_ERR_OUT_FULL;
      *--p = (uint8_t)(x & 0xFFu);
      x >>= 8;
    }
    x = ((x / f) << prec) + (x % f) + start;
  }
  if ((uint32_t)(p - begin) < 4u) return TC_RANS_ERR_OUT_FULL;
  for (int k = 0; k < 4; k++) { /* big-endian final state in front */
    *--p = (uint8_t)(x & 0xFFu);
    x >>= 8;
  }
  *out_len = (uint32_t)((begin + out_cap) - p);
  return TC_RANS_OK;
}

int tc_rans_decode_latent(const uint8_t *in, uint32_t len, const tc_entropy_tables_t *t, int8_t *latent,
                          uint32_t n) {
  if ((in == NULL && len != 0u) || (latent == NULL && n != 0u)) return TC_RANS_ERR_ARG;
  int rc = check_header(t);
  if (rc != TC_RANS_OK) return rc;
  if (len < 4u) return TC_RANS_ERR_TRUNCATED;

  const uint32_t prec = t->precision;
  const uint32_t total = 1u << prec;
  const uint32_t mask = total - 1u;
  uint32_t x = ((uint32_t)in[0] << 24) | ((uint32_t)in[1] << 16) | ((uint32_t)in[2] << 8) | (uint32_t)in[3];
  uint32_t pos = 4;
  uint32_t c = 0;

  for (uint32_t i = 0; i < n; i++) {
    const tc_entropy_channel_t *ch = &t->channels[c];
    c = (c + 1u == t->n_channels) ? 0u : c + 1u;
    const uint32_t slot = x & mask;
    const uint32_t hi = total - ch->tail; /* first slot of the trailing frequency-1 run */
    uint32_t sym;
    if (slot < ch->head) { /* leading run: cum(s) = s, f = 1 */
      sym = slot;
      x >>= prec;
    } else if (slot >= hi) { /* trailing run: cum(s) = total - (count - s), f = 1 */
      sym = (uint32_t)ch->count - (total - slot);
      x >>= prec;
    } else {
      /* binary search in core for the largest k with core[k] <= slot (<= 8 steps). Invariant:
       * core[lo] <= slot < cum(head + lo + span) and lo + span <= m (check_header: core[0] = head <= slot,
       * slot < hi = cum(count - tail)), so lo < m even for a malformed table. */
      const uint16_t *core = ch->core;
      const uint32_t m = (uint32_t)ch->count - ch->head - ch->tail;
      uint32_t lo = 0, span = m;
      while (span > 1u) {
        const uint32_t half = span >> 1;
        lo = (core[lo + half] <= slot) ? lo + half : lo;
        span -= half;
      }
      const uint32_t start = core[lo];
      const uint32_t next = (lo + 1u < m) ? core[lo + 1u] : hi;
      sym = ch->head + lo;
      x = (next - start) * (x >> prec) + slot - start; /* unsigned: wraps (no UB) on a malformed table */
    }
    latent[i] = (int8_t)((int32_t)ch->offset + (int32_t)sym);
    while (x < TC_RANS_L) { /* each step consumes one byte: bounded by len */
      if (pos >= len) return TC_RANS_ERR_TRUNCATED;
      x = (x << 8) | in[pos++];
    }
  }
  if (x != TC_RANS_L) return TC_RANS_ERR_CORRUPT;
  if (pos != len) return TC_RANS_ERR_TRAILING;
  return TC_RANS_OK;
}

const char *tc_rans_strerror(int status) {
  switch (status) {
    case TC_RANS_OK:
      return "ok";
    case TC_RANS_ERR_ARG:
      return "invalid argument";
    case TC_RANS_ERR_TABLES:
      return "malformed entropy tables";
    case TC_RANS_ERR_OUT_FULL:
      return "output buffer too small";
    case TC_RANS_ERR_TRUNCATED:
      return "entropy-coded tile is truncated";
    case TC_RANS_ERR_CORRUPT:
      return "entropy-coded tile is corrupted (final rANS state check failed)";
    case TC_RANS_ERR_TRAILING:
      return "trailing bytes after the entropy-coded tile";
    default:
      return "unknown rANS error";
  }
}
