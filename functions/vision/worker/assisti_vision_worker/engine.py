"""The vision worker's inference engine: image classifiers on onnxruntime, without torch.

Two models, both loaded when this module is imported (once per Lambda container):

- ``ANIMALS``: ImageNet EfficientNet-Lite0, exported at build time by ``export_animals.py`` to EXPORTED_DIR
  (``animals.onnx`` + ``animals.json``); class names, "is it an animal" and the animal group come from the
  committed ``imagenet_classes.json``.
- ``ROAD_SIGNS``: the road-sign CNN, committed in BUNDLED_DIR (``road_signs.onnx`` + ``road_signs.json``).

Every model is an ONNX graph with input ``image`` float32 (N, 3, S, S) and output ``logits`` (N, classes),
plus a JSON that says how to turn a photo into that input, so the recipe lives with the model, not here:

- ``input_size``: S.
- ``resize``: ``"center_crop"`` (the central square of ``crop`` x the shorter side, default 1.0, resized to
  S x S) or ``"squash"`` (the whole image resized to S x S, aspect ratio not kept).
- ``interpolation``: ``"bicubic"``, ``"bilinear"`` (the default), ``"nearest"``, ``"lanczos"`` or ``"box"``.
- ``mean``, ``std``: per RGB channel, applied to pixel values / 255.
- ``classes`` (a list of ``{"index", "name", ...}``) or ``classes_file`` (a JSON file with such a list, whose
  entries may also say ``animal`` and ``group``), in logit order.

Environment:
- ``ASSISTI_VISION_MODEL_DIR``: folder with animals.onnx and animals.json (default: BUNDLED_DIR).
- ``ASSISTI_VISION_BUNDLED_DIR``: folder with the committed files (default: ``models`` next to this file).
- ``ASSISTI_VISION_THREADS``: onnxruntime intra-op threads per model (default 0: onnxruntime's choice).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from assisti_common.image_jobs.onnx import inference_session

_CODE_MODELS_DIR = Path(__file__).resolve().parent / "models"
BUNDLED_DIR = Path(os.environ.get("ASSISTI_VISION_BUNDLED_DIR", _CODE_MODELS_DIR))
EXPORTED_DIR = Path(os.environ.get("ASSISTI_VISION_MODEL_DIR", BUNDLED_DIR))

ANIMALS_MODEL, ANIMALS_CONFIG = "animals.onnx", "animals.json"
ROAD_SIGNS_MODEL, ROAD_SIGNS_CONFIG = "road_signs.onnx", "road_signs.json"
ANIMALS_HINT = "run `python -m tools.vision_export.export_animals --out {dir}` (or `make models`) to export it"
ROAD_SIGNS_HINT = (
    "road_signs.onnx and road_signs.json are committed in this package's models/ folder, made by the road-sign "
    "training (tools/road_signs/); restore them from git, or point ASSISTI_VISION_BUNDLED_DIR at them"
)

_INTERPOLATIONS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
}
_RESIZES = ("center_crop", "squash")


@dataclass(frozen=True)
class ClassScore:
    index: int  # logits column
    label: str  # human name
    confidence: float  # softmax probability 0..1
    group: str | None  # animals: the group ("cat", ...) or None when not an animal; road signs: None
    animal: bool  # animals: whether the class is an animal; road signs: False


class ModelsMissingError(RuntimeError):
    """A model file or its JSON is not where the engine looks for it."""


@dataclass(frozen=True)
class _ClassInfo:
    name: str
    animal: bool
    group: str | None


@dataclass(frozen=True, eq=False)
class _Recipe:
    """How a photo becomes the model's input, from the model's JSON."""

    size: int
    resize: str
    crop: float
    interpolation: Image.Resampling
    mean: NDArray[np.float32]
    std: NDArray[np.float32]

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any], where: Path) -> _Recipe:
        resize = str(metadata.get("resize", "squash"))
        interpolation = str(metadata.get("interpolation", "bilinear"))
        if resize not in _RESIZES:
            raise ValueError(f"{where}: unknown resize {resize!r} (supported: {', '.join(_RESIZES)})")
        if interpolation not in _INTERPOLATIONS:
            supported = ", ".join(_INTERPOLATIONS)
            raise ValueError(f"{where}: unknown interpolation {interpolation!r} (supported: {supported})")
        mean = np.asarray(metadata["mean"], dtype=np.float32).reshape(3)
        std = np.asarray(metadata["std"], dtype=np.float32).reshape(3)
        crop = float(metadata.get("crop", 1.0))
        size = int(metadata["input_size"])
        if size < 1 or not 0.0 < crop <= 1.0 or not np.all(std > 0):
            raise ValueError(f"{where}: input_size must be >= 1, crop in (0, 1] and std > 0")
        return cls(size, resize, crop, _INTERPOLATIONS[interpolation], mean, std)


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ModelsMissingError(f"{path} is missing")
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def _load_classes(metadata: dict[str, Any], metadata_path: Path) -> tuple[_ClassInfo, ...]:
    """The classes in logit order, from ``classes`` or from the file ``classes_file`` names.

    ``classes_file`` is looked for next to the JSON, then in the committed folders: the exported
    animals.json lives outside the code (``.models/vision`` locally), the class list is committed with it.
    """
    if "classes" in metadata:
        entries = metadata["classes"]
        with_animals = False  # road signs: never animals
    elif "classes_file" in metadata:
        name = str(metadata["classes_file"])
        folders = dict.fromkeys([metadata_path.parent, BUNDLED_DIR, _CODE_MODELS_DIR])
        found = next((folder / name for folder in folders if (folder / name).is_file()), None)
        if found is None:
            raise ModelsMissingError(f"{name} (named by {metadata_path}) is in none of {', '.join(map(str, folders))}")
        entries = _read_json(found)["classes"]
        with_animals = True
    else:
        raise ValueError(f"{metadata_path}: neither 'classes' nor 'classes_file'")
    ordered = sorted(entries, key=lambda entry: int(entry["index"]))
    if [int(entry["index"]) for entry in ordered] != list(range(len(ordered))) or not ordered:
        raise ValueError(f"{metadata_path}: class indices must be 0..n-1")
    classes = []
    for entry in ordered:
        animal = with_animals and bool(entry.get("animal", False))
        group = entry.get("group") if animal else None
        classes.append(_ClassInfo(str(entry["name"]), animal, None if group is None else str(group)))
    return tuple(classes)


def _softmax(logits: NDArray[np.float32]) -> NDArray[np.float64]:
    shifted = logits.astype(np.float64) - np.max(logits)
    exp = np.exp(shifted)
    result: NDArray[np.float64] = exp / exp.sum()
    return result


class Classifier:
    """One ONNX image classifier and the preprocessing and class names its JSON describes."""

    def __init__(self, model_path: Path, metadata_path: Path, threads: int = 0) -> None:
        if not model_path.is_file():
            raise ModelsMissingError(f"{model_path} is missing")
        self.metadata = _read_json(metadata_path)
        self.recipe = _Recipe.from_metadata(self.metadata, metadata_path)
        self.classes = _load_classes(self.metadata, metadata_path)
        self.input_size = self.recipe.size
        self.input_name = str(self.metadata.get("input", "image"))
        self.output_name = str(self.metadata.get("output", "logits"))
        self.session = inference_session(model_path, threads)
        self._check_graph(model_path)

    def _check_graph(self, model_path: Path) -> None:
        """Fails at load, not on the first photo, when the graph and its JSON disagree."""
        inputs = {node.name: node.shape for node in self.session.get_inputs()}
        outputs = {node.name: node.shape for node in self.session.get_outputs()}
        if self.input_name not in inputs or self.output_name not in outputs:
            raise ValueError(f"{model_path}: expected input {self.input_name!r} and output {self.output_name!r}")
        expected_input = [None, 3, self.input_size, self.input_size]
        for axis, (actual, expected) in enumerate(zip(inputs[self.input_name], expected_input, strict=True)):
            if expected is not None and isinstance(actual, int) and actual != expected:
                raise ValueError(f"{model_path}: input axis {axis} is {actual}, the JSON says {expected}")
        width = outputs[self.output_name][-1]
        if isinstance(width, int) and width != len(self.classes):
            raise ValueError(f"{model_path}: {width} logits for {len(self.classes)} classes")

    @property
    def source_side(self) -> int:
        """The shorter side an image needs for the model's input to come from at least as many pixels
        (the crop of that side is resized to the input, never enlarged): 256 for a 224 crop of 0.875."""
        return math.ceil(self.recipe.size / self.recipe.crop)

    def preprocess(self, image: Image.Image) -> NDArray[np.float32]:
        """An image of any size and mode as the model's input: a (1, 3, S, S) float32 batch."""
        recipe = self.recipe
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        width, height = rgb.size
        if width < 1 or height < 1:
            raise ValueError("the image is empty")
        box = (0, 0, width, height)
        if recipe.resize == "center_crop":
            # As TF's eval crop: int(crop x shorter side), offsets rounded up.
            side = max(1, int(recipe.crop * min(width, height)))
            left, top = (width - side + 1) // 2, (height - side + 1) // 2
            box = (left, top, left + side, top + side)
        resized = rgb.resize((recipe.size, recipe.size), recipe.interpolation, box=box)
        pixels = np.asarray(resized, dtype=np.float32) / 255.0
        normalised = (pixels - recipe.mean) / recipe.std
        return np.ascontiguousarray(normalised.transpose(2, 0, 1)[np.newaxis], dtype=np.float32)

    def top_k(self, image: Image.Image, k: int = 5) -> list[ClassScore]:
        """The k most likely classes for an image, most likely first (k is capped at the number of classes)."""
        if k < 1:
            raise ValueError("k must be at least 1")
        (logits,) = self.session.run([self.output_name], {self.input_name: self.preprocess(image)})
        probabilities = _softmax(np.asarray(logits, dtype=np.float32)[0])
        best = np.argsort(-probabilities, kind="stable")[:k]
        scores = []
        for index in best.tolist():
            info = self.classes[index]
            scores.append(ClassScore(index, info.name, float(probabilities[index]), info.group, info.animal))
        return scores


