"""`make deploy-check`: as much of the real deploy as runs without AWS credentials or a Docker engine.

1. `sam build` of the common layer and every zip function, as the template declares them, with the
   makefile builds that install wheels for the Lambda runtime (CPython 3.12, manylinux x86_64). The
   container-image workers are left out of this template: building them needs a Docker engine.
2. Each zip function's unzipped size, function plus layers. Lambda refuses more than 250 MB; the
   design's budget for an API function is 60 MB. Either failing fails the check.
3. Each built zip function loaded under Python 3.12 with only what Lambda would give it on sys.path
   (its build folder, the layer's python/, and boto3 as the runtime provides it), answering real
   events against moto: sign-up, confirm and sign-in through the auth zip, then the chat, OCR and
   vision routes with that user's token, an SQS event through each dead-letter function, and a
   scheduled event through each scheduled one (the uploads sweep).
4. Each worker image's runtime stage, as far as it runs without Docker: the requirements its Dockerfile
   installs (read from the Dockerfile, so the check cannot drift from it) installed for cp312 manylinux
   into a folder, and the worker's handler run under Python 3.12 with that folder, torch not importable,
   on a real SQS event of a real upload, against moto.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from local.template import LocalTemplate
from tools.deploy import build, sam

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".aws-sam" / "deploy-check"
LAMBDA_LIMIT_MB = 250  # unzipped, function and layers together: AWS refuses more
API_BUDGET_MB = 60  # DESIGN.md's budget for an API function with its layers
PASSWORD = "deploy check password"  # noqa: S105 - a throwaway account in a throwaway moto
MB = 1024 * 1024


def say(message: str) -> None:
    print(f"[deploy-check] {message}", flush=True)


# --- Python 3.12, the Lambda runtime ---------------------------------------------------------------


def python312() -> Path:
    """The Python 3.12 interpreter: on the PATH, or a pyenv version that is installed but not selected."""
    candidates: list[Path] = []
    found = shutil.which("python3.12")
    if found:
        candidates.append(Path(found))
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates += sorted(Path(pyenv_root).glob("versions/3.12*/bin/python3.12"), reverse=True)
    for candidate in candidates:
        done = subprocess.run([str(candidate), "-c", "import sys; print(sys.version_info[:2])"], capture_output=True)
        if done.returncode == 0 and done.stdout.strip() == b"(3, 12)":
            return candidate
    raise SystemExit(
        "deploy-check needs Python 3.12, the Lambda runtime, and found none: install it "
        "(e.g. `pyenv install 3.12`) so that `python3.12` runs, then run `make deploy-check` again."
    )


# --- 1. sam build of the zip units -----------------------------------------------------------------


def _references(value: Any) -> set[str]:
    """Every logical id a template fragment names with Ref, Fn::GetAtt or ${...} in Fn::Sub."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(str(item[0] if isinstance(item, list) else str(item).split(".")[0]))
            elif key == "Fn::Sub":
                text = item if isinstance(item, str) else item[0]
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
                if not isinstance(item, str):
                    found |= _references(item[1])
            else:
                found |= _references(item)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


def zip_template(document: dict[str, Any], out: Path) -> Path:
    """The template without its container-image functions (and what refers only to them), with code
    paths made absolute so that it can be built from another folder."""
    resources: dict[str, Any] = dict(document["Resources"])
    removed = {name for name, spec in resources.items() if spec.get("Properties", {}).get("PackageType") == "Image"}
    while True:  # drop whatever names a removed resource (alarms, log groups of the images, ...)
        dependants = {name for name, spec in resources.items() if name not in removed and _references(spec) & removed}
        if not dependants:
            break
        removed |= dependants
    kept = {name: spec for name, spec in resources.items() if name not in removed}
    for spec in kept.values():
        properties = spec.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = str((ROOT / properties[key]).resolve()) + os.sep
    outputs = {name: spec for name, spec in document.get("Outputs", {}).items() if not _references(spec) & removed}
    path = out / "template.yaml"
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({**document, "Resources": kept, "Outputs": outputs}, sort_keys=False))
    return path


