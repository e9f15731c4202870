"""ROM (flash) of Eq. (3): sum over layers of weights x D + code size of the layer kind.

Under the ``tflm`` convention a layer's ROM is instead its share of the ``.tflite`` flatbuffer
(:mod:`entronas.cost.tflm`); the network adds the container's fixed bytes once.
"""

from __future__ import annotations

from typing import Sequence

from ..space.layers import Layer
from .options import CostOptions


def layer_weights(layer: Layer, options: CostOptions) -> int:
    """w_{t,i}: weights stored for a layer (kernel weights, plus bias terms if counted)."""
    return layer.kernel_weights + (layer.bias_terms if options.bias else 0)


def layer_rom(layer: Layer, options: CostOptions, *, first: bool = False) -> int:
    """rho_{t,i} = w_{t,i} * D_i + cs_t (Eq. 3), with optional int8 refinements.

    With ``bias_bytes`` set, bias terms are stored at that size instead of ``weight_bytes``;
    ``channel_bytes`` adds per-output-channel quantisation parameters of each conv/FC op.
    ``tflm``: the layer's flatbuffer bytes (``first``: the network's first layer, which also
    holds the input tensor).
    """
    if options.convention == "tflm":
        from .tflm import flatbuffer_bytes, layer_features

        return flatbuffer_bytes(layer_features(layer, options.dtype, first=first), options.dtype)
    bias = layer.bias_terms if options.bias else 0
    bias_bytes = options.weight_bytes if options.bias_bytes is None else options.bias_bytes
    fc_bytes = options.channel_bytes if options.fc_channel_bytes is None \
        else options.fc_channel_bytes
    per_channel = sum(op.out_channels * (options.channel_bytes if op.kind == "conv2d"
                                         else fc_bytes)
                      for op in layer.ops if op.kind in ("conv2d", "linear"))
    return (layer.kernel_weights * options.weight_bytes + bias * bias_bytes + per_channel
            + options.code_size(layer.kind))


def fixed_rom(options: CostOptions) -> int:
    """ROM bytes counted once per network (``rom_overhead``; the flatbuffer's fixed part)."""
    if options.convention == "tflm":
        from .tflm import fixed_flatbuffer_bytes

        return fixed_flatbuffer_bytes(options.dtype)
    return options.rom_overhead


def rom_bytes(layers: Sequence[Layer], options: CostOptions) -> int:
    """U^ROM (Eq. 3) over all layers, the fixed tail included, plus the fixed part."""
    return sum(layer_rom(layer, options, first=i == 0) for i, layer in enumerate(layers)) \
        + fixed_rom(options)
