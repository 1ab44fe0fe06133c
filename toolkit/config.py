"""Settings of each step as dataclasses with defaults; the CLI and a TOML config file only override them."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from exporters.base import Variant
from toolkit.errors import InputError
from toolkit.models import Architecture
from toolkit.verdict import Bounds


@dataclasses.dataclass
class TrainConfig:
    # The defaults reach >= 99.0 % with the CNN in about 4 minutes of training on 2 cores (README, benchmark).
    architecture: Architecture = Architecture.CNN
    epochs: int = 12
    batch_size: int = 128
    learning_rate: float = 1e-3
    lr_decay: float = 0.8  # multiply the learning rate by this after every epoch
    validation_size: int = 5000  # held out from the end of the training set; the test set is never seen
    patience: int = 3  # early stopping on validation loss
    augment: bool = False  # random rotation (10 deg), shift (10 %), zoom (10 %)
    seed: int = 42


@dataclasses.dataclass
class QATConfig:
    epochs: int = 1
    batch_size: int = 128
    learning_rate: float = 1e-4


@dataclasses.dataclass
class ExportConfig:
    representative_size: int = 500  # training images that calibrate int8 activation ranges
    tflite: bool = True
    tfjs: bool = True
    saved_model: bool = True


# The verdict (toolkit/verdict.py) and its defaults were chosen on a calibration set of 42 faithful conversions
# of models from 48 % to 100 % accuracy and 17 broken artifacts (README, "The verdict"; tests/calibration_set.py).
# Per variant, the practical margin in percentage points: a drop that is significant but no larger passes.
# Faithful conversions never dropped significantly; float16 gets 0.1 because a low-margin model's float16 TF.js
# moved -0.08 points in the field (issue 9).
DEFAULT_TOLERANCES = {
    Variant.FLOAT32.value: 0.02,
    Variant.FLOAT16.value: 0.1,
    Variant.DYNAMIC.value: 0.2,
    Variant.UINT8.value: 0.2,
    Variant.INT8.value: 0.3,
}
# Hard floor on top-1 agreement with the reference, in percent: scrambled classes or another model. Faithful
# minimum seen: float16 99.98, dynamic 99.78, uint8 99.72, int8 98.83 (a 48 % model; 98.1 % in the field).
DEFAULT_MIN_AGREEMENT = {
    Variant.FLOAT32.value: 99.9,
    Variant.FLOAT16.value: 99.5,
    Variant.DYNAMIC.value: 98.5,
    Variant.UINT8.value: 98.5,
    Variant.INT8.value: 97.0,
}
# Bound on the mean over images of max_k |p_artifact - p_reference|: right argmax, wrong probabilities (an edited
# output zero-point or input scale). Faithful maximum seen: float16 0.0001, dynamic 0.0008, uint8 0.0021,
# int8 0.0051; the smallest contract edit measured 0.094.
DEFAULT_MAX_MEAN_PROB_ERROR = {
    Variant.FLOAT32.value: 0.001,
    Variant.FLOAT16.value: 0.002,
    Variant.DYNAMIC.value: 0.01,
    Variant.UINT8.value: 0.01,
    Variant.INT8.value: 0.02,
}
# One-sided exact McNemar level at which an accuracy drop counts as real.
DEFAULT_SIGNIFICANCE = 0.01


@dataclasses.dataclass
class ParityConfig:
    tolerances: dict[str, float] = dataclasses.field(default_factory=lambda: dict(DEFAULT_TOLERANCES))
    min_agreement: dict[str, float] = dataclasses.field(default_factory=lambda: dict(DEFAULT_MIN_AGREEMENT))
    max_mean_prob_error: dict[str, float] = dataclasses.field(default_factory=lambda: dict(DEFAULT_MAX_MEAN_PROB_ERROR))
    significance: float = DEFAULT_SIGNIFICANCE
    fix: bool = False  # on an int8 PTQ breach, try the remedies of toolkit/remedy.py and keep the first that passes
    runtimes: list[str] | None = None  # None: every runtime that can evaluate the artifact's format here

    def bounds(self, variant: str) -> Bounds:
        """The verdict's limits for one variant."""
        return Bounds(
            tolerance=self.tolerances[variant],
            min_agreement=self.min_agreement[variant],
            max_mean_prob_error=self.max_mean_prob_error[variant],
            significance=self.significance,
        )


@dataclasses.dataclass
class Config:
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    qat: QATConfig = dataclasses.field(default_factory=QATConfig)
    export: ExportConfig = dataclasses.field(default_factory=ExportConfig)
    parity: ParityConfig = dataclasses.field(default_factory=ParityConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _update(section: Any, values: dict[str, Any], where: str) -> None:
    fields = {f.name: f for f in dataclasses.fields(section)}
    for key, value in values.items():
        if key not in fields:
            raise InputError(f"{where}: unknown setting '{key}' (known: {', '.join(fields)})")
        current = getattr(section, key)
        if isinstance(current, dict):
            unknown = set(value) - set(current)
            if unknown:
                raise InputError(f"{where}.{key}: unknown variant {', '.join(sorted(unknown))}")
            current.update({k: float(v) for k, v in value.items()})
        elif key == "architecture":
            try:
                setattr(section, key, Architecture(value))
            except ValueError:
                raise InputError(f"{where}.architecture: '{value}' is not one of dense, cnn, cnn-bn") from None
        else:
            setattr(section, key, value)


# Named settings a command away (`--preset NAME`); a config file and options still override them.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "default": {},
    # The series' first network as it was trained there: 3 x 500 ReLU, batch 100, 10 epochs.
    "dense": {"train": {"architecture": "dense", "batch_size": 100, "epochs": 10}},
    # Batch norm and augmentation, 15 epochs: measured 99.27 % float, 99.45 % for the QAT int8 TFLite model.
    "best": {
        "train": {"architecture": "cnn-bn", "epochs": 15, "augment": True, "lr_decay": 0.85, "patience": 4},
        "qat": {"epochs": 2},
    },
}


def load_config(
    path: Path | None = None, overrides: dict[str, dict[str, Any]] | None = None, preset: str = "default"
) -> Config:
    """Defaults, then a preset, then a TOML file's sections ([train], [qat], [export], [parity]), then overrides.

    Overrides whose value is None are ignored, so the CLI can pass every option and let None mean "default".
    """
    config = Config()
    if preset not in PRESETS:
        raise InputError(f"unknown preset '{preset}' (known: {', '.join(PRESETS)})")
    sections: list[tuple[dict[str, Any], str]] = [(PRESETS[preset], f"preset {preset}")]
    if path is not None:
        try:
            sections.append((tomllib.loads(Path(path).read_text()), str(path)))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise InputError(f"config {path}: {error}") from None
    if overrides:
        sections.append(({k: {n: v for n, v in s.items() if v is not None} for k, s in overrides.items()}, "option"))
    for data, where in sections:
        for name, values in data.items():
            if not hasattr(config, name) or not isinstance(values, dict):
                raise InputError(f"{where}: unknown section [{name}] (known: train, qat, export, parity)")
            _update(getattr(config, name), values, f"{where} [{name}]")
    return config
