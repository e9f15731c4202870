"""Optuna adapters: the only code of entronas that imports Optuna.

* :mod:`.samplers`: ``EntropySampler`` and ``FeasibleRandomSampler`` over the candidates;
* :mod:`.strategies`: the strategy registry (``entropy``, ``random``, ``tpe``);
* :mod:`.objective`: the one objective of every strategy;
* :mod:`.storage`: opening storages (journal repair included) and crash recovery;
* :mod:`.study`: creating, loading and checking a run's study;
* :mod:`.progress`: the per-trial progress line.
"""

from ._optuna import STATE, optuna
from .samplers import FINGERPRINT_ATTR, EntropySampler, FeasibleRandomSampler
from .strategies import STRATEGIES, Strategy, make_sampler

__all__ = ["EntropySampler", "FINGERPRINT_ATTR", "FeasibleRandomSampler", "STATE",
           "STRATEGIES", "Strategy", "make_sampler", "optuna"]
