"""ConvMixer backbone for CIFAR-10 (Trockman & Kolter; the paper's Sec. IV-2).

Layer 1: patch embedding conv p x p, stride p (default p=2), 3 -> M_1, + BN + GELU.
Layers 2..L: one ConvMixer block each: depthwise k x k ('same', default k=5) on M_{i-1} + BN +
GELU with a residual connection, then pointwise M_{i-1} -> M_i + BN + GELU. One layer for
Eq. (4) (the residual block is fused, as the paper assumes). Tail: GAP + FC 10.
The original ConvMixer applies GELU before BatchNorm; we use conv -> BN -> GELU so that BN
folds into the convolution for deployment. TensorFlow Lite Micro has no GELU kernel: the option
``activation="relu"`` gives a ConvMixer that runs on the MCU runtime.
"""

from __future__ import annotations

from .._core.errors import InvalidSpaceError
from .base import BACKBONES, ChainSpace
from .blocks import BlockBackbone, Position


class ConvMixer(BlockBackbone):
    name = "convmixer"
    kinds = ("patch", "convmixer", "head")
    option_kinds = {"activation": ("gelu", "relu"), "patch": "int", "bias": "bool",
                    "kernel": "int"}

    def validate(self, space: ChainSpace) -> None:
        if len(space.input_shape) != 3:
            raise InvalidSpaceError(f"convmixer needs a (C,H,W) input_shape, got "
                                    f"{space.input_shape}")
        p = space.option("patch", 2)
        if space.input_shape[1] < p or space.input_shape[2] < p:
            raise InvalidSpaceError(f"patch size {p} is larger than the input "
                                    f"{space.input_shape[1:]}")
        super().validate(space)

    def positions(self, space: ChainSpace, depth: int) -> tuple[Position, ...]:
        p = space.option("patch", 2)
        bias = (("bias", bool(space.option("bias", True))),)
        act = (("activation", space.option("activation", "gelu")),)
        patch = Position("patch", "conv", p, params=tuple(sorted(
            (("kernel", p), ("padding", "valid")) + bias + act)), layer_kind="patch")
        mix = tuple(sorted((("kernel", space.option("kernel", 5)),) + bias + act))
        return (patch,) + tuple(Position(f"mixer{i + 1}", "mixer", params=mix)
                                for i in range(1, depth))


BACKBONES.register("convmixer", ConvMixer())
