/* Host test driver for the gen backend: tc_gen_main IDX IN.bin OUT.bin
 * Reads input_bytes int8 from IN.bin, runs model IDX through tc_backend, writes output_bytes to OUT.bin.
 * Used for sanitizer (ASan/UBSan) builds, where loading a shared library through ctypes is awkward. */
#include <stdio.h>
#include <stdlib.h>

#include "tc_backend.h"

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s IDX IN.bin OUT.bin\n", argv[0]);
    return 2;
  }
  const int idx = atoi(argv[1]);
  if (idx < 0 || idx >= tc_backend.n_models || tc_backend.init() != 0) {
    fprintf(stderr, "bad model index or init failed\n");
    return 2;
  }
  const tc_model_desc_t *d = &tc_backend.models[idx];
  int8_t *in = malloc(d->input_bytes);
  int8_t *out = malloc(d->output_bytes);
  FILE *f = fopen(argv[2], "rb");
  if (in == NULL || out == NULL || f == NULL || fread(in, 1, d->input_bytes, f) != d->input_bytes) {
    fprintf(stderr, "cannot read %u input bytes from %s\n", (unsigned)d->input_bytes, argv[2]);
    return 2;
  }
  fclose(f);
  const int rc = tc_backend.run(idx, in, out);
  if (rc != 0) {
    fprintf(stderr, "run failed: %d\n", rc);
    return 1;
  }
  f = fopen(argv[3], "wb");
  if (f == NULL || fwrite(out, 1, d->output_bytes, f) != d->output_bytes) {
    fprintf(stderr, "cannot write %s\n", argv[3]);
    return 2;
  }
  fclose(f);
  free(in);
  free(out);
  return 0;
}
