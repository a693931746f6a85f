/* tinycodec firmware entry: port init, backend init, boot INFO, then serve frames forever.
 * Bare-metal ports use main() below; ports whose framework owns main() (ESP-IDF app_main, Arduino
 * setup) build with -DTC_NO_MAIN and call tc_main_loop() themselves. */
#include "tc_app.h"
#include "tc_backend.h"
#include "tc_main.h"
#include "tc_port.h"

void tc_main_loop(void) {
  tc_port_init();
  int rc = tc_backend.init ? tc_backend.init() : 0;
  tc_app_init(rc); /* sends the unsolicited boot INFO (req_id 0): the host's ready token */
  for (;;) tc_app_feed(tc_port_getc());
}

#ifndef TC_NO_MAIN
int main(void) { tc_main_loop(); }
#endif
