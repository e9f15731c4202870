"""Activation memory of the deployed op graph, from the layer description alone.

The model itself lives in :mod:`entronas.cost.ram` (``ram_model="ops"``) so that the reduction
can use it; this module keeps the export-side name. It equals TFLite Micro's planned activation
memory ("head") on every model measured in ``tests/export``.
"""

from __future__ import annotations

from typing import Iterable

from .._core.arch import Arch
from ..cost.options import CostOptions
from ..cost.ram import op_tensors
from ..space.base import ChainSpace

__all__ = ["op_graph_ram", "op_tensors"]


def op_graph_ram(space: ChainSpace, arch: Arch | Iterable[int], dtype: str = "float32") -> int:
    """Peak live activation bytes of the lowered graph (TFLM's planned "head")."""
    from ..cost import estimate

    return estimate(space, arch, CostOptions.for_dtype(dtype, ram_model="ops")).ram
