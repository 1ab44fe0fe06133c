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
        "not_verified": outcome.unverified,
        "breaches": outcome.breaches(),
    }


def _cell(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _verdict(entry: dict[str, Any]) -> str:
    if entry.get("diagnostic"):
        return "diagnostic (ok)" if entry["passed"] else "diagnostic (differs)"
    return "pass" if entry["passed"] else "FAIL"


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
            f"{_verdict(a)} |"
        )
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
