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

from .._core.errors import InvalidSpaceError
from .base import BACKBONES, ChainSpace
from .blocks import BlockBackbone, Position


class MobileNet(BlockBackbone):
    name = "mobilenet"
    kinds = ("conv", "dsconv", "head")
    option_kinds = {"stem_kernel": "int", "stem_stride": "int", "stride_layers": "ints"}

    def validate(self, space: ChainSpace) -> None:
        if len(space.input_shape) != 3:
            raise InvalidSpaceError(f"mobilenet needs a (C,H,W) input_shape, got "
                                    f"{space.input_shape}")
        super().validate(space)

    def positions(self, space: ChainSpace, depth: int) -> tuple[Position, ...]:
        stem = Position("stem", "conv", space.option("stem_stride", 4),
                        params=(("kernel", space.option("stem_kernel", 4)),))
        strided = tuple(space.option("stride_layers", (2, 4, 6)))
        return (stem,) + tuple(Position(f"ds{i + 1}", "dwsep", 2 if (i + 1) in strided else 1)
                               for i in range(1, depth))


BACKBONES.register("mobilenet", MobileNet())
