"""OCR on what users really send: the worker's engine against stock easyocr and RapidOCR, one run.

    make bench            # or: python -m bench.ocr_bench [--warm-rounds 10]

The corpus (bench/ocr_corpus.py): 12 MP phone photos, a receipt photo, a screenshot, a document page
and small labels, each with the text a reader sees. For every image and engine:

- time: the read itself, in a process that has loaded its models (a warm container);
- peak RSS: of a fresh process that loads the engine and reads that one image (a cold container), and
  of one process reading every image in a mixed order (a container that lives on);
- CER: character error rate of the label (lines joined by newlines) against the text, whitespace
  within a line collapsed: reading order and line breaks count, as the app shows the label.

Engines: `ours` (the OCR worker's engine), `easyocr` (stock: `easyocr.Reader(['en'], gpu=False)` with
its defaults, quantize=True; its results joined in its own order), `rapidocr` (rapidocr-onnxruntime,
PP-OCR on onnxruntime, its defaults). Speed is reported as easyocr's time / ours (the "x faster").
On the small images it also reports warm (median of --warm-rounds reads) and cold (a fresh process,
from import to the first answer) against easyocr.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.harness import ROOT

ENGINES = ("ours", "easyocr", "rapidocr")
MIXED_ORDER = (4, 0, 7, 6, 2, 5, 8, 1, 3)  # receipt, a photo, a small label, the document, ...


def load_engine(name: str) -> Callable[[np.ndarray], str]:
    """The engine as a function of an RGB array to its label (lines joined by newlines)."""
    if name == "ours":
        from assisti_ocr_worker import engine

        return lambda image: "\n".join(line.text for line in engine.read_text(image))
    if name == "easyocr":
        from tools.ocr_export import torchvision_shim

        torchvision_shim.install()
        import easyocr
        import easyocr_en_models

        reader = easyocr.Reader(
            ["en"],
            gpu=False,
            model_storage_directory=easyocr_en_models.model_dir(),
            download_enabled=False,
            verbose=False,
        )
        return lambda image: "\n".join(text for _, text, _ in reader.readtext(image))
    from rapidocr_onnxruntime import RapidOCR

    rapid = RapidOCR()
    return lambda image: "\n".join(line[1] for line in (rapid(image[:, :, ::-1].copy())[0] or []))


def cer(label: str, truth: str) -> float:
    from rapidfuzz.distance import Levenshtein

    def tidy(text: str) -> str:
        return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())

    return Levenshtein.distance(tidy(label), tidy(truth)) / max(1, len(tidy(truth)))


def peak_mb() -> float:
    """This process's peak RSS since its exec: VmHWM. (getrusage's ru_maxrss also counts the parent's
    memory at the fork that started this process, which would be the benchmark's own.)"""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024


CORPUS_DIR = ROOT / "bench" / "results" / "ocr-corpus"


def write_corpus() -> list[dict[str, str]]:
    """The corpus as files (PNG: lossless; the photos are already JPEG-compressed as a phone would), so
    that a child process only decodes an image, as the worker does, without the generator's imports."""
    from bench.ocr_corpus import corpus

    CORPUS_DIR.mkdir(parents=True, exist_ok=True)
    index = []
    for sample in corpus():
        path = CORPUS_DIR / f"{sample.name}.png"
        if not path.is_file():
            sample.image.save(path)
        index.append({"name": sample.name, "category": sample.category, "text": sample.text, "path": str(path)})
    (CORPUS_DIR / "index.json").write_text(json.dumps(index, indent=1))
    return index


def run_in_this_process(engine_name: str, indices: list[int], rounds: int) -> list[dict[str, Any]]:
    """Loads the engine, then reads each sample from its file, one JSON line each."""
    from PIL import Image

    index = json.loads((CORPUS_DIR / "index.json").read_text())
    started = time.perf_counter()
    read = load_engine(engine_name)
    load_seconds = time.perf_counter() - started
    results = []
    for position in indices:
        sample = index[position]
        image = np.asarray(Image.open(sample["path"]).convert("RGB"))
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            label = read(image)
            times.append(time.perf_counter() - started)
        del image
        results.append(
            {
                "sample": sample["name"],
                "category": sample["category"],
                "seconds": statistics.median(times),
                "cer": cer(label, sample["text"]),
                "peak_mb": peak_mb(),
                "load_seconds": load_seconds,
            }
        )
    return results


