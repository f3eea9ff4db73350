"""The tfmot variants of the quantize stage: quantization-aware training, magnitude pruning and
weight clustering of the distilled student, each fine-tuned with the distillation loss (fixed
epochs, no early stopping: pruning's schedule must run to its end), and what an int8 file's
weights look like afterwards. tinyecg.stages.quantize converts and writes them."""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger("tinyecg.stages.quantize")


def _wrap_layers(model, wrap, which=("Conv2D", "Dense"), skip=("logits",)):
    """A copy of `model` whose Conv2D/Dense layers (not the final "logits") are wrapped with
    `wrap`; the wrappers take over the copied layers' trained weights, `model` is untouched."""
    from tinyecg.models.architectures import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())

    def clone(layer):
        if type(layer).__name__ in which and layer.name not in skip:
            return wrap(layer)  # the wrapper owns the copy's layer and its weights
        return layer.__class__.from_config(layer.get_config())

    wrapped = keras.models.clone_model(copy, clone_function=clone)
    for layer in wrapped.layers:  # fresh (unwrapped) layers: copy the trained weights
        if layer.weights and not hasattr(layer, "layer"):
            layer.set_weights(copy.get_layer(layer.name).get_weights())
    return wrapped


def _kernel_layers(model):
    from tinyecg.models.architectures import keras

    return [
        layer
        for layer in model.layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))
    ]


def _finetune(model, ctx, epochs: int, learning_rate: float, callbacks=(), quiet=False) -> dict:
    """Distillation fine-tuning of a (tfmot-wrapped) student: fixed epochs, cosine decay."""
    from tinyecg.models.architectures import keras
    from tinyecg.models.inputs import class_weights
    from tinyecg.stages.distill import make_distiller, with_teacher
    from tinyecg.stages.quantize import DEFAULTS, representative_inputs  # the stage's own

    tr, va = ctx["train"], ctx["val"]
    distiller = make_distiller(model, ctx["temperature"], ctx["alpha"])
    steps = max(1, int(np.ceil(len(tr.beats.y) / DEFAULTS["batch_size"]))) * epochs
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps, alpha=0.1)
    distiller.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    hist = distiller.fit(
        with_teacher(ctx["train_in"], ctx["zt_train"]),
        tr.beats.y,
        validation_data=(
            with_teacher(representative_inputs(model, va.x, va.beats.rhythm), ctx["zt_val"]),
            va.beats.y,
        ),
        epochs=epochs,
        batch_size=DEFAULTS["batch_size"],
        shuffle=True,
        verbose=0 if quiet else 2,
        callbacks=list(callbacks),
        class_weight=class_weights(tr.beats.y, len(ctx["labels"]), ctx["class_weight_power"]),
    )
    return {k: [float(v) for v in vals] for k, vals in hist.history.items()}


def _range_vars(layer) -> tuple[list, list]:
    """The fake-quant range variables of a tfmot wrapper's output (min list, max list)."""
    mins, maxs = [], []
    for w in layer.weights:
        leaf = w.name.split("/")[-1].split(":")[0]
        if leaf in ("output_min", "post_activation_min"):
            mins.append(w)
        elif leaf in ("output_max", "post_activation_max"):
            maxs.append(w)
    return mins, maxs


def tie_concat_ranges(qmodel) -> list[str]:
    """Give every Concatenate of a tfmot QAT model and the fake-quant ranges feeding it one
    common range (their union).

    TFLM's int8 CONCATENATION needs every input on the output's scale; tfmot quantizes the
    conv branch (at its ReLU, before Flatten) and the concatenation separately, so the
    converter otherwise inserts an int8 QUANTIZE (requantize) op before it, which the
    project's C backend does not implement. With equal ranges the scales are equal and no
    QUANTIZE is emitted. Returns the names of the layers tied."""
    tied = []
    for layer in qmodel.layers:
        inner = getattr(layer, "layer", None)
        if type(inner).__name__ != "Concatenate":
            continue
        mins, maxs = _range_vars(layer)
        group = [layer.name]
        node = layer.inbound_nodes[0]
        feeders = (
            node.inbound_layers if isinstance(node.inbound_layers, list) else [node.inbound_layers]
        )
        for src in feeders:
            while src is not None:  # walk back over layers without their own range (Flatten)
                smin, smax = _range_vars(src)
                if smin:
                    mins += smin
                    maxs += smax
                    group.append(src.name)
                    break
                prev = src.inbound_nodes[0].inbound_layers if src.inbound_nodes else []
                src = prev if not isinstance(prev, list) else (prev[0] if len(prev) == 1 else None)
        if mins and maxs:
            lo = min(float(np.min(v.numpy())) for v in mins)
            hi = max(float(np.max(v.numpy())) for v in maxs)
            for v in mins:
                v.assign(np.full(v.shape, lo, np.float32))
            for v in maxs:
                v.assign(np.full(v.shape, hi, np.float32))
            tied.append("+".join(group))
    return tied


