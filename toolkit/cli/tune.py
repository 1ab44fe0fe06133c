"""`edgekit tune`: search architecture and training settings with Optuna, then ship the chosen trial via the gate."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from toolkit.cli.app import command
from toolkit.cli.options import ConfigFile, Data, Epochs, Out, Preset, QatEpochs, Runtime, Seed, Tolerance


class Objective(str, Enum):
    ACCURACY = "accuracy"
    PARETO = "pareto"


@command
def tune(
    out: Out = None,
    data: Data = None,
    trials: Annotated[
        int | None, typer.Option("--trials", min=0, help="Finished trials the study should hold (all workers).")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0, help="Seconds this process may start new trials for.")
    ] = None,
    objective: Annotated[
        Objective,
        typer.Option(
            "--objective",
            help="accuracy: TPE with Hyperband pruning on validation accuracy; pareto: NSGA-II over validation "
            "accuracy, int8 TFLite size and single-image LiteRT latency.",
        ),
    ] = Objective.ACCURACY,
    pick: Annotated[
        int | None, typer.Option("--pick", min=0, help="Ship this trial (pareto: one on the front), not the best.")
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage",
            help="Optuna storage URL shared by workers, e.g. postgresql://USER:PASS@HOST/DB. "
            "Default: study.db (SQLite) in the run directory.",
        ),
    ] = None,
    study: Annotated[str, typer.Option("--study", help="Study name in the storage.")] = "edgekit",
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the search of the run directory --out (after a crash or kill).")
    ] = False,
    search_only: Annotated[
        bool, typer.Option("--search-only", help="A worker: search and plot, ship nothing.")
    ] = False,
    latency_runs: Annotated[
        int, typer.Option("--latency-runs", min=1, help="Timed invokes per trial (pareto), after warm-up.")
    ] = 300,
    epochs: Epochs = None,
    seed: Seed = None,
    qat_epochs: QatEpochs = None,
    tolerance: Tolerance = None,
    runtime: Runtime = None,
    config: ConfigFile = None,
    preset: Preset = "default",
) -> None:
    """Search filters, dense width, batch norm, dropout, learning rate and schedule, batch size and augmentation.

    The chosen trial is retrained as the run's float model, then goes through QAT, export and the parity gate.
    Trials, plots (optimization history, parameter importances, Pareto front) and study.db land in the run.
    """
    from toolkit.cli.options import build_config
    from toolkit.errors import InputError
    from toolkit.flow import default_run_dir
    from toolkit.tune import TuneConfig
    from toolkit.tune import tune as run_tune

    if resume and out is None:
        raise InputError("--resume needs --out: the run directory whose search to continue")
    settings = build_config(
        config,
        preset,
        train=dict(epochs=epochs, seed=seed),
        qat=dict(epochs=qat_epochs),
        parity=dict(tolerances=tolerance, runtimes=runtime),
    )
    tune_settings = TuneConfig(
        trials=trials,
        timeout=timeout,
        objective=objective.value,
        storage=storage,
        study=study,
        pick=pick,
        latency_runs=latency_runs,
        search_only=search_only,
    )
    run_tune(out or default_run_dir(), settings, tune_settings, data, resume=resume)
