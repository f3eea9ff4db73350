"""The `tinyecg` command line: thin click wrappers, one stage function per command."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tinyecg import __version__
from tinyecg.app import cli_device
from tinyecg.app.cli_options import (
    data_option,
    label_map_option,
    lead_option,
    recipe_option,
    rhythm_training_options,
    run_dir_arg,
    stage,
)
from tinyecg.errors import TinyECGError

RHYTHM_EXPORT_DIR = "firmware/lib/tinyecg_rhythm_model"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tinyecg")
def cli():
    """ECG heartbeat classification from MIT-BIH to a microcontroller.

    Stages share one run directory: train -> distill -> quantize -> bench -> export.
    """


@cli.group()
def data():
    """Get and inspect ECG data."""


@data.command("fetch")
@click.option("--dest", type=click.Path(file_okay=False), default="data/mitdb", show_default=True)
@stage
def data_fetch(dest, quiet):
    """Download the MIT-BIH Arrhythmia Database from PhysioNet."""
    from tinyecg.data.fetch import fetch

    click.echo(f"downloaded to {fetch(Path(dest))}")


@data.command("info")
@data_option
@click.option("--labels", type=click.Choice(["nlrav", "aami"]), default="nlrav", show_default=True)
@click.option("--include-paced", is_flag=True)
@lead_option
@label_map_option
@stage
def data_info(data, labels, include_paced, lead, label_map, quiet):
    """Build (or load from cache) the beat dataset and print its class counts."""
    from tinyecg.data.dataset import dataset_summary

    for line in dataset_summary(
        data, labels=labels, include_paced=include_paced, lead=lead, label_map=label_map
    ):
        click.echo(line)


@cli.command()
@click.argument("more_records", nargs=-1, type=click.Path(file_okay=False), metavar="")
@click.option(
    "--task",
    type=click.Choice(["beats", "rhythm"]),
    default="beats",
    show_default=True,
    help="beats: the float beat teacher (a run for distill/quantize); rhythm: teacher -> "
    "student -> int8 shockable-rhythm model on --records.",
)
@click.option(
    "--records",
    type=click.Path(file_okay=False),
    multiple=True,
    help="rhythm: WFDB folders with rhythm annotations (--records DIR [DIR ...]).",
)
@rhythm_training_options
@lead_option
@data_option
@click.option("--split", type=click.Choice(["intra", "inter"]), default="intra", show_default=True)
@click.option("--labels", type=click.Choice(["nlrav", "aami"]), default="nlrav", show_default=True)
@click.option(
    "--arch", default="teacher-cnn", show_default=True, help="teacher-cnn, seed-cnn, student-cnn"
)
@click.option(
    "--epochs", type=click.IntRange(1), default=None, help="Default 12 (--recipe patient: 10)."
)
@recipe_option
@click.option("--batch-size", type=click.IntRange(1), default=256, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--include-paced", is_flag=True, help="Keep 102, 104, 107, 217 (AAMI leaves them out)."
)
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Run directory.")
@click.option("--force", is_flag=True, help="Replace an existing run directory.")
@stage
def train(more_records, task, records, out, force, quiet, **opts):
    """Train the float teacher and start a run directory (--task rhythm: the whole
    shockable-rhythm model, int8 included)."""
    dirs = [*records, *more_records]
    rhythm_only = ("teacher_epochs", "student_epochs", "patience", "lead")
    if task == "rhythm":
        from tinyecg.stages.rhythm_train import describe_run, train_rhythm_run

        picked = {k: opts[k] for k in (*rhythm_only, "seed")}
        run = train_rhythm_run(Path(out), dirs, force=force, quiet=quiet, **picked)
        for line in describe_run(run, out):
            click.echo(line)
        return
    if dirs or any(opts[k] for k in rhythm_only):
        raise TinyECGError(
            "--records, --teacher-epochs, --student-epochs, --patience and --lead are for "
            "--task rhythm (beats: --data DIR)"
        )
    from tinyecg.stages.train import train as run_train

    beat_opts = ("data", "split", "labels", "arch", "epochs", "batch_size", "seed", "recipe")
    run_train(
        Path(out),
        **{k: opts[k] for k in beat_opts},
        include_paced=opts["include_paced"],
        force=force,
        quiet=quiet,
    )
    click.echo(f"teacher saved in {out}")


@cli.command()
@click.argument("run_dir", required=False, type=click.Path(file_okay=False))
@click.option(
    "--task",
    type=click.Choice(["beats", "rhythm"]),
    default="beats",
    show_default=True,
    help="beats: a run's beat classifier; rhythm: the shockable-rhythm (VF/VT) "
    "detectors on --records (TCSC baseline, and --model if given).",
)
@click.option(
    "--model",
    default=None,
    help="Model of the run (teacher, student, student_int8, ...; int8 or float: the "
    "run's preferred one of that kind) or a .keras/.tflite path [beats: default "
    "teacher]. With --task rhythm: an int8 rhythm .tflite.",
)
@click.option(
    "--records",
    type=click.Path(file_okay=False),
    default=None,
    help="Evaluate on every record of another WFDB folder (beats: AAMI classes; "
    "rhythm: needed, with rhythm annotations).",
)
@click.option(
    "--runtime",
    type=click.Choice(["tflm", "litert-ref"]),
    default="tflm",
    show_default=True,
    help="Runtime for int8 models.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="rhythm: folder for rhythm_report.json/.md (default RUN_DIR, else ./rhythm_eval).",
)
@lead_option
@label_map_option
@stage
def evaluate(run_dir, task, model, records, runtime, out, lead, label_map, quiet):
    """Evaluate a model; writes report.json, report.md and confusion.png (beats) or
    rhythm_report.json and rhythm_report.md (rhythm)."""
    if task == "rhythm":
        from tinyecg.stages.rhythm_evaluate import evaluate_rhythm, summary_lines

        if not records:
            raise TinyECGError(
                "--task rhythm needs --records DIR (a WFDB folder with rhythm annotations)"
            )
        dest = Path(out or run_dir or "rhythm_eval")
        rep = evaluate_rhythm(Path(records), model=model, out=dest, lead=lead, runtime=runtime)
        for line in summary_lines(rep):
            click.echo(line)
        click.echo(f"report in {dest}")
        return
    if run_dir is None:
        raise TinyECGError("evaluate needs RUN_DIR (the run whose beat model to score)")
    from tinyecg.stages.evaluate import evaluate as run_evaluate

    rep = run_evaluate(
        Path(run_dir),
        model=model or "teacher",
        records=records,
        runtime=runtime,
        lead=lead,
        label_map=label_map,
    )
    click.echo(
        f"{rep['model']} ({rep['runtime']}) on {rep['scope']}: accuracy "
        f"{rep['accuracy']:.4f}, macro-F1 {rep['macro_f1']:.4f}"
    )
    for sym, n in (rep.get("unmapped") or {}).items():
        click.echo(
            f"  not scored: {n} beats annotated {sym!r} (no class in the label set; "
            "--label-map maps them)"
        )
    for rec, why in (rep.get("skipped") or {}).items():
        click.echo(f"  skipped {rec}: {why}")
    for lab, m in rep["per_class"].items():
        fmt = lambda v: "  -   " if v is None else f"{v:.4f}"  # noqa: E731
        click.echo(
            f"  {lab}: Se {fmt(m['se'])}  +P {fmt(m['ppv'])}  F1 {fmt(m['f1'])}  n={m['support']}"
        )


@cli.command()
@run_dir_arg
@click.option(
    "--temperature",
    "-T",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Softmax temperature of the soft targets (default 2).",
)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1),
    default=None,
    help="Weight of the hard-label loss (default 0.5); 1 - alpha goes to the T^2-scaled KL term.",
)
@click.option(
    "--jitter",
    type=click.IntRange(0),
    default=None,
    help="Train on windows shifted up to this many samples off the R-peak (default 4).",
)
@click.option("--arch", default=None, help="Student architecture (default student-cnn).")
@click.option("--epochs", type=click.IntRange(1), default=None)
@click.option("--no-baseline", is_flag=True, help="Skip the hard-label-only student.")
@stage
def distill(run_dir, temperature, alpha, jitter, arch, epochs, no_baseline, quiet):
    """Distil the run's teacher into a small student (Hinton et al. 2015)."""
    from tinyecg.stages.distill import distill as run_distill

    kwargs = {
        k: v
        for k, v in dict(
            temperature=temperature, alpha=alpha, jitter=jitter, arch=arch, epochs=epochs
        ).items()
        if v is not None
    }
    section = run_distill(Path(run_dir), nokd=not no_baseline, quiet=quiet, **kwargs)
    click.echo(
        f"student saved in {run_dir}: "
        + ", ".join(f"{k} {v}" for k, v in section.items() if isinstance(v, (int, float, str)))[
            :400
        ]
    )