def sam_build(template: Path, build_dir: Path, python_dir: Path) -> None:
    say("sam build of the layer and the zip functions (wheels for CPython 3.12, manylinux x86_64) ...")
    started = time.monotonic()
    code = sam.run("build", "--template-file", str(template), "--build-dir", str(build_dir), extra_path=python_dir)
    if code != 0:
        raise SystemExit(f"sam build failed (exit {code})")
    say(f"sam build done in {time.monotonic() - started:.0f} s")


# --- 2. sizes --------------------------------------------------------------------------------------


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


@dataclass(frozen=True)
class ZipFunction:
    logical_id: str
    handler: str
    layers: list[str]
    is_api: bool
    web_adapter: bool = False  # run by the Lambda Web Adapter: Handler is its script, the app is ASGI
    scheduled: bool = False  # run by a schedule (EventBridge Scheduler), not by a queue

    def folder(self, build_dir: Path) -> Path:
        return build_dir / self.logical_id


def zip_functions(document: dict[str, Any]) -> list[ZipFunction]:
    functions = []
    for logical_id, spec in document["Resources"].items():
        properties = spec.get("Properties", {})
        if spec["Type"] != "AWS::Serverless::Function" or properties.get("PackageType") == "Image":
            continue
        layers = [layer["Ref"] for layer in properties.get("Layers", []) if isinstance(layer, dict) and "Ref" in layer]
        web_adapter = "FunctionUrlConfig" in properties
        events = [event.get("Type") for event in properties.get("Events", {}).values()]
        is_api = web_adapter or "HttpApi" in events
        scheduled = "ScheduleV2" in events
        functions.append(ZipFunction(logical_id, properties["Handler"], layers, is_api, web_adapter, scheduled))
    return functions


def check_sizes(functions: list[ZipFunction], build_dir: Path) -> None:
    failures = []
    say("unzipped sizes, function + layers (Lambda's limit 250 MB; an API function's budget 60 MB):")
    for function in functions:
        own = folder_bytes(function.folder(build_dir))
        layers = sum(folder_bytes(build_dir / layer) for layer in function.layers)
        total = (own + layers) / MB
        limit = API_BUDGET_MB if function.is_api else LAMBDA_LIMIT_MB
        verdict = "ok" if total <= limit else "TOO LARGE"
        sizes = f"{own / MB:6.1f} MB + layers {layers / MB:5.1f} MB = {total:6.1f} MB"
        say(f"  {function.logical_id:<26} {sizes}  {verdict}")
        if total > limit:
            failures.append(f"{function.logical_id} is {total:.1f} MB unzipped, over {limit} MB")
    if failures:
        raise SystemExit("; ".join(failures))


# --- 3 and 4. handlers under Python 3.12 ------------------------------------------------------------

# Runs inside the 3.12 'container': Lambda's sys.path and nothing else, then one event per stdin line.
PROBE = r"""
import importlib, importlib.util, json, sys, time, uuid
paths, handler_name, blocked = json.loads(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
sys.path[:0] = paths
for name in blocked:
    assert importlib.util.find_spec(name) is None, f"{name} is importable, and must not be"
answers, sys.stdout = sys.stdout, sys.stderr  # the function's logs go to stderr, answers to stdout
module, _, function = handler_name.rpartition(".")
handler = getattr(importlib.import_module(module), function)

class Context:
    function_name = "deploy-check"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:deploy-check"
    log_group_name = log_stream_name = "deploy-check"
    def __init__(self):
        self.aws_request_id, self.started = str(uuid.uuid4()), time.monotonic()
    def get_remaining_time_in_millis(self):
        return int((30 - (time.monotonic() - self.started)) * 1000)

answers.write(json.dumps({"ready": sys.version.split()[0]}) + "\n"); answers.flush()
for line in sys.stdin:
    answers.write(json.dumps(handler(json.loads(line), Context())) + "\n"); answers.flush()
"""


