"""The gate's calibration set: faithful conversions that must pass and broken artifacts that must fail.

Faithful: small models trained briefly on real MNIST subsets (about 60 % to 99 %) and a 3-channel model on
synthetic colour bars (100 %), converted as the exporters make them (TFLite float16/dynamic/int8 in LiteRT, TF.js
float16/uint8 reloaded by tensorflowjs). Broken: the same conversions with one thing wrong. Every case is judged by
the default verdict (ParityConfig()) and, for comparison, by the rule it replaced (fixed tolerance and agreement).

`uv run python tests/calibration_set.py` prints the table in docs/verdict.md; tests/test_gate_calibration.py asserts it.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import toolkit  # noqa: E402, F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from exporters import Variant  # noqa: E402
from exporters.base import CONTRACT_FILE, read_contract  # noqa: E402
from toolkit.config import ParityConfig  # noqa: E402
from toolkit.gate.parity import ParityResult, check_parity  # noqa: E402
from toolkit.run import Run  # noqa: E402

# The rule before issue 9: a fixed accuracy tolerance and a fixed agreement floor (percent, points).
OLD_TOLERANCES = {"float32": 0.02, "float16": 0.05, "dynamic": 0.2, "uint8": 0.2, "int8": 0.3}
OLD_MIN_AGREEMENT = {"float32": 99.9, "float16": 99.8, "dynamic": 99.0, "uint8": 99.0, "int8": 99.0}


@dataclasses.dataclass
class Case:
    model: str
    artifact: str
    faithful: bool  # must pass
    result: ParityResult

    @property
    def old_rule_passes(self) -> bool | None:
        """None where the old rule cannot be replayed: it never compared files with their contract."""
        r = self.result
        if r.error:
            return None
        return -r.accuracy_delta <= OLD_TOLERANCES[r.variant] and r.agreement >= OLD_MIN_AGREEMENT[r.variant]


def _keras():
    import tf_keras as keras

    return keras


def _dense(hidden: int, logits: bool):
    keras = _keras()
    return keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(10, activation=None if logits else "softmax"),
        ]
    )


def _cnn():
    keras = _keras()
    return keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Reshape((28, 28, 1)),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


def _fit(model, x, y, epochs: int, logits: bool, batch_size: int = 32):
    keras = _keras()
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=logits))
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)
    return model


def mnist_models(data) -> dict[str, tuple[object, str]]:
    """name -> (model, output kind): accuracy rising with the training images seen, from about 60 % to 99 %."""
    keras = _keras()
    keras.utils.set_random_seed(0)
    x, y = data.x_train / 255.0, data.y_train
    models = {}
    for count, hidden, epochs, logits in ((24, 16, 40, True), (80, 16, 30, True), (300, 32, 20, False)):
        models[f"dense-{count}"] = (
            _fit(_dense(hidden, logits), x[:count], y[:count], epochs, logits),
            "logits" if logits else "probabilities",
        )
    models["dense-2k"] = (_fit(_dense(32, True), x[:2000], y[:2000], 10, True), "logits")
    models["dense-60k"] = (_fit(_dense(64, False), x, y, 1, False, 128), "probabilities")
    models["cnn-60k"] = (_fit(_cnn(), x, y, 3, False, 128), "probabilities")
    return models


def colour_bars(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """3-channel images: class = bar row (5) x colour (red or blue), so swapping R and B changes the class."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    images = rng.uniform(0, 0.25, (count, 28, 28, 3)).astype(np.float32)
    for image, label in zip(images, labels, strict=True):
        row, channel = 3 + 5 * (label % 5), 0 if label < 5 else 2
        image[row : row + 3, 4:24, channel] = 0.9
    return images, labels


def colour_model():
    keras = _keras()
    keras.utils.set_random_seed(1)
    x, y = colour_bars(2000, 1)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 3)),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    return _fit(model, x, y, 4, False)


def _classifier(kind: str, channels: int = 1):
    """MNIST's contract (28x28, [0, 1], digits) with the model's output kind; 3 channels for the colour model."""
    from exporters.base import MNIST, ImageSpec

    return dataclasses.replace(MNIST, image=ImageSpec(28, 28, channels), output_kind=kind)


def _export(model, root: Path, name: str, kind: str, fmt: str, variant: Variant, representative=None, channels=1):
    from exporters import tfjs, tflite

    dest = root / "artifacts" / name
    classifier = _classifier(kind, channels)
    if fmt == "tflite":
        options = {"representative": representative} if variant is Variant.INT8 else {}
        where = dict(name=name, source="float", run_dir=root, classifier=classifier)
        return tflite.export(model, dest, variant, **where, **options)
    return tfjs.export(model, dest, variant, name=name, source="float", run_dir=root, classifier=classifier)


