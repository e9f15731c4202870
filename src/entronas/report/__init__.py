"""Reports over search runs: Fig. 4 (best score after k samples), Fig. 5 (over training time)
and a Table I-style table, as PNG + SVG and Markdown + CSV. Reads the runs' Optuna storage
through :mod:`entronas.search.results`; matplotlib (Agg) is imported lazily."""

from .build import Reference, make_report, parse_reference, summary_rows

__all__ = ["Reference", "make_report", "parse_reference", "summary_rows"]
