/* tc_codec.h - the codec on the device: RGB888 tile -> encoder model -> rANS payload (ENCODE), and
 * payload -> rANS decode -> decoder model -> RGB888 tile (DECODE). Byte for byte what the host's
 * HostCodec.encode_tile / decode_tile produce (docs/protocol.md). No heap: the caller passes the buffers.
 *
 * The quality -> model mapping is never hand-written: the qualities are those of the generated entropy
 * tables (tc_entropy_tables.h, from the manifest) and the models are looked up by the role and quality
 * codegen writes into tc_backend.models (never by name). Every firmware env (backends gen and tflm)
 * compiles the tables and defines TC_CODEC_REQUIRED (missing tables = build error), so INFO's capabilities
 * are the same on every backend. Only test builds without tables (TEST-ONLY backend, kernel tests) compile
 * the codec out; there tc_codec_available() is 0. */
#ifndef TC_CODEC_H
#define TC_CODEC_H

#include <stdint.h>

/* Returned by tc_codec_encode/decode when the backend run failed; other negative values are tc_rans statuses.
 */
#define TC_CODEC_ERR_BACKEND (-100)

/* 1 if this firmware has entropy tables (ENCODE/DECODE supported), else 0. */
int tc_codec_available(void);
/* Number of qualities and the i-th one (ascending, as in the .tcz header). */
int tc_codec_n_qualities(void);
int tc_codec_quality(int i);

typedef struct {
  int enc_idx, dec_idx;  /* backend model indices */
  uint32_t tile_bytes;   /* encoder input = decoder output = tile * tile * 3 */
  uint32_t latent_bytes; /* encoder output = decoder input */
  const void *tables;    /* const tc_entropy_tables_t * */
} tc_codec_q_t;

/* Resolve quality q. Returns 0, or -1 (no tables for q, no such models, or their shapes disagree) with
 * *why set to a short English reason. */
int tc_codec_lookup(int q, tc_codec_q_t *out, const char **why);

/* ENCODE. tile: tile_bytes RGB888, converted IN PLACE to int8 (p - 128). latent: latent_bytes of scratch.
 * The payload is written at the END of work[0 .. work_cap - 1] (see tc_rans_encode_latent):
 * *payload = work + work_cap - *payload_len. Returns 0, a negative tc_rans status, or TC_CODEC_ERR_BACKEND.
 * Ticks: tc_port_ticks() deltas around the model run and around the rANS coder. */
int tc_codec_encode(const tc_codec_q_t *cq, uint8_t *tile, int8_t *latent, uint8_t *work, uint32_t work_cap,
                    const uint8_t **payload, uint32_t *payload_len, uint64_t *ticks_model,
                    uint64_t *ticks_entropy);

/* DECODE. latent: latent_bytes of scratch, out: tile_bytes, receives RGB888 (must not overlap latent).
 * Returns 0, a negative tc_rans status (bad payload), or TC_CODEC_ERR_BACKEND. */
int tc_codec_decode(const tc_codec_q_t *cq, const uint8_t *payload, uint32_t len, int8_t *latent,
                    uint8_t *out, uint64_t *ticks_entropy, uint64_t *ticks_model);

#endif /* TC_CODEC_H */
