"""`pipeline`: train -> qat -> export -> validate in one run directory, or every unfinished step of a killed one."""

from __future__ import annotations

from pathlib import Path

from exporters.base import Normalization
from toolkit.config import Config
from toolkit.flow.export import export
from toolkit.flow.qat import qat
from toolkit.flow.train import resume_train, train
from toolkit.flow.validate import validate
from toolkit.run import Run


def pipeline(
    out: Path,
    config: Config,
    data_path: Path | None = None,
    normalization: Normalization | None = None,
    split: dict | None = None,
) -> dict:
    """train -> qat -> export -> validate in one run directory."""
    run = train(out, config, data_path, normalization, split)
    if run is None:  # a worker of a cluster: the chief ships the model
        return {}
    qat(run.path, config)
    export(run.path, config)
    return validate(run.path, config)


def resume_pipeline(run_dir: Path, config: Config) -> dict:
    """Finish a killed pipeline: resume training if it did not finish, then every step that did not."""
    if not Run.open(run_dir).finished("train"):
        resume_train(run_dir)
    if not Run.open(run_dir).finished("qat"):
        qat(run_dir, config)
    if not Run.open(run_dir).finished("export"):
        export(run_dir, config)
    return validate(run_dir, config)
