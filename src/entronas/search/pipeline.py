"""A search run as named steps: open the run -> prepare candidates -> sampler -> optimize ->
finish.

Why steps: each one reads what the previous one produced and nothing else, so a resume, a
second worker and ``export-best`` see the same record, the same candidates and the same study.
Rerunning the same command resumes: ``trials`` (K) is the total number of trained samples. A
run whose settings differ from the recorded ones is refused before anything is written, with
every differing setting named.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from ..reduce import fingerprint, reduce_space
from ..reduce.reduce import check_work, count_progress
from ..runs.record import RunRecord
from ..runs.rundir import RunDir, RunDirError, RunInfo
from ..sampling.candidates import Candidates
from .adapters import STATE, STRATEGIES, make_sampler, optuna
from .adapters.claims import running_claims
from .adapters.objective import Evaluate, Objective, SaveArtifacts
from .adapters.progress import Progress
from .adapters.ledger import ledger
from .adapters.storage import open_storage, recover_interrupted, sync_storage
from .adapters.study import check_record, create_study, load_study, study_attrs
from .best import export_trial
from .config import SearchConfig
from .errors import StudyMismatchError

CANDIDATES_VERSION = 2


@dataclass
class OpenRun:
    """Step 1's result: the run directory, its storage and the study if one exists."""

    record: RunRecord
    run_dir: RunDir
    storage_url: str
    stored_storage: str
    storage: Any
    study: Any | None
    info: RunInfo | None


@dataclass
class SearchResult:
    study: Any
    run_dir: Path
    record: RunRecord
    candidates: Candidates
    storage_url: str
    seconds: float
    completed: int
    infeasible: int
    best: Any = None          # FrozenTrial or None
    exhausted: bool = False

    def summary(self) -> dict[str, Any]:
        b = self.best
        return {"study": self.study.study_name, "run_dir": str(self.run_dir),
                "storage": self.storage_url, "completed": self.completed,
                "infeasible": self.infeasible, "seconds": self.seconds,
                "exhausted": self.exhausted, "costs": self.record.costs.describe(),
                "target": self.record.target.to_dict(),
                "best": None if b is None else {
                    "trial": b.number, "score": b.value, "widths": b.user_attrs.get("widths"),
                    "rom": b.user_attrs.get("rom"), "ram": b.user_attrs.get("ram"),
                    "flops": b.user_attrs.get("flops"),
                    "metrics": b.user_attrs.get("metrics", {})}}


def candidates_key(record: RunRecord) -> str:
    """Identifies the candidates of a run: space + target + costs + clustering settings."""
    import hashlib
    import json

    fp = fingerprint(record.space, record.target, record.costs)
    blob = json.dumps([fp, record.candidates.to_dict(), CANDIDATES_VERSION])
    return fp + "-" + hashlib.sha256(blob.encode()).hexdigest()[:8]


# ---------------------------------------------------------------------------------- 1. open
def open_run(record: RunRecord, run_dir: str | Path, log: Callable[[str], None]) -> OpenRun:
    """The run directory and storage of ``record``; a look-alike or a changed run is refused
    before anything is written."""
    rd = RunDir(run_dir)
    info = rd.read_info() if rd.exists() else None
    if info is not None:
        diff = info.record.differences(record)  # named first: they are why a study differs
        if diff:
            raise StudyMismatchError(
                f"run dir {str(rd.path)!r} was made with other settings: {'; '.join(diff)}; "
                "rerun with the original settings, or use another --run-dir")
        if info.study != record.study:
            raise StudyMismatchError(
                f"run dir {str(rd.path)!r} holds study {info.study!r}; these settings make "
                f"study {record.study!r}: use the original settings, or another --run-dir")
        if record.storage is not None and rd.storage_url(rd.storage_for(record.storage)) != \
                rd.storage_url(info.storage):
            raise StudyMismatchError(
                f"run dir {str(rd.path)!r} keeps its study in {info.storage!r}, not "
                f"{record.storage!r}; drop --storage or use another --run-dir")
        stored = info.storage
    else:
        stored = rd.storage_for(record.storage)
    url = rd.storage_url(stored)
    if record.storage is None:  # the default journal lives in the run dir
        rd.path.mkdir(parents=True, exist_ok=True)
    storage = open_storage(url, log=log)  # an external URL is checked before the dir exists
    study = load_study(storage, record.study, url)
    if info is not None and study is None:
        raise RunDirError(
            f"run dir {str(rd.path)!r} holds study {record.study!r}, but {url!r} has no such "
            "study (the journal is empty or gone); restore it from a backup, or start over "
            "in another --run-dir (its trials/ and best/ belong to the lost study)")
    if study is not None:
        check_record(study, record)
        rd.remove_stale_partials()  # this run's own leftovers, once its settings are checked
    return OpenRun(record, rd, url, stored, storage, study, info)


