"""Entropy clusters (Sec. III-D): exact 1-D k-means, clusters sorted by descending mean entropy."""

from __future__ import annotations

import numpy as np

from .._core.validation import check_number


class EntropyClusters:
    """Cluster entropy values; cluster 0 has the highest mean entropy.

    Configure in ``__init__``, compute in :meth:`fit` (scikit-learn's contract). Entropy values
    repeat a lot (reordering the widths of a uniform-kernel network keeps its entropy), so the
    exact k-means works on distinct values; with fewer distinct values than ``n_clusters`` every
    distinct value becomes its own cluster and ``n_clusters_`` says how many were used.

    Attributes (after fit):
        labels_: cluster of every input value (0 = highest entropy).
        centers_: mean entropy per cluster, descending.
        sizes_: members per cluster.
        edges_: ascending boundaries between clusters (in entropy units) for :meth:`predict`.
        n_clusters_: clusters actually used.
        inertia_: within-cluster sum of squares.
    """

    def __init__(self, n_clusters: int = 100) -> None:
        self.n_clusters = n_clusters

    def fit(self, entropies: np.ndarray) -> "EntropyClusters":
        from .kmeans import optimal_kmeans_1d

        check_number(self.n_clusters, "n_clusters", "EntropyClusters", lo=1, integer=True)
        h = np.asarray(entropies, dtype=np.float64)
        res = optimal_kmeans_1d(h, int(self.n_clusters))
        k = res.n_clusters
        # k-means labels ascend with the center; we want 0 = highest mean entropy
        self.labels_ = (k - 1 - res.labels).astype(np.int64)
        self.centers_ = res.centers[::-1].copy()
        self.sizes_ = np.bincount(self.labels_, minlength=k)
        self.edges_ = res.edges.copy()
        self.n_clusters_ = k
        self.inertia_ = res.inertia
        return self

    def predict(self, entropies: np.ndarray) -> np.ndarray:
        from .kmeans import assign_1d

        asc = assign_1d(np.asarray(entropies, dtype=np.float64), self.edges_)
        return (self.n_clusters_ - 1 - asc).astype(np.int64)
