"""`edgekit tune` on tiny synthetic data: search, pruning reports, Pareto mode and --pick, kill -9 then --resume,
and two workers sharing one study through a real PostgreSQL server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from support import write_npz
from typer.testing import CliRunner

from toolkit.cli import app

runner = CliRunner()
# Tiny trials; only the TFLite artifacts in LiteRT, and a loose int8 gate: 2-epoch models on 200 test images are noisy.
SETTINGS = """
[train]
epochs = {epochs}
validation_size = 60
[qat]
epochs = 1
batch_size = 32
[export]
representative_size = 50
tfjs = false
saved_model = false
[parity]
runtimes = ["litert"]
tolerances = {{ int8 = 5.0 }}
min_agreement = {{ int8 = 90.0 }}
"""
POSTGRES = os.environ.get("EDGEKIT_TEST_POSTGRES", "postgresql://edgekit:edgekit@localhost/edgekit_test")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_npz(tmp_path_factory.mktemp("tune") / "digits.npz", train=400, test=200)


def settings(tmp_path: Path, epochs: int = 2) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS.format(epochs=epochs))
    return path


def load_study(url: str, name: str = "edgekit"):
    import optuna

    url = url.replace("postgresql://", "postgresql+psycopg2://")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=name, storage=url)


def finished(study) -> list:
    return [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]


def tune_command(*args) -> list[str]:
    return [sys.executable, "-m", "toolkit", "tune", *map(str, args)]


@pytest.mark.unit
@pytest.mark.parametrize(
    "args, message",
    [
        (["--objective", "speed", "--trials", "2"], "speed"),
        (["--trials", "2", "--resume"], "--resume needs --out"),
        ([], "--trials and/or --timeout"),
        (["--trials", "2", "--storage", "redis://x"], "expected sqlite"),
    ],
)
def test_bad_options_exit_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)  # the default run directory must stay empty
    result = runner.invoke(app, ["tune", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "runs").exists()


@pytest.mark.unit
def test_storage_password_is_not_recorded():
    from toolkit.modeling.tune import _redact

    assert _redact("postgresql://me:secret@db/x") == "postgresql://me:***@db/x"
    assert _redact("sqlite:////tmp/study.db") == "sqlite:////tmp/study.db"


def test_tune_ships_the_best_trial_through_the_gate(tmp_path, data):
    out = tmp_path / "run"
    result = runner.invoke(app, ["tune", "--out", out, "--data", data, "--config", settings(tmp_path), "--trials", "3"])
    assert result.exit_code == 0, result.output
    study = load_study(f"sqlite:///{out / 'study.db'}")
    assert len(finished(study)) == 3
    for trial in study.trials:  # each epoch was reported to the Hyperband pruner
        assert sorted(trial.intermediate_values) == list(range(trial.user_attrs.get("epochs_run", 1)))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["steps"]["tune"]["chosen"] == study.best_trial.number
    assert manifest["steps"]["train"]["config"]["batch_size"] == study.best_trial.params["batch_size"]
    assert set(manifest["steps"]) >= {"tune", "train", "qat", "export", "validate"}
    assert (out / "plots" / "optimization_history.png").stat().st_size > 1000
    assert (out / "plots" / "param_importances.png").stat().st_size > 1000
    report = json.loads((out / "report.json").read_text())
    assert report["passed"] and {"tflite-int8-ptq", "tflite-int8-qat"} <= {a["name"] for a in report["artifacts"]}
    from toolkit.modeling.keras_files import load_keras_model

    shipped = load_keras_model(out / "models" / "float.h5")
    dense = [layer for layer in shipped.layers if layer.__class__.__name__ == "Dense"][0]
    assert dense.units == study.best_trial.params["dense"]


def test_pareto_front_and_pick(tmp_path, data):
    out = tmp_path / "run"
    config = settings(tmp_path)
    base = ["tune", "--out", out, "--data", data, "--config", config, "--objective", "pareto", "--latency-runs", "20"]
    result = runner.invoke(app, [*base, "--trials", "3", "--search-only"])
    assert result.exit_code == 0, result.output
    assert not (out / "models").exists()  # a search-only worker ships nothing
    study = load_study(f"sqlite:///{out / 'study.db'}")
    for trial in finished(study):
        accuracy, size_kb, latency_ms = trial.values
        assert size_kb > 1 and latency_ms > 0 and trial.user_attrs["int8_kb"] == round(size_kb, 2)
    assert (out / "plots" / "pareto_front.png").stat().st_size > 1000
    front = sorted(t.number for t in study.best_trials)
    dominated = sorted({t.number for t in study.trials} - set(front))
    resume = ["tune", "--out", out, "--config", config, "--objective", "pareto", "--trials", "3", "--resume"]
    if dominated:
        result = runner.invoke(app, [*resume, "--pick", dominated[0]])
        assert result.exit_code == 2 and "not on the Pareto front" in result.output
    result = runner.invoke(app, [*resume, "--pick", front[-1]])
    assert result.exit_code == 0, result.output
    assert len(load_study(f"sqlite:///{out / 'study.db'}").trials) == 3  # the budget was spent: no new trial
    assert json.loads((out / "manifest.json").read_text())["steps"]["tune"]["chosen"] == front[-1]


def test_kill_9_then_resume_loses_and_repeats_no_trial(tmp_path, data):
    out = tmp_path / "run"
    config = settings(tmp_path, epochs=4)
    args = ["--out", out, "--data", data, "--config", config, "--trials", 4, "--search-only"]
    process = subprocess.Popen(tune_command(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"sqlite:///{out / 'study.db'}"
    before, deadline = [], time.monotonic() + 900
    try:
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(1)
            if not (out / "study.db").exists():
                continue
            try:
                study = load_study(url)
            except KeyError:
                continue
            running = [t for t in study.trials if t.state.name == "RUNNING"]
            if finished(study) and running and running[0].intermediate_values:
                break
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    study = load_study(url)
    before = finished(study)
    killed = [t.number for t in study.trials if t.state.name == "RUNNING"]
    if not before or not killed:
        pytest.fail("the search never had a finished trial and a running one to kill")
    result = subprocess.run(tune_command(*args, "--resume"), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    study = load_study(url)
    after = finished(study)
    assert len(after) == 4  # the budget: killed trials do not count, finished ones are not run again
    by_number = {t.number: t for t in after}
    for trial in before:  # the finished trials survive unchanged
        assert by_number[trial.number].params == trial.params and by_number[trial.number].values == trial.values
    assert [t.state.name for t in study.trials if t.number in killed] == ["FAIL"] * len(killed)
    assert json.loads((out / "manifest.json").read_text())["tune"]["trials_here"] == 4 - len(before)


@pytest.fixture
def postgres_url() -> str:
    try:
        import psycopg2

        psycopg2.connect(POSTGRES, connect_timeout=3).close()
    except Exception as error:  # psycopg2.OperationalError, or no driver
        pytest.skip(f"no PostgreSQL server at {POSTGRES}: {str(error).strip().splitlines()[0]}")
    return POSTGRES


@pytest.mark.postgres
def test_two_workers_share_a_study_through_postgresql(tmp_path, data, postgres_url):
    name = f"edgekit-test-{uuid.uuid4().hex[:8]}"
    config = settings(tmp_path, epochs=3)
    workers = [
        subprocess.Popen(
            tune_command(
                "--out",
                tmp_path / f"worker-{i}",
                "--data",
                data,
                "--config",
                config,
                "--trials",
                6,
                "--storage",
                postgres_url,
                "--study",
                name,
                "--search-only",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    logs = [w.communicate(timeout=1800)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], "\n".join(log[-2000:] for log in logs)
    study = load_study(postgres_url, name)
    assert len(finished(study)) == 6
    ran = [
        json.loads((tmp_path / f"worker-{i}" / "manifest.json").read_text())["tune"]["trials_here"] for i in range(2)
    ]
    assert all(n >= 1 for n in ran) and sum(ran) == 6, ran
    import optuna

    optuna.delete_study(study_name=name, storage=postgres_url.replace("postgresql://", "postgresql+psycopg2://"))
