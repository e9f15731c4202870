"""Activation memory of the deployed op graph, from the layer description alone.

The model itself lives in :mod:`entronas.cost.ram` (``ram_model="ops"``) so that the reduction
can use it; this module keeps the export-side name. It is a lower bound of TFLite Micro's planned
activation memory ("head"); :func:`tflm_planned_ram` replays TFLM's greedy planner and predicts
the head exactly on every model measured in ``tests/export``.
"""

from __future__ import annotations

from typing import Iterable

from .._core.arch import Arch
from ..cost.options import CostOptions
from ..cost.ram import align, op_tensors
from ..space.base import ChainSpace

__all__ = ["greedy_plan", "op_graph_ram", "op_tensors", "tflm_planned_ram"]


def op_graph_ram(space: ChainSpace, arch: Arch | Iterable[int], dtype: str = "float32") -> int:
    """Peak live activation bytes of the lowered graph (TFLM's planned "head")."""
    from ..cost import estimate

    return estimate(space, arch, CostOptions.for_dtype(dtype, ram_model="ops")).ram


def greedy_plan(tensors: list[tuple[int, int, int]]) -> int:
    """Arena bytes of TFLite Micro's GreedyMemoryPlanner for (bytes, first, last) tensors.

    Why: the live-tensor peak (``ram_model="ops"``) is a lower bound; TFLM's planner places
    tensors largest first (ties in tensor order) at the lowest offset that does not overlap a
    time-overlapping tensor, which can fragment the arena (e.g. MLP 64-32-40-56-10 in float32:
    peak 384 B, planned 512 B). This reproduces that placement for one network.
    """
    order = sorted(range(len(tensors)), key=lambda i: -tensors[i][0])  # stable: ties keep order
    placed: list[tuple[int, int]] = []  # (offset, index), kept sorted by offset
    top = 0
    for i in order:
        size, first, last = tensors[i]
        offset = 0
        for off, j in placed:
            _, f2, l2 = tensors[j]
            if l2 < first or f2 > last:  # not alive at the same time
                continue
            if off - offset >= size:
                break
            offset = max(offset, off + tensors[j][0])
        placed.append((offset, i))
        placed.sort()
        top = max(top, offset + size)
    return top


def tflm_planned_ram(space: ChainSpace, arch: Arch | Iterable[int],
                     dtype: str = "float32") -> int:
    """TFLM's planned activation arena ("head") predicted from the layer description."""
    d = {"float32": 4, "int8": 1}[dtype]
    ops = [op for layer in space.layers(arch) for op in layer.ops]
    tensors = [(align(n * d), a, b) for n, a, b in op_tensors(ops, space.input_shape)]
    return greedy_plan(tensors)
