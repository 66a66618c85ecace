"""Schemathesis against the committed openapi.json, through the local stack: every operation of every HTTP
function, a small fixed-seed set (`make fuzz` runs the same with 1,000 cases per function, tools/fuzz.py).

It fails on any 5xx, any answer that is not what the document says (status, schema, content type, headers,
the common error body), any schema-valid request rejected or schema-invalid one accepted."""

from __future__ import annotations

from pathlib import Path

from tools.fuzz import fuzz, table

CASES = 40  # per function, at least; the fuzzing and stateful phases (the coverage phase alone takes minutes)
PHASES = ("fuzzing", "stateful")


def _failures_section(log: Path | None) -> str:
    text = log.read_text() if log is not None and log.exists() else ""
    start = text.find("FAILURES")
    return text[start : text.find("SUMMARY", start)][:6000] if start >= 0 else ""


def test_every_operation_answers_as_documented_under_fuzzing(stack_url, stack_aws_port, tmp_path):
    results = fuzz(stack_url, stack_aws_port, cases=CASES, seed=1, phases=PHASES, report_dir=tmp_path, jobs=4)

    print(table(results))
    problems = [f"{result.function}: {problem}" for result in results for problem in result.problems(CASES)]
    details = "\n".join(_failures_section(result.log) for result in results if result.problems(CASES))
    assert not problems, "\n".join([*problems, table(results), details])
    assert {result.function for result in results} == {
        "AuthFunction",
        "ChatFunction",
        "OcrApiFunction",
        "VisionApiFunction",
    }
