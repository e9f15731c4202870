"""The single op -> ``torch.nn`` translation; every architecture comes from ``space.layers``.

Why one generic builder: the resource model (``entronas.cost``) counts the very same
:class:`~entronas.space.layers.Op` descriptions, so a network can never be trained with a
shape, padding or width that differs from the one whose ROM/RAM/FLOPs were estimated.

Conventions (Keras-like, as the paper's reference models): BatchNorm ``eps=1e-3``,
``momentum=0.01`` (Keras 0.99); TensorFlow-'same' padding is stored explicitly and applied with
``nn.ZeroPad2d`` when asymmetric (symmetric padding goes into the convolution itself, which
is the same function without an extra copy); weights use PyTorch's default initialisation.
"""

from __future__ import annotations

import copy
import math
from typing import Iterable, Sequence

import torch
from torch import nn

from .._core.arch import Arch
from .._core.errors import InvalidParameterError
from ..space.base import ChainSpace
from ..space.layers import POOL_KINDS, Layer, Op

#: Keras BatchNormalization defaults expressed in PyTorch terms.
BN_EPS = 1e-3
BN_MOMENTUM = 0.01
#: ReLU / ReLU6 in place: an activation always follows its op's own fresh output
#: (convolution, BatchNorm or add), whose backward does not read it, so one large tensor
#: fewer is allocated per layer and step (DS-CNN training steps 1.15x on the 2-core VM,
#: bit-identical weights)
INPLACE_ACTIVATIONS = True


class _MeanHW(torch.autograd.Function):
    """``x.mean((2, 3))`` whose gradient keeps the input's memory format.

    Why: autograd's own backward of a mean hands back a contiguous (NCHW) gradient; in a
    channels-last network the ReLU before the pooling then runs ``threshold_backward`` on one
    NCHW and one channels-last tensor, which was 30x slower than on two channels-last ones
    (0.13 ms against 3.98 ms for 100x84x25x5 on the 2-core VM). The values are the same
    (each element ``g / (H * W)``), so training is bit-identical to the plain mean.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:   # type: ignore[override]
        ctx.shape = x.shape
        ctx.channels_last = (x.is_contiguous(memory_format=torch.channels_last)
                             and not x.is_contiguous())
        return x.mean(dim=(2, 3))

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:   # type: ignore[override]
        n, c, h, w = ctx.shape
        gx = (g / (h * w))[:, :, None, None].expand(n, c, h, w)
        return gx.contiguous(memory_format=torch.channels_last if ctx.channels_last
                             else torch.contiguous_format)


def global_avg_pool(x: torch.Tensor, training: bool) -> torch.Tensor:
    """The mean over H and W; while training, with a gradient in the input's memory format
    (:class:`_MeanHW`); otherwise the plain op, which tracing and export see."""
    if training and x.requires_grad and torch.is_grad_enabled():
        return _MeanHW.apply(x)
    return x.mean(dim=(2, 3))


class OpModule(nn.Module):
    """One :class:`Op`: ``y = act(bn(op(pad(x)))) (+ x if residual)``.

    ``op`` is the conv/linear module (None for pooling), ``bn`` the BatchNorm (None when the
    op has none or after :func:`fold_batchnorm`).
    """

    def __init__(self, desc: Op) -> None:
        super().__init__()
        self.desc = desc
        self.kind = desc.kind
        self.residual = desc.residual
        self.pad: nn.Module | None = None
        self.op: nn.Module | None = None
        self.pool: nn.Module | None = None
        self.bn: nn.Module | None = None
        self.act: nn.Module | None = None
        if desc.kind == "conv2d":
            left, right, top, bottom = desc.padding
            if left == right and top == bottom:
                conv_pad: tuple[int, int] = (top, left)
            else:
                self.pad = nn.ZeroPad2d((left, right, top, bottom))
                conv_pad = (0, 0)
            self.op = nn.Conv2d(desc.in_channels, desc.out_channels, desc.kernel, desc.stride,
                                padding=conv_pad, groups=desc.groups, bias=desc.bias)
            if desc.batchnorm:
                self.bn = nn.BatchNorm2d(desc.out_channels, eps=BN_EPS, momentum=BN_MOMENTUM)
        elif desc.kind == "linear":
            self.op = nn.Linear(desc.in_shape[0], desc.out_shape[0], bias=desc.bias)
            if desc.batchnorm:
                self.bn = nn.BatchNorm1d(desc.out_channels, eps=BN_EPS, momentum=BN_MOMENTUM)
        elif desc.kind in POOL_KINDS:   # 'VALID' windows (see layers.pool2d)
            # not ``op``: that is the weighted op, which folding and export read
            pool = nn.MaxPool2d if desc.kind == "max_pool" else nn.AvgPool2d
            self.pool = pool(desc.kernel, desc.stride)
        elif desc.kind not in ("global_avg_pool", "add"):  # pragma: no cover - closed set
            raise InvalidParameterError(f"cannot build op kind {desc.kind!r}")
        if desc.activation == "relu":
            self.act = nn.ReLU(inplace=INPLACE_ACTIVATIONS)
        elif desc.activation == "relu6":
            self.act = nn.ReLU6(inplace=INPLACE_ACTIVATIONS)
        elif desc.activation == "gelu":
            self.act = nn.GELU()
        elif desc.activation is not None:  # pragma: no cover
            raise InvalidParameterError(f"unknown activation {desc.activation!r}")

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """``z``: an ``"add"`` op's second operand (the output of the op ``skip`` back)."""
        if self.kind == "add":
            y = x + z
            return self.act(y) if self.act is not None else y
        if self.kind == "global_avg_pool":
            return global_avg_pool(x, self.training)
        if self.kind in POOL_KINDS:
            return self.pool(x)
        if self.kind == "linear" and x.dim() > 2:
            x = x.flatten(1)  # a feature map feeding a dense layer (e.g. an MLP on images)
        y = self.pad(x) if self.pad is not None else x
        y = self.op(y)
        if self.bn is not None:
            y = self.bn(y)
        if self.act is not None:
            y = self.act(y)
        if self.residual:
            y = y + x
        return y

    def extra_repr(self) -> str:
        return "residual=True" if self.residual else ""


