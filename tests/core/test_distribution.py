"""The exact entropy distribution (proxy/distribution.py) and the draws made from it.

Checked against enumeration wherever X^f can be listed: its distinct values and counts are the
enumerated entropies', its clusters are k-means on the enumerated entropies, its unranking is a
bijection onto X^f, and its draws follow Eq. 7.
"""

import pickle

import numpy as np
import pytest
from hypothesis import given
from scipy import stats

from entronas._core.errors import InfeasibleSpaceError
from entronas.proxy import EntropyClusters, entropies, tree_entropies
from entronas.proxy import distribution as dist_mod
from entronas.proxy.clusters import merge_ties
from entronas.proxy.distribution import DistributionUnavailable, EntropyDistribution
from entronas.reduce import reduce_space
from entronas.reduce.dag import counted_as_tree
from entronas.sampling import Candidates, geometric_probabilities
from entronas.sampling import candidates as cand_mod
from entronas.space import get_space
from entronas.targets import Target

from .test_dimensions import SETTINGS as DIMENSION_SETTINGS
from .test_dimensions import dimension_spaces
from .test_reduce_bruteforce import SETTINGS, small_problems

PAPER_SMALL = Target("s", 1_000_000, 262_144, costs="paper")


def enumerated(tree):
    """(distinct merged entropies, their counts) of every member, listed."""
    return np.unique(merge_ties(tree_entropies(tree)), return_counts=True)


def distributed(dist):
    """The same from the distribution (keys of all depths merged by value)."""
    values, inverse = np.unique(merge_ties(dist.h), return_inverse=True)
    counts = np.zeros(len(values), np.int64)
    np.add.at(counts, inverse.ravel(), dist.weights)
    return values, counts


def check_against_enumeration(tree) -> EntropyDistribution | None:
    try:
        dist = EntropyDistribution(tree)
    except DistributionUnavailable:
        return None
    ev, ec = enumerated(tree)
    dv, dc = distributed(dist)
    assert len(ev) == len(dv) and np.array_equal(ec, dc)
    np.testing.assert_allclose(dv, ev, rtol=1e-10, atol=1e-9)
    # every (key, rank) names one member, all of X^f once, with its entropy; locate inverts it
    seen = []
    for k in range(dist.n_keys):
        for r in range(int(dist.weights[k])):
            depth, pos, g = dist.member(k, r)
            seen.append(g)
            assert dist.locate(depth, pos) == (k, r)
            widths = tree.positions_to_widths(depth, pos[None])
            assert tuple(widths[0]) == tree.widths_of([g])[0]
            assert entropies(tree.space, widths)[0] == pytest.approx(dist.h[k], abs=1e-7)
    assert sorted(seen) == list(range(tree.size))
    return dist


CHECKED = {"exact": 0, "unavailable": 0, "previous-width terms": 0}


def _compare(problem) -> None:
    from entronas.proxy.distribution import _terms

    space, target, options = problem
    try:
        tree, _ = reduce_space(space, target, options)
    except Exception:  # an empty X^f: nothing to compare
        return
    if tree.size > 3000:
        return
    CHECKED["exact" if check_against_enumeration(tree) else "unavailable"] += 1
    if any(t.shape[0] > 1 for d in tree.depths for t in _terms(space, d, "network")[0]):
        CHECKED["previous-width terms"] += 1


@SETTINGS
@given(small_problems())
def test_distribution_equals_enumeration_on_random_spaces(problem):
    _compare(problem)


@SETTINGS
@given(small_problems(backbones=("mobilenetv2", "blocks")))
def test_distribution_equals_enumeration_on_random_block_spaces(problem):
    """Inverted residuals whose expansion follows the input: terms on the previous width."""
    _compare(problem)


def test_the_property_test_compared_distributions():
    if not sum(CHECKED.values()):
        pytest.skip("run together with test_distribution_equals_enumeration_on_random_spaces")
    assert CHECKED["exact"] >= 10 and CHECKED["previous-width terms"] >= 3, CHECKED


