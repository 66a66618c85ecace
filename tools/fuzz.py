"""`make fuzz`: schemathesis against the committed openapi.json, through the local gateway, per function.

    python -m tools.fuzz                          # 1,000 cases per function, seed 1
    python -m tools.fuzz --cases 200 --seed 7 --functions ChatFunction OcrApiFunction
    python -m tools.fuzz --url http://127.0.0.1:3000 --aws-port 4566   # a running `make dev`

If nothing answers `GET /health` at `--url`, the local stack is started for the run (`python -m local.stack`
on that port, or a free one, with the local LLM stand-in and no enumeration floor) and stopped at the end. Each HTTP
function of template.yaml is fuzzed on its own, with its operations of openapi.json (tools/openapi.py) and
every schemathesis phase: examples, coverage, fuzzing, and stateful, which follows the document's links and
those schemathesis infers, so created ids feed the next calls. Every check runs but EXCLUDED_CHECKS (and
max_response_time at 10 s), plus this project's own: every error answers the common error body
(`error_body_problems`).

Each function gets users of its own, made through the API (sign-up, the code from the local mailbox,
sign-in); `/admin/*` a staff user (`tools.manage make-staff`). An operation that ends the session (sign-out,
DELETE /me, a revoked device, a disabled account, a locked-out password …) is fuzzed like the others: the
next request signs in again, or signs up a new user (tools/fuzz_hooks.py, loaded by schemathesis).

Printed: per function, operations, test cases, HTTP calls, users made, failures and 5xx; schemathesis's own
output is in `--report-dir` (.fuzz/), a log and a JSON report per function. Exit status 1 on any failure,
any 5xx, any schemathesis error, an operation left untested, or fewer cases than asked.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

from assisti_common.errors import ERROR_CODE_PATTERN
from local.harness import healthy, new_user_environment, newest_code, stack_process
from local.template import ROOT
from tools.openapi import DOCUMENT_PATH, http_functions, operations

REPORT_DIR = ROOT / ".fuzz"
PASSWORD = "fuzzing correct horse battery"  # noqa: S105 - the fuzzer's own throwaway local users

# Checks left out, and why (every other schemathesis check runs):
EXCLUDED_CHECKS = {
    # API Gateway's HTTP API answers a method with no route 404 (the local gateway does the same); a 405
    # with Allow would need a catch-all route and function in template.yaml for every path.
    "unsupported_method": "API Gateway answers 404 to a method with no route",
    # Needs several identities from a Web Fuzzing Commons auth file with fixed credentials; one user's ids
    # answering 404 to everyone else is proven route by route by tests/integration/test_isolation.py.
    "object_level_authorization": "needs fixed multi-user WFC credentials; tests/integration/test_isolation.py",
}

PHASES = ("examples", "coverage", "fuzzing", "stateful")

# Settings of the HTTP functions the fuzzer does not exercise: timing only, never behaviour.
STACK_SETTINGS = {
    # The floor under enumeration-safe answers (400 ms) would make the auth run minutes longer.
    "ASSISTI_ENUMERATION_FLOOR_MS": "0",
}


# --- the common error body ------------------------------------------------------------------------

ERROR_CODE = re.compile(ERROR_CODE_PATTERN)


def error_body_problems(status: int, content_type: str, content: bytes) -> list[str]:
    """What is wrong with an error answer: every 4xx and 5xx is JSON, `{"error": {"code", "message",
    "details"}}` and nothing else, the code snake_case, the message a non-empty sentence
    (layers/common/assisti_common/errors.py)."""
    if status < 400:
        return []
    if content_type.split(";")[0].strip().lower() != "application/json":
        return [f"{status} answered with Content-Type {content_type!r}, not application/json"]
    try:
        body = json.loads(content)
    except ValueError:
        return [f"{status} answered a body that is not JSON"]
    if not isinstance(body, dict) or set(body) != {"error"} or not isinstance(body["error"], dict):
        return [f'{status} answered {_short(body)}, not {{"error": {{...}}}}']
    error: dict[str, Any] = body["error"]
    problems = []
    if set(error) != {"code", "message", "details"}:
        problems.append(f"{status} error has the keys {sorted(error)}, not code, message and details")
    if not isinstance(error.get("code"), str) or not ERROR_CODE.match(error["code"]):
        problems.append(f"{status} error code {error.get('code')!r} is not a snake_case string")
    if not isinstance(error.get("message"), str) or not error["message"].strip():
        problems.append(f"{status} error message {error.get('message')!r} is not a non-empty string")
    return problems


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 120 else text[:117] + "..."


# --- users ----------------------------------------------------------------------------------------


def clean_environment() -> dict[str, str]:
    """This shell without its AWS, LLM and function settings: the local stack and the operator commands
    configure themselves (and the fuzzer never sends a thousand messages to a real, paid LLM)."""
    return {
        key: value for key, value in new_user_environment().items() if not key.startswith(("FUZZ_", "SCHEMATHESIS_"))
    }


@dataclass
class Accounts:
    """Makes confirmed users through the API, signs them in, and makes staff with `tools.manage`."""

    base_url: str
    aws_port: int
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    made: int = 0
    refusal: str | None = None  # why the last sign-in gave no token

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.base_url, timeout=60)

    def new_user(self, staff: bool = False) -> str:
        self.made += 1
        email = f"fuzz-{self.run}-{'staff' if staff else 'user'}-{self.made}@example.com"
        response = self.client.post("/auth/sign-up", json={"email": email, "password": PASSWORD, "name": "Fuzz"})
        _expect(response, 201)
        response = self.client.post(
            "/auth/confirm-sign-up", json={"email": email, "code": self.latest_code(email), "password": PASSWORD}
        )
        _expect(response, 200)
        if staff:
            self.make_staff(email)
        return email

    def latest_code(self, email: str) -> str:
        response = self.client.get("/_local/mailbox", params={"to": email})
        _expect(response, 200)
        code = newest_code(message["text"] for message in response.json()["messages"])
        if code is None:
            raise RuntimeError(f"no code was mailed to {email}")
        return code

    def sign_in(self, email: str) -> str | None:
        """An access token, or None when the account cannot sign in with its password any more
        (deleted, disabled, two-factor turned on, its password changed or locked out)."""
        response = self.client.post("/auth/sign-in", json={"email": email, "password": PASSWORD})
        token = response.json().get("access_token") if response.status_code == 200 else None
        if not token:
            body = response.json()
            self.refusal = f"{response.status_code} {(body.get('error') or {}).get('code') or body.get('challenge')}"
        return str(token) if token else None

    def make_staff(self, email: str) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "tools.manage", "make-staff", email, "--aws-port", str(self.aws_port)],
            cwd=ROOT,
            env=clean_environment(),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"make-staff {email} failed: {result.stderr.strip() or result.stdout.strip()}")


def _expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path} answered {response.status_code}: {response.text}"
        )


# --- the stack ------------------------------------------------------------------------------------


@contextmanager
def local_stack(url: str, aws_port: int, log_path: Path) -> Iterator[tuple[str, int]]:
    """(url, local AWS port) of the stack answering at `url`, or of one started for the run on `url`'s port
    (a free one if that is taken) and stopped at the end. Its output goes to `log_path`."""
    if healthy(url):
        yield url, aws_port
        return
    from local.stack import free_port  # moto's server with it: not for the hooks' process, which imports this

    port = urlparse(url).port or 3000
    with stack_process(STACK_SETTINGS, port=port if _port_is_free(port) else free_port(), log_path=log_path) as stack:
        yield stack.url, stack.aws_port


def _port_is_free(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# --- one function ---------------------------------------------------------------------------------


@dataclass
class FunctionRun:
    """What one function's schemathesis run did."""

    function: str
    operations: int
    tested: int = 0  # operations schemathesis sent at least one case to
    cases: int = 0  # test cases schemathesis generated (every phase)
    calls: int = 0  # HTTP requests the cases made (stateful scenarios make several)
    users: int = 0  # users signed up to fuzz with (a new one when a request ended the last one's account)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[dict[str, Any]] = field(default_factory=list)  # schemathesis's failure groups
    errors: list[dict[str, Any]] = field(default_factory=list)
    filtered: int = 0  # failures dropped by fuzz_hooks.filter_failure (documented there)
    seconds: float = 0.0
    exit_code: int = 0
    log: Path | None = None

    @property
    def failure_count(self) -> int:
        return sum(int(group["count"]) for group in self.failures)

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)

    def problems(self, wanted_cases: int) -> list[str]:
        found = [f"{group['count']} x {group['title']}: {', '.join(group['operations'])}" for group in self.failures]
        found += [f"{group['count']} x error: {group['title']}" for group in self.errors]
        if self.server_errors:
            found.append(f"{self.server_errors} answers were 5xx: {sorted(s for s in self.statuses if s >= 500)}")
        if self.tested < self.operations:
            found.append(f"only {self.tested} of its {self.operations} operations were tested")
        if self.cases < wanted_cases:
            found.append(f"only {self.cases} cases were generated, {wanted_cases} asked")
        if self.exit_code not in (0, 1) or (self.exit_code == 1 and not found):
            found.append(f"schemathesis exited with {self.exit_code}; see {self.log}")
        return found


