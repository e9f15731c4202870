"""Reduction of a search space X to its feasible set X^f, stored as compact trees."""

from .count import CountedSpace
from .feasible import FeasibleSet
from .reduce import DepthReport, ReductionReport, fingerprint, reduce_space
from .tree import DepthDag, FeasibleTree

__all__ = ["CountedSpace", "DepthDag", "DepthReport", "FeasibleSet", "FeasibleTree",
           "ReductionReport", "fingerprint", "reduce_space"]
