"""report.json (the contract other tools read) and report.md (the same for people) from the parity outcome."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import toolkit
from exporters.base import Normalization
from toolkit.gate.parity import ParityOutcome
from toolkit.gate.verdict import entry_verdict
from toolkit.modeling.convention import describe
from toolkit.run import Run, atomic_write_text, now

UNITS = {
    "accuracy": "percent",
    "accuracy_delta": "percentage points (artifact - reference)",
    "tolerance": "percentage points (largest allowed drop)",
    "agreement": "percent of images with the reference's top-1 class",
    "max_abs_prob_delta": "probability",
    "mean_abs_prob_delta": "probability (mean over images of the largest per-class error)",
    "delta_ci95": "percentage points (95 % CI of accuracy_delta, paired)",
    "mcnemar_p": "exact two-sided McNemar p-value on the discordant images",
    "mcnemar_p_drop": "exact one-sided McNemar p-value of a drop",
}


def build_report(run: Run, outcome: ParityOutcome, references: dict[str, float], seconds: float) -> dict[str, Any]:
    return {
        "verdict": outcome.verdict,
        "passed": outcome.passed,
        "created": now(),
        "edgekit_version": toolkit.__version__,
        "data": run.data_record,
        "reference_accuracy": references,
        # The pixels every consumer feeds: the normalization, and how it was decided (toolkit.modeling.convention).
        "input_convention": run.classifier.normalization.to_dict(),
        "gate_seconds": round(seconds, 2),
        "units": UNITS,
        "artifacts": [{**dataclasses.asdict(r), "verdict": r.verdict} for r in outcome.results],
        "skipped": [dataclasses.asdict(s) for s in outcome.skipped],
        "not_verified": outcome.unverified,
        "breaches": outcome.breaches(),
        "inconclusive": outcome.doubts(),
        # An ensemble's members and the combined model, float, on the test set (toolkit.modeling.ensemble).
        **({"ensemble": _ensemble_summary(run)} if "ensemble" in run.manifest["steps"] else {}),
    }


def _ensemble_summary(run: Run) -> dict[str, Any]:
    step = run.manifest["steps"]["ensemble"]
    return {
        "test_accuracy": step["test_accuracy"],
        # before fine-tuning the combined model as one (older runs: not recorded, nothing was fine-tuned)
        "averaged_accuracy": step.get("averaged_accuracy", step["test_accuracy"]),
        "joint_epochs": step.get("joint_epochs", 0),
        "members": [{k: m[k] for k in ("architecture", "seed", "test_accuracy")} for m in step["members"]],
    }


def keep_previous(
    report: dict[str, Any], previous: dict[str, Any] | None, runtimes: set[str], digests: dict[str, str]
) -> list[tuple[str, str]]:
    """Add the previous report's results in runtimes other than `runtimes` to `report` (a gate restricted with
    `-r`), each marked with `from_previous_run` (when that report was made); the verdict then covers them too.
    Only results about the very files the artifacts hold now (`digests`: name -> Artifact.digest) carry over.

    Returns:
        The (name, runtime) of the results kept.
    """
    if not previous:
        return []
    created = previous.get("created")
    others = [e for e in previous.get("artifacts", []) if e.get("runtime") not in runtimes]
    same = [e for e in others if e.get("digest") == digests.get(e.get("name"))]
    kept = [{**entry, "from_previous_run": entry.get("from_previous_run") or created} for entry in same]
    report.setdefault("inconclusive", [])
    report["inconclusive"] += [  # judged before on other files: nothing holds for these now
        f"{e.get('name')} [{e.get('runtime')}]: its files changed since the report of {created} judged them, and "
        "this gate did not run there (drop -r to judge it again)"
        for e in others
        if e not in same and e.get("name") in digests
    ]
    report["artifacts"] += kept
    report["skipped"] += [s for s in previous.get("skipped", []) if s.get("runtime") not in runtimes]
    verdicts = [entry_verdict(e) for e in kept]
    report["breaches"] += [
        f"{e['name']} [{e['runtime']}]: failed in the previous run ({created})"
        for e, v in zip(kept, verdicts, strict=True)
        if v == "failed"
    ]
    report["inconclusive"] += [
        f"{e['name']} [{e['runtime']}]: inconclusive in the previous run ({created})"
        for e, v in zip(kept, verdicts, strict=True)
        if v == "inconclusive"
    ]
    report["verdict"] = overall(report)
    report["passed"] = report["verdict"] == "passed"
    return [(e["name"], e["runtime"]) for e in kept]


def overall(report: dict[str, Any]) -> str:
    """The report's verdict from its evaluations, reference problems and doubts."""
    verdicts = {entry_verdict(e) for e in report["artifacts"]}
    if "failed" in verdicts or report["breaches"]:
        return "failed"
    if not report["artifacts"] or "inconclusive" in verdicts or report.get("inconclusive"):
        return "inconclusive"
    return "passed"


