"""The parity gate: check every artifact's files, evaluate it in its runtimes against its Keras reference, judge."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import threading
import time
from collections.abc import Callable

import numpy as np

from exporters.base import Artifact
from toolkit.config import Bounds, ParityConfig
from toolkit.errors import InputError, first_line
from toolkit.gate.integrity import disk_size, file_problems, missing
from toolkit.gate.stats import accuracy
from toolkit.gate.trust import contract_problems
from toolkit.gate.verdict import POWER, breaches, inconclusive, measure, reference_problem
from toolkit.run import Run
from toolkit.runtimes import RUNTIMES, Runtime, chosen, runtimes_for
from toolkit.runtimes.base import NotStarted


@dataclasses.dataclass
class ParityResult:
    """One artifact evaluated in one runtime. Accuracies, deltas, tolerance and agreement are in percent."""

    name: str
    format: str
    variant: str
    source: str  # the Keras model it was converted from and is compared with: "float" or "qat"
    path: str
    runtime: str
    images: int
    accuracy: float | None  # None only when the runtime failed (see error)
    reference_accuracy: float | None
    accuracy_delta: float | None  # artifact minus reference, in percentage points
    agreement: float | None  # share of images where artifact and reference pick the same class
    max_abs_prob_delta: float | None
    tolerance: float  # practical margin: a significant accuracy drop up to this passes, in percentage points
    min_agreement: float
    passed: bool
    size_bytes: int  # on disk, whatever the contract claims
    seconds: float
    float_accuracy: float | None = None  # for QAT artifacts: the float model's accuracy on the same images
    error: str | None = None
    # When the gate that evaluated these unchanged files ran, if this gate scored its kept outputs (see
    # toolkit.gate.kept) rather than starting the runtime's engine again.
    kept_from: str | None = None
    # Paired with the reference on the same images (see toolkit.gate.stats); None when nothing was evaluated.
    both_right: int | None = None
    only_reference_right: int | None = None
    only_artifact_right: int | None = None
    both_wrong: int | None = None
    mcnemar_p: float | None = None  # exact two-sided
    mcnemar_p_drop: float | None = None  # exact one-sided: "the artifact is less accurate"
    delta_ci95: list[float] | None = None  # 95 % CI of accuracy_delta, percentage points
    mean_abs_prob_delta: float | None = None  # mean over images of the largest |p - p_reference|
    max_mean_prob_error: float | None = None
    significance: float | None = None
    non_finite: int | None = None
    reasons: list[str] = dataclasses.field(default_factory=list)  # why it failed
    # The smallest drop (points) these images could have shown with 80 % power; None when nothing was evaluated.
    detectable_drop: float | None = None
    inconclusive: str | None = None  # why it neither passed nor failed: the test set could not have seen a drop
    digest: str | None = None  # Artifact.digest of the files judged: a verdict holds for these files only
    engine: str | None = None  # the browser engine of a browser runtime (chromium, firefox, webkit)
    backend: str | None = None  # the TF.js backend of a JavaScript runtime (wasm, webgl, webgl-f16, webgpu)

    @property
    def verdict(self) -> str:
        return (
            "failed" if not self.passed and not self.inconclusive else "inconclusive" if self.inconclusive else "passed"
        )

    def summary(self) -> str:
        """One line for the console."""
        word = {"passed": "ok  ", "failed": "FAIL", "inconclusive": "????"}[self.verdict]
        head = f"{word}  {self.name:<21} {self.runtime:<23}"
        if self.error:
            return f"{head} {self.error}"
        when = f"outputs kept from the gate of {self.kept_from}" if self.kept_from else f"{self.seconds:.1f} s"
        return (
            f"{head} {self.accuracy:6.2f}% (ref {self.reference_accuracy:.2f}%, "
            f"agreement {self.agreement:.2f}%, {self.images} images, {when})"
        )

    def breach(self) -> str:
        """Why it failed, in one line."""
        if self.error:
            return f"{self.name} [{self.runtime}]: {self.error}"
        return f"{self.name} [{self.runtime}]: " + "; ".join(self.reasons)


@dataclasses.dataclass
class Skipped:
    name: str
    runtime: str
    reason: str


# A TF.js artifact is verified only by a JavaScript runtime; where none can run, this is what to do.
NOT_VERIFIED = (
    "not verified: no JavaScript runtime ran it here (install Node.js and `npm ci --prefix web_demo`, "
    "or export without TF.js: --no-tfjs or [export] tfjs = false)"
)


@dataclasses.dataclass
class ParityOutcome:
    results: list[ParityResult]
    skipped: list[Skipped]
    unverified: list[str] = dataclasses.field(default_factory=list)  # artifacts no verifying runtime evaluated
    # Each evaluation's probabilities by (artifact name, runtime): what the HTML report is drawn from.
    predictions: dict[tuple[str, str], np.ndarray] = dataclasses.field(default_factory=dict)
    # Why a reference model cannot vouch for anything ("float: scores 10.00 % ..."): each fails the gate.
    reference_problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def verdict(self) -> str:
        """failed when anything failed; inconclusive when nothing failed but something could not be known; else
        passed (which needs at least one evaluation)."""
        if self.reference_problems or any(r.verdict == "failed" for r in self.results):
            return "failed"
        if not self.results or self.unverified or any(r.verdict == "inconclusive" for r in self.results):
            return "inconclusive"
        return "passed"

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"

    def breaches(self) -> list[str]:
        """Why the gate failed, one line each."""
        failed = [r.breach() for r in self.results if r.verdict == "failed"]
        return [f"reference {problem}" for problem in self.reference_problems] + failed

    def doubts(self) -> list[str]:
        """Why the gate could not decide, one line each (its verdict is inconclusive when nothing failed)."""
        evaluated = [f"{r.name} [{r.runtime}]: {r.inconclusive}" for r in self.results if r.verdict == "inconclusive"]
        return evaluated + [f"{name}: {NOT_VERIFIED}" for name in self.unverified]


def compare(
    artifact: Artifact,
    runtime: str,
    probabilities: np.ndarray,
    reference: np.ndarray,
    labels: np.ndarray,
    bounds: Bounds,
    float_reference: np.ndarray | None = None,
    seconds: float = 0.0,
    size_bytes: int | None = None,
) -> ParityResult:
    """Score one artifact's probabilities against its reference's on the same images, and apply the verdict.

    The gate is one-sided: an artifact may be more accurate than its reference; see toolkit.gate.verdict for the rule.
    """
    evidence = measure(probabilities, reference, labels)
    reasons = breaches(evidence, bounds)
    doubt = None if reasons else inconclusive(evidence, bounds)
    p = evidence.paired
    return ParityResult(
        name=artifact.name,
        format=artifact.format.value,
        variant=artifact.variant.value,
        source=artifact.source,
        path=artifact.path,
        runtime=runtime,
        images=len(labels),
        accuracy=round(evidence.accuracy, 4),
        reference_accuracy=round(evidence.reference_accuracy, 4),
        accuracy_delta=round(evidence.accuracy_delta, 4),
        agreement=round(evidence.agreement, 4),
        max_abs_prob_delta=evidence.max_abs_prob_delta,
        tolerance=bounds.tolerance,
        min_agreement=bounds.min_agreement,
        passed=not reasons and not doubt,
        size_bytes=artifact.size_bytes if size_bytes is None else size_bytes,
        seconds=round(seconds, 3),
        float_accuracy=None if float_reference is None else round(accuracy(float_reference, labels), 4),
        both_right=p.both_right,
        only_reference_right=p.only_reference_right,
        only_artifact_right=p.only_artifact_right,
        both_wrong=p.both_wrong,
        mcnemar_p=p.p_value,
        mcnemar_p_drop=p.p_drop,
        delta_ci95=list(p.delta_ci),
        mean_abs_prob_delta=evidence.mean_abs_prob_delta,
        max_mean_prob_error=bounds.max_mean_prob_error,
        significance=bounds.significance,
        non_finite=evidence.non_finite,
        reasons=reasons,
        detectable_drop=round(p.detectable_drop(bounds.significance, POWER), 4),
        inconclusive=doubt,
        digest=artifact.digest,
    )


def plan(artifacts: list[Artifact], config: ParityConfig) -> tuple[list[tuple[Artifact, Runtime]], list[Skipped]]:
    """The evaluations the gate will run, (artifact, runtime), and those that cannot run here: the first line.

    The default runtimes and those the targets choose run; `-r` (config.runtimes) narrows that down, and may name
    any runtime."""
    evaluations, skipped = [], []
    matrix = chosen(config.targets)
    for artifact in artifacts:
        for runtime in runtimes_for(artifact.format):
            if runtime.name not in (config.runtimes if config.runtimes is not None else matrix):
                continue
            if not runtime.takes(artifact):
                continue
            reason = runtime.unavailable() or runtime.refuses(artifact)
            if reason:
                skipped.append(Skipped(artifact.name, runtime.name, reason))
            else:
                evaluations.append((artifact, runtime))
    return evaluations, skipped


def unverified(
    artifacts: list[Artifact], evaluations: list[tuple[Artifact, Runtime]], config: ParityConfig
) -> list[str]:
    """Artifacts no runtime will evaluate, unless the user's --runtime left out every runtime that could."""
    verified = {artifact.name for artifact, _ in evaluations}
    names = []
    for artifact in artifacts:
        wanted = [
            r
            for r in runtimes_for(artifact.format)
            if r.name in (config.runtimes or chosen(config.targets)) and r.takes(artifact)
        ]
        if wanted and artifact.name not in verified:
            names.append(artifact.name)
    return names


