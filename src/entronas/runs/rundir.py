"""The run directory: the one module that knows its file names and formats.

Layout (default ``runs/<study>``)::

    run.json                 the run record (see record.py), the study and its storage
    study.journal            default storage: Optuna JournalStorage(JournalFileBackend)
    cache/<key>/candidates.bin   the candidates (X^f + entropy clusters) of the run
    trials/<number>/         per-trial artifacts (model.pt) written by the evaluator
    best/                    arch.json, resources.json, model.pt, deployment.json
    report/                  plots and tables (entronas report)
    export/<dtype>/          .tflite, C sources, memory report (entronas export)
    darts.json               a one-shot (DARTS) run's history (entronas darts)

Why one owner: the files used to be written and parsed by path in nine modules, so a run could
be read back with other conventions than it was made with, or from another directory's study.
Locations inside the run directory are stored relative to it, so a run can be moved and read
from anywhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .._core.errors import CorruptFileError, EntronasError
from .._core.fileio import atomic_write, atomic_write_json
from .archrecord import ArchRecord
from .record import RunRecord

#: the shared ``.workers.lock`` handles this process holds (see RunDir.sole_worker)
_WORKER_LOCKS: list[Any] = []

FORMAT = "entronas-run"
VERSION = 1
JOURNAL = "study.journal"
ARCH = "arch.json"
MODEL = "model.pt"
METRICS = "metrics.json"
EXTRA = "extra.json"
RESOURCES = "resources.json"
_LOCAL = "journal:" + JOURNAL


class RunDirError(EntronasError):
    """A run directory is missing, damaged, or holds another run."""


@dataclass
class RunInfo:
    """What ``run.json`` holds."""

    record: RunRecord
    study: str
    storage: str            # as stored: "journal:study.journal" (inside the run dir) or a URL
    key: str                # the candidates' cache key (fingerprint + clustering settings)
    feasible: int
    space_size: int
    created: str


class RunDir:
    """Typed access to one run directory's files."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    # ------------------------------------------------------------------ locations
    @property
    def run_json(self) -> Path:
        return self.path / "run.json"

    @property
    def journal(self) -> Path:
        return self.path / JOURNAL

    @property
    def best(self) -> Path:
        return self.path / "best"

    @property
    def report(self) -> Path:
        return self.path / "report"

    @property
    def darts_json(self) -> Path:
        return self.path / "darts.json"

    def cache(self, key: str) -> Path:
        return self.path / "cache" / key

    def candidates(self, key: str) -> Path:
        """The candidates file (X^f + entropy clusters) of cache key ``key``."""
        return self.cache(key) / "candidates.bin"

    def trial(self, number: int) -> Path:
        return self.path / "trials" / str(int(number))

    def export(self, dtype: str) -> Path:
        return self.path / "export" / dtype

    def exists(self) -> bool:
        return self.run_json.is_file()

    def is_darts(self) -> bool:
        return self.darts_json.is_file() and not self.run_json.is_file()

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """An exclusive lock between processes on this host (``.<name>.lock``)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / f".{name}.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def sole_worker(self) -> Iterator[bool]:
        """True inside the block when no other process on this host works in this run dir
        (``.workers.lock``, exclusive for the block); afterwards this process holds it shared
        until it ends, so later workers see it.

        Why: a trial killed between its creation and its worker tag carries no pid; when no
        other worker is alive here, such a trial is known dead at once instead of after a
        timeout.
        """
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield False
            return
        self.path.mkdir(parents=True, exist_ok=True)
        fh = open(self.path / ".workers.lock", "a")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            alone = True
        except OSError:
            alone = False
        try:
            yield alone
        finally:
            fcntl.flock(fh, fcntl.LOCK_SH)  # from exclusive, or waits for the sole worker
            _WORKER_LOCKS.append(fh)       # held (open) for the life of the process

    # ------------------------------------------------------------------ storage
    def storage_for(self, url: str | None) -> str:
        """The URL as stored in run.json: the default journal relative to the run dir."""
        if url is None:
            return _LOCAL
        return url

    def storage_url(self, stored: str) -> str:
        """A stored storage location, usable from any working directory."""
        if stored.startswith("journal:") and not os.path.isabs(stored[len("journal:"):]):
            return f"journal:{(self.path / stored[len('journal:'):]).resolve()}"
        if stored.startswith("sqlite:///") and not stored.startswith("sqlite:////"):
            return f"sqlite:///{(self.path / stored[len('sqlite:///'):]).resolve()}"
        return stored

    # ------------------------------------------------------------------ run.json
    def read_info(self) -> RunInfo:
        try:
            data = json.loads(self.run_json.read_text())
        except FileNotFoundError:
            raise RunDirError(f"{str(self.path)!r} is not a run directory (no run.json); run "
                              "`entronas search --run-dir DIR` first") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise RunDirError(f"{self.run_json} is not valid JSON ({exc}); restore it from a "
                              "backup or use another --run-dir") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise RunDirError(f"{self.run_json} was written by another entronas version (no "
                              f"'{FORMAT}' format tag); re-run the search in a new --run-dir")
        try:
            return RunInfo(RunRecord.from_dict(data["record"], str(self.run_json)),
                           str(data["study"]), str(data["storage"]), str(data["key"]),
                           int(data.get("feasible", 0)), int(data.get("space_size", 0)),
                           str(data.get("created", "")))
        except (KeyError, TypeError, ValueError, CorruptFileError) as exc:
            raise RunDirError(f"{self.run_json} is damaged ({exc}); use another --run-dir"
                              ) from None

    def held_study(self) -> str | None:
        """The study this directory holds, or None (no run.json yet)."""
        if not self.exists():
            return None
        return self.read_info().study

    def write_info(self, info: RunInfo) -> None:
        atomic_write_json(self.run_json, {
            "format": FORMAT, "version": VERSION, "study": info.study,
            "storage": info.storage, "key": info.key, "feasible": info.feasible,
            "space_size": info.space_size,
            "created": info.created or time.strftime("%Y-%m-%dT%H:%M:%S"),
            "record": info.record.to_dict()})

    # ------------------------------------------------------------------ best/ and trials/
    def trial_files(self, number: int) -> dict[str, Path]:
        """The artifacts a trial saved (``model.pt``), by name."""
        src = self.trial(number) / MODEL
        return {MODEL: src} if src.is_file() else {}

    def write_best(self, record: ArchRecord, resources: dict[str, Any], *,
                   out: Path | None = None) -> Path:
        """``arch.json`` + ``resources.json`` (+ the trial's ``model.pt``) into ``out``.

        Only the trial's own weights are copied; a ``model.pt`` left from an earlier best that
        does not belong to this trial is removed, so the folder never pairs an arch with
        another network's weights.
        """
        out = Path(out) if out is not None else self.best
        files = self.trial_files(record.trial) if record.trial is not None else {}
        model = out / MODEL
        if MODEL in files:
            atomic_write(model, files[MODEL].read_bytes())
            record.state_dict = MODEL
        else:
            model.unlink(missing_ok=True)
            record.state_dict = None
        record.write(out / ARCH)
        atomic_write_json(out / RESOURCES, resources)
        return out

    def read_resources(self, folder: Path | None = None) -> dict[str, Any]:
        """``resources.json`` of ``best/`` (or of an export folder written by write_best)."""
        path = Path(folder or self.best) / RESOURCES
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise RunDirError(f"cannot read {path} ({exc}); run `entronas export-best "
                              f"{self.path}`") from None

    def read_best(self, folder: Path | None = None) -> ArchRecord:
        """The arch record of ``best/`` (or of an export folder written by write_best)."""
        path = Path(folder or self.best) / ARCH
        if not path.is_file():
            raise RunDirError(f"run {str(self.path)!r} has no {path.parent.name}/{ARCH} yet; "
                              "run `entronas export-best` or let the search train a candidate")
        return read_arch(path)

    def write_deployment(self, report: dict[str, Any]) -> Path:
        return atomic_write_json(self.best / "deployment.json", report)

    def read_deployment(self) -> dict[str, Any] | None:
        path = self.best / "deployment.json"
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except ValueError:
            return None

    # ------------------------------------------------------------------ darts.json
    def write_darts(self, data: dict[str, Any]) -> Path:
        return atomic_write_json(self.darts_json, data)

    def read_darts(self) -> dict[str, Any]:
        try:
            data = json.loads(self.darts_json.read_text())
            data["history"] = list(data["history"])
            return data
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RunDirError(f"{self.darts_json} is not a DARTS result ({exc}); re-run "
                              "`entronas darts`") from None

    def remove_cache(self) -> None:
        shutil.rmtree(self.path / "cache", ignore_errors=True)

    def remove_stale_partials(self, older_than_s: float = 3600.0) -> list[Path]:
        """Delete the temp files (``.NAME.*.part``) that killed atomic writes left behind.

        Only files older than ``older_than_s``: another worker may be writing one right now,
        and an atomic write never takes an hour. Returns the paths removed."""
        if not self.path.is_dir():
            return []
        removed = []
        now = time.time()
        for part in self.path.rglob(".*.part"):
            try:
                if part.is_file() and now - part.stat().st_mtime > older_than_s:
                    part.unlink()
                    removed.append(part)
            except OSError:
                continue  # gone meanwhile, or not ours to delete: leave it
        return removed


def write_trial_files(trial_dir: str | os.PathLike, *, weights: Any = None,
                      extra: dict[str, Any] | None = None) -> None:
    """A trial's artifacts: ``model.pt`` via ``weights(path)``, other data as ``extra.json``."""
    trial_dir = Path(trial_dir)
    trial_dir.mkdir(parents=True, exist_ok=True)
    if weights is not None:
        weights(trial_dir / MODEL)
    if extra:
        atomic_write_json(trial_dir / EXTRA, extra, indent=1)


def read_arch(path: str | os.PathLike) -> ArchRecord:
    """An arch file, or the ``arch.json`` of a folder; a ``model.pt`` next to it is its
    weights when the file names none."""
    p = Path(path)
    if p.is_dir():
        for cand in (p / ARCH, p / "best" / ARCH):
            if cand.is_file():
                p = cand
                break
        else:
            raise RunDirError(f"{p} is a directory without run.json or {ARCH}; pass a run "
                              "directory of `entronas search` or an arch JSON file")
    rec = ArchRecord.read(p)
    if rec.state_dict is None and (p.parent / MODEL).is_file():
        rec.state_dict = MODEL
    return rec


def write_arch_dir(out: str | os.PathLike, record: ArchRecord, *, weights: Any = None,
                   metrics: dict[str, Any] | None = None) -> list[Path]:
    """A folder with ``arch.json`` (+ ``model.pt`` via ``weights(path)``, + ``metrics.json``):
    what ``entronas train --out`` writes and ``entronas export`` reads."""
    out = Path(out)
    files = []
    if weights is not None:
        weights(out / MODEL)
        record.state_dict = MODEL
        files.append(out / MODEL)
    record.write(out / ARCH)
    files.append(out / ARCH)
    if metrics is not None:
        from .archrecord import _jsonable

        atomic_write(out / METRICS, json.dumps(_jsonable(metrics), indent=2, allow_nan=False))
        files.append(out / METRICS)
    return files


__all__ = ["ARCH", "JOURNAL", "MODEL", "RunDir", "RunDirError", "RunInfo", "read_arch",
           "write_arch_dir", "write_trial_files"]
