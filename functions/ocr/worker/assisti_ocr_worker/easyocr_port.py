"""easyocr 1.7.2's pre- and post-processing for ``Reader(['en']).readtext``, without torch.

The neural networks are passed in as callables (``engine.py`` runs the ONNX exports on onnxruntime);
everything around them is easyocr's own code, so results match easyocr's:

- Ported (below): the code paths ``readtext`` takes from ``easyocr/imgproc.py``, ``easyocr/craft_utils.py``,
  ``easyocr/utils.py``, ``easyocr/recognition.py``, ``easyocr/detection.py`` and ``easyocr/easyocr.py``.
  The worker needs neither easyocr nor torch, scipy or scikit-image: numpy, OpenCV and Pillow only.

Portions of this file are copied from, or are numpy translations of, EasyOCR 1.7.2
(https://github.com/JaidedAI/EasyOCR), Copyright (c) JaidedAI, licensed under the Apache License,
Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0). Each ported function names its source.
Changes: type annotations, torch tensors replaced by numpy arrays, the networks passed as callables,
and only the code paths ``readtext`` takes with its defaults on CPU (greedy decoding, batch_size=1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

# A network: a float32 NCHW batch in, its (first) output out.
Network = Callable[[NDArray[np.float32]], NDArray[np.float32]]
# One result, as easyocr returns it: (box as 4 [x, y] points, text, confidence).
Result = tuple[list[list[Any]], str, float]

# easyocr.Reader.readtext's defaults (easyocr/easyocr.py), and easyocr.config.imgH.
MIN_SIZE = 20
TEXT_THRESHOLD = 0.7
LOW_TEXT = 0.4
LINK_THRESHOLD = 0.4
CANVAS_SIZE = 2560
MAG_RATIO = 1.0
SLOPE_THS = 0.1
YCENTER_THS = 0.5
HEIGHT_THS = 0.5
WIDTH_THS = 0.5
ADD_MARGIN = 0.1
CONTRAST_THS = 0.1
ADJUST_CONTRAST = 0.5
IMG_H = 64


# --- easyocr/imgproc.py ----------------------------------------------------------------------------


def normalize_mean_variance(image: NDArray[Any]) -> NDArray[np.float32]:
    """imgproc.normalizeMeanVariance with its defaults (ImageNet's mean and variance, RGB)."""
    normalised = image.copy().astype(np.float32)
    normalised -= np.array([0.485 * 255.0, 0.456 * 255.0, 0.406 * 255.0], dtype=np.float32)
    normalised /= np.array([0.229 * 255.0, 0.224 * 255.0, 0.225 * 255.0], dtype=np.float32)
    return normalised


def resize_aspect_ratio(
    image: NDArray[np.uint8], square_size: int, interpolation: int, mag_ratio: float = 1
) -> tuple[NDArray[np.float32], float]:
    """imgproc.resize_aspect_ratio: the longer side scaled to at most square_size, padded to multiples of 32."""
    height, width, channels = image.shape
    target_size = min(mag_ratio * max(height, width), square_size)
    ratio = target_size / max(height, width)
    target_h, target_w = int(height * ratio), int(width * ratio)
    resized_image = cv2.resize(image, (target_w, target_h), interpolation=interpolation)
    padded_h = target_h + (32 - target_h % 32) % 32
    padded_w = target_w + (32 - target_w % 32) % 32
    canvas = np.zeros((padded_h, padded_w, channels), dtype=np.float32)
    canvas[0:target_h, 0:target_w, :] = resized_image
    return canvas, ratio


# --- easyocr/craft_utils.py (poly=False, estimate_num_chars=False: readtext's path) ---------------------


def get_det_boxes(
    textmap: NDArray[np.float32],
    linkmap: NDArray[np.float32],
    text_threshold: float,
    link_threshold: float,
    low_text: float,
) -> list[NDArray[Any]]:
    """craft_utils.getDetBoxes_core: connected regions of the score maps, each as a clockwise box."""
    img_h, img_w = textmap.shape
    _, text_score = cv2.threshold(textmap, low_text, 1, 0)
    _, link_score = cv2.threshold(linkmap, link_threshold, 1, 0)
    combined = np.clip(text_score + link_score, 0, 1)
    count, labels, stats, _centroids = cv2.connectedComponentsWithStats(combined.astype(np.uint8), connectivity=4)
    boxes = []
    for k in range(1, count):
        size = stats[k, cv2.CC_STAT_AREA]
        if size < 10 or np.max(textmap[labels == k]) < text_threshold:
            continue
        segmap = np.zeros(textmap.shape, dtype=np.uint8)
        segmap[labels == k] = 255
        segmap[np.logical_and(link_score == 1, text_score == 0)] = 0  # remove the link area
        x, y = stats[k, cv2.CC_STAT_LEFT], stats[k, cv2.CC_STAT_TOP]
        w, h = stats[k, cv2.CC_STAT_WIDTH], stats[k, cv2.CC_STAT_HEIGHT]
        niter = int(math.sqrt(size * min(w, h) / (w * h)) * 2)
        sx, ex, sy, ey = (
            max(0, x - niter),
            min(img_w, x + w + niter + 1),
            max(0, y - niter),
            min(img_h, y + h + niter + 1),
        )
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (1 + niter, 1 + niter))
        segmap[sy:ey, sx:ex] = cv2.dilate(segmap[sy:ey, sx:ex], kernel)
        contours = np.roll(np.array(np.where(segmap != 0)), 1, axis=0).transpose().reshape(-1, 2)
        box = cv2.boxPoints(cv2.minAreaRect(contours))
        # a near-square box: take the axis-aligned bounds instead (align diamond shapes)
        side_w, side_h = np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[1] - box[2])
        if abs(1 - max(side_w, side_h) / (min(side_w, side_h) + 1e-5)) <= 0.1:
            left, right = min(contours[:, 0]), max(contours[:, 0])
            top, bottom = min(contours[:, 1]), max(contours[:, 1])
            box = np.array([[left, top], [right, top], [right, bottom], [left, bottom]], dtype=np.float32)
        start = box.sum(axis=1).argmin()  # clockwise from the top-left corner
        boxes.append(np.array(np.roll(box, 4 - start, 0)))
    return boxes


