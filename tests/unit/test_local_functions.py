"""The local stack runs each function as Lambda would configure it: the template's memory and timeout
reach the handler's context (what Powertools logs as function_memory_size, and what a handler reads to
budget its time)."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.functions import FunctionWorker
from local.template import LocalTemplate, load_template

HANDLER = """
def handler(event, context):
    return {"memory": context.memory_limit_in_mb, "remaining_ms": context.get_remaining_time_in_millis()}
"""


def test_each_function_gets_the_memory_and_timeout_the_template_gives_it():
    """Its own MemorySize and Timeout where it has them, else the template's Globals (1024 MB, 15 s)."""
    functions = {function.logical_id: function for function in LocalTemplate(load_template()).functions()}
    assert (functions["AuthFunction"].memory_mb, functions["AuthFunction"].timeout) == (1024, 15)  # Globals
    assert (functions["OcrWorkerFunction"].memory_mb, functions["OcrWorkerFunction"].timeout) == (1769, 60)
    assert (functions["OcrDeadLetterFunction"].memory_mb, functions["OcrDeadLetterFunction"].timeout) == (256, 30)
    assert functions["ChatStreamFunction"].timeout == 120


def test_a_local_container_hands_its_memory_and_timeout_to_the_handler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "memory_probe.py").write_text(HANDLER, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))  # a spawned container starts with this process's sys.path
    worker = FunctionWorker("Probe", "memory_probe.handler", {}, timeout=7, memory_mb=1769)
    try:
        answer = worker.invoke({})
    finally:
        worker.stop()
    assert answer["memory"] == 1769
    assert 6000 < answer["remaining_ms"] <= 7000
