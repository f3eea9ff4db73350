/*
 * tinyecg_spec.h - the sampling, window and RR constants the device shares with Python.
 *
 * Generated from tinyecg/spec.py (python -m tinyecg.export.spec_header); do not edit: change
 * spec.py and render again. A test keeps this file equal to a fresh rendering.
 */
#ifndef TINYECG_SPEC_H
#define TINYECG_SPEC_H

#define TINYECG_FS 360 /* samples per second (spec.FS): MIT-BIH's rate, the device's rate */
#define TINYECG_WINDOW 360 /* samples per beat window (spec.WINDOW) */
#define TINYECG_PRE_R 180 /* samples of the window before its R-peak (spec.PRE_R) */
#define TINYECG_LOCAL_BEATS 8 /* RR intervals in the local mean (spec.LOCAL_BEATS) */
#define TINYECG_DEFAULT_RR 360 /* RR of a lone beat, in samples (spec.DEFAULT_RR) */

#endif /* TINYECG_SPEC_H */