def function_operations(document: Mapping[str, Any]) -> dict[str, list[str]]:
    """Function logical id -> the labels ("GET /me") of its operations in the document, in template order."""
    documented = operations(dict(document))
    return {
        function.logical_id: [
            f"{route.method} {route.path}" for route in function.routes if (route.method, route.path) in documented
        ]
        for function in http_functions()
    }


def examples_per_operation(cases: int, operation_count: int) -> int:
    """Schemathesis's --max-examples for at least `cases` cases over the function's operations: the fuzzing
    phase draws up to this many for each (fewer where it runs out of new inputs), the coverage and stateful
    phases add theirs."""
    return max(1, math.ceil(cases / max(1, operation_count)))


def schemathesis_command(
    url: str, labels: Sequence[str], max_examples: int, seed: int, phases: Sequence[str], report: Path, workers: int
) -> list[str]:
    config = report.with_suffix(".toml")
    # No cache: it would replay crashes found by earlier runs (in .schemathesis/), so one seed, one run.
    config.write_text("[cache]\nenabled = false\n")
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        f"--config-file={config}",
        "run",
        str(DOCUMENT_PATH),
        f"--url={url}",
        f"--seed={seed}",
        f"--max-examples={max_examples}",
        f"--phases={','.join(phases)}",
        "--checks=all",
        "--max-response-time=10",  # the long polls (?wait=) are capped at 1 s by fuzz_hooks.before_call
        f"--exclude-checks={','.join(sorted(EXCLUDED_CHECKS))}",
        f"--workers={workers}",
        "--continue-on-failure",
        "--generation-database=none",  # the same seed, the same cases: no examples replayed from a past run
        "--request-timeout=30",
        "--no-color",
        "--report=json",
        f"--report-json-path={report}",
    ]
    return command + [f"--include-name={label}" for label in labels]


