"""One Lambda container for a worker: its handler imported in a fresh process (a cold container), one
event in, its answer and the peak RSS of the whole process out, to hold against the memory the
template gives the function."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from local.template import ROOT, Function

CONTAINER = r"""
import json, sys
from importlib import import_module
from local.functions import LambdaContext
module, _, name = sys.argv[1].rpartition(".")
handler = getattr(import_module(module), name)
answer = handler(json.loads(sys.stdin.read()), LambdaContext(sys.argv[2], memory_limit_in_mb=int(sys.argv[3])))
# VmHWM, not ru_maxrss: the latter also counts the (large) test process this one was forked from.
status = open("/proc/self/status").read().splitlines()
peak_kb = int(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
print(json.dumps({"answer": answer, "peak_mb": peak_kb / 1024}))
"""


def run_cold(function: Function, event: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """The function's handler on `event` in a fresh process started with the environment the template
    gives the function (as Lambda starts it: glibc reads MALLOC_ARENA_MAX then): its answer and its
    peak RSS in MB."""
    container = subprocess.run(
        [sys.executable, "-c", CONTAINER, function.handler, function.logical_id, str(function.memory_mb)],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **function.environment},
        check=False,
        timeout=function.timeout,
    )
    assert container.returncode == 0, container.stderr[-3000:]
    result = json.loads(container.stdout.strip().splitlines()[-1])
    return result["answer"], float(result["peak_mb"])
