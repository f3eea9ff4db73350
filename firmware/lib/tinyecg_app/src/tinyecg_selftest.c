/*
 * tinyecg_selftest.c - the golden self-test (see tinyecg_selftest.h).
 */
#include "tinyecg_selftest.h"

#include <stddef.h>
#include <string.h>

#include "tinyecg_spec.h" /* TINYECG_WINDOW */

int tinyecg_selftest_max_abs_diff(const int8_t *got, const int8_t *want, int n)
{
    int i, worst = 0;
    for (i = 0; i < n; i++) {
        int d = (int)got[i] - (int)want[i];
        d = d < 0 ? -d : d;
        worst = d > worst ? d : worst;
    }
    return worst;
}

static int first_difference(const int8_t *a, const int8_t *b, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            return i;
        }
    }
    return -1;
}

#if TINYECG_PATIENT_CONTEXT
/* the window channel of an interleaved [window, template] beat input against the window */
static int first_difference_channel0(const int8_t *window, const int8_t *input2, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        if (window[i] != input2[2 * i]) {
            return i;
        }
    }
    return -1;
}
#endif

static uint32_t cost_now(const tinyecg_cost_counter_t *cost)
{
    return cost != NULL ? cost->read(cost->ctx) : 0u;
}

static void put_values(tinyecg_write_fn write, void *ctx, const int8_t *v, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        tinyecg_text_put(write, ctx, " ");
        tinyecg_text_put_int(write, ctx, v[i]);
    }
}

static void put_cost(tinyecg_write_fn write, void *ctx, const tinyecg_cost_counter_t *cost,
                     const char *what, uint32_t value)
{
    tinyecg_text_put(write, ctx, " ");
    tinyecg_text_put(write, ctx, what);
    tinyecg_text_put(write, ctx, "_");
    tinyecg_text_put(write, ctx, cost->unit);
    tinyecg_text_put(write, ctx, "=");
    tinyecg_text_put_uint64(write, ctx, value);
}

static int fits(const tinyecg_exported_model_t *m, const tinyecg_classifier_t *c)
{
    if (m->golden_count < 1 || m->n_rhythm < 0 || m->n_rhythm > TINYECG_MAX_RHYTHM ||
        m->n_classes < 1 || m->n_classes > TINYECG_MAX_CLASSES ||
        (m->n_rhythm > 0 && m->rhythm == NULL)) {
        return 0;
    }
    return c == NULL || (c->n_rhythm == m->n_rhythm && c->n_classes == m->n_classes);
}

