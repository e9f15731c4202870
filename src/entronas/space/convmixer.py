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
from .base import BACKBONES, Backbone, ChainSpace
from .layers import Layer, conv2d


class ConvMixer(Backbone):
    name = "convmixer"
    kinds = ("patch", "convmixer", "head")
    option_kinds = {"activation": ("gelu", "relu"), "patch": "int", "bias": "bool",
                    "kernel": "int"}

    def validate(self, space: ChainSpace) -> None:
        if len(space.input_shape) != 3:
            raise InvalidSpaceError(f"convmixer needs a (C,H,W) input_shape, got "
                                    f"{space.input_shape}")
        if space.option("activation", "gelu") not in ("gelu", "relu"):
            raise InvalidSpaceError(f"convmixer activation must be 'gelu' or 'relu', got "
                                    f"{space.option('activation')!r}")
        p = space.option("patch", 2)
        if space.input_shape[1] < p or space.input_shape[2] < p:
            raise InvalidSpaceError(f"patch size {p} is larger than the input "
                                    f"{space.input_shape[1:]}")

    def layer(self, space: ChainSpace, depth: int, i: int, c_in: int | None,
              c_out: int) -> Layer:
        p = space.option("patch", 2)
        c, h, w = space.input_shape
        bias = bool(space.option("bias", True))
        act = space.option("activation", "gelu")
        if i == 0:
            op = conv2d((c, h, w), c_out, p, p, padding="valid", bias=bias, activation=act)
            return Layer("patch", "patch", (op,))
        hh, ww = h // p, w // p
        k = space.option("kernel", 5)
        dw = conv2d((c_in, hh, ww), c_in, k, 1, groups=c_in, bias=bias, activation=act,
                    residual=True)
        pw = conv2d(dw.out_shape, c_out, 1, 1, bias=bias, activation=act)
        return Layer(f"mixer{i + 1}", "convmixer", (dw, pw))


BACKBONES.register("convmixer", ConvMixer())
