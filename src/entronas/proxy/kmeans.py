"""Exact (globally optimal) weighted 1-D k-means by dynamic programming.

Entropy-based NAS clusters the entropy values of all feasible architectures (often
millions of values but only thousands of distinct ones) into ``k`` clusters and needs the
clustering with the *minimum* weighted within-cluster sum of squares, deterministically.

Method. The input is reduced to its sorted distinct values ``x_0 < ... < x_{n-1}`` with
weights ``w_i`` (multiplicity times the optional per-value weight). In 1-D an optimal
clustering consists of contiguous runs of the sorted values, so with

    D[j][i] = min_{j <= m <= i} D[j-1][m-1] + SSE(m..i)

(``D[j][i]``: best cost of ``x_0..x_i`` split into ``j+1`` clusters) the optimum is
``D[k-1][n-1]``. ``SSE`` is read off prefix sums of ``w``, ``w x`` and ``w x^2`` of the
*centred* data (accumulated in extended precision, then rounded once), so no variance is
computed from large raw moments.

The cost matrix is Monge, hence the smallest optimal split ``opt[j][i]`` is monotone in
``i`` and in ``j`` (``opt[j-1][i] <= opt[j][i] <= opt[j][i+1]``). Each layer is solved by
the divide-and-conquer optimisation over a fixed bisection order of its rows, each row's
candidates bounded by the neighbours solved at coarser levels and by the previous layer.
Work is ``O(k n log n)``; the layers are compiled with numba (``kmeans_dp``), because the
same order in vectorised numpy took 16.9 s on a million distinct values.

Two exact prunings cut the work further. (1) Meet in the middle: the first ``k // 2``
clusters are solved over prefixes, the others over suffixes (the same DP on the
mirrored data, in a second thread), joined at the best split point. (2) An upper bound
``U`` on the optimum (a quick Lloyd run) limits every layer to the prefixes whose cost
stays ``<= U`` (the costs grow with the prefix); other rows cannot be on an optimal path.
Ties go to the smallest index (of the last boundary, then backwards; the join takes the
smallest split).
"""

from __future__ import annotations

import operator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from entronas._core.errors import InvalidParameterError
from entronas._core.validation import check_number

__all__ = ["KMeans1DResult", "assign_1d", "optimal_kmeans_1d"]

_OWNER = "optimal_kmeans_1d"


@dataclass(frozen=True)
class KMeans1DResult:
    """Result of :func:`optimal_kmeans_1d`.

    Attributes:
        centers: Weighted cluster means, float64, ascending, shape ``(k_used,)``.
        edges: Cluster boundaries, float64, shape ``(k_used - 1,)``. Cluster ``j`` holds
            the values ``v`` with ``edges[j-1] < v <= edges[j]``; each edge is the
            midpoint between the largest value of cluster ``j`` and the smallest value
            of cluster ``j + 1``.
        labels: Cluster index of every input value (0 = smallest center), int64, same
            shape as the input.
        counts: Number of input values per cluster (int64); with weights, the summed
            weights per cluster (int64 for integer/bool weights, float64 for float
            weights so that fractional weights are not truncated).
        inertia: Weighted within-cluster sum of squared distances to the centers.
        n_clusters: ``k_used = min(n_clusters, number of distinct values)`` (distinct
            values with positive total weight when weights are given).
    """

    centers: np.ndarray
    edges: np.ndarray
    labels: np.ndarray
    counts: np.ndarray
    inertia: float
    n_clusters: int


# --------------------------------------------------------------------------- validation


def _bad(name: str, owner: str, what: str, got: str) -> InvalidParameterError:
    return InvalidParameterError(
        f"The {name!r} parameter of {owner} must be {what}. Got {got} instead."
    )


def _as_finite_array(values: Any, name: str, owner: str) -> np.ndarray:
    """Return ``values`` as a float64 array, raising on non-numeric or non-finite input."""
    what = "an array of finite real numbers"
    try:
        arr = np.asarray(values)
        if arr.dtype.kind not in "biuf":
            raise TypeError
        arr = arr.astype(np.float64, copy=False)
    except (TypeError, ValueError):
        raise _bad(name, owner, what, f"an object of type {type(values).__name__}") from None
    if arr.size and not np.isfinite(arr).all():
        bad = arr[~np.isfinite(arr)].ravel()[0]
        raise _bad(name, owner, what, f"an array containing {bad!r}")
    return arr


