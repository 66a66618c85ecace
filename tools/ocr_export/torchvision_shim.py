"""Make ``import torchvision`` (and so ``import easyocr``) work against the CPU-only torch wheel.

Why this exists
---------------
easyocr imports torchvision (``easyocr/model/modules.py`` and ``easyocr/recognition.py``). The only
torchvision 0.28.0 wheel available here is a CUDA build (``0.28.0+cu130``), while torch is the CPU
build (``2.13.0+cpu``). When torchvision is imported it registers Python "fake"/meta kernels for its
C++ operators (``torchvision/_meta_registrations.py`` does
``@torch.library.register_fake("torchvision::nms")``). Those registrations require the operator
*schema* to exist already, which normally happens when torchvision's compiled extension
(``torchvision/_C.so``) loads. The CUDA build of that extension does not load against the CPU torch,
so the schema is never defined and the import aborts with::

    RuntimeError: operator torchvision::nms does not exist

The fix, verified with torch 2.13.0+cpu / torchvision 0.28.0: before torchvision is imported, define
the two operator schemas it registers fake kernels for (``nms`` and ``qnms``) in the ``torchvision``
namespace with :mod:`torch.library`. Only the schemas are declared, no kernels: easyocr never calls
these operators (they are used by torchvision's detection models), so nothing ever dispatches to
them. The :class:`torch.library.Library` object must stay alive for as long as the process runs (the
definitions are removed when it is garbage-collected), so it is kept at module scope.

Who uses it
-----------
Only the build-time ONNX export (``export_models.py``) and the reference tests, which run easyocr with
torch. The Lambda runtime (``engine.py``) runs the exported ONNX models on onnxruntime and never
imports torch, torchvision or this module.

Call :func:`install` before the first ``import torchvision`` / ``import easyocr``. It is idempotent.
With a torchvision build that matches torch (e.g. the CPU wheels of the Docker build stage), the
extension loads, defines the operators itself, and this does nothing: defining them here as well would
make the extension's own registration fail.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path
from typing import Any

# The torch.library.Library holding the schema definitions; it must outlive every use of torchvision.
_LIBRARY: Any = None

_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor",
)


def _defined(name: str) -> bool:
    import torch

    try:
        torch._C._dispatch_find_schema_or_throw(f"torchvision::{name}", "")
    except RuntimeError:
        return False
    return True


def _load_torchvision_extension() -> bool:
    """Loads torchvision's compiled ops (``torchvision/_C``) as torchvision itself would, without
    importing torchvision. False when there is none or it does not load against this torch."""
    import torch

    spec = importlib.util.find_spec("torchvision")
    for location in (spec.submodule_search_locations or []) if spec else []:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            candidate = Path(location) / f"_C{suffix}"
            if candidate.is_file():
                try:
                    torch.ops.load_library(str(candidate))  # type: ignore[no-untyped-call]
                except OSError:
                    return False
                return True
    return False


def install() -> None:
    """Declare ``torchvision::nms`` and ``torchvision::qnms`` unless they exist already. Idempotent."""
    global _LIBRARY
    if _LIBRARY is not None:
        return
    import torch

    if not _defined("nms") and _load_torchvision_extension():
        return  # a matching torchvision: its extension defines the operators
    missing = [schema for schema in _SCHEMAS if not _defined(schema.split("(", 1)[0])]
    if not missing:
        return
    library = torch.library.Library("torchvision", "DEF")  # type: ignore[no-untyped-call]  # kept in _LIBRARY
    for schema in missing:
        library.define(schema)  # type: ignore[no-untyped-call]
    _LIBRARY = library
