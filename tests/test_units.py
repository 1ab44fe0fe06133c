"""Pure functions: digit preprocessing, (de)quantization, softmax, config loading, tolerance parsing."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.cli.options import parse_tolerances
from toolkit.config import DEFAULT_TOLERANCES, Architecture, load_config
from toolkit.errors import InputError
from toolkit.pixels.digit import area_weights, preprocess_digit
from toolkit.pixels.tensors import dequantize, quantize, softmax

pytestmark = pytest.mark.unit


def test_empty_drawing_gives_zeros():
    assert not preprocess_digit(np.zeros((50, 50), np.uint8)).any()


def test_tall_stroke_fits_20_pixels_and_is_centred():
    image = np.zeros((300, 200), np.uint8)
    image[20:280, 30:50] = 255  # a tall bar far from the centre
    out = preprocess_digit(image)
    rows, cols = np.nonzero(out)
    assert rows.max() - rows.min() + 1 == 20
    mass = out.sum()
    assert abs((out.sum(1) @ np.arange(28)) / mass - 13.5) <= 1.0
    assert abs((out.sum(0) @ np.arange(28)) / mass - 13.5) <= 1.0
    assert out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1


def test_aspect_ratio_is_kept():
    image = np.zeros((100, 100), np.uint8)
    image[40:50, 10:90] = 255  # 10 x 80 -> 3 (2.5 rounded half up) x 20
    rows, cols = np.nonzero(preprocess_digit(image))
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (3, 20)


def test_float_and_uint8_inputs_agree():
    image = (np.random.default_rng(0).random((40, 30)) > 0.7).astype(np.uint8) * 255
    np.testing.assert_allclose(preprocess_digit(image), preprocess_digit(image / 255.0), atol=1e-7)


def test_area_weights_preserve_mean():
    weights = area_weights(7, 3)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    np.testing.assert_allclose(weights.sum(axis=0), 3 / 7)


def test_quantize_rounds_half_up_and_clips():
    q = quantize(np.array([0.5, 1.5, -0.5, 1000.0, -1000.0]), scale=1.0, zero_point=0, dtype="int8")
    assert q.tolist() == [1, 2, 0, 127, -128] and q.dtype == np.int8
    assert quantize(np.array([0.0, 1.0]), 1 / 255, 0, "uint8").tolist() == [0, 255]


def test_quantization_round_trip_error_is_within_half_a_step():
    values = np.linspace(0, 1, 1001)
    scale, zero_point = 1 / 255, -128
    restored = dequantize(quantize(values, scale, zero_point, "int8"), scale, zero_point)
    assert np.abs(restored - values).max() <= scale / 2 + 1e-7


def test_softmax_is_stable_and_normalized():
    probs = softmax(np.array([[1000.0, 1000.0, -1000.0], [0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(probs, [[0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-7)


def test_config_file_then_options(tmp_path):
    path = tmp_path / "edgekit.toml"
    path.write_text('[train]\narchitecture = "dense"\nepochs = 3\n[parity.tolerances]\nint8 = 0.5\n')
    config = load_config(path, {"train": {"epochs": 5, "seed": None}})
    assert config.train.architecture is Architecture.DENSE
    assert config.train.epochs == 5  # the option wins over the file
    assert config.train.seed == 42  # None keeps the default
    assert config.parity.tolerances["int8"] == 0.5
    assert config.parity.tolerances["float32"] == DEFAULT_TOLERANCES["float32"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("[trian]\nepochs = 1\n", r"unknown section \[trian\]"),
        ("[train]\nepoch = 1\n", r"unknown setting \[train\] epoch"),
        (
            '[train]\narchitecture = "resnet"\n',
            "should be 'dense', 'cnn', 'cnn-bn', 'cnn3-bn', 'cnn3-bn-slim' or 'cnn3-bn-wide'",
        ),
        ("[parity.tolerances]\nint4 = 1\n", "unknown variant int4"),
        ("[train\n", "config"),
    ],
)
def test_bad_config_files(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        load_config(path)


def test_tolerance_option_parsing():
    assert parse_tolerances(["int8=0.5", "float16=0.1"]) == {"int8": 0.5, "float16": 0.1}
    assert parse_tolerances(None) is None
    for bad in ["int8", "int8=abc"]:
        with pytest.raises(InputError, match="VARIANT=POINTS"):
            parse_tolerances([bad])


def test_preset_sits_between_defaults_and_file(tmp_path):
    path = tmp_path / "edgekit.toml"
    path.write_text("[train]\nepochs = 2\n")
    config = load_config(path, preset="best")
    assert config.train.architecture is Architecture.CNN3_BN_WIDE and config.train.augment_strength == 1.0
    assert config.train.epochs == 2 and config.qat.epochs == 2
    with pytest.raises(InputError, match="unknown preset 'fastest'"):
        load_config(preset="fastest")


def test_presets_keep_the_seed_recipes():
    for name, architecture in (("cnn", Architecture.CNN), ("dense", Architecture.DENSE)):
        train = load_config(preset=name).train
        assert train.architecture is architecture and train.lr_schedule == "exponential"
        assert train.label_smoothing == 0 and train.augment is False and train.learning_rate == 1e-3
        assert load_config(preset=name).qat.label_smoothing == 0
    assert load_config().train.architecture is Architecture.CNN3_BN_SLIM
    # the fast preset's figures were measured on cnn3-bn
    assert load_config(preset="fast").train.architecture is Architecture.CNN3_BN


def test_public_api_resolves_lazily():
    import toolkit
    from toolkit.flow.pipeline import pipeline

    assert toolkit.pipeline is pipeline and callable(toolkit.check_parity)
    with pytest.raises(AttributeError):
        _ = toolkit.not_an_api


def test_fused_activations_that_tfjs_cannot_run_are_found(tmp_path):
    """oneDNN's grappler fuses hard-swish into a convolution; TF.js's wasm kernels fuse only their own few."""
    import base64
    import json

    from exporters.tfjs import unrunnable_fusions

    def node(name, *ops):
        fused = {"list": {"s": [base64.b64encode(op.encode()).decode() for op in ops]}}
        return {"name": name, "op": "_FusedConv2D", "attr": {"fused_ops": fused}}

    nodes = [node("a", "BiasAdd", "Relu6"), node("b", "BiasAdd", "_FusedHardSwish"), node("c", "BiasAdd")]
    nodes += [{"name": "d", "op": "MatMul"}, node("e", "BiasAdd", "LeakyRelu")]
    model_json = tmp_path / "model.json"
    model_json.write_text(json.dumps({"modelTopology": {"node": nodes}}))
    assert unrunnable_fusions(model_json) == ["b: _FusedHardSwish"]
