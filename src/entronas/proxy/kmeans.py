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
the divide-and-conquer optimisation over a fixed bisection order of its rows; every
level (all segments at once) is a handful of vectorised numpy calls on a padded
``(rows, candidates)`` block of contiguous candidate windows, bounded by the neighbours
solved at coarser levels and by the previous layer. Work is ``O(k n log n)`` in
``O(k log n)`` numpy calls.

Two exact prunings cut the work further. (1) Meet in the middle: the first ``k // 2``
clusters are solved over prefixes, the others over suffixes (the same DP on the
mirrored data), joined at the best split point. (2) An upper bound ``U`` on the optimum
(a quick Lloyd run) limits every layer to the prefixes whose cost stays ``<= U`` (the
costs grow with the prefix); other rows cannot be on an optimal path. Ties go to the
smallest index (of the last boundary, then backwards; the join takes the smallest split).
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


class _Tree:
    """Divide-and-conquer order over ``cnt`` consecutive rows, for any ``cnt <= size``.

    Rows are numbered ``t = 1..cnt``; slot 0 and ``cnt + 1`` hold the sentinels (the
    lower bound of the first row, and "no upper bound"). The first level solves up to
    32-64 evenly spaced rows (multiples of ``2**s0``, and ``cnt``) at once, bounded
    only by the sentinels and the previous layer: a few wide windows are cheaper than
    several more numpy rounds (the caller picks ``s0``). Then level ``s < s0`` (coarse
    to fine) solves the rows ``t = 2**s * (2q + 1) < cnt``, whose neighbours
    ``t - 2**s`` and ``min(t + 2**s, cnt)`` are solved already (or the left sentinel).
    The rows of a level for a smaller ``cnt`` are a prefix of those for ``size``.
    """

    def __init__(self, size: int) -> None:
        self.levels = []
        s = max(size, 2).bit_length()
        while s >= 0:
            step = 1 << s
            t = np.arange(step, size + 1, 2 * step, dtype=np.int64)
            if t.size:
                self.levels.append((s, t, t - step, t + step))
            s -= 1

    @staticmethod
    def top(cnt: int, s0: int) -> np.ndarray:
        """Rows of the first level: the multiples of ``2**s0`` up to ``cnt``, and ``cnt``."""
        top = np.arange(1 << s0, cnt + 1, 1 << s0, dtype=np.int64)
        if top.size == 0 or top[-1] != cnt:
            top = np.append(top, cnt)
        return top

    def iter_levels(self, cnt: int, s0: int):
        """Yield ``(t, left_slot, right_slot)`` per level for ``cnt`` rows."""
        top = self.top(cnt, s0)
        yield top, np.zeros_like(top), np.full_like(top, cnt + 1)
        for s, t, lft, rgt in self.levels:
            if s < s0:
                m = (((cnt - 1) >> s) + 1) >> 1
                if m:
                    yield t[:m], lft[:m], np.minimum(rgt[:m], cnt)


