/* libFuzzer target "app": the frame receiver (COBS + header + CRC), the request timeout and the command
 * dispatcher (tc_app.c) with the real gen backend and the generated tc-small model, so RUN, ENCODE and
 * DECODE really execute. Built with -fsanitize=fuzzer,address,undefined (firmware/fuzz/build.sh).
 *
 * Input: byte 0 = flags. Bit 6: the backend initialised (tc_app_init(0)): RUN/ENCODE/DECODE run the models
 * (~20-40 ms each); clear: tc_app_init(-1), the real "backend init failed" path, where those handlers do all
 * their checks and answer RUN_FAILED without running a model (~10 us) - so most inputs stay cheap and the
 * parser gets millions of executions. Environment FUZZ_APP_MODELS=0 forces the latter for every input (a
 * parser/dispatcher-only campaign). Bit 7: raw mode, the rest goes to the receiver as wire bytes.
 * Otherwise a list of records, op = next byte, op & 3 selects:
 *   0 packet: u8 type, u16 len, len body bytes; op bits 2..6 damage it (version, body_len, CRC, huge
 *     body_len, no delimiter). Correct CRC is computed here, so the handlers are reachable.
 *   1 raw:    u8 len, len wire bytes.
 *   2 wait:   the tick counter jumps by (op >> 2) * 100 ms (request timeout is 1 s).
 *   3 filler: u16 len, u8 value: (len % 20000) copies of value (overlong frames from a short input).
 * At most ~24 KB (more than one maximal frame) are fed per input (the rest is ignored) to keep executions
 * fast. Oracles (abort): ASan/UBSan; every byte the device writes forms well-formed reply frames
 * (fuzz_port.c); every terminated packet gets exactly one reply; an undamaged packet sent to an idle receiver
 * is never answered BAD_CRC / BAD_FRAMING / BAD_VERSION / TOO_LONG and carries its req_id. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_port.h"
#include "tc_app.h"
#include "tc_cobs.h"
#include "tc_config.h"
#include "tc_crc32.h"
#include "tc_proto.h"

#define PKT_CAP (TC_HDR_BYTES + 0x10000u + TC_CRC_BYTES)
static uint8_t s_pkt[PKT_CAP];
static uint8_t s_wire[PKT_CAP + PKT_CAP / 254u + 8u];

static size_t s_fed;

static void feed(const uint8_t *p, size_t n) {
  s_fed += n;
  for (size_t i = 0; i < n; i++) {
    fuzz_ticks += 10; /* 10 us per byte */
    tc_app_feed(p[i]);
  }
}

static int s_models = 1;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  const char *m = getenv("FUZZ_APP_MODELS");
  s_models = !(m && m[0] == '0');
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  fuzz_port_reset();
  const uint8_t flags = data[0];
  tc_app_init((s_models && (flags & 0x40u)) ? 0 : -1);
  if (fuzz_replies != 1u || fuzz_last_type != TC_T_INFO) abort(); /* boot INFO */
  size_t i = 1;
  if (flags & 0x80u) {
    feed(data + 1, size - 1);
    return 0;
  }
  int idle = 1; /* the receiver has no partial frame */
  uint16_t req_id = 0;
  s_fed = 0;
  while (i < size && s_fed < 24000u) {
    const uint8_t op = data[i++];
    switch (op & 3u) {
      case 0: {
        if (size - i < 3) return 0;
        const uint8_t type = data[i];
        size_t len = (size_t)data[i + 1] | ((size_t)data[i + 2] << 8);
        i += 3;
        if (len > size - i) len = size - i;
        const uint8_t dmg = op >> 2;
        req_id++;
        s_pkt[0] = (dmg & 1u) ? (uint8_t)(TC_PROTO_VERSION + 1u) : (uint8_t)TC_PROTO_VERSION;
        s_pkt[1] = type;
        tc_wr_u16(s_pkt + 2, req_id);
        uint32_t body_len = (uint32_t)len;
        if (dmg & 2u) body_len += 1u;
        if (dmg & 8u) body_len = 0xFFFFFFFFu;
        tc_wr_u32(s_pkt + 4, body_len);
        memcpy(s_pkt + TC_HDR_BYTES, data + i, len);
        i += len;
        uint32_t crc = tc_crc32_update(0, s_pkt, TC_HDR_BYTES + len);
        if (dmg & 4u) crc ^= 1u;
        tc_wr_u32(s_pkt + TC_HDR_BYTES + len, crc);
        const size_t n = tc_cobs_encode(s_pkt, TC_HDR_BYTES + len + TC_CRC_BYTES, s_wire, sizeof s_wire);
        if (n == TC_COBS_ERR) abort();
        const uint32_t before = fuzz_replies;
        feed(s_wire, n);
        if (dmg & 16u) { /* left open: the next bytes continue this frame (or the timeout drops it) */
          idle = 0;
          break;
        }
        const uint8_t zero = 0;
        feed(&zero, 1);
        if (fuzz_replies != before + 1u) abort(); /* exactly one reply per request */
        if (idle && (dmg & 0x0Fu) == 0u) {
          const uint8_t e = fuzz_last_type == TC_T_ERROR ? fuzz_last_err : 0u;
          if (e == TC_E_BAD_CRC || e == TC_E_BAD_FRAMING || e == TC_E_BAD_VERSION) abort();
          if (e == TC_E_TOO_LONG && len <= TC_MAX_BODY) abort();
          if (fuzz_last_req != req_id) abort();
        }
        idle = 1;
        break;
      }
      case 1: {
        if (size - i < 1) return 0;
        size_t len = data[i++];
        if (len > size - i) len = size - i;
        feed(data + i, len);
        idle = len > 0 ? data[i + len - 1] == 0 : idle;
        i += len;
        break;
      }
      case 2:
        fuzz_ticks += (uint64_t)(op >> 2) * 100000u;
        if ((op >> 2) > 10u) idle = 1; /* > 1 s: the next byte drops the partial frame */
        break;
      default: {
        if (size - i < 3) return 0;
        const size_t len = ((size_t)data[i] | ((size_t)data[i + 1] << 8)) % 20000u;
        const uint8_t v = data[i + 2];
        i += 3;
        s_fed += len;
        for (size_t k = 0; k < len; k++) {
          fuzz_ticks += 10;
          tc_app_feed(v);
        }
        idle = (len > 0) ? v == 0 : idle;
        break;
      }
    }
  }
  return 0;
}
