"""Keras model files (ours or a user's): which Keras wrote one, whether it carries code, and loading it."""

from __future__ import annotations

import functools
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from toolkit.errors import InputError, first_line
from toolkit.launcher import command
from toolkit.modeling import keras3
from toolkit.run import Run


def _keras_version(path: Path) -> str | None:
    """The Keras version recorded in a .keras zip or an .h5 file, if any."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return json.loads(archive.read("metadata.json")).get("keras_version")
        if path.suffix in (".h5", ".hdf5"):
            import h5py

            with h5py.File(path, "r") as f:
                version = f.attrs.get("keras_version")
                return version.decode() if isinstance(version, bytes) else version
    except (KeyError, OSError, ValueError):
        return None
    return None


def saved_by_keras3(path: Path) -> bool:
    """True when the file's own metadata says Keras 3 wrote it; reads no TensorFlow, so it answers in milliseconds."""
    path = Path(path).expanduser()
    version = _keras_version(path) if path.is_file() else None
    return bool(version) and version.split(".")[0] == "3"


# Layers whose config is Python to run: Lambda holds marshalled bytecode; the TF-op layers call any TensorFlow
# function by name (tf.io.write_file included).
CODE_LAYERS = {"Lambda", "TFOpLambda", "SlicingOpLambda", "TensorFlowOpLayer"}
# Where a config may name a module to import a class from; anything else could import (run) any installed module.
KERAS_MODULES = ("keras", "tf_keras", "tensorflow_model_optimization")


def _h5_config(path: Path) -> str | None:
    import h5py

    with h5py.File(path, "r") as f:
        config = f.attrs.get("model_config")
    return config.decode() if isinstance(config, bytes) else config


def _proto_fields(data: bytes) -> Iterator[tuple[int, bytes | int]]:
    """(field number, value) of one protobuf message's fields; enough to read keras_metadata.pb."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        wire = key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
        elif wire in (1, 5):
            value, pos = data[pos : pos + (8 if wire == 1 else 4)], pos + (8 if wire == 1 else 4)
        else:
            raise ValueError("not a protobuf message")
        yield key >> 3, value


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def model_configs(path: Path) -> list[Any]:
    """The model's serialized configs (JSON), read without deserializing anything.

    .h5: the `model_config` attribute; .keras: config.json in the zip; SavedModel: each object's metadata JSON in
    keras_metadata.pb.
    """
    if path.is_dir():
        metadata = path / "keras_metadata.pb"
        if not metadata.is_file():
            return []
        # SavedMetadata: repeated SavedObject nodes = 1; SavedObject: identifier = 4, metadata = 5 (JSON)
        configs = []
        try:
            for number, node in _proto_fields(metadata.read_bytes()):
                fields = dict(_proto_fields(node)) if number == 1 and isinstance(node, bytes) else {}
                if fields.get(4) != b"_tf_keras_metric" and isinstance(fields.get(5), bytes):
                    configs.append(json.loads(fields[5]))
        except (IndexError, ValueError, UnicodeDecodeError):
            # fail closed: what this cannot read, TensorFlow's own parser might still load
            raise InputError(f"{metadata}: unreadable Keras metadata; refusing to load the model") from None
        return configs
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return [json.loads(archive.read("config.json"))]
    text = _h5_config(path)
    return [json.loads(text)] if text else []


def _code_in(config: Any, where: str = "model") -> str | None:
    """Why loading this config would run Python code from the file, or None."""
    if isinstance(config, list):
        return next((r for item in config if (r := _code_in(item, where))), None)
    if not isinstance(config, dict):
        return None
    class_name = config.get("class_name")
    inner = config.get("config") if isinstance(config.get("config"), dict) else {}
    name = inner.get("name") or config.get("name") or where
    if class_name in CODE_LAYERS or "function_type" in inner or "function_type" in config:
        return f"layer '{name}' is a {class_name or 'function'}, whose saved config is Python code"
    module = config.get("module")
    if isinstance(module, str) and module.split(".")[0] not in KERAS_MODULES and module != "builtins":
        return f"'{name}' names the module '{module}', which loading would import"
    registered = config.get("registered_name")
    if isinstance(registered, str) and ">" in registered:  # "package>Name": registered by user code
        return f"'{name}' is a custom object ({registered})"
    return next((r for value in config.values() if (r := _code_in(value, name))), None)


def _readable_configs(path: Path) -> list[Any]:
    try:
        return model_configs(path)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return []  # not a readable model: the loader says why


def refuse_code(path: Path | str, trust: bool) -> None:
    """Refuse a model file that would run Python code when loaded (a Lambda, a custom object), unless trusted.

    Decided from the file's config alone, before anything is deserialized and before TensorFlow is imported.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"model not found: {path}")
    configs = [] if trust else _readable_configs(path)
    reason = _code_in(configs) or (keras3.unlisted(configs) if saved_by_keras3(path) else None)
    if reason:
        raise InputError(
            f"{path}: refusing to load a model that carries Python code ({reason}); "
            "pass --trust-model only if you trust whoever made the file"
        )


