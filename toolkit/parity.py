"""The parity gate: evaluate every artifact in its runtimes, compare with its Keras reference, apply the tolerance."""

from __future__ import annotations

import dataclasses
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
    diagnostic: bool = False  # from a runtime that never makes an artifact pass or fail (tfjs-python)

    def summary(self) -> str:
        """One line for the console."""
        verdict = ("info" if self.passed else "diag") if self.diagnostic else ("ok  " if self.passed else "FAIL")
        head = f"{verdict}  {self.name:<18} {self.runtime:<18}"
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

    @property
    def passed(self) -> bool:
        gated = [r for r in self.results if not r.diagnostic]
        return bool(gated) and all(r.passed for r in gated) and not self.unverified

    def breaches(self) -> list[str]:
        return [r.breach() for r in self.results if not r.passed and not r.diagnostic] + [
            f"{name}: {NOT_VERIFIED}" for name in self.unverified
        ]


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

    Args:
        artifacts: the run's artifacts.
        run_path: the run directory the artifact paths are relative to.
        images: raw test images, pixels 0..255 (see Predictor); labels: (N,) ints.
        references: Keras probabilities on `images` by model name ("float", "qat").
        config: tolerances, agreement thresholds and (optionally) the runtimes to use.
        progress: called with one line per evaluation.
    """
    unknown = sorted(set(config.runtimes or []) - set(RUNTIMES))
    if unknown:
        raise InputError(f"unknown runtime {', '.join(unknown)} (known: {', '.join(RUNTIMES)})")
    results, skipped, unverified = [], [], []
    for artifact in artifacts:
        verified = False
        for runtime in runtimes_for(artifact.format):
            if config.runtimes is not None and runtime.name not in config.runtimes:
                continue
            reason = runtime.unavailable() or runtime.refuses(artifact)
            if reason:
                skipped.append(Skipped(artifact.name, runtime.name, reason))
                progress(f"skip  {artifact.name:<18} {runtime.name:<18} {reason}")
                continue
            result = _evaluate(artifact, runtime, run_path, images, labels, references, config)
            result.diagnostic = not runtime.verifies
            verified = verified or runtime.verifies
            results.append(result)
            progress(result.summary())
        # Unverified unless the user's --runtime left out every runtime that could verify this format.
        wanted = [r for r in runtimes_for(artifact.format) if r.verifies]
        if config.runtimes is not None:
            wanted = [r for r in wanted if r.name in config.runtimes]
        if not verified and wanted:
            unverified.append(artifact.name)
            progress(f"FAIL  {artifact.name:<18} {NOT_VERIFIED}")
    return ParityOutcome(results, skipped, unverified)


def _evaluate(
    artifact: Artifact,
    runtime: Runtime,
    run_path,
    images: np.ndarray,
    labels: np.ndarray,
    references: dict[str, np.ndarray],
    config: ParityConfig,
) -> ParityResult:
    tolerance = config.tolerances[artifact.variant.value]
    min_agreement = config.min_agreement[artifact.variant.value]
    reference = references[artifact.source]
    start = time.perf_counter()
    try:
        probabilities = runtime.load(run_path / artifact.path, artifact).predict(images)
        if probabilities.shape != reference.shape:
            raise ValueError(f"returned shape {probabilities.shape}, expected {reference.shape}")
    except Exception as error:  # a runtime that cannot load or run the artifact fails its gate, with the reason
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
            tolerance=tolerance,
            min_agreement=min_agreement,
            passed=False,
            size_bytes=artifact.size_bytes,
            seconds=round(time.perf_counter() - start, 3),
            error=f"{type(error).__name__}: {first_line(error)}",
        )
    float_reference = references["float"] if artifact.source != "float" else None
    return compare(
        artifact,
        runtime.name,
        probabilities,
        reference,
        labels,
        tolerance,
        min_agreement,
        float_reference,
        time.perf_counter() - start,
    )
