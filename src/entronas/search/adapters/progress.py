"""Progress line per trial on stderr: k/K, the candidate, best so far, ETA."""

from __future__ import annotations

import sys
import time
from typing import Any

from ...targets.base import fmt_size
from ._optuna import STATE
from .ledger import ledger


class Progress:
    """One stderr line per trial: k/K trained, this trial, best so far, ETA."""

    def __init__(self, total: int, stream: Any = None, costs: str = "") -> None:
        self.total = total
        self.costs = costs  # the convention's short name, e.g. "tflm float32"
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.perf_counter()
        self.done_here = 0

    def __call__(self, study: Any, trial: Any) -> None:
        led = ledger(study)
        k = len(led.complete)
        a = trial.user_attrs
        arch = "-".join(str(w) for w in a.get("widths", [])) or "?"
        res = (f"ROM {fmt_size(a.get('rom'))} RAM {fmt_size(a.get('ram'))}"
               + (f" ({self.costs})" if self.costs else "") if "rom" in a else "")
        best = led.best
        best_s = f"best {best.value:.4f} (#{best.number})" if best else "best -"
        if trial.state == STATE.COMPLETE:
            self.done_here += 1
            el = time.perf_counter() - self.start
            eta = el / self.done_here * max(self.total - k, 0)
            msg = (f"[{min(k, self.total)}/{self.total}] #{trial.number} {arch} score "
                   f"{trial.value:.4f} {res} | {best_s} | ETA {_dur(eta)}")
        else:
            status = a.get("status", trial.state.name.lower())
            msg = f"[{min(k, self.total)}/{self.total}] #{trial.number} {arch} {status} {res}" \
                  f" | {best_s}"
        print(msg, file=self.stream, flush=True)


def _dur(s: float) -> str:
    s = int(round(s))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"
