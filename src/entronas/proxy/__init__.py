"""Training-free proxy: the entropy of Eq. (6) and its exact 1-D k-means clusters."""

from .clusters import EntropyClusters
from .entropy import entropies, entropy, entropy_tables, tree_entropies

__all__ = ["EntropyClusters", "entropies", "entropy", "entropy_tables", "tree_entropies"]
