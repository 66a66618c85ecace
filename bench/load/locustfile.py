"""Simulated Assisti app users, for Locust. Usually run by `python -m bench.load.run` (`make load`);
from the repository's root it also runs on its own:

    locust -f bench/load/locustfile.py --headless -u 50 -r 5 -t 60s --host http://127.0.0.1:3000

Each user does what the mobile app does: signs up, reads the code from the local mailbox, confirms,
signs in and makes a category; then, with a human's pauses, sends messages, reads the history and its
usage, reads an image's text (OCR: create, presigned upload, long-poll until labelled) and refreshes its
token. Request names template the ids, so the figures group per route.

Counted apart from errors: a deliberate limit (429 with the common error body), marked as a success in
Locust's figures and counted per route. Errors: any other unexpected status, any 5xx, any connection
error or timeout, a chat answer stored `failed`, and an OCR item without its label within
`LABEL_DEADLINE_SECONDS` (the `OCR label` row, timed from the end of the upload to the label).

`LOAD_THINK=1,3` sets a person's pause between two actions (seconds). With `LOAD_OUT=path` the figures
are written there as JSON when Locust quits; with `LOAD_STAGES=10,25,50` (and `LOAD_STAGE_SECONDS=30`)
a step shape runs those user counts one after the other and the figures are per stage.
"""

from __future__ import annotations

import io
import json
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from locust import HttpUser, LoadTestShape, between, events, task
from locust.clients import ResponseContextManager
from locust.env import Environment
from locust.runners import Runner
from PIL import Image, ImageDraw, ImageFont

from bench.load import (
    CHECK,
    CONFIRM,
    CREATE_CATEGORY,
    CREATE_OCR,
    MAILBOX,
    NO_CODE,
    OCR_LABEL,
    READ_HISTORY,
    REFRESH,
    SEND_MESSAGE,
    SIGN_IN,
    SIGN_UP,
    UPLOAD,
    USAGE,
    WAIT_OCR,
)
from local.harness import newest_code

PASSWORD = "load test password 123"  # noqa: S105 - throwaway accounts on a local stack
# API Gateway gives an integration 30 s: anything slower is a 504 in AWS, so an error here too.
REQUEST_TIMEOUT_SECONDS = 30.0
WAIT_SECONDS = 20  # the API's own long-poll ceiling (`?wait=`, MAX_WAIT_SECONDS)
# What an app would tolerate before telling the user their image is stuck: three long-polls.
LABEL_DEADLINE_SECONDS = 60.0
PERCENTILES = (0.5, 0.95, 0.99)
# A person's pause between two actions, in seconds (LOAD_THINK="1,3"; the smoke test shortens it).
THINK_MIN, THINK_MAX = (float(bound) for bound in os.environ.get("LOAD_THINK", "1,3").split(","))

PROMPTS = (
    "What should I cook tonight with rice and beans?",
    "Summarise: the meeting moved to Thursday, bring the budget figures and the new slides.",
    "Give me three ideas for a birthday present for my sister.",
    "How do I say good morning in Spanish?",
    "/help",  # a fast path: answered without the LLM, counted against the quota all the same
    "/usage",
)
# Short labels the OCR engine reads exactly (checked against the local stack): a wrong label is an error.
LABELS = (("Milk and eggs", "Bread 2"), ("Coffee beans",), ("Pay rent", "Water plants"), ("Meeting at noon",))


