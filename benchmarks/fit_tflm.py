"""Measure exported models in TensorFlow Lite Micro and fit the ``tflm`` cost constants.

Why: the deployed cost convention (``entronas.cost.tflm``) counts the flatbuffer and the TFLM
arena from the lowered op graph; its container and persistent-arena constants are measured, not
guessed. This script

1. ``measure``: exports seeded random architectures of every backbone and of a few space files
   of blocks (float32 and int8, random weights: sizes do not depend on the values), and
   records the flatbuffer size, TFLM's planned activations (head), persistent part (tail)
   and the smallest working arena (bisection, every probe in a forked child) in
   ``benchmarks/data/tflm_measurements.jsonl`` (resumable);
2. ``fit``: fits both models as *upper envelopes* (a linear programme: the smallest total slack
   with model >= measurement on every file) and writes ``src/entronas/cost/tflm_constants.py``.

Run: ``python benchmarks/fit_tflm.py measure --n 1600`` (about 30 min on 2 cores), then
``python benchmarks/fit_tflm.py fit``. GELU models are measured for their file size only (TFLM
has no GELU kernel).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data" / "tflm_measurements.jsonl"   # work file of a run
ARCHIVE = DATA.with_suffix(".jsonl.gz")                               # what the repo keeps
CONSTANTS = ROOT / "src" / "entronas" / "cost" / "tflm_constants.py"

#: (label, preset, overrides): every backbone, with the option variants that change the graph
VARIANTS = [
    ("mlp-digits", "mlp-digits", {}),
    ("mlp-digits-bn", "mlp-digits", {"options": {"batchnorm": True}}),
    ("mlp-digits-nobias", "mlp-digits", {"options": {"bias": False}}),
    ("mlp-example", "mlp-example", {}),
    ("dscnn-digits", "dscnn-digits", {}),
    ("dscnn-kws", "dscnn-kws", {}),
    ("dscnn-kws-s2", "dscnn-kws", {"depth_min": 5, "depth_max": 8,
                                   "options": {"first_stride": 2, "stride_layers": ()}}),
    ("autoencoder-ad", "autoencoder-ad", {}),
    ("convmixer-relu", "convmixer-cifar10", {"depth_min": 2, "options": {"activation": "relu"}}),
    ("convmixer-gelu", "convmixer-cifar10", {"depth_min": 2}),
    ("mobilenet-vww", "mobilenet-vww", {"depth_min": 4}),
    ("mobilenet-s2", "mobilenet-vww", {"depth_min": 4, "options": {
        "stem_kernel": 3, "stem_stride": 2, "stride_layers": (3, 5, 7, 13)}}),
]


#: variants added after the first archive: measured in streams of their own (seeded by their
#: label), so the archived measurements of VARIANTS keep their keys and are not repeated
LATER_VARIANTS = [
    ("resnet8-cifar10", "resnet8-cifar10", {}),
    ("resnet-projection", "resnet8-cifar10", {"options": {"shortcut": "projection"}}),
    ("mobilenetv2-vww", "mobilenetv2-vww", {}),
    ("mobilenetv2-s4", "mobilenetv2-vww", {"options": {"expansion": 4, "first_expansion": 2}}),
    # space files' backbones (preset None: the overrides are the whole [space] table): every
    # block kind in one network, and deep networks on small maps, where many tensors meet
    # small activations and TFLM's commit-time planner scratch, not the plan, binds
    ("blocks-every-kind", None, {
        "name": "every-kind", "depth": [2, 7], "widths": [4, 8, 12, 16],
        "input_shape": [2, 16, 16], "num_classes": 3,
        "blocks": [{"block": "conv", "stride": 2}, {"block": "dwsep", "kernel": 5},
                   {"block": "invres", "expansion": 3, "stride": 2, "repeat": 2},
                   {"block": "basic", "shortcut": "identity"},
                   {"block": "basic", "stride": 2},
                   {"block": "mixer", "kernel": 3, "activation": "relu"}]}),
    ("blocks-deep-small", None, {
        "name": "deep-small", "depth": [4, 12], "widths": [8, 16, 24, 32],
        "input_shape": [3, 32, 32], "num_classes": 4,
        "blocks": [{"block": "conv", "stride": 2, "kernel": 3},
                   {"block": "invres", "expansion": 2, "stride": 2, "repeat": 3},
                   {"block": "dwsep", "stride": 2, "repeat": 2},
                   {"block": "basic", "stride": 2, "repeat": 3},
                   {"block": "invres", "expansion": 6, "kernel": 5, "repeat": 3}]}),
    ("blocks-tiny-maps", None, {
        "name": "tiny-maps", "depth": [3, 12], "widths": [4, 8, 12, 16],
        "input_shape": [3, 8, 8], "num_classes": 2,
        "blocks": [{"block": "conv", "stride": 2},
                   {"block": "basic", "shortcut": "identity", "repeat": 2},
                   {"block": "invres", "expansion": 4, "repeat": 3},
                   {"block": "dwsep", "stride": 2, "repeat": 2},
                   {"block": "invres", "expansion": 2, "stride": 2, "repeat": 2},
                   {"block": "basic", "repeat": 2}]}),
    # pooling inside conv and dwsep blocks (MAX_POOL_2D, windowed AVERAGE_POOL_2D): windows
    # that divide the map and windows that do not, on large maps and on small ones
    ("blocks-pooled", None, {
        "name": "pooled", "depth": [2, 6], "widths": [8, 16, 24, 32],
        "input_shape": [3, 32, 32], "num_classes": 10,
        "blocks": [{"block": "conv", "kernel": 5, "pool": "max"},
                   {"block": "dwsep", "pool": "avg"},
                   {"block": "conv", "pool": "max", "pool_size": 3},
                   {"block": "dwsep", "repeat": 2},
                   {"block": "conv", "pool": "avg", "pool_size": 2}]}),
    ("blocks-pooled-small", None, {
        "name": "pooled-small", "depth": [3, 8], "widths": [4, 8, 12, 16],
        "input_shape": [1, 40, 24], "num_classes": 4,
        "blocks": [{"block": "conv", "padding": "valid", "pool": "avg", "pool_size": 3},
                   {"block": "dwsep", "kernel": 5, "pool": "max"},
                   {"block": "invres", "expansion": 2, "repeat": 2},
                   {"block": "dwsep", "pool": "max", "pool_size": 2},
                   {"block": "dwsep", "repeat": 2},
                   {"block": "dense"}]}),
]


def all_variants() -> list[tuple[str, str, dict]]:
    return VARIANTS + LATER_VARIANTS


def _space(preset: str | None, overrides: dict):
    from entronas.space import get_space
    from entronas.space.config import space_from_dict

    if preset is None:
        return space_from_dict(overrides)
    ov = dict(overrides)
    if "options" in ov:
        ov["options"] = {k: tuple(v) if isinstance(v, list) else v
                         for k, v in ov["options"].items()}
    return get_space(preset, **ov)


def sample_arch(space, rng: np.random.Generator) -> tuple[int, ...]:
    """A seeded member of the space, every depth alike: a tied width ("eq") repeats the one
    before it (drawn and then replaced, so spaces without ties draw as they always did)."""
    while True:
        d = int(rng.integers(space.depth_min, space.depth_max + 1))
        ws = [int(rng.choice(space.grid(d, i))) for i in range(d)]
        for i in range(1, d):
            if space.relation(d, i) == "eq":
                ws[i] = ws[i - 1]
        try:
            return space.check_arch(ws)
        except Exception:
            continue


def tasks(n: int, seed: int = 0) -> list[dict]:
    """``n`` seeded (variant, widths, dtype) jobs, spread evenly over VARIANTS and dtypes,
    then as many per later variant as each of VARIANTS got, from a stream of its own."""
    rng = np.random.default_rng(seed)
    out, k = [], 0
    while len(out) < n:
        label, preset, ov = VARIANTS[k % len(VARIANTS)]
        dtype = ("float32", "int8")[(k // len(VARIANTS)) % 2]
        out.append(_job(label, preset, ov, dtype, rng))
        k += 1
    per = -(-n // len(VARIANTS))
    for j, (label, preset, ov) in enumerate(LATER_VARIANTS):
        rng = np.random.default_rng([seed, j + 1])
        out += [_job(label, preset, ov, ("float32", "int8")[i % 2], rng) for i in range(per)]
    return out


def _job(label: str, preset: str, ov: dict, dtype: str, rng: np.random.Generator) -> dict:
    widths = sample_arch(_space(preset, ov), rng)
    return {"key": f"{label}|{dtype}|{'-'.join(map(str, widths))}", "variant": label,
            "preset": preset, "overrides": ov, "widths": list(widths), "dtype": dtype}


def measure_one(job: dict) -> dict:
    from entronas.export.fbinspect import inspect_tflite
    from entronas.export.reference import random_weights
    from entronas.export.report import to_tflite
    from entronas.export.tflm_measure import measure_tflm
    from entronas.export.weights import space_ops

    space = _space(job["preset"], job["overrides"])
    t0 = time.perf_counter()
    ops = space_ops(space, job["widths"])
    calib = np.random.default_rng(0).normal(size=(4, *space.input_shape)).astype(np.float32)
    model = to_tflite(random_weights(ops), space, job["dtype"], calib)
    rec = dict(job, flatbuffer=model.size, ops=list(inspect_tflite(model.data)["ops"]))
    if "GELU" not in model.ops:
        rec.update(measure_tflm(model.data, bisect=True))
        rec.pop("details", None)
    rec["seconds"] = round(time.perf_counter() - t0, 3)
    return rec


def _lines() -> list[str]:
    """Every stored record line: the archive, then the work file of an unfinished run."""
    import gzip

    out = gzip.decompress(ARCHIVE.read_bytes()).decode().splitlines() if ARCHIVE.exists() else []
    if DATA.exists():
        out += DATA.read_text().splitlines()
    return out


def cmd_measure(args: argparse.Namespace) -> None:
    DATA.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    for line in _lines():
        try:
            done.add(json.loads(line)["key"])
        except (ValueError, KeyError):
            continue  # a partial last line from a killed run
    todo = [j for j in tasks(args.n, args.seed) if j["key"] not in done]
    print(f"{len(done)} measured, {len(todo)} to go", flush=True)
    t0 = time.perf_counter()
    with Pool(args.jobs) as pool, open(DATA, "a") as fh:
        for i, rec in enumerate(pool.imap_unordered(measure_one, todo), 1):
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            if i % 20 == 0 or i == len(todo):
                el = time.perf_counter() - t0
                print(f"[{i}/{len(todo)}] {el:.0f} s, ETA {el / i * (len(todo) - i):.0f} s",
                      flush=True)
    _archive()


def _archive() -> None:
    """Fold the work file into the compressed archive (atomically), then drop it."""
    import gzip

    from entronas._core.fileio import atomic_write

    recs = load_records()
    atomic_write(ARCHIVE, gzip.compress(("\n".join(json.dumps(r, sort_keys=True)
                                                  for r in recs) + "\n").encode(), mtime=0))
    DATA.unlink(missing_ok=True)


def load_records() -> list[dict]:
    out, seen = [], set()
    for line in _lines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec["key"] not in seen:
            seen.add(rec["key"])
            out.append(rec)
    return out


def features(rec: dict) -> tuple[Counter, list[tuple[int, int, int]]]:
    """Model features and the activation tensors (bytes, first, last) of a measured file."""
    from entronas.cost.tflm import graph_features
    from entronas.space.lowering import lower
    from entronas.export.weights import space_ops

    space = _space(rec["preset"], rec["overrides"])
    g = lower(space_ops(space, rec["widths"]))
    d = 4 if rec["dtype"] == "float32" else 1
    tensors = [(-(-t.elements * d // 16) * 16, a, b)
               for t, (a, b) in zip(g.tensors, g.lifetimes())]
    return graph_features(g, rec["dtype"]), tensors


def fit_envelope(rows: list[Counter], y: np.ndarray, names: list[str]) -> tuple[dict, np.ndarray]:
    """Non-negative weights w minimising sum(X w - y) subject to X w >= y (an upper envelope)."""
    from scipy.optimize import linprog

    X = np.array([[r.get(n, 0) for n in names] for r in rows], dtype=np.float64)
    res = linprog(c=X.sum(axis=0), A_ub=-X, b_ub=-y, bounds=[(0, None)] * len(names),
                  method="highs")
    if not res.success:
        raise RuntimeError(res.message)
    w = np.ceil(res.x - 1e-9)  # integer bytes, rounded up: still an envelope
    return {n: int(v) for n, v in zip(names, w) if v}, X @ w - y


#: features the Prepare-time arena may depend on: structure only, never a width, so that it
#: is one constant per depth for the reduction
PREPARE_FEATURES = ("fixed", "act_tensors", "const_tensors", "op:FULLY_CONNECTED",
                    "op:AVERAGE_POOL_2D")


def _fit_tables(recs: list[dict], dtype: str) -> tuple[dict, dict, dict, list[str]]:
    """(flatbuffer, persistent, prepare) envelopes of one dtype, and report lines."""
    from entronas.cost.planner import greedy_plan

    mine = [r for r in recs if r["dtype"] == dtype]
    feats = [features(r) for r in mine]
    lines = []
    # flatbuffer: variable part beyond the aligned constant data
    names = ["fixed", "act_tensors", "const_tensors", "dims",
             *(["quant_entries"] if dtype == "int8" else []),
             *sorted({k for f, _ in feats for k in f if k.startswith("op:")})]
    rows = [Counter(f, fixed=1) for f, _ in feats]
    y = np.array([r["flatbuffer"] - f["const_data"] for r, (f, _) in zip(mine, feats)], float)
    flat, slack = fit_envelope(rows, y, names)
    sizes = np.array([r["flatbuffer"] for r in mine], float)
    lines.append(f"# flatbuffer {dtype}: {len(mine)} files, estimate / file median "
                 f"{np.median((sizes + slack) / sizes):.4f}, max")
    lines[-1] += f" {np.max((sizes + slack) / sizes):.4f}"
    run = [(r, f, t) for r, (f, t) in zip(mine, feats) if "min_arena" in r]
    bad = [r["key"] for r, f, t in run if greedy_plan(t) != r["head"]]
    lines.append(f"# planner replay == TFLM head on {len(run) - len(bad)} of {len(run)} "
                 f"{dtype} models" + (f"; misses: {bad[:3]}" if bad else ""))
    # persistent arena ("tail"): tensor structs, node structs, kernel op data, per-channel data
    pnames = ["fixed", "act_tensors", "const_tensors", "conv_channels", "fc_channels",
              *sorted({k for _, f, _ in run for k in f if k.startswith("op:")})]
    prow = [Counter(f, fixed=1) for _, f, _ in run]
    pers, _ = fit_envelope(prow, np.array([r["tail"] for r, _, _ in run], float), pnames)
    pmodel = np.array([sum(pers.get(k, 0) * v for k, v in c.items()) for c in prow])
    # Prepare-time peak: the smallest arena can exceed planned + persistent (TFLM allocates
    # temporaries while preparing the kernels); model it where it binds
    need = np.array([r["min_arena"] for r, _, _ in run]) - pmodel
    heads = np.array([r["head"] for r, _, _ in run])
    binds = need > heads
    qnames = list(PREPARE_FEATURES)
    qrow = [Counter({k: v for k, v in f.items() if k in qnames}, fixed=1) for _, f, _ in run]
    prep, _ = fit_envelope([q for q, b in zip(qrow, binds) if b], need[binds].astype(float),
                           qnames) if binds.any() else ({}, None)
    qmodel = np.array([sum(prep.get(k, 0) * v for k, v in c.items()) for c in qrow])
    est = pmodel + np.maximum(heads, qmodel)
    arena = np.array([r["min_arena"] for r, _, _ in run], float)
    lines.append(f"# arena {dtype}: {len(run)} TFLM runs (Prepare-time peak binding in "
                 f"{int(binds.sum())}),")
    lines.append(f"#   (plan + model) / smallest arena median {np.median(est / arena):.4f}, "
                 f"max {np.max(est / arena):.4f}, min {np.min(est / arena):.4f}")
    return flat, pers, prep, lines


def _holdout_margin(recs: list[dict], dtype: str) -> tuple[int, int]:
    """Fit on half the files, test on the other half: the worst excess over the estimate
    (flatbuffer, arena), rounded up to 16 B; it is added to the fixed parts."""
    even = [r for i, r in enumerate(recs) if i % 2 == 0]
    odd = [r for i, r in enumerate(recs) if i % 2 == 1 and r["dtype"] == dtype]
    flat, pers, prep, _ = _fit_tables(even, dtype)
    worst_rom = worst_ram = 0
    for r in odd:
        f, t = features(r)
        rom = f["const_data"] + sum(flat.get(k, 0) * v for k, v in Counter(f, fixed=1).items())
        worst_rom = max(worst_rom, r["flatbuffer"] - rom)
        if "min_arena" in r:
            from entronas.cost.planner import greedy_plan

            c = Counter(f, fixed=1)
            p = sum(pers.get(k, 0) * v for k, v in c.items())
            q = sum(prep.get(k, 0) * v for k, v in c.items() if k in prep)
            worst_ram = max(worst_ram, r["min_arena"] - (p + max(greedy_plan(t), q)))
    return -(-max(worst_rom, 0) // 16) * 16, -(-max(worst_ram, 0) // 16) * 16


def cmd_fit(args: argparse.Namespace) -> None:
    recs = load_records()
    doc = ['"""Measured constants of the ``tflm`` cost convention (generated, do not edit).',
           "",
           f"Written by ``benchmarks/fit_tflm.py fit`` on {time.strftime('%Y-%m-%d')} from "
           f"{len(recs):,} exported models",
           "(``benchmarks/data/tflm_measurements.jsonl.gz``), measured with tflite-micro",
           f"{_tflm_version()} on an x86-64 host.",
           "Each table is an upper envelope (model >= every measurement), and the fixed parts",
           "include the worst excess seen when fitting on half of the files and testing on the",
           "other half.", '"""', ""]
    lines: list[str] = []
    tables: dict[str, dict] = {"FLATBUFFER": {}, "PERSISTENT": {}, "PREPARE": {}}
    for dtype in ("float32", "int8"):
        flat, pers, prep, report = _fit_tables(recs, dtype)
        rom_margin, ram_margin = _holdout_margin(recs, dtype)
        flat["fixed"] = flat.get("fixed", 0) + rom_margin
        pers["fixed"] = pers.get("fixed", 0) + ram_margin
        lines += report + [f"# held-out margin {dtype}: +{rom_margin} B flatbuffer, "
                           f"+{ram_margin} B arena"]
        tables["FLATBUFFER"][dtype] = flat
        tables["PERSISTENT"][dtype] = pers
        tables["PREPARE"][dtype] = prep
    text = "\n".join(doc) + "\n".join(lines) + "\n\n"
    text += "#: flatbuffer bytes beyond the 16-byte aligned constant data, per feature\n"
    text += f"FLATBUFFER = {json.dumps(tables['FLATBUFFER'], indent=4, sort_keys=True)}\n\n"
    text += "#: persistent TFLM arena bytes (beyond the planned activations), per feature\n"
    text += f"PERSISTENT = {json.dumps(tables['PERSISTENT'], indent=4, sort_keys=True)}\n\n"
    text += ("#: Prepare-time arena bytes besides the persistent part (it binds instead of the\n"
             "#: planned activations when larger), per structural feature\n")
    text += f"PREPARE = {json.dumps(tables['PREPARE'], indent=4, sort_keys=True)}\n"
    CONSTANTS.write_text(text)
    print(text)


def _tflm_version() -> str:
    try:
        from importlib.metadata import version

        return version("tflite-micro")
    except Exception:  # noqa: BLE001
        return "?"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--n", type=int, default=1600)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    sub.add_parser("fit")
    args = ap.parse_args(argv)
    {"measure": cmd_measure, "fit": cmd_fit}[args.cmd](args)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    main()
