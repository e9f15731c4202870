"""MCU targets (memory budgets) as data."""

from .base import Target, fmt_bytes, fmt_size, parse_amount
from .presets import TARGETS, get_target, list_targets

__all__ = ["TARGETS", "Target", "fmt_bytes", "fmt_size", "get_target", "list_targets", "parse_amount"]