def adjust_result_coordinates(boxes: list[NDArray[Any]], ratio_w: float, ratio_h: float) -> NDArray[Any]:
    """craft_utils.adjustResultCoordinates: score-map coordinates (half the input) back to the image's."""
    adjusted = np.array(boxes)
    for k in range(len(adjusted)):
        adjusted[k] *= (ratio_w * 2, ratio_h * 2)
    return adjusted


# --- easyocr/utils.py ---------------------------------------------------------------------------


def four_point_transform(image: NDArray[Any], rect: NDArray[np.float32]) -> NDArray[Any]:
    """easyocr.utils.four_point_transform."""
    (tl, tr, br, bl) = rect

    width_a = np.sqrt(((br[0] - bl[0]) ** 2) + ((br[1] - bl[1]) ** 2))
    width_b = np.sqrt(((tr[0] - tl[0]) ** 2) + ((tr[1] - tl[1]) ** 2))
    max_width = max(int(width_a), int(width_b))

    height_a = np.sqrt(((tr[0] - br[0]) ** 2) + ((tr[1] - br[1]) ** 2))
    height_b = np.sqrt(((tl[0] - bl[0]) ** 2) + ((tl[1] - bl[1]) ** 2))
    max_height = max(int(height_a), int(height_b))

    dst = np.array([[0, 0], [max_width - 1, 0], [max_width - 1, max_height - 1], [0, max_height - 1]], dtype="float32")
    matrix = cv2.getPerspectiveTransform(rect, dst)
    warped: NDArray[Any] = cv2.warpPerspective(image, matrix, (max_width, max_height))
    return warped


