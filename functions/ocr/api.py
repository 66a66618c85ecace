"""The OCR API function: routes only, from the shared image-job router."""

from __future__ import annotations

from pydantic import BaseModel, Field

from assisti_common.http import create_app, lambda_handler
from assisti_common.image_api import ImageItemOut, image_job_router


class OcrLineOut(BaseModel):
    text: str
    confidence: float
    box: list[list[int]]


class OcrItemOut(ImageItemOut):
    lines: list[OcrLineOut] = Field(default_factory=list)


app = create_app(
    "Assisti OCR",
    "Upload an image straight to S3 with the presigned POST; its text becomes the item's label.",
    [image_job_router("ocr", "/ocr", "ocr", OcrItemOut)],
)
handler = lambda_handler(app)
