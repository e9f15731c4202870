"""Build a complete table: every member of X^f trained on real data with several seeds.

Why: a strategy benchmark is only honest on a table that holds every feasible network (the
optimum is known, and a strategy cannot be lucky by proposing networks nobody trained). Each
row is one member: its widths, the score of every seed (validation accuracy, the search's
selection score) and their mean, the test accuracy, params, MACs, ROM, RAM and training time,
in the format :class:`entronas.search.TableEvaluator` reads (``widths`` and ``accuracy``
columns; ``accuracy_s0``..``accuracy_s{n-1}`` are the per-seed scores).

Resumable: rows are appended as they are trained (flushed), and a rerun trains only the
members that are missing. Progress and an ETA are printed every few members.

Run, e.g.::

    python benchmarks/build_table.py --space mlp-digits --rom 1MiB --ram 1MiB \\
        --out benchmarks/tables/mlp_digits.csv            # all 4,368 members, 3 seeds
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _key(widths) -> str:
    return "-".join(str(int(w)) for w in widths)


def members(args: argparse.Namespace):
    """(space, target, costs, widths of every member of X^f)."""
    from entronas.cost import resolve_costs
    from entronas.reduce import reduce_space
    from entronas.space.config import resolve_space
    from entronas.targets import resolve_target

    space, file_target = resolve_space(args.space)
    target = resolve_target(args.target, file_target, rom=args.rom, ram=args.ram,
                            flops=args.flops, rom_reserve=args.rom_reserve,
                            ram_reserve=args.ram_reserve)
    costs = resolve_costs(args.costs, target=target, dtype=args.dtype)
    feasible, _ = reduce_space(space, target, costs)
    return space, target, costs, [tuple(a.widths) for a in feasible]


_EVAL: dict = {}


def _init() -> None:
    import torch

    torch.set_num_threads(1)  # one process per core trains faster than two threads per core


def _train(job: tuple) -> tuple:
    """Train one member with every seed (in a worker; the data set is prepared once)."""
    from entronas.data import get_dataset
    from entronas.space import ChainSpace
    from entronas.train import make_evaluator

    space_dict, dataset, epochs, seeds, w = job
    key = (str(space_dict), dataset, epochs)
    if key not in _EVAL:
        space = ChainSpace.from_dict(space_dict)
        _EVAL.clear()
        _EVAL[key] = (space, make_evaluator(space, get_dataset(dataset), epochs=epochs))
    space, evaluate = _EVAL[key]
    scores, tests, secs = [], [], 0.0
    for seed in range(seeds):
        m = evaluate(space.arch(w), seed)
        scores.append(float(m["score"]))
        tests.append(float(m.get("accuracy", m["score"])))
        secs += float(m["train_seconds"])
    return w, scores, tests, secs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", required=True)
    ap.add_argument("--target", "-t", default=None)
    ap.add_argument("--rom"), ap.add_argument("--ram"), ap.add_argument("--flops")
    ap.add_argument("--rom-reserve", default=None), ap.add_argument("--ram-reserve", default=None)
    ap.add_argument("--costs", default=None, choices=("paper", "tflm"))
    ap.add_argument("--dtype", default=None, choices=("float32", "int8"))
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--out", required=True)
    ap.add_argument("--limit", type=int, default=None, help="Train at most this many members.")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="Training processes (one torch thread each).")
    args = ap.parse_args(argv)
    if args.seeds < 1:
        ap.error("--seeds must be >= 1")

    from multiprocessing import Pool

    from entronas.cost import estimate

    space, target, costs, widths = members(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done: set[str] = set()
    if out.exists():
        with open(out, newline="") as fh:
            done = {row["widths"] for row in csv.DictReader(fh) if row.get("widths")}
    todo = [w for w in widths if _key(w) not in done][:args.limit]
    print(f"{space.name}: {len(widths):,} members of X^f under {costs.describe()} on "
          f"{target.describe()}; {len(done):,} in {out}, {len(todo):,} to train x "
          f"{args.seeds} seeds", flush=True)
    fields = (["widths", "accuracy", "accuracy_std"]
              + [f"accuracy_s{s}" for s in range(args.seeds)]
              + ["test_accuracy", "params", "macs", "rom", "ram", "train_seconds"])
    new_file = not out.exists() or out.stat().st_size == 0
    t0 = time.perf_counter()
    jobs = [(space.to_dict(), args.dataset, args.epochs, args.seeds, w) for w in todo]
    with open(out, "a", newline="") as fh, Pool(args.jobs, initializer=_init) as pool:
        writer = csv.DictWriter(fh, fieldnames=fields)
        if new_file:
            writer.writeheader()
        for n, (w, scores, tests, secs) in enumerate(pool.imap(_train, jobs), 1):
            c = estimate(space, w, costs)
            mean = sum(scores) / len(scores)
            std = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
            row = {"widths": _key(w), "accuracy": round(mean, 6), "accuracy_std": round(std, 6),
                   **{f"accuracy_s{s}": round(v, 6) for s, v in enumerate(scores)},
                   "test_accuracy": round(sum(tests) / len(tests), 6),
                   "params": sum(layer.kernel_weights + layer.bias_terms
                                 for layer in space.layers(w)),
                   "macs": c.flops // 2, "rom": c.rom, "ram": c.ram,
                   "train_seconds": round(secs / args.seeds, 3)}
            writer.writerow(row)
            fh.flush()
            os.fsync(fh.fileno())
            if n % 10 == 0 or n == len(todo):
                el = time.perf_counter() - t0
                print(f"[{n}/{len(todo)}] {_key(w)} {mean:.4f} | {el:.0f} s, ETA "
                      f"{el / n * (len(todo) - n):.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    sys.exit(main())
