"""One module per target format, each with the same entry point: export(model, dest, ...) -> Artifact.

This is the lowest layer that imports TensorFlow, so the environment TensorFlow reads at its first import is set
here; `toolkit` imports this package before anything of its own touches TensorFlow.
"""

import os

# tensorflow-model-optimization's QAT needs Keras 2 (tf_keras) and the converters must see the same Keras;
# TensorFlow reads this once, at its first import.
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# tensorflowjs imports tensorflow-decision-forests, whose welcome banner imports IPython (not installed) whenever
# stdout is not a terminal, e.g. under a test runner or a pipe.
os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")

from exporters.native_log import quiet_first_imports  # noqa: E402

# TensorFlow's first import, wherever it happens, prints a dozen native lines (cuDNN factories on a machine without
# GPU) that no environment variable silences: they go to the debug log, which --verbose shows.
quiet_first_imports()

from exporters.base import Artifact, Format, Variant, read_contract  # noqa: E402

__all__ = ["Artifact", "Format", "Variant", "read_contract"]
