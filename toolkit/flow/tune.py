"""`tune`: search architecture and training settings with Optuna, then ship the chosen trial through the flow."""

from __future__ import annotations

import logging
from pathlib import Path

from toolkit.config import Config
from toolkit.data.datasets import load_data
from toolkit.data.run_data import load_run_data, record_data
from toolkit.flow.export import export
from toolkit.flow.qat import qat
from toolkit.flow.train import fit
from toolkit.flow.validate import validate
from toolkit.modeling.tune import (
    METRICS,
    TuneConfig,
    build_searched_model,
    check_settings,
    choose_trial,
    describe,
    front,
    run_search,
    trial_config,
)
from toolkit.run import Run

log = logging.getLogger("edgekit")


def tune(out: Path, config: Config, search: TuneConfig, data_path: Path | None = None, resume: bool = False) -> dict:
    """Search, then ship the chosen trial: retrain it as the run's float model, then qat -> export -> validate.

    Args:
        out: the run directory (new; or the one to continue with `resume`).
        config: base settings (epochs, validation split, QAT, export, parity); the search overrides training ones.
        search: budget, objective, storage, pick.
        data_path: a user's data set; None for MNIST.
        resume: continue the study of an existing run directory (after a crash or kill).

    Returns:
        The parity report ({} with `tune.search_only`).
    """
    check_settings(search)
    if resume:
        run = Run.open(out)
        data = load_run_data(run)
    else:
        data = load_data(data_path)
        with Run.create(out) as run:  # a search that fails before its first trial leaves no run behind
            record_data(run, data, data_path)
    study = run_search(run, data, config, search, resume)
    if search.search_only:
        return {}
    chosen = choose_trial(study, search)
    params = dict(chosen.params)
    log.info("shipping trial %d: %s", chosen.number, describe(chosen))
    run.record(
        "tune",
        {
            "chosen": chosen.number,
            "params": params,
            "metrics": {k: chosen.user_attrs.get(k) for k in METRICS},
            "front": front(study, search),
        },
    )
    shipped = config.model_copy(update={"train": trial_config(config.train, params)})
    fit(run, data, shipped, build=lambda: build_searched_model(params))
    qat(run.path, shipped)
    export(run.path, shipped)
    return validate(run.path, shipped)
