"""Train the road-sign classifier on synthetic signs, export it to ONNX, evaluate it, write its card.

Run from the repository root (about 7-10 minutes on a 2-core CPU)::

    .venv/bin/python -m tools.road_signs.train

It writes, in ``functions/vision/worker/assisti_vision_worker/models/``, ``road_signs.onnx``,
``road_signs.json`` (the engine's contract) and
``ROAD_SIGNS_MODEL_CARD.md``. Everything is deterministic from ``--seed``: the data (see
:mod:`augment`), the weight initialisation, the batch order and dropout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from tools.road_signs import augment, signs

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO_ROOT / "functions" / "vision" / "worker" / "assisti_vision_worker" / "models"
TRAINING_COMMAND = ".venv/bin/python -m tools.road_signs.train"
RESIZE_DESCRIPTION = (
    "squash: the whole RGB image is resized to input_size x input_size with Pillow's "
    "Image.resize((S, S), Image.Resampling.BILINEAR), ignoring the aspect ratio (no crop, no padding)"
)
SOURCE = "synthetic (this project's generator), not GTSRB"

UInt8Array = npt.NDArray[np.uint8]
LabelArray = npt.NDArray[np.int64]


# --------------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------------


def conv_block(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class SignNet(nn.Module):
    """A small VGG-style CNN: four stages (48 → 24 → 12 → 6), global average pooling, dropout."""

    def __init__(self, num_classes: int, widths: Sequence[int] = (24, 48, 96, 160), dropout: float = 0.3) -> None:
        super().__init__()
        a, b, c, d = widths
        self.features = nn.Sequential(
            *conv_block(3, a),
            nn.MaxPool2d(2),
            *conv_block(a, b),
            *conv_block(b, b),
            nn.MaxPool2d(2),
            *conv_block(b, c),
            *conv_block(c, c),
            nn.MaxPool2d(2),
            *conv_block(c, d),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(d, num_classes))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.classifier(self.features(image))
        return logits


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


@dataclass
class Clock:
    start: float

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)  # the legacy global state, in case a library draws from it
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(2)


def normalise(images: UInt8Array, mean: Sequence[float], std: Sequence[float]) -> npt.NDArray[np.float32]:
    """NxSxSx3 uint8 → Nx3xSxS float32, exactly as road_signs.json tells the engine to do."""
    scaled = images.astype(np.float32) / np.float32(255)
    mean_array = np.asarray(mean, dtype=np.float32)
    std_array = np.asarray(std, dtype=np.float32)
    normalised: npt.NDArray[np.float32] = (scaled - mean_array) / std_array
    return np.ascontiguousarray(normalised.transpose(0, 3, 1, 2))


def predict(
    model: nn.Module, images: UInt8Array, mean: Sequence[float], std: Sequence[float], batch_size: int = 512
) -> LabelArray:
    model.eval()
    predictions = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = torch.from_numpy(normalise(images[start : start + batch_size], mean, std))
            predictions.append(model(batch.contiguous(memory_format=torch.channels_last)).argmax(1).numpy())
    return np.concatenate(predictions).astype(np.int64)


def log(clock: Clock, message: str) -> None:
    print(f"[{clock.elapsed():7.1f}s] {message}", flush=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------


def train(args: argparse.Namespace, clock: Clock) -> tuple[nn.Module, list[float], list[float], list[dict[str, Any]]]:
    num_classes = len(signs.CATALOGUE)
    log(
        clock,
        f"generating {args.train_per_class} training images per class x {num_classes} classes "
        f"({args.workers} worker processes)",
    )
    train_images, train_labels = augment.generate_dataset(
        augment.TRAIN, args.seed, args.train_per_class, args.input_size, workers=args.workers
    )
    # A small held-out set to watch each epoch; the final evaluation uses a fresh, larger one.
    monitor_images, monitor_labels = augment.generate_dataset(
        augment.HELDOUT, args.seed + 1, args.monitor_per_class, args.input_size, workers=args.workers
    )
    log(clock, f"generated {len(train_images)} training and {len(monitor_images)} held-out monitor images")

    # Channel statistics of the first 2,000 training images: plenty for 4 decimals, and quick.
    pixels = train_images[:2000].reshape(-1, 3).astype(np.float64) / 255.0
    mean = [round(float(v), 4) for v in pixels.mean(axis=0)]
    std = [round(float(v), 4) for v in pixels.std(axis=0)]
    log(clock, f"normalisation: mean={mean} std={std}")

    # channels_last makes the CPU convolutions markedly faster (torch's stubs miss this overload of `to`).
    model = SignNet(num_classes).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay)
    steps_per_epoch = len(train_images) // args.batch_size  # the ragged last batch is dropped
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.learning_rate, epochs=args.epochs, steps_per_epoch=steps_per_epoch, pct_start=0.2
    )
    loss_function = nn.CrossEntropyLoss(label_smoothing=0.05)
    order_generator = torch.Generator().manual_seed(args.seed)
    labels_tensor = torch.from_numpy(train_labels)
    history: list[dict[str, Any]] = []

    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(train_images), generator=order_generator).numpy()
        total_loss, correct, seen = 0.0, 0, 0
        for step in range(steps_per_epoch):
            indices = order[step * args.batch_size : (step + 1) * args.batch_size]
            batch = torch.from_numpy(normalise(train_images[indices], mean, std))
            batch = batch.contiguous(memory_format=torch.channels_last)
            targets = labels_tensor[indices]
            logits = model(batch)
            loss = loss_function(logits, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += loss.item() * len(indices)
            correct += int((logits.argmax(1) == targets).sum())
            seen += len(indices)
        monitor_accuracy = float((predict(model, monitor_images, mean, std) == monitor_labels).mean())
        record = {
            "epoch": epoch,
            "loss": total_loss / seen,
            "train_accuracy": correct / seen,
            "heldout_accuracy": monitor_accuracy,
            "elapsed": clock.elapsed(),
        }
        history.append(record)
        log(
            clock,
            f"epoch {epoch}/{args.epochs}  loss {record['loss']:.4f}  train acc {record['train_accuracy']:.4f}  "
            f"held-out acc {monitor_accuracy:.4f}  lr {scheduler.get_last_lr()[0]:.2e}",
        )
    model.eval()
    return model, mean, std, history


# --------------------------------------------------------------------------------------------------
# Export and evaluation
# --------------------------------------------------------------------------------------------------


def export_onnx(
    model: nn.Module, path: Path, input_size: int, check_images: UInt8Array, mean: Sequence[float], std: Sequence[float]
) -> float:
    """Export with the legacy (TorchScript) exporter; return max |onnxruntime - torch| on real inputs."""
    import onnx
    import onnxruntime

    model = model.to(memory_format=torch.contiguous_format).eval()  # type: ignore[call-overload]
    dummy = torch.zeros(1, 3, input_size, input_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # The legacy exporter is chosen on purpose (a plain, static graph); its deprecation notice is noise here.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (dummy,),
            str(path),
            input_names=["image"],
            output_names=["logits"],
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=17,
            do_constant_folding=True,
            dynamo=False,
        )
    onnx.checker.check_model(onnx.load(str(path)))
    batch = normalise(check_images, mean, std)
    with torch.no_grad():
        expected = model(torch.from_numpy(batch)).numpy()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    actual = session.run(["logits"], {"image": batch})[0]
    return float(np.abs(np.asarray(actual) - expected).max())


def evaluate_onnx(
    path: Path, images: UInt8Array, labels: LabelArray, mean: Sequence[float], std: Sequence[float]
) -> tuple[LabelArray, npt.NDArray[np.int64]]:
    """Predictions of the shipped ONNX file, and the confusion matrix (rows = truth)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    predictions = []
    for start in range(0, len(images), 256):
        logits = session.run(["logits"], {"image": normalise(images[start : start + 256], mean, std)})[0]
        predictions.append(np.asarray(logits).argmax(1))
    predicted = np.concatenate(predictions).astype(np.int64)
    num_classes = len(signs.CATALOGUE)
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    return predicted, confusion


