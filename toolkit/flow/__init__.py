"""The one flow over a run directory, a module per step: train -> qat -> export -> validate; `pipeline` runs them
in a row, `import_model` starts from a user's model, `ensemble` and `tune` make the float model another way. The
only package that orchestrates: the CLI calls these, and nothing below imports them."""

from toolkit.flow.ensemble import ensemble
from toolkit.flow.export import export
from toolkit.flow.own_model import check_import, import_model
from toolkit.flow.pipeline import pipeline, resume_pipeline
from toolkit.flow.qat import qat
from toolkit.flow.train import default_run_dir, fit, resume_train, train
from toolkit.flow.tune import tune
from toolkit.flow.validate import validate

__all__ = [
    "check_import",
    "default_run_dir",
    "ensemble",
    "export",
    "fit",
    "import_model",
    "pipeline",
    "qat",
    "resume_pipeline",
    "resume_train",
    "train",
    "tune",
    "validate",
]
