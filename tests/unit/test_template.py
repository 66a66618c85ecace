"""template.yaml is the real deployment: it passes cfn-lint, and every handler in it imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from local.functions import load_handler
from local.template import ROOT, LocalTemplate, load_template

TEMPLATE = LocalTemplate(load_template())


def test_template_passes_cfn_lint():
    result = subprocess.run(
        [Path(sys.executable).parent / "cfn-lint", str(ROOT / "template.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("function", TEMPLATE.functions(), ids=lambda function: function.logical_id)
def test_every_handler_and_code_uri_imports(function):
    assert function.code_uri.is_dir(), function.code_uri
    assert callable(load_handler(function.handler))


def test_layers_point_at_the_common_package():
    for spec in TEMPLATE.of_type("AWS::Serverless::LayerVersion").values():
        content = ROOT / spec["Properties"]["ContentUri"]
        assert (content / "assisti_common" / "__init__.py").is_file()
        assert (content / "requirements.txt").is_file()


def test_no_local_only_route_is_in_the_template():
    paths = [route.path for function in TEMPLATE.functions() for route in function.routes]
    assert paths and not any(path.startswith("/_local") for path in paths)


def test_secrets_are_parameters_never_literals():
    text = (ROOT / "template.yaml").read_text()
    assert "KeysSecretName" in text
    for literal in ("signing_keys", "hash_key", "BEGIN PRIVATE KEY"):
        assert literal not in text
