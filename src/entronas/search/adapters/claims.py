"""Claiming a candidate in the study's storage: no network trained twice, no more than K trained,
however many workers share the study.

Why: a sampler reads the taken set before another worker's new trial carries its index, so two
workers could pick one candidate, and N workers that each saw K-1 trained ones trained K+N-1.
Optuna storages offer no compare-and-swap, only per-trial writes and reads of the whole study,
so a claim is a small protocol over one trial attribute, ``claim``:
``claiming`` -> ``lost`` | ``kept`` | ``surplus``.

1. The trial writes its ``index`` and ``claim = "claiming"``, then reads every trial.
2. Conflict (same index): a COMPLETE trial, a trial that ``kept`` it, or a *lower* trial (by
   number) still claiming it wins; this trial has ``lost``. A *higher* trial still claiming it
   is waited for: it either loses to this one, or it decided before this one's write was
   visible (then it kept the index and this one loses). Two trials cannot both keep one index:
   each writes before it reads, so the later writer sees the earlier claim.
3. Limit K: the trial trains only if fewer than K trials below it are trained or ``kept``
   (running); trials below it that have not decided yet are waited for. Trial numbers are
   handed out by the storage under a lock, so every lower trial exists when this one reads.

Waits for a conflict only go to higher trials still in step 2, waits for the limit only to
lower trials that have not decided (which never wait on a decided trial), so waiting ends; a
trial whose process died (:func:`is_stale`) or that stays undecided past ``patience`` is not
waited for. FAIL trials hold nothing: a retry of a failed trial claims its index again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from ._optuna import STATE
from .ledger import Derived, ledger
from .workers import is_stale

CLAIM_ATTR = "claim"
#: poll interval while another worker's claim is undecided, and how long to wait at most
POLL_S = 0.05
PATIENCE_S = 60.0


@dataclass(frozen=True)
class Claim:
    """The outcome of :func:`claim_candidate`: ``kept`` (train it), ``trained`` (a finished
    trial already has this candidate: ``other``), ``taken`` (a running one does), or
    ``surplus`` (K trials are trained or training without this one)."""

    outcome: str
    other: Any = None


def _order(t: Any) -> tuple[int, int]:
    return (t.number, t._trial_id)


def _decided(t: Any) -> bool:
    return t.user_attrs.get(CLAIM_ATTR) in ("kept", "lost", "surplus")


def _holds(t: Any) -> bool:
    """Counts against K: trained, or running with a kept claim."""
    return t.state == STATE.COMPLETE or (t.state == STATE.RUNNING
                                         and t.user_attrs.get(CLAIM_ATTR) == "kept")


def claim_candidate(trial: Any, index: int, *, limit: int | None = None,
                    exclusive: bool = True, patience: float = PATIENCE_S,
                    sleep: Callable[[float], None] = time.sleep) -> Claim:
    """Claim candidate ``index`` for ``trial`` (an Optuna Trial whose user attr ``index`` is
    written already). ``exclusive=False``: another trial's candidate may be trained again
    (``duplicates="retrain"``); ``limit``: at most this many trained in the study."""
    study, me = trial.study, trial._trial_id
    trial.set_user_attr(CLAIM_ATTR, "claiming")
    waited, start = 0.0, time.time()
    while True:
        led = ledger(study)  # finished trials are read once; running ones every time
        complete = led.memo("complete-by-index", _CompleteByIndex).update(led)
        mine = led.trial(trial.number)
        key, now = _order(mine), time.time()
        pending = False
        if exclusive:
            if index in complete.first:
                return _lose(trial, Claim("trained", complete.first[index]))
            for t in led.running():
                if t._trial_id == me or t.user_attrs.get("index") != index:
                    continue
                claim = t.user_attrs.get(CLAIM_ATTR)
                if claim in ("lost", "surplus") or is_stale(t, now):
                    continue
                if claim == "kept" or (claim == "claiming" and _order(t) < key):
                    return _lose(trial, Claim("taken", t))
                if claim == "claiming":
                    pending = True  # a higher trial that has not decided: it will lose or keep
        below = [t for t in led.running() if _order(t) < key]
        undecided = [t for t in below if not _decided(t) and not is_stale(t, now)]
        if (pending or (limit is not None and undecided)) and waited < patience:
            sleep(POLL_S)
            waited = time.time() - start
            continue
        holds = led.complete_below(mine.number) + sum(1 for t in below if _holds(t))
        if limit is not None and holds >= limit:
            trial.set_user_attr(CLAIM_ATTR, "surplus")
            return Claim("surplus")
        trial.set_user_attr(CLAIM_ATTR, "kept")
        return Claim("kept")


class _CompleteByIndex(Derived):
    """The first COMPLETE trial of every candidate index (finished trials, read once)."""

    def __init__(self) -> None:
        super().__init__()
        self.first: dict[Any, Any] = {}

    def update(self, led: Any) -> "_CompleteByIndex":
        for t in self.new(led):
            if t.state == STATE.COMPLETE:
                self.first.setdefault(t.user_attrs.get("index"), t)
        return self


def _lose(trial: Any, claim: Claim) -> Claim:
    trial.set_user_attr(CLAIM_ATTR, "lost")
    return claim


def running_claims(study: Any) -> int:
    """Trials of live workers that are training (kept) or about to decide (claiming)."""
    now = time.time()
    return sum(1 for t in ledger(study).running()
               if t.user_attrs.get(CLAIM_ATTR) in ("claiming", "kept") and not is_stale(t, now))
