"""MobileNetV2 / MCUNet-style inverted-residual backbone (Sandler et al. 2018; Lin et al. 2020).

Layer 1: stem conv 3x3 with stride ``stem_stride`` ('same') -> M_1 (BN, ReLU). Layers 2..L: one
inverted-residual block each: a 1x1 expansion to ``expansion`` x M_{i-1} channels (BN, ReLU;
left out when the ratio is 1), a 3x3 depthwise convolution at stride s (BN, ReLU) and a linear
1x1 projection to M_i (BN, no activation). Blocks at the positions of ``stride_layers`` have
stride 2. Blocks at the positions of ``repeat_layers`` repeat the previous block's width (the
"eq" rule: one stage width shared by its blocks) and add their input, as MobileNetV2's repeated
blocks do; they must keep the map (stride 1). Layer 2 uses ``first_expansion`` (MobileNetV2:
1). ``activation = "relu6"`` gives MobileNetV2's ReLU6 (default ReLU, as the counts and tables
so far were made with). Difference from MobileNetV2: no final 1x1 conv before the pooling.

A block is ONE layer for Eq. (4) (the paper's fused inverted bottleneck): its buffer is the
projection (or the add) output; the ``ops`` and ``tflm`` RAM models see the expanded tensors and
the block input alive until the add. Tail: global average pooling + FC to ``num_classes``.
"""

from __future__ import annotations

from .._core.errors import InvalidSpaceError
from .base import BACKBONES, ChainSpace
from .blocks import BlockBackbone, Position


class MobileNetV2(BlockBackbone):
    name = "mobilenetv2"
    kinds = ("conv", "invres", "head")
    option_kinds = {"stem_stride": "int", "stride_layers": "ints", "repeat_layers": "ints",
                    "expansion": "int", "first_expansion": "int",
                    "activation": ("relu", "relu6")}

    def validate(self, space: ChainSpace) -> None:
        if len(space.input_shape) != 3:
            raise InvalidSpaceError(f"mobilenetv2 needs a (C,H,W) input_shape, got "
                                    f"{space.input_shape}")
        strided = set(_opt(space, "stride_layers"))
        repeats = set(_opt(space, "repeat_layers"))
        both = sorted(strided & repeats)
        if both or 1 in strided | repeats:
            bad = both or [1]
            raise InvalidSpaceError(
                f"space {space.name!r}: layer {bad[0]} is in "
                + ("both stride_layers and repeat_layers; a repeated block adds its input, so "
                   "it must keep the map" if both else
                   "stride_layers or repeat_layers, which name blocks (layers 2..L); layer 1 "
                   "is the stem"))
        super().validate(space)

    def positions(self, space: ChainSpace, depth: int) -> tuple[Position, ...]:
        act = space.option("activation", "relu")
        stem = (("activation", act),) if act != "relu" else ()
        out = [Position("stem", "conv", space.option("stem_stride", 2), params=stem)]
        for i in range(1, depth):
            t = space.option("first_expansion", 1) if i == 1 else space.option("expansion", 6)
            # a repeated block adds its input: one stage width ("eq")
            repeat = (i + 1) in _opt(space, "repeat_layers")
            out.append(Position(
                f"ir{i + 1}", "invres", 2 if (i + 1) in _opt(space, "stride_layers") else 1,
                params=(("activation", act), ("expansion", t),
                        ("shortcut", "identity" if repeat else "none"))))
        return tuple(out)


def _opt(space: ChainSpace, key: str) -> tuple[int, ...]:
    return tuple(space.option(key, (3, 5, 7) if key == "stride_layers" else ()))


BACKBONES.register("mobilenetv2", MobileNetV2())
