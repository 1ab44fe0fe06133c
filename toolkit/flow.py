"""The one flow, step by step over a run directory: train -> qat -> export -> validate (and pipeline = all four)."""

from __future__ import annotations

import concurrent.futures
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np

from exporters import Variant
from exporters.base import Classifier, Normalization
from toolkit.config import Config, validation_size
from toolkit.data import Dataset, load_data
from toolkit.errors import InputError, ParityError, StepError, first_line
from toolkit.metrics import accuracy
from toolkit.parity import ParityOutcome, check_parity
from toolkit.report import build_report, write_report
from toolkit.run import Run
from toolkit.runtimes import RUNTIMES

log = logging.getLogger("edgekit")


def default_run_dir() -> Path:
    return Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")


def gate_images(data: Dataset) -> np.ndarray:
    """The test set as the Predictor interface takes it: raw uint8 images (each runtime normalizes them)."""
    return data.x_test


def record_data(run: Run, data: Dataset, path: Path | None) -> None:
    run.manifest["data"] = {"path": None if path is None else str(Path(path).resolve()), **data.fingerprint()}
    run.save()


def load_run_data(run: Run) -> Dataset:
    """Reload the data a run was made with, and check it is still the same test set."""
    recorded = run.data_record
    if not recorded:
        raise InputError(f"{run.path}: the run records no data set")
    split = recorded.get("split")
    data = load_data(recorded["path"], None if split is None else {k: split[k] for k in ("test_fraction", "seed")})
    if data.fingerprint()["x_test_sha256"] != recorded["x_test_sha256"]:
        raise InputError(f"{recorded['path'] or 'MNIST'}: the test set changed since the run was made")
    return data


def load_run_model(run: Run, source: str):
    """The run's float or QAT Keras model, under the trust decision recorded when it entered the run."""
    from toolkit.keras_model import load_keras_model

    if not run.has_model(source):
        step = "train" if source == "float" else "qat"
        raise InputError(f"{run.path} has no {source} model: run `edgekit {step}` first")
    return load_keras_model(run.model_path(source), trust_model=_trusted(run))


def _trusted(run: Run) -> bool:
    """Whether the user allowed the run's model to carry Python code (recorded when it was imported)."""
    return run.manifest["steps"].get("import", {}).get("trust_model", False)


def _seed(run: Run, config: Config) -> int:
    """The seed the run was trained (or imported) with; the current config's only for a run that records none."""
    for step in ("train", "import"):
        if "seed" in run.step_settings(step):
            return run.step_settings(step)["seed"]
    return config.train.seed


