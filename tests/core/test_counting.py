"""Counting without enumeration agrees with enumeration; rank/unrank of counted sets round-trip."""

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
    counted, rep = reduce_space(get_space("dscnn-kws"), Target("s", 1_000_000, 262_144),
                                method="count")
    assert len(counted) == 167_713
    tree, _ = reduce_space(get_space("dscnn-kws"), Target("s", 1_000_000, 262_144))
    idx = counted.sample(200, seed=1)
    for i, w in zip(idx, counted.widths_of(idx)):
        assert w in tree and counted.index_of(w) == i
    with pytest.raises(NotInSpaceError):
        counted.index_of((280,) * 8)


def test_convmixer_full_space_is_counted_not_listed():
    counted, rep = reduce_space(get_space("convmixer-cifar10"), Target("s", 1_000_000, 262_144))
    assert isinstance(counted, CountedSpace)
    assert len(counted) > 10**10
    assert rep.size == 8**8 * (8**9 - 1) // 7  # |X| = sum_{L=8}^{16} 8^L
    w = counted.widths_of(counted.sample(20, seed=0))
    from entronas.cost import estimate
    for widths in w:
        c = estimate(counted.space, widths)
        assert c.rom <= 1_000_000 and c.ram <= 262_144


def test_tree_and_counted_are_interchangeable_for_uniform_sampling():
    tree, _ = reduce_space(get_space("mlp-example"), Target("fig3", 10_240, 448))
    counted, _ = reduce_space(get_space("mlp-example"), Target("fig3", 10_240, 448),
                              method="count")
    assert isinstance(tree, FeasibleTree)
    assert sorted(counted.widths_of(np.arange(len(counted)))) == [a.widths for a in tree]