class Container:
    """One function under Python 3.12, `-I -S`: no site-packages but the folders Lambda would give it."""

    def __init__(self, python: Path, paths: list[Path], handler: str, env: dict[str, str]) -> None:
        blocked = ["torch", "torchvision"]
        command = [
            str(python),
            "-I",
            "-S",
            "-c",
            PROBE,
            json.dumps([str(p) for p in paths]),
            handler,
            json.dumps(blocked),
        ]
        self.handler = handler
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        self.version = self._answer()["ready"]

    def _answer(self) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(10)
            stderr = self.process.stderr.read() if self.process.stderr else ""
            raise SystemExit(f"{self.handler} died under Python 3.12:\n{stderr[-6000:]}")
        return json.loads(line)

    def __call__(self, event: dict[str, Any]) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(event) + "\n")
        self.process.stdin.flush()
        return self._answer()

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(10)


@contextmanager
def container(python: Path, paths: list[Path], handler: str, env: dict[str, str]) -> Iterator[Container]:
    running = Container(python, paths, handler, env)
    try:
        yield running
    finally:
        running.close()


def expect(response: dict[str, Any], status: int, what: str) -> Any:
    if response.get("statusCode") != status:
        raise SystemExit(f"{what}: expected {status}, got {response.get('statusCode')}: {response.get('body')}")
    body = response.get("body") or ""
    return json.loads(body) if body else None


def runtime_folder(out: Path) -> Path:
    """What the Lambda runtime puts on sys.path after the function and its layers: boto3 and botocore
    (the versions pinned in the layer's requirements stand in for the runtime's own)."""
    pins = build.resolve(build.LAYER_REQUIREMENTS)
    provided = {name: version for name, version in pins.items() if name in build.RUNTIME_PROVIDED}
    provided |= build.RUNTIME_EXTRAS
    stamp = out / f".done-{'-'.join(sorted(provided))}"
    if not stamp.is_file():
        shutil.rmtree(out, ignore_errors=True)
        build.install(provided, out)
        stamp.touch()
    return out


