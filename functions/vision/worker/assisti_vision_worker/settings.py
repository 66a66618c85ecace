"""The vision worker's own settings: below these confidences a classifier's top class is "unknown"."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from assisti_common.settings import FunctionSettings, load_settings


class VisionSettings(FunctionSettings):
    animal_min_confidence: float = Field(0.3, ge=0, le=1, validation_alias="ASSISTI_ANIMAL_MIN_CONFIDENCE")
    road_sign_min_confidence: float = Field(0.6, ge=0, le=1, validation_alias="ASSISTI_ROAD_SIGN_MIN_CONFIDENCE")


@lru_cache(maxsize=1)
def get_vision_settings() -> VisionSettings:
    return load_settings(VisionSettings)
