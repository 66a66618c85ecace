"""The API contract: one OpenAPI document for every HttpApi route, merged from each function's app.

    python -m tools.openapi           writes openapi.json at the repository's root
    python -m tools.openapi --check   exits 1, saying what differs, when openapi.json is stale

The merge lives here only; tests/unit/test_openapi.py and the local gateway's /openapi.json use it too.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from local.template import Function, LocalTemplate, load_template

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT_PATH = ROOT / "openapi.json"
TITLE = "Assisti"
VERSION = "1.0.0"
DESCRIPTION = (
    "The Assisti HTTP API: every route of the API Gateway HTTP API in template.yaml. Send the access token "
    'from sign-in as `Authorization: Bearer …`. Every error has one shape, `{"error": {"code", "message", '
    '"details"}}` (ErrorBody); each route lists the statuses and codes it can answer.'
)
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SCHEMA_REF = "#/components/schemas/"

_IMAGE_ITEMS = ("/ocr", "/vision/animals", "/vision/road-signs")
# OpenAPI links: the response that gives an id, and the operations that take it. A client (and the
# stateful phase of `make fuzz`) follows them from a create to what can be done with what it created.
# (method, path, status) -> ([(method, path) of each target], {parameter: runtime expression}).
LINKS: dict[tuple[str, str, str], tuple[list[tuple[str, str]], dict[str, str]]] = {
    ("POST", "/categories", "201"): (
        [
            ("GET", "/categories/{category_id}"),
            ("PATCH", "/categories/{category_id}"),
            ("DELETE", "/categories/{category_id}"),
            ("GET", "/categories/{category_id}/messages"),
            ("POST", "/categories/{category_id}/messages"),
        ],
        {"path.category_id": "$response.body#/id"},
    ),
    ("POST", "/categories/{category_id}/messages", "201"): (
        [
            ("DELETE", "/categories/{category_id}/messages/{message_id}"),
            ("POST", "/categories/{category_id}/messages/{message_id}/retry"),
        ],
        {"path.category_id": "$response.body#/category_id", "path.message_id": "$response.body#/id"},
    ),
    **{
        ("POST", items, "201"): (
            [(method, f"{items}/{{item_id}}") for method in ("GET", "PATCH", "DELETE")],
            {"path.item_id": "$response.body#/item/id"},
        )
        for items in _IMAGE_ITEMS
    },
}


def http_functions() -> list[Function]:
    """The functions behind the HTTP API, in template order."""
    return [function for function in LocalTemplate(load_template()).functions() if function.routes]


def app_documents() -> dict[str, dict[str, Any]]:
    """Each HTTP function's own OpenAPI document, from the `app` next to its handler."""
    documents: dict[str, dict[str, Any]] = {}
    for function in http_functions():
        module = importlib.import_module(function.handler.rsplit(".", 1)[0])
        documents[function.logical_id] = module.app.openapi()
    return documents


def merge(documents: Mapping[str, dict[str, Any] | None]) -> dict[str, Any]:
    """One document from each function's (keyed by the function's logical id). A schema name that two
    functions define differently is qualified by the function's name (ChatMessageOut); a route or
    security scheme defined twice differently is an error."""
    own = {name: copy.deepcopy(document) for name, document in sorted(documents.items()) if document}
    _qualify_clashing_schemas(own)
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, dict[str, Any]] = {"schemas": {}, "securitySchemes": {}}
    for name, document in own.items():
        for path, item in document.get("paths", {}).items():
            _add_all(paths.setdefault(path, {}), item, f"{name}: path {path}")
        for section, merged in components.items():
            _add_all(merged, document.get("components", {}).get(section, {}), f"{name}: {section}")
    _add_links(paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "paths": paths,
        "components": {section: merged for section, merged in components.items() if merged},
    }


