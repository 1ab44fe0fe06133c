"""Pixels artifacts (issue 23): batch-1 .tflite files that take RGB pixels 0..255 and return probabilities, with the
model's gray conversion, normalization and softmax inside, gated in LiteRT like every other artifact."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from exporters.base import (
    Artifact,
    Classifier,
    FieldError,
    Format,
    ImageSpec,
    Normalization,
    PixelsInput,
    Variant,
    pixels_classifier,
    pixels_input,
)

GRAY_LOGITS = Classifier(ImageSpec(8, 8, 1), Normalization.declare("symmetric"), "logits", ("a", "b", "c"))
RGB_MEAN_STD = Classifier(
    ImageSpec(6, 6, 3),
    Normalization.declare("mean_std", [0.49, 0.48, 0.45], [0.25, 0.24, 0.26]),
    "probabilities",
    ("x", "y"),
)


def small_model(classifier: Classifier, seed: int):
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    image = classifier.image
    inputs = keras.Input(image.shape)
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.Flatten()(x)
    activation = "softmax" if classifier.output_kind == "probabilities" else None
    return keras.Model(inputs, keras.layers.Dense(len(classifier.labels), activation=activation)(x))


def pictures(classifier: Classifier, count: int, seed: int) -> np.ndarray:
    image = classifier.image
    return np.random.default_rng(seed).integers(0, 256, (count, *image.shape), dtype=np.uint8)


@pytest.mark.parametrize("classifier", [GRAY_LOGITS, RGB_MEAN_STD], ids=["gray-logits", "rgb-mean-std"])
def test_pixels_artifacts_take_rgb_pixels_and_return_the_models_probabilities(tmp_path: Path, classifier):
    from ai_edge_litert.interpreter import Interpreter

    from exporters import tflite
    from toolkit.runtimes import litert
    from toolkit.runtimes.keras import KerasPredictor

    model = small_model(classifier, 1)
    images = pictures(classifier, 300, 2)
    reference = KerasPredictor(model, classifier).predict(images)
    calibration = np.repeat(images.astype(np.float32), 3 // classifier.image.channels, axis=-1)
    for variant in (Variant.FLOAT32, Variant.INT8):
        dest = tmp_path / variant.value
        artifact = tflite.export_pixels(
            model, dest, variant, name="p", source="float", run_dir=tmp_path, classifier=classifier,
            calibration=calibration,
        )  # fmt: skip
        assert artifact.classifier == pixels_classifier(classifier) and artifact.pixels == pixels_input(classifier)
        interpreter = Interpreter(model_path=str(dest / "model.tflite"))
        detail = interpreter.get_input_details()[0]
        assert list(detail["shape_signature"]) == [1, *classifier.image.shape[:2], 3]
        assert interpreter.get_signature_list() == {
            "serving_default": {"inputs": ["image"], "outputs": ["probabilities"]}
        }
        # The gate's own runtime, given the run's pictures (gray ones as R = G = B), runs the batch-1 file.
        got = litert.load(dest, artifact).predict(images)
        top1 = float(np.mean(got.argmax(1) == reference.argmax(1)))
        if variant is Variant.FLOAT32:
            assert detail["dtype"] == np.float32 and np.abs(got - reference).max() < 1e-5
        else:  # uint8 in, uint8 out: the input is the pixel itself, and the output dequantizes to probabilities
            assert detail["dtype"] == np.uint8 and detail["quantization"] == (1.0, 0)
            assert np.abs(got - reference).max() < 0.1 and top1 > 0.9


def test_gray_weights_give_back_every_gray_level_in_int8(tmp_path: Path):
    """R = G = B = p reaches a one-channel model as p: exactly in int8 for every level 0..255."""
    import tf_keras as keras
    from ai_edge_litert.interpreter import Interpreter

    from exporters import tflite

    classifier = Classifier(ImageSpec(16, 16, 1), Normalization.declare("raw"), "probabilities", ("low", "high"))
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Flatten()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    wrapper = tflite.pixels_wrapper(model, classifier)
    gray = keras.Model(wrapper.input, wrapper.get_layer("rgb_to_gray").output)
    levels = np.repeat(np.arange(256, dtype=np.float32).reshape(1, 16, 16, 1), 3, axis=-1)
    # float32: within one ulp (these weights are chosen for int8, where they are exact)
    assert np.abs(gray.predict(levels, verbose=0)[..., 0] - levels[..., 0]).max() <= 255 * 2**-23
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(gray)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter([[levels], [np.zeros_like(levels)]])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.uint8
    interpreter = Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], levels.astype(np.uint8))
    interpreter.invoke()
    out = interpreter.get_output_details()[0]
    scale, zero_point = out["quantization"]
    values = (interpreter.get_tensor(out["index"]).astype(np.float64) - zero_point) * scale
    assert np.array_equal(np.round(values[..., 0]), levels[..., 0])


@pytest.mark.unit
def test_contract_keeps_the_pixels_block_and_checks_it():
    steps = pixels_input(GRAY_LOGITS)
    assert steps.softmax_appended and steps.gray_weights is not None and len(steps.gray_weights) == 3
    assert pixels_input(RGB_MEAN_STD) == PixelsInput(1, None, False)
    contract = {
        "edgekit_contract": 2, "name": "tflite-pixels-float32", "format": "tflite", "variant": "float32",
        "source": "float", "path": "artifacts/tflite-pixels-float32", "main_file": "model.tflite",
        "input": {"shape": [8, 8, 3], "dtype": "float32"}, "output": {"shape": [3], "dtype": "float32"},
        **pixels_classifier(GRAY_LOGITS).to_dict(),
        "files": {"model.tflite": {"sha256": "0" * 64, "size_bytes": 1}},
        "pixels": steps.to_dict(),
    }  # fmt: skip
    artifact = Artifact.from_contract(json.loads(json.dumps(contract)))
    assert artifact.pixels == steps and artifact.to_contract()["pixels"] == steps.to_dict()
    assert artifact.classifier.normalization.kind == "raw" and artifact.output_kind == "probabilities"
    for bad, field in (({"batch": 4}, "pixels.batch"), ({"gray_weights": [1.0]}, "pixels.gray_weights")):
        with pytest.raises(FieldError, match=field):
            Artifact.from_contract({**contract, "pixels": {**steps.to_dict(), **bad}})


def test_the_tiny_run_gates_its_pixels_artifacts_in_litert(tiny_run: Path):
    report = json.loads((tiny_run / "report.json").read_text())
    entries = {(a["name"], a["runtime"]): a for a in report["artifacts"]}
    for name, dtype in (("tflite-pixels-float32", "float32"), ("tflite-pixels-uint8", "uint8")):
        assert entries[(name, "litert")]["passed"], entries[(name, "litert")]
        contract = json.loads((tiny_run / "artifacts" / name / "contract.json").read_text())
        assert contract["input"]["dtype"] == dtype and contract["image"]["channels"] == 3
        assert contract["pixels"]["gray_weights"] is not None


def test_a_pixels_contract_that_lies_about_its_steps_fails_the_gate(tiny_run_copy: Path):
    from test_gate_integrity import gate, strict_report

    path = tiny_run_copy / "artifacts" / "tflite-pixels-float32" / "contract.json"
    contract = json.loads(path.read_text())
    contract["pixels"]["gray_weights"] = [1 / 3, 1 / 3, 1 / 3]
    path.write_text(json.dumps(contract))
    gate(tiny_run_copy)
    entries = [a for a in strict_report(tiny_run_copy)["artifacts"] if a["name"] == "tflite-pixels-float32"]
    files = next(a for a in entries if a["runtime"] == "files")
    assert not files["passed"] and "in-graph steps" in files["error"]
    assert not any(a["runtime"] == "litert" for a in entries)  # never evaluated


def mediapipe_env_or_skip():
    from toolkit.errors import InputError
    from toolkit.web import mediapipe_env

    try:
        mediapipe_env.locate()
    except InputError as error:
        pytest.skip(f"MediaPipe's environment cannot be made here: {error}")
    return mediapipe_env


def test_every_tflite_carries_metadata_that_agrees_with_its_contract(tiny_run: Path):
    """Contract and embedded TFLite Metadata say the same: normalization (mean = -offset/scale, std = 1/scale),
    color space, output kind, labels; and the file keeps its named serving signature."""
    env = mediapipe_env_or_skip()
    from toolkit.run import Run

    tflite = Run.open(tiny_run).artifacts(Format.TFLITE)
    assert {a.name for a in tflite} >= {"tflite-float32", "tflite-int8-ptq", "tflite-pixels-uint8"}
    for artifact in tflite:
        metadata = env.read_metadata(tiny_run / "artifacts" / artifact.name / artifact.main_file)
        norm, image = artifact.classifier.normalization, artifact.classifier.image
        assert metadata["mean"] == pytest.approx([-o / s for s, o in zip(norm.scale, norm.offset, strict=True)])
        assert metadata["std"] == pytest.approx([1 / s for s in norm.scale])
        assert metadata["color_space"] == ("RGB" if image.channels == 3 else "GRAYSCALE")
        assert metadata["labels"] == list(artifact.classifier.labels)
        assert metadata["output_name"] == {"probabilities": "probability", "logits": "logits"}[artifact.output_kind]
        assert metadata["name"].endswith(artifact.name) and metadata["author"].startswith("edgekit")
        assert metadata["version"] and "serving_default" in metadata["signatures"]


def test_mediapipe_gives_litert_scores_on_the_pixels_artifacts(tiny_run_copy: Path):
    """The mediapipe runtime (PNG files decoded and classified by MediaPipe Tasks) returns the scores LiteRT computes
    on the same file; named with -r, the gate adds its evaluations of the pixels artifacts, and only those."""
    mediapipe_env_or_skip()
    from toolkit.config import Config, ParityConfig
    from toolkit.data.run_data import load_run_data
    from toolkit.flow.validate import validate
    from toolkit.run import Run
    from toolkit.runtimes import litert, mediapipe_tasks

    run = Run.open(tiny_run_copy)
    images = load_run_data(run).x_test[:200]
    for name in ("tflite-pixels-float32", "tflite-pixels-uint8"):
        artifact = run.artifact(name)
        expected = litert.load(run.artifact_dir(artifact), artifact).predict(images)
        got = mediapipe_tasks.load(run.artifact_dir(artifact), artifact).predict(images)
        assert got.shape == expected.shape and np.abs(got - expected).max() <= 1e-6, name
    before = json.loads((tiny_run_copy / "report.json").read_text())
    assert not any(a["runtime"] == "mediapipe" for a in before["artifacts"])  # not in the default gate
    config = Config()
    config.parity = ParityConfig(runtimes=["mediapipe"])
    report = validate(tiny_run_copy, config)
    entries = {(a["name"], a["runtime"]): a for a in report["artifacts"]}
    assert entries[("tflite-pixels-float32", "mediapipe")]["passed"]
    assert entries[("tflite-pixels-uint8", "mediapipe")]["passed"]
    assert entries[("tflite-pixels-uint8", "mediapipe")]["images"] == len(load_run_data(run).x_test)
    assert ("tflite-float32", "mediapipe") not in entries and ("tflite-float32", "litert") in entries


@pytest.mark.unit
def test_the_default_gate_leaves_mediapipe_and_litertjs_out_and_targets_choose_them():
    from toolkit.config import ParityConfig, load_config
    from toolkit.gate.parity import plan, unverified
    from toolkit.runtimes import RUNTIMES, chosen

    contract = {
        "edgekit_contract": 2, "name": "tflite-float32", "format": "tflite", "variant": "float32",
        "source": "float", "path": "artifacts/tflite-float32", "main_file": "model.tflite",
        "input": {"shape": [28, 28, 1], "dtype": "float32"}, "output": {"shape": [10], "dtype": "float32"},
        **Classifier().to_dict(), "files": {"model.tflite": {"sha256": "0" * 64, "size_bytes": 1}},
    }  # fmt: skip
    plain = Artifact.from_contract(contract)
    pixels = Artifact.from_contract(
        {
            **contract,
            **pixels_classifier(Classifier()).to_dict(),
            "name": "p",
            "pixels": pixels_input(Classifier()).to_dict(),
        }
    )
    evaluations, skipped = plan([plain, pixels], ParityConfig())
    named = {(a.name, r.name) for a, r in evaluations} | {(s.name, s.runtime) for s in skipped}
    assert named == {("tflite-float32", "litert"), ("p", "litert")}
    assert unverified([plain, pixels], evaluations, ParityConfig()) == []
    # Chosen like a browser target, under main's engine-backend name or the name this runtime had before.
    targets = load_config(None, {"parity": {"targets": ["mediapipe, litertjs-browser-wasm"]}}).parity.targets
    assert targets == ["mediapipe", "litertjs-chromium-wasm"]
    assert chosen(targets) - chosen(None) == {"mediapipe", "litertjs-chromium-wasm"}
    assert {"mediapipe", "litertjs-chromium-wasm"} <= chosen(["all"])
    for name in ("mediapipe", "litertjs-chromium-wasm"):
        assert RUNTIMES[name].takes(pixels) and not RUNTIMES[name].takes(plain), name


@pytest.mark.browser
def test_litertjs_in_chromium_gives_litert_outputs_on_the_pixels_artifacts(tiny_run: Path):
    """LiteRT.js (@litertjs/core, wasm, headless Chromium) opens both pixels artifacts unchanged and returns what
    the LiteRT interpreter returns for the same file."""
    from support import skip_unless

    from toolkit.data.run_data import load_run_data
    from toolkit.run import Run
    from toolkit.runtimes import litert, litertjs_browser

    skip_unless(litertjs_browser.RUNTIME.unavailable())
    run = Run.open(tiny_run)
    images = load_run_data(run).x_test[:300]
    artifacts = [run.artifact(n) for n in ("tflite-pixels-float32", "tflite-pixels-uint8")]
    predictors = [litertjs_browser.load(run.artifact_dir(a), a) for a in artifacts]
    results = litertjs_browser.RUNTIME.predict_many(predictors, images)
    for artifact, got in zip(artifacts, results, strict=True):
        assert not isinstance(got, Exception), got
        expected = litert.load(run.artifact_dir(artifact), artifact).predict(images)
        assert got.shape == expected.shape and np.abs(got - expected).max() <= 1e-6, artifact.name


@pytest.mark.corpus
def test_mediapipe_tasks_opens_a_users_rgb_models_files_and_matches_the_gate(tmp_path: Path):
    """A user's 32x32 RGB model (the corpus's residual-32, symmetric normalization, 4,000 test images): MediaPipe
    Tasks' ImageClassifier opens the float32 and the uint8 pixels files as export wrote them, with their metadata,
    and scores exactly the accuracy LiteRT scores on them; the report says which file goes where."""
    import sys

    from corpus import CORPUS, DATASETS, export_entry, write_dataset

    mediapipe_env_or_skip()
    entry = next(e for e in CORPUS if e.name == "residual-32")
    config = tmp_path / "edgekit.toml"
    config.write_text('[export]\ntfjs = false\nsaved_model = false\n[parity]\ntargets = ["mediapipe"]\n')
    entry = dataclasses.replace(entry, options=(*entry.options, "--config", str(config)))
    data = write_dataset(entry.data, tmp_path)
    done, report = export_entry(entry, tmp_path, data, [sys.executable, "-m", "toolkit"])
    assert done.returncode in (0, 1), done.stderr[-3000:]  # 1: a quantized file that lost accuracy, reported
    ran = {(a["name"], a["runtime"]): a for a in report["artifacts"]}
    for name in ("tflite-pixels-float32", "tflite-pixels-uint8"):
        tasks, interpreter = ran[(name, "mediapipe")], ran[(name, "litert")]
        assert not tasks["error"] and tasks["images"] == DATASETS[entry.data][3] >= 4000, name
        assert tasks["accuracy"] == interpreter["accuracy"], name
        assert tasks["passed"] and interpreter["passed"], name
    assert ("tflite-float32", "mediapipe") not in ran and ("tflite-float32", "litert") in ran
    html = (tmp_path / f"run-{entry.name}" / "report.html").read_text()
    assert "MediaPipe Tasks ImageClassifier" in html and "LiteRT interpreter" in html and "full-integer" in html


def test_edgekit_serve_ships_the_pixels_files_that_passed_for_the_pages_litertjs(tiny_run_copy: Path):
    """`edgekit serve` offers the page's LiteRT.js (?backend=litertjs) the pixels .tflite files whose current bytes
    passed the gate, listed apart from the TF.js models, and leaves out one whose file changed since."""
    from toolkit.run import Run
    from toolkit.serve.demo import model_index, offers

    chosen, left_out = offers(tiny_run_copy)
    assert {"tflite-pixels-float32", "tflite-pixels-uint8"} <= set(chosen) and left_out == []
    assert not {"tflite-float32", "tflite-int8-qat"} & set(chosen)  # LiteRT.js takes the pixels files only
    run = Run.open(tiny_run_copy)
    index = model_index([offer.artifact for offer in chosen.values()], run)
    assert sorted(m["name"] for m in index["litertjs"]) == ["tflite-pixels-float32", "tflite-pixels-uint8"]
    assert all(m["name"].startswith("tfjs-") for m in index["models"])
    for entry in index["litertjs"]:  # the gate ran LiteRT, not LiteRT.js: the page's badge says "not verified"
        assert entry["verdicts"].get("litert") == "passed" and "litertjs-chromium-wasm" not in entry["verdicts"]
    model = run.artifact_dir("tflite-pixels-uint8") / run.artifact("tflite-pixels-uint8").main_file
    model.write_bytes(model.read_bytes() + b"\0")
    chosen, left_out = offers(tiny_run_copy)
    assert "tflite-pixels-uint8" not in chosen and any("tflite-pixels-uint8" in line for line in left_out)
