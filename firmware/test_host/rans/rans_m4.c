/* rans_m4.c - tc_rans.c on the emulated Cortex-M4 (QEMU mps2-an386, semihosting stdout + exit code).
 * For every quality of the generated tables: encode a fixed pseudo-random 4x4xC latent, print the bytes
 * as hex (tests/test_rans_c.py compares them with the Python reference), decode and compare. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tc_entropy_tables.h"

#define N_MAX (4u * 4u * 256u)

extern void initialise_monitor_handles(void);
/* newlib's stdio wants a little heap (see test_core.c): a fixed pool, the coder itself uses none */
void *_sbrk(ptrdiff_t incr);
void *_sbrk(ptrdiff_t incr) {
  static uint8_t heap[16384] __attribute__((aligned(8)));
  static size_t used;
  if (incr < 0 || used + (size_t)incr > sizeof heap) return (void *)-1;
  void *p = heap + used;
  used += (size_t)incr;
  return p;
}

static int8_t g_latent[N_MAX], g_decoded[N_MAX];
static uint8_t g_buf[TC_RANS_MAX_BYTES(N_MAX)];

int main(void) {
  initialise_monitor_handles();
  int fails = 0;
  for (int k = 0; k < TC_ENTROPY_N_TABLES; k++) {
    const int q = tc_entropy_qualities[k];
    const tc_entropy_tables_t *t = tc_entropy_tables_for_quality(q);
    if (t == NULL || tc_rans_check_tables(t) != TC_RANS_OK) return 3;
    const uint32_t n = 16u * t->n_channels;
    if (n > N_MAX) return 4;
    uint32_t s = 12345u + (uint32_t)q; /* LCG, mirrored in the test */
    for (uint32_t i = 0; i < n; i++) {
      s = s * 1103515245u + 12345u;
      g_latent[i] = (int8_t)((int32_t)((s >> 16) % 17u) - 8);
    }
    uint32_t len = 0;
    int rc = tc_rans_encode_latent(g_latent, n, t, g_buf, sizeof g_buf, &len);
    const uint8_t *p = g_buf + sizeof g_buf - len;
    printf("q%d rc %d len %lu ", q, rc, (unsigned long)len);
    for (uint32_t i = 0; i < len; i++) printf("%02x", p[i]);
    printf("\n");
    rc |= tc_rans_decode_latent(p, len, t, g_decoded, n);
    for (uint32_t i = 0; i < n && rc == 0; i++) {
      const tc_entropy_channel_t *ch = &t->channels[i % t->n_channels];
      int32_t v = g_latent[i];
      if (v < ch->offset) v = ch->offset;
      if (v > ch->offset + (int32_t)ch->count - 1) v = ch->offset + (int32_t)ch->count - 1;
      if (g_decoded[i] != v) rc = 1;
    }
    if (len > 0u && tc_rans_decode_latent(p, len - 1u, t, g_decoded, n) != TC_RANS_ERR_TRUNCATED) rc = 1;
    if (rc != 0) fails++;
  }
  printf("rans_m4: %d failed\n", fails);
  exit(fails ? 1 : 0);
}
