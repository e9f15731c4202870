"""The incremental study ledger: what it derives equals a full scan of the study after every
change, it reads each finished trial once, and the journal is fsynced once per trial."""

from __future__ import annotations

import os

import numpy as np
import optuna
import pytest

from entronas.search import SearchConfig, run_search
from entronas.search.adapters.ledger import ledger
from entronas.search.adapters.samplers import FeasibleRandomSampler

from .conftest import PAPER, stand_in

optuna.logging.set_verbosity(optuna.logging.WARNING)
STATE = optuna.trial.TrialState


def _full_scan(study, sampler):
    """What the ledger must give, read from the whole study (the pre-ledger definitions)."""
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == STATE.COMPLETE]
    best = max(complete, key=lambda t: t.value) if complete else None
    taken = set()
    for t in trials:
        if t.state in (STATE.COMPLETE, STATE.RUNNING, STATE.PRUNED, STATE.FAIL) and \
                t.user_attrs.get("status") != "surplus":
            idx = t.system_attrs.get(sampler.index_key, t.user_attrs.get("index"))
            if idx is not None and idx >= 0:
                taken.add(int(idx))
    hist = [(int(t.user_attrs["index"]), float(t.value)) for t in complete
            if t.user_attrs.get("index", -1) >= 0]
    return {"complete": [t.number for t in complete], "best": best and best.number,
            "open": sorted(t.number for t in trials if t.state in (STATE.RUNNING,
                                                                   STATE.WAITING)),
            "retried": {t.user_attrs["retry_of"] for t in trials if "retry_of" in t.user_attrs},
            "taken": taken, "history": hist}


def test_ledger_equals_a_full_scan_after_every_change(small_prepared):
    sampler = FeasibleRandomSampler(small_prepared.candidates)
    study = optuna.create_study(direction="maximize")
    rng = np.random.default_rng(0)
    running = []
    for step in range(400):
        move = rng.choice(["ask", "finish", "enqueue"], p=[0.5, 0.4, 0.1])
        if move == "ask" or not running:
            t = study.ask()
            t.set_user_attr("index", int(rng.integers(-1, 60)))
            if rng.random() < 0.1:
                t.set_user_attr("status", "surplus")
            running.append(t)
        elif move == "finish":
            t = running.pop(int(rng.integers(len(running))))
            state = rng.choice(["complete", "pruned", "fail"], p=[0.6, 0.2, 0.2])
            if state == "complete":
                study.tell(t, float(rng.integers(0, 5)))  # ties: the lowest number is best
            else:
                study.tell(t, state=STATE.PRUNED if state == "pruned" else STATE.FAIL)
        else:
            study.enqueue_trial({}, user_attrs={"retry_of": int(rng.integers(0, step + 1))})
        led = ledger(study)
        want = _full_scan(study, sampler)
        assert led.complete == want["complete"]
        assert (led.best and led.best.number) == want["best"]
        assert sorted(led.open) == want["open"]
        assert led.retried == want["retried"]
        assert sampler.taken(study) == want["taken"]
        assert sampler.history(study) == want["history"]


def test_a_refresh_reads_only_new_and_unfinished_trials(small_prepared, monkeypatch):
    sampler = FeasibleRandomSampler(small_prepared.candidates)
    study = optuna.create_study(direction="maximize")
    for i in range(300):
        t = study.ask()
        t.set_user_attr("index", i)
        study.tell(t, 1.0)
    live = [study.ask() for _ in range(3)]
    sampler.taken(study)  # the ledger has seen everything once
    t = study.ask()
    t.set_user_attr("index", 999)
    study.tell(t, 2.0)
    reads = []
    frozen = optuna.trial.FrozenTrial
    prop = frozen.user_attrs
    monkeypatch.setattr(frozen, "user_attrs", property(
        lambda self: reads.append(1) or prop.fget(self), prop.fset))
    assert sampler.taken(study) == set(range(300)) | {999}
    assert len(reads) <= 2 * (len(live) + 1) + 2, len(reads)  # not ~300
    assert ledger(study).best.number == t.number


def test_the_journal_is_fsynced_once_per_trial_not_per_record(tmp_path, monkeypatch):
    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(fd) or real(fd))
    cfg = SearchConfig(space="mlp-digits", target="stm32g071", rom="24KiB", ram="2KiB",
                       trials=8, run_dir=str(tmp_path / "run"), **PAPER)
    r = run_search(cfg, stand_in, progress=False, log=lambda m: None)
    assert r.completed == 8
    # one per trial, plus the set-up writes and the finish; Optuna alone fsyncs every record
    # (about 23 per trial)
    assert 8 <= len(calls) <= 8 + 10, len(calls)
    again = run_search(cfg, stand_in, progress=False, log=lambda m: None)  # reads it back
    assert again.completed == 8 and again.best.number == r.best.number


