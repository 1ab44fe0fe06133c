"""report.json (the contract other tools read) and report.md (the same for people) from the parity outcome."""

from __future__ import annotations

import dataclasses
from typing import Any

import toolkit
from toolkit.parity import ParityOutcome
from toolkit.run import Run, atomic_write_json, atomic_write_text, now

UNITS = {
    "accuracy": "percent",
    "accuracy_delta": "percentage points (artifact - reference)",
    "tolerance": "percentage points (largest allowed drop)",
    "agreement": "percent of images with the reference's top-1 class",
    "max_abs_prob_delta": "probability",
}


def build_report(run: Run, outcome: ParityOutcome, references: dict[str, float], seconds: float) -> dict[str, Any]:
    return {
        "passed": outcome.passed,
        "created": now(),
        "edgekit_version": toolkit.__version__,
        "data": run.data_record,
        "reference_accuracy": references,
        "gate_seconds": round(seconds, 2),
        "units": UNITS,
        "artifacts": [dataclasses.asdict(r) for r in outcome.results],
        "skipped": [dataclasses.asdict(s) for s in outcome.skipped],
        "breaches": outcome.breaches(),
        # An ensemble's members and the combined model, float, on the test set (toolkit.ensemble).
        **({"ensemble": _ensemble_summary(run)} if "ensemble" in run.manifest["steps"] else {}),
    }


def _ensemble_summary(run: Run) -> dict[str, Any]:
    step = run.manifest["steps"]["ensemble"]
    return {
        "test_accuracy": step["test_accuracy"],
        "members": [{k: m[k] for k in ("architecture", "seed", "test_accuracy")} for m in step["members"]],
    }


def keep_previous(report: dict[str, Any], previous: dict[str, Any] | None, runtimes: set[str]) -> int:
    """Add the previous report's results in runtimes other than `runtimes` to `report` (a gate restricted with
    `-r`), each marked with `from_previous_run` (when that report was made); the verdict then covers them too.

    Returns:
        How many results were kept.
    """
    if not previous:
        return 0
    created = previous.get("created")
    kept = [
        {**entry, "from_previous_run": entry.get("from_previous_run") or created}
        for entry in previous.get("artifacts", [])
        if entry.get("runtime") not in runtimes
    ]
    report["artifacts"] += kept
    report["skipped"] += [s for s in previous.get("skipped", []) if s.get("runtime") not in runtimes]
    report["breaches"] += [
        f"{e['name']} [{e['runtime']}]: failed in the previous run ({created})" for e in kept if not e.get("passed")
    ]
    report["passed"] = bool(report["artifacts"]) and all(e.get("passed") for e in report["artifacts"])
    return len(kept)


def _cell(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# edgekit parity report: {'PASSED' if report['passed'] else 'FAILED'}",
        "",
        f"Created {report['created']} by edgekit {report['edgekit_version']}; "
        f"data: {(report['data'] or {}).get('source', '?')}; gate took {report['gate_seconds']} s.",
        "",
        "Reference (Keras) accuracy: "
        + ", ".join(f"{name} {acc:.2f}%" for name, acc in report["reference_accuracy"].items()),
        "",
        "| artifact | runtime | images | accuracy % | reference % | delta (pts) | tolerance (pts) | agreement % "
        "| max abs prob delta | size (KB) | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for a in report["artifacts"]:
        lines.append(
            f"| {a['name']} | {a['runtime']} | {a['images']} | {_cell(a['accuracy'])} | "
            f"{_cell(a['reference_accuracy'])} ({a['source']}) | {_cell(a['accuracy_delta'])} | {a['tolerance']} | "
            f"{_cell(a['agreement'])} | {_cell(a['max_abs_prob_delta'], 5)} | {a['size_bytes'] / 1024:.0f} | "
            f"{'pass' if a['passed'] else 'FAIL'}{' (previous run)' if a.get('from_previous_run') else ''} |"
        )
    if "ensemble" in report:
        ensemble = report["ensemble"]
        lines += ["", f"## Ensemble: {ensemble['test_accuracy']:.2f}% float test accuracy", ""]
        lines += [
            f"- member {i}: {m['architecture']}, seed {m['seed']}: {m['test_accuracy']:.2f}%"
            for i, m in enumerate(ensemble["members"])
        ]
    if report["breaches"]:
        lines += ["", "## Breaches", ""] + [f"- {b}" for b in report["breaches"]]
    if report["skipped"]:
        lines += ["", "## Not evaluated", ""] + [
            f"- {s['name']} in {s['runtime']}: {s['reason']}" for s in report["skipped"]
        ]
    return "\n".join(lines) + "\n"


def write_report(run: Run, report: dict[str, Any]) -> None:
    atomic_write_json(run.path / "report.json", report)
    atomic_write_text(run.path / "report.md", render_markdown(report))
