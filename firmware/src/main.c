/* tinycodec firmware entry: port init, backend init, boot INFO, then serve frames forever. */
#include "tc_app.h"
#include "tc_backend.h"
#include "tc_port.h"

int main(void) {
  tc_port_init();
  int rc = tc_backend.init ? tc_backend.init() : 0;
  tc_app_init(rc); /* sends the unsolicited boot INFO (req_id 0): the host's ready token */
  for (;;) tc_app_feed(tc_port_getc());
}