def _validation_size(run: Run, config: Config, data: Dataset) -> int:
    """The training step's hold-out, so fine-tuning never trains on it; for an imported model, at most 10 % of
    the data (a user's data set may be smaller than the default hold-out)."""
    recorded = run.step_settings("train").get("validation_size")
    if recorded:
        return recorded
    n = len(data.x_train)
    return min(validation_size(config.train, n), n // 10 or 1)


def train(
    out: Path,
    config: Config,
    data_path: Path | None = None,
    normalization: Normalization | None = None,
    split: dict | None = None,
) -> Run | None:
    """Train the float model into a new run directory.

    Under a cluster (TF_CONFIG) every worker trains, and only the chief creates and writes the run directory.

    Args:
        out: the run directory to create (must not exist, or be empty).
        config: settings; only `config.train` is used here.
        data_path: a user's data set (see toolkit.data.load_data); None for MNIST.
        normalization: how pixels become model inputs (default: [0, 1]).
        split: test split of an image folder without one ({"test_fraction", "seed"}).

    Returns:
        The run; None on a worker that is not the chief.
    """
    from toolkit.distributed import cluster_strategy

    data = load_data(data_path, split)  # before creating the run: bad data leaves nothing behind
    classifier = data.classifier(normalization)
    _check_channels(classifier)
    validation_size(config.train, len(data.x_train))
    strategy, chief = cluster_strategy()  # before any other TensorFlow op, as collectives require
    if not chief:
        from toolkit.training import train_model

        with tempfile.TemporaryDirectory() as scratch:
            train_model(data, config.train, Path(scratch), strategy=strategy, classifier=classifier)
        return None
    with Run.create(out) as run:
        record_data(run, data, data_path)
        run.set_classifier(classifier)
        return fit(run, data, config, strategy=strategy)


def resume_train(run_dir: Path) -> Run:
    """Continue a killed `train` from its last completed epoch, with the settings it was started with."""
    run = Run.open(run_dir)
    step = run.manifest["steps"].get("train")
    if step is None:
        raise InputError(f"{run.path}: no training to resume (the run was not made by `edgekit train`)")
    if "finished" in step:
        raise InputError(f"{run.path}: training already finished; nothing to resume")
    config = Config.model_validate({"train": step["config"]})
    return fit(run, load_run_data(run), config, resume=True)


def fit(
    run: Run, data: Dataset, config: Config, build: Callable | None = None, strategy=None, resume: bool = False
) -> Run:
    """Train the float model of an existing run (the configured architecture, or `build()`'s model) and record it.

    The model reads the run's images as its classifier says (MNIST's unit normalization when the run records
    none). With `resume`, training continues from the run's last completed epoch.
    """
    from toolkit.training import train_model

    if "classifier" not in run.manifest:
        run.set_classifier(data.classifier())
    classifier = run.classifier
    if not resume:
        run.start("train", {"config": config.to_dict()["train"]})
    log.info(
        "training %s on %d images from %s -> %s",
        config.train.architecture.value if build is None else "a searched model",
        len(data.x_train),
        data.source,
        run.path,
    )
    start = time.perf_counter()
    model, history = train_model(
        data,
        config.train,
        run.path / "checkpoints",
        resume=resume,
        build=build,
        strategy=strategy,
        tensorboard=run.path / "tensorboard" / "train",
        classifier=classifier,
    )
    run.save_model(model, "float")
    from toolkit.runtimes.keras import KerasPredictor

    test_accuracy = accuracy(KerasPredictor(model, classifier).predict(gate_images(data)), data.y_test)
    run.record(
        "train",
        {
            "config": config.to_dict()["train"],
            "epochs_run": len(history["loss"]),
            "seconds": round(time.perf_counter() - start, 1),
            "test_accuracy": round(test_accuracy, 4),
            "history": history,
            **({"workers": strategy.num_replicas_in_sync} if strategy is not None else {}),
        },
    )
    log.info("float model: %.2f%% test accuracy after %d epochs", test_accuracy, len(history["loss"]))
    return run


def qat(run_dir: Path, config: Config) -> Run:
    """Fine-tune a quantization-aware copy of the run's float model; both are kept."""
    from toolkit.qat_model import quantize_and_finetune
    from toolkit.runtimes.keras import KerasPredictor

    run = Run.open(run_dir)
    run.require_finished("train", "import")
    data = load_run_data(run)
    float_model = load_run_model(run, "float")
    run.start("qat")
    log.info("quantization-aware fine-tuning: %d epoch(s)", config.qat.epochs)
    start = time.perf_counter()
    model, history = quantize_and_finetune(
        float_model,
        data,
        config.qat,
        _validation_size(run, config, data),
        _seed(run, config),
        run.classifier,
        tensorboard=run.path / "tensorboard" / "qat",
    )
    run.save_model(model, "qat")
    test_accuracy = accuracy(KerasPredictor(model, run.classifier).predict(gate_images(data)), data.y_test)
    run.record(
        "qat",
        {
            "config": config.to_dict()["qat"],
            "seconds": round(time.perf_counter() - start, 1),
            "test_accuracy": round(test_accuracy, 4),
            "history": history,
        },
    )
    log.info("QAT model: %.2f%% test accuracy", test_accuracy)
    return run


def _export_plan(
    config: Config, sources: list[str], representative: np.ndarray
) -> list[tuple[str, str, Callable, dict]]:
    """(artifact name, source model, exporter, exporter options) of every artifact the config asks for."""
    from exporters import saved_model, tfjs, tflite

    plan = []
    if config.export.tflite:
        plan += [
            (f"tflite-{v.value}", "float", tflite.export, {"variant": v})
            for v in (Variant.FLOAT32, Variant.FLOAT16, Variant.DYNAMIC)
        ]
        plan += [
            (
                f"tflite-int8-{'ptq' if s == 'float' else s}",
                s,
                tflite.export,
                {"variant": Variant.INT8, "representative": representative},
            )
            for s in sources
        ]
    if config.export.tfjs:  # TF.js has no kernels for QAT's fake-quantization wrappers: float model only
        plan += [
            (f"tfjs-{v.value}", "float", tfjs.export, {"variant": v})
            for v in (Variant.FLOAT32, Variant.FLOAT16, Variant.UINT8)
        ]
    if config.export.saved_model:
        plan += [(f"saved_model-{s}", s, saved_model.export, {}) for s in sources]
    return plan


def representative_inputs(
    data: Dataset, count: int, classifier: Classifier, shape: tuple[int, ...], seed: int
) -> np.ndarray:
    """A random sample of training images, normalized as the model expects and model-shaped, that calibrates int8
    activation ranges."""
    from exporters.base import TensorSpec
    from toolkit.runtimes.base import to_model_input

    rng = np.random.default_rng(seed)
    sample = data.x_train[rng.choice(len(data.x_train), min(count, len(data.x_train)), replace=False)]
    return to_model_input(sample, classifier, TensorSpec(list(shape), "float32"))


def export(run_dir: Path, config: Config) -> Run:
    """Export every artifact of the run's models (float; QAT when present) and write their contracts.

    All artifacts are written to a staging directory first and replace the previous set only when every
    conversion succeeded, so a failed export never leaves a set that looks complete.
    """
    if not (config.export.tflite or config.export.tfjs or config.export.saved_model):
        raise InputError("nothing to export: every format is switched off")
    run = Run.open(run_dir)
    run.require_finished("train", "import", "qat")
    run.clear_staging()
    data = load_run_data(run)
    float_model = load_run_model(run, "float")
    representative = representative_inputs(
        data,
        config.export.representative_size,
        run.classifier,
        tuple(float_model.inputs[0].shape[1:]),
        _seed(run, config),
    )
    models = {"float": float_model}
    if run.has_model("qat"):
        models["qat"] = load_run_model(run, "qat")
    plan = _export_plan(config, list(models), representative)
    if not plan:
        raise InputError("nothing to export: every format is switched off")
    staging = run.staging()
    run.start("export")
    start = time.perf_counter()
    exported = []
    try:
        for name, source, exporter, options in plan:
            try:
                artifact = exporter(
                    models[source],
                    staging / "artifacts" / name,
                    name=name,
                    source=source,
                    run_dir=staging,
                    classifier=run.classifier,
                    **options,
                )
            except Exception as error:  # the converters raise many types; say which artifact failed and why
                raise StepError(f"exporting {name} failed: {first_line(error)}") from error
            exported.append(artifact)
            log.info("exported %-18s %8.1f KB", name, artifact.size_bytes / 1024)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    run.commit_artifacts(staging)
    _keep_references(run, models, data)
    (run.path / "report.json").unlink(missing_ok=True)  # the old verdict no longer describes these files
    (run.path / "report.md").unlink(missing_ok=True)
    (run.path / "predictions.npz").unlink(missing_ok=True)
    run.record(
        "export",
        {
            "config": config.to_dict()["export"],
            "seconds": round(time.perf_counter() - start, 1),
            "artifacts": {a.name: a.size_bytes for a in exported},
        },
    )
    return run


def _keep_references(run: Run, models: dict, data: Dataset) -> None:
    """The Keras models' test-set probabilities, computed while the models are loaded, for the gate to reuse; the
    last gate's kept evaluations were of the files just replaced."""
    from toolkit import references
    from toolkit.runtimes.keras import KerasPredictor

    images = gate_images(data)
    references.store(run, {s: KerasPredictor(m, run.classifier).predict(images) for s, m in models.items()})
    (run.path / references.EVALUATIONS).unlink(missing_ok=True)


def _references(run: Run, sources: list[str], images: np.ndarray) -> dict[str, np.ndarray]:
    """Those kept by export when still valid for these models and images; else computed here."""
    from toolkit import references
    from toolkit.keras_model import refuse_code
    from toolkit.runtimes.keras import KerasPredictor

    for source in sources:  # the run's trust decision holds even when no model needs loading
        refuse_code(run.model_path(source), _trusted(run))
    kept = references.load(run, sources, len(images))
    if kept is not None:
        log.info("Keras references: kept by export (model files and test set unchanged)")
        return kept
    log.info("Keras references on %d test images", len(images))
    return {s: KerasPredictor(load_run_model(run, s), run.classifier).predict(images) for s in sources}


def _kept_evaluations(run: Run, evaluations: list, count: int, config: Config) -> dict:
    """The outputs the last gate kept of the in-process TensorFlow runtimes' evaluations, where the files, the test
    set and the engine versions are unchanged (toolkit.references); a runtime named with `-r` runs afresh."""
    from toolkit import references

    named = set(config.parity.runtimes or ())
    wanted = [(a, r.name, r.engine_version()) for a, r in evaluations if r.engine_version and r.name not in named]
    kept = references.load_evaluations(run, wanted, count)
    if kept:
        runtimes = sorted({runtime for _, runtime in kept})
        log.info(
            "%d evaluation(s) in %s: outputs kept from the last gate (same files, test set and versions)",
            len(kept),
            ", ".join(runtimes),
        )
    return kept


def _keep_evaluations(run: Run, outcome: ParityOutcome, created: str) -> None:
    """Keep this gate's outputs of the in-process TensorFlow runtimes for the next gate on the same files."""
    from toolkit import references

    artifacts = {a.name: a for a in run.artifacts()}
    kept = []
    for result in outcome.results:
        runtime = RUNTIMES.get(result.runtime)
        probabilities = outcome.predictions.get((result.name, result.runtime))
        if runtime is None or runtime.engine_version is None or probabilities is None or result.name not in artifacts:
            continue
        when = result.kept_from or created
        kept.append(
            (artifacts[result.name], runtime.name, runtime.engine_version(), probabilities, result.seconds, when)
        )
    if kept:
        references.store_evaluations(run, kept)


def validate(run_dir: Path, config: Config) -> dict:
    """Run the parity gate over every artifact of the run; write report.json, report.md, report.html and the
    predictions they are drawn from (predictions.npz).

    With `config.parity.runtimes` set, the previous report's results in the other runtimes are kept, marked as
    from the previous run, so a partial re-run never silently shrinks a full report.

    Returns:
        The report (also written to the run directory).

    Raises:
        ParityError: an evaluation is outside its tolerance (the report is written first); its `verdict` is
            "FAILED (n)".
    """
    from exporters.native_log import native_stderr_to_debug_log
    from toolkit.evidence import Predictions, per_class_report
    from toolkit.parity import plan
    from toolkit.report import keep_previous
    from toolkit.report_html import curves, environment, write_html

    run = Run.open(run_dir)
    run.require_finished("train", "import", "qat", "export")
    run.clear_staging()
    artifacts = run.artifacts()
    if not artifacts:
        raise InputError(f"{run.path} has no exported artifacts: run `edgekit export` first")
    evaluations, skipped = plan(artifacts, config.parity)
    runtimes = sorted({runtime.name for _, runtime in evaluations}, key=list(RUNTIMES).index)
    run.start("validate")
    log.info(
        "parity gate: %d evaluations of %d artifacts in %s%s",
        len(evaluations),
        len(artifacts),
        ", ".join(runtimes) or "no runtime",
        f" ({len(skipped)} not possible here)" if skipped else "",
    )
    start = time.perf_counter()
    # report.html's training curves depend on the manifest only: drawn while the runtimes work, not after.
    drawing = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="edgekit-report")
    curves_png = drawing.submit(curves, run.manifest.get("steps", {}))
    drawing.shutdown(wait=False)
    # TensorFlow, LiteRT and XNNPACK print to file descriptor 2 ("Created TensorFlow Lite XNNPACK delegate");
    # kept for --verbose.
    with native_stderr_to_debug_log():
        data = load_run_data(run)
        images = gate_images(data)
        references = _references(run, sorted({"float"} | {a.source for a in artifacts}), images)
        reference_accuracy = {name: round(accuracy(p, data.y_test), 4) for name, p in references.items()}
        log.info("reference: %s", ", ".join(f"{k} {v:.2f}%" for k, v in reference_accuracy.items()))
        labels = data.y_test.astype(np.int64)
        kept = _kept_evaluations(run, evaluations, len(images), config)

        def gate() -> ParityOutcome:
            return check_parity(
                run.artifacts(),
                run.path,
                images,
                labels,
                references,
                config.parity,
                progress=log.info,
                expected=list(run.manifest["steps"].get("export", {}).get("artifacts", {})),
                kept=kept,
            )

        outcome = gate()
        from toolkit.remedy import after_gate

        outcome, extra = after_gate(run, outcome, images, labels, references, config, gate)
    report = build_report(run, outcome, reference_accuracy, time.perf_counter() - start)
    _keep_evaluations(run, outcome, report["created"])
    report.update({k: v for k, v in extra.items() if v})  # the worst int8 layers, and what --fix did
    report["environment"] = environment()
    predictions = Predictions.from_probabilities(labels, references, outcome.predictions)
    if config.parity.runtimes is not None:
        kept = keep_previous(report, run.report(), set(config.parity.runtimes))
        if kept:
            log.info("kept %d result(s) in other runtimes from the previous report", kept)
        predictions.keep_previous(Predictions.load(run.path), set(config.parity.runtimes))
    predictions.save(run.path)
    report["per_class"] = per_class_report(
        predictions, {a.name: a.source for a in artifacts}, references["float"].shape[1]
    )
    write_report(run, report)
    write_html(run, report, predictions, data.x_test, curves_png.result())
    run.record("validate", {"passed": report["passed"], "seconds": report["gate_seconds"]})
    log.info("report: %s (and report.md, report.html)", run.path / "report.json")
    if not report["passed"]:
        breaches = report["breaches"] or ["no artifact could be evaluated"]
        error = ParityError(f"parity gate failed for {len(breaches)} evaluation(s): " + " | ".join(breaches))
        error.verdict = f"FAILED ({len(breaches)})"
        raise error
    log.info("PASSED")
    return report


