"""The local SQS event source mapping: polls a queue and invokes the function with a real SQS event.

As in Lambda: messages the handler reports in `batchItemFailures` (or all of them, if it raises)
stay on the queue for another try, the rest are deleted, and moto's redrive policy moves a message
to its dead-letter queue after maxReceiveCount tries. One local difference: a failed message is made
visible again after `retry_delay` seconds instead of the queue's whole visibility timeout, so that
retries show up within a minute on a laptop.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import boto3

from local.template import LOCAL_REGION, QueueSource

Invoke = Callable[[dict[str, Any]], Any]


def sqs_event(messages: Sequence[Mapping[str, Any]], queue_arn: str) -> dict[str, Any]:
    """SQS ReceiveMessage output in the shape Lambda's event source mapping delivers."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": LOCAL_REGION,
            }
            for message in messages
        ]
    }


class QueuePump:
    def __init__(
        self,
        source: QueueSource,
        invoke: Invoke,
        endpoint_url: str,
        retry_delay: int = 2,
        log: Callable[[str], None] = print,
    ) -> None:
        self.source, self.invoke, self.retry_delay, self.log = source, invoke, retry_delay, log
        self.sqs = boto3.client("sqs", region_name=LOCAL_REGION, endpoint_url=endpoint_url)
        self.queue_url = self.sqs.get_queue_url(QueueName=source.queue_name)["QueueUrl"]

    def poll_once(self, wait_seconds: int = 1) -> int:
        """Receives one batch, invokes the function, settles the messages. Returns how many it got."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(10, self.source.batch_size),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        ids = {message["MessageId"] for message in messages}
        try:
            response = self.invoke(sqs_event(messages, self.source.queue_arn)) or {}
            failed = {failure["itemIdentifier"] for failure in response.get("batchItemFailures", [])}
        except Exception as exc:  # the whole batch failed, as when a Lambda invocation errors
            self.log(f"[queue {self.source.queue_name}] the function failed: {exc}")
            failed = ids
        for message in messages:
            if message["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=self.retry_delay
                )
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # keep pumping through a hiccup, as the real mapping does
                self.log(f"[queue {self.source.queue_name}] polling failed: {exc}")
                time.sleep(1)
