"""Settings of each step as one schema with defaults; a TOML config file and the CLI only override them."""

from __future__ import annotations

import dataclasses
import tomllib
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from exporters.base import Variant
from toolkit.errors import InputError
from toolkit.limits import MAX_CONFIG_BYTES, read_capped


class Architecture(str, Enum):
    """The networks `edgekit train` builds (toolkit.modeling.architectures)."""

    DENSE = "dense"
    CNN = "cnn"
    CNN_BN = "cnn-bn"
    # Three Conv-BatchNorm-ReLU blocks (32, 64, 128 filters), pooling after the first two, dropout 0.25.
    CNN3_BN = "cnn3-bn"
    # The same at 3/4 (24, 48, 96 filters): the default, as accurate at 0.57x the multiply-adds (docs/performance.md).
    CNN3_BN_SLIM = "cnn3-bn-slim"
    # At 3/2 (48, 96, 192 filters), for --preset best (docs/performance.md).
    CNN3_BN_WIDE = "cnn3-bn-wide"


# What MNIST's 10,000 images resolve for an int8 conversion: the slack above a variant's tolerance for a drop the
# test set cannot see (see Bounds).
DEFAULT_POWER_MARGIN = 0.25


@dataclasses.dataclass(frozen=True)
class Bounds:
    """One variant's limits. Points are percentage points of accuracy; probability errors are in [0, 1]."""

    tolerance: float  # practical margin: a significant drop no larger than this still passes
    min_agreement: float  # hard floor on top-1 agreement with the reference, in percent
    max_mean_prob_error: float  # bound on the mean over images of max_k |p_artifact - p_reference|
    significance: float  # one-sided McNemar level at which a drop counts as real
    # Points above the tolerance that a drop the test set cannot see (80 % power) may reach before the verdict is
    # inconclusive rather than passed (docs/verdict.md, "Power").
    power_margin: float = DEFAULT_POWER_MARGIN


# Upper bounds that no real setting reaches, so that a typo (`epochs = 1e20`, a batch of a billion) is an error at
# once rather than a run that never ends or a crash deep inside TensorFlow.
Epochs = Annotated[int, Field(strict=True, ge=1, le=10_000)]
BatchSize = Annotated[int, Field(strict=True, ge=1, le=65_536)]
Images = Annotated[int, Field(strict=True, ge=1, le=10_000_000)]  # a count of images drawn from the data
Rate = Annotated[float, Field(gt=0, le=10, allow_inf_nan=False)]
Points = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Section(BaseModel):
    # strict: "abc" or 1.5 for an int, or "fast" for a float, is an error rather than a silent conversion.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True)


class TrainConfig(_Section):
    # The defaults and what they reach: docs/performance.md, "Accuracy per minute".
    architecture: Annotated[Architecture, Field(strict=False)] = Architecture.CNN3_BN_SLIM
    epochs: Epochs = 7
    batch_size: BatchSize = 128
    learning_rate: Rate = 3e-3  # the one-cycle peak
    lr_decay: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.8  # LR x this per epoch
    # Held out from the end of the training set (the test set is never seen); None: min(5000, 10 % of it).
    validation_size: Images | None = None
    patience: Epochs = 3  # early stopping on validation loss
    augment: bool = True  # random rotation (10 deg), shift (10 %), zoom (10 %), times augment_strength
    augment_strength: Annotated[float, Field(gt=0, le=10, allow_inf_nan=False)] = 0.5
    # "exponential" (lr_decay per epoch), "cosine" (to 0 at the last epoch), or "one-cycle" (per batch: a warm-up
    # from learning_rate/25 to learning_rate over the first 25 % of the steps, then a cosine down to ~0)
    lr_schedule: Literal["exponential", "cosine", "one-cycle"] = "one-cycle"
    # Targets (1 - s) on the true class and s/10 spread over all: less over-confident, better calibrated models
    label_smoothing: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = 0.1
    # After the schedule: epochs on un-augmented images at a constant low rate (docs/performance.md, --preset best).
    finish_epochs: Annotated[int, Field(strict=True, ge=0, le=10_000)] = 0
    finish_learning_rate: Rate = 1e-4
    seed: Annotated[int, Field(strict=True, ge=0, le=2**32 - 1)] = 42  # numpy's seeds are 32-bit


class FineTuneConfig(_Section):
    """Training after the schedule (training.fine_tune): Adam at a constant low rate on un-augmented images."""

    epochs: Epochs = 1
    batch_size: BatchSize = 128
    learning_rate: Rate = 1e-4
    # As in training: fine-tuning on hard targets cost accuracy that smoothed ones keep (docs/performance.md)
    label_smoothing: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = 0.1


