"""Creates, in moto, every table, bucket, queue, SES identity and secret the template declares."""

from __future__ import annotations

import json
from typing import Any

import boto3

from assisti_common.keys import generate_keyring_document
from local.template import LOCAL_REGION, LocalTemplate

TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable")
# The variable that tells each function which keyring secret to read (template Globals).
KEYRING_VARIABLE = "ASSISTI_KEYS_SECRET_ID"


def _client(service: str, endpoint_url: str) -> Any:
    """Credentials come from the environment (the local stack and the tests set dummy ones)."""
    return boto3.client(service, region_name=LOCAL_REGION, endpoint_url=endpoint_url)  # type: ignore[call-overload]


def table_definitions(template: LocalTemplate) -> list[dict[str, Any]]:
    """CreateTable arguments for each table in the template (plus its TTL setting)."""
    definitions = []
    for logical_id, spec in template.of_type(*TABLE_TYPES).items():
        properties = template.resolve(spec.get("Properties", {}))
        arguments: dict[str, Any] = {
            "TableName": template.physical_name(logical_id),
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "KeySchema": properties["KeySchema"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if properties.get("GlobalSecondaryIndexes"):
            arguments["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
        definitions.append({"create": arguments, "ttl": properties.get("TimeToLiveSpecification")})
    return definitions


def bucket_notifications(cloudformation: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's NotificationConfiguration in the S3 API's shape (only queues are used)."""
    return {
        "QueueConfigurations": [
            {
                "QueueArn": queue["Queue"],
                "Events": [queue["Event"]],
                **(
                    {"Filter": {"Key": {"FilterRules": queue["Filter"]["S3Key"]["Rules"]}}} if "Filter" in queue else {}
                ),
            }
            for queue in cloudformation.get("QueueConfigurations", [])
        ]
    }


def provision(template: LocalTemplate, endpoint_url: str) -> dict[str, list[str]]:
    """Idempotent: what exists already is left alone. Returns what the template declared."""
    created: dict[str, list[str]] = {"tables": [], "buckets": [], "queues": [], "identities": [], "secrets": []}
    dynamodb = _client("dynamodb", endpoint_url)
    existing = set(dynamodb.list_tables()["TableNames"])
    for definition in table_definitions(template):
        name = definition["create"]["TableName"]
        if name not in existing:
            dynamodb.create_table(**definition["create"])
            if definition["ttl"]:
                dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=definition["ttl"])
        created["tables"].append(name)

    # Queues first (dead-letter queues before the queues that redrive to them), then buckets,
    # whose notifications name the queues.
    sqs = _client("sqs", endpoint_url)
    queues = template.of_type("AWS::SQS::Queue")
    for logical_id in sorted(queues, key=lambda name: "RedrivePolicy" in queues[name].get("Properties", {})):
        properties = template.resolve(queues[logical_id].get("Properties", {}))
        attributes = {
            key: str(properties[key]) for key in ("VisibilityTimeout", "MessageRetentionPeriod") if key in properties
        }
        if "RedrivePolicy" in properties:
            attributes["RedrivePolicy"] = json.dumps(properties["RedrivePolicy"])
        sqs.create_queue(QueueName=template.physical_name(logical_id), Attributes=attributes)
        created["queues"].append(template.physical_name(logical_id))

    s3 = _client("s3", endpoint_url)
    for logical_id, spec in template.of_type("AWS::S3::Bucket").items():
        name = template.bucket_name(logical_id)
        s3.create_bucket(Bucket=name)
        versioning = template.resolve(spec.get("Properties", {}).get("VersioningConfiguration", {}))
        if versioning:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning["Status"]})
        notifications = template.resolve(spec.get("Properties", {}).get("NotificationConfiguration", {}))
        if notifications:
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration=bucket_notifications(notifications)
            )
        created["buckets"].append(name)

    # The identities the stack would create, and the sender's in any case: in AWS the operator verifies
    # SenderEmail (or asks the stack to, CreateSenderIdentity), and moto's SES refuses unverified senders.
    sesv2 = _client("sesv2", endpoint_url)
    identities = [
        str(template.resolve(spec["Properties"]["EmailIdentity"]))
        for spec in template.of_type("AWS::SES::EmailIdentity").values()
    ]
    for identity in dict.fromkeys([*identities, template.parameters.get("SenderEmail", "")]):
        if identity:
            sesv2.create_email_identity(EmailIdentity=identity)
            created["identities"].append(identity)

    # The keyring is made out of band in AWS (`make keys`); locally, a fresh one per run, under the name
    # the functions are told to read (the KeysSecretName parameter, or the stage's default name).
    secrets = _client("secretsmanager", endpoint_url)
    keyrings = {
        function.environment[KEYRING_VARIABLE]
        for function in template.functions()
        if function.environment.get(KEYRING_VARIABLE)
    }
    for name in sorted(keyrings):
        secrets.create_secret(Name=name, SecretString=json.dumps(generate_keyring_document()))
        created["secrets"].append(name)
    return created