def import_model(
    model_path: Path,
    out: Path,
    config: Config,
    data_path: Path | None = None,
    with_qat: bool = False,
    normalization: Normalization | None = None,
    split: dict | None = None,
    trust_model: bool = False,
) -> dict:
    """A user's own image classifier through the same export and gate: the run starts from their model.

    Args:
        model_path: .h5, .keras (tf-keras or Keras 3) or a SavedModel directory (tf-keras); input (H, W, C),
            (H, W) or (H*W*C,) of the data's images; any number of classes >= 2; logits or probabilities out.
        out: the run directory to create.
        config: settings (export, parity, and qat when `with_qat`).
        data_path: the data set to calibrate int8 on, fine-tune on and gate with; None for MNIST.
        with_qat: also fine-tune a QAT copy on the data and export its int8 model (tf-keras models only).
        normalization: how the model expects pixels (default: [0, 1]).
        split: test split of an image folder without one ({"test_fraction", "seed"}).
        trust_model: allow a model whose file carries Python code (Lambda layers, custom objects); recorded in
            the run, so later steps that reload the copy apply the same decision.
    """
    from exporters.base import sha256_file
    from toolkit.classifier import check_classifier, saved_by_keras3
    from toolkit.keras_model import load_keras_model, refuse_code

    if not (config.export.tflite or config.export.tfjs or config.export.saved_model):
        raise InputError("nothing to export: every format is switched off")
    Run.check_new(out)
    check_import(model_path, with_qat)
    refuse_code(model_path, trust_model)
    data = load_data(data_path, split)
    if with_qat:
        validation_size(config.train, len(data.x_train))
    model = load_keras_model(model_path, trust_model=trust_model)
    classifier = check_classifier(model, data.x_test[:64], data.image, normalization or Normalization(), data.labels)
    model_path = Path(model_path)
    with Run.create(out) as run:
        record_data(run, data, data_path)
        run.set_classifier(classifier)
        run.save_model(model, "float")
        run.record(
            "import",
            {
                "model": str(model_path.resolve()),
                "keras": 3 if saved_by_keras3(model_path) else 2,
                "output_kind": classifier.output_kind,
                "sha256": sha256_file(model_path) if model_path.is_file() else None,
                "trust_model": trust_model,
                "config": {"seed": config.train.seed},  # calibration sample and fine-tuning of later steps
            },
        )
    log.info(
        "imported %s (input %s, %d classes, %s out) -> %s",
        model_path,
        tuple(model.inputs[0].shape),
        len(classifier.labels),
        classifier.output_kind,
        run.path,
    )
    if with_qat:
        qat(run.path, config)
    export(run.path, config)
    return validate(run.path, config)


