"""Figures and tables of one or many search runs (one line per strategy, runs = seeds)."""

from __future__ import annotations

import csv
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .._core.errors import InvalidParameterError
from ..targets.base import fmt_size, parse_amount

COLORS = {"entropy": "tab:green", "random": "tab:blue", "tpe": "tab:orange"}
LABELS = {"entropy": "entropy-based sampling", "random": "random search (X^f)",
          "tpe": "Bayesian optimisation (TPE)"}


@dataclass(frozen=True)
class Reference:
    """A named reference architecture for the table (e.g. a MicroNet from the paper)."""

    name: str
    score: float | None
    rom: int | None = None
    ram: int | None = None
    flops: int | None = None


def parse_reference(text: str) -> Reference:
    """``NAME:SCORE[:ROM[:RAM[:FLOPS]]]``; ROM/RAM accept units (``120KB``)."""
    parts = text.split(":")
    if len(parts) < 2 or not parts[0]:
        raise InvalidParameterError(f"reference {text!r} must look like NAME:SCORE:ROM:RAM:FLOPS")

    def amt(i: int, what: str) -> int | None:
        return parse_amount(parts[i], what) if len(parts) > i and parts[i] else None

    try:
        score = float(parts[1]) if parts[1] else None
    except ValueError:
        raise InvalidParameterError(f"reference {text!r}: score {parts[1]!r} is not a number"
                                    ) from None
    return Reference(parts[0], score, amt(2, "ROM"), amt(3, "RAM"), amt(4, "FLOPs"))


def _group_key(run: Any) -> str:
    from ..targets.base import fmt_bytes

    t = run.target or {}
    budgets = ", ".join(f"{k.upper()} {fmt_bytes(t.get(k)) if k != 'flops' else _fmt(t[k], k)}"
                        for k in ("rom", "ram", "flops") if t.get(k) is not None)
    return f"{run.space} on {t.get('name', '?')} ({budgets})"


def _fmt(v: Any, kind: str) -> str:
    if v is None:
        return "-"
    if kind in ("rom", "ram"):
        return fmt_size(v)
    if kind == "flops":
        return f"{v / 1e6:.2f} M" if v >= 1e5 else f"{int(v):,}"
    return str(v)


def _load_darts(run_dir: Path) -> dict[str, Any]:
    from ..runs.rundir import RunDir

    return RunDir(run_dir).read_darts()


def _expand(dirs: Sequence[Path]) -> list[Path]:
    """Run directories as given; a folder that is no run but holds runs (``runs/digits_demo``
    of ``experiments/run_all.sh``) stands for the runs inside it."""
    from ..runs.rundir import RunDir

    out: list[Path] = []
    for d in dirs:
        rd = RunDir(d)
        if rd.exists() or rd.is_darts() or not d.is_dir():
            out.append(d)
            continue
        inner = sorted(p for p in d.iterdir() if p.is_dir()
                       and (RunDir(p).exists() or RunDir(p).is_darts()))
        out.extend(inner or [d])
    return out


def _runs(run_dirs: Sequence[Path]) -> list[Any]:
    from ..search.results import load_run

    return [load_run(d) for d in run_dirs]


def summary_rows(runs: Sequence[Any]) -> list[dict[str, Any]]:
    rows = []
    for r in runs:
        b = r.best
        c = r.counts()
        rows.append({"group": _group_key(r), "study": r.study_name, "strategy": r.strategy,
                     "seed": r.seed, "trained": c["trained"], "infeasible": c["infeasible"],
                     "duplicates": c["duplicates"], "failed": c["failed"],
                     "duplicate_proposals": c["duplicate_proposals"],
                     "best_score": None if b is None else b.score,
                     "arch": None if b is None else "-".join(map(str, b.widths)),
                     "rom": None if b is None else b.rom, "ram": None if b is None else b.ram,
                     "flops": None if b is None else b.flops,
                     "train_seconds": sum(t.train_seconds for t in r.trained),
                     "run_dir": str(r.run_dir) if r.run_dir else "",
                     "costs": _costs(r), **_deployment(r)})
    return rows


def _costs(run: Any) -> str:
    rec = (run.info or {}).get("record")
    return "" if rec is None else rec.costs.describe()


def _deployment(run: Any) -> dict[str, Any]:
    """Measured .tflite / TFLM arena of the best model, if `search --measure` ran."""
    rep = (run.info or {}).get("deployment") or {}
    d = rep.get("deployed") or {}
    return {"deployed_dtype": rep.get("dtype"), "deployed_rom": d.get("rom"),
            "deployed_ram": d.get("ram")}


