"""What every `tinyecg` command shares: logging, --quiet and the common options."""

from __future__ import annotations

import functools
import logging
import os
import sys

import click

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _setup_logging(quiet: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
        force=True,
    )
    for noisy in ("tensorflow", "absl", "h5py", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def stage(fn):
    """Common options of every command: --quiet."""

    @click.option("--quiet", "-q", is_flag=True, help="No progress output.")
    @functools.wraps(fn)
    def wrapper(*args, quiet=False, **kwargs):
        _setup_logging(quiet)
        return fn(*args, quiet=quiet, **kwargs)

    return wrapper


data_option = click.option(
    "--data",
    type=click.Path(file_okay=False),
    default=None,
    help="WFDB folder (default: $TINYECG_DATA, else the bundled MIT-BIH excerpt).",
)
run_dir_arg = click.argument("run_dir", type=click.Path(file_okay=False))
lead_option = click.option(
    "--lead",
    default=None,
    help="Lead to read, by name or index (default: the first of MLII, ML2, II, ECG1, ECG, "
    "ECG2; else channel 0).",
)
label_map_option = click.option(
    "--label-map",
    type=click.Path(dir_okay=False),
    default=None,
    help="JSON file {annotation symbol: class} for a database whose beat codes differ.",
)

recipe_option = click.option(
    "--recipe",
    type=click.Choice(["local", "patient"]),
    default="local",
    show_default=True,
    help="local: the window and 8 beats of RR context; patient: the patient's own template "
    "and long-term RR (needs --split inter, AAMI labels; docs/generalisation.md).",
)


def rhythm_training_options(fn):
    """`tinyecg train --task rhythm`: the epochs and patience of tinyecg.stages.rhythm_train."""
    for name, default in (("patience", 2), ("student-epochs", 8), ("teacher-epochs", 5)):
        fn = click.option(
            f"--{name}", type=click.IntRange(1), default=None, help=f"rhythm: default {default}."
        )(fn)
    return fn


def pct(v) -> str:
    """A fraction as a percentage with two decimals, "-" when undefined."""
    return "-" if v is None else f"{100 * v:.2f} %"
