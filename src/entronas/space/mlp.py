"""Multi-layer perceptron backbone: L dense layers (+ optional classifier).

Also the paper's running example (Fig. 1/3): 16 inputs, two dense layers, no classifier.
"""

from __future__ import annotations

from .._core.errors import InvalidSpaceError
from .base import BACKBONES, ChainSpace
from .blocks import BlockBackbone, Position


class MLP(BlockBackbone):
    """Layer i: ``Linear(M_{i-1} -> M_i)`` (+ BatchNorm if ``batchnorm``) + ReLU."""

    name = "mlp"
    kinds = ("dense", "head")
    option_kinds = {"bias": "bool", "batchnorm": "bool"}

    def validate(self, space: ChainSpace) -> None:
        if len(space.input_shape) not in (1, 3):
            raise InvalidSpaceError(f"mlp input_shape must be (N,) or (C,H,W), got "
                                    f"{space.input_shape}")
        super().validate(space)

    def positions(self, space: ChainSpace, depth: int) -> tuple[Position, ...]:
        params = (("batchnorm", bool(space.option("batchnorm", False))),
                  ("bias", bool(space.option("bias", True))))
        return tuple(Position(f"fc{i + 1}", "dense", params=tuple(sorted(params)))
                     for i in range(depth))


BACKBONES.register("mlp", MLP())