def text_png(lines: tuple[str, ...], size: int = 40, padding: int = 30) -> bytes:
    """Black text on white, like a photographed label, a few kB: not a 12 MP photo, so the figures
    are the API's and not the model's on huge images."""
    font = ImageFont.load_default(size=size)
    width = max(int(font.getlength(line)) for line in lines) + 2 * padding
    line_height = int(size * 1.6)
    image = Image.new("RGB", (width, line_height * len(lines) + 2 * padding), "white")
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((padding, padding + index * line_height), line, font=font, fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


IMAGES = [(text_png(lines), "\n".join(lines)) for lines in LABELS]

# 429s per route, and per (route, error code); kept out of the error count.
LIMITED: Counter[str] = Counter()
LIMITED_CODES: Counter[str] = Counter()
STAGES: list[dict[str, Any]] = []  # one snapshot per stage (a single one without LOAD_STAGES)


def split(route: str) -> tuple[str, str]:
    method, _, name = route.partition(" ")
    return method, name


def error_code(response: ResponseContextManager) -> str | None:
    """The `code` of the common error body `{"error": {"code", "message", "details"}}`, or None."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and set(error) == {"code", "message", "details"} and isinstance(error["code"], str):
        return error["code"]
    return None


def answered(message: dict[str, Any]) -> str | None:
    """A chat message stored but not answered (`failed`, retryable) leaves the user without an answer."""
    if message.get("status") == "answered":
        return None
    return f"answer {message.get('status')}: {(message.get('error') or {}).get('code')}"


def report(name: str, seconds: float, exception: Exception | None) -> None:
    """An outcome that is not one request (an OCR item's label, a code never mailed) as a row of its own."""
    events.request.fire(  # type: ignore[no-untyped-call]  # Locust's EventHook is untyped
        request_type=CHECK,
        name=name,
        response_time=seconds * 1000,
        response_length=0,
        exception=exception,
        context={},
    )


class AppUser(HttpUser):
    """One person with the app: a fresh account, then a human's pace."""

    wait_time = between(THINK_MIN, THINK_MAX)

    def on_start(self) -> None:
        self.access_token = ""
        self.refresh_token = ""
        self.category_id = ""
        if self.onboard():
            # A new user tries every feature once; after that the weights of the tasks decide.
            for step in (self.send_message, self.read_history, self.read_usage, self.read_an_image, self.refresh):
                self.pause()
                step()

    def pause(self) -> None:
        """A person's pause (wait_time) inside a sequence of steps, as between two tasks."""
        self.wait()  # type: ignore[no-untyped-call]  # Locust's User.wait is untyped

    # --- the calls, each checked against what the app expects -----------------------------------

    def call(
        self,
        route: str,
        expected: int,
        path: str | None = None,
        *,
        bearer: bool = False,
        check: Callable[[dict[str, Any]], str | None] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any] | None:
        """One request reported under `route` (to `path`, by default the route's own path). Returns its
        JSON body (`{}` for none) when it answered `expected` and `check` found nothing wrong with it;
        None otherwise: after a 429 with the common error body (counted apart) or after an error."""
        method, name = split(route)
        headers = {"authorization": f"Bearer {self.access_token}"} if bearer else {}
        with self.client.request(
            method,
            path or name,
            name=name,
            headers=headers,
            timeout=REQUEST_TIMEOUT_SECONDS,
            catch_response=True,
            **kwargs,
        ) as response:
            if response.status_code == expected:
                try:
                    body: dict[str, Any] = response.json() if response.content else {}
                except ValueError:
                    response.failure(f"{expected} without a JSON body")
                    return None
                wrong = check(body) if check is not None else None
                if wrong is not None:
                    response.failure(f"{expected} but {wrong}")
                    return None
                response.success()
                return body
            code = error_code(response)
            if response.status_code == 429 and code is not None:
                response.success()  # a deliberate limit, not a failure: counted apart
                LIMITED[route] += 1
                LIMITED_CODES[f"{route} {code}"] += 1
                return None
            if response.status_code == 0:  # no answer at all: refused, reset or timed out
                response.failure(f"no response: {type(response.error).__name__}")
            else:
                response.failure(f"{response.status_code} {code or 'without the common error body'}")
            return None

    def onboard(self) -> bool:
        """Sign-up, the emailed code, confirmation, sign-in and a first category, as a new user does.
        A fresh address each time: a failed attempt is retried as a new user, not resent (1 code a minute)."""
        self.category_id = ""
        email = f"load-{uuid.uuid4().hex}@example.com"
        if self.call(SIGN_UP, 201, json={"email": email, "password": PASSWORD, "name": "Load"}) is None:
            return False
        self.pause()  # a person switches to their email
        code = self.read_code(email)
        if code is None:
            return False
        confirm = {"email": email, "code": code, "password": PASSWORD}
        if self.call(CONFIRM, 200, json=confirm) is None:
            return False
        tokens = self.call(SIGN_IN, 200, json={"email": email, "password": PASSWORD})
        if tokens is None or "access_token" not in tokens:
            return False
        self.access_token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]
        self.pause()  # and looks around before making a first chat
        category = self.call(CREATE_CATEGORY, 201, "/categories", bearer=True, json={"name": "Everyday"})
        if category is None:
            return False
        self.category_id = category["id"]
        return True

    def read_code(self, email: str) -> str | None:
        """The newest 6-digit code mailed to `email` (the mail is sent before sign-up answers; a few
        short retries cover a slow mailbox rather than failing at once)."""
        for _ in range(5):
            body = self.call(MAILBOX, 200, params={"to": email})
            code = newest_code(message["text"] for message in (body or {}).get("messages", []))
            if code is not None:
                return code
            time.sleep(0.5)
        report(NO_CODE, 0.0, RuntimeError("no code was mailed within 2.5 s"))
        return None

    def signed_in(self) -> bool:
        return bool(self.category_id) or self.onboard()

    # --- what the user does, weighted by how often an app user does it ---------------------------

    @task(4)
    def send_message(self) -> None:
        if not self.signed_in():
            return
        path = f"/categories/{self.category_id}/messages"
        self.call(SEND_MESSAGE, 201, path, bearer=True, check=answered, json={"message": random.choice(PROMPTS)})

    @task(3)
    def read_history(self) -> None:
        if self.signed_in():
            self.call(READ_HISTORY, 200, f"/categories/{self.category_id}/messages", bearer=True, params={"limit": 20})

    @task(1)
    def read_usage(self) -> None:
        if self.signed_in():
            self.call(USAGE, 200, "/me/usage", bearer=True)

    @task(1)
    def read_an_image(self) -> None:
        """The OCR item flow: create it, POST the file to the presigned URL, long-poll for the label."""
        if not self.signed_in():
            return
        image, expected = random.choice(IMAGES)
        created = self.call(
            CREATE_OCR, 201, "/ocr", bearer=True, json={"title": "Shopping list", "content_type": "image/png"}
        )
        if created is None:
            return
        upload, item_id = created["upload"], created["item"]["id"]
        # Straight to S3 (moto) with the policy's fields, the file last: exactly what the app sends.
        files = {"file": ("label.png", image, "image/png")}
        if self.call(UPLOAD, 204, upload["url"], data=upload["fields"], files=files) is None:
            return
        uploaded = time.perf_counter()
        item: dict[str, Any] | None = None
        while time.perf_counter() - uploaded < LABEL_DEADLINE_SECONDS:
            item = self.call(WAIT_OCR, 200, f"/ocr/{item_id}", bearer=True, params={"wait": WAIT_SECONDS})
            if item is None or item["status"] in ("done", "failed"):
                break
        if item is None:
            return  # the poll itself failed, and is counted as such
        exception: Exception | None = None
        if item["status"] != "done":
            exception = RuntimeError(f"no label within {LABEL_DEADLINE_SECONDS:.0f} s (status {item['status']})")
            if item["status"] == "failed":
                exception = RuntimeError(f"item failed: {(item.get('error') or {}).get('code')}")
        elif item["label"] != expected:
            exception = RuntimeError("wrong label")
        report(OCR_LABEL, time.perf_counter() - uploaded, exception)

    @task(1)
    def refresh(self) -> None:
        """The app refreshes before its 15-minute access token runs out; the refresh token rotates."""
        if not self.signed_in():
            return
        tokens = self.call(REFRESH, 200, json={"refresh_token": self.refresh_token})
        if tokens is not None:
            self.access_token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]


