"""One module per target format, each with the same entry point: export(model, dest, ...) -> Artifact."""

import toolkit  # noqa: F401  (sets TF_USE_LEGACY_KERAS before anything imports TensorFlow)
from exporters.base import Artifact, Format, Variant, read_contract

__all__ = ["Artifact", "Format", "Variant", "read_contract"]
