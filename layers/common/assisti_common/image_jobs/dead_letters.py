"""The dead-letter handler for every kind: messages that used up their tries leave their items
`failed` (if nothing finished them), and their uploads released (nothing waits for them any more).
It loads no model and no Pillow, so it ships as a small zip on the common layer:
`Handler: assisti_common.image_jobs.dead_letters.handler`."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from assisti_common.db import image_items
from assisti_common.image_jobs import items
from assisti_common.image_jobs.events import uploads_in
from assisti_common.observability import logger

GAVE_UP = ("processing_failed", "We could not process this image after several tries. Upload it again.")

_processor = BatchProcessor(event_type=EventType.SQS)


def fail_dead_letter(record: SQSRecord) -> None:
    for upload in uploads_in(record):
        item = image_items.get_item(upload.key.owner_id, upload.key.kind, upload.key.item_id)
        settled = item is not None and image_items.finish_failed(item, *GAVE_UP)
        if settled:
            logger.warning("dead-lettered image job failed", extra={"item_id": upload.key.item_id})
        items.release(upload, item if settled else None)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=fail_dead_letter, processor=_processor, context=context)
    )