def check_zip_functions(
    python: Path, functions: list[ZipFunction], build_dir: Path, runtime: Path, env_of: dict[str, dict[str, str]]
) -> None:
    by_id = {function.logical_id: function for function in functions}

    def lambda_path(logical_id: str) -> list[Path]:
        function = by_id[logical_id]
        return [function.folder(build_dir), *(build_dir / layer / "python" for layer in function.layers), runtime]

    from local.harness import http_event, signed_in_user
    from local.pump import sqs_event

    checked = []
    with container(python, lambda_path("AuthFunction"), by_id["AuthFunction"].handler, env_of["AuthFunction"]) as auth:
        tokens = signed_in_user(auth, "deploy-check@example.com", PASSWORD)
        bearer = {"authorization": f"Bearer {tokens['access_token']}"}
        for path in ("/me", "/me/sessions", "/me/security-events"):
            expect(auth(http_event("GET", path, headers=bearer)), 200, f"auth GET {path}")
        checked.append(
            f"AuthFunction (Python {auth.version}): sign-up, confirm, sign-in, GET /me, /me/sessions, "
            "/me/security-events"
        )

    probes: dict[str, list[tuple[str, str, Any, int]]] = {
        # The POST twice, with one Idempotency-Key: the repeat is Powertools' idempotency replaying it.
        "ChatFunction": [
            ("POST", "/categories", {"name": "Check"}, 201),
            ("POST", "/categories", {"name": "Check"}, 201),
            ("GET", "/categories", None, 200),
        ],
        "OcrApiFunction": [("POST", "/ocr", {"title": "Check"}, 201), ("GET", "/ocr", None, 200)],
        "VisionApiFunction": [
            ("POST", "/vision/animals", {"title": "Check"}, 201),
            ("GET", "/vision/road-signs", None, 200),
        ],
    }
    for logical_id, calls in probes.items():
        with container(python, lambda_path(logical_id), by_id[logical_id].handler, env_of[logical_id]) as running:
            keyed = {**bearer, "idempotency-key": f"deploy-check-{logical_id}"}
            answers: dict[tuple[str, str], Any] = {}
            for method, path, body, status in calls:
                answer = running(http_event(method, path, body, headers=keyed))
                expect(answer, status, f"{logical_id} {method} {path}")
                first = answers.setdefault((method, path), answer)
                if method == "POST" and first["body"] != answer["body"]:
                    raise SystemExit(f"{logical_id}: a repeated {method} {path} was not replayed")
            expect(running(http_event("GET", calls[-1][1])), 401, f"{logical_id} without a token")
            checked.append(f"{logical_id}: " + ", ".join(f"{m} {p}" for m, p, _, _ in calls) + ", 401 without a token")

    message = {"MessageId": "deploy-check", "ReceiptHandle": "r", "Body": json.dumps({"Event": "s3:TestEvent"})}
    for function in functions:
        if function.web_adapter:
            checked.append(check_web_adapter(python, function, lambda_path(function.logical_id), env_of, bearer))
        if function.is_api or function.logical_id == "AuthFunction":
            continue
        with container(python, lambda_path(function.logical_id), function.handler, env_of[function.logical_id]) as run:
            if function.scheduled:
                answer = run({"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": {}})
                if not isinstance(answer, dict) or answer.get("undeleted") != 0:
                    raise SystemExit(f"{function.logical_id} answered {answer}")
                checked.append(f"{function.logical_id}: a scheduled event, {answer}")
                continue
            answer = run(sqs_event([message], "arn:aws:sqs:us-east-1:123456789012:deploy-check"))
            if answer != {"batchItemFailures": []}:
                raise SystemExit(f"{function.logical_id} answered {answer}")
            checked.append(f"{function.logical_id}: an SQS event, no batch failures")
    for line in checked:
        say(f"  ok  {line}")


# Serves the app as run.sh does (uvicorn on AWS_LWA_PORT), under 3.12 with only Lambda's folders on sys.path.
SERVE = r"""
import json, os, sys
sys.path[:0] = json.loads(sys.argv[1])
import uvicorn
uvicorn.run(os.environ["ASSISTI_ASGI_APP"], host="127.0.0.1", port=int(os.environ["AWS_LWA_PORT"]), log_level="warning")
"""


def check_web_adapter(
    python: Path, function: ZipFunction, paths: list[Path], env_of: dict[str, dict[str, str]], bearer: dict[str, str]
) -> str:
    """What the Lambda Web Adapter will run: the build's run.sh, and the app it serves answering over HTTP,
    a command streamed as Server-Sent Events (`message`, then `done`)."""
    import httpx

    from local.stack import free_port
    from local.web_adapter import wait_until_answering

    script = paths[0] / function.handler
    if not (script.is_file() and os.access(script, os.X_OK)):
        raise SystemExit(f"{function.logical_id}: {function.handler} is missing from the build or not executable")
    env = {**env_of[function.logical_id], "AWS_LWA_PORT": str(free_port())}
    command = [str(python), "-I", "-S", "-c", SERVE, json.dumps([str(path) for path in paths])]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{env['AWS_LWA_PORT']}"
    try:
        try:
            wait_until_answering(base, server, f"{function.logical_id} under Python 3.12", seconds=30)
        except (RuntimeError, TimeoutError) as exc:
            server.terminate()
            raise SystemExit(f"{exc}:\n{server.communicate(timeout=10)[0]}") from exc
        category = httpx.post(f"{base}/categories", json={"name": "Stream check"}, headers=bearer, timeout=30)
        if category.status_code != 201:
            raise SystemExit(f"{function.logical_id} POST /categories: {category.status_code} {category.text}")
        streamed = httpx.post(
            f"{base}/categories/{category.json()['id']}/messages",
            json={"message": "/help"},
            headers={**bearer, "accept": "text/event-stream"},
            timeout=30,
        )
        names = [line.removeprefix("event: ") for line in streamed.text.splitlines() if line.startswith("event: ")]
        if streamed.status_code != 201 or names != ["message", "done"]:
            raise SystemExit(f"{function.logical_id} streamed {streamed.status_code} {names}: {streamed.text[:500]}")
    finally:
        server.terminate()
        server.wait(10)
    return f"{function.logical_id} (run.sh, uvicorn): POST /categories, a streamed command (message, done)"