class QATConfig(FineTuneConfig):
    """[qat]: the fake-quantized copy's fine-tuning."""


class ExportConfig(_Section):
    representative_size: Images = 500  # training images that calibrate int8 activation ranges
    tflite: bool = True
    # Batch-1 RGB-pixels .tflite files (float32, int8 with uint8 I/O) that MediaPipe Tasks and LiteRT.js open as
    # they are; written with tflite, for tf-keras models.
    pixels: bool = True
    # TFLite Metadata (normalization, labels, names) in every .tflite, written in MediaPipe's environment
    # (made on first use); where it cannot be made, the files go without and the log says why.
    metadata: bool = True
    tfjs: bool = True
    saved_model: bool = True
    # Extra TFLite artifacts made by the LiteRT quantizer (exporters/tflite_quantizer.py): "int8" writes
    # tflite-int8-aeq, "int16x8" tflite-int16x8 (int16 activations: slow on CPUs, docs/quantization.md).
    # "weights-int8" / "weights-int4" write tflite-weights-int8 / -int4: weight-only, float activations and I/O.
    quantizer: list[Literal["int8", "int16x8", "weights-int8", "weights-int4"]] = Field(default_factory=list)
    # A per-layer recipe for the quantizer's artifacts: layers (a name, or a regular expression searched in the op's
    # output tensor names) kept in float, or given int16 activations.
    float_layers: list[str] = Field(default_factory=list)
    int16_layers: list[str] = Field(default_factory=list)

    @field_validator("float_layers", "int16_layers")
    @classmethod
    def _patterns(cls, values: list[str]) -> list[str]:
        import re

        for pattern in values:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"{pattern!r} is not a regular expression: {error}") from None
        return values


# The verdict (toolkit/gate/verdict.py) and these defaults were chosen on a calibration set of faithful conversions
# and broken artifacts (tests/calibration_set.py); the figures behind each bound are in docs/verdict.md.
# Per variant, the practical margin in percentage points: a drop that is significant but no larger passes.
# Weight-only files were not in that set: weights-int8 takes dynamic range's bounds (int8 weights, float
# activations), weights-int4 full-integer int8's (docs/quantization.md).
DEFAULT_TOLERANCES = {
    Variant.FLOAT32.value: 0.02,
    Variant.FLOAT16.value: 0.1,
    Variant.DYNAMIC.value: 0.2,
    Variant.UINT8.value: 0.2,
    Variant.INT8.value: 0.3,
    Variant.INT16X8.value: 0.3,
    Variant.WEIGHTS_INT8.value: 0.2,
    Variant.WEIGHTS_INT4.value: 0.3,
}
# Hard floor on top-1 agreement with the reference, in percent: scrambled classes or another model.
DEFAULT_MIN_AGREEMENT = {
    Variant.FLOAT32.value: 99.9,
    Variant.FLOAT16.value: 99.5,
    Variant.DYNAMIC.value: 98.5,
    Variant.UINT8.value: 98.5,
    Variant.INT8.value: 97.0,
    Variant.INT16X8.value: 97.0,
    Variant.WEIGHTS_INT8.value: 98.5,
    Variant.WEIGHTS_INT4.value: 97.0,
}
# Bound on the mean over images of max_k |p_artifact - p_reference|: right argmax, wrong probabilities (an edited
# output zero-point or input scale). Set between the largest faithful error and the smallest edit (docs/verdict.md).
DEFAULT_MAX_MEAN_PROB_ERROR = {
    Variant.FLOAT32.value: 0.001,
    Variant.FLOAT16.value: 0.002,
    Variant.DYNAMIC.value: 0.03,
    Variant.UINT8.value: 0.03,
    Variant.INT8.value: 0.06,
    Variant.INT16X8.value: 0.06,
    Variant.WEIGHTS_INT8.value: 0.03,
    Variant.WEIGHTS_INT4.value: 0.06,
}
# One-sided exact McNemar level at which an accuracy drop counts as real.
DEFAULT_SIGNIFICANCE = 0.01


def _per_variant(values: dict[str, Any], defaults: dict[str, float]) -> dict[str, Any]:
    """A partial {variant: number} table over the defaults; an unknown variant is an error."""
    if not isinstance(values, dict):
        raise ValueError(f"expected a table of variant = number ({', '.join(defaults)})")
    unknown = sorted(set(values) - set(defaults))
    if unknown:
        raise ValueError(f"unknown variant {', '.join(unknown)} (known: {', '.join(defaults)})")
    return {**defaults, **values}


