"""Arch files: one network, the space it belongs to (by value) and how it was counted.

Why one type: ``train --out``, a search's ``best/`` and ``export-best`` all write arch files and
``export`` reads them; with one reader and one writer the convention, target and data set a
network was chosen with travel with it (int8 calibration uses the recorded data set, the fit
line the recorded target and convention).

Format (JSON)::

    {"format": "entronas-arch", "version": 1, "space": "dscnn-kws", "widths": [...],
     "key": "84-112-84", "space_definition": {...}, "dataset": "kws",
     "costs": {...}, "target": {...}, "metrics": {...}, "trial": 7, "score": 0.93,
     "seed": 123, "state_dict": "model.pt"}

A hand-written ``{"space": "dscnn-kws", "widths": [84, 112, ...]}`` is an arch file too.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._core.arch import Arch
from .._core.errors import CorruptFileError
from .._core.fileio import atomic_write
from ..cost.options import CostOptions
from ..space.base import ChainSpace
from ..targets.base import Target

FORMAT = "entronas-arch"
VERSION = 1


@dataclass
class ArchRecord:
    """A network and its provenance (everything but ``space`` and ``widths`` is optional)."""

    space: ChainSpace
    widths: tuple[int, ...]
    dataset: str | None = None
    costs: CostOptions | None = None
    target: Target | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    trial: int | None = None
    score: float | None = None
    seed: int | None = None
    state_dict: str | None = None      # file name next to the arch file
    source: Path | None = None         # where it was read from

    @property
    def arch(self) -> Arch:
        return Arch(self.space.name, self.widths)

    def state_dict_path(self) -> Path | None:
        """The weights file, resolved next to the arch file (None: random weights)."""
        if self.state_dict is None or self.source is None:
            return None
        return self.source.parent / self.state_dict

    def to_dict(self) -> dict[str, Any]:
        return _jsonable({
            "format": FORMAT, "version": VERSION, "space": self.space.name,
            "widths": list(self.widths), "key": self.arch.key(),
            "space_definition": self.space.to_dict(), "dataset": self.dataset,
            "costs": None if self.costs is None else self.costs.to_dict(),
            "target": None if self.target is None else self.target.to_dict(),
            "metrics": dict(self.metrics), "trial": self.trial, "score": self.score,
            "seed": self.seed, "state_dict": self.state_dict})

    def write(self, path: str | Path) -> Path:
        return atomic_write(path, json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")

    @classmethod
    def read(cls, path: str | Path) -> "ArchRecord":
        """Read an arch file; every defect is one line naming the file."""
        from ..space.presets import get_space

        file = Path(path)
        try:
            data = json.loads(file.read_text())
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            raw_space = data.get("space_definition") or data["space"]
            widths = tuple(int(w) for w in data["widths"])
        except FileNotFoundError:
            raise CorruptFileError(f"arch file {file} does not exist; pass a run directory of "
                                   "`entronas search` or an arch JSON file") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptFileError(
                f"{file} is not an arch file ({type(exc).__name__}: {exc}); expected "
                '{"space": "dscnn-kws", "widths": [84, 112, ...]}') from None
        space = ChainSpace.from_dict(raw_space) if isinstance(raw_space, dict) else \
            get_space(str(raw_space))
        space.check_arch(widths)  # NotInSpaceError: one line naming the offending width
        try:
            costs = CostOptions.from_dict(data["costs"]) if data.get("costs") else None
            target = Target.from_dict(data["target"]) if data.get("target") else None
        except (ValueError, TypeError) as exc:
            raise CorruptFileError(f"{file}: bad costs/target entry ({exc})") from None
        sd = data.get("state_dict")
        rec = cls(space, widths, data.get("dataset"), costs, target,
                  dict(data.get("metrics") or {}), data.get("trial"), data.get("score"),
                  data.get("seed"), sd, file)
        sd_path = rec.state_dict_path()
        if sd_path is not None and not sd_path.is_file():
            raise CorruptFileError(f"state dict {sd_path} named in {file} does not exist")
        return rec


def _jsonable(obj: Any) -> Any:
    """NaN/inf -> None and numpy scalars -> Python, so the files are strict JSON."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


__all__ = ["ArchRecord"]
