/*
 * tinyecg_rhythm_task.c - the shockable-rhythm task (see tinyecg_rhythm_task.h). Python
 * reference: tinyecg/device/rhythm_lines.py, step for step.
 */
#include "tinyecg_rhythm_task.h"

#include <stddef.h>

#include "tinyecg_format.h"

static void task_restart(tinyecg_rhythm_task_t *task)
{
    tinyecg_rhythm_frontend_init(&task->fe);
    task->run = 0;
    /* the first decision comes 10 s after a restart: no earlier sample is in its window */
    task->since_railed = TINYECG_RHYTHM_SPAN;
}

static void task_clear(tinyecg_rhythm_task_t *task)
{
    task_restart(task);
    task->alarm = 0;
    task->count.decisions = 0;
    task->count.shockable = 0;
    task->count.unreadable = 0;
    task->count.alarms = 0;
    task->count.errors = 0;
}

static void put_line(tinyecg_rhythm_write_fn write, void *ctx, const char *what,
                     uint32_t index, const int32_t *score)
{
    char buf[TINYECG_FORMAT_BUF];
    if (write == NULL) {
        return;
    }
    write(ctx, what);
    write(ctx, tinyecg_format_u32(buf, index));
    if (score != NULL) {
        write(ctx, " ");
        write(ctx, tinyecg_format_i32(buf, *score));
    }
    write(ctx, "\n");
}

/* Run the classifier on the window; 1 = shockable, 0 = not, -1 = it failed. */
static int classify(tinyecg_rhythm_task_t *task, int gate, int32_t *score)
{
    const tinyecg_rhythm_classifier_t *c = task->classifier;
    int i, best = 0;
    if (c->classify(c->ctx, task->window_q, task->scores_q) != 0) {
        return -1;
    }
    for (i = 1; i < TINYECG_RHYTHM_CLASSES; i++) { /* first maximum, as numpy's argmax */
        if (task->scores_q[i] > task->scores_q[best]) {
            best = i;
        }
    }
    *score = task->scores_q[c->shockable_output];
    return best == c->shockable_output && gate;
}

static void decide(tinyecg_rhythm_task_t *task, uint32_t index, tinyecg_rhythm_write_fn write,
                   void *ctx)
{
    int32_t score = 0;
    int shock = -1; /* unreadable until shown otherwise */
    if (task->since_railed >= TINYECG_RHYTHM_SPAN) {
        int gate = tinyecg_rhythm_window(&task->fe, task->gain_adu_per_mv, task->window_q);
        shock = classify(task, gate, &score);
        if (shock < 0) {
            task->count.errors++;
            score = 0;
        }
    }
    task->count.decisions++;
    if (shock > 0) {
        task->count.shockable++;
        put_line(write, ctx, "# rhythm shockable ", index, &score);
    } else if (shock == 0) {
        put_line(write, ctx, "# rhythm non-shockable ", index, &score);
    } else {
        task->count.unreadable++;
        put_line(write, ctx, "# rhythm unreadable ", index, &score);
    }
    /* aed_metrics.alarm_active: the last TINYECG_ALARM_CONSECUTIVE decisions shockable */
    task->run = shock > 0 ? (uint8_t)(task->run < TINYECG_ALARM_CONSECUTIVE ? task->run + 1u
                                                                              : task->run)
                          : 0u;
    if (task->run >= TINYECG_ALARM_CONSECUTIVE && !task->alarm) {
        task->alarm = 1;
        task->count.alarms++;
        put_line(write, ctx, "# alarm shockable ", index, NULL);
    } else if (shock <= 0 && task->alarm) {
        task->alarm = 0;
        put_line(write, ctx, "# alarm cleared ", index, NULL);
    }
}

static void task_push(tinyecg_rhythm_task_t *task, int32_t sample, int railed, uint32_t index,
                      tinyecg_rhythm_write_fn write, void *write_ctx)
{
    /* x = sample - baseline; the front end clamps it to int16 (both fit an int32) */
    int rc = tinyecg_rhythm_frontend_push(&task->fe, sample - task->baseline, NULL);
    if (railed) {
        task->since_railed = 0;
    } else if (task->since_railed < TINYECG_RHYTHM_SPAN) {
        task->since_railed++;
    }
    if (rc == TINYECG_RHYTHM_DECISION) {
        decide(task, index, write, write_ctx);
    }
}

static void put(tinyecg_rhythm_write_fn write, void *ctx, const char *text)
{
    if (write != NULL) {
        write(ctx, text);
    }
}

static void task_info(const tinyecg_rhythm_task_t *task, tinyecg_rhythm_write_fn write,
                      void *ctx)
{
    const tinyecg_rhythm_classifier_t *c = task->classifier;
    char hash[17]; /* the first 16 hex digits, as the classifiers' own lines show it */
    size_t i;
    for (i = 0; i < 16u && c->sha256 != NULL && c->sha256[i] != '\0'; i++) {
        hash[i] = c->sha256[i];
    }
    hash[i] = '\0';
    put(write, ctx, " rhythm=");
    put(write, ctx, c->name != NULL ? c->name : "unnamed");
    put(write, ctx, " rhythm_sha256=");
    put(write, ctx, i > 0u ? hash : "unknown");
}

static void put_kv(tinyecg_rhythm_write_fn write, void *ctx, const char *key, uint32_t v)
{
    char buf[TINYECG_FORMAT_BUF];
    put(write, ctx, key);
    put(write, ctx, tinyecg_format_u32(buf, v));
}

static void task_stats(const tinyecg_rhythm_task_t *task, tinyecg_rhythm_write_fn write,
                       void *ctx)
{
    put_kv(write, ctx, " rhythm_decisions=", task->count.decisions);
    put_kv(write, ctx, " rhythm_shockable=", task->count.shockable);
    put_kv(write, ctx, " rhythm_unreadable=", task->count.unreadable);
    put_kv(write, ctx, " rhythm_errors=", task->count.errors);
    put_kv(write, ctx, " alarms=", task->count.alarms);
}

/* constant: in flash, no RAM */
static const tinyecg_rhythm_ops_t task_ops = {
    task_clear, task_restart, task_push, task_info, task_stats,
};

int tinyecg_rhythm_task_setup(tinyecg_rhythm_task_t *task,
                              const tinyecg_rhythm_classifier_t *classifier, int32_t baseline,
                              uint16_t gain_adu_per_mv)
{
    task->ops = NULL;
    if (classifier == NULL || classifier->classify == NULL ||
        classifier->shockable_output < 0 ||
        classifier->shockable_output >= TINYECG_RHYTHM_CLASSES || gain_adu_per_mv == 0u) {
        return -1;
    }
    task->ops = &task_ops;
    task->classifier = classifier;
    task->baseline = baseline;
    task->gain_adu_per_mv = gain_adu_per_mv;
    task_clear(task);
    return 0;
}