def _runtime(fmt: str) -> str:
    return "litert" if fmt == "tflite" else "tfjs-node-wasm"


def _judge(root: Path, artifact, images, labels, reference, config: ParityConfig) -> ParityResult:
    runtime = _runtime(artifact.format.value)
    config = config.model_copy(update={"runtimes": [runtime]})
    run = Run(root, {"steps": {}, "classifier": artifact.classifier.to_dict()})  # the run this artifact belongs to
    outcome = check_parity(run, [artifact], images, labels, {"float": reference}, config)
    return outcome.results[0]


def _edit_contract(directory: Path, change) -> None:
    contract = json.loads((directory / CONTRACT_FILE).read_text())
    change(contract)
    (directory / CONTRACT_FILE).write_text(json.dumps(contract))


def _perturbed(model, relative: float, seed: int):
    """A copy whose every weight got Gaussian noise of `relative` times that tensor's standard deviation."""
    keras = _keras()
    rng = np.random.default_rng(seed)
    copy = keras.models.clone_model(model)
    copy.set_weights([w + rng.normal(0, relative * (w.std() or 1.0), w.shape) for w in model.get_weights()])
    return copy


def _labels_swapped(model, a: int, b: int):
    """A copy whose output positions a and b are exchanged (the label order the contract promises is wrong)."""
    keras = _keras()
    copy = keras.models.clone_model(model)
    weights = model.get_weights()
    kernel, bias = weights[-2].copy(), weights[-1].copy()
    kernel[:, [a, b]], bias[[a, b]] = kernel[:, [b, a]], bias[[b, a]]
    copy.set_weights([*weights[:-2], kernel, bias])
    return copy


def _channels_swapped(model):
    """A copy that reads its input as BGR: the first convolution's kernel reversed over the input channels."""
    keras = _keras()
    copy = keras.models.clone_model(model)
    weights = model.get_weights()
    copy.set_weights([weights[0][:, :, ::-1, :], *weights[1:]])
    return copy


def _broken(model, kind: str, other, where: Path, faithful: Path, representative: np.ndarray):
    """The broken artifacts of one model, made under `where` (`faithful` holds its faithful artifacts)."""

    def export(name, variant, source_model=model, calibration=representative):
        return _export(source_model, where, name, kind, "tflite", variant, calibration)

    def edited(name, change):
        artifact = export(name, Variant.INT8)
        _edit_contract(where / artifact.path, change)
        return read_contract(where / artifact.path)

    for relative in (0.1, 0.3):
        yield export(f"perturbed-{relative}-float16", Variant.FLOAT16, _perturbed(model, relative, 0))
    yield edited("int8-input-scale-x2", lambda c: c["input"].update(scale=c["input"]["scale"] * 2))
    # Softmax ignores a constant shift of logits, so a logits model's wrong output zero-point is harmless;
    # its output scale is not (it sharpens every distribution).
    if kind == "logits":
        yield edited("int8-output-scale-x2", lambda c: c["output"].update(scale=c["output"]["scale"] * 2))
    else:
        yield edited("int8-output-zero-point", lambda c: c["output"].update(zero_point=-100))
    yield export("int8-blank-calibration", Variant.INT8, calibration=np.zeros_like(representative))
    yield export("labels-3-5-swapped-float16", Variant.FLOAT16, _labels_swapped(model, 3, 5))
    # Swapped files: the int8 directory holds the float16 file, contract untouched; then a correctly signed
    # artifact of another model (a careful forger), which only the verdict on outputs can catch.
    int8 = export("int8-holds-float16-file", Variant.INT8)
    shutil.copyfile(faithful / "artifacts" / "tflite-float16" / "model.tflite", where / int8.path / "model.tflite")
    yield int8
    yield export("float16-of-another-model", Variant.FLOAT16, other)


FAITHFUL = [
    ("tflite", Variant.FLOAT32),
    ("tflite", Variant.FLOAT16),
    ("tflite", Variant.DYNAMIC),
    ("tflite", Variant.INT8),
    ("tfjs", Variant.FLOAT16),
    ("tfjs", Variant.UINT8),
]


