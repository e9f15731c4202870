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

import json
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from ..cost.options import CostOptions
from ..reduce import fingerprint
from .._core.fileio import atomic_write_json
from .config import STRATEGIES, SearchConfig, load_config
from .errors import SearchError, StudyMismatchError
from .feasible import PreparedSpace, prepare, run_key
from .objective import Evaluate, Objective, SaveArtifacts, tpe_constraints
from .progress import Progress
from .samplers import FINGERPRINT_ATTR, EntropySampler, FeasibleRandomSampler, optuna
from .storage import _file_lock, default_storage_url, open_storage, recover_interrupted

STATE = optuna.trial.TrialState

__all__ = ["STRATEGIES", "SearchConfig", "SearchResult", "check_study", "default_storage_url",
           "load_config", "make_sampler", "open_storage", "recover_interrupted", "run_search",
           "study_attrs"]


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
    if path.exists():
        return
    atomic_write_json(path, {
        "config": cfg.to_dict(), "storage": storage_url, "study": study_name,
        "fingerprint": prepared.key, "space": prepared.space.name,
        "target": prepared.target.to_dict(), "feasible": len(prepared.feasible),
        "space_size": _space_size(prepared.space),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S")})


def check_run_dir(run_dir: Path, study_name: str) -> None:
    """A run directory holds one study: its best/ and report/ belong to that study only.

    Other settings give another default study name; running them in the same directory would
    overwrite the first study's best model and report, so they are refused before anything is
    written.
    """
    path = run_dir / "run.json"
    if not path.is_file():
        return
    try:
        held = json.loads(path.read_text()).get("study")
    except (ValueError, AttributeError) as exc:
        raise SearchError(f"{path} is not valid JSON ({exc}); repair or remove it, or use "
                          "another --run-dir") from None
    if held is not None and held != study_name:
        raise StudyMismatchError(
            f"run dir {str(run_dir)!r} holds study {held!r}; these settings make study "
            f"{study_name!r}: use the original settings, or another --run-dir")


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
    check_run_dir(run_dir, study_name)
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
                              duplicates=cfg.duplicates,
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

        export_trial(run_dir, best, prepared.space, prepared.target, prepared.options,
                     out=run_dir / "best")
    return result
