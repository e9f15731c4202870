"""Search strategies by name: each makes the Optuna sampler of a run from its candidates.

Why a registry: a strategy used to be named in three places and dispatched by ``if/elif``;
here each is one entry with its parameters (validated, stored in the run record) and its
factory. ``entronas search --strategy NAME`` and experiment configs look names up here.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..._core.registry import Registry
from ...sampling.candidates import Candidates
from ...sampling.surrogate import DEFAULT_MODEL, DEFAULT_N_STARTUP, DEFAULT_START
from ._optuna import optuna
from .objective import tpe_constraints
from .samplers import (EntropySampler, FeasibleRandomSampler, GreedySampler, SurrogateSampler,
                       tag_worker)


@dataclass(frozen=True)
class Strategy:
    """A search strategy: its name, its parameters (names of SearchConfig settings, with
    defaults) and ``make(candidates, params, key, seed) -> optuna sampler``.

    ``feasible_only``: every proposal is a member of X^f (no infeasible trials to prune).
    """

    name: str
    make: Callable[[Candidates, Mapping[str, Any], str, int], Any]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    feasible_only: bool = True
    summary: str = ""

    def params(self, settings: Any) -> dict[str, Any]:
        """The strategy's parameters taken from a SearchConfig (or a mapping)."""
        get = settings.get if isinstance(settings, Mapping) else \
            (lambda k, d: getattr(settings, k, d))
        return {k: get(k, v) for k, v in self.defaults.items()}


def _entropy(c: Candidates, params: Mapping[str, Any], key: str, seed: int) -> Any:
    return EntropySampler(c, key=key, seed=seed, p=params.get("p", 0.5))


def _random(c: Candidates, params: Mapping[str, Any], key: str, seed: int) -> Any:
    return FeasibleRandomSampler(c, key=key, seed=seed)


def _greedy(c: Candidates, params: Mapping[str, Any], key: str, seed: int) -> Any:
    return GreedySampler(c, key=key, seed=seed, cost=params.get("cost", "macs"))


def _bo(c: Candidates, params: Mapping[str, Any], key: str, seed: int) -> Any:
    return SurrogateSampler(c, key=key, seed=seed, model=params.get("model", DEFAULT_MODEL),
                            n_startup=int(params.get("n_startup", DEFAULT_N_STARTUP)),
                            start=params.get("startup", DEFAULT_START),
                            p=params.get("p", 0.5))


class WorkerTaggedTPESampler(optuna.samplers.TPESampler):
    """Optuna's TPE, tagging each new trial with its worker first (as the X^f samplers do), so
    crash recovery knows a trial whose process died before the objective wrote anything."""

    def before_trial(self, study: Any, trial: Any) -> None:
        tag_worker(study, trial)
        super().before_trial(study, trial)


def _tpe(c: Candidates, params: Mapping[str, Any], key: str, seed: int) -> Any:
    from ..params import check_encoding

    check_encoding(c.space, params.get("encoding", "categorical"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return WorkerTaggedTPESampler(seed=seed, multivariate=True, group=True,
                                      constraints_func=tpe_constraints)


#: strategies by name (``entronas search --strategy``)
STRATEGIES: Registry[Strategy] = Registry("strategy")
for _s in (
    Strategy("entropy", _entropy, {"p": 0.5},
             summary="entropy clusters drawn by Eq. 7 (the paper's method)"),
    Strategy("random", _random, summary="uniform over X^f without repetition"),
    Strategy("greedy", _greedy, {"cost": "macs"},
             summary="the most expensive untried member of X^f first (deterministic)"),
    Strategy("bo", _bo, {"model": DEFAULT_MODEL, "n_startup": DEFAULT_N_STARTUP,
                         "startup": DEFAULT_START, "p": 0.5},
             summary="a surrogate over X^f's features, acquisition over every candidate"),
    Strategy("tpe", _tpe, {"encoding": "categorical"}, feasible_only=False,
             summary="Optuna's TPE over the box; infeasible proposals pruned before training"),
):
    STRATEGIES.register(_s.name, _s)


def make_sampler(name: str, candidates: Candidates, params: Mapping[str, Any], key: str,
                 seed: int) -> Any:
    """The Optuna sampler of strategy ``name``."""
    return STRATEGIES.get(name).make(candidates, params, key, seed)
