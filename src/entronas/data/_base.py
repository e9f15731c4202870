"""The dataset contract (``ArrayDataset``), the registry, and the get/download plumbing.

Each dataset module subclasses ``DatasetSpec`` (metadata + ``build``) and registers an
instance in ``DATASETS``; everything generic (option checking, the missing-data message,
download, cache lookup, assembling the ``ArrayDataset``) lives here once.
"""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._core.errors import DatasetError, InvalidParameterError
from .._core.registry import Registry
from . import _download
from ._cache import FeatureCache, MemoryWriter, config_key

__all__ = [
    "ArrayDataset",
    "DatasetSpec",
    "DATASETS",
    "default_root",
    "get_dataset",
    "download_dataset",
    "list_datasets",
    "dataset_info",
]


@dataclass
class ArrayDataset:
    """Featurised splits as arrays (channels-first ``float32`` x, ``int64`` y)."""

    name: str
    task: str
    input_shape: tuple[int, ...]
    num_classes: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    train_transform: str | None = None
    test_groups: dict[str, np.ndarray] | None = None
    info: dict = field(default_factory=dict)

    def __repr__(self) -> str:  # arrays would flood the console
        return (
            f"ArrayDataset({self.name!r}, task={self.task!r}, input_shape={self.input_shape}, "
            f"num_classes={self.num_classes}, train={len(self.x_train)}, val={len(self.x_val)}, "
            f"test={len(self.x_test)}, train_transform={self.train_transform!r})"
        )


class DatasetSpec:
    """Metadata and featurisation of one dataset. Subclasses set the class attributes
    and implement ``build``; ``choices`` lists allowed values of enumerated options."""

    name: str = ""
    task: str = "classification"
    description: str = ""
    licence: str = ""
    input_shape: tuple[int, ...] = ()
    num_classes: int = 0
    default_options: dict[str, Any] = {}
    choices: dict[str, tuple] = {}
    cacheable: bool = True

    def resources(self) -> dict[str, _download.Resource]:
        """Looked up at call time so tests can monkeypatch ``_download.RESOURCES``."""
        return dict(_download.RESOURCES.get(self.name, {}))

    def resolve_options(self, options: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(options) - set(self.default_options))
        if unknown:
            raise InvalidParameterError(
                f"unknown option(s) {unknown} for dataset {self.name!r}; "
                f"valid options: {sorted(self.default_options)}"
            )
        opts = {**self.default_options, **options}
        for key, allowed in self.choices.items():
            if opts[key] not in allowed:
                raise InvalidParameterError(
                    f"option {key!r} of dataset {self.name!r} must be one of {list(allowed)}; "
                    f"got {opts[key]!r}"
                )
        self.check_options(opts)
        return opts

    def check_options(self, opts: dict[str, Any]) -> None:
        """Range checks beyond ``choices`` (override)."""

    def train_transform(self, opts: dict[str, Any]) -> str | None:
        return None

    def build(self, raw: pathlib.Path | None, opts: dict[str, Any], writer: Any) -> dict:
        """Featurise into ``writer`` (``new``/``put`` arrays x_train, y_train, x_val, y_val,
        x_test, y_test and optionally groups_*); return a JSON-able info dict."""
        raise NotImplementedError

    def total_bytes(self) -> int | None:
        sizes = [r.bytes for r in self.resources().values()]
        return None if any(s is None for s in sizes) else sum(sizes)

    def missing_message(self, ds_dir: pathlib.Path) -> str:
        size = _download.human_bytes(self.total_bytes())
        return (
            f"dataset {self.name!r} is not installed (looked in {ds_dir}); download it with "
            f"`entronas download {self.name}` or get_dataset(..., download=True) "
            f"({size}, licence: {self.licence})"
        )


DATASETS: Registry[DatasetSpec] = Registry("dataset", "entronas datasets")


def default_root() -> pathlib.Path:
    """``$ENTRONAS_DATA`` if set, else ``~/.cache/entronas/datasets``."""
    env = os.environ.get("ENTRONAS_DATA")
    if env:
        return pathlib.Path(env).expanduser()
    return pathlib.Path.home() / ".cache" / "entronas" / "datasets"


def _root(root: str | os.PathLike | None) -> pathlib.Path:
    return pathlib.Path(root).expanduser() if root is not None else default_root()


def list_datasets() -> list[str]:
    return DATASETS.names()


