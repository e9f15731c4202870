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
the divide-and-conquer optimisation over a fixed bisection tree of its rows; every tree
level (all segments at once) is evaluated in a handful of vectorised numpy calls on a
padded ``(rows, candidates)`` block, with the row bounds taken from the already known
neighbours in the tree and from the previous layer. Work is ``O(k n log n)`` with
``O(k log n)`` numpy calls. Ties go to the smallest split index.
"""

from __future__ import annotations

import operator
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


def _bisection_levels(n_rows: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Levels of the divide-and-conquer tree over rows ``0..n_rows-1``.

    Returns per level ``(rows, left_slot, right_slot)``: the rows solved at that level
    (ascending) and the slots (``row + 1`` indexing, slot 0 and ``n_rows + 1`` are
    sentinels) of the nearest rows already solved to their left and right.
    """
    levels = []
    lo = np.array([0], dtype=np.int64)
    hi = np.array([n_rows - 1], dtype=np.int64)
    while lo.size:
        mid = (lo + hi) // 2
        levels.append((mid, lo.copy(), hi + 2))  # slot(lo-1) = lo, slot(hi+1) = hi+2
        left = lo <= mid - 1
        right = mid + 1 <= hi
        lo_next = np.concatenate([lo[left], mid[right] + 1])
        hi_next = np.concatenate([mid[left] - 1, hi[right]])
        order = np.argsort(lo_next, kind="stable")
        lo, hi = lo_next[order], hi_next[order]
    return levels


class _Rows:
    """Vectorised row minima ``min_m D[j-1][m-1] + SSE(m..i)`` over candidate windows.

    For row ``i`` of layer ``j``,
    ``SSE(m..i) = s2[i+1] - s2[m] - (s1[i+1] - s1[m])^2 / (s0[i+1] - s0[m])`` and
    ``s2[i+1]`` is common to all candidates, so the argmin minimises
    ``pen[m] - (S1 - s1[m])^2 / (S0 - s0[m])`` with ``pen[m] = D[j-1][m-1] - s2[m]``
    (``+inf`` where ``m`` is not a valid split, and in ``pad`` entries in front).

    The candidates of a row form a contiguous window, so a block of rows is a few
    gathers of equal-width windows. Windows are right-aligned at the upper bound; the
    extra candidates on the left are valid splits (never strictly better than the
    optimum inside the bounds, and no tie since the lower bound is the leftmost
    optimum of a row above) or ``+inf``.
    """

    def __init__(self, s0: np.ndarray, s1: np.ndarray) -> None:
        n1 = s0.size
        self.pad = 2 * n1  # >= any (rounded) window width
        self.s0 = np.concatenate([np.zeros(self.pad), s0])
        self.s1 = np.concatenate([np.zeros(self.pad), s1])
        self.pen_pad = np.full(self.pad + n1, np.inf)
        self.pen = self.pen_pad[self.pad :]  # pen[m] for m = 0..n
        self._views: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._ar: dict[int, np.ndarray] = {}

    def block(self, rows1: np.ndarray, hi: np.ndarray, width: int, off: int) -> np.ndarray:
        """Argmin over the windows ``[hi - width + 1, hi]`` (indices relative to ``off``).

        ``rows1`` are ``i + 1 - off`` of the rows; returns ``m - off``.
        """
        start = hi - (width - 1)
        src = start + (self.pad + off)
        tot = rows1 + (self.pad + off)
        if width <= 8:  # short windows: (width, rows) layout keeps numpy loops long
            ar = self._ar.get(width)
            if ar is None:
                ar = self._ar[width] = np.arange(width, dtype=np.int64)[:, None]
            idx = src + ar
            d0 = self.s0.take(idx)
            d1 = self.s1.take(idx)
            cost = self.pen_pad.take(idx)
            np.subtract(self.s0.take(tot), d0, out=d0)
            np.subtract(self.s1.take(tot), d1, out=d1)
            np.multiply(d1, d1, out=d1)
            np.divide(d1, d0, out=d1)
            np.subtract(cost, d1, out=cost)
            return start + cost.argmin(axis=0)
        views = self._views.get(width)
        if views is None:  # callers round widths to a coarse grid, so this is rare
            swv = np.lib.stride_tricks.sliding_window_view
            views = self._views[width] = (
                swv(self.s0, width), swv(self.s1, width), swv(self.pen_pad, width))
        d0 = views[0][src]
        d1 = views[1][src]
        cost = views[2][src]
        np.subtract(self.s0.take(tot)[:, None], d0, out=d0)
        np.subtract(self.s1.take(tot)[:, None], d1, out=d1)
        np.multiply(d1, d1, out=d1)
        np.divide(d1, d0, out=d1)
        np.subtract(cost, d1, out=cost)
        return start + cost.argmin(axis=1)

    #: Padded elements worth one more numpy block (about its fixed call overhead).
    _SPLIT_GAIN = 2048

    def argmin(self, rows1: np.ndarray, hi: np.ndarray, span: np.ndarray, off: int) -> np.ndarray:
        """Smallest optimal split of each row given ``hi`` and ``span = hi - lo``.

        Rows are padded to a common window width; when that wastes many elements (a
        few rows straddle a jump of the optimum) the rows narrower than the mean go to
        a separate block, recursively.
        """
        width = int(span.max()) + 1
        n_rows = span.size
        if n_rows * width > 2 * self._SPLIT_GAIN:
            cut = int(span.sum()) // n_rows + 1  # narrow rows: span < cut
            if (n_rows >> 1) * (width - cut) > self._SPLIT_GAIN:
                narrow = span < cut
                nar = narrow.nonzero()[0]
                if nar.size * (width - cut) > self._SPLIT_GAIN:
                    wide = (~narrow).nonzero()[0]
                    out = np.empty_like(hi)
                    out[nar] = self.argmin(rows1.take(nar), hi.take(nar), span.take(nar), off)
                    out[wide] = self.argmin(rows1.take(wide), hi.take(wide), span.take(wide),
                                            off)
                    return out
        return self.block(rows1, hi, _round_width(width), off)