def group_text_box(
    polys: Sequence[NDArray[np.int32]],
    slope_ths: float = 0.1,
    ycenter_ths: float = 0.5,
    height_ths: float = 0.5,
    width_ths: float = 1.0,
    add_margin: float = 0.05,
    sort_output: bool = True,
) -> tuple[list[list[Any]], list[list[list[Any]]]]:
    """easyocr.utils.group_text_box: axis-aligned boxes merged into lines, and the tilted (free) boxes."""
    horizontal_list: list[list[Any]] = []
    free_list: list[list[list[Any]]] = []
    combined_list: list[list[list[Any]]] = []
    merged_list: list[list[Any]] = []

    for poly in polys:
        slope_up = (poly[3] - poly[1]) / np.maximum(10, (poly[2] - poly[0]))
        slope_down = (poly[5] - poly[7]) / np.maximum(10, (poly[4] - poly[6]))
        if max(abs(slope_up), abs(slope_down)) < slope_ths:
            x_max = max([poly[0], poly[2], poly[4], poly[6]])
            x_min = min([poly[0], poly[2], poly[4], poly[6]])
            y_max = max([poly[1], poly[3], poly[5], poly[7]])
            y_min = min([poly[1], poly[3], poly[5], poly[7]])
            horizontal_list.append([x_min, x_max, y_min, y_max, 0.5 * (y_min + y_max), y_max - y_min])
        else:
            height = np.linalg.norm([poly[6] - poly[0], poly[7] - poly[1]])
            width = np.linalg.norm([poly[2] - poly[0], poly[3] - poly[1]])

            margin = int(1.44 * add_margin * min(width, height))

            theta13 = abs(np.arctan((poly[1] - poly[5]) / np.maximum(10, (poly[0] - poly[4]))))
            theta24 = abs(np.arctan((poly[3] - poly[7]) / np.maximum(10, (poly[2] - poly[6]))))
            x1 = poly[0] - np.cos(theta13) * margin
            y1 = poly[1] - np.sin(theta13) * margin
            x2 = poly[2] + np.cos(theta24) * margin
            y2 = poly[3] - np.sin(theta24) * margin
            x3 = poly[4] + np.cos(theta13) * margin
            y3 = poly[5] + np.sin(theta13) * margin
            x4 = poly[6] - np.cos(theta24) * margin
            y4 = poly[7] + np.sin(theta24) * margin

            free_list.append([[x1, y1], [x2, y2], [x3, y3], [x4, y4]])
    if sort_output:
        horizontal_list = sorted(horizontal_list, key=lambda item: item[4])

    # combine box
    new_box: list[list[Any]] = []
    b_height: list[Any] = []
    b_ycenter: list[Any] = []
    for hbox in horizontal_list:
        if len(new_box) == 0:
            b_height = [hbox[5]]
            b_ycenter = [hbox[4]]
            new_box.append(hbox)
        else:
            # comparable height and comparable y_center level up to ths*height
            if abs(np.mean(b_ycenter) - hbox[4]) < ycenter_ths * np.mean(b_height):
                b_height.append(hbox[5])
                b_ycenter.append(hbox[4])
                new_box.append(hbox)
            else:
                b_height = [hbox[5]]
                b_ycenter = [hbox[4]]
                combined_list.append(new_box)
                new_box = [hbox]
    combined_list.append(new_box)

    # merge list use sort again
    for boxes in combined_list:
        if len(boxes) == 1:  # one box per line
            box = boxes[0]
            margin = int(add_margin * min(box[1] - box[0], box[5]))
            merged_list.append([box[0] - margin, box[1] + margin, box[2] - margin, box[3] + margin])
        else:  # multiple boxes per line
            boxes = sorted(boxes, key=lambda item: item[0])

            merged_box: list[list[list[Any]]] = []
            new_box = []
            x_max = 0
            for box in boxes:
                if len(new_box) == 0:
                    b_height = [box[5]]
                    x_max = box[1]
                    new_box.append(box)
                else:
                    if (abs(np.mean(b_height) - box[5]) < height_ths * np.mean(b_height)) and (
                        (box[0] - x_max) < width_ths * (box[3] - box[2])
                    ):  # merge boxes
                        b_height.append(box[5])
                        x_max = box[1]
                        new_box.append(box)
                    else:
                        b_height = [box[5]]
                        x_max = box[1]
                        merged_box.append(new_box)
                        new_box = [box]
            if len(new_box) > 0:
                merged_box.append(new_box)

            for mbox in merged_box:
                if len(mbox) != 1:  # adjacent box in same line
                    x_min = min(mbox, key=lambda x: x[0])[0]
                    x_max = max(mbox, key=lambda x: x[1])[1]
                    y_min = min(mbox, key=lambda x: x[2])[2]
                    y_max = max(mbox, key=lambda x: x[3])[3]

                    box_width = x_max - x_min
                    box_height = y_max - y_min
                    margin = int(add_margin * (min(box_width, box_height)))

                    merged_list.append([x_min - margin, x_max + margin, y_min - margin, y_max + margin])
                else:  # non adjacent box in same line
                    box = mbox[0]

                    box_width = box[1] - box[0]
                    box_height = box[3] - box[2]
                    margin = int(add_margin * (min(box_width, box_height)))

                    merged_list.append([box[0] - margin, box[1] + margin, box[2] - margin, box[3] + margin])
    # may need to check if box is really in image
    return merged_list, free_list


