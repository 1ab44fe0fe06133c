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
from sqlalchemy.exc import SQLAlchemyError
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
    return write_npz(tmp_path_factory.mktemp("tune") / "digits.npz", train=400)


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


# (URL, its secrets, what the redacted URL reads): passwords holding the characters that break naive parsing.
URLS = [
    ("postgresql://me:secret@db/x", ["secret"], "postgresql://me:***@db/x"),
    ("postgresql://alice:pa@ss:word@host/db", ["pa@ss:word", "word", "pa@ss"], "postgresql://alice:***@host/db"),
    (
        "postgresql://alice:p%40ss%3Aw0rd@host:5433/db",
        ["p%40ss%3Aw0rd", "p@ss:w0rd"],
        "postgresql://alice:***@host:5433/db",
    ),
    ("postgresql://alice:a/b?c#d@host/db", ["a/b?c#d"], "postgresql://alice:***@host/db"),
    ("postgresql://alice:{x}%@host/db", ["{x}%"], "postgresql://alice:***@host/db"),
    (
        "postgresql://alice@host/db?password=hunter2&sslmode=require",
        ["hunter2"],
        "postgresql://alice@host/db?password=***&sslmode=require",
    ),
    (
        "postgresql://alice:one@host/db?sslpassword=two&application_name=x",
        ["one", "two"],
        "postgresql://alice:***@host/db?sslpassword=***&application_name=x",
    ),
    ("sqlite:////tmp/study.db", [], "sqlite:////tmp/study.db"),
]


@pytest.mark.unit
@pytest.mark.parametrize("url, secrets, redacted", URLS)
def test_storage_password_is_redacted_whatever_it_holds(url, secrets, redacted):
    from toolkit.modeling.tune import redact, scrub

    assert redact(url) == redacted
    # A library's message quoting the URL, the driver's form of it, or the password alone loses the secrets too.
    engine = url.replace("postgresql://", "postgresql+psycopg2://")
    message = scrub(f"cannot connect to {url} ({engine}); it was {secrets[0] if secrets else ''}", url)
    assert not any(secret in message for secret in secrets), message
    assert redacted in message


@pytest.mark.unit
@pytest.mark.parametrize("password", ["pa@ss:word", "p%40ss", "a/b?c", "x{y}z"])
def test_tune_never_prints_or_stores_the_password(tmp_path, password):
    """N11: the storage cannot be reached (nothing listens on port 1); the one-line error names the user, host and
    database, never the password or a query parameter's secret, and nothing is written (the storage is tried before
    the run directory is made)."""
    url = f"postgresql://alice:{password}@127.0.0.1:1/db?password=hunter2&connect_timeout=3"
    data = write_npz(tmp_path / "d.npz", train=60, test=20)
    result = runner.invoke(app, ["tune", "--out", tmp_path / "run", "--data", data, "--trials", "1", "--storage", url])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0].startswith("error: storage postgresql://alice:***@127.0.0.1:1/db?password=***"), lines[0]
    assert "Connection refused" in lines[0] or "connection" in lines[0].lower()
    for secret in (password, "hunter2"):
        assert secret not in result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.unit
@pytest.mark.parametrize("module, storage", [("optuna", None), ("psycopg2", "postgresql://alice@host/db")])
def test_tune_without_its_extra_says_how_to_install_it(tmp_path, monkeypatch, module, storage):
    """Without the `tune` extra: one line with the install command, exit 2, no run directory."""
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed: importing it fails, find_spec finds none
    monkeypatch.chdir(tmp_path)
    args = ["tune", "--out", tmp_path / "run", "--trials", "1"] + (["--storage", storage] if storage else [])
    result = runner.invoke(app, args)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert f"edgekit tune needs {module}" in lines[0]
    assert "uv sync --extra tune" in lines[0] and "pip install 'edgekit[tune]'" in lines[0]
    assert not (tmp_path / "run").exists() and not (tmp_path / "runs").exists()


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
    log = tmp_path / "first.log"
    with log.open("w") as sink:
        process = subprocess.Popen(tune_command(*args), stdout=sink, stderr=subprocess.STDOUT)
    url = f"sqlite:///{out / 'study.db'}"
    deadline, ready = time.monotonic() + 900, False
    try:
        while not ready and time.monotonic() < deadline and process.poll() is None:
            time.sleep(1)
            if not (out / "study.db").exists():
                continue
            try:
                study = load_study(url)
            except (KeyError, SQLAlchemyError):  # no study yet, or its tables are being made while we look
                continue
            running = [t for t in study.trials if t.state.name == "RUNNING"]
            ready = bool(finished(study) and running and running[0].intermediate_values)
    finally:
        process.send_signal(signal.SIGKILL)
        code = process.wait()
    if not ready:  # the search ended by itself, or never got there in 15 minutes: say which, with its output
        pytest.fail(f"no trial running beside a finished one to kill (exit {code}): {log.read_text()[-2000:]}")
    study = load_study(url)
    before = finished(study)
    killed = [t.number for t in study.trials if t.state.name == "RUNNING"]
    assert before and killed
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


