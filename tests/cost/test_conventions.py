"""Named cost conventions: serialisable values, one-line errors, counts that add up."""

from __future__ import annotations

import numpy as np
import pytest

from entronas import EntronasError
from entronas.cost import CostOptions, costs, estimate, fixed_rom, layer_rom, resolve_costs
from entronas.space import get_space
from entronas.targets import get_target


def test_conventions_are_values_that_name_themselves() -> None:
    paper, tflm = costs("paper"), costs("tflm", "int8")
    assert paper == CostOptions() and paper.describe() == "paper float32 (Eq. 4)"
    assert tflm.describe().startswith("tflm int8") and tflm.ram_model == "tflm"
    for c in (paper, tflm, costs("paper", "int8", bias=True, ram_model="chain")):
        assert CostOptions.from_dict(c.to_dict()) == c


@pytest.mark.parametrize("call, needle", [
    (lambda: costs("tflm", ram_model="eq4"), "belongs to the paper convention"),
    (lambda: costs("tflm", bias=False), "does not apply to the tflm convention"),
    (lambda: costs("paper", ram_model="tflm"), "must be one of"),
    (lambda: costs("tflmm"), "did you mean 'tflm'"),
    (lambda: costs("paper", "int4"), "dtype"),
    (lambda: CostOptions(ram_model="tflm"), "does not go with"),
    (lambda: CostOptions.from_dict({"ram_overhead": 5}), "unknown cost option"),
])
def test_bad_conventions_are_one_line_errors(call, needle) -> None:
    with pytest.raises(EntronasError, match=needle) as exc:
        call()
    assert "\n" not in str(exc.value)


def test_the_target_chooses_the_convention_when_none_is_named() -> None:
    assert resolve_costs(None, target=get_target("paper-small")).convention == "paper"
    assert resolve_costs(None, target=get_target("stm32f412")).convention == "tflm"
    assert resolve_costs("paper", target=get_target("stm32f412")).convention == "paper"


@pytest.mark.parametrize("name", ["mlp-digits", "dscnn-kws", "autoencoder-ad", "mobilenet-vww"])
@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_tflm_counts_are_sums_over_layers(name: str, dtype: str) -> None:
    """What the reduction adds up layer by layer is what estimate() reports."""
    space = get_space(name)
    opts = costs("tflm", dtype)
    rng = np.random.default_rng(0)
    d = space.depth_min
    widths = [int(rng.choice(space.grid(d, i))) for i in range(d)]
    try:
        space.check_arch(widths)
    except EntronasError:
        widths = [space.grid(d, i)[0] for i in range(d)]
    layers = space.layers(widths)
    total = sum(layer_rom(layer, opts, first=i == 0) for i, layer in enumerate(layers))
    assert estimate(space, widths, opts).rom == total + fixed_rom(opts)


def test_tflm_costs_grow_with_every_width() -> None:
    """The reduction's exactness needs monotone costs (the tables check it and would raise)."""
    from entronas.reduce.tables import build_tables

    for name in ("mlp-digits", "dscnn-kws", "autoencoder-ad"):
        space = get_space(name)
        for dtype in ("float32", "int8"):
            build_tables(space, space.depth_min, costs("tflm", dtype))
