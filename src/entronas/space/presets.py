"""Built-in search spaces, exactly as the paper describes them (Sec. III-A, IV)."""

from __future__ import annotations

from typing import Any, Callable

from .._core.registry import Registry
from .base import ChainSpace, width_grid

#: Space factories by name; each takes keyword overrides of ChainSpace fields / options.
SPACES: Registry[Callable[..., ChainSpace]] = Registry("space", "entronas spaces")

#: One-line descriptions for `entronas spaces`.
DESCRIPTIONS: dict[str, str] = {}


def register_space(name: str, description: str) -> Callable:
    def wrap(factory: Callable[..., ChainSpace]) -> Callable[..., ChainSpace]:
        DESCRIPTIONS[name] = description
        return SPACES.register(name, factory)

    return wrap


def _make(defaults: dict[str, Any], overrides: dict[str, Any]) -> ChainSpace:
    opts = dict(defaults.pop("options", {}))
    opts.update(overrides.pop("options", {}) or {})
    defaults.update(overrides)
    return ChainSpace(options=opts, **defaults)


@register_space("mlp-example", "paper's running example: 16 inputs, 2 dense layers 16..128/16")
def mlp_example(**overrides: Any) -> ChainSpace:
    return _make(dict(name="mlp-example", backbone="mlp", depth_min=2, depth_max=2,
                      widths=width_grid(16, 16, 8), input_shape=(16,), num_classes=0), overrides)


@register_space("dscnn-kws", "DS-CNN for keyword spotting: L 6..8, widths 84..280/28, 49x10 MFCC")
def dscnn_kws(**overrides: Any) -> ChainSpace:
    return _make(dict(name="dscnn-kws", backbone="dscnn", depth_min=6, depth_max=8,
                      widths=width_grid(84, 28, 8), input_shape=(1, 49, 10), num_classes=12),
                 overrides)


@register_space("convmixer-cifar10", "ConvMixer for CIFAR-10: L 8..16, widths 64..176/16, p=2, k=5")
def convmixer_cifar10(**overrides: Any) -> ChainSpace:
    return _make(dict(name="convmixer-cifar10", backbone="convmixer", depth_min=8, depth_max=16,
                      widths=width_grid(64, 16, 8), input_shape=(3, 32, 32), num_classes=10,
                      options={"patch": 2, "kernel": 5}), overrides)


@register_space("mobilenet-vww", "MobileNetV1-style for VWW: L 8..16, widths 64..176/16, 96x96x3")
def mobilenet_vww(**overrides: Any) -> ChainSpace:
    return _make(dict(name="mobilenet-vww", backbone="mobilenet", depth_min=8, depth_max=16,
                      widths=width_grid(64, 16, 8), input_shape=(3, 96, 96), num_classes=2),
                 overrides)


@register_space("autoencoder-ad", "FC autoencoder for anomaly detection: L 5..10, 32..144/16, "
                "bottleneck 8, 640 in/out")
def autoencoder_ad(**overrides: Any) -> ChainSpace:
    return _make(dict(name="autoencoder-ad", backbone="autoencoder", depth_min=5, depth_max=10,
                      widths=width_grid(32, 16, 8), input_shape=(640,), num_classes=0,
                      options={"bottleneck": 8}), overrides)


@register_space("mlp-digits", "MLP for the offline 8x8 digits data: L 1..3, widths 8..128/8")
def mlp_digits(**overrides: Any) -> ChainSpace:
    return _make(dict(name="mlp-digits", backbone="mlp", depth_min=1, depth_max=3,
                      widths=width_grid(8, 8, 16), input_shape=(64,), num_classes=10), overrides)


@register_space("dscnn-digits", "small DS-CNN for the offline 8x8 digits data: L 2..4, 8..64/8")
def dscnn_digits(**overrides: Any) -> ChainSpace:
    return _make(dict(name="dscnn-digits", backbone="dscnn", depth_min=2, depth_max=4,
                      widths=width_grid(8, 8, 8), input_shape=(1, 8, 8), num_classes=10,
                      options={"first_kernel": (3, 3)}), overrides)


