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

from .._core.errors import InvalidSpaceError
from .base import BACKBONES, ChainSpace
from .blocks import BlockBackbone, Position

SHORTCUTS = ("identity", "projection")


class ResNet(BlockBackbone):
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
        super().validate(space)

    def positions(self, space: ChainSpace, depth: int) -> tuple[Position, ...]:
        out = [Position("conv1", "conv", params=(("bias", True),))]
        strided = tuple(space.option("stride_layers", (3, 4)))
        for i in range(1, depth):
            stride = 2 if (i + 1) in strided else 1
            # the identity shortcut adds the block input, so its width is tied ("eq")
            identity = stride == 1 and space.option("shortcut", "identity") == "identity"
            out.append(Position(f"res{i + 1}", "basic", stride,
                                params=(("shortcut", "identity" if identity else "projection"),)))
        return tuple(out)


BACKBONES.register("resnet", ResNet())
