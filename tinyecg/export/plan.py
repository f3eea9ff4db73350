"""Export, step 2 (spec): everything the generated files will state, computed and checked
before a single file is rendered.

plan_export() reads the model, checks it against the fixed-point design and the board's
TFLM, derives the preprocessing parameters, measures the arena, picks and computes the
golden vectors, lowers the model to C for --runtime c and checks the board's budget. Every
problem is a one-line TinyECGError, raised before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyecg.dsp import fixedpoint as fp
from tinyecg.dsp.rhythm import N_FEATURES as N_RHYTHM_FEATURES
from tinyecg.errors import TinyECGError
from tinyecg.export import boards as boards_mod
from tinyecg.export import golden as golden_mod
from tinyecg.export import tflm_files
from tinyecg.export.source import Source, check_fixed_design, settings
from tinyecg.models.int8 import Int8Model
from tinyecg.models.tflite import TFLiteModel, load_model
from tinyecg.spec import BEAT, BEATS_TASK, RHYTHM

RUNTIMES = ("tflm", "c")
MAX_GOLDEN = 64
PREFIX = "tinyecg_model"  # the C names of the generated model


@dataclass
class ExportPlan:
    source: Source
    model: TFLiteModel
    int8: Int8Model
    runtime: str
    settings: dict  # fs, window, pre_r, labels, label_set, preprocessing
    params: dict  # fixed-point preprocessing parameters (tinyecg.dsp.fixedpoint)
    ops: list  # TFLM resolver ops (runtime tflm)
    arena: dict  # TFLM arena budget (+ the C backend's arena for runtime c)
    vectors: list  # golden vectors
    golden_origin: str
    golden_bytes: int
    c_files: dict[str, str]  # the C backend's generated files (runtime c)
    board: dict | None  # the board budget report
    notes: list[str] = field(default_factory=list)
    task: str = BEATS_TASK  # spec.TASKS: what the model classifies (tinyecg.export.rhythm)
    prefix: str = PREFIX  # the C names of the generated model

    @property
    def roles(self) -> list[str]:
        return [i.role for i in self.int8.inputs]

    @property
    def has_rhythm(self) -> bool:
        return self.int8.input(RHYTHM) is not None


def check_golden_count(golden) -> int:
    if (
        isinstance(golden, bool)
        or not isinstance(golden, (int, np.integer))
        or not 1 <= int(golden) <= MAX_GOLDEN
    ):
        raise TinyECGError(
            f"--golden must be a whole number from 1 to {MAX_GOLDEN} (got {golden!r})"
        )
    return int(golden)


def _checked_model(src: Source) -> TFLiteModel:
    model = load_model(src.model)
    if model.num_subgraphs != 1:
        raise TinyECGError(
            f"{model.source}: {model.num_subgraphs} subgraphs; tinyecg exports single-graph models"
        )
    ok, reasons = model.is_fully_int8()
    if not ok:
        more = f" (+{len(reasons) - 2} more)" if len(reasons) > 2 else ""
        raise TinyECGError(
            f"{model.source}: not a fully int8 model ({'; '.join(reasons[:2])}"
            f"{more}): export needs full-integer quantization (tinyecg quantize)"
        )
    if len(model.outputs) != 1:
        raise TinyECGError(
            f"{model.source}: {len(model.outputs)} outputs, expected 1 (class scores)"
        )
    return model


def _int8_with_window(model: TFLiteModel, window: int) -> Int8Model:
    """The model's input roles, after checking the beat input against the run's window."""
    int8 = Int8Model(model, task=None)  # a rhythm model is named below
    if int8.task != BEATS_TASK:
        raise TinyECGError(
            f"{Path(model.source).name}: a {int8.task} model (input "
            f"{int8.inputs[0].name!r}), not a beat model: export it with --task {int8.task}"
        )
    beat = int8.input(BEAT)
    if beat is not None and beat.size != window * int8.beat_channels:
        raise TinyECGError(
            f"{model.source}: input {beat.position} {beat.name!r} takes "
            f"{beat.size} samples (shape {list(beat.shape)}), but the window "
            f"is {window} samples (config.json data.window)"
        )
    return int8


def _tflm(model: TFLiteModel):
    """The model in the TFLM host runtime; a model TFLM cannot load is named with its ops
    outside TFLM's resolver vocabulary."""
    from tinyecg.runtime.tflm import TFLMModel, capture_c_stdout

    try:
        # TFLM prints its probes on the C-level stdout: keep that out of the user's terminal
        return capture_c_stdout(lambda: TFLMModel(model.data))[0]
    except TinyECGError as exc:
        unknown = [op for op in model.op_names() if op not in tflm_files.TFLM_OPS]
        why = f" (ops TFLM lacks: {', '.join(unknown)})" if unknown else ""
        raise TinyECGError(f"{model.source}: {exc}{why}") from None


def tflm_notes(model: TFLiteModel, runtime: str) -> list[str]:
    """What to know about the model in the boards' TFLM builds."""
    notes = []
    if runtime == "tflm":
        for problem in boards_mod.library_problems(boards_mod.ARDUINO_TFLM, model):
            notes.append(
                f"{problem}: the Arm boards' firmware would fail its self-test "
                "(export --board refuses such a model)"
            )
    for op in model.op_names():
        if op in tflm_files.CHANGED_SINCE_2023:
            notes.append(
                f"{op}: {tflm_files.CHANGED_SINCE_2023[op]}; golden outputs may differ "
                "on boards using the 2023 Arduino TFLM export"
            )
    return notes


