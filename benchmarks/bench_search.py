"""Overhead of the search machinery per trial (sampler + storage + objective, no training).

    PYTHONPATH=src python benchmarks/bench_search.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _readme import write_rows  # noqa: E402
import time

from entronas.search import SearchConfig, run_search


def main() -> None:
    def ev(arch, seed):
        return {"score": sum(arch.widths) / 1000.0, "train_seconds": 0.0}

    rows = []
    for strategy in ("entropy", "random", "tpe"):
        with tempfile.TemporaryDirectory() as d:
            cfg = SearchConfig(strategy=strategy, trials=100, run_dir=d)  # the default job
            t0 = time.perf_counter()
            r = run_search(cfg, ev, progress=False, log=lambda m: None)
            dt = time.perf_counter() - t0
            rows.append(f"| {strategy} | {r.completed} | {r.infeasible} | {dt:.2f} s | "
                        f"{1000 * dt / max(r.completed, 1):.1f} ms |")
            print(rows[-1])
    write_rows("search", rows)


if __name__ == "__main__":
    main()
