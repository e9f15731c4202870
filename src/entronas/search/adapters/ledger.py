"""An incremental view of a study's trials, for the questions entronas asks after every trial.

Why: the samplers (which candidates are taken), the claims (who holds a candidate, how many are
trained below a trial), the recovery (which trials died), the stop rule and the progress line
each read and walked the whole study after every trial, so a trial's overhead grew with the
study (27 ms at 1,000 trials). Optuna never changes a finished trial, so the ledger reads each
trial until it has finished and never again: O(new + unfinished) storage calls and work per
:meth:`StudyLedger.refresh`, whatever the study's size.

What a consumer derives from finished trials it keeps itself, reading :attr:`finished` from its
own offset (:meth:`StudyLedger.memo`), so every consumer costs O(new) too.
"""

from __future__ import annotations

import bisect
import weakref
from typing import Any, Callable, TypeVar

from ._optuna import STATE

FINISHED = (STATE.COMPLETE, STATE.PRUNED, STATE.FAIL)

T = TypeVar("T")


class StudyLedger:
    """The trials of one study as this process last read them.

    Attributes:
        open: number -> unfinished trial (RUNNING or WAITING), as of the latest refresh.
        finished: finished trials, each once, in the order this ledger saw them finish.
        complete: numbers of the COMPLETE trials, ascending.
        best: the COMPLETE trial with the highest value (the lowest number among ties).
        retried: numbers of trials that a retry names (its ``retry_of``).
    """

    def __init__(self) -> None:
        self.by_number: dict[int, Any] = {}
        self.open: dict[int, Any] = {}
        self.finished: list[Any] = []
        self.complete: list[int] = []
        self.best: Any = None
        self.retried: set[int] = set()
        self._memo: dict[Any, Any] = {}
        self._seen = 0

    def refresh(self, study: Any) -> "StudyLedger":
        """Read the trials that are new or were unfinished, one by one (a whole-study read
        costs ~5 ms at 10,000 trials; these are O(1) storage calls each)."""
        storage, sid = study._storage, study._study_id
        for old in list(self.open.values()):
            self._see(storage.get_trial(old._trial_id))
        while True:
            try:
                tid = storage.get_trial_id_from_study_id_trial_number(sid, self._seen)
            except KeyError:
                break
            t = storage.get_trial(tid)
            if "retry_of" in t.user_attrs:
                self.retried.add(int(t.user_attrs["retry_of"]))
            self._see(t)
            self._seen += 1
        return self

    def _see(self, t: Any) -> None:
        self.by_number[t.number] = t
        if t.state in FINISHED:
            self.open.pop(t.number, None)
            self._finish(t)
        else:
            self.open[t.number] = t

    def trial(self, number: int) -> Any:
        """Trial ``number`` as of the latest refresh."""
        return self.by_number[number]

    def _finish(self, t: Any) -> None:
        self.finished.append(t)
        if t.state == STATE.COMPLETE:
            bisect.insort(self.complete, t.number)
            b = self.best
            if b is None or t.value > b.value or (t.value == b.value and t.number < b.number):
                self.best = t

    def running(self) -> list[Any]:
        return [t for t in self.open.values() if t.state == STATE.RUNNING]

    def waiting(self) -> list[Any]:
        return [t for t in self.open.values() if t.state == STATE.WAITING]

    def complete_below(self, number: int) -> int:
        """COMPLETE trials with a lower number than ``number``."""
        return bisect.bisect_left(self.complete, number)

    def memo(self, key: Any, factory: Callable[[], T]) -> T:
        """A consumer's own derived state, kept with this ledger."""
        if key not in self._memo:
            self._memo[key] = factory()
        return self._memo[key]


class Derived:
    """A consumer's state over :attr:`StudyLedger.finished`: ``new(ledger)`` hands out the
    finished trials it has not seen yet."""

    def __init__(self) -> None:
        self.offset = 0

    def new(self, ledger: StudyLedger) -> list[Any]:
        out = ledger.finished[self.offset:]
        self.offset = len(ledger.finished)
        return out


_LEDGERS: "weakref.WeakKeyDictionary[Any, StudyLedger]" = weakref.WeakKeyDictionary()


def ledger(study: Any, *, refresh: bool = True) -> StudyLedger:
    """The ledger of ``study`` (one per study object in this process), refreshed unless
    ``refresh=False`` and the caller can do with what the last refresh read (a count asked
    right after another refresh)."""
    led = _LEDGERS.get(study)
    if led is None:
        led = _LEDGERS[study] = StudyLedger()
        refresh = True
    return led.refresh(study) if refresh else led