@register_space("cnn-digits", "conv + max-pool CNN for the offline 8x8 digits data: L 2..3, "
                "widths 8..64/8, 2x2 max pooling after the first two convolutions")
def cnn_digits(**overrides: Any) -> ChainSpace:
    blocks = ({"block": "conv", "pool": "max"}, {"block": "conv", "pool": "max"},
              {"block": "conv"})
    return _make(dict(name="cnn-digits", backbone="blocks", depth_min=2, depth_max=3,
                      widths=width_grid(8, 8, 8), input_shape=(1, 8, 8), num_classes=10,
                      options={"blocks": blocks}), overrides)


@register_space("resnet8-cifar10", "ResNet basic blocks for CIFAR-10 around MLPerf Tiny's "
                "ResNet-8: L 3..5, widths 8..64, stride 2 at blocks 3 and 4, 32x32x3")
def resnet8_cifar10(**overrides: Any) -> ChainSpace:
    return _make(dict(name="resnet8-cifar10", backbone="resnet", depth_min=3, depth_max=5,
                      widths=(8, 12, 16, 24, 32, 48, 64), input_shape=(3, 32, 32),
                      num_classes=10, options={"stride_layers": (3, 4)}), overrides)


@register_space("mobilenetv2-vww", "MCUNet-like inverted residuals for VWW: L 7..10, stage "
                "widths 8..160 shared by repeated blocks, expansion 6, 96x96x3")
def mobilenetv2_vww(**overrides: Any) -> ChainSpace:
    stages = ((8, 16, 24), (8, 16, 24), (16, 24, 32, 48), (16, 24, 32, 48), (24, 32, 48, 64),
              (24, 32, 48, 64), (48, 64, 96, 128), (48, 64, 96, 128), (64, 96, 128, 160),
              (64, 96, 128, 160))
    return _make(dict(name="mobilenetv2-vww", backbone="mobilenetv2", depth_min=7,
                      depth_max=10, widths=tuple(sorted({w for g in stages for w in g})),
                      layer_widths=stages, input_shape=(3, 96, 96), num_classes=2,
                      options={"stem_stride": 2, "stride_layers": (3, 5, 7),
                               "repeat_layers": (4, 6, 8, 10), "expansion": 6}), overrides)


@register_space("ir7-cifar10", "MCUNet-like inverted residuals of 7 named dimensions (stem "
                "width shared by 2 blocks, 3 expansion widths, a stage width, a block choice, "
                "a head width), 32x32x3: the space file space/files/ir7-cifar10.toml")
def ir7_cifar10(**overrides: Any) -> ChainSpace:
    return _from_file("ir7-cifar10.toml", overrides)


@register_space("mcunet-vww", "MCUNet-like inverted residuals for VWW at 96x96: 13 named "
                "dimensions (stage widths, inner widths, stage depths 1..3), ReLU6: the space "
                "file space/files/mcunet-vww.toml")
def mcunet_vww(**overrides: Any) -> ChainSpace:
    return _from_file("mcunet-vww.toml", overrides)


def _from_file(name: str, overrides: dict[str, Any]) -> ChainSpace:
    """A preset written as a space file (shipped in ``entronas/space/files``)."""
    from importlib.resources import files

    from .config import load_space_file

    space, _ = load_space_file(str(files("entronas.space") / "files" / name))
    return space.with_options(**overrides) if overrides else space


def get_space(preset: str, /, **overrides: Any) -> ChainSpace:
    """A registered space by name, with optional field/option overrides (``name=`` renames it:
    a space file with ``preset`` and ``name`` is a preset under a name of its own)."""
    return SPACES.get(preset)(**overrides)


def list_spaces(pattern: str = "*") -> list[str]:
    return SPACES.names(pattern)