def _require(folder: Path, names: tuple[str, ...], what: str, hint: str) -> None:
    missing = [str(folder / name) for name in names if not (folder / name).is_file()]
    if missing:
        raise ModelsMissingError(f"{what} not found: {', '.join(missing)} missing; {hint}")


def load_animals(threads: int = 0) -> Classifier:
    """ImageNet EfficientNet-Lite0 from EXPORTED_DIR, with the animal groups."""
    _require(EXPORTED_DIR, (ANIMALS_MODEL, ANIMALS_CONFIG), "animal model", ANIMALS_HINT.format(dir=EXPORTED_DIR))
    return Classifier(EXPORTED_DIR / ANIMALS_MODEL, EXPORTED_DIR / ANIMALS_CONFIG, threads)


def load_road_signs(threads: int = 0) -> Classifier:
    """The road-sign CNN from BUNDLED_DIR."""
    _require(BUNDLED_DIR, (ROAD_SIGNS_MODEL, ROAD_SIGNS_CONFIG), "road-sign model", ROAD_SIGNS_HINT)
    return Classifier(BUNDLED_DIR / ROAD_SIGNS_MODEL, BUNDLED_DIR / ROAD_SIGNS_CONFIG, threads)


THREADS = int(os.environ.get("ASSISTI_VISION_THREADS") or "0")
ANIMALS: Classifier = load_animals(THREADS)
ROAD_SIGNS: Classifier = load_road_signs(THREADS)
# The shorter side a photo is decoded to (at least) for both models: libjpeg's scaled decode averages the
# pixels it drops, so a 12 MP JPEG decoded at 1/8 (504x378) feeds the models as much as a full decode.
DRAFT_SIDE = max(ANIMALS.source_side, ROAD_SIGNS.source_side)
