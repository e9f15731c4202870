"""An architecture is an immutable value: the space it belongs to and its width tuple."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class Arch:
    """One candidate network of a chain space.

    ``widths[i]`` is M_{i+1} of the paper (layer i+1's output channels / neurons); the depth L is
    ``len(widths)``. Layers whose width is fixed by the space (e.g. the autoencoder's bottleneck
    and output layer) still appear in ``widths`` with their fixed value, so depth always equals
    length.
    """

    space: str
    widths: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))

    @property
    def depth(self) -> int:
        return len(self.widths)

    def key(self) -> str:
        """Compact text form, e.g. ``"84-112-84"`` (used in CLI flags and file names)."""
        return "-".join(str(w) for w in self.widths)

    def to_dict(self) -> dict[str, Any]:
        return {"space": self.space, "widths": list(self.widths)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Arch":
        return cls(space=str(data["space"]), widths=tuple(data["widths"]))

    def __str__(self) -> str:
        return f"{self.space}[{self.key()}]"


def parse_widths(text: str) -> tuple[int, ...]:
    """``"84,112,84"``, ``"84-112-84"`` or ``"84 112 84"`` -> (84, 112, 84).

    Raises ValueError for anything but positive integers, so callers can word the error for
    where the text came from (a CLI flag, a table row).
    """
    parts = [p for p in re.split(r"[,\s-]+", str(text).strip()) if p]
    widths = tuple(int(p) for p in parts)
    if not widths or any(w < 1 for w in widths):
        raise ValueError(f"{text!r} is not a list of positive widths")
    return widths
