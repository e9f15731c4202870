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
from .base import BACKBONES, Backbone, ChainSpace
from .layers import Layer, linear


def encoder_layers(depth: int) -> int:
    """a = ceil((L - 2) / 2)."""
    return -(-(depth - 2) // 2)


class Autoencoder(Backbone):
    name = "autoencoder"
    kinds = ("dense",)
    option_kinds = {"bottleneck": "int", "batchnorm": "bool"}

    def validate(self, space: ChainSpace) -> None:
        if space.depth_min < 3:
            raise InvalidSpaceError("autoencoder depth_min must be >= 3 (encoder, bottleneck, "
                                    "output)")
        if space.num_classes:
            raise InvalidSpaceError("autoencoder spaces have no classifier: set num_classes = 0")

    def grid(self, space: ChainSpace, depth: int, i: int) -> tuple[int, ...]:
        a = encoder_layers(depth)
        if i == a:
            return (int(space.option("bottleneck", 8)),)
        if i == depth - 1:
            return (math.prod(space.input_shape),)
        return space.widths

    def relation(self, space: ChainSpace, depth: int, i: int) -> str | None:
        a = encoder_layers(depth)
        if 1 <= i < a:
            return "le"  # encoder: non-increasing
        if a + 1 < i < depth - 1:
            return "ge"  # decoder: non-decreasing
        return None

    def layer(self, space: ChainSpace, depth: int, i: int, c_in: int | None,
              c_out: int) -> Layer:
        n_in = math.prod(space.input_shape) if c_in is None else c_in
        last = i == depth - 1
        bn = bool(space.option("batchnorm", True)) and not last
        op = linear(n_in, c_out, bias=True, batchnorm=bn, activation=None if last else "relu")
        name = "output" if last else ("bottleneck" if i == encoder_layers(depth) else f"fc{i + 1}")
        return Layer(name, "dense", (op,))


BACKBONES.register("autoencoder", Autoencoder())
