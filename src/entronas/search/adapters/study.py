"""A run's Optuna study: created once, checked on every resume, opened read-only by reports.

The study carries the whole run record (user attr ``entronas:record``) and the candidates' key,
so a worker, a resume or a report can tell the run's own study from a look-alike with the same
name in another storage or directory.
"""

from __future__ import annotations

import warnings
from typing import Any

from ...runs.record import RunRecord
from ...runs.rundir import RunDir, RunDirError, RunInfo
from ..errors import SearchError, StudyMismatchError
from ._optuna import STATE, optuna
from .ledger import ledger
from .samplers import FINGERPRINT_ATTR
from .storage import open_storage

RECORD_ATTR = "entronas:record"


def study_attrs(record: RunRecord, key: str) -> dict[str, Any]:
    """User attributes stored on a run's study (reports read the short ones). The record comes
    first: a worker that sees the key of a study being created also sees its record."""
    return {RECORD_ATTR: record.to_dict(), FINGERPRINT_ATTR: key,
            "entronas:space": record.space.name, "entronas:target": record.target.to_dict(),
            "entronas:strategy": record.strategy.name, "entronas:costs": record.costs.describe(),
            "entronas:dataset": record.training.dataset,
            "entronas:evaluator": record.evaluator.name, "entronas:seed": record.seed}


def load_study(storage: Any, name: str, url: str) -> Any | None:
    """The study ``name`` in ``storage``, or None when there is none."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return optuna.load_study(study_name=name, storage=storage,
                                     sampler=optuna.samplers.RandomSampler())
        except KeyError:
            return None
        except Exception as exc:
            raise SearchError(f"cannot open study {name!r} in {url!r}: "
                              f"{str(exc).splitlines()[0] if str(exc) else exc!r}") from None


def check_record(study: Any, record: RunRecord) -> None:
    """Refuse a study made with other settings, naming every one that differs."""
    attrs = study.user_attrs  # one read: another worker may be writing them right now
    stored = attrs.get(RECORD_ATTR)
    if stored is None:
        foreign = FINGERPRINT_ATTR in attrs or any(
            "worker" in t.user_attrs for t in study.get_trials(deepcopy=False))
        stored = study.user_attrs.get(RECORD_ATTR)  # written meanwhile by the study's creator?
        if stored is None and foreign:
            raise StudyMismatchError(
                f"study {study.study_name!r} was made by another entronas version or tool (it "
                "has no run record); use another --study or --run-dir")
        if stored is None:
            return
    diff = RunRecord.from_dict(stored, f"study {study.study_name!r}").differences(record)
    if diff:
        raise StudyMismatchError(
            f"study {study.study_name!r} was made with other settings: {'; '.join(diff)}; "
            "rerun with the original settings, or use another --study / --run-dir")


def create_study(storage: Any, name: str, sampler: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = optuna.create_study(study_name=name, storage=storage, sampler=sampler,
                                    direction="maximize", load_if_exists=True)
    if hasattr(study, "_pop_waiting_trial_id"):
        study._pop_waiting_trial_id = lambda: _pop_waiting(study)
    return study


def _pop_waiting(study: Any) -> int | None:
    """Optuna's ``Study._pop_waiting_trial_id`` over the ledger's unfinished trials.

    Why: Optuna scans every trial of the study for a WAITING one on every ``ask`` (5.3 ms per
    trial at 10,000 trials on a journal, the largest part of the overhead there); the ledger
    knows the unfinished ones. The same rule: the lowest-numbered WAITING trial whose state this
    process manages to set to RUNNING (another worker may take it first).
    """
    storage = study._storage
    for t in sorted(ledger(study).waiting(), key=lambda t: t.number):
        try:
            if storage.set_trial_state_values(t._trial_id, state=STATE.RUNNING):
                _cache_trial(storage, study._study_id, t._trial_id)
                return t._trial_id
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None


def _cache_trial(storage: Any, study_id: int, trial_id: int) -> None:
    """Make an RDB storage's cache hold a trial another process enqueued.

    Why: the ledger reads trials one by one (``get_trial``), which does not enter them in
    Optuna's ``_CachedStorage``; Optuna's own pop reads all waiting trials, which does. A
    popped trial unknown to the cache fails its first ``suggest`` with a bare KeyError (a
    survivor retrying a killed worker's trial on PostgreSQL hit it).
    """
    known = getattr(storage, "_trial_id_to_study_id_and_number", None)
    if known is not None and trial_id not in known:
        storage._read_trials_from_remote_storage(study_id)


def open_run_study(run_dir: RunDir) -> tuple[Any, RunInfo]:
    """The study of a run directory (read-only use) and its run.json, from any directory.

    The study found must be the run's own (its candidates key), never one with the same name.
    """
    info = run_dir.read_info()
    url = run_dir.storage_url(info.storage)
    storage = open_storage(url, heartbeat=False)
    study = load_study(storage, info.study, url)
    if study is None:
        raise RunDirError(f"run {str(run_dir.path)!r}: its study {info.study!r} is not in "
                          f"{url!r} (the journal is gone or empty); restore it, or start "
                          "over in another --run-dir")
    key = study.user_attrs.get(FINGERPRINT_ATTR)
    if key is not None and key != info.key:
        raise RunDirError(f"run {str(run_dir.path)!r}: the study {info.study!r} in {url!r} "
                          f"belongs to another run (key {key}, this run {info.key})")
    return study, info
