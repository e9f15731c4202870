"""Reference architectures: resource figures of the paper and builder/FLOP agreement."""

from __future__ import annotations

import pytest

from entronas._core.errors import UnknownNameError
from entronas.cost import CostOptions, estimate
from entronas.space.references import REFERENCES, get_reference, list_references


def test_micronet_rom_matches_paper_table() -> None:
    """Paper Table I: MicroNet-KWS-S 236 kB and -L 1,985 kB (footnote 3: w = M*N, no bias)."""
    space, arch = get_reference("micronet-kws-s")
    assert arch.widths == (84, 112, 84, 84, 84, 196) and space.name == "dscnn-kws"
    assert estimate(space, arch, CostOptions()).rom == 236_544
    space, arch = get_reference("micronet-kws-l")
    assert arch.widths == (276, 248, 276, 276, 248, 248, 248, 248)
    assert estimate(space, arch, CostOptions()).rom == 1_985_712


@pytest.mark.parametrize("name,params", [
    ("micronet-kws-s", 60_240), ("micronet-kws-m", 111_984), ("micronet-kws-l", 500_328),
    ("mlperf-dscnn", 22_604), ("mlperf-fc-ae", 265_864), ("mobilenetv1-0.25-vww", 210_850),
    ("mlperf-resnet8", 77_706),  # Keras: 78,666 = + 3 x 240 BatchNorm channels' mean/var/...
])
def test_weights_plus_biases_match_published_counts(name: str, params: int) -> None:
    """Conv/dense weights + biases of datasets.md 1.6, 1.7, 3.5, 4.3 (BN folded into a bias)."""
    space, arch = get_reference(name)
    assert estimate(space, arch, CostOptions(bias=True)).weights == params


@pytest.mark.parametrize("name,macs", [("mlperf-fc-ae", 264_192), ("mlperf-dscnn", 2_656_768),
                                       ("mobilenetv1-0.25-vww", 7_489_664),
                                       ("mlperf-resnet8", 12_501_632)])
def test_macs_match_published(name: str, macs: int) -> None:
    space, arch = get_reference(name)
    assert estimate(space, arch).flops == 2 * macs  # published: 264,192, "7.49 M", "12.50 M"


@pytest.mark.parametrize("name", list_references())
def test_every_reference_builds_and_flops_agree(name: str) -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    from entronas.models import build_model

    space, arch = get_reference(name)
    model = build_model(space, arch).eval()
    x = torch.randn(1, *space.input_shape)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        y = model(x)
    assert counter.get_total_flops() == estimate(space, arch).flops
    assert tuple(y.shape[1:]) == space.layers(arch)[-1].out_shape


def test_registry_lookup_and_sources() -> None:
    assert {"micronet-kws-s", "micronet-kws-m", "micronet-kws-l", "mlperf-dscnn",
            "mlperf-fc-ae", "mobilenetv1-0.25-vww", "mlperf-resnet8"} <= set(list_references())
    assert all(REFERENCES.get(n).source for n in list_references())
    with pytest.raises(UnknownNameError, match="did you mean"):
        get_reference("micronet-kws-x")
