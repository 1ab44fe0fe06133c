"""Hyper-parameter search with Optuna: TPE + Hyperband on validation accuracy, or NSGA-II with int8 size and latency."""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import random
import re
import shutil
import statistics
import tempfile
import time
import urllib.parse
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from toolkit.config import Config, TrainConfig
from toolkit.data.datasets import Dataset
from toolkit.errors import InputError, StepError, first_line
from toolkit.pixels.tensors import float_input
from toolkit.run import Run, atomic_write_json

log = logging.getLogger("edgekit")

OBJECTIVES = ("accuracy", "pareto")
# What a trial reports, in the order of the study's directions (pareto uses all three, accuracy the first).
METRICS = ("val_accuracy", "int8_kb", "latency_ms")
DIRECTIONS = ("maximize", "minimize", "minimize")
PLOTS = ("optimization_history", "param_importances", "pareto_front")
# Creating Optuna's tables: attempts, and the base of the growing pause between them (see _rdb_storage).
CREATE_ATTEMPTS = 3
CREATE_RETRY_SECONDS = 0.5


@dataclasses.dataclass
class TuneConfig:
    trials: int | None = 20  # finished (complete or pruned) trials the study should hold; None: until the timeout
    timeout: float | None = None  # seconds this process may start new trials for
    objective: str = "accuracy"  # "accuracy" (TPE + Hyperband) or "pareto" (NSGA-II, no pruning)
    storage: str | None = None  # an Optuna RDB URL; None: sqlite in the run directory
    study: str = "edgekit"
    pick: int | None = None  # the trial number to ship; None: the best (pareto: the most accurate on the front)
    latency_runs: int = 300  # timed invokes of the int8 model per trial, after warm-up
    search_only: bool = False  # a worker: search, write the plots, ship nothing


def suggest(trial) -> dict[str, Any]:
    """The search space: architecture (filters, dense width, batch norm, dropout) and training settings."""
    params = {
        "filters": trial.suggest_categorical("filters", [8, 16, 32, 48]),
        "dense": trial.suggest_categorical("dense", [32, 64, 128, 256]),
        "batch_norm": trial.suggest_categorical("batch_norm", [False, True]),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True),
        "lr_schedule": trial.suggest_categorical("lr_schedule", ["exponential", "cosine", "one-cycle"]),
        "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128, 256]),
        "augment_strength": trial.suggest_float("augment_strength", 0.0, 1.5),
    }
    if params["lr_schedule"] == "exponential":
        params["lr_decay"] = trial.suggest_float("lr_decay", 0.6, 1.0)
    return params


def build_searched_model(params: dict[str, Any], num_classes: int = 10, name: str = "tuned"):
    """The searched CNN: Conv(f)-Pool-Conv(2f)-Pool-Dense(d)-Dropout-Dense(classes), batch norm optional.

    With batch norm, each conv and the dense layer drop their bias and are followed by BatchNormalization
    then ReLU: the patterns tfmot quantizes (conv) or toolkit.modeling.qat folds (dense) for QAT.
    """
    import tf_keras as keras
    from tf_keras import layers

    bn = params["batch_norm"]

    def block(layer):
        return [layer, layers.BatchNormalization(), layers.ReLU()] if bn else [layer]

    act = None if bn else "relu"
    stack = [keras.Input(shape=(28, 28, 1), name="image")]
    stack += block(layers.Conv2D(params["filters"], 3, activation=act, use_bias=not bn))
    stack += [layers.MaxPooling2D()]
    stack += block(layers.Conv2D(2 * params["filters"], 3, activation=act, use_bias=not bn))
    stack += [layers.MaxPooling2D(), layers.Flatten()]
    stack += block(layers.Dense(params["dense"], activation=act, use_bias=not bn))
    stack += [layers.Dropout(params["dropout"])]
    stack += [layers.Dense(num_classes, activation="softmax", name="probabilities")]
    return keras.Sequential(stack, name=name)


def trial_config(base: TrainConfig, params: dict[str, Any]) -> TrainConfig:
    """The training settings of a trial: the base config with the searched values."""
    return base.model_copy(
        update=dict(
            learning_rate=params["learning_rate"],
            lr_schedule=params["lr_schedule"],
            lr_decay=params.get("lr_decay", base.lr_decay),
            batch_size=params["batch_size"],
            augment=params["augment_strength"] > 0,
            augment_strength=params["augment_strength"],
        )
    )


