"""Finding text with CRAFT at a resolution chosen from the image, in tiles of bounded size.

easyocr runs CRAFT on the whole image scaled to a 2560-pixel canvas. On a 12 MP phone photo that is
4.9 million pixels through a VGG-16 U-Net: tens of seconds and gigabytes. Text in phone photos is
large, so:

- CRAFT first runs on a small canvas (LEVELS[0] pixels on the longer side). If the text it finds is
  tall enough there to be read reliably (MIN_TEXT_PIXELS), those boxes stand. If it finds small text,
  it runs again at the next, larger scale, up to easyocr's own 2560, but only around the text it found
  (a receipt on a table: the receipt); if it finds nothing, once more over the whole image. An image
  smaller than a canvas is never enlarged, so small images are detected exactly as easyocr does.
- Whatever the canvas, CRAFT runs on tiles of at most TILE x TILE pixels that overlap by OVERLAP, and
  the score maps are stitched at the middle of each overlap. Peak memory is then bounded by the tile,
  not by the photo.
- Boxes are mapped back to the original image's pixels, where the recogniser crops them at full
  resolution.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import cv2
import numpy as np
from numpy.typing import NDArray

from assisti_ocr_worker import easyocr_port

Network = Callable[[NDArray[np.float32]], NDArray[np.float32]]

LEVELS = (640, 1280, easyocr_port.CANVAS_SIZE)  # canvas sizes, longer side, tried in order
MIN_TEXT_PIXELS = 12  # on the canvas: below this CRAFT's character regions blur into each other
TILE = 1024  # the detector's largest input side: its peak is ~0.5 GB above the loaded models
OVERLAP = 96  # context each tile sees beyond the part of the map it contributes


@dataclass(frozen=True)
class Detection:
    boxes: list[NDArray[np.int32]]  # 8 ints each: 4 clockwise points, in the original image's pixels
    canvas: int  # the canvas the boxes were found on (longer side)


def _tiles(length: int) -> tuple[list[int], int]:
    """Tile origins along one axis and the tile's side there: as few tiles as cover the axis with
    OVERLAP of context inside every seam, spread evenly (multiples of 32, as the canvas is)."""
    if length <= TILE:
        return [0], length
    count = math.ceil((length - 2 * OVERLAP) / (TILE - 2 * OVERLAP))
    side = min(TILE, math.ceil((length + (count - 1) * 2 * OVERLAP) / count / 32) * 32)
    starts = [round(index * (length - side) / (count - 1) / 32) * 32 for index in range(count)]
    return starts, side


def _bounds(starts: list[int], side: int, length: int) -> list[tuple[int, int]]:
    """The part of the axis each tile contributes: from the middle of its overlap with the previous
    tile to the middle of its overlap with the next (even, as the score maps are at half resolution)."""
    cuts = [0, *(((following + current + side) // 2) // 2 * 2 for current, following in pairwise(starts)), length]
    return list(pairwise(cuts))


def score_maps(detector: Network, canvas: NDArray[np.float32]) -> NDArray[np.float32]:
    """CRAFT's (H/2, W/2, 2) region and affinity maps for a normalised HxWx3 canvas, tile by tile."""
    height, width = canvas.shape[:2]
    maps = np.zeros((height // 2, width // 2, 2), dtype=np.float32)
    (rows, tile_height), (columns, tile_width) = _tiles(height), _tiles(width)
    for y0, (y_from, y_to) in zip(rows, _bounds(rows, tile_height, height), strict=True):
        for x0, (x_from, x_to) in zip(columns, _bounds(columns, tile_width, width), strict=True):
            tile = canvas[y0 : y0 + tile_height, x0 : x0 + tile_width]
            out = detector(np.ascontiguousarray(tile.transpose(2, 0, 1)[np.newaxis]))[0]
            maps[y_from // 2 : y_to // 2, x_from // 2 : x_to // 2] = out[
                (y_from - y0) // 2 : (y_to - y0) // 2, (x_from - x0) // 2 : (x_to - x0) // 2
            ]
    return maps


Region = tuple[int, int, int, int]  # left, top, right, bottom in the image's pixels


def detect_at(
    detector: Network, image: NDArray[np.uint8], canvas_size: int, region: Region | None = None
) -> tuple[list[NDArray[np.int32]], float]:
    """Boxes found at the scale of a `canvas_size` canvas (longer side of the whole image), looking
    only inside `region` if given; in image pixels, with the canvas/image ratio."""
    left, top = (region[0], region[1]) if region else (0, 0)
    crop = image[region[1] : region[3], region[0] : region[2]] if region else image
    scale = canvas_size / max(image.shape[:2])
    side = max(32, round(max(crop.shape[:2]) * scale))
    resized, ratio = easyocr_port.resize_aspect_ratio(crop, side, interpolation=cv2.INTER_LINEAR)
    maps = score_maps(detector, easyocr_port.normalize_mean_variance(resized))
    del resized
    found = easyocr_port.get_det_boxes(
        maps[:, :, 0],
        maps[:, :, 1],
        easyocr_port.TEXT_THRESHOLD,
        easyocr_port.LINK_THRESHOLD,
        easyocr_port.LOW_TEXT,
    )
    if not found:
        return [], ratio
    adjusted = easyocr_port.adjust_result_coordinates(found, 1 / ratio, 1 / ratio)
    offset = np.array([left, top] * 4)
    return [np.array(box).astype(np.int32).reshape(-1) + offset for box in adjusted], ratio


def around(boxes: list[NDArray[np.int32]], heights: NDArray[np.float64], shape: tuple[int, ...]) -> Region:
    """The part of the image the boxes are in, with room for neighbours the coarse pass missed."""
    points = np.concatenate([box.reshape(4, 2) for box in boxes])
    margin = int(4 * float(np.median(heights)) + 0.05 * max(shape[:2]))
    left, top = np.maximum(points.min(axis=0) - margin, 0)
    right, bottom = np.minimum(points.max(axis=0) + margin, [shape[1], shape[0]])
    return int(left), int(top), int(right), int(bottom)


def text_heights(boxes: list[NDArray[np.int32]]) -> NDArray[np.float64]:
    """Each box's height: its shorter side (boxes may be tilted)."""
    heights = []
    for box in boxes:
        points = box.reshape(4, 2).astype(np.float64)
        sides = np.linalg.norm(points - np.roll(points, -1, axis=0), axis=1)
        heights.append(min(sides[0], sides[1]))
    return np.asarray(heights)


def detect(detector: Network, image: NDArray[np.uint8]) -> Detection:
    longer = max(image.shape[:2])
    found: list[NDArray[np.int32]] = []
    region: Region | None = None  # after small text: the next level looks only where it is
    canvas = min(LEVELS[0], longer)
    for index, level in enumerate(LEVELS):
        canvas = min(level, longer)
        found, ratio = detect_at(detector, image, canvas, region)
        heights = text_heights(found)
        small_text = heights.size > 0 and float(np.percentile(heights * ratio, 25)) < MIN_TEXT_PIXELS
        nothing_yet = heights.size == 0 and index == 0
        if canvas >= longer or not (small_text or nothing_yet):
            break
        region = around(found, heights, image.shape) if small_text else None
    return Detection(found, canvas)
