"""Turn rendered signs into photo-like training and held-out images.

One sample = a rendered sign (:mod:`signs`) warped into a photo-like frame: a background patch, a
perspective / rotation / scale / offset, partial occlusion, lighting and colour shifts, blur, sensor
noise and JPEG artefacts; the frame is then squashed to ``size``x``size`` exactly as the engine does
(:func:`squash`). Like the photos the engine gets, one sign roughly fills the frame.

The two splits never share a font, a background photo or an augmentation recipe: :data:`TRAIN` and
:data:`HELDOUT` use disjoint fonts and background photos, different blur kernels (Gaussian vs motion),
noise models (Gaussian vs salt-and-pepper + Poisson), shadow shapes (linear vs radial), occluder shapes
(rectangles and ellipses vs polygons and branches), and different geometric and JPEG ranges.

Everything is a function of the seed: sample ``i`` of a split uses ``np.random.default_rng([seed,
split.code, i])``, so a dataset is the same whatever the number of worker processes.
"""

from __future__ import annotations

import io
import math
import multiprocessing
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter

from tools.road_signs import signs

UInt8Array = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float32]
Range = tuple[float, float]

# How many style variants (colours, proportions) of each sign and font are rendered and cached.
RENDER_VARIANTS = 12
RENDER_SIZE = 160
BACKGROUND_MAX_SIDE = 400

# Photos scikit-image ships whose documentation marks them public domain, CC0 or "no known copyright
# restrictions" (moon, page and the Middlebury motorcycle say nothing, so they are left out), split into
# two disjoint sets.
TRAIN_BACKGROUNDS: tuple[str, ...] = (
    "astronaut",
    "coffee",
    "chelsea",
    "brick",
    "grass",
    "camera",
    "coins",
    "hubble_deep_field",
    "clock",
)
HELDOUT_BACKGROUNDS: tuple[str, ...] = (
    "rocket",
    "gravel",
    "retina",
    "text",
    "immunohistochemistry",
    "cell",
    "microaneurysms",
)


@dataclass(frozen=True)
class AugmentConfig:
    """The ranges one split draws its augmentations from (uniform unless said otherwise)."""

    frame_short_side: Range  # pixels, drawn log-uniformly: the resolution of the "photo"
    frame_aspect: Range  # width / height of the photo (the engine squashes it to a square)
    sign_scale: Range  # sign diameter / the frame's short side
    max_offset: float  # sign centre offset from the frame centre, as a fraction of the frame
    rotation_deg: float  # in-plane rotation, ± this
    perspective: float  # each corner moves up to this fraction of the sign's size
    blur_kind: Literal["gaussian", "motion"]
    blur: Range  # Gaussian radius or motion length, in pixels of the final ``size`` image
    blur_probability: float
    noise_kind: Literal["gaussian", "salt-pepper+poisson"]
    noise: Range  # Gaussian sigma (0..255) or the salt-and-pepper fraction
    jpeg_quality: Range
    jpeg_probability: float
    brightness: Range
    contrast: Range
    saturation: Range
    colour_cast: float  # each channel's gain moves up to ± this
    gamma: Range
    shadow_kind: Literal["linear", "radial"]
    shadow_strength: Range  # how much darker the shaded side gets
    shadow_probability: float
    occluder_shapes: tuple[str, ...]
    occlusion_area: Range  # occluded fraction of the sign's bounding box
    occlusion_probability: float
    procedural_background_probability: float  # sky gradients and smooth noise instead of a photo


@dataclass(frozen=True)
class Split:
    name: str
    code: int  # part of every sample's seed, so the splits never share a random stream
    fonts: tuple[signs.FontSpec, ...]
    backgrounds: tuple[str, ...]
    augment: AugmentConfig


TRAIN = Split(
    name="train",
    code=1,
    fonts=signs.TRAIN_FONTS,
    backgrounds=TRAIN_BACKGROUNDS,
    augment=AugmentConfig(
        frame_short_side=(28, 160),
        frame_aspect=(0.75, 1.33),
        sign_scale=(0.62, 1.02),
        max_offset=0.1,
        rotation_deg=14,
        perspective=0.12,
        blur_kind="gaussian",
        blur=(0.0, 1.1),
        blur_probability=0.6,
        noise_kind="gaussian",
        noise=(0.0, 12.0),
        jpeg_quality=(30, 95),
        jpeg_probability=0.7,
        brightness=(0.45, 1.4),
        contrast=(0.55, 1.3),
        saturation=(0.45, 1.3),
        colour_cast=0.12,
        gamma=(0.7, 1.4),
        shadow_kind="linear",
        shadow_strength=(0.2, 0.6),
        shadow_probability=0.3,
        occluder_shapes=("rectangle", "ellipse"),
        occlusion_area=(0.04, 0.2),
        occlusion_probability=0.3,
        procedural_background_probability=0.35,
    ),
)

