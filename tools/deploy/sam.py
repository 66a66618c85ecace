"""The AWS SAM CLI, pinned and kept in its own virtual environment (.tools/sam): its own pins (boto3,
cfn-lint, …) must not move the project's. Installed on first use, from PyPI.

    python -m tools.deploy.sam validate      # sam validate --lint on template.yaml
    python -m tools.deploy.sam ARGS...       # any sam command, e.g. `build`, `deploy --config-env dev`
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAM_VERSION = "1.170.0"
SAM_HOME = ROOT / ".tools" / "sam"
SAM = SAM_HOME / "bin" / "sam"


def ensure_sam() -> Path:
    stamp = SAM_HOME / f".aws-sam-cli-{SAM_VERSION}"
    if not stamp.is_file():
        print(f"installing the AWS SAM CLI {SAM_VERSION} into {SAM_HOME.relative_to(ROOT)} (once)", flush=True)
        venv.create(SAM_HOME, with_pip=True, clear=True)
        pip = [str(SAM_HOME / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
        done = subprocess.run([*pip, f"aws-sam-cli=={SAM_VERSION}"], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"could not install aws-sam-cli=={SAM_VERSION}:\n{done.stderr[-4000:]}")
        stamp.touch()
    return SAM


def sam_environment(extra_path: Path | None = None) -> dict[str, str]:
    """No telemetry, no update check, a region (validate and build need one, never credentials)."""
    env = {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        "SAM_CLI_DISABLE_UPDATE_CHECK": "1",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    }
    if extra_path is not None:
        env["PATH"] = f"{extra_path}{os.pathsep}{env.get('PATH', '')}"
    return env


def run(*arguments: str, extra_path: Path | None = None) -> int:
    return subprocess.run(
        [str(ensure_sam()), *arguments], cwd=ROOT, env=sam_environment(extra_path), check=False
    ).returncode


def main(argv: list[str]) -> int:
    if argv == ["validate"]:
        return run("validate", "--lint", "--template-file", "template.yaml")
    return run(*argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
