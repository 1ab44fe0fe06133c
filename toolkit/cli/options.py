"""Options shared by several commands, and turning them into a Config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from toolkit.config import Config, load_config
from toolkit.errors import InputError
from toolkit.models import Architecture

ConfigFile = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML file with [train], [qat], [export], [parity] sections.")
]
Preset = Annotated[
    str,
    typer.Option(
        "--preset",
        help="Named settings: 'default' (cnn, >= 99.0 %, ~5 min), 'dense' (the "
        "series' 3x500 baseline) or 'best' (cnn-bn, augmentation, 15 epochs: QAT "
        "int8 >= 99.4 %). --config and options override it.",
    ),
]
Data = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="Your data: an .npz (x_train, y_train, x_test, y_test) or a directory of the four "
        "MNIST IDX .gz files. Default: MNIST (works offline).",
    ),
]
Out = Annotated[Path | None, typer.Option("--out", "-o", help="New run directory. Default: runs/<date-time>.")]
RunDir = Annotated[Path, typer.Argument(help="A run directory made by `edgekit train` or `edgekit pipeline`.")]
Model = Annotated[Architecture | None, typer.Option("--model", "-m", help="Architecture to train.")]
Epochs = Annotated[int | None, typer.Option("--epochs", min=1, help="Training epochs (early stopping may end sooner).")]
BatchSize = Annotated[int | None, typer.Option("--batch-size", min=1, help="Training batch size.")]
LearningRate = Annotated[float | None, typer.Option("--learning-rate", min=0.0, help="Adam's initial learning rate.")]
Augment = Annotated[bool | None, typer.Option("--augment/--no-augment", help="Random rotation, shift and zoom.")]
Seed = Annotated[int | None, typer.Option("--seed", help="Random seed for a reproducible run.")]
QatEpochs = Annotated[int | None, typer.Option("--qat-epochs", min=1, help="Quantization-aware fine-tuning epochs.")]
Tolerance = Annotated[
    list[str] | None,
    typer.Option(
        "--tolerance",
        "-t",
        metavar="VARIANT=POINTS",
        help="Largest accuracy drop allowed for a variant (float32, float16, dynamic, uint8, int8), "
        "in percentage points; repeatable.",
    ),
]
Runtime = Annotated[
    list[str] | None,
    typer.Option(
        "--runtime",
        "-r",
        help="Evaluate only in these runtimes (litert, tfjs-python, tensorflow, ...); "
        "repeatable. Default: every runtime available here.",
    ),
]


def parse_tolerances(values: list[str] | None) -> dict[str, float] | None:
    if not values:
        return None
    tolerances = {}
    for value in values:
        variant, sep, points = value.partition("=")
        try:
            tolerances[variant.strip()] = float(points)
        except ValueError:
            sep = ""
        if not sep or tolerances[variant.strip()] < 0:
            raise InputError(f"--tolerance {value!r}: expected VARIANT=POINTS, e.g. int8=0.5")
    return tolerances


def build_config(config_file: Path | None, preset: str = "default", **sections: dict[str, Any]) -> Config:
    """Defaults <- preset <- config file <- command-line options (an option left at None keeps the value below)."""
    parity = sections.get("parity")
    if parity is not None:
        parity["tolerances"] = parse_tolerances(parity.get("tolerances"))
        if parity.get("runtimes") == []:
            parity["runtimes"] = None
    return load_config(config_file, sections, preset)


Fix = Annotated[
    bool | None,
    typer.Option(
        "--fix",
        help="If an int8 PTQ artifact fails the gate: try a larger class-balanced calibration set, then the worst "
        "layers in float, then QAT fine-tuning, and keep the first that passes.",
    ),
]
