"""`edgekit validate`: re-run the parity gate on a run directory and rewrite its report."""

from __future__ import annotations

from toolkit.cli.app import command
from toolkit.cli.options import AllowChance, ConfigFile, RunDir, Runtime, Targets, Tolerance


@command
def validate(
    run_dir: RunDir,
    tolerance: Tolerance = None,
    runtime: Runtime = None,
    targets: Targets = None,
    config: ConfigFile = None,
    allow_chance_reference: AllowChance = None,
) -> None:
    """Gate every artifact of a run again and rewrite its reports.

    Evaluates each artifact on the whole test set in every runtime available here, against its Keras reference;
    exit 1 if any is outside its bounds, 3 if the test set is too small to tell or a chosen browser target could
    not start. --targets all adds every browser and TF.js backend (WebGPU is slow without a GPU).
    """
    from toolkit.cli.options import build_config
    from toolkit.flow.validate import validate as validate_step

    parity = dict(
        tolerances=tolerance, runtimes=runtime, targets=targets, allow_chance_reference=allow_chance_reference
    )
    validate_step(run_dir, build_config(config, parity=parity))