def label_file(
    args: argparse.Namespace, mean: Sequence[float], std: Sequence[float], onnx_digest: str
) -> dict[str, Any]:
    return {
        "input_size": args.input_size,
        "mean": list(mean),
        "std": list(std),
        # The engine reads "resize" and "interpolation" as keywords; the sentence is for people.
        "resize": "squash",
        "interpolation": "bilinear",
        "resize_description": RESIZE_DESCRIPTION,
        "classes": [
            {"index": index, "gtsrb_id": sign.gtsrb_id, "name": sign.name} for index, sign in enumerate(signs.CATALOGUE)
        ],
        "source": SOURCE,
        "training_command": command_line(args),
        "seed": args.seed,
        "onnx_sha256": onnx_digest,
    }


def command_line(args: argparse.Namespace) -> str:
    defaults = vars(build_parser().parse_args([]))
    changed = [
        f"--{key.replace('_', '-')} {value}"
        for key, value in vars(args).items()
        if defaults.get(key) != value and key not in ("out_dir",)
    ]
    return " ".join([TRAINING_COMMAND, *changed])


# --------------------------------------------------------------------------------------------------
# The model card
# --------------------------------------------------------------------------------------------------


def describe_config(config: augment.AugmentConfig) -> dict[str, str]:
    def span(values: tuple[float, float], unit: str = "") -> str:
        return f"{values[0]:g}-{values[1]:g}{unit}"

    return {
        "Photo resolution (short side, log-uniform)": span(config.frame_short_side, " px"),
        "Photo aspect ratio (w/h; squashed to square)": span(config.frame_aspect),
        "Sign diameter / short side": span(config.sign_scale),
        "Sign centre offset": f"± {config.max_offset:g} of the frame",
        "Rotation": f"± {config.rotation_deg:g}°",
        "Perspective (corner jitter)": f"± {config.perspective:g} of the sign size",
        "Blur": f"{config.blur_kind}, {span(config.blur)} output px, p={config.blur_probability:g}",
        "Noise": f"{config.noise_kind}, {span(config.noise)}",
        "JPEG": f"quality {span(config.jpeg_quality)}, p={config.jpeg_probability:g}",
        "Brightness / contrast / saturation": (
            f"{span(config.brightness)} / {span(config.contrast)} / {span(config.saturation)}"
        ),
        "Colour cast (per-channel gain)": f"± {config.colour_cast:g}",
        "Gamma": span(config.gamma),
        "Shadow": f"{config.shadow_kind}, strength {span(config.shadow_strength)}, p={config.shadow_probability:g}",
        "Occluders": (
            f"{', '.join(config.occluder_shapes)}; {span(config.occlusion_area)} of the sign's box, "
            f"p={config.occlusion_probability:g}"
        ),
        "Procedural backgrounds (sky gradient / smooth noise)": f"p={config.procedural_background_probability:g}",
    }


