"""RAM of Eq. (4), two layer-by-layer alternatives, and the deployed TFLM arena.

* ``eq4`` (the paper): two ping-pong buffers, the input in the even one:
  U_even + U_odd with U_even = max(D^in u_0, D u_i for even i), U_odd = max over odd i.
* ``chain``: a chain executed layer by layer needs only its current input and output:
  max_i (bytes(u_{i-1}) + bytes(u_i)). Eq. 4 is an upper bound of it.
* ``ops``: the live-tensor peak of the lowered operator graph
  (:func:`entronas.space.lowering.lower`: a DS block's depthwise output, a GELU or residual-add
  output, explicit padding), each tensor aligned to 16 bytes as TensorFlow Lite Micro does. A
  lower bound of TFLM's planned activations.
* ``tflm`` (the ``tflm`` convention): the larger of TFLM's planned activation arena (its greedy
  planner replayed exactly, :mod:`entronas.cost.planner`) and its Prepare-time temporaries,
  plus the persistent part modelled from the op list (:mod:`entronas.cost.tflm`): the smallest
  arena TFLM runs the network in, erring high.

``chain`` and ``ops`` are maxima over per-layer peaks that depend on (M_{i-1}, M_i) only, which
is what lets the reduction and the counting DP use them exactly; ``tflm`` is bracketed by such
maxima (plus an additive persistent part), see :mod:`entronas.reduce.tables`.
"""

from __future__ import annotations

import math
from collections import Counter
from functools import lru_cache
from typing import Sequence

from ..space.layers import Layer, Op
from ..space.lowering import lower
from .options import CostOptions

ALIGN = 16


def ram_bytes(outputs: Sequence[int], input_size: int, options: CostOptions) -> int:
    """U^RAM for output sizes u_1..u_L and input size u_0 (``eq4`` and ``chain`` models)."""
    d, d_in = options.activation_bytes, options.input_bytes
    sizes = [d_in * input_size] + [d * u for u in outputs]
    if options.ram_model == "chain":
        return max(a + b for a, b in zip(sizes, sizes[1:]))
    even = max(sizes[0::2])
    odd = max(sizes[1::2], default=0)
    return even + odd


def network_ram(layers: Sequence[Layer], input_size: int, options: CostOptions) -> int:
    """U^RAM of a whole network under ``options.ram_model``."""
    if options.ram_model == "tflm":
        from .planner import greedy_plan

        from .tflm import layer_arena_parts

        sizes, life = network_tensors(layers, options)
        floor, persistent = arena_from_parts(
            [layer_arena_parts(layer, options.dtype, i == 0) for i, layer in enumerate(layers)],
            options)
        return max(greedy_plan(list(zip(sizes, *zip(*life)))), floor) + persistent
    if options.ram_model == "ops":
        return max(layer_peak(layer, options, first=i == 0) for i, layer in enumerate(layers))
    searched = [layer.outputs for layer in layers if layer.searched]
    return ram_bytes(searched, input_size, options)


def arena_from_parts(parts: Sequence[tuple[int, int]], options: CostOptions
                     ) -> tuple[int, int]:
    """(Prepare-time peak, persistent bytes) of a network, fixed parts included, from its
    layers' :func:`~.tflm.layer_arena_parts`: both are linear in the features, so a network's
    are its layers' sums, exactly."""
    from .tflm import fixed_persistent_bytes, prepare_bytes

    return prepare_bytes(Counter(), options.dtype) + sum(a for a, _ in parts), \
        sum(b for _, b in parts) + fixed_persistent_bytes(options.dtype)


def layer_peak(layer: Layer, options: CostOptions, *, first: bool = False) -> int:
    """Peak bytes while executing one layer (its input included).

    ``chain``: input + output buffer. ``ops`` / ``tflm``: live-tensor peak of the layer's
    lowered ops (for ``tflm`` a lower bound of the planned arena's share of this layer).
    ``first`` marks the network's first layer, whose input has ``input_bytes`` per element.
    """
    d_in = options.input_bytes if first else options.activation_bytes
    if options.ram_model in ("ops", "tflm"):
        from .planner import live_peak

        return live_peak(op_tensors(layer.ops, options, first=first))
    return d_in * math.prod(layer.in_shape) + options.activation_bytes * layer.outputs


