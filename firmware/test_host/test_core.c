/* Unit tests of the portable core (COBS, CRC32, frame receiver/transmitter), run by
 * tests/test_core_c.py twice: on the host (gcc -fsanitize=address,undefined) and on the emulated
 * Cortex-M4 (arm-none-eabi-gcc, QEMU semihosting: -DTC_TEST_SEMIHOSTING). Exit code 0 = pass. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tc_cobs.h"
#include "tc_crc32.h"
#include "tc_frame.h"
#include "tc_proto.h"

static int g_fail, g_checks;
#define CHECK(cond)                                                            \
  do {                                                                         \
    g_checks++;                                                                \
    if (!(cond)) {                                                             \
      g_fail++;                                                                \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

#ifdef TC_TEST_SEMIHOSTING
/* on the board: no heap; exact-size buffers come from a bump arena, "freed" all at once */
static uint8_t g_arena[8192] __attribute__((aligned(8)));
static size_t g_arena_used;
static void *test_alloc(size_t n) {
  if (g_arena_used + n > sizeof g_arena) return NULL;
  void *p = g_arena + g_arena_used;
  g_arena_used += n;
  return p;
}
static void test_free(void *p) {
  (void)p;
  g_arena_used = 0;
}
extern void initialise_monitor_handles(void);
/* newlib's stdio wants a little heap; libgloss' _sbrk assumes the stack is above the heap, ours
 * is below, so give it a fixed pool. (The firmware itself links no _sbrk at all.) */
void *_sbrk(ptrdiff_t incr) {
  static uint8_t heap[16384] __attribute__((aligned(8)));
  static size_t used;
  if (incr < 0 || used + (size_t)incr > sizeof heap) return (void *)-1;
  void *p = heap + used;
  used += (size_t)incr;
  return p;
}
#else
#define test_alloc malloc
#define test_free free
#endif

static uint32_t g_rng = 12345;
static uint32_t rnd(void) {
  g_rng = g_rng * 1664525u + 1013904223u;
  return g_rng >> 8;
}

/* -- a byte sink for the transmitters -- */
static uint8_t g_wire[70000];
static size_t g_wire_n;
static void sink(void *ctx, uint8_t b) {
  (void)ctx;
  if (g_wire_n < sizeof g_wire) g_wire[g_wire_n++] = b;
}

static void test_crc32(void) {
  CHECK(tc_crc32_update(0, "", 0) == 0);
  CHECK(tc_crc32_update(0, "123456789", 9) == 0xCBF43926u);
  CHECK(tc_crc32_update(0, "The quick brown fox jumps over the lazy dog", 43) == 0x414FA339u);
  uint32_t c = tc_crc32_update(0, "12345", 5);
  CHECK(tc_crc32_update(c, "6789", 4) == 0xCBF43926u);
}

static void test_cobs(void) {
  static uint8_t in[3000], enc[3100], dec[3000];
  const uint8_t v[] = {0x11, 0x22, 0x00, 0x33};
  const uint8_t ve[] = {0x03, 0x11, 0x22, 0x02, 0x33};
  CHECK(tc_cobs_encode(v, 4, enc, sizeof enc) == 5 && memcmp(enc, ve, 5) == 0);
  for (int iter = 0; iter < 300; iter++) {
    size_t n = rnd() % 3000;
    int mode = iter % 3;
    for (size_t i = 0; i < n; i++)
      in[i] = mode == 0 ? (uint8_t)rnd() : mode == 1 ? (uint8_t)(1 + rnd() % 255) : (rnd() % 4 ? 0 : 1);
    size_t e = tc_cobs_encode(in, n, enc, sizeof enc);
    CHECK(e != TC_COBS_ERR && e <= TC_COBS_MAX_ENCODED(n));
    CHECK(memchr(enc, 0, e) == NULL);
    /* streaming encoder gives the same bytes + delimiter */
    tc_cobs_enc_t se;
    g_wire_n = 0;
    tc_cobs_enc_begin(&se, sink, NULL);
    tc_cobs_enc_feed(&se, in, n / 2);
    tc_cobs_enc_feed(&se, in + n / 2, n - n / 2);
    tc_cobs_enc_end(&se);
    CHECK(g_wire_n == e + 1 && memcmp(g_wire, enc, e) == 0 && g_wire[e] == 0);
    size_t d = tc_cobs_decode(enc, e, dec, sizeof dec);
    CHECK(d == n && memcmp(dec, in, n) == 0);
    /* streaming decoder */
    tc_cobs_dec_t sd;
    tc_cobs_dec_reset(&sd);
    size_t k = 0;
    for (size_t i = 0; i < e; i++) {
      int o = tc_cobs_dec_feed(&sd, enc[i]);
      if (o >= 0) dec[k++] = (uint8_t)o;
    }
    CHECK(tc_cobs_dec_complete(&sd) && k == n && memcmp(dec, in, n) == 0);
    /* in-place decode */
    memcpy(dec, enc, e);
    CHECK(tc_cobs_decode(dec, e, dec, e) == n && memcmp(dec, in, n) == 0);
    /* too-small output buffer is refused, never overrun (ASan checks) */
    if (n > 1) {
      uint8_t *small = test_alloc(n - 1);
      CHECK(tc_cobs_decode(enc, e, small, n - 1) == TC_COBS_ERR);
      test_free(small);
      uint8_t *esmall = test_alloc(e - 1);
      CHECK(tc_cobs_encode(in, n, esmall, e - 1) == TC_COBS_ERR);
      test_free(esmall);
    }
  }
  const uint8_t bad[] = {0x05, 'a', 'b'};
  CHECK(tc_cobs_decode(bad, 3, dec, sizeof dec) == TC_COBS_ERR);
  const uint8_t bad0[] = {0x03, 'a', 0x00};
  CHECK(tc_cobs_decode(bad0, 3, dec, sizeof dec) == TC_COBS_ERR);
}

