"""Which strategy? Every strategy on the complete tables, three budgets each, 100 runs.

For each complete table of ``benchmarks/tables/`` (every member trained with 3 seeds by
``benchmarks/build_table.py``) and three budgets inside it (one of them params-only), every
strategy runs 100 times for 40 samples through ``entronas bench-strategies`` (the real Optuna
samplers, the table evaluator, one seed's accuracy per sample; each run's incumbent judged by
its mean accuracy). Rows: mean incumbent accuracy ± standard error at k = 10 and k = 40, and
whether the model-based strategy ``bo`` is at least as good as the best baseline there.

Run: ``python benchmarks/bench_strategies.py`` (about an hour on 2 cores; each table's rows go
to its own block of README.md, so ``--only mlp_digits.csv`` rewrites that table's rows only),
``--reps 20`` for a quick look, ``--select`` to compare bo's surrogates and start-ups first.
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
#: every cell names all its budgets: an omitted one would be the default target's (2,304 B RAM)

#: (table, space, label, budget flags)
CELLS = [
    ("mlp_digits.csv", "mlp-digits", "default job: 48 KiB / 2,304 B (tflm)",
     ["-t", "stm32g071", "--rom", "48KiB", "--ram", "2304B", *NO_RESERVE]),
    ("mlp_digits.csv", "mlp-digits", "ROM 32 KiB (tflm)",
     ["--rom", "32KiB", "--ram", "1GiB", "--costs", "tflm"]),
    ("mlp_digits.csv", "mlp-digits", "params-only: 16 KiB of weights (paper)",
     ["--rom", "16KiB", "--ram", "1GiB", "--costs", "paper"]),
    ("dscnn_digits.csv", "dscnn-digits", "16 KiB / 12 KiB (tflm)",
     ["--rom", "16KiB", "--ram", "12KiB", "--costs", "tflm"]),
    ("dscnn_digits.csv", "dscnn-digits", "ROM 12 KiB (tflm)",
     ["--rom", "12KiB", "--ram", "1GiB", "--costs", "tflm"]),
    ("dscnn_digits.csv", "dscnn-digits", "params-only: 8 KiB of weights (paper)",
     ["--rom", "8KiB", "--ram", "1GiB", "--costs", "paper"]),
    ("mlp_deep.csv", str(TABLES / "mlp_deep.toml"), "ROM 64 KiB (tflm)",
     ["--rom", "64KiB", "--ram", "1GiB", "--costs", "tflm"]),
    ("mlp_deep.csv", str(TABLES / "mlp_deep.toml"), "ROM 96 KiB / RAM 3 KiB (tflm)",
     ["--rom", "96KiB", "--ram", "3KiB", "--costs", "tflm"]),
    ("mlp_deep.csv", str(TABLES / "mlp_deep.toml"), "params-only: 48 KiB of weights (paper)",
     ["--rom", "48KiB", "--ram", "1GiB", "--costs", "paper"]),
]
#: the baselines bo must match; TPE in both width encodings (the better one counts)
BASELINES = ["entropy", "random", "tpe", "tpe:encoding=int", "greedy"]


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


def main(argv: list[str] | None = None) -> dict[str, list[str]] | list[str]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("-k", type=int, default=40)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--bo", default="bo", help="The model-based strategy's spec.")
    ap.add_argument("--select", action="store_true",
                    help="Compare bo's surrogates and start sizes on every cell instead.")
    ap.add_argument("--only", action="append", default=None, metavar="TABLE",
                    help="Run only the cells of this table (repeatable).")
    args = ap.parse_args(argv)
    cells_todo = [c for c in CELLS if args.only is None or c[0] in args.only]
    if args.select:
        rows = []
        variants = ["bo:model=lin,n_startup=1,startup=greedy",
                    "bo:model=lin,n_startup=3,startup=entropy",
                    "bo:model=tpe,n_startup=3,startup=entropy",
                    "bo:model=tpe,n_startup=1,startup=greedy",
                    "bo:model=rf,n_startup=3,startup=entropy"]
        t0 = time.perf_counter()
        for table, space, label, budget in cells_todo:
            res = run_cell(table, space, budget, variants, args.reps, args.k, args.jobs)
            by = {c.strategy: c for c in res.curves}
            for kk in (10, 40):
                cols = " | ".join(f"{by[v].at(kk)[0]:.4f}" for v in variants)
                rows.append(f"| {table.removesuffix('.csv')} | {label} | {kk} | {cols} |")
                print(rows[-1], flush=True)
        rows.append(f"| *{args.reps} runs per variant and cell, k <= {args.k}; {machine()}; "
                    f"{time.perf_counter() - t0:.0f} s* |" + " |" * (2 + len(variants)))
        print(rows[-1], flush=True)
        write_rows("strategies-select", rows)  # the README's "how bo was chosen" table
        return rows
    blocks: dict[str, list[str]] = {}
    for table in dict.fromkeys(c[0] for c in cells_todo):
        t0 = time.perf_counter()
        rows, wins, worst = blocks.setdefault(table, []), 0, 0.0
        for table_, space, label, budget in (c for c in cells_todo if c[0] == table):
            baselines = [b for b in BASELINES if _runs_on(b, space)]
            res = run_cell(table_, space, budget, baselines + [args.bo], args.reps, args.k,
                           args.jobs)
            by = {c.strategy: c for c in res.curves}
            for kk in sorted({min(10, args.k), min(40, args.k)}):
                base = max(baselines, key=lambda s: by[s].at(kk)[0])
                bm, bse = by[args.bo].at(kk)
                top, tse = by[base].at(kk)
                se = (bse ** 2 + tse ** 2) ** 0.5  # standard error of the difference
                below = (top - bm) / se if se > 0 and bm < top else 0.0
                verdict = "yes" if bm >= top else f"{below:.1f} SE below"
                wins += bm >= top
                worst = max(worst, below)
                cols = " | ".join(f"{by[s].at(kk)[0]:.4f} ± {by[s].at(kk)[1]:.4f}" if s in by
                                  else "n/a (uneven width grid)" for s in BASELINES + [args.bo])
                rows.append(f"| {table.removesuffix('.csv')} | {label} | {res.feasible:,} | "
                            f"{res.optimum:.4f} | {kk} | {cols} | {verdict} |")
                print(rows[-1], flush=True)
        cells = len(rows)
        rows.append(f"| *{table.removesuffix('.csv')}: {args.bo} >= the best baseline in {wins} "
                    f"of {cells} cells, at worst {worst:.1f} SE below; {args.reps} runs per "
                    f"strategy and cell, k <= {args.k}; {machine()}; "
                    f"{time.perf_counter() - t0:.0f} s* | | | | | | | | | | | |")
        print(rows[-1], flush=True)
        # each table's rows as soon as they are measured (ENTRONAS_BENCH_NO_README=1: not)
        write_rows(f"strategies-{table.removesuffix('.csv')}", rows)
    return blocks


def _runs_on(strategy: str, space: str) -> bool:
    """tpe:encoding=int needs evenly spaced width grids (16, 32, 64, 128 is not)."""
    if strategy != "tpe:encoding=int":
        return True
    from entronas._core.errors import InvalidParameterError
    from entronas.search.params import check_encoding
    from entronas.space.config import resolve_space

    try:
        check_encoding(resolve_space(space)[0], "int")
    except InvalidParameterError:
        return False
    return True


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent / "src"))
    main()
