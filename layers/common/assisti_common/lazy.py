"""Modules imported at their first use instead of at cold start.

A function's route table (its app module) must load for every request, including the ones that need
no data access: an unauthenticated 401, a 404, a validation error. What sits behind the routes (the
service, PynamoDB and botocore, PyJWT, the openai SDK) is only needed by the requests that reach it,
so the route table takes it through `module()`, and the first attribute read imports it.

Under SnapStart nothing is deferred in practice: the warm-up before the snapshot calls `load_all()`.

The first read goes through `importlib.import_module`, so two requests racing to it wait on the import
system's own module lock instead of seeing a half-run module (the standard library's LazyLoader only
became safe for that in 3.12.3). For mypy the names are imported normally under `TYPE_CHECKING`:

    if TYPE_CHECKING:
        from assisti_auth import service
    else:
        service = lazy.module("assisti_auth.service")
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

_deferred: set[str] = set()


class Deferred:
    """Stands for a module until it is needed; every attribute read is the real module's."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self) -> str:
        return f"<deferred module {self._name!r}>"


def module(name: str) -> Any:
    """`name` (an absolute module name), imported at the first attribute read. An unknown name fails
    here, at cold start, not at the first request."""
    if name not in sys.modules and importlib.util.find_spec(name) is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    _deferred.add(name)
    return Deferred(name)


def pending() -> list[str]:
    """The deferred modules not imported yet."""
    return sorted(name for name in _deferred if name not in sys.modules)


def load_all() -> list[str]:
    """Imports every module deferred so far (SnapStart's warm-up), and returns their names."""
    names = sorted(_deferred)
    for name in names:
        importlib.import_module(name)
    return names
