"""Keras 3 `.keras` files: which Keras wrote one, the objects its config may name without --trust-model (a list of
layers, initializers and activations that compute and read nothing), and loading it with the installed Keras 3."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from toolkit.errors import InputError, first_line

# Layers that only compute: none reads a file or the network when it is built (StringLookup, IntegerLookup and
# TextVectorization read a vocabulary path, TFSMLayer loads a SavedModel: those need --trust-model).
LAYERS = frozenset(
    """InputLayer Dense EinsumDense Activation Identity Embedding Masking
    Conv1D Conv2D Conv3D Conv1DTranspose Conv2DTranspose Conv3DTranspose DepthwiseConv1D DepthwiseConv2D
    SeparableConv1D SeparableConv2D
    MaxPooling1D MaxPooling2D MaxPooling3D AveragePooling1D AveragePooling2D AveragePooling3D
    GlobalMaxPooling1D GlobalMaxPooling2D GlobalMaxPooling3D GlobalAveragePooling1D GlobalAveragePooling2D
    GlobalAveragePooling3D
    BatchNormalization LayerNormalization GroupNormalization UnitNormalization
    Dropout SpatialDropout1D SpatialDropout2D SpatialDropout3D GaussianDropout GaussianNoise AlphaDropout
    ActivityRegularization
    Flatten Reshape Permute RepeatVector Cropping1D Cropping2D Cropping3D ZeroPadding1D ZeroPadding2D ZeroPadding3D
    UpSampling1D UpSampling2D UpSampling3D
    Add Subtract Multiply Average Maximum Minimum Concatenate Dot
    ReLU LeakyReLU PReLU ELU Softmax
    Rescaling Normalization Resizing CenterCrop RandomFlip RandomRotation RandomTranslation RandomZoom RandomContrast
    RandomBrightness RandomCrop
    Attention MultiHeadAttention""".split()
)
MODELS = frozenset({"Sequential", "Functional", "Model"})
INITIALIZERS = frozenset(
    """Constant GlorotNormal GlorotUniform HeNormal HeUniform Identity LecunNormal LecunUniform Ones Orthogonal
    RandomNormal RandomUniform TruncatedNormal VarianceScaling Zeros""".split()
)
REGULARIZERS = frozenset({"L1", "L2", "L1L2", "OrthogonalRegularizer"})
CONSTRAINTS = frozenset({"MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm"})
ACTIVATIONS = frozenset(
    """relu relu6 leaky_relu elu selu gelu sigmoid hard_sigmoid silu swish hard_silu hard_swish mish softmax
    log_softmax softplus softsign tanh linear exponential""".split()
)
ALLOWED = {
    "keras.layers": LAYERS,
    "keras": MODELS | {"DTypePolicy", "FloatDTypePolicy"},
    "keras.models": MODELS,
    "keras.initializers": INITIALIZERS,
    "keras.regularizers": REGULARIZERS,
    "keras.constraints": CONSTRAINTS,
}


def saved_version(path: Path) -> str | None:
    """The Keras version that wrote a .keras file (its metadata.json), read without importing Keras."""
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("metadata.json")).get("keras_version")
    except (KeyError, OSError, ValueError, zipfile.BadZipFile):
        return None


def unlisted(config: Any, where: str = "model") -> str | None:
    """Why a Keras 3 config names an object outside the list above, or None when everything in it is listed.

    The compile config is not looked at: edgekit loads with compile=False, which never deserializes it.
    """
    if isinstance(config, list):
        return next((r for item in config if (r := unlisted(item, where))), None)
    if not isinstance(config, dict):
        return None
    inner = config.get("config")
    name = (inner.get("name") if isinstance(inner, dict) else None) or where
    if "class_name" in config and "module" in config:
        reason = _unlisted_object(config, name)
        if reason:
            return reason
    return next((r for key, value in config.items() if key != "compile_config" and (r := unlisted(value, name))), None)


def _unlisted_object(config: dict, name: str) -> str | None:
    class_name, module, inner = config["class_name"], config["module"], config.get("config")
    if not isinstance(module, str):
        return f"'{name}' is a custom class ({config.get('registered_name') or class_name})"
    public = module.replace("keras.src.", "keras.").split(".")
    if class_name == "function":
        if ".".join(public[:2]) == "keras.activations" and inner in ACTIVATIONS:
            return None
        return f"'{name}' names the function {module}.{inner}, which is not a listed activation"
    for depth in (2, 1):  # keras.src.layers.core.dense -> keras.layers; keras.src.models.functional -> keras.models
        if class_name in ALLOWED.get(".".join(public[:depth]), ()):
            return None
    return f"'{name}' is {module}.{class_name}, which is not on the list of objects edgekit loads without --trust-model"


def load(path: Path, trust_model: bool = False):
    """Load a Keras 3 `.keras` file with the installed Keras 3, in safe mode unless the user trusts the file.

    Raises:
        InputError: Keras refused the file, with the reason Keras gave last (its real cause) and, for a file from a
            newer Keras, which versions and what to do.
    """
    import keras

    try:
        return keras.saving.load_model(path, compile=False, safe_mode=not trust_model)
    except Exception as error:  # Keras raises many types for a bad file
        # Keras nests the real cause after "Exception encountered:": that is the line to show.
        text = str(error).strip()
        cause = text.split("Exception encountered:")[-1].strip().splitlines()[0] if text else first_line(error)
        saved = saved_version(Path(path))
        if saved and _release(saved) > _release(keras.__version__):
            ours = keras.__version__
            raise InputError(
                f"{path}: saved by Keras {saved}, newer than the Keras {ours} edgekit runs ({cause[:200]}); "
                f"save it with Keras {'.'.join(ours.split('.')[:2])} or older, or update edgekit"
            ) from None
        raise InputError(f"{path}: not a loadable Keras 3 model ({cause[:200]})") from None


def _release(version: str) -> tuple[int, int]:
    major, minor = (version.split(".") + ["0", "0"])[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)