@pytest.mark.parametrize("cut", [1, 40])
def test_records_flushed_without_fsync_survive_a_cut_tail(tmp_path, cut):
    """A power loss can leave a partial last record; the repair drops only that."""
    cfg = SearchConfig(space="mlp-digits", target="stm32g071", rom="24KiB", ram="2KiB",
                       trials=4, run_dir=str(tmp_path / "run"), **PAPER)
    run_search(cfg, stand_in, progress=False, log=lambda m: None)
    path = tmp_path / "run" / "study.journal"
    data = path.read_bytes()
    path.write_bytes(data[:-cut])
    logs = []
    r = run_search(cfg.__class__(**{**cfg.__dict__, "trials": 6}), stand_in, progress=False,
                   log=logs.append)
    assert r.completed == 6 and any("repaired" in m for m in logs)


def test_enqueued_trials_are_popped_once_in_order_by_two_workers(tmp_path):
    """The ledger's WAITING pop (Optuna's own scans every trial on every ask)."""
    from entronas.search.adapters.storage import open_storage
    from entronas.search.adapters.study import create_study

    url = str(tmp_path / "s.journal")
    a = create_study(open_storage(url), "s", optuna.samplers.RandomSampler(seed=0))
    b = create_study(open_storage(url), "s", optuna.samplers.RandomSampler(seed=1))
    for i in range(3):
        a.tell(a.ask(), 1.0)
    for i in range(4):
        a.enqueue_trial({"x": i})
    scans = []
    for study in (a, b):
        whole = study._storage.get_all_trials
        study._storage.get_all_trials = lambda *x, _w=whole, **k: scans.append(1) or _w(*x, **k)
    popped = []
    for study in (a, b, b, a, a, b):
        t = study.ask({"x": optuna.distributions.IntDistribution(0, 9)})
        popped.append((t.number, t.params["x"]))
        study.tell(t, 0.0)
    assert popped[:4] == [(3, 0), (4, 1), (5, 2), (6, 3)]   # each once, lowest number first
    assert [n for n, _ in popped[4:]] == [7, 8]              # then new trials
    assert scans == []  # no ask read the whole study (Optuna's own pop does, every time)
    assert len(a.get_trials(states=(STATE.WAITING,))) == 0


def test_a_trial_another_process_enqueued_is_suggested_on_an_rdb_storage(tmp_path):
    """On an RDB storage Optuna caches trials; a WAITING trial another process enqueued (a
    survivor's retry of a killed worker's trial) that the ledger pops must be known to that
    cache, or its first suggest fails with a bare KeyError (it did, in a PostgreSQL run)."""
    from entronas.search.adapters.storage import open_storage
    from entronas.search.adapters.study import create_study

    url = f"sqlite:///{tmp_path / 's.db'}"
    a = create_study(open_storage(url, heartbeat=False), "s",
                     optuna.samplers.RandomSampler(seed=0))
    t = a.ask()
    t.suggest_int("x", 0, 9)
    a.tell(t, 1.0)                                    # a's cache is warm
    b = optuna.load_study(study_name="s", storage=open_storage(url, heartbeat=False))
    b.enqueue_trial({"x": 3})                         # another process enqueues
    t = a.ask()                                       # a pops it through the ledger
    assert t.suggest_int("x", 0, 9) == 3
    a.tell(t, 0.5)
    assert [x.params["x"] for x in b.get_trials()][-1] == 3


def test_a_search_on_a_feasible_set_above_2_to_the_63(tmp_path):
    """Pool indices above 2^63 are stored in the candidates file (it held only int64) and
    carried through trials, resume and the report."""
    cfg = SearchConfig(space="mlp-digits", space_overrides={"depth_min": 18, "depth_max": 18},
                       target="paper-small", costs="paper", pool=500, n_clusters=5, trials=3,
                       run_dir=str(tmp_path / "run"))
    r = run_search(cfg, stand_in, progress=False, log=lambda m: None)
    assert len(r.candidates.feasible.widths_of([0])[0]) == 18
    assert r.candidates.feasible.size > 2 ** 63 and r.completed == 3
    indices = [t.user_attrs["index"] for t in r.study.trials if t.state == STATE.COMPLETE]
    assert max(indices) > 2 ** 63 and all(r.candidates.position(i) is not None for i in indices)
    again = run_search(cfg.__class__(**{**cfg.__dict__, "trials": 4}), stand_in,
                       progress=False, log=lambda m: None)  # resumes from the cached file
    assert again.completed == 4
