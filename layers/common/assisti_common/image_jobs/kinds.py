"""The one list of image kinds, and each kind's typed result.

The worker of a kind returns its result model; the item stores it; the API reads it back through the
same model. A misspelt or missing field fails validation in a test instead of vanishing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Kind(StrEnum):
    OCR = "ocr"
    ANIMALS = "animals"
    ROAD_SIGNS = "road_signs"


class Result(BaseModel):
    """The kind-specific part of a finished item. Unknown fields are an error, not silence."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class OcrLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str
    confidence: float
    box: list[list[int]] = Field(description="4 [x, y] points, clockwise from top-left, in the image's pixels.")


class OcrResult(Result):
    lines: list[OcrLine] = Field(default_factory=list, description="The text lines, in reading order.")


class Prediction(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    label: str
    confidence: float


class RoadSignResult(Result):
    predictions: list[Prediction] = Field(default_factory=list, description="The top 5, most likely first.")


class AnimalResult(RoadSignResult):
    group: str | None = Field(None, description="dog, cat, big cat, bird, fish, reptile, amphibian, insect, …")


@dataclass(frozen=True)
class KindSpec:
    kind: Kind
    result: type[Result]
    path: str  # the API's collection path
    title: str  # for the API's tags and summaries


KINDS: dict[Kind, KindSpec] = {
    Kind.OCR: KindSpec(Kind.OCR, OcrResult, "/ocr", "ocr"),
    Kind.ANIMALS: KindSpec(Kind.ANIMALS, AnimalResult, "/vision/animals", "animals"),
    Kind.ROAD_SIGNS: KindSpec(Kind.ROAD_SIGNS, RoadSignResult, "/vision/road-signs", "road signs"),
}