int tinyecg_selftest_run(const tinyecg_exported_model_t *m, const tinyecg_classifier_t *c,
                         int tolerance, const tinyecg_cost_counter_t *cost, int8_t *window_q,
                         tinyecg_write_fn write, void *ctx, tinyecg_selftest_t *res)
{
    int8_t rhythm_q[TINYECG_MAX_RHYTHM];
    int8_t scores_q[TINYECG_MAX_CLASSES];
    int i, ok_all = 0;
    memset(res, 0, sizeof *res);
    res->tolerance = tolerance;
    res->outputs_checked = c != NULL;
    if (!fits(m, c)) {
        tinyecg_text_put(write, ctx, "# selftest FAIL golden vectors do not fit the classifier\n");
        return 0;
    }
    for (i = 0; i < m->golden_count; i++) {
        tinyecg_golden_vector_t v;
        uint32_t t0, pre = 0u, rhythm = 0u, inf = 0u;
        int in_ok, rr_ok = 1, out_ok = 1, diff = 0, at;
        m->golden(i, &v);
        res->vectors++;
        t0 = cost_now(cost);
        m->window(v.raw, v.baseline, v.gain_adu_per_mv, window_q);
        pre = cost_now(cost) - t0;
#if TINYECG_PATIENT_CONTEXT
        /* the template channel is the patient's (the golden vector's): only the window is
         * recomputed here */
        at = first_difference_channel0(window_q, v.input, TINYECG_WINDOW);
#else
        at = first_difference(window_q, v.input, TINYECG_WINDOW);
#endif
        in_ok = at < 0;
        if (m->n_rhythm > 0) {
            t0 = cost_now(cost);
            m->rhythm(&v.rr, rhythm_q);
            rhythm = cost_now(cost) - t0;
            rr_ok = first_difference(rhythm_q, v.rhythm, m->n_rhythm) < 0;
            /* the model runs on the golden inputs, whatever the preprocessing gave */
            memcpy(rhythm_q, v.rhythm, (size_t)m->n_rhythm);
        } else {
            rhythm_q[0] = 0;
        }
        if (c != NULL) {
            int rc;
            t0 = cost_now(cost);
            rc = c->classify(c->ctx, v.input, rhythm_q, scores_q);
            inf = cost_now(cost) - t0;
            if (rc != 0) {
                res->classify_errors++;
                out_ok = 0;
                diff = -1;
            } else {
                diff = tinyecg_selftest_max_abs_diff(scores_q, v.output, m->n_classes);
                out_ok = diff <= tolerance;
                res->max_diff = diff > res->max_diff ? diff : res->max_diff;
            }
        }
        res->input_ok += in_ok;
        res->rhythm_ok += rr_ok;
        res->output_ok += out_ok;
        ok_all += in_ok && rr_ok && out_ok;

        tinyecg_text_put(write, ctx, "# selftest ");
        tinyecg_text_put_int(write, ctx, i);
        tinyecg_text_put(write, ctx, " record=");
        tinyecg_text_put(write, ctx, v.record);
        tinyecg_text_put(write, ctx, " r=");
        tinyecg_text_put_uint64(write, ctx, v.r_sample);
        if (v.label != NULL) {
            tinyecg_text_put(write, ctx, " label=");
            tinyecg_text_put(write, ctx, v.label);
        }
        tinyecg_text_put(write, ctx, in_ok ? " input=ok" : " input=DIFF@");
        if (!in_ok) {
            tinyecg_text_put_int(write, ctx, at);
        }
        tinyecg_text_put(write, ctx, m->n_rhythm == 0 ? " rhythm=-"
                                                      : (rr_ok ? " rhythm=ok" : " rhythm=DIFF"));
        if (c == NULL) {
            tinyecg_text_put(write, ctx, " output=- maxdiff=-");
        } else {
            tinyecg_text_put(write, ctx, diff < 0 ? " output=ERROR"
                                                  : (out_ok ? " output=ok" : " output=DIFF"));
            tinyecg_text_put(write, ctx, " maxdiff=");
            tinyecg_text_put_int(write, ctx, diff);
        }
        if (cost != NULL) {
            put_cost(write, ctx, cost, "pre", pre);
            put_cost(write, ctx, cost, "rhythm", rhythm);
            put_cost(write, ctx, cost, "inf", inf);
        }
        tinyecg_text_put(write, ctx, "\n");
        if (diff > 0) {
            tinyecg_text_put(write, ctx, "# selftest ");
            tinyecg_text_put_int(write, ctx, i);
            tinyecg_text_put(write, ctx, " got");
            put_values(write, ctx, scores_q, m->n_classes);
            tinyecg_text_put(write, ctx, " want");
            put_values(write, ctx, v.output, m->n_classes);
            tinyecg_text_put(write, ctx, "\n");
        }
    }
    res->passed = ok_all == m->golden_count;
    tinyecg_text_put(write, ctx, res->passed ? "# selftest pass " : "# selftest FAIL ");
    tinyecg_text_put_int(write, ctx, ok_all);
    tinyecg_text_put(write, ctx, "/");
    tinyecg_text_put_int(write, ctx, m->golden_count);
    tinyecg_text_put(write, ctx, " tolerance=");
    tinyecg_text_put_int(write, ctx, tolerance);
    if (c != NULL) {
        tinyecg_text_put(write, ctx, " maxdiff=");
        tinyecg_text_put_int(write, ctx, res->max_diff);
    } else {
        tinyecg_text_put(write, ctx, " maxdiff=-");
    }
    tinyecg_text_put(write, ctx, " input=");
    tinyecg_text_put_int(write, ctx, res->input_ok);
    tinyecg_text_put(write, ctx, " rhythm=");
    tinyecg_text_put_int(write, ctx, res->rhythm_ok);
    if (c != NULL) {
        tinyecg_text_put(write, ctx, " output=");
        tinyecg_text_put_int(write, ctx, res->output_ok);
    } else {
        tinyecg_text_put(write, ctx, " output=-");
    }
    tinyecg_text_put(write, ctx, " classifier=");
    tinyecg_text_put(write, ctx, c != NULL && c->name != NULL ? c->name : "none");
    tinyecg_text_put(write, ctx, "\n");
    return res->passed;
}