def int8_size_and_latency(model, data: Dataset, config: Config, runs: int) -> tuple[float, float]:
    """(KB, ms) of the model's int8 PTQ TFLite file: size, and the median single-image invoke on 1 LiteRT thread."""
    from ai_edge_litert.interpreter import Interpreter

    from exporters import Variant, tflite
    from toolkit.data.run_data import representative_inputs

    shape = tuple(model.input_shape[1:])
    representative = representative_inputs(
        data, min(config.export.representative_size, 200), data.classifier(), shape, config.train.seed
    )
    with tempfile.TemporaryDirectory() as tmp:
        artifact = tflite.export(
            model,
            Path(tmp) / "int8",
            Variant.INT8,
            name="trial",
            source="float",
            run_dir=Path(tmp),
            representative=representative,
        )
        interpreter = Interpreter(model_path=str(Path(tmp) / "int8" / tflite.MODEL_FILE), num_threads=1)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    scale, zero_point = detail["quantization"]
    image = float_input(data.x_test[:1], data.classifier(), shape)
    interpreter.set_tensor(detail["index"], np.clip(np.round(image / scale) + zero_point, -128, 127).astype(np.int8))
    for _ in range(20):  # warm-up: first invokes allocate and fill caches
        interpreter.invoke()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - start)
    return artifact.size_bytes / 1024, statistics.median(times) * 1000


def _pruning_callback(trial):
    """A Keras callback that reports validation accuracy after each epoch and stops a trial the pruner drops."""
    import optuna
    import tf_keras as keras

    class ReportToPruner(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            trial.report(100 * float(logs["val_accuracy"]), epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {epoch + 1}")

    return ReportToPruner()


def _validation_accuracy(model, data: Dataset, config: TrainConfig) -> float:
    from toolkit.modeling.training import split_validation

    _, _, x_val, y_val = split_validation(data, config.validation_size)
    probabilities = model.predict(float_input(x_val, data.classifier(), model.input_shape[1:]), verbose=0)
    return 100 * float((probabilities.argmax(1) == y_val).mean())


def _finished(study, before: int | None = None) -> int:
    """Trials that count against the budget: complete, pruned, or running (all of them, or numbered below `before`)."""
    from optuna.trial import TrialState

    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    return sum(1 for t in study.get_trials(deepcopy=False, states=states) if before is None or t.number < before)


class _OverBudget(Exception):
    """This trial was started after other workers had already filled the budget."""


def _objective(data: Dataset, config: Config, tune: TuneConfig, workdir: Path):
    from toolkit.modeling.training import train_model

    def objective(trial):
        # Several workers may start a trial at once; the storage numbers trials, so the later ones step back.
        if tune.trials is not None and _finished(trial.study, before=trial.number) >= tune.trials:
            raise _OverBudget
        params = suggest(trial)
        train_config = trial_config(config.train, params)
        callbacks = [_pruning_callback(trial)] if tune.objective == "accuracy" else []
        model, history = train_model(
            data,
            train_config,
            workdir / f"trial-{trial.number}",
            build=lambda: build_searched_model(params),
            callbacks=callbacks,
        )
        accuracy = round(_validation_accuracy(model, data, train_config), 4)
        trial.set_user_attr("epochs_run", len(history["loss"]))
        trial.set_user_attr("val_accuracy", accuracy)
        if tune.objective == "accuracy":
            return accuracy
        size_kb, latency_ms = int8_size_and_latency(model, data, config, tune.latency_runs)
        trial.set_user_attr("int8_kb", round(size_kb, 2))
        trial.set_user_attr("latency_ms", round(latency_ms, 4))
        return accuracy, size_kb, latency_ms

    return objective


def storage_url(run: Run, tune: TuneConfig) -> str:
    return tune.storage or f"sqlite:///{run.study_path.resolve()}"


# Query parameters that carry a secret (password=, sslpassword=, token=, api_key= ...), and credentials in any URL.
_SECRET_PARAMETER = re.compile(r"(?i)([?&;][^=&;?]*(?:pass|pwd|secret|token|key)[^=&;?]*=)[^&;\s'\"]*")
_CREDENTIALS = re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^:/@\s]*:)\S*@")


