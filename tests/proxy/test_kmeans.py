"""Tests of the exact weighted 1-D k-means (entronas.proxy.kmeans)."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from entronas._core.errors import InvalidParameterError
from entronas.proxy.kmeans import KMeans1DResult, assign_1d, optimal_kmeans_1d

# --------------------------------------------------------------------------- references


def _direct_inertia(x: np.ndarray, w: np.ndarray, starts) -> float:
    """Weighted SSE of the contiguous partition of sorted ``x`` given cluster starts."""
    bounds = list(starts) + [x.size]
    total = 0.0
    for a, b in zip(bounds[:-1], bounds[1:]):
        c = np.dot(w[a:b], x[a:b]) / w[a:b].sum()
        total += float(np.dot(w[a:b], (x[a:b] - c) ** 2))
    return total


def _distinct(values, weights=None) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(values, dtype=float).ravel()
    w = np.ones_like(v) if weights is None else np.asarray(weights, dtype=float).ravel()
    x, inv = np.unique(v, return_inverse=True)
    ww = np.bincount(inv.ravel(), weights=w, minlength=x.size)
    keep = ww > 0
    return x[keep], ww[keep]


def _brute_force(values, k: int, weights=None) -> float:
    """Minimum inertia over ALL contiguous partitions of the sorted distinct values."""
    x, w = _distinct(values, weights)
    k = min(k, x.size)
    best = np.inf
    for cuts in itertools.combinations(range(1, x.size), k - 1):
        best = min(best, _direct_inertia(x, w, (0,) + cuts))
    return best


def _dp_reference(x: np.ndarray, w: np.ndarray, k: int) -> float:
    """Plain O(k n^2) DP over all splits; returns the direct inertia of its partition."""
    n = x.size
    xc = x - np.average(x, weights=w)
    c0 = np.concatenate([[0.0], np.cumsum(w)])
    c1 = np.concatenate([[0.0], np.cumsum(w * xc)])
    c2 = np.concatenate([[0.0], np.cumsum(w * xc * xc)])
    i = np.arange(n)[:, None]
    m = np.arange(n)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = c1[i + 1] - c1[m]
        sse = c2[i + 1] - c2[m] - d1 * d1 / (c0[i + 1] - c0[m])  # segment m..i
    sse[m > i] = np.inf
    del d1
    cost = sse[:, 0].copy()
    args = []
    for _ in range(1, k):
        prev = np.concatenate([[np.inf], cost[:-1]])  # prev[m] = D[m-1]
        arg = np.empty(n, dtype=np.int64)
        new = np.empty(n)
        for lo in range(0, n, 512):  # row chunks keep the temporaries small
            block = prev[None, :] + sse[lo : lo + 512]
            arg[lo : lo + 512] = block.argmin(axis=1)
            new[lo : lo + 512] = block.min(axis=1)
        args.append(arg)
        cost = new
    starts = [0] * k
    row = n - 1
    for j in range(k - 1, 0, -1):
        starts[j] = int(args[j - 1][row])
        row = starts[j] - 1
    return _direct_inertia(x, w, starts)


def _check_invariants(values, res: KMeans1DResult, weights=None) -> None:
    """Structural properties every result must satisfy."""
    v = np.asarray(values, dtype=float)
    w = np.ones_like(v) if weights is None else np.asarray(weights, dtype=float)
    k = res.n_clusters
    assert res.centers.shape == (k,) and res.centers.dtype == np.float64
    assert res.edges.shape == (k - 1,) and res.edges.dtype == np.float64
    assert res.labels.shape == v.shape and res.labels.dtype == np.int64
    assert res.counts.shape == (k,)
    assert np.all(np.diff(res.centers) > 0)
    assert np.all(np.diff(res.edges) > 0)
    # Labels are exactly what the edges say.
    np.testing.assert_array_equal(assign_1d(v, res.edges), res.labels)
    # Counts are the (weighted) cluster sizes; every cluster is non-empty.
    np.testing.assert_allclose(res.counts, np.bincount(res.labels.ravel(), w.ravel(), k))
    pos = w > 0
    assert set(np.unique(res.labels[pos])) == set(range(k))
    # Centers are the weighted means of their clusters; inertia matches them.
    for j in range(k):
        sel = (res.labels == j) & pos
        np.testing.assert_allclose(res.centers[j], np.average(v[sel], weights=w[sel]),
                                   rtol=1e-12, atol=1e-12)
    inertia = float(np.sum(w * (v - res.centers[res.labels]) ** 2))
    assert res.inertia == pytest.approx(inertia, rel=1e-9, abs=1e-9)


# --------------------------------------------------------------------------- optimality


@pytest.mark.parametrize("seed", range(12))
def test_matches_brute_force_on_small_inputs(seed):
    rng = np.random.default_rng(seed)
    for n in range(1, 10):
        values = rng.integers(0, 12, size=n).astype(float) * rng.choice([1.0, 0.37, 1e3])
        weights = rng.integers(1, 6, size=n) if seed % 2 else None
        for k in range(1, 5):
            res = optimal_kmeans_1d(values, k, weights=weights)
            best = _brute_force(values, k, weights)
            assert res.inertia == pytest.approx(best, rel=1e-9, abs=1e-9), (values, k)
            _check_invariants(values, res, weights)


def test_matches_brute_force_with_tiny_differences_at_large_offset():
    # ~1e4 with differences ~1e-3: the regime of entropy values.
    rng = np.random.default_rng(7)
    for _ in range(20):
        values = 1e4 + np.round(rng.random(9) * 0.05, 3)
        for k in (2, 3, 4):
            res = optimal_kmeans_1d(values, k)
            best = _brute_force(values, k)
            assert res.inertia == pytest.approx(best, rel=1e-9, abs=1e-12)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(0, 20), st.integers(0, 4)), min_size=1, max_size=9),
    k=st.integers(1, 4),
)
def test_property_optimal_and_consistent(data, k):
    values = np.array([v for v, _ in data], dtype=float)
    weights = np.array([w for _, w in data], dtype=np.int64)
    if weights.sum() == 0:
        weights[0] = 1
    res = optimal_kmeans_1d(values, k, weights=weights)
    assert res.inertia == pytest.approx(_brute_force(values, k, weights), rel=1e-9, abs=1e-9)
    n_pos = np.unique(values[weights > 0]).size
    assert res.n_clusters == min(k, n_pos)
    assert res.counts.dtype == np.int64 and res.counts.sum() == weights.sum()
    _check_invariants(values, res, weights)


def test_larger_case_matches_quadratic_dp():
    rng = np.random.default_rng(3)
    x = np.unique(np.round(rng.gamma(2.0, 500.0, 3300), 4))[:3000]
    w = rng.integers(1, 40, size=x.size).astype(float)
    values = np.repeat(x, w.astype(int))
    res = optimal_kmeans_1d(rng.permutation(values), 50)
    ref = _dp_reference(x, w, 50)
    assert res.n_clusters == 50
    assert res.inertia <= ref * (1 + 1e-9)
    assert res.inertia == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("k", [2, 7, 30])
def test_medium_cases_match_quadratic_dp(k):
    rng = np.random.default_rng(k)
    x = np.unique(np.concatenate([rng.normal(c, 3.0, 40) for c in rng.uniform(0, 1e3, 8)]))
    w = rng.random(x.size) * 3 + 0.1
    res = optimal_kmeans_1d(x, k, weights=w)
    assert res.inertia == pytest.approx(_dp_reference(x, w, k), rel=1e-9)
    _check_invariants(x, res, w)


def _lloyd(x: np.ndarray, w: np.ndarray, centers: np.ndarray, iters: int = 100) -> float:
    for _ in range(iters):
        lab = np.abs(x[:, None] - centers[None, :]).argmin(axis=1)
        sw = np.bincount(lab, w, centers.size)
        ok = sw > 0
        centers = centers[ok] if not ok.all() else centers
        lab = np.abs(x[:, None] - centers[None, :]).argmin(axis=1)
        centers = np.bincount(lab, w * x, centers.size) / np.bincount(lab, w, centers.size)
    lab = np.abs(x[:, None] - centers[None, :]).argmin(axis=1)
    return float(np.sum(w * (x - centers[lab]) ** 2))


def test_never_worse_than_lloyd_or_scipy_kmeans2():
    from scipy.cluster.vq import kmeans2

    rng = np.random.default_rng(11)
    for trial in range(5):
        v = np.concatenate([rng.normal(c, s, 60) for c, s in
                            zip(rng.uniform(0, 100, 6), rng.uniform(0.5, 8, 6))])
        w = rng.integers(1, 5, size=v.size).astype(float)
        for k in (3, 6, 12):
            res = optimal_kmeans_1d(v, k, weights=w)
            init = rng.choice(v, size=k, replace=False)
            assert res.inertia <= _lloyd(v, w, np.sort(init)) * (1 + 1e-12)
            unweighted = optimal_kmeans_1d(v, k)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                centroids, labels = kmeans2(v, k, minit="++", seed=trial)
            theirs = float(np.sum((v - centroids[labels]) ** 2))
            assert unweighted.inertia <= theirs * (1 + 1e-12)


# --------------------------------------------------------------------------- semantics


def test_duplicates_collapse_and_counts():
    values = [5.0, 1.0, 1.0, 9.0, 5.0, 1.0, 9.5]
    res = optimal_kmeans_1d(values, 2)
    # {1,1,1 | 5,5,9,9.5}: 18.1875 beats {1,1,1,5,5 | 9,9.5}: 19.325.
    np.testing.assert_allclose(res.centers, [1.0, 7.125])
    np.testing.assert_array_equal(res.counts, [3, 4])
    np.testing.assert_array_equal(res.labels, [1, 0, 0, 1, 1, 0, 1])
    np.testing.assert_allclose(res.edges, [3.0])
    assert res.inertia == pytest.approx(2 * 2.125**2 + 1.875**2 + 2.375**2)
    assert res.inertia == pytest.approx(_brute_force(values, 2))
    assert res.counts.dtype == np.int64


def test_k_at_least_distinct_gives_each_value_its_cluster():
    values = np.array([3.0, 1.0, 3.0, 2.0, 1.0])
    for k in (3, 4, 100):
        res = optimal_kmeans_1d(values, k)
        assert res.n_clusters == 3
        assert res.inertia == 0.0
        np.testing.assert_array_equal(res.centers, [1.0, 2.0, 3.0])
        np.testing.assert_array_equal(res.edges, [1.5, 2.5])
        np.testing.assert_array_equal(res.labels, [2, 0, 2, 1, 0])
        np.testing.assert_array_equal(res.counts, [2, 1, 2])


def test_single_value_input():
    res = optimal_kmeans_1d([4.2, 4.2, 4.2], 5)
    assert res.n_clusters == 1 and res.inertia == 0.0
    np.testing.assert_array_equal(res.labels, [0, 0, 0])
    assert res.edges.shape == (0,)


def test_k_equal_one_is_variance_times_n():
    rng = np.random.default_rng(2)
    v = rng.normal(50, 7, size=(40, 3))
    res = optimal_kmeans_1d(v, 1)
    assert res.n_clusters == 1
    assert res.inertia == pytest.approx(np.var(v) * v.size, rel=1e-12)
    np.testing.assert_allclose(res.centers, [v.mean()])
    assert res.labels.shape == (40, 3) and not res.labels.any()
    np.testing.assert_array_equal(res.counts, [120])


def test_weights_equal_repetition():
    rng = np.random.default_rng(4)
    x = np.round(rng.uniform(0, 10, 50), 2)
    reps = rng.integers(1, 5, size=50)
    a = optimal_kmeans_1d(x, 6, weights=reps)
    b = optimal_kmeans_1d(np.repeat(x, reps), 6)
    np.testing.assert_allclose(a.centers, b.centers, rtol=1e-12)
    np.testing.assert_array_equal(a.edges, b.edges)
    np.testing.assert_array_equal(a.counts, b.counts)
    assert a.inertia == pytest.approx(b.inertia, rel=1e-12)


def test_float_weights_and_zero_weights():
    values = np.array([0.0, 1.0, 2.0, 10.0, 11.0, 50.0])
    weights = np.array([0.5, 0.5, 1.0, 2.0, 2.0, 0.0])  # 50 has no weight
    res = optimal_kmeans_1d(values, 2, weights=weights)
    assert res.counts.dtype == np.float64
    np.testing.assert_allclose(res.counts, [2.0, 4.0])
    np.testing.assert_allclose(res.centers, [1.25, 10.5])
    assert res.labels[-1] == 1  # labelled by the edges
    _check_invariants(values, res, weights)


def test_labels_follow_edges_and_assign_1d_side():
    rng = np.random.default_rng(8)
    v = rng.gamma(3.0, 2.0, size=500)
    res = optimal_kmeans_1d(v, 9)
    _check_invariants(v, res)
    # A value exactly on an edge belongs to the lower cluster.
    np.testing.assert_array_equal(assign_1d(res.edges, res.edges), np.arange(8))
    np.testing.assert_array_equal(assign_1d(np.nextafter(res.edges, np.inf), res.edges),
                                  np.arange(1, 9))
    # Each edge is the midpoint between neighbouring clusters.
    for j, e in enumerate(res.edges):
        a = v[res.labels == j].max()
        b = v[res.labels == j + 1].min()
        assert a < e < b and e == pytest.approx((a + b) / 2)
    labels_2d = assign_1d(v.reshape(50, 10), res.edges)
    assert labels_2d.shape == (50, 10) and labels_2d.dtype == np.int64


def test_adjacent_floats_keep_edges_strict():
    a = 1.0
    b = np.nextafter(a, 2.0)
    res = optimal_kmeans_1d([a, b, 5.0], 3)
    np.testing.assert_array_equal(assign_1d([a, b, 5.0], res.edges), [0, 1, 2])


def test_deterministic_and_order_invariant():
    rng = np.random.default_rng(9)
    v = np.round(rng.normal(size=2000), 2)
    a = optimal_kmeans_1d(v, 20)
    b = optimal_kmeans_1d(v.copy(), 20)
    perm = rng.permutation(v.size)
    c = optimal_kmeans_1d(v[perm], 20)
    for r in (b, c):
        np.testing.assert_array_equal(a.centers, r.centers)
        np.testing.assert_array_equal(a.edges, r.edges)
        np.testing.assert_array_equal(a.counts, r.counts)
        assert a.inertia == r.inertia
    np.testing.assert_array_equal(a.labels[perm], c.labels)


def test_ties_resolve_deterministically():
    # Symmetric data: several optimal partitions exist; the result must be stable.
    values = [0.0, 1.0, 2.0, 3.0]
    res = optimal_kmeans_1d(values, 2)
    assert res.inertia == pytest.approx(1.0)
    again = optimal_kmeans_1d(values, 2)
    np.testing.assert_array_equal(res.labels, again.labels)


def test_result_is_frozen():
    res = optimal_kmeans_1d([1.0, 2.0], 1)
    with pytest.raises(AttributeError):
        res.inertia = 0.0  # type: ignore[misc]


# --------------------------------------------------------------------------- errors


def test_n_clusters_message_format():
    with pytest.raises(InvalidParameterError) as err:
        optimal_kmeans_1d([1.0, 2.0], 0)
    assert str(err.value) == (
        "The 'n_clusters' parameter of optimal_kmeans_1d must be an int in the range "
        "[1, inf). Got 0 instead."
    )


@pytest.mark.parametrize("k", [0, -3, 2.5, True, "3", None, float("inf")])
def test_bad_n_clusters(k):
    with pytest.raises(InvalidParameterError, match="'n_clusters'"):
        optimal_kmeans_1d([1.0, 2.0], k)


def test_numpy_and_integral_float_n_clusters_accepted():
    assert optimal_kmeans_1d([1.0, 2.0, 3.0], np.int64(2)).n_clusters == 2
    assert optimal_kmeans_1d([1.0, 2.0, 3.0], 2.0).n_clusters == 2


@pytest.mark.parametrize(
    "values", [[], np.array([]), [1.0, np.nan], [np.inf, 1.0], [-np.inf], ["a", "b"]]
)
def test_bad_values(values):
    with pytest.raises(InvalidParameterError, match="'values'"):
        optimal_kmeans_1d(values, 2)


@pytest.mark.parametrize(
    "weights",
    [[1.0, 2.0], [1.0, -1.0, 1.0], [1.0, np.nan, 1.0], [0, 0, 0], [[1.0, 1.0, 1.0]]],
)
def test_bad_weights(weights):
    with pytest.raises(InvalidParameterError, match="'weights'"):
        optimal_kmeans_1d([1.0, 2.0, 3.0], 2, weights=weights)


def test_errors_are_one_line_value_errors():
    for call in (lambda: optimal_kmeans_1d([], 2),
                 lambda: optimal_kmeans_1d([1.0], 2, weights=[-1.0]),
                 lambda: assign_1d([np.nan], [0.0]),
                 lambda: assign_1d([1.0], [2.0, 1.0])):
        with pytest.raises(ValueError) as err:
            call()
        assert isinstance(err.value, InvalidParameterError)
        assert "\n" not in str(err.value)


# --------------------------------------------------------------------------- internals


def test_short_row_guesses_extend_to_the_same_optimum(monkeypatch):
    """The layer row-range guess is only a speed hint: force it short everywhere."""
    from entronas.proxy import kmeans

    rng = np.random.default_rng(12)
    x = np.unique(np.round(rng.uniform(0, 100, 700), 3))
    w = rng.integers(1, 9, size=x.size).astype(float)
    expected = optimal_kmeans_1d(x, 25, weights=w)
    monkeypatch.setattr(kmeans, "_GUESS_GROWTH", 0)
    monkeypatch.setattr(kmeans, "_GUESS_SLACK", 1)
    forced = optimal_kmeans_1d(x, 25, weights=w)
    assert forced.inertia == pytest.approx(expected.inertia, rel=1e-12)
    assert forced.inertia == pytest.approx(_dp_reference(x, w, 25), rel=1e-9)
    for n in range(2, 10):
        values = rng.integers(0, 30, size=n).astype(float)
        for k in (2, 3, 4):
            got = optimal_kmeans_1d(values, k).inertia
            assert got == pytest.approx(_brute_force(values, k), rel=1e-9, abs=1e-9)


def test_pruning_by_upper_bound_does_not_change_the_optimum(monkeypatch):
    from entronas.proxy import kmeans

    rng = np.random.default_rng(13)
    v = rng.choice(np.round(rng.gamma(2.0, 3.0, 900), 3), 5000)
    expected = optimal_kmeans_1d(v, 40)
    monkeypatch.setattr(kmeans, "_lloyd_cost", lambda *args, **kw: float("inf"))
    unpruned = optimal_kmeans_1d(v, 40)
    assert unpruned.inertia == pytest.approx(expected.inertia, rel=1e-12)
    np.testing.assert_array_equal(unpruned.edges, expected.edges)
