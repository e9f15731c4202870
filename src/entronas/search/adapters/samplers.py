"""Optuna samplers over the feasible set X^f (style.md section 6; the GridSampler pattern).

A whole architecture is chosen in :meth:`before_trial` and stored on the trial as a system
attribute; :meth:`sample_independent` then replays it parameter by parameter (``depth``,
``width_i``; names from :mod:`entronas.search.params`). The only cross-trial state, the set of
candidates already taken, is read from the storage, so any number of workers on one storage
cooperate. Each trial's candidate is drawn with a generator derived from ``(seed, trial.number)``:
sequential runs are reproducible and parallel workers never share a stream.

Two workers may pick the same candidate at the same moment (as with Optuna's GridSampler); the
objective's claim (:mod:`.claims`) then lets exactly one of them train it.
"""

from __future__ import annotations

import bisect
import warnings
from typing import Any, Sequence

import numpy as np

from ..._core.rng import derive_seed
from ...sampling.candidates import Candidates
from ...sampling.growing import AppendOnlySet
from ..errors import StudyMismatchError
from ..params import arch_from_params, value_for
from ._optuna import optuna
from .ledger import Derived, ledger
from .workers import ACTIVE, worker_id

FINGERPRINT_ATTR = "entronas:fingerprint"   # study user attr, set when the study is created


def _optuna() -> Any:
    return optuna


def set_trial_system_attr(study: Any, trial: Any, key: str, value: Any) -> None:
    """The private Optuna storage calls of entronas live here (GridSampler makes the same)."""
    study._storage.set_trial_system_attr(trial._trial_id, key, value)


def tag_worker(study: Any, trial: Any) -> None:
    """Write this process's id on a new trial first of all, so a trial whose process dies while
    its candidate is being chosen is recognised (and retried) at once."""
    ACTIVE.add(trial._trial_id)  # the objective removes it when the trial ends
    study._storage.set_trial_user_attr(trial._trial_id, "worker", worker_id())


class _TakenSet(Derived):
    def __init__(self) -> None:
        super().__init__()
        self.indices = AppendOnlySet()   # handed out as is while no other trial runs


class _History(Derived):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[int, int, float]] = []


