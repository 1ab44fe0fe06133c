"""edgekit: train an MNIST classifier, quantize it, export it for phones and browsers, and prove nothing was lost."""

from toolkit.import_names import conflict

# Checked before `exporters` is first imported: another distribution's package of that name may stand in its place,
# and its code must not run. The CLI turns a conflict into one line and exit code 2.
IMPORT_CONFLICT = conflict()
if IMPORT_CONFLICT is None:
    import exporters  # noqa: F401  (sets the environment TensorFlow reads at import: tf-keras, quiet logs)

__version__ = "0.1.0"

# The public API, imported on first use so that `import toolkit` (and `edgekit --help`) stays instant.
_API = {
    "pipeline": "toolkit.flow.pipeline",  # train -> qat -> export -> validate into a new run directory
    "train": "toolkit.flow.train",
    "export": "toolkit.flow.export",
    "validate": "toolkit.flow.validate",  # the parity gate over a run directory; raises ParityError on a breach
    "import_model": "toolkit.flow.own_model",  # a user's own tf-keras model through export and the gate
    "load_config": "toolkit.config",
    "load_data": "toolkit.data.datasets",
    "check_parity": "toolkit.gate.parity",  # the gate over any list of artifacts and reference probabilities
    "preprocess_digit": "toolkit.pixels.digit",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'toolkit' has no attribute {name!r}")
