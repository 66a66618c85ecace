"""`make load`: simulated app users against the local stack, driven by Locust in headless mode.

    python -m bench.load.run                        # 50 users for 60 s against http://127.0.0.1:$PORT (3000)
    python -m bench.load.run --users 100 --duration 120 --spawn-rate 5 --url http://127.0.0.1:3001
    python -m bench.load.run --find-saturation      # 10, 25, 50, 100, 150, 200 users, 30 s each
    python -m bench.load.run --think 0,0.2 --json /tmp/load.json   # shorter pauses; figures elsewhere

If nothing answers `GET /health` at the URL, the local stack is started for the run (`python -m
local.stack` on free ports) and stopped at the end. What each user does is in `locustfile.py`.

Reported per route: requests, requests/s, p50/p95/p99, errors and the deliberate limits (429 with the
common error body, counted apart from errors); in total: requests/s and the error count. While Locust
runs, the CPU of every process of the stack (and of Locust, which shares the machine) is sampled
once a second with psutil, so that what saturates first is measured rather than guessed.
`--find-saturation` steps the user count and names the first stage where throughput stops rising, p95
blows up or errors start. The figures are printed and written to `--json` (bench/results/load.json or
load-saturation.json); Locust's own summary (`*-locust.log`), its CSV and the log of a stack started
here (`*-stack.log`) go beside it.

Exit status: 1 if a plain run had any error, 0 otherwise (a saturation search expects them at the top).
Locust runs in its own process (it monkey-patches with gevent); this one never imports it.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psutil

from bench.load import CHECK, FUNCTION
from local.harness import healthy, stack_process
from local.template import ROOT

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
RESULTS = ROOT / "bench" / "results"
DEFAULT_STAGES = (10, 25, 50, 100, 150, 200)
PERCENTILES = (50, 95, 99)


# --- the stack -------------------------------------------------------------------------------------


def listening_pid(url: str) -> int | None:
    """The process serving `url` (the stack's gateway, when it runs on this machine)."""
    parsed = urlparse(url)
    if parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
        return None
    port = parsed.port or 80
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.Error:
        return None
    for connection in connections:
        if connection.status == psutil.CONN_LISTEN and connection.laddr and connection.laddr.port == port:
            return int(connection.pid) if connection.pid is not None else None
    return None


# --- CPU, per process ------------------------------------------------------------------------------

# Every function runs in its own process (local/functions.py FunctionWorker, spawned, with no name of
# its own), so a worker is known by what it has loaded: the native library only that function imports.
SIGNATURES = (
    ("cv2.abi3.so", "ocr-worker (onnxruntime + OpenCV)"),
    ("onnxruntime_pybind11_state", "vision-worker (onnxruntime)"),
    ("_argon2_cffi_bindings", "auth (argon2)"),
    ("jiter", "chat (openai SDK)"),
)
UNKNOWN_FUNCTION = "function: ocr-api, vision-api or a dead-letter handler"
MAIN_THREAD = "stack: gateway event loop (uvicorn, main thread)"
OTHER_THREADS = "stack: other threads (moto server, fake LLM, queue pumps, invoke threads)"
ELSEWHERE = "everything else on this machine"
CORES = psutil.cpu_count() or 1


def process_label(process: psutil.Process, locust_pid: int | None) -> str | None:
    """What a process is, or None while a function worker cannot be told apart yet (imports are lazy)."""
    if process.pid == locust_pid:
        return "locust (the load generator)"
    if process.pid == os.getpid():
        return "bench.load.run (this CPU sampler)"
    command = " ".join(process.cmdline())
    if "resource_tracker" in command:
        return "multiprocessing resource tracker"
    if "uvicorn" in command:
        return "chat-stream (uvicorn, Web Adapter)"
    if "multiprocessing" not in command:
        return "stack child: " + command[:60]
    maps = Path(f"/proc/{process.pid}/maps")  # cheaper than psutil's memory_maps (smaps), read each second
    libraries = maps.read_text() if maps.exists() else " ".join(m.path for m in process.memory_maps())
    for needle, label in SIGNATURES:
        if needle in libraries:
            return label
    return None


@dataclass
class CpuSampler:
    """Samples, once a second, the CPU of the stack's processes (the main one split into its event-loop
    thread and the rest) and of Locust, as % of one core; and the whole machine's, as % of all cores."""

    stack_pid: int | None
    locust_pid: int | None = None
    interval: float = 1.0
    samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    machine: list[tuple[float, float]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # pid -> what it is, once known
    _stop: threading.Event = field(default_factory=threading.Event)

    def processes(self) -> list[psutil.Process]:
        found: list[psutil.Process] = [psutil.Process()]  # this one alone: its children are the others
        for pid in (self.stack_pid, self.locust_pid):
            if pid is None:
                continue
            try:
                root = psutil.Process(pid)
                found += [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
        return found

    def times(self) -> dict[str, float]:
        """CPU seconds so far, per process (by pid) and per thread group of the stack's main process."""
        seconds: dict[str, float] = {}
        for process in self.processes():
            try:
                if process.pid == self.stack_pid:
                    # The process's total keeps the time of threads that have ended (moto serves each
                    # connection on a thread of its own): the other threads are the total less the main one.
                    total = sum(process.cpu_times()[:2])
                    main = next((t.user_time + t.system_time for t in process.threads() if t.id == process.pid), 0)
                    seconds[MAIN_THREAD], seconds[OTHER_THREADS] = main, total - main
                    continue
                key = str(process.pid)
                if key not in self.labels:  # imports are lazy: a worker shows what it is on first use
                    label = process_label(process, self.locust_pid)
                    if label is not None:
                        self.labels[key] = f"{label} [{key}]"
                cpu = process.cpu_times()
                seconds[key] = cpu.user + cpu.system
            except psutil.Error:
                continue  # it ended between the listing and the reading
        return seconds

    def run(self) -> None:
        psutil.cpu_percent()
        previous, before = time.monotonic(), self.times()
        while not self._stop.wait(self.interval):
            now, current = time.monotonic(), self.times()
            elapsed = now - previous
            sample = {key: max(0.0, (value - before.get(key, value)) / elapsed * 100) for key, value in current.items()}
            machine = psutil.cpu_percent()
            # Whatever else runs here (another stack, a test run) competes for the same cores: shown, not hidden.
            sample[ELSEWHERE] = max(0.0, machine * CORES - sum(sample.values()))
            self.samples.append((time.time(), sample))
            self.machine.append((time.time(), machine))
            previous, before = now, current

    def start(self) -> None:
        threading.Thread(target=self.run, name="cpu-sampler", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def between(self, started: float, ended: float) -> dict[str, dict[str, float]]:
        """Mean and peak CPU (% of one core) of each process over [started, ended], busiest first."""
        chosen = [sample for at, sample in self.samples if started <= at <= ended]
        figures = {}
        for key in {key for sample in chosen for key in sample}:
            values = [sample.get(key, 0.0) for sample in chosen]
            label = self.labels.get(key, f"{UNKNOWN_FUNCTION} [{key}]") if key.isdigit() else key
            figures[label] = {"mean": round(sum(values) / len(values), 1), "max": round(max(values), 1)}
        return dict(sorted(figures.items(), key=lambda item: -item[1]["mean"]))

    def machine_between(self, started: float, ended: float) -> float:
        """The whole machine's mean CPU over [started, ended], % of all its cores."""
        values = [percent for at, percent in self.machine if started <= at <= ended]
        return round(sum(values) / len(values), 1) if values else 0.0


# --- Locust ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    url: str
    users: int
    spawn_rate: float
    seconds: float
    think: str = "1,3"
    stages: tuple[int, ...] = ()
    stage_seconds: float = 30.0


def run_locust(plan: Plan, sampler: CpuSampler, csv_prefix: Path, log_path: Path) -> tuple[int, dict[str, Any]]:
    """Locust in its own process (gevent monkey-patches whatever imports it). Returns its exit code and
    the figures its locustfile wrote."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "figures.json"
        env = {**os.environ, "LOAD_OUT": str(out), "LOAD_THINK": plan.think, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", plan.url]
        command += ["--only-summary", "--csv", str(csv_prefix)]
        if plan.stages:
            env.update(LOAD_STAGES=",".join(map(str, plan.stages)), LOAD_STAGE_SECONDS=str(plan.stage_seconds))
            # The shape ends the run itself; the time limit is only a backstop.
            command += ["-t", f"{int(len(plan.stages) * plan.stage_seconds + 30)}s"]
        else:
            command += ["-u", str(plan.users), "-r", str(plan.spawn_rate), "-t", f"{int(plan.seconds)}s"]
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            sampler.locust_pid = process.pid
            code = process.wait()
        if not out.exists():
            raise RuntimeError(f"Locust wrote no figures (exit code {code}); see {log_path}")
        figures: dict[str, Any] = json.loads(out.read_text())
    return code, figures


# --- the figures -----------------------------------------------------------------------------------


def percentiles(histograms: list[dict[str, int]]) -> dict[str, float]:
    """p50/p95/p99 over merged Locust histograms (response time in ms, Locust's rounding -> count)."""
    merged: dict[int, int] = {}
    for histogram in histograms:
        for rounded, count in histogram.items():
            merged[int(rounded)] = merged.get(int(rounded), 0) + count
    total = sum(merged.values())
    result = {}
    for percent in PERCENTILES:
        value, seen = 0, 0
        for milliseconds in sorted(merged):
            seen += merged[milliseconds]
            value = milliseconds
            if seen >= total * percent / 100:
                break
        result[f"p{percent}_ms"] = float(value)
    return result


def per_function(routes: dict[str, dict[str, Any]], seconds: float) -> dict[str, dict[str, float]]:
    """Requests/s and percentiles of the routes each function answers."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for route, figures in routes.items():
        if route in FUNCTION:
            grouped.setdefault(FUNCTION[route], []).append(figures)
    return {
        function: {
            "per_second": round(sum(figures["requests"] for figures in group) / seconds, 2),
            **percentiles([figures["histogram"] for figures in group]),
        }
        for function, group in grouped.items()
    }


def per_kind(cpu: dict[str, dict[str, float]]) -> dict[str, float]:
    """Mean CPU summed over the processes of one kind (a function run by several workers, say), busiest first."""
    kinds: dict[str, float] = {}
    for key, figures in cpu.items():
        kind = key.rsplit(" [", 1)[0]
        kinds[kind] = round(kinds.get(kind, 0.0) + figures["mean"], 1)
    return dict(sorted(kinds.items(), key=lambda item: -item[1]))


def summarise(stage: dict[str, Any], sampler: CpuSampler) -> dict[str, Any]:
    """One stage's totals: requests are HTTP requests only (CHECK rows are outcomes, not requests)."""
    routes: dict[str, dict[str, Any]] = stage["routes"]
    http = [figures for figures in routes.values() if figures["method"] != CHECK]
    requests = sum(figures["requests"] for figures in http)
    exceptions = sum(exception["count"] for exception in stage["exceptions"])
    cpu = sampler.between(stage["started"], stage["ended"])
    return {
        "users": stage["users"],
        "seconds": round(stage["seconds"], 1),
        "requests": requests,
        "per_second": round(requests / stage["seconds"], 2),
        "errors": sum(figures["failures"] for figures in routes.values()) + exceptions,
        "limited": sum(figures["limited"] for figures in routes.values()),
        **percentiles([figures["histogram"] for figures in http]),
        "functions": per_function(routes, stage["seconds"]),
        "routes": {
            route: {key: value for key, value in figures.items() if key != "histogram"}
            for route, figures in routes.items()
        },
        "error_messages": stage["errors"],
        "limited_codes": stage["limited_codes"],
        "exceptions": stage["exceptions"],
        "cpu_percent_of_one_core": cpu,
        "cpu_percent_of_one_core_per_kind": per_kind(cpu),
        "machine_cpu_percent_of_all_cores": sampler.machine_between(stage["started"], stage["ended"]),
    }


def find_knee(stages: list[dict[str, Any]]) -> dict[str, Any]:
    """The first stage where more users stop buying throughput (under 10 % more requests/s), p95 blows up
    (over 3x the first stage's and over 1 s), or errors start; with the busiest process there."""
    first = stages[0]
    for previous, stage in itertools.pairwise(stages):
        reasons = []
        if stage["errors"]:
            reasons.append(f"{stage['errors']} errors")
        if stage["per_second"] < previous["per_second"] * 1.10:
            reasons.append(f"requests/s {previous['per_second']} -> {stage['per_second']}")
        if stage["p95_ms"] > max(3 * first["p95_ms"], 1000):
            reasons.append(f"p95 {first['p95_ms']:.0f} ms at {first['users']} users -> {stage['p95_ms']:.0f} ms")
        if reasons:
            return {
                "saturated_at_users": stage["users"],
                "last_good_users": previous["users"],
                "last_good_per_second": previous["per_second"],
                "reasons": reasons,
                "busiest_processes": dict(list(stage["cpu_percent_of_one_core_per_kind"].items())[:5]),
            }
    return {"saturated_at_users": None, "reasons": ["throughput still rising at the last stage"]}


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "")
    return {
        "cpus": psutil.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "locust": version("locust"),
    }


# --- printing --------------------------------------------------------------------------------------


def print_stage(stage: dict[str, Any], title: str) -> None:
    print(f"\n{title}: {stage['users']} users, {stage['seconds']} s")
    print(
        f"  {stage['requests']} requests, {stage['per_second']} requests/s, {stage['errors']} errors, "
        f"{stage['limited']} limited (429); p50 {stage['p50_ms']:.0f} ms, p95 {stage['p95_ms']:.0f} ms, "
        f"p99 {stage['p99_ms']:.0f} ms"
    )
    width = max(len(route) for route in stage["routes"])
    print(
        f"  {'route':<{width}} {'reqs':>6} {'req/s':>6} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>6} "
        f"{'errors':>6} {'429':>5}"
    )
    for route, figures in stage["routes"].items():
        print(
            f"  {route:<{width}} {figures['requests']:>6} {figures['per_second']:>6.2f} {figures['p50_ms']:>6} "
            f"{figures['p95_ms']:>6} {figures['p99_ms']:>6} {figures['max_ms']:>6.0f} {figures['failures']:>6} "
            f"{figures['limited']:>5}"
        )
    print("  (ms; CHECK rows are outcomes, not requests: an OCR item from its upload to its label)")
    functions = [
        f"{function} {figures['per_second']:.2f}/s p50 {figures['p50_ms']:.0f} p95 {figures['p95_ms']:.0f}"
        for function, figures in stage["functions"].items()
    ]
    print(f"  per function: {'; '.join(functions)}")
    for error in stage["error_messages"]:
        print(f"  error: {error['occurrences']} x {error['route']}: {error['error']}")
    for exception in stage["exceptions"]:
        print(f"  exception in a user: {exception['count']} x {exception['message']}")
    for route, count in stage["limited_codes"].items():
        print(f"  limited: {count} x {route}")
    print(
        f"  CPU, % of one core (mean / peak); the whole machine: "
        f"{stage['machine_cpu_percent_of_all_cores']:.0f}% of all cores"
    )
    for key, figures in list(stage["cpu_percent_of_one_core"].items())[:10]:
        print(f"    {figures['mean']:>5.0f} / {figures['max']:>3.0f}  {key}")


def busiest(stage: dict[str, Any]) -> tuple[str, float]:
    """The stack's busiest kind of process (or thread group) in a stage, and its mean CPU (% of one core)."""
    for kind, mean in stage["cpu_percent_of_one_core_per_kind"].items():
        if kind != ELSEWHERE and not kind.startswith(("locust", "bench.load.run")):
            return kind, mean
    return "", 0.0


def print_saturation(stages: list[dict[str, Any]], knee: dict[str, Any]) -> None:
    print("\nSaturation, per stage (ms; CPU in % of one core):")
    print(
        f"  {'users':>5} {'req/s':>7} {'p50':>6} {'p95':>6} {'errors':>6} {'429':>5} {'auth/s':>6} {'chat p50':>8} "
        f"{'others':>6}  busiest part of the stack"
    )
    for stage in stages:
        name, cpu = busiest(stage)
        auth, chat = stage["functions"].get("auth", {}), stage["functions"].get("chat", {})
        elsewhere = stage["cpu_percent_of_one_core"].get(ELSEWHERE, {}).get("mean", 0.0)
        print(
            f"  {stage['users']:>5} {stage['per_second']:>7.2f} {stage['p50_ms']:>6.0f} {stage['p95_ms']:>6.0f} "
            f"{stage['errors']:>6} {stage['limited']:>5} {auth.get('per_second', 0):>6.2f} "
            f"{chat.get('p50_ms', 0):>8.0f} {elsewhere:>6.0f}  {cpu:.0f}% {name}"
        )
    print("  (auth/s: the auth function's requests a second; others: CPU of processes not in the stack or Locust)")
    if knee["saturated_at_users"] is None:
        print("  No saturation within these stages.")
    else:
        print(
            f"  Saturated at {knee['saturated_at_users']} users ({'; '.join(knee['reasons'])}); "
            f"the last good stage: {knee['last_good_users']} users, {knee['last_good_per_second']} requests/s."
        )


# --- main ------------------------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_url = f"http://127.0.0.1:{os.environ.get('PORT', '3000')}"
    parser.add_argument("--url", default=default_url, help=f"the stack's base URL (default {default_url})")
    parser.add_argument("--users", type=int, default=50, help="simulated app users (default 50)")
    parser.add_argument("--duration", type=float, default=60, help="seconds (default 60)")
    parser.add_argument("--spawn-rate", type=float, default=5, help="new users a second (default 5)")
    parser.add_argument("--think", default="1,3", help="a user's pause between actions: MIN,MAX seconds (1,3)")
    parser.add_argument("--find-saturation", action="store_true", help="step the user count instead")
    parser.add_argument("--stages", default=",".join(map(str, DEFAULT_STAGES)), help="users per stage")
    parser.add_argument("--stage-seconds", type=float, default=30, help="seconds per stage (default 30)")
    parser.add_argument(
        "--json", type=Path, help="where the figures go (bench/results/load.json, or load-saturation.json)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    stages = tuple(int(users) for users in args.stages.split(",")) if args.find_saturation else ()
    if args.json is None:
        args.json = RESULTS / ("load-saturation.json" if stages else "load.json")
    url = args.url.rstrip("/")
    # Everything a run writes goes beside its figures (the smoke test keeps them in its own folder).
    base = args.json.with_suffix("")
    files = {"stack log": Path(f"{base}-stack.log"), "Locust log": Path(f"{base}-locust.log"), "CSV": base}
    with contextlib.ExitStack() as cleanup:
        started = None
        if not healthy(url):
            print(f"Nothing answers GET {url}/health: starting the local stack for this run ...", flush=True)
            started = cleanup.enter_context(stack_process(log_path=files["stack log"]))
            cleanup.callback(print, "Stopped the local stack.", flush=True)
            url = started.url
            print(f"Started the local stack on {url} (its output: {files['stack log']}).", flush=True)
        plan = Plan(url, args.users, args.spawn_rate, args.duration, args.think, stages, args.stage_seconds)
        sampler = CpuSampler(started.process.pid if started else listening_pid(url))
        what = (
            f"stages of {', '.join(map(str, stages))} users, {args.stage_seconds:.0f} s each"
            if stages
            else f"{args.users} users (spawn rate {args.spawn_rate}/s) for {args.duration:.0f} s"
        )
        print(f"Locust: {what} against {url} ...", flush=True)
        sampler.start()
        try:
            code, figures = run_locust(plan, sampler, files["CSV"], files["Locust log"])
        finally:
            sampler.stop()
    results = [summarise(stage, sampler) for stage in figures["stages"]]
    report: dict[str, Any] = {
        "machine": machine(),
        "url": url,
        "stack_started_by_run": started is not None,
        "cpu_sampled": sampler.stack_pid is not None,
        "mode": "saturation" if stages else "run",
        "users": list(stages) or args.users,
        "seconds": args.stage_seconds if stages else args.duration,
        "spawn_rate": "a third of each stage" if stages else args.spawn_rate,
        "think_seconds": args.think,
        "locust_exit_code": code,
        "stages": results,
    }
    print(f"\nMachine: {report['machine']['cpus']} cores, {report['machine']['cpu_model']}")
    if stages:
        for stage in results:
            print_stage(stage, "Stage")
        report["saturation"] = find_knee(results)
        print_saturation(results, report["saturation"])
    else:
        print_stage(results[0], "Run")
    if not report["cpu_sampled"]:
        print("  (no CPU figures for the stack: it does not run on this machine)")
    elsewhere = max(stage["cpu_percent_of_one_core"].get(ELSEWHERE, {}).get("mean", 0.0) for stage in results)
    if elsewhere > 25:
        print(
            f"  Warning: other processes on this machine used up to {elsewhere:.0f}% of one core on average in a "
            "stage: the stack had less CPU than the machine has (see 'everything else on this machine')."
        )
    log = files["Locust log"].read_text(errors="replace")
    if "CPU usage above" in log:
        print("  Warning: Locust itself ran out of CPU at times (see its log); the figures understate the stack.")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1))
    print(f"\nFigures: {args.json}; Locust's summary: {files['Locust log']}; its CSV: {files['CSV']}_*.csv")
    return 1 if not stages and results[0]["errors"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
