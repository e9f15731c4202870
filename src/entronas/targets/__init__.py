"""MCU targets (memory budgets) as data."""

from .base import Target, fmt_bytes, parse_amount
from .presets import TARGETS, get_target, list_targets

__all__ = ["TARGETS", "Target", "fmt_bytes", "get_target", "list_targets", "parse_amount"]
