"""The taken set's incremental view: what GrowingSet hands out equals comparing whole sets, on
the append-only fast path and off it, and a real study's sampler stays on the fast path."""

from __future__ import annotations

import numpy as np
import pytest

from entronas.sampling.growing import AppendOnlySet, GrowingSet


def _reference(seen: set[int], taken: set[int]) -> tuple[set[int], bool, set[int]]:
    reset = not seen <= taken
    base = set() if reset else seen
    return taken - base, reset, base | taken


@pytest.mark.parametrize("seed", range(5))
def test_growing_set_equals_comparing_whole_sets(seed):
    rng = np.random.default_rng(seed)
    live, grow, seen = AppendOnlySet(), GrowingSet(), set()
    fast = 0
    for _ in range(400):
        op = rng.integers(10)
        if op < 6:
            live.add(int(rng.integers(200)))
        elif op == 6:
            live |= {int(v) for v in rng.integers(0, 200, 3)}
        elif op == 7 and live:
            live.discard(int(rng.choice(sorted(live))))          # a surplus trial gave back
        elif op == 8:
            live = AppendOnlySet(live)                            # another producer's set
        arg = set(live) | {int(rng.integers(200))} if op == 9 else live   # a plain set
        fast += arg is grow._source and live.generation == grow._generation
        want_new, want_reset, seen = _reference(seen, set(arg))
        assert grow.update(arg) == (want_new, want_reset)
        assert grow.seen == seen
    assert fast > 150   # most calls took the append-only path


def test_append_only_set_logs_additions_and_counts_removals():
    s = AppendOnlySet([3, 1])
    s.add(3)
    s |= {2}
    s.update([5], [1, 6])
    assert s == {1, 2, 3, 5, 6} and s.log[:2] == [3, 1] and sorted(s.log) == sorted(s)
    assert len(s.log) == len(s) and s.generation == 0
    s.discard(99)
    assert s.generation == 0
    for shrink in (lambda: s.discard(1), lambda: s.remove(2), lambda: s.__isub__({3}),
                   lambda: s.intersection_update({5, 6, 7}), s.pop, s.clear):
        g = s.generation
        shrink()
        assert s.generation == g + 1 and sorted(s.log) == sorted(s)
    assert type(AppendOnlySet([1]) | {2}) is set   # a union is a plain copy, not live


def test_a_study_hands_its_policies_the_live_taken_set(small_prepared):
    """Sequential trials: the sampler hands out one live set, and the entropy policy reads it
    by position (constant cost per trial) instead of comparing it whole."""
    import optuna

    from entronas.search.adapters.objective import Objective
    from entronas.search.adapters.samplers import EntropySampler

    from .conftest import stand_in

    sampler = EntropySampler(small_prepared.candidates, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(Objective(small_prepared.record, small_prepared.candidates, stand_in),
                   n_trials=30)
    taken = sampler.taken(study)
    assert taken is sampler.taken(study) and isinstance(taken, AppendOnlySet)
    assert len(taken) == 30 == len({t.user_attrs["index"] for t in study.trials})
    growing = sampler._pure.inner._taken
    # it has read every trial's candidate but the last one's, added after that was chosen
    assert growing._source is taken and growing._read == len(taken.log) - 1


def test_an_append_only_set_is_read_by_position_not_compared_whole():
    """After the first look, a growing AppendOnlySet is never compared whole (that is the O(n)
    per trial this path exists to avoid); a shrink, once, is."""
    whole: list[int] = []

    class Watched(AppendOnlySet):
        def __sub__(self, other):   # the whole-set comparison's difference
            whole.append(1)
            return set(self) - other

    live, grow = Watched(range(5)), GrowingSet()
    for i in range(5, 100):
        live.add(i)
        want = {i} if i > 5 else set(range(6))
        assert grow.update(live) == (want, False)
    assert len(whole) == 1
    live.discard(3)
    assert grow.update(live) == (set(live), True) and len(whole) == 2   # starts over
    live.add(500)
    assert grow.update(live) == ({500}, False) and len(whole) == 2