def strict(value: Any) -> Any:
    """The report with every non-finite float as None: report.json is strict JSON, which has no NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict(v) for v in value]
    return value


def _cell(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _verdict(entry: dict[str, Any]) -> str:
    return {"passed": "pass", "failed": "FAIL", "inconclusive": "inconclusive"}[entry_verdict(entry)]


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# edgekit parity report: {report.get('verdict', 'passed' if report['passed'] else 'failed').upper()}",
        "",
        f"Created {report['created']} by edgekit {report['edgekit_version']}; "
        f"data: {(report['data'] or {}).get('source', '?')}; gate took {report['gate_seconds']} s.",
        "",
        "Reference (Keras) accuracy: "
        + ", ".join(f"{name} {acc:.2f}%" for name, acc in report["reference_accuracy"].items()),
        "",
        *(
            ["The " + describe(Normalization.from_dict(report["input_convention"])) + ".", ""]
            if "input_convention" in report
            else []
        ),
        "| artifact | runtime | images | accuracy % | reference % | delta (pts) | 95% CI (pts) | tolerance (pts) "
        "| detectable drop (pts) | both right / only ref / only artifact / both wrong | McNemar p (drop) "
        "| agreement % | prob error mean / max | size (KB) | verdict |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---|---:|---|",
        *(_markdown_row(a) for a in report["artifacts"]),
    ]
    if "ensemble" in report:
        lines += _ensemble_lines(report["ensemble"])
    if report["breaches"]:
        lines += ["", "## Breaches", ""] + [f"- {b}" for b in report["breaches"]]
    if report.get("inconclusive"):
        lines += ["", "## Inconclusive", ""] + [f"- {d}" for d in report["inconclusive"]]
    for name, debug in report.get("debug", {}).items():
        lines += _debug_lines(name, debug)
    for fix in report.get("fixes", []):
        lines += _fix_lines(fix)
    if report["skipped"]:
        lines += ["", "## Not evaluated", ""] + [
            f"- {s['name']} in {s['runtime']}: {s['reason']}" for s in report["skipped"]
        ]
    return "\n".join(lines) + "\n"


def _markdown_row(a: dict[str, Any]) -> str:
    ci = "-" if a.get("delta_ci95") is None else f"[{a['delta_ci95'][0]:.2f}, {a['delta_ci95'][1]:.2f}]"
    counts = (
        "-"
        if a.get("both_right") is None
        else f"{a['both_right']} / {a['only_reference_right']} / {a['only_artifact_right']} / {a['both_wrong']}"
    )
    p = "-" if a.get("mcnemar_p") is None else f"{a['mcnemar_p']:.3g} ({a['mcnemar_p_drop']:.3g})"
    return (
        f"| {a['name']} | {a['runtime']} | {a['images']} | {_cell(a['accuracy'])} | "
        f"{_cell(a['reference_accuracy'])} ({a['source']}) | {_cell(a['accuracy_delta'])} | {ci} | "
        f"{a['tolerance']} | {_cell(a.get('detectable_drop'))} | {counts} | {p} | {_cell(a['agreement'])} | "
        f"{_cell(a.get('mean_abs_prob_delta'), 5)} / {_cell(a['max_abs_prob_delta'], 5)} | "
        f"{a['size_bytes'] / 1024:.0f} | {_verdict(a)}"
        f"{' (previous run)' if a.get('from_previous_run') else ''}"
        f"{' (outputs kept from ' + a['kept_from'] + ')' if a.get('kept_from') else ''} |"
    )


def _ensemble_lines(ensemble: dict[str, Any]) -> list[str]:
    lines = ["", f"## Ensemble: {ensemble['test_accuracy']:.2f}% float test accuracy", ""]
    if ensemble["joint_epochs"]:
        lines += [
            f"Members averaged: {ensemble['averaged_accuracy']:.2f}%; then fine-tuned as one model for "
            f"{ensemble['joint_epochs']} epoch(s).",
            "",
        ]
    members = enumerate(ensemble["members"])
    return lines + [
        f"- member {i}: {m['architecture']}, seed {m['seed']}: {m['test_accuracy']:.2f}%" for i, m in members
    ]


def _snr_lines(snr: dict[str, Any] | None) -> list[str]:
    if not snr:
        return []
    lines = ["", f"By the LiteRT quantizer ({snr.get('metric', 'SNR')}):", ""]
    if "error" in snr:
        return lines + [f"- {snr['error']}"]
    return lines + [f"- {t['tensor']}: {_cell(t['snr_db'])} dB" for t in snr["worst_tensors"]]


def _debug_lines(name: str, debug: dict[str, Any]) -> list[str]:
    lines = ["", f"## Worst int8 layers of {name} (QuantizationDebugger, {debug.get('metric', '')})", ""]
    if "error" in debug:
        return lines + [f"- {debug['error']}"] + _snr_lines(debug.get("quantizer_snr"))
    lines += [
        f"- {w['node']} ({w['op']}): {w['relative_rmse']:.2f}{' SUSPECT' if w['suspect'] else ''}"
        for w in debug["worst_layers"]
    ]
    return lines + _snr_lines(debug.get("quantizer_snr"))


def _fix_lines(fix: dict[str, Any]) -> list[str]:
    outcome = "fixed by " + fix["remedy"] if fix["fixed"] else "not fixed"
    lines = ["", f"## --fix on {fix['artifact']}: {outcome}", ""]
    lines += [f"- tried {t['remedy']}: {t.get('verdict') or ('pass' if t['passed'] else 'fail')}" for t in fix["tried"]]
    if fix["fixed"]:
        size, latency = fix["size_bytes"], fix["latency_ms_per_image"]
        lines.append(
            f"- cost: {size['before'] / 1024:.0f} -> {size['after'] / 1024:.0f} KB, "
            f"{latency['before']:.3f} -> {latency['after']:.3f} ms per image (LiteRT, 1 thread)"
        )
        lines += _recipe_lines(fix.get("recipe"))
    return lines


def _recipe_lines(recipe: dict[str, Any] | None) -> list[str]:
    """The kept file's recipe: variant, backend, per-layer precision, and whether it is fully integer."""
    if not recipe:
        return []
    layers = "; ".join(f"{o['layers']} -> {o['precision']}" for o in recipe.get("overrides", []))
    lines = [
        f"- recipe: {recipe['variant']} by {recipe.get('backend', '?')}"
        + (f", per layer: {layers}" if layers else "")
        + (", fully integer" if recipe.get("fully_integer") else f", float ops: {', '.join(recipe['float_ops'])}")
    ]
    if recipe.get("speed"):
        lines.append(f"- speed: {recipe['speed']}")
    return lines


def write_report(run: Run, report: dict[str, Any]) -> None:
    atomic_write_text(run.report_path, json.dumps(strict(report), indent=2, allow_nan=False) + "\n")
    atomic_write_text(run.report_md_path, render_markdown(report))
