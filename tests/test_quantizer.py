"""The LiteRT quantizer backend: int8, int16x8 and weight-only int8/int4 artifacts with their contracts, gated like
every artifact, a per-layer recipe, and int16 tensors read wherever the contract's dtypes are read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support import train_user_model
from typer.testing import CliRunner

from exporters.base import Artifact, FieldError, Format, TensorSpec, Variant
from exporters.tflite_quantizer import Override
from exporters.tflite_quantizer import quantize as quantize_model
from toolkit.cli import app
from toolkit.config import load_config
from toolkit.errors import InputError
from toolkit.flow.export import check_formats
from toolkit.pixels.tensors import dequantize, quantize

runner = CliRunner()


def _config(path: Path, **export) -> Path:
    lines = ["[export]", "tfjs = false", "saved_model = false"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in export.items()]
    path.write_text("\n".join([*lines, "[parity]", 'runtimes = ["litert"]', ""]))
    return path


def _contract(run: Path, name: str) -> dict:
    return json.loads((run / "artifacts" / name / "contract.json").read_text())


def test_quantizer_artifacts_are_gated_with_their_contract_and_recipe(tmp_path: Path, tiny_data: Path):
    train_user_model((28, 28), False, tiny_data).save(tmp_path / "user.h5")
    recipes = ["int8", "int16x8", "weights-int8", "weights-int4"]
    config = _config(tmp_path / "q.toml", quantizer=recipes, int16_layers=["SOFTMAX"])
    out = tmp_path / "run"
    common = ["export", "--model", str(tmp_path / "user.h5"), "--data", str(tiny_data), "--config"]
    result = runner.invoke(app, [*common, str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    gated = {a["name"]: a for a in report["artifacts"]}
    assert gated["tflite-int8-aeq"]["passed"] and gated["tflite-int16x8"]["passed"]
    assert gated["tflite-int16x8"]["variant"] == "int16x8" and gated["tflite-int8-aeq"]["runtime"] == "litert"

    whole = _contract(out, "tflite-int16x8")
    assert whole["input"]["dtype"] == "int16" and whole["input"]["zero_point"] == 0 and whole["input"]["scale"] > 0
    assert whole["quantization"]["backend"] == "ai-edge-quantizer" and whole["quantization"]["fully_integer"]
    mixed = _contract(out, "tflite-int8-aeq")
    assert mixed["input"]["dtype"] == "int8" and mixed["output"]["dtype"] == "int16"  # the SOFTMAX kept at int16
    assert mixed["quantization"]["overrides"] == [{"layers": "SOFTMAX", "precision": "int16"}]
    assert _contract(out, "tflite-int8-ptq")["quantization"] == {"backend": "tflite-converter"}
    # Weight-only: float I/O, no calibration, the per-layer recipe (static recipes only) not applied, int4 smaller.
    for bits in ("int8", "int4"):
        weights = _contract(out, f"tflite-weights-{bits}")
        assert gated[f"tflite-weights-{bits}"]["passed"] and weights["variant"] == f"weights-{bits}"
        assert weights["input"]["dtype"] == weights["output"]["dtype"] == "float32"
        assert weights["quantization"]["recipe"] == f"weights-{bits}" and weights["quantization"]["overrides"] == []
        assert not weights["quantization"]["fully_integer"] and weights["quantization"]["calibration"] is None
    sizes = [_contract(out, f"tflite-{n}")["size_bytes"] for n in ("weights-int4", "weights-int8", "float32")]
    assert sizes == sorted(sizes) and sizes[0] < 0.7 * sizes[1], sizes
    assert "quantization" not in _contract(out, "tflite-float32")
    # The quantizer's files carry TFLite Metadata too (export writes it into every .tflite where it can).
    from toolkit.web import mediapipe_env

    if mediapipe_env.ready():
        for name, contract in (("tflite-int16x8", whole), ("tflite-int8-aeq", mixed)):
            metadata = mediapipe_env.read_metadata(out / "artifacts" / name / contract["main_file"])
            assert metadata["labels"] == contract["labels"] and metadata["name"].endswith(name), name
            assert "serving_default" in metadata["signatures"], name

    quick = ["--runs", "20", "--warmup", "2", "--rounds", "1", "-r", "litert"]
    bench = runner.invoke(app, ["benchmark", str(out), *quick])
    assert bench.exit_code == 0, bench.output
    rows = json.loads((out / "benchmark.json").read_text())["results"]
    assert {r["artifact"] for r in rows if r["int16_activations"]} == {"tflite-int16x8", "tflite-int8-aeq"}
    assert "tflite-int16x8, tflite-int8-aeq: int16 activations, which XNNPACK does not run" in bench.output
    assert "tflite-weights-int4: int4 weights, whose DEQUANTIZE XNNPACK does not take" in bench.output

    refused = _config(tmp_path / "bad.toml", quantizer=["int8"], float_layers=["no_such_layer"])
    bad = runner.invoke(app, [*common, str(refused), "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "no_such_layer" in bad.output and "matches no op" in bad.output


@pytest.mark.unit
def test_int16_tensors_round_trip_and_are_described_by_the_contract():
    values = np.array([-1.0, -0.25, 0.0, 0.5, 1.0], np.float32)
    q = quantize(values, 1 / 32767, 0, "int16")
    assert q.dtype == np.int16 and q.max() == 32767 and q.min() == -32767
    assert np.allclose(dequantize(q, 1 / 32767, 0), values, atol=1e-4)
    assert TensorSpec.from_dict({"shape": [10], "dtype": "int16", "scale": 0.01, "zero_point": 0}, "output").scale
    with pytest.raises(FieldError, match="output.scale"):
        TensorSpec.from_dict({"shape": [10], "dtype": "int16"}, "output")


@pytest.mark.unit
def test_a_recipe_is_checked_before_it_is_used():
    with pytest.raises(ValueError, match="precision"):
        Override("dense", "int4")
    with pytest.raises(ValueError, match="regular expression"):
        Override("dense(", "float")
    assert Override.tensor("a/b;c:0", "int16").regex == r"^a/b;c:0;"
    with pytest.raises(InputError, match="int16.layers"):
        load_config(overrides={"export": {"int16_layers": ["("]}})
    with pytest.raises(InputError, match="quantizer"):
        load_config(overrides={"export": {"quantizer": ["int4"]}})
    with pytest.raises(InputError, match="add --quantizer"):
        check_formats(load_config(overrides={"export": {"float_layers": ["dense"]}}))
    weight_only = {"quantizer": ["weights-int4"], "float_layers": ["dense"]}  # a per-layer recipe shapes int8/int16x8
    with pytest.raises(InputError, match="add --quantizer"):
        check_formats(load_config(overrides={"export": weight_only}))
    with pytest.raises(ValueError, match="weight-only"):
        quantize_model(b"", "weights-int8", None, [Override("dense", "float")])
    result = runner.invoke(app, ["export", "--model", "m.h5", "--quantizer", "int8", "--int16-layers", "("])
    assert result.exit_code == 2 and "--int16-layers" in result.output and "regular expression" in result.output


@pytest.mark.unit
def test_a_contract_names_a_known_quantization_backend():
    spec = TensorSpec([28, 28, 1], "int8", 1 / 255, -128)
    files = {"model.tflite": {"sha256": "0" * 64, "size_bytes": 1}}
    where = ("q", Format.TFLITE, Variant.INT8, "float", "artifacts/q", "model.tflite")
    artifact = Artifact(*where, spec, spec, files=files)
    contract = {**artifact.to_contract(), "output": {"shape": [10], "dtype": "int16", "scale": 1e-4, "zero_point": 0}}
    contract["quantization"] = {"backend": "ai-edge-quantizer", "recipe": "int8"}
    assert Artifact.from_contract(contract).quantization["recipe"] == "int8"
    contract["quantization"] = {"backend": "someone-else"}
    with pytest.raises(FieldError, match="quantization.backend"):
        Artifact.from_contract(contract)
