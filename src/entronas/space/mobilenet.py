"""MobileNetV1-style backbone for visual wake words (the paper's Sec. IV-2).

Layer 1: stem conv ``stem_kernel`` x ``stem_kernel`` with stride ``stem_stride`` ('same'),
3 -> M_1, + BN + ReLU. Layers 2..L: depthwise-separable blocks (3x3 depthwise + BN + ReLU,
1x1 pointwise + BN + ReLU); blocks whose 1-based layer index is in ``stride_layers`` have stride
2. Tail: GAP + FC 2.

Why not MobileNetV1's stride-2 stem at 96x96: in float32 its first feature map alone
(48x48x64 = 589,824 B) exceeds a 256 KiB MCU, so X^f would be empty. The default is a
patchify stem (4x4, stride 4 -> 24x24) and stride-2 blocks at layers 2, 4, 6 (-> 12, 6, 3):
with 64 stem filters the float32 input (110,592 B) plus the stem output (147,456 B) fit
262,144 B, so the small MCU has a useful feasible set. Use ``resolution`` to change the input
size (the input tensor is then ``(3, resolution, resolution)``).
"""

from __future__ import annotations

from functools import lru_cache

from .._core.errors import InvalidSpaceError
from .base import BACKBONES, Backbone, ChainSpace
from .layers import Layer, conv2d, strided_inputs


class MobileNet(Backbone):
    name = "mobilenet"
    kinds = ("conv", "dsconv", "head")
    option_kinds = {"stem_kernel": "int", "stem_stride": "int", "stride_layers": "ints"}

    def validate(self, space: ChainSpace) -> None:
        if len(space.input_shape) != 3:
            raise InvalidSpaceError(f"mobilenet needs a (C,H,W) input_shape, got "
                                    f"{space.input_shape}")
        _in_shapes(space, space.depth_max)

    def layer(self, space: ChainSpace, depth: int, i: int, c_in: int | None,
              c_out: int) -> Layer:
        h, w = _in_shapes(space, depth)[i]
        if i == 0:
            op = conv2d((space.input_shape[0], h, w), c_out, space.option("stem_kernel", 4),
                        space.option("stem_stride", 4))
            return Layer("stem", "conv", (op,))
        stride = 2 if (i + 1) in tuple(space.option("stride_layers", (2, 4, 6))) else 1
        dw = conv2d((c_in, h, w), c_in, 3, stride, groups=c_in)
        pw = conv2d(dw.out_shape, c_out, 1, 1)
        return Layer(f"ds{i + 1}", "dsconv", (dw, pw))


@lru_cache(maxsize=256)
def _in_shapes(space: ChainSpace, depth: int) -> tuple[tuple[int, int], ...]:
    return strided_inputs(space.input_shape[1:], depth, space.option("stem_stride", 4),
                          tuple(space.option("stride_layers", (2, 4, 6))))


BACKBONES.register("mobilenet", MobileNet())
