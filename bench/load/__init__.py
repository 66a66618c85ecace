"""`make load`: simulated app users against the local stack, with Locust (see `bench.load.run`).

The route names live here, not in the locustfile, so that `run.py` and the smoke test can check which
routes were hit without importing Locust (it monkey-patches the process with gevent).
"""

from __future__ import annotations

# Every request is reported under one of these names: ids are templated, so figures group per route.
SIGN_UP = "POST /auth/sign-up"
MAILBOX = "GET /_local/mailbox"  # the user reading their email: local only, not an API route
CONFIRM = "POST /auth/confirm-sign-up"
SIGN_IN = "POST /auth/sign-in"
REFRESH = "POST /auth/refresh"
CREATE_CATEGORY = "POST /categories"
SEND_MESSAGE = "POST /categories/{id}/messages"
READ_HISTORY = "GET /categories/{id}/messages"
USAGE = "GET /me/usage"
CREATE_OCR = "POST /ocr"
UPLOAD = "POST {upload url} (S3 presigned)"
WAIT_OCR = "GET /ocr/{id}?wait=20"
# Outcomes, not requests: reported as rows of their own whose type is CHECK, never counted as requests.
CHECK = "CHECK"
OCR_LABEL = "OCR label (upload to done)"  # an OCR item, timed from the end of its upload to its label
NO_CODE = "no code mailed"  # sign-up answered but the mailbox never showed the code

# What one user does, in order of first use; the smoke test checks every one was reached.
JOURNEY = (
    SIGN_UP,
    MAILBOX,
    CONFIRM,
    SIGN_IN,
    CREATE_CATEGORY,
    SEND_MESSAGE,
    READ_HISTORY,
    USAGE,
    CREATE_OCR,
    UPLOAD,
    WAIT_OCR,
    OCR_LABEL,
    REFRESH,
)

# Which function answers each route: the local stack runs each in a process of its own, so figures per
# function show which one holds the others up.
FUNCTION = {
    SIGN_UP: "auth",
    CONFIRM: "auth",
    SIGN_IN: "auth",
    REFRESH: "auth",
    CREATE_CATEGORY: "chat",
    SEND_MESSAGE: "chat",
    READ_HISTORY: "chat",
    USAGE: "chat",
    CREATE_OCR: "ocr-api",
    WAIT_OCR: "ocr-api",
    UPLOAD: "S3 (moto)",
    MAILBOX: "local mailbox (gateway)",
}
