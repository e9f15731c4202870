"""Reduction of a search space X to its feasible set X^f, stored as compact trees."""

from .reduce import DepthReport, ReductionReport, fingerprint, reduce_space
from .count import CountedSpace
from .feasible import FeasibleSet
from .tree import DepthDag, FeasibleTree

__all__ = ["CountedSpace", "DepthDag", "FeasibleSet", "DepthReport", "FeasibleTree", "ReductionReport", "fingerprint",
           "reduce_space"]
