"""`edgekit validate`: re-run the parity gate on a run directory and rewrite its report."""

from __future__ import annotations

from toolkit.cli.app import command
from toolkit.cli.options import AllowChance, ConfigFile, RunDir, Runtime, Tolerance


@command
def validate(
    run_dir: RunDir,
    tolerance: Tolerance = None,
    runtime: Runtime = None,
    config: ConfigFile = None,
    allow_chance_reference: AllowChance = None,
) -> None:
    """Evaluate every artifact on the full test set in its runtimes; exit 1 if any is outside tolerance."""
    from toolkit.cli.options import build_config
    from toolkit.flow.validate import validate as validate_step

    parity = dict(tolerances=tolerance, runtimes=runtime, allow_chance_reference=allow_chance_reference)
    validate_step(run_dir, build_config(config, parity=parity))