# ---------------------------------------------------------------------------------- 2. candidates
def prepare_candidates(run: OpenRun, log: Callable[[str], None]) -> tuple[Candidates, str]:
    """X^f and its entropy clusters, from the run's cache or computed once (under a lock)."""
    record = run.record
    key = candidates_key(record)
    path = run.run_dir.candidates(key)
    with run.run_dir.lock("prepare"):
        if path.is_file():
            try:
                cands = Candidates.load(path)
                if cands.feasible.meta.get("fingerprint") == key.split("-")[0]:
                    return cands, key
                log(f"cache {path} belongs to other settings; recomputing")
            except Exception as exc:  # noqa: BLE001 - a damaged cache is rebuilt
                log(f"cache {path} unusable ({exc}); recomputing")
        c = record.candidates
        build = dict(n_clusters=c.n_clusters, output=c.output, pool=c.pool, seed=0)
        if record.candidates_file:  # what `entronas reduce --out` made, not recomputed
            cands = Candidates.load(record.candidates_file, log=log, **build)
            if cands.feasible.meta.get("fingerprint") != key.split("-")[0] or \
                    cands.settings.get("n_clusters") != c.n_clusters or \
                    cands.settings.get("output") != c.output:
                raise StudyMismatchError(
                    f"{record.candidates_file} holds other candidates than this run's "
                    "(reduction or clustering settings differ); use the settings it was made "
                    "with or another file")
            log(f"loaded {cands.feasible.size:,} networks of X^f from "
                f"{record.candidates_file}")
        else:
            feasible, report = reduce_space(record.space, record.target, record.costs,
                                            progress=count_progress(log))
            note = " (conservative count)" if report.conservative else ""
            log(f"reduced {record.space.name}: {report.feasible:,} of {report.size:,} networks "
                f"fit {record.target.describe()} under {record.costs.describe()}{note} "
                f"({report.seconds:.1f} s)")
            cands = Candidates.build(feasible, log=log, **build)
        path.parent.mkdir(parents=True, exist_ok=True)
        cands.save(path)
    return cands, key


# ---------------------------------------------------------------------------------- 3.-5.
def run_search(cfg: SearchConfig | RunRecord, evaluate: Evaluate | None = None, *,
               run_dir: str | Path | None = None,
               save_artifacts: SaveArtifacts | None = None,
               log: Callable[[str], None] | None = None, progress: bool = True,
               runtime: Mapping[str, Any] | None = None) -> SearchResult:
    """Run (or resume) a search until K candidates are trained.

    Args:
        cfg: the user's settings (resolved here) or a resolved record.
        evaluate: ``evaluate(arch, seed) -> metrics`` with a ``score`` (or ``accuracy``) entry;
            None: the record's evaluator from the registry (``runtime`` passes e.g. the
            device). Non-scalar entries (a state dict) go to ``save_artifacts``.
        run_dir: default ``cfg.run_dir`` or ``runs/<study>``.
        log: where one-line status messages go (default: stderr).
    """
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    t_start = time.perf_counter()
    if isinstance(cfg, SearchConfig):
        record = cfg.resolve()
        run_dir = run_dir or cfg.resolved_run_dir()
    else:
        record = cfg
        run_dir = run_dir or Path("runs") / record.study
    if evaluate is None:
        from .evaluators import make_evaluator

        evaluate, save_artifacts = make_evaluator(record, **dict(runtime or {}))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    check_work(record.space)  # an oversized space is refused before its run dir exists
    run = open_run(record, run_dir, log)
    candidates, key = prepare_candidates(run, log)
    strategy = STRATEGIES.get(record.strategy.name)
    sampler = make_sampler(strategy.name, candidates, record.strategy.params, key, record.seed)
    study = create_study(run.storage, record.study, sampler)
    check_record(study, record)
    for k, v in study_attrs(record, key).items():
        if k not in study.user_attrs:
            study.set_user_attr(k, v)
    if run.info is None:
        run.run_dir.write_info(RunInfo(record, record.study, run.stored_storage, key,
                                       candidates.feasible.size,
                                       int(sum(record.space.size(d)
                                               for d in record.space.depths)), ""))
    local = record.storage is None  # the run dir's own journal: its workers all lock here
    with run.run_dir.sole_worker() as alone:
        _recover(study, run, candidates, log, orphan_after=0.0 if alone and local else None)
    done = _n_complete(study)
    log(f"study {record.study!r}: {done}/{record.trials} trained, strategy "
        f"{record.strategy.describe()}, |X^f| = {candidates.feasible.size:,} under "
        f"{record.costs.describe()}; storage {run.storage_url}")
    if done < record.trials:
        _optimize(study, record, candidates, evaluate, save_artifacts, run, progress, log)
    return _finish(study, run, candidates, t_start)


