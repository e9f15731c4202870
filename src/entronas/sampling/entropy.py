"""Entropy-based sampling (Sec. III-D, Eq. 7).

A cluster c is drawn with P(c) = (1-p)^c * p over the clusters that still have candidates
(truncated and renormalised; cluster 0 has the highest mean entropy), then a candidate uniformly
inside it. Because the geometric distribution is memoryless, renormalising over the remaining
clusters keeps the paper's preference order whether or not earlier clusters are exhausted.
"""

from __future__ import annotations

import bisect
from typing import Any, Collection

import numpy as np

from .._core.rng import as_generator
from .._core.validation import check_number
from .growing import GrowingSet


def geometric_probabilities(n_clusters: int, p: float = 0.5,
                            available: np.ndarray | None = None) -> np.ndarray:
    """Eq. (7) over ``n_clusters`` clusters, zero where not ``available``, summing to 1."""
    check_number(p, "p", "geometric_probabilities", lo=0, hi=1, closed="right")
    c = np.arange(n_clusters, dtype=np.float64)
    # log-space keeps tiny probabilities of deep clusters from underflowing to exactly zero
    logp = c * np.log1p(-p) + np.log(p) if p < 1 else np.where(c == 0, 0.0, -np.inf)
    if available is not None:
        logp = np.where(available, logp, -np.inf)
    if not np.isfinite(logp).any():
        return np.zeros(n_clusters)
    w = np.exp(logp - logp[np.isfinite(logp)].max())
    return w / w.sum()


class ClusterDraw:
    """Eq. 7's cluster draw over the clusters with members left, as
    ``rng.choice(n, p=geometric_probabilities(n, p, open))`` draws it (the same uniform, the
    same cumulative sums: the same cluster), with the distribution kept until a cluster runs
    out instead of rebuilt and re-checked on every draw (measured: half the cost of an exact
    draw on a counted set)."""

    def __init__(self, n_clusters: int, p: float) -> None:
        self.n_clusters, self.p = n_clusters, p
        self._open: np.ndarray | None = None
        self._cdf = np.zeros(0)

    def __call__(self, rng: np.random.Generator, open_: np.ndarray) -> int | None:
        """A cluster among ``open_`` (bool per cluster), None when none is open."""
        if self._open is None or not np.array_equal(open_, self._open):
            self._open = open_.copy()
            probs = geometric_probabilities(self.n_clusters, self.p, open_)
            cdf = probs.cumsum()   # rng.choice's own normalisation, so the same cluster
            self._cdf = cdf / cdf[-1] if probs.sum() > 0 else np.zeros(0)
        if not len(self._cdf):
            return None
        return int(self._cdf.searchsorted(rng.random(), side="right"))