HELDOUT = Split(
    name="held-out",
    code=2,
    fonts=signs.HELDOUT_FONTS,
    backgrounds=HELDOUT_BACKGROUNDS,
    augment=AugmentConfig(
        frame_short_side=(36, 220),
        frame_aspect=(0.7, 1.4),
        sign_scale=(0.6, 0.98),
        max_offset=0.12,
        rotation_deg=17,
        perspective=0.14,
        blur_kind="motion",
        blur=(0.5, 1.8),
        blur_probability=0.5,
        noise_kind="salt-pepper+poisson",
        noise=(0.0, 0.02),
        jpeg_quality=(22, 60),
        jpeg_probability=0.8,
        brightness=(0.5, 1.35),
        contrast=(0.6, 1.2),
        saturation=(0.5, 1.2),
        colour_cast=0.1,
        gamma=(0.75, 1.35),
        shadow_kind="radial",
        shadow_strength=(0.2, 0.55),
        shadow_probability=0.3,
        occluder_shapes=("polygon", "branch"),
        occlusion_area=(0.04, 0.18),
        occlusion_probability=0.3,
        procedural_background_probability=0.0,
    ),
)

SPLITS = {split.name: split for split in (TRAIN, HELDOUT)}


# --------------------------------------------------------------------------------------------------
# Backgrounds
# --------------------------------------------------------------------------------------------------


def load_sample_image(name: str) -> npt.NDArray[Any]:
    """A scikit-image sample image by name (its loader function in ``skimage.data``)."""
    import skimage.data  # imported here: only the generator needs it, and it is slow to import

    return np.asarray(getattr(skimage.data, name)())


@lru_cache(maxsize=32)
def background_photo(name: str) -> Image.Image:
    """One of scikit-image's bundled sample photos as an RGB image (no download: they ship inside)."""
    array = load_sample_image(name)
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    photo = Image.fromarray(np.ascontiguousarray(array[..., :3]).astype(np.uint8), "RGB")
    # Patches end up a few hundred pixels at most: a smaller source keeps every crop-and-resize cheap.
    photo.thumbnail((BACKGROUND_MAX_SIDE, BACKGROUND_MAX_SIDE), Image.Resampling.LANCZOS)
    return photo


def photo_patch(name: str, width: int, height: int, rng: np.random.Generator) -> Image.Image:
    photo = background_photo(name)
    crop_height = int(photo.height * rng.uniform(0.2, 0.9))
    crop_width = min(photo.width, max(8, round(crop_height * width / height)))
    crop_height = min(photo.height, max(8, round(crop_width * height / width)))
    left = int(rng.integers(0, photo.width - crop_width + 1))
    top = int(rng.integers(0, photo.height - crop_height + 1))
    patch = photo.crop((left, top, left + crop_width, top + crop_height)).resize(
        (width, height), Image.Resampling.BILINEAR
    )
    if rng.random() < 0.5:
        patch = patch.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return patch


def procedural_background(width: int, height: int, rng: np.random.Generator) -> Image.Image:
    """A sky-like vertical gradient, or smooth coloured noise (foliage, walls, out-of-focus scenes)."""
    if rng.random() < 0.5:
        top = rng.uniform([90, 120, 160], [200, 220, 255])
        bottom = rng.uniform([120, 120, 120], [240, 240, 250])
        t = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
        array = (1 - t) * top + t * bottom
        array = np.broadcast_to(array, (height, width, 3))
    else:
        coarse = rng.uniform(0, 255, size=(int(rng.integers(2, 7)), int(rng.integers(2, 7)), 3)).astype(np.uint8)
        tint = rng.uniform(0.4, 1.0, size=3)
        array = np.asarray(Image.fromarray(coarse, "RGB").resize((width, height), Image.Resampling.BICUBIC)) * tint
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "RGB")


# --------------------------------------------------------------------------------------------------
# Rendering cache
# --------------------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def cached_render(split_code: int, seed: int, class_index: int, font_index: int, variant: int) -> Image.Image:
    split = TRAIN if split_code == TRAIN.code else HELDOUT
    style_rng = np.random.default_rng([seed, split_code, 7, class_index, font_index, variant])
    return signs.render_sign(signs.CATALOGUE[class_index], split.fonts[font_index], style_rng, RENDER_SIZE)