def check_parity(
    run: Run,
    artifacts: list[Artifact],
    images: np.ndarray,
    labels: np.ndarray,
    references: dict[str, np.ndarray],
    config: ParityConfig,
    progress: Callable[[str], None] = lambda _: None,
    expected: list[str] | None = None,
    kept: dict[tuple[str, str], tuple[np.ndarray, float, str]] | None = None,
) -> ParityOutcome:
    """Check every artifact's files, then evaluate it in every runtime that can run its format here, and gate each.

    Args:
        run: the run (or a directory laid out like one) holding the artifacts.
        artifacts: the artifacts to check.
        images: raw test images, pixels 0..255 (see Predictor); labels: (N,) ints.
        references: Keras probabilities on `images` by model name ("float", "qat").
        config: tolerances, agreement thresholds and (optionally) the runtimes to use.
        progress: called with one line per evaluation.
        expected: the artifact names the run's export step recorded; any of them absent fails.
        kept: outputs of earlier evaluations of these same files and images, {(name, runtime): (probabilities,
            seconds, when)}: scored as they are instead of running the runtime (toolkit.gate.kept decides).
    """
    unknown = sorted(set(config.runtimes or []) - set(RUNTIMES))
    if unknown:
        raise InputError(f"unknown runtime {', '.join(unknown)} (known: {', '.join(RUNTIMES)})")
    results = []
    for name in missing(expected, artifacts):
        results.append(_failure(name, "files", "the run lists this artifact but its directory or contract is missing"))
        progress(results[-1].summary())
    intact = []
    for artifact in artifacts:
        problems = contract_problems(run, artifact) + file_problems(run.artifact_dir(artifact), artifact)
        if problems:  # never evaluate a file that is not the one recorded: the verdict would be about another model
            result = _failure(
                artifact.name,
                "files",
                "the artifact is not what the run recorded: " + "; ".join(problems),
                artifact,
                disk_size(run.artifact_dir(artifact), artifact),
                config,
            )
            results.append(result)
            progress(result.summary())
        else:
            intact.append(artifact)
    evaluations, skipped = plan(intact, config)
    skipped = _not_here(skipped, intact, config, results, progress)
    outcome = ParityOutcome(results, skipped, unverified(intact, evaluations, config))
    if not config.allow_chance_reference:
        found = {name: reference_problem(p, labels, config.significance) for name, p in references.items()}
        outcome.reference_problems = [f"{name}: {problem}" for name, problem in found.items() if problem]
    for problem in outcome.reference_problems:
        progress(f"FAIL  reference {problem}")
    for name in outcome.unverified:
        progress(f"????  {name:<21} {NOT_VERIFIED}")
    _run_all(evaluations, run, images, labels, references, config, progress, outcome, kept or {})
    return outcome


