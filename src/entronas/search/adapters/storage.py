"""Opening Optuna storages, and recovering trials that a dead process left RUNNING.

One recovery path for every storage: a trial left RUNNING by a dead process on this host (its
pid is gone), interrupted by Ctrl-C, or marked FAIL by an RDB storage's heartbeat (a worker on
another host, 120 s without a beat) is re-enqueued once, with the same candidate and training
seed, by :func:`recover_interrupted`; every worker calls it before its first trial and after
each one, so the survivors of a killed worker retry its trial. A journal file whose last record
is partial is repaired before anything is appended.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any, Callable

from ..errors import SearchError
from ..params import has_arch, params_of
from ._optuna import STATE, optuna
from .ledger import Derived, ledger
from .workers import is_stale


def repair_journal(path: Path, log: Callable[[str], None] | None = None) -> int:
    """Drop a partial last record of a journal file (a process died mid-append, a full disk);
    every complete record is kept. Returns the bytes dropped.

    Why: Optuna appends after the last byte, so a partial line would swallow the next record
    and make the whole study unreadable.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    if size == 0:
        return 0
    with open(path, "rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return 0
        block = min(size, 1 << 20)
        fh.seek(size - block)
        tail = fh.read(block)
        cut = tail.rfind(b"\n")
        keep = size - block + cut + 1 if cut >= 0 else 0
        fh.truncate(keep)
    if log:
        log(f"repaired {path}: dropped a partial last record ({size - keep} bytes); every "
            "complete record is kept")
    return size - keep


@functools.cache
def _journal_backend(base: type) -> type:
    """Optuna's journal file backend, flushing every record but fsyncing once per trial.

    Why: Optuna fsyncs each record, ~25 per trial (4 ms of a trial's 10 ms on this disk). A
    killed process loses nothing either way (the bytes are the kernel's once written); only a
    power loss can take the records written since the last :func:`sync_storage` call, i.e. the
    trial in flight, and a partial last record is what :func:`repair_journal` drops.
    """
    from optuna.storages.journal._file import get_lock_file

    class TrialSyncedJournalBackend(base):  # type: ignore[misc, valid-type]
        dirty = False  # records written since the last sync

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            data = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
            with get_lock_file(self._lock):
                with open(self._file_path, "ab") as f:
                    f.write(data.encode("utf-8"))
                    f.flush()
            self.dirty = True

        def sync(self) -> None:
            if self.dirty:
                fd = os.open(self._file_path, os.O_WRONLY | os.O_APPEND)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                self.dirty = False

    return TrialSyncedJournalBackend


def sync_storage(study: Any) -> None:
    """Make what this process wrote to a journal file durable (after each trial; RDB storages
    commit every write themselves)."""
    backend = getattr(getattr(study, "_storage", None), "_backend", None)
    if hasattr(backend, "sync"):
        backend.sync()


def serialize_sqlite(engine: Any) -> None:
    """Make every transaction on a SQLite ``engine`` take the write lock when it begins.

    Why: Optuna reads a trial ``FOR UPDATE`` before it changes its state, and SQLite ignores
    ``FOR UPDATE``; the driver starts its transaction only at the first write. Two workers could
    both read an enqueued trial WAITING and both set it RUNNING (both then trained it, and the
    second ``tell`` failed). ``BEGIN IMMEDIATE`` makes read-then-write atomic; waiting for the
    lock is bounded by the connection's busy timeout (SQLAlchemy's recipe for pysqlite).
    """
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _no_driver_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver's own (deferred) BEGIN off

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # pooled connections were opened without the hooks


def open_storage(url: str, *, heartbeat: bool = True,
                 log: Callable[[str], None] | None = None) -> Any:
    """An Optuna storage for ``url``: ``journal:PATH`` / ``*.journal`` (journal file), or any
    RDB URL (``sqlite:///x.db``, ``postgresql://...``). Failures become one-line SearchErrors."""
    try:
        if url.startswith("journal:") or url.endswith((".journal", ".log")):
            from optuna.storages.journal import (JournalFileBackend, JournalFileOpenLock,
                                                 JournalFileSymlinkLock)

            path = Path(url[len("journal:"):] if url.startswith("journal:") else url)
            if not path.parent.is_dir():
                raise SearchError(f"cannot open storage {url!r}: directory {str(path.parent)!r} "
                                  "does not exist")
            repair_journal(path, log)
            try:
                lock = JournalFileSymlinkLock(str(path))
            except Exception:  # filesystems without symlinks
                lock = JournalFileOpenLock(str(path))
            return optuna.storages.JournalStorage(_journal_backend(JournalFileBackend)(
                str(path), lock_obj=lock))
        if "://" not in url:
            raise SearchError(f"cannot open storage {url!r}: not an Optuna storage URL (use "
                              "sqlite:///FILE.db, postgresql://..., mysql://... or journal:FILE)")
        kw: dict[str, Any] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if heartbeat and not url.startswith("sqlite"):
                # the heartbeat only marks a dead worker's trial FAIL; it is retried by
                # recover_interrupted (same candidate and seed, once), not by Optuna's callback
                kw = dict(heartbeat_interval=30, grace_period=120)
            if url.startswith("sqlite"):
                kw["engine_kwargs"] = {"connect_args": {"timeout": 60}}
            for attempt in range(8):  # workers starting together race to create the schema
                try:
                    storage = optuna.storages.RDBStorage(url, **kw)
                    if url.startswith("sqlite"):
                        serialize_sqlite(storage.engine)
                    return storage
                except Exception as exc:
                    text = str(exc).lower()
                    racing = ("locked" in text or "already exists" in text
                              or "unique constraint failed: alembic_version" in text)
                    if attempt == 7 or not racing:
                        raise
                    time.sleep(0.2 * (attempt + 1))
    except SearchError:
        raise
    except Exception as exc:  # sqlalchemy / OS errors: one line
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "postgres" in url and ("psycopg" in msg or "DB access module" in msg):
            msg += "; install the PostgreSQL driver with: pip install 'entronas[postgres]'"
        raise SearchError(f"cannot open storage {url!r}: {msg}") from None


def _worth_redoing(t: Any) -> bool:
    """Interrupted while it was training (or choosing): a trial that had lost its claim, was
    surplus, or was infeasible holds nothing to redo."""
    return (t.user_attrs.get("status") in (None, "running", "interrupted")
            and t.user_attrs.get("claim") not in ("lost", "surplus"))


class _FailedToRedo(Derived):
    """FAIL trials worth a retry, by number (finished trials, read once)."""

    def __init__(self) -> None:
        super().__init__()
        self.trials: dict[int, Any] = {}

    def update(self, led: Any) -> "_FailedToRedo":
        for t in self.new(led):
            if t.state == STATE.FAIL and _worth_redoing(t):
                self.trials[t.number] = t
        for n in [n for n in self.trials if n in led.retried]:
            del self.trials[n]  # retried: nothing left to do for it
        return self


#: (study, trial) given up on, reported once per process (recovery runs after every trial)
_GAVE_UP: set[tuple[str, int]] = set()


def recover_interrupted(study: Any, candidates: Any = None, *, max_retries: int = 3,
                        orphan_after: float | None = None, limit: int | None = None,
                        log: Callable[[str], None] | None = None) -> list[int]:
    """Mark stale RUNNING trials FAIL and re-enqueue interrupted ones; returns their numbers.

    With ``limit`` K: once K trials are trained nothing is re-enqueued (a retry would only wait
    for ever); a later run with a larger K retries them."""
    led = ledger(study)  # finished trials are read once; only unfinished ones again
    failed = led.memo("failed-to-redo", _FailedToRedo).update(led)
    now = time.time()
    storage = study._storage if hasattr(study, "_storage") else None
    todo = []
    for t in led.running():
        if not is_stale(t, now, orphan_after):
            continue
        redo = _worth_redoing(t)
        if redo:
            with contextlib.suppress(Exception):
                storage.set_trial_user_attr(t._trial_id, "status", "interrupted")
        try:
            ok = storage.set_trial_state_values(t._trial_id, STATE.FAIL)
        except Exception:  # finished meanwhile
            ok = False
        if ok and redo:
            todo.append(t)
    todo += [t for n, t in failed.trials.items() if n not in led.retried]
    todo.sort(key=lambda t: t.number)
    if limit is not None and len(led.complete) >= limit:
        return []
    out = []
    for t in todo:
        params = dict(t.params)
        chosen = has_arch(candidates.space, params) if candidates is not None else \
            "depth" in params and len(params) >= 1 + int(params["depth"])
        if not chosen:
            idx = next((v for k, v in t.system_attrs.items() if k.endswith(":index")), None)
            if idx is None or idx < 0:
                continue  # died before choosing an architecture: nothing to redo
            params = None
        root = int(t.user_attrs.get("root", t.number))
        chain = int(t.user_attrs.get("retries", 0)) + 1
        if chain > max_retries:
            if log and (study.study_name, t.number) not in _GAVE_UP:
                log(f"trial #{t.number} was interrupted {chain} times; not retrying it again")
            _GAVE_UP.add((study.study_name, t.number))
            continue
        attrs = {"retry_of": t.number, "root": root, "retries": chain}
        if params is None:
            attrs["retry_index"] = int(idx)
            if candidates is None:
                continue
            study.enqueue_trial(params_of(candidates.widths(int(idx)), candidates.space),
                                user_attrs=attrs)
        else:
            study.enqueue_trial(params, user_attrs=attrs)
        out.append(t.number)
        if log:
            log(f"trial #{t.number} was interrupted; re-enqueued with the same parameters")
    return out