def run_function(
    function: str,
    labels: Sequence[str],
    *,
    url: str,
    aws_port: int,
    cases: int,
    seed: int,
    report_dir: Path,
    phases: Sequence[str] = PHASES,
    workers: int = 1,
) -> FunctionRun:
    report_dir.mkdir(parents=True, exist_ok=True)
    report, calls, log = (report_dir / f"{function}.{suffix}" for suffix in ("json", "calls.jsonl", "log"))
    for path in (report, calls):
        path.unlink(missing_ok=True)
    max_examples = examples_per_operation(cases, len(labels))
    command = schemathesis_command(url, labels, max_examples, seed, phases, report, workers)
    env = {
        **clean_environment(),
        "SCHEMATHESIS_HOOKS": "tools.fuzz_hooks",
        "FUZZ_URL": url,
        "FUZZ_AWS_PORT": str(aws_port),
        "FUZZ_CALLS": str(calls),
        "PYTHONPATH": str(ROOT),
    }
    started = time.monotonic()
    with log.open("w") as output:
        exit_code = subprocess.run(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, check=False
        ).returncode
    result = FunctionRun(function, len(labels), seconds=time.monotonic() - started, exit_code=exit_code, log=log)
    if report.exists():
        document = json.loads(report.read_text())
        result.cases = int(document["test_cases"]["generated"])
        result.tested = int((document.get("operations") or {}).get("tested") or 0)
        result.failures = list(document["failures"])
        result.errors = list(document["errors"])
        result.filtered = int(document.get("filtered") or 0)
    if calls.exists():
        for line in calls.read_text().splitlines():
            record = json.loads(line)
            if "user" in record:
                result.users += 1
            else:
                result.calls += 1
                result.statuses[int(record["status"])] += 1
    return result


# --- all of them ----------------------------------------------------------------------------------


