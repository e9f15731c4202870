"""Eq. 6 entropy, clusters, and Eq. 7 sampling."""

import math

import numpy as np
import pytest
from scipy import stats

from entronas.proxy import EntropyClusters, entropies, entropy, tree_entropies
from entronas.reduce import reduce_space
from entronas.sampling import Candidates, EntropyPolicy, UniformPolicy, geometric_probabilities
from entronas.space import get_space
from entronas.targets import Target


def test_entropy_eq6_by_hand_dscnn():
    s = get_space("dscnn-kws")
    w = (84, 112, 84, 84, 84, 196)
    # conv 10x4: log2(84*40); DS block: log2(9) [depthwise: M*9/M] + log2(M_i) [pointwise]
    per_layer = math.log2(84 * 40) + sum(math.log2(9) + math.log2(m) for m in w[1:])
    assert entropy(s, w) == pytest.approx(math.log2(12) * per_layer)
    last = 25 * 5 * 196
    assert entropy(s, w, output="last_searched") == pytest.approx(math.log2(last) * per_layer)


def test_entropy_mlp_example_uses_last_width():
    s = get_space("mlp-example")
    assert entropy(s, (32, 64)) == pytest.approx(math.log2(64) * (5 + 6))


def test_vectorised_entropies_equal_scalar():
    tree, _ = reduce_space(get_space("autoencoder-ad"), Target("t", 400_000, None, costs="paper"))
    h = tree_entropies(tree)
    rng = np.random.default_rng(0)
    for i in rng.integers(0, len(tree), 30):
        assert h[i] == pytest.approx(entropy(tree.space, tree[int(i)]))


def test_clusters_sorted_by_descending_entropy_and_handle_few_values():
    h = np.array([1.0, 1.0, 5.0, 5.0, 9.0, 2.0])
    c = EntropyClusters(100).fit(h)
    assert c.n_clusters_ == 4  # 4 distinct values
    assert list(c.centers_) == sorted(c.centers_, reverse=True)
    assert c.labels_[4] == 0 and c.labels_[0] == 3
    assert (c.predict(h) == c.labels_).all()
    c2 = EntropyClusters(2).fit(h)
    means = [h[c2.labels_ == k].mean() for k in range(2)]
    assert means[0] > means[1]


def test_geometric_probabilities_truncated_and_renormalised():
    p = geometric_probabilities(5, 0.5)
    expected = np.array([0.5 ** (c + 1) for c in range(5)])
    assert p == pytest.approx(expected / expected.sum())
    q = geometric_probabilities(5, 0.5, np.array([False, True, True, False, True]))
    assert q[0] == 0 and q[3] == 0 and q.sum() == pytest.approx(1)
    assert q[1] / q[2] == pytest.approx(2) and q[2] / q[4] == pytest.approx(4)


@pytest.mark.parametrize("p", [0.5, 0.1, 0.9, 1.0])
def test_cached_cluster_draw_is_rng_choice_with_eq7(p):
    """The policies draw Eq. 7's cluster from a kept cumulative distribution; it must be the
    cluster ``rng.choice(n, p=...)`` gives from the same stream, as clusters run out."""
    from entronas.sampling.entropy import ClusterDraw

    n = 12
    draw, ours, theirs = ClusterDraw(n, p), np.random.default_rng(7), np.random.default_rng(7)
    mask_rng = np.random.default_rng(0)
    open_ = np.ones(n, bool)
    for step in range(3000):
        if step % 50 == 49:                     # a cluster runs out now and then; reopen later
            open_[mask_rng.integers(n)] = mask_rng.random() < 0.3
        probs = geometric_probabilities(n, p, open_)   # p = 1: cluster 0 or nothing
        want = int(theirs.choice(n, p=probs)) if probs.sum() > 0 else None
        assert draw(ours, open_) == want
    assert ours.random() == theirs.random()      # the streams stayed in step
    assert draw(ours, np.zeros(n, bool)) is None


def test_cluster_frequencies_follow_eq7_chi_square():
    labels = np.repeat(np.arange(6), [50, 40, 30, 30, 20, 10])
    s = EntropyPolicy(labels, p=0.5)
    draws = s.sample(20_000, seed=123, replace=True)
    counts = np.bincount(labels[draws], minlength=6)
    expected = geometric_probabilities(6, 0.5) * len(draws)
    assert stats.chisquare(counts, expected).pvalue > 0.01
    # uniform inside a cluster
    inside = np.bincount(draws[labels[draws] == 0], minlength=50)[:50]
    assert stats.chisquare(inside).pvalue > 0.01


def test_without_replacement_never_repeats_and_exhausts():
    labels = np.array([0, 0, 1, 2, 2, 2, 3])
    s = EntropyPolicy(labels)
    rng = np.random.default_rng(5)
    taken = set()
    for _ in range(len(labels)):
        i = s.suggest(rng, taken)
        assert i not in taken
        taken.add(i)
    assert taken == set(range(len(labels)))
    assert s.suggest(rng, taken) is None
    u = UniformPolicy(3)
    assert u.suggest(0, {0, 1, 2}) is None and u.suggest(0, {0, 2}) == 1


