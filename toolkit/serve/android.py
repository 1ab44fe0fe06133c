"""Put a run's TFLite model and its contract into the Android sample's assets, where the app reads them."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

from exporters.base import CONTRACT_FILE, Artifact, Format
from toolkit.errors import InputError, ParityError
from toolkit.gate.trust import shippable
from toolkit.run import Run

DEFAULT_ARTIFACT = "tflite-int8-qat"
# Relative to the Android project; the app loads contract.json from here, then the model file it names.
ASSETS_DIR = Path("app/src/main/assets/edgekit")
# The app's preprocessing makes the contract's image (H x W x C) and can write these input types.
APP_DTYPES = ("float32", "int8", "uint8", "int16")


def install_model(
    run_dir: Path, app_dir: Path, artifact: str = DEFAULT_ARTIFACT, *, allow_failed: bool = False
) -> list[Path]:
    """Copy one TFLite artifact (model file + contract.json) of a run into an Android project's assets.

    The previous model in the assets is replaced as a whole, so a stale model file never sits next to a new
    contract.

    Args:
        run_dir: an edgekit run directory with `artifacts/<artifact>/contract.json`.
        app_dir: the Android project (the directory holding `app/`), e.g. `android_sample`.
        artifact: the artifact's name, e.g. "tflite-int8-qat" or "tflite-float32".
        allow_failed: install even if the run's report.json says this artifact failed the parity gate.

    Returns:
        The installed files: the model, then its contract.

    Raises:
        InputError: no such run or artifact, not a TFLite artifact, a model the app cannot feed, a model file
            that does not match its contract, or `app_dir` is not an Android project.
        ParityError: report.json records that this artifact failed the parity gate (and not `allow_failed`).
    """
    app_dir = Path(app_dir)
    run = Run.open(run_dir)
    _check_app_can_run(run.artifact(artifact))
    try:
        contract = shippable(run, artifact)
    except ParityError as error:
        if not allow_failed:
            raise ParityError(f"{error}; pass --allow-failed to install it anyway") from None
        contract = run.artifact(artifact)
    source = run.artifact_dir(contract)
    model = source / contract.main_file
    main = app_dir / "app" / "src" / "main"
    if not (main / "AndroidManifest.xml").is_file():
        raise InputError(f"{app_dir} is not the Android sample (no app/src/main/AndroidManifest.xml)")

    dest = app_dir / ASSETS_DIR
    staging = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    shutil.copyfile(model, staging / contract.main_file)
    shutil.copyfile(source / CONTRACT_FILE, staging / CONTRACT_FILE)
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)
    return [dest / contract.main_file, dest / CONTRACT_FILE]


def _check_app_can_run(contract: Artifact) -> None:
    if contract.format is not Format.TFLITE:
        raise InputError(f"'{contract.name}' is a {contract.format.value} artifact; the Android app runs TFLite models")
    spec, image = contract.input, contract.classifier.image
    if spec.dtype not in APP_DTYPES or math.prod(spec.shape) != math.prod(image.shape):
        raise InputError(
            f"'{contract.name}' takes {spec.dtype} {spec.shape}; the app feeds one "
            f"{image.height}x{image.width}x{image.channels} image as {'/'.join(APP_DTYPES)}"
        )
    if contract.output.dtype not in APP_DTYPES:
        raise InputError(f"'{contract.name}' returns {contract.output.dtype}; the app reads {'/'.join(APP_DTYPES)}")
