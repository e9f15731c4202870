"""Activation memory of the deployed op graph, computed from the layer description alone.

Why: Eq. 4 (two ping-pong buffers per *layer*) and the layer-level chain bound assume a fused
layer writes one buffer. The deployed TFLite graph has one tensor per *op*: a depthwise-separable
block's depthwise output, a GELU output and a residual ADD's output are live buffers too, and a
residual keeps its input alive. This module applies the writer's lowering rules
(:mod:`entronas.export.writer`) to the ops and returns the peak of live tensors (16-byte
aligned, as TFLM plans them) -- the figure TFLM's planner reached on every model measured
(``tests/export``), with no tflite-micro needed, so the search/reduction can use it.
"""

from __future__ import annotations

import math
from typing import Iterable

from .._core.arch import Arch
from ..space.base import ChainSpace
from ..space.layers import Op, same_padding


def _align(n: int, a: int = 16) -> int:
    return -(-n // a) * a


def _needs_pad(op: Op) -> bool:
    if op.kind != "conv2d" or op.padding == (0, 0, 0, 0):
        return False
    _, h, w = op.in_shape
    oh, top, bottom = same_padding(h, op.kernel[0], op.stride[0])
    ow, left, right = same_padding(w, op.kernel[1], op.stride[1])
    return not ((left, right, top, bottom) == op.padding and (oh, ow) == op.out_shape[1:])


def op_tensors(ops: Iterable[Op], input_shape: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """(elements, first step, last step) of every activation tensor of the lowered graph."""
    tensors: list[list[int]] = [[math.prod(input_shape), 0, 0]]
    step = 0
    cur = 0  # index of the tensor holding the current op's input
    for op in ops:
        x = cur
        if op.kind == "global_avg_pool":
            tensors[x][2] = step
            tensors.append([op.out_channels, step, step])
            cur, step = len(tensors) - 1, step + 1
            continue
        src = x
        if _needs_pad(op):
            left, right, top, bottom = op.padding
            c, h, w = op.in_shape
            tensors[x][2] = step
            tensors.append([c * (h + top + bottom) * (w + left + right), step, step])
            src, step = len(tensors) - 1, step + 1
        n_out = math.prod(op.out_shape)
        tensors[src][2] = step
        tensors.append([n_out, step, step])
        y, step = len(tensors) - 1, step + 1
        if op.activation == "gelu":
            tensors[y][2] = step
            tensors.append([n_out, step, step])
            y, step = len(tensors) - 1, step + 1
        if op.residual:
            tensors[y][2] = tensors[x][2] = step
            tensors.append([n_out, step, step])
            y, step = len(tensors) - 1, step + 1
        cur = y
    tensors[cur][2] = max(step - 1, 0)
    return [tuple(t) for t in tensors]  # type: ignore[misc]


def op_graph_ram(space: ChainSpace, arch: Arch | Iterable[int], dtype: str = "float32") -> int:
    """Peak live activation bytes of the lowered graph (TFLM's planned "head")."""
    d = {"float32": 4, "int8": 1}[dtype]
    ops = [op for layer in space.layers(arch) for op in layer.ops]
    tensors = op_tensors(ops, space.input_shape)
    steps = max(t[2] for t in tensors) + 1
    return max(sum(_align(n * d) for n, a, b in tensors if a <= k <= b) for k in range(steps))
