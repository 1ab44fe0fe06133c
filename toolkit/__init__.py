"""edgekit: train an MNIST classifier, quantize it, export it for phones and browsers, and prove nothing was lost."""

import os

# tensorflow-model-optimization's QAT needs Keras 2 (tf_keras); TensorFlow reads this once, at its first import,
# so it has to be set here, before any module of ours imports TensorFlow.
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# tensorflowjs imports tensorflow-decision-forests, whose welcome banner imports IPython (not installed) whenever
# stdout is not a terminal, e.g. under a test runner or a pipe.
os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")

__version__ = "0.1.0"
