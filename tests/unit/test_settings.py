"""Settings are per function: one function's bad variable never breaks another's cold start, and a
configuration error names the variable without ever printing its value (it may be a secret)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from assisti_chat.settings import ChatSettings
from assisti_common.settings import ConfigurationError, load_settings
from local.harness import http_event
from local.template import ROOT

COLD_START = r"""
import json, sys
from importlib import import_module
from local.functions import LambdaContext
handler = import_module(sys.argv[1]).handler
response = handler(json.loads(sys.argv[2]), LambdaContext("settings-test"))
print(json.dumps({"status": response["statusCode"], "body": json.loads(response["body"])}))
"""


def cold_start(module: str, event: dict, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", COLD_START, module, json.dumps(event)],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_bad_chat_variable_does_not_break_the_auth_cold_start():
    bad_chat = {"ASSISTI_LLM_TIMEOUT_SECONDS": "-5"}  # not a timeout: chat must refuse it at cold start
    auth = cold_start("assisti_auth.app", http_event("GET", "/me"), **bad_chat)
    assert auth.returncode == 0, auth.stderr
    answer = json.loads(auth.stdout.strip().splitlines()[-1])
    assert answer["status"] == 401 and answer["body"]["error"]["code"] == "not_authenticated"

    chat = cold_start("assisti_chat.app", http_event("GET", "/categories"), **bad_chat)
    assert chat.returncode != 0
    assert "ConfigurationError" in chat.stderr and "ChatSettings" in chat.stderr


def test_a_bad_auth_variable_does_not_break_the_chat_cold_start():
    chat = cold_start("assisti_chat.app", http_event("GET", "/categories"), ASSISTI_CODE_SECONDS="5")
    assert chat.returncode == 0, chat.stderr
    assert json.loads(chat.stdout.strip().splitlines()[-1])["status"] == 401


def test_a_configuration_error_names_the_variable_but_never_prints_its_value(monkeypatch):
    secret = "sk-live-0123456789abcdef"
    monkeypatch.setenv("ASSISTI_CHAT_DAILY_TOKENS", secret)  # a key pasted into the wrong variable
    with pytest.raises(ConfigurationError) as failure:
        load_settings(ChatSettings)
    message = str(failure.value)
    assert "ASSISTI_CHAT_DAILY_TOKENS" in message
    assert secret not in message and secret not in repr(failure.value)
    assert failure.value.__cause__ is None and failure.value.__suppress_context__


def test_a_cold_start_that_fails_on_configuration_never_prints_any_of_the_llm_key():
    key = "sk-live-Zq81sEcReT0123456789"
    chat = cold_start(
        "assisti_chat.app",
        http_event("GET", "/categories"),
        OPENAI_API_KEY=key,
        ASSISTI_LLM_TIMEOUT_SECONDS="eight",
    )
    assert chat.returncode != 0 and "ChatSettings is invalid" in chat.stderr
    printed = chat.stdout + chat.stderr
    assert all(key[:length] not in printed for length in (6, 8, len(key)))
