"""Fully connected autoencoder for anomaly detection (MLPerf Tiny FC-AE; the paper's Sec. IV-3).

L counts every dense layer, including the fixed bottleneck (``bottleneck``, 8 units) and the
output layer (``input size``, 640 units). With a = ceil((L-2)/2) encoder hidden layers and
b = L-2-a decoder hidden layers, an architecture's widths are
``(e_1, ..., e_a, bottleneck, d_1, ..., d_b, 640)`` with e non-increasing and d non-decreasing.
Fixed layers have a one-value grid, so depth == len(widths) still holds. Hidden layers and the
bottleneck are Dense + BatchNorm + ReLU (as the MLPerf reference); the output layer is linear.
"""

from __future__ import annotations

import math

from .._core.errors import InvalidSpaceError
from .base import BACKBONES, ChainSpace
from .blocks import BlockBackbone, Position


def encoder_layers(depth: int) -> int:
    """a = ceil((L - 2) / 2)."""
    return -(-(depth - 2) // 2)


class Autoencoder(BlockBackbone):
    name = "autoencoder"
    kinds = ("dense",)
    option_kinds = {"bottleneck": "int", "batchnorm": "bool"}

    def validate(self, space: ChainSpace) -> None:
        if space.depth_min < 3:
            raise InvalidSpaceError("autoencoder depth_min must be >= 3 (encoder, bottleneck, "
                                    "output)")
        if space.num_classes:
            raise InvalidSpaceError("autoencoder spaces have no classifier: set num_classes = 0")
        super().validate(space)

    def positions(self, space: ChainSpace, depth: int) -> tuple[Position, ...]:
        """Where the bottleneck sits depends on the depth: the encoder is non-increasing, the
        decoder non-decreasing; the bottleneck and the output have one-value grids."""
        a, bn = encoder_layers(depth), bool(space.option("batchnorm", True))
        hidden = (("batchnorm", bn),)
        out = []
        for i in range(depth):
            rule = "le" if 1 <= i < a else "ge" if a + 1 < i < depth - 1 else "free"
            if i == depth - 1:
                out.append(Position("output", "dense", rule=rule,
                                    widths=(math.prod(space.input_shape),),
                                    params=(("activation", "none"), ("batchnorm", False))))
            elif i == a:
                out.append(Position("bottleneck", "dense", rule=rule,
                                    widths=(int(space.option("bottleneck", 8)),), params=hidden))
            else:
                out.append(Position(f"fc{i + 1}", "dense", rule=rule, widths=space.widths,
                                    params=hidden))
        return tuple(out)


BACKBONES.register("autoencoder", Autoencoder())
