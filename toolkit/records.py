"""The shape of what a run keeps in JSON (manifest.json, report.json), checked when it is read: a field of the wrong
kind is one line naming the file and the field, never a traceback deep inside a later step."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from exporters.base import OUTPUT_KINDS, Classifier, FieldError

NONE = type(None)
NUMBER = "a finite number"
REAL = "a number"  # NaN and infinities included: a training loss that diverged is still a record of it


@dataclasses.dataclass(frozen=True)
class Required:
    """A field that must be present."""

    kind: Any


@dataclasses.dataclass(frozen=True)
class Each:
    """An object whose every value has this kind (a mapping of names to things)."""

    kind: Any


@dataclasses.dataclass(frozen=True)
class OneOf:
    """A string from a fixed set."""

    values: tuple[str, ...]


def _describe(kind: Any) -> str:
    if isinstance(kind, Required):
        return _describe(kind.kind)
    if isinstance(kind, tuple):
        return " or ".join(_describe(k) for k in kind)
    if isinstance(kind, dict | Each):
        return "an object"
    if isinstance(kind, list):
        return "a list"
    if isinstance(kind, OneOf):
        return "one of " + ", ".join(kind.values)
    if kind in (NUMBER, REAL):
        return kind
    names = {str: "a string", bool: "true or false", int: "an integer", NONE: "null", dict: "an object", list: "a list"}
    return names.get(kind, kind.__name__)


def _fits(value: Any, kind: Any) -> bool:
    """Whether `value` has the outer kind of `kind` (the inside is checked by `check`)."""
    if isinstance(kind, tuple):
        return any(_fits(value, k) for k in kind)
    if isinstance(kind, dict | Each):
        return isinstance(value, dict)
    if isinstance(kind, list):
        return isinstance(value, list)
    if isinstance(kind, OneOf):
        return value in kind.values
    if kind in (NUMBER, REAL):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return number and (kind is REAL or math.isfinite(value))
    if kind in (int, float):
        return isinstance(value, kind) and not isinstance(value, bool)
    return isinstance(value, kind)


def check(value: Any, kind: Any, field: str) -> None:
    """Raise FieldError naming the first field of `value` that does not have its kind.

    A kind is a type (str, bool, int, NONE), NUMBER, OneOf(...), a tuple of alternatives, a dict of fields (optional
    unless Required), Each(kind) for a mapping, or [kind] for a list.
    """
    if isinstance(kind, Required):
        kind = kind.kind
    if not _fits(value, kind):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise FieldError(f"{f'field {field}' if field else 'the file'} must be {_describe(kind)}, not {shown}")
    if isinstance(kind, tuple):
        kind = next(k for k in kind if _fits(value, k))
    if isinstance(kind, dict):
        for key, inner in kind.items():
            if key in value:
                check(value[key], inner, f"{field}.{key}".lstrip("."))
            elif isinstance(inner, Required):
                raise FieldError(f"field {f'{field}.{key}'.lstrip('.')} is missing")
    elif isinstance(kind, Each):
        for key, inner in value.items():
            check(inner, kind.kind, f"{field}[{key!r}]")
    elif isinstance(kind, list):
        for i, inner in enumerate(value):
            check(inner, kind[0], f"{field}[{i}]")


_HISTORY = Each([(REAL, NONE)])
_STEP = {
    "started": str,
    "finished": str,
    "config": {"seed": int, "validation_size": (int, NONE), "epochs": int, "batch_size": int},
    "history": _HISTORY,
    "artifacts": Each(int),
    "trust_model": bool,
    "test_accuracy": NUMBER,
    "members": [{"architecture": Required(str), "seed": Required(int), "test_accuracy": Required(NUMBER)}],
}
MANIFEST = {
    "created": str,
    "steps": Required(Each(_STEP)),
    "data": (
        NONE,
        {
            "path": (str, NONE),
            "source": str,
            "x_test_sha256": Required(str),
            "labels": [str],
            "split": (NONE, {"test_fraction": Required(NUMBER), "seed": Required(int)}),
        },
    ),
    "classifier": dict,
    "output_kind": OneOf(OUTPUT_KINDS),
    "tune": dict,
}
VERDICTS = ("passed", "failed", "inconclusive")
_FIGURE = (NUMBER, NONE)
_ENTRY = {
    "name": Required(str),
    "runtime": Required(str),
    "format": Required(str),
    "variant": str,
    "source": str,
    "path": str,
    "passed": Required(bool),
    "verdict": OneOf(VERDICTS),
    "digest": (str, NONE),
    "error": (str, NONE),
    "reasons": [str],
    "images": int,
    "size_bytes": int,
    "seconds": _FIGURE,
    **dict.fromkeys(("accuracy", "reference_accuracy", "accuracy_delta", "agreement", "float_accuracy"), _FIGURE),
    "kept_from": (str, NONE),
    "from_previous_run": (str, NONE),
    "engine": (str, NONE),
    "backend": (str, NONE),
}
REPORT = {
    "passed": Required(bool),
    "verdict": OneOf(VERDICTS),
    "created": str,
    "edgekit_version": str,
    "gate_seconds": _FIGURE,
    "data": (NONE, dict),
    "reference_accuracy": Each(NUMBER),
    "artifacts": Required([_ENTRY]),
    "skipped": [{"name": Required(str), "runtime": Required(str), "reason": Required(str)}],
    "not_verified": [str],
    "breaches": [str],
    "inconclusive": [str],
    "environment": dict,
    "ensemble": {
        "test_accuracy": Required(NUMBER),
        "averaged_accuracy": NUMBER,
        "joint_epochs": int,
        "members": Required(_STEP["members"]),
    },
}


def check_manifest(manifest: Any) -> None:
    """Raises FieldError naming the first field of a manifest that no step could use."""
    check(manifest, MANIFEST, "")
    if "classifier" in manifest:
        try:
            Classifier.from_dict(manifest["classifier"])
        except FieldError as error:
            raise FieldError(str(error).replace("field ", "field classifier.", 1)) from None


def check_report(report: Any) -> None:
    """Raises FieldError naming the first field of a report that no reader could use: every evaluation without an
    error carries its figures."""
    check(report, REPORT, "")
    for i, entry in enumerate(report["artifacts"]):
        if entry.get("error") is None:
            for key in ("accuracy", "accuracy_delta", "agreement"):
                if not _fits(entry.get(key), NUMBER):
                    raise FieldError(f"field artifacts[{i}].{key} must be a finite number (the entry has no error)")
