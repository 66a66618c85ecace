"""template.yaml is the real deployment: it passes cfn-lint, and every handler in it imports."""

from __future__ import annotations

import importlib
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from local.functions import load_handler
from local.template import ROOT, LocalTemplate, load_template

TEMPLATE = LocalTemplate(load_template())


def test_template_passes_cfn_lint():
    result = subprocess.run(
        [Path(sys.executable).parent / "cfn-lint", str(ROOT / "template.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("function", TEMPLATE.functions(), ids=lambda function: function.logical_id)
def test_every_handler_and_code_uri_imports(function):
    assert function.code_uri.is_dir(), function.code_uri
    if function.asgi_app is not None:  # run by the Lambda Web Adapter: its script, and the app it serves
        script = function.code_uri / function.handler
        assert script.is_file() and script.stat().st_mode & 0o111, script
        assert "uvicorn" in script.read_text() and "ASSISTI_ASGI_APP" in script.read_text()
        module, _, attribute = function.asgi_app.partition(":")
        assert callable(getattr(importlib.import_module(module), attribute))
        return
    assert callable(load_handler(function.handler))


def test_the_streaming_function_is_a_response_streaming_url_in_the_outputs():
    spec = TEMPLATE.of_type("AWS::Serverless::Function")["ChatStreamFunction"]["Properties"]
    assert spec["FunctionUrlConfig"]["InvokeMode"] == "RESPONSE_STREAM"
    assert spec["Environment"]["Variables"]["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert any("LambdaAdapterLayer" in str(layer) for layer in spec["Layers"])
    assert "ChatStreamUrl" in TEMPLATE.document["Outputs"]


def test_both_chat_functions_have_exactly_the_one_chat_policy():
    """One package behind two ways in (JSON through the HTTP API, streams through a function URL): the
    same permissions, written once, so the two cannot drift apart."""
    functions = TEMPLATE.of_type("AWS::Serverless::Function")
    for name in ("ChatFunction", "ChatStreamFunction"):
        assert functions[name]["Properties"]["Policies"] == [{"Ref": "ChatAccessPolicy"}], name
    statements = TEMPLATE.resources["ChatAccessPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert [statement["Sid"] for statement in statements] == [
        "CheckSessions",
        "ChatTables",
        "IdempotencyRecords",
        "ReadTheKeyringAndTheLLMKey",
    ]


def test_layers_point_at_the_common_package():
    for spec in TEMPLATE.of_type("AWS::Serverless::LayerVersion").values():
        content = ROOT / spec["Properties"]["ContentUri"]
        assert (content / "assisti_common" / "__init__.py").is_file()
        assert (content / "requirements.txt").is_file()


def test_no_local_only_route_is_in_the_template():
    paths = [route.path for function in TEMPLATE.functions() for route in function.routes]
    assert paths and not any(path.startswith("/_local") for path in paths)


def test_secrets_are_parameters_never_literals():
    text = (ROOT / "template.yaml").read_text()
    assert "KeysSecretName" in text
    for literal in ("signing_keys", "hash_key", "BEGIN PRIVATE KEY"):
        assert literal not in text


# ---- Deployable units: logs, alarms, retention, stages, images ------------------------------------------

FUNCTIONS = TEMPLATE.of_type("AWS::Serverless::Function")
ZIP_FUNCTIONS = {name: spec for name, spec in FUNCTIONS.items() if spec["Properties"].get("PackageType") != "Image"}
IMAGE_FUNCTIONS = {name: spec for name, spec in FUNCTIONS.items() if name not in ZIP_FUNCTIONS}
DOCKERFILES = sorted({ROOT / spec["Metadata"]["Dockerfile"] for spec in IMAGE_FUNCTIONS.values()})


def _samconfig() -> dict[str, Any]:
    with (ROOT / "samconfig.toml").open("rb") as handle:
        return tomllib.load(handle)


def _overrides(environment: str) -> dict[str, str]:
    text = _samconfig()[environment]["deploy"]["parameters"]["parameter_overrides"]
    return dict(item.split("=", 1) for item in shlex.split(text))


def _alarms() -> list[dict[str, Any]]:
    return [spec["Properties"] for spec in TEMPLATE.of_type("AWS::CloudWatch::Alarm").values()]


def _notifies_the_topic(alarm: dict[str, Any]) -> bool:
    return {"Ref": "AlarmTopic"} in alarm.get("AlarmActions", [])


@pytest.mark.parametrize("stage, days", [("dev", 14), ("prod", 90)])
def test_every_function_logs_to_its_own_group_with_a_retention(stage, days):
    template = LocalTemplate(load_template(), stage=stage)
    groups = {
        template.resolve(spec["Properties"]["LogGroupName"]): template.resolve(spec["Properties"]["RetentionInDays"])
        for spec in template.of_type("AWS::Logs::LogGroup").values()
    }
    for name, spec in FUNCTIONS.items():
        function_name = template.resolve(spec["Properties"]["FunctionName"])
        assert groups.get(f"/aws/lambda/{function_name}") == days, name


def test_the_http_api_writes_json_access_logs_to_a_retained_group():
    settings = TEMPLATE.resources["AssistiApi"]["Properties"]["AccessLogSettings"]
    group = settings["DestinationArn"]["Fn::GetAtt"][0]
    assert TEMPLATE.resources[group]["Properties"]["RetentionInDays"]
    fields = json.loads(settings["Format"])
    for field in ("requestId", "ip", "routeKey", "status", "responseLength", "integrationError", "latency"):
        assert field in fields, field


def test_an_image_item_is_failed_as_stuck_only_once_no_message_of_its_can_be_left():
    """An item `processing` past ASSISTI_PROCESSING_DEADLINE_SECONDS is failed when read. A message may
    come after the item's last claim for as long as its upload link lives (the POST can be used again),
    may wait in a backlog (the workers' concurrency is capped) for as long as the queue keeps messages,
    and the last one received may run for one more VisibilityTimeout: the deadline must be past all
    three."""
    from assisti_common.image_jobs.settings import MAX_UPLOAD_URL_SECONDS, MIN_PROCESSING_DEADLINE_SECONDS

    deadline = int(TEMPLATE.shared_environment()["ASSISTI_PROCESSING_DEADLINE_SECONDS"])
    assert deadline >= MIN_PROCESSING_DEADLINE_SECONDS
    queues = [spec["Properties"] for spec in TEMPLATE.of_type("AWS::SQS::Queue").values()]
    worker_queues = [queue for queue in queues if "RedrivePolicy" in queue]
    assert worker_queues
    for queue in worker_queues:
        latest = MAX_UPLOAD_URL_SECONDS + queue["MessageRetentionPeriod"] + queue["VisibilityTimeout"]
        assert latest <= MIN_PROCESSING_DEADLINE_SECONDS, queue


def test_every_dead_letter_queue_has_an_alarm():
    dead_letter_queues = {
        spec["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for spec in TEMPLATE.of_type("AWS::SQS::Queue").values()
        if "RedrivePolicy" in spec["Properties"]
    }
    assert dead_letter_queues
    for queue in dead_letter_queues:
        assert any(
            alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
            and alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
            and alarm["Threshold"] == 0
            and alarm["ComparisonOperator"] == "GreaterThanThreshold"
            and _notifies_the_topic(alarm)
            for alarm in _alarms()
        ), queue


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_an_alarm_on(metric):
    for name in FUNCTIONS:
        assert any(
            alarm["Namespace"] == "AWS/Lambda"
            and alarm["MetricName"] == metric
            and alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": name}}]
            and _notifies_the_topic(alarm)
            for alarm in _alarms()
        ), name


def test_http_api_5xx_alarm_and_the_alarm_email_is_optional():
    assert any(
        alarm["Namespace"] == "AWS/ApiGateway"
        and alarm["MetricName"] == "5xx"
        and {"Name": "ApiId", "Value": {"Ref": "AssistiApi"}} in alarm["Dimensions"]
        and _notifies_the_topic(alarm)
        for alarm in _alarms()
    )
    assert "AlarmTopicArn" in TEMPLATE.document["Outputs"]
    assert not TEMPLATE.of_type("AWS::SNS::Subscription")  # AlarmEmail empty: no subscription
    with_email = LocalTemplate(load_template(), parameter_overrides={"AlarmEmail": "oncall@example.com"})
    assert with_email.of_type("AWS::SNS::Subscription")


def test_data_is_retained_when_the_stack_goes():
    ephemeral = {"AuthCodesTable", "IdempotencyTable"}  # 10-minute codes, 24-hour replays; the template says why
    for name, spec in TEMPLATE.of_type("AWS::DynamoDB::Table", "AWS::S3::Bucket").items():
        expected = "Delete" if name in ephemeral else "Retain"
        assert spec.get("DeletionPolicy") == expected, name
        assert spec.get("UpdateReplacePolicy") == expected, name


def test_the_bucket_name_is_unique_per_account_and_region_and_the_queue_policy_names_it():
    bucket = TEMPLATE.bucket_name("UploadsBucket")
    assert bucket == f"assisti-uploads-{TEMPLATE.stage}-123456789012-us-east-1"
    policy = TEMPLATE.resolve(TEMPLATE.resources["UploadsQueuePolicy"]["Properties"]["PolicyDocument"])
    assert policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] == f"arn:aws:s3:::{bucket}"


def test_sender_email_has_no_default_and_its_identity_is_created_only_on_request():
    sender = TEMPLATE.document["Parameters"]["SenderEmail"]
    assert "Default" not in sender
    assert TEMPLATE.parameters["SenderEmail"] == "no-reply@assisti.local"  # the local stack names its own
    assert not TEMPLATE.of_type("AWS::SES::EmailIdentity")
    asked = LocalTemplate(load_template(), parameter_overrides={"CreateSenderIdentity": "true"})
    assert list(asked.of_type("AWS::SES::EmailIdentity")) == ["SenderIdentity"]
    for environment in ("default", "dev", "prod"):
        assert _overrides(environment)["SenderEmail"], environment


def test_prod_and_dev_never_share_a_secret():
    names = {}
    for environment in ("default", "dev", "prod"):
        overrides = _overrides(environment)
        stage = overrides["Stage"]
        for parameter in ("KeysSecretName", "OpenAIKeySecretName"):
            assert f"/{stage}/" in overrides.get(parameter, f"/{stage}/"), (environment, parameter)
        names[stage] = {overrides.get("KeysSecretName"), overrides.get("OpenAIKeySecretName")} - {None}
    assert not names["dev"] & names["prod"]
    # Left empty, the names follow the stage.
    for parameter in ("KeysSecretName", "OpenAIKeySecretName"):
        assert TEMPLATE.document["Parameters"][parameter]["Default"] == ""
    dev, prod = (LocalTemplate(load_template(), stage=stage).shared_environment() for stage in ("dev", "prod"))
    for variable in ("ASSISTI_KEYS_SECRET_ID", "OPENAI_API_KEY_SECRET_ID"):
        assert "/dev/" in dev[variable] and "/prod/" in prod[variable], variable


def test_every_environment_deploys_images_and_validates_with_lint():
    config = _samconfig()
    for environment in ("default", "dev", "prod"):
        deploy = config[environment]["deploy"]["parameters"]
        assert deploy["resolve_image_repos"] is True, environment
        assert deploy["resolve_s3"] is True, environment
    assert config["default"]["validate"]["parameters"]["lint"] is True


def test_zip_units_build_with_their_makefiles_on_python_3_12():
    for name, spec in ZIP_FUNCTIONS.items():
        assert spec.get("Metadata", {}).get("BuildMethod") == "makefile", name
        assert spec["Properties"]["Runtime"] == "python3.12", name
    for name, spec in TEMPLATE.of_type("AWS::Serverless::LayerVersion").items():
        assert spec.get("Metadata", {}).get("BuildMethod") == "makefile", name
        assert spec["Properties"]["CompatibleRuntimes"] == ["python3.12"], name


def _statements(spec: dict[str, Any]) -> list[dict[str, Any]]:
    policies = TEMPLATE.resolve(spec["Properties"]["Policies"])
    return [statement for policy in policies for statement in policy["Statement"]]


def test_workers_can_list_their_prefixes_so_a_missing_object_is_a_404():
    bucket_arn = f"arn:aws:s3:::{TEMPLATE.bucket_name('UploadsBucket')}"
    for name, spec in IMAGE_FUNCTIONS.items():
        statements = _statements(spec)
        readable = [
            resource.removeprefix(f"{bucket_arn}/")
            for statement in statements
            if statement["Action"] == "s3:GetObject"
            for resource in (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
        ]
        listing = [statement for statement in statements if statement["Action"] == "s3:ListBucket"]
        assert listing and readable, name
        assert listing[0]["Resource"] == bucket_arn, name
        prefixes = next(iter(listing[0]["Condition"].values()))["s3:prefix"]
        assert sorted(prefixes) == sorted(readable), name


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]


def test_uploads_are_versioned_and_nothing_expires_or_hides_a_done_items_image():
    """A done item names the version of its upload the label was read from (image_jobs/storage.py). A
    lifecycle rule that expired uploads, current or not, would take that image; a delete without a
    version would only hide the key behind a delete marker and keep every version. So: versioned, no
    expiring rule, and every function deletes by version only."""
    bucket = TEMPLATE.resources["UploadsBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    for rule in bucket["LifecycleConfiguration"]["Rules"]:
        expiring = {"ExpirationInDays", "ExpirationDate", "NoncurrentVersionExpiration", "Transitions"}
        assert not expiring & set(rule), rule["Id"]
    for name, spec in FUNCTIONS.items():
        documents = TEMPLATE.resolve(spec["Properties"].get("Policies", []))
        statements = [
            statement for document in documents if isinstance(document, dict) for statement in document["Statement"]
        ]
        actions = [action for statement in statements for action in _actions(statement)]
        assert "s3:DeleteObject" not in actions and "s3:*" not in actions, name
        if name in {"AuthFunction", "OcrApiFunction", "VisionApiFunction"}:  # they delete items
            assert {"s3:ListBucketVersions", "s3:DeleteObjectVersion"} <= set(actions), name
        if name in {"OcrApiFunction", "VisionApiFunction"}:  # their links name a version
            assert "s3:GetObjectVersion" in actions, name


def test_a_daily_sweep_lists_and_deletes_what_no_item_wants_under_the_prefixes_it_sweeps():
    """The backstop for the versions every delivery missed (image_jobs/sweep.py), in place of a rule."""
    from assisti_common.image_jobs import sweep

    spec = FUNCTIONS["UploadsSweepFunction"]
    schedules = [event["Properties"]["ScheduleExpression"] for event in spec["Properties"]["Events"].values()]
    assert schedules == ["rate(1 day)"]
    statements = _statements(spec)
    (listing,) = [statement for statement in statements if statement["Action"] == "s3:ListBucketVersions"]
    assert listing["Condition"]["StringLike"]["s3:prefix"] == list(sweep.PREFIXES)
    (deleting,) = [statement for statement in statements if statement["Action"] == "s3:DeleteObjectVersion"]
    bucket_arn = f"arn:aws:s3:::{TEMPLATE.bucket_name('UploadsBucket')}"
    assert deleting["Resource"] == [f"{bucket_arn}/{prefix}*" for prefix in sweep.PREFIXES]
    # What its calls need of the items table (moto does not check IAM: a missing action fails only in AWS).
    dynamodb = {action for statement in statements for action in _actions(statement) if action.startswith("dynamodb:")}
    assert dynamodb == {"dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:UpdateItem"}


# ---- The worker images -----------------------------------------------------------------------------------


def _dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    """Docker's .dockerignore matching (Go filepath.Match plus `**`), enough for this file's patterns."""
    regex, index = "", 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            regex, index = regex + "(?:.*/)?", index + 3
        elif pattern.startswith("**", index):
            regex, index = regex + ".*", index + 2
        else:
            char = pattern[index]
            regex += {"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char))
            index += 1
    return re.compile(f"^{regex}$")


def _ignored(path: str) -> bool:
    """Whether the build context leaves out this repository-relative path (or a folder above it)."""
    patterns = [_ignore_regex(pattern.strip("/")) for pattern in _dockerignore()]
    parts = path.split("/")
    prefixes = ["/".join(parts[: count + 1]) for count in range(len(parts))]
    return any(pattern.match(prefix) for pattern in patterns for prefix in prefixes)


def _copied_sources(dockerfile: Path) -> list[str]:
    text = dockerfile.read_text().replace("\\\n", " ")
    sources = []
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(word.startswith("--from") for word in words):
            sources += [word.rstrip("/") for word in words[1:-1] if not word.startswith("--")]
    return sources


def test_the_docker_context_leaves_out_environments_and_history():
    for path in (".venv", ".models", ".git", ".aws-sam", "tests", "bench", "local", "functions/x/__pycache__/a.pyc"):
        assert _ignored(path), path


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.parent.name)
def test_every_file_a_dockerfile_copies_is_in_the_context(dockerfile):
    sources = _copied_sources(dockerfile)
    assert sources
    for source in sources:
        path = ROOT / source
        assert path.exists(), source
        files = [path] if path.is_file() else [file for file in path.rglob("*") if file.is_file()]
        shipped = [file for file in files if "__pycache__" not in file.parts]
        assert shipped, source
        for file in shipped:
            assert not _ignored(file.relative_to(ROOT).as_posix()), file


@pytest.mark.parametrize("name", sorted(IMAGE_FUNCTIONS))
def test_the_image_runs_the_templates_handler_without_torch(name):
    spec = IMAGE_FUNCTIONS[name]
    text = (ROOT / spec["Metadata"]["Dockerfile"]).read_text()
    runtime = text.rsplit("\nFROM ", 1)[1]  # the last stage is the Lambda image
    command = re.search(r"^CMD (\[.*\])$", runtime, re.MULTILINE)
    assert command and json.loads(command.group(1)) == spec["Properties"]["ImageConfig"]["Command"]
    assert "find_spec('torch')" in runtime
    assert "torch==" not in runtime


def test_every_http_function_starts_from_a_snapstart_snapshot():
    for function in TEMPLATE.functions():
        if function.routes:
            properties = TEMPLATE.resources[function.logical_id]["Properties"]
            assert properties["SnapStart"] == {"ApplyOn": "PublishedVersions"}, function.logical_id
            assert properties["AutoPublishAlias"], function.logical_id  # SnapStart applies to versions


def test_every_public_auth_route_has_its_own_throttle_below_the_stage_default():
    api = TEMPLATE.of_type("AWS::Serverless::HttpApi")["AssistiApi"]["Properties"]
    default = api["DefaultRouteSettings"]
    throttled = api["RouteSettings"]
    public = [
        route.route_key
        for function in TEMPLATE.functions()
        for route in function.routes
        if route.method == "POST" and route.path.startswith("/auth/") and route.path != "/auth/sign-out"
    ]
    assert public and set(public) == set(throttled)
    for settings in throttled.values():
        assert settings["ThrottlingRateLimit"] < default["ThrottlingRateLimit"]
        assert settings["ThrottlingBurstLimit"] < default["ThrottlingBurstLimit"]


def test_the_vision_worker_reads_every_upload_of_a_batch_ahead():
    """The vision worker's read-ahead covers the batch its queue hands it (a batch's round trips overlap)."""
    from assisti_vision_worker import handler

    function = next(f for f in TEMPLATE.functions() if f.logical_id == "VisionWorkerFunction")
    assert handler.BATCH_SIZE == function.queues[0].batch_size == handler.worker.lookahead + 1