def calculate_ratio(width: float, height: float) -> float:
    """easyocr.utils.calculate_ratio: aspect ratio for horizontal (w > h) and vertical (h > w) text."""
    ratio = width / height
    if ratio < 1.0:
        ratio = 1.0 / ratio
    return ratio


def compute_ratio_and_resize(
    img: NDArray[np.uint8], width: int, height: int, model_height: int
) -> tuple[NDArray[np.uint8], float]:
    """easyocr.utils.compute_ratio_and_resize.

    easyocr passes ``interpolation=Image.Resampling.LANCZOS`` (PIL's enum) to ``cv2.resize``; its value,
    1, is ``cv2.INTER_LINEAR`` to OpenCV, so that is what easyocr really uses and what is used here.
    """
    ratio = width / height
    if ratio < 1.0:
        ratio = calculate_ratio(width, height)
        size = (model_height, int(model_height * ratio))
    else:
        size = (int(model_height * ratio), model_height)
    resized = np.asarray(cv2.resize(img, size, interpolation=cv2.INTER_LINEAR), dtype=np.uint8)
    return resized, ratio


def get_image_list(
    horizontal_list: Sequence[Sequence[Any]],
    free_list: Sequence[Sequence[Sequence[Any]]],
    img: NDArray[np.uint8],
    model_height: int = 64,
    sort_output: bool = True,
) -> tuple[list[tuple[list[list[Any]], NDArray[np.uint8]]], int]:
    """easyocr.utils.get_image_list: each box cropped from the grey image and resized to model_height."""
    image_list: list[tuple[list[list[Any]], NDArray[np.uint8]]] = []
    maximum_y, maximum_x = img.shape

    max_ratio_hori: float = 1
    max_ratio_free: float = 1
    for box in free_list:
        rect = np.array(box, dtype="float32")
        transformed_img = four_point_transform(img, rect)
        ratio = calculate_ratio(transformed_img.shape[1], transformed_img.shape[0])
        new_width = int(model_height * ratio)
        if new_width != 0:
            crop_img, ratio = compute_ratio_and_resize(
                transformed_img, transformed_img.shape[1], transformed_img.shape[0], model_height
            )
            image_list.append(([list(point) for point in box], crop_img))  # box = [[x1,y1],[x2,y2],[x3,y3],[x4,y4]]
            max_ratio_free = max(ratio, max_ratio_free)

    max_ratio_free = math.ceil(max_ratio_free)

    for hbox in horizontal_list:
        x_min = max(0, hbox[0])
        x_max = min(hbox[1], maximum_x)
        y_min = max(0, hbox[2])
        y_max = min(hbox[3], maximum_y)
        crop_img = img[y_min:y_max, x_min:x_max]
        width = x_max - x_min
        height = y_max - y_min
        ratio = calculate_ratio(width, height)
        new_width = int(model_height * ratio)
        if new_width != 0:
            crop_img, ratio = compute_ratio_and_resize(crop_img, width, height, model_height)
            image_list.append(([[x_min, y_min], [x_max, y_min], [x_max, y_max], [x_min, y_max]], crop_img))
            max_ratio_hori = max(ratio, max_ratio_hori)

    max_ratio_hori = math.ceil(max_ratio_hori)
    max_ratio = max(max_ratio_hori, max_ratio_free)
    max_width = math.ceil(max_ratio) * model_height

    if sort_output:
        image_list = sorted(image_list, key=lambda item: item[0][0][1])  # sort by vertical position
    return image_list, max_width


def diff(input_list: Sequence[Any]) -> Any:
    """easyocr.utils.diff."""
    return max(input_list) - min(input_list)


