"""What may leave a run for a phone, a browser or anyone's download: only an artifact whose files are exactly the
ones recorded in its contract, and which the run's current report says passed, for these very files."""

from __future__ import annotations

from exporters.base import Artifact
from toolkit.errors import InputError, ParityError
from toolkit.gate.integrity import file_problems
from toolkit.gate.verdict import entry_verdict
from toolkit.run import Run


def shippable(run: Run, name: str) -> Artifact:
    """The artifact `name` of `run`, when it may ship.

    Raises:
        InputError: its files differ from its contract, or no current report judged these files (the remedy is
            `edgekit validate RUN`, or export again).
        ParityError: the report says these files failed the gate or could not be vouched for.
    """
    artifact = run.artifact(name)
    problems = file_problems(run.artifact_dir(artifact), artifact)
    if problems:
        raise InputError(f"'{name}': files do not match its contract ({'; '.join(problems)}): export it again")
    report = run.report()
    if report is None:
        raise InputError(f"'{name}' has not been through the gate since its export: run `edgekit validate {run.path}`")
    entries = [e for e in report["artifacts"] if e.get("name") == name and e.get("digest") == artifact.digest]
    if not entries:
        raise InputError(
            f"the report of {run.path} is not about the files of '{name}' (exported again, or changed since): "
            f"run `edgekit validate {run.path}`"
        )
    unsure = sorted(f"{e['runtime']} {entry_verdict(e)}" for e in entries if entry_verdict(e) != "passed")
    if unsure:
        raise ParityError(f"'{name}' did not pass the gate ({', '.join(unsure)}; see {run.report_md_path})")
    return artifact
