"""Layer descriptions: the single source of truth for a candidate network.

The resource model (``entronas.cost``) counts these descriptions and the PyTorch builder
(``entronas.models``) instantiates exactly these descriptions; tests check that both agree.

Shapes are channels-first like PyTorch: ``(C, H, W)`` for feature maps, ``(N,)`` for vectors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from .._core.errors import InvalidSpaceError

#: Primitive op kinds understood by the cost model and the builders.
OP_KINDS = ("conv2d", "linear", "global_avg_pool", "max_pool", "avg_pool", "add")
#: the windowed pooling op kinds (``pool`` of a conv or dwsep block)
POOL_KINDS = ("max_pool", "avg_pool")


@dataclass(frozen=True)
class Op:
    """One primitive operation: ``y = act(bn(op(pad(x)))) (+ x if residual)``.

    The ops of a layer form a small graph written as a list: an op reads the output of the op
    ``source`` positions before it (1, the default: the previous op; the op before a layer's
    first op is the previous layer, so its output is this layer's input). An ``"add"`` op
    computes ``act(x + z)`` with ``z`` the output of the op ``skip`` positions before it: a
    ResNet basic block is ``conv, conv (no activation), add(skip=3)`` (identity shortcut) or
    ``conv, conv, 1x1 conv(source=3), add(skip=2)`` (projection shortcut). References never
    reach past the layer's input, so a flattened list of a network's ops keeps its meaning.

    Attributes:
        kind: ``"conv2d"`` (incl. depthwise/pointwise via ``groups``/``kernel``), ``"linear"``,
            ``"global_avg_pool"``, ``"max_pool"`` / ``"avg_pool"`` (a ``kernel`` window at
            ``stride``, no padding: TF's 'VALID') or ``"add"``.
        in_shape / out_shape: channels-first shapes.
        kernel, stride: (height, width).
        padding: (left, right, top, bottom) zeros, as ``torch.nn.functional.pad`` takes them;
            TensorFlow-style ``'same'`` padding can be asymmetric, so it is stored explicitly.
        groups: convolution groups (``groups == in_channels`` for depthwise).
        bias: the op has its own additive bias.
        batchnorm: a BatchNorm follows the op (it folds into weights + bias for deployment).
        activation: ``None``, ``"relu"``, ``"relu6"`` (MobileNet's min(max(x, 0), 6)) or
            ``"gelu"``.
        residual: the op's input is added to its output (shapes must match).
        source: which earlier op's output this op reads (1: the previous op).
        skip: ``"add"`` only: which earlier op's output is added to the input.
    """

    kind: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    groups: int = 1
    bias: bool = False
    batchnorm: bool = False
    activation: str | None = None
    residual: bool = False
    source: int = 1
    skip: int = 0

    @property
    def branch(self) -> bool:
        """A side branch (e.g. a shortcut projection): it does not read the previous op."""
        return self.source != 1

    @property
    def in_channels(self) -> int:
        return self.in_shape[0]

    @property
    def out_channels(self) -> int:
        return self.out_shape[0]

    @property
    def kernel_weights(self) -> int:
        """Number of weights in the kernel/matrix (no bias, no BatchNorm)."""
        if self.kind == "conv2d":
            kh, kw = self.kernel
            return self.out_channels * (self.in_channels // self.groups) * kh * kw
        if self.kind == "linear":
            return self.in_shape[0] * self.out_shape[0]
        return 0

    @property
    def bias_terms(self) -> int:
        """Additive terms after folding: own bias or the bias a folded BatchNorm produces."""
        if self.kind in ("conv2d", "linear") and (self.bias or self.batchnorm):
            return self.out_channels
        return 0

    @property
    def macs(self) -> int:
        """Multiply-accumulates of Eq. (5) without the factor f (depthwise uses N/groups)."""
        if self.kind == "conv2d":
            kh, kw = self.kernel
            return math.prod(self.out_shape) * (self.in_channels // self.groups) * kh * kw
        if self.kind == "linear":
            return self.in_shape[0] * self.out_shape[0]
        return 0

    @property
    def log2_width(self) -> float:
        """log2(omega) of Eq. (6): M for FC, M*Kw*Kh/g for convolutions; 0 for pooling, adds
        and side branches (Eq. 6 follows the main path: a projection shortcut adds none)."""
        if self.branch:
            return 0.0
        if self.kind == "conv2d":
            kh, kw = self.kernel
            return math.log2(self.out_channels * kh * kw / self.groups)
        if self.kind == "linear":
            return math.log2(self.out_shape[0])
        return 0.0


@dataclass(frozen=True)
class Layer:
    """One layer l_i of the chain: a short sequence of ops with ONE output buffer (Eq. 4).

    A depthwise-separable block or a ConvMixer block is one layer (fused, as the paper assumes);
    ``searched`` is False for the fixed tail (pooling + classifier) that is not counted in L.
    """

    name: str
    kind: str
    ops: tuple[Op, ...]
    searched: bool = True

    def __post_init__(self) -> None:
        if self.is_graph:
            check_graph(self.ops, f"layer {self.name!r}")

    @property
    def is_graph(self) -> bool:
        """Whether an op reads something other than the previous op (a shortcut)."""
        return any(op.branch or op.kind == "add" for op in self.ops)

    @property
    def in_shape(self) -> tuple[int, ...]:
        return self.ops[0].in_shape

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.ops[-1].out_shape

    @property
    def outputs(self) -> int:
        """u_i: number of intermediate results this layer writes (Eq. 4, footnote 4)."""
        return math.prod(self.out_shape)

    @property
    def kernel_weights(self) -> int:
        return sum(op.kernel_weights for op in self.ops)

    @property
    def bias_terms(self) -> int:
        return sum(op.bias_terms for op in self.ops)

    @property
    def macs(self) -> int:
        return sum(op.macs for op in self.ops)

    @property
    def log2_width(self) -> float:
        return sum(op.log2_width for op in self.ops)


# ----------------------------------------------------------------------------- shape helpers


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """TensorFlow 'same': output ceil(size/stride); returns (out, pad_before, pad_after)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2


def conv2d(
    in_shape: Sequence[int],
    out_channels: int,
    kernel: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    *,
    padding: str = "same",
    groups: int = 1,
    bias: bool = False,
    batchnorm: bool = True,
    activation: str | None = "relu",
    residual: bool = False,
    source: int = 1,
) -> Op:
    """A conv op with its output shape computed (``padding`` is 'same' or 'valid');
    ``source``: read the output of the op that many positions back (see :class:`Op`)."""
    c, h, w = in_shape
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    if padding == "same":
        oh, top, bottom = same_padding(h, kh, sh)
        ow, left, right = same_padding(w, kw, sw)
    elif padding == "valid":
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        top = bottom = left = right = 0
    else:  # pragma: no cover - internal misuse
        raise ValueError(padding)
    if oh < 1 or ow < 1:
        raise InvalidSpaceError(
            f"a {kh}x{kw} stride-{sh} convolution on a {h}x{w} map leaves no output; "
            "use fewer strided layers or a larger input"
        )
    if c % groups or out_channels % groups:
        raise InvalidSpaceError(f"groups={groups} must divide channels {c} -> {out_channels}")
    out = (out_channels, oh, ow)
    if residual and tuple(out) != tuple(in_shape):
        raise InvalidSpaceError(f"residual needs equal shapes, got {tuple(in_shape)} -> {out}")
    return Op(
        "conv2d", tuple(in_shape), out, (kh, kw), (sh, sw), (left, right, top, bottom),
        groups, bias, batchnorm, activation, residual, source,
    )


def linear(
    in_features: int,
    out_features: int,
    *,
    bias: bool = True,
    batchnorm: bool = False,
    activation: str | None = "relu",
) -> Op:
    return Op("linear", (in_features,), (out_features,), bias=bias, batchnorm=batchnorm,
              activation=activation)


def global_avg_pool(in_shape: Sequence[int]) -> Op:
    return Op("global_avg_pool", tuple(in_shape), (in_shape[0],))


def pool2d(in_shape: Sequence[int], kind: str, size: int, stride: int | None = None) -> Op:
    """Max or average pooling over ``size`` x ``size`` windows at ``stride`` (default: the
    size), 'VALID' (no padding: an average over padded zeros differs between TF and PyTorch)."""
    c, h, w = in_shape
    s = size if stride is None else stride
    if kind not in POOL_KINDS:  # pragma: no cover - internal misuse
        raise ValueError(kind)
    if size > h or size > w:
        raise InvalidSpaceError(
            f"a {size}x{size} pooling window does not fit the {h}x{w} map it pools; use a "
            "smaller pool_size, fewer strided layers or a larger input")
    return Op(kind, (c, h, w), (c, (h - size) // s + 1, (w - size) // s + 1), (size, size),
              (s, s))


def add(shape: Sequence[int], skip: int, activation: str | None = "relu") -> Op:
    """``act(x + z)``: the previous op's output plus the output of the op ``skip`` back."""
    if skip < 2:
        raise InvalidSpaceError(f"an add needs a second operand before its input, skip={skip}")
    return Op("add", tuple(shape), tuple(shape), activation=activation, skip=skip)


def check_graph(ops: Sequence[Op], where: str) -> None:
    """Every reference stays inside the op list (or reaches its input) and shapes match."""
    shapes = [ops[0].in_shape] + [op.out_shape for op in ops]   # shapes[j + 1]: op j's output
    for j, op in enumerate(ops):
        refs = [op.source] + ([op.skip] if op.kind == "add" else [])
        for r in refs:
            if not 1 <= r <= j + 1:
                raise InvalidSpaceError(f"{where}: op {j + 1} reads {r} ops back, outside the "
                                        "layer")
        if tuple(shapes[j + 1 - op.source]) != tuple(op.in_shape):
            raise InvalidSpaceError(f"{where}: op {j + 1} expects {op.in_shape} but reads "
                                    f"{shapes[j + 1 - op.source]}")
        if op.kind == "add" and tuple(shapes[j + 1 - op.skip]) != tuple(op.in_shape):
            raise InvalidSpaceError(f"{where}: op {j + 1} adds {shapes[j + 1 - op.skip]} to "
                                    f"{op.in_shape}; the shapes must match")
