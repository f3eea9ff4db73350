/*
 * tinyecg_fw.c - board-independent firmware logic (see tinyecg_fw.h). C99, valid C++.
 */
#include "tinyecg_fw.h"

#include <string.h>

/* ---- text ---- */

char *tinyecg_fw_itoa(int32_t v, char *buf)
{
    char tmp[12];
    int n = 0, k = 0;
    uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10u));
        u /= 10u;
    } while (u != 0u);
    if (v < 0) {
        buf[k++] = '-';
    }
    while (n > 0) {
        buf[k++] = tmp[--n];
    }
    buf[k] = '\0';
    return buf;
}

char *tinyecg_fw_ftoa(float v, char *buf)
{
    double x = (double)v;
    int e = 0, k = 0, i;
    int32_t m;
    char digits[12];
    if (x != x) {
        strcpy(buf, "nan");
        return buf;
    }
    if (x < 0.0) {
        buf[k++] = '-';
        x = -x;
    }
    if (x != 0.0) {
        while (x >= 10.0 && e < 60) {
            x /= 10.0;
            e++;
        }
        while (x < 1.0 && e > -60) {
            x *= 10.0;
            e--;
        }
    }
    m = (int32_t)(x * 1000000.0 + 0.5); /* 7 significant digits: d.dddddd */
    if (m >= 10000000) {
        m /= 10;
        e++;
    }
    tinyecg_fw_itoa(m, digits);
    buf[k++] = digits[0];
    buf[k++] = '.';
    for (i = 1; i < 7; i++) {
        buf[k++] = digits[i] != '\0' ? digits[i] : '0';
    }
    buf[k++] = 'e';
    buf[k++] = e < 0 ? '-' : '+';
    if (e < 0) {
        e = -e;
    }
    buf[k++] = (char)('0' + e / 10);
    buf[k++] = (char)('0' + e % 10);
    buf[k] = '\0';
    return buf;
}

static void put(tinyecg_fw_write_fn write, void *ctx, const char *text)
{
    if (write != NULL) {
        write(ctx, text);
    }
}

static void put_int(tinyecg_fw_write_fn write, void *ctx, int32_t v)
{
    char buf[12];
    put(write, ctx, tinyecg_fw_itoa(v, buf));
}

/* ---- model checks ---- */

int32_t tinyecg_fw_elems(const tinyecg_fw_tensor_t *t)
{
    int32_t n = 1;
    int i;
    if (t->n_dims < 0 || t->n_dims > TINYECG_FW_MAX_DIMS) {
        return 0;
    }
    for (i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 1) {
            return 0;
        }
        n *= t->dims[i];
    }
    return n;
}

static double pow2(int32_t e)
{
    double p = 1.0;
    while (e > 0) {
        p *= 2.0;
        e--;
    }
    while (e < 0) {
        p *= 0.5;
        e++;
    }
    return p;
}

int tinyecg_fw_scale_equal(float scale, tinyecg_fw_scale_t want)
{
    /* both sides are exact in double: a float32, and an integer below 2^53 times 2^exp */
    double a = (double)scale, b = (double)want.mant * pow2(want.exp);
    return !(a < b) && !(a > b);
}

static int problem(tinyecg_fw_write_fn write, void *ctx, const char *what, const char *got,
                   const char *want)
{
    put(write, ctx, "# model-check ");
    put(write, ctx, what);
    put(write, ctx, ": ");
    put(write, ctx, got);
    put(write, ctx, " (metadata ");
    put(write, ctx, want);
    put(write, ctx, ")\n");
    return 1;
}

static int check_int(tinyecg_fw_write_fn write, void *ctx, const char *what, int32_t got,
                     int32_t want)
{
    char a[12], b[12];
    if (got == want) {
        return 0;
    }
    return problem(write, ctx, what, tinyecg_fw_itoa(got, a), tinyecg_fw_itoa(want, b));
}

/* type, scale and zero point of one tensor against the metadata */
static int check_quant(tinyecg_fw_write_fn write, void *ctx, const tinyecg_fw_tensor_t *t,
                       const char *name, tinyecg_fw_scale_t scale, int32_t zero_point)
{
    char what[40], a[16], b[40];
    int bad = 0;
    size_t n = strlen(name);
    memcpy(what, name, n);
    strcpy(what + n, " type");
    if (t->type != TINYECG_FW_TYPE_INT8) {
        bad += problem(write, ctx, what, tinyecg_fw_itoa(t->type, a), "9 (int8)");
    }
    strcpy(what + n, " scale");
    if (!tinyecg_fw_scale_equal(t->scale, scale)) {
        size_t k;
        tinyecg_fw_itoa(scale.mant, b);
        k = strlen(b);
        strcpy(b + k, "*2^");
        tinyecg_fw_itoa(scale.exp, b + k + 3);
        bad += problem(write, ctx, what, tinyecg_fw_ftoa(t->scale, a), b);
    }
    strcpy(what + n, " zero point");
    bad += check_int(write, ctx, what, t->zero_point, zero_point);
    return bad;
}

