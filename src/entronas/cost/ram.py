"""RAM of Eq. (4) and two layer-by-layer alternatives.

* ``eq4`` (the paper): two ping-pong buffers, the input in the even one:
  U_even + U_odd with U_even = max(D^in u_0, D u_i for even i), U_odd = max over odd i.
* ``chain``: a chain executed layer by layer needs only its current input and output:
  max_i (bytes(u_{i-1}) + bytes(u_i)). Eq. 4 is an upper bound of it.
* ``ops``: the live-tensor peak of the lowered operator graph, one tensor per op (a DS block's
  depthwise output, a GELU or residual-add output, explicit padding), each tensor aligned to 16
  bytes as TensorFlow Lite Micro does. It is a lower bound of TFLM's planned activation memory
  and equals it unless TFLM's greedy placement fragments the arena (MLP 64-32-40-56-10 float32:
  peak 384 B, planned 512 B); ``entronas.export.planning.tflm_planned_ram`` replays the greedy
  planner and predicts the plan exactly on every model measured (``tests/export``).

``chain`` and ``ops`` are maxima over per-layer peaks that depend on (M_{i-1}, M_i) only, which
is what lets the reduction and the counting DP use them exactly.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

from ..space.layers import Layer, Op, same_padding
from .options import CostOptions

ALIGN = 16


def ram_bytes(outputs: Sequence[int], input_size: int, options: CostOptions) -> int:
    """U^RAM for output sizes u_1..u_L and input size u_0 (``eq4`` and ``chain`` models)."""
    d, d_in = options.activation_bytes, options.input_bytes
    sizes = [d_in * input_size] + [d * u for u in outputs]
    if options.ram_model == "chain":
        return max(a + b for a, b in zip(sizes, sizes[1:])) + options.ram_overhead
    even = max(sizes[0::2])
    odd = max(sizes[1::2], default=0)
    return even + odd + options.ram_overhead


def network_ram(layers: Sequence[Layer], input_size: int, options: CostOptions) -> int:
    """U^RAM of a whole network under ``options.ram_model`` (fixed overhead included)."""
    if options.ram_model == "ops":
        peaks = [layer_peak(layer, options, first=i == 0) for i, layer in enumerate(layers)]
        return max(peaks) + options.ram_overhead
    searched = [layer.outputs for layer in layers if layer.searched]
    return ram_bytes(searched, input_size, options)


def layer_peak(layer: Layer, options: CostOptions, *, first: bool = False) -> int:
    """Peak bytes while executing one layer (its input included).

    ``chain``: input + output buffer. ``ops``: live-tensor peak of the layer's lowered ops.
    ``first`` marks the network's first layer, whose input has ``input_bytes`` per element.
    """
    d_in = options.input_bytes if first else options.activation_bytes
    if options.ram_model == "ops":
        tensors = op_tensors(layer.ops, layer.in_shape)
        sizes = [align(n * (d_in if k == 0 else options.activation_bytes))
                 for k, (n, _, _) in enumerate(tensors)]
        steps = max(t[2] for t in tensors) + 1
        return max(sum(s for s, (_, a, b) in zip(sizes, tensors) if a <= k <= b)
                   for k in range(steps))
    return d_in * math.prod(layer.in_shape) + options.activation_bytes * layer.outputs


def align(n: int, a: int = ALIGN) -> int:
    """Round ``n`` bytes up to the runtime's tensor alignment (TFLM: 16 bytes)."""
    return -(-n // a) * a


def _needs_pad(op: Op) -> bool:
    """Whether a TFLite conv needs an explicit PAD op (its padding is not TFLite 'SAME')."""
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
