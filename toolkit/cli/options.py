"""Options shared by several commands, and turning them into a Config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from toolkit.config import Architecture, Config, load_config
from toolkit.errors import InputError

ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", metavar="FILE", help="A TOML file with [train], [qat], [export] and [parity] sections."
    ),
]
# What each preset trains, and what it reached and cost where docs/performance.md measured it (docs/training.md).
Preset = Annotated[
    str,
    typer.Option(
        "--preset",
        metavar="NAME",
        help="Named settings; --config and options override them. "
        "default: cnn3-bn-slim, 7 epochs (99.43-99.51 %, the pipeline ~4 min on 2 cores); "
        "fast: cnn3-bn, 3 epochs (99.38-99.40 % after 73-89 s of training); "
        "best: cnn3-bn-wide, 20 epochs, stronger augmentation (99.62-99.69 %, training ~14 min); "
        "cnn: cnn (Conv32-Conv64-Dense128), 12 epochs (99.07 %); "
        "dense: dense (3 x 500 ReLU), 10 epochs (97.95 %, 1.5 min). "
        "Figures: MNIST, docs/performance.md.",
    ),
]
Data = Annotated[
    Path | None,
    typer.Option(
        "--data",
        metavar="PATH",
        help="Your data: a folder of images with one subfolder per class (PNG or JPEG; train/ and test/ used as "
        "given), an .npz (x_train, y_train, x_test, y_test), or a directory of the four IDX .gz files. "
        "Default: MNIST (works offline).",
    ),
]
Out = Annotated[
    Path | None, typer.Option("--out", "-o", metavar="DIR", help="The new run directory. Default: runs/DATE-TIME.")
]
RunDir = Annotated[
    Path,
    typer.Argument(metavar="RUN_DIR", help="A run directory, made by edgekit pipeline, train or export --model."),
]
# `--arch`, not `--model`: in `export`, --model is a model file of the user's.
Arch = Annotated[
    Architecture | None,
    typer.Option(
        "--arch",
        "-a",
        metavar="NAME",
        help="The network to train: cnn3-bn-slim (default), cnn3-bn, cnn3-bn-wide, cnn, cnn-bn or dense "
        "(docs/training.md).",
    ),
]
# Types are parsed here; ranges are checked by the same schema as the config file's (toolkit.config).
Epochs = Annotated[
    int | None, typer.Option("--epochs", metavar="N", help="Training epochs (early stopping may end sooner).")
]
BatchSize = Annotated[int | None, typer.Option("--batch-size", metavar="N", help="Training batch size.")]
LearningRate = Annotated[
    float | None, typer.Option("--learning-rate", metavar="RATE", help="Adam's initial (peak) learning rate.")
]
ValidationSize = Annotated[
    int | None,
    typer.Option(
        "--validation-size",
        metavar="N",
        help="Training images held out for early stopping. Default: min(5000, 10 %) of them.",
    ),
]
Augment = Annotated[bool | None, typer.Option("--augment/--no-augment", help="Random rotation, shift and zoom.")]
Seed = Annotated[int | None, typer.Option("--seed", metavar="N", help="Random seed, for a reproducible run.")]
QatEpochs = Annotated[
    int | None, typer.Option("--qat-epochs", metavar="N", help="Quantization-aware fine-tuning epochs.")
]
Resume = Annotated[
    Path | None,
    typer.Option(
        "--resume",
        metavar="RUN_DIR",
        help="Continue a killed run from its last completed epoch, with its own settings (no other options).",
    ),
]
Tolerance = Annotated[
    list[str] | None,
    typer.Option(
        "--tolerance",
        "-t",
        metavar="VARIANT=POINTS",
        help="Largest accuracy drop allowed for a variant (float32, float16, dynamic, uint8, int8, int16x8, "
        "weights-int8, weights-int4), "
        "in percentage points, e.g. int8=0.5; repeatable.",
    ),
]
Runtime = Annotated[
    list[str] | None,
    typer.Option(
        "--runtime",
        "-r",
        metavar="NAME",
        help="Evaluate only in this runtime: litert, tfjs-node-wasm, tfjs-chromium-wasm, tensorflow, mediapipe, "
        "litertjs-chromium-wasm or a browser target's tfjs-ENGINE-BACKEND; repeatable. Default: every runtime "
        "available here.",
    ),
]
Targets = Annotated[
    list[str] | None,
    typer.Option(
        "--targets",
        metavar="TARGETS",
        help="Runtimes to gate in besides the default ones: all, TF.js browser targets by ENGINE-BACKEND "
        "(chromium-webgl, chromium-webgl-f16, chromium-webgpu, firefox-wasm, firefox-webgl, webkit-wasm, "
        "webkit-webgl), litertjs-chromium-wasm (LiteRT.js) or mediapipe (MediaPipe Tasks), comma-separated or "
        "repeated. Default: TF.js in Chromium on wasm only.",
    ),
]


def parse_tolerances(values: list[str] | None) -> dict[str, float] | None:
    """`-t int8=0.5` options as {variant: points}; the schema then checks variants and ranges."""
    if not values:
        return None
    tolerances = {}
    for value in values:
        variant, sep, points = value.partition("=")
        try:
            tolerances[variant.strip()] = float(points)
        except ValueError:
            sep = ""
        if not sep:
            raise InputError(f"--tolerance {value!r}: expected VARIANT=POINTS, e.g. int8=0.5")
    return tolerances


def refuse_unused(why: str, **options: object) -> None:
    """An option that cannot apply here is refused (exit 2) rather than silently ignored: `--name[, --name]: why`."""
    given = [f"--{name.replace('_', '-')}" for name, value in options.items() if value not in (None, False, [])]
    if given:
        raise InputError(f"{', '.join(given)}: {why}")


def refuse_with_resume(resume: Path | None, **options: object) -> None:
    """--resume continues with the run's recorded settings: any other training option would be ignored, so say so."""
    given = [f"--{name.replace('_', '-')}" for name, value in options.items() if value not in (None, "default")]
    if resume is not None and given:
        raise InputError(f"--resume continues with the run's own settings; drop {', '.join(given)}")


