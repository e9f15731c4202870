"""Several workers on one study, on journal, SQLite and a real PostgreSQL server: exactly K
trained, nothing trained twice, and a killed worker's trial retried once, by the workers still
running, with its candidate and its seed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import optuna
import pytest

from entronas.search import load_run

from .conftest import SRC, postgres_url, write_full_table
from .test_run import CLI_SMALL, _env

STORAGES = ["journal", "sqlite", "postgresql"]


def _url(kind, tmp_path):
    if kind == "postgresql":
        return postgres_url()
    return (f"sqlite:///{tmp_path / 'study.db'}" if kind == "sqlite"
            else f"journal:{tmp_path / 'shared.journal'}")


def _trials(url, study):
    from entronas.search.adapters.storage import open_storage

    return optuna.load_study(study_name=study, storage=open_storage(url, heartbeat=False)).trials


def _cmd(cli, table, url, study, run_dir, k):
    return cli + ["search", *CLI_SMALL, "--evaluator", f"table:{table}", "--trials", str(k),
                  "--storage", url, "--study", study, "--run-dir", str(run_dir), "-q"]


def _start(cmd, n):
    return [subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(n)]


def _check_exactly_k(run, k):
    trained = run.trained
    assert len(trained) == k                               # exactly K, not K + N - 1
    assert len({t.widths for t in trained}) == k           # nothing trained twice
    assert not [t for t in run.trials if t.state in ("RUNNING", "WAITING")]


@pytest.mark.parametrize("storage", STORAGES)
def test_four_workers_train_exactly_k_and_nothing_twice(tmp_path, small_prepared, slow_cli,
                                                         storage):
    url = _url(storage, tmp_path)
    study = f"shared-{uuid.uuid4().hex[:8]}"   # a server outlives the test: a new study
    table = write_full_table(tmp_path / "t.csv", small_prepared)
    # 0.25 s a trial: 24 take 6 s alone, well above the workers' start-up skew on a loaded
    # machine (at 0.05 s, 1.2 s of work in all, a worker that started late could find every
    # trial taken, and the "shared the work" check then depends on timing)
    procs = _start(_cmd(slow_cli(0.25), table, url, study, tmp_path / "run", 24), 4)
    outs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]
    run = load_run(tmp_path / "run")
    _check_exactly_k(run, 24)
    assert run.counts()["failed"] == 0                     # no trial lost
    workers = {t.user_attrs["worker"] for t in _trials(url, study) if t.state.name == "COMPLETE"}
    assert len(workers) >= 2                               # the workers shared the work
    # every other trial gave its candidate back: it lost a claim, or K were trained already
    assert {t.status for t in run.trials if t.state != "COMPLETE"} <= {"duplicate", "surplus"}


def _kill_one_mid_trial(procs, url, study, timeout=60.0, most_complete=None):
    """Kill -9 the worker of a trial that is training; returns that trial's number.

    ``most_complete``: only while at most that many trials are trained, so that the survivors
    re-enqueue the killed trial while fewer than K hold a place (killed later, e.g. when a
    slow storage makes the polls late, the retry rightly comes out surplus: K were trained
    without it)."""
    from entronas.search.adapters.storage import open_storage

    pids = {p.pid: p for p in procs}
    storage = open_storage(url, heartbeat=False)   # once: reopening it per poll on a
    loaded = None                                  # database server missed the fresh trials
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            loaded = loaded or optuna.load_study(study_name=study, storage=storage)
            trials = loaded.get_trials(deepcopy=False)
        except KeyError:  # the workers are still reducing the space
            trials = []
        done = sum(t.state.name == "COMPLETE" for t in trials)
        if most_complete is not None and done > most_complete:
            raise AssertionError(f"{done} trials were trained before one could be killed "
                                 "mid-trial")
        if done >= 2:
            for t in trials:
                pid = int(str(t.user_attrs.get("worker", "h:0:x")).split(":")[1])
                fresh = time.time() - t.datetime_start.timestamp() < 0.4  # of a 1 s trial
                if t.state.name == "RUNNING" and t.user_attrs.get("claim") == "kept" \
                        and pid in pids and fresh:
                    os.kill(pid, signal.SIGKILL)
                    pids[pid].wait(10)
                    return t.number
        time.sleep(0.02)
    raise AssertionError("no trial was training in time")


@pytest.mark.parametrize("storage", STORAGES)
def test_a_killed_workers_trial_is_retried_once_by_the_others(tmp_path, small_prepared,
                                                              slow_cli, storage):
    url = _url(storage, tmp_path)
    study = f"kill-{uuid.uuid4().hex[:8]}"
    table = write_full_table(tmp_path / "t.csv", small_prepared)
    k = 16
    cmd = _cmd(slow_cli(1.0), table, url, study, tmp_path / "run", k)
    procs = _start(cmd, 3)
    try:
        victim = _kill_one_mid_trial(procs, url, study, most_complete=k // 2)
        outs = [p.communicate(timeout=180) for p in procs if p.returncode is None]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    survivors = [p for p in procs if p.returncode != -signal.SIGKILL]
    assert all(p.returncode == 0 for p in survivors), [
        (p.returncode, o[1][-1500:]) for p, o in zip(survivors, outs) if p.returncode]
    trials = {t.number: t for t in _trials(url, study)}
    killed = trials[victim]
    assert killed.state.name == "FAIL"                     # it was training when killed
    retries = [t for t in trials.values() if t.user_attrs.get("retry_of") == victim]
    assert len(retries) == 1                               # retried once, by a survivor
    retry = retries[0]
    assert retry.state.name == "COMPLETE"
    assert retry.user_attrs["widths"] == killed.user_attrs["widths"]
    assert retry.user_attrs["seed"] == killed.user_attrs["seed"]
    _check_exactly_k(load_run(tmp_path / "run"), k)
    # the same command again: nothing to retry, nothing to train, nothing enqueued
    again = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert len(_trials(url, study)) == len(trials)


DIE_AT_START = """
import os, signal, sys
sys.path.insert(0, {src!r})
from entronas.search.adapters import objective
_orig, _calls = objective.Objective.__call__, [0]
def die_on_third(self, trial):
    _calls[0] += 1
    if _calls[0] == 3:   # before the objective writes anything on its third trial
        os.kill(os.getpid(), signal.SIGKILL)
    return _orig(self, trial)