# --------------------------------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------------------------------


def perspective_coefficients(
    source: Sequence[tuple[float, float]], target: Sequence[tuple[float, float]]
) -> list[float]:
    """PIL's PERSPECTIVE data: maps each ``target`` (output) corner back to its ``source`` corner."""
    rows = []
    values = []
    for (sx, sy), (tx, ty) in zip(source, target, strict=True):
        rows.append([tx, ty, 1, 0, 0, 0, -sx * tx, -sx * ty])
        rows.append([0, 0, 0, tx, ty, 1, -sy * tx, -sy * ty])
        values.extend([sx, sy])
    solution = np.linalg.solve(np.asarray(rows, dtype=np.float64), np.asarray(values, dtype=np.float64))
    return [float(v) for v in solution]


def place_sign(
    sign: Image.Image, frame_size: tuple[int, int], config: AugmentConfig, rng: np.random.Generator
) -> tuple[Image.Image, tuple[float, float, float]]:
    """Warp the RGBA sign into an RGBA layer of ``frame_size``; also returns its centre and diameter."""
    width, height = frame_size
    diameter = rng.uniform(*config.sign_scale) * min(width, height)
    side = max(4, round(diameter))
    # Resize first (antialiased, premultiplied), so the warp below works at about 1:1 and cannot alias.
    small = sign.convert("RGBa").resize((side, side), Image.Resampling.BILINEAR)
    centre_x = width / 2 + rng.uniform(-1, 1) * config.max_offset * width
    centre_y = height / 2 + rng.uniform(-1, 1) * config.max_offset * height
    angle = math.radians(rng.uniform(-config.rotation_deg, config.rotation_deg))
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    corners = []
    for unit_x, unit_y in ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)):
        jitter_x, jitter_y = rng.uniform(-1, 1, size=2) * config.perspective
        x, y = (unit_x + jitter_x) * side, (unit_y + jitter_y) * side
        corners.append((centre_x + x * cos_a - y * sin_a, centre_y + x * sin_a + y * cos_a))
    source = [(0.0, 0.0), (float(side), 0.0), (float(side), float(side)), (0.0, float(side))]
    coefficients = perspective_coefficients(source, corners)
    warped = small.transform((width, height), Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BICUBIC)
    return warped.convert("RGBA"), (centre_x, centre_y, diameter)


# --------------------------------------------------------------------------------------------------
# Occlusion
# --------------------------------------------------------------------------------------------------