def test_same_seed_same_sequence_and_first_draws_prefer_high_entropy():
    tree, _ = reduce_space(get_space("dscnn-kws"), Target("s", 1_000_000, 262_144,
                                                          costs="paper"))
    a = Candidates.build(tree, seed=0)
    b = Candidates.build(tree, seed=0)
    pa, pb = a.policy("entropy"), b.policy("entropy")
    seq_a = [pa.suggest(np.random.default_rng(7), set()) for _ in range(3)]
    seq_b = [pb.suggest(np.random.default_rng(7), set()) for _ in range(3)]
    assert seq_a == seq_b
    draws = pa.inner.sample(2000, seed=1, replace=True)
    mean_drawn = a.entropy[draws].mean()
    assert mean_drawn > np.quantile(a.entropy, 0.9)
    assert a.clusters.n_clusters_ == 100


def test_counted_space_without_a_distribution_uses_a_uniform_pool(monkeypatch):
    """The fallback where no exact distribution fits (tests/core/test_distribution.py has the
    exact path)."""
    from entronas.proxy import distribution

    monkeypatch.setattr(distribution, "MAX_ENTRIES", 10)
    counted, _ = reduce_space(get_space("convmixer-cifar10", depth_max=9),
                              Target("s", 1_000_000, 262_144, costs="paper"), method="count")
    s = Candidates.build(counted, pool=2000, n_clusters=20, seed=3)
    assert not s.exact and s.n_candidates <= 2000
    i = s.policy("entropy").suggest(np.random.default_rng(0), set())
    assert i in set(s.indices.tolist())
    h = entropies(counted.space, np.array([counted.widths_of([i])[0]]))[0]
    assert h == pytest.approx(s.entropy[s.position(i)])
    assert h == pytest.approx(s.entropy_of_arch(counted.widths_of([i])[0]))
    # a candidate's stored entropy and cluster are those recomputed from its widths
    for g in s.indices[::97]:
        h, c = s.entropy_at(int(g))
        widths = counted.widths_of([int(g)])[0]
        assert h == s.entropy_of_arch(widths) == entropies(counted.space, np.array([widths]))[0]
        assert c == s.cluster_of_entropy(h)


def test_mathematically_equal_entropies_are_one_value():
    """Equal sums added in another order differ by ~1e-13; they must share a cluster (the
    published-benchmark case: sizes [1, 4, 1, 14] instead of [1, 5, 14])."""
    x = sum(math.log2(w) for w in (24, 40, 56)) * math.log2(10)
    y = sum(math.log2(w) for w in (56, 24, 40)) * math.log2(10)
    h = np.array([x + 3.0] + [x] * 4 + [y] + [x - 2.0] * 14)
    h[1] += 2e-13
    c = EntropyClusters(100).fit(h)
    assert sorted(c.sizes_.tolist()) == [1, 5, 14]
    assert len(set(c.labels_[1:6].tolist())) == 1
    assert (c.predict(h) == c.labels_).all()


def _reference_suggest(labels, p, rng, taken):
    """The policy's draw written out plainly: every count recomputed from ``taken``."""
    labels = np.asarray(labels)
    n_clusters = int(labels.max()) + 1
    used = np.bincount(labels[list(taken)], minlength=n_clusters) if taken else 0
    probs = geometric_probabilities(n_clusters, p, np.bincount(labels, minlength=n_clusters)
                                    - used > 0)
    if probs.sum() == 0:
        return None
    c = int(rng.choice(n_clusters, p=probs))
    members = np.argsort(labels, kind="stable")[np.sort(labels, kind="stable") == c]
    for _ in range(64):
        i = int(members[rng.integers(len(members))])
        if i not in taken:
            return i
    free = members[~np.isin(members, list(taken))]
    return int(free[rng.integers(len(free))])


def test_incremental_counts_draw_exactly_what_recounting_draws():
    """The taken set is counted incrementally (10,000 draws on a 200,000 pool: 43 s -> 0.3 s);
    the draws must be the very ones a full recount gives, also when the taken set shrinks."""
    labels = np.random.default_rng(3).integers(0, 6, 400) ** 2 % 7  # uneven cluster sizes
    labels = np.unique(labels, return_inverse=True)[1]
    pol = EntropyPolicy(labels, p=0.5)
    rng_a, rng_b, taken, expected = np.random.default_rng(1), np.random.default_rng(1), set(), []
    for _ in range(len(labels)):
        i = _reference_suggest(labels, 0.5, rng_a, taken)
        assert pol.suggest(rng_b, taken) == i
        taken.add(i)
        expected.append(i)
    assert pol.suggest(rng_b, taken) is None
    assert EntropyPolicy(labels, p=0.5).draws(np.random.default_rng(1), 500) == expected
    smaller = set(expected[:10])                         # another study: starts over
    assert pol.suggest(np.random.default_rng(9), smaller) == \
        _reference_suggest(labels, 0.5, np.random.default_rng(9), smaller)


def test_remembered_widths_and_indices_agree_with_the_tree(monkeypatch):
    """Candidates.widths / index_of remember what they decoded (a trial reads its widths for
    every parameter): the answers equal the tree's, also across a full memo being cleared."""
    from entronas.sampling import candidates as cand_mod

    monkeypatch.setattr(cand_mod, "WIDTHS_MEMO", 3)
    tree, _ = reduce_space(get_space("mlp-digits", depth_max=3),
                           Target("t", 40_000, None, costs="paper"))
    c = Candidates.build(tree, n_clusters=8)
    rng = np.random.default_rng(0)
    picks = rng.integers(0, tree.size, 12).tolist()
    for g in picks + picks[::-1]:
        w = c.widths(g)
        assert w == tuple(tree.widths_of([g])[0])
        assert c.index_of(w) == g == c.index_of(list(w))
    assert len(c.__dict__["_widths_memo"]) <= 3
    assert c.index_of((1, 1, 1)) is None          # not in X^f, memo or not
