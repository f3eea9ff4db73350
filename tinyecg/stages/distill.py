"""Stage 2: knowledge distillation of the float teacher into the microcontroller student.

Hinton, Vinyals & Dean 2015, "Distilling the knowledge in a neural network":

    loss = alpha * CE(y, softmax(z_s))
           + (1 - alpha) * T^2 * KL(softmax(z_t / T) || softmax(z_s / T))

z_t are the teacher's logits (its Dense "logits" layer, before the "probs" softmax), z_s the
student's. The T^2 factor keeps the soft term's gradients on the scale of the hard term's when
T changes. Damped class weights (as in stage 1) multiply the hard term only: the teacher's
soft targets already carry its view of the rare classes.

The teacher is frozen, so its logits are computed once per beat and fed to the training step
as an extra input; the student trains inside `Distiller` (a keras.Model subclass with its own
train/test step) through the stage-1 `fit()` (Adam, cosine decay, early stopping on the
validation distillation loss). The same student is also trained on hard labels only
(`student_nokd.keras`, same epochs and seed), so the gain of distillation is visible.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TypedDict

import numpy as np

from tinyecg.errors import TinyECGError
from tinyecg.run import read_config, staged_file, write_json

log = logging.getLogger("tinyecg.stages.distill")


# temperature, alpha and jitter chosen on the intra validation split of the full database
# (docs/compression.md): T=2, alpha=0.5 with 4-sample jitter beat T=4, alpha=0.1 with or
# without jitter, and make the student robust to R-peak misalignment
class DistillDefaults(TypedDict):
    arch: str
    temperature: float
    alpha: float
    epochs: int
    batch_size: int
    learning_rate: float
    patience: int
    class_weight_power: float
    seed: int
    jitter: int


DEFAULTS: DistillDefaults = {
    "arch": "student-cnn",
    "temperature": 2.0,
    "alpha": 0.5,
    "epochs": 16,
    "batch_size": 256,
    "learning_rate": 4e-3,
    "patience": 4,
    "class_weight_power": 0.5,
    "seed": 0,
    "jitter": 4,
}


def _tf():
    import tensorflow as tf

    from tinyecg.models.architectures import keras  # noqa: F401  (quiet TF import)

    return tf


def distillation_loss(
    y_true,
    teacher_logits,
    student_logits,
    temperature: float = 4.0,
    alpha: float = 0.1,
    sample_weight=None,
):
    """Hinton et al. 2015 loss, averaged over the batch (a scalar tensor).

    y_true: integer class labels (n,); teacher_logits, student_logits: (n, classes);
    sample_weight: optional (n,) weights of the hard (label) term only.
    Per sample: alpha * w * CE(y, softmax(z_s)) + (1 - alpha) * T^2 * KL(p_t^T || p_s^T)
    with p^T = softmax(z / T)."""
    tf = _tf()
    if temperature <= 0:
        raise TinyECGError(f"temperature must be > 0 (got {temperature})")
    if not 0.0 <= alpha <= 1.0:
        raise TinyECGError(f"alpha must be in [0, 1] (got {alpha})")
    zs = tf.cast(student_logits, tf.float32)
    zt = tf.cast(teacher_logits, tf.float32)
    y = tf.cast(tf.reshape(y_true, [-1]), tf.int32)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=zs)
    if sample_weight is not None:
        ce = ce * tf.cast(tf.reshape(sample_weight, [-1]), tf.float32)
    log_pt = tf.nn.log_softmax(zt / temperature, axis=-1)
    log_ps = tf.nn.log_softmax(zs / temperature, axis=-1)
    kl = tf.reduce_sum(tf.exp(log_pt) * (log_pt - log_ps), axis=-1)
    per_sample = alpha * ce + (1.0 - alpha) * temperature**2 * kl
    return tf.reduce_mean(per_sample)


def logits_model(model):
    """The sub-model from a model's inputs to its Dense "logits" layer (shares its weights)."""
    from tinyecg.models.architectures import keras

    for layer in model.layers:
        # tfmot wraps layers (quant_logits, prune_low_magnitude_logits, cluster_logits) and
        # keeps the original as .layer
        if layer.name == "logits" or getattr(getattr(layer, "layer", None), "name", "") == "logits":
            return keras.Model(model.inputs, layer.output, name=f"{model.name}_logits")
    raise TinyECGError(f"model {model.name!r} has no 'logits' layer to distil from")