@cli.command()
@run_dir_arg
@click.option("--qat", is_flag=True, help="Also quantization-aware training (tfmot).")
@click.option(
    "--prune",
    type=click.FloatRange(0, 1, max_open=True),
    default=None,
    help="Also magnitude pruning to this sparsity (tfmot), then int8.",
)
@click.option(
    "--clusters",
    type=click.IntRange(2, 256),
    default=None,
    help="Also weight clustering to this many centroids (tfmot), then int8.",
)
@click.option(
    "--representative-size",
    type=click.IntRange(1),
    default=None,
    help="Training windows (class-stratified) calibrating the int8 ranges.",
)
@click.option("--force", is_flag=True, help="Replace int8 models that exist.")
@stage
def quantize(run_dir, qat, prune, clusters, representative_size, force, quiet):
    """Full-integer int8 quantization of the student (PTQ; optional QAT, pruning, clustering)."""
    from tinyecg.stages.quantize import quantize as run_quantize

    kwargs = {"representative_size": representative_size} if representative_size else {}
    section = run_quantize(
        Path(run_dir), qat=qat, prune=prune, clusters=clusters, force=force, quiet=quiet, **kwargs
    )
    for name in sorted(p.name for p in Path(run_dir).glob("*_int8.tflite")):
        click.echo(f"  {name}")
    return section


