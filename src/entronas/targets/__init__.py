"""MCU targets (memory budgets and reserves) as data."""

from .base import Target, fmt_bytes, fmt_size, parse_amount
from .presets import TARGETS, get_target, list_targets
from .resolve import load_target_file, resolve_target

__all__ = ["TARGETS", "Target", "fmt_bytes", "fmt_size", "get_target", "list_targets",
           "load_target_file", "parse_amount", "resolve_target"]
