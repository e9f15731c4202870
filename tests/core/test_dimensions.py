"""Spaces of named dimensions (issue 9 item 2): expansion widths on their own grids, widths
tied across layers that are not neighbours, block choices with identity, stage depth ranges.

Property tests on small random such spaces: the reduced set equals brute force under every
RAM model, the tree's count equals its listing, M^red equals the brute-force maximum of every
dimension, rank/unrank round-trip; then the grammar's one-line errors and the preset.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entronas._core.errors import InfeasibleSpaceError, InvalidSpaceError, NotInSpaceError
from entronas.cost import CostOptions, estimate
from entronas.proxy.entropy import entropy, tree_entropies
from entronas.reduce import FeasibleTree, reduce_space
from entronas.space import ChainSpace, get_space
from entronas.space.config import space_from_dict
from entronas.targets import Target

from .brute import brute_feasible

SETTINGS = settings(max_examples=25, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
RAM_MODELS = ("eq4", "chain", "ops")


@st.composite
def dimension_spaces(draw):
    """A small random space: a stem whose width some later blocks share (neighbours or
    not), inner widths on their own grids, a block choice with identity, a stage range."""
    def grid(lo):
        n = draw(st.integers(1, 3))
        step = draw(st.integers(1, 4))
        return [lo + step * m for m in range(n)]

    search = {"a": grid(draw(st.integers(1, 4)))}
    blocks = [{"block": "conv", "width": "a", "stride": draw(st.sampled_from([1, 2]))}]
    if draw(st.booleans()):   # inverted residuals on the stem width, inner widths searched
        search["e"] = grid(draw(st.integers(2, 6)))
        blocks.append({"block": "invres", "width": "a", "expansion_width": "e",
                       "shortcut": "identity"})
    search["b"] = grid(draw(st.integers(1, 5)))
    kind = draw(st.sampled_from(["dwsep", "invres", "basic"]))
    blocks.append({"block": kind, "width": "b", "stride": 2})
    extra = draw(st.sampled_from(["choice", "range", "none"]))
    if extra == "choice":
        blocks.append({"width": "b", "options": [
            {"block": "identity"}, {"block": "invres", "expansion": 2, "shortcut": "identity"},
            {"block": "invres", "expansion": 4, "shortcut": "identity"}][
                :draw(st.integers(2, 3))]})
    elif extra == "range":
        blocks.append({"block": draw(st.sampled_from(["invres", "basic", "dwsep"])),
                       "width": "b", "repeat": [1, draw(st.integers(2, 3))]})
    if draw(st.booleans()):   # a block back on the stem's width: a tie across non-neighbours
        blocks.append({"block": "conv", "kernel": 1, "width": "a"})
    data = {"name": "rand-dims", "search": search, "blocks": blocks,
            "input_shape": [draw(st.integers(1, 3)), 8, 8],
            "num_classes": draw(st.sampled_from([0, 3]))}
    space = space_from_dict(data)
    model = draw(st.sampled_from(RAM_MODELS))
    options = CostOptions(ram_model=model, bias=draw(st.booleans()))
    costs = sorted({(c.rom, c.ram) for c in (estimate(space, w, options) for w in
                                             _box(space))})
    q = draw(st.floats(0.0, 1.0))
    rom = int(np.quantile([c[0] for c in costs], q))
    ram = int(np.quantile([c[1] for c in costs], draw(st.floats(0.0, 1.0))))
    return space, Target("t", rom=rom, ram=ram), options


def _box(space):
    return list(itertools.product(*(space.grid(space.depth_min, i)
                                    for i in range(space.depth_min))))


@SETTINGS
@given(dimension_spaces())
def test_reduction_equals_brute_force(problem):
    space, target, options = problem
    expected = sorted(brute_feasible(space, target, options))
    try:
        tree, report = reduce_space(space, target, options)
    except InfeasibleSpaceError:
        assert expected == []
        return
    got = [a.widths for a in tree]
    assert got == expected                               # exact, in order
    assert tree.size == len(got) == report.feasible      # counting == enumeration
    m_red = tuple(max(w[i] for w in expected) for i in range(space.depth_min))
    assert report.depths[0].m_red == m_red               # M^red == brute-force maximum
    idx = np.arange(tree.size)
    assert [tree.index_of(w) for w in tree.widths_of(idx)] == idx.tolist()
    h = tree_entropies(tree)
    assert np.allclose(h, [entropy(space, w) for w in got])


def test_tflm_reduction_equals_brute_force():
    """The deployed convention: the arena is replayed for every member the bound keeps."""
    space = space_from_dict({
        "name": "tflm-dims", "input_shape": [3, 16, 16], "num_classes": 4,
        "search": {"a": [4, 8], "e": [8, 16], "b": [8, 12]},
        "blocks": [{"block": "conv", "stride": 2, "width": "a"},
                   {"block": "invres", "width": "a", "expansion_width": "e",
                    "shortcut": "identity"},
                   {"block": "invres", "stride": 2, "width": "b", "expansion": 2},
                   {"width": "b", "options": [{"block": "identity"},
                                              {"block": "invres", "expansion": 2,
                                               "shortcut": "identity"}]}]})
    from entronas.cost.conventions import resolve_costs

    options = resolve_costs("tflm", dtype="int8")
    costs = [estimate(space, w, options) for w in _box(space)]
    ram = sorted(c.ram for c in costs)[len(costs) // 2]
    target = Target("t", rom=10**7, ram=ram)
    tree, _ = reduce_space(space, target, options)
    assert [a.widths for a in tree] == sorted(brute_feasible(space, target, options))
    assert 0 < tree.size < len(costs)


def test_ir7_preset_is_the_space_file_and_reduces():
    space = get_space("ir7-cifar10")
    names = [d.name for d in space.backbone_impl.structure(space)[0]]
    assert names == ["stem", "e1", "e2", "e3", "stage", "head", "extra"]
    assert space.size() == 4 ** 7
    # the stem width feeds three layers, two of them not its neighbours in the value order
    layers = space.layers((16, 24, 32, 48, 24, 64, 1))
    assert [layer.out_shape[0] for layer in layers[:3]] == [16, 16, 16]
    assert [layer.name for layer in layers] == ["conv1", "ir2", "ir3", "ir4", "conv6",
                                                "classifier"]     # extra = 1: identity
    assert len(space.layers((16, 24, 32, 48, 24, 64, 4))) == 7
    assert ChainSpace.from_dict(space.to_dict()) == space
    tree, report = reduce_space(space, Target("t", rom=60_000, ram=40_000, costs="paper"))
    assert report.method == "dag" and 0 < tree.size < space.size()
    back = FeasibleTree.from_bytes(tree.to_bytes())
    assert back.space == space and [a.widths for a in back] == [a.widths for a in tree]


def test_trial_parameters_are_named_after_the_dimensions():
    optuna = pytest.importorskip("optuna")
    from entronas.search.params import arch_from_params, has_arch, params_of, suggest_arch

    space = get_space("ir7-cifar10")
    widths = (16, 24, 32, 48, 24, 64, 3)
    params = params_of(widths, space)
    assert params == {"depth": 7, "stem": 16, "e1": 24, "e2": 32, "e3": 48, "stage": 24,
                      "head": 64, "extra": 3}
    assert suggest_arch(optuna.trial.FixedTrial(params), space, "categorical").widths == widths
    assert arch_from_params(space, params).widths == widths and has_arch(space, params)
    assert not has_arch(space, {k: v for k, v in params.items() if k != "e2"})


def test_a_cost_that_falls_with_a_choice_is_refused_naming_layer_and_dimension():
    space = space_from_dict({
        "name": "bad-order", "input_shape": [3, 8, 8],
        "search": {"a": [4, 8]},
        "blocks": [{"block": "conv", "width": "a"},
                   {"width": "a", "choose": "kind", "options": [
                       {"block": "invres", "expansion": 6, "shortcut": "identity"},
                       {"block": "invres", "expansion": 2, "shortcut": "identity"}]}]})
    with pytest.raises(InvalidSpaceError, match=r"layer 'ir2' costs less .* at kind = 2 than "
                                                r"at 1"):
        reduce_space(space, Target("t", rom=10**7, ram=10**7, costs="paper"))


BASE = {"name": "g", "input_shape": [3, 8, 8], "search": {"a": [4, 8], "b": [8, 16]}}


@pytest.mark.parametrize("blocks, message", [
    ([{"block": "conv", "width": "c"}], r"blocks\[1\]\.width names 'c', which is not a width"),
    ([{"block": "conv", "width": "a"}], r"dimension 'b' of \[space.search\] is used by no"),
    ([{"block": "conv", "width": "a"}, {"block": "invres", "width": "b",
                                        "shortcut": "identity"}],
     r"its input is 'a' and its width 'b': write width = \"a\""),
    ([{"block": "conv", "width": "a"}, {"width": "b", "options": [
        {"block": "invres"}, {"block": "identity"}]}], r"list identity first"),
    ([{"block": "conv", "width": "a"}, {"block": "dwsep", "width": "b", "stride": 2,
                                        "repeat": [0, 2]}], r"repeat is \[0, 2\]"),
    ([{"block": "conv", "width": "a"}, {"block": "dwsep", "width": "a", "stride": 2,
                                        "repeat": [1, 2]}, {"block": "conv", "width": "b"}],
     None),
    ([{"block": "conv", "width": "a"}, {"width": "b", "stride": 2, "options": [
        {"block": "identity"}, {"block": "dwsep"}]}], r"may be left out must keep its input"),
    ([{"block": "conv", "widths": [4, 8]}], r"not a grid \(widths\)"),
    ([{"block": "conv", "width": "a", "expansion_width": "b"}],
     r"expansion_width is an inverted residual's"),
    ([{"block": "conv", "width": "a", "choose": "x"}], r"choose names the dimension of a "),
    ([{"block": "conv", "width": "a", "kernel": 3, "colour": 1}], r"has no key 'colour'"),
])
def test_grammar_errors_name_the_key(blocks, message):
    if message is None:   # a valid stage range: its depth dimension is appended
        space = space_from_dict({**BASE, "blocks": blocks})
        assert [d.name for d in space.backbone_impl.structure(space)[0]] == \
            ["a", "b", "ds2_depth"]
        assert len(space.layers((4, 8, 1))) == 3 and len(space.layers((4, 8, 2))) == 4
        return
    with pytest.raises(InvalidSpaceError, match=message):
        space_from_dict({**BASE, "blocks": blocks})


def test_search_names_are_checked():
    with pytest.raises(InvalidSpaceError, match=r"dimension name 'depth' must be an ident"):
        space_from_dict({**BASE, "search": {"depth": [4]},
                         "blocks": [{"block": "conv", "width": "depth"}]})
    with pytest.raises(InvalidSpaceError, match=r"'depth' does not apply to a space with"):
        space_from_dict({**BASE, "depth": 3, "blocks": [{"block": "conv", "width": "a"}]})
    space = get_space("ir7-cifar10")
    with pytest.raises(NotInSpaceError, match=r"value 5 of dimension 'stem' is not in space"):
        space.layers((5, 24, 32, 48, 24, 64, 1))
    with pytest.raises(NotInSpaceError, match=r"has 7 dimensions \(stem, e1, e2, e3, stage, "
                                              r"head, extra\); got 6 values"):
        space.layers((8, 24, 32, 48, 24, 64))
    with pytest.raises(InvalidSpaceError, match=r"blocks\[1\] has no block \(its keys: "
                                                r"\['blok', 'width'\]\)"):
        space_from_dict({**BASE, "search": {"a": [4]}, "blocks": [{"blok": "conv",
                                                                   "width": "a"}]})
    with pytest.raises(InvalidSpaceError, match=r"searches named dimensions"):
        space.layer(7, 0, None, 8)


def test_counting_method_is_refused_in_one_line():
    from entronas.reduce.count import NotCountableError

    with pytest.raises(NotCountableError, match=r"built as a tree .* by --method auto"):
        reduce_space(get_space("ir7-cifar10"), Target("t", rom=10**6, ram=10**6, costs="paper"),
                     method="count")


def test_factor_sums_equal_the_estimate():
    from entronas.reduce.dimensions import factor_sums

    space = get_space("ir7-cifar10")
    options = replace(CostOptions(), bias=True)
    rows = _box(space)[::997]
    rom, flops = factor_sums(space, np.array(rows), options)
    est = [estimate(space, w, options) for w in rows]
    assert rom.tolist() == [e.rom for e in est] and flops.tolist() == [e.flops for e in est]


@pytest.mark.parametrize("model", RAM_MODELS)
def test_left_out_blocks_shift_eq4_buffers(model):
    """A block left out moves every later layer to the other of Eq. 4's two buffers: at every
    RAM budget that separates two members, the reduction agrees with the estimate."""
    space = space_from_dict({
        "name": "parity", "input_shape": [1, 8, 8],
        "search": {"a": [2, 6], "b": [4, 16]},
        "blocks": [{"block": "conv", "width": "a"},
                   {"width": "a", "options": [{"block": "identity"},
                                              {"block": "invres", "expansion": 2,
                                               "shortcut": "identity"}]},
                   {"block": "conv", "kernel": 1, "width": "b"},
                   {"block": "conv", "kernel": 1, "width": "a"}]})
    options = CostOptions(ram_model=model)
    box = _box(space)
    rams = sorted({estimate(space, w, options).ram for w in box})
    assert len(rams) > 3
    for ram in rams:
        target = Target("t", rom=10**7, ram=ram)
        tree, _ = reduce_space(space, target, options)
        assert [a.widths for a in tree] == sorted(brute_feasible(space, target, options))


def test_eq4_buffers_enter_in_architecture_order():
    """A 1x1 conv on the stem width after an inverted residual that also reads an expansion
    width depends on the stem alone, so its costs are known before the block's: Eq. 4's DAG
    must still give its buffer the parity of its place in the network (placed first, the
    block's larger buffer would move to the odd side). At every RAM budget
    that separates two members the DAG equals brute force."""
    space = space_from_dict({
        "name": "order", "input_shape": [2, 8, 8],
        "search": {"a": [2, 8, 16], "e": [4, 24], "b": [4, 12, 40]},
        "blocks": [{"block": "conv", "width": "a"},
                   {"block": "invres", "width": "a", "expansion_width": "e",
                    "shortcut": "identity"},
                   {"block": "conv", "kernel": 1, "stride": 2, "width": "a"},
                   {"block": "conv", "kernel": 1, "width": "b"}]})
    options = CostOptions(ram_model="eq4")
    rams = sorted({estimate(space, w, options).ram for w in _box(space)})
    assert len(rams) > 3
    for ram in rams:
        target = Target("t", rom=10**7, ram=ram)
        tree, report = reduce_space(space, target, options)
        assert report.method == "dag"
        assert [a.widths for a in tree] == sorted(brute_feasible(space, target, options))


def test_readme_examples_of_named_dimensions(tmp_path):
    """The README's ir7 block is the shipped preset file, and its 5,726 figure holds; the
    stage-range / block-choice example parses and reduces exactly."""
    from importlib.resources import files

    from .test_space_blocks import readme_space

    text = (files("entronas.space") / "files" / "ir7-cifar10.toml").read_text()
    space = readme_space(tmp_path, "An MCUNet-like inverted-residual space of 7 dimensions")
    assert text.strip() in README_TEXT() and space == get_space("ir7-cifar10")
    stages = readme_space(tmp_path, "A stage of one to three blocks after a strided block")
    dims = stages.backbone_impl.structure(stages)[0]
    assert [(d.name, d.grid) for d in dims] == [("stem", (8, 16)), ("stage", (16, 24, 32)),
                                                ("stage_depth", (1, 2, 3)), ("mb", (1, 2, 3))]
    assert [len(stages.layers((8, 16, d, 1))) for d in (1, 2, 3)] == [3, 4, 5]
    target = Target("t", rom=60_000, ram=30_000)
    tree, _ = reduce_space(stages, target, CostOptions())
    assert [a.widths for a in tree] == sorted(brute_feasible(stages, target, CostOptions()))


def README_TEXT() -> str:
    from .test_space_blocks import README

    return README.read_text()


def test_a_set_too_large_to_list_for_candidates_is_pooled_where_no_distribution_applies(
        monkeypatch):
    """Above the candidates' list limit a named-dimension X^f gets its exact entropy
    distribution (tests/core/test_distribution.py); where Eq. 6's u_L is not a constant
    (output="last_searched") it is clustered on a uniform pool instead, said in one line, and
    entropy sampling still draws members."""
    import entronas.sampling.candidates as cand

    tree, _ = reduce_space(get_space("ir7-cifar10"), Target("t", rom=60_000, ram=40_000,
                                                            costs="paper"))
    monkeypatch.setattr(cand, "LIST_LIMIT", 100)
    assert cand.Candidates.build(tree, n_clusters=5).distribution is not None
    lines = []
    c = cand.Candidates.build(tree, n_clusters=5, pool=500, output="last_searched",
                              log=lines.append)
    assert c.distribution is None and c.n_candidates <= 500
    assert any("named dimensions" in line and "u_L" in line for line in lines)
    picks = c.policy("entropy").draws(0, 20)
    members = {a.widths for a in tree}
    assert len(set(picks)) == 20 and all(c.widths(i) in members for i in picks)


def _mlp_named_and_chain(depth: int = 9):
    """An MLP of ``depth`` layers, 16 widths 8..128 each, written with one named dimension per
    layer, and the same MLP as the chain preset mlp-digits."""
    widths = list(range(8, 129, 8))
    named = space_from_dict({
        "name": "mlp-named", "input_shape": [64], "num_classes": 10,
        "search": {f"w{i}": widths for i in range(depth)},
        "blocks": [{"block": "dense", "width": f"w{i}"} for i in range(depth)]})
    return named, get_space("mlp-digits", depth_min=depth, depth_max=depth,
                            widths=tuple(widths))


def test_a_set_too_large_to_list_is_built_as_its_dag_and_counted_like_the_chain_dp():
    """An MLP written with one named dimension per layer is a chain: the named-dimension DAG
    of its X^f (above 10^9 members, far too many to list) has the count that the chain
    counting DP gives for the same MLP, and its members fit."""
    from entronas.reduce.count import CountedSpace

    named, chain = _mlp_named_and_chain()
    options = CostOptions(ram_model="chain")
    arch = (8, 64, 128, 16, 24, 32, 40, 48, 120)
    assert estimate(named, arch, options).to_dict() == estimate(chain, arch, options).to_dict()
    target = Target("t", rom=200_000, ram=1_000)
    tree, report = reduce_space(named, target, options)
    counted, _ = reduce_space(chain, target, options, method="count")
    assert isinstance(counted, CountedSpace)
    assert report.method == "dag" and tree.size == counted.size > 10**9
    idx = np.random.default_rng(0).integers(0, tree.size, 200)
    members = tree.widths_of(idx)
    assert [tree.index_of(w) for w in members] == idx.tolist()
    assert all(target.fits(*(lambda c: (c.rom, c.ram, c.flops))(estimate(named, w, options)))
               for w in members[:50])


def test_an_impossible_budget_names_the_smallest_network_of_the_dimensions():
    with pytest.raises(InfeasibleSpaceError, match=r"the smallest one \(every dimension at its "
                                                  r"smallest value\) needs ROM [0-9,]+ B > "):
        reduce_space(get_space("ir7-cifar10"), Target("t", rom=1_000, ram=10**6, costs="paper"))


def test_a_set_too_large_to_list_under_whole_network_ram_is_refused_in_one_line():
    """TFLM's replay looks at whole networks: an oversized listing is refused before it
    begins (the relaxed DP counted it); Eq. 4 at the same budgets is built as its DAG."""
    from entronas.cost.conventions import resolve_costs
    from entronas.reduce.count import NotCountableError
    from entronas.reduce.dimensions import reduce_dimensions

    space = get_space("ir7-cifar10")
    target = Target("t", rom=10**7, ram=10**7, costs="paper")
    tflm = resolve_costs("tflm", dtype="int8")
    said: list[str] = []
    with pytest.raises(NotCountableError, match=r"needs 256 candidate prefixes at dimension "
                                                r"'e3', over the listing limit of 100 \(tflm "
                                                r"int8 \(flatbuffer \+ TFLM arena\) looks at "
                                                r"whole networks, so it is not counted; at most "
                                                r"16,384 networks fit\)"):
        reduce_dimensions(space, target, target, tflm, progress=said.append, limit=100)
    assert said == []   # refused before the listing began (the relaxed DP counted it)
    for ram in (10**7, None):   # Eq. 4 with and without a RAM budget: a DAG, counted
        tree, info = reduce_dimensions(space, target, Target("t", rom=10**7, ram=ram),
                                       CostOptions(), limit=100)
        assert info["method"] == "dag" and tree.size == space.size()


def test_eq4_dag_of_named_widths_counts_like_the_chain_dp():
    """Eq. 4 with a RAM budget that binds, on an MLP written with one named dimension per
    layer: the named-dimension DAG (relaxed count, exact Eq. 4 state in the class key) holds
    exactly as many members as the chain counting DP, which partitions by the even buffer
    instead: two independent exact counts (8.3e8 at 600 B), beyond what is listed."""
    from entronas.reduce.count import CountedSpace

    named, chain = _mlp_named_and_chain()
    options = CostOptions(ram_model="eq4")
    arch = (8, 64, 128, 16, 24, 32, 40, 48, 120)
    assert estimate(named, arch, options).to_dict() == estimate(chain, arch, options).to_dict()
    unbound, _ = reduce_space(named, Target("t", rom=200_000, ram=None), options)
    for ram in (400, 600):   # Eq. 4 binds at both (the largest network needs 1,024 B)
        target = Target("t", rom=200_000, ram=ram)
        tree, report = reduce_space(named, target, options)
        counted, _ = reduce_space(chain, target, options, method="count")
        assert isinstance(counted, CountedSpace)
        assert report.method == "dag" and tree.size == counted.size > 10**6
        assert tree.size < unbound.size / 50
        idx = np.random.default_rng(ram).integers(0, tree.size, 200)
        members = tree.widths_of(idx)
        assert [tree.index_of(w) for w in members] == idx.tolist()
        assert all(estimate(named, w, options).ram <= ram for w in members)
        assert all(estimate(named, w, options).rom <= 200_000 for w in members)


@SETTINGS
@given(dimension_spaces())
def test_the_relaxed_dp_counts_the_prefixes_the_eq4_listing_keeps(problem):
    """The oversized-listing check: the DP with each layer's RAM term alone against the budget
    keeps, level by level, exactly as many prefixes as the Eq. 4 listing does (the listing
    forced: Eq. 4 sets are built as their DAG otherwise)."""
    from entronas.reduce import dimensions
    from entronas.reduce.dimensions import factors, reduce_dimensions
    from entronas.reduce.dimensions_dag import build, plan

    space, target, options = problem
    options = CostOptions(ram_model="eq4", bias=options.bias)
    said: list[str] = []

    def no_eq4_dag(*args, eq4=None, **kwargs):
        return None if eq4 is not None else build(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dimensions, "build_dag", no_eq4_dag)
        try:
            tree, info = reduce_dimensions(space, target, target, options,
                                           progress=said.append)
        except InfeasibleSpaceError:
            return
    assert info["method"] == "enumerate"
    listed = [int(s.split(": ")[1].split()[0].replace(",", "")) for s in said]
    assert listed or tree is None   # two or more dimensions: a prefix count per level
    fs = factors(space, options)
    sizes = [len(d.grid) for d in space.backbone_impl.structure(space)[0]]
    prefixes: list[int] = []
    build(fs, sizes, plan(fs, target, options, relaxed=True), space.size(), prefixes)
    assert prefixes[:len(listed)] == listed
