"""The OCR engine (easyocr's models on onnxruntime, no torch) reads what easyocr itself reads.

easyocr on torch is the reference. The faithful port (easyocr_port.readtext on the float32 export)
gives the same texts, boxes (within a pixel) and confidences (within 0.02). The engine the worker runs
(int8 detector, detection scale from the image, batched recognition, lines) reads small images as
easyocr does, grouped into lines. The models are exported by `make` before the tests; if they are
missing here they are exported once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from local.template import ROOT
from tests.images import text_image

# Noise from easyocr's torch code: its DataLoader asks for pinned memory, its Reader quantisation call.
pytestmark = [
    pytest.mark.filterwarnings("ignore:'pin_memory' argument is set as true"),
    pytest.mark.filterwarnings("ignore:torch.ao.quantization is deprecated"),
]


def model_dir() -> Path:
    """Where engine.MODEL_DIR points in this process."""
    return Path(os.environ.get("ASSISTI_OCR_MODEL_DIR", ROOT / ".models" / "ocr"))


@pytest.fixture(scope="module")
def models() -> Path:
    """The exported models (a no-op when they are already up to date)."""
    from tools.ocr_export import export_models as exporter

    assert exporter.export(model_dir()), "ONNX export failed its check against torch"
    return model_dir()


@pytest.fixture(scope="module")
def engine(models: Path) -> Any:
    from assisti_ocr_worker import engine

    return engine


@pytest.fixture(scope="module")
def float_detector(engine: Any, models: Path) -> Any:
    """The float32 CRAFT the int8 one was quantised from: what the faithful port runs."""
    return engine._Network(models / engine._CONFIG["detector"]["reference_file"], engine._CONFIG["detector"]["input"])


def port_reading(engine: Any, detector: Any, image: np.ndarray, **options: Any) -> list[Any]:
    results = engine.easyocr_port.readtext(
        detector, engine._RECOGNIZER, image, engine._CHARACTERS, engine._IGNORE_IDX, **options
    )
    return [
        (text.strip(), float(conf), [[int(x), int(y)] for x, y in box]) for box, text, conf in results if text.strip()
    ]


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """easyocr's own English reader on CPU, unquantised, from the same packaged weights."""
    from tools.ocr_export import torchvision_shim

    torchvision_shim.install()
    import easyocr
    import easyocr_en_models

    yield easyocr.Reader(
        ["en"],
        gpu=False,
        quantize=False,
        download_enabled=False,
        model_storage_directory=easyocr_en_models.model_dir(),
        user_network_directory=str(tmp_path_factory.mktemp("easyocr-user-network")),
        verbose=False,
    )


