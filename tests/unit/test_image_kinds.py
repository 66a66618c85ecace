"""One list of kinds, one typed result per kind, shared by the worker that writes it and the API that
reads it: a misspelt or missing field fails here instead of vanishing from the answer."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from assisti_common.image_jobs.api import image_job_router
from assisti_common.image_jobs.kinds import KINDS, AnimalResult, Kind, OcrResult, RoadSignResult


def test_every_kind_has_a_result_model_and_a_path():
    assert set(KINDS) == set(Kind)
    assert {spec.path for spec in KINDS.values()} == {"/ocr", "/vision/animals", "/vision/road-signs"}


@pytest.mark.parametrize(
    ("model", "stored"),
    [
        (OcrResult, {"lnes": []}),  # a misspelt field
        (OcrResult, {"lines": [{"text": "x", "confidence": 1.0}]}),  # a line without its box
        (AnimalResult, {"predictions": [], "gruop": "cat"}),
        (RoadSignResult, {"predictions": [], "group": "cat"}),  # road signs have no group
    ],
)
def test_a_result_that_does_not_match_its_model_is_refused(model, stored):
    with pytest.raises(ValidationError):
        model.model_validate(stored)


def test_the_api_answers_each_kind_with_its_own_result_fields():
    fields = {}
    for kind in Kind:
        route = next(route for route in image_job_router(kind).routes if route.path.endswith("/{item_id}"))
        fields[kind] = set(route.response_model.model_fields)  # type: ignore[attr-defined]
    common = {"id", "title", "status", "label", "confidence", "error", "image_url", "created_at", "updated_at"}
    assert fields[Kind.OCR] == common | {"lines"}
    assert fields[Kind.ANIMALS] == common | {"predictions", "group"}
    assert fields[Kind.ROAD_SIGNS] == common | {"predictions"}


def test_an_image_is_decoded_and_held_no_larger_than_the_model_needs():
    """With a draft side, a 12 MP JPEG is decoded by libjpeg at a reduced scale that keeps both sides
    at least that long, and any image whose shorter side is still twice that or more is box-reduced by
    the largest whole factor that keeps it, whatever its mode (a palette's colours, not its indices,
    are averaged); without one (OCR), everything comes in full."""
    from PIL import Image

    from assisti_common.image_jobs.images import load_image
    from tests.images import encode

    photo = Image.new("RGB", (4032, 3024), (90, 120, 200))
    jpeg, png = encode(photo, "JPEG"), encode(photo.resize((2016, 1512)), "PNG")
    limits = {"max_bytes": 50_000_000, "max_pixels": 40_000_000}

    drafted = load_image(jpeg, **limits, draft_side=448).image
    assert min(drafted.size) >= 448 and drafted.size == (1008, 756)  # libjpeg's 1/4 scale, then 756 < 2 x 448
    assert load_image(jpeg, **limits).image.size == (4032, 3024)
    assert load_image(png, **limits).image.size == (2016, 1512)
    assert load_image(png, **limits, draft_side=448).image.size == (672, 504)  # 1512 // 448 = 3
    # A palette of red and blue, split where a reduced block takes a column of each: colours are
    # averaged, not indices. A transparent white stays white, as converting it to RGB makes it (a
    # premultiplied average would make it black).
    halves = Image.new("P", (2016, 1512))
    halves.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)  # index 0 red, index 1 blue
    halves.paste(1, (1000, 0, 2016, 1512))
    see_through = Image.new("RGBA", (2016, 1512), (255, 255, 255, 0))
    see_through.paste((0, 0, 255, 255), (1000, 0, 2016, 1512))
    for image in (see_through, halves):
        held = load_image(encode(image, "PNG"), **limits, draft_side=448).image
        assert held.mode == "RGB" and held.size == (672, 504), image.mode
        left, edge, right = (held.getpixel((x, 10)) for x in (10, 333, 660))
        assert right == (0, 0, 255) and edge not in {left, right}, image.mode
        assert left == ((255, 0, 0) if image.mode == "P" else (255, 255, 255)), image.mode