def _check_k(n_clusters: Any) -> int:
    if isinstance(n_clusters, np.integer):
        n_clusters = operator.index(n_clusters)
    return check_number(n_clusters, "n_clusters", _OWNER, lo=1, closed="left", integer=True)


# --------------------------------------------------------------------------- solver


#: Row-range guess of a layer: rows below U in the previous layer, plus this many times
#: their growth from the layer before, plus a slack (tests shrink these to force the
#: extension path).
_GUESS_GROWTH = 2
_GUESS_SLACK = 64


def _lloyd_cost(x: np.ndarray, w: np.ndarray, k: int, iters: int = 12) -> float:
    """Cost of a quick Lloyd clustering from weighted quantiles: an upper bound on OPT."""
    n = x.size
    cw = np.cumsum(w)
    starts = np.searchsorted(cw, cw[-1] * (np.arange(1, k) / k), side="right")
    starts = np.unique(np.concatenate([[0], starts[starts < n]]))
    for _ in range(iters):
        centers = np.add.reduceat(w * x, starts) / np.add.reduceat(w, starts)
        new = np.searchsorted(x, 0.5 * (centers[:-1] + centers[1:]), side="right")
        new = np.unique(np.concatenate([[0], new[new < n]]))
        if new.size == starts.size and (new == starts).all():
            break
        starts = new
    centers = np.add.reduceat(w * x, starts) / np.add.reduceat(w, starts)
    labels = np.repeat(np.arange(starts.size), np.diff(np.append(starts, n)))
    dev = x - centers[labels]
    return float(np.dot(w, dev * dev))


def _prefix_layers(
    xl: np.ndarray, wl: np.ndarray, k: int, n_layers: int, limit: float
) -> tuple[np.ndarray, np.ndarray]:
    """Layers ``0..n_layers-1`` of the DP over the prefixes of ``xl`` (centred).

    Layer ``j`` holds ``D[j][i]`` (best cost of ``x_0..x_i`` in ``j+1`` clusters) for
    (at least) the rows ``i`` in ``[j, n - k + j]`` that can still be part of a
    ``k``-clustering of cost ``<= limit``; unsolved entries are ``+inf``. Returns the
    last layer's costs (length ``n``) and the smallest optimal starts of the last cluster
    on the solved rows of every layer, as ``(flat, off)``: ``opt[j][i] = flat[off[j] + i -
    j]`` (ragged: only solved rows are kept).

    Pruning: ``D[j][i]`` is nondecreasing in ``i`` and no optimal solution passes a prefix
    costing more than ``limit``, so a layer is solved on a guessed row range (from the
    growth of the previous layers) and extended until its last row costs more than
    ``limit``. Rows left out act as ``+inf`` splits for the next layer, which keeps every
    row that an optimal solution can use exact. The layers themselves are compiled
    (``entronas.proxy.kmeans_dp``).
    """
    from .kmeans_dp import prefix_layers

    n = xl.size
    sums = np.zeros((3, n + 1), dtype=np.float64)
    wx = wl * xl
    sums[0, 1:] = np.cumsum(wl)  # extended precision: every prefix sum is rounded only once
    sums[1, 1:] = np.cumsum(wx)
    sums[2, 1:] = np.cumsum(wx * xl)
    return prefix_layers(sums[0], sums[1], sums[2], k, n_layers, limit,
                         _GUESS_GROWTH, _GUESS_SLACK)


def _backtrack(opts, row: int) -> list[int]:
    """Cluster starts of the optimal clustering (one per layer) of the prefix ``0..row``."""
    flat, off = opts
    starts = [0] * (off.size - 1)
    for j in range(off.size - 2, 0, -1):
        if not 0 <= row - j < off[j + 1] - off[j]:
            raise RuntimeError(f"k-means backtrack left the solved rows (layer {j}, row {row})")
        starts[j] = int(flat[off[j] + row - j])
        row = starts[j] - 1
    return starts


