"""TFLite Metadata for image classifiers, written with the flatbuffers object API of the schema code MediaPipe ships.

Runs in MediaPipe's environment (toolkit/web/mediapipe_env.py), not in edgekit's: it loads the generated
`mediapipe/tasks/metadata/{metadata_schema,schema}_py_generated.py` by path (they import only flatbuffers), without
importing mediapipe itself, which takes seconds.

    python metadata.py write JOBS.json     JOBS: [{"model": PATH, "info": {...}}, ...]; each file rewritten in place
    python metadata.py read MODEL.tflite   prints what the metadata says, as JSON
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import zipfile
from pathlib import Path

import flatbuffers
import numpy as np

METADATA_NAME = "TFLITE_METADATA"  # the Model.metadata entry that MediaPipe's and TFLite's readers look up
METADATA_IDENTIFIER = b"M001"
MODEL_IDENTIFIER = b"TFL3"
MIN_PARSER_VERSION = "1.0.0"  # every field written here exists since metadata schema 1.0.0
LABELS_FILE = "labels.txt"


def _schemas():
    """(metadata schema module, TFLite model schema module) from the installed mediapipe package's files."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("mediapipe is not installed in this environment")
    folder = Path(next(iter(spec.submodule_search_locations))) / "tasks" / "metadata"
    loaded = []
    for name in ("metadata_schema_py_generated", "schema_py_generated"):
        module_spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        loaded.append(module)
    return tuple(loaded)


MD, TFL = _schemas()


def _stats(low: list[float], high: list[float]):
    stats = MD.StatsT()
    stats.min, stats.max = low, high
    return stats


def _image(info: dict, input_type: int):
    """Input: an image (RGB or gray), NormalizationOptions mean/std from the contract's normalization
    (value = (pixel - mean) / std, i.e. mean = -offset / scale, std = 1 / scale), its value range for float input."""
    scale, offset = info["scale"], info["offset"]
    mean = [-o / s + 0.0 for s, o in zip(scale, offset, strict=True)]  # + 0.0: never -0.0
    std = [1.0 / s for s in scale]
    tensor = MD.TensorMetadataT()
    tensor.name, tensor.description = "image", info["input_description"]
    tensor.content = MD.ContentT()
    tensor.content.contentPropertiesType = MD.ContentProperties.ImageProperties
    tensor.content.contentProperties = MD.ImagePropertiesT()
    tensor.content.contentProperties.colorSpace = (
        MD.ColorSpaceType.RGB if info["channels"] == 3 else MD.ColorSpaceType.GRAYSCALE
    )
    unit = MD.ProcessUnitT()
    unit.optionsType = MD.ProcessUnitOptions.NormalizationOptions
    unit.options = MD.NormalizationOptionsT()
    unit.options.mean, unit.options.std = mean, std
    tensor.processUnits = [unit]
    if input_type == TFL.TensorType.UINT8 and mean == [0.0] and std == [1.0]:
        tensor.stats = _stats([0.0], [255.0])
    elif input_type == TFL.TensorType.FLOAT32:
        pairs = list(zip(mean, std, strict=True))
        tensor.stats = _stats([(0.0 - m) / s for m, s in pairs], [(255.0 - m) / s for m, s in pairs])
    return tensor


def _scores(info: dict, output_type: int):
    """Output: probabilities (or logits, said so) of the labels, labels.txt as a TENSOR_AXIS_LABELS file."""
    tensor = MD.TensorMetadataT()
    probabilities = info["output_kind"] == "probabilities"
    tensor.name = "probability" if probabilities else "logits"
    tensor.description = (
        "Probabilities of the labels, in labels.txt order."
        if probabilities
        else "Logits (scores before softmax) of the labels, in labels.txt order: apply softmax for probabilities."
    )
    tensor.content = MD.ContentT()
    tensor.content.contentPropertiesType = MD.ContentProperties.FeatureProperties
    tensor.content.contentProperties = MD.FeaturePropertiesT()
    if probabilities and output_type == TFL.TensorType.UINT8:
        tensor.stats = _stats([0.0], [255.0])
    elif probabilities and output_type == TFL.TensorType.FLOAT32:
        tensor.stats = _stats([0.0], [1.0])
    labels = MD.AssociatedFileT()
    labels.name, labels.description = LABELS_FILE, "The class names, one a line, in output order."
    labels.type = MD.AssociatedFileType.TENSOR_AXIS_LABELS
    tensor.associatedFiles = [labels]
    return tensor