int tinyecg_fw_check_tensors(const tinyecg_fw_expect_t *e, const tinyecg_fw_tensor_t *inputs,
                             int n_inputs, const tinyecg_fw_tensor_t *outputs, int n_outputs,
                             tinyecg_fw_io_map_t *map, tinyecg_fw_write_fn write, void *ctx)
{
    int bad = 0, i;
    int want_inputs = e->n_rhythm > 0 ? 2 : 1;
    map->beat_input = -1;
    map->rhythm_input = -1;
    bad += check_int(write, ctx, "inputs", n_inputs, want_inputs);
    bad += check_int(write, ctx, "outputs", n_outputs, 1);
    for (i = 0; i < n_inputs; i++) {
        int32_t n = tinyecg_fw_elems(&inputs[i]);
        if (n == e->beat_elems && map->beat_input < 0) {
            map->beat_input = i;
        } else if (e->n_rhythm > 0 && n == e->n_rhythm && map->rhythm_input < 0) {
            map->rhythm_input = i;
        } else {
            char what[32];
            strcpy(what, "elements of input ");
            tinyecg_fw_itoa(i, what + strlen(what));
            bad += check_int(write, ctx, what, n, e->beat_elems);
        }
    }
    if (map->beat_input < 0) {
        bad += problem(write, ctx, "beat input", "none", "360 int8 values");
    } else {
        bad += check_quant(write, ctx, &inputs[map->beat_input], "beat input", e->beat_scale,
                           e->beat_zero_point);
    }
    if (e->n_rhythm > 0) {
        if (map->rhythm_input < 0) {
            bad += problem(write, ctx, "rhythm input", "none", "n_rhythm int8 values");
        } else {
            bad += check_quant(write, ctx, &inputs[map->rhythm_input], "rhythm input",
                               e->rhythm_scale, e->rhythm_zero_point);
        }
    }
    if (n_outputs >= 1) {
        bad += check_int(write, ctx, "output elements", tinyecg_fw_elems(&outputs[0]),
                         e->n_classes);
        bad += check_quant(write, ctx, &outputs[0], "output", e->output_scale,
                           e->output_zero_point);
    }
    return bad;
}

/* ---- golden self-test ---- */

int tinyecg_fw_max_abs_diff(const int8_t *got, const int8_t *want, int n)
{
    int i, m = 0;
    for (i = 0; i < n; i++) {
        int d = (int)got[i] - (int)want[i];
        d = d < 0 ? -d : d;
        m = d > m ? d : m;
    }
    return m;
}

static void put_values(tinyecg_fw_write_fn write, void *ctx, const int8_t *v, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        put(write, ctx, " ");
        put_int(write, ctx, v[i]);
    }
}

static int first_diff(const int8_t *a, const int8_t *b, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            return i;
        }
    }
    return -1;
}

