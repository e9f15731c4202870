"""Pure-Python look at a ``.tflite``: constant bytes, op list, and the activation bound.

Why: a cheap cross-check that needs no interpreter. The activation bound is the peak, over ops
in execution order, of the live non-constant tensors (each rounded up to TFLM's 16-byte
alignment), i.e. what an optimal planner must reserve for a chain; TFLM's greedy planner reached
it on every chain model measured (deploy.md section 4).
"""

from __future__ import annotations

import math
from typing import Any

from ..cost.ram import align
from .writer import schema

_ITEM = {0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 9: 1, 6: 1, 7: 2}  # TensorType -> bytes


def inspect_tflite(data: bytes) -> dict[str, Any]:
    """const_bytes, activation tensors, per-op live bytes and the chain bound of a model."""
    fb = schema()
    model = fb.ModelT.InitFromPackedBuf(bytearray(data), 0)
    names = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    sg = model.subgraphs[0]
    bufsize = [0 if b.data is None else len(b.data) for b in model.buffers]
    const = [t.buffer > 0 and bufsize[t.buffer] > 0 for t in sg.tensors]
    size = [math.prod(t.shape) * _ITEM.get(t.type, 4) for t in sg.tensors]
    ops = [names[max(model.operatorCodes[o.opcodeIndex].builtinCode,
                     model.operatorCodes[o.opcodeIndex].deprecatedBuiltinCode)]
           for o in sg.operators]
    first: dict[int, int] = {int(i): 0 for i in sg.inputs}
    last: dict[int, int] = {}
    for k, o in enumerate(sg.operators):
        for i in o.outputs:
            first.setdefault(int(i), k)
            last[int(i)] = max(last.get(int(i), k), k)
        for i in o.inputs:
            if i >= 0 and not const[i]:
                last[int(i)] = k
    for i in sg.outputs:
        last[int(i)] = len(sg.operators) - 1
    live = [int(sum(align(size[t]) for t in first if first[t] <= k <= last.get(t, first[t])))
            for k in range(len(sg.operators))]
    channels = 0
    for t in sg.tensors:
        if t.quantization is not None and t.quantization.scale is not None:
            channels += len(t.quantization.scale)
    return {
        "size": len(data),
        "const_bytes": int(sum(bufsize)),
        "ops": ops,
        "activation_bytes": [size[t] for t in first],
        "live_bytes": live,
        "activation_bound": max(live, default=0),
        "channels": channels,
        "description": (model.description or b"").decode() if isinstance(
            model.description, bytes) else (model.description or ""),
    }

