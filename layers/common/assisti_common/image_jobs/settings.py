"""Settings of the image pipeline: the API functions and the workers read these; others never do."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from assisti_common.settings import FunctionSettings, load_settings

# The longest long-poll a GET may ask for (`?wait=`): well inside API Gateway's 30 s limit.
MAX_WAIT_SECONDS = 20
# The longest an upload's presigned POST may live: an S3 event may come that long after the item's claim.
MAX_UPLOAD_URL_SECONDS = 900
# An item still `processing` this long after it last changed is failed when read (four days and an
# hour): the template holds its queues' retention and visibility timeout, with an upload link's life,
# inside it (tests/unit/test_template.py), so the environment may only lengthen it.
MIN_PROCESSING_DEADLINE_SECONDS = 349_200


class ImageSettings(FunctionSettings):
    # The presigned upload, and the checks the worker repeats.
    upload_max_bytes: int = Field(10 * 1024 * 1024, ge=1024, validation_alias="ASSISTI_UPLOAD_MAX_BYTES")
    # An app uploads right after it creates the item; a policy that lives longer only widens the
    # window for uploads nothing waits for.
    upload_url_seconds: int = Field(
        300, ge=60, le=MAX_UPLOAD_URL_SECONDS, validation_alias="ASSISTI_UPLOAD_URL_SECONDS"
    )
    image_url_seconds: int = Field(300, ge=30, le=3600, validation_alias="ASSISTI_IMAGE_URL_SECONDS")
    max_image_pixels: int = Field(40_000_000, ge=10_000, validation_alias="ASSISTI_MAX_IMAGE_PIXELS")
    # Must equal the queue's redrive maxReceiveCount: the last try marks the item failed.
    worker_max_receives: int = Field(3, ge=1, validation_alias="ASSISTI_WORKER_MAX_RECEIVES")
    # How long an item may stay `processing` after it last changed before it is failed when read: past
    # the longest any message of its can still come and finish it.
    processing_deadline_seconds: int = Field(
        MIN_PROCESSING_DEADLINE_SECONDS,
        ge=MIN_PROCESSING_DEADLINE_SECONDS,
        validation_alias="ASSISTI_PROCESSING_DEADLINE_SECONDS",
    )


@lru_cache(maxsize=1)
def get_image_settings() -> ImageSettings:
    return load_settings(ImageSettings)
