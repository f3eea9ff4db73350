"""The device commands of `tinyecg` (qemu, detect, stream, stress): thin click wrappers over
tinyecg.device; tinyecg.app.cli adds them to the command group."""

from __future__ import annotations

from pathlib import Path

import click

from tinyecg.app.cli_options import lead_option, pct, stage
from tinyecg.errors import TinyECGError


@click.command()
@click.argument("source", required=False, type=click.Path())
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="build/qemu",
    show_default=True,
    help="Build folder.",
)
@click.option(
    "--runtime",
    type=click.Choice(["c", "tflm", "none"]),
    default=None,
    help="Classifier: c (the interpreter-free C backend, default), tflm (TensorFlow "
    "Lite Micro, the library the Arm boards pin, from ../shared/vendor or "
    "$TINYECG_TFLM_ARCHIVE), none (detection only).",
)
@click.option(
    "--classifier",
    type=click.Choice(["cbackend", "none"]),
    default=None,
    hidden=True,
    help="Old name of --runtime c|none.",
)
@click.option(
    "--arch",
    type=click.Choice(["m4", "m0"]),
    default="m4",
    show_default=True,
    help="m4: Cortex-M4F on mps2-an386; m0: Cortex-M0+ code on mps2-an385.",
)
@click.option(
    "--opt",
    type=click.Choice(["s", "2", "3"]),
    default="s",
    show_default=True,
    help="gcc optimisation level of the firmware's own code.",
)
@click.option(
    "--serve/--build-only",
    default=True,
    show_default=True,
    help="Start QEMU with the UART on a local TCP port for `tinyecg stream`.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(1),
    default=3600,
    show_default=True,
    help="Seconds before the emulator is stopped.",
)
@stage
def qemu(source, out, runtime, classifier, arch, opt, serve, timeout, quiet):
    """Build the board firmware for an emulated Cortex-M (QEMU) and serve it.

    The same application as the boards (firmware/lib/tinyecg_app) with the QEMU board layer.
    SOURCE is a run directory or .tflite (default: the model shipped with tinyecg). Then
    `tinyecg stream --port socket://127.0.0.1:PORT --record ...` drives it like a board."""
    from tinyecg.device import firmware

    if runtime is None:
        runtime = firmware.CLASSIFIER_RUNTIMES[classifier] if classifier else "c"
    elif classifier is not None and firmware.CLASSIFIER_RUNTIMES[classifier] != runtime:
        raise TinyECGError(f"--classifier {classifier} contradicts --runtime {runtime}")
    if runtime == "tflm" and not quiet:
        click.echo(
            "building TensorFlow Lite Micro for the target (minutes the first time, then cached)",
            err=True,
        )
    fw = firmware.build_firmware(Path(out), source, io="uart", runtime=runtime, arch=arch, opt=opt)
    click.echo(
        f"built {fw.elf} ({fw.classifier}, {arch}): flash {fw.flash_bytes} B, text "
        f"{fw.sizes['text']} B, data {fw.sizes['data']} B, bss {fw.sizes['bss']} B"
    )
    if serve:
        firmware.serve(
            fw, timeout, on_ready=lambda url: click.echo(f"serving on {url} (Ctrl-C stops)")
        )


@click.command()
@click.argument("record", type=click.Path(dir_okay=False))
@lead_option
@click.option(
    "--channel", "lead_index", type=int, default=None, hidden=True, help="Old name of --lead INDEX."
)
@stage
def detect(record, lead, lead_index, quiet):
    """Run the firmware's C QRS detector on a WFDB record and score it against its annotations."""
    from tinyecg.device.detect import score_record

    res = score_record(record, lead=lead if lead is not None else lead_index)
    rate = "" if res["source_fs"] == 360 else f", resampled from {res['source_fs']:g} Hz"
    poor = int(res["unreadable"].sum())
    click.echo(
        f"{len(res['peaks'])} beats detected in {res['base']} (lead {res['lead']}{rate}; "
        f"{poor} in signal the device reports unreadable)"
    )
    if res["flat"]:
        click.echo("warning: the signal is flat (no variation): nothing to detect", err=True)
    if res["qrs"] is not None:
        s = res["qrs"]
        click.echo(
            f"QRS vs annotations (150 ms): TP {s['tp']} FP {s['fp']} FN {s['fn']}  "
            f"Se {pct(s['se'])}  +P {pct(s['ppv'])}"
        )
    if res["qrs_ec57"] is not None:
        e = res["qrs_ec57"]
        click.echo(
            f"without its {len(res['flutter'])} ventricular flutter episode(s), as EC57 "
            f"scores: TP {e['tp']} FP {e['fp']} FN {e['fn']}  "
            f"Se {pct(e['se'])}  +P {pct(e['ppv'])}"
        )
    if res["qrs_readable"] is not None:
        u = res["qrs_readable"]
        click.echo(f"readable beats only: {len(res['peaks']) - poor} beats, +P {pct(u['ppv'])}")