def build(root: Path, config: ParityConfig | None = None, progress=lambda _: None) -> list[Case]:
    """Train, convert, break and judge every case under `root` (a scratch directory). Takes a few minutes."""
    from toolkit.data.datasets import load_data
    from toolkit.pixels.tensors import float_input
    from toolkit.runtimes.keras import KerasPredictor

    config = config or ParityConfig()
    data = load_data()
    images, labels = data.x_test, data.y_test.astype(np.int64)  # pixels: every predictor normalizes them
    representative = float_input(
        data.x_train[np.random.default_rng(0).choice(60000, 500, replace=False)], data.classifier(), (28, 28)
    )
    cases: list[Case] = []

    def add(model_name, artifact, images_, labels_, reference, faithful, result_root):
        result = _judge(result_root, artifact, images_, labels_, reference, config)
        cases.append(Case(model_name, artifact.name, faithful, result))
        progress(f"{model_name:<10} {artifact.name:<24} {'pass' if result.passed else 'FAIL'} {result.breach()}")

    models = mnist_models(data)
    for model_name, (model, kind) in models.items():
        reference = KerasPredictor(model, _classifier(kind)).predict(images)
        for fmt, variant in FAITHFUL:
            artifact = _export(model, root / model_name, f"{fmt}-{variant.value}", kind, fmt, variant, representative)
            add(model_name, artifact, images, labels, reference, True, root / model_name)

    colour = colour_model()
    colour_values, colour_labels = colour_bars(4000, 2)  # 2,000 images cannot show a 0.27-point drop: INCONCLUSIVE
    colour_images = colour_values * 255  # as pixels (float: the predictors take resampled pictures too)
    colour_reference = KerasPredictor(colour, _classifier("probabilities", 3)).predict(colour_images)
    colour_representative = colour_bars(200, 3)[0]
    for fmt, variant in FAITHFUL:
        artifact = _export(
            colour, root / "colour", f"{fmt}-{variant.value}", "probabilities", fmt, variant, colour_representative, 3
        )
        add("colour", artifact, colour_images, colour_labels, colour_reference, True, root / "colour")

    # Broken artifacts, each made from a faithful one's model or files.
    for model_name in ("dense-80", "cnn-60k"):
        model, kind = models[model_name]
        reference = KerasPredictor(model, _classifier(kind)).predict(images)
        where = root / "broken" / model_name
        other = models["dense-300" if model_name == "cnn-60k" else "dense-2k"][0]
        for artifact in _broken(model, kind, other, where, root / model_name, representative):
            add(model_name, artifact, images, labels, reference, False, where)

    where = root / "broken" / "colour"
    swapped = _export(
        _channels_swapped(colour), where, "bgr-float16", "probabilities", "tflite", Variant.FLOAT16, channels=3
    )
    add("colour", swapped, colour_images, colour_labels, colour_reference, False, where)
    return cases


def table(cases: list[Case]) -> str:
    """The README's calibration table (markdown)."""
    lines = [
        "| model | artifact | must | ref % | delta (pts) | 95% CI | only ref / only art | McNemar p (drop) "
        "| agreement % | prob err mean | verdict | old rule |",
        "|---|---|---|---:|---:|---|---|---:|---:|---:|---|---|",
    ]
    for c in cases:
        r = c.result
        verdict = "pass" if r.passed else "FAIL"
        old = {True: "pass", False: "FAIL", None: "(no file check)"}[c.old_rule_passes]
        if r.error:
            lines.append(
                f"| {c.model} | {c.artifact} | {'pass' if c.faithful else 'fail'} | | | | | | | | {verdict} "
                f"({r.runtime}: {r.error[:48]}...) | {old} |"
            )
            continue
        lines.append(
            f"| {c.model} | {c.artifact} | {'pass' if c.faithful else 'fail'} | {r.reference_accuracy:.2f} "
            f"| {r.accuracy_delta:+.2f} | [{r.delta_ci95[0]:.2f}, {r.delta_ci95[1]:.2f}] "
            f"| {r.only_reference_right} / {r.only_artifact_right} | {r.mcnemar_p_drop:.2g} | {r.agreement:.2f} "
            f"| {r.mean_abs_prob_delta:.4f} | {verdict} | {old} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as scratch:
        found = build(Path(scratch), progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(table(found))
    if len(sys.argv) > 1:  # keep the figures to study other thresholds without retraining
        Path(sys.argv[1]).write_text(json.dumps([dataclasses.asdict(c) for c in found], indent=1))
    wrong = [c for c in found if c.result.passed != c.faithful]
    old_wrong = [c for c in found if c.old_rule_passes is not None and c.old_rule_passes != c.faithful]
    print(f"\ndefault rule: {len(wrong)} wrong verdicts of {len(found)}; old rule: {len(old_wrong)} wrong")
    for c in found:
        if not c.result.passed and c.faithful:
            print(f"FALSE FAIL {c.model} {c.artifact}: {c.result.breach()}")
        if c.result.passed and not c.faithful:
            print(f"FALSE PASS {c.model} {c.artifact}")