@pytest.mark.unit
def test_opening_a_runs_sqlite_study_while_another_process_creates_its_tables_retries(tmp_path, monkeypatch):
    """A reader of the run's study.db (a dashboard, a script, this file's kill -9 test) can create Optuna's tables
    at the instant the search does; the loser's insert of the schema version collides (seen on CI). The search
    retries and opens its study, without the heartbeat a shared database needs."""
    import optuna
    import sqlalchemy.exc

    from toolkit.modeling import tune

    made = []

    class Colliding(optuna.storages.RDBStorage):  # the first creation meets the other process's tables
        def __init__(self, url, **options):
            made.append(options)
            if len(made) == 1:
                raise sqlalchemy.exc.IntegrityError("INSERT INTO alembic_version", {}, Exception("UNIQUE constraint"))
            super().__init__(url, **options)

    monkeypatch.setattr(optuna.storages, "RDBStorage", Colliding)
    monkeypatch.setattr(tune, "CREATE_RETRY_SECONDS", 0.0)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = tune.open_study(url, tune.TuneConfig(storage=url, study="race"), 0, False)
    assert study.study_name == "race" and made == [{}, {}]


@pytest.fixture
def postgres_url() -> str:
    try:
        import psycopg2

        psycopg2.connect(POSTGRES, connect_timeout=3).close()
    except Exception as error:  # psycopg2.OperationalError, or no driver
        pytest.skip(f"no PostgreSQL server at {POSTGRES}: {str(error).strip().splitlines()[0]}")
    return POSTGRES


@pytest.fixture
def fresh_database(postgres_url) -> str:
    """The test database seen through a new, empty schema: Optuna's tables do not exist yet, as on a fresh server
    (where two workers creating them at once collided on CI's machine)."""
    import psycopg2

    schema = f"edgekit_{uuid.uuid4().hex[:8]}"
    connection = psycopg2.connect(postgres_url)
    connection.autocommit = True
    connection.cursor().execute(f"CREATE SCHEMA {schema}")
    yield f"{postgres_url}?options=-csearch_path%3D{schema}"
    connection.cursor().execute(f"DROP SCHEMA {schema} CASCADE")
    connection.close()


OPEN_STUDY = """
import sys
from toolkit.modeling.tune import TuneConfig, open_study
url = sys.argv[1]
study = open_study(url, TuneConfig(storage=url, study="race"), 0, False)
print("opened", study.study_name)
"""


@pytest.mark.postgres
def test_a_worker_whose_table_creation_collides_with_another_retries(fresh_database):
    """The race of CI's machine, made certain: another worker's transaction has created Optuna's tables but not
    committed when this worker creates them; its CREATE TABLE waits, then fails with a unique violation in pg_type
    once the other commits. edgekit retries, finds the tables, and opens the study."""
    import sqlalchemy
    from optuna.storages._rdb import models  # the tables Optuna creates: what the other worker runs

    engine = sqlalchemy.create_engine(fresh_database.replace("postgresql://", "postgresql+psycopg2://"))
    waiting = (
        "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND wait_event_type = 'Lock' "
        "AND query LIKE '%CREATE %'"
    )
    with engine.connect() as other, engine.connect() as observer:
        transaction = other.begin()
        models.BaseModel.metadata.create_all(other)
        worker = subprocess.Popen(
            [sys.executable, "-c", OPEN_STUDY, fresh_database],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 120
        while observer.execute(sqlalchemy.text(waiting)).scalar() == 0:
            observer.rollback()  # a fresh snapshot of pg_stat_activity
            assert worker.poll() is None and time.monotonic() < deadline, "the worker never waited on the tables"
            time.sleep(0.2)
        transaction.commit()
    output = worker.communicate(timeout=120)[0]
    engine.dispose()
    assert worker.returncode == 0 and "opened race" in output, output[-2000:]


@pytest.mark.postgres
def test_two_workers_share_a_study_through_postgresql(tmp_path, data, fresh_database):
    postgres_url = fresh_database
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
    manifests = [json.loads((tmp_path / f"worker-{i}" / "manifest.json").read_text())["tune"] for i in range(2)]
    ran = [manifest["trials_here"] for manifest in manifests]
    assert all(n >= 1 for n in ran) and sum(ran) == 6, ran
    # The URL is kept to resume the search, without its password (N11).
    assert {m["storage"] for m in manifests} == {postgres_url.replace(":edgekit@", ":***@")}
