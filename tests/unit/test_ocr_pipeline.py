"""The OCR worker's own pipeline around easyocr's models: detection at a scale chosen from the image,
in tiles of bounded size, and the readings grouped into lines in reading order."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import pytest

from assisti_ocr_worker import detection, layout
from assisti_ocr_worker.layout import Piece
from bench.ocr_corpus import SEMIBOLD, phone_photo, receipt_photo


@pytest.fixture(scope="module")
def engine() -> Any:
    from assisti_ocr_worker import engine

    return engine


@pytest.mark.parametrize("length", [320, 1024, 1056, 1280, 1920, 2368, 2560, 4032])
def test_tiles_cover_the_axis_with_context_at_every_seam(length):
    starts, side = detection._tiles(length)
    bounds = detection._bounds(starts, side, length)
    assert side <= detection.TILE and all(start % 32 == 0 for start in starts)
    assert starts[0] == 0 and starts[-1] + side == length
    assert bounds[0][0] == 0 and bounds[-1][1] == length
    assert all(end == following for (_, end), (following, _) in pairwise(bounds))
    for start, (begin, end) in zip(starts, bounds, strict=True):
        assert start <= begin and end <= start + side  # a tile contributes only what it saw
        inner_margin = min(begin - start if begin else detection.OVERLAP, start + side - end if end < length else 99)
        assert inner_margin >= detection.OVERLAP - 32


def _canvas(image: np.ndarray, size: int) -> np.ndarray:
    import cv2

    from assisti_ocr_worker import easyocr_port

    resized, _ = easyocr_port.resize_aspect_ratio(image, size, interpolation=cv2.INTER_LINEAR)
    return easyocr_port.normalize_mean_variance(resized)


def test_tiled_score_maps_agree_with_one_run_over_the_whole_canvas(engine, monkeypatch):
    photo = np.asarray(phone_photo("t", "coffee", ("Stitched maps", "read the same"), SEMIBOLD, 160, 0.0, 5).image)
    canvas = _canvas(photo, 1280)
    tiled = detection.score_maps(engine._DETECTOR, canvas)
    monkeypatch.setattr(detection, "TILE", 4096)
    whole = detection.score_maps(engine._DETECTOR, canvas)
    tiled_text, whole_text = tiled[:, :, 0] > 0.4, whole[:, :, 0] > 0.4
    iou = np.logical_and(tiled_text, whole_text).sum() / np.logical_or(tiled_text, whole_text).sum()
    assert whole_text.any() and iou > 0.97


def test_large_text_in_a_phone_photo_is_found_on_the_small_canvas(engine):
    photo = phone_photo("t", "chelsea", ("TABLE 12", "Reserved 19:45"), SEMIBOLD, 190, -2.0, 1).image
    found = detection.detect(engine._DETECTOR, np.asarray(photo))
    assert found.canvas == detection.LEVELS[0] and len(found.boxes) >= 2


def test_small_text_in_a_phone_photo_sends_detection_to_a_larger_canvas(engine):
    found = detection.detect(engine._DETECTOR, np.asarray(receipt_photo().image))
    assert found.canvas > detection.LEVELS[0] and len(found.boxes) >= 12


def test_a_small_image_is_detected_at_its_own_size_never_enlarged(engine):
    image = np.full((120, 300, 3), 255, np.uint8)
    assert detection.detect(engine._DETECTOR, image).canvas == 300


def box(left: int, top: int, right: int, bottom: int) -> list[list[int]]:
    return [[left, top], [right, top], [right, bottom], [left, bottom]]


def test_words_on_one_line_make_one_line_read_left_to_right():
    pieces = [
        Piece("19:45", 0.9, box(520, 212, 700, 260)),
        Piece("TABLE", 0.8, box(100, 100, 300, 150)),
        Piece("Reserved", 0.9, box(100, 205, 480, 262)),
        Piece("12", 0.7, box(340, 104, 420, 148)),
    ]
    lines = layout.group_lines(pieces)
    assert [line.text for line in lines] == ["TABLE 12", "Reserved 19:45"]
    assert lines[0].box == box(100, 100, 420, 150) and lines[0].confidence == pytest.approx(0.75)


def test_a_tilted_page_keeps_its_lines_apart_and_in_order():
    # ~3 degrees: the right end of each line sits 25 px lower than its left end
    pieces = [
        Piece("second", 0.9, box(400, 195, 700, 245)),
        Piece("first", 0.9, box(100, 100, 380, 150)),
        Piece("line", 0.9, box(400, 120, 600, 170)),
        Piece("line", 0.9, box(100, 175, 380, 225)),
    ]
    assert [line.text for line in layout.group_lines(pieces)] == ["first line", "line second"]


def test_lines_come_out_top_to_bottom_whatever_order_the_pieces_came_in():
    pieces = [Piece(f"line {n}", 0.9, box(50, 60 * n, 400, 60 * n + 40)) for n in (3, 1, 4, 0, 2)]
    assert [line.text for line in layout.group_lines(pieces)] == [f"line {n}" for n in range(5)]