def qat_model(student, ctx, epochs: int, learning_rate: float, quiet=False):
    """tfmot quantize_model (its Conv2D+BatchNorm+ReLU and Concatenate transforms keep fake
    quantization where the int8 kernels will quantize), fine-tuned with distillation; the
    ranges around each Concatenate are tied after every epoch (see tie_concat_ranges)."""
    import tensorflow_model_optimization as tfmot

    from tinyecg.models.architectures import keras

    q = tfmot.quantization.keras.quantize_model(student)
    tie = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: tie_concat_ranges(q))
    hist = _finetune(q, ctx, epochs, learning_rate, callbacks=[tie], quiet=quiet)
    hist["tied_ranges"] = tie_concat_ranges(q)
    return q, hist


def pruned_model(student, ctx, sparsity: float, epochs: int, learning_rate: float, quiet=False):
    """prune_low_magnitude on every Conv2D and Dense kernel except "logits", PolynomialDecay
    from 0 to `sparsity` over the first two thirds of the fine-tuning steps, then
    strip_pruning. Returns (stripped model, history, measured sparsity per layer)."""
    import tensorflow_model_optimization as tfmot

    from tinyecg.stages.quantize import DEFAULTS

    steps = max(1, int(np.ceil(len(ctx["train"].beats.y) / DEFAULTS["batch_size"]))) * epochs
    # masks are updated every `frequency` steps up to end_step inclusive, so end_step is a
    # multiple of it: the last update applies the final sparsity
    frequency = max(1, steps // 30)
    end_step = frequency * max(1, int(steps * 2 / 3) // frequency)
    schedule = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0,
        final_sparsity=float(sparsity),
        begin_step=0,
        end_step=end_step,
        frequency=frequency,
    )
    wrapped = _wrap_layers(
        student,
        lambda layer: tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule),
    )
    hist = _finetune(
        wrapped,
        ctx,
        epochs,
        learning_rate,
        callbacks=[tfmot.sparsity.keras.UpdatePruningStep()],
        quiet=quiet,
    )
    stripped = tfmot.sparsity.keras.strip_pruning(wrapped)
    measured = {
        layer.name: float(np.mean(layer.get_weights()[0] == 0))
        for layer in _kernel_layers(stripped)
        if layer.name != "logits"
    }
    return stripped, hist, measured


def clustered_model(student, ctx, clusters: int, epochs: int, learning_rate: float, quiet=False):
    """cluster_weights (k-means++ centroids) on every Conv2D and Dense kernel except
    "logits", fine-tuned, strip_clustering. Returns (stripped model, history, distinct
    kernel values per layer)."""
    import tensorflow_model_optimization as tfmot

    cl = tfmot.clustering.keras
    wrapped = _wrap_layers(
        student,
        lambda layer: cl.cluster_weights(
            layer,
            number_of_clusters=int(clusters),
            cluster_centroids_init=cl.CentroidInitialization.KMEANS_PLUS_PLUS,
        ),
    )
    hist = _finetune(wrapped, ctx, epochs, learning_rate, quiet=quiet)
    stripped = cl.strip_clustering(wrapped)
    distinct = {
        layer.name: int(np.unique(layer.get_weights()[0]).size)
        for layer in _kernel_layers(stripped)
        if layer.name != "logits"
    }
    return stripped, hist, distinct


def int8_weight_stats(data: bytes) -> dict:
    """Per CONV_2D / FULLY_CONNECTED weight tensor of a flatbuffer: element count, share of
    zeros, and the most distinct int8 values in one output channel."""
    from tinyecg.models.tflite import load_model

    m = load_model(data)
    out = {}
    for op in m.ops:
        if op.opcode in ("CONV_2D", "FULLY_CONNECTED", "DEPTHWISE_CONV_2D") and len(op.inputs) > 1:
            t = m.tensors[op.inputs[1]]
            if t.data is None:
                continue
            w = t.data.reshape(t.shape[0], -1) if t.data.ndim > 1 else t.data.reshape(1, -1)
            out[t.name] = {
                "size": int(t.data.size),
                "zeros": float(np.mean(t.data == 0)),
                "max_distinct_per_channel": int(max(np.unique(r).size for r in w)),
            }
    return out
