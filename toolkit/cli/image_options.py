"""Options that describe a user's images: the input normalization and the test split of an image folder."""

from __future__ import annotations

from typing import Annotated

import typer

from exporters.base import NORMALIZATION_KINDS, Normalization
from toolkit.data.image_folder import DEFAULT_SPLIT_SEED, DEFAULT_TEST_FRACTION
from toolkit.errors import InputError

NormalizationKind = Annotated[
    str | None,
    typer.Option(
        "--normalization",
        help="How the model expects pixels: unit ([0, 1], default), symmetric ([-1, 1]), raw (0..255) or "
        "mean_std ((pixel/255 - mean) / std, with --mean and --std). A model with its own Rescaling layer takes raw.",
    ),
]
Mean = Annotated[
    list[float] | None, typer.Option("--mean", help="mean_std: the mean in [0, 1] units, once or per channel.")
]
Std = Annotated[
    list[float] | None, typer.Option("--std", help="mean_std: the std in [0, 1] units, once or per channel.")
]
TestFraction = Annotated[
    float | None,
    typer.Option(
        "--test-fraction",
        min=0.01,
        max=0.99,
        help="An image folder without train/ and test/: the share of each class held out for the gate.",
    ),
]
SplitSeed = Annotated[
    int | None, typer.Option("--split-seed", help="Seed of that held-out split (recorded in the run).")
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


def split(test_fraction: float | None, seed: int | None) -> dict:
    """The held-out split of an image folder, defaults filled in."""
    return {
        "test_fraction": DEFAULT_TEST_FRACTION if test_fraction is None else test_fraction,
        "seed": DEFAULT_SPLIT_SEED if seed is None else seed,
    }