@pytest.mark.parametrize("name", ["mlp-example", "mlp-digits", "dscnn-digits", "cnn-digits"])
def test_distribution_equals_enumeration_on_presets(name):
    tree, _ = reduce_space(get_space(name), Target("t", 60_000, 16_384, costs="paper"))
    dist = check_against_enumeration(tree) if tree.size <= 5000 else EntropyDistribution(tree)
    assert dist is not None
    ev, ec = enumerated(tree)
    assert np.array_equal(distributed(dist)[1], ec)


def test_exact_clusters_equal_kmeans_on_the_enumerated_entropies():
    tree, _ = reduce_space(get_space("dscnn-kws", depth_max=6), PAPER_SMALL)
    dist = EntropyDistribution(tree)
    listed = EntropyClusters(40).fit(tree_entropies(tree))
    weighted = EntropyClusters(40).fit(dist.h, sample_weight=dist.weights)
    assert weighted.n_clusters_ == listed.n_clusters_ == 40
    assert np.array_equal(weighted.sizes_, listed.sizes_)
    np.testing.assert_allclose(weighted.centers_, listed.centers_, rtol=1e-10)  # the quantum
    np.testing.assert_allclose(weighted.edges_, listed.edges_, rtol=1e-10)


def test_counted_set_becomes_its_dag_with_the_same_members():
    space = get_space("convmixer-cifar10", depth_max=9)
    counted, _ = reduce_space(space, PAPER_SMALL, method="count")
    tree = counted_as_tree(counted)
    assert tree is not None and tree.size == counted.size
    rng = np.random.default_rng(0)
    for g in rng.integers(0, counted.size, 50):
        assert tree.index_of(counted.widths_of([int(g)])[0]) is not None
        assert counted.index_of(tree.widths_of([int(g)])[0]) is not None


def test_terms_that_follow_the_previous_width_are_exact_too():
    """mobilenetv2-vww's expansion is t x its input width, so a layer's Eq. 6 term depends on
    the previous width; DAG nodes are split by the parent's position there."""
    from entronas.proxy.distribution import _terms

    space = get_space("mobilenetv2-vww", depth_max=7)
    assert any(t.shape[0] > 1 for t in _terms(space, 7, "network")[0])
    tree, _ = reduce_space(space, Target("t", 400_000, 500_000, costs="paper"))
    assert 100 < tree.size <= 3000
    assert check_against_enumeration(tree) is not None


NAMED_CHECKED = {"exact": 0, "unavailable": 0}


@DIMENSION_SETTINGS
@given(dimension_spaces())
def test_distribution_equals_enumeration_on_random_named_spaces(problem):
    """Spaces of named dimensions (tied widths, inner widths, block choices with identity):
    a slot's term reads its scope, so DAG nodes are split by the values still read later."""
    space, target, options = problem
    try:
        tree, _ = reduce_space(space, target, options)
    except InfeasibleSpaceError:
        return
    dist = check_against_enumeration(tree)
    assert (dist is None) == (space.num_classes == 0)   # u_L is a constant of a classifier
    NAMED_CHECKED["exact" if dist is not None else "unavailable"] += 1


def test_the_named_property_test_compared_distributions():
    if not sum(NAMED_CHECKED.values()):
        pytest.skip("run together with test_distribution_equals_enumeration_on_random_named_"
                    "spaces")
    assert NAMED_CHECKED["exact"] >= 8, NAMED_CHECKED


@pytest.mark.parametrize("costs", ["paper", "tflm"])
def test_named_preset_candidates_above_the_list_limit_use_the_exact_distribution(
        monkeypatch, costs):
    """ir7-cifar10 (a stem width shared by two blocks, a block choice with identity) treated
    as too large to list: the exact clusters equal k-means on its listed entropies, and
    entropy draws are members whose entropy and cluster are their own."""
    from entronas.cost import costs as named_costs

    options = named_costs(costs, "int8" if costs == "tflm" else "float32")
    tree, _ = reduce_space(get_space("ir7-cifar10"), Target("t", 64 * 1024, 32 * 1024),
                           options)
    h = tree_entropies(tree)
    listed = EntropyClusters(30).fit(h)
    monkeypatch.setattr(cand_mod, "LIST_LIMIT", 0)
    c = Candidates.build(tree, n_clusters=30)
    assert c.distribution is not None and c.settings["clusters"] == "exact"
    assert np.array_equal(c.clusters.sizes_, listed.sizes_)
    np.testing.assert_allclose(c.clusters.edges_, listed.edges_, rtol=1e-10)
    drawn = c.policy("entropy", p=0.5).draws(np.random.default_rng(0), 300)
    assert len(set(drawn)) == 300
    for g in drawn:
        hg, cl = c.entropy_at(int(g))
        assert hg == pytest.approx(h[g], abs=1e-9)
        assert cl == listed.labels_[g]


