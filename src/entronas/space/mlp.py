"""Multi-layer perceptron backbone: L dense layers (+ optional classifier).

Also the paper's running example (Fig. 1/3): 16 inputs, two dense layers, no classifier.
"""

from __future__ import annotations

import math

from .._core.errors import InvalidSpaceError
from .base import BACKBONES, Backbone, ChainSpace
from .layers import Layer, linear


class MLP(Backbone):
    """Layer i: ``Linear(M_{i-1} -> M_i)`` (+ BatchNorm if ``batchnorm``) + ReLU."""

    name = "mlp"
    kinds = ("dense", "head")
    option_kinds = {"bias": "bool", "batchnorm": "bool"}

    def validate(self, space: ChainSpace) -> None:
        if len(space.input_shape) not in (1, 3):
            raise InvalidSpaceError(f"mlp input_shape must be (N,) or (C,H,W), got "
                                    f"{space.input_shape}")

    def layer(self, space: ChainSpace, depth: int, i: int, c_in: int | None,
              c_out: int) -> Layer:
        n_in = math.prod(space.input_shape) if c_in is None else c_in
        op = linear(n_in, c_out, bias=bool(space.option("bias", True)),
                    batchnorm=bool(space.option("batchnorm", False)), activation="relu")
        return Layer(f"fc{i + 1}", "dense", (op,))


BACKBONES.register("mlp", MLP())
