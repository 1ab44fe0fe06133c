"""Multi-worker training: two worker processes on loopback train one model, and only the chief writes the run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.modeling.distributed import tf_config

SETTINGS = """
[train]
architecture = "dense"
epochs = 3
batch_size = 64
validation_size = 200
patience = 5
"""


def hard_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Faint bars in strong noise: learnable, but a few epochs leave accuracy well below 100 %, so it can differ."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count).astype(np.uint8)
    images = rng.integers(0, 200, (count, 28, 28)).astype(np.uint8)
    for image, label in zip(images, labels, strict=True):
        image[2 + 2 * label : 4 + 2 * label, 4:24] //= 2
        image[2 + 2 * label : 4 + 2 * label, 4:24] += 90
    return images, labels


@pytest.fixture(scope="module")
def hard_data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hard") / "hard.npz"
    x_train, y_train = hard_digits(2200, 1)
    x_test, y_test = hard_digits(2000, 2)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def train_command(out: Path, data: Path, config: Path) -> list[str]:
    # The seed's cnn recipe: on this small hard data set it stays between chance and saturation (a difference shows).
    command = [sys.executable, "-m", "toolkit", "train", "--preset", "cnn", "--out", str(out), "--data", str(data)]
    return [*command, "--config", str(config)]


@pytest.mark.unit
def test_tf_config_is_built_from_the_worker_list():
    config = json.loads(tf_config(["10.0.0.1:2222", "10.0.0.2:2222"], 1))
    assert config == {"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}, "task": {"type": "worker", "index": 1}}


@pytest.mark.unit
@pytest.mark.parametrize(
    "args, message",
    [
        (["--worker", "localhost", "--worker-index", "0"], "expected HOST:PORT"),
        (["--worker", "a:1", "--worker-index", "1"], "between 0 and 0"),
        (["--worker", "a:1"], "go together"),
    ],
)
def test_bad_cluster_options_exit_2(tmp_path, monkeypatch, args, message):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    result = CliRunner().invoke(app, ["train", "--out", str(tmp_path / "run"), *args])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "run").exists()
    assert "TF_CONFIG" not in os.environ


def test_two_workers_train_like_one(tmp_path, hard_data):
    config = tmp_path / "settings.toml"
    config.write_text(SETTINGS)
    single = subprocess.run(
        train_command(tmp_path / "single", hard_data, config), capture_output=True, text=True, timeout=900
    )
    assert single.returncode == 0, single.stderr[-2000:]
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": tf_config(workers, index)}
        out = tmp_path / f"worker-{index}"
        processes.append(
            subprocess.Popen(
                train_command(out, hard_data, config),
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    logs = [p.communicate(timeout=900)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], "\n".join(log[-2000:] for log in logs)
    assert not (tmp_path / "worker-1").exists()  # only the chief writes a run directory
    chief = json.loads((tmp_path / "worker-0" / "manifest.json").read_text())["steps"]["train"]
    alone = json.loads((tmp_path / "single" / "manifest.json").read_text())["steps"]["train"]
    assert chief["workers"] == 2 and "workers" not in alone
    assert 50 < alone["test_accuracy"] < 99.5  # not saturated: a difference could show
    assert abs(chief["test_accuracy"] - alone["test_accuracy"]) <= 0.3, (chief["test_accuracy"], alone["test_accuracy"])
