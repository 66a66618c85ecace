"""The OCR worker's entry point: SQS events of S3 uploads -> easyocr's models on onnxruntime.

The engine loads its models at import, once per container; the shared ImageJobWorker does the
claiming, checking, retries and state transitions.
"""

from __future__ import annotations

from statistics import fmean

import numpy as np
from PIL import Image

from assisti_common.image_jobs.kinds import Kind, OcrLine, OcrResult
from assisti_common.image_jobs.worker import ImageJobWorker, JobResult
from assisti_ocr_worker import engine


def read(image: Image.Image) -> JobResult:
    """The label is the lines joined by newlines; no text is an empty label, not an error."""
    lines = engine.read_text(np.asarray(image))
    return JobResult(
        label="\n".join(line.text for line in lines),
        confidence=round(fmean(line.confidence for line in lines), 4) if lines else None,
        result=OcrResult(
            lines=[OcrLine(text=line.text, confidence=round(line.confidence, 4), box=line.box) for line in lines]
        ),
    )


# OCR reads at full resolution; one upload is read and decoded ahead while the model works (the model
# takes a second or more, so one is enough to hide the round trips, and a phone photo is ~36 MB decoded).
# Each label is written as soon as it is read: the first user of a batch does not wait for the others.
worker = ImageJobWorker({Kind.OCR: read}, lookahead=1, settle_as_done=True)
handler = worker.lambda_handler