def test_unavailable_cases_say_why():
    tree, _ = reduce_space(get_space("dscnn-kws", depth_max=6), PAPER_SMALL)
    with pytest.raises(DistributionUnavailable, match="more than 100 entries"):
        EntropyDistribution(tree, max_entries=100)


def distribution_candidates(monkeypatch, n_clusters=12):
    """Candidates of a small counted set, built the way a set too large to list is."""
    monkeypatch.setattr(cand_mod, "LIST_LIMIT", 0)
    counted, _ = reduce_space(get_space("mlp-digits", depth_max=2), Target(
        "t", 40_000, None, costs="paper"), method="count")
    c = Candidates.build(counted, n_clusters=n_clusters)
    assert c.distribution is not None and c.settings["clusters"] == "exact"
    return c


def test_draws_without_replacement_cover_x_f_once(monkeypatch):
    c = distribution_candidates(monkeypatch)
    pol = c.policy("entropy", p=0.5)
    n = c.feasible.size
    drawn = pol.draws(np.random.default_rng(1), n + 5)
    assert sorted(drawn) == list(range(n))
    # suggest() with a growing taken set: no repeats, then None
    rng, taken = np.random.default_rng(2), set()
    for _ in range(n):
        i = pol.suggest(rng, taken)
        assert i not in taken
        taken.add(i)
    assert pol.suggest(rng, taken) is None
    # and a shrinking one (a surplus trial gave its candidate back) is followed
    taken.discard(5)
    assert pol.suggest(rng, taken) == 5


def test_draw_frequencies_follow_eq7_and_are_uniform_inside_a_cluster(monkeypatch):
    c = distribution_candidates(monkeypatch, n_clusters=6)
    pol = c.policy("entropy", p=0.5).inner
    draws = pol.sample(30_000, seed=3, replace=True)
    labels = np.array([c.entropy_at(int(i))[1] for i in draws])
    counts = np.bincount(labels, minlength=c.clusters.n_clusters_)
    expected = geometric_probabilities(c.clusters.n_clusters_, 0.5) * len(draws)
    assert stats.chisquare(counts, expected).pvalue > 0.01
    # uniform over the members of cluster 0 and of cluster 2 (listed from the tree)
    entropy_of = {g: c.entropy_at(g) for g in range(c.feasible.size)}
    for cl in (0, 2):
        members = [g for g, (_, lab) in entropy_of.items() if lab == cl]
        assert len(members) == c.clusters.sizes_[cl]
        inside = np.bincount(draws[labels == cl], minlength=c.feasible.size)[members]
        assert stats.chisquare(inside).pvalue > 0.01
    # the first draws prefer high entropy
    first = pol.draws(np.random.default_rng(0), 20)
    assert np.mean([entropy_of[g][1] for g in first]) < 2


def test_entropy_of_a_drawn_member_is_its_own(monkeypatch):
    c = distribution_candidates(monkeypatch)
    for g in c.policy("entropy").draws(np.random.default_rng(4), 30):
        h, cl = c.entropy_at(g)
        widths = c.widths(g)
        assert h == pytest.approx(c.entropy_of_arch(widths), abs=1e-9)
        assert cl == c.cluster_of_entropy(h)


def test_greedy_and_bo_get_a_pool_labelled_by_the_exact_clusters(monkeypatch):
    c = distribution_candidates(monkeypatch)
    pool = c.pooled()
    assert pool.indices is not None and pool is c.pooled()
    assert np.array_equal(pool.clusters.edges_, c.clusters.edges_)
    for k, g in enumerate(pool.indices[:50]):
        assert pool.clusters.labels_[k] == c.entropy_at(int(g))[1]
    g = c.policy("greedy").suggest(0)
    macs = pool.costs()["macs"]
    assert g == int(pool.indices[int(np.argmax(macs))])
    with pytest.raises(TypeError, match="pooled"):
        c.costs()


