"""Interrupted work resumes: a real training process killed with SIGKILL continues with --resume to the same quality."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import write_npz
from typer.testing import CliRunner

from toolkit.cli import app

runner = CliRunner()
EPOCHS = 6
# patience above the epoch count: the run must not stop early, so both runs train exactly EPOCHS epochs
SETTINGS = f"[train]\nepochs = {EPOCHS}\nbatch_size = 32\nvalidation_size = 300\npatience = 10\n"
# The seed's recipe (exponential decay per epoch): what the learning-rate check below expects after a resume.
SEED_RECIPE = ("--preset", "cnn")
LATER = "[qat]\nbatch_size = 32\n[export]\ntfjs = false\nsaved_model = false\nrepresentative_size = 50\n"


def edgekit(*args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "toolkit", *map(str, args)], **kwargs)


def epochs_done(run: Path) -> int:
    try:
        return json.loads((run / "checkpoints" / "state.json").read_text())["epochs_done"]
    except (OSError, ValueError):
        return 0


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    data = write_npz(root / "data.npz", train=3000)  # a few seconds per epoch: time to kill it mid-run
    config = root / "edgekit.toml"
    config.write_text(SETTINGS + LATER)
    return root, data, config


@pytest.fixture(scope="module")
def killed_run(setup) -> Path:
    """A `train` killed with SIGKILL after its second epoch's checkpoint, before the last epoch."""
    root, data, config = setup
    run = root / "killed"
    process = edgekit("train", *SEED_RECIPE, "--data", data, "--out", run, "-c", config, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 900
    while epochs_done(run) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = epochs_done(run)
    assert 2 <= done < EPOCHS, f"the kill came at epoch {done}: not mid-training"
    return run


def test_killed_train_is_refused_by_later_steps(killed_run, tmp_path):
    copy = shutil.copytree(killed_run, tmp_path / "run")
    result = runner.invoke(app, ["qat", str(copy)])
    assert result.exit_code == 2 and f"edgekit train --resume {copy}" in result.output, result.output
    manifest = json.loads((copy / "manifest.json").read_text())
    assert "started" in manifest["steps"]["train"] and "finished" not in manifest["steps"]["train"]


def test_checkpoint_holds_the_optimizer_state(killed_run):
    import tf_keras as keras

    state = json.loads((killed_run / "checkpoints" / "state.json").read_text())
    model = keras.models.load_model(killed_run / "checkpoints" / state["model"], compile=True)
    steps_per_epoch = -(-(3000 - 300) // 32)
    assert int(model.optimizer.iterations.numpy()) == state["epochs_done"] * steps_per_epoch
    assert len(state["history"]["loss"]) == state["epochs_done"]


def test_resume_reaches_the_uninterrupted_accuracy(setup, killed_run, tmp_path):
    root, data, config = setup
    resumed = shutil.copytree(killed_run, tmp_path / "resumed")
    killed_at = epochs_done(resumed)
    assert edgekit("train", "--resume", resumed, stdout=subprocess.DEVNULL).wait() == 0
    uninterrupted = tmp_path / "uninterrupted"
    command = ["train", *SEED_RECIPE, "--data", data, "--out", uninterrupted, "-c", config]
    assert edgekit(*command, stdout=subprocess.DEVNULL).wait() == 0

    step = json.loads((resumed / "manifest.json").read_text())["steps"]["train"]
    reference = json.loads((uninterrupted / "manifest.json").read_text())["steps"]["train"]
    assert "finished" in step and step["epochs_run"] == EPOCHS == reference["epochs_run"]
    # the learning-rate schedule went on from the epoch it stopped at, not from the start
    assert step["history"]["lr"] == pytest.approx([1e-3 * 0.8**e for e in range(EPOCHS)], rel=1e-5)
    print(f"killed after epoch {killed_at}: resumed {step['test_accuracy']}%, not killed {reference['test_accuracy']}%")
    assert abs(step["test_accuracy"] - reference["test_accuracy"]) <= 0.2
    assert list((resumed / "checkpoints").glob("epoch-*.h5")) == [resumed / "checkpoints" / f"epoch-{EPOCHS:03d}.h5"]


def test_pipeline_resume_finishes_every_step(setup, killed_run, tmp_path):
    root, data, config = setup
    run = shutil.copytree(killed_run, tmp_path / "run")
    result = runner.invoke(app, ["pipeline", "--resume", str(run), "-c", str(config)])
    assert result.exit_code == 0, result.output
    steps = json.loads((run / "manifest.json").read_text())["steps"]
    assert all("finished" in steps[s] for s in ("train", "qat", "export", "validate"))
    assert json.loads((run / "report.json").read_text())["passed"] is True


@pytest.mark.unit
def test_a_killed_export_leaves_no_staging_behind(tmp_path):
    run = tmp_path / "run"
    (run / ".staging" / "artifacts" / "tflite-float32").mkdir(parents=True)
    (run / ".artifacts-old" / "tflite-float32").mkdir(parents=True)
    steps = {"train": {"started": "t", "finished": "t"}, "export": {"started": "t", "finished": "t"}}
    (run / "manifest.json").write_text(json.dumps({"steps": steps}))
    result = runner.invoke(app, ["validate", str(run)])
    assert result.exit_code == 2 and "no exported artifacts" in result.output
    assert sorted(p.name for p in run.iterdir()) == ["manifest.json"]


@pytest.mark.unit
def test_artifact_sets_are_swapped_by_rename(tmp_path, monkeypatch):
    from toolkit.run import Run

    run = Run(tmp_path, {"steps": {}})
    (tmp_path / "artifacts" / "old").mkdir(parents=True)
    staging = run.staging()
    staging.artifact_dir("new").mkdir(parents=True)
    replaced = []
    real_replace = os.replace

    def spy(src, dst):
        # at every rename, some complete set is in place or about to be: never a deleted one before the new one
        replaced.append((Path(src).name, Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    run.commit_artifacts(staging)
    assert replaced == [("artifacts", ".artifacts-old"), ("artifacts", "artifacts")]
    assert [p.name for p in (tmp_path / "artifacts").iterdir()] == ["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifacts"]


def test_killed_export_keeps_the_previous_set_and_leaves_no_staging(tiny_run_copy):
    """SIGKILL a real `edgekit export` mid-way: the old artifacts stay whole; the next export cleans up."""
    run = tiny_run_copy
    before = {p.parent.name: p.read_bytes() for p in (run / "artifacts").glob("*/contract.json")}
    process = edgekit("export", run, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 900
    while not list((run / ".staging" / "artifacts").glob("*/contract.json")) and time.monotonic() < deadline:
        assert process.poll() is None, "export ended before it could be killed"
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert {p.parent.name: p.read_bytes() for p in (run / "artifacts").glob("*/contract.json")} == before
    result = runner.invoke(app, ["validate", str(run)])
    assert result.exit_code == 2 and f"edgekit export {run}" in result.output, result.output
    assert edgekit("export", run, stdout=subprocess.DEVNULL).wait() == 0
    assert not (run / ".staging").exists() and not (run / ".artifacts-old").exists()
    assert sorted(p.parent.name for p in (run / "artifacts").glob("*/contract.json")) == sorted(before)
