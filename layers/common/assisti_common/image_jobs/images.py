"""Checks every uploaded image again in the worker: what moto and a hostile client may not have.

Size, real content (opened only by the plugins of the allowed formats, whatever the name or the
declared type says), pixel count and shape before decoding (no decompression bombs, nothing the models
cannot take), a full decode (no truncated files), and EXIF orientation applied so the model sees the
picture upright. Decoding fixed bytes gives the same answer every time: every problem found here is
permanent (ImageRejected), never worth a retry.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from assisti_common.image_jobs.storage import IMAGE_TYPES

ALLOWED_FORMATS = tuple(sorted(IMAGE_TYPES.values()))  # the Pillow plugins that may open an upload
# Many phones write their JPEGs as MPO (a JPEG with a second, depth or preview, picture after it): the
# JPEG plugin opens them and names them MPO. The first picture is an ordinary JPEG, and it is the one read.
JPEG_FORMATS = ("JPEG", "MPO")
CONTENT_TYPES = {image_format: content_type for content_type, image_format in IMAGE_TYPES.items()} | {
    "MPO": "image/jpeg"
}
# The longer side at most this many times the shorter. OCR scales the longer side to a 640-pixel canvas
# first, where a thinner image has a shorter side under one pixel (OpenCV refuses it); a classifier sees
# a sliver. Long receipts and phone panoramas stay well inside.
MAX_ASPECT_RATIO = 20
# What Pillow raises from EXIF it cannot parse or write back while turning the image upright.
_EXIF_ERRORS = (struct.error, IndexError, KeyError, TypeError, ZeroDivisionError)


@dataclass(frozen=True)
class ImageRejected(Exception):
    """A permanent problem with the upload: the item fails, and retrying cannot help."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class LoadedImage:
    image: Image.Image  # upright, RGB
    content_type: str  # of the format found in the bytes, whatever the upload declared


def load_image(data: bytes, *, max_bytes: int, max_pixels: int, draft_side: int | None = None) -> LoadedImage:
    """The upright RGB image, or raises ImageRejected. With `draft_side`, the image comes no larger than
    a model that needs that many pixels on its shorter side can use: a JPEG is decoded at the smallest
    of libjpeg's 1/2, 1/4, 1/8 scales that keeps both sides at least that long (a model that looks at
    224 pixels does not need a 12 MP photo decoded in full: about 4x less work), and any image whose
    shorter side is still twice that or more is box-reduced by the largest whole factor that keeps it
    (a 40 MP PNG is 160 MB decoded, as Pillow keeps RGB in four bytes a pixel: what a worker would hold
    while the image waits for the model)."""
    if not data:
        raise ImageRejected("empty_upload", "The uploaded file is empty.")
    if len(data) > max_bytes:
        raise ImageRejected("too_large", f"The image is over {max_bytes} bytes.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            image_format = opened.format or ""
            if image_format not in CONTENT_TYPES:
                raise _unsupported(image_format)
            _check_shape(*opened.size, max_pixels=max_pixels)
            if draft_side is not None and image_format in JPEG_FORMATS:
                opened.draft("RGB", (draft_side, draft_side))
            opened.load()  # the decode: a truncated or corrupt file fails here
            try:
                # Turned in place: a copy of a 12 MP image costs ~36 MB and a pass.
                ImageOps.exif_transpose(opened, in_place=True)
            except _EXIF_ERRORS as exc:
                raise ImageRejected("corrupt_image", "The image's EXIF metadata is damaged.") from exc
            return LoadedImage(_rgb(opened, draft_side), CONTENT_TYPES[image_format])
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("too_many_pixels", "The image has too many pixels.") from exc
    except UnidentifiedImageError as exc:
        named = _format_named_by(data)
        if named is None:
            raise ImageRejected("not_an_image", "The file is not an image we can read.") from exc
        raise (_corrupt() if named in CONTENT_TYPES else _unsupported(named)) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _corrupt() from exc


# Modes whose conversion to RGB gives the same pixels before or after a box reduction. Not a palette
# (its indices are not colours), nor alpha: Pillow averages it premultiplied, so a transparent white
# pixel would come out black, where the conversion to RGB keeps it white.
_AVERAGEABLE_MODES = frozenset({"RGB", "L"})


def _rgb(image: Image.Image, min_side: int | None) -> Image.Image:
    """`image` in RGB; with `min_side`, box-reduced by the largest whole factor that keeps its shorter
    side at least that long (before the conversion where that gives the same pixels: one copy fewer)."""
    factor = min(image.size) // min_side if min_side is not None else 1
    if factor > 1 and image.mode in _AVERAGEABLE_MODES:
        image, factor = image.reduce(factor), 1
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    return rgb.reduce(factor) if factor > 1 else rgb


def _check_shape(width: int, height: int, *, max_pixels: int) -> None:
    """Before decoding: nothing larger than the pixel budget, nothing thinner than the models can take."""
    if width < 1 or height < 1 or width * height > max_pixels:
        raise ImageRejected(
            "too_many_pixels", f"The image is {width}x{height}; at most {max_pixels} pixels are accepted."
        )
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise ImageRejected(
            "extreme_aspect_ratio",
            f"The image is {width}x{height}; its longer side may be at most {MAX_ASPECT_RATIO} times its shorter.",
        )


def _corrupt() -> ImageRejected:
    return ImageRejected("corrupt_image", "The image is damaged or truncated.")


def _unsupported(image_format: str) -> ImageRejected:
    return ImageRejected(
        "unsupported_format", f"{image_format or 'These'} images are not accepted; use JPEG, PNG, WebP, BMP or TIFF."
    )


def _format_named_by(data: bytes) -> str | None:
    """The other image format the file's first bytes announce (a GIF, a HEIC …), if any: told by each
    plugin's signature check alone, so no plugin of a format we refuse ever parses the upload."""
    Image.init()
    prefix = data[:16]  # what Image.open gives the same checks
    for name, (_, accepts) in Image.OPEN.items():
        try:
            if accepts is not None and accepts(prefix):
                return name
        except (struct.error, IndexError, TypeError, SyntaxError):  # a prefix too short for the check
            continue
    return None
