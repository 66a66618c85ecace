"""OCR: the ONNX engine (what Lambda runs) against easyocr on torch (the reference), same images,
same process, as a ratio.

    python -m bench.ocr_bench [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from local.stack import LOCAL_MODEL_DIRS
    from tests.images import text_image

    os.environ.update(LOCAL_MODEL_DIRS)
    started = time.perf_counter()
    from assisti_ocr_worker import engine  # both ONNX sessions load here, as in a container

    load_seconds = time.perf_counter() - started
    from tools.ocr_export import torchvision_shim

    torchvision_shim.install()
    import easyocr
    import easyocr_en_models

    reader = easyocr.Reader(
        ["en"],
        gpu=False,
        quantize=False,
        download_enabled=False,
        verbose=False,
        model_storage_directory=easyocr_en_models.model_dir(),
    )
    images = {
        "1 line": text_image(["Hello Assisti"]),
        "2 lines": text_image(["Invoice 2026-11", "Total 42.00 EUR"]),
        "12 lines": text_image([f"Line {index}: the quick brown fox" for index in range(12)], size=28),
        "no text": text_image([""]),
    }

    def median_seconds(read: Any, array: np.ndarray) -> float:
        read(array)
        runs = []
        for _ in range(args.rounds):
            began = time.perf_counter()
            read(array)
            runs.append(time.perf_counter() - began)
        return statistics.median(runs)

    print(
        f"OCR per image, median of {args.rounds} (2 cores); engine load (both sessions): {load_seconds * 1000:.0f} ms"
    )
    for name, image in images.items():
        array = np.asarray(image)
        onnx = median_seconds(engine.read_text, array)
        torch_reference = median_seconds(reader.readtext, array)
        print(
            f"  {name:<9} onnxruntime {onnx * 1000:7.1f} ms   easyocr/torch {torch_reference * 1000:7.1f} ms   "
            f"ratio {onnx / torch_reference:.2f}x"
        )
    for path in sorted(os.scandir(LOCAL_MODEL_DIRS["ASSISTI_OCR_MODEL_DIR"]), key=lambda entry: entry.name):
        if path.name.endswith(".onnx"):
            print(f"  {path.name}: {path.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