def make_distiller(student, temperature: float, alpha: float):
    """Wrap a student (any model ending in Dense "logits" + Softmax) for distillation.

    The returned keras.Model takes [*student inputs, teacher logits] and labels; its train
    step applies `distillation_loss` (class weights, as keras passes them in sample_weight,
    on the hard term only). Training it trains `student` in place."""
    from tinyecg.models.architectures import keras

    tf = _tf()
    student_logits = logits_model(student)
    n_inputs = len(student.inputs)
    ranks = [len(t.shape) for t in student_logits.inputs]

    class Distiller(keras.Model):
        def __init__(self):
            super().__init__(name="distiller")
            self.student = student_logits
            self.temperature = float(temperature)
            self.alpha = float(alpha)
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.hard_tracker = keras.metrics.Mean(name="hard_ce")
            self.acc = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

        @property
        def metrics(self):
            return [self.loss_tracker, self.hard_tracker, self.acc]

        def _kd_split(self, x, random=False):
            """(student inputs, teacher logits). With jittered copies (teacher logits of
            shape (n, K, classes), the beat input (n, K, ...)), one copy per beat: a random
            one when training, copy 0 (the unshifted window) otherwise."""
            x = list(x)
            zt = x[n_inputs]
            ins = x[:n_inputs]
            if len(zt.shape) == 3:
                n, k = tf.shape(zt)[0], tf.shape(zt)[1]
                pick = (
                    tf.random.uniform([n], 0, k, dtype=tf.int32)
                    if random
                    else tf.zeros([n], tf.int32)
                )
                ins = [
                    tf.gather(v, pick, axis=1, batch_dims=1) if len(v.shape) == r + 1 else v
                    for v, r in zip(ins, ranks)
                ]
                zt = tf.gather(zt, pick, axis=1, batch_dims=1)
            ins = [tf.cast(v, tf.float32) for v in ins]
            return (ins if n_inputs > 1 else ins[0]), zt

        def call(self, x, training=False):
            return self.student(self._kd_split(x)[0], training=training)

        def _kd_losses(self, y, zt, zs, sw):
            loss = distillation_loss(y, zt, zs, self.temperature, self.alpha, sw)
            hard = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels=tf.cast(tf.reshape(y, [-1]), tf.int32), logits=zs
                )
            )
            return loss, hard

        def _kd_update(self, loss, hard, y, zs):
            self.loss_tracker.update_state(loss)
            self.hard_tracker.update_state(hard)
            self.acc.update_state(y, zs)
            return {m.name: m.result() for m in self.metrics}

        def train_step(self, data):
            x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
            xs, zt = self._kd_split(x, random=True)
            with tf.GradientTape() as tape:
                zs = self.student(xs, training=True)
                loss, hard = self._kd_losses(y, zt, zs, sw)
                total = loss + tf.add_n(self.student.losses) if self.student.losses else loss
            variables = self.student.trainable_variables
            self.optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
            return self._kd_update(loss, hard, y, zs)

        def test_step(self, data):
            # validation: the same loss without class weights, so early stopping compares
            # epochs on the data's own class mix
            x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
            xs, zt = self._kd_split(x)
            zs = self.student(xs, training=False)
            loss, hard = self._kd_losses(y, zt, zs, None)
            return self._kd_update(loss, hard, y, zs)

    return Distiller()


def teacher_logits(teacher, inputs, batch_size: int = 2048) -> np.ndarray:
    return logits_model(teacher).predict(inputs, batch_size=batch_size, verbose=0)


def with_teacher(inputs, logits: np.ndarray) -> list:
    """Student inputs plus the teacher's logits, as a Distiller takes them."""
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    return inputs + [np.asarray(logits, np.float32)]