int tinyecg_fw_selftest(const tinyecg_fw_golden_t *g, const tinyecg_fw_preprocess_t *pre,
                        const tinyecg_classifier_t *c, int tolerance, tinyecg_fw_write_fn write,
                        void *ctx, tinyecg_fw_selftest_t *res)
{
    int8_t window_q[TINYECG_WINDOW];
    int8_t rhythm_q[TINYECG_MAX_RHYTHM];
    int8_t scores_q[TINYECG_MAX_CLASSES];
    int i, ok_all = 0;
    memset(res, 0, sizeof *res);
    res->tolerance = tolerance;
    if (g->count < 1 || g->n_rhythm < 0 || g->n_rhythm > TINYECG_MAX_RHYTHM ||
        g->n_classes < 1 || g->n_classes > TINYECG_MAX_CLASSES || g->n_rhythm != c->n_rhythm ||
        g->n_classes != c->n_classes || (g->n_rhythm > 0 && pre->rhythm == NULL)) {
        put(write, ctx, "# selftest FAIL golden vectors do not fit the classifier\n");
        return 0;
    }
    for (i = 0; i < g->count; i++) {
        tinyecg_fw_vector_t v;
        int in_ok, rr_ok = 1, out_ok = 0, diff = -1, at;
        g->get(i, &v);
        res->vectors++;
        pre->window(v.raw, v.baseline, v.gain_adu_per_mv, window_q);
        at = first_diff(window_q, v.input, TINYECG_WINDOW);
        in_ok = at < 0;
        if (g->n_rhythm > 0) {
            pre->rhythm(&v.rr, rhythm_q);
            rr_ok = first_diff(rhythm_q, v.rhythm, g->n_rhythm) < 0;
        }
        /* the model runs on the golden inputs, whatever the preprocessing gave */
        if (g->n_rhythm > 0) {
            memcpy(rhythm_q, v.rhythm, (size_t)g->n_rhythm);
        }
        if (c->classify(c->ctx, v.input, rhythm_q, scores_q) != 0) {
            res->classify_errors++;
        } else {
            diff = tinyecg_fw_max_abs_diff(scores_q, v.output, g->n_classes);
            out_ok = diff <= tolerance;
            res->max_diff = diff > res->max_diff ? diff : res->max_diff;
        }
        res->input_ok += in_ok;
        res->rhythm_ok += rr_ok;
        res->output_ok += out_ok;
        ok_all += in_ok && rr_ok && out_ok;
        put(write, ctx, "# selftest ");
        put_int(write, ctx, i);
        if (v.label != NULL) {
            put(write, ctx, " label=");
            put(write, ctx, v.label);
        }
        put(write, ctx, in_ok ? " input=ok" : " input=DIFF@");
        if (!in_ok) {
            put_int(write, ctx, at);
        }
        if (g->n_rhythm > 0) {
            put(write, ctx, rr_ok ? " rhythm=ok" : " rhythm=DIFF");
        }
        put(write, ctx, diff < 0 ? " output=ERROR" : (out_ok ? " output=ok" : " output=DIFF"));
        put(write, ctx, " maxdiff=");
        put_int(write, ctx, diff);
        put(write, ctx, "\n");
        if (diff > 0) {
            put(write, ctx, "# selftest ");
            put_int(write, ctx, i);
            put(write, ctx, " got");
            put_values(write, ctx, scores_q, g->n_classes);
            put(write, ctx, " want");
            put_values(write, ctx, v.output, g->n_classes);
            put(write, ctx, "\n");
        }
    }
    res->passed = ok_all == g->count;
    put(write, ctx, res->passed ? "# selftest pass " : "# selftest FAIL ");
    put_int(write, ctx, ok_all);
    put(write, ctx, "/");
    put_int(write, ctx, g->count);
    put(write, ctx, " tolerance=");
    put_int(write, ctx, tolerance);
    put(write, ctx, " maxdiff=");
    put_int(write, ctx, res->max_diff);
    put(write, ctx, "\n");
    return res->passed;
}

/* ---- sample ring ---- */

void tinyecg_fw_ring_init(tinyecg_fw_ring_t *r)
{
    memset(r, 0, sizeof *r);
}

int tinyecg_fw_ring_push(tinyecg_fw_ring_t *r, int16_t sample)
{
    uint32_t head = r->head; /* only the producer writes head */
    uint32_t tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
    if (head - tail >= TINYECG_SAMPLE_RING) {
        r->overruns++;
        return -1;
    }
    r->buf[head & TINYECG_FW_RING_MASK] = sample;
    __atomic_store_n(&r->head, head + 1u, __ATOMIC_RELEASE); /* publish after the data */
    return 0;
}

int tinyecg_fw_ring_pop(tinyecg_fw_ring_t *r, int16_t *sample)
{
    uint32_t tail = r->tail; /* only the consumer writes tail */
    uint32_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
    if (head == tail) {
        return 0;
    }
    *sample = r->buf[tail & TINYECG_FW_RING_MASK];
    __atomic_store_n(&r->tail, tail + 1u, __ATOMIC_RELEASE); /* free the slot after reading */
    return 1;
}

uint32_t tinyecg_fw_ring_overruns(const tinyecg_fw_ring_t *r)
{
    return __atomic_load_n(&r->overruns, __ATOMIC_RELAXED);
}

int16_t tinyecg_fw_adc_sample(int32_t reading, int lead_off, int32_t adc_min, int32_t adc_max)
{
    int32_t v = lead_off ? adc_max : reading;
    v = v < adc_min ? adc_min : (v > adc_max ? adc_max : v);
    return (int16_t)v;
}

/* ---- ADC mode command filter ---- */

void tinyecg_fw_cmdfilter_init(tinyecg_fw_cmdfilter_t *f)
{
    memset(f, 0, sizeof *f);
}

static int is_command(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) {
        i++;
    }
    return i < n && s[i] == '#';
}

void tinyecg_fw_cmdfilter_feed(tinyecg_fw_cmdfilter_t *f, const char *data, size_t len,
                               tinyecg_fw_sink_fn sink, void *ctx)
{
    size_t k;
    for (k = 0; k < len; k++) {
        char ch = data[k];
        if (ch == '\n') {
            if (!f->overlong && is_command(f->line, f->len)) {
                f->line[f->len] = '\n';
                sink(ctx, f->line, f->len + 1u);
            } else {
                f->ignored++;
            }
            f->len = 0;
            f->overlong = 0;
        } else if (f->len + 2u < sizeof f->line) { /* room for '\n' */
            f->line[f->len++] = ch;
        } else {
            f->overlong = 1;
        }
    }
}