def _add_links(paths: dict[str, dict[str, Any]]) -> None:
    """LINKS, for the routes the merged documents have (a partial merge, in tests, has only some)."""
    for (method, path, status), (targets, parameters) in LINKS.items():
        response = paths.get(path, {}).get(method.lower(), {}).get("responses", {}).get(status)
        if response is None:
            continue
        links = response.setdefault("links", {})
        for target_method, target_path in targets:
            target = paths.get(target_path, {}).get(target_method.lower())
            if target is None:
                raise ValueError(f"LINKS: {method} {path} links to {target_method} {target_path}, which is no route")
            links[target["operationId"]] = {
                "operationId": target["operationId"],
                "parameters": {
                    name: expression
                    for name, expression in parameters.items()
                    if f"{{{name.removeprefix('path.')}}}" in target_path
                },
                "description": f"{target_method} {target_path} with what this created.",
            }


def _add_all(into: dict[str, Any], items: Mapping[str, Any], where: str) -> None:
    for key, value in items.items():
        if key in into and into[key] != value:
            raise ValueError(f"{where}: {key} is defined twice, differently")
        into[key] = value


def _qualify_clashing_schemas(documents: dict[str, dict[str, Any]]) -> None:
    definitions: dict[str, list[tuple[str, Any]]] = {}
    for name, document in documents.items():
        for schema_name, schema in document.get("components", {}).get("schemas", {}).items():
            definitions.setdefault(schema_name, []).append((name, schema))
    for schema_name, defined in definitions.items():
        if len({json.dumps(schema, sort_keys=True) for _, schema in defined}) == 1:
            continue
        for name, _ in defined:
            qualified = name.removesuffix("Function") + schema_name
            schemas = documents[name]["components"]["schemas"]
            assert qualified not in schemas, qualified
            schemas[qualified] = schemas.pop(schema_name)
            for node in _nodes(documents[name]):
                if node.get("$ref") == SCHEMA_REF + schema_name:
                    node["$ref"] = SCHEMA_REF + qualified


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _nodes(item)
    elif isinstance(value, list):
        for item in value:
            yield from _nodes(item)


def generate() -> dict[str, Any]:
    return merge(app_documents())


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(METHOD, path) -> operation, for every operation of the document."""
    return {
        (method.upper(), path): operation
        for path, item in document.get("paths", {}).items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def differences(committed: dict[str, Any], generated: dict[str, Any]) -> list[str]:
    """What changed from the committed document to the generated one, one line per route or schema."""
    lines: list[str] = []

    def compare(kind: str, old: Mapping[Any, Any], new: Mapping[Any, Any]) -> None:
        for key in sorted(old.keys() | new.keys(), key=str):
            label = " ".join(key) if isinstance(key, tuple) else key
            if key not in old:
                lines.append(f"  + {kind} {label} (not in openapi.json)")
            elif key not in new:
                lines.append(f"  - {kind} {label} (no longer in the apps)")
            elif old[key] != new[key]:
                lines.append(f"  ~ {kind} {label}")

    def section(document: dict[str, Any], name: str) -> dict[str, Any]:
        found: dict[str, Any] = document.get("components", {}).get(name, {})
        return found

    def top_level(document: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in document.items() if key not in ("paths", "components")}

    compare("route", operations(committed), operations(generated))
    for name in ("schemas", "securitySchemes"):
        compare(name, section(committed, name), section(generated, name))
    compare("field", top_level(committed), top_level(generated))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.openapi", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if openapi.json is not what the apps generate")
    arguments = parser.parse_args(argv)
    generated = generate()
    if not arguments.check:
        DOCUMENT_PATH.write_text(render(generated))
        print(f"wrote {DOCUMENT_PATH.relative_to(ROOT)}: {len(operations(generated))} routes")
        return 0
    committed = json.loads(DOCUMENT_PATH.read_text()) if DOCUMENT_PATH.exists() else {}
    if committed == generated:
        print(f"{DOCUMENT_PATH.relative_to(ROOT)} is up to date: {len(operations(generated))} routes")
        return 0
    print(f"{DOCUMENT_PATH.relative_to(ROOT)} is stale; run `python -m tools.openapi`. What differs:", file=sys.stderr)
    print("\n".join(differences(committed, generated)), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