def check_import(model_path: Path, with_qat: bool) -> None:
    """The refusals decided from the model file alone, before TensorFlow is imported (milliseconds, not 25 s).

    Raises:
        InputError: the model file is missing, or QAT is asked of a Keras 3 model.
    """
    from toolkit.classifier import saved_by_keras3

    model_path = Path(model_path).expanduser()
    if not model_path.exists():
        raise InputError(f"model not found: {model_path}")
    if with_qat and saved_by_keras3(model_path):
        raise InputError(
            f"{model_path} was saved by Keras 3; quantization-aware training (--qat) needs a tf-keras (Keras 2) "
            "model: drop --qat (float and post-training int8 work with Keras 3), or save it with `import tf_keras`"
        )


def _check_channels(classifier: Classifier) -> None:
    try:
        classifier.normalization.check_channels(classifier.image.channels)
    except ValueError as error:
        raise InputError(str(error)) from None


def pipeline(
    out: Path,
    config: Config,
    data_path: Path | None = None,
    normalization: Normalization | None = None,
    split: dict | None = None,
) -> dict:
    """train -> qat -> export -> validate in one run directory."""
    run = train(out, config, data_path, normalization, split)
    if run is None:  # a worker of a cluster: the chief ships the model
        return {}
    qat(run.path, config)
    export(run.path, config)
    return validate(run.path, config)


def resume_pipeline(run_dir: Path, config: Config) -> dict:
    """Finish a killed pipeline: resume training if it did not finish, then every step that did not."""
    if not Run.open(run_dir).finished("train"):
        resume_train(run_dir)
    if not Run.open(run_dir).finished("qat"):
        qat(run_dir, config)
    if not Run.open(run_dir).finished("export"):
        export(run_dir, config)
    return validate(run_dir, config)
