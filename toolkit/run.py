"""The run directory every step reads and writes: its layout, manifest and atomic writes. Only `Run` builds a path
inside a run; everything else asks it.

RUN/manifest.json            data fingerprint; each step's start and finish with its settings, figures and history
RUN/models/float.h5          the reference Keras model (trained here, or the user's; float.keras for a Keras 3 model)
RUN/models/qat.h5            the quantization-aware fine-tuned model, when made; member-K.h5 an ensemble's members
RUN/checkpoints/             best.h5, epoch-NNN.h5 and state.json of the last completed epoch (`train --resume`)
RUN/tensorboard/STEP/        TensorBoard logs of training and QAT
RUN/artifacts/NAME/          one directory per exported artifact, with contract.json
RUN/report.json, report.md   the parity gate's verdict; report.html the same with plots and images
RUN/predictions.npz          each evaluation's top classes per test image, the evidence report.html is drawn from
RUN/references.npz           the Keras models' test-set probabilities, kept by export for the gate
RUN/evaluations.npz          the in-process TensorFlow runtime's outputs, kept for the next gate on the same files
RUN/benchmark.json           `edgekit benchmark`'s figures
RUN/debug/NAME.json          `edgekit debug`'s per-layer errors of an int8 artifact
RUN/study.db, trials.json, plots/   `edgekit tune`'s study, its trials and plots
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from exporters.base import CONTRACT_FILE, MNIST, Artifact, Classifier, FieldError, Format, is_keras3
from toolkit.errors import InputError, first_line
from toolkit.launcher import command
from toolkit.limits import MAX_RUN_FILE_BYTES, MAX_TENSOR_VALUES, read_capped
from toolkit.records import check_manifest, check_report

MANIFEST = "manifest.json"
REPORT = "report.json"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
PREDICTIONS = "predictions.npz"
REFERENCES = "references.npz"
EVALUATIONS = "evaluations.npz"
BENCHMARK = "benchmark.json"
STUDY = "study.db"
TRIALS = "trials.json"


def umask() -> int:
    """The process's file-creation mask, read without changing it where Linux shows it (os.umask can only swap)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a synced temporary file and rename, so a reader (or a crash) never leaves half a file.

    The file gets the mode an ordinary open() would give it (0666 less the umask: 0644 usually), not mkstemp's
    private 0600: a report is for sharing and serving.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o666 & ~umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    sync_directory(path.parent)


