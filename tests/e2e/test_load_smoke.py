"""`make load` in small: a few simulated app users for a few seconds against the e2e stack, with no error
and every route of the user journey reached. Locust runs in its own process (gevent patches whatever
imports it), so this one only reads the figures it wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.load import JOURNEY
from local.harness import new_user_environment as clean_environment
from local.template import ROOT


def test_a_short_load_run_has_no_error_and_covers_the_journey(stack_url: str, tmp_path: Path) -> None:
    figures_path = tmp_path / "load.json"
    # 3 users arriving at once, with short pauses, so that each has time for its whole journey (every user
    # tries each feature once before the weights decide).
    command = [sys.executable, "-m", "bench.load.run", "--url", stack_url, "--users", "3", "--spawn-rate", "3"]
    command += ["--duration", "15", "--think", "0,0.2", "--json", str(figures_path)]
    finished = subprocess.run(command, cwd=ROOT, env=clean_environment(), capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stdout + finished.stderr

    figures = json.loads(figures_path.read_text())
    assert figures["stack_started_by_run"] is False  # it used the stack it was given
    run = figures["stages"][0]
    assert run["errors"] == 0, (run["error_messages"], run["exceptions"])
    reached = {route for route, counts in run["routes"].items() if counts["requests"]}
    assert set(JOURNEY) <= reached, f"never reached: {sorted(set(JOURNEY) - reached)}\n{finished.stdout}"
    assert run["per_second"] > 0 and run["p95_ms"] > 0
