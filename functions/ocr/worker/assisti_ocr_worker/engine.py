"""The OCR engine of the OCR worker Lambda: easyocr's English models on onnxruntime, without torch.

The models are easyocr's CRAFT detector and ``english_g2`` recogniser, exported to ONNX at build time
(``tools/ocr_export``). ``read_text`` is easyocr's ``readtext`` with three changes that phone photos
need, each its own module:

- ``detection``: CRAFT at a resolution chosen from the image, in tiles of bounded size (a 12 MP photo
  no longer costs gigabytes and tens of seconds); small images are detected exactly as easyocr does;
- ``recognition``: the boxes read in batches of equal width (the same readings, fewer calls);
- ``layout``: the readings grouped into lines, top to bottom and left to right.

The rest is easyocr's own processing (``easyocr_port``), whose ``readtext`` stays the faithful
reference the tests compare with easyocr on torch.

Both inference sessions are created once, when this module is imported (once per Lambda container).

Environment:
- ``ASSISTI_OCR_MODEL_DIR``: folder with craft.onnx, english_g2.onnx and english_g2.json
  (default: ``models`` next to this file).
- ``ASSISTI_OCR_THREADS``: onnxruntime intra-op threads (default 0: onnxruntime's own choice).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from assisti_common.image_jobs.onnx import inference_session
from assisti_ocr_worker import detection, easyocr_port, layout, recognition

MODEL_DIR: Path = Path(os.environ.get("ASSISTI_OCR_MODEL_DIR", Path(__file__).resolve().parent / "models"))
CONFIG_FILE = "english_g2.json"
EXPORT_HINT = "run `make models` (python -m tools.ocr_export.export_models --out DIR) to export them"


@dataclass(frozen=True)
class OcrLine:
    text: str
    confidence: float  # 0..1
    box: list[list[int]]  # 4 points [[x, y], ...] clockwise from top-left, in the original image's pixels


class ModelsMissingError(RuntimeError):
    """The exported ONNX models are not where MODEL_DIR says."""


def _load_config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / CONFIG_FILE
    if not path.is_file():
        raise ModelsMissingError(f"OCR models not found: {path} is missing; {EXPORT_HINT}")
    config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    for part in ("detector", "recognizer"):
        model_path = model_dir / config[part]["file"]
        if not model_path.is_file():
            raise ModelsMissingError(f"OCR model not found: {model_path} is missing; {EXPORT_HINT}")
    return config


class _Network:
    """One ONNX model as the callable easyocr_port expects: a float32 batch in, the first output out."""

    def __init__(self, path: Path, input_name: str) -> None:
        self.session = inference_session(path, int(os.environ.get("ASSISTI_OCR_THREADS", "0")), varying_shapes=True)
        self.input_name = input_name

    def __call__(self, batch: NDArray[np.float32]) -> NDArray[np.float32]:
        outputs = self.session.run(None, {self.input_name: batch})
        return np.asarray(outputs[0], dtype=np.float32)


_CONFIG = _load_config(MODEL_DIR)
_DETECTOR = _Network(MODEL_DIR / _CONFIG["detector"]["file"], _CONFIG["detector"]["input"])
_RECOGNIZER = _Network(MODEL_DIR / _CONFIG["recognizer"]["file"], _CONFIG["recognizer"]["input"])
_CHARACTERS: str = _CONFIG["recognizer"]["characters"]
_IGNORE_IDX: list[int] = [int(index) for index in _CONFIG["recognizer"]["ignore_idx"]]
if int(_CONFIG["recognizer"]["imgH"]) != easyocr_port.IMG_H:
    raise ModelsMissingError(f"{MODEL_DIR / CONFIG_FILE}: unexpected imgH; {EXPORT_HINT}")


def read_text(image: NDArray[np.uint8]) -> list[OcrLine]:
    """The text lines in an RGB uint8 image (H x W x 3), top to bottom; [] if none."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError("read_text expects an RGB uint8 array of shape (height, width, 3)")
    if image.shape[0] == 0 or image.shape[1] == 0:
        return []
    image = np.ascontiguousarray(image)
    # easyocr reads from a grey copy made with the BGR weights (see easyocr_port.reformat_input).
    grey = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    found = detection.detect(_DETECTOR, image)
    horizontal_list, free_list = easyocr_port.group_boxes(found.boxes)
    readings = recognition.read(
        _RECOGNIZER, recognition.crops(grey, horizontal_list, free_list), _CHARACTERS, _IGNORE_IDX
    )
    pieces = [
        layout.Piece(text.strip(), float(confidence), [[int(point[0]), int(point[1])] for point in box])
        for box, text, confidence in readings
        if text.strip()
    ]
    return [OcrLine(line.text, line.confidence, line.box) for line in layout.group_lines(pieces)]
