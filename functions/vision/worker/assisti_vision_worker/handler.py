"""The vision worker's entry point (one container image for both kinds): animals and road signs.

Both models load when `engine` is imported, once per container; the shared ImageJobWorker does the
claiming, checking, retries and state transitions, exactly as for OCR.
"""

from __future__ import annotations

from PIL import Image

from assisti_common.image_jobs.kinds import AnimalResult, Kind, RoadSignResult
from assisti_common.image_jobs.worker import ImageJobWorker, JobResult
from assisti_vision_worker import engine, labels
from assisti_vision_worker.settings import get_vision_settings

TOP_K = 5


def classify_animal(image: Image.Image) -> JobResult:
    decision = labels.animal_label(engine.ANIMALS.top_k(image, TOP_K), get_vision_settings().animal_min_confidence)
    return JobResult(
        decision.label, decision.confidence, AnimalResult(predictions=decision.predictions, group=decision.group)
    )


def classify_road_sign(image: Image.Image) -> JobResult:
    decision = labels.road_sign_label(
        engine.ROAD_SIGNS.top_k(image, TOP_K), get_vision_settings().road_sign_min_confidence
    )
    return JobResult(decision.label, decision.confidence, RoadSignResult(predictions=decision.predictions))


# The models look at a few hundred pixels at most (a 224 crop of 256 for animals): a JPEG is decoded at
# the smallest libjpeg scale that still covers the larger model's crop (engine.DRAFT_SIDE), and any larger
# image is reduced to it once decoded. Labels agree with a full decode (tests/unit/test_vision_engine.py).
# Every upload of a batch (the template's BatchSize) is read at once, ahead of the model: S3's round
# trips, not the model, are most of a job's time, and a reduced image is small to hold.
BATCH_SIZE = 8
worker = ImageJobWorker(
    {Kind.ANIMALS: classify_animal, Kind.ROAD_SIGNS: classify_road_sign},
    lookahead=BATCH_SIZE - 1,
    draft_side=engine.DRAFT_SIDE,
)
handler = worker.lambda_handler
