"""Entropy clusters (Sec. III-D): exact 1-D k-means, clusters sorted by descending mean entropy."""

from __future__ import annotations

import numpy as np

from .._core.validation import check_number


#: entropies closer than this (relative to the largest) are one value: Eq. 6 sums the same
#: log-widths in another order for many networks, and float sums differ by ~1e-13
TIE_TOLERANCE = 1e-9


def merge_ties(h: np.ndarray, rel_tol: float = TIE_TOLERANCE) -> np.ndarray:
    """Values equal within ``rel_tol`` (times max |h|) replaced by their group's smallest.

    Why: exact k-means clusters distinct values; two networks with mathematically equal
    entropies must never land in two clusters because their sums were added in another order.
    """
    if h.size == 0:
        return h
    uniq, inverse = np.unique(h, return_inverse=True)
    tol = rel_tol * max(1.0, float(np.abs(uniq).max()))
    group = np.concatenate([[0], np.cumsum(np.diff(uniq) > tol)])
    first = uniq[np.concatenate([[0], np.nonzero(np.diff(group))[0] + 1])]
    return first[group][inverse.reshape(-1)].reshape(h.shape)


class EntropyClusters:
    """Cluster entropy values; cluster 0 has the highest mean entropy.

    Configure in ``__init__``, compute in :meth:`fit` (scikit-learn's contract). Entropy values
    repeat a lot (reordering the widths of a uniform-kernel network keeps its entropy), so the
    exact k-means works on distinct values; with fewer distinct values than ``n_clusters`` every
    distinct value becomes its own cluster and ``n_clusters_`` says how many were used.

    Attributes (after fit):
        labels_: cluster of every input value (0 = highest entropy).
        centers_: mean entropy per cluster, descending.
        sizes_: members per cluster (the summed weights, when fitted with weights).
        edges_: ascending boundaries between clusters (in entropy units) for :meth:`predict`.
        n_clusters_: clusters actually used.
        inertia_: within-cluster sum of squares.
    """

    def __init__(self, n_clusters: int = 100) -> None:
        self.n_clusters = n_clusters

    def fit(self, entropies: np.ndarray,
            sample_weight: np.ndarray | None = None) -> "EntropyClusters":
        """Fit on entropy values; ``sample_weight``: how many networks each value stands for
        (an exact distribution's counts), else one each."""
        from .kmeans import optimal_kmeans_1d

        check_number(self.n_clusters, "n_clusters", "the entropy clusters (--n-clusters)",
                     lo=1, integer=True)
        h = merge_ties(np.asarray(entropies, dtype=np.float64))
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        res = optimal_kmeans_1d(h, int(self.n_clusters), weights=w)
        k = res.n_clusters
        # k-means labels ascend with the center; we want 0 = highest mean entropy
        self.labels_ = (k - 1 - res.labels).astype(np.int64)
        self.centers_ = res.centers[::-1].copy()
        self.sizes_ = np.zeros(k, np.int64)  # exact integer sums (float64 stops at 2^53)
        np.add.at(self.sizes_, self.labels_.ravel(), 1 if sample_weight is None else
                  np.asarray(sample_weight, np.int64).ravel())
        self.edges_ = res.edges.copy()
        self.n_clusters_ = k
        self.inertia_ = res.inertia
        return self

    def predict(self, entropies: np.ndarray) -> np.ndarray:
        from .kmeans import assign_1d

        asc = assign_1d(merge_ties(np.asarray(entropies, dtype=np.float64)), self.edges_)
        return (self.n_clusters_ - 1 - asc).astype(np.int64)