def _recover(study: Any, run: OpenRun, candidates: Candidates, log: Callable[[str], None],
             orphan_after: float | None = None) -> None:
    """Retry what dead workers left (one worker of this host at a time)."""
    with run.run_dir.lock("recover"):
        recover_interrupted(study, candidates, limit=run.record.trials, log=log,
                            orphan_after=orphan_after)


def _n_complete(study: Any, refresh: bool = True) -> int:
    return len(ledger(study, refresh=refresh).complete)


def _optimize(study: Any, record: RunRecord, candidates: Candidates, evaluate: Evaluate,
              save_artifacts: SaveArtifacts | None, run: OpenRun, progress: bool,
              log: Callable[[str], None]) -> None:
    import warnings

    objective = Objective(record, candidates, evaluate, trial_dir=run.run_dir.trial,
                          save_artifacts=save_artifacts, limit=record.trials)
    max_proposals = record.max_proposals or (50 * record.trials + 100)
    started = [0]

    def recover() -> None:
        _recover(study, run, candidates, log)

    def stop_when_done(study: Any, trial: Any) -> None:
        started[0] += 1
        sync_storage(study)  # the journal is fsynced once per trial (see storage.py)
        recover()  # a killed worker's trial is retried by the workers still running
        if trial.user_attrs.get("status") == "surplus":
            _stand_by(study, record.trials, recover)
        if _n_complete(study, refresh=False) >= record.trials:  # recover() just read it
            study.stop()
        elif started[0] >= max_proposals:
            log(f"stopping after {started[0]} proposals in this process (max_proposals); "
                f"{_n_complete(study)} trained")
            study.stop()

    callbacks: list[Any] = [stop_when_done]
    if progress:
        short = " ".join(record.costs.describe().split()[:2])
        callbacks.insert(0, Progress(record.trials, costs=short))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=optuna.exceptions.ExperimentalWarning)
        study.optimize(objective, n_trials=None, callbacks=callbacks, catch=(),
                       gc_after_trial=False, show_progress_bar=False)


def _stand_by(study: Any, limit: int, recover: Callable[[], None],
              poll: float = 0.5) -> None:
    """K trials are trained or training: wait until they are done (then the study stops), or
    until one of them is retried or fails (then this worker takes its place)."""
    while _n_complete(study) < limit:
        recover()
        if ledger(study).waiting() or running_claims(study) == 0:
            return
        time.sleep(poll)


def _finish(study: Any, run: OpenRun, candidates: Candidates, t_start: float) -> SearchResult:
    sync_storage(study)
    trials = study.get_trials(deepcopy=False)
    completed = [t for t in trials if t.state == STATE.COMPLETE]
    infeasible = sum(1 for t in trials if t.user_attrs.get("status") == "infeasible")
    best = max(completed, key=lambda t: t.value) if completed else None
    trained = {t.user_attrs.get("index") for t in completed}
    exhausted = len(trained) >= candidates.n_candidates
    result = SearchResult(study, run.run_dir.path, run.record, candidates, run.storage_url,
                          time.perf_counter() - t_start, len(completed), infeasible, best,
                          exhausted and len(completed) < run.record.trials)
    if best is not None:
        export_trial(run.run_dir, run.record, best)
    return result


__all__ = ["OpenRun", "SearchResult", "candidates_key", "open_run", "prepare_candidates",
           "run_search"]