# --- 4. the workers' runtime stage -----------------------------------------------------------------


def runtime_stage_installs(dockerfile: Path) -> list[list[Path]]:
    """The `pip install -r ...` steps of the Dockerfile's last stage: for each, its -r files mapped back,
    through the stage's COPY lines, to the repository files they are."""
    text = dockerfile.read_text().replace("\\\n", " ")
    stage = text[text.rindex("\nFROM ") :]
    copied: dict[str, Path] = {}
    for line in stage.splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(word.startswith("--") for word in words):
            *sources, destination = words[1:]
            for source in sources:
                copied[
                    destination.rstrip("/") + "/" + Path(source).name if destination.endswith("/") else destination
                ] = ROOT / source
    installs = []
    for line in stage.splitlines():
        if line.startswith("RUN "):
            for command in line[4:].split("&&"):
                words = shlex.split(command)
                if words[:2] == ["pip", "install"]:
                    if "--no-deps" in words:
                        raise SystemExit(f"{dockerfile}: `pip install --no-deps` is not something this check repeats")
                    installs.append([copied[words[index + 1]] for index, word in enumerate(words) if word == "-r"])
    if not installs:
        raise SystemExit(f"{dockerfile}: no `pip install -r` in the runtime stage")
    return installs


def worker_site(name: str, dockerfile: Path, out: Path) -> Path:
    """The worker image's site-packages, installed as its Dockerfile's runtime stage does, for cp312."""
    site = out / name
    installs = runtime_stage_installs(dockerfile)
    fingerprint = "".join(path.read_text() for step in installs for path in step)
    stamp = site / f".done-{hashlib.sha256(fingerprint.encode()).hexdigest()[:16]}"
    if stamp.is_file():
        return site
    shutil.rmtree(site, ignore_errors=True)
    for requirements in installs:
        build.install(build.resolve(*requirements), site)
    stamp.touch()
    return site


