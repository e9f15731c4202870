"""DS-CNN backbone for keyword spotting (Banbury et al. MicroNets; the paper's Sec. IV-1).

Layer 1: conv ``first_kernel`` (10x4), stride ``first_stride`` (1), 'same' -> 49x10xM_1.
Layers 2..L: one depthwise-separable block each (3x3 depthwise + BN + ReLU, 1x1 pointwise +
BN + ReLU); the blocks at the positions of ``stride_layers`` ((2,): the first block) have
stride 2 (-> 25x5), the rest stride 1. A block is ONE layer for Eq. (4): its buffer is the
pointwise output. Tail: global average pooling + FC to ``num_classes`` (12), not counted in L.
"""

from __future__ import annotations

from .._core.errors import InvalidSpaceError
from .base import BACKBONES, ChainSpace
from .blocks import BlockBackbone, Position


class DSCNN(BlockBackbone):
    name = "dscnn"
    kinds = ("conv", "dsconv", "head")
    option_kinds = {"first_kernel": "pair", "first_stride": "int", "stride_layers": "ints",
                    "dw_kernel": "int"}

    def validate(self, space: ChainSpace) -> None:
        if len(space.input_shape) != 3:
            raise InvalidSpaceError(f"dscnn needs a (C,H,W) input_shape, got {space.input_shape}")
        super().validate(space)

    def positions(self, space: ChainSpace, depth: int) -> tuple[Position, ...]:
        first = Position("conv1", "conv", space.option("first_stride", 1),
                         params=(("kernel", tuple(space.option("first_kernel", (10, 4)))),))
        strided = tuple(space.option("stride_layers", (2,)))
        k = (("kernel", space.option("dw_kernel", 3)),)
        return (first,) + tuple(Position(f"ds{i + 1}", "dwsep", 2 if (i + 1) in strided else 1,
                                         params=k) for i in range(1, depth))


BACKBONES.register("dscnn", DSCNN())
