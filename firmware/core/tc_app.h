/* tc_app.h - the protocol server: frame receiver + table-driven command dispatcher. Portable. */
#ifndef TC_APP_H
#define TC_APP_H

#include <stdint.h>

#include "tc_frame.h"

/* Call once after tc_port_init() and tc_backend.init(); sends the boot INFO frame (req_id 0). */
void tc_app_init(int backend_init_rc);
/* Feed one byte received from the host; replies are written with tc_port_putc. */
void tc_app_feed(uint8_t byte);

/* A request handler: body in f->body / f->body_len; must send exactly one reply frame. */
typedef void (*tc_handler_fn)(const tc_frame_t *f);
typedef struct {
  uint8_t type;
  tc_handler_fn fn;
} tc_handler_t;

/* Reply helpers for handlers. */
void tc_app_send(uint8_t type, uint16_t req_id, const tc_span_t *parts, int n_parts);
void tc_app_send_error(uint16_t req_id, uint8_t code, const char *msg);

#endif