def sync_directory(path: Path) -> None:
    """Make a rename in `path` durable (POSIX: the directory entry lives in the directory's own data)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Run:
    """A run directory. `Run.create` starts one; `Run.open` reads an existing one."""

    def __init__(self, path: Path, manifest: dict[str, Any] | None = None):
        """A run at `path`; without a manifest, a directory laid out like a run (a staging or scratch area)."""
        self.path = Path(path)
        self.manifest = manifest if manifest is not None else {"steps": {}}

    @staticmethod
    def check_new(path: Path) -> None:
        """Raise InputError unless a run can be created at `path`: absent or an empty directory, writable."""
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise InputError(f"--out {path}: already exists and is not empty: choose another --out")
        parent = next((p for p in path.parents if p.exists()), Path("."))
        if not parent.is_dir():
            raise InputError(f"--out {path}: {parent} is a file, not a directory")
        if not os.access(path if path.exists() else parent, os.W_OK | os.X_OK):
            raise InputError(f"--out {path}: {parent} is not writable")

    @classmethod
    @contextlib.contextmanager
    def create(cls, path: Path) -> Iterator[Run]:
        """A new run directory for the block; if the block fails, everything this created is removed again.

        An interrupt (Ctrl-C, kill) keeps it: `--resume` continues from its last checkpoint.
        """
        path = Path(path)
        cls.check_new(path)
        first_new = next((p for p in [*reversed(path.parents), path] if not p.exists()), None)
        try:
            try:
                path.mkdir(parents=True, exist_ok=True)
                run = cls(path, {"created": now(), "steps": {}})
                run.save()
            except OSError as error:  # /proc/x, a file system that refuses what access() allowed...
                raise InputError(f"--out {path}: cannot make a run directory there ({first_line(error)})") from None
            yield run
        except Exception as error:
            if first_new is not None:
                shutil.rmtree(first_new, ignore_errors=True)
            else:  # an empty directory the user made: leave it empty
                for child in path.iterdir():
                    shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
            if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
                # (h5py's strerror holds HDF5's whole error stack: the errno's own text is the one line)
                raise InputError(f"{path}: {os.strerror(error.errno)}; removed the unfinished run") from None
            raise

    @classmethod
    def open(cls, path: Path) -> Run:
        path = Path(path)
        if not path.is_dir():
            raise InputError(f"{path}: no such run directory")
        if not (path / MANIFEST).exists():
            raise InputError(f"{path} is not an edgekit run directory (no {MANIFEST})")
        manifest = read_json(path / MANIFEST)
        try:
            check_manifest(manifest)
        except FieldError as error:
            raise InputError(f"{path / MANIFEST}: {error}") from None
        return cls(path, manifest)

    def save(self) -> None:
        atomic_write_json(self.path / MANIFEST, self.manifest)

    def start(self, step: str, info: dict[str, Any] | None = None) -> None:
        """Mark a step started (not finished): a later step refuses the run until it is finished or resumed."""
        self.manifest["steps"][step] = {"started": now(), **(info or {})}
        self.save()

    def record(self, step: str, info: dict[str, Any]) -> None:
        """Mark a step finished, at its very end, with what it used and measured."""
        started = self.manifest["steps"].get(step, {}).get("started", now())
        self.manifest["steps"][step] = {**self.manifest["steps"].get(step, {}), **info, "started": started}
        self.manifest["steps"][step]["finished"] = now()
        self.save()

    def finished(self, step: str) -> bool:
        return "finished" in self.manifest["steps"].get(step, {})

    def require_finished(self, *steps: str) -> None:
        """Refuse to build on a step that started but never finished (killed, or failed), saying what to do."""
        for step in steps:
            info = self.manifest["steps"].get(step)
            if info is not None and "finished" not in info:
                remedy = {
                    "train": command("train", "--resume", self.path),
                    "qat": command("qat", self.path),
                    "export": command("export", self.path),
                }.get(step, command("pipeline", "--resume", self.path))
                raise InputError(f"{self.path}: the {step} step started but did not finish; run `{remedy}`")

    def step_settings(self, step: str) -> dict[str, Any]:
        """The settings a finished step recorded (its config section), so later steps use what it really used."""
        return self.manifest["steps"].get(step, {}).get("config", {})

    @property
    def trusts_model(self) -> bool:
        """Whether the user allowed the run's model to carry Python code (recorded when it was imported)."""
        return bool(self.manifest["steps"].get("import", {}).get("trust_model", False))

    def recorded_seed(self, default: int) -> int:
        """The seed the run was trained (or imported) with; `default` only for a run that records none."""
        for step in ("train", "import"):
            if "seed" in self.step_settings(step):
                return self.step_settings(step)["seed"]
        return default

    @property
    def data_record(self) -> dict[str, Any] | None:
        """Where the run's data came from and its fingerprint, as recorded when the run was made."""
        return self.manifest.get("data")

    @property
    def output_kind(self) -> str:
        """Whether the run's models return "probabilities" or "logits"."""
        return self.classifier.output_kind

    @property
    def classifier(self) -> Classifier:
        """The image, normalization, output kind and labels of the run's models (MNIST's for older runs)."""
        if "classifier" in self.manifest:
            try:
                return Classifier.from_dict(self.manifest["classifier"])
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                raise InputError(f"{self.path / MANIFEST}: damaged classifier record ({first_line(error)})") from None
        return dataclasses.replace(MNIST, output_kind=self.manifest.get("output_kind", "probabilities"))

    def set_classifier(self, classifier: Classifier) -> None:
        self.manifest["classifier"] = classifier.to_dict()
        self.manifest["output_kind"] = classifier.output_kind
        self.save()

    def model_path(self, source: str) -> Path:
        keras3 = self.path / "models" / f"{source}.keras"
        return keras3 if keras3.is_file() else self.path / "models" / f"{source}.h5"

    def has_model(self, source: str) -> bool:
        return self.model_path(source).is_file()

    def save_model(self, model, source: str) -> Path:
        """Save a tf-keras model (HDF5: the format that round-trips tfmot's QAT wrappers), or a Keras 3 model as
        .keras, atomically."""
        suffix = ".keras" if is_keras3(model) else ".h5"
        path = self.path / "models" / f"{source}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{suffix}")
        try:
            if suffix == ".h5":
                # Without the optimizer: the run's models feed export and the gate (checkpoints/ keeps what resuming
                # needs), and a fine-tuned ensemble's members share optimizer slot names, which HDF5 refuses.
                model.save(tmp, include_optimizer=False)
            else:
                model.save(tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        sync_directory(path.parent)
        return path

    @property
    def artifacts_dir(self) -> Path:
        return self.path / "artifacts"

    def artifacts(self, format: Format | None = None) -> list[Artifact]:
        """Every exported artifact (of one format, if given), in name order.

        Raises:
            InputError: a contract.json is unreadable or not a contract.
        """
        found = [_read_contract(p.parent) for p in sorted(self.artifacts_dir.glob(f"*/{CONTRACT_FILE}"))]
        return [a for a in found if format is None or a.format is format]

    def artifact(self, name: str) -> Artifact:
        """One artifact by name.

        Raises:
            InputError: the run has no such artifact (the message lists those it has), or its contract is unreadable.
        """
        if not (self.artifacts_dir / name / CONTRACT_FILE).is_file():
            have = ", ".join(a.name for a in self.artifacts()) or "none"
            raise InputError(f"{self.path} has no artifact '{name}' (it has: {have})")
        return _read_contract(self.artifacts_dir / name)

    def artifact_dir(self, artifact: Artifact | str) -> Path:
        """The directory of an artifact (or of the artifact of that name, to write one): always artifacts/NAME,
        whatever path a contract claims (toolkit.gate.trust fails a contract whose path says otherwise).

        Raises:
            InputError: the name is not a plain directory name.
        """
        name = artifact if isinstance(artifact, str) else artifact.name
        if not name or name in (".", "..") or "/" in name or "\\" in name:
            raise InputError(f"{self.artifacts_dir}: {name!r} is not an artifact name")
        return self.artifacts_dir / name

    # Where each file of the run lives (see the module docstring).
    @property
    def report_path(self) -> Path:
        return self.path / REPORT

    @property
    def report_md_path(self) -> Path:
        return self.path / REPORT_MD

    @property
    def report_html_path(self) -> Path:
        return self.path / REPORT_HTML

    @property
    def predictions_path(self) -> Path:
        return self.path / PREDICTIONS

    @property
    def references_path(self) -> Path:
        return self.path / REFERENCES

    @property
    def evaluations_path(self) -> Path:
        return self.path / EVALUATIONS

    @property
    def benchmark_path(self) -> Path:
        return self.path / BENCHMARK

    @property
    def study_path(self) -> Path:
        return self.path / STUDY

    @property
    def trials_path(self) -> Path:
        return self.path / TRIALS

    @property
    def plots_dir(self) -> Path:
        return self.path / "plots"

    def debug_path(self, artifact: str) -> Path:
        return self.path / "debug" / f"{artifact}.json"

    def checkpoints_dir(self, member: int | None = None) -> Path:
        """Training checkpoints: the run's model, or one ensemble member's."""
        return self.path / "checkpoints" / ("" if member is None else f"member-{member}")

    def tensorboard_dir(self, step: str | None = None) -> Path:
        return self.path / "tensorboard" / (step or "")

    def scratch_dir(self, purpose: str) -> Path:
        """An empty hidden directory inside the run for work in progress (`.fix`, `.trials`), laid out like the run."""
        scratch = self.path / f".{purpose}"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        return scratch

    def forget_report(self) -> None:
        """The last verdict goes when a gate starts: a gate that stops half-way leaves no report that looks current."""
        for path in (self.report_path, self.report_md_path, self.report_html_path):
            path.unlink(missing_ok=True)

    def forget_verdict(self) -> None:
        """After a new export: the old report and the gate's kept outputs no longer describe the files."""
        self.forget_report()
        self.predictions_path.unlink(missing_ok=True)
        self.evaluations_path.unlink(missing_ok=True)

    def benchmark(self) -> dict[str, Any] | None:
        """benchmark.json, or None when the run has none or it is unreadable (a report shows no figures then)."""
        try:
            data = read_json(self.benchmark_path)
        except InputError:
            return None
        return data if isinstance(data, dict) else None

    def report(self) -> dict[str, Any] | None:
        """The parity gate's last report.json, or None when the run has not been validated since its export.

        Raises:
            InputError: report.json exists but is unreadable or not a report.
        """
        path = self.report_path
        if not path.exists() and not path.is_symlink():
            return None
        report = read_json(path)
        if not isinstance(report, dict) or not isinstance(report.get("artifacts"), list):
            raise InputError(f"{path}: not an edgekit report (no artifacts list)")
        try:
            check_report(report)
        except FieldError as error:
            raise InputError(f"{path}: {error}") from None
        return report

    def clear_staging(self) -> None:
        """Remove what an interrupted export left: the half-written set and a set swapped out but not deleted."""
        shutil.rmtree(self.path / ".staging", ignore_errors=True)
        shutil.rmtree(self.path / ".artifacts-old", ignore_errors=True)

    def staging(self) -> Run:
        """An empty directory laid out like the run, for writing artifacts before they replace the current ones."""
        self.clear_staging()
        return Run(self.scratch_dir("staging"))

    def commit_artifacts(self, staging: Run) -> None:
        """Swap fully written artifacts into place with renames: at every instant either set is complete."""
        old = self.path / ".artifacts-old"
        if self.artifacts_dir.exists():
            os.replace(self.artifacts_dir, old)
        os.replace(staging.artifacts_dir, self.artifacts_dir)
        sync_directory(self.path)
        shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(staging.path, ignore_errors=True)


def read_json(path: Path, what: str = "") -> Any:
    """A run's JSON file (`what` it is, for the message), read up to MAX_RUN_FILE_BYTES, or InputError naming it."""
    try:
        return json.loads(read_capped(path, MAX_RUN_FILE_BYTES, str(path)))
    except (OSError, ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InputError(f"{path}: unreadable {what + ' ' if what else ''}({first_line(error)})") from None


def _read_contract(directory: Path) -> Artifact:
    contract = directory / CONTRACT_FILE
    data = read_json(contract, "contract")
    try:
        artifact = Artifact.from_contract(data)
    except ValueError as error:  # a FieldError naming the field, or another version
        raise InputError(f"{contract}: not a valid edgekit contract ({first_line(error)})") from None
    image = artifact.classifier.image
    for what, shape in (("input", artifact.input.shape), ("output", artifact.output.shape), ("image", image.shape)):
        if math.prod(shape) > MAX_TENSOR_VALUES:
            raise InputError(
                f"{contract}: field {what} declares {'x'.join(map(str, shape))} = {math.prod(shape):,} values, "
                f"above edgekit's limit of {MAX_TENSOR_VALUES:,} per image"
            )
    return artifact