def _split(url: str) -> tuple[str, str, str | None, bool, str]:
    """(scheme, user, password or None, has user info, host part) of a storage URL.

    The password runs from the first ':' of the user info to the LAST '@' of the URL, so that a password holding
    '@', ':', '/', '?' or '%' unencoded is taken whole: whatever is ambiguous is counted as secret.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    userinfo, at, hostpart = rest.rpartition("@")
    user, colon, password = userinfo.partition(":")
    return scheme, user, password if colon else None, bool(at), hostpart


def redact(url: str) -> str:
    """A storage URL without its secrets (the password, and query parameters such as password=), for anything
    that is printed, logged or stored: console, manifest, errors."""
    if url.startswith("sqlite:"):
        return url  # a file path, no credentials
    scheme, user, password, has_userinfo, hostpart = _split(url)
    userinfo = (f"{user}:***@" if password is not None else f"{user}@") if has_userinfo else ""
    return _SECRET_PARAMETER.sub(r"\1***", f"{scheme}://" * bool(scheme) + userinfo + hostpart)


def scrub(text: str, url: str) -> str:
    """`text` (a library's error message) with the URL redacted and every form of its secrets (the password and
    secret parameters, raw, percent-decoded or encoded) replaced by ***."""
    if url.startswith("sqlite:"):
        return text
    engine = _engine_url(url, strict=False)
    for whole in sorted({url, engine, engine.replace("{{", "{").replace("}}", "}")} - {""}, key=len, reverse=True):
        text = text.replace(whole, redact(url))
    password = _split(url)[2]
    values = [password] if password else []
    values += [m.group(0).split("=", 1)[1] for m in _SECRET_PARAMETER.finditer(url)]
    secrets = set()
    for value in values:
        decoded = urllib.parse.unquote(value)
        secrets |= {value, decoded, urllib.parse.quote(decoded, safe=""), urllib.parse.quote_plus(decoded)}
    for secret in sorted(secrets - {""}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return _CREDENTIALS.sub(r"\1***@", _SECRET_PARAMETER.sub(r"\1***", text))


def _engine_url(url: str, strict: bool = True) -> str:
    """The URL SQLAlchemy is given: parsed as `_split` reads it, every part percent-encoded (a password holding '@'
    or ':' connects instead of being misread), with psycopg2 as the PostgreSQL driver, and braces doubled for
    Optuna's URL template. `strict=False` returns "" instead of raising on a malformed URL."""
    if url.startswith("sqlite:"):
        return url.replace("{", "{{").replace("}", "}}")
    from sqlalchemy.engine import URL

    scheme, user, password, _, hostpart = _split(url)
    # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3; the locked driver is psycopg2.
    driver = "postgresql+psycopg2" if scheme == "postgresql" else scheme
    try:
        parts = urllib.parse.urlsplit(f"//{hostpart}")
        port = parts.port
    except ValueError as error:
        if not strict:
            return ""
        raise InputError(f"storage {redact(url)}: {scrub(str(error), url)}") from None
    query: dict[str, list[str]] = {}
    for key, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
        query.setdefault(key, []).append(value)
    engine = URL.create(
        driver,
        username=urllib.parse.unquote(user) or None,
        password=None if password is None else urllib.parse.unquote(password),
        host=parts.hostname,
        port=port,
        database=urllib.parse.unquote(parts.path.lstrip("/")) or None,
        query={k: v[0] if len(v) == 1 else tuple(v) for k, v in query.items()},
    )
    return engine.render_as_string(hide_password=False).replace("{", "{{").replace("}", "}}")


def _is_creation_race(error: Exception) -> bool:
    """Whether creating Optuna's tables failed because another worker was creating them at the same instant."""
    import sqlalchemy.exc

    if isinstance(error, sqlalchemy.exc.IntegrityError):  # a unique violation: pg_type, or sqlite's alembic_version
        return True
    code = getattr(getattr(error, "orig", None), "pgcode", None)
    return isinstance(error, sqlalchemy.exc.ProgrammingError) and (
        code in ("42P07", "42710") or "already exists" in str(error)
    )


def _rdb_storage(url: str, shared: bool):
    """Optuna's storage; retried when two processes create its tables at once (the loser's CREATE collides with the
    winner's; on the retry the tables exist): workers on a fresh shared database, or a reader of a run's sqlite file
    (optuna-dashboard, a script) while the search makes it.

    Raises:
        InputError: the database cannot be reached or used; the message never holds the URL's secrets.
    """
    import optuna

    engine_url = _engine_url(url)
    for attempt in range(CREATE_ATTEMPTS):
        try:
            # A killed worker's trial stays RUNNING; its missing heartbeat lets the others fail it after the grace
            # period. A run's own sqlite file needs none: open_study fails what a killed search left RUNNING.
            heartbeat = {"heartbeat_interval": 10, "grace_period": 30} if shared else {}
            return optuna.storages.RDBStorage(engine_url, **heartbeat)
        except Exception as error:  # sqlalchemy's connection errors, a missing driver...
            if attempt + 1 == CREATE_ATTEMPTS or not _is_creation_race(error):
                raise InputError(f"storage {redact(url)}: {scrub(first_line(error), url)}") from None
            time.sleep(CREATE_RETRY_SECONDS * (attempt + 1) * (1 + random.random()))
    raise AssertionError("unreachable")