#define MAXB 1000u
static uint8_t g_rxbuf[TC_HDR_BYTES + MAXB + TC_CRC_BYTES];

/* feed g_wire[0..n) into rx; collect results */
static int feed_all(tc_frame_rx_t *rx, const uint8_t *w, size_t n, tc_frame_t *last, int *n_err, int *n_pkt) {
  int r = TC_RX_NONE;
  for (size_t i = 0; i < n; i++) {
    tc_frame_t f;
    int x = tc_frame_rx_feed(rx, w[i], &f);
    if (x != TC_RX_NONE) {
      r = x;
      *last = f;
      if (x == TC_RX_ERROR)
        (*n_err)++;
      else
        (*n_pkt)++;
    }
  }
  return r;
}

static size_t make_frame(uint8_t type, uint16_t rid, const uint8_t *body, uint32_t n) {
  tc_span_t parts[2] = {{body, n / 3}, {body + n / 3, n - n / 3}};
  g_wire_n = 0;
  tc_frame_send(sink, NULL, type, rid, parts, 2);
  return g_wire_n;
}

static void test_frame(void) {
  static uint8_t body[MAXB + 10], w[4000];
  tc_frame_rx_t rx;
  tc_frame_t f;
  tc_frame_rx_init(&rx, g_rxbuf, sizeof g_rxbuf, MAXB);
  for (int iter = 0; iter < 500; iter++) {
    uint32_t n = rnd() % (MAXB + 1);
    for (uint32_t i = 0; i < n; i++) body[i] = (uint8_t)(rnd() % 3 ? rnd() : 0);
    uint16_t rid = (uint16_t)rnd();
    size_t wn = make_frame(TC_T_ECHO, rid, body, n);
    memcpy(w, g_wire, wn);
    int ne = 0, np = 0;
    int damage = iter % 4;
    if (damage == 1) { /* flip one bit (never creating or removing a 0x00) */
      size_t at = rnd() % (wn - 1);
      uint8_t bit = (uint8_t)(1u << (rnd() % 8));
      if ((w[at] ^ bit) == 0) bit = (uint8_t)(bit == 1 ? 2 : 1);
      w[at] ^= bit;
      CHECK(feed_all(&rx, w, wn, &f, &ne, &np) == TC_RX_ERROR && ne == 1 && np == 0);
    } else if (damage == 2) { /* truncate */
      size_t cut = rnd() % (wn - 1);
      w[cut] = 0;
      CHECK(feed_all(&rx, w, cut + 1, &f, &ne, &np) == TC_RX_ERROR || cut == 0);
    } else if (damage == 3) { /* garbage before the frame */
      uint8_t g[40];
      for (int i = 0; i < 40; i++) g[i] = (uint8_t)(1 + rnd() % 255);
      g[39] = 0;
      CHECK(feed_all(&rx, g, 40, &f, &ne, &np) == TC_RX_ERROR);
    }
    /* an intact frame always decodes afterwards (resync at 0x00) */
    ne = np = 0;
    CHECK(feed_all(&rx, g_wire, wn, &f, &ne, &np) == TC_RX_PACKET && np == 1 && ne == 0);
    CHECK(f.type == TC_T_ECHO && f.req_id == rid && f.body_len == n && memcmp(f.body, body, n) == 0);
  }
  /* physically oversize frame -> TOO_LONG with the req_id, then recovery */
  int ne = 0, np = 0;
  static uint8_t big[MAXB + 50];
  memset(big, 0xAB, sizeof big);
  size_t wn = make_frame(TC_T_ECHO, 4242, big, sizeof big);
  CHECK(feed_all(&rx, g_wire, wn, &f, &ne, &np) == TC_RX_ERROR && f.err == TC_E_TOO_LONG && f.req_id == 4242);
  /* declared oversize (short packet, good CRC) -> TOO_LONG */
  uint8_t pkt[12];
  pkt[0] = 1;
  pkt[1] = TC_T_ECHO;
  tc_wr_u16(pkt + 2, 99);
  tc_wr_u32(pkt + 4, MAXB + 1);
  tc_wr_u32(pkt + 8, tc_crc32_update(0, pkt, 8));
  size_t e = tc_cobs_encode(pkt, 12, w, sizeof w);
  w[e++] = 0;
  CHECK(feed_all(&rx, w, e, &f, &ne, &np) == TC_RX_ERROR && f.err == TC_E_TOO_LONG && f.req_id == 99);
  /* body_len disagreeing with the frame -> BAD_LENGTH */
  tc_wr_u32(pkt + 4, 3);
  tc_wr_u32(pkt + 8, tc_crc32_update(0, pkt, 8));
  e = tc_cobs_encode(pkt, 12, w, sizeof w);
  w[e++] = 0;
  CHECK(feed_all(&rx, w, e, &f, &ne, &np) == TC_RX_ERROR && f.err == TC_E_BAD_LENGTH);
  /* wrong version */
  pkt[0] = 2;
  tc_wr_u32(pkt + 4, 0);
  tc_wr_u32(pkt + 8, tc_crc32_update(0, pkt, 8));
  e = tc_cobs_encode(pkt, 12, w, sizeof w);
  w[e++] = 0;
  CHECK(feed_all(&rx, w, e, &f, &ne, &np) == TC_RX_ERROR && f.err == TC_E_BAD_VERSION);
  /* empty frames are ignored */
  ne = np = 0;
  const uint8_t zeros[3] = {0, 0, 0};
  CHECK(feed_all(&rx, zeros, 3, &f, &ne, &np) == TC_RX_NONE && ne == 0);
  wn = make_frame(TC_T_HELLO, 1, NULL, 0);
  CHECK(feed_all(&rx, g_wire, wn, &f, &ne, &np) == TC_RX_PACKET && f.body_len == 0);
}

