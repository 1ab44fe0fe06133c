"""Options that describe a user's images: the input normalization and the test split of an image folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from exporters.base import NORMALIZATION_KINDS, Normalization
from toolkit.data.image_folder import DEFAULT_SPLIT_SEED, DEFAULT_TEST_FRACTION, is_image_folder
from toolkit.errors import InputError

NormalizationKind = Annotated[
    str | None,
    typer.Option(
        "--normalization",
        metavar="KIND",
        help="How the model expects pixels: unit ([0, 1]), symmetric ([-1, 1]), raw (0..255) or mean_std "
        "((pixel/255 - mean) / std, with --mean and --std). Default: unit for a model edgekit trains; for your "
        "own model, what its leading Rescaling or Normalization layer says, else the kind that scores best on "
        "training images.",
    ),
]
Mean = Annotated[
    list[float] | None,
    typer.Option("--mean", metavar="VALUE", help="For mean_std: the mean in [0, 1] units, once or once per channel."),
]
Std = Annotated[
    list[float] | None,
    typer.Option("--std", metavar="VALUE", help="For mean_std: the std in [0, 1] units, once or once per channel."),
]
TestFraction = Annotated[
    float | None,
    typer.Option(
        "--test-fraction",
        min=0.01,
        max=0.99,
        metavar="FRACTION",
        help="For an image folder without train/ and test/: the share of each class held out for the gate. "
        "Default: 0.2.",
    ),
]
SplitSeed = Annotated[
    int | None,
    typer.Option(
        "--split-seed", metavar="N", help="The seed of that held-out split (recorded in the run). Default: 42."
    ),
]


def normalization(kind: str | None, mean: list[float] | None, std: list[float] | None) -> Normalization | None:
    """The declared normalization (None when none is: edgekit decides), or a one-line InputError naming what is
    wrong."""
    if kind is None and not (mean or std):
        return None
    kind = kind or "unit"
    if kind not in NORMALIZATION_KINDS:
        raise InputError(f"--normalization {kind!r}: expected one of {', '.join(NORMALIZATION_KINDS)}")
    try:
        return Normalization.declare(kind, mean, std)
    except ValueError as error:
        raise InputError(str(error)) from None


def refuse_split_unless_folder(data: Path | None, test_fraction: float | None, seed: int | None) -> None:
    """--test-fraction and --split-seed split an image folder that has no train/ and test/; elsewhere they would be
    ignored, so they are refused. A --data that does not exist is left to the data loader to name."""
    given = [name for name, value in (("--test-fraction", test_fraction), ("--split-seed", seed)) if value is not None]
    if not given or (data is not None and not data.exists()):
        return
    splits = data is not None and data.is_dir() and not ((data / "train").is_dir() and (data / "test").is_dir())
    if not (splits and is_image_folder(data)):
        what = "MNIST" if data is None else str(data)
        raise InputError(
            f"{', '.join(given)}: only for an image folder without train/ and test/ of its own; {what} has its split"
        )


def split(test_fraction: float | None, seed: int | None) -> dict:
    """The held-out split of an image folder, defaults filled in."""
    return {
        "test_fraction": DEFAULT_TEST_FRACTION if test_fraction is None else test_fraction,
        "seed": DEFAULT_SPLIT_SEED if seed is None else seed,
    }