def decode_greedy(text_index: NDArray[np.intp], character: Sequence[str], ignore_idx: Sequence[int]) -> str:
    """easyocr.utils.CTCLabelConverter.decode_greedy for one sequence.

    ``character`` is the converter's list: ``'[blank]'`` (index 0) then the model's characters;
    ``ignore_idx`` is the converter's (``[0]`` for English, which has no separators).
    """
    t = text_index
    # True where the value is not a repeat of the previous one
    a = np.insert(~(t[1:] == t[:-1]), 0, True)
    # True where the value is not in the ignore_idx list
    b = ~np.isin(t, np.array(ignore_idx))
    c = a & b
    return "".join(np.array(character)[t[c.nonzero()]])


# --- easyocr/recognition.py ---------------------------------------------------------------------


def custom_mean(x: NDArray[Any]) -> Any:
    """easyocr.recognition.custom_mean: the confidence from the per-character max probabilities."""
    return x.prod() ** (2.0 / np.sqrt(len(x)))


def contrast_grey(img: NDArray[Any]) -> tuple[Any, Any, Any]:
    """easyocr.recognition.contrast_grey."""
    high = np.percentile(img, 90)
    low = np.percentile(img, 10)
    return (high - low) / np.maximum(10, high + low), high, low


def adjust_contrast_grey(img: NDArray[np.uint8], target: float = 0.4) -> NDArray[np.uint8]:
    """easyocr.recognition.adjust_contrast_grey."""
    contrast, high, low = contrast_grey(img)
    if contrast < target:
        stretched: NDArray[Any] = img.astype(int)
        ratio = 200.0 / np.maximum(10, high - low)
        stretched = (stretched - low + 25) * ratio
        clipped: NDArray[np.uint8] = np.maximum(
            np.full(stretched.shape, 0), np.minimum(np.full(stretched.shape, 255), stretched)
        ).astype(np.uint8)
        return clipped
    return img


def normalize_pad(img: NDArray[np.uint8], max_size: tuple[int, int, int]) -> NDArray[np.float32]:
    """easyocr.recognition.NormalizePAD (PAD_type 'right'): ToTensor, to [-1, 1], right-padded with the
    last column repeated."""
    tensor = (img.astype(np.float32) / np.float32(255))[np.newaxis]  # torchvision ToTensor: C x H x W
    tensor = (tensor - np.float32(0.5)) / np.float32(0.5)
    c, h, w = tensor.shape
    pad_img = np.zeros(max_size, dtype=np.float32)
    pad_img[:, :, :w] = tensor  # right pad
    if max_size[2] != w:  # add border Pad
        pad_img[:, :, w:] = np.broadcast_to(tensor[:, :, w - 1 : w], (c, h, max_size[2] - w))
    return pad_img


def align_collate(
    image: NDArray[np.uint8], img_h: int, img_w: int, adjust_contrast: float = 0.0
) -> NDArray[np.float32]:
    """easyocr.recognition.AlignCollate for a batch of one (easyocr's ListDataset hands it a PIL 'L'
    image): optional contrast stretch, bicubic resize to img_h keeping the ratio, NormalizePAD."""
    pil = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))
    w, h = pil.size
    if adjust_contrast > 0:
        adjusted = adjust_contrast_grey(np.array(pil.convert("L")), target=adjust_contrast)
        pil = Image.fromarray(adjusted)

    ratio = w / float(h)
    resized_w = img_w if math.ceil(img_h * ratio) > img_w else math.ceil(img_h * ratio)

    resized_image = pil.resize((resized_w, img_h), Image.Resampling.BICUBIC)
    return normalize_pad(np.asarray(resized_image, dtype=np.uint8), (1, img_h, img_w))[np.newaxis]