def write_model_card(
    path: Path,
    args: argparse.Namespace,
    metadata: dict[str, Any],
    history: list[dict[str, Any]],
    confusion: npt.NDArray[np.int64],
    wall_seconds: float,
    onnx_size: int,
    max_difference: float,
    eval_seed: int,
) -> None:
    per_class_total = confusion.sum(axis=1)
    per_class_correct = np.diag(confusion)
    overall = float(per_class_correct.sum() / per_class_total.sum())
    names = [sign.name for sign in signs.CATALOGUE]
    train_recipe = describe_config(augment.TRAIN.augment)
    off_diagonal = confusion.copy()
    np.fill_diagonal(off_diagonal, 0)
    worst = np.argsort(off_diagonal, axis=None)[::-1][:5]
    top_confusions = "; ".join(
        f"{names[truth]} read as {names[guess]} ({int(off_diagonal[truth, guess])}/{int(per_class_total[truth])})"
        for truth, guess in (np.unravel_index(flat, confusion.shape) for flat in worst)
        if off_diagonal[truth, guess] > 0
    )
    heldout_recipe = describe_config(augment.HELDOUT.augment)

    lines: list[str] = []
    add = lines.append
    add("# Road-sign classifier (synthetic-trained) — model card")
    add("")
    add("Generated by `tools/road_signs/train.py` at the end of the training run that produced")
    add("`road_signs.onnx`; rerun the command below to reproduce all three files (`road_signs.onnx`,")
    add("`road_signs.json`, this card).")
    add("")
    add("**Trained only on synthetic images drawn by this project's generator. It has never seen a real")
    add("photo or the GTSRB dataset, and its accuracy on real photos has not been measured.**")
    add("")
    add("## Summary")
    add("")
    add("| | |")
    add("| --- | --- |")
    add(f"| Classes | {len(names)} GTSRB classes (GTSRB's own ids and English names) |")
    add(
        f"| Input | `image`: float32 Nx3x{args.input_size}x{args.input_size} (dynamic N), RGB, "
        "`(pixel/255 - mean) / std` |"
    )
    add(f"| Output | `logits`: Nx{len(names)} raw logits (apply softmax) |")
    add(f"| Resize | {RESIZE_DESCRIPTION} |")
    add(f"| mean / std | {metadata['mean']} / {metadata['std']} |")
    add(f"| Architecture | {describe_architecture()} |")
    add(f"| File | `road_signs.onnx`, {onnx_size / 1e6:.2f} MB, opset 17, legacy TorchScript exporter |")
    add(f"| sha256 | `{metadata['onnx_sha256']}` |")
    add(f"| onnxruntime vs torch | max abs logit difference {max_difference:.2e} on held-out images |")
    add(
        f"| Held-out accuracy | **{overall:.2%}** on {int(per_class_total.sum())} fresh held-out images "
        f"({args.eval_per_class} per class, seed {eval_seed}) |"
    )
    add("")
    add("## Classes")
    add("")
    add("`index` is the logits column; `gtsrb_id` is the class id in the German Traffic Sign Recognition")
    add("Benchmark, so a model trained on the real GTSRB can be dropped in with the same label file layout.")
    add("")
    add("| index | GTSRB id | name |")
    add("| ---: | ---: | --- |")
    for index, sign in enumerate(signs.CATALOGUE):
        add(f"| {index} | {sign.gtsrb_id} | {sign.name} |")
    add("")
    add("## Training")
    add("")
    add("```")
    add(f"{metadata['training_command']}")
    add("```")
    add("")
    add(
        f"Run from the repository root. Measured wall time of this run on this machine ({os.cpu_count()} CPU cores, "
        f"no GPU, {platform.python_implementation()} {platform.python_version()}, torch {torch.__version__}): "
        f"**{wall_seconds / 60:.1f} min** ({wall_seconds:.0f} s), everything included (data generation, training, "
        "export, evaluation). The machine is shared with other work, so the time varies from run to run."
    )
    add("")
    add(
        f"- Seed {args.seed}: Python, NumPy and torch are seeded, `torch.use_deterministic_algorithms(True)`, "
        "`torch.set_num_threads(2)`; every synthetic image is a function of (seed, split, index) only, whatever the "
        "number of worker processes."
    )
    add(
        f"- Data: {args.train_per_class} training images per class ({args.train_per_class * len(names)} in all), "
        f"generated once before training; {args.monitor_per_class} held-out images per class (seed {args.seed + 1}) "
        "to watch each epoch."
    )
    add(
        f"- Optimiser: AdamW (lr {args.learning_rate:g}, weight decay {args.weight_decay:g}), one-cycle schedule, "
        f"batch {args.batch_size}, {args.epochs} epochs, cross-entropy with label smoothing 0.05."
    )
    add("")
    add("| epoch | loss | train acc | held-out monitor acc | elapsed |")
    add("| ---: | ---: | ---: | ---: | ---: |")
    for record in history:
        add(
            f"| {record['epoch']} | {record['loss']:.4f} | {record['train_accuracy']:.2%} | "
            f"{record['heldout_accuracy']:.2%} | {record['elapsed']:.0f} s |"
        )
    add("")
    add("## Data recipe")
    add("")
    add("`tools/road_signs/signs.py` draws each sign with Pillow to its German (Vienna-convention) shape,")
    add("colours and pictogram — red-ringed white discs with black numerals for speed limits, a red octagon with")
    add("white STOP, an inverted red-bordered triangle for yield, a red disc with a white bar for no entry, a yellow")
    add("diamond with a white border for priority road, red-bordered white triangles with black pictograms for the")
    add("warning signs, blue discs with white arrows for the mandatory signs, and a red ring with a red and a black")
    add("car for no passing — at 4x resolution, then downscales it (anti-aliasing). Each rendering draws its exact")
    add("shades of red, blue, yellow, white and black, border widths, pictogram size and stroke, and numeral height,")
    add(f"width and weight from the seed ({augment.RENDER_VARIANTS} cached style variants per class and font).")
    add("")
    add("`tools/road_signs/augment.py` then builds a photo-like frame around it: a background patch, the")
    add("sign warped in with perspective, rotation, scale and offset, partial occlusion, lighting and colour shifts,")
    add("a shadow, blur, sensor noise and JPEG compression; the frame is then squashed to the input size exactly as")
    add("the engine does. One sign roughly fills each frame, like GTSRB's crops and like the photos the engine gets.")
    add("")
    add("Held-out images share **no** font, background photo or augmentation recipe with training:")
    add("")
    add("| | training | held-out |")
    add("| --- | --- | --- |")
    add(
        f"| Fonts (numerals, STOP) | {', '.join(font.name for font in augment.TRAIN.fonts)} | "
        f"{', '.join(font.name for font in augment.HELDOUT.fonts)} |"
    )
    add(
        f"| Background photos (scikit-image `skimage.data`) | {', '.join(augment.TRAIN.backgrounds)} | "
        f"{', '.join(augment.HELDOUT.backgrounds)} |"
    )
    for key, value in train_recipe.items():
        add(f"| {key} | {value} | {heldout_recipe[key]} |")
    add("")
    add("## Held-out evaluation")
    add("")
    add(f"The shipped `road_signs.onnx`, run with onnxruntime, on {int(per_class_total.sum())} freshly generated")
    add(f"held-out images (seed {eval_seed}, {args.eval_per_class} per class): **{overall:.2%}** overall.")
    add("")
    add("| GTSRB id | name | accuracy | correct / total | most frequent confusion |")
    add("| ---: | --- | ---: | ---: | --- |")
    for index, sign in enumerate(signs.CATALOGUE):
        row = confusion[index].copy()
        row[index] = 0
        mistaken = int(row.argmax())
        confusion_note = f"{names[mistaken]} ({int(row[mistaken])})" if row[mistaken] > 0 else "—"
        accuracy = per_class_correct[index] / per_class_total[index]
        add(
            f"| {sign.gtsrb_id} | {sign.name} | {accuracy:.1%} | {int(per_class_correct[index])} / "
            f"{int(per_class_total[index])} | {confusion_note} |"
        )
    add("")
    add("## Intended use")
    add("")
    add("Classifying a photo that shows one road sign roughly filling the frame (a close crop, like GTSRB's")
    add("images) into one of the classes above, as a demonstration feature of the Assisti image pipeline. The")
    add("engine resizes the whole photo (see Resize) and applies softmax to the logits. It is not a safety")
    add("component: do not use it to drive, to enforce traffic rules or for anything where a wrong answer matters.")
    add("")
    add("## What is not known, and known limitations")
    add("")
    add("- **Accuracy on real photos is not measured.** No real traffic-sign dataset is available here; every")
    add("  number above is on synthetic held-out images. Synthetic-to-real transfer is the main risk: real signs")
    add("  have the DIN 1451 typeface, retro-reflective sheeting, dirt, stickers, faded or yellowed paint, night")
    add("  glare and camera processing that the generator only approximates. Expect real-photo accuracy to be")
    add("  noticeably lower than the held-out figure.")
    add("- **Closed set.** Every image gets one of the classes above, including photos with no sign, with a sign")
    add("  of another class (e.g. the other GTSRB classes, or non-German signs), or with several signs. Callers")
    add('  should treat low softmax confidence as "unknown"; the softmax is not calibrated on real data.')
    add("- **Framing.** It expects the sign to fill most of the frame. A small sign in a wide street scene will")
    add("  mostly be misclassified: there is no detector in front of it.")
    add(f"- **Known failure modes.** On the synthetic held-out set the most frequent confusions are: {top_confusions}.")
    add("  More generally, expect speed limits to be confused with each other when")
    add("  numerals are blurred, occluded or very low-resolution (e.g. 30/80, 60/80, 100/120); no vehicles vs a")
    add("  speed limit whose numerals are hidden; pedestrians vs children crossing vs road work (small pictograms);")
    add("  the mirrored pairs (turn left/right ahead, keep left/right, go straight or left/right) when the photo is")
    add("  mirrored (selfie cameras) — a mirrored photo is a different sign.")
    add("- **Non-German variants** (e.g. yellow-background warning signs, other speed-limit numeral styles, US")
    add("  signs) are outside the training distribution.")
    add("")
    add("## Licenses")
    add("")
    add("- Fonts: Pillow's built-in font (Aileron Regular by dotcolon, released into the public domain; embedded in")
    add("  Pillow); Source Sans Pro (SIL Open Font License 1.1; PyPI `font-source-sans-pro==0.0.1`); Manrope (SIL OFL")
    add("  1.1; PyPI `font-manrope==0.0.2`); Lato (SIL OFL 1.1; PyPI `font-lato==0.1.0`). The fonts are only used to")
    add("  draw the synthetic images; no font is shipped with the model. The pins are in")
    add("  `tools/road_signs/requirements.txt`.")
    add("- Background photos: scikit-image's bundled sample data (`skimage.data`, shipped inside the scikit-image")
    add('  wheel, nothing downloaded), only those its documentation marks public domain, CC0 or "no known copyright')
    add('  restrictions" (moon, page and the Middlebury stereo motorcycle, which say nothing, are left out). They')
    add("  are used only as training and evaluation backgrounds; none is shipped with the model.")
    add("- Sign designs: official traffic-sign designs (German StVO / Vienna Convention), redrawn from scratch.")
    add("- The model weights are produced entirely by this project's code from the above.")
    add("")
    path.write_text("\n".join(lines), encoding="utf-8")


