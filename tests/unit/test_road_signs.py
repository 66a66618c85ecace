"""The road-sign classifier: the shipped ONNX file and label file against the engine's contract, and its
accuracy on a fresh batch of held-out synthetic signs (fonts, backgrounds and augmentations training never saw).

Only onnxruntime and the generator are used here, not the engine, so a broken engine cannot hide a broken
model (or the other way round). The model card reports the large evaluation; this is a quick, independent
re-check with a seed of its own.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime
import pytest
from PIL import Image

from tools.road_signs import augment, signs

MODELS_DIR = Path(__file__).resolve().parents[2] / "functions/vision/worker/assisti_vision_worker/models"
ONNX_PATH = MODELS_DIR / "road_signs.onnx"
LABELS_PATH = MODELS_DIR / "road_signs.json"
MAX_MODEL_BYTES = 5 * 1024 * 1024
# Neither the training seed nor the card's evaluation seed (training seed + 2) nor its monitor (+ 1).
TEST_SEED = 424_242
PER_CLASS = 5
MIN_ACCURACY = 0.9

REQUIRED_GTSRB_NAMES = {
    0: "Speed limit (20km/h)",
    1: "Speed limit (30km/h)",
    2: "Speed limit (50km/h)",
    3: "Speed limit (60km/h)",
    4: "Speed limit (70km/h)",
    5: "Speed limit (80km/h)",
    7: "Speed limit (100km/h)",
    8: "Speed limit (120km/h)",
    9: "No passing",
    12: "Priority road",
    13: "Yield",
    14: "Stop",
    17: "No entry",
    18: "General caution",
    25: "Road work",
    26: "Traffic signals",
    27: "Pedestrians",
    28: "Children crossing",
    33: "Turn right ahead",
    34: "Turn left ahead",
    35: "Ahead only",
    38: "Keep right",
    40: "Roundabout mandatory",
}


@pytest.fixture(scope="module")
def metadata() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(LABELS_PATH.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def session() -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(str(ONNX_PATH), providers=["CPUExecutionProvider"])


def preprocess(photo: Image.Image, metadata: dict[str, Any]) -> npt.NDArray[np.float32]:
    """The contract, written out independently of the training code: squash, scale, normalise, CHW."""
    size = metadata["input_size"]
    assert metadata["resize"].startswith("squash")
    resized = photo.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    scaled = np.asarray(resized, dtype=np.float32) / np.float32(255)
    mean = np.asarray(metadata["mean"], dtype=np.float32)
    std = np.asarray(metadata["std"], dtype=np.float32)
    normalised: npt.NDArray[np.float32] = ((scaled - mean) / std).transpose(2, 0, 1)
    return normalised


def test_label_file_lists_the_required_gtsrb_classes_once_each(metadata: dict[str, Any]) -> None:
    classes = metadata["classes"]
    assert len(classes) >= 20
    assert [entry["index"] for entry in classes] == list(range(len(classes)))
    ids = [entry["gtsrb_id"] for entry in classes]
    names = [entry["name"] for entry in classes]
    assert len(set(ids)) == len(ids)
    assert len(set(names)) == len(names)
    by_id = dict(zip(ids, names, strict=True))
    for gtsrb_id, name in REQUIRED_GTSRB_NAMES.items():
        assert by_id.get(gtsrb_id) == name
    # The label file and the generator agree, so the test data below is labelled as the model was trained.
    assert [(sign.gtsrb_id, sign.name) for sign in signs.CATALOGUE] == list(zip(ids, names, strict=True))


def test_label_file_describes_the_preprocessing_and_provenance(metadata: dict[str, Any]) -> None:
    assert isinstance(metadata["input_size"], int)
    assert len(metadata["mean"]) == 3
    assert len(metadata["std"]) == 3
    assert all(value > 0 for value in metadata["std"])
    assert "not GTSRB" in metadata["source"]
    assert metadata["training_command"].startswith(".venv/bin/python -m tools.road_signs.train")
    assert isinstance(metadata["seed"], int)
    assert metadata["onnx_sha256"] == hashlib.sha256(ONNX_PATH.read_bytes()).hexdigest()


def test_onnx_input_and_output_match_the_contract(
    session: onnxruntime.InferenceSession, metadata: dict[str, Any]
) -> None:
    size = metadata["input_size"]
    (model_input,) = session.get_inputs()
    (model_output,) = session.get_outputs()
    assert model_input.name == "image"
    assert model_input.type == "tensor(float)"
    assert not isinstance(model_input.shape[0], int)  # dynamic batch
    assert model_input.shape[1:] == [3, size, size]
    assert model_output.name == "logits"
    assert not isinstance(model_output.shape[0], int)
    assert model_output.shape[1] == len(metadata["classes"])


def test_model_file_is_small() -> None:
    assert ONNX_PATH.stat().st_size < MAX_MODEL_BYTES


def test_held_out_split_shares_no_font_or_background_with_training() -> None:
    assert not set(augment.TRAIN.fonts) & set(augment.HELDOUT.fonts)
    assert not set(augment.TRAIN.backgrounds) & set(augment.HELDOUT.backgrounds)
    assert augment.TRAIN.augment != augment.HELDOUT.augment


def test_generator_is_deterministic() -> None:
    first = augment.generate_sample(augment.HELDOUT, 3, TEST_SEED, 11, 48)
    again = augment.generate_sample(augment.HELDOUT, 3, TEST_SEED, 11, 48)
    other = augment.generate_sample(augment.HELDOUT, 3, TEST_SEED + 1, 11, 48)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_fresh_held_out_signs_are_recognised(session: onnxruntime.InferenceSession, metadata: dict[str, Any]) -> None:
    assert TEST_SEED not in {metadata["seed"], metadata["seed"] + 1, metadata["seed"] + 2}
    num_classes = len(metadata["classes"])
    labels = [index % num_classes for index in range(PER_CLASS * num_classes)]
    batch = np.stack(
        [
            preprocess(
                augment.generate_photo(augment.HELDOUT, label, TEST_SEED, index, metadata["input_size"]), metadata
            )
            for index, label in enumerate(labels)
        ]
    )
    (logits,) = session.run(["logits"], {"image": batch})
    assert logits.shape == (len(labels), num_classes)
    predicted = np.asarray(logits).argmax(axis=1)
    accuracy = float((predicted == np.asarray(labels)).mean())
    wrong = [
        f"{metadata['classes'][truth]['name']} -> {metadata['classes'][guess]['name']}"
        for truth, guess in zip(labels, predicted, strict=True)
        if truth != guess
    ]
    assert accuracy >= MIN_ACCURACY, f"held-out accuracy {accuracy:.3f}; mistakes: {wrong}"
