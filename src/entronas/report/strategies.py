"""The strategy benchmark's Fig. 4-style plot: mean incumbent accuracy after k samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLORS = {"entropy": "tab:green", "random": "tab:blue", "tpe": "tab:orange",
          "greedy": "tab:gray", "bo": "tab:red"}


def plot_strategies(result: Any, path: str | Path) -> Path:
    """One line per strategy with a ±1 standard-error band; the feasible optimum dashed."""
    from .._core.imports import require

    mpl = require("matplotlib", "search", "the strategy plot")
    mpl.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for c in result.curves:
        k = np.arange(1, len(c.mean) + 1)
        color = COLORS.get(c.strategy.split(":")[0])
        ax.step(k, c.mean, where="post", color=color, label=f"{c.strategy} (mean of {c.reps})")
        ax.fill_between(k, c.mean - c.se, c.mean + c.se, step="post", color=color, alpha=0.2)
    ax.axhline(result.optimum, color="black", ls="--", lw=0.8, label="feasible optimum")
    ax.set_xlabel("trained samples k")
    ax.set_ylabel("validation accuracy of the incumbent (mean over seeds)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{result.space} on {result.target}, |X^f| = {result.feasible:,}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right", title="band: ±1 standard error",
              title_fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
