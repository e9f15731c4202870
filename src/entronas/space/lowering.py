"""Lowering: layer descriptions -> the TensorFlow Lite operators and tensors they run as.

Why one function: the deployed RAM (activation tensors and their lifetimes), the flatbuffer
size and the persistent arena of a network are all properties of the operator graph the MCU
runtime executes, not of the paper's fused layers. The resource model (``entronas.cost``) counts
this graph and the TFLite writer (``entronas.export.writer``) emits exactly this graph, so a
count and a file can never describe two different networks (tests/export checks both ways).

Each :class:`~entronas.space.layers.Op` lowers to:

* ``conv2d``: [``PAD`` when the padding is neither TF-'same' nor 'valid'] -> ``CONV_2D`` or
  ``DEPTHWISE_CONV_2D`` (``groups == in_channels``), ReLU fused -> [``GELU``] -> [``ADD`` of the
  op input when ``residual``];
* ``linear``: ``FULLY_CONNECTED`` (a 4-D input is flattened by the op itself) -> [``GELU``] ->
  [``ADD``];
* ``global_avg_pool``: ``AVERAGE_POOL_2D`` over the whole map;
* ``max_pool`` / ``avg_pool``: ``MAX_POOL_2D`` / ``AVERAGE_POOL_2D`` over the op's window
  ('VALID'); the int8 output keeps its input's quantisation, as TFLM's kernels require;
* ``add``: ``ADD`` of its input and the output of the op ``skip`` back, activation fused.

An op reads the output of the op ``source`` positions back (:class:`~entronas.space.layers.Op`),
so a shortcut keeps its tensor alive until the ``ADD`` that reads it, as in TFLM.

Tensor lifetimes follow TensorFlow Lite Micro: a tensor lives from the step of the operator that
writes it (the graph input: step 0) to the last step that reads it (the graph output: the last
step). Shapes are the runtime's channels-last shapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from .._core.errors import InvalidSpaceError
from .layers import Op, same_padding

#: builtin operators the lowering emits
OP_CODES = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D",
            "PAD", "GELU", "ADD")
#: the builtin operator of each pooling op kind
POOL_CODES = {"global_avg_pool": "AVERAGE_POOL_2D", "avg_pool": "AVERAGE_POOL_2D",
              "max_pool": "MAX_POOL_2D"}


@dataclass(frozen=True)
class Tensor:
    """One activation tensor of the lowered graph.

    Attributes:
        shape: channels-last runtime shape, ``(1, H, W, C)`` or ``(1, N)``.
        stage: name of the value it holds (``"input"``, ``"op3/act"``, ...), shared with the
            float reference forward pass, whose recorded stages give int8 calibration ranges.
        quant_of: int8 only: reuse the quantisation of this tensor (PAD and pooling outputs keep
            their input's scale); None: calibrated from ``stage``.
    """

    shape: tuple[int, ...]
    stage: str
    quant_of: int | None = None

    @property
    def elements(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class Constant:
    """A constant tensor (weights, bias or PAD paddings) of one operator.

    ``channels`` is the number of per-channel quantisation entries it carries in int8 (weights
    of convolutions: one per output channel; per-tensor weights and paddings: 1 or 0).
    """

    role: str                  # "weights" | "bias" | "paddings"
    shape: tuple[int, ...]
    channels: int = 1

    @property
    def elements(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class RuntimeOp:
    """One TFLite operator: its builtin code, activation inputs/output and constants."""

    code: str
    inputs: tuple[int, ...]
    output: int
    source: int                         # index of the layer op it comes from
    constants: tuple[Constant, ...] = ()


@dataclass(frozen=True)
class Lowered:
    """The lowered graph of a sequence of ops: tensor 0 is the graph input."""

    tensors: tuple[Tensor, ...]
    ops: tuple[RuntimeOp, ...]

    @property
    def output(self) -> int:
        return self.ops[-1].output if self.ops else 0

    def lifetimes(self) -> list[tuple[int, int]]:
        """(first step, last step) of every activation tensor, as TFLM's planner sees them."""
        first = [0] * len(self.tensors)
        last = [0] * len(self.tensors)
        for step, op in enumerate(self.ops):
            first[op.output] = last[op.output] = step
            for i in op.inputs:
                last[i] = max(last[i], step)
        if self.ops:
            last[self.output] = len(self.ops) - 1
        return list(zip(first, last))

    def codes(self) -> tuple[str, ...]:
        """Distinct builtin codes in first-use order (what the op resolver must register)."""
        out: list[str] = []
        for op in self.ops:
            if op.code not in out:
                out.append(op.code)
        return tuple(out)


def runtime_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """Channels-first ``(C, H, W)`` / ``(N,)`` -> the runtime's ``(1, H, W, C)`` / ``(1, N)``."""
    return (1, *shape[1:], shape[0]) if len(shape) == 3 else (1, *shape)


def conv_padding(op: Op) -> str:
    """'SAME' or 'VALID' when TFLite's built-in padding reproduces ``op.padding``, else 'PAD'."""
    _, h, w = op.in_shape
    if op.padding == (0, 0, 0, 0):
        return "VALID"
    oh, top, bottom = same_padding(h, op.kernel[0], op.stride[0])
    ow, left, right = same_padding(w, op.kernel[1], op.stride[1])
    if (left, right, top, bottom) == op.padding and (oh, ow) == op.out_shape[1:]:
        return "SAME"
    return "PAD"


def is_depthwise(op: Op) -> bool:
    return op.kind == "conv2d" and op.groups == op.in_channels and op.groups > 1


def lower(ops: Sequence[Op], *, per_channel_fc: bool = False) -> Lowered:
    """The TFLite graph of ``ops`` (a network, or one layer with its input tensor).

    ``per_channel_fc`` marks fully connected weights as per-channel quantised (int8 option).
    """
    if not ops:
        raise InvalidSpaceError("cannot lower an empty op list")
    tensors: list[Tensor] = [Tensor(runtime_shape(ops[0].in_shape), "input")]
    out: list[RuntimeOp] = []

    def new(shape: Sequence[int], stage: str, quant_of: int | None = None) -> int:
        tensors.append(Tensor(tuple(int(s) for s in shape), stage, quant_of))
        return len(tensors) - 1

    outs: list[int] = []   # the tensor each op wrote

    def output_of(back: int, k: int) -> int:
        j = k - back
        return outs[j] if j >= 0 else 0

    for k, op in enumerate(ops):
        name = f"op{k}"
        x = output_of(op.source, k)
        if op.kind == "add":
            r = new(runtime_shape(op.out_shape), f"{name}/out")
            out.append(RuntimeOp("ADD", (x, output_of(op.skip, k)), r, k))
            outs.append(r)
            continue
        if op.kind in POOL_CODES:
            shape = (1, 1, 1, op.in_shape[0]) if op.kind == "global_avg_pool" \
                else runtime_shape(op.out_shape)
            y = new(shape, f"{name}/out", quant_of=x)
            out.append(RuntimeOp(POOL_CODES[op.kind], (x,), y, k))
            outs.append(y)
            continue
        gelu = op.activation == "gelu"
        shape = runtime_shape(op.out_shape)
        bias = (Constant("bias", (op.out_channels,), op.out_channels),) if op.bias_terms else ()
        src = x
        if op.kind == "conv2d":
            if op.groups != 1 and not is_depthwise(op):
                raise InvalidSpaceError(
                    f"TFLite has no grouped convolution (groups={op.groups}, {op.in_channels} "
                    "channels); only groups=1 or depthwise convolutions can be lowered")
            if conv_padding(op) == "PAD":
                left, right, top, bottom = op.padding
                c, h, w = op.in_shape
                src = new((1, h + top + bottom, w + left + right, c), f"{name}/pad",
                          quant_of=x)
                out.append(RuntimeOp("PAD", (x,), src, k, (Constant("paddings", (4, 2), 0),)))
            kh, kw = op.kernel
            if is_depthwise(op):
                code, wshape = "DEPTHWISE_CONV_2D", (1, kh, kw, op.out_channels)
            else:
                code, wshape = "CONV_2D", (op.out_channels, kh, kw, op.in_channels)
            weights = Constant("weights", wshape, op.out_channels)
        else:  # linear
            code = "FULLY_CONNECTED"
            weights = Constant("weights", (op.out_shape[0], math.prod(op.in_shape)),
                               op.out_channels if per_channel_fc else 1)
            if not per_channel_fc and bias:
                bias = (Constant("bias", (op.out_channels,), 1),)
        y = new(shape, f"{name}/pre" if gelu else f"{name}/act")
        out.append(RuntimeOp(code, (src,), y, k, (weights, *bias)))
        if gelu:
            g = new(shape, f"{name}/act")
            out.append(RuntimeOp("GELU", (y,), g, k))
            y = g
        if op.residual:
            r = new(shape, f"{name}/out")
            out.append(RuntimeOp("ADD", (y, x), r, k))
            y = r
        outs.append(y)
    return Lowered(tuple(tensors), tuple(out))


__all__ = ["Constant", "Lowered", "OP_CODES", "POOL_CODES", "RuntimeOp", "Tensor", "conv_padding",
           "is_depthwise", "lower", "runtime_shape"]