def test_save_load_and_pickle_round_trip(monkeypatch, tmp_path):
    c = distribution_candidates(monkeypatch)
    c.save(tmp_path / "c.cand")
    d = Candidates.load(tmp_path / "c.cand")
    assert d.distribution is not None and d.n_candidates == c.n_candidates
    assert np.array_equal(d.clusters.labels_, c.clusters.labels_)
    a = c.policy("entropy").draws(np.random.default_rng(9), 25)
    assert d.policy("entropy").draws(np.random.default_rng(9), 25) == a
    e = pickle.loads(pickle.dumps(c))
    assert e.policy("entropy").draws(np.random.default_rng(9), 25) == a
    assert len(pickle.dumps(c.distribution)) < len(pickle.dumps(c.distribution.tree)) + 2000


def test_pool_is_the_fallback_when_no_distribution_fits(monkeypatch):
    monkeypatch.setattr(dist_mod, "MAX_ENTRIES", 10)
    counted, _ = reduce_space(get_space("convmixer-cifar10", depth_max=9), PAPER_SMALL,
                              method="count")
    lines = []
    c = Candidates.build(counted, pool=500, n_clusters=10, log=lines.append)
    assert c.distribution is None and not c.exact and c.n_candidates <= 500
    assert any("exact entropy clusters are not possible here" in m and "more than 10 entries"
               in m for m in lines)


def test_counted_and_listed_paths_give_the_same_clusters(monkeypatch):
    """ConvMixer at depths 8-9 (6.1M networks): counted and built as its DAG, its clusters
    from the exact distribution equal k-means on all 6.1M listed entropies."""
    space = get_space("convmixer-cifar10", depth_max=9)
    counted, _ = reduce_space(space, PAPER_SMALL, method="count")
    listed, _ = reduce_space(space, PAPER_SMALL, method="enumerate",
                             enumerate_limit=10**8)
    assert counted.size == listed.size > 6_000_000
    exact = Candidates.build(counted, n_clusters=30)
    assert exact.distribution is not None
    monkeypatch.setattr(cand_mod, "LIST_LIMIT", 10**8)
    by_list = Candidates.build(listed, n_clusters=30)
    assert by_list.distribution is None and len(by_list.entropy) == listed.size
    assert np.array_equal(exact.clusters.sizes_, by_list.clusters.sizes_)
    np.testing.assert_allclose(exact.clusters.centers_, by_list.clusters.centers_, rtol=1e-10)


def test_draws_on_a_huge_set_follow_the_counts_inside_a_cluster():
    """4.8e11 networks: inside cluster 0, each distinct entropy is drawn in proportion to the
    number of networks that have it (uniform over members), and no draw repeats."""
    tree, _ = reduce_space(get_space("convmixer-cifar10"), PAPER_SMALL)
    c = Candidates.build(tree, n_clusters=100)
    pol = c.policy("entropy").inner
    keys = np.flatnonzero(c.clusters.labels_ == 0)
    draws = [pol._member(0, int(r)) for r in
             np.random.default_rng(5).integers(0, int(pol.sizes[0]), 3000)]
    got = {}
    for g in draws:
        depth, _, pos = next(iter(tree.positions_by_depth(np.array([g]))))
        key, _ = c.distribution.locate(depth, pos[0])
        got[key] = got.get(key, 0) + 1
    assert set(got) <= set(keys.tolist())
    w = c.distribution.weights[keys].astype(float)
    expected = w / w.sum() * len(draws)
    big = expected >= 5  # chi-square on the keys expected often enough, the rest pooled
    obs = np.array([got.get(int(k), 0) for k in keys])
    counts = np.append(obs[big], obs[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    keep = exp > 0
    assert stats.chisquare(counts[keep], exp[keep]).pvalue > 0.01
    drawn = c.policy("entropy").draws(np.random.default_rng(0), 2000)
    assert len(set(drawn)) == 2000
