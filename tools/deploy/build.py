"""What `sam build` runs for the layer and each zip function (`BuildMethod: makefile`).

    python -m tools.deploy.build layer    --out $ARTIFACTS_DIR
    python -m tools.deploy.build function --package functions/chat/assisti_chat \
                                          [--requirements functions/chat/requirements.txt] --out $ARTIFACTS_DIR

Both install wheels for the Lambda runtime (CPython 3.12, manylinux x86_64), whatever Python runs this.

- The layer gets its pinned requirements, less what the Lambda runtime already provides (boto3 and
  botocore with their own dependencies: 30 MB the runtime has anyway), and the `assisti_common` package.
- A function gets its package and only the distributions the layer lacks. Its requirements are resolved
  together with the layer's, so a shared dependency (pydantic, pulled in by openai) is the layer's one
  version, never a second copy in the zip that would shadow the layer's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER_REQUIREMENTS = ROOT / "layers" / "common" / "requirements.txt"
LAYER_PACKAGE = ROOT / "layers" / "common" / "assisti_common"

# In the Lambda Python runtime already (on sys.path after /var/task and /opt/python).
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"})
# Also in the runtime, and imported by the layer but not among its requirements: SnapStart's hooks.
RUNTIME_EXTRAS = {"snapshot-restore-py": "1.0.0"}
# The Python 3.12 runtime runs on Amazon Linux 2023 (glibc 2.34): manylinux_2_28 and 2014 wheels both run.
LAMBDA_PLATFORM = [
    "--platform",
    "manylinux_2_28_x86_64",
    "--platform",
    "manylinux2014_x86_64",
    "--implementation",
    "cp",
    "--python-version",
    "3.12",
    "--only-binary=:all:",
]
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]


def pip(*arguments: str) -> None:
    """Runs pip quietly; its output is shown only when it fails."""
    done = subprocess.run([*PIP, *arguments], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"pip {' '.join(arguments[:2])} failed:\n{done.stdout}{done.stderr}")


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


RESOLUTIONS = ROOT / ".aws-sam" / "resolutions"
RESOLUTION_SECONDS = 3600


def resolve(*requirement_files: Path, constraints: dict[str, str] | None = None) -> dict[str, str]:
    """Every distribution (name -> version) pip would install for these files on the Lambda runtime,
    held to `constraints` (name -> version) where given.

    Every function's build resolves the layer's requirements again (each is its own `make` process):
    a resolution is kept on disk, keyed by the files' contents, the constraints and the platform, for
    the span of one build (RESOLUTION_SECONDS): unpinned transitive dependencies move on PyPI, so it is
    not kept longer."""
    pinned = [f"{name}=={version}" for name, version in sorted((constraints or {}).items())]
    key = hashlib.sha256(
        "\0".join([*LAMBDA_PLATFORM, *(path.read_text() for path in requirement_files), *pinned]).encode()
    )
    cached = RESOLUTIONS / f"{key.hexdigest()[:24]}.json"
    if cached.is_file() and time.time() - cached.stat().st_mtime < RESOLUTION_SECONDS:
        pins: dict[str, str] = json.loads(cached.read_text())
        return pins
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        command = ["install", "--quiet", "--dry-run", "--ignore-installed", "--target", scratch]
        command += [*LAMBDA_PLATFORM, "--report", str(report)]
        for path in requirement_files:
            command += ["-r", str(path)]
        if pinned:
            constraints_file = Path(scratch) / "constraints.txt"
            constraints_file.write_text("\n".join(pinned) + "\n")
            command += ["-c", str(constraints_file)]
        pip(*command)
        installs = json.loads(report.read_text())["install"]
    pins = {canonical(entry["metadata"]["name"]): entry["metadata"]["version"] for entry in installs}
    RESOLUTIONS.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.tmp")  # parallel builds: write, then rename into place
    partial.write_text(json.dumps(pins, sort_keys=True))
    os.replace(partial, cached)
    return pins


def install(pins: dict[str, str], target: Path) -> None:
    """Exactly these distributions, without their dependencies (the resolution already chose them).
    No .pyc: pip would compile them for the Python running it, which is not the runtime's 3.12."""
    if pins:
        requirements = [f"{name}=={version}" for name, version in sorted(pins.items())]
        pip("install", "--quiet", "--no-deps", "--no-compile", "--target", str(target), *LAMBDA_PLATFORM, *requirements)
        shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts: nothing in Lambda runs them


def copy_package(package: Path, target: Path) -> None:
    shutil.rmtree(target / package.name, ignore_errors=True)  # a rebuild replaces, never merges
    shutil.copytree(package, target / package.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def layer_pins() -> dict[str, str]:
    return {name: version for name, version in resolve(LAYER_REQUIREMENTS).items() if name not in RUNTIME_PROVIDED}


def build_layer(out: Path) -> None:
    python = out / "python"  # where Lambda looks for a layer's Python code: /opt/python
    python.mkdir(parents=True, exist_ok=True)
    install(layer_pins(), python)
    copy_package(LAYER_PACKAGE, python)


def function_pins(requirements: Path | None) -> dict[str, str]:
    """What the function needs beyond the layer and the runtime, at the versions the layer agrees with."""
    if requirements is None:
        return {}
    layer = layer_pins()
    # Held to the versions the layer was resolved to: resolved on their own, the two could pick
    # different releases of a shared unpinned dependency published between them.
    combined = resolve(LAYER_REQUIREMENTS, requirements, constraints=layer)
    clashes = {name for name in layer if combined.get(name, layer[name]) != layer[name]}
    if clashes:
        raise SystemExit(f"{requirements} needs other versions of the layer's {sorted(clashes)}")
    return {name: version for name, version in combined.items() if name not in layer and name not in RUNTIME_PROVIDED}


def build_function(package: Path, requirements: Path | None, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    install(function_pins(requirements), out)
    copy_package(package, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("unit", choices=["layer", "function"])
    parser.add_argument("--out", type=Path, required=True, help="the build's artifacts folder ($ARTIFACTS_DIR)")
    parser.add_argument("--package", type=Path, help="the function's package folder, e.g. functions/auth/assisti_auth")
    parser.add_argument("--requirements", type=Path, help="the function's own requirements file, if it has one")
    args = parser.parse_args(argv)
    if args.unit == "layer":
        build_layer(args.out)
    else:
        if args.package is None:
            parser.error("function needs --package")
        build_function(ROOT / args.package, ROOT / args.requirements if args.requirements else None, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
