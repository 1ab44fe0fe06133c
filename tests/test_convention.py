"""The pixels a user's model expects are read from the model and measured on the data before export: a model with
its own Rescaling is fed raw pixels without a flag, a wrong declaration stops with exit 2 naming the right one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from corpus import make_images
from typer.testing import CliRunner

from exporters.base import Classifier, ImageSpec, Normalization
from toolkit.cli import app
from toolkit.data.datasets import Dataset
from toolkit.errors import InputError
from toolkit.modeling.convention import decide, stated_by_model

runner = CliRunner()
SHAPE, CLASSES = (32, 32, 3), 3


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> tuple[Path, Dataset]:
    x_train, y_train = make_images(SHAPE, CLASSES, 1200, seed=1)
    x_test, y_test = make_images(SHAPE, CLASSES, 4000, seed=2)
    path = tmp_path_factory.mktemp("photos") / "photos.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, class_names=["a", "b", "c"])
    return path, Dataset(x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64), str(path))


def raw_pixel_model(data: Dataset, nested: bool = False):
    """A small RGB classifier with its own Rescaling(1/255): it takes raw pixels 0..255, as photo models often do."""
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    body = keras.Sequential([keras.layers.Rescaling(1 / 255), keras.layers.Conv2D(8, 3, activation="relu")])
    head = [keras.layers.MaxPooling2D(4), keras.layers.Flatten(), keras.layers.Dense(CLASSES, activation="softmax")]
    layers = [body] if nested else list(body.layers)
    model = keras.Sequential([keras.Input(SHAPE), *layers, *head])
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(data.x_train.astype(np.float32), data.y_train, epochs=4, verbose=0)
    return model


def classifier() -> Classifier:
    return Classifier(ImageSpec(*SHAPE), Normalization(), "probabilities", ("a", "b", "c"))


def test_the_model_states_raw_pixels_through_its_rescaling_even_nested(photos):
    _, data = photos
    for nested in (False, True):
        stated = stated_by_model(raw_pixel_model(data, nested))
        assert stated and stated[0] == "raw" and "rescales pixels by 0.003922" in stated[1]


def test_a_plain_model_states_nothing():
    import tf_keras as keras

    assert stated_by_model(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])) is None


def test_undeclared_raw_model_is_fed_raw_and_a_wrong_declaration_is_refused(photos):
    _, data = photos
    model = raw_pixel_model(data)
    chosen = decide(model, data, classifier(), None)
    assert chosen.kind == "raw" and chosen.decided["how"] == "model"
    scores = chosen.decided["accuracy"]
    assert scores["raw"] > 90 and scores["unit"] < 50 and chosen.decided["images"] == 1000
    with pytest.raises(InputError, match=r"--normalization unit scores .* but raw scores .*pass --normalization raw"):
        decide(model, data, classifier(), Normalization.declare("unit"))
    assert decide(model, data, classifier(), Normalization.declare("raw")).decided["how"] == "declared"


def test_a_model_that_says_nothing_gets_the_convention_that_scores_clearly_best(photos):
    import tf_keras as keras

    _, data = photos
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input(SHAPE), keras.layers.Flatten(), keras.layers.Dense(CLASSES, activation="softmax")]
    )
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(data.x_train.astype(np.float32) / 127.5 - 1, data.y_train, epochs=4, verbose=0)  # trained on [-1, 1]
    chosen = decide(model, data, classifier(), None)
    assert chosen.kind == "symmetric" and chosen.decided["how"] == "measured", chosen.decided


def test_the_issue_s_raw_pixel_model_exports_with_its_real_accuracy_without_a_flag(photos, tmp_path):
    path, data = photos
    raw_pixel_model(data).save(tmp_path / "photos.h5")
    out = tmp_path / "run"
    args = ["export", "--model", str(tmp_path / "photos.h5"), "--data", str(path), "--no-tfjs", "-r", "litert"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "input: raw pixels (its first layer" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["verdict"] == "passed" and report["reference_accuracy"]["float"] > 90
    assert report["input_convention"]["kind"] == "raw" and report["input_convention"]["decided"]["how"] == "model"
    contract = json.loads((out / "artifacts" / "tflite-int8-ptq" / "contract.json").read_text())
    assert contract["normalization"]["kind"] == "raw" and contract["normalization"]["scale"] == [1.0]
    refused = runner.invoke(app, [*args, "--out", str(tmp_path / "unit"), "--normalization", "unit"])
    assert refused.exit_code == 2 and "pass --normalization raw" in refused.output
    assert not (tmp_path / "unit").exists()
