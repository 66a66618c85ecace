"""The worker's checks of an upload (image_jobs.images), on bytes: every problem they find is permanent,
told by a clear code, and found before a model or a refused format's parser sees the file."""

from __future__ import annotations

import pytest
from PIL import GifImagePlugin, Image

from assisti_common.image_jobs.images import MAX_ASPECT_RATIO, ImageRejected, load_image
from tests.images import encode, jpeg_with_corrupt_exif, sliver, text_image

LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_pixels": 40_000_000}


def rejection(data: bytes) -> ImageRejected:
    with pytest.raises(ImageRejected) as rejected:
        load_image(data, **LIMITS)
    return rejected.value


def test_exif_that_cannot_be_applied_is_a_corrupt_image():
    assert rejection(jpeg_with_corrupt_exif()).code == "corrupt_image"


@pytest.mark.parametrize(("width", "height"), [(1, 40_000), (40_000, 1), (10, 10 * MAX_ASPECT_RATIO + 1)])
def test_a_shape_the_models_cannot_take_is_refused_before_decoding(width, height):
    rejected = rejection(sliver(width, height))
    assert rejected.code == "extreme_aspect_ratio" and f"{width}x{height}" in rejected.message


def test_a_long_receipt_is_still_accepted():
    assert load_image(sliver(30, 30 * MAX_ASPECT_RATIO), **LIMITS).image.size == (30, 600)


def test_a_refused_format_is_named_without_its_plugin_ever_parsing_the_file(monkeypatch):
    def parse(self: object) -> None:
        raise AssertionError("the GIF plugin parsed the upload")

    monkeypatch.setattr(GifImagePlugin.GifImageFile, "_open", parse)
    rejected = rejection(encode(text_image(["gif"]), "GIF"))
    assert rejected.code == "unsupported_format" and rejected.message.startswith("GIF")


def test_the_content_type_is_the_one_found_in_the_bytes_not_the_declared_one():
    loaded = load_image(encode(Image.new("RGB", (8, 8)), "PNG"), **LIMITS)
    assert loaded.content_type == "image/png" and loaded.image.mode == "RGB"


def test_a_phones_mpo_jpeg_is_read_as_a_jpeg():
    """Phones often save MPO: a JPEG followed by a second picture. The first picture is what is read."""
    import io

    first, second = text_image("MPO"), Image.new("RGB", (64, 48), "black")
    buffer = io.BytesIO()
    first.save(buffer, "MPO", save_all=True, append_images=[second])
    loaded = load_image(buffer.getvalue(), **LIMITS, draft_side=64)
    assert loaded.content_type == "image/jpeg" and loaded.image.mode == "RGB"
    assert loaded.image.size[0] >= 64 and loaded.image.size[0] <= first.size[0]
