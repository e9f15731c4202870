"""Feature cache: featurised arrays stored as ``.npy`` under a config-hash key.

Why: featurising Speech Commands or ToyCar takes minutes; loading memory-mapped
``.npy`` files takes seconds and lets arrays larger than RAM (VWW, ToyCar) be used.
The key hashes the dataset name, every preprocessing option, the installed raw data's
fingerprint and ``CODE_VERSION`` (bump it whenever featurisation code changes what it
produces), so a stale cache is never returned. Entries are written to a staging folder
and renamed into place with ``meta.json`` written last, so a crash leaves nothing that
could be mistaken for a finished entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CODE_VERSION", "config_key", "FeatureCache", "MemoryWriter"]

CODE_VERSION = "2"  # 2: KWS hello-edge order and silence noise follow ML-zoo


def config_key(name: str, options: dict, fingerprint: Any = None) -> str:
    """A short stable hash of (name, options, raw-data fingerprint, CODE_VERSION)."""
    blob = json.dumps(
        {"name": name, "options": options, "raw": fingerprint, "code": CODE_VERSION},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class MemoryWriter:
    """Same interface as the cache writer, keeping arrays in memory (tiny datasets)."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def new(self, name: str, shape: tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
        self.arrays[name] = np.zeros(shape, dtype=dtype)
        return self.arrays[name]

    def put(self, name: str, array: np.ndarray) -> None:
        self.arrays[name] = np.ascontiguousarray(array)

    def commit(self, meta: dict) -> tuple[dict[str, np.ndarray], dict]:
        return self.arrays, meta

    def __enter__(self) -> "MemoryWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class _DiskWriter:
    def __init__(self, final: Path) -> None:
        self.final = final
        final.parent.mkdir(parents=True, exist_ok=True)
        self.staging = final.parent / f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.staging.mkdir()
        self._maps: list[np.memmap] = []

    def new(self, name: str, shape: tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
        """A writable memory-mapped ``.npy`` to fill in place (for larger-than-RAM data)."""
        mm = np.lib.format.open_memmap(
            self.staging / f"{name}.npy", mode="w+", dtype=dtype, shape=tuple(shape)
        )
        self._maps.append(mm)
        return mm

    def put(self, name: str, array: np.ndarray) -> None:
        np.save(self.staging / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)

    def commit(self, meta: dict) -> tuple[dict[str, np.ndarray], dict]:
        for mm in self._maps:
            mm.flush()
        self._maps.clear()
        (self.staging / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
        if self.final.exists():  # another process won the race, or a broken leftover
            if (self.final / "meta.json").is_file():
                shutil.rmtree(self.staging, ignore_errors=True)
                return FeatureCache._load_dir(self.final)
            shutil.rmtree(self.final)
        os.replace(self.staging, self.final)
        return FeatureCache._load_dir(self.final)

    def abort(self) -> None:
        self._maps.clear()
        shutil.rmtree(self.staging, ignore_errors=True)

    def __enter__(self) -> "_DiskWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.staging.exists():
            self.abort()


class FeatureCache:
    """``<root>/<key>/{*.npy, meta.json}``; ``load`` returns None on a miss."""

    def __init__(self, root: str | os.PathLike, key: str) -> None:
        self.root = Path(root)
        self.key = key
        self.path = self.root / key

    @staticmethod
    def _load_dir(path: Path) -> tuple[dict[str, np.ndarray], dict]:
        meta = json.loads((path / "meta.json").read_text())
        arrays = {p.stem: np.load(p, mmap_mode="r", allow_pickle=False)
                  for p in path.glob("*.npy")}
        return arrays, meta

    def load(self) -> tuple[dict[str, np.ndarray], dict] | None:
        if not (self.path / "meta.json").is_file():
            return None
        try:
            return self._load_dir(self.path)
        except (OSError, ValueError):
            return None

    def writer(self) -> _DiskWriter:
        """A context manager; call ``commit(meta)`` inside it, else everything is dropped."""
        return _DiskWriter(self.path)
