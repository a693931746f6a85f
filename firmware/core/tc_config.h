/* tc_config.h - compile-time limits of the core. Override with -D... in platformio.ini. */
#ifndef TC_CONFIG_H
#define TC_CONFIG_H

#ifndef TC_FW_VERSION
#define TC_FW_VERSION "0.1.0"
#endif

/* Largest frame body in either direction: a 64x64x3 int8 tile plus headroom. Reported in INFO. */
#ifndef TC_MAX_BODY
#define TC_MAX_BODY (16384u + 64u)
#endif

#endif /* TC_CONFIG_H */
