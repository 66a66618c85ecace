"""Checks every uploaded image again in the worker: what moto and a hostile client may not have.

Size, real content (Pillow must recognise one of the allowed formats, whatever the name or the
declared type says), pixel count before decoding (no decompression bombs), a full decode (no
truncated files), and EXIF orientation applied so the model sees the picture upright.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from assisti_common.image_jobs.storage import IMAGE_TYPES

ALLOWED_FORMATS = frozenset(IMAGE_TYPES.values())


@dataclass(frozen=True)
class ImageRejected(Exception):
    """A permanent problem with the upload: the item fails, and retrying cannot help."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def load_image(data: bytes, *, max_bytes: int, max_pixels: int, draft_side: int | None = None) -> Image.Image:
    """Returns the upright RGB image, or raises ImageRejected. With `draft_side`, a JPEG is decoded at
    the smallest of libjpeg's 1/2, 1/4, 1/8 scales that keeps both sides at least that long: a model
    that looks at 224 pixels does not need a 12 MP photo decoded in full (about 4x less work)."""
    if not data:
        raise ImageRejected("empty_upload", "The uploaded file is empty.")
    if len(data) > max_bytes:
        raise ImageRejected("too_large", f"The image is over {max_bytes} bytes.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data))
            if opened.format not in ALLOWED_FORMATS:
                raise ImageRejected(
                    "unsupported_format",
                    f"{opened.format or 'This'} images are not accepted; use JPEG, PNG, WebP, BMP or TIFF.",
                )
            width, height = opened.size
            if width < 1 or height < 1 or width * height > max_pixels:
                raise ImageRejected(
                    "too_many_pixels", f"The image is {width}x{height}; at most {max_pixels} pixels are accepted."
                )
            if draft_side is not None and opened.format == "JPEG":
                opened.draft("RGB", (draft_side, draft_side))
            opened.load()  # the decode: a truncated or corrupt file fails here
            # Turned and converted in place where possible: a copy of a 12 MP image costs ~36 MB and a pass.
            ImageOps.exif_transpose(opened, in_place=True)
            return opened if opened.mode == "RGB" else opened.convert("RGB")
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("too_many_pixels", "The image has too many pixels.") from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected("not_an_image", "The file is not an image we can read.") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected("corrupt_image", "The image is damaged or truncated.") from exc
