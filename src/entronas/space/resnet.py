"""ResNet backbone of basic blocks (He et al. 2016), as MLPerf Tiny's ResNet-8 (datasets.md 2.4).

Layer 1: conv 3x3/1 'same' -> M_1 (bias, BN, ReLU). Layers 2..L: one basic block each: conv
3x3/s -> M_i (bias, BN, ReLU), conv 3x3/1 -> M_i (bias, BN), plus the shortcut, then ReLU. The
blocks at the positions of ``stride_layers`` ((3, 4): ResNet-8's stacks 2 and 3) have stride 2
and a 1x1/2 projection shortcut (bias, no BN). The other blocks keep the map and, with
``shortcut = "identity"`` (the default, as ResNet-8), add their input unchanged, which ties
their width to the previous layer's (the "eq" rule); ``shortcut = "projection"`` gives every
block a 1x1 projection and leaves its width free. (An identity shortcut wherever the widths
happen to match would make a block cheaper than a narrower-input one, which the exact reduction
cannot allow.)

A block is ONE layer for Eq. (4), as the paper fuses residual blocks: its buffer is the block
output. The lowered graph keeps the block input alive until the add, which the ``ops`` and
``tflm`` RAM models count. Tail: global average pooling + FC to ``num_classes``.
"""

from __future__ import annotations

from functools import lru_cache

from .._core.errors import InvalidSpaceError
from .base import BACKBONES, Backbone, ChainSpace
from .layers import Layer, add, conv2d, strided_inputs

SHORTCUTS = ("identity", "projection")


class ResNet(Backbone):
    name = "resnet"
    kinds = ("conv", "resblock", "head")
    option_kinds = {"stride_layers": "ints", "shortcut": SHORTCUTS}

    def validate(self, space: ChainSpace) -> None:
        if len(space.input_shape) != 3:
            raise InvalidSpaceError(f"resnet needs a (C,H,W) input_shape, got "
                                    f"{space.input_shape}")
        if 1 in tuple(space.option("stride_layers", (3, 4))):
            raise InvalidSpaceError(f"space {space.name!r}: stride_layers names blocks (layers "
                                    "2..L); layer 1 is the stem, which keeps the map")
        _in_shapes(space, space.depth_max)

    def relation(self, space: ChainSpace, depth: int, i: int) -> str | None:
        if _identity(space, i):
            return "eq"  # the identity shortcut adds the block input: same width
        return super().relation(space, depth, i)

    def layer(self, space: ChainSpace, depth: int, i: int, c_in: int | None,
              c_out: int) -> Layer:
        h, w = _in_shapes(space, depth)[i]
        if i == 0:
            stem = conv2d((space.input_shape[0], h, w), c_out, 3, 1, bias=True)
            return Layer("conv1", "conv", (stem,))
        stride = 2 if _strided(space, i) else 1
        a = conv2d((c_in, h, w), c_out, 3, stride, bias=True)
        b = conv2d(a.out_shape, c_out, 3, 1, bias=True, activation=None)
        if _identity(space, i) and c_in == c_out:  # (unequal pairs: forbidden by "eq")
            ops = (a, b, add(b.out_shape, skip=3))
        else:  # 1x1 projection of the block input (3 ops back), then the add of b (2 back)
            proj = conv2d((c_in, h, w), c_out, 1, stride, bias=True, batchnorm=False,
                          activation=None, source=3)
            ops = (a, b, proj, add(b.out_shape, skip=2))
        return Layer(f"res{i + 1}", "resblock", ops)


def _strided(space: ChainSpace, i: int) -> bool:
    return (i + 1) in tuple(space.option("stride_layers", (3, 4)))


def _identity(space: ChainSpace, i: int) -> bool:
    """Block i keeps the map and adds its input unchanged (its width tied to layer i-1's)."""
    return i > 0 and not _strided(space, i) and \
        space.option("shortcut", "identity") == "identity"


@lru_cache(maxsize=256)
def _in_shapes(space: ChainSpace, depth: int) -> tuple[tuple[int, int], ...]:
    """Spatial input size of each layer (independent of the widths)."""
    return strided_inputs(space.input_shape[1:], depth, 1,
                          tuple(space.option("stride_layers", (3, 4))))


BACKBONES.register("resnet", ResNet())
