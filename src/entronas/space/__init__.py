"""Search spaces: architectures as values, spaces as data + rules, layers as descriptions."""

from . import (  # noqa: F401  (register the backbones)
    autoencoder, blocks, convmixer, dimensions, dscnn, mlp, mobilenet, mobilenetv2, resnet)
from .base import BACKBONES, Backbone, ChainSpace, width_grid
from .layers import Layer, Op
from .presets import DESCRIPTIONS, SPACES, get_space, list_spaces, register_space

__all__ = [
    "BACKBONES", "Backbone", "ChainSpace", "DESCRIPTIONS", "Layer", "Op", "SPACES", "get_space",
    "list_spaces", "register_space", "width_grid",
]
