"""Search overhead per trial with a stand-in objective (no training).

Rows: every strategy on the default job (100 trials, journal storage on disk, the whole run
pipeline; best of 3 fresh runs, the slowest shown), the model-based strategy's own overhead
at 1,000 trials on a 32,160-member X^f (the surrogate is refitted before every trial; target
<= 50 ms per trial), and the pipeline's overhead over 10,000 trials on disk (first and last 100;
target <= 10 ms per trial with no growth), and over 2,000 entropy trials drawn from all of the
full ConvMixer X^f (4.8e11 members, exact entropy distribution).

Run: ``python benchmarks/bench_search.py`` (rows go to README.md).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _readme import write_rows  # noqa: E402

from entronas.search import SearchConfig, run_search  # noqa: E402


#: fresh runs per strategy; the row shows the best and the slowest
REPEAT = 3


def big_bo_overhead(trials: int = 1000) -> str:
    """ms per trial of bo over the last 100 of ``trials`` trials (in-memory study)."""
    import numpy as np
    import optuna

    from entronas.reduce import reduce_space
    from entronas.sampling import Candidates
    from entronas.search.adapters.objective import Objective
    from entronas.search.adapters.samplers import SurrogateSampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rec = SearchConfig(space="mlp-digits", space_overrides={"depth_max": 4},
                       target="stm32g071", rom="64KiB", ram="1MiB", rom_reserve=0,
                       ram_reserve=0, costs="paper", evaluator="table:x.csv").resolve()
    feasible, _ = reduce_space(rec.space, rec.target, rec.costs)
    cands = Candidates.build(feasible)
    stamps: list[float] = []
    study = optuna.create_study(direction="maximize",
                                sampler=SurrogateSampler(cands, seed=0))  # the defaults
    study.optimize(Objective(rec, cands, lambda arch, seed: {"score": sum(arch.widths) / 1e3}),
                   n_trials=trials, callbacks=[lambda s, t: stamps.append(time.perf_counter())])
    last = float(np.diff(stamps)[-100:].mean())
    from entronas.sampling.surrogate import DEFAULT_MODEL

    return (f"| bo ({DEFAULT_MODEL} surrogate), {trials:,} trials on a "
            f"{len(feasible):,}-member X^f (in memory) | {trials} | 0 | - | "
            f"{1000 * last:.1f} ms over the last 100 |")


#: the 32,160-member X^f of the scaling rows
SMALL = dict(space="mlp-digits", space_overrides={"depth_max": 4}, target="stm32g071",
             rom="64KiB", ram="1MiB", rom_reserve=0, ram_reserve=0, costs="paper")
#: the full ConvMixer X^f on paper-small: 4.8e11 members, drawn from its exact distribution
HUGE = dict(space="convmixer-cifar10", target="paper-small")


def disk_scaling(trials: int = 10_000, strategy: str = "random", where: dict = SMALL) -> str:
    """ms per trial over the first and the last 100 of ``trials`` trials of the whole pipeline
    with the journal on disk (stand-in objective; stamps taken when each trial evaluates)."""
    import numpy as np

    stamps: list[float] = []

    def ev(arch, seed):
        stamps.append(time.perf_counter())
        return {"score": sum(arch.widths) / 1000.0, "train_seconds": 0.0}

    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parent) as d:  # on disk
        cfg = SearchConfig(strategy=strategy, trials=trials, run_dir=d, **where)
        t0 = time.perf_counter()
        r = run_search(cfg, ev, progress=False, log=lambda m: None)
        total = time.perf_counter() - t0
        journal = Path(d) / "study.journal"
        records = sum(1 for _ in journal.open("rb")) / max(r.completed, 1)
    dt = np.diff(stamps)
    exact = " (exact entropy distribution)" if r.candidates.distribution is not None else ""
    return (f"| {strategy}, {trials:,} trials on a {r.candidates.feasible.size:,}-member X^f"
            f"{exact} "
            f"(journal on disk, {records:.1f} records and 1 fsync per trial) | {r.completed:,} "
            f"| {r.infeasible} | {total:.1f} s | first 100: {1000 * dt[:100].mean():.1f} ms, "
            f"last 100: {1000 * dt[-100:].mean():.1f} ms |")


def main() -> None:
    def ev(arch, seed):
        return {"score": sum(arch.widths) / 1000.0, "train_seconds": 0.0}

    rows = []
    for strategy in ("entropy", "random", "tpe", "greedy", "bo"):
        times = []
        for _ in range(REPEAT):  # best of REPEAT fresh runs, the spread shown
            with tempfile.TemporaryDirectory() as d:
                cfg = SearchConfig(strategy=strategy, trials=100, run_dir=d)  # the default job
                t0 = time.perf_counter()
                r = run_search(cfg, ev, progress=False, log=lambda m: None)
                times.append(time.perf_counter() - t0)
        best, worst = min(times), max(times)
        n = max(r.completed, 1)
        rows.append(f"| {strategy} | {r.completed} | {r.infeasible} | {best:.2f} s "
                    f"(max {worst:.2f} s) | {1000 * best / n:.1f} ms |")
        print(rows[-1])
    rows.append(big_bo_overhead())
    print(rows[-1])
    for strategy in ("random", "entropy"):
        rows.append(disk_scaling(strategy=strategy))
        print(rows[-1])
    rows.append(disk_scaling(2000, "entropy", HUGE))
    print(rows[-1])
    write_rows("search", rows)


if __name__ == "__main__":
    main()