def describe_architecture() -> str:
    return (
        "4-stage CNN: conv3x3(24) → pool → 2xconv3x3(48) → pool → 2xconv3x3(96) → pool → conv3x3(160), each conv "
        "with BatchNorm + ReLU, global average pooling, dropout 0.3, linear"
    )


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--input-size", type=int, default=48)
    parser.add_argument("--train-per-class", type=int, default=1000)
    parser.add_argument("--monitor-per-class", type=int, default=20)
    parser.add_argument("--eval-per-class", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=4e-3)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--workers", type=int, default=2, help="processes generating images (not a result input)")
    parser.add_argument("--out-dir", type=Path, default=MODELS_DIR)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    clock = Clock(time.perf_counter())
    seed_everything(args.seed)
    log(
        clock,
        f"{len(signs.CATALOGUE)} classes, seed {args.seed}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads",
    )

    model, mean, std, history = train(args, clock)

    eval_seed = args.seed + 2
    eval_images, eval_labels = augment.generate_dataset(
        augment.HELDOUT, eval_seed, args.eval_per_class, args.input_size, workers=args.workers
    )
    log(clock, f"generated {len(eval_images)} fresh held-out evaluation images (seed {eval_seed})")

    out_dir: Path = args.out_dir
    onnx_path = out_dir / "road_signs.onnx"
    max_difference = export_onnx(model, onnx_path, args.input_size, eval_images[:256], mean, std)
    log(
        clock,
        f"exported {onnx_path} ({onnx_path.stat().st_size / 1e6:.2f} MB); "
        f"onnxruntime vs torch max |diff| = {max_difference:.2e}",
    )
    if max_difference > 1e-3:
        raise SystemExit(f"onnxruntime disagrees with torch (max |diff| {max_difference})")

    metadata = label_file(args, mean, std, sha256(onnx_path))
    (out_dir / "road_signs.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")

    predicted, confusion = evaluate_onnx(onnx_path, eval_images, eval_labels, mean, std)
    overall = float((predicted == eval_labels).mean())
    log(clock, f"held-out accuracy (onnxruntime, {len(eval_labels)} images): {overall:.4f}")
    for index, sign in enumerate(signs.CATALOGUE):
        total = int(confusion[index].sum())
        print(
            f"    {sign.gtsrb_id:3d} {sign.name:40s} {confusion[index, index] / total:7.2%} "
            f"({int(confusion[index, index])}/{total})"
        )

    wall_seconds = clock.elapsed()
    write_model_card(
        out_dir / "ROAD_SIGNS_MODEL_CARD.md",
        args,
        metadata,
        history,
        confusion,
        wall_seconds,
        onnx_path.stat().st_size,
        max_difference,
        eval_seed,
    )
    log(
        clock,
        f"wrote {out_dir / 'road_signs.json'} and {out_dir / 'ROAD_SIGNS_MODEL_CARD.md'}; "
        f"total wall time {wall_seconds:.0f} s",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