def layer_persistent(layer: Layer, options: CostOptions, *, first: bool = False) -> int:
    """``tflm``: the layer's share of TFLM's persistent arena (additive); 0 otherwise."""
    if options.ram_model != "tflm":
        return 0
    from .tflm import layer_features, persistent_bytes

    return persistent_bytes(layer_features(layer, options.dtype, first=first), options.dtype)


def prepare_floor(layers: Sequence[Layer], options: CostOptions) -> int:
    """``tflm``: the arena TFLM needs while preparing (a floor under the planned arena); it
    depends on the graph's structure only (0 for the other models)."""
    if options.ram_model != "tflm":
        return 0
    from .tflm import network_features, prepare_bytes

    return prepare_bytes(network_features(layers, options.dtype), options.dtype)


def fixed_ram(options: CostOptions) -> int:
    """RAM bytes counted once per network (TFLM's fixed persistent part under ``tflm``)."""
    if options.ram_model != "tflm":
        return 0
    from .tflm import fixed_persistent_bytes

    return fixed_persistent_bytes(options.dtype)


def align(n: int, a: int = ALIGN) -> int:
    """Round ``n`` bytes up to the runtime's tensor alignment (TFLM: 16 bytes)."""
    return -(-n // a) * a


def network_tensors(layers: Sequence[Layer], options: CostOptions
                    ) -> tuple[list[int], list[tuple[int, int]]]:
    """:func:`op_tensors` of a whole network (sizes, lifetimes), assembled from each layer's
    lowering (cached per layer): why: a reduction replays TFLM's planner on many members made
    of the same few layers. The lowering of a network is its layers' lowerings joined (an op
    never reads past its layer's input), each layer's input being the previous one's output."""
    return join_tensors([layer_graph(layer) for layer in layers], options)


def join_tensors(graphs: Sequence[tuple[tuple[int, ...], tuple[tuple[int, int], ...], int, int]],
                 options: CostOptions) -> tuple[list[int], list[tuple[int, int]]]:
    """The network's (sizes, lifetimes) from its layers' :func:`layer_graph` tuples."""
    sizes: list[int] = []
    life: list[list[int]] = []
    offset = cur = 0
    for j, (elems, lifetimes, n_ops, out) in enumerate(graphs):
        if j == 0:
            sizes.append(align(elems[0] * options.input_bytes))
            life.append(list(lifetimes[0]))
        else:   # the layer's input is the previous layer's output: read until here
            life[cur][1] = max(life[cur][1], offset + lifetimes[0][1])
        base = len(sizes) - 1
        for t in range(1, len(elems)):
            sizes.append(align(elems[t] * options.activation_bytes))
            life.append([offset + lifetimes[t][0], offset + lifetimes[t][1]])
        cur = base + out if out else cur
        offset += n_ops
    return sizes, [(a, b) for a, b in life]


@lru_cache(maxsize=65536)
def layer_graph(layer: Layer) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...], int, int]:
    """(tensor elements, lifetimes, op count, output tensor) of one layer's lowering."""
    g = lower(layer.ops)
    return tuple(t.elements for t in g.tensors), tuple(g.lifetimes()), len(g.ops), g.output


def op_tensors(ops: Sequence[Op], options: CostOptions | None = None, *,
               first: bool = True) -> list[tuple[int, int, int]]:
    """(bytes, first step, last step) of every activation tensor of the lowered graph.

    Bytes are 16-byte aligned; the graph input has ``input_bytes`` per element when ``first``.
    Without ``options`` the sizes are element counts (unaligned).
    """
    g = lower(ops)
    out = []
    for k, (t, (a, b)) in enumerate(zip(g.tensors, g.lifetimes())):
        if options is None:
            out.append((t.elements, a, b))
            continue
        d = options.input_bytes if (k == 0 and first) else options.activation_bytes
        out.append((align(t.elements * d), a, b))
    return out