@click.command()
@click.option("--port", required=True, help="Serial port or pyserial URL (socket://host:port).")
@click.option("--record", required=True, type=click.Path(dir_okay=False), help="WFDB record path.")
@click.option(
    "--speed",
    type=float,
    default=1.0,
    show_default=True,
    help="Replay speed (x real time; 0 = as fast as the line allows).",
)
@click.option(
    "--seconds", type=float, default=None, help="Replay only this many seconds (a positive number)."
)
@click.option(
    "--start",
    type=float,
    default=None,
    help="Start the replay this many seconds into the record (rounded down to 4 samples).",
)
@click.option(
    "--labels",
    type=click.Choice(["auto", "aami", "nlrav"]),
    default="auto",
    show_default=True,
    help="Label set the device's model reports (auto: the labels= field of the "
    "device's #info reply, else aami).",
)
@click.option("--baud", type=int, default=115200, show_default=True)
@click.option(
    "--out", type=click.Path(dir_okay=False), default=None, help="Write the scores as JSON."
)
@lead_option
@stage
def stream(port, record, speed, seconds, start, labels, baud, out, lead, quiet):
    """Replay a WFDB record to a device (or the QEMU target) and score the beats it reports,
    and its shockable-rhythm decisions and alarm when it sends them."""
    from tinyecg import metrics
    from tinyecg.device.rhythm_score import summary_lines
    from tinyecg.device.stream import stream_record
    from tinyecg.run import write_json

    res = stream_record(
        port,
        record,
        speed=speed,
        seconds=seconds,
        start=start,
        baudrate=baud,
        lead=lead,
        labels=labels,
    )
    q = res["qrs"]
    click.echo(
        f"QRS: TP {q['tp']} FP {q['fp']} FN {q['fn']}  Se {pct(q['se'])}  +P {pct(q['ppv'])}"
    )
    if res["beats_unreadable"]:
        click.echo(
            f"{res['beats_unreadable']} of {res['beats_reported']} beats reported in "
            f"unreadable signal (U lines)"
        )
    used = res["labels"]
    origin = {
        "device": "from the device's #info",
        "option": "--labels",
        "default": "default: the device's #info names none",
        "fallback": "fallback",
    }[used["source"]]
    click.echo(f"labels: {used['set']} ({','.join(used['labels'])}; {origin})")
    if used["warning"]:
        click.echo(f"warning: {used['warning']}", err=True)
    rep = res["classes"]
    if rep.get("accuracy") is not None:
        click.echo(f"classes of matched beats: accuracy {rep['accuracy']:.4f}")
        click.echo(metrics.markdown_table(rep))
    if res["rhythm"] is not None:
        click.echo("\n".join(summary_lines(res["rhythm"])))
    if out:
        write_json(Path(out), res)


@click.command("stress")
@click.argument("record", type=click.Path(dir_okay=False))
@click.option(
    "--noise",
    type=click.Choice(["bw", "ma", "em", "all"]),
    default="all",
    show_default=True,
    help="Synthetic noise: baseline wander, muscle artefact, electrode motion, or each of them.",
)
@click.option(
    "--snr",
    "snrs",
    default="24,18,12,6,0,-6",
    show_default=True,
    help="SNRs in dB (nst's definition), comma-separated.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Noise seed.")
@click.option(
    "--model",
    type=click.Path(dir_okay=False),
    default=None,
    help="An int8 .tflite (default: the model shipped with tinyecg).",
)
@click.option("--channel", type=int, default=None, help="Signal index (default: MLII, else 0).")
@click.option(
    "--out", type=click.Path(dir_okay=False), default=None, help="Write the counts as JSON."
)
@stage
def stress(record, noise, snrs, seed, model, channel, out, quiet):
    """Noise stress test (MIT-BIH NST protocol, synthetic noise) of the device's detector,
    classifier and quality flag on one record; scores are for the noisy blocks."""
    from tinyecg.data.noise import KINDS
    from tinyecg.device import stress as st
    from tinyecg.run import write_json

    try:
        levels = [float(v) for v in snrs.split(",") if v.strip()]
    except ValueError:
        raise TinyECGError(f"--snr must be numbers separated by commas (got {snrs!r})") from None
    if not levels:
        raise TinyECGError("--snr: no SNR given")
    kinds = list(KINDS) if noise == "all" else [noise]
    res = st.stress_record(
        record,
        kinds=kinds,
        snrs=levels,
        seed=seed,
        classifier=st.Classifier(model),
        channel=channel,
    )
    click.echo(
        f"record {res['record']}: noise in 2-minute blocks from 5:00, seed {seed}; "
        f"rates in the noisy blocks ('flag clean': share flagged in the clean blocks)"
    )
    click.echo(st.table(res))
    if out:
        write_json(Path(out), res)