def _band(curves: list[list[float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """k axis, mean, min, max over the runs (k up to the longest run).

    A run that ended before k (its X^f was used up) keeps its final best there, so the mean of
    best-so-far curves never goes down just because a run left the average.
    """
    n = max(len(c) for c in curves)
    k = np.arange(1, n + 1)
    vals = np.full((len(curves), n), np.nan)
    for r, c in enumerate(curves):
        if c:
            vals[r, :len(c)] = c
            vals[r, len(c):] = c[-1]
    vals[~np.isfinite(vals)] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return k, np.nanmean(vals, 0), np.nanmin(vals, 0), np.nanmax(vals, 0)


def _time_band(pairs: list[tuple[list[float], list[float]]]
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Time grid, mean, min, max of best-so-far over the runs (a finished run keeps its best)."""
    tmax = max(xs[-1] for xs, _ in pairs if xs)
    grid = np.linspace(0, tmax, 200)
    vals = np.full((len(pairs), len(grid)), np.nan)
    for r, (xs, ys) in enumerate(pairs):
        if not xs:
            continue
        idx = np.searchsorted(np.asarray(xs), grid, side="right") - 1
        ok = idx >= 0
        vals[r, ok] = np.asarray(ys)[idx[ok]]
    vals[~np.isfinite(vals)] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return grid, np.nanmean(vals, 0), np.nanmin(vals, 0), np.nanmax(vals, 0)


#: what a trial's score is, by the metric it equals
_METRIC_NAMES = {"val_accuracy": "validation accuracy", "accuracy": "accuracy",
                 "auc": "AUC (test split)"}


def score_label(runs: Sequence[Any]) -> str:
    """The y label of best-so-far plots: the metric and split the runs' scores are."""
    names = set()
    for r in runs:
        for t in r.trained:
            m = t.metrics
            key = next((k for k in _METRIC_NAMES if isinstance(m.get(k), (int, float))
                        and t.score is not None and math.isclose(m[k], t.score)), None)
            name = _METRIC_NAMES.get(key, "score")
            if key == "accuracy" and "val_accuracy" in m:
                name = "test accuracy"
            names.add(name)
            break
    if len(names) == 1:
        return f"best {names.pop()} so far"
    return "best score so far (" + ", ".join(sorted(names)) + ")" if names else "best score"


def _plot(groups: dict[str, list[Any]], out: Path, kind: str, title: str | None,
          darts: Sequence[dict[str, Any]] = ()) -> list[Path]:
    from .._core.imports import require

    mpl = require("matplotlib", "search", "report plots")
    mpl.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    n = len(groups)
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 3.8), squeeze=False)
    for ax, (group, runs) in zip(axes[0], sorted(groups.items())):
        by_strategy: dict[str, list[Any]] = {}
        for r in runs:
            if r.trained:
                by_strategy.setdefault(r.strategy, []).append(r)
        for strat, rs in sorted(by_strategy.items()):
            color = COLORS.get(strat)
            label = LABELS.get(strat, strat)
            label += f" (mean of {len(rs)} runs; band: min to max)" if len(rs) > 1 else \
                " (1 run)"
            if kind == "samples":
                x, mean, lo, hi = _band([r.best_after_k() for r in rs])
                ax.step(x, mean, where="post", color=color, label=label)
            else:
                x, mean, lo, hi = _time_band([r.best_over_time() for r in rs])
                ax.plot(x, mean, color=color, label=label)
            if len(rs) > 1:
                ax.fill_between(x, lo, hi, color=color, alpha=0.2,
                                step="post" if kind == "samples" else None)
        space = runs[0].space if runs else group.split(" ")[0]
        shown = [d for d in (darts if kind == "time" else ())
                 if d.get("space") == space and d.get("history")]
        if shown:  # another metric (the supernet's test accuracy): its own axis
            twin = ax.twinx()
            for d in shown:
                xs = [h["seconds"] for h in d["history"]]
                ys = [h["accuracy"] for h in d["history"]]
                twin.plot(xs, ys, color="tab:red", marker=".", ls=":",
                          label=f"DARTS supernet over X (seed {d.get('seed', '?')}), right axis")
            twin.set_ylabel("DARTS supernet test accuracy", color="tab:red")
            twin.legend(fontsize=8, loc="upper left")
        ax.set_title(group, fontsize=9)
        ax.set_xlabel("trained samples k" if kind == "samples" else "training time [s]")
        if kind == "samples":
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(score_label(runs))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # a DARTS-only panel has its legend on the twin
            ax.legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    stem = "best_vs_samples" if kind == "samples" else "best_vs_time"
    paths = [out / f"{stem}.png", out / f"{stem}.svg"]
    for p in paths:
        fig.savefig(p, dpi=120)
    plt.close(fig)
    return paths


def _md_table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "-"
        if isinstance(v, float):
            return f"{v:.4f}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def make_report(run_dirs: Sequence[Path | str], out: Path | str, *,
                references: Sequence[Reference] = (), title: str | None = None
                ) -> dict[str, Any]:
    """Write plots and tables for ``run_dirs`` into ``out``; returns the written paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dirs = _expand([Path(d) for d in run_dirs])
    from ..runs.rundir import RunDir

    darts = [_load_darts(d) for d in dirs if RunDir(d).is_darts()]
    runs = _runs([d for d in dirs if not RunDir(d).is_darts()])
    references = list(references)
    for r in runs:  # references named in the runs' experiment configs
        rec = (r.info or {}).get("record")
        for text in (rec.references if rec is not None else ()):
            ref = parse_reference(str(text))
            if ref.name not in {x.name for x in references}:
                references.append(ref)
    rows = summary_rows(runs)
    groups: dict[str, list[Any]] = {}
    for r in runs:
        groups.setdefault(_group_key(r), []).append(r)
    plots: list[Path] = []
    for d in darts:  # a DARTS run with no multi-shot run of its space gets its own panel
        if not any(r.space == d["space"] for r in runs):
            groups.setdefault(f"{d['space']} (one-shot)", [])
    if any(r.trained for r in runs):
        plots += _plot(groups, out, "samples", title)
    if any(r.trained for r in runs) or darts:
        plots += _plot(groups, out, "time", title, darts)

    # CSV: one row per run (+ references)
    fields = ["group", "study", "strategy", "seed", "trained", "infeasible", "duplicates",
              "duplicate_proposals", "failed", "best_score", "arch", "rom", "ram", "flops",
              "costs", "train_seconds", "run_dir", "deployed_dtype", "deployed_rom",
              "deployed_ram"]
    csv_path = out / "runs.csv"
    with open(csv_path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for row in rows:
            w.writerow(row)
        for ref in references:
            w.writerow({"group": "reference", "study": ref.name, "strategy": "reference",
                        "best_score": ref.score, "rom": ref.rom, "ram": ref.ram,
                        "flops": ref.flops})

    # Markdown: Table I (each run's best) + per-strategy summary + sample accounting
    md = [f"# {title or 'Search report'}", ""]
    for group in sorted(groups):
        md += [f"## {group}", ""]
        measured = any(r["deployed_rom"] for r in rows if r["group"] == group)
        conventions = sorted({r["costs"] for r in rows if r["group"] == group and r["costs"]})
        if conventions:
            md += [f"Counted as: {', '.join(conventions)}.", ""]
        table = [[r["strategy"], r["seed"], r["arch"], r["best_score"],
                  _fmt(r["rom"], "rom"), _fmt(r["ram"], "ram"), _fmt(r["flops"], "flops")]
                 + ([_fmt(r["deployed_rom"], "rom"), _fmt(r["deployed_ram"], "ram")]
                    if measured else [])
                 for r in rows if r["group"] == group]
        table += [[f"**{ref.name}**", "", "", ref.score, _fmt(ref.rom, "rom"),
                   _fmt(ref.ram, "ram"), _fmt(ref.flops, "flops")] + (["", ""] if measured else [])
                  for ref in references]
        header = ["strategy", "seed", "best architecture", "score", "ROM (est.)", "RAM (est.)",
                  "FLOPs"] + ([".tflite (measured)", "TFLM arena (measured)"]
                              if measured else [])
        md += [_md_table(header, table), ""]
        summ = []
        for strat in sorted({r["strategy"] for r in rows if r["group"] == group}):
            rs = [r for r in rows if r["group"] == group and r["strategy"] == strat]
            scores = [r["best_score"] for r in rs if r["best_score"] is not None]
            summ.append([strat, len(rs), float(np.mean(scores)) if scores else None,
                         float(np.min(scores)) if scores else None,
                         float(np.max(scores)) if scores else None,
                         sum(r["trained"] for r in rs), sum(r["infeasible"] for r in rs),
                         sum(r["duplicate_proposals"] for r in rs),
                         sum(r["duplicates"] for r in rs), sum(r["failed"] for r in rs)])
        md += [_md_table(["strategy", "runs", "mean best", "min best", "max best",
                          "trained (k)", "infeasible proposals", "repeat proposals (reused)",
                          "retrained duplicates", "failed"], summ), ""]
    md += ["Samples k count trained candidates only; infeasible proposals (TPE samples the "
           "unconstrained box) were pruned before training and are listed separately, and so "
           "are repeat proposals of an architecture trained before (its earlier score is "
           "reused, `--duplicates reuse`). Retrained duplicates: trained candidates whose "
           "architecture was trained before in the same run (`--duplicates retrain`, or "
           "concurrent workers racing).", ""]
    md += [f"![best vs samples]({p.name})" for p in plots if p.suffix == ".png"]
    md_path = out / "report.md"
    md_path.write_text("\n".join(md) + "\n")
    return {"dir": out, "plots": plots, "tables": [md_path, csv_path], "rows": rows}
