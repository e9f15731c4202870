"""Counting without enumeration agrees with enumeration; rank/unrank of counted sets round-trip."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from entronas._core.errors import InfeasibleSpaceError, NotInSpaceError
from entronas.reduce import CountedSpace, FeasibleTree, reduce_space
from entronas.reduce.count import NotCountableError
from entronas.space import get_space
from entronas.targets import Target

from .test_reduce_bruteforce import small_problems

SETTINGS = settings(max_examples=40, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(small_problems())
def test_counting_equals_enumeration(problem):
    space, target, options = problem
    try:
        tree, rep = reduce_space(space, target, options, method="enumerate")
    except InfeasibleSpaceError:
        return
    try:
        counted, crep = reduce_space(space, target, options, method="count")
    except NotCountableError:
        return  # two binding additive budgets: documented limitation
    assert isinstance(counted, CountedSpace)
    assert len(counted) == len(tree)
    assert [d.feasible for d in crep.depths] == [d.feasible for d in rep.depths]
    assert [d.m_red for d in crep.depths] == [d.m_red for d in rep.depths]
    # the counted set lists exactly the same members (order may differ within a depth)
    got = counted.widths_of(np.arange(len(counted)))
    assert sorted(got) == sorted(a.widths for a in tree)
    for i in range(0, len(counted), max(1, len(counted) // 7)):
        assert counted.index_of(got[i]) == i


def test_dscnn_counted_equals_paper_count_and_ranks():
    counted, rep = reduce_space(get_space("dscnn-kws"), Target("s", 1_000_000, 262_144,
        costs="paper"),
                                method="count")
    assert len(counted) == 167_713
    tree, _ = reduce_space(get_space("dscnn-kws"), Target("s", 1_000_000, 262_144, costs="paper"))
    idx = counted.sample(200, seed=1)
    for i, w in zip(idx, counted.widths_of(idx)):
        assert w in tree and counted.index_of(w) == i
    with pytest.raises(NotInSpaceError):
        counted.index_of((280,) * 8)


def test_convmixer_full_space_is_counted_then_built_as_its_dag():
    """Too many to list: counted first (the size is known before anything is built), then
    built as its DAG from the counts, one FeasibleTree like any small set; --method count
    keeps the CountedSpace. Both hold the same members."""
    target = Target("s", 1_000_000, 262_144, costs="paper")
    tree, rep = reduce_space(get_space("convmixer-cifar10"), target)
    counted, crep = reduce_space(get_space("convmixer-cifar10"), target, method="count")
    assert isinstance(tree, FeasibleTree) and rep.method == "count+dag"
    assert isinstance(counted, CountedSpace) and crep.method == "count"
    assert tree.size == counted.size > 10**10 and tree.n_nodes < 30_000
    assert rep.size == 8**8 * (8**9 - 1) // 7  # |X| = sum_{L=8}^{16} 8^L
    assert tree.meta["fingerprint"] == counted.meta["fingerprint"]
    from entronas.cost import estimate

    for f in (tree, counted):
        for widths in f.widths_of(f.sample(20, seed=0)):
            c = estimate(f.space, widths)
            assert c.rom <= 1_000_000 and c.ram <= 262_144
            assert widths in tree and widths in counted
    # a tree of any size round-trips through its file
    again = FeasibleTree.from_bytes(tree.to_bytes())
    big = np.array([0, tree.size // 3, tree.size - 1])
    assert again.widths_of(big) == tree.widths_of(big)


def test_shared_tables_runs_and_threads_decode_what_the_plain_unrank_decodes():
    """Depths of identical blocks share suffix tables (8 and 10 use 10's, 9 and 11 use 11's),
    sorted queries share early layers, partitions decode in threads: the positions must be
    those of the plain per-depth unrank on unsorted queries, with no sharing."""
    from entronas.reduce.feasible import FeasibleSet

    space = get_space("convmixer-cifar10", depth_max=11)
    counted, _ = reduce_space(space, Target("s", 1_000_000, 262_144, costs="paper"),
                              method="count")
    donors = {d: c.donor and (c.donor[0].t.depth, c.donor[1])
              for d, c in counted.counters.items()}
    assert donors == {8: (10, 2), 9: (11, 2), 10: None, 11: None}
    idx = np.unique(counted.sample(30_000, seed=3, replace=False))
    fast = {d: (sel, pos) for d, sel, pos in counted.positions_by_depth(idx)}
    for c in counted.counters.values():
        c.donor = None
    order = np.random.default_rng(0).permutation(len(idx))
    plain = {d: (order[sel], pos) for d, sel, pos in
             FeasibleSet.positions_by_depth(counted, idx[order])}
    assert fast.keys() == plain.keys() == {8, 9, 10, 11}
    for d in fast:
        got, want = (np.full((len(idx), d), -1) for _ in range(2))
        got[fast[d][0]], want[plain[d][0]] = fast[d][1], plain[d][1]
        assert len(fast[d][0]) > 100 and (got == want).all()
    widths = counted.widths_of(idx[::1000])
    assert [counted.index_of(w) for w in widths] == idx[::1000].tolist()


def test_tree_and_counted_are_interchangeable_for_uniform_sampling():
    tree, _ = reduce_space(get_space("mlp-example"), Target("fig3", 10_240, 448, costs="paper"))
    counted, _ = reduce_space(get_space("mlp-example"), Target("fig3", 10_240, 448, costs="paper"),
                              method="count")
    assert isinstance(tree, FeasibleTree)
    assert sorted(counted.widths_of(np.arange(len(counted)))) == [a.widths for a in tree]


def test_flops_budget_that_implies_the_rom_budget_is_counted_exactly():
    """ConvMixer: FLOPs = 128 x ROM per searched layer, so 100 M FLOPs makes 2 MB ROM inactive."""
    space = get_space("convmixer-cifar10", depth_max=9)
    target = Target("large", 2_000_000, 524_288, 100_000_000, costs="paper")
    counted, rep = reduce_space(space, target, method="count")
    tree, rep2 = reduce_space(get_space("convmixer-cifar10", depth_max=8), target,
                              method="enumerate")
    assert counted.count(8) == len(tree)
    assert rep.depths[0].m_red == rep2.depths[0].m_red


def test_two_binding_budgets_on_a_huge_set_give_one_clear_error(monkeypatch):
    """DS-CNN's first conv has 4x the FLOPs per weight of its DS blocks: both budgets can bind."""
    import functools

    import entronas.reduce.reduce as red

    space = get_space("dscnn-kws")
    target = Target("t", 300_000, 262_144, 30_000_000, costs="paper")
    with pytest.raises(NotCountableError, match="both the ROM and the FLOPs budget bind"):
        reduce_space(space, target, method="count")
    tree, _ = reduce_space(space, target)          # small enough to list: fine
    assert len(tree) > 0
    # pretend it were too large to list: one clear error instead of a MemoryError traceback
    monkeypatch.setattr(red, "enumerate_depth",
                        functools.partial(red.enumerate_depth, max_cells=100))
    with pytest.raises(NotCountableError, match="too large to list"):
        reduce_space(space, target, enumerate_limit=1000)