def jitter_shifts(jitter: int) -> list[int]:
    """The R-peak shifts (samples) trained on for a maximum shift `jitter`: 0, +-jitter and
    +-jitter//2 (e.g. 4 -> [-4, -2, 0, 2, 4]); [0] for none."""
    j = int(jitter)
    if j < 0 or j > 90:
        raise TinyECGError(f"jitter must be between 0 and 90 samples (got {jitter})")
    return sorted({0, j, -j, j // 2, -(j // 2)})


def shifted_windows(data_dir: Path, beats, shifts: list[int]) -> np.ndarray:
    """Preprocessed windows cut at R-peak + s for every shift s: (n, len(shifts), 360)
    float16. The window [r + s - 180, r + s + 180) is what a detector s samples late hands
    the classifier; where it would leave the record, the unshifted window is used."""
    from tinyecg.data.beats import PRE_R, WINDOW
    from tinyecg.data.records import load_record
    from tinyecg.dsp import denoise

    out = np.empty((len(beats), len(shifts), WINDOW), np.float16)
    base = denoise.preprocess(
        (beats.raw.astype(np.float64) - beats.baseline[:, None]) / beats.gain[:, None]
    )
    for name in sorted(set(beats.record.tolist())):
        rec = load_record(Path(data_dir), name)
        if rec is None:
            raise TinyECGError(f"{data_dir}: record {name} has no usable lead any more")
        rows = np.flatnonzero(beats.record == name)
        mv = rec.mv
        for k, shift in enumerate(shifts):
            start = beats.sample[rows] - PRE_R + shift
            ok = (start >= 0) & (start + WINDOW <= len(mv))
            x = base[rows].copy()
            if shift and ok.any():
                cut = mv[start[ok][:, None] + np.arange(WINDOW)[None, :]]
                x[ok] = denoise.preprocess(cut)
            out[rows, k] = x
    return out


def training_set(cfg: dict, student, teacher, tr, shifts: list[int]):
    """(student inputs, teacher logits) for the training beats `tr`, as a Distiller takes
    them. With more than one shift: the beat input holds every shifted copy, (n, K, 1, 360,
    1) float16 with copy 0 unshifted, and the teacher logits (n, K, classes) are the aligned
    window's for every copy: the teacher was trained on aligned windows only and is itself
    misled by shifted ones (measured: 95.9 % accuracy at -5 samples against 99.4 %
    aligned), so its logits on a shifted copy would teach its own mistakes."""
    from tinyecg.models.inputs import model_inputs

    zt = teacher_logits(teacher, model_inputs(teacher, tr.x, tr.beats.rhythm))
    if len(shifts) <= 1:
        return model_inputs(student, tr.x, tr.beats.rhythm), zt
    from tinyecg.data.records import resolve_data_dir

    log.info("cutting training windows at R-peak shifts %s", shifts)
    copies = shifted_windows(resolve_data_dir(cfg["data"]["dir"]), tr.beats, shifts)
    order = [shifts.index(0)] + [k for k in range(len(shifts)) if shifts[k] != 0]
    copies = copies[:, order]
    beat = copies.reshape(len(tr), len(shifts), 1, copies.shape[-1], 1)
    inputs = [beat] + ([tr.beats.rhythm.astype(np.float32)] if len(student.inputs) > 1 else [])
    return inputs, np.repeat(zt[:, None, :], len(shifts), axis=1)


def distill(
    run_dir: Path,
    temperature: float = DEFAULTS["temperature"],
    alpha: float = DEFAULTS["alpha"],
    arch: str = DEFAULTS["arch"],
    epochs: int | None = None,
    batch_size: int = DEFAULTS["batch_size"],
    learning_rate: float = DEFAULTS["learning_rate"],
    seed: int = DEFAULTS["seed"],
    jitter: int | None = None,
    class_weight_power: float | None = None,
    nokd: bool = True,
    quiet: bool = False,
) -> dict:
    """Distil the run's teacher into `arch`; writes student.keras (+ student_nokd.keras),
    their histories and the config's "student" section. Returns that section.

    jitter > 0 trains both students on windows cut at R-peak shifts of 0, +-jitter//2 and
    +-jitter samples (one drawn per beat and step, distilled towards the teacher's logits
    of the aligned window), so the classifier tolerates a detector's misalignment (default
    4). A patient-recipe run (tinyecg.stages.patient_recipe) trains its own way: fixed
    epochs (default 10), no jitter, early stopping or class-weight override."""
    from tinyecg.data.dataset import dataset_from_config
    from tinyecg.models.architectures import ARCHITECTURES, build, count_macs, keras
    from tinyecg.models.inputs import model_inputs
    from tinyecg.stages.evaluate import load_keras
    from tinyecg.stages.patient_recipe import PATIENT, distill_patient, is_patient
    from tinyecg.stages.train import DEFAULTS as TRAIN_DEFAULTS
    from tinyecg.stages.train import fit

    run_dir = Path(run_dir)
    cfg = read_config(run_dir)
    if is_patient(cfg):
        if jitter:
            raise TinyECGError("--recipe patient trains on aligned windows only (no --jitter)")
        return distill_patient(
            run_dir,
            arch,
            PATIENT["epochs"] if epochs is None else epochs,
            seed,
            temperature,
            alpha,
            nokd,
            quiet,
        )
    epochs = DEFAULTS["epochs"] if epochs is None else epochs
    jitter = DEFAULTS["jitter"] if jitter is None else jitter
    if arch not in ARCHITECTURES:
        raise TinyECGError(
            f"unknown architecture {arch!r} (choose from {', '.join(ARCHITECTURES)})"
        )
    if epochs < 1:
        raise TinyECGError(f"epochs must be >= 1 (got {epochs})")
    if temperature <= 0 or not 0.0 <= alpha <= 1.0:
        raise TinyECGError(f"need temperature > 0 and 0 <= alpha <= 1 (got {temperature}, {alpha})")
    teacher_path = run_dir / cfg.get("teacher", {}).get("file", "teacher.keras")
    if not teacher_path.is_file():
        raise TinyECGError(f"{teacher_path}: no teacher in the run (train first)")
    teacher = load_keras(teacher_path)

    ds, split = dataset_from_config(cfg)
    tr, va = ds.subset(split["train"]), ds.subset(split["val"])
    n_classes = len(ds.labels)
    keras.utils.set_random_seed(seed)
    student = build(arch, n_classes=n_classes)
    if any(
        isinstance(
            layer, (keras.layers.GlobalAveragePooling1D, keras.layers.GlobalAveragePooling2D)
        )
        for layer in student.layers
    ):
        raise TinyECGError(
            f"{arch}: has GlobalAveragePooling (MEAN), which 2023 TFLM builds "
            "compute differently; not usable as the student"
        )
    if len(student.outputs[0].shape) != 2 or student.outputs[0].shape[-1] != n_classes:
        raise TinyECGError(f"{arch}: output does not have {n_classes} classes")

    shifts = jitter_shifts(jitter)
    cw_power = (
        TRAIN_DEFAULTS["class_weight_power"]
        if class_weight_power is None
        else float(class_weight_power)
    )
    if not 0.0 <= cw_power <= 2.0:
        raise TinyECGError(f"class weight power must be between 0 and 2 (got {cw_power})")
    t0 = time.perf_counter()
    train_in, zt_tr = training_set(cfg, student, teacher, tr, shifts)
    zt_va = teacher_logits(teacher, model_inputs(teacher, va.x, va.beats.rhythm))
    t_teacher = time.perf_counter() - t0
    val_in = model_inputs(student, va.x, va.beats.rhythm)
    common = dict(
        n_classes=n_classes,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        patience=DEFAULTS["patience"],
        class_weight_power=cw_power,
        quiet=quiet,
        # compile() needs a loss; the Distiller's own train step replaces it
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )

    log.info(
        "distilling into %s (%d params, T=%g, alpha=%g) on %d beats",
        arch,
        student.count_params(),
        temperature,
        alpha,
        len(tr),
    )
    hist_kd, sec_kd = fit(
        make_distiller(student, temperature, alpha),
        with_teacher(train_in, zt_tr),
        tr.beats.y,
        with_teacher(val_in, zt_va),
        va.beats.y,
        **common,
    )

    student_nokd = None
    hist_nokd, sec_nokd = None, 0.0
    if nokd:
        # the same machinery with alpha = 1 (the loss is then the class-weighted hard
        # cross-entropy alone): same epochs, seed, jitter and early stopping
        log.info("training the same student on hard labels only (no distillation)")
        keras.utils.set_random_seed(seed)
        student_nokd = build(arch, n_classes=n_classes)
        hist_nokd, sec_nokd = fit(
            make_distiller(student_nokd, temperature, 1.0),
            with_teacher(train_in, zt_tr),
            tr.beats.y,
            with_teacher(val_in, zt_va),
            va.beats.y,
            **common,
        )

    val_acc = {"student": _accuracy(student, va), "teacher": _accuracy(teacher, va)}
    if student_nokd is not None:
        val_acc["student_nokd"] = _accuracy(student_nokd, va)
    section = {
        "arch": arch,
        "params": int(student.count_params()),
        "macs": count_macs(student),
        "rhythm": len(student.inputs) > 1,
        "temperature": float(temperature),
        "alpha": float(alpha),
        "epochs": int(epochs),
        "epochs_run": len(hist_kd["loss"]),
        "batch_size": int(batch_size),
        "learning_rate": float(learning_rate),
        "seed": int(seed),
        "class_weight_power": cw_power,
        "jitter": int(jitter),
        "jitter_shifts": shifts,
        "teacher_logits_seconds": round(t_teacher, 1),
        "train_seconds": round(sec_kd, 1),
        "file": "student.keras",
        "val_accuracy": val_acc,
        "nokd": (
            {
                "file": "student_nokd.keras",
                "epochs_run": len(hist_nokd["loss"]),
                "train_seconds": round(sec_nokd, 1),
            }
            if hist_nokd is not None
            else None
        ),
    }

    # save everything before touching config.json, each file atomically
    with staged_file(run_dir / "student.keras") as tmp:
        student.save(tmp)
    write_json(run_dir / "student_history.json", hist_kd)
    if student_nokd is not None:
        with staged_file(run_dir / "student_nokd.keras") as tmp:
            student_nokd.save(tmp)
        write_json(run_dir / "student_nokd_history.json", hist_nokd)
    cfg = read_config(run_dir)
    cfg["student"] = section
    write_json(run_dir / "config.json", cfg)
    log.info(
        "student: validation accuracy %.4f (teacher %.4f%s) after %.0f s",
        val_acc["student"],
        val_acc["teacher"],
        f", without distillation {val_acc['student_nokd']:.4f}" if nokd else "",
        sec_kd + sec_nokd,
    )
    return section


def _accuracy(model, part) -> float:
    from tinyecg.models.inputs import model_inputs

    p = model.predict(model_inputs(model, part.x, part.beats.rhythm), batch_size=2048, verbose=0)
    return float(np.mean(p.argmax(axis=1) == part.beats.y))