objective.Objective.__call__ = die_on_third
from entronas.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_kill_before_the_objective_writes_is_retried_by_the_next_run(tmp_path,
                                                                       small_prepared,
                                                                       slow_cli):
    from entronas._core.rng import derive_seed

    url = _url("journal", tmp_path)
    table = write_full_table(tmp_path / "t.csv", small_prepared)
    script = tmp_path / "die.py"
    script.write_text(DIE_AT_START.format(src=str(SRC)))
    cmd = _cmd([sys.executable, str(script)], table, url, "s", tmp_path / "run", 6)
    first = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120)
    assert first.returncode == -signal.SIGKILL
    (stuck,) = [t for t in _trials(url, "s") if t.state.name == "RUNNING"]
    assert "params" not in stuck.user_attrs and "worker" in stuck.user_attrs
    t0 = time.time()
    again = subprocess.run(_cmd(slow_cli(0.0), table, url, "s", tmp_path / "run", 6),
                           env=_env(), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert time.time() - t0 < 60                           # at once, not after a timeout
    trials = {t.number: t for t in _trials(url, "s")}
    assert trials[stuck.number].state.name == "FAIL"
    (retry,) = [t for t in trials.values() if t.user_attrs.get("retry_of") == stuck.number]
    index = next(v for k, v in stuck.system_attrs.items() if k.endswith(":index"))
    assert retry.state.name == "COMPLETE" and retry.user_attrs["index"] == index
    record = load_run(tmp_path / "run")
    assert retry.user_attrs["seed"] == derive_seed(record.seed, stuck.number)
    _check_exactly_k(record, 6)


def test_a_sqlite_transaction_holds_the_write_lock_from_its_first_read(tmp_path):
    """Optuna reads a trial FOR UPDATE before it sets it RUNNING; SQLite ignores FOR UPDATE, so
    without BEGIN IMMEDIATE two workers both popped one enqueued trial (both trained it, and the
    second ``tell`` failed: a flaky CI run of the killed-worker test above)."""
    import sqlite3

    from entronas.search.adapters.storage import open_storage

    db = tmp_path / "s.db"
    storage = open_storage(f"sqlite:///{db}", heartbeat=False)
    optuna.create_study(study_name="s", storage=storage).enqueue_trial({"x": 1.0})
    other = sqlite3.connect(db, timeout=0.05, isolation_level=None)
    with storage.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT state FROM trials").all() == [("WAITING",)]
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("UPDATE trials SET state = 'RUNNING'")   # must wait for the read
    other.execute("UPDATE trials SET state = 'RUNNING'")           # free once it has ended
    other.close()