class _FeasibleSetSampler(optuna.samplers.BaseSampler):
    """Shared mechanics of the samplers over X^f; ``strategy`` picks the pure sampler."""

    policy = "uniform"
    prefix = "FeasibleRandomSampler"

    def __init__(self, candidates: Candidates, *, key: str = "", seed: int | None = 0,
                 fallback: Any = None, **policy_params: Any) -> None:
        self.candidates = candidates
        self.key = key
        self.seed = 0 if seed is None else int(seed)
        self.fallback = fallback
        self._pure = candidates.policy(self.policy, **policy_params)
        self._checked_studies: set[str] = set()
        self.index_key = f"{self.prefix}:index"
        self.exhausted_key = f"{self.prefix}:exhausted"

    # -------------------------------------------------------------- pickling (spawned workers)
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_checked_studies"] = set()
        return state

    # -------------------------------------------------------------- helpers
    def taken(self, study: Any, *, refresh: bool = True) -> set[int]:
        """Global indices of X^f used by trials of ``study`` (finished, running or failed; a
        surplus trial gave its candidate back untrained). Incremental: finished trials are
        read once (:mod:`.ledger`), running ones every time."""
        led = ledger(study, refresh=refresh)
        done = led.memo(("taken", self.index_key), _TakenSet)
        for t in done.new(led):
            idx = self._index_of_trial(t)
            if idx is not None:
                done.indices.add(idx)
        running = {i for i in map(self._index_of_trial, led.running()) if i is not None}
        if running <= done.indices:
            # the live set (callers only read it): policies then take what is new by
            # position in its log instead of comparing whole sets (constant cost per trial)
            return done.indices
        return done.indices | running

    def _index_of_trial(self, t: Any) -> int | None:
        if t.user_attrs.get("status") == "surplus":
            return None
        idx = t.system_attrs.get(self.index_key)
        if idx is None:
            idx = t.user_attrs.get("index")
        if idx is not None:
            return self._checked_index(int(idx), t.user_attrs.get("widths")) if idx >= 0 \
                else None
        if t.params:
            try:
                idx = self.candidates.index_of(arch_from_params(self.candidates.space,
                                                                t.params))
            except Exception:  # parameters from another contract: not ours
                idx = None
        return int(idx) if idx is not None and idx >= 0 else None

    def _checked_index(self, idx: int, widths: Any) -> int | None:
        """A trial's stored index, or where the widths it trained are another member, the
        index of those widths: a study begun by an entronas that ordered the same X^f
        differently (a counted set, now built as its DAG) keeps its taken set right."""
        if widths is None:
            return idx
        try:
            if idx < self.candidates.feasible.size and \
                    self.candidates.widths(idx) == tuple(int(w) for w in widths):
                return idx
        except (IndexError, ValueError):
            pass
        return self.candidates.index_of(tuple(int(w) for w in widths))

    def history(self, study: Any) -> list[tuple[int, float]]:
        """(candidate index, score) of the study's finished trials in trial order (what a
        model learns from; incremental like :meth:`taken`)."""
        led = ledger(study)
        hist = led.memo(("history", self.index_key), _History)
        for t in hist.new(led):
            if t.state != _optuna().trial.TrialState.COMPLETE or t.value is None:
                continue
            idx = t.system_attrs.get(self.index_key, t.user_attrs.get("index"))
            if idx is not None and idx >= 0:
                idx = self._checked_index(int(idx), t.user_attrs.get("widths"))
            if idx is not None and idx >= 0:
                bisect.insort(hist.rows, (t.number, int(idx), float(t.value)))
        return [(i, v) for _, i, v in hist.rows]

    def rng_for(self, trial_number: int) -> np.random.Generator:
        return np.random.default_rng(derive_seed(self.seed, int(trial_number)))

    def _check_study(self, study: Any) -> None:
        name = study.study_name
        if name in self._checked_studies:
            return
        fp = study.user_attrs.get(FINGERPRINT_ATTR)
        if fp is not None and self.key and fp != self.key:
            raise StudyMismatchError(
                f"study {name!r} was created for candidates {fp}, this worker has "
                f"{self.key} (another space, target, budgets, costs or clustering); use the "
                "same settings or another --study")
        self._checked_studies.add(name)

    def _candidate_count(self) -> int:
        return self.candidates.n_candidates

    # -------------------------------------------------------------- BaseSampler interface
    def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
        return {}

    def sample_relative(self, study: Any, trial: Any, search_space: Any) -> dict[str, Any]:
        return {}

    def before_trial(self, study: Any, trial: Any) -> None:
        tag_worker(study, trial)
        self._check_study(study)
        if self.index_key in trial.system_attrs or "fixed_params" in trial.system_attrs:
            return  # enqueued / retried trial: its parameters are fixed already
        history = self.history(study) if self._pure.uses_history else None
        index = self._pure.suggest(self.rng_for(trial.number), self.taken(study), history)
        if index is None:
            set_trial_system_attr(study, trial, self.exhausted_key, True)
            set_trial_system_attr(study, trial, self.index_key, -1)
            return
        set_trial_system_attr(study, trial, self.index_key, int(index))

    def sample_independent(self, study: Any, trial: Any, param_name: str,
                           param_distribution: Any) -> Any:
        index = trial.system_attrs.get(self.index_key)
        if index is None:
            raise RuntimeError(f"{self.prefix}: trial {trial.number} has no chosen candidate; "
                               "was before_trial skipped?")
        if index < 0:  # X^f used up: nothing to train (after_trial stops the study)
            raise _optuna().TrialPruned("feasible set exhausted")
        widths = self.candidates.widths(index)
        value = value_for(widths, param_name, self.candidates.space)
        if value is None:
            if self.fallback is not None:
                return self.fallback.sample_independent(study, trial, param_name,
                                                        param_distribution)
            raise ValueError(f"{self.prefix} cannot sample parameter {param_name!r}: it only "
                             "hands out 'depth' and 'width_i' (pass fallback= for others)")
        if not param_distribution._contains(param_distribution.to_internal_repr(value)):
            warnings.warn(f"{self.prefix}: {param_name}={value} is outside {param_distribution}; "
                          "the objective's ranges and the feasible tree disagree", stacklevel=2)
        return value

    def after_trial(self, study: Any, trial: Any, state: Any, values: Sequence[float] | None
                    ) -> None:
        if trial.system_attrs.get(self.exhausted_key):
            study.stop()
            return
        # the last refresh is recent enough: a set used up meanwhile is seen by the next
        # before_trial, which then marks its trial exhausted
        if len(self.taken(study, refresh=False)) >= self._candidate_count():
            study.stop()

    def reseed_rng(self) -> None:
        """No-op: streams are derived from (seed, trial number), not from process state."""
        if self.fallback is not None:
            self.fallback.reseed_rng()


class EntropySampler(_FeasibleSetSampler):
    """Entropy-based sampling over X^f: a cluster by Eq. (7) (P(c) = (1-p)^c p over clusters
    with candidates left, cluster 0 = highest entropy), a candidate uniformly inside it, never a
    candidate twice in a study; stops the study when X^f is used up.

    Args:
        candidates: X^f and its entropy clusters (:class:`entronas.sampling.Candidates`).
        key: the candidates' key, stored on the study so workers with other candidates fail.
        seed: root seed; trial n draws with ``derive_seed(seed, n)``.
        fallback: optional Optuna sampler for parameters outside the depth/width contract.
        p: the parameter of Eq. 7 (0.5 in the paper).
    """

    policy = "entropy"
    prefix = "EntropySampler"


class FeasibleRandomSampler(_FeasibleSetSampler):
    """Uniform sampling over X^f without repetition (the paper's random-search baseline)."""

    policy = "uniform"
    prefix = "FeasibleRandomSampler"


class GreedySampler(_FeasibleSetSampler):
    """The most expensive untried member of X^f first (``cost``: macs | params | entropy)."""

    policy = "greedy"
    prefix = "GreedySampler"


class SurrogateSampler(_FeasibleSetSampler):
    """Model-based search that never leaves X^f: entropy-sampled start, then the untried
    candidate with the best acquisition of a surrogate fitted on the study's finished trials
    (read from the storage, so many workers share one model's data)."""

    policy = "bo"
    prefix = "SurrogateSampler"
