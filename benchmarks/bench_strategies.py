"""Which strategy? Every strategy on the complete tables, three budgets each, 100 runs.

For each complete table of ``benchmarks/tables/`` (every member trained with 3 seeds by
``benchmarks/build_table.py``) and three budgets inside it (one of them params-only), every
strategy runs 100 times for 40 samples through ``entronas bench-strategies`` (the real Optuna
samplers, the table evaluator, one seed's accuracy per sample; each run's incumbent judged by
its mean accuracy). Rows: mean incumbent accuracy ± standard error at k = 10 and k = 40, and
whether the model-based strategy ``bo`` is at least as good as the best baseline there.

Run: ``python benchmarks/bench_strategies.py`` (about an hour on 2 cores; rows go to README.md),
``--reps 20`` for a quick look, ``--select`` to compare bo's surrogates and start sizes first.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _readme import machine, write_rows  # noqa: E402

HERE = Path(__file__).resolve().parent
TABLES = HERE / "tables"
NO_RESERVE = ["--rom-reserve", "0", "--ram-reserve", "0"]

#: (table, space, label, budget flags)
CELLS = [
    ("mlp_digits.csv", "mlp-digits", "default job: 48 KiB / 2,304 B (tflm)",
     ["-t", "stm32g071", "--rom", "48KiB", "--ram", "2304B", *NO_RESERVE]),
    ("mlp_digits.csv", "mlp-digits", "ROM 32 KiB (tflm)",
     ["--rom", "32KiB", "--ram", "1GiB", "--costs", "tflm"]),
    ("mlp_digits.csv", "mlp-digits", "params-only: 16 KiB of weights (paper)",
     ["--rom", "16KiB", "--costs", "paper"]),
    ("dscnn_digits.csv", "dscnn-digits", "16 KiB / 12 KiB (tflm)",
     ["--rom", "16KiB", "--ram", "12KiB", "--costs", "tflm"]),
    ("dscnn_digits.csv", "dscnn-digits", "ROM 12 KiB (tflm)",
     ["--rom", "12KiB", "--ram", "1GiB", "--costs", "tflm"]),
    ("dscnn_digits.csv", "dscnn-digits", "params-only: 8 KiB of weights (paper)",
     ["--rom", "8KiB", "--costs", "paper"]),
    ("mlp_deep.csv", str(TABLES / "mlp_deep.toml"), "ROM 24 KiB (tflm)",
     ["--rom", "24KiB", "--ram", "1GiB", "--costs", "tflm"]),
    ("mlp_deep.csv", str(TABLES / "mlp_deep.toml"), "ROM 48 KiB / RAM 2,560 B (tflm)",
     ["--rom", "48KiB", "--ram", "2560B", "--costs", "tflm"]),
    ("mlp_deep.csv", str(TABLES / "mlp_deep.toml"), "params-only: 12 KiB of weights (paper)",
     ["--rom", "12KiB", "--costs", "paper"]),
]
BASELINES = ["entropy", "random", "tpe", "greedy"]


def run_cell(table: str, space: str, budget: list[str], strategies: list[str], reps: int,
             k: int, jobs: int):
    from entronas.search.bench import bench_strategies
    from entronas.search.config import SearchConfig

    flags = dict(zip(budget[0::2], budget[1::2]))
    settings = {"space": space, "target": flags.get("-t"), "rom": flags.get("--rom"),
                "ram": flags.get("--ram"), "rom_reserve": flags.get("--rom-reserve"),
                "ram_reserve": flags.get("--ram-reserve"), "costs": flags.get("--costs"),
                "evaluator": f"table:{TABLES / table}"}
    record = SearchConfig.from_dict({a: b for a, b in settings.items() if b is not None}
                                    ).resolve()
    return bench_strategies(record, str(TABLES / table), strategies, reps=reps, k=k,
                            jobs=jobs)


def main(argv: list[str] | None = None) -> list[str]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("-k", type=int, default=40)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--bo", default="bo", help="The model-based strategy's spec.")
    ap.add_argument("--select", action="store_true",
                    help="Compare bo's surrogates and start sizes on every cell instead.")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows, wins, cells = [], 0, 0
    if args.select:
        variants = [f"bo:model={m},n_startup={n}" for m in ("tpe", "rf") for n in (3, 5, 10)]
        for table, space, label, budget in CELLS:
            res = run_cell(table, space, budget, variants, args.reps, args.k, args.jobs)
            for kk in (10, 40):
                cells_ = ", ".join(f"{c.strategy[3:]} {c.at(kk)[0]:.4f}" for c in res.curves)
                rows.append(f"| {table} | {label} | {kk} | {cells_} |")
                print(rows[-1], flush=True)
        return rows
    for table, space, label, budget in CELLS:
        res = run_cell(table, space, budget, BASELINES + [args.bo], args.reps, args.k,
                       args.jobs)
        by = {c.strategy: c for c in res.curves}
        for kk in (10, 40):
            base = max(BASELINES, key=lambda s: by[s].at(kk)[0])
            bm, bse = by[args.bo].at(kk)
            top = by[base].at(kk)[0]
            verdict = "yes" if bm >= top else ("within 2 SE" if bm >= top - 2 * bse else "no")
            wins += bm >= top
            cells += 1
            cols = " | ".join(f"{by[s].at(kk)[0]:.4f} ± {by[s].at(kk)[1]:.4f}"
                              for s in BASELINES + [args.bo])
            rows.append(f"| {table.removesuffix('.csv')} | {label} | {res.feasible:,} | "
                        f"{res.optimum:.4f} | {kk} | {cols} | {verdict} |")
            print(rows[-1], flush=True)
    rows.append(f"| *bo >= the best baseline in {wins} of {cells} cells; {args.reps} runs per "
                f"strategy and cell; {machine()}; {time.perf_counter() - t0:.0f} s* "
                "| | | | | | | | | | |")
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent / "src"))
    out = main()
    if "--select" not in sys.argv:
        write_rows("strategies", out)
