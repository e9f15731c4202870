"""Property tests: the reduction equals brute force on small random spaces and budgets."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entronas._core.errors import InfeasibleSpaceError, NotInSpaceError
from entronas.cost import CostOptions, estimate
from entronas.reduce import FeasibleTree, reduce_space
from entronas.space import ChainSpace
from entronas.targets import Target

from .brute import brute_feasible

SETTINGS = settings(max_examples=40, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


BACKBONES = ("mlp", "dscnn", "convmixer", "autoencoder", "mobilenet", "resnet", "mobilenetv2",
             "blocks")


@st.composite
def small_problems(draw, backbones=BACKBONES):
    backbone = draw(st.sampled_from(list(backbones)))
    lo = draw(st.integers(1, 6))
    step = draw(st.integers(1, 5))
    count = draw(st.integers(1, 4))
    widths = tuple(lo + step * m for m in range(count))
    dmin = draw(st.integers(1 if backbone in ("mlp",) else 3 if backbone == "autoencoder" else 1, 3))
    dmax = draw(st.integers(dmin, dmin + 1))
    monotone = draw(st.sampled_from([None, "non-increasing", "non-decreasing"]))
    kw = dict(name="rand", backbone=backbone, depth_min=dmin, depth_max=dmax, widths=widths,
              monotone=None if backbone == "autoencoder" else monotone)
    if backbone == "mlp":
        kw.update(input_shape=(draw(st.integers(1, 12)),), num_classes=draw(st.integers(0, 3)))
    elif backbone == "autoencoder":
        kw.update(input_shape=(draw(st.integers(4, 12)),), options={"bottleneck": 2})
    elif backbone == "convmixer":
        kw.update(input_shape=(2, 6, 6), num_classes=3, options={"patch": 2, "kernel": 3})
    elif backbone == "resnet":  # stride-1 blocks tie their width ("eq") or project
        kw.update(input_shape=(2, 6, 6), num_classes=3,
                  options={"stride_layers": (3,), "shortcut": draw(st.sampled_from(
                      ["identity", "projection"]))})
    elif backbone == "mobilenetv2":  # repeated blocks tie their width ("eq") and add
        kw.update(input_shape=(2, 8, 8), num_classes=2,
                  options={"stride_layers": (2,), "repeat_layers": (3, 4),
                           "expansion": draw(st.integers(1, 3))})
    elif backbone == "blocks":  # a space file's backbone: random kinds, strides, own grids
        blocks = [{"block": "conv", "stride": draw(st.integers(1, 2))}]
        pool = draw(st.sampled_from(["none", "max", "avg"]))   # 8x8 -> 4x4 or 2x2 at most
        if pool != "none":
            blocks[0].update(pool=pool, pool_size=2)
        for _ in range(1, dmax):
            kind = draw(st.sampled_from(["dwsep", "invres", "basic", "mixer"]))
            entry = {"block": kind}
            if kind != "mixer":
                entry["stride"] = draw(st.integers(1, 2))
            if kind in ("invres", "basic") and entry["stride"] == 1 and draw(st.booleans()):
                entry["shortcut"] = "identity"
            if kind == "invres":
                entry["expansion"] = draw(st.integers(1, 3))
            if draw(st.booleans()):
                entry["widths"] = list(widths[draw(st.integers(0, len(widths) - 1)):])
            blocks.append(entry)
        kw.update(input_shape=(2, 8, 8), num_classes=2, options={"blocks": blocks})
    elif backbone == "mobilenet":
        kw.update(input_shape=(3, 8, 8), num_classes=2,
                  options={"stem_kernel": 2, "stem_stride": 2})
    else:
        kw.update(input_shape=(1, 7, 5), num_classes=4, options={"first_kernel": (3, 2)})
    space = ChainSpace(**kw)
    bias = draw(st.booleans())
    ram_model = draw(st.sampled_from(["eq4", "chain", "ops"]))
    options = CostOptions(bias=bias, ram_model=ram_model,
                          code_bytes={"dense": draw(st.integers(0, 50))})
    # budgets between the cheapest and the most expensive network, drawn by quantile
    costs = []
    for d in space.depths:
        import itertools
        for w in itertools.product(*[space.grid(d, i) for i in range(d)]):
            try:
                costs.append(estimate(space, w, options))
            except NotInSpaceError:  # breaks a structural rule
                continue
    if not costs:
        costs = [estimate(space, space.grid(space.depth_min, 0)[:1] * space.depth_min, options)]
    q = [draw(st.floats(0.0, 1.0)) for _ in range(3)]
    def pick(vals, t):
        return int(np.quantile(np.array(vals), t)) if t < 0.9 else None
    rom = pick([c.rom for c in costs], q[0])
    ram = pick([c.ram for c in costs], q[1])
    flops = pick([c.flops for c in costs], q[2])
    if rom is None and ram is None and flops is None:
        rom = int(np.median([c.rom for c in costs]))
    return space, Target("t", rom, ram, flops, costs="paper"), options


@SETTINGS
@given(small_problems())
def test_reduced_set_equals_brute_force(problem):
    check_reduction(problem)


def check_reduction(problem) -> None:
    """X^f == brute force, in order, with its report; M^red == the brute-force maximum."""
    space, target, options = problem
    expected = brute_feasible(space, target, options)
    if not expected:
        with pytest.raises(InfeasibleSpaceError):
            reduce_space(space, target, options)
        return
    tree, report = reduce_space(space, target, options)
    got = [a.widths for a in tree]
    assert sorted(got) == sorted(expected)
    assert got == sorted(got, key=lambda w: (len(w), w))  # ordered: depth, then lexicographic
    assert len(tree) == len(expected) == report.feasible
    for d in report.depths:
        members = [w for w in expected if len(w) == d.depth]
        if members:
            assert d.m_red == tuple(max(w[i] for w in members) for i in range(d.depth))
        else:
            assert d.m_red is None


@SETTINGS
@given(small_problems(), st.integers(0, 2**31 - 1))
def test_rank_unrank_and_storage_round_trip(problem, seed):
    space, target, options = problem
    try:
        tree, _ = reduce_space(space, target, options)
    except InfeasibleSpaceError:
        return
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(tree), size=min(len(tree), 20))
    for i in idx:
        assert tree.index_of(tree[int(i)]) == i
    loaded = FeasibleTree.from_bytes(tree.to_bytes())
    assert [a.widths for a in loaded] == [a.widths for a in tree]
    assert loaded.meta["fingerprint"] == tree.meta["fingerprint"]
    # the same reduction writes the same bytes (no timings in the file)
    assert reduce_space(space, target, options)[0].to_bytes() == tree.to_bytes()


def test_not_in_feasible_set_is_reported():
    space = ChainSpace("m", "mlp", 2, 2, (16, 32, 48), (16,))
    tree, _ = reduce_space(space, Target("t", 4 * (16 * 16 + 16 * 32), None))
    with pytest.raises(NotInSpaceError):
        tree.index_of((48, 48))
    assert (48, 48) not in tree and (16, 16) in tree


def test_int8_refinements_and_fixed_overheads_match_brute_force():
    from entronas.space import get_space

    space = get_space("dscnn-kws", depth_max=6, widths=(84, 112, 140, 168))
    options = CostOptions.for_dtype("int8", bias=True, bias_bytes=4, channel_bytes=12,
                                    rom_overhead=3000)
    target = Target("int8", 90_000, 80_000, ram_reserve=6000, costs="paper")
    tree, rep = reduce_space(space, target, options)
    assert sorted(a.widths for a in tree) == sorted(brute_feasible(space, target, options))
    c = estimate(space, (84,) * 6, options)
    layers = space.layers((84,) * 6)
    kw = sum(layer.kernel_weights for layer in layers)
    bias = sum(layer.bias_terms for layer in layers)
    channels = sum(op.out_channels for layer in layers for op in layer.ops
                   if op.kind in ("conv2d", "linear"))
    assert c.rom == kw + 4 * bias + 12 * channels + 3000
    with pytest.raises(InfeasibleSpaceError, match="leaves nothing for the network"):
        reduce_space(space, Target("x", 100_000, 5000, ram_reserve=6000, costs="paper"),
                     options)