# --- the figures -----------------------------------------------------------------------------------


def snapshot(environment: Environment, started: float, ended: float, users: int) -> dict[str, Any]:
    """What happened since the last stats reset: per route and in total, with wall-clock bounds so
    that run.py can match its CPU samples to the stage."""
    runner: Runner | None = environment.runner
    assert runner is not None
    seconds = max(ended - started, 1e-9)
    routes: dict[str, dict[str, Any]] = {}
    for (name, method), entry in runner.stats.entries.items():
        route = name if method == CHECK else f"{method} {name}"
        routes[route] = {
            "method": method,
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "limited": LIMITED[route],
            "per_second": entry.num_requests / seconds,
            "avg_ms": entry.avg_response_time,
            "max_ms": entry.max_response_time,
            **{f"p{round(p * 100)}_ms": entry.get_response_time_percentile(p) for p in PERCENTILES},
            "histogram": dict(entry.response_times),  # ms (Locust's rounding) -> count: run.py merges them
        }
    errors = [
        {"route": f"{error.method} {error.name}", "error": str(error.error), "occurrences": error.occurrences}
        for error in runner.stats.errors.values()
    ]
    exceptions = [
        {"count": exception["count"], "message": exception["msg"], "traceback": exception["traceback"]}
        for exception in runner.exceptions.values()
    ]
    return {
        "users": users,
        "started": started,
        "ended": ended,
        "seconds": seconds,
        "routes": routes,
        "errors": errors,
        "limited_codes": dict(LIMITED_CODES),
        "exceptions": exceptions,
    }


