"""`edgekit qat`: quantization-aware fine-tuning of a run's float model."""

from __future__ import annotations

from toolkit.cli.app import command
from toolkit.cli.options import ConfigFile, QatEpochs, RunDir


@command
def qat(run_dir: RunDir, epochs: QatEpochs = None, config: ConfigFile = None) -> None:
    """Fine-tune a quantization-aware copy of a run's float model.

    Uses tensorflow-model-optimization; the copy becomes the source of the int8 QAT artifact at the next export.
    """
    from toolkit.cli.options import build_config
    from toolkit.flow.qat import qat as qat_step

    qat_step(run_dir, build_config(config, qat=dict(epochs=epochs)))
