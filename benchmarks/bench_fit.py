"""Does "fits" mean "deploys"? Members of X^f under the tflm convention, exported and measured.

For every backbone that TensorFlow Lite Micro runs (ConvMixer with ReLU), float32 and int8, on
the default job's target, ``paper-small`` (counted as deployed) and two real MCU presets, up to
``--members`` seeded uniform members of X^f are exported (random weights: sizes do not depend on
the values) and measured: the flatbuffer's size and TFLM's smallest working arena (bisection,
every probe in a forked child). A member is over budget when its file + the target's ROM
reserve exceeds the ROM budget, or its arena + the RAM reserve exceeds the RAM budget.

Reported per (backbone, target, dtype): |X^f|, members measured, how many are over ROM / RAM
(must be 0), measured / estimated ROM and RAM (median and max; <= 1 means the estimate errs
high), and how often our replay of TFLM's planner equals TFLM's planned arena.

Run: ``python benchmarks/bench_fit.py`` (all combinations, about 30 min on 2 cores; rows go to
README.md) or ``--members 20`` for a quick look.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _readme import machine, write_rows  # noqa: E402

#: one preset per backbone, with the option TFLM needs (no GELU kernel)
BACKBONES = [
    ("mlp", "mlp-digits", {}),
    ("dscnn", "dscnn-kws", {}),
    ("mobilenet", "mobilenet-vww", {}),
    ("convmixer (relu)", "convmixer-cifar10", {"options": {"activation": "relu"}}),
    ("autoencoder", "autoencoder-ad", {}),
    ("resnet", "resnet8-cifar10", {}),
    ("mobilenetv2", "mobilenetv2-vww", {}),
    ("blocks (every kind)", "benchmarks/spaces/every_block.toml", {}),   # a space file
    ("conv + max pool", "cnn-digits", {}),
    ("named dimensions (ir7)", "ir7-cifar10", {}),      # spaces of named dimensions
    ("named dimensions (mcunet)", "mcunet-vww", {}),
]
TARGETS = ["demo", "paper-small", "stm32f412", "stm32f746"]
DATA = Path(__file__).resolve().parent / "data" / "bench_fit.jsonl.gz"


def target_of(name: str):
    from entronas.search.config import DEFAULT_JOB
    from entronas.targets import resolve_target

    if name == "demo":
        job = DEFAULT_JOB
        return resolve_target(job["target"], rom=job["rom"], ram=job["ram"],
                              rom_reserve=job["rom_reserve"], ram_reserve=job["ram_reserve"])
    return resolve_target(name)


def space_of(preset: str, overrides: dict):
    from entronas.space import get_space
    from entronas.space.config import resolve_space

    if preset.endswith(".toml"):   # a space file, relative to the repository
        return resolve_space(str(Path(__file__).resolve().parents[1] / preset))[0]
    return get_space(preset, **overrides)


def measure_one(job: dict) -> dict:
    from entronas.cost import costs, estimate
    from entronas.export.planning import tflm_planned_ram
    from entronas.export.reference import random_weights
    from entronas.export.report import to_tflite
    from entronas.export.tflm_measure import measure_tflm
    from entronas.export.weights import space_ops

    space = space_of(job["preset"], job["overrides"])
    widths = tuple(job["widths"])
    est = estimate(space, widths, costs("tflm", job["dtype"]))
    calib = np.random.default_rng(0).normal(size=(4, *space.input_shape)).astype(np.float32)
    model = to_tflite(random_weights(space_ops(space, widths)), space, job["dtype"], calib)
    m = measure_tflm(model.data, bisect=True)
    return dict(job, rom=model.size, ram=m["min_arena"], head=m["head"], tail=m["tail"],
                est_rom=est.rom, est_ram=est.ram,
                replay=tflm_planned_ram(space, widths, job["dtype"]))


def plan(members: int, seed: int) -> tuple[list[dict], list[dict]]:
    """(groups with |X^f|, the measurement jobs)."""
    from entronas._core.errors import EntronasError
    from entronas.cost import costs
    from entronas.reduce import reduce_space

    groups, jobs = [], []
    for label, preset, ov in BACKBONES:
        space = space_of(preset, ov)
        for tname in TARGETS:
            target = target_of(tname)
            for dtype in ("float32", "int8"):
                g = {"backbone": label, "target": tname, "dtype": dtype, "preset": preset}
                try:
                    feasible, rep = reduce_space(space, target, costs("tflm", dtype))
                except EntronasError as exc:
                    g.update(feasible=0, note=_why(str(exc)))
                    groups.append(g)
                    continue
                n = min(members, len(feasible))
                idx = feasible.sample(n, seed, replace=False)
                g.update(feasible=len(feasible), conservative=rep.conservative,
                         budget_rom=target.rom, budget_ram=target.ram,
                         reserve_rom=target.rom_reserve, reserve_ram=target.ram_reserve)
                groups.append(g)
                for w in feasible.widths_of(idx):
                    jobs.append({"backbone": label, "target": tname, "dtype": dtype,
                                 "preset": preset, "overrides": ov, "widths": list(w)})
    return groups, jobs


def _why(message: str) -> str:
    """The reason of an empty X^f, short: "needs ROM 181,171 B > 48 KiB" or the like."""
    if "needs " in message:
        return "X^f empty: smallest " + message.split("needs ", 1)[1].split(";")[0]
    if "too large to list" in message:
        return ("too large to list, and the conservative count (TFLM's upper bound) holds "
                "none")
    return message[:80]


def summarise(groups: list[dict], results: list[dict]) -> list[str]:
    rows = []
    for g in groups:
        mine = [r for r in results if (r["backbone"], r["target"], r["dtype"]) ==
                (g["backbone"], g["target"], g["dtype"])]
        head = f"| {g['backbone']} | {g['target']} | {g['dtype']} |"
        if not g["feasible"]:
            rows.append(f"{head} 0 | - | - | - | - | {g.get('note', '')} |")
            continue
        over_rom = sum(r["rom"] + g["reserve_rom"] > g["budget_rom"] for r in mine)
        over_ram = sum(r["ram"] + g["reserve_ram"] > g["budget_ram"] for r in mine)
        rr = np.array([r["rom"] / r["est_rom"] for r in mine])
        ra = np.array([r["ram"] / r["est_ram"] for r in mine])
        same = sum(r["replay"] == r["head"] for r in mine)
        count = f"{g['feasible']:,}" + (" (conservative)" if g.get("conservative") else "")
        rows.append(f"{head} {count} | {len(mine)} | {over_rom} / {over_ram} | "
                    f"{np.median(rr):.4f} / {rr.max():.4f} | {np.median(ra):.4f} / "
                    f"{ra.max():.4f} | {same}/{len(mine)} |")
    return rows


def main(argv: list[str] | None = None) -> list[str]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--summarise", action="store_true",
                    help="Rewrite the rows from the stored measurements, measuring nothing.")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    groups, jobs = plan(args.members, args.seed)
    if args.summarise:
        import gzip

        results = [json.loads(line) for line in
                   gzip.decompress(DATA.read_bytes()).decode().splitlines() if line]
        return _rows(groups, results, None)
    t_meas = time.perf_counter()  # the ETA counts the measurements only, not the plan
    print(f"{len(jobs)} members of {sum(1 for g in groups if g['feasible'])} non-empty X^f "
          f"to measure (planned in {t_meas - t0:.0f} s)", flush=True)
    results = []
    with Pool(args.jobs) as pool:
        for i, r in enumerate(pool.imap_unordered(measure_one, jobs, chunksize=4), 1):
            results.append(r)
            if i % 100 == 0 or i == len(jobs):
                el = time.perf_counter() - t_meas
                print(f"[{i}/{len(jobs)}] {time.perf_counter() - t0:.0f} s, ETA "
                      f"{el / i * (len(jobs) - i):.0f} s", flush=True)
    import gzip

    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_bytes(gzip.compress(("\n".join(json.dumps(r, sort_keys=True) for r in results)
                                    + "\n").encode(), mtime=0))
    return _rows(groups, results, time.perf_counter() - t0)


def _rows(groups: list[dict], results: list[dict], seconds: float | None) -> list[str]:
    rows = summarise(groups, results)
    total = len(results)
    over = sum(1 for r in results for g in groups
               if (r["backbone"], r["target"], r["dtype"]) == (g["backbone"], g["target"],
                                                                g["dtype"])
               and (r["rom"] + g["reserve_rom"] > g["budget_rom"]
                    or r["ram"] + g["reserve_ram"] > g["budget_ram"]))
    same = sum(r["replay"] == r["head"] for r in results)
    rows.append(f"| *all* | | | | {total:,} | {over} over a budget | | | {same:,}/{total:,} |")
    took = "" if seconds is None else f"; {seconds:.0f} s"
    rows.append(f"| *{machine()}; random weights{took}* | | | | | | | | |")
    for row in rows:
        print(row)
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    write_rows("fit", main())
