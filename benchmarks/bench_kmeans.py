"""Benchmark of the exact weighted 1-D k-means (``entronas.proxy.kmeans``).

Run standalone from the repository root::

    PYTHONPATH=src python benchmarks/bench_kmeans.py

Each case draws ``distinct`` values uniformly from [100, 10000] (entropy-like range),
repeats them to ``n`` input values (every distinct value occurs at least once), shuffles,
and times ``optimal_kmeans_1d(values, 100)`` end to end (unique + DP + labels). Prints
one Markdown table row per case with the best wall time of ``--repeat`` runs after a
warm-up run (which also loads the compiled layers), and the spread (slowest run). Targets:
n=200,000 with 10,000 distinct values in <= 0.1 s; one million distinct values in <= 2 s
(issue 12).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _readme import write_rows  # noqa: E402
import time

import numpy as np

from entronas.proxy.kmeans import optimal_kmeans_1d

CASES = ((200_000, 2_000), (200_000, 10_000), (200_000, 50_000),
         (1_000_000, 1_000_000))
TARGET = {(200_000, 10_000): 0.1, (1_000_000, 1_000_000): 2.0}


def make_values(n: int, distinct: int, seed: int = 0) -> np.ndarray:
    """``n`` shuffled values with exactly ``distinct`` distinct ones."""
    rng = np.random.default_rng(seed)
    uniq = np.unique(np.round(rng.uniform(100.0, 10_000.0, 2 * distinct), 6))
    uniq = rng.permutation(uniq)[:distinct]
    values = np.concatenate([uniq, rng.choice(uniq, n - distinct)])
    return rng.permutation(values)


def time_case(values: np.ndarray, k: int, repeat: int) -> tuple[float, float]:
    """Best and slowest wall time of ``repeat`` runs (after one warm-up run)."""
    optimal_kmeans_1d(values, k)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        optimal_kmeans_1d(values, k)
        times.append(time.perf_counter() - t0)
    return min(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per case")
    parser.add_argument("-k", type=int, default=100, help="number of clusters")
    args = parser.parse_args()
    print("| method | case | time (best of %d; slowest) | target |" % args.repeat)
    print("|---|---|---|---|")
    rows = []
    for n, distinct in CASES:
        values = make_values(n, distinct)
        best, worst = time_case(values, args.k, args.repeat)
        target = TARGET.get((n, distinct))
        rows.append(f"| k-means 1-D exact | n={n:,}, distinct={distinct:,}, k={args.k} | "
                    f"{best:.3f} s (slowest {worst:.3f} s) | "
                    f"{'<= %g s' % target if target else '-'} |")
        print(rows[-1], flush=True)
    write_rows("kmeans", rows)


if __name__ == "__main__":
    main()
