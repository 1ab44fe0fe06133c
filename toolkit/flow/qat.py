"""`qat`: a quantization-aware copy of the run's float model, fine-tuned on the run's data; both are kept."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from toolkit.config import Config, validation_size
from toolkit.data.datasets import Dataset
from toolkit.data.run_data import load_run_data
from toolkit.gate.stats import accuracy
from toolkit.modeling.keras_files import load_run_model
from toolkit.run import Run

log = logging.getLogger("edgekit")


def held_out(run: Run, config: Config, data: Dataset) -> int:
    """The training step's hold-out, so fine-tuning never trains on it; for an imported model, at most 10 % of
    the data (a user's data set may be smaller than the default hold-out)."""
    recorded = run.step_settings("train").get("validation_size")
    if recorded:
        return recorded
    n = len(data.x_train)
    return min(validation_size(config.train, n), n // 10 or 1)


def qat(run_dir: Path, config: Config) -> Run:
    """Fine-tune a quantization-aware copy of the run's float model; both are kept."""
    from toolkit.modeling.qat import quantize_and_finetune
    from toolkit.runtimes.keras import KerasPredictor

    run = Run.open(run_dir)
    run.require_finished("train", "import")
    data = load_run_data(run)
    float_model = load_run_model(run, "float")
    run.start("qat")
    log.info("quantization-aware fine-tuning: %d epoch(s)", config.qat.epochs)
    start = time.perf_counter()
    model, history = quantize_and_finetune(
        float_model,
        data,
        config.qat,
        held_out(run, config, data),
        run.recorded_seed(config.train.seed),
        run.classifier,
        tensorboard=run.tensorboard_dir("qat"),
    )
    run.save_model(model, "qat")
    test_accuracy = accuracy(KerasPredictor(model, run.classifier).predict(data.x_test), data.y_test)
    run.record(
        "qat",
        {
            "config": config.to_dict()["qat"],
            "seconds": round(time.perf_counter() - start, 1),
            "test_accuracy": round(test_accuracy, 4),
            "history": history,
        },
    )
    log.info("QAT model: %.2f%% test accuracy", test_accuracy)
    return run
