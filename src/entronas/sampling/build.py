"""Ready-to-use candidate samplers over a feasible set (exact tree or counted huge space).

For an enumerated :class:`~entronas.reduce.FeasibleTree`, entropies and clusters cover every
member (exact). For a feasible set too large to list (``CountedSpace``), clusters are fitted on
a large uniform sample of it (the "pool") and candidates are drawn from the pool: this is uniform
inside each cluster's sampled members and the cluster boundaries are estimates.
"""

from __future__ import annotations

from typing import Any, Collection

import numpy as np

from .._core.rng import as_generator
from .._core.validation import check_choice
from ..proxy.clusters import EntropyClusters
from ..proxy.entropy import entropies, tree_entropies
from .entropy import EntropySampler
from .uniform import UniformSampler

STRATEGIES = ("entropy", "uniform")


class CandidateSampler:
    """Maps a position-based sampler onto global indices of a feasible set."""

    def __init__(self, strategy: str, inner: Any, indices: np.ndarray | None, *,
                 clusters: EntropyClusters | None = None, entropy: np.ndarray | None = None,
                 exact: bool = True) -> None:
        self.strategy = strategy
        self.inner = inner
        self.indices = indices                     # None: positions are global indices
        self._pos = None if indices is None else {int(g): k for k, g in enumerate(indices)}
        self.clusters = clusters
        self.entropy = entropy
        self.exact = exact

    def _to_pos(self, taken: Collection[int]) -> Collection[int]:
        if self._pos is None:
            return taken
        return {self._pos[g] for g in taken if g in self._pos}

    def suggest(self, rng: np.random.Generator | int | None,
                taken: Collection[int] = ()) -> int | None:
        """A global index not in ``taken``; None when the candidates are used up."""
        k = self.inner.suggest(as_generator(rng), self._to_pos(taken))
        if k is None:
            return None
        return int(k) if self.indices is None else int(self.indices[k])

    def position(self, index: int) -> int | None:
        return index if self._pos is None else self._pos.get(int(index))

    def cluster_of(self, index: int) -> int | None:
        if self.clusters is None:
            return None
        k = self.position(index)
        return None if k is None else int(self.clusters.labels_[k])

    def entropy_of(self, index: int) -> float | None:
        k = self.position(index)
        return None if k is None or self.entropy is None else float(self.entropy[k])

    @property
    def n_candidates(self) -> int:
        return self.inner.n


def build_sampler(strategy: str, feasible: Any, *, n_clusters: int = 100, p: float = 0.5,
                  output: str = "network", pool_size: int = 200_000,
                  seed: int | None = 0) -> CandidateSampler:
    """A sampler of ``strategy`` ("entropy" or "uniform") over ``feasible``."""
    check_choice(strategy, "strategy", "build_sampler", STRATEGIES)
    exact = hasattr(feasible, "depth_array")
    if exact:
        indices = None
        h = tree_entropies(feasible, output=output) if strategy == "entropy" else None
    else:  # counted space: a uniform pool stands in for the whole set
        n = min(pool_size, len(feasible))
        indices = np.unique(feasible.sample(n, seed, replace=n < len(feasible)))
        h = _pool_entropies(feasible, indices, output) if strategy == "entropy" else None
    n = len(feasible) if indices is None else len(indices)
    if strategy == "uniform":
        return CandidateSampler("uniform", UniformSampler(n), indices, exact=exact)
    clusters = EntropyClusters(n_clusters).fit(h)
    return CandidateSampler("entropy", EntropySampler(clusters.labels_, p=p), indices,
                            clusters=clusters, entropy=h, exact=exact)


def _pool_entropies(feasible: Any, indices: np.ndarray, output: str) -> np.ndarray:
    widths = feasible.widths_of(indices)
    h = np.empty(len(widths))
    by_depth: dict[int, list[int]] = {}
    for k, w in enumerate(widths):
        by_depth.setdefault(len(w), []).append(k)
    for depth, ks in by_depth.items():
        h[ks] = entropies(feasible.space, np.array([widths[k] for k in ks]), output=output)
    return h