/* request timeout: a partial frame older than the timeout is dropped, a live one is kept */
static void test_timeout(void) {
  tc_frame_rx_t rx;
  tc_frame_t f;
  tc_frame_rx_init(&rx, g_rxbuf, sizeof g_rxbuf, MAXB);
  size_t wn = make_frame(TC_T_HELLO, 77, NULL, 0);
  static uint8_t w[64];
  memcpy(w, g_wire, wn);
  uint64_t now = 1000;
  CHECK(tc_frame_rx_expire(&rx, now, 100) == 0); /* idle: nothing to drop */
  for (size_t i = 0; i < wn / 2; i++) {          /* half a frame, then silence */
    CHECK(tc_frame_rx_expire(&rx, now++, 100) == 0);
    CHECK(tc_frame_rx_feed(&rx, w[i], &f) == TC_RX_NONE);
  }
  now += 101;
  int r = TC_RX_NONE, dropped = 0;
  for (size_t i = 0; i < wn; i++) { /* a whole good frame after the gap decodes */
    dropped += tc_frame_rx_expire(&rx, now++, 100);
    r = tc_frame_rx_feed(&rx, w[i], &f);
  }
  CHECK(dropped == 1 && r == TC_RX_PACKET && f.req_id == 77);
  for (size_t i = 0; i < wn / 2; i++) { /* gaps within the timeout keep the frame */
    CHECK(tc_frame_rx_expire(&rx, now, 100) == 0);
    now += 100;
    tc_frame_rx_feed(&rx, w[i], &f);
  }
  for (size_t i = wn / 2; i < wn; i++) {
    CHECK(tc_frame_rx_expire(&rx, now++, 100) == 0);
    r = tc_frame_rx_feed(&rx, w[i], &f);
  }
  CHECK(r == TC_RX_PACKET && f.req_id == 77);
  tc_frame_rx_feed(&rx, w[0], &f); /* timeout 0: never drops */
  CHECK(tc_frame_rx_expire(&rx, now + 1000000, 0) == 0);
}

int main(void) {
#ifdef TC_TEST_SEMIHOSTING
  initialise_monitor_handles();
#endif
  test_crc32();
  test_cobs();
  test_frame();
  test_timeout();
  printf("%d checks, %d failed\n", g_checks, g_fail);
  fflush(stdout);
  exit(g_fail ? 1 : 0); /* semihosting SYS_EXIT on the board */
}