def _not_here(skipped: list[Skipped], artifacts: list[Artifact], config, results: list, progress) -> list[Skipped]:
    """Report the evaluations that cannot run here: a default runtime's are skipped (the returned list), while a
    runtime chosen on purpose (a browser target) that cannot run is not verified, never quietly left out."""
    artifact_of = {artifact.name: artifact for artifact in artifacts}
    for skip in skipped:
        runtime = RUNTIMES[skip.runtime]
        if runtime.default:
            progress(f"skip  {skip.name:<21} {skip.runtime:<23} {skip.reason}")
        else:
            results.append(_not_verified(artifact_of[skip.name], runtime, skip.reason, config))
            progress(results[-1].summary())
    return [skip for skip in skipped if RUNTIMES[skip.runtime].default]


def _run_all(
    evaluations, run: Run, images, labels, references, config, progress, outcome: ParityOutcome, kept: dict
) -> None:
    """Evaluate and gate every (artifact, runtime). Runtimes that start an engine of their own (Node, browsers) get
    all their artifacts at once, one thread per lane, beside the in-process runtimes in registry order (LiteRT,
    quick, before TensorFlow's, slow to start); kept outputs are scored first."""
    done: dict[int, ParityResult] = {}
    lock = threading.Lock()

    def gate(index: int, probabilities: np.ndarray | Exception, seconds: float, kept_from: str | None = None) -> None:
        artifact, runtime = evaluations[index]
        result = _score(artifact, runtime, probabilities, labels, references, config, seconds)
        result.kept_from = kept_from
        if result.verdict == "failed" and not result.error and runtime.explain is not None:
            note = runtime.explain(run.artifact_dir(artifact), artifact, images)
            result.reasons += [note] if note else []
        with lock:
            done[index] = result
            if not isinstance(probabilities, Exception) and not result.error:
                outcome.predictions[(result.name, result.runtime)] = probabilities
            progress(f"[{len(done)}/{len(evaluations)}] {result.summary()}")

    def one_by_one(indices: list[int]) -> None:
        for index in indices:
            artifact, runtime = evaluations[index]
            start = time.perf_counter()
            try:
                probabilities = runtime.load(run.artifact_dir(artifact), artifact).predict(images)
            except Exception as error:  # a runtime that cannot load or run the artifact fails its gate
                probabilities = error
            gate(index, probabilities, time.perf_counter() - start)

    def all_at_once(runtime: Runtime, indices: list[int]) -> None:
        start = time.perf_counter()
        try:
            items = [evaluations[i][0] for i in indices]
            outputs = runtime.predict_many([runtime.load(run.artifact_dir(a), a) for a in items], images)
        except Exception as error:
            outputs = [error] * len(indices)
        seconds = (time.perf_counter() - start) / max(len(indices), 1)  # the engine's start-up shared out
        for index, probabilities in zip(indices, outputs, strict=True):
            gate(index, probabilities, seconds)

    by_runtime: dict[str, list[int]] = {}
    for index, (artifact, runtime) in enumerate(evaluations):
        if (artifact.name, runtime.name) in kept:
            probabilities, seconds, when = kept[(artifact.name, runtime.name)]
            gate(index, probabilities, seconds, when)
        else:
            by_runtime.setdefault(runtime.name, []).append(index)
    order = list(RUNTIMES)
    batched = [name for name in sorted(by_runtime, key=order.index) if RUNTIMES[name].predict_many is not None]
    in_process = [i for name in sorted(by_runtime, key=order.index) if name not in batched for i in by_runtime[name]]
    lanes = _lanes(batched)

    def lane(names: list[str]) -> None:
        for name in names:
            all_at_once(RUNTIMES[name], by_runtime[name])

    with concurrent.futures.ThreadPoolExecutor(max(len(lanes), 1), thread_name_prefix="edgekit-gate") as pool:
        futures = [pool.submit(lane, names) for names in lanes]
        one_by_one(in_process)
        for future in futures:
            future.result()
    outcome.results += [done[i] for i in range(len(evaluations))]


