"""Make sure the `toolkit` and `exporters` packages Python imports are edgekit's own: both names are generic, and PyPI
holds unrelated distributions that install packages of the same names (`exporters` 0.7.0, `toolkit` 0.0.x)."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "edgekit"
PACKAGES = ("toolkit", "exporters")


def conflict() -> str | None:
    """What makes `toolkit` or `exporters` not ours in this environment (one line), or None. Imports neither."""
    for name in PACKAGES:
        # Another distribution of that very name installs a package of that name into the same site-packages:
        # whichever was installed last has overwritten the other's files.
        try:
            other = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        return (
            f"the distribution `{name}` {other.version} is installed beside edgekit and provides its own `{name}` "
            f"package, which overwrites or mixes with edgekit's: `pip uninstall {name}` (then reinstall edgekit), or "
            "give edgekit a virtualenv of its own"
        )
    here = Path(__file__).resolve().parent.parent
    overwritten = _overwritten(here)
    if overwritten:
        return overwritten
    # A package of the same name earlier on sys.path (a folder in the working directory, another install) shadows ours.
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:  # gone, or a namespace package without our __init__.py
            return f"`{name}` is not a complete package in {here}: reinstall edgekit"
        origin = Path(spec.origin).resolve().parent.parent
        if origin != here:
            return f"`{name}` is imported from {origin}, not from edgekit's installation in {here}: rename or move it"
    return None


def _overwritten(here: Path) -> str | None:
    """A file of ours that another distribution (under any name) replaced, per the hashes our wheel recorded."""
    try:
        record = metadata.distribution(DISTRIBUTION).read_text("RECORD") or ""
    except metadata.PackageNotFoundError:
        return None
    for line in record.splitlines():
        path, _, rest = line.partition(",")
        digest = rest.partition(",")[0]
        if path not in {f"{name}/__init__.py" for name in PACKAGES} or not digest.startswith("sha256="):
            continue  # an editable install records no package files: a checkout is what it is
        try:
            actual = hashlib.sha256((here / path).read_bytes()).digest()
        except OSError:
            return f"{here / path} is missing: reinstall edgekit"
        if base64.urlsafe_b64encode(actual).rstrip(b"=").decode() != digest.removeprefix("sha256="):
            return f"{here / path} is not edgekit's (another distribution overwrote it): reinstall edgekit alone"
    return None