def open_study(url: str, tune: TuneConfig, seed: int, resume: bool):
    """Create the study, or load it (resume, or another worker's); a shared study must have the same objective.

    Raises:
        InputError: the storage cannot be reached or read (the message never holds the URL's secrets), or the study
            exists with another objective (or, unshared, without `resume`).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # search() logs each trial in edgekit's own words
    shared = not url.startswith("sqlite:")
    directions = list(DIRECTIONS if tune.objective == "pareto" else DIRECTIONS[:1])
    try:
        storage = _rdb_storage(url, shared)
        existing = optuna.load_study(study_name=tune.study, storage=storage)
    except KeyError:
        existing = None
    except InputError:
        raise
    except Exception as error:  # sqlalchemy's connection errors, a malformed URL, a missing driver...
        raise InputError(f"storage {redact(url)}: {scrub(first_line(error), url)}") from None
    if existing is not None:
        if [d.name.lower() for d in existing.directions] != directions:
            raise InputError(f"study '{tune.study}' was made with another --objective")
        if not shared and not resume:
            raise InputError(f"study '{tune.study}' exists in {redact(url)}: pass --resume to continue it")
        if not shared:
            # One process owns a run's sqlite file: whatever it left RUNNING was killed with it; never finished.
            for trial in existing.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
                existing.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        count = len(existing.trials)
    else:
        count = 0
    return optuna.create_study(
        storage=storage,
        study_name=tune.study,
        directions=directions,
        load_if_exists=True,
        **_strategy(tune, seed + count if not shared else None),
    )


def _strategy(tune: TuneConfig, sampler_seed: int | None) -> dict:
    """Sampler and pruner. Reproducible alone; a fresh random stream after a resume, and per worker on a shared
    study (sampler_seed None)."""
    import optuna

    if tune.objective == "pareto":
        population = max(4, min(50, (tune.trials or 40) // 4))
        return {
            "sampler": optuna.samplers.NSGAIISampler(population_size=population, seed=sampler_seed),
            "pruner": optuna.pruners.NopPruner(),
        }
    return {
        "sampler": optuna.samplers.TPESampler(seed=sampler_seed, n_startup_trials=5),
        "pruner": optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3),
    }


def search(study, data: Dataset, config: Config, tune: TuneConfig, workdir: Path) -> int:
    """Run trials until the study holds `tune.trials` finished ones or `tune.timeout` passes; return how many ran."""
    import optuna

    deadline = None if tune.timeout is None else time.monotonic() + tune.timeout
    ran, done = 0, []
    while True:
        if tune.trials is not None and _finished(study) >= tune.trials:
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
        study.optimize(
            _objective(data, config, tune, workdir),
            n_trials=1,
            catch=(_OverBudget,),
            callbacks=[lambda _study, trial: done.append(trial)],
        )
        trial = done[-1]
        if trial.state == optuna.trial.TrialState.FAIL:
            break  # over budget: trials running elsewhere fill the study
        ran += 1
        log.info("trial %d %s: %s", trial.number, trial.state.name.lower(), describe(trial))
    return ran


def describe(trial) -> str:
    values = {k: trial.user_attrs[k] for k in METRICS if k in trial.user_attrs}
    return ", ".join(f"{k} {v}" for k, v in values.items()) or "-"


def choose_trial(study, tune: TuneConfig):
    """The trial to ship: --pick (pareto: one on the front), else the best (pareto: the front's most accurate)."""
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        raise InputError(f"study '{tune.study}' has no complete trial to ship")
    candidates = study.best_trials if tune.objective == "pareto" else complete
    if tune.pick is not None:
        chosen = [t for t in candidates if t.number == tune.pick]
        if not chosen:
            where = "on the Pareto front" if tune.objective == "pareto" else "a complete trial"
            numbers = ", ".join(str(t.number) for t in sorted(candidates, key=lambda t: t.number))
            raise InputError(f"--pick {tune.pick}: trial {tune.pick} is not {where} (choose from {numbers})")
        return chosen[0]
    if tune.objective == "pareto":
        return max(candidates, key=lambda t: (t.values[0], -t.values[1], -t.values[2]))
    return study.best_trial


def write_plots(study, tune: TuneConfig, out: Path) -> dict[str, str]:
    """Optimization history, parameter importances and (pareto) the front as PNGs; returns {plot: file or reason}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as vis

    accuracy = {"target": lambda t: t.values[0], "target_name": "validation accuracy %"}
    target = accuracy if tune.objective == "pareto" else {}
    makers = {
        "optimization_history": lambda: vis.plot_optimization_history(study, **target),
        "param_importances": lambda: vis.plot_param_importances(study, **target),
    }
    if tune.objective == "pareto":
        makers["pareto_front"] = lambda: vis.plot_pareto_front(study, target_names=list(METRICS))
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, make in makers.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental on every call
                axes = make()
            figure = (axes.flat[0] if isinstance(axes, np.ndarray) else axes).get_figure()
            figure.savefig(out / f"{name}.png", dpi=100, bbox_inches="tight")
            plt.close(figure)
            written[name] = f"plots/{name}.png"
        except (ValueError, RuntimeError, ZeroDivisionError) as error:  # e.g. importances need 2+ complete trials
            written[name] = f"not drawn: {str(error).splitlines()[0] if str(error) else type(error).__name__}"
    return written


def trials_summary(study) -> list[dict[str, Any]]:
    return [
        {
            "number": t.number,
            "state": t.state.name.lower(),
            "params": t.params,
            **{k: t.user_attrs[k] for k in METRICS if k in t.user_attrs},
            "epochs_run": t.user_attrs.get("epochs_run"),
        }
        for t in study.trials
    ]


def run_search(run: Run, data: Dataset, config: Config, tune: TuneConfig, resume: bool):
    """Search within the run directory (study settings in the manifest, trials file and plots); return the study.

    A resumed shared study needs its --storage again: the manifest keeps the URL without its password.
    """
    url = storage_url(run, tune)
    run.manifest["tune"] = {"storage": redact(url), "study": tune.study, "objective": tune.objective}
    run.save()
    study = open_study(url, tune, config.train.seed, resume)
    workdir = run.scratch_dir("trials")
    try:
        ran = search(study, data, config, tune, workdir)
    except Exception as error:
        if type(error).__module__.split(".")[0] != "sqlalchemy":
            raise
        # The database went away during the search: its error may quote the URL.
        raise StepError(f"storage {redact(url)}: {scrub(first_line(error), url)}") from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summary = trials_summary(study)
    atomic_write_json(run.trials_path, summary)
    plots = write_plots(study, tune, run.plots_dir)
    run.manifest["tune"].update(
        {
            "trials_here": ran,
            "finished": sum(1 for t in summary if t["state"] in ("complete", "pruned")),
            "pruned": sum(1 for t in summary if t["state"] == "pruned"),
            "plots": plots,
        }
    )
    run.save()
    return study


def front(study, tune: TuneConfig) -> list[int]:
    return sorted(t.number for t in study.best_trials) if tune.objective == "pareto" else [study.best_trial.number]


def check_settings(tune: TuneConfig) -> None:
    """Refuse settings, or an installation, that cannot search: before a run directory is made."""
    postgres = (tune.storage or "").startswith("postgresql")
    missing = [name for name in ("optuna", "psycopg2")[: 1 + postgres] if importlib.util.find_spec(name) is None]
    if missing:
        raise InputError(
            f"edgekit tune needs {' and '.join(missing)}, which the `tune` extra installs: "
            "`uv sync --extra tune` in a checkout, or `pip install 'edgekit[tune]'`"
        )
    if tune.objective not in OBJECTIVES:
        raise InputError(f"--objective {tune.objective!r}: choose accuracy or pareto")
    if tune.trials is None and tune.timeout is None:
        raise InputError("give --trials and/or --timeout: a search needs a budget")
    if tune.storage is not None and not tune.storage.startswith(("sqlite:", "postgresql", "mysql")):
        raise InputError(f"--storage {redact(tune.storage)}: expected sqlite:///FILE or postgresql://USER@HOST/DB")
    if tune.storage is not None and not tune.storage.startswith("sqlite:"):
        # Reached once before a run directory exists: a wrong URL or password leaves nothing behind.
        _rdb_storage(tune.storage, shared=True).engine.dispose()
