"""Schemathesis extensions for `python -m tools.fuzz`, which loads them into each schemathesis run
(SCHEMATHESIS_HOOKS=tools.fuzz_hooks) with FUZZ_URL, FUZZ_AWS_PORT and FUZZ_CALLS set.

- `Bearer`: a live access token on every operation that declares the bearer scheme, a staff user's on
  `/admin/*`. The users are this run's own; one whose session a request ended (sign-out, DELETE /me, a
  revoked device, a disabled account) signs in again, or a new user is signed up when it cannot.
- `error_body_problems` (tools/fuzz.py) as the check `common_error_body`.
- `before_call`: a fresh Idempotency-Key for each request that sends a valid one, and long polls (`?wait=`)
  of at most 1 s.
- `after_call`: each call recorded for the per-function table; a 401 to the current token retires it.
- `filter_failure`: drops the few rejections of schema-valid requests that no schema can foresee, as they
  depend on what the server holds (STATE_DEPENDENT_REJECTIONS): a cursor or code it never issued …
"""

from __future__ import annotations

import json
import os
import re
import threading
from typing import Any

import schemathesis
from schemathesis import APIOperation, AuthContext, Case, CheckContext, HookContext, Response

from tools.fuzz import Accounts, error_body_problems

IDEMPOTENCY_KEY = "Idempotency-Key"
VALID_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
LONGEST_WAIT = 1  # seconds of `?wait=`: the long poll of an item nobody uploads lasts all of it
MAX_WAIT = 20  # what the document allows; more is a 422, sent as drawn
# positive_data_acceptance ("ST202 schema-valid request rejected") where only the server's data can tell:
# (operation, or None for any; status; error code). Everything a schema can say, the document says.
STATE_DEPENDENT_REJECTIONS = {
    (None, 400, "invalid_cursor"),  # a cursor is valid only if this server issued it, for this list
    (None, 400, "invalid_code"),  # a code is valid only if it is the one just emailed
    # The language tutor needs a language: in the body (the document says so) or already on the category.
    ("PATCH /categories/{category_id}", 422, "language_required"),
}

_accounts = Accounts(os.environ["FUZZ_URL"], int(os.environ["FUZZ_AWS_PORT"]))
_lock = threading.Lock()
_calls = open(os.environ["FUZZ_CALLS"], "a", buffering=1)  # noqa: SIM115 - open for the whole run
_keys = 0


class _User:
    """One signed-in user, replaced when it cannot sign in any more."""

    def __init__(self, staff: bool) -> None:
        self.staff = staff
        self.email: str | None = None
        self.token: str | None = None
        self.retired: set[str] = set()

    def current_token(self) -> str:
        with _lock:
            if self.token is None:
                if self.email is not None:
                    self.token = _accounts.sign_in(self.email)
                if self.token is None:
                    why = _accounts.refusal if self.email is not None else "first"
                    self.email = _accounts.new_user(staff=self.staff)
                    self.token = _accounts.sign_in(self.email)
                    _calls.write(json.dumps({"user": self.email, "staff": self.staff, "why": why}) + "\n")
                assert self.token is not None
            return self.token

    def retire(self, token: str) -> None:
        with _lock:
            if self.token == token:
                self.token = None
                self.retired.add(token)


_users = {False: _User(staff=False), True: _User(staff=True)}


def _user_for(path: str) -> _User:
    return _users[path.startswith("/admin/")]


def _takes_token(operation: APIOperation[Any, Any, Any, Any]) -> bool:
    return bool(operation.definition.raw.get("security"))


@schemathesis.auth(refresh_interval=None)
class Bearer:
    def get(self, case: Case[Any], ctx: AuthContext) -> str | None:
        if not _takes_token(ctx.operation):
            return None  # a public route: no token
        return _user_for(ctx.operation.path).current_token()

    def set(self, case: Case[Any], data: str, ctx: AuthContext) -> None:
        case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.check
def common_error_body(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Every 4xx and 5xx answers `{"error": {"code", "message", "details"}}` (assisti_common.errors)."""
    content_type = (response.headers.get("content-type") or [""])[0]
    problems = error_body_problems(response.status_code, content_type, response.content)
    if problems:
        raise AssertionError("; ".join(problems))
    return None


@schemathesis.hook
def before_call(context: HookContext, case: Case[Any], kwargs: dict[str, Any]) -> None:
    global _keys
    headers = case.headers
    key = headers.get(IDEMPOTENCY_KEY)
    if isinstance(key, str) and VALID_IDEMPOTENCY_KEY.match(key):
        # A repeat of a key replays its first answer (or 422s with another body): by design, and proven by
        # tests/integration/test_idempotency.py; here it would only hide the operation behind old answers.
        with _lock:
            _keys += 1
            headers[IDEMPOTENCY_KEY] = f"fuzz-{_accounts.run}-{_keys}"
    wait = case.query.get("wait")  # an int, or already the text of one
    if isinstance(wait, str) and re.fullmatch("[0-9]{1,2}", wait) and LONGEST_WAIT < int(wait) <= MAX_WAIT:
        case.query["wait"] = str(LONGEST_WAIT)
    elif type(wait) is int and LONGEST_WAIT < wait <= MAX_WAIT:
        case.query["wait"] = LONGEST_WAIT
    authorization = headers.get("Authorization")
    if isinstance(authorization, str) and _takes_token(case.operation):
        user = _user_for(case.operation.path)
        if authorization.removeprefix("Bearer ") in user.retired:
            # Drawn before an earlier request ended that session: send the live one instead.
            headers["Authorization"] = f"Bearer {user.current_token()}"


@schemathesis.hook
def after_call(context: HookContext, case: Case[Any], response: Response) -> None:
    _calls.write(json.dumps({"operation": case.operation.label, "status": response.status_code}) + "\n")
    authorization = response.request.headers.get("Authorization")  # as sent: a case may be sent without it
    if response.status_code == 401 and isinstance(authorization, str) and authorization.startswith("Bearer "):
        try:
            code = json.loads(response.content)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            return
        if code == "not_authenticated":
            _user_for(case.operation.path).retire(authorization.removeprefix("Bearer "))


@schemathesis.hook
def filter_failure(context: HookContext, failure: Any, case: Case[Any], response: Response) -> bool:
    """False (dropped) only for a STATE_DEPENDENT_REJECTIONS answer to a schema-valid request."""
    if getattr(failure, "code", None) != "ST202":
        return True
    try:
        code = json.loads(response.content)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return True
    return not any(
        key in STATE_DEPENDENT_REJECTIONS
        for key in ((None, response.status_code, code), (case.operation.label, response.status_code, code))
    )