def close_stage(environment: Environment, reset: bool = True) -> None:
    """Keeps the current stage's figures and, between stages, starts the next from zero."""
    runner = environment.runner
    assert runner is not None
    if STAGE_USERS:
        users = STAGE_USERS[min(CURRENT["stage"], len(STAGE_USERS) - 1)]
    else:
        users = getattr(environment.parsed_options, "num_users", None) or runner.user_count
    STAGES.append(snapshot(environment, CURRENT["started"], time.time(), users))
    if reset:
        runner.stats.reset_all()
        runner.exceptions.clear()
        LIMITED.clear()
        LIMITED_CODES.clear()


STAGE_USERS = [int(users) for users in os.environ.get("LOAD_STAGES", "").split(",") if users.strip()]
STAGE_SECONDS = float(os.environ.get("LOAD_STAGE_SECONDS", "30"))
CURRENT: dict[str, Any] = {"stage": 0, "started": time.time(), "closed": False}

if STAGE_USERS:  # defined only when asked for: Locust uses any shape class a locustfile defines

    class StepShape(LoadTestShape):
        """The user counts of LOAD_STAGES, STAGE_SECONDS each; the figures are reset between stages."""

        def tick(self) -> tuple[int, float] | None:
            index = int(self.get_run_time() // STAGE_SECONDS)  # type: ignore[no-untyped-call]
            if index != CURRENT["stage"]:
                assert self.runner is not None
                close_stage(self.runner.environment)
                CURRENT.update(stage=index, started=time.time())
            if index >= len(STAGE_USERS):
                CURRENT["closed"] = True
                return None
            users = STAGE_USERS[index]
            added = users - (STAGE_USERS[index - 1] if index else 0)
            # The new users arrive over the first third of the stage, not in one burst.
            return users, max(1.0, added / (STAGE_SECONDS / 3))


def on_test_start(environment: Environment, **_: Any) -> None:
    CURRENT.update(stage=0, started=time.time())


def on_quitting(environment: Environment, **_: Any) -> None:
    out = os.environ.get("LOAD_OUT")
    if not out or environment.runner is None:
        return
    if not CURRENT["closed"]:  # the whole run, or a last stage cut short by the time limit
        close_stage(environment, reset=False)  # Locust prints its own summary after this
    with open(out, "w") as file:
        json.dump({"stages": STAGES}, file, indent=1)


# Not as decorators: Locust's EventHook is untyped, and mypy would make the listeners untyped too.
events.test_start.add_listener(on_test_start)  # type: ignore[no-untyped-call]
events.quitting.add_listener(on_quitting)  # type: ignore[no-untyped-call]
