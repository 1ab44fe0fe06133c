"""The trust chain, in one place: what the gate may take from a run directory and what may leave it.

- An artifact is judged only when its files are those its contract records (integrity) and its contract lies where
  it claims and says what the run recorded for the model (contract_problems): labels, normalization, image, output.
- Outputs a run keeps between gates (references.npz, evaluations.npz) count only when sealed by this machine's key
  for exactly those arrays (seal / unseal), and only for the files and test set they were computed on.
- A verdict holds for the exact files it judged (report entries carry their digest); what ships to a phone or a
  browser is only what the current report says passed, for these very files (shippable).
A user who can write the run directory can still rewrite the report itself; re-running `edgekit validate` gives the
true verdict from the files, and only a report signed elsewhere (or the run rebuilt from source) proves who made it
(README, "Security").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets

import numpy as np

from exporters.base import Artifact, pixels_classifier, pixels_input
from toolkit.errors import InputError, ParityError
from toolkit.gate.integrity import file_problems
from toolkit.gate.verdict import entry_verdict
from toolkit.launcher import command
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
        raise InputError(
            f"'{name}' has not been through the gate since its export: run `{command('validate', run.path)}`"
        )
    entries = [e for e in report["artifacts"] if e.get("name") == name and e.get("digest") == artifact.digest]
    if not entries:
        raise InputError(
            f"the report of {run.path} is not about the files of '{name}' (exported again, or changed since): "
            f"run `{command('validate', run.path)}`"
        )
    unsure = sorted(f"{e['runtime']} {entry_verdict(e)}" for e in entries if entry_verdict(e) != "passed")
    if unsure:
        raise ParityError(f"'{name}' did not pass the gate ({', '.join(unsure)}; see {run.report_md_path})")
    return artifact


def contract_problems(run: Run, artifact: Artifact) -> list[str]:
    """What in an artifact's contract differs from what the run recorded for its model: where it lies, and the
    image, normalization, output kind and labels every consumer reads from it (empty when nothing does)."""
    problems = []
    if artifact.path != f"artifacts/{artifact.name}":
        problems.append(f"the contract's path {artifact.path!r} is not the artifact's own directory")
    recorded, claimed = run.classifier, artifact.classifier
    if artifact.pixels is not None:  # RGB pixels in, the model's own preprocessing inside the graph
        recorded = pixels_classifier(recorded)
        if artifact.pixels != pixels_input(run.classifier):
            problems.append("its in-graph steps (pixels) differ from those the run's model needs")
    for field in ("image", "output_kind", "labels"):
        if getattr(claimed, field) != getattr(recorded, field):
            problems.append(f"its {field} differ from what the run recorded for the model")
    if claimed.normalization != recorded.normalization:
        problems.append("its normalization differs from what the run recorded for the model")
    return problems


def _key() -> bytes | None:
    """This machine's secret for sealing the outputs a run keeps (created on first use, readable by the user only);
    None where it cannot be kept, and then nothing kept is ever trusted."""
    from toolkit.web.assets import cache_root

    path = cache_root() / "keys" / "kept-outputs.key"
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            key = path.read_bytes()
        else:
            key = secrets.token_bytes(32)
            with os.fdopen(descriptor, "wb") as f:
                f.write(key)
    except OSError:
        return None
    return key if len(key) == 32 else None


def _mac(key: bytes, arrays: dict[str, np.ndarray]) -> str:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        mac.update(json.dumps([name, array.dtype.str, array.shape]).encode() + array.tobytes())
    return mac.hexdigest()


def seal(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`arrays` with a MAC under this machine's key: what the gate keeps in a run (references, evaluations)."""
    key = _key()
    return {**arrays, "mac": np.array(_mac(key, arrays) if key else "")}


def unseal(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """The arrays of a kept file when its MAC is this machine's for exactly these arrays; None otherwise (edited by
    hand, written by another machine or another user: recomputed, never trusted)."""
    key = _key()
    arrays = dict(arrays)
    mac = str(arrays.pop("mac", ""))
    if key is None or not mac or not hmac.compare_digest(mac, _mac(key, arrays)):
        return None
    return arrays


def are_probabilities(p: np.ndarray, count: int, classes: int | None = None) -> bool:
    """Whether `p` is what a runtime's outputs become: float32 rows of `count` images that are distributions."""
    return (
        p.dtype == np.float32
        and p.ndim == 2
        and len(p) == count
        and (classes is None or p.shape[1] == classes)
        and bool(np.all(np.isfinite(p)) and np.all((p >= 0) & (p <= 1)))
        and bool(np.all(np.abs(p.sum(axis=1) - 1) < 1e-3))
    )
