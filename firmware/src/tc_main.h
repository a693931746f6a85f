/* tc_main.h - the firmware's main loop, for ports whose framework owns main(). */
#ifndef TC_MAIN_H
#define TC_MAIN_H

#ifdef __cplusplus
extern "C" {
#endif

/* Port init, backend init, boot INFO, then serve requests forever (never returns). */
void tc_main_loop(void) __attribute__((noreturn));

#ifdef __cplusplus
}
#endif

#endif /* TC_MAIN_H */