@cli.command()
@run_dir_arg
@click.option(
    "--runtime-sample",
    type=click.IntRange(1),
    default=None,
    help="Beats run in TFLM when the test split is too large (LiteRT-REF runs all).",
)
@click.option(
    "--shifts",
    default="",
    help="Also score windows cut this many samples off the "
    "R-peak, e.g. -5,-2,2,5 (misalignment tolerance).",
)
@stage
def bench(run_dir, runtime_sample, shifts, quiet):
    """Benchmark every model of the run: size, arena, MACs, accuracy, latency."""
    from tinyecg.stages.bench import bench as run_bench

    try:
        shift_list = tuple(int(v) for v in shifts.split(",") if v.strip())
    except ValueError:
        raise TinyECGError(f"--shifts {shifts!r}: give whole numbers separated by commas") from None
    run_bench(Path(run_dir), runtime_sample=runtime_sample, shifts=shift_list, quiet=quiet)
    click.echo((Path(run_dir) / "bench.md").read_text())


@cli.command()
@data_option
@click.option("--split", type=click.Choice(["intra", "inter"]), default="intra", show_default=True)
@click.option(
    "--labels",
    type=click.Choice(["nlrav", "aami"]),
    default=None,
    help="Default: nlrav for intra, aami for inter.",
)
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Run directory.")
@click.option("--qat/--no-qat", default=None, help="Quantization-aware training as well as PTQ.")
@click.option("--prune", type=click.FloatRange(0, 1, max_open=True), default=None)
@click.option("--clusters", type=click.IntRange(2, 256), default=None)
@click.option("--seed", type=int, default=0, show_default=True)
@recipe_option
@click.option(
    "--force", is_flag=True, help="Start again even if the run directory holds another run."
)
@stage
def pipeline(data, split, labels, out, qat, prune, clusters, seed, recipe, force, quiet):
    """train -> distill -> quantize -> bench, resuming stages whose outputs exist."""
    from tinyecg.stages.pipeline import pipeline as run_pipeline

    kwargs = {"qat": qat} if qat is not None else {}
    res = run_pipeline(
        Path(out),
        data=data,
        split=split,
        labels=labels,
        prune=prune,
        clusters=clusters,
        seed=seed,
        force=force,
        quiet=quiet,
        recipe=recipe,
        **kwargs,
    )
    click.echo("stages: " + ", ".join(f"{k} {v}" for k, v in res["stages"].items()))
    click.echo((Path(out) / "bench.md").read_text())


