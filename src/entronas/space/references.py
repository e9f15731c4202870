"""Published reference networks, expressed as members of (possibly overridden) chain spaces.

Why: baselines (Table I of the paper, MLPerf Tiny references) must go through the same layer
descriptions, resource model and builder as searched candidates, so their ROM/RAM/FLOPs and
accuracies are comparable. A reference whose widths or strides are off the preset's grid
carries explicit space overrides (e.g. ``layer_widths``); the space keeps its preset name.
Sources: ``/work/shared/reference/datasets.md`` sections 1.6, 1.7, 3.5, 4.3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._core.arch import Arch
from .._core.registry import Registry
from .base import ChainSpace
from .presets import get_space


@dataclass(frozen=True)
class Reference:
    """A named architecture: space preset, widths, overrides of that preset, and its source.

    Attributes:
        name: registry name.
        space: preset space name (``get_space(space, **overrides)``).
        widths: the width tuple (one entry per searched layer).
        overrides: ChainSpace field / option overrides needed for the widths or strides.
        source: where the configuration comes from and how it differs from the original.
    """

    name: str
    space: str
    widths: tuple[int, ...]
    overrides: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def build_space(self) -> ChainSpace:
        return get_space(self.space, **_copy(self.overrides))

    def resolve(self) -> tuple[ChainSpace, Arch]:
        space = self.build_space()
        return space, space.arch(self.widths)


def _copy(overrides: dict[str, Any]) -> dict[str, Any]:
    out = dict(overrides)
    if "options" in out:
        out["options"] = dict(out["options"])
    return out


def _fixed(widths: tuple[int, ...]) -> dict[str, Any]:
    """Overrides that make exactly ``widths`` (and its depth) the allowed grid."""
    return {"depth_min": len(widths), "depth_max": len(widths),
            "layer_widths": tuple((w,) for w in widths)}


#: Reference architectures by name (``entronas references``).
REFERENCES: Registry[Reference] = Registry("reference", "entronas references")


def register_reference(ref: Reference) -> Reference:
    return REFERENCES.register(ref.name, ref)


_MICRONET = ("MicroNet-KWS-{} (Banbury et al., MLSys 2021), layer config of a third-party "
             "PyTorch reimplementation [unverified]; ReLU instead of ReLU6 and a linear head "
             "instead of a 1x1-conv classifier (datasets.md 1.7)")

register_reference(Reference("micronet-kws-s", "dscnn-kws", (84, 112, 84, 84, 84, 196),
                             source=_MICRONET.format("S") + "; on the paper's grid"))
register_reference(Reference("micronet-kws-m", "dscnn-kws", (140, 140, 140, 140, 112, 196),
                             source=_MICRONET.format("M") + "; on the paper's grid"))
_L = (276, 248, 276, 276, 248, 248, 248, 248)
register_reference(Reference("micronet-kws-l", "dscnn-kws", _L, _fixed(_L),
                             source=_MICRONET.format("L") + "; 248/276 are off the 84..280/28 "
                             "grid, so layer_widths is fixed"))
_DS = (64, 64, 64, 64, 64)
register_reference(Reference(
    "mlperf-dscnn", "dscnn-kws", _DS,
    {**_fixed(_DS), "options": {"first_stride": 2, "stride_layers": ()}},
    source="MLPerf Tiny KWS ds_cnn (= Hello-Edge DS-CNN-S), datasets.md 1.6: conv 10x4/2 -> 64, "
           "4 DS blocks of 64 at stride 1; differences: no dropout, convs without own bias "
           "(BN follows), global average pooling over 25x5 instead of Keras' (24,5) pool"))
_AE = (128, 128, 128, 128, 8, 128, 128, 128, 128, 640)
register_reference(Reference(
    "mlperf-fc-ae", "autoencoder-ad", _AE,
    source="MLPerf Tiny AD FC autoencoder 640-128x4-8-128x4-640 with BN+ReLU (datasets.md "
           "3.5); 128 lies on the 32..144/16 grid and depth 10 is the space's maximum, so no "
           "override is needed"))
_MN = (8, 16, 32, 32, 64, 64, 128, 128, 128, 128, 128, 128, 256, 256)
register_reference(Reference(
    "mobilenetv1-0.25-vww", "mobilenet-vww", _MN,
    {**_fixed(_MN), "options": {"stem_kernel": 3, "stem_stride": 2,
                                "stride_layers": (3, 5, 7, 13)}},
    source="MLPerf Tiny VWW MobileNetV1 alpha=0.25 at 96x96x3 (datasets.md 4.3): stem 3x3/2 -> "
           "8, 13 DS blocks, maps 48-24-12-6-3; differences: convs without own bias (BN "
           "follows), PyTorch initialisation"))


register_reference(Reference(
    "mlperf-resnet8", "resnet8-cifar10", (16, 16, 32, 64),
    source="MLPerf Tiny image classification ResNet-8 (resnet_v1_eembc, 16 filters, datasets.md "
           "2.4): conv 3x3 -> 16, stacks of one basic block at 16 (identity), 32 and 64 "
           "(stride 2, 1x1/2 projection); on the preset's grid. Differences: 77,706 weights + "
           "biases where Keras counts 78,666, because each of the 240 BatchNorm channels keeps "
           "4 parameters there (gamma, beta, moving mean and variance) and folds into 1 bias "
           "here; PyTorch initialisation"))


def get_reference(name: str) -> tuple[ChainSpace, Arch]:
    """The (overridden) space and the architecture of reference ``name``."""
    return REFERENCES.get(name).resolve()


def list_references(pattern: str = "*") -> list[str]:
    return REFERENCES.names(pattern)