def build_config(config_file: Path | None, preset: str = "default", **sections: dict[str, Any]) -> Config:
    """Defaults <- preset <- config file <- command-line options (an option left at None keeps the value below)."""
    parity = sections.get("parity")
    if parity is not None:
        parity["tolerances"] = parse_tolerances(parity.get("tolerances"))
        for key in ("runtimes", "targets"):
            if parity.get(key) == []:
                parity[key] = None
    return load_config(config_file, sections, preset)


Workers = Annotated[
    list[str] | None,
    typer.Option(
        "--worker",
        metavar="HOST:PORT",
        help="A worker of the training cluster, in order (repeat per machine; the first is the chief). "
        "Builds TF_CONFIG; with TF_CONFIG already set, leave it out.",
    ),
]
WorkerIndex = Annotated[
    int | None,
    typer.Option("--worker-index", min=0, metavar="N", help="This machine's position in the --worker list, from 0."),
]


def use_cluster(workers: list[str] | None, index: int | None) -> None:
    """Set TF_CONFIG from --worker/--worker-index, so the training step runs on the cluster."""
    import os

    from toolkit.modeling.distributed import tf_config

    if workers is None and index is None:
        return
    if workers is None or index is None:
        raise InputError("--worker and --worker-index go together")
    os.environ["TF_CONFIG"] = tf_config(workers, index)


AllowChance = Annotated[
    bool | None,
    typer.Option(
        "--allow-chance-reference",
        help="Let the gate judge artifacts of a reference model that scores no better than chance (an untrained "
        "model on purpose); recorded in the report.",
    ),
]
Fix = Annotated[
    bool | None,
    typer.Option(
        "--fix",
        help="If an int8 PTQ artifact fails the gate: try a larger class-balanced calibration set, then the worst "
        "layers in float, then QAT fine-tuning, and keep the first that passes.",
    ),
]
