"""Overhead of the search machinery per trial (sampler + storage + objective, no training).

    PYTHONPATH=src python benchmarks/bench_search.py
"""

from __future__ import annotations

import tempfile
import time

from entronas.search import SearchConfig, run_search


def main() -> None:
    def ev(arch, seed):
        return {"score": sum(arch.widths) / 1000.0, "train_seconds": 0.0}

    for strategy in ("entropy", "random", "tpe"):
        with tempfile.TemporaryDirectory() as d:
            cfg = SearchConfig(strategy=strategy, trials=100, run_dir=d, rom="24KiB", ram="2KiB")
            t0 = time.perf_counter()
            r = run_search(cfg, ev, progress=False, log=lambda m: None)
            dt = time.perf_counter() - t0
            print(f"{strategy:8s} {r.completed} trained, {r.infeasible} infeasible: "
                  f"{dt:.2f} s ({1000 * dt / max(r.completed, 1):.1f} ms per trained trial, "
                  "journal storage)")


if __name__ == "__main__":
    main()
