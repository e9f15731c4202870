"""FLOPs of Eq. (5): f x MACs of every convolution and fully connected layer."""

from __future__ import annotations

from typing import Sequence

from ..space.layers import Layer
from .options import CostOptions


def layer_flops(layer: Layer, options: CostOptions) -> int:
    """R_out C_out M N K_w K_h f for each conv/FC op (N/groups for depthwise; f = 2).

    Activations, BatchNorm (folded), pooling and residual additions are not counted, which is
    also what ``torch.utils.flop_counter.FlopCounterMode`` counts.
    """
    return layer.macs * options.flops_per_mac


def flops(layers: Sequence[Layer], options: CostOptions) -> int:
    return sum(layer_flops(layer, options) for layer in layers)
