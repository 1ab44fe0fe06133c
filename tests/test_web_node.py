"""The tfjs-node-wasm runtime: TF.js's own kernels in Node agree with Keras on the tiny run's artifacts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from support import (
    GRAPH_ARTIFACT,
    GRAPH_LABELS,
    TINY_ARTIFACTS,
    build_graph_run,
    build_tiny_run,
    graph_model_values,
    keras_probabilities,
    run_node_runner,
    sample_images,
    skip_unless,
)

from exporters.base import ImageSpec, read_contract
from toolkit.errors import StepError
from toolkit.runtimes import tfjs_node
from toolkit.web import assets as web_assets

pytestmark = pytest.mark.node


@pytest.fixture(scope="module")
def tiny_web_run(tmp_path_factory):
    return build_tiny_run(tmp_path_factory.getbasetemp())


def predictor(run, name):
    skip_unless(tfjs_node.unavailable())
    directory = run / "artifacts" / name
    return tfjs_node.load(directory, read_contract(directory))


@pytest.mark.parametrize("name", ["tfjs-float32", "tfjs-flat-logits"])
def test_node_matches_keras_on_float32_artifacts(tiny_web_run, name):
    run, models = tiny_web_run
    kind, _, output_kind = TINY_ARTIFACTS[name]
    images = sample_images(48)
    node = predictor(run, name)
    probabilities = node.predict(images)
    reference = keras_probabilities(models[kind], images, output_kind)
    assert node.last_run["backend"] == "wasm"
    assert probabilities.shape == (48, 10) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert np.abs(probabilities - reference).max() <= 1e-5


@pytest.mark.parametrize(("name", "bound"), [("tfjs-float16", 1e-3), ("tfjs-uint8", 3e-2)])
def test_node_dequantizes_quantized_weights(tiny_web_run, name, bound):
    """Quantized weights differ from Keras by design, by about their rounding: float16 (11 bits) far less than
    uint8 (256 levels per tensor). Weights read wrongly (scale, offset, byte order) would be off by far more."""
    run, models = tiny_web_run
    images = sample_images(32, seed=1)
    probabilities = predictor(run, name).predict(images)
    difference = np.abs(probabilities - keras_probabilities(models["cnn"], images, "probabilities")).max()
    assert 0 < difference <= bound


def test_node_runner_error_is_one_line(tiny_web_run, tmp_path):
    run, _ = tiny_web_run
    node = predictor(run, "tfjs-float32")
    (tmp_path / "model.json").write_text("{not json")
    (tmp_path / "contract.json").write_text((run / "artifacts/tfjs-float32/contract.json").read_text())
    broken = tfjs_node.load(tmp_path, node.artifact)
    with pytest.raises(StepError, match=r"^tfjs-node-wasm: tfjs-float32 failed: evaluate\.mjs: .*JSON"):
        broken.predict(sample_images(2))


def test_unavailable_names_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert tfjs_node.unavailable() == "Node.js not found on PATH"
    monkeypatch.undo()
    if tfjs_node.node_executable() is None:
        pytest.skip("Node.js not found on PATH")
    (tmp_path / "site").mkdir()
    (tmp_path / "package-lock.json").write_text("{}")
    monkeypatch.setattr(web_assets, "CHECKOUT", tmp_path)  # a checkout without node_modules
    assert tfjs_node.unavailable() == "web_demo packages missing: run `npm ci --prefix web_demo`"


def test_a_relative_artifact_path_works_from_any_directory(tiny_web_run, monkeypatch):
    run, models = tiny_web_run
    monkeypatch.chdir(run.parent)
    relative = run.relative_to(run.parent) / "artifacts" / "tfjs-float32"
    images = sample_images(4, seed=3)
    probabilities = predictor(relative.parent.parent, "tfjs-float32").predict(images)
    assert np.abs(probabilities - keras_probabilities(models["cnn"], images, "probabilities")).max() <= 1e-5


def test_node_runs_a_v2_graph_model_of_colour_pictures(tmp_path_factory, tmp_path):
    """Contract v2: a graph model (tf.loadGraphModel), 32x32x3 mean/std inputs, three named classes as logits."""
    skip_unless(tfjs_node.unavailable())
    run, model = build_graph_run(tmp_path_factory.getbasetemp())
    inputs = graph_model_values(np.random.default_rng(4).random((12, 32, 32)))
    outputs, summary = run_node_runner(run / "artifacts" / GRAPH_ARTIFACT, inputs, tmp_path)
    assert summary["model_type"] == "graph-model" and summary["outputs_per_image"] == len(GRAPH_LABELS)
    reference = model.predict(inputs, verbose=0)
    assert outputs.shape == reference.shape == (12, 3)
    assert np.abs(outputs - reference).max() <= 1e-4


def test_node_runs_a_layers_model_on_flat_inputs(tiny_web_run, tmp_path):
    """A TF.js layers model (edgekit exports graph models; users bring layers models too): its flat (784,) input is
    fed as is."""
    run, models = tiny_web_run
    images = sample_images(5, seed=6)
    outputs, summary = run_node_runner(run / "artifacts" / "tfjs-flat-logits", images.reshape(5, -1), tmp_path)
    assert summary["model_type"] == "layers-model"
    # Raw logits of magnitude ~80 summed over 784 inputs: wasm and TensorFlow accumulate in other orders, so float32
    # rounding leaves a relative difference of ~1e-5 (seen 8e-6).
    np.testing.assert_allclose(outputs, models["flat"].predict(images.reshape(5, -1), verbose=0), rtol=3e-5, atol=1e-5)


def test_one_node_process_evaluates_many_artifacts_and_a_broken_one_fails_alone(tiny_web_run, tmp_path):
    """The gate hands every TF.js artifact to one Node process; each gets its own outputs or its own error."""
    run, models = tiny_web_run
    images = sample_images(24)
    names = ["tfjs-float32", "tfjs-flat-logits", "tfjs-uint8"]
    predictors = [predictor(run, name) for name in names]
    (tmp_path / "model.json").write_text("{not json")
    (tmp_path / "contract.json").write_text((run / "artifacts/tfjs-float32/contract.json").read_text())
    broken = tfjs_node.load(tmp_path, predictors[0].artifact)
    results = tfjs_node.RUNTIME.predict_many([predictors[0], broken, *predictors[1:]], images)
    assert isinstance(results[1], StepError) and "JSON" in str(results[1])
    for name, result in zip(names, [results[0], *results[2:]], strict=True):
        kind, _, output_kind = TINY_ARTIFACTS[name]
        # Each result is its own model's: the flat-logits model differs from the CNNs.
        np.testing.assert_allclose(result, keras_probabilities(models[kind], images, output_kind), atol=2e-2)


def test_a_contract_whose_picture_does_not_fit_fails_only_its_own_artifact(tiny_web_run):
    """N17: a TF.js contract claiming another picture (here 56x56, within the contract limits) cannot be fed the
    test images; in the Node process shared by every TF.js artifact, it fails alone, the others are evaluated."""
    run, models = tiny_web_run
    images = sample_images(16, seed=3)
    names = ["tfjs-float32", "tfjs-flat-logits", "tfjs-uint8"]
    predictors = [predictor(run, name) for name in names]
    artifact = predictors[0].artifact
    wrong = dataclasses.replace(artifact.classifier, image=ImageSpec(56, 56, 1))
    bad = tfjs_node.load(run / "artifacts" / "tfjs-float32", dataclasses.replace(artifact, classifier=wrong))
    results = tfjs_node.RUNTIME.predict_many([predictors[0], bad, *predictors[1:]], images)
    assert isinstance(results[1], ValueError) and "56x56x1" in str(results[1])
    for name, result in zip(names, [results[0], *results[2:]], strict=True):
        kind, _, output_kind = TINY_ARTIFACTS[name]
        np.testing.assert_allclose(result, keras_probabilities(models[kind], images, output_kind), atol=2e-2)