def dataset_info(name: str) -> dict:
    """URLs, sizes, hashes, licence, the download command and the default options."""
    spec = DATASETS.get(name)
    res = spec.resources()
    return {
        "name": spec.name,
        "task": spec.task,
        "description": spec.description,
        "licence": spec.licence,
        "input_shape": spec.input_shape,
        "num_classes": spec.num_classes,
        "resources": {k: r.describe() for k, r in res.items()},
        "urls": [r.url for r in res.values()],
        "bytes": spec.total_bytes() if res else 0,
        "sha256": {k: r.sha256 for k, r in res.items()},
        "md5": {k: r.md5 for k, r in res.items()},
        "download_command": f"entronas download {spec.name}" if res else None,
        "default_options": dict(spec.default_options),
    }


def download_dataset(
    name: str, *, root: str | os.PathLike | None = None, progress: bool = True
) -> pathlib.Path:
    """Download, verify and extract ``name`` under ``root``; return its raw-data folder.

    For built-in data (``digits``) nothing is downloaded and the dataset folder is returned.
    """
    spec = DATASETS.get(name)
    ds_dir = _root(root) / spec.name
    res = spec.resources()
    if not res:
        return ds_dir
    return _download.install(spec.name, res, ds_dir, progress=progress)


def is_installed(name: str, *, root: str | os.PathLike | None = None) -> bool:
    """Whether ``name`` needs no download: bundled, or its verified raw data is in ``root``."""
    spec = DATASETS.get(name)
    if not spec.resources():
        return True
    ds_dir = _root(root) / spec.name
    return _download.read_marker(ds_dir) is not None and (ds_dir / "raw").is_dir()


def get_dataset(
    name: str, *, root: str | os.PathLike | None = None, download: bool = False, **options: Any
) -> ArrayDataset:
    """Featurised dataset ``name``; builds and caches the features on first use.

    Raises DatasetError (one line: where, how to download, size, licence) when the raw
    data is missing and ``download`` is False.
    """
    spec = DATASETS.get(name)
    opts = spec.resolve_options(options)
    ds_dir = _root(root) / spec.name
    raw: pathlib.Path | None = None
    fingerprint = None
    if spec.resources():
        marker = _download.read_marker(ds_dir)
        if not is_installed(spec.name, root=root):
            if not download:
                raise DatasetError(spec.missing_message(ds_dir))
            download_dataset(spec.name, root=root)
            marker = _download.read_marker(ds_dir)
        raw = ds_dir / "raw"
        fingerprint = marker.get("resources") if marker else None
    key = config_key(spec.name, opts, fingerprint)
    hit = False
    if spec.cacheable:
        cache = FeatureCache(ds_dir / "features", key)
        loaded = cache.load()
        hit = loaded is not None
        if loaded is None:
            with cache.writer() as w:
                meta = spec.build(raw, opts, w)
                loaded = w.commit(meta)
    else:
        with MemoryWriter() as w:
            loaded = w.commit(spec.build(raw, opts, w))
    arrays, meta = loaded
    groups = {k[len("groups_"):]: v for k, v in arrays.items() if k.startswith("groups_")}
    info = {
        "source": [r.url for r in spec.resources().values()] or spec.description,
        "licence": spec.licence,
        "options": opts,
        "cache_key": key,
        "cache_hit": hit,
        "cache_dir": str(ds_dir / "features" / key) if spec.cacheable else None,
        **meta,
    }
    return ArrayDataset(
        name=spec.name,
        task=spec.task,
        input_shape=tuple(spec.input_shape),
        num_classes=spec.num_classes,
        x_train=arrays["x_train"],
        y_train=arrays["y_train"],
        x_val=arrays["x_val"],
        y_val=arrays["y_val"],
        x_test=arrays["x_test"],
        y_test=arrays["y_test"],
        train_transform=spec.train_transform(opts),
        test_groups=groups or None,
        info=info,
    )


def stratified_split(
    y: np.ndarray, fractions: tuple[float, ...], seed: int
) -> list[np.ndarray]:
    """Seeded per-class split of indices into len(fractions) parts (sorted index arrays).

    Per class the counts are ``round(frac * n_class)`` for every part but the first,
    which takes the rest; implemented here (not sklearn) so splits never change with a
    library upgrade.
    """
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(len(idx))]
        counts = [int(round(f * len(idx))) for f in fractions[1:]]
        first = len(idx) - sum(counts)
        bounds = np.cumsum([first, *counts])[:-1]
        for k, chunk in enumerate(np.split(idx, bounds)):
            parts[k].append(chunk)
    return [np.sort(np.concatenate(p)) if p else np.zeros(0, np.int64) for p in parts]
