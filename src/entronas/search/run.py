"""Search runs: open/resume a study, recover interrupted trials, run until K trained samples.

Run directory layout (default ``runs/<study>``)::

    run.json                 the configuration (storage URL, study name, space, target, ...)
    study.journal            default storage: Optuna JournalStorage(JournalFileBackend)
    cache/<key>/             X^f tree + entropy clusters (key = reduction fingerprint + clustering)
    trials/<number>/         per-trial artifacts written by the caller (e.g. model.pt)
    best/                    arch.json, resources.json (+ model.pt if the trial saved one)

Rerunning the same command resumes: ``trials`` (K) is the total number of trained samples, not
additional ones. Trials left RUNNING by a dead process on this host (its pid is gone), or
interrupted by Ctrl-C, are marked FAIL and re-enqueued with the same parameters and training
seed; finished trials are never retrained. With an RDB storage URL (PostgreSQL/MySQL) workers on
other hosts are covered by Optuna's heartbeat instead (``RetryFailedTrialCallback``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from .._core.errors import InvalidParameterError
from ..cost.options import CostOptions
from ..space import get_space
from ..targets import get_target
from .errors import SearchError, StudyMismatchError
from ..reduce import fingerprint
from .feasible import PreparedSpace, prepare, run_key
from .objective import Evaluate, Objective, SaveArtifacts, tpe_constraints, worker_id
from .params import params_of
from .samplers import FINGERPRINT_ATTR, EntropySampler, FeasibleRandomSampler, optuna

STRATEGIES = ("entropy", "random", "tpe")
STATE = optuna.trial.TrialState


@dataclass
class SearchConfig:
    """Everything that defines a search run (CLI flags and experiment YAML keys alike)."""

    space: str = "mlp-digits"
    target: str = "stm32g071"
    rom: Any = "24KiB"
    ram: Any = "640B"
    flops: Any = None
    dataset: str = "digits"
    strategy: str = "entropy"
    trials: int = 20
    epochs: int = 30
    seed: int = 0
    storage: str | None = None
    study: str | None = None
    run_dir: str | None = None
    evaluator: str = "train"
    n_clusters: int = 100
    p: float = 0.5
    output: str = "network"
    max_proposals: int | None = None
    space_overrides: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    references: list[str] = field(default_factory=list)   # 'NAME:SCORE:ROM:RAM:FLOPS'

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SearchConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - {"name", "description", "strategies", "seeds"})
        if unknown:
            raise InvalidParameterError(f"unknown search config keys {unknown}; known: "
                                        f"{sorted(known)}")
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def check(self) -> "SearchConfig":
        if self.strategy not in STRATEGIES:
            import difflib

            hint = difflib.get_close_matches(str(self.strategy), STRATEGIES, n=1)
            raise SearchError(f"unknown strategy {self.strategy!r}; "
                              + (f"did you mean {hint[0]!r}? " if hint else "")
                              + f"choose one of: {', '.join(STRATEGIES)}")
        if not isinstance(self.trials, int) or self.trials < 1:
            raise InvalidParameterError(f"trials must be a positive int, got {self.trials!r}")
        return self

    def make_target(self) -> Any:
        return get_target(self.target).with_budgets(rom=self.rom, ram=self.ram,
                                                    flops=self.flops)

    def make_space(self) -> Any:
        return get_space(self.space, **dict(self.space_overrides or {}))

    def study_name(self) -> str:
        if self.study:
            return self.study
        budgets = "-".join(str(v).replace(" ", "") for v in (self.rom, self.ram, self.flops)
                           if v is not None)
        name = f"{self.space}-{self.target}{'-' + budgets if budgets else ''}-{self.strategy}" \
               f"-s{self.seed}"
        return re.sub(r"[^A-Za-z0-9_.+-]", "_", name)

    def resolved_run_dir(self) -> Path:
        return Path(self.run_dir) if self.run_dir else Path("runs") / self.study_name()


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read an experiment YAML file (keys of :class:`SearchConfig`)."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError:
        raise SearchError(f"config file {str(path)!r} does not exist") from None
    except yaml.YAMLError as exc:
        raise SearchError(f"config file {str(path)!r} is not valid YAML: "
                          f"{str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise SearchError(f"config file {str(path)!r} must hold a mapping of settings")
    return data


# ---------------------------------------------------------------------------------- storage
def default_storage_url(run_dir: Path) -> str:
    return f"journal:{run_dir / 'study.journal'}"


def open_storage(url: str, *, heartbeat: bool = True) -> Any:
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
            try:
                lock = JournalFileSymlinkLock(str(path))
            except Exception:  # filesystems without symlinks
                lock = JournalFileOpenLock(str(path))
            return optuna.storages.JournalStorage(JournalFileBackend(str(path), lock_obj=lock))
        if "://" not in url:
            raise SearchError(f"cannot open storage {url!r}: not an Optuna storage URL (use "
                              "sqlite:///FILE.db, postgresql://..., mysql://... or journal:FILE)")
        kw: dict[str, Any] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if heartbeat and not url.startswith("sqlite"):
                kw = dict(heartbeat_interval=30, grace_period=120,
                          heartbeat_stale_trial_callback=optuna.storages.
                          RetryHeartbeatStaleTrialCallback(max_retry=3))
            if url.startswith("sqlite"):
                kw["engine_kwargs"] = {"connect_args": {"timeout": 60}}
            for attempt in range(8):  # workers starting together race to create the schema
                try:
                    return optuna.storages.RDBStorage(url, **kw)
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
        raise SearchError(f"cannot open storage {url!r}: {msg}") from None


def make_sampler(strategy: str, prepared: PreparedSpace, seed: int) -> Any:
    if strategy == "entropy":
        return EntropySampler(prepared, seed=seed)
    if strategy == "random":
        return FeasibleRandomSampler(prepared, seed=seed)
    if strategy == "tpe":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                              constraints_func=tpe_constraints)
    raise SearchError(f"unknown strategy {strategy!r}; known: {', '.join(STRATEGIES)}")


def study_attrs(cfg: SearchConfig, space: Any, target: Any, key: str) -> dict[str, Any]:
    return {FINGERPRINT_ATTR: key, "entronas:space": space.name,
            "entronas:target": target.to_dict(), "entronas:strategy": cfg.strategy,
            "entronas:dataset": cfg.dataset, "entronas:evaluator": cfg.evaluator,
            "entronas:seed": cfg.seed}


def check_study(study: Any, attrs: Mapping[str, Any]) -> None:
    """Raise StudyMismatchError if ``study`` was created with other settings."""
    have = study.user_attrs
    for key, label in ((FINGERPRINT_ATTR, "reduction"), ("entronas:strategy", "strategy"),
                       ("entronas:evaluator", "evaluator"), ("entronas:dataset", "dataset")):
        if key in have and have[key] != attrs[key]:
            what = {FINGERPRINT_ATTR: f"space {have.get('entronas:space')!r}, target "
                    f"{(have.get('entronas:target') or {}).get('name')!r} (reduction "
                    f"{have[key]})"}.get(key, repr(have[key]))
            mine = {FINGERPRINT_ATTR: f"space {attrs['entronas:space']!r}, target "
                    f"{attrs['entronas:target']['name']!r} (reduction {attrs[key]})"
                    }.get(key, repr(attrs[key]))
            raise StudyMismatchError(
                f"study {study.study_name!r} was created with {label} {what}, not {mine}; "
                "use the original settings or another --study / --run-dir")


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_stale(trial: Any, now: float, orphan_after: float) -> bool:
    """A RUNNING trial whose process is gone (same host), or that never got a worker id."""
    worker = trial.user_attrs.get("worker")
    if worker is None:
        start = trial.datetime_start.timestamp() if trial.datetime_start else now
        return now - start > orphan_after
    host, pid, token = worker.split(":")
    if host != socket.gethostname():
        return False  # another machine: RDB heartbeats cover it
    if worker == worker_id():
        return False
    return int(pid) == os.getpid() or not _pid_alive(int(pid))


def recover_interrupted(study: Any, prepared: PreparedSpace | None = None, *, max_retries: int = 3, orphan_after: float = 600.0,
                        log: Callable[[str], None] | None = None) -> list[int]:
    """Mark stale RUNNING trials FAIL and re-enqueue interrupted ones; returns their numbers."""
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs["retry_of"] for t in trials if "retry_of" in t.user_attrs}
    now = time.time()
    storage = study._storage if hasattr(study, "_storage") else None
    todo = []
    for t in trials:
        if t.state == STATE.RUNNING and _is_stale(t, now, orphan_after):
            with contextlib.suppress(Exception):
                storage.set_trial_user_attr(t._trial_id, "status", "interrupted")
            try:
                ok = storage.set_trial_state_values(t._trial_id, STATE.FAIL)
            except Exception:  # finished meanwhile
                ok = False
            if ok:
                todo.append(t)
        elif (t.state == STATE.FAIL and t.number not in retried
              and t.user_attrs.get("status") in (None, "running", "interrupted")):
            todo.append(t)
    out = []
    for t in todo:
        params = dict(t.params)
        if "depth" not in params or len(params) < 1 + int(params.get("depth", 0)):
            idx = next((v for k, v in t.system_attrs.items() if k.endswith(":index")), None)
            if idx is None or idx < 0:
                continue  # died before choosing an architecture: nothing to redo
            params = None
        root = int(t.user_attrs.get("root", t.number))
        chain = int(t.user_attrs.get("retries", 0)) + 1
        if chain > max_retries:
            if log:
                log(f"trial #{t.number} was interrupted {chain} times; not retrying it again")
            continue
        attrs = {"retry_of": t.number, "root": root, "retries": chain}
        if params is None:
            attrs["retry_index"] = int(idx)
            if prepared is None:
                continue
            study.enqueue_trial(params_of(prepared.widths(int(idx))), user_attrs=attrs)
        else:
            study.enqueue_trial(params, user_attrs=attrs)
        out.append(t.number)
        if log:
            log(f"trial #{t.number} was interrupted; re-enqueued with the same parameters")
    return out


# ---------------------------------------------------------------------------------- progress
class Progress:
    """One stderr line per trial: k/K trained, this trial, best so far, ETA."""

    def __init__(self, total: int, prepared: PreparedSpace, stream: Any = None) -> None:
        self.total = total
        self.prepared = prepared
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.perf_counter()
        self.done_here = 0

    def __call__(self, study: Any, trial: Any) -> None:
        trials = study.get_trials(deepcopy=False)
        done = [t for t in trials if t.state == STATE.COMPLETE]
        k = len(done)
        a = trial.user_attrs
        arch = "-".join(str(w) for w in a.get("widths", [])) or "?"
        res = (f"ROM {_kib(a.get('rom'))} RAM {_kib(a.get('ram'))}" if "rom" in a else "")
        best = max(done, key=lambda t: t.value) if done else None
        best_s = f"best {best.value:.4f} (#{best.number})" if best else "best -"
        if trial.state == STATE.COMPLETE:
            self.done_here += 1
            el = time.perf_counter() - self.start
            eta = el / self.done_here * max(self.total - k, 0)
            msg = (f"[{min(k, self.total)}/{self.total}] #{trial.number} {arch} score "
                   f"{trial.value:.4f} {res} | {best_s} | ETA {_dur(eta)}")
        else:
            status = a.get("status", trial.state.name.lower())
            msg = f"[{min(k, self.total)}/{self.total}] #{trial.number} {arch} {status} {res}" \
                  f" | {best_s}"
        print(msg, file=self.stream, flush=True)


def _kib(v: Any) -> str:
    return "?" if v is None else f"{v / 1024:.1f}KiB"


def _dur(s: float) -> str:
    s = int(round(s))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


# ---------------------------------------------------------------------------------- the run
@dataclass
class SearchResult:
    study: Any
    run_dir: Path
    prepared: PreparedSpace
    config: SearchConfig
    storage_url: str
    seconds: float
    completed: int
    infeasible: int
    best: Any = None          # FrozenTrial or None

    def summary(self) -> dict[str, Any]:
        b = self.best
        return {"study": self.study.study_name, "run_dir": str(self.run_dir),
                "storage": self.storage_url, "completed": self.completed,
                "infeasible": self.infeasible, "seconds": self.seconds,
                "best": None if b is None else {
                    "trial": b.number, "score": b.value, "widths": b.user_attrs.get("widths"),
                    "rom": b.user_attrs.get("rom"), "ram": b.user_attrs.get("ram"),
                    "flops": b.user_attrs.get("flops"),
                    "metrics": b.user_attrs.get("metrics", {})}}


def _space_size(space: Any) -> int:
    return int(sum(space.size(d) for d in space.depths))


def write_run_json(run_dir: Path, cfg: SearchConfig, storage_url: str, study_name: str,
                   prepared: PreparedSpace) -> None:
    path = run_dir / "run.json"
    data = {"config": cfg.to_dict(), "storage": storage_url, "study": study_name,
            "fingerprint": prepared.key, "space": prepared.space.name,
            "target": prepared.target.to_dict(), "feasible": len(prepared.feasible),
            "space_size": _space_size(prepared.space),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if path.exists():
        return
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def run_search(cfg: SearchConfig, evaluate: Evaluate, *,
               save_artifacts: SaveArtifacts | None = None,
               log: Callable[[str], None] | None = None, progress: bool = True,
               options: CostOptions | None = None) -> SearchResult:
    """Run (or resume) a search until ``cfg.trials`` candidates are trained.

    Args:
        cfg: what to search (see :class:`SearchConfig`).
        evaluate: ``evaluate(arch, seed) -> metrics`` with a ``score`` (or ``accuracy``) entry;
            non-scalar entries (e.g. a state dict) go to ``save_artifacts(trial_dir, extra)``.
        log: where one-line status messages go (default: stderr).
    """
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    cfg.check()
    t_start = time.perf_counter()
    run_dir = cfg.resolved_run_dir()
    storage_url = cfg.storage or default_storage_url(run_dir)
    study_name = cfg.study_name()
    space, target = cfg.make_space(), cfg.make_target()
    # open the storage before touching the run dir, so a bad URL leaves nothing behind
    if cfg.storage is not None:
        storage = open_storage(storage_url)
        run_dir.mkdir(parents=True, exist_ok=True)
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        storage = open_storage(storage_url)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    key = run_key(fingerprint(space, target, options or CostOptions()), cfg.n_clusters, cfg.p,
                  cfg.output)
    attrs = study_attrs(cfg, space, target, key)
    # an existing study with other settings is rejected before anything is written
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            existing = optuna.load_study(study_name=study_name, storage=storage,
                                         sampler=optuna.samplers.RandomSampler())
        except KeyError:
            existing = None
        except Exception as exc:
            raise SearchError(f"cannot open study {study_name!r} in {storage_url!r}: "
                              f"{str(exc).splitlines()[0] if str(exc) else exc!r}") from None
    if existing is not None:
        check_study(existing, attrs)
    with _file_lock(run_dir / ".prepare.lock"):
        prepared = prepare(space, target, options, n_clusters=cfg.n_clusters, p=cfg.p,
                           output=cfg.output, cache_dir=run_dir / "cache", seed=cfg.seed,
                           log=log)
    attrs["entronas:feasible"] = len(prepared.feasible)
    sampler = make_sampler(cfg.strategy, prepared, cfg.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = optuna.create_study(study_name=study_name, storage=storage, sampler=sampler,
                                    direction="maximize", load_if_exists=True)
    check_study(study, attrs)
    for k, v in attrs.items():
        if k not in study.user_attrs:
            study.set_user_attr(k, v)
    write_run_json(run_dir, cfg, storage_url, study_name, prepared)
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    with _file_lock(run_dir / ".recover.lock"):
        recover_interrupted(study, prepared, log=log)

    def n_complete() -> int:
        return len(study.get_trials(deepcopy=False, states=(STATE.COMPLETE,)))

    done = n_complete()
    log(f"study {study_name!r}: {done}/{cfg.trials} trained, strategy {cfg.strategy}, "
        f"|X^f| = {len(prepared.feasible):,} of {_space_size(space):,}; storage "
        f"{storage_url}")
    if done < cfg.trials:
        objective = Objective(prepared, evaluate, seed=cfg.seed, run_dir=run_dir,
                              save_artifacts=save_artifacts)
        max_proposals = cfg.max_proposals or (50 * cfg.trials + 100)
        started = [0]

        def stop_when_done(study: Any, trial: Any) -> None:
            started[0] += 1
            if n_complete() >= cfg.trials:
                study.stop()
            elif started[0] >= max_proposals:
                log(f"stopping after {started[0]} proposals in this process "
                    f"(max_proposals); {n_complete()} trained")
                study.stop()

        callbacks: list[Any] = [stop_when_done]
        if progress:
            callbacks.insert(0, Progress(cfg.trials, prepared))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=optuna.exceptions.ExperimentalWarning)
            study.optimize(objective, n_trials=None, callbacks=callbacks, catch=(),
                           gc_after_trial=False, show_progress_bar=False)
    trials = study.get_trials(deepcopy=False)
    completed = [t for t in trials if t.state == STATE.COMPLETE]
    infeasible = sum(1 for t in trials if t.user_attrs.get("status") == "infeasible")
    best = max(completed, key=lambda t: t.value) if completed else None
    result = SearchResult(study, run_dir, prepared, cfg, storage_url,
                          time.perf_counter() - t_start, len(completed), infeasible, best)
    if best is not None:
        from .export import export_trial

        export_trial(run_dir, best, prepared, out=run_dir / "best")
    return result
