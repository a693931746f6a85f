/* tc_rans.h - byte-wise rANS coder of the int8 latent (32-bit state, L = 2^23), no heap.
 * Byte for byte the same as the Python reference python/tinycodec/rans.py; format in docs/bitstream.md.
 *
 * Stream = 4-byte big-endian final encoder state, then the renormalisation bytes in decode order.
 * Symbol i of the latent (NHWC order) uses channel table i % n_channels; values are clipped to the
 * table's support [offset, offset + count - 1]. Decoding must end in state 2^23 with every byte
 * consumed (integrity check). Integer only; every loop is bounded by n or by the input length. */
#ifndef TC_RANS_H
#define TC_RANS_H

#include <stdint.h>

#define TC_RANS_L (1u << 23)
/* Worst case size of an encoded latent of n symbols (precision <= 16: at most 2 bytes per symbol). */
#define TC_RANS_MAX_BYTES(n) (4u + 2u * (uint32_t)(n))

/* One channel, stored compactly (the generated tables of tc-small are ~4.5x smaller than plain uint32
 * cumulative arrays). Symbol s stands for the value offset + s and has frequency cum(s + 1) - cum(s) >= 1:
 *   cum(s) = s                               for s <  head             (leading run of frequency 1)
 *   cum(s) = core[s - head]                  for head <= s < count - tail
 *   cum(s) = (1 << precision) - (count - s)  for s >= count - tail     (trailing run of frequency 1;
 *                                                                       cum(count) = 1 << precision)
 * core has count - head - tail uint16 entries (every cum(s) with s < count is < 2^16; the total is implicit).
 * With head = tail = 0 core is the plain cumulative array without its final 1 << precision. */
typedef struct {
  int16_t offset;       /* value of symbol 0 (-128..127) */
  uint16_t count;       /* number of symbols, 1..256 */
  uint16_t head, tail;  /* lengths of the leading / trailing runs of frequency-1 symbols */
  const uint16_t *core; /* count - head - tail entries (may be NULL when that is 0) */
} tc_entropy_channel_t;

/* cum(s) for 0 <= s <= count (no checks: see tc_rans_check_tables). */
static inline uint32_t tc_entropy_cum(const tc_entropy_channel_t *ch, uint32_t s, uint32_t total) {
  if (s < ch->head) return s;
  if (s + ch->tail >= ch->count) return total - (ch->count - s);
  return ch->core[s - ch->head];
}

typedef struct {
  uint8_t precision;   /* CDF precision in bits, 8..16 */
  uint16_t n_channels; /* latent channels C (>= 1) */
  const tc_entropy_channel_t *channels;
} tc_entropy_tables_t;

enum tc_rans_status {
  TC_RANS_OK = 0,
  TC_RANS_ERR_ARG = -1,       /* NULL pointer, n_channels == 0 or precision outside 8..16 */
  TC_RANS_ERR_TABLES = -2,    /* a table entry is malformed (zero frequency, bad count) */
  TC_RANS_ERR_OUT_FULL = -3,  /* encode: out_cap too small (nothing outside out was written) */
  TC_RANS_ERR_TRUNCATED = -4, /* decode: stream ended before all symbols were decoded */
  TC_RANS_ERR_CORRUPT = -5,   /* decode: final state check failed (corrupted / other tables) */
  TC_RANS_ERR_TRAILING = -6,  /* decode: bytes left over after a valid stream */
};

/* Full check of the tables (cum(s) strictly increasing from cum(0) = 0 to cum(count) = 1 << precision,
 * offset + count - 1 within int8). O(total symbols): call once, e.g. at boot or in a test. Returns TC_RANS_OK
 * or an error. */
int tc_rans_check_tables(const tc_entropy_tables_t *t);

/* Encode n int8 latent values (NHWC). The coder runs backwards, so the stream is written into the END of
 * out: on TC_RANS_OK it occupies out[out_cap - *out_len .. out_cap - 1] (room in front of it, e.g. for a
 * length prefix). Never writes outside out[0 .. out_cap - 1]; TC_RANS_MAX_BYTES(n) is always enough. */
int tc_rans_encode_latent(const int8_t *latent, uint32_t n, const tc_entropy_tables_t *t, uint8_t *out,
                          uint32_t out_cap, uint32_t *out_len);

/* Decode exactly n latent values from in[0 .. len - 1]. Never reads outside in; on error latent[] holds
 * partial output. Returns TC_RANS_OK, TC_RANS_ERR_TRUNCATED, _CORRUPT, _TRAILING, _ARG or _TABLES. */
int tc_rans_decode_latent(const uint8_t *in, uint32_t len, const tc_entropy_tables_t *t, int8_t *latent,
                          uint32_t n);

/* Short English name of a status code (for logs / error frames). */
const char *tc_rans_strerror(int status);

#endif /* TC_RANS_H */