class EntropyPolicy:
    """Draw candidate indices by entropy cluster (the pure policy; the Optuna sampler that
    uses it is :class:`entronas.search.adapters.EntropySampler`).

    Args:
        labels: cluster of every candidate (0 = highest entropy), e.g. ``EntropyClusters.labels_``.
        p: parameter of Eq. (7) (0.5 in the paper).
    """

    def __init__(self, labels: np.ndarray, *, p: float = 0.5) -> None:
        self.p = check_number(p, "p", "the entropy strategy", lo=0, hi=1, closed="right",
                              fix="Use e.g. --p 0.5 as in the paper.")
        labels = np.asarray(labels, dtype=np.int64)
        self.n = len(labels)
        self.n_clusters = int(labels.max()) + 1 if self.n else 0
        self.order = np.argsort(labels, kind="stable")          # members grouped by cluster
        self.sizes = np.bincount(labels, minlength=self.n_clusters)
        self.starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
        self.labels = labels
        self._cluster = ClusterDraw(self.n_clusters, self.p)
        # what has been taken, kept up to date incrementally (a study's taken set only grows):
        # per-cluster counts and a mask instead of recounting |taken| on every draw
        self._taken = GrowingSet()
        self._mask = np.zeros(self.n, dtype=bool)
        self._used = np.zeros(self.n_clusters, dtype=np.int64)

    def _sync(self, taken: Collection[int]) -> Collection[int]:
        new, reset = self._taken.update(taken)
        if reset:
            self._mask[:], self._used[:] = False, 0
        if new:
            idx = np.fromiter(new, dtype=np.int64, count=len(new))
            self._mask[idx] = True
            self._used += np.bincount(self.labels[idx], minlength=self.n_clusters)
        return self._taken.seen

    def probabilities(self, taken: Collection[int] = ()) -> np.ndarray:
        """P(c) over clusters given the candidates already taken."""
        self._sync(taken)
        return geometric_probabilities(self.n_clusters, self.p, self.sizes - self._used > 0)

    def suggest(self, rng: np.random.Generator | int | None,
                taken: Collection[int] = ()) -> int | None:
        """One candidate not in ``taken`` (None when every candidate is taken)."""
        return self._draw(as_generator(rng), self._sync(taken))

    def draws(self, rng: np.random.Generator | int | None, k: int) -> list[int]:
        """``k`` distinct candidates (fewer when they run out): the sequence ``k`` calls of
        :meth:`suggest` with a growing taken set give, at O(cluster) each instead of
        O(|taken|), since the taken set is known here."""
        rng = as_generator(rng)
        self._taken, self._mask[:], self._used[:] = GrowingSet(), False, 0
        out: list[int] = []
        for _ in range(k):
            i = self._draw(rng, self._taken.seen)
            if i is None:
                break
            self._taken.seen.add(i)
            self._mask[i] = True
            self._used[self.labels[i]] += 1
            out.append(i)
        return out

    def _draw(self, rng: np.random.Generator, taken_set: Collection[int]) -> int | None:
        """Eq. 7's cluster, then a free member of it; the counts are in sync with taken_set."""
        c = self._cluster(rng, self.sizes - self._used > 0)
        if c is None:
            return None
        members = self.order[self.starts[c]:self.starts[c] + self.sizes[c]]
        for _ in range(64):
            i = int(members[rng.integers(len(members))])
            if i not in taken_set:
                return i
        free = members[~self._mask[members]]
        return int(free[rng.integers(len(free))])

    def sample(self, k: int, seed: int | None = None, *, replace: bool = False) -> np.ndarray:
        """``k`` candidates, with or without replacement (vectorised when with replacement)."""
        rng = as_generator(seed)
        if replace:
            probs = geometric_probabilities(self.n_clusters, self.p, self.sizes > 0)
            cl = rng.choice(self.n_clusters, size=k, p=probs)
            pick = self.starts[cl] + (rng.random(k) * self.sizes[cl]).astype(np.int64)
            return self.order[pick]
        if k > self.n:
            raise ValueError(f"cannot draw {k} distinct candidates from {self.n}")
        return np.array(self.draws(rng, k), dtype=np.int64)