def check_workers(python: Path, template: LocalTemplate, env_of: dict[str, dict[str, str]], endpoint: str) -> None:
    import boto3
    from PIL import Image

    from assisti_common.db import image_items
    from assisti_common.db.models import UserModel
    from local.pump import sqs_event
    from local.stack import LOCAL_MODEL_DIRS
    from tests.images import encode, text_image

    user_id = next(iter(UserModel.scan())).id  # the user the auth zip signed up
    s3 = boto3.client("s3", endpoint_url=endpoint)
    sqs = boto3.client("sqs", endpoint_url=endpoint)
    handlers = {function.logical_id: function.handler for function in template.functions()}
    bucket = template.bucket_name("UploadsBucket")

    def upload_and_receive(kind: str, image: Image.Image, queue_logical_id: str) -> tuple[Any, dict[str, Any]]:
        item = image_items.create_item(user_id, kind, f"deploy-check {kind}")
        s3.put_object(Bucket=bucket, Key=f"uploads/{kind}/{user_id}/{item.item_id}", Body=encode(image))
        queue_url = sqs.get_queue_url(QueueName=template.physical_name(queue_logical_id))["QueueUrl"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # skip S3's test event and anything else not about this item
            received = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2, AttributeNames=["All"])
            for message in received.get("Messages", []):
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                if item.item_id in message["Body"]:
                    arn = f"arn:aws:sqs:us-east-1:123456789012:{template.physical_name(queue_logical_id)}"
                    return item, sqs_event([message], arn)
        raise SystemExit(f"no S3 event reached {queue_logical_id} for the {kind} upload")

    from skimage import data as photos

    cat = Image.fromarray(photos.chelsea())  # type: ignore[no-untyped-call]
    workers = [
        WorkerCheck(
            "OcrWorkerFunction",
            "ocr",
            "OcrQueue",
            [("ocr", text_image(["DEPLOY CHECK"]), lambda item: "DEPLOY CHECK" in (item.label or ""))],
        ),
        WorkerCheck(
            "VisionWorkerFunction",
            "vision",
            "VisionQueue",
            [
                ("animals", cat, lambda item: (item.result or {}).get("group") == "cat"),
                ("road_signs", Image.new("RGB", (64, 64), "white"), lambda item: bool(item.label)),
            ],
        ),
    ]
    for check in workers:
        started = time.monotonic()
        site = worker_site(check.name, ROOT / "functions" / check.name / "Dockerfile", WORK / "worker-sites")
        took = time.monotonic() - started
        size = folder_bytes(site) / MB
        say(f"  {check.name} worker: its image's requirements for cp312 in {took:.0f} s, {size:.0f} MB")
        env = {**env_of[check.logical_id], **LOCAL_MODEL_DIRS}
        paths = [ROOT / "functions" / check.name / "worker", ROOT / "layers" / "common", site]
        with container(python, paths, handlers[check.logical_id], env) as worker:
            for kind, image, accepted in check.uploads:
                item, event = upload_and_receive(kind, image, check.queue)
                answer = worker(event)
                item.refresh(consistent_read=True)
                if answer != {"batchItemFailures": []} or item.status != "done" or not accepted(item):
                    problem = f"{answer}, item {item.status} {item.label!r} {item.error_code}"
                    raise SystemExit(f"{check.logical_id} on {kind}: {problem}")
                outcome = f"{kind} upload -> done, {item.label!r}"
                say(f"  ok  {check.logical_id} (Python {worker.version}, no torch): {outcome}")


@dataclass(frozen=True)
class WorkerCheck:
    logical_id: str
    name: str  # functions/<name>/Dockerfile and functions/<name>/worker
    queue: str
    uploads: list[tuple[str, Any, Callable[[Any], bool]]]  # kind, image, what the finished item must show


# --- the whole check -------------------------------------------------------------------------------


def main() -> int:
    started = time.monotonic()
    python = python312()
    say(f"Python 3.12: {python}")
    from local.template import load_template

    document = load_template()
    template = zip_template(document, WORK)
    build_dir = WORK / "build"
    shutil.rmtree(build_dir, ignore_errors=True)  # sizes are of this build alone
    sam_build(template, build_dir, python.parent)
    functions = zip_functions(document)
    check_sizes(functions, build_dir)

    from local.harness import local_aws
    from local.stack import function_environment

    runtime = runtime_folder(WORK / "runtime")
    with local_aws("deploycheck", {"ASSISTI_ENUMERATION_FLOOR_MS": "0"}) as (local, env):
        endpoint = env["AWS_ENDPOINT_URL"]
        # Each function's template environment pointed at moto, as the local stack gives it.
        env_of = {f.logical_id: {**env, **function_environment(f.environment, endpoint)} for f in local.functions()}
        say("zip functions under Python 3.12, each with only its build, its layers and the runtime's boto3:")
        check_zip_functions(python, functions, build_dir, runtime, env_of)
        say("worker images' runtime stages under Python 3.12 (built without Docker):")
        check_workers(python, local, env_of, endpoint)
    say(f"passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