@functools.cache
def output_only_config() -> type:
    """A tfmot QuantizeConfig that quantizes a layer's output only: for a layer with no weights or activation of
    its own, such as the Average that joins an ensemble (tfmot has no config of its own for it)."""
    import tensorflow_model_optimization as tfmot

    q = tfmot.quantization.keras

    class OutputOnlyQuantizeConfig(q.QuantizeConfig):
        def get_weights_and_quantizers(self, layer):
            return []

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            pass

        def set_quantize_activations(self, layer, quantize_activations):
            pass

        def get_output_quantizers(self, layer):
            quantizer = q.quantizers.MovingAverageQuantizer(8, per_axis=False, symmetric=False, narrow_range=False)
            return [quantizer]

        def get_config(self):
            return {}

    return OutputOnlyQuantizeConfig


def quantize_scope():
    """tfmot's scope for loading (and building) QAT models, with edgekit's own QuantizeConfig known."""
    import tensorflow_model_optimization as tfmot

    config = output_only_config()
    return tfmot.quantization.keras.quantize_scope({config.__name__: config})


def load_keras_model(path: Path | str, trust_model: bool = False):
    """Load a tf-keras model from .h5, .keras or a SavedModel directory (QAT-wrapped models included), or a
    Keras 3 `.keras` file with Keras 3 (toolkit.modeling.classifier).

    Args:
        path: the model file or SavedModel directory.
        trust_model: allow models whose files carry Python code (Lambda layers, custom objects).

    Raises:
        InputError: the path is missing, not a model, or carries code (untrusted).
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"model not found: {path}")
    version = _keras_version(path) if path.is_file() else None
    if version and version.split(".")[0] == "3":
        refuse_code(path, trust_model)
        return keras3.load(path, trust_model)
    refuse_code(path, trust_model)
    unknown = None if trust_model else _unknown_layers(_readable_configs(path))
    if unknown:
        raise InputError(
            f"{path}: refusing custom layer class {', '.join(unknown)} (not tf-keras or tfmot); "
            "pass --trust-model only if you trust whoever made the file"
        )
    from exporters.native_log import import_tensorflow

    import_tensorflow()
    import tf_keras as keras

    try:
        with quantize_scope():
            return keras.models.load_model(path, compile=False, safe_mode=not trust_model)
    except Exception as error:  # tf-keras raises many types (OSError, ValueError, TypeError...) for a bad file
        if path.is_dir() and not (path / "keras_metadata.pb").exists():
            raise InputError(f"{path} is a SavedModel without Keras metadata; save it from tf-keras") from None
        raise InputError(f"{path}: not a loadable tf-keras model ({first_line(error)})") from None


def _layer_classes(config: Any) -> Iterator[str]:
    """Class names of the layers (and nested models) in a model config."""
    if isinstance(config, list):
        for item in config:
            yield from _layer_classes(item)
    elif isinstance(config, dict):
        if isinstance(config.get("class_name"), str) and isinstance(config.get("config"), dict):
            inner = config["config"]
            yield config["class_name"]
            for key in ("layers", "layer", "forward_layer", "backward_layer"):
                yield from _layer_classes(inner.get(key, []))


def _unknown_layers(configs: list[Any]) -> list[str]:
    """Layer classes that neither tf-keras nor tfmot's quantization defines (their loading needs custom code)."""
    import inspect

    names = {c for config in configs for c in _layer_classes(config if "class_name" in config else [])}
    if not names:
        return []
    from exporters.native_log import import_tensorflow

    import_tensorflow()
    import tf_keras as keras

    known = {"Functional", "Sequential", "Model"}
    known |= {n for n, obj in vars(keras.layers).items() if inspect.isclass(obj)}
    for objects in quantize_scope().custom_objects:
        known |= set(objects)
    return sorted(names - known)


def load_run_model(run: Run, source: str):
    """The run's float or QAT Keras model, under the trust decision recorded when it entered the run."""
    if not run.has_model(source):
        step = "train" if source == "float" else "qat"
        raise InputError(f"{run.path} has no {source} model: run `{command(step, run.path)}` first")
    return load_keras_model(run.model_path(source), trust_model=run.trusts_model)
