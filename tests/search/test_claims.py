"""The claim protocol in every interleaving that matters, in one process: the ``sleep`` hook of
a waiting claim runs the other trial's claim, so the order of writes and reads is exact."""

from __future__ import annotations

import optuna
import pytest

from entronas.search.adapters.claims import claim_candidate
from entronas.search.adapters.workers import ACTIVE, worker_id

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(autouse=True)
def _no_active_trials_left():
    yield
    ACTIVE.clear()


def _trials(n, index=7, worker="live"):
    """n RUNNING trials of this process (as if other workers ran them) on candidate index."""
    study = optuna.create_study(direction="maximize")
    trials = [study.ask() for _ in range(n)]
    for t in trials:
        t.set_user_attr("index", index)
        if worker == "live":
            ACTIVE.add(t._trial_id)
            t.set_user_attr("worker", worker_id())
    return study, trials


def _never(_):
    raise AssertionError("this claim should not wait")


def test_the_lower_trial_keeps_when_both_claim_before_either_decides():
    study, (low, high) = _trials(2)
    outcome = {}

    def high_claims_meanwhile(_):       # low waits for high, which is still claiming
        if "high" not in outcome:
            outcome["high"] = claim_candidate(high, 7, sleep=_never)

    high.set_user_attr("claim", "claiming")
    outcome["low"] = claim_candidate(low, 7, sleep=high_claims_meanwhile)
    assert outcome["low"].outcome == "kept"
    assert outcome["high"].outcome == "taken" and outcome["high"].other.number == low.number


def test_a_higher_trial_that_decided_first_keeps_and_the_lower_loses():
    study, (low, high) = _trials(2)
    assert claim_candidate(high, 7, sleep=_never).outcome == "kept"
    lost = claim_candidate(low, 7, sleep=_never)
    assert lost.outcome == "taken" and lost.other.number == high.number
    assert low.study.trials[low.number].user_attrs["claim"] == "lost"


def test_a_trained_candidate_is_a_duplicate_and_retrain_mode_allows_it():
    study, (first, again, third) = _trials(3)
    assert claim_candidate(first, 7, sleep=_never).outcome == "kept"
    study.tell(first, 0.9)
    dup = claim_candidate(again, 7, sleep=_never)
    assert dup.outcome == "trained" and dup.other.value == 0.9
    assert claim_candidate(third, 7, exclusive=False, sleep=_never).outcome == "kept"


def test_at_most_k_are_trained_or_training():
    study, trials = _trials(4)
    for i, t in enumerate(trials):
        t.set_user_attr("index", i)
    assert [claim_candidate(t, i, limit=2, sleep=_never).outcome
            for i, t in enumerate(trials)] == ["kept", "kept", "surplus", "surplus"]
    study.tell(trials[0], state=optuna.trial.TrialState.FAIL)  # an error frees its place
    again = study.ask()
    again.set_user_attr("index", 9)
    assert claim_candidate(again, 9, limit=2, sleep=_never).outcome == "kept"


def test_the_limit_waits_for_a_lower_trial_that_has_not_decided():
    study, (low, high) = _trials(2)
    low.set_user_attr("index", 1)
    waits = []

    def low_decides(_):
        waits.append(1)
        claim_candidate(low, 1, limit=1, sleep=_never)

    assert claim_candidate(high, 7, limit=1, sleep=low_decides).outcome == "surplus"
    assert waits == [1]


@pytest.mark.parametrize("how", ["killed", "orphaned"])
def test_a_dead_or_orphaned_trial_is_not_waited_for(how, monkeypatch):
    import socket

    import entronas.search.adapters.workers as workers

    study, (dead, me) = _trials(2, worker=None)
    if how == "killed":   # its process (on this host) is gone
        dead.set_user_attr("worker", f"{socket.gethostname()}:999999999:x")
    else:                 # killed before its sampler wrote the worker: after ORPHAN_AFTER_S
        monkeypatch.setattr(workers, "ORPHAN_AFTER_S", -1.0)
    ACTIVE.add(me._trial_id)
    me.set_user_attr("worker", workers.worker_id())
    assert claim_candidate(me, 7, limit=1, sleep=_never).outcome == "kept"
