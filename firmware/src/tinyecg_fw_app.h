/*
 * tinyecg_fw_app.h - the firmware's one instance of the core (tinyecg_app_t) and its input
 * plumbing, board-independent: main.cpp only moves bytes and ADC readings in here.
 *
 *   tinyecg_fw_app_start()   configure the core for an input mode (ecg_config.h): ADC range,
 *                            flatness tolerance and the preprocessing calibration (live AD8232
 *                            front end, or MIT-BIH counts replayed by the host)
 *   tinyecg_fw_app_serial()  bytes from the serial port: the whole protocol in replay mode;
 *                            in ADC mode only the '#' command lines
 *   tinyecg_fw_app_adc()     one ADC reading + the lead-off pins, from the sampling
 *                            interrupt or thread (producer side of the sample ring)
 *   tinyecg_fw_app_poll()    from loop(): samples of the ring into the core (consumer side);
 *                            reports "# adc-overrun <n>" when the ring overflowed
 *   tinyecg_fw_app_tick()    from loop() with the time in ms: in replay mode, no serial
 *                            byte for TINYECG_REPLAY_IDLE_MS (1 s) tells the core the
 *                            input stopped ("# input stopped" once, waiting beats out)
 * C99 and valid C++; includes the core's tinyecg_app.h, so never the generated metadata.
 */
#ifndef TINYECG_FW_APP_H
#define TINYECG_FW_APP_H

#include <stddef.h>
#include <stdint.h>

#include "tinyecg_app.h"
#include "tinyecg_fw.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Returns 0, or -1 when the core rejects the configuration (printed as "# error ..."). */
int tinyecg_fw_app_start(int input_mode, const tinyecg_classifier_t *classifier,
                         unsigned outputs, tinyecg_fw_write_fn write, void *write_ctx,
                         uint32_t (*clock_us)(void *ctx), void *clock_ctx);

void tinyecg_fw_app_serial(const char *data, size_t len);
void tinyecg_fw_app_adc(int32_t reading, int lead_off);
void tinyecg_fw_app_poll(void);
void tinyecg_fw_app_tick(uint32_t now_ms);

tinyecg_app_t *tinyecg_fw_app(void);

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_FW_APP_H */
