"""Reduction of a search space X to its feasible set X^f, stored as compact trees."""

from .reduce import DepthReport, ReductionReport, fingerprint, reduce_space
from .tree import DepthDag, FeasibleTree

__all__ = ["DepthDag", "DepthReport", "FeasibleTree", "ReductionReport", "fingerprint",
           "reduce_space"]