def _c_backend(model: TFLiteModel) -> tuple[dict[str, str], int]:
    """The interpreter-free C of tinyecg.export.cbackend and its static arena bytes."""
    from tinyecg.export import cbackend

    files = cbackend.generate_c_backend(model, PREFIX)
    return {str(k): v for k, v in files.items()}, int(cbackend.plan_memory(model).arena_bytes)


def _golden_beats(src: Source, s: dict, notes: list[str]):
    """(Beats, candidate indices, description) for the golden vectors."""
    if src.kind == "run":
        from tinyecg.data.dataset import dataset_from_config

        assert src.config is not None, "resolve_source gives a run its config.json"
        try:
            ds, split = dataset_from_config(src.config)
        except (TinyECGError, KeyError, TypeError) as exc:
            msg = exc.args[0] if isinstance(exc, TinyECGError) else f"config lacks {exc}"
            notes.append(f"run data unavailable ({msg}): golden beats from the bundled excerpt")
        else:
            test = np.asarray(split.get("test", []), dtype=np.int64)
            cfg = src.config or {}
            if len(test):
                return (
                    ds.beats,
                    test,
                    (
                        f"test split ({cfg['split']['name']}, seed "
                        f"{cfg['split']['seed']}) of the run's data"
                    ),
                )
            notes.append("the run's test split is empty: golden beats from all its beats")
            return ds.beats, np.arange(len(ds.beats)), "all beats of the run's data"
    beats = golden_mod.excerpt_beats(s["label_set"] or "nlrav")
    return beats, np.arange(len(beats)), "MIT-BIH excerpt bundled with tinyecg"


def plan_export(
    src: Source, board: str | None = None, golden: int = 8, runtime: str = "tflm"
) -> ExportPlan:
    from tinyecg.export.preprocess import STACK_BYTES

    if runtime not in RUNTIMES:
        raise TinyECGError(f"unknown runtime {runtime!r} (choose from {', '.join(RUNTIMES)})")
    golden = check_golden_count(golden)
    board_obj = boards_mod.get_board(board) if board is not None else None
    notes = list(src.notes)
    model = _checked_model(src)
    s = settings(src.config, int(np.prod(model.tensors[model.outputs[0]].shape)), notes)
    int8 = _int8_with_window(model, s["window"])
    check_fixed_design(s)

    ops: list = []
    if runtime == "tflm":
        ops = tflm_files.resolver_ops(model)
        if board_obj is not None:
            boards_mod.check_library(board_obj, model)
    notes += tflm_notes(model, runtime)
    # the C backend first: it names an op it lacks, where TFLM would only fail to allocate
    c_files, c_arena = _c_backend(model) if runtime == "c" else ({}, 0)

    beat, rhythm = int8.input(BEAT), int8.input(RHYTHM)
    assert beat is not None
    # a patient-context model (Int8Model checked the pairing): 2 beat channels, 8 features
    patient = {"rhythm_features": "longterm", "beat_channels": 2} if int8.beat_channels == 2 else {}
    if patient:
        notes.append(
            "a patient-context model: build every file of the firmware with "
            "-DTINYECG_PATIENT_CONTEXT=1 (PlatformIO: the environment's build_flags; "
            "`tinyecg qemu` adds it; without it the build stops at tinyecg_exported.c)"
        )
    params = fp.preprocess_params(
        beat.scale,
        beat.zero_point,
        *((rhythm.scale, rhythm.zero_point) if rhythm else ()),
        **patient,  # type: ignore[arg-type]
    )
    tflm = _tflm(model)
    arena = tflm_files.arena_budget(tflm.arena_bytes(), model)
    if runtime == "c":
        arena = dict(arena, c_backend_arena=c_arena)

    beats, candidates, golden_origin = _golden_beats(src, s, notes)
    chosen = golden_mod.choose(beats.y, candidates, golden, int8.n_classes)
    vectors = golden_mod.make_golden(beats, chosen, params, tflm, [i.role for i in int8.inputs])
    if len(vectors) < golden:
        notes.append(f"only {len(vectors)} golden beats available (asked for {golden})")
    golden_bytes = golden_mod.table_bytes(
        len(vectors),
        s["window"],
        int8.n_rhythm if patient else (N_RHYTHM_FEATURES if rhythm else 0),
        int8.n_classes,
        int8.beat_channels,
    )
    report = None
    if board_obj is not None:
        report = boards_mod.budget(
            board_obj,
            model_bytes=len(model.data),
            arena_bytes=arena["total"] if runtime == "tflm" else c_arena,
            golden_bytes=golden_bytes,
            preprocess_stack=STACK_BYTES,
            runtime=runtime,
        )
        boards_mod.check_budget(report)
    return ExportPlan(
        src,
        model,
        int8,
        runtime,
        s,
        params,
        ops,
        arena,
        vectors,
        golden_origin,
        golden_bytes,
        c_files,
        report,
        notes,
    )
