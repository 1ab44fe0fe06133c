"""The parity gate: evaluate every artifact in its runtimes, compare with its Keras reference, apply the tolerance."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import threading
import time
from collections.abc import Callable

import numpy as np

from exporters.base import Artifact
from toolkit.config import ParityConfig
from toolkit.errors import InputError, first_line
from toolkit.metrics import accuracy
from toolkit.runtimes import RUNTIMES, Runtime, runtimes_for


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
    tolerance: float  # largest accuracy drop allowed, in percentage points
    min_agreement: float
    passed: bool
    size_bytes: int
    seconds: float
    float_accuracy: float | None = None  # for QAT artifacts: the float model's accuracy on the same images
    error: str | None = None

    def summary(self) -> str:
        """One line for the console."""
        head = f"{'ok  ' if self.passed else 'FAIL'}  {self.name:<18} {self.runtime:<18}"
        if self.error:
            return f"{head} {self.error}"
        return (
            f"{head} {self.accuracy:6.2f}% (ref {self.reference_accuracy:.2f}%, "
            f"agreement {self.agreement:.2f}%, {self.images} images, {self.seconds:.1f} s)"
        )

    def breach(self) -> str:
        """Why it failed, in one line."""
        if self.error:
            return f"{self.name} [{self.runtime}]: {self.error}"
        reasons = []
        if -self.accuracy_delta > self.tolerance:
            reasons.append(
                f"accuracy {self.accuracy:.2f}% is {-self.accuracy_delta:.2f} points below the "
                f"{self.source} model ({self.reference_accuracy:.2f}%), tolerance {self.tolerance}"
            )
        if self.agreement < self.min_agreement:
            reasons.append(f"top-1 agreement {self.agreement:.2f}% < {self.min_agreement}%")
        return f"{self.name} [{self.runtime}]: " + "; ".join(reasons)


@dataclasses.dataclass
class Skipped:
    name: str
    runtime: str
    reason: str


@dataclasses.dataclass
class ParityOutcome:
    results: list[ParityResult]
    skipped: list[Skipped]
    # Each evaluation's probabilities by (artifact name, runtime): what the HTML report is drawn from.
    predictions: dict[tuple[str, str], np.ndarray] = dataclasses.field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    def breaches(self) -> list[str]:
        return [r.breach() for r in self.results if not r.passed]


def compare(
    artifact: Artifact,
    runtime: str,
    probabilities: np.ndarray,
    reference: np.ndarray,
    labels: np.ndarray,
    tolerance: float,
    min_agreement: float,
    float_reference: np.ndarray | None = None,
    seconds: float = 0.0,
) -> ParityResult:
    """Score one artifact's probabilities against its reference's on the same images.

    The gate is one-sided: an artifact may be more accurate than its reference, never less than
    `tolerance` points below it; and it must pick the reference's class on at least `min_agreement` % of images.
    """
    acc, ref_acc = accuracy(probabilities, labels), accuracy(reference, labels)
    agreement = float(np.mean(np.argmax(probabilities, 1) == np.argmax(reference, 1)) * 100)
    delta = acc - ref_acc
    return ParityResult(
        name=artifact.name,
        format=artifact.format.value,
        variant=artifact.variant.value,
        source=artifact.source,
        path=artifact.path,
        runtime=runtime,
        images=len(labels),
        accuracy=round(acc, 4),
        reference_accuracy=round(ref_acc, 4),
        accuracy_delta=round(delta, 4),
        agreement=round(agreement, 4),
        max_abs_prob_delta=float(np.max(np.abs(probabilities - reference))),
        tolerance=tolerance,
        min_agreement=min_agreement,
        # Rounded so that a drop of exactly the tolerance passes whatever the float noise.
        passed=round(-delta, 6) <= tolerance and agreement >= min_agreement,
        size_bytes=artifact.size_bytes,
        seconds=round(seconds, 3),
        float_accuracy=None if float_reference is None else round(accuracy(float_reference, labels), 4),
    )


def plan(artifacts: list[Artifact], config: ParityConfig) -> tuple[list[tuple[Artifact, Runtime]], list[Skipped]]:
    """The evaluations the gate will run, (artifact, runtime) in report order, and those that cannot run here."""
    unknown = sorted(set(config.runtimes or []) - set(RUNTIMES))
    if unknown:
        raise InputError(f"unknown runtime {', '.join(unknown)} (known: {', '.join(RUNTIMES)})")
    evaluations, skipped = [], []
    for artifact in artifacts:
        for runtime in runtimes_for(artifact.format):
            if config.runtimes is not None and runtime.name not in config.runtimes:
                continue
            reason = runtime.unavailable()
            if reason:
                skipped.append(Skipped(artifact.name, runtime.name, reason))
            else:
                evaluations.append((artifact, runtime))
    return evaluations, skipped


def check_parity(
    artifacts: list[Artifact],
    run_path,
    images: np.ndarray,
    labels: np.ndarray,
    references: dict[str, np.ndarray],
    config: ParityConfig,
    progress: Callable[[str], None] = lambda _: None,
) -> ParityOutcome:
    """Evaluate every artifact in every runtime that can run its format here, and gate each evaluation.

    Runtimes that start an engine of their own (Node, Chromium) get all their artifacts at once, in a thread
    each, so they run beside the in-process runtimes on another core.

    Args:
        artifacts: the run's artifacts.
        run_path: the run directory the artifact paths are relative to.
        images: float32 (N, 28, 28) test images in [0, 1]; labels: (N,) ints.
        references: Keras probabilities on `images` by model name ("float", "qat").
        config: tolerances, agreement thresholds and (optionally) the runtimes to use.
        progress: called with one line per evaluation, as each finishes.
    """
    evaluations, skipped = plan(artifacts, config)
    for s in skipped:
        progress(f"skip  {s.name:<18} {s.runtime:<18} {s.reason}")
    done: dict[int, ParityResult] = {}
    predictions: dict[tuple[str, str], np.ndarray] = {}
    lock = threading.Lock()

    def finish(index: int, result: ParityResult, probabilities: np.ndarray | None) -> None:
        with lock:
            done[index] = result
            if probabilities is not None:
                predictions[(result.name, result.runtime)] = probabilities
            progress(f"[{len(done)}/{len(evaluations)}] {result.summary()}")

    def gate(index: int, probabilities: np.ndarray | Exception, seconds: float) -> None:
        artifact, runtime = evaluations[index]
        result = _score(artifact, runtime, probabilities, labels, references, config, seconds)
        finish(index, result, None if result.error else probabilities)

    def one_by_one(indices: list[int]) -> None:
        for index in indices:
            artifact, runtime = evaluations[index]
            start = time.perf_counter()
            try:
                probabilities = runtime.load(run_path / artifact.path, artifact).predict(images)
            except Exception as error:  # a runtime that cannot load or run the artifact fails its gate
                probabilities = error
            gate(index, probabilities, time.perf_counter() - start)

    def all_at_once(runtime: Runtime, indices: list[int]) -> None:
        start = time.perf_counter()
        try:
            predictors = [runtime.load(run_path / evaluations[i][0].path, evaluations[i][0]) for i in indices]
            outputs = runtime.predict_many(predictors, images)
        except Exception as error:
            outputs = [error] * len(indices)
        seconds = (time.perf_counter() - start) / max(len(indices), 1)  # the engine's start-up shared out
        for index, probabilities in zip(indices, outputs, strict=True):
            gate(index, probabilities, seconds)

    by_runtime: dict[str, list[int]] = {}
    for index, (_, runtime) in enumerate(evaluations):
        by_runtime.setdefault(runtime.name, []).append(index)
    batched = [name for name in by_runtime if RUNTIMES[name].predict_many is not None]
    in_process = [i for name, indices in by_runtime.items() if name not in batched for i in indices]
    with concurrent.futures.ThreadPoolExecutor(max(len(batched), 1), thread_name_prefix="edgekit-gate") as pool:
        futures = [pool.submit(all_at_once, RUNTIMES[name], by_runtime[name]) for name in batched]
        one_by_one(in_process)
        for future in futures:
            future.result()
    return ParityOutcome([done[i] for i in range(len(evaluations))], skipped, predictions)


def _score(
    artifact: Artifact,
    runtime: Runtime,
    probabilities: np.ndarray | Exception,
    labels: np.ndarray,
    references: dict[str, np.ndarray],
    config: ParityConfig,
    seconds: float,
) -> ParityResult:
    """Gate one evaluation: its probabilities, or the exception its runtime raised."""
    reference = references[artifact.source]
    if not isinstance(probabilities, Exception) and probabilities.shape != reference.shape:
        probabilities = ValueError(f"returned shape {probabilities.shape}, expected {reference.shape}")
    if isinstance(probabilities, Exception):
        return _failed(artifact, runtime, probabilities, config, seconds)
    float_reference = references["float"] if artifact.source != "float" else None
    return compare(
        artifact,
        runtime.name,
        probabilities,
        reference,
        labels,
        config.tolerances[artifact.variant.value],
        config.min_agreement[artifact.variant.value],
        float_reference,
        seconds,
    )


def _failed(artifact: Artifact, runtime: Runtime, error: Exception, config: ParityConfig, seconds: float):
    """A runtime that cannot load or run the artifact fails its gate, with the reason."""
    return ParityResult(
        name=artifact.name,
        format=artifact.format.value,
        variant=artifact.variant.value,
        source=artifact.source,
        path=artifact.path,
        runtime=runtime.name,
        images=0,
        accuracy=None,
        reference_accuracy=None,
        accuracy_delta=None,
        agreement=None,
        max_abs_prob_delta=None,
        tolerance=config.tolerances[artifact.variant.value],
        min_agreement=config.min_agreement[artifact.variant.value],
        passed=False,
        size_bytes=artifact.size_bytes,
        seconds=round(seconds, 3),
        error=f"{type(error).__name__}: {first_line(error)}",
    )