class LayerModule(nn.Sequential):
    """The ops of one :class:`Layer` (one output buffer); forward hooks here see ``u_i``.

    A plain chain runs op after op; a layer with a shortcut (``Op.source`` / ``Op.skip``)
    keeps the outputs its later ops read."""

    def __init__(self, layer: Layer) -> None:
        super().__init__(*[OpModule(op) for op in layer.ops])
        self.layer = layer
        self.graph = layer.is_graph

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.graph:
            return super().forward(x)
        outs = [x]   # outs[j + 1]: op j's output
        for j, mod in enumerate(self):
            desc = mod.desc
            z = outs[j + 1 - desc.skip] if desc.kind == "add" else None
            outs.append(mod(outs[j + 1 - desc.source], z))
        return outs[-1]


class ChainNet(nn.Module):
    """A chain network: ``layer_modules[i]`` implements ``space.layers(arch)[i]``."""

    def __init__(self, layers: Sequence[Layer], input_shape: Sequence[int], arch: Arch) -> None:
        super().__init__()
        self.arch = arch
        self.input_shape = tuple(int(s) for s in input_shape)
        self.layers = list(layers)
        self.layer_modules = nn.ModuleList(LayerModule(layer) for layer in layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self.layer_modules:
            x = module(x)
        return x

    def op_modules(self) -> Iterable[OpModule]:
        for layer in self.layer_modules:
            yield from layer


def build_model(space: ChainSpace, arch: Arch | Iterable[int],
                num_classes: int | None = None) -> ChainNet:
    """The PyTorch network of ``arch``, made only from ``space.layers(arch)``.

    Args:
        space: the search space the architecture belongs to.
        arch: an :class:`Arch` of ``space`` or a width sequence.
        num_classes: replaces the classifier size of the space's tail (spaces without a tail
            reject a different value: their last searched layer is the output).

    Raises:
        NotInSpaceError: ``arch`` is not a member of ``space``.
        InvalidParameterError: ``num_classes`` given for a space without a classifier.
    """
    widths = space.check_arch(arch)
    if num_classes is not None and num_classes != space.num_classes:
        if space.num_classes == 0 or num_classes < 1:
            raise InvalidParameterError(
                f"space {space.name!r} has no classifier tail (num_classes = 0), so "
                f"num_classes={num_classes} cannot be applied; its last layer is the output"
                if space.num_classes == 0 else
                f"num_classes must be >= 1, got {num_classes}"
            )
        space = space.with_options(num_classes=int(num_classes))
    layers = space.layers(widths)
    return ChainNet(layers, space.input_shape, Arch(space.name, widths))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable-parameter elements (BatchNorm running stats are buffers)."""
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def fold_batchnorm(model: ChainNet) -> ChainNet:
    """An eval-mode copy with every BatchNorm folded into its conv/linear weights and bias.

    ``W' = W * g / sqrt(v + eps)``, ``b' = (b - m) * g / sqrt(v + eps) + beta`` per output
    channel, computed in float64; this is the deployed network the ROM model counts with
    ``CostOptions(bias=True)``.
    """
    folded = copy.deepcopy(model).eval()
    for mod in folded.op_modules():
        bn = mod.bn
        if bn is None:
            continue
        lin = mod.op
        w = lin.weight.detach().double()
        scale = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
        bias = (lin.bias.detach().double() if lin.bias is not None
                else torch.zeros_like(scale))
        new_w = w * scale.view(-1, *([1] * (w.dim() - 1)))
        new_b = (bias - bn.running_mean.double()) * scale + bn.bias.detach().double()
        lin.weight.copy_(new_w.to(lin.weight.dtype))
        if lin.bias is None:
            lin.bias = nn.Parameter(new_b.to(lin.weight.dtype))
        else:
            lin.bias.copy_(new_b.to(lin.bias.dtype))
        mod.bn = None
    return folded


def output_elements(model: ChainNet, x: torch.Tensor) -> list[int]:
    """Per-sample output elements of each layer module (forward hooks), for checks."""
    sizes: list[int] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: sizes.append(
        int(math.prod(out.shape[1:])))) for m in model.layer_modules]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return sizes
