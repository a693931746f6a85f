/* tc_backend.h - the one interface between the core (protocol, runner) and an inference backend.
 * Every backend ("gen": generated C + int8 kernels; "tflm"; "testonly") defines `tc_backend`. */
#ifndef TC_BACKEND_H
#define TC_BACKEND_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A model's role in the codec, from the bundle manifest (codegen writes it; TC_ROLE_NONE for a model that
 * is not part of the codec, e.g. a bare .tflite or the TEST-ONLY backend's models). */
enum { TC_ROLE_NONE = 0, TC_ROLE_ENCODER = 1, TC_ROLE_DECODER = 2 };

typedef struct {
  const char *name;                   /* "enc_q1", ...: shown by INFO only, never parsed */
  uint32_t input_bytes, output_bytes; /* int8 elements */
  uint16_t in_h, in_w, in_c, out_h, out_w, out_c;
  uint8_t role;    /* TC_ROLE_* */
  uint8_t quality; /* 1..255 for a codec model, 0 otherwise */
} tc_model_desc_t;

typedef struct {
  const char *name;          /* "gen" or "tflm" */
  const uint8_t *model_hash; /* 32 bytes */
  int n_models;
  const tc_model_desc_t *models;
  uint32_t ram_bytes;                                 /* activation RAM (static plan or arena) */
  int (*init)(void);                                  /* 0 = ok */
  int (*run)(int idx, const int8_t *in, int8_t *out); /* 0 = ok */
} tc_backend_t;

extern const tc_backend_t tc_backend;

#ifdef __cplusplus
}
#endif

#endif /* TC_BACKEND_H */
