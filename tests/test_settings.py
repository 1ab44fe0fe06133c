"""Every documented setting (a field of toolkit/config.py, in a TOML file's [train], [qat], [export], [parity]) is
accepted with a value of its own, per-variant tables merge with the defaults, and `edgekit validate` runs with all of
them at once instead of crashing on one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.config import DEFAULT_TOLERANCES, Config, load_config

# One valid value, other than the default, for every setting; a new setting without one fails the first test.
SAMPLES = {
    "train": {
        "architecture": "cnn",
        "epochs": 2,
        "batch_size": 64,
        "learning_rate": 0.002,
        "lr_decay": 0.9,
        "validation_size": 100,
        "patience": 2,
        "augment": False,
        "augment_strength": 0.7,
        "lr_schedule": "cosine",
        "label_smoothing": 0.05,
        "finish_epochs": 1,
        "finish_learning_rate": 0.0002,
        "seed": 7,
    },
    "qat": {"epochs": 2, "batch_size": 64, "learning_rate": 0.0002, "label_smoothing": 0.05},
    "export": {
        "representative_size": 100,
        "tflite": False,
        "pixels": False,
        "metadata": False,
        "tfjs": False,
        "saved_model": False,
        "quantizer": ["int8"],
        "float_layers": ["dense"],
        "int16_layers": ["SOFTMAX"],
    },
    "parity": {
        "tolerances": {"int8": 0.4},
        "min_agreement": {"int8": 96.5},
        "max_mean_prob_error": {"int8": 0.07},
        "significance": 0.02,
        "power_margin": 0.3,
        "allow_chance_reference": True,
        "fix": False,
        "runtimes": ["litert"],
        "targets": ["tfjs-firefox-wasm"],
    },
}


def toml(sections: dict) -> str:
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v)

    return "".join(
        f"[{name}]\n" + "".join(f"{k} = {value(v)}\n" for k, v in fields.items()) for name, fields in sections.items()
    )


@pytest.mark.unit
def test_every_setting_has_a_sample_and_each_is_taken_alone(tmp_path: Path):
    assert {s: set(Config.model_fields[s].annotation.model_fields) for s in Config.model_fields} == {
        s: set(fields) for s, fields in SAMPLES.items()
    }
    for section, fields in SAMPLES.items():
        for field, sample in fields.items():
            path = tmp_path / f"{section}-{field}.toml"
            path.write_text(toml({section: {field: sample}}))
            taken = getattr(getattr(load_config(path), section), field)
            if isinstance(sample, dict):  # a per-variant table: the variant given, the defaults for the rest
                assert taken.keys() == DEFAULT_TOLERANCES.keys() and all(taken[k] == v for k, v in sample.items())
            else:
                assert taken == sample or getattr(taken, "value", None) == sample, (section, field)


def test_validate_runs_with_every_setting_at_once(tiny_run_copy: Path, tmp_path: Path):
    path = tmp_path / "all.toml"
    path.write_text(toml(SAMPLES))
    result = CliRunner().invoke(app, ["validate", str(tiny_run_copy), "-c", str(path)])
    assert result.exit_code in (0, 1, 3) and "Traceback" not in result.output, result.output
    report = json.loads((tiny_run_copy / "report.json").read_text())
    assert report["allow_chance_reference"] is True
    evaluated = [a for a in report["artifacts"] if not a.get("from_previous_run")]
    assert evaluated and {a["runtime"] for a in evaluated} == {"litert"}
    int8 = next(a for a in evaluated if a["variant"] == "int8")
    assert (int8["tolerance"], int8["min_agreement"], int8["max_mean_prob_error"]) == (0.4, 96.5, 0.07)
    assert int8["significance"] == 0.02
    float32 = next(a for a in evaluated if a["variant"] == "float32")
    assert float32["tolerance"] == DEFAULT_TOLERANCES["float32"]  # untouched variants keep their defaults
