/*
 * preprocess_count.c - instructions per tinyecg_preprocess_window() call under QEMU
 * -icount (platform_instructions(), SysTick, resolution 40), with an FNV-1a hash of each
 * window's 360 outputs so the host checks them against its Python reference. Built with the
 * library firmware/lib/tinyecg_dsp, a generated tinyecg_preprocess_params.c
 * (tinyecg.export.preprocess.render_preprocessing) and bench_windows.h
 * (tinyecg.export.preprocess.windows_header) from the build's include folder. Used by
 * scripts/bench_preprocess_qemu.py and tests/test_fixedpoint_c.py.
 */
#include <stdio.h>
#include "platform.h"
#include "tinyecg_preprocess_params.h"
#include "bench_windows.h"

extern uint32_t __StackTop[];

/* one line per window: "w <index> <instructions> <fnv1a of the 360 outputs>" */
int main(void)
{
    static int8_t out[TINYECG_WINDOW];
    uint32_t w, i;
    uint64_t t0, t1, empty;
    uintptr_t sp;
    size_t stack_before, stack_after;
    tinyecg_adc_t adc;

    platform_init();
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    stack_before = (size_t)((uintptr_t)__StackTop - sp); /* main's depth at the call */
    adc.baseline = k_base[0];
    adc.gain_adu_per_mv = k_gain[0];
    tinyecg_preprocess_window(&tinyecg_model_preprocess, k_raw[0], &adc, out);
    stack_after = platform_stack_peak_bytes();
    t0 = platform_instructions();
    t1 = platform_instructions();
    empty = t1 - t0;
    for (w = 0; w < N_WINDOWS; ++w) {
        uint32_t h = 2166136261u;
        adc.baseline = k_base[w];
        adc.gain_adu_per_mv = k_gain[w];
        t0 = platform_instructions();
        tinyecg_preprocess_window(&tinyecg_model_preprocess, k_raw[w], &adc, out);
        t1 = platform_instructions();
        for (i = 0; i < TINYECG_WINDOW; ++i) {
            h = (h ^ (uint8_t)out[i]) * 16777619u;
        }
        printf("w %lu %lu %08lx\n", (unsigned long)w, (unsigned long)(t1 - t0 - empty),
               (unsigned long)h);
    }
    printf("stack %lu\n", (unsigned long)(stack_after - stack_before));
    return 0;
}