def occlude(
    frame: Image.Image, sign_box: tuple[float, float, float], config: AugmentConfig, rng: np.random.Generator
) -> None:
    """Cover part of the sign (a pole, a leaf, a sticker, a branch), in place."""
    centre_x, centre_y, diameter = sign_box
    draw = ImageDraw.Draw(frame)
    shape = config.occluder_shapes[int(rng.integers(len(config.occluder_shapes)))]
    area = rng.uniform(*config.occlusion_area) * diameter * diameter
    colour = tuple(int(v) for v in rng.integers(0, 256, size=3))
    # Anchor the occluder near the sign's edge: real occluders rarely hide only the middle.
    angle = rng.uniform(0, 2 * math.pi)
    reach = rng.uniform(0.2, 0.5) * diameter
    anchor_x, anchor_y = centre_x + math.cos(angle) * reach, centre_y + math.sin(angle) * reach
    if shape in ("rectangle", "ellipse"):
        aspect = rng.uniform(0.3, 3.0)
        half_w, half_h = math.sqrt(area * aspect) / 2, math.sqrt(area / aspect) / 2
        box = (anchor_x - half_w, anchor_y - half_h, anchor_x + half_w, anchor_y + half_h)
        if shape == "rectangle":
            draw.rectangle(box, fill=colour)
        else:
            draw.ellipse(box, fill=colour)
    elif shape == "polygon":
        vertices = int(rng.integers(3, 6))
        radius = math.sqrt(area / 2)
        angles = np.sort(rng.uniform(0, 2 * math.pi, size=vertices))
        radii = radius * rng.uniform(0.6, 1.4, size=vertices)
        draw.polygon(
            [(anchor_x + r * math.cos(a), anchor_y + r * math.sin(a)) for a, r in zip(angles, radii, strict=True)],
            fill=colour,
        )
    else:  # a branch: a thick, slightly bent line with a twig
        length = rng.uniform(0.6, 1.1) * diameter
        width = max(1, round(area / length))
        direction = rng.uniform(0, math.pi)
        dx, dy = math.cos(direction) * length / 2, math.sin(direction) * length / 2
        bend_x, bend_y = rng.uniform(-0.15, 0.15, size=2) * diameter
        points = [
            (anchor_x - dx, anchor_y - dy),
            (anchor_x + bend_x, anchor_y + bend_y),
            (anchor_x + dx, anchor_y + dy),
        ]
        draw.line(points, fill=colour, width=width, joint="curve")
        draw.line(
            [points[1], (points[1][0] + dy * 0.5, points[1][1] - dx * 0.5)], fill=colour, width=max(1, width // 2)
        )


# --------------------------------------------------------------------------------------------------
# Photometric
# --------------------------------------------------------------------------------------------------


def adjust_lighting(pixels: FloatArray, config: AugmentConfig, rng: np.random.Generator) -> FloatArray:
    """Brightness, contrast, saturation, white balance, gamma and a shadow, on 0..1 floats."""
    height, width, _ = pixels.shape
    grey = pixels.mean(axis=2, keepdims=True)
    pixels = grey + (pixels - grey) * rng.uniform(*config.saturation)
    mean = float(pixels.mean())
    pixels = mean + (pixels - mean) * rng.uniform(*config.contrast)
    gains = 1 + rng.uniform(-config.colour_cast, config.colour_cast, size=3)
    pixels = pixels * rng.uniform(*config.brightness) * gains.astype(np.float32)
    if rng.random() < config.shadow_probability:
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        strength = rng.uniform(*config.shadow_strength)
        if config.shadow_kind == "linear":
            angle = rng.uniform(0, 2 * math.pi)
            ramp = (xs / width - 0.5) * math.cos(angle) + (ys / height - 0.5) * math.sin(angle)
            shade = 1 - strength * np.clip(ramp * rng.uniform(2, 8) + 0.5, 0, 1)
        else:
            cx, cy = rng.uniform(0, width), rng.uniform(0, height)
            distance = np.hypot(xs - cx, ys - cy) / max(width, height)
            shade = 1 - strength * np.clip(distance * rng.uniform(1, 2.5), 0, 1)
        pixels = pixels * shade[..., None]
    pixels = np.clip(pixels, 0, 1) ** rng.uniform(*config.gamma)
    return pixels.astype(np.float32)


def motion_kernel(length: float, angle: float) -> ImageFilter.Kernel:
    """A normalised 5x5 line kernel (Pillow's largest) of about ``length`` pixels."""
    size = 5
    kernel = np.zeros((size, size), dtype=np.float64)
    for t in np.linspace(-length / 2, length / 2, 15):
        x, y = 2 + t * math.cos(angle), 2 + t * math.sin(angle)
        kernel[min(4, max(0, round(y))), min(4, max(0, round(x)))] += 1
    kernel /= kernel.sum()
    return ImageFilter.Kernel((size, size), [float(v) for v in kernel.ravel()], scale=1)


def blur(frame: Image.Image, config: AugmentConfig, output_size: int, rng: np.random.Generator) -> Image.Image:
    # Blur is specified in pixels of the final image, so it is scaled to the frame's resolution.
    amount = rng.uniform(*config.blur) * min(frame.size) / output_size
    if config.blur_kind == "gaussian":
        return frame.filter(ImageFilter.GaussianBlur(amount))
    # A motion kernel wider than Pillow's 5x5 is applied on a downscaled copy, then scaled back.
    shrink = max(1.0, amount / 4)
    small = (
        frame.resize(
            (max(4, round(frame.width / shrink)), max(4, round(frame.height / shrink))), Image.Resampling.BILINEAR
        )
        if shrink > 1
        else frame
    )
    small = small.filter(motion_kernel(amount / shrink, rng.uniform(0, math.pi)))
    return small.resize(frame.size, Image.Resampling.BILINEAR) if shrink > 1 else small


def add_noise(pixels: FloatArray, config: AugmentConfig, rng: np.random.Generator) -> FloatArray:
    level = rng.uniform(*config.noise)
    if config.noise_kind == "gaussian":
        pixels = pixels + rng.normal(0, level / 255, size=pixels.shape).astype(np.float32)
    else:
        photons = rng.uniform(40, 400)  # shot noise: fewer photons, more noise
        pixels = rng.poisson(np.clip(pixels, 0, 1) * photons).astype(np.float32) / photons
        hit = rng.random(size=pixels.shape[:2]) < level
        pixels[hit] = rng.integers(0, 2, size=(int(hit.sum()), 1)).astype(np.float32)
    return np.clip(pixels, 0, 1)


def jpeg(frame: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    frame.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


# --------------------------------------------------------------------------------------------------
# Samples and datasets
# --------------------------------------------------------------------------------------------------


def to_float(frame: Image.Image) -> FloatArray:
    """RGB pixels as 0..1 float32."""
    pixels: FloatArray = np.asarray(frame, dtype=np.float32) * np.float32(1 / 255)
    return pixels


def squash(image: Image.Image, size: int) -> Image.Image:
    """What the engine does to a whole photo: resize it to sizexsize, bilinear, ignoring aspect ratio."""
    return image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)


def generate_photo(split: Split, class_index: int, seed: int, index: int, output_size: int) -> Image.Image:
    """The full-resolution synthetic "photo" of sample ``index`` (before the engine's squash)."""
    rng = np.random.default_rng([seed, split.code, index])
    config = split.augment
    sign = signs.CATALOGUE[class_index]
    font_index = int(rng.integers(len(split.fonts))) if sign.uses_font else 0
    rendered = cached_render(split.code, seed, class_index, font_index, int(rng.integers(RENDER_VARIANTS)))

    low, high = config.frame_short_side
    short_side = math.exp(rng.uniform(math.log(low), math.log(high)))
    aspect = rng.uniform(*config.frame_aspect)
    width = max(8, round(short_side * max(1.0, aspect)))
    height = max(8, round(short_side * max(1.0, 1 / aspect)))

    if rng.random() < config.procedural_background_probability:
        frame = procedural_background(width, height, rng)
    else:
        name = split.backgrounds[int(rng.integers(len(split.backgrounds)))]
        frame = photo_patch(name, width, height, rng)
    layer, sign_box = place_sign(rendered, (width, height), config, rng)
    frame = frame.convert("RGBA")
    frame.alpha_composite(layer)
    frame = frame.convert("RGB")
    if rng.random() < config.occlusion_probability:
        occlude(frame, sign_box, config, rng)

    pixels = to_float(frame)
    pixels = adjust_lighting(pixels, config, rng)
    frame = Image.fromarray((pixels * 255 + 0.5).astype(np.uint8), "RGB")
    if rng.random() < config.blur_probability:
        frame = blur(frame, config, output_size, rng)
    pixels = add_noise(to_float(frame), config, rng)
    frame = Image.fromarray((pixels * 255 + 0.5).astype(np.uint8), "RGB")
    if rng.random() < config.jpeg_probability:
        frame = jpeg(frame, int(rng.integers(int(config.jpeg_quality[0]), int(config.jpeg_quality[1]) + 1)))
    return frame


def generate_sample(split: Split, class_index: int, seed: int, index: int, size: int) -> UInt8Array:
    return np.asarray(squash(generate_photo(split, class_index, seed, index, size), size), dtype=np.uint8)


def _generate_chunk(arguments: tuple[str, int, int, int, int, int]) -> tuple[UInt8Array, npt.NDArray[np.int64]]:
    split_name, seed, start, stop, num_classes, size = arguments
    split = SPLITS[split_name]
    indices = range(start, stop)
    labels = np.asarray([index % num_classes for index in indices], dtype=np.int64)
    images = np.stack(
        [generate_sample(split, int(label), seed, index, size) for index, label in zip(indices, labels, strict=True)]
    )
    return images, labels


def generate_dataset(
    split: Split, seed: int, per_class: int, size: int, workers: int = 1, first_index: int = 0
) -> tuple[UInt8Array, npt.NDArray[np.int64]]:
    """``per_class`` samples of every class (labels cycle through the catalogue), Nxsizexsizex3 uint8.

    Sample ``i`` (counted from ``first_index``) depends only on (seed, split, i), so the result is the
    same for any ``workers``; ``first_index`` lets a caller draw a disjoint continuation of a stream.
    """
    num_classes = len(signs.CATALOGUE)
    total = per_class * num_classes
    chunk = 256
    tasks = [
        (split.name, seed, first_index + start, first_index + min(total, start + chunk), num_classes, size)
        for start in range(0, total, chunk)
    ]
    if workers <= 1:
        results = [_generate_chunk(task) for task in tasks]
    else:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            results = pool.map(_generate_chunk, tasks)
    return np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results])