def recognizer_predict(
    recognizer: Network,
    image_tensors: NDArray[np.float32],
    character: Sequence[str],
    ignore_idx: Sequence[int],
) -> list[tuple[str, Any]]:
    """easyocr.recognition.recognizer_predict for one batch, greedy decoder."""
    preds = recognizer(image_tensors)

    # softmax over the classes (torch.nn.functional.softmax, in float32)
    shifted = preds - preds.max(axis=2, keepdims=True)
    exp = np.exp(shifted)
    preds_prob = (exp / exp.sum(axis=2, keepdims=True)).astype(np.float32)
    ######## filter ignore_char, rebalance
    preds_prob[:, :, list(ignore_idx)] = 0.0
    pred_norm = preds_prob.sum(axis=2)
    preds_prob = (preds_prob / np.expand_dims(pred_norm, axis=-1)).astype(np.float32)

    # Select max probabilty (greedy decoding) then decode index to character
    preds_index = preds_prob.argmax(axis=2)
    preds_str = [decode_greedy(indices, character, [0]) for indices in preds_index]

    values = preds_prob.max(axis=2)
    indices = preds_prob.argmax(axis=2)
    preds_max_prob = []
    for v, i in zip(values, indices, strict=True):
        max_probs = v[i != 0]
        if len(max_probs) > 0:
            preds_max_prob.append(max_probs)
        else:
            preds_max_prob.append(np.array([0]))

    return [(pred, custom_mean(pred_max_prob)) for pred, pred_max_prob in zip(preds_str, preds_max_prob, strict=True)]


def get_text(
    character: Sequence[str],
    img_h: int,
    img_w: int,
    recognizer: Network,
    image_list: Sequence[tuple[list[list[Any]], NDArray[np.uint8]]],
    ignore_idx: Sequence[int],
    contrast_ths: float = CONTRAST_THS,
    adjust_contrast: float = ADJUST_CONTRAST,
) -> list[Result]:
    """easyocr.recognition.get_text with batch_size=1: a second pass with the contrast stretched for
    the crops read with a confidence below contrast_ths, keeping the more confident reading."""
    coord = [item[0] for item in image_list]
    img_list = [item[1] for item in image_list]

    # predict first round
    result1 = [
        recognizer_predict(recognizer, align_collate(img, img_h, img_w), character, ignore_idx)[0] for img in img_list
    ]

    # predict second round
    low_confident_idx = [i for i, item in enumerate(result1) if (item[1] < contrast_ths)]
    result2 = [
        recognizer_predict(
            recognizer, align_collate(img_list[i], img_h, img_w, adjust_contrast), character, ignore_idx
        )[0]
        for i in low_confident_idx
    ]

    result: list[Result] = []
    for i, (box, pred1) in enumerate(zip(coord, result1, strict=True)):
        if i in low_confident_idx:
            pred2 = result2[low_confident_idx.index(i)]
            if pred1[1] > pred2[1]:
                result.append((box, pred1[0], pred1[1]))
            else:
                result.append((box, pred2[0], pred2[1]))
        else:
            result.append((box, pred1[0], pred1[1]))
    return result


# --- easyocr/detection.py (CRAFT) and easyocr/easyocr.py (Reader) --------------------------------


def get_textbox(
    detector: Network,
    image: NDArray[np.uint8],
    canvas_size: int = CANVAS_SIZE,
    mag_ratio: float = MAG_RATIO,
    text_threshold: float = TEXT_THRESHOLD,
    link_threshold: float = LINK_THRESHOLD,
    low_text: float = LOW_TEXT,
) -> list[NDArray[np.int32]]:
    """easyocr.detection.get_textbox + test_net for one image (poly=False, no character estimate):
    CRAFT's score maps thresholded into boxes, as 8 ints (4 clockwise points) in image pixels."""
    img_resized, target_ratio = resize_aspect_ratio(
        image, canvas_size, interpolation=cv2.INTER_LINEAR, mag_ratio=mag_ratio
    )
    ratio_h = ratio_w = 1 / target_ratio
    x = np.array([np.transpose(normalize_mean_variance(img_resized), (2, 0, 1))])

    y = detector(x)

    out = y[0]
    score_text = out[:, :, 0]
    score_link = out[:, :, 1]
    boxes = get_det_boxes(score_text, score_link, text_threshold, link_threshold, low_text)
    if not boxes:
        return []
    adjusted = adjust_result_coordinates(boxes, ratio_w, ratio_h)
    return [np.array(box).astype(np.int32).reshape(-1) for box in adjusted]


