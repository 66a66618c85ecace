"""The vision API function: the animal and road-sign routes, from the shared image-job router."""

from __future__ import annotations

from assisti_common.http import create_app, lambda_handler
from assisti_common.image_jobs.api import image_job_router
from assisti_common.image_jobs.kinds import Kind

app = create_app(
    "Assisti vision",
    "Classify photos: animals (ImageNet EfficientNet-Lite0) and road signs (trained here on synthetic data).",
    [image_job_router(Kind.ANIMALS), image_job_router(Kind.ROAD_SIGNS)],
)
handler = lambda_handler(app)
