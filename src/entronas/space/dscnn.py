"""DS-CNN backbone for keyword spotting (Banbury et al. MicroNets; the paper's Sec. IV-1).

Layer 1: conv ``first_kernel`` (10x4), stride ``first_stride`` (1), 'same' -> 49x10xM_1.
Layers 2..L: one depthwise-separable block each (3x3 depthwise + BN + ReLU, 1x1 pointwise +
BN + ReLU); the block at position ``stride_block`` (2, i.e. the first block) has stride 2
(-> 25x5), the rest stride 1. A block is ONE layer for Eq. (4): its buffer is the pointwise
output. Tail: global average pooling + FC to ``num_classes`` (12), not counted in L.
"""

from __future__ import annotations

from functools import lru_cache

from .._core.errors import InvalidSpaceError
from .base import BACKBONES, Backbone, ChainSpace
from .layers import Layer, conv2d, strided_inputs


class DSCNN(Backbone):
    name = "dscnn"
    kinds = ("conv", "dsconv", "head")
    option_kinds = {"first_kernel": "pair", "first_stride": "int", "stride_layers": "ints",
                    "dw_kernel": "int"}

    def validate(self, space: ChainSpace) -> None:
        if len(space.input_shape) != 3:
            raise InvalidSpaceError(f"dscnn needs a (C,H,W) input_shape, got {space.input_shape}")
        _in_shapes(space, space.depth_max)  # raises if strides leave no output

    def layer(self, space: ChainSpace, depth: int, i: int, c_in: int | None,
              c_out: int) -> Layer:
        h, w = _in_shapes(space, depth)[i]
        if i == 0:
            op = conv2d((space.input_shape[0], h, w), c_out,
                        tuple(space.option("first_kernel", (10, 4))),
                        space.option("first_stride", 1))
            return Layer("conv1", "conv", (op,))
        stride = 2 if (i + 1) in tuple(space.option("stride_layers", (2,))) else 1
        k = space.option("dw_kernel", 3)
        dw = conv2d((c_in, h, w), c_in, k, stride, groups=c_in)
        pw = conv2d(dw.out_shape, c_out, 1, 1)
        return Layer(f"ds{i + 1}", "dsconv", (dw, pw))


@lru_cache(maxsize=256)
def _in_shapes(space: ChainSpace, depth: int) -> tuple[tuple[int, int], ...]:
    """Spatial input size of each layer (independent of the widths)."""
    return strided_inputs(space.input_shape[1:], depth, space.option("first_stride", 1),
                          tuple(space.option("stride_layers", (2,))))


BACKBONES.register("dscnn", DSCNN())