class DistributionEntropyPolicy:
    """Eq. 7 over the exact entropy distribution of a set too large to list: the cluster as
    in :class:`EntropyPolicy`, then a member drawn uniformly among the cluster's free members
    by exact unranking (:class:`~entronas.proxy.distribution.EntropyDistribution`); hands out
    global indices of the distribution's tree.

    Why not a pool: a pool's clusters are estimates and its draws never leave the pool. Here a
    cluster's members are ranked (key by key, then lexicographically inside a key), the taken
    ones are kept as sorted ranks per cluster, and the r-th free rank is found by bisection, so
    a draw costs O(L log + log^2 |taken|) at any |X^f|, with no rejection.

    Args:
        distribution: the exact distribution (keys = distinct entropies with counts).
        labels: cluster of every key (0 = highest entropy).
        p: parameter of Eq. (7).
    """

    def __init__(self, distribution: Any, labels: np.ndarray, *, p: float = 0.5) -> None:
        self.p = check_number(p, "p", "the entropy strategy", lo=0, hi=1, closed="right",
                              fix="Use e.g. --p 0.5 as in the paper.")
        self.dist = distribution
        labels = np.asarray(labels, dtype=np.int64)
        self.labels = labels
        self.n_clusters = int(labels.max()) + 1 if len(labels) else 0
        w = np.asarray(distribution.weights, dtype=np.int64)
        order = np.argsort(labels, kind="stable")         # keys grouped by cluster
        self.sizes = np.bincount(labels, weights=w, minlength=self.n_clusters).astype(np.int64)
        starts = np.concatenate([[0], np.cumsum(np.bincount(labels,
                                                            minlength=self.n_clusters))])
        self._keys = [order[starts[c]:starts[c + 1]] for c in range(self.n_clusters)]
        self._cum = [np.cumsum(w[k]) for k in self._keys]       # members up to each key
        self._cluster = ClusterDraw(self.n_clusters, self.p)
        self._offset = np.zeros(len(labels), np.int64)           # rank of a key's first member
        for k, cum in zip(self._keys, self._cum):
            self._offset[k] = cum - w[k]
        self._reset()

    def _reset(self) -> None:
        self._taken = GrowingSet()
        self._ranks: list[list[int]] = [[] for _ in range(self.n_clusters)]
        self._used = np.zeros(self.n_clusters, dtype=np.int64)

    # ------------------------------------------------------------------ taken members
    def _add(self, cluster: int, rank: int) -> None:
        bisect.insort(self._ranks[cluster], rank)
        self._used[cluster] += 1

    def _sync(self, taken: Collection[int]) -> None:
        new, reset = self._taken.update(taken)
        if reset:
            self._ranks = [[] for _ in range(self.n_clusters)]
            self._used[:] = 0
        if new:
            tree = self.dist.tree
            for depth, _, pos in tree.positions_by_depth(np.fromiter(new, np.int64, len(new))):
                for row in pos:
                    key, r = self.dist.locate(depth, row)
                    self._add(int(self.labels[key]), int(self._offset[key]) + r)

    def probabilities(self, taken: Collection[int] = ()) -> np.ndarray:
        """P(c) over clusters given the members already taken."""
        self._sync(taken)
        return geometric_probabilities(self.n_clusters, self.p, self.sizes - self._used > 0)

    # ------------------------------------------------------------------ drawing
    def _member(self, cluster: int, rank: int) -> int:
        j = int(np.searchsorted(self._cum[cluster], rank, side="right"))
        key = int(self._keys[cluster][j])
        return self.dist.member(key, rank - int(self._offset[key]))[2]

    def _pick(self, rng: np.random.Generator) -> tuple[int, int] | None:
        """(cluster, rank inside it) of a free member: Eq. 7's cluster, then uniform."""
        c = self._cluster(rng, self.sizes - self._used > 0)
        if c is None:
            return None
        r = int(rng.integers(int(self.sizes[c] - self._used[c])))
        taken = self._ranks[c]
        rank = r  # the smallest rank with r free ranks below it (least fixpoint: not taken)
        while (nxt := r + bisect.bisect_right(taken, rank)) != rank:
            rank = nxt
        return c, rank

    def suggest(self, rng: np.random.Generator | int | None,
                taken: Collection[int] = ()) -> int | None:
        """One member not in ``taken`` (None when every member is taken)."""
        self._sync(taken)
        pick = self._pick(as_generator(rng))
        return None if pick is None else self._member(*pick)

    def draws(self, rng: np.random.Generator | int | None, k: int) -> list[int]:
        """``k`` distinct members (fewer when they run out), as ``k`` calls of
        :meth:`suggest` with a growing taken set give them."""
        rng = as_generator(rng)
        self._reset()
        out: list[int] = []
        for _ in range(k):
            pick = self._pick(rng)
            if pick is None:
                break
            self._add(*pick)
            out.append(self._member(*pick))
        self._taken.seen.update(out)
        return out

    def sample(self, k: int, seed: int | None = None, *, replace: bool = False) -> np.ndarray:
        """``k`` members, with or without replacement."""
        rng = as_generator(seed)
        if not replace:
            return np.array(self.draws(rng, k), dtype=np.int64)
        probs = geometric_probabilities(self.n_clusters, self.p, self.sizes > 0)
        out = []
        for c in rng.choice(self.n_clusters, size=k, p=probs):
            out.append(self._member(int(c), int(rng.integers(int(self.sizes[c])))))
        return np.array(out, dtype=np.int64)
