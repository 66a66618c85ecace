"""How every worker engine opens an ONNX model: one place for onnxruntime's session options.

Only the worker images install onnxruntime; nothing on an API path imports this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def inference_session(path: Path, threads: int = 0, *, varying_shapes: bool = False) -> Any:
    """A CPU session with every graph optimisation; `threads` intra-op threads (0: onnxruntime's choice).

    `varying_shapes`: the model sees inputs of many sizes (OCR). onnxruntime's arena and memory patterns
    then keep a block for every shape seen, and a worker's memory only grows; without them each run
    allocates what it needs and gives it back."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    if varying_shapes:
        options.enable_cpu_mem_arena = False
        options.enable_mem_pattern = False
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