def in_fresh_process(engine_name: str, indices: list[int], rounds: int = 1) -> list[dict[str, Any]]:
    command = [sys.executable, "-m", "bench.ocr_bench", "--child", engine_name, ",".join(map(str, indices))]
    command += ["--warm-rounds", str(rounds)]
    env = {**os.environ, "ASSISTI_OCR_THREADS": os.environ.get("ASSISTI_OCR_THREADS", "2")}
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def cold_start(engine_name: str, index: int) -> float:
    """A fresh process, from the interpreter's start to the first answer."""
    started = time.perf_counter()
    in_fresh_process(engine_name, [index])
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warm-rounds", type=int, default=10, help="reads of each small image for the warm median")
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "INDICES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        engine_name, indices = args.child
        for result in run_in_this_process(engine_name, [int(i) for i in indices.split(",")], args.warm_rounds):
            print(json.dumps(result), flush=True)
        return 0

    os.environ.setdefault("ASSISTI_OCR_MODEL_DIR", str(ROOT / ".models" / "ocr"))
    count = len(write_corpus())
    per_image: dict[str, list[dict[str, Any]]] = {name: [] for name in ENGINES}
    for index in range(count):  # a fresh process per image and engine: each image's own peak
        for name in ENGINES:
            per_image[name] += in_fresh_process(name, [index])
    mixed = {name: max(r["peak_mb"] for r in in_fresh_process(name, list(MIXED_ORDER))) for name in ENGINES}

    print("OCR on the corpus (bench/ocr_corpus.py); 2 onnxruntime threads; time = the read in a warm process")
    print(f"{'image':<16} {'category':<10} " + " ".join(f"{name + ' s / peak MB / CER':>30}" for name in ENGINES))
    for index in range(count):
        rows = [per_image[name][index] for name in ENGINES]
        cells = " ".join(f"{r['seconds']:8.2f} s {r['peak_mb']:7.0f} MB {r['cer']:7.3f}" for r in rows)
        print(f"{rows[0]['sample']:<16} {rows[0]['category']:<10} {cells}")
    print("\nper category: mean CER (ours / easyocr / rapidocr), easyocr time / ours (x faster), ours' worst peak")
    for category in ("photo", "receipt", "screenshot", "document", "small"):
        picks = [i for i in range(count) if per_image["ours"][i]["category"] == category]
        means = [statistics.fmean(per_image[name][i]["cer"] for i in picks) for name in ENGINES]
        speed = statistics.fmean(per_image["easyocr"][i]["seconds"] / per_image["ours"][i]["seconds"] for i in picks)
        rapid = statistics.fmean(per_image["rapidocr"][i]["seconds"] / per_image["ours"][i]["seconds"] for i in picks)
        worst = max(per_image["ours"][i]["peak_mb"] for i in picks)
        print(
            f"  {category:<10} CER {means[0]:.3f} / {means[1]:.3f} / {means[2]:.3f}   "
            f"{speed:5.1f}x faster than easyocr ({rapid:.2f}x rapidocr's time)   peak {worst:.0f} MB"
        )
    print("peak RSS over one process reading every image in a mixed order: " + ", ".join(
        f"{name} {mb:.0f} MB" for name, mb in mixed.items()
    ))  # fmt: skip

    small = [i for i in range(count) if per_image["ours"][i]["category"] == "small"]
    warm = {
        name: statistics.fmean(r["seconds"] for r in in_fresh_process(name, small, args.warm_rounds))
        for name in ("ours", "easyocr")
    }
    cold = {name: statistics.median(cold_start(name, small[0]) for _ in range(3)) for name in ("ours", "easyocr")}
    print(
        f"small images: warm {warm['easyocr'] / warm['ours']:.1f}x faster than easyocr "
        f"({warm['ours'] * 1000:.0f} ms against {warm['easyocr'] * 1000:.0f} ms); cold (fresh process to the first "
        f"answer) {cold['easyocr'] / cold['ours']:.1f}x ({cold['ours']:.2f} s against {cold['easyocr']:.2f} s)"
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
