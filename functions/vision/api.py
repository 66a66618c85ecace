"""The vision API function: the animal and road-sign routes, from the shared image-job router."""

from __future__ import annotations

from pydantic import BaseModel, Field

from assisti_common.http import create_app, lambda_handler
from assisti_common.image_api import ImageItemOut, image_job_router


class PredictionOut(BaseModel):
    label: str
    confidence: float


class RoadSignItemOut(ImageItemOut):
    predictions: list[PredictionOut] = Field(default_factory=list, description="The top 5, most likely first.")


class AnimalItemOut(RoadSignItemOut):
    group: str | None = Field(None, description="dog, cat, bird, fish, reptile, amphibian, insect, …")


app = create_app(
    "Assisti vision",
    "Classify photos: animals (ImageNet EfficientNet-Lite0) and road signs (trained here on synthetic data).",
    [
        image_job_router("animals", "/vision/animals", "animals", AnimalItemOut),
        image_job_router("road_signs", "/vision/road-signs", "road signs", RoadSignItemOut),
    ],
)
handler = lambda_handler(app)