def _metadata(info: dict, input_type: int, output_type: int) -> bytes:
    graph = MD.SubGraphMetadataT()
    graph.inputTensorMetadata, graph.outputTensorMetadata = [_image(info, input_type)], [_scores(info, output_type)]
    model = MD.ModelMetadataT()
    model.name, model.description = info["name"], info["description"]
    model.version, model.author, model.license = info["version"], info["author"], info.get("license")
    model.subgraphMetadata = [graph]
    model.minParserVersion = MIN_PARSER_VERSION
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), METADATA_IDENTIFIER)
    return bytes(builder.Output())


def _without_zip(data: bytes) -> bytes:
    """The model flatbuffer without the associated files an earlier writer appended as a zip archive."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile:
        return data
    return data[: min(e.header_offset for e in entries)] if entries else data


def write(data: bytes, info: dict) -> bytes:
    """The model with its TFLITE_METADATA entry (replaced if present) and labels.txt packed as an uncompressed zip
    appended to the flatbuffer, where MediaPipe's and TFLite's readers look; graph, buffers and signatures kept."""
    labels = [str(label) for label in info["labels"]]
    if any("\n" in label for label in labels):
        raise ValueError("a label holds a newline")
    base = _without_zip(data)
    if not TFL.Model.ModelBufferHasIdentifier(base, 0):
        raise ValueError("not a TFLite flatbuffer")
    model = TFL.ModelT.InitFromObj(TFL.Model.GetRootAsModel(base, 0))
    graph = model.subgraphs[0]
    input_type, output_type = (graph.tensors[graph.inputs[0]].type, graph.tensors[graph.outputs[0]].type)
    buffer = TFL.BufferT()
    buffer.data = np.frombuffer(_metadata(info, input_type, output_type), np.uint8)
    entry = next((m for m in model.metadata or [] if m.name.decode() == METADATA_NAME), None)
    if entry is None:
        entry = TFL.MetadataT()
        entry.name = METADATA_NAME
        model.metadata = [*(model.metadata or []), entry]
        model.buffers.append(buffer)
        entry.buffer = len(model.buffers) - 1
    else:
        model.buffers[entry.buffer] = buffer
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), MODEL_IDENTIFIER)
    out = io.BytesIO(bytes(builder.Output()))
    out.seek(0, io.SEEK_END)
    with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(LABELS_FILE, "".join(label + "\n" for label in labels))
    return out.getvalue()


def read(data: bytes) -> dict:
    """What the embedded metadata says: general fields, the input's color space, normalization and range, the
    output's name and range, the labels."""
    model = TFL.Model.GetRootAsModel(data, 0)
    names = [model.Metadata(i).Name().decode() for i in range(model.MetadataLength())]
    if METADATA_NAME not in names:
        raise ValueError("the model carries no TFLite Metadata")
    raw = model.Buffers(model.Metadata(names.index(METADATA_NAME)).Buffer()).DataAsNumpy().tobytes()
    meta = MD.ModelMetadataT.InitFromObj(MD.ModelMetadata.GetRootAsModelMetadata(raw, 0))
    image, scores = meta.subgraphMetadata[0].inputTensorMetadata[0], meta.subgraphMetadata[0].outputTensorMetadata[0]
    norm = next(u.options for u in image.processUnits if u.optionsType == MD.ProcessUnitOptions.NormalizationOptions)
    label_file = next(f for f in scores.associatedFiles if f.type == MD.AssociatedFileType.TENSOR_AXIS_LABELS)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        labels = archive.read(label_file.name.decode()).decode("utf-8").splitlines()
    text = lambda value: None if value is None else value.decode()  # noqa: E731
    stats = lambda s: None if s is None else {"min": [float(v) for v in s.min], "max": [float(v) for v in s.max]}  # noqa: E731
    colors = {v: k for k, v in vars(MD.ColorSpaceType).items() if not k.startswith("_")}
    return {
        "name": text(meta.name),
        "description": text(meta.description),
        "version": text(meta.version),
        "author": text(meta.author),
        "min_parser_version": text(meta.minParserVersion),
        "color_space": colors.get(image.content.contentProperties.colorSpace),
        "mean": [float(v) for v in norm.mean],
        "std": [float(v) for v in norm.std],
        "input_stats": stats(image.stats),
        "output_name": text(scores.name),
        "output_stats": stats(scores.stats),
        "labels": labels,
        "signatures": [text(model.SignatureDefs(i).SignatureKey()) for i in range(model.SignatureDefsLength())],
    }


def main() -> int:
    if sys.argv[1:2] == ["write"]:
        for job in json.loads(Path(sys.argv[2]).read_text()):
            path = Path(job["model"])
            path.write_bytes(write(path.read_bytes(), job["info"]))
        return 0
    if sys.argv[1:2] == ["read"]:
        print(json.dumps(read(Path(sys.argv[2]).read_bytes())))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
