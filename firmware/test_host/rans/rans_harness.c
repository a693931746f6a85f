/* rans_harness.c - host driver of tc_rans.c for tests/test_rans_c.py (built with ASan + UBSan).
 *
 * Binary request/response protocol on stdin/stdout, little-endian:
 *   'T' u8 precision, u16 n_channels, per channel: i16 offset, u16 count, u16 head, u16 tail, u16 m,
 *        u16 core[m]  (the compact layout of tc_rans.h; m = count - head - tail for a well-formed channel)
 *        -> i32 status (always 0: tables are stored as given, malformed ones are for error tests)
 *   'G' i32 quality (only with -DTC_HARNESS_GENERATED: select tc_entropy_tables_for_quality(q))
 *        -> i32 status (0, or -1 if there is no table), u32 table count, u16 n_channels
 *   'C' -> i32 tc_rans_check_tables() of the current tables
 *   'E' u32 n, u32 out_cap, i8 latent[n] -> i32 status, u32 len, u8 bytes[len], u8 front_untouched
 *   'D' u32 n, u32 len, u8 stream[len] -> i32 status, i8 latent[n]
 *   'B' u32 iters -> u64 ns per encode, u64 ns per decode (of the last 'E' input)
 *   'Q' -> exit 0
 * Buffers are heap blocks of exactly the requested size, so ASan reports any access outside them. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tc_rans.h"
#ifdef TC_HARNESS_GENERATED
#include "tc_entropy_tables.h"
#endif

static tc_entropy_channel_t g_channels[1024];
static uint16_t *g_cum[1024]; /* core arrays, heap blocks of exactly m entries (NULL when m == 0) */
static tc_entropy_tables_t g_tables;
static const tc_entropy_tables_t *g_cur = &g_tables;
static int8_t *g_last_latent;
static uint32_t g_last_n;

static void die(const char *msg) {
  fprintf(stderr, "rans_harness: %s\n", msg);
  exit(2);
}
static void rd(void *p, size_t n) {
  if (n && fread(p, 1, n, stdin) != n) die("short read");
}
static void wr(const void *p, size_t n) {
  if (n && fwrite(p, 1, n, stdout) != n) die("short write");
}
static uint32_t rd_u32(void) {
  uint8_t b[4];
  rd(b, 4);
  return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}
static uint16_t rd_u16(void) {
  uint8_t b[2];
  rd(b, 2);
  return (uint16_t)(b[0] | (b[1] << 8));
}
static void wr_u32(uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  wr(b, 4);
}
static void wr_u64(uint64_t v) {
  wr_u32((uint32_t)v);
  wr_u32((uint32_t)(v >> 32));
}
static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void cmd_tables(void) {
  for (uint32_t c = 0; c < g_tables.n_channels; c++) free(g_cum[c]);
  uint8_t prec;
  rd(&prec, 1);
  uint16_t nc = rd_u16();
  if (nc > 1024) die("too many channels");
  for (uint32_t c = 0; c < nc; c++) {
    g_channels[c].offset = (int16_t)rd_u16();
    g_channels[c].count = rd_u16();
    g_channels[c].head = rd_u16();
    g_channels[c].tail = rd_u16();
    uint32_t m = rd_u16();
    g_cum[c] = NULL;
    if (m) {
      g_cum[c] = malloc(m * sizeof(uint16_t));
      if (!g_cum[c]) die("oom");
    }
    for (uint32_t i = 0; i < m; i++) g_cum[c][i] = rd_u16();
    g_channels[c].core = g_cum[c];
  }
  g_tables.precision = prec;
  g_tables.n_channels = nc;
  g_tables.channels = g_channels;
  g_cur = &g_tables;
  wr_u32(0);
}

static void cmd_generated(void) {
  int32_t q = (int32_t)rd_u32();
#ifdef TC_HARNESS_GENERATED
  const tc_entropy_tables_t *t = tc_entropy_tables_for_quality(q);
  wr_u32(t ? 0u : (uint32_t)-1);
  wr_u32(TC_ENTROPY_N_TABLES);
  uint16_t nc = t ? t->n_channels : 0u;
  wr(&nc, 2);
  if (t) g_cur = t;
#else
  (void)q;
  die("built without generated tables");
#endif
}

static void cmd_encode(void) {
  uint32_t n = rd_u32(), cap = rd_u32();
  int8_t *lat = malloc(n ? n : 1);
  uint8_t *out = malloc(cap ? cap : 1);
  if (!lat || !out) die("oom");
  rd(lat, n);
  memset(out, 0xA5, cap);
  uint32_t len = 12345;
  int rc = tc_rans_encode_latent(n ? lat : NULL, n, g_cur, cap ? out : (uint8_t *)out, cap, &len);
  wr_u32((uint32_t)rc);
  if (rc != TC_RANS_OK) len = 0;
  wr_u32(len);
  wr(out + cap - len, len);
  uint8_t untouched = 1;
  for (uint32_t i = 0; i < cap - len; i++) untouched &= (uint8_t)(out[i] == 0xA5);
  wr(&untouched, 1);
  free(out);
  free(g_last_latent);
  g_last_latent = lat;
  g_last_n = n;
}

static void cmd_decode(void) {
  uint32_t n = rd_u32(), len = rd_u32();
  uint8_t *in = malloc(len ? len : 1);
  int8_t *lat = malloc(n ? n : 1);
  if (!in || !lat) die("oom");
  rd(in, len);
  memset(lat, 0, n);
  int rc = tc_rans_decode_latent(len ? in : NULL, len, g_cur, n ? lat : NULL, n);
  wr_u32((uint32_t)rc);
  wr(lat, n);
  free(in);
  free(lat);
}

static void cmd_bench(void) {
  uint32_t iters = rd_u32(), cap = TC_RANS_MAX_BYTES(g_last_n), len = 0;
  uint8_t *out = malloc(cap);
  int8_t *lat = malloc(g_last_n ? g_last_n : 1);
  if (!out || !lat) die("oom");
  uint64_t t0 = now_ns();
  for (uint32_t k = 0; k < iters; k++) {
    if (tc_rans_encode_latent(g_last_latent, g_last_n, g_cur, out, cap, &len) != TC_RANS_OK) die("encode");
  }
  uint64_t t1 = now_ns();
  for (uint32_t k = 0; k < iters; k++) {
    if (tc_rans_decode_latent(out + cap - len, len, g_cur, lat, g_last_n) != TC_RANS_OK) die("decode");
  }
  uint64_t t2 = now_ns();
  wr_u64((t1 - t0) / (iters ? iters : 1));
  wr_u64((t2 - t1) / (iters ? iters : 1));
  free(out);
  free(lat);
}

int main(void) {
  for (;;) {
    int cmd = getchar();
    switch (cmd) {
      case 'T':
        cmd_tables();
        break;
      case 'G':
        cmd_generated();
        break;
      case 'C':
        wr_u32((uint32_t)tc_rans_check_tables(g_cur));
        break;
      case 'E':
        cmd_encode();
        break;
      case 'D':
        cmd_decode();
        break;
      case 'B':
        cmd_bench();
        break;
      case 'Q':
      case EOF:
        for (uint32_t c = 0; c < g_tables.n_channels; c++) free(g_cum[c]);
        free(g_last_latent);
        return 0;
      default:
        die("unknown command");
    }
    fflush(stdout);
  }
}
