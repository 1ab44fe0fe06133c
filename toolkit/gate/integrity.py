"""Before any evaluation: every artifact the run lists is present, every file matches its contract (sha256, size)."""

from __future__ import annotations

from pathlib import Path

from exporters.base import Artifact, sha256_file


def file_problems(artifact_dir: Path, artifact: Artifact) -> list[str]:
    """What differs between the artifact's files on disk and its contract (empty when they match)."""
    problems = []
    if artifact.main_file not in artifact.files:
        problems.append(f"the contract records no hash for its main file {artifact.main_file}")
    for name, recorded in sorted(artifact.files.items()):
        path = artifact_dir / name
        if not path.resolve().is_relative_to(artifact_dir.resolve()):
            problems.append(f"{name}: outside the artifact directory")
        elif not path.is_file():
            problems.append(f"{name}: missing")
        elif path.stat().st_size != recorded["size_bytes"]:
            problems.append(f"{name}: {path.stat().st_size} bytes, the contract says {recorded['size_bytes']}")
        elif sha256_file(path) != recorded["sha256"]:
            problems.append(f"{name}: sha256 differs from the contract's (file changed or replaced)")
    return problems


def disk_size(artifact_dir: Path, artifact: Artifact) -> int:
    """The bytes actually on disk for the artifact's files (what a report must print, not the contract's claim)."""
    return sum((artifact_dir / n).stat().st_size for n in artifact.files if (artifact_dir / n).is_file())


def missing(expected: list[str] | None, artifacts: list[Artifact]) -> list[str]:
    """Names the run's export step recorded that have no artifact (directory or contract) on disk now."""
    present = {a.name for a in artifacts}
    return sorted(set(expected or []) - present)