def _lanes(names: list[str]) -> list[list[str]]:
    """Runtimes grouped by lane, in the order given: each lane's run one after the other, the lanes side by side."""
    lanes: dict[str, list[str]] = {}
    for name in names:
        lanes.setdefault(RUNTIMES[name].lane or name, []).append(name)
    return list(lanes.values())


def _score(artifact, runtime, probabilities, labels, references, config, seconds) -> ParityResult:
    """Gate one evaluation: its probabilities, or the exception its runtime raised."""
    reference = references[artifact.source]
    if not isinstance(probabilities, Exception) and probabilities.shape != reference.shape:
        probabilities = ValueError(f"returned shape {probabilities.shape}, expected {reference.shape}")
    if isinstance(probabilities, NotStarted):
        result = _not_verified(artifact, runtime, first_line(probabilities), config, seconds)
    elif isinstance(probabilities, Exception):
        detail = f"{type(probabilities).__name__}: {first_line(probabilities)}"
        result = _failure(artifact.name, runtime.name, detail, artifact, artifact.size_bytes, config, seconds)
    else:
        float_reference = references["float"] if artifact.source != "float" else None
        bounds = config.bounds(artifact.variant.value)
        result = compare(artifact, runtime.name, probabilities, reference, labels, bounds, float_reference, seconds)
    result.engine, result.backend = runtime.engine, runtime.backend
    return result


