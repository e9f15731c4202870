"""MCU targets as data: memory budgets (B^ROM, B^RAM) and an optional FLOPs budget."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Mapping

from .._core.errors import InvalidParameterError

_UNITS = {"": 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2,
          "gb": 1000**3, "gib": 1024**3, "k": 1000, "m": 1000**2, "g": 1000**3}


def parse_amount(value: Any, what: str) -> int:
    """Parse ``"256KiB"``, ``"1MB"``, ``"10M"`` (FLOPs) or a plain int; SI k=1000, IEC Ki=1024."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, (int, float)) and value == int(value):
        n = int(value)
    else:
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", str(value))
        unit = m.group(2).lower() if m else None
        if not m or unit not in _UNITS:
            raise InvalidParameterError(
                f"cannot read {what} {value!r}; write bytes as 262144, 256KiB, 1MB or 1MiB "
                "(kB/MB = 1000-based, KiB/MiB = 1024-based)"
            )
        n = int(round(float(m.group(1)) * _UNITS[unit]))
    if n <= 0:
        raise InvalidParameterError(f"{what} must be positive, got {value!r}")
    return n


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    if n % 1024**2 == 0:
        return f"{n // 1024**2} MiB"
    if n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n:,} B"


def fmt_size(n: int | float | None) -> str:
    """A byte count for people: ``640 B``, ``23.8 KiB``, ``1.95 MiB`` (1024-based, as budgets)."""
    if n is None:
        return "-"
    if n < 1024:
        return f"{int(n):,} B"
    if n < 1024**2:
        return f"{n / 1024:.1f}".rstrip("0").rstrip(".") + " KiB"
    return f"{n / 1024**2:.2f}".rstrip("0").rstrip(".") + " MiB"


@dataclass(frozen=True)
class Target:
    """A deployment target: ROM/RAM budgets in bytes, optional FLOPs budget.

    ``rom``/``ram``/``flops`` may be None (unconstrained); at least one must be set.
    """

    name: str
    rom: int | None
    ram: int | None
    flops: int | None = None
    description: str = ""

    def __post_init__(self) -> None:
        for what in ("rom", "ram", "flops"):
            v = getattr(self, what)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v <= 0):
                raise InvalidParameterError(
                    f"target {self.name!r}: {what} budget must be a positive int, got {v!r}"
                )

    def with_budgets(self, rom: Any = None, ram: Any = None, flops: Any = None) -> "Target":
        """Override budgets (strings like '1MB' accepted); None keeps the preset value."""
        changes = {}
        for what, v in (("rom", rom), ("ram", ram), ("flops", flops)):
            if v is not None:
                changes[what] = parse_amount(v, f"{what} budget")
        if not changes:
            return self
        return replace(self, **changes, name=self.name + "*" if not self.name.endswith("*")
                       else self.name)

    def fits(self, rom: int, ram: int, flops: int) -> bool:
        return ((self.rom is None or rom <= self.rom) and (self.ram is None or ram <= self.ram)
                and (self.flops is None or flops <= self.flops))

    def describe(self) -> str:
        parts = [f"ROM {fmt_bytes(self.rom)}", f"RAM {fmt_bytes(self.ram)}"]
        if self.flops is not None:
            parts.append(f"FLOPs {self.flops:,}")
        return f"{self.name} ({', '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "rom": self.rom, "ram": self.ram, "flops": self.flops,
                "description": self.description}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Target":
        def amt(key: str) -> int | None:
            v = data.get(key)
            return None if v is None else parse_amount(v, f"{key} budget")

        return cls(name=str(data.get("name", "custom")), rom=amt("rom"), ram=amt("ram"),
                   flops=amt("flops"), description=str(data.get("description", "")))
