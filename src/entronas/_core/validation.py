"""Uniform parameter validation (scikit-learn's message format, our own 40 lines)."""

from __future__ import annotations

import math
from typing import Any, Iterable

from .errors import InvalidParameterError


def _fmt_range(lo: float | None, hi: float | None, closed: str) -> str:
    left = "[" if closed in ("both", "left") else "("
    right = "]" if closed in ("both", "right") else ")"
    return f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"


def check_number(
    value: Any,
    name: str,
    owner: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    closed: str = "both",
    integer: bool = False,
    fix: str = "",
) -> Any:
    """Return ``value`` if it is a number in the interval, else raise one clear line."""
    kind = "an int" if integer else "a number"
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and integer and isinstance(value, float):
        ok = value.is_integer()
    if ok and not math.isfinite(float(value)):
        ok = False
    if ok and lo is not None:
        ok = value >= lo if closed in ("both", "left") else value > lo
    if ok and hi is not None:
        ok = value <= hi if closed in ("both", "right") else value < hi
    if not ok:
        msg = (
            f"The {name!r} parameter of {owner} must be {kind} in the range "
            f"{_fmt_range(lo, hi, closed)}. Got {value!r} instead."
        )
        raise InvalidParameterError(msg + (f" {fix}" if fix else ""))
    return int(value) if integer else value


def check_choice(value: Any, name: str, owner: str, choices: Iterable[Any]) -> Any:
    choices = list(choices)
    if value not in choices:
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be one of {choices}. Got {value!r} instead."
        )
    return value