def _optimal_starts(x: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Start indices (ascending, ``starts[0] == 0``) of an optimal ``k``-clustering.

    ``x`` is strictly increasing, ``w`` positive, ``2 <= k < x.size``.

    Meet in the middle: the first ``a = k // 2`` clusters are solved over prefixes and
    the other ``b = k - a`` over suffixes (the same DP on the mirrored data); the best
    split point minimises ``F[a-1][i] + B[b-1][i+1]``. With the upper bound ``U`` (a
    quick Lloyd run) each side only needs the rows whose cost stays below ``U``: about
    ``(j/k)^(2/3)`` of them in layer ``j``, so far fewer than one long forward pass.
    """
    n = x.size
    xl = x.astype(np.longdouble)
    wl = w.astype(np.longdouble)
    xl -= (wl * xl).sum() / wl.sum()  # centre: small moments, no cancellation
    upper = _lloyd_cost(xl.astype(np.float64), w, k)
    total = float((wl * xl * xl).sum())
    limit = upper + 1e-9 * (upper + total)  # generous: pruning must never cut a needed row
    a = k // 2
    b = k - a
    while True:
        # The two halves are independent: the prefixes in a second thread (the compiled
        # layers release the GIL), the mirrored suffixes here.
        with ThreadPoolExecutor(1) as pool:
            forward = pool.submit(_prefix_layers, xl, wl, k, a, limit)
            bwd, *opts_b = _prefix_layers(-xl[::-1], wl[::-1], k, b, limit)
            fwd, *opts_f = forward.result()
        # Prefix x_0..x_i in a clusters, suffix x_{i+1}..x_{n-1} (mirrored prefix n-2-i)
        # in b clusters: bwd[::-1][i + 1] = bwd[n - 2 - i]. Ties go to the smallest split.
        joined = fwd[a - 1 : n - b] + bwd[::-1][a : n - b + 1]
        split = a - 1 + int(np.argmin(joined))
        if np.isfinite(joined[split - a + 1]) or limit == np.inf:
            break
        limit = np.inf  # cannot happen with U >= optimum; never return a partial path
    left = _backtrack(opts_f, split)
    right = _backtrack(opts_b, n - 2 - split)  # starts in mirrored coordinates
    starts = left + [split + 1] + [n - s for s in reversed(right[1:])]
    return np.asarray(starts, dtype=np.int64)


# --------------------------------------------------------------------------- public API


def optimal_kmeans_1d(values: Any, n_clusters: int, *, weights: Any = None) -> KMeans1DResult:
    """Globally optimal weighted 1-D k-means (minimum within-cluster sum of squares).

    Deterministic and exact up to floating-point rounding: the input is reduced to its
    distinct values, which are partitioned into contiguous runs by dynamic programming
    (divide-and-conquer optimisation vectorised per recursion level, meet in the middle,
    pruning by an upper bound; see the module docstring). Among equally good splits the
    smallest index wins (mirrored for the upper half of the clusters), so equal inputs
    always give identical results.

    Args:
        values: Real numbers, any shape (flattened for clustering); must be non-empty
            and finite.
        n_clusters: Requested number of clusters, an int ``>= 1``. If there are at most
            ``n_clusters`` distinct values, each distinct value becomes its own cluster
            (inertia 0).
        weights: Optional non-negative finite weights, same shape as ``values``; the
            objective becomes ``sum(weights * (values - center)**2)``. Values of zero
            total weight do not influence the clustering; they are labelled by the
            edges. At least one weight must be positive.

    Returns:
        The :class:`KMeans1DResult` (centers ascending, labels in input shape).

    Raises:
        InvalidParameterError: On empty / non-finite / non-numeric values, an
            ``n_clusters`` that is not an int ``>= 1``, or weights of the wrong shape,
            negative, non-finite or all zero.
    """
    k = _check_k(n_clusters)
    arr = _as_finite_array(values, "values", _OWNER)
    if arr.size == 0:
        raise _bad("values", _OWNER, "a non-empty array of finite real numbers",
                   "an empty array")
    flat = arr.ravel()
    uniq, inverse, mult = np.unique(flat, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    if weights is None:
        w_uniq = mult.astype(np.float64)
        count_w = mult.astype(np.int64)
    else:
        w_arr = _as_finite_array(weights, "weights", _OWNER)
        if w_arr.shape != arr.shape:
            raise _bad("weights", _OWNER, f"an array of shape {arr.shape} like 'values'",
                       f"shape {w_arr.shape}")
        if (w_arr < 0).any():
            raise _bad("weights", _OWNER, "an array of non-negative finite numbers",
                       f"an array containing {w_arr[w_arr < 0].ravel()[0]!r}")
        w_flat = w_arr.ravel()
        w_uniq = np.bincount(inverse, weights=w_flat, minlength=uniq.size)
        integer_weights = np.asarray(weights).dtype.kind in "biu"
        count_w = w_uniq.astype(np.int64) if integer_weights else w_uniq
        if not (w_uniq > 0).any():
            raise _bad("weights", _OWNER, "an array with at least one positive weight",
                       "all zeros")

    pos = np.flatnonzero(w_uniq > 0)
    x = uniq[pos]
    w = w_uniq[pos]
    n = x.size
    k_used = min(k, n)
    if k_used == n:
        starts = np.arange(n, dtype=np.int64)
    elif k_used == 1:
        starts = np.zeros(1, dtype=np.int64)
    else:
        starts = _optimal_starts(x, w, k_used)

    # Exact per-cluster statistics straight from the data (not from prefix sums).
    sums_w = np.add.reduceat(w, starts)
    centers = np.add.reduceat(w * x, starts) / sums_w
    sizes = np.diff(np.append(starts, n))
    centers = np.where(sizes == 1, x[starts], centers)  # singletons: exactly, inertia 0
    label_pos = np.repeat(np.arange(k_used, dtype=np.int64), sizes)
    dev = x - centers[label_pos]
    inertia = float(np.dot(w, dev * dev))
    # Rounding may move a mean a hair outside its cluster; keep centers ordered and inside.
    centers = np.clip(centers, x[starts], x[np.append(starts[1:], n) - 1])

    lower = x[starts[1:] - 1]
    upper = x[starts[1:]]
    edges = lower + (upper - lower) * 0.5
    edges = np.where(edges < upper, edges, lower)  # adjacent floats: keep upper outside

    if pos.size == uniq.size:
        label_uniq = label_pos
        counts = np.add.reduceat(count_w, starts)
    else:  # values of zero weight: labelled by the edges, add nothing to the counts
        label_uniq = assign_1d(uniq, edges)
        counts = np.bincount(label_uniq, weights=count_w, minlength=k_used)
        counts = counts.astype(count_w.dtype, copy=False)
    labels = label_uniq[inverse].reshape(arr.shape)
    return KMeans1DResult(
        centers=centers,
        edges=edges,
        labels=labels,
        counts=counts,
        inertia=inertia,
        n_clusters=int(k_used),
    )


def assign_1d(values: Any, edges: Any) -> np.ndarray:
    """Label values by cluster edges, consistently with :class:`KMeans1DResult`.

    Cluster ``j`` holds the values ``v`` with ``edges[j-1] < v <= edges[j]`` (values at
    most ``edges[0]`` go to cluster 0, values above ``edges[-1]`` to the last cluster).

    Args:
        values: Real numbers, any shape; must be finite.
        edges: Ascending 1-D array of ``k - 1`` boundaries (e.g. ``result.edges``).

    Returns:
        int64 labels in ``[0, len(edges)]`` with the shape of ``values``.

    Raises:
        InvalidParameterError: On non-finite values or edges that are not a finite
            ascending 1-D array.
    """
    owner = "assign_1d"
    arr = _as_finite_array(values, "values", owner)
    e = _as_finite_array(edges, "edges", owner)
    if e.ndim != 1 or (e.size > 1 and (np.diff(e) < 0).any()):
        raise _bad("edges", owner, "an ascending 1-D array",
                   f"an array of shape {e.shape}" if e.ndim != 1 else "an unsorted array")
    return np.searchsorted(e, arr, side="left").astype(np.int64, copy=False)
