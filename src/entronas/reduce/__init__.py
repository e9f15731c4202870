"""Reduction of a search space X to its feasible set X^f, stored as compact trees."""

from .count import CountedSpace
from .feasible import FeasibleSet
from .reduce import DepthReport, ReductionReport, fingerprint, reduce_space
from .storage import load_feasible, save_feasible
from .tree import DepthDag, FeasibleTree

__all__ = ["CountedSpace", "DepthDag", "DepthReport", "FeasibleSet", "FeasibleTree",
           "ReductionReport", "fingerprint", "load_feasible", "reduce_space", "save_feasible"]
