"""The OCR API function: routes only, from the shared image-job router."""

from __future__ import annotations

from assisti_common.http import create_app, lambda_handler
from assisti_common.image_jobs.api import image_job_router
from assisti_common.image_jobs.kinds import Kind

app = create_app(
    "Assisti OCR",
    "Upload an image straight to S3 with the presigned POST; its text becomes the item's label.",
    [image_job_router(Kind.OCR)],
)
handler = lambda_handler(app)
