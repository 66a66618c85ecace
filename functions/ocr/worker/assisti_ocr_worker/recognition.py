"""Reading the detected boxes with english_g2, batched by width.

easyocr reads each box alone (batch_size=1 on CPU): one onnxruntime call per box, and again for each
low-confidence box with the contrast stretched. Every crop is padded to a width that is a multiple of
the model height (64), so crops of equal padded width are batched together: the same tensors, the
same readings, a fraction of the calls.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from assisti_ocr_worker import easyocr_port

Network = Callable[[NDArray[np.float32]], NDArray[np.float32]]
BATCH = 16  # crops per call: bounds the recogniser's activations on a page full of text

Crop = tuple[list[list[Any]], NDArray[np.uint8], int]  # box, grey crop at model height, padded width


def crops(
    grey: NDArray[np.uint8], horizontal_list: Sequence[Sequence[Any]], free_list: Sequence[Sequence[Sequence[Any]]]
) -> list[Crop]:
    """Each box cropped and sized as easyocr.Reader.recognize does (horizontal boxes first, then free)."""
    found: list[Crop] = []
    one_box_each: list[tuple[list[Any], list[Any]]] = [([box], []) for box in horizontal_list]
    one_box_each += [([], [box]) for box in free_list]
    for h_list, f_list in one_box_each:
        image_list, max_width = easyocr_port.get_image_list(h_list, f_list, grey, model_height=easyocr_port.IMG_H)
        found += [(box, crop, int(max_width)) for box, crop in image_list]
    return found


def _predict(
    recognizer: Network, items: Sequence[Crop], character: Sequence[str], ignore_idx: Sequence[int], contrast: float
) -> list[tuple[str, float]]:
    readings: list[tuple[str, float]] = [("", 0.0)] * len(items)
    by_width: dict[int, list[int]] = defaultdict(list)
    for index, (_, _, width) in enumerate(items):
        by_width[width].append(index)
    for width, indices in by_width.items():
        for start in range(0, len(indices), BATCH):
            chunk = indices[start : start + BATCH]
            batch = np.concatenate(
                [easyocr_port.align_collate(items[i][1], easyocr_port.IMG_H, width, contrast) for i in chunk]
            )
            predicted = easyocr_port.recognizer_predict(recognizer, batch, character, ignore_idx)
            for index, (text, confidence) in zip(chunk, predicted, strict=True):
                readings[index] = (text, float(confidence))
    return readings


def read(
    recognizer: Network, items: Sequence[Crop], character: str, ignore_idx: Sequence[int]
) -> list[easyocr_port.Result]:
    """easyocr.recognition.get_text's two passes: the crops read below CONTRAST_THS are read again with
    the contrast stretched, and the more confident reading is kept."""
    converter_character = ["[blank]", *character]
    first = _predict(recognizer, items, converter_character, ignore_idx, 0.0)
    weak = [index for index, (_, confidence) in enumerate(first) if confidence < easyocr_port.CONTRAST_THS]
    second = _predict(
        recognizer, [items[i] for i in weak], converter_character, ignore_idx, easyocr_port.ADJUST_CONTRAST
    )
    readings = list(first)
    for index, retry in zip(weak, second, strict=True):
        if retry[1] >= readings[index][1]:
            readings[index] = retry
    return [(item[0], text, confidence) for item, (text, confidence) in zip(items, readings, strict=True)]
