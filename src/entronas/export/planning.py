"""Activation memory of the deployed op graph, from the layer description alone.

The models live in :mod:`entronas.cost` (``ram_model="ops"`` for the live peak, the planner
replay in :mod:`entronas.cost.planner`) so that the reduction can use them; this module keeps
the export-side names used in reports.
"""

from __future__ import annotations

from typing import Iterable

from .._core.arch import Arch
from ..cost.conventions import costs
from ..cost.planner import greedy_plan
from ..cost.ram import op_tensors
from ..space.base import ChainSpace

__all__ = ["greedy_plan", "op_graph_ram", "tflm_planned_ram"]


def op_graph_ram(space: ChainSpace, arch: Arch | Iterable[int], dtype: str = "float32") -> int:
    """Peak live activation bytes of the lowered graph (a lower bound of TFLM's "head")."""
    from ..cost import estimate

    return estimate(space, arch, costs("paper", dtype, ram_model="ops")).ram


def tflm_planned_ram(space: ChainSpace, arch: Arch | Iterable[int],
                     dtype: str = "float32") -> int:
    """TFLM's planned activation arena ("head") predicted from the layer description."""
    ops = [op for layer in space.layers(arch) for op in layer.ops]
    return greedy_plan(op_tensors(ops, costs("paper", dtype, ram_model="ops")))
