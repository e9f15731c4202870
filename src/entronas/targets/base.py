"""MCU targets as data: memory budgets (B^ROM, B^RAM) and an optional FLOPs budget."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any, Mapping

from .._core.errors import InvalidParameterError

#: largest budget accepted (bigger values would overflow int64 cost tables)
MAX_AMOUNT = 2**62

_UNITS = {"": 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2,
          "gb": 1000**3, "gib": 1024**3, "k": 1000, "m": 1000**2, "g": 1000**3}


def parse_amount(value: Any, what: str, *, allow_zero: bool = False) -> int:
    """Parse ``"256KiB"``, ``"1MB"``, ``"10M"`` (FLOPs) or a plain int; SI k=1000, IEC Ki=1024.

    Every failure is one line naming the value and the accepted forms; amounts above 2**62
    (an exabyte) are refused before any work sizes an array by them.
    """
    if isinstance(value, bool):
        value = None
    if isinstance(value, float) and not math.isfinite(value):
        value = str(value)
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
    if n < 0 or (n == 0 and not allow_zero):
        raise InvalidParameterError(f"{what} must be {'>= 0' if allow_zero else 'positive'}, "
                                    f"got {value!r}")
    if n > MAX_AMOUNT:
        raise InvalidParameterError(f"{what} {value!r} is larger than any MCU memory "
                                    f"({n:.3g}); write it as e.g. 1MiB")
    return n


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    if n == 0:
        return "0 B"
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
    """A deployment target: ROM/RAM budgets in bytes, optional FLOPs budget, reserves.

    ``rom``/``ram``/``flops`` may be None (unconstrained). ``rom_reserve`` / ``ram_reserve`` are
    the bytes of the budgets kept for everything that is not the network: the runtime's code
    (TFLM's interpreter and kernels), the application, stack and heap. A network fits when its
    ROM + ``rom_reserve`` <= ``rom`` and its RAM + ``ram_reserve`` <= ``ram``. ``costs`` is the
    cost convention counted when none is named (``"paper"`` for the paper's targets, else
    ``"tflm"``). ``overridden`` lists the budgets the user replaced (shown by
    :meth:`describe`).
    """

    name: str
    rom: int | None
    ram: int | None
    flops: int | None = None
    description: str = ""
    rom_reserve: int = 0
    ram_reserve: int = 0
    costs: str = "tflm"
    overridden: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for what in ("rom", "ram", "flops"):
            v = getattr(self, what)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v <= 0):
                raise InvalidParameterError(
                    f"target {self.name!r}: {what} budget must be a positive int, got {v!r}"
                )
        for what in ("rom_reserve", "ram_reserve"):
            v = getattr(self, what)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise InvalidParameterError(
                    f"target {self.name!r}: {what} must be an int >= 0 bytes, got {v!r}")
        if self.costs not in ("paper", "tflm"):
            raise InvalidParameterError(f"target {self.name!r}: costs must be 'paper' or "
                                        f"'tflm', got {self.costs!r}")
        object.__setattr__(self, "overridden", tuple(self.overridden))

    def with_budgets(self, rom: Any = None, ram: Any = None, flops: Any = None, *,
                     rom_reserve: Any = None, ram_reserve: Any = None) -> "Target":
        """Override budgets / reserves (strings like '1MB' accepted); None keeps the value."""
        changes: dict[str, Any] = {}
        for what, v in (("rom", rom), ("ram", ram), ("flops", flops)):
            if v is not None:
                changes[what] = parse_amount(v, f"{what} budget")
        for what, v in (("rom_reserve", rom_reserve), ("ram_reserve", ram_reserve)):
            if v is not None:
                changes[what] = parse_amount(v, what.replace("_", " "), allow_zero=True)
        if not changes:
            return self
        over = tuple(sorted(set(self.overridden) | set(changes)))
        return replace(self, **changes, overridden=over)

    def available(self, what: str) -> int | None:
        """Bytes of ``what`` ("rom" / "ram") left for the network after the reserve."""
        budget = getattr(self, what)
        if budget is None or what == "flops":
            return budget
        return budget - getattr(self, f"{what}_reserve")

    def fits(self, rom: int, ram: int, flops: int) -> bool:
        return all(self.exceeds(rom, ram, flops)[k] is None for k in ("rom", "ram", "flops"))

    def exceeds(self, rom: int, ram: int, flops: int) -> dict[str, int | None]:
        """Per budget: bytes (FLOPs) over what is available, or None where it fits."""
        out: dict[str, int | None] = {}
        for what, used in (("rom", rom), ("ram", ram), ("flops", flops)):
            left = self.available(what)
            out[what] = None if left is None or used <= left else used - left
        return out

    def verdict(self, rom: int, ram: int, flops: int | None = None) -> tuple[bool, str]:
        """(fits, ``"ROM 26,224 B + reserve 48 KiB <= 80 KiB, RAM ...: FITS name"``)."""
        parts, ok = [], True
        for what, used in (("ROM", rom), ("RAM", ram)):
            budget = getattr(self, what.lower())
            if budget is None:
                parts.append(f"{what} {used:,} B (no budget)")
                continue
            reserve = getattr(self, f"{what.lower()}_reserve")
            fits = used + reserve <= budget
            ok &= fits
            extra = f" + reserve {fmt_bytes(reserve)}" if reserve else ""
            parts.append(f"{what} {used:,} B{extra} {'<=' if fits else '>'} "
                         f"{fmt_bytes(budget)}")
        if self.flops is not None and flops is not None:
            ok &= flops <= self.flops
            parts.append(f"FLOPs {flops:,} {'<=' if flops <= self.flops else '>'} "
                         f"{self.flops:,}")
        return ok, f"{', '.join(parts)}: {'FITS' if ok else 'DOES NOT FIT'} {self.name}"

    def describe(self) -> str:
        parts = [f"ROM {fmt_bytes(self.rom)}", f"RAM {fmt_bytes(self.ram)}"]
        if self.flops is not None:
            parts.append(f"FLOPs {self.flops:,}")
        if self.rom_reserve or self.ram_reserve:
            parts.append(f"reserve {fmt_bytes(self.rom_reserve)} ROM / "
                         f"{fmt_bytes(self.ram_reserve)} RAM")
        note = ""
        if self.overridden:
            note = f"; {', '.join(k.replace('_', ' ') for k in self.overridden)} overridden"
        return f"{self.name} ({', '.join(parts)}{note})"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "rom": self.rom, "ram": self.ram, "flops": self.flops,
                "description": self.description, "rom_reserve": self.rom_reserve,
                "ram_reserve": self.ram_reserve, "costs": self.costs,
                "overridden": list(self.overridden)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Target":
        """A target from a mapping (a target file section or a stored record)."""
        known = {"name", "rom", "ram", "flops", "description", "rom_reserve", "ram_reserve",
                 "costs", "overridden"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidParameterError(f"unknown target key(s) {unknown}; allowed: "
                                        f"{sorted(known)}")

        def amt(key: str, zero: bool = False) -> int | None:
            v = data.get(key)
            return None if v is None else parse_amount(v, key.replace("_", " "),
                                                       allow_zero=zero)

        return cls(name=str(data.get("name", "custom")), rom=amt("rom"), ram=amt("ram"),
                   flops=amt("flops"), description=str(data.get("description", "")),
                   rom_reserve=amt("rom_reserve", True) or 0,
                   ram_reserve=amt("ram_reserve", True) or 0,
                   costs=str(data.get("costs", "tflm")),
                   overridden=tuple(data.get("overridden") or ()))
