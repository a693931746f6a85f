/* tc_config.h - compile-time limits of the core. Override with -D... in platformio.ini. */
#ifndef TC_CONFIG_H
#define TC_CONFIG_H

#ifndef TC_FW_VERSION
#define TC_FW_VERSION "0.1.0"
#endif

/* Largest frame body in either direction: a 128x128x3 tile plus its latent (the DECODE reply buffer holds
 * both) and headroom. Reported in INFO. */
#ifndef TC_MAX_BODY
#define TC_MAX_BODY (3u * 128u * 128u + 8192u)
#endif

/* Request timeout: a frame that has started but gets no byte for this long is dropped (the next byte
 * starts afresh), so a peer that stops mid-frame cannot wedge the receiver. 0 disables. */
#ifndef TC_RX_TIMEOUT_MS
#define TC_RX_TIMEOUT_MS 1000u
#endif

#endif /* TC_CONFIG_H */
