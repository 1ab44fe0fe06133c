"""A quiet console by default: no native TensorFlow/absl/LiteRT line, Keras' "Found N files" not at all, one line
per step, a progress bar under long loops on a terminal; `--verbose` brings every native line back."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import synthetic_digits, train_user_model

from toolkit.cli.console import ProgressLines

# What TensorFlow, absl, XLA and LiteRT print by themselves: glog/absl-style lines ("E0000 00:00:17... cuda_dnn.cc"),
# the factory and placer complaints of TensorFlow's import, XNNPACK's delegate note, Keras' directory loader.
NATIVE = re.compile(
    r"^[EIWF]\d{4} \d\d:\d\d:\d\d|Unable to register cu|computation placer|XNNPACK delegate|absl::InitializeLog"
    r"|Found \d+ files",
    re.MULTILINE,
)


def edgekit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args], capture_output=True, text=True, timeout=900, cwd=cwd
    )


@pytest.fixture(scope="module")
def user_model(tmp_path_factory, tiny_data) -> Path:
    path = tmp_path_factory.mktemp("model") / "mine.h5"
    train_user_model((28, 28, 1), False, tiny_data, epochs=2).save(path)
    return path


def test_a_default_export_prints_no_native_line(user_model, tiny_data, tmp_path):
    from toolkit.runtimes import tfjs_node

    # TF.js conversion is where grappler logs through absl; Node keeps the TF.js artifacts verified without Chromium.
    runtimes = ["-r", "litert"] + ([] if tfjs_node.unavailable() else ["-r", "tfjs-node-wasm"])
    tfjs = [] if runtimes[-1] == "tfjs-node-wasm" else ["--no-tfjs"]
    args = ["export", "--model", str(user_model), "--data", str(tiny_data), "--out", "run", *runtimes, *tfjs]
    done = edgekit(*args, cwd=tmp_path)
    console = done.stdout + done.stderr
    assert done.returncode == 0, console[-3000:]
    assert NATIVE.findall(console) == [], console
    lines = done.stdout.splitlines()
    assert lines[-1] == "PASSED" and any(line.startswith("exported tflite-int8-ptq") for line in lines)
    assert done.stderr == ""


def test_verbose_brings_the_native_lines_back(user_model, tiny_data, tmp_path):
    args = ["--verbose", "export", "--model", str(user_model), "--data", str(tiny_data), "--out", "run"]
    done = edgekit(*args, "-r", "litert", "--no-tfjs", cwd=tmp_path)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert NATIVE.findall(done.stdout + done.stderr), "no native line with --verbose"


def test_an_image_folder_loads_without_keras_counting_its_files(tmp_path, capfd):
    from PIL import Image

    from toolkit.data.image_folder import load_image_folder

    images, labels = synthetic_digits(30, 4)
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = tmp_path / f"class{label % 2}"
        folder.mkdir(exist_ok=True)
        Image.fromarray(image).save(folder / f"{index}.png")
    capfd.readouterr()
    x_train, _, x_test, _, names, _ = load_image_folder(tmp_path)
    out, err = capfd.readouterr()
    assert len(x_train) + len(x_test) == 30 and names == ["class0", "class1"]
    assert "Found" not in out + err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.unit
def test_a_long_loop_shows_a_progress_bar_on_a_terminal_only(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    echo = ProgressLines()
    echo("parity gate: 4 evaluations")
    echo("[1/4] ok    tflite-float32 ...")
    assert terminal.getvalue().endswith("] 1/4  0 s") and "[######" in terminal.getvalue()
    echo("[4/4] ok    tfjs-uint8 ...")
    echo("PASSED")
    text = terminal.getvalue()
    assert text.count("\r\033[K") == 1 and text.endswith("[4/4] ok    tfjs-uint8 ...\nPASSED\n")  # bar erased
    piped = io.StringIO()
    monkeypatch.setattr(sys, "stdout", piped)
    echo("[1/4] ok    tflite-float32 ...")
    assert piped.getvalue() == "[1/4] ok    tflite-float32 ...\n"


@pytest.mark.unit
def test_quiet_first_import_hands_back_the_package_untouched():
    """The finder that captures TensorFlow's import chatter leaves other imports, and the module it loads, alone."""
    import exporters.native_log as native_log

    assert any(isinstance(f, native_log._QuietFirstImport) for f in sys.meta_path)
    finder = native_log._QuietFirstImport()
    assert finder.find_spec("numpy") is None
    if "tensorflow" in sys.modules:
        assert finder.find_spec("tensorflow") is None  # only a first import
    else:
        spec = finder.find_spec("tensorflow")
        assert spec.name == "tensorflow" and isinstance(spec.loader, native_log._QuietLoader)


@pytest.mark.unit
def test_gate_lines_keep_their_columns_for_the_longest_artifact_and_runtime_names():
    from toolkit.gate.parity import ParityResult
    from toolkit.runtimes import RUNTIMES

    def line(name: str, runtime: str) -> str:
        numbers = {"accuracy": 99.4, "reference_accuracy": 99.4, "accuracy_delta": 0.0, "agreement": 100.0}
        result = ParityResult(
            name,
            "tflite",
            "float32",
            "float",
            "p",
            runtime,
            10,
            **numbers,
            max_abs_prob_delta=0.0,
            tolerance=0.2,
            min_agreement=99.0,
            passed=True,
            size_bytes=1,
            seconds=1.0,
        )
        return result.summary()

    longest_runtime = max(RUNTIMES, key=len)
    lines = [line("tfjs-uint8", "litert"), line("tflite-pixels-float32", longest_runtime)]
    assert lines[1].split()[1:3] == ["tflite-pixels-float32", longest_runtime]  # a space between name and runtime
    assert len({text.index("99.40%") for text in lines}) == 1, lines