def detect(
    detector: Network,
    img: NDArray[np.uint8],
    min_size: int = MIN_SIZE,
    text_threshold: float = TEXT_THRESHOLD,
    low_text: float = LOW_TEXT,
    link_threshold: float = LINK_THRESHOLD,
    canvas_size: int = CANVAS_SIZE,
    mag_ratio: float = MAG_RATIO,
    slope_ths: float = SLOPE_THS,
    ycenter_ths: float = YCENTER_THS,
    height_ths: float = HEIGHT_THS,
    width_ths: float = WIDTH_THS,
    add_margin: float = ADD_MARGIN,
) -> tuple[list[list[Any]], list[list[list[Any]]]]:
    """easyocr.Reader.detect for one image: (horizontal_list, free_list)."""
    text_box = get_textbox(detector, img, canvas_size, mag_ratio, text_threshold, link_threshold, low_text)
    return group_boxes(text_box, min_size, slope_ths, ycenter_ths, height_ths, width_ths, add_margin)


def group_boxes(
    text_box: Sequence[NDArray[np.int32]],
    min_size: int = MIN_SIZE,
    slope_ths: float = SLOPE_THS,
    ycenter_ths: float = YCENTER_THS,
    height_ths: float = HEIGHT_THS,
    width_ths: float = WIDTH_THS,
    add_margin: float = ADD_MARGIN,
) -> tuple[list[list[Any]], list[list[list[Any]]]]:
    """The second half of easyocr.Reader.detect: boxes grouped into horizontal and free lists, the
    ones no larger than min_size dropped."""
    horizontal_list, free_list = group_text_box(
        text_box, slope_ths, ycenter_ths, height_ths, width_ths, add_margin, True
    )
    if min_size:
        horizontal_list = [i for i in horizontal_list if max(i[1] - i[0], i[3] - i[2]) > min_size]
        free_list = [i for i in free_list if max(diff([c[0] for c in i]), diff([c[1] for c in i])) > min_size]
    return horizontal_list, free_list


def recognize(
    recognizer: Network,
    img_cv_grey: NDArray[np.uint8],
    horizontal_list: Sequence[Sequence[Any]],
    free_list: Sequence[Sequence[Sequence[Any]]],
    character: str,
    ignore_idx: Sequence[int],
    img_h: int = IMG_H,
    contrast_ths: float = CONTRAST_THS,
    adjust_contrast: float = ADJUST_CONTRAST,
) -> list[Result]:
    """easyocr.Reader.recognize on CPU (batch_size=1, no rotation, greedy, detail=1): each box alone,
    the horizontal boxes first, then the free ones."""
    converter_character = ["[blank]", *character]  # CTCLabelConverter.character
    result: list[Result] = []
    one_box_each: list[tuple[list[Any], list[Any]]] = [([hbox], []) for hbox in horizontal_list] + [
        ([], [fbox]) for fbox in free_list
    ]
    for h_list, f_list in one_box_each:
        image_list, max_width = get_image_list(h_list, f_list, img_cv_grey, model_height=img_h)
        result += get_text(
            converter_character,
            img_h,
            int(max_width),
            recognizer,
            image_list,
            ignore_idx,
            contrast_ths,
            adjust_contrast,
        )
    return result


def reformat_input(image: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """easyocr.utils.reformat_input for a 3-channel numpy array: the array itself goes to the detector,
    and the grey image for the recogniser is ``cv2.cvtColor(image, COLOR_BGR2GRAY)``. easyocr applies
    the BGR weights even though readtext's detector treats the same array as RGB; kept for parity."""
    return image, np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), dtype=np.uint8)


def readtext(
    detector: Network,
    recognizer: Network,
    image: NDArray[np.uint8],
    character: str,
    ignore_idx: Sequence[int],
    *,
    contrast_ths: float = CONTRAST_THS,
    adjust_contrast: float = ADJUST_CONTRAST,
) -> list[Result]:
    """easyocr.Reader(['en'], gpu=False).readtext(image) with its defaults, for an HxWx3 uint8 array."""
    img, img_cv_grey = reformat_input(image)
    horizontal_list, free_list = detect(detector, img)
    return recognize(
        recognizer,
        img_cv_grey,
        horizontal_list,
        free_list,
        character,
        ignore_idx,
        contrast_ths=contrast_ths,
        adjust_contrast=adjust_contrast,
    )