def _mlp_count_mod(depth: int, widths: list[int], n_in: int, n_out: int, max_weights: int,
                   prime: int) -> int:
    """Independent count, modulo ``prime``, of MLPs with ``depth`` hidden layers whose weights
    (n_in*w1 + w1*w2 + ... + wL*n_out) stay within ``max_weights``: a DP over the weight sum
    written from the formula alone (not from the reduction's tables), exact in int64 because
    every value stays below the prime."""
    g = 16  # every product of multiples of 8 with 64 or 10 is a multiple of 16
    cap = max_weights // g
    f = np.zeros((len(widths), cap + 1), np.int64)
    for i, w in enumerate(widths):
        if n_in * w // g <= cap:
            f[i, n_in * w // g] = 1
    for _ in range(depth - 1):
        nxt = np.zeros_like(f)
        for a, wa in enumerate(widths):
            for b, wb in enumerate(widths):
                c = wa * wb // g
                if c <= cap:
                    nxt[b, c:] = (nxt[b, c:] + f[a, :cap + 1 - c]) % prime
        f = nxt
    total = 0
    for b, wb in enumerate(widths):
        room = cap - wb * n_out // g
        if room >= 0:
            total = (total + int(f[b, :room + 1].sum() % prime)) % prime
    return total


def test_counts_above_2_to_the_63_are_exact_not_wrapped():
    """16 hidden layers of 16 widths: a 2^64 box, a binding ROM budget. The exact count (Python
    integers beyond int64) agrees with an independent count modulo two large primes, and
    members above index 2^63 unrank, rank back and are sampled uniformly."""
    from entronas.cost import costs

    widths = list(range(8, 129, 8))
    space = get_space("mlp-digits", depth_min=16, depth_max=16, widths=tuple(widths))
    target = Target("t", rom=4 * 150_000, ram=2 ** 40)
    counted, _ = reduce_space(space, target, costs("paper"), method="count")
    n = counted.size
    assert 2 ** 63 < n < 16 ** 16
    for prime in (2 ** 61 - 1, 2 ** 31 - 1):
        assert n % prime == _mlp_count_mod(16, widths, 64, 10, 150_000, prime)
    with pytest.raises(OverflowError, match="use .size"):
        len(counted)
    for i in (0, 2 ** 63 + 12345, n - 1):
        arch = counted[i]
        assert counted.index_of(arch) == i
        w = arch.widths
        assert 64 * w[0] + sum(a * b for a, b in zip(w, w[1:])) + 10 * w[-1] <= 150_000
    draws = counted.sample(2000, seed=0)
    assert all(0 <= int(d) < n for d in draws)
    assert np.mean([int(d) > n // 2 for d in draws]) == pytest.approx(0.5, abs=0.05)
    assert len(set(counted.sample(50, seed=1, replace=False))) == 50


def test_a_long_count_reports_progress_and_its_time(monkeypatch, capsys):
    """A count with many passes (RAM binds: one per even-buffer value) says so while it runs."""
    import entronas.reduce.count as count
    from entronas.cli import main

    monkeypatch.setattr(count, "PROGRESS_EVERY_S", 0.0)
    lines = []
    space = get_space("mlp-digits", depth_min=18, depth_max=18)  # 16^18 > 2^62
    counted, rep = reduce_space(space, Target("s", 1_000_000, 700, costs="paper"),
                                method="count", progress=lines.append)
    passes = [m for m in lines if m.startswith("counting X^f exactly (counts above 2^62")]
    assert len(passes) >= 3 and "passes" in passes[0] and "s left" in passes[0]
    assert 0 < rep.count_seconds <= rep.seconds
    main(["reduce", "mlp-digits", "-t", "paper-small", "--ram", "700B", "--method", "count"])
    out = capsys.readouterr()
    assert "(counting all depths:" in out.out and "counting X^f exactly:" in out.err


def test_modular_counting_joins_to_the_exact_count(monkeypatch):
    """Counts above 2^62 run modulo primes below 2^31 and are joined by the CRT: forced onto
    sets small enough to count in int64 (and several primes forced), they must agree."""
    import entronas.reduce.count as count

    rng = np.random.default_rng(0)
    primes = count._primes_below_2_31(6)
    assert all(p < 2 ** 31 for p in primes) and len(set(primes)) == 6
    assert math.prod(count.crt_primes(2 ** 200)) > 2 ** 200
    for _ in range(50):
        x = int(rng.integers(0, 2 ** 62)) * int(rng.integers(0, 2 ** 62))
        assert count.crt([x % p for p in primes], primes) == x
    problems = [(get_space("dscnn-kws", depth_max=7), Target("s", 400_000, 300_000,
                                                               costs="paper")),
                (get_space("mlp-digits"), Target("s", 20_000, 900, costs="paper"))]
    for space, target in problems:
        exact, _ = reduce_space(space, target, method="count")
        monkeypatch.setattr(count, "count_dtype", lambda t, depth=None: object)
        monkeypatch.setattr(count, "crt_primes", lambda bound: primes[:3])
        modular, _ = reduce_space(space, target, method="count")
        monkeypatch.undo()
        assert [c.count for c in modular.counters.values()] == \
            [c.count for c in exact.counters.values()] and exact.size > 400


def test_a_huge_tree_refuses_to_list_itself_before_allocating():
    tree, _ = reduce_space(get_space("convmixer-cifar10"), Target("s", 1_000_000, 262_144,
                                                                costs="paper"))
    with pytest.raises(MemoryError, match="380,755,874,300 members, too many to list"):
        tree.depth_array(16)
    assert tree.depth_array(16, np.array([0, 1])).shape == (2, 16)