def _not_verified(artifact: Artifact, runtime: Runtime, reason: str, config, seconds: float = 0.0) -> ParityResult:
    """An evaluation that could not happen here (its browser or backend did not start): inconclusive, not passed."""
    result = _failure(artifact.name, runtime.name, reason, artifact, artifact.size_bytes, config, seconds)
    result.inconclusive = f"not verified: {reason}"
    result.engine, result.backend = runtime.engine, runtime.backend
    return result


def _failure(
    name: str,
    runtime: str,
    error: str,
    artifact: Artifact | None = None,
    size_bytes: int = 0,
    config: ParityConfig | None = None,
    seconds: float = 0.0,
) -> ParityResult:
    """A failed evaluation that produced no figures: missing or changed files, or a runtime that failed."""
    bounds = config.bounds(artifact.variant.value) if artifact and config else None
    return ParityResult(
        name=name,
        format=artifact.format.value if artifact else "",
        variant=artifact.variant.value if artifact else "",
        source=artifact.source if artifact else "",
        path=artifact.path if artifact else "",
        runtime=runtime,
        images=0,
        accuracy=None,
        reference_accuracy=None,
        accuracy_delta=None,
        agreement=None,
        max_abs_prob_delta=None,
        tolerance=bounds.tolerance if bounds else 0.0,
        min_agreement=bounds.min_agreement if bounds else 0.0,
        passed=False,
        size_bytes=size_bytes,
        seconds=round(seconds, 3),
        error=error,
        digest=artifact.digest if artifact else None,
    )