def fuzz(
    url: str,
    aws_port: int,
    *,
    cases: int,
    seed: int,
    functions: Sequence[str] | None = None,
    phases: Sequence[str] = PHASES,
    report_dir: Path = REPORT_DIR,
    jobs: int = 2,
    workers: int = 1,
) -> list[FunctionRun]:
    """Every chosen function's run against the stack at `url` (its local AWS on `aws_port`), `jobs` functions
    at a time (each is its own Lambda process, and each run its own schemathesis process and users)."""
    document = json.loads(DOCUMENT_PATH.read_text())
    chosen = function_operations(document)
    unknown = set(functions or ()) - set(chosen)
    if unknown:
        raise ValueError(f"no HTTP function named {', '.join(sorted(unknown))}; choose from {', '.join(chosen)}")

    def run(function: str) -> FunctionRun:
        result = run_function(
            function,
            chosen[function],
            url=url,
            aws_port=aws_port,
            cases=cases,
            seed=seed,
            phases=phases,
            report_dir=report_dir,
            workers=workers,
        )
        summary = f"{result.cases} cases, {result.failure_count} failures, {result.server_errors} 5xx"
        print(f"  {function}: {summary} in {result.seconds:.0f} s", flush=True)
        return result

    names = [function for function in chosen if not functions or function in functions]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(run, names))


def table(results: Sequence[FunctionRun]) -> str:
    columns = ("function", "operations", "cases", "calls", "users", "failures", "5xx", "time")
    widths = (20, 10, 7, 7, 6, 8, 5, 7)

    def row(values: Sequence[object]) -> str:
        return " ".join(
            f"{value:<{width}}" if index == 0 else f"{value:>{width}}"
            for index, (value, width) in enumerate(zip(values, widths, strict=True))
        )

    def values(result: FunctionRun) -> list[object]:
        return [
            result.function,
            result.operations,
            result.cases,
            result.calls,
            result.users,
            result.failure_count,
            result.server_errors,
            f"{result.seconds:.0f}s",
        ]

    total = FunctionRun("total", sum(result.operations for result in results))
    for result in results:
        total.cases += result.cases
        total.calls += result.calls
        total.users += result.users
        total.statuses += result.statuses
        total.failures += result.failures
        total.seconds = max(total.seconds, result.seconds)  # wall time: the functions run side by side
    rule = "-" * len(row(columns))
    return "\n".join([row(columns), rule, *(row(values(result)) for result in results), rule, row(values(total))])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.fuzz", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1000, help="test cases per function, at least (default 1000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('PORT', '3000')}")
    parser.add_argument(
        "--aws-port",
        type=int,
        default=int(os.environ.get("LOCAL_AWS_PORT", "4566")),
        help="the running stack's local AWS port (for make-staff); ignored when the stack is started here",
    )
    parser.add_argument("--functions", nargs="+", help="logical ids from template.yaml (default: every HTTP one)")
    parser.add_argument("--phases", default=",".join(PHASES), help="schemathesis phases (default: all of them)")
    parser.add_argument("--jobs", type=int, default=2, help="functions fuzzed at once (default 2)")
    parser.add_argument("--workers", type=int, default=1, help="schemathesis workers per function (default 1)")
    parser.add_argument("--report-dir", type=Path, default=REPORT_DIR)
    arguments = parser.parse_args(argv)

    started = time.monotonic()
    with local_stack(arguments.url, arguments.aws_port, arguments.report_dir / "stack.log") as (url, aws_port):
        print(f"fuzzing {url}: {arguments.cases} cases per function, seed {arguments.seed}", flush=True)
        results = fuzz(
            url,
            aws_port,
            cases=arguments.cases,
            seed=arguments.seed,
            functions=arguments.functions,
            phases=arguments.phases.split(","),
            report_dir=arguments.report_dir,
            jobs=arguments.jobs,
            workers=arguments.workers,
        )
    print()
    print(table(results))
    print(f"\n{time.monotonic() - started:.0f} s in all; schemathesis's logs and reports in {arguments.report_dir}")
    failed = False
    for result in results:
        for problem in result.problems(arguments.cases):
            failed = True
            print(f"FAIL {result.function}: {problem} (see {result.log})")
        if result.filtered:
            print(f"note {result.function}: {result.filtered} state-dependent rejections dropped (fuzz_hooks.py)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
