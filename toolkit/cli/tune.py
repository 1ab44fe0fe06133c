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


Trials = Annotated[
    int | None,
    typer.Option(
        "--trials", min=0, max=100_000, metavar="N", help="Finished trials the study should hold (all workers)."
    ),
]
Timeout = Annotated[
    float | None,
    typer.Option("--timeout", min=0, metavar="SECONDS", help="How long this process may start new trials."),
]
ObjectiveOption = Annotated[
    Objective,
    typer.Option(
        "--objective",
        metavar="accuracy|pareto",
        help="accuracy: TPE with Hyperband pruning on validation accuracy; pareto: NSGA-II over validation "
        "accuracy, int8 TFLite size and single-image LiteRT latency.",
    ),
]
Pick = Annotated[
    int | None,
    typer.Option("--pick", min=0, metavar="N", help="Ship trial N (pareto: one on the front), not the best."),
]
Storage = Annotated[
    str | None,
    typer.Option(
        "--storage",
        metavar="URL",
        help="An Optuna storage shared by workers, e.g. postgresql://USER:PASS@HOST/DB. "
        "Default: study.db (SQLite) in the run directory.",
    ),
]
Study = Annotated[str, typer.Option("--study", metavar="NAME", help="The study's name in the storage.")]
ResumeSearch = Annotated[
    bool, typer.Option("--resume", help="Continue the search of the run directory --out (after a crash or kill).")
]
SearchOnly = Annotated[bool, typer.Option("--search-only", help="A worker: search and plot, ship nothing.")]
LatencyRuns = Annotated[
    int | None,
    typer.Option(
        "--latency-runs",
        min=1,
        max=100_000,
        metavar="N",
        help="With --objective pareto: timed invokes per trial. Default: 300.",
    ),
]


@command
def tune(
    out: Out = None,
    data: Data = None,
    trials: Trials = None,
    timeout: Timeout = None,
    objective: ObjectiveOption = Objective.ACCURACY,
    pick: Pick = None,
    storage: Storage = None,
    study: Study = "edgekit",
    resume: ResumeSearch = False,
    search_only: SearchOnly = False,
    latency_runs: LatencyRuns = None,
    epochs: Epochs = None,
    seed: Seed = None,
    qat_epochs: QatEpochs = None,
    tolerance: Tolerance = None,
    runtime: Runtime = None,
    config: ConfigFile = None,
    preset: Preset = "default",
) -> None:
    """Search network and training settings, then ship the best trial.

    Optuna searches filters, dense width, batch norm, dropout, learning rate and schedule, batch size and
    augmentation. The chosen trial is retrained as the run's float model, then goes through QAT, export and the
    parity gate. Trials, plots (optimization history, parameter importances, Pareto front) and study.db land in
    the run.
    """
    from toolkit.cli.options import build_config, refuse_unused
    from toolkit.errors import InputError
    from toolkit.flow.train import default_run_dir
    from toolkit.flow.tune import tune as run_tune
    from toolkit.modeling.tune import TuneConfig

    if resume and out is None:
        raise InputError("--resume needs --out: the run directory whose search to continue")
    if objective is not Objective.PARETO:
        refuse_unused("only with --objective pareto, the one that measures latency", latency_runs=latency_runs)
    if search_only:
        refuse_unused(
            "not with --search-only, which ships nothing",
            pick=pick,
            qat_epochs=qat_epochs,
            tolerance=tolerance,
            runtime=runtime,
        )
    settings = build_config(
        config,
        preset,
        train=dict(epochs=epochs, seed=seed),
        qat=dict(epochs=qat_epochs),
        parity=dict(tolerances=tolerance, runtimes=runtime),
    )
    search = TuneConfig(
        trials=trials,
        timeout=timeout,
        objective=objective.value,
        storage=storage,
        study=study,
        pick=pick,
        search_only=search_only,
        **({} if latency_runs is None else {"latency_runs": latency_runs}),
    )
    run_tune(out or default_run_dir(), settings, search, data, resume=resume)
