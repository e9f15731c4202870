"""The reduction under the deployed convention is exact: X^f equals the brute-force set under
the exact planner replay, M^red is the brute-force maximum, and a conservative count never
holds a network that does not fit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from entronas import EntronasError
from entronas.cost import costs, estimate
from entronas.reduce import reduce_space
from entronas.space import get_space
from entronas.targets import Target

#: small spaces of every backbone, so that brute force over the whole box is quick
SMALL = {
    "mlp": ("mlp-digits", dict(depth_max=3, widths=(8, 16, 24, 32, 48))),
    "dscnn": ("dscnn-digits", dict(depth_max=3, widths=(8, 16, 24, 32))),
    "convmixer": ("convmixer-cifar10", dict(depth_min=2, depth_max=3, widths=(8, 16, 24),
                                            input_shape=(3, 8, 8),
                                            options={"activation": "relu"})),
    "mobilenet": ("mobilenet-vww", dict(depth_min=2, depth_max=3, widths=(8, 16, 24),
                                        input_shape=(3, 16, 16))),
    "autoencoder": ("autoencoder-ad", dict(depth_min=3, depth_max=5, widths=(16, 32, 48),
                                           input_shape=(64,))),
}


def brute(space, target, opts):
    out = set()
    for d in space.depths:
        for ws in itertools.product(*[space.grid(d, i) for i in range(d)]):
            try:
                space.check_arch(ws)
            except EntronasError:
                continue
            c = estimate(space, ws, opts)
            if target.fits(c.rom, c.ram, c.flops):
                out.add(tuple(int(w) for w in ws))
    return out


def _budgets(space, opts, rng):
    """Random budgets between the cheapest and the dearest network (both constraints live)."""
    lo = estimate(space, [space.grid(space.depth_min, i)[0] for i in range(space.depth_min)],
                  opts)
    hi = estimate(space, [space.grid(space.depth_max, i)[-1] for i in range(space.depth_max)],
                  opts)
    f = rng.uniform(0.05, 0.7, size=2)
    return (int(lo.rom + f[0] * (hi.rom - lo.rom)), int(lo.ram + f[1] * (hi.ram - lo.ram)))


@pytest.mark.parametrize("dtype", ["float32", "int8"])
@pytest.mark.parametrize("backbone", sorted(SMALL))
def test_enumerated_set_equals_brute_force_under_the_exact_replay(backbone: str,
                                                                   dtype: str) -> None:
    preset, ov = SMALL[backbone]
    space = get_space(preset, **ov)
    opts = costs("tflm", dtype)
    rng = np.random.default_rng(len(backbone) + (dtype == "int8"))
    checked = 0
    for _ in range(4):
        rom, ram = _budgets(space, opts, rng)
        target = Target("t", rom, ram, ram_reserve=int(rng.integers(0, 64)))
        want = brute(space, target, opts)
        try:
            tree, report = reduce_space(space, target, opts)
        except EntronasError:
            assert not want
            continue
        assert set(a.widths for a in tree) == want
        for d in report.depths:  # M^red (Eq. 2) is the brute-force maximum per layer
            members = [w for w in want if len(w) == d.depth]
            if members:
                assert d.m_red == tuple(max(w[i] for w in members) for i in range(d.depth))
        for a in list(tree)[:: max(1, len(tree) // 25)]:
            assert tree[tree.index_of(a)] == a  # rank / unrank round trip
        checked += 1
    assert checked


@pytest.mark.parametrize("backbone", ["dscnn", "convmixer", "mobilenet"])
def test_a_conservative_count_holds_only_networks_that_fit(backbone: str) -> None:
    preset, ov = SMALL[backbone]
    space = get_space(preset, **ov)
    opts = costs("tflm", "int8")
    rom, ram = _budgets(space, opts, np.random.default_rng(5))
    target = Target("t", rom, ram)
    exact = brute(space, target, opts)
    counted, report = reduce_space(space, target, opts, method="count")
    assert report.conservative and len(counted) <= len(exact)
    members = {tuple(counted.widths_of([i])[0]) for i in range(len(counted))}
    assert members <= exact  # every counted network deploys


def test_a_network_tflm_cannot_run_is_refused_in_one_line() -> None:
    space = get_space("convmixer-cifar10", depth_max=8)
    with pytest.raises(EntronasError, match="GELU.*activation = 'relu'") as exc:
        reduce_space(space, Target("t", 10**6, 2**18), costs("tflm"))
    assert "\n" not in str(exc.value)
    reduce_space(space, Target("t", 10**6, 2**18), costs("paper"), method="count")  # counts


def test_holes_from_the_exact_check_survive_save_and_load(tmp_path) -> None:
    """Feasible widths after a prefix need not be contiguous under the planner replay."""
    from entronas.reduce import FeasibleTree

    preset, ov = SMALL["mlp"]
    space = get_space(preset, **ov)
    opts = costs("tflm", "float32")
    target = Target("t", 16_000, 2_200)
    tree, _ = reduce_space(space, target, opts)
    assert set(a.widths for a in tree) == brute(space, target, opts)
    tree.save(tmp_path / "t.tree")
    loaded = FeasibleTree.load(tmp_path / "t.tree")
    assert [a.widths for a in loaded] == [a.widths for a in tree]