def rgb(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def reference(reader: Any, image: np.ndarray, **options: Any) -> list[tuple[str, float, list[list[int]]]]:
    """easyocr's readtext as the engine reports it: text stripped, empty readings dropped, int boxes."""
    return [
        (text.strip(), float(confidence), [[int(x), int(y)] for x, y in box])
        for box, text, confidence in reader.readtext(image, **options)
        if text.strip()
    ]


def assert_same_reading(actual: list[tuple[str, float, list[list[int]]]], expected: list[Any]) -> None:
    assert [text for text, _, _ in actual] == [text for text, _, _ in expected]
    for (text, confidence, box), (_, expected_confidence, expected_box) in zip(actual, expected, strict=True):
        assert np.abs(np.array(box) - np.array(expected_box)).max() <= 1, (text, box, expected_box)
        assert abs(confidence - expected_confidence) < 0.02, (text, confidence, expected_confidence)


IMAGES = {
    "words": lambda: text_image(["Hello Assisti"]),
    "digits": lambda: text_image(["0123456789 42 7"]),
    "punctuation": lambda: text_image(["Room 42, floor 3 (east wing)!"]),
    "two_lines": lambda: text_image(["Invoice 2024-07-15", "Total: $1,234.56"]),
    "small_font": lambda: text_image(["small print here"], size=18),
    "light_grey_background": lambda: text_image(["grey background"], background="#d8d8d8"),
    "colour": lambda: text_image(["Red on blue"], ink="#ff3030", background="#2040c0"),
    "tilted_two_lines": lambda: text_image(["Tilted 2 lines", "second line"]).rotate(
        -12, expand=True, fillcolor="white"
    ),
    "no_text": lambda: text_image([""]),
}


@pytest.mark.parametrize("name", IMAGES)
def test_the_port_reads_the_same_texts_boxes_and_confidences_as_easyocr(
    name: str, engine: Any, float_detector: Any, reader: Any
) -> None:
    image = rgb(IMAGES[name]())

    assert_same_reading(port_reading(engine, float_detector, image), reference(reader, image))


@pytest.mark.parametrize("name", IMAGES)
def test_the_engine_reads_small_images_as_easyocr_does_in_lines(name: str, engine: Any, reader: Any) -> None:
    image = rgb(IMAGES[name]())

    lines = engine.read_text(image)

    pieces = [engine.layout.Piece(text, conf, box) for text, conf, box in reference(reader, image)]
    expected = engine.layout.group_lines(pieces)
    assert [line.text for line in lines] == [line.text for line in expected]
    for line, wanted in zip(lines, expected, strict=True):
        assert np.abs(np.array(line.box) - np.array(wanted.box)).max() <= 4, (line.text, line.box, wanted.box)
        # A box a pixel off moves the crop, and easyocr's confidence with it: the text is what must hold.
        assert type(line.confidence) is float and 0.0 <= line.confidence <= 1.0
        assert len(line.box) == 4 and all(type(c) is int for point in line.box for c in point)


def test_image_without_text_gives_no_lines(engine: Any, reader: Any) -> None:
    image = rgb(IMAGES["no_text"]())

    assert engine.read_text(image) == []
    assert reference(reader, image) == []


@pytest.mark.parametrize("lines", [["Hello Assisti"], ["Room 42, floor 3 (east wing)!"]])
def test_clean_text_reads_back_exactly(lines: list[str], engine: Any) -> None:
    result = engine.read_text(rgb(text_image(lines)))

    assert [line.text for line in result] == lines
    assert all(line.confidence > 0.5 for line in result)


def test_boxes_are_clockwise_from_top_left_in_original_pixels(engine: Any) -> None:
    image = rgb(text_image(["Hello Assisti"], size=40, padding=30))

    (line,) = engine.read_text(image)

    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = line.box
    assert x0 == x3 < x1 == x2 and y0 == y1 < y2 == y3  # top-left, top-right, bottom-right, bottom-left
    height, width = image.shape[:2]
    assert 15 <= x0 <= 30 and 15 <= y0 <= 40 and x1 <= width and y2 <= height  # around the text, padded 30


def test_low_confidence_second_pass_matches_easyocr(engine: Any, float_detector: Any, reader: Any) -> None:
    """With contrast_ths=1 every crop is re-read with its contrast stretched (easyocr's second pass)."""
    image = rgb(text_image(["faint ink 123"], ink="#c8c8c8", background="#f0f0f0"))

    actual = port_reading(engine, float_detector, image, contrast_ths=1.0)

    assert actual
    assert_same_reading(actual, reference(reader, image, contrast_ths=1.0))


def test_engine_imports_without_torch(models: Path) -> None:
    script = (
        "import sys\nfrom assisti_ocr_worker import engine\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'torchvision', 'easyocr'})\n"
        "assert not loaded, loaded\n"
        "import numpy as np\n"
        "assert engine.read_text(np.full((64, 64, 3), 255, np.uint8)) == []\n"
    )
    env = {**os.environ, "ASSISTI_OCR_MODEL_DIR": str(models)}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_engine_without_models_says_how_to_export_them(tmp_path: Path) -> None:
    env = {**os.environ, "ASSISTI_OCR_MODEL_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", "import assisti_ocr_worker.engine"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "make models" in done.stderr


def test_exported_recogniser_accepts_different_widths(models: Path) -> None:
    import json

    import onnxruntime as ort

    config = json.loads((models / "english_g2.json").read_text(encoding="utf-8"))["recognizer"]
    session = ort.InferenceSession(str(models / config["file"]), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    steps = []
    for width in (128, 512):
        (logits,) = session.run(None, {"image": rng.uniform(-1, 1, (1, 1, 64, width)).astype(np.float32)})
        assert logits.shape[0] == 1 and logits.shape[2] == len(config["characters"]) + 1
        steps.append(logits.shape[1])
    assert steps[0] < steps[1]


def test_read_text_rejects_anything_but_rgb_uint8(engine: Any) -> None:
    with pytest.raises(ValueError, match="RGB uint8"):
        engine.read_text(np.zeros((32, 32), np.uint8))
    with pytest.raises(ValueError, match="RGB uint8"):
        engine.read_text(np.zeros((32, 32, 3), np.float32))
