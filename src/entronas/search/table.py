"""Tabular evaluation: look an architecture's metrics up in a CSV instead of training.

Columns: ``widths`` (e.g. ``"84-112-84"``) *or* ``width_0 .. width_n`` (empty cells beyond
the depth), ``accuracy`` or ``score`` (required), and any other numeric columns (``params``,
``flops``, ``train_seconds``...) which are passed through as metrics. ``train_seconds`` is
what the wall-time plot (Fig. 5) accumulates, so a table can simulate training time.

An architecture missing from the table is, by default (``missing="error"``), a one-line
:class:`TableError` that stops the search; with ``missing="skip"`` the trial is recorded as
PRUNED with ``status="missing"`` and does not count as a sample.

A complete table (``benchmarks/build_table.py``) also holds ``accuracy_s0`` ..
``accuracy_s{n-1}``, the score of each training seed. With ``noisy=True`` a trial's score is
one of them, chosen by the trial's seed (what a real search sees), while ``mean_accuracy``
keeps the mean for judging a strategy. ``.csv.gz`` files are read too.
"""

from __future__ import annotations

import csv
import gzip
import math
import os
from pathlib import Path
from typing import Any

from .._core.arch import Arch, parse_widths
from .errors import SearchError


class TableError(SearchError):
    """A results table is unreadable or lacks an architecture."""


def _num(v: str) -> Any:
    try:
        f = float(v)
    except ValueError:
        return v
    return int(f) if f.is_integer() and "." not in v and "e" not in v.lower() else f


class TableEvaluator:
    """``evaluate(arch, seed) -> metrics`` from a CSV table (seed is ignored)."""

    def __init__(self, path: str | os.PathLike, *, missing: str = "error",
                 noisy: bool = False) -> None:
        if missing not in ("error", "skip"):
            raise TableError(f"missing= must be 'error' or 'skip', got {missing!r}")
        self.path = Path(path)
        self.missing = missing
        self.noisy = noisy
        self.rows = self._read()
        self.seed_columns = sorted(
            (k for k in next(iter(self.rows.values())) if k.startswith("accuracy_s")
             and k[10:].isdigit()), key=lambda k: int(k[10:]))
        if noisy and not self.seed_columns:
            raise TableError(f"table {str(self.path)!r} has no accuracy_s0.. columns for a "
                             "noisy evaluation; build it with benchmarks/build_table.py")

    def _read(self) -> dict[tuple[int, ...], dict[str, Any]]:
        try:
            opener = gzip.open if self.path.suffix == ".gz" else open
            with opener(self.path, "rt", newline="") as fh:
                reader = csv.DictReader(fh)
                fields = reader.fieldnames or []
                width_cols = sorted((c for c in fields if c.startswith("width_")
                                     and c[6:].isdigit()), key=lambda c: int(c[6:]))
                score_col = "score" if "score" in fields else "accuracy" \
                    if "accuracy" in fields else None
                if score_col is None or ("widths" not in fields and not width_cols):
                    raise TableError(
                        f"table {str(self.path)!r} needs a 'widths' (or width_0..width_n) column "
                        f"and an 'accuracy' or 'score' column; it has {fields}")
                rows = {}
                for n, row in enumerate(reader, start=2):
                    try:
                        if "widths" in fields and row.get("widths"):
                            widths = parse_widths(row["widths"])
                        else:
                            widths = tuple(int(float(row[c])) for c in width_cols
                                           if row.get(c) not in (None, ""))
                        metrics = {k: _num(v) for k, v in row.items()
                                   if k not in ("widths", *width_cols) and v not in (None, "")}
                        metrics["score"] = float(row[score_col])
                    except (TypeError, ValueError) as exc:
                        raise TableError(f"{self.path}:{n}: bad row ({exc})") from None
                    if not math.isfinite(metrics["score"]):
                        raise TableError(f"{self.path}:{n}: the {score_col} of "
                                         f"{'-'.join(map(str, widths))} is "
                                         f"{row[score_col]!r}; a score must be a finite number")
                    if widths in rows and rows[widths]["score"] != metrics["score"]:
                        raise TableError(f"{self.path}:{n}: {'-'.join(map(str, widths))} "
                                         "appears twice with different scores; keep one row")
                    rows[widths] = metrics
        except FileNotFoundError:
            raise TableError(f"table file {str(self.path)!r} does not exist") from None
        except (OSError, csv.Error, UnicodeDecodeError) as exc:
            raise TableError(f"cannot read table {str(self.path)!r}: {exc}") from None
        if not rows:
            raise TableError(f"table {str(self.path)!r} has no rows")
        return rows

    def __call__(self, arch: Arch, seed: int = 0) -> dict[str, Any] | None:
        row = self.rows.get(tuple(arch.widths))
        if row is None:
            if self.missing == "skip":
                return None
            raise TableError(f"architecture {arch.key()} is not in table {str(self.path)!r} "
                             f"({len(self.rows)} rows); use --table-missing skip to skip it")
        out = dict(row)
        if self.noisy:
            out["mean_accuracy"] = out["score"]
            out["score"] = float(row[self.seed_columns[int(seed) % len(self.seed_columns)]])
        return out

    def __len__(self) -> int:
        return len(self.rows)


def write_table(path: str | os.PathLike, rows: list[tuple[tuple[int, ...], dict[str, Any]]]
                ) -> Path:
    """Write a table in the format :class:`TableEvaluator` reads (tests, synthetic benchmarks)."""
    path = Path(path)
    keys: list[str] = []
    for _, m in rows:
        keys += [k for k in m if k not in keys]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["widths", *keys])
        for widths, m in rows:
            w.writerow(["-".join(str(x) for x in widths), *[m.get(k, "") for k in keys]])
    return path
