"""Accuracy per minute: edgekit's default training recipe against the Keras "Simple MNIST convnet", side by side.

    uv run python benchmarks/accuracy_per_minute.py [--repeats 2] [--target 99.3] [--keras-epochs 15]
        [--preset NAME] [-c edgekit.toml]

Trains both recipes in one process, interleaved and repeated (the order alternates: edgekit first in odd
repetitions, Keras first in even ones). After every epoch a callback evaluates the model on the MNIST **test set**:
here the test set serves only this measurement, neither recipe sees it otherwise (edgekit validates on a hold-out
from the training set, the Keras recipe on its 10 % validation split). Training time is wall clock from the start
of fit() with that evaluation's time subtracted; each recipe's own validation counts, it is part of the recipe.
Prints per repetition the time to reach `--target` % test accuracy and the final accuracy, then the medians and
the ratio edgekit / Keras. edgekit's recipe is `toolkit.modeling.training.train_model` with the default settings (or a
preset's, then the [train] section of `-c FILE`), not a copy of it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

EDGEKIT, KERAS = "edgekit", "keras-simple-convnet"


def time_to_target(epochs: list[dict], target: float) -> float | None:
    """Training seconds at the end of the first epoch whose test accuracy reaches `target` %, or None."""
    return next((epoch["seconds"] for epoch in epochs if epoch["test_accuracy"] >= target), None)


def summarize(runs: list[dict], target: float) -> dict:
    """Per recipe: times to target per repetition and their median; the ratio of medians edgekit / Keras.

    A repetition that never reached the target counts with its whole training time as a lower bound: a median
    over such values is marked `at_least`, and the ratio becomes a bound (`at_most`) or unknown (None).
    """
    recipes = {}
    for name in (EDGEKIT, KERAS):
        mine = [run for run in runs if run["recipe"] == name]
        times = [time_to_target(run["epochs"], target) for run in mine]
        bounded = [t if t is not None else run["epochs"][-1]["seconds"] for t, run in zip(times, mine, strict=True)]
        recipes[name] = {
            "times": times,
            "median": statistics.median(bounded) if bounded else None,
            "at_least": any(t is None for t in times),
            "final_accuracy": [run["final_accuracy"] for run in mine],
        }
    ours, theirs = recipes[EDGEKIT], recipes[KERAS]
    ratio = None
    if ours["median"] is not None and theirs["median"] and not ours["at_least"]:
        ratio = ours["median"] / theirs["median"]
    return {
        "target": target,
        "recipes": recipes,
        "ratio": ratio,
        "ratio_at_most": ratio is not None and theirs["at_least"],
    }


def format_table(summary: dict) -> str:
    """The table docs/performance.md quotes."""

    def seconds(value: float | None, at_least: bool = False) -> str:
        return "not reached" if value is None else f"{'>' if at_least else ''}{value:.0f} s"

    target = summary["target"]
    lines = [f"{'recipe':<22} {f'time to {target} % per repetition':<34} {'median':>9}  final test accuracy %"]
    for name, recipe in summary["recipes"].items():
        times = ", ".join(seconds(t) for t in recipe["times"])
        finals = ", ".join(f"{a:.2f}" for a in recipe["final_accuracy"])
        lines.append(f"{name:<22} {times:<34} {seconds(recipe['median'], recipe['at_least']):>9}  {finals}")
    ratio = summary["ratio"]
    text = "unknown (a recipe did not run, or edgekit did not reach the target)" if ratio is None else f"{ratio:.2f}"
    lines.append(f"ratio of medians edgekit / keras: {'<= ' if summary['ratio_at_most'] else ''}{text}")
    return "\n".join(lines)


def test_clock(keras, images, labels):
    """A callback that records, after every epoch, training seconds so far (its own evaluation excluded) and
    test accuracy in percent."""
    import numpy as np

    class TestClock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.epochs, self.excluded, self.start = [], 0.0, time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            now = time.perf_counter()
            predicted = np.argmax(self.model.predict(images, batch_size=1000, verbose=0), axis=1)
            self.epochs.append(
                {
                    "epoch": epoch + 1,
                    "seconds": round(now - self.start - self.excluded, 2),
                    "test_accuracy": round(float(np.mean(predicted == labels)) * 100, 2),
                }
            )
            self.excluded += time.perf_counter() - now
            print(f"  epoch {epoch + 1}: {self.epochs[-1]['seconds']:.1f} s, test {self.epochs[-1]['test_accuracy']} %")

    return TestClock()


def train_edgekit(data, config, seed: int, clock):
    """edgekit's recipe, through the toolkit's own training function."""
    from toolkit.modeling.training import train_model

    with tempfile.TemporaryDirectory() as checkpoints:
        model, _ = train_model(data, config.model_copy(update={"seed": seed}), Path(checkpoints), callbacks=[clock])
    return model


def train_keras(data, epochs: int, seed: int, clock):
    """keras.io "Simple MNIST convnet": Conv32-Pool-Conv64-Pool-Flatten-Dropout(0.5)-Dense10, batch 128, Adam."""
    import numpy as np
    import tf_keras as keras
    from tf_keras import layers

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    x = np.expand_dims(data.x_train.astype("float32") / 255, -1)
    y = keras.utils.to_categorical(data.y_train, 10)
    model.fit(x, y, batch_size=128, epochs=epochs, validation_split=0.1, callbacks=[clock], verbose=0)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--target", type=float, default=99.3, help="test accuracy in percent")
    parser.add_argument("--keras-epochs", type=int, default=15, help="the keras.io example trains 15")
    parser.add_argument("--only", choices=[EDGEKIT, KERAS], help="train one recipe (to try settings)")
    parser.add_argument("--preset", default="default", help="edgekit's named settings (toolkit/config.py PRESETS)")
    parser.add_argument("-c", "--config", type=Path, help="edgekit settings (TOML) over the preset's")
    parser.add_argument("--json", type=Path, help="also write every epoch's figures here")
    args = parser.parse_args()

    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import numpy as np
    import tf_keras as keras

    from exporters.native_log import import_tensorflow
    from toolkit.config import load_config
    from toolkit.data.datasets import load_data
    from toolkit.pixels.tensors import float_input

    import_tensorflow()
    config = load_config(args.config, preset=args.preset).train
    data = load_data()
    images, labels = float_input(data.x_test, data.classifier(), (28, 28, 1)), data.y_test.astype(np.int64)
    runs = []
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"edgekit settings (preset {args.preset}): {config.model_dump(mode='json')}")
    for repeat in range(args.repeats):
        order = [EDGEKIT, KERAS] if repeat % 2 == 0 else [KERAS, EDGEKIT]
        for recipe in order:
            if args.only and recipe != args.only:
                continue
            print(f"repetition {repeat + 1}, {recipe} (load {os.getloadavg()[0]:.2f})")
            keras.backend.clear_session()
            clock = test_clock(keras, images, labels)
            if recipe == EDGEKIT:
                model = train_edgekit(data, config, config.seed + repeat, clock)
            else:
                model = train_keras(data, args.keras_epochs, 42 + repeat, clock)
            final = float(np.mean(np.argmax(model.predict(images, batch_size=1000, verbose=0), axis=1) == labels))
            runs.append(
                {
                    "recipe": recipe,
                    "repeat": repeat + 1,
                    "epochs": clock.epochs,
                    "final_accuracy": round(final * 100, 2),
                    "load_average": os.getloadavg(),
                }
            )
    summary = summarize(runs, args.target)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(format_table(summary))
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
