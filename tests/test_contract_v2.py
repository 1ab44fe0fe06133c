"""Contract v2's pure parts: normalization math, the contract round trip, the stratified split, input shapes."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from exporters.base import (
    Artifact,
    Classifier,
    Format,
    ImageSpec,
    Normalization,
    TensorSpec,
    Variant,
    read_contract,
    write_contract,
)
from toolkit.data.image_folder import stratified_split
from toolkit.modeling.classifier import image_input
from toolkit.pixels.tensors import to_model_input

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("kind", "low", "high"), [("unit", 0.0, 1.0), ("symmetric", -1.0, 1.0), ("raw", 0.0, 255.0)])
def test_named_normalizations_map_0_and_255_to_their_range(kind, low, high):
    values = Normalization.declare(kind).apply(np.array([[0], [255]], np.uint8))
    np.testing.assert_allclose(values.ravel(), [low, high], atol=1e-6)


def test_mean_std_is_per_channel_in_unit_pixels():
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    norm = Normalization.declare("mean_std", mean, std)
    pixels = np.array([[[10, 128, 250]]], np.uint8)
    expected = (pixels / 255.0 - np.array(mean)) / np.array(std)
    np.testing.assert_allclose(norm.apply(pixels), expected, rtol=1e-5)


@pytest.mark.parametrize(
    ("kind", "mean", "std", "message"),
    [
        ("bogus", None, None, "unknown normalization"),
        ("mean_std", [0.5], None, "needs --mean and --std"),
        ("mean_std", [0.5, 0.5], [0.2], "needs --mean and --std"),
        ("mean_std", [0.5], [0.0], "must be positive"),
        ("unit", [0.5], None, "go with normalization mean_std"),
    ],
)
def test_bad_normalizations_are_refused(kind, mean, std, message):
    with pytest.raises(ValueError, match=message):
        Normalization.declare(kind, mean, std)


def test_per_channel_values_must_fit_the_image():
    with pytest.raises(ValueError, match="3 values per channel, the image has 1"):
        Normalization.declare("mean_std", [0.1] * 3, [0.2] * 3).check_channels(1)
    Normalization.declare("mean_std", [0.1], [0.2]).check_channels(3)  # one value for every channel


def test_model_input_normalizes_reshapes_and_quantizes():
    classifier = Classifier(ImageSpec(2, 2, 3), Normalization.declare("symmetric"), "logits", ("a", "b"))
    pixels = (np.arange(24).reshape(2, 2, 2, 3) * 10).astype(np.uint8)
    flat = to_model_input(pixels, classifier, TensorSpec([12], "float32"))
    np.testing.assert_allclose(flat, pixels.reshape(2, 12) / 127.5 - 1, atol=1e-6)
    raw = dataclasses.replace(classifier, normalization=Normalization.declare("raw"))
    quantized = to_model_input(pixels, raw, TensorSpec([2, 2, 3], "int8", scale=1.0, zero_point=-128))
    assert quantized.dtype == np.int8 and quantized.shape == (2, 2, 2, 3)
    np.testing.assert_array_equal(quantized, pixels.astype(int) - 128)
    with pytest.raises(ValueError, match="do not hold 2x2x3"):
        to_model_input(np.zeros((2, 5, 5), np.uint8), classifier, TensorSpec([12], "float32"))


def test_contract_v2_round_trips(tmp_path):
    classifier = Classifier(
        ImageSpec(32, 32, 3),
        Normalization.declare("mean_std", [0.5, 0.4, 0.3], [0.2, 0.2, 0.25]),
        "logits",
        ("cat", "dog"),
    )
    (tmp_path / "model.json").write_text("{}")
    artifact = Artifact(
        name="tfjs-float32",
        format=Format.TFJS,
        variant=Variant.FLOAT32,
        source="float",
        path="artifacts/tfjs-float32",
        main_file="model.json",
        input=TensorSpec([3072], "float32"),
        output=TensorSpec([2], "float32"),
        classifier=classifier,
        model_type="graph-model",
        files={"model.json": {"sha256": "0" * 64, "size_bytes": 2}},
    )
    write_contract(artifact, tmp_path)
    contract = json.loads((tmp_path / "contract.json").read_text())
    assert contract["edgekit_contract"] == 2 and contract["model_type"] == "graph-model"
    assert contract["image"] == {"height": 32, "width": 32, "channels": 3}
    assert contract["labels"] == ["cat", "dog"] and contract["output_kind"] == "logits"
    np.testing.assert_allclose(contract["normalization"]["scale"], [1 / 51, 1 / 51, 1 / 63.75])
    np.testing.assert_allclose(contract["normalization"]["offset"], [-2.5, -2.0, -1.2])
    assert read_contract(tmp_path) == artifact


def test_a_version_1_contract_is_refused(tmp_path):
    (tmp_path / "contract.json").write_text(json.dumps({"edgekit_contract": 1}))
    with pytest.raises(ValueError, match="contract version 1"):
        read_contract(tmp_path)


def test_mnist_defaults_are_todays_contract():
    mnist = Classifier()
    assert mnist.image == ImageSpec(28, 28, 1) and mnist.labels == tuple(str(d) for d in range(10))
    assert mnist.normalization.to_dict() == {
        "kind": "unit",
        "scale": [1 / 255],
        "offset": [0.0],
        "mean": None,
        "std": None,
    }
    assert dataclasses.replace(mnist, output_kind="logits").output_kind == "logits"


def test_stratified_split_is_seeded_and_keeps_every_class():
    labels = np.repeat(np.arange(5), [10, 20, 3, 7, 40])
    first = stratified_split(labels, 0.2, seed=7)
    assert np.array_equal(first, stratified_split(labels, 0.2, seed=7))
    assert not np.array_equal(first, stratified_split(labels, 0.2, seed=8))
    counts = np.bincount(labels[first], minlength=5)
    assert counts.tolist() == [2, 4, 1, 1, 8]  # 20 % of each class, rounded, at least one


def test_split_needs_two_images_per_class():
    from toolkit.errors import InputError

    with pytest.raises(InputError, match="class 1 has 1 image"):
        stratified_split(np.array([0, 0, 1]), 0.5, seed=0)


@pytest.mark.parametrize(
    ("shape", "image", "fits"),
    [
        ((28, 28), ImageSpec(28, 28, 1), True),
        ((28, 28, 1), ImageSpec(28, 28, 1), True),
        ((784,), ImageSpec(28, 28, 1), True),
        ((3072,), ImageSpec(32, 32, 3), True),
        ((32, 32), ImageSpec(32, 32, 3), False),
        ((32, 32, 1), ImageSpec(32, 32, 3), False),
        ((96, 96, 3), ImageSpec(32, 32, 3), False),
    ],
)
def test_which_model_inputs_hold_an_image(shape, image, fits):
    assert image_input(shape, image) is fits
