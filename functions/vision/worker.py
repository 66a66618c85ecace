"""The vision worker (one container image for both kinds): animals and road signs on onnxruntime.

Both models load when `engine` is imported, once per container; the shared ImageJobWorker does the
claiming, checking, retries and state transitions, exactly as for OCR.
"""

from __future__ import annotations

from PIL import Image

import engine
import labels
from assisti_common.image_jobs import ImageJobWorker, JobResult
from assisti_common.settings import get_settings

TOP_K = 5


def classify_animal(image: Image.Image) -> JobResult:
    decision = labels.animal_label(engine.ANIMALS.top_k(image, TOP_K), get_settings().animal_min_confidence)
    return JobResult(decision.label, decision.confidence, decision.details(with_group=True))


def classify_road_sign(image: Image.Image) -> JobResult:
    decision = labels.road_sign_label(engine.ROAD_SIGNS.top_k(image, TOP_K), get_settings().road_sign_min_confidence)
    return JobResult(decision.label, decision.confidence, decision.details(with_group=False))


worker = ImageJobWorker({"animals": classify_animal, "road_signs": classify_road_sign})
handler = worker.lambda_handler
