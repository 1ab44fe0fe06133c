"""The default recipe's parts: cnn3-bn, the one-cycle schedule, label smoothing, and the accuracy-per-minute
benchmark's time-to-target logic."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from toolkit.config import TrainConfig
from toolkit.modeling.training import learning_rate_at


def _benchmark():
    path = Path(__file__).parents[1] / "benchmarks" / "accuracy_per_minute.py"
    spec = importlib.util.spec_from_file_location("accuracy_per_minute", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.unit
def test_one_cycle_rises_to_the_peak_then_anneals():
    config = TrainConfig(lr_schedule="one-cycle", learning_rate=4e-3, epochs=8)
    curve = [learning_rate_at(config, 8 * i / 400) for i in range(401)]
    assert curve[0] == pytest.approx(4e-3 / 25)
    assert max(curve) == pytest.approx(4e-3) and curve[100] == pytest.approx(4e-3)  # peak at 25 % of the steps
    assert np.all(np.diff(curve[:101]) > 0) and np.all(np.diff(curve[100:]) < 0)
    assert curve[-1] == pytest.approx(4e-3 / 1e4)
    # the other schedules are unchanged: per epoch
    assert learning_rate_at(TrainConfig(lr_schedule="exponential", lr_decay=0.5), 2) == pytest.approx(0.75e-3)
    assert learning_rate_at(TrainConfig(lr_schedule="cosine", epochs=4), 2) == pytest.approx(1.5e-3)


def test_one_cycle_changes_the_rate_every_batch_and_label_smoothing_reaches_both_losses(tmp_path):
    from tests.support import synthetic_digits
    from toolkit.config import QATConfig
    from toolkit.data.datasets import Dataset
    from toolkit.modeling.qat import quantize_and_finetune
    from toolkit.modeling.training import train_model

    x, y = synthetic_digits(200, seed=0)
    data = Dataset(x, y, x[:20], y[:20], "synthetic")
    config = TrainConfig(
        architecture="cnn3-bn",
        epochs=2,
        batch_size=32,
        validation_size=40,
        learning_rate=2e-3,
        lr_schedule="one-cycle",
        label_smoothing=0.2,
    )
    model, history = train_model(data, config, tmp_path / "train")
    steps = 160 // 32
    # The rate logged at the end of each epoch is the one its last batch used, not the epoch's start value.
    for epoch, rate in enumerate(history["lr"]):
        assert rate == pytest.approx(learning_rate_at(config, epoch + (steps - 1) / steps), rel=1e-5)
    assert model.loss.get_config()["label_smoothing"] == pytest.approx(0.2)
    qat_model, _ = quantize_and_finetune(model, data, QATConfig(epochs=1, label_smoothing=0.3), 40, seed=0)
    assert qat_model.loss.get_config()["label_smoothing"] == pytest.approx(0.3)


def test_finish_epochs_follow_the_schedule_on_plain_images_at_their_own_rate(tmp_path):
    from tests.support import synthetic_digits
    from toolkit.data.datasets import Dataset
    from toolkit.modeling.training import train_model

    x, y = synthetic_digits(200, seed=0)
    data = Dataset(x, y, x[:20], y[:20], "synthetic")
    config = TrainConfig(epochs=2, batch_size=32, validation_size=40, finish_epochs=1, finish_learning_rate=3e-5)
    model, history = train_model(data, config, tmp_path / "train", tensorboard=tmp_path / "logs")
    assert len(history["loss"]) == len(history["val_accuracy"]) == 3  # two scheduled epochs, then the finish
    assert history["lr"][-1] == pytest.approx(3e-5, rel=1e-5)  # constant, not the schedule's
    assert history["lr"][1] == pytest.approx(learning_rate_at(config, 1 + 4 / 5), rel=1e-5)
    assert (tmp_path / "logs" / "finish").is_dir()


@pytest.mark.parametrize(
    "architecture, filters",
    [("cnn3-bn", [32, 64, 128]), ("cnn3-bn-slim", [24, 48, 96]), ("cnn3-bn-wide", [48, 96, 192])],
)
def test_cnn3_bn_quantizes_to_integer_ops_only(tmp_path, architecture, filters):
    import tensorflow_model_optimization as tfmot
    import tf_keras as keras
    from ai_edge_litert.interpreter import Interpreter

    from exporters import Variant
    from exporters.tflite import _converter
    from toolkit.config import Architecture
    from toolkit.modeling.architectures import build_model
    from toolkit.modeling.qat import fold_dense_batch_norm

    model = build_model(Architecture(architecture))
    assert model.output_shape == (None, 10) and model.input_shape == (None, 28, 28, 1)
    assert [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)] == filters
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers) == 3
    qat = tfmot.quantization.keras.quantize_model(fold_dense_batch_norm(model))
    images = np.random.default_rng(0).random((8, 28, 28, 1)).astype(np.float32)
    flat = _converter(qat, Variant.INT8, images, tmp_path).convert()
    interpreter = Interpreter(model_content=flat)
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert "CONV_2D" in ops and not ops & {"DEQUANTIZE", "MUL", "ADD"}  # batch norm folded into the convolutions
    interpreter.allocate_tensors()
    assert {t["dtype"] for t in interpreter.get_tensor_details() if t["name"]} <= {np.int8, np.int32}


@pytest.mark.unit
def test_time_to_target_and_the_summary_table():
    bench = _benchmark()

    def run(recipe, accuracies, final):
        epochs = [{"seconds": 10.0 * (i + 1), "test_accuracy": a} for i, a in enumerate(accuracies)]
        return {"recipe": recipe, "epochs": epochs, "final_accuracy": final}

    assert bench.time_to_target(run("x", [98, 99.3, 99.5], 99.5)["epochs"], 99.3) == 20.0
    assert bench.time_to_target(run("x", [98, 99.29], 99.29)["epochs"], 99.3) is None
    runs = [
        run(bench.EDGEKIT, [99.0, 99.35], 99.4),
        run(bench.KERAS, [98] * 5 + [99.31], 99.31),
        run(bench.KERAS, [98] * 8 + [99.3], 99.3),
        run(bench.EDGEKIT, [99.31], 99.45),
    ]
    summary = bench.summarize(runs, 99.3)
    assert summary["recipes"][bench.EDGEKIT]["times"] == [20.0, 10.0]
    assert summary["recipes"][bench.KERAS]["median"] == 75.0
    assert summary["ratio"] == pytest.approx(15 / 75) and not summary["ratio_at_most"]
    table = bench.format_table(summary)
    assert "20 s, 10 s" in table and "99.40, 99.45" in table and "edgekit / keras: 0.20" in table

    # Keras never reaching the target: its median is a lower bound, so the ratio is an upper bound.
    runs[1] = run(bench.KERAS, [98] * 12, 98)
    summary = bench.summarize(runs, 99.3)
    assert summary["recipes"][bench.KERAS]["at_least"] and summary["recipes"][bench.KERAS]["median"] == 105.0
    assert summary["ratio_at_most"] and "not reached" in bench.format_table(summary)
    assert "<= 0.14" in bench.format_table(summary)
    # edgekit never reaching it: no ratio
    assert bench.summarize([run(bench.EDGEKIT, [98], 98), runs[2]], 99.3)["ratio"] is None


def test_an_ensemble_of_cnn3_bn_quantizes_to_integer_ops_only(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    from exporters import Variant
    from exporters.tflite import _converter
    from toolkit.config import Architecture
    from toolkit.modeling.architectures import build_model
    from toolkit.modeling.ensemble import combine
    from toolkit.modeling.qat import quantize_ensemble

    combined = combine([build_model(Architecture.CNN3_BN), build_model(Architecture.CNN3_BN)], (28, 28, 1))
    images = np.random.default_rng(0).random((8, 28, 28, 1)).astype(np.float32)
    interpreter = Interpreter(
        model_content=_converter(quantize_ensemble(combined), Variant.INT8, images, tmp_path).convert()
    )
    ops = [op["op_name"] for op in interpreter._get_ops_details()]
    assert ops.count("CONV_2D") == 6 and "DEQUANTIZE" not in ops


@pytest.mark.unit
def test_cnn3_bn_refuses_images_too_small_for_it():
    from exporters.base import ImageSpec
    from toolkit.config import Architecture
    from toolkit.errors import InputError
    from toolkit.modeling.architectures import build_model

    with pytest.raises(InputError, match="at least 18x18 pixels, not 16x20: use --arch cnn"):
        build_model(Architecture.CNN3_BN, image=ImageSpec(16, 20, 1))