@cli.command()
@click.argument("source", required=False, type=click.Path())
@click.option(
    "--task",
    type=click.Choice(["beats", "rhythm"]),
    default="beats",
    show_default=True,
    help="beats: the beat classifier (files tinyecg_model*); rhythm: the shockable-rhythm "
    "model (files tinyecg_rhythm_model*, default SOURCE the shipped rhythm model).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Output folder (needed for beats; rhythm: default " + RHYTHM_EXPORT_DIR + ").",
)
@click.option(
    "--board",
    default=None,
    help="Check flash/RAM budgets: nano33ble, esp32s3, nucleo_l432kc, pico, nucleo_f031k6.",
)
@click.option(
    "--golden",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Golden test beats (rhythm: 8-s windows) to embed.",
)
@click.option(
    "--runtime",
    type=click.Choice(["tflm", "c"]),
    default="tflm",
    show_default=True,
    help="tflm: model array + op resolver for TFLite Micro; c: interpreter-free C.",
)
@click.option("--force", is_flag=True, help="Write into a non-empty folder.")
@stage
def export(source, task, out, board, golden, runtime, force, quiet):
    """Export an int8 model as C for a firmware (default: the model shipped with tinyecg).

    SOURCE is a run directory or a .tflite file (its config.json beside it)."""
    from tinyecg.export.exporter import describe
    from tinyecg.export.exporter import export as run_export

    if out is None:
        if task != "rhythm":
            raise TinyECGError("export needs --out DIR (e.g. firmware/lib/tinyecg_model)")
        out = RHYTHM_EXPORT_DIR
    summary = run_export(
        source, Path(out), board=board, golden=golden, force=force, runtime=runtime, task=task
    )
    if not quiet:
        for line in describe(summary):
            click.echo(line)


@cli.command()
@click.argument("run_dir", required=False, type=click.Path(file_okay=False))
@click.option(
    "--model",
    type=click.Path(dir_okay=False),
    default=None,
    help="An int8 .tflite (its config.json beside it) instead of a run directory.",
)
@click.option(
    "--rhythm-model",
    type=click.Path(dir_okay=False),
    default=None,
    help="The rhythm view's int8 .tflite (default: the rhythm model shipped with tinyecg).",
)
@click.option("--port", type=click.IntRange(1, 65535), default=7860, show_default=True)
@stage
def demo(run_dir, model, rhythm_model, port, quiet):
    """Serve the browser demo on localhost (default: the model shipped with tinyecg)."""
    from tinyecg.app.demo import serve

    serve(run_dir=run_dir, model=model, port=port, rhythm_model=rhythm_model)


for _command in (cli_device.qemu, cli_device.detect, cli_device.stream, cli_device.stress):
    cli.add_command(_command)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except TinyECGError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
