#include "tc_codec.h"

#include <stddef.h>

#include "tc_backend.h"
#include "tc_port.h"
#include "tc_rans.h"
#include "tc_runner.h"

/* The generated tables (firmware/generated/tc_entropy_tables.{h,c}, written by `tinycodec codegen
 * --manifest ...`, i.e. `make codegen`) are part of every firmware build, whatever the backend (gen, tflm):
 * those envs define TC_CODEC_REQUIRED and a missing table is a build error, not a firmware that silently
 * lacks ENCODE/DECODE. Only test builds without a codec (TEST-ONLY backend, kernel tests) leave it out. */
#if defined(__has_include)
#if __has_include("tc_entropy_tables.h")
#include "tc_entropy_tables.h"
#define TC_CODEC_HAVE_TABLES 1
#endif
#endif
#if defined(TC_CODEC_REQUIRED) && !defined(TC_CODEC_HAVE_TABLES)
#error "tc_entropy_tables.h not found: run `make codegen` (tinycodec codegen --manifest <bundle> --out firmware/generated) and put firmware/generated on the include path"
#endif

#ifdef TC_CODEC_HAVE_TABLES
int tc_codec_available(void) { return 1; }
int tc_codec_n_qualities(void) { return TC_ENTROPY_N_TABLES; }
int tc_codec_quality(int i) { return (i >= 0 && i < TC_ENTROPY_N_TABLES) ? tc_entropy_qualities[i] : -1; }

/* The backend's model with this role and quality (from the manifest, written by codegen), or -1. */
static int find_model(uint8_t role, int q) {
  for (int i = 0; i < tc_backend.n_models; i++) {
    if (tc_backend.models[i].role == role && tc_backend.models[i].quality == q) return i;
  }
  return -1;
}

int tc_codec_lookup(int q, tc_codec_q_t *out, const char **why) {
  const tc_entropy_tables_t *t = (q >= 0 && q <= 255) ? tc_entropy_tables_for_quality(q) : NULL;
  if (t == NULL) {
    *why = "no entropy tables for this quality";
    return -1;
  }
  const int e = find_model(TC_ROLE_ENCODER, q), d = find_model(TC_ROLE_DECODER, q);
  if (e < 0 || d < 0) {
    *why = "the backend has no encoder/decoder model for this quality";
    return -1;
  }
  const tc_model_desc_t *me = &tc_backend.models[e], *md = &tc_backend.models[d];
  if (me->in_c != 3 || me->input_bytes != md->output_bytes || me->output_bytes != md->input_bytes ||
      me->out_c != t->n_channels) {
    *why = "encoder/decoder/tables shapes disagree";
    return -1;
  }
  out->enc_idx = e;
  out->dec_idx = d;
  out->tile_bytes = me->input_bytes;
  out->latent_bytes = me->output_bytes;
  out->tables = t;
  return 0;
}

int tc_codec_encode(const tc_codec_q_t *cq, uint8_t *tile, int8_t *latent, uint8_t *work, uint32_t work_cap,
                    const uint8_t **payload, uint32_t *payload_len, uint64_t *ticks_model,
                    uint64_t *ticks_entropy) {
  for (uint32_t i = 0; i < cq->tile_bytes; i++) tile[i] ^= 0x80u; /* uint8 p -> int8 p - 128 */
  if (tc_runner_run(cq->enc_idx, (const int8_t *)tile, latent, ticks_model) != 0) return TC_CODEC_ERR_BACKEND;
  const uint64_t t0 = tc_port_ticks();
  int rc = tc_rans_encode_latent(latent, cq->latent_bytes, (const tc_entropy_tables_t *)cq->tables, work,
                                 work_cap, payload_len);
  *ticks_entropy = tc_port_ticks() - t0;
  if (rc != TC_RANS_OK) return rc;
  *payload = work + work_cap - *payload_len;
  return 0;
}

int tc_codec_decode(const tc_codec_q_t *cq, const uint8_t *payload, uint32_t len, int8_t *latent,
                    uint8_t *out, uint64_t *ticks_entropy, uint64_t *ticks_model) {
  const uint64_t t0 = tc_port_ticks();
  int rc =
      tc_rans_decode_latent(payload, len, (const tc_entropy_tables_t *)cq->tables, latent, cq->latent_bytes);
  *ticks_entropy = tc_port_ticks() - t0;
  *ticks_model = 0;
  if (rc != TC_RANS_OK) return rc;
  if (tc_runner_run(cq->dec_idx, latent, (int8_t *)out, ticks_model) != 0) return TC_CODEC_ERR_BACKEND;
  for (uint32_t i = 0; i < cq->tile_bytes; i++) out[i] ^= 0x80u; /* int8 q -> uint8 q + 128 */
  return 0;
}

#else /* no generated tables: the codec is not part of this firmware */
int tc_codec_available(void) { return 0; }
int tc_codec_n_qualities(void) { return 0; }
int tc_codec_quality(int i) {
  (void)i;
  return -1;
}
int tc_codec_lookup(int q, tc_codec_q_t *out, const char **why) {
  (void)q;
  (void)out;
  *why = "this firmware has no entropy tables (no codec)";
  return -1;
}
int tc_codec_encode(const tc_codec_q_t *cq, uint8_t *tile, int8_t *latent, uint8_t *work, uint32_t work_cap,
                    const uint8_t **payload, uint32_t *payload_len, uint64_t *ticks_model,
                    uint64_t *ticks_entropy) {
  (void)cq, (void)tile, (void)latent, (void)work, (void)work_cap, (void)payload, (void)payload_len;
  (void)ticks_model, (void)ticks_entropy;
  return TC_CODEC_ERR_BACKEND;
}
int tc_codec_decode(const tc_codec_q_t *cq, const uint8_t *payload, uint32_t len, int8_t *latent,
                    uint8_t *out, uint64_t *ticks_entropy, uint64_t *ticks_model) {
  (void)cq, (void)payload, (void)len, (void)latent, (void)out, (void)ticks_entropy, (void)ticks_model;
  return TC_CODEC_ERR_BACKEND;
}
#endif