class ParityConfig(_Section):
    tolerances: dict[str, Points] = Field(default_factory=lambda: dict(DEFAULT_TOLERANCES))
    min_agreement: dict[str, Annotated[Points, Field(le=100)]] = Field(
        default_factory=lambda: dict(DEFAULT_MIN_AGREEMENT)
    )
    max_mean_prob_error: dict[str, Points] = Field(default_factory=lambda: dict(DEFAULT_MAX_MEAN_PROB_ERROR))
    significance: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] = DEFAULT_SIGNIFICANCE
    power_margin: Points = DEFAULT_POWER_MARGIN  # see Bounds
    # A reference no better than chance fails the gate unless the user says the model is untrained on purpose.
    allow_chance_reference: bool = False
    fix: bool = False  # on an int8 PTQ breach, try the remedies of toolkit/fix/remedy.py and keep the first that passes
    runtimes: list[str] | None = None  # None: every runtime that can evaluate the artifact's format here
    # Browser targets added to the default runtimes: names such as chromium-webgl (runtime tfjs-chromium-webgl),
    # `all` for the whole matrix; `default` (or nothing) for today's gate alone.
    targets: list[str] = Field(default_factory=list)

    def bounds(self, variant: str) -> Bounds:
        """The verdict's limits for one variant."""
        return Bounds(
            tolerance=self.tolerances[variant],
            min_agreement=self.min_agreement[variant],
            max_mean_prob_error=self.max_mean_prob_error[variant],
            significance=self.significance,
            power_margin=self.power_margin,
        )

    @field_validator("tolerances", mode="before")
    @classmethod
    def _tolerances(cls, values: Any) -> Any:
        return _per_variant(values, DEFAULT_TOLERANCES)

    @field_validator("min_agreement", mode="before")
    @classmethod
    def _min_agreement(cls, values: Any) -> Any:
        return _per_variant(values, DEFAULT_MIN_AGREEMENT)

    @field_validator("max_mean_prob_error", mode="before")
    @classmethod
    def _max_mean_prob_error(cls, values: Any) -> Any:
        return _per_variant(values, DEFAULT_MAX_MEAN_PROB_ERROR)

    @field_validator("runtimes")
    @classmethod
    def _known_runtimes(cls, values: list[str] | None) -> list[str] | None:
        from toolkit.runtimes import FORMER_NAMES, RUNTIMES

        known = list(RUNTIMES)
        values = [FORMER_NAMES.get(name, name) for name in values or []]
        unknown = [name for name in values if name not in known]
        if unknown:
            raise ValueError(f"unknown runtime {', '.join(unknown)} (known: {', '.join(known)})")
        return values or None

    @field_validator("targets", mode="before")
    @classmethod
    def _known_targets(cls, values: Any) -> Any:
        from toolkit.runtimes import RUNTIMES, TARGET_WORDS, runtime_name

        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            return values  # the list[str] type says what is wrong
        names = [part.strip() for value in values for part in value.split(",") if part.strip()]
        names = [name if name in TARGET_WORDS else runtime_name(name) for name in names]
        unknown = [name for name in names if name not in (*TARGET_WORDS, *RUNTIMES)]
        if unknown:
            short = [name.removeprefix("tfjs-") for name, r in RUNTIMES.items() if r.engine]
            short += [name for name, r in RUNTIMES.items() if not r.engine and not r.default]
            raise ValueError(f"unknown target {', '.join(unknown)} (known: {', '.join([*TARGET_WORDS, *short])})")
        return names


