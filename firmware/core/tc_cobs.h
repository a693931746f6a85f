/* tc_cobs.h - Consistent Overhead Byte Stuffing: buffer and streaming forms, no heap.
 * Encoded data never contains 0x00; frames on the wire are COBS(packet) + 0x00. */
#ifndef TC_COBS_H
#define TC_COBS_H

#include <stddef.h>
#include <stdint.h>

#define TC_COBS_ERR ((size_t)-1)
/* Worst-case encoded size of n bytes (without the 0x00 delimiter). */
#define TC_COBS_MAX_ENCODED(n) ((n) + (n) / 254u + 1u)

/* Encode n bytes into out (cap bytes). Returns the encoded length, or TC_COBS_ERR if cap is too small. */
size_t tc_cobs_encode(const uint8_t *in, size_t n, uint8_t *out, size_t cap);
/* Decode n encoded bytes (no delimiter) into out; out may equal in (in-place).
 * Returns the decoded length, or TC_COBS_ERR on a 0x00 byte, a truncated block or cap overflow. */
size_t tc_cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap);

/* Streaming encoder: bytes go out through put() as soon as a block is complete (<= 255 buffered). */
typedef void (*tc_put_fn)(void *ctx, uint8_t byte);
typedef struct {
  tc_put_fn put;
  void *ctx;
  uint8_t n; /* data bytes in block[] */
  uint8_t block[254];
} tc_cobs_enc_t;
void tc_cobs_enc_begin(tc_cobs_enc_t *e, tc_put_fn put, void *ctx);
void tc_cobs_enc_feed(tc_cobs_enc_t *e, const uint8_t *data, size_t n);
/* Flush the last block and write the 0x00 frame delimiter. */
void tc_cobs_enc_end(tc_cobs_enc_t *e);

/* Streaming decoder: one encoded (non-zero) byte in, at most one decoded byte out. */
typedef struct {
  uint8_t code;      /* code byte of the current block */
  uint8_t remaining; /* data bytes still expected in the current block */
  uint8_t started;   /* a block has started since reset */
} tc_cobs_dec_t;
void tc_cobs_dec_reset(tc_cobs_dec_t *d);
/* Returns the decoded byte (0..255) or -1 when the input byte produced no output. */
int tc_cobs_dec_feed(tc_cobs_dec_t *d, uint8_t byte);
/* At the delimiter: 1 if the frame ended on a block boundary (valid), else 0. */
int tc_cobs_dec_complete(const tc_cobs_dec_t *d);

#endif