class _Rows:
    """Vectorised row minima ``min_m D[j-1][m-1] + SSE(m..i)`` over candidate windows.

    For row ``i``,
    ``SSE(m..i) = s2[i+1] - s2[m] - (s1[i+1] - s1[m])^2 / (s0[i+1] - s0[m])`` and
    ``s2[i+1]`` is common to all candidates, so the argmin minimises
    ``pen[m] - (S1 - s1[m])^2 / (S0 - s0[m])`` with ``pen[m] = D[j-1][m-1] - s2[m]``
    (``+inf`` where ``m`` is not a valid split). All indices here are *padded*:
    ``p = m + pad``, with ``pad`` leading entries of ``+inf`` penalty in front.

    The candidates of a row form a contiguous window, so a block of rows is three
    gathers from sliding-window views. Windows are right-aligned at the upper bound; the
    extra candidates on the left are valid splits (never strictly better than the
    optimum inside the bounds, and no tie either, since the lower bound is the leftmost
    optimum of a row above) or ``+inf``.
    """

    #: Padded elements worth one more numpy block (about its fixed call overhead).
    _SPLIT_GAIN = 4096

    def __init__(self, s0: np.ndarray, s1: np.ndarray) -> None:
        n1 = s0.size
        self.pad = 2 * n1  # >= any (rounded) window width
        self.s0 = np.concatenate([np.zeros(self.pad), s0])
        self.s1 = np.concatenate([np.zeros(self.pad), s1])
        self.s0_next = self.s0[1:]  # s0_next[p] = s0[i + 1] for the padded row p
        self.s1_next = self.s1[1:]
        self.pen_pad = np.full(self.pad + n1, np.inf)
        self.pen = self.pen_pad[self.pad :]  # pen[m] for m = 0..n
        self._views: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._ar: dict[int, np.ndarray] = {}

    def block(self, rows: np.ndarray, hi: np.ndarray, width: int) -> np.ndarray:
        """Argmin over the windows ``[hi - width + 1, hi]`` of the (padded) rows."""
        start = hi - (width - 1)
        if width <= 8:  # short windows: (width, rows) layout keeps numpy loops long
            ar = self._ar.get(width)
            if ar is None:
                ar = self._ar[width] = np.arange(width, dtype=np.int64)[:, None]
            idx = start + ar
            d0 = self.s0.take(idx)
            d1 = self.s1.take(idx)
            cost = self.pen_pad.take(idx)
            np.subtract(self.s0_next.take(rows), d0, out=d0)
            np.subtract(self.s1_next.take(rows), d1, out=d1)
            np.multiply(d1, d1, out=d1)
            np.divide(d1, d0, out=d1)
            np.subtract(cost, d1, out=cost)
            start += cost.argmin(axis=0)
            return start
        views = self._views.get(width)
        if views is None:  # callers round widths to a coarse grid, so this is rare
            swv = np.lib.stride_tricks.sliding_window_view
            views = self._views[width] = (
                swv(self.s0, width), swv(self.s1, width), swv(self.pen_pad, width))
        d0 = views[0][start]
        d1 = views[1][start]
        cost = views[2][start]
        np.subtract(self.s0_next.take(rows)[:, None], d0, out=d0)
        np.subtract(self.s1_next.take(rows)[:, None], d1, out=d1)
        np.multiply(d1, d1, out=d1)
        np.divide(d1, d0, out=d1)
        np.subtract(cost, d1, out=cost)
        start += cost.argmin(axis=1)
        return start

    def argmin(self, rows: np.ndarray, hi: np.ndarray, span: np.ndarray) -> np.ndarray:
        """Smallest optimal split of each (padded) row given ``hi`` and ``span = hi - lo``.

        Rows are padded to a common window width; when that wastes many elements (a
        few rows straddle a jump of the optimum) the rows narrower than the mean go to
        a separate block, recursively.
        """
        width = max(int(span.max()), 0) + 1  # a negative span (rounding) still gets one
        n_rows = span.size
        if n_rows * width > 2 * self._SPLIT_GAIN:
            cut = int(span.sum()) // n_rows + 1  # narrow rows: span < cut
            if (n_rows >> 1) * (width - cut) > self._SPLIT_GAIN:
                narrow = span < cut
                nar = narrow.nonzero()[0]
                if nar.size * (width - cut) > self._SPLIT_GAIN:
                    wide = (~narrow).nonzero()[0]
                    out = np.empty_like(hi)
                    out[nar] = self.argmin(rows.take(nar), hi.take(nar), span.take(nar))
                    out[wide] = self.argmin(rows.take(wide), hi.take(wide), span.take(wide))
                    return out
        return self.block(rows, hi, _round_width(width))


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
    last layer's costs (length ``n``) and ``opts`` with ``opts[j, i - j] = opt[j][i] - j``
    (smallest optimal start of the last cluster), valid on the solved rows.

    Pruning: ``D[j][i]`` is nondecreasing in ``i`` and no optimal solution passes a prefix
    costing more than ``limit``, so a layer is solved on a guessed row range (from the
    growth of the previous layers) and extended until its last row costs more than
    ``limit``. Rows left out act as ``+inf`` splits for the next layer, which keeps every
    row that an optimal solution can use exact.
    """
    n = xl.size
    s0 = np.zeros(n + 1, dtype=np.float64)
    s1 = np.zeros(n + 1, dtype=np.float64)
    s2 = np.zeros(n + 1, dtype=np.float64)
    wx = wl * xl
    s0[1:] = np.cumsum(wl)  # extended precision: every prefix sum is rounded only once
    s1[1:] = np.cumsum(wx)
    s2[1:] = np.cumsum(wx * xl)
    n_rows = n - k + 1
    opts = np.zeros((n_layers, n_rows), dtype=np.int64 if n >= 2**31 else np.int32)
    d1 = s1[1:]
    prev = s2[1:] - d1 * d1 / s0[1:]  # layer 0: D[0][i] = SSE(0..i) for every i
    np.maximum(prev, 0.0, out=prev)
    if n_layers == 1:
        return prev, opts
    solver = _Rows(s0, s1)
    pen = solver.pen
    pad = solver.pad
    tree = _Tree(n_rows)
    # Padded optima of the previous layer at this layer's rows (lower bounds).
    lower = np.full(n_rows, pad, dtype=np.int64)  # layer 0: opt[0][i] = 0
    slots = np.empty(n_rows + 2, dtype=np.int64)
    startp = np.empty(n_rows, dtype=np.int64)
    need_prev = need = int(np.searchsorted(prev, limit, side="right"))  # rows of D0 <= U
    for j in range(1, n_layers):
        # pen[m] = D[j-1][m-1] - s2[m] for the splits m of layer j; m = j-1 is invalid.
        pen[j - 1] = np.inf
        np.subtract(prev[j - 1 : j - 1 + n_rows], s2[j : j + n_rows], out=pen[j : j + n_rows])
        cur = np.full(n, np.inf)
        done = 0
        cnt = need - j + _GUESS_GROWTH * max(need - need_prev, 0) + _GUESS_SLACK
        cnt = min(n_rows, max(1, cnt))
        while True:
            # Slot t holds the padded optimum of the pass's row t (absolute row
            # i = base + t - pad); slot 0: a lower bound for all, slot cnt+1: none.
            base = pad + j + done - 1
            slots[0] = startp[done - 1] if done else pad + j
            slots[cnt + 1] = 1 << 62
            low = lower[done - 1 :] if done else lower
            # First level: ~32-64 rows at once, fewer while their windows (bounded only
            # by the previous layer) would cost more than the levels they replace.
            coarse = max(0, cnt.bit_length() - 6)
            while coarse < cnt.bit_length():
                top = tree.top(cnt, coarse)
                lo = np.maximum(low.take(top if done else top - 1), slots[0])
                if int((top + base - lo).sum()) <= 4 * cnt + 8192:
                    break
                coarse += 1
            for t, lslot, rslot in tree.iter_levels(cnt, coarse):
                rows = t + base
                hi = np.minimum(slots.take(rslot), rows)
                lo = np.maximum(slots.take(lslot), low.take(t if done else t - 1))
                span = np.subtract(hi, lo, out=lo)
                if t.size >= 64:
                    slots[t] = hi  # rows with a single candidate are solved
                    act = span.nonzero()[0]
                    if act.size < t.size:
                        if act.size == 0:
                            continue
                        t = t.take(act)
                        rows = rows.take(act)
                        hi = hi.take(act)
                        span = span.take(act)
                slots[t] = solver.argmin(rows, hi, span)
            startp[done : done + cnt] = slots[1 : cnt + 1]
            rows_sl = slice(j + done, j + done + cnt)
            cur[rows_sl] = _segment_cost(prev, startp[done : done + cnt] - pad, rows_sl,
                                         s0, s1, s2)
            done += cnt
            if done == n_rows or cur[j + done - 1] > limit:
                break
            cnt = min(n_rows - done, 2 * done + _GUESS_SLACK)  # the guess was short: extend
        need_prev, need = need, j + int(np.count_nonzero(cur[j : j + done] <= limit))
        prev = cur
        np.subtract(startp[:done], pad + j, out=opts[j, :done], casting="unsafe")
        # Next layer's row r is i = r + j + 1, i.e. this layer's row r + 1. Unsolved
        # rows: opt[j][i] >= opt[j][last solved row] stands in.
        lower[: done - 1] = startp[1:done]
        lower[done - 1 :] = startp[done - 1]
    return prev, opts


def _backtrack(opts: np.ndarray, row: int) -> list[int]:
    """Cluster starts of the optimal ``len(opts)``-clustering of the prefix ``0..row``."""
    starts = [0] * opts.shape[0]
    for j in range(opts.shape[0] - 1, 0, -1):
        starts[j] = int(opts[j, row - j]) + j
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
        fwd, opts_f = _prefix_layers(xl, wl, k, a, limit)
        bwd, opts_b = _prefix_layers(-xl[::-1], wl[::-1], k, b, limit)
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