def _round_width(width: int) -> int:
    """Round up to 3 significant bits (at most +25%) so few window views get built."""
    if width <= 8:
        return width
    shift = width.bit_length() - 3
    return -(-width >> shift) << shift


def _segment_cost(
    prev: np.ndarray, starts: np.ndarray, rows: slice, s0, s1, s2
) -> np.ndarray:
    """``prev[m-1] + SSE(m..i)`` for ``m = starts`` and the rows ``i`` of a slice."""
    e = slice(rows.start + 1, rows.stop + 1)
    d0 = s0[e] - s0.take(starts)
    d1 = s1[e] - s1.take(starts)
    np.multiply(d1, d1, out=d1)
    np.divide(d1, d0, out=d1)
    sse = s2[e] - s2.take(starts)
    np.subtract(sse, d1, out=sse)
    np.maximum(sse, 0.0, out=sse)
    sse += prev.take(starts - 1)
    return sse


def _optimal_starts(x: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Start indices (ascending, ``starts[0] == 0``) of an optimal ``k``-clustering.

    ``x`` is strictly increasing, ``w`` positive, ``2 <= k < x.size``.
    """
    n = x.size
    # Centre on the weighted mean and accumulate the moments in extended precision, so
    # that every prefix sum is correctly rounded once instead of drifting with n.
    xl = x.astype(np.longdouble)
    wl = w.astype(np.longdouble)
    xl -= (wl * xl).sum() / wl.sum()
    s0 = np.zeros(n + 1, dtype=np.float64)
    s1 = np.zeros(n + 1, dtype=np.float64)
    s2 = np.zeros(n + 1, dtype=np.float64)
    wx = wl * xl
    s0[1:] = np.cumsum(wl)
    s1[1:] = np.cumsum(wx)
    s2[1:] = np.cumsum(wx * xl)
    solver = _Rows(s0, s1)
    pen = solver.pen

    # Layer j (j+1 clusters) needs rows i in [j, j + n_rows - 1]; the bisection tree is
    # built once on relative rows r = i - j. Slots hold relative optima (m - j).
    n_rows = n - k + 1
    opts = np.zeros((k, n_rows), dtype=np.int64 if n >= 2**31 else np.int32)
    d1 = s1[1:]
    prev = s2[1:] - d1 * d1 / s0[1:]  # layer 0: D[0][i] = SSE(0..i) for every i
    np.maximum(prev, 0.0, out=prev)
    lower = np.zeros(n_rows, dtype=np.int64)  # opt[j-1][i] - j for the rows of layer j
    # The last row is solved first: it bounds every other row from above (a bisection
    # tree with an open right end would give its rightmost rows ~n/j candidates each).
    levels = []
    if k > 2:
        levels.append((np.array([n_rows - 1]), np.array([0]), np.array([n_rows + 1])))
        if n_rows > 1:
            levels += _bisection_levels(n_rows - 1)
    levels = [(rel, lsl, rsl, rel + 1) for rel, lsl, rsl in levels]
    slots = np.empty(n_rows + 2, dtype=np.int64)
    for j in range(1, k - 1):
        # pen[m] = D[j-1][m-1] - s2[m] for the splits m of layer j; m = j-1 is invalid.
        pen[j - 1] = np.inf
        np.subtract(prev[j - 1 : j - 1 + n_rows], s2[j : j + n_rows], out=pen[j : j + n_rows])
        slots[0] = 0
        slots[-1] = n_rows
        for rel, lslot, rslot, rel1 in levels:
            hi = np.minimum(slots.take(rslot), rel)
            span = np.subtract(hi, np.maximum(slots.take(lslot), lower.take(rel)))
            if rel.size >= 64:
                slots[rel1] = hi  # rows with a single candidate are solved
                act = span.nonzero()[0]
                if act.size < rel.size:
                    if act.size == 0:
                        continue
                    rel1 = rel1.take(act)
                    hi = hi.take(act)
                    span = span.take(act)
            slots[rel1] = solver.argmin(rel1, hi, span, j)
        start = slots[1:-1]
        opts[j] = start
        cur = np.full(n, np.inf)
        cur[j : j + n_rows] = _segment_cost(prev, start + j, slice(j, j + n_rows), s0, s1, s2)
        prev = cur
        # Next layer's rows are shifted by one: opt[j][i] for i = r + j + 1, relative to
        # j + 1. Row j + n_rows was not solved; opt[j][i-1] <= opt[j][i] stands in.
        lower[:-1] = start[1:] - 1
        lower[-1] = start[-1] - 1
        np.maximum(lower, 0, out=lower)
    # Last layer: only the full range x_0..x_{n-1} matters.
    pen[k - 2] = np.inf
    np.subtract(prev[k - 2 : n - 1], s2[k - 1 : n], out=pen[k - 1 : n])
    lo = k - 1 + (int(lower[-1]) if k > 2 else 0)
    last = np.array([n - 1], dtype=np.int64)
    best = solver.argmin(last + 1, last, np.array([n - 1 - lo]), 0)
    starts = np.empty(k, dtype=np.int64)
    starts[0] = 0
    starts[k - 1] = best[0]
    for j in range(k - 2, 0, -1):
        starts[j] = opts[j, starts[j + 1] - 1 - j] + j
    return starts


# --------------------------------------------------------------------------- public API


def optimal_kmeans_1d(values: Any, n_clusters: int, *, weights: Any = None) -> KMeans1DResult:
    """Globally optimal weighted 1-D k-means (minimum within-cluster sum of squares).

    Deterministic and exact up to floating-point rounding: the input is reduced to its
    distinct values, which are partitioned into contiguous runs by dynamic programming
    (divide-and-conquer optimisation, vectorised per recursion level). Among equally good
    splits the smallest split index is preferred.

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
        integer_counts = True
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
        integer_counts = np.asarray(weights).dtype.kind in "biu"
        count_w = w_uniq.astype(np.int64) if integer_counts else w_uniq
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
    else:
        label_uniq = assign_1d(uniq, edges)
    labels = label_uniq[inverse].reshape(arr.shape)
    counts = np.zeros(k_used, dtype=count_w.dtype)
    np.add.at(counts, label_uniq, count_w)
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