class Config(_Section):
    train: TrainConfig = Field(default_factory=TrainConfig)
    qat: QATConfig = Field(default_factory=QATConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    parity: ParityConfig = Field(default_factory=ParityConfig)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def validation_size(config: TrainConfig, train_images: int) -> int:
    """The hold-out for `train_images` training images: the configured size, else min(5000, 10 %)."""
    size = config.validation_size or min(5000, train_images // 10)
    if not 0 < size < train_images:
        raise InputError(
            f"--validation-size {size} must be between 1 and {train_images - 1} "
            f"(one less than the {train_images} training images)"
        )
    return size


# How the seed trained: Adam from 1e-3 decaying x0.8 per epoch, plain cross-entropy, no augmentation.
_SEED_RECIPE = {
    "learning_rate": 1e-3,
    "lr_schedule": "exponential",
    "lr_decay": 0.8,
    "label_smoothing": 0.0,
    "augment": False,
    "augment_strength": 1.0,
}
_SEED_QAT = {"qat": {"label_smoothing": 0.0}}
# Named settings a command away (`--preset NAME`); a config file and options still override them.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "default": {},
    # The series' first network as it was trained there: 3 x 500 ReLU, batch 100, 10 epochs.
    "dense": {"train": {"architecture": "dense", "batch_size": 100, "epochs": 10, **_SEED_RECIPE}, **_SEED_QAT},
    # The seed's default: cnn, 12 epochs, exponential decay.
    "cnn": {"train": {"architecture": "cnn", "epochs": 12, **_SEED_RECIPE}, **_SEED_QAT},
    # The default recipe's one cycle in 3 epochs on cnn3-bn (docs/performance.md).
    "fast": {"train": {"architecture": "cnn3-bn", "epochs": 3}},
    # The default recipe on the wide network, trained longer, with stronger augmentation, finished on plain images.
    "best": {
        "train": {
            "architecture": "cnn3-bn-wide",
            "epochs": 20,
            "augment_strength": 1.0,
            "patience": 5,
            "finish_epochs": 1,
        },
        "qat": {"epochs": 2},
    },
}
SECTIONS = tuple(Config.model_fields)


def _merge(base: dict[str, Any], layer: dict[str, Any], where: str) -> None:
    """Lay one source's sections over `base`; a section must be a known table (its keys are checked later)."""
    for name, values in layer.items():
        if name not in SECTIONS:
            raise InputError(f"{where}: unknown section [{name}] (known: {', '.join(SECTIONS)})")
        if not isinstance(values, dict):
            raise InputError(f"{where}: [{name}] must be a table of settings, got {values!r}")
        section = base.setdefault(name, {})
        for key, value in values.items():
            if isinstance(value, dict) and isinstance(section.get(key), dict):
                section[key] = {**section[key], **value}
            else:
                section[key] = value


# The command-line option of a setting, where it is not --<key>; for messages about a bad option.
OPTION_NAMES = {
    ("train", "architecture"): "--arch",
    ("qat", "epochs"): "--qat-epochs",
    ("parity", "tolerances"): "--tolerance",
    ("parity", "runtimes"): "--runtime",
    ("parity", "targets"): "--targets",
}


def _one_line(error: pydantic.ValidationError, where: str) -> str:
    """The first problem pydantic found, as `where: setting: why (got value)`."""
    problem = error.errors()[0]
    loc = [str(part) for part in problem["loc"]]
    if where == "option":
        where = OPTION_NAMES.get((loc[0], loc[1]), "--" + loc[1].replace("_", "-"))
        setting = ".".join(loc[2:])
    else:
        setting = f"[{loc[0]}] " + ".".join(loc[1:])
    if problem["type"] == "extra_forbidden":
        known = Config.model_fields[loc[0]].annotation.model_fields
        return f"{where}: unknown setting {setting} (known: {', '.join(known)})"
    message = problem["msg"].removeprefix("Value error, ")
    return f"{where}: {setting}{': ' if setting else ''}{message} (got {problem['input']!r})".replace(" : ", ": ")


def read_config_file(path: Path) -> dict[str, Any]:
    """A TOML config file's tables, or an InputError naming the file."""
    try:
        return tomllib.loads(read_capped(Path(path), MAX_CONFIG_BYTES, f"config {path}").decode("utf-8"))
    except UnicodeDecodeError as error:
        raise InputError(f"config {path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except IsADirectoryError:
        raise InputError(f"config {path}: is a directory, not a TOML file") from None
    except OSError as error:
        raise InputError(f"config {path}: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"config {path}: {error}") from None


def load_config(
    path: Path | None = None, overrides: dict[str, dict[str, Any]] | None = None, preset: str = "default"
) -> Config:
    """Defaults, then a preset, then a TOML file's sections ([train], [qat], [export], [parity]), then overrides.

    Every layer is checked against the same schema (types, ranges, known keys), each naming where a bad value
    came from. Overrides whose value is None are ignored, so the CLI can pass every option and let None mean
    "default".
    """
    if preset not in PRESETS:
        raise InputError(f"unknown preset '{preset}' (known: {', '.join(PRESETS)})")
    layers: list[tuple[dict[str, Any], str]] = [(PRESETS[preset], f"preset {preset}")]
    if path is not None:
        layers.append((read_config_file(path), f"config {path}"))
    if overrides:
        layers.append(({k: {n: v for n, v in s.items() if v is not None} for k, s in overrides.items()}, "option"))
    merged: dict[str, Any] = {}
    for layer, where in layers:
        _merge(merged, layer, where)
        try:  # check each layer as it lands, so the message names the file or the option that is wrong
            Config.model_validate(merged)
        except pydantic.ValidationError as error:
            raise InputError(_one_line(error, where)) from None
    return Config.model_validate(merged)
