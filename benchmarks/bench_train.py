"""Training throughput: our tensor-indexing loop vs a plain DataLoader loop, and vs itself as
issue 12 measured it (per-tensor Adam, torch's thread count).

Same model (dscnn-kws with MicroNet-KWS-S widths), same (fused) Adam/cross-entropy, same batch
size, same random KWS-shaped data (N x 1 x 49 x 10, 12 classes), same process. The only difference
is how batches are made: one ``index_select`` on a resident tensor (ours, ``entronas.train``)
versus ``DataLoader(TensorDataset(...), shuffle=True)`` which indexes and collates sample by
sample. The last two rows compare ``train()`` with its own earlier loop (per-tensor Adam,
torch's thread count for every model, the global pooling's NCHW gradient, activations not
in place: :func:`issue12_loop`). The "DS-CNN step" rows time other ways to run the same
step (NCHW, bfloat16 autocast, ``torch.compile``) against today's. Prints Markdown table rows.

    PYTHONPATH=src python benchmarks/bench_train.py [--n 4096] [--epochs 2] [--batch-size 100]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _readme import write_rows  # noqa: E402
import os
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from entronas.data import ArrayDataset
from entronas.models import build_model
from entronas.space import get_space
from entronas.train import train

WIDTHS = (84, 112, 84, 84, 84, 196)  # MicroNet-KWS-S


def kws_like(n: int, seed: int = 0) -> ArrayDataset:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, 1, 49, 10)).astype(np.float32)
    y = rng.integers(0, 12, n).astype(np.int64)
    small_x, small_y = x[:200], y[:200]
    return ArrayDataset("kws-random", "classification", (1, 49, 10), 12, x, y, small_x,
                        small_y, small_x, small_y)


def digits_like(n: int, seed: int = 0) -> ArrayDataset:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 64), dtype=np.float32)
    y = rng.integers(0, 10, n).astype(np.int64)
    return ArrayDataset("digits-random", "classification", (64,), 10, x, y, x[:200], y[:200],
                        x[:200], y[:200])


def batching_seconds(ds: ArrayDataset, batch_size: int, repeat: int = 5
                     ) -> tuple[float, float]:
    """One epoch of making batches only: (DataLoader, permutation + index_select), each the
    minimum of ``repeat`` alternated epochs (one epoch is milliseconds: a single timing
    caught the VM's hiccups)."""
    x, y = torch.from_numpy(ds.x_train), torch.from_numpy(ds.y_train)
    loader, ours = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        for _xb, _yb in DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True):
            pass
        mid = time.perf_counter()
        perm = torch.randperm(len(x))
        for a in range(0, len(x), batch_size):
            idx = perm[a:a + batch_size]
            x.index_select(0, idx), y.index_select(0, idx)
        loader.append(mid - start)
        ours.append(time.perf_counter() - mid)
    return min(loader), min(ours)


def dataloader_loop(space, ds: ArrayDataset, epochs: int, batch_size: int,
                    widths: tuple[int, ...] = WIDTHS) -> float:
    """Samples/s of the textbook loop (num_workers=0: 2 cores are busy with the math)."""
    torch.manual_seed(0)
    model = build_model(space, widths)
    if len(space.input_shape) == 3:   # as train() for convolutional networks
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)   # as train(): batching
    loss_fn = torch.nn.CrossEntropyLoss()                                # is the difference
    loader = DataLoader(TensorDataset(torch.from_numpy(ds.x_train), torch.from_numpy(ds.y_train)),
                        batch_size=batch_size, shuffle=True)
    model.train()
    seen = 0
    start = time.perf_counter()
    for _ in range(epochs):
        for xb, yb in loader:
            if len(xb) < 2:
                continue
            loss = loss_fn(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seen += len(xb)
    return seen / (time.perf_counter() - start)


@contextlib.contextmanager
def issue12_loop():
    """train() as issue 12 measured it, besides fused Adam and threads (its own arguments):
    the global pooling with autograd's own (NCHW) gradient, activations not in place."""
    import entronas.models.build as build

    pool, inplace = build.global_avg_pool, build.INPLACE_ACTIVATIONS
    build.global_avg_pool = lambda x, training: x.mean(dim=(2, 3))
    build.INPLACE_ACTIVATIONS = False
    try:
        yield
    finally:
        build.global_avg_pool, build.INPLACE_ACTIVATIONS = pool, inplace


def step_alternatives(space, batch_size: int, repeats: int, steps: int = 10) -> list[str]:
    """Other ways to run the DS-CNN step on the CPU, each against today's (fp32, channels-last,
    fused Adam) in the same process, interleaved, median samples/s of ``steps``-step bursts:
    contiguous memory format, bfloat16 autocast, ``torch.compile`` (its compile time apart).
    Why: issue 12 asks for 1.3x on DS-CNN; these rows say what the obvious routes give here."""
    x = torch.randn(batch_size, *space.input_shape)
    y = torch.randint(0, 12, (batch_size,))
    loss_fn = torch.nn.CrossEntropyLoss()

    def make(channels_last: bool, bf16: bool = False, compiled: bool = False):
        torch.manual_seed(0)
        model = build_model(space, WIDTHS)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
        if compiled:   # a cold compile, as on a fresh machine: no on-disk cache reused
            import torch._inductor.config as inductor_config

            inductor_config.force_disable_caches = True
        fwd = torch.compile(model) if compiled else model
        model.train()

        def step() -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = loss_fn(fwd(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return step

    variants = {"today": dict(channels_last=True),
                "contiguous (NCHW) memory format": dict(channels_last=False),
                "bfloat16 autocast": dict(channels_last=True, bf16=True),
                "torch.compile (inductor)": dict(channels_last=True, compiled=True)}
    steps_of, notes = {}, {}
    for label, kw in variants.items():
        try:
            fn = make(**kw)
            t0 = time.perf_counter()
            fn(), fn()                                   # warm-up; compiles here
            notes[label] = time.perf_counter() - t0
            steps_of[label] = fn
        except Exception as exc:  # e.g. no C++ compiler for inductor
            notes[label] = f"n/a: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}"
    rates: dict[str, list[float]] = {k: [] for k in steps_of}
    for i in range(repeats):
        for label in (list(steps_of) if i % 2 == 0 else list(steps_of)[::-1]):
            t0 = time.perf_counter()
            for _ in range(steps):
                steps_of[label]()
            rates[label].append(steps * batch_size / (time.perf_counter() - t0))
    today = float(np.median(rates["today"]))
    rows = []
    for label in list(variants)[1:]:
        if label not in rates:
            rows.append(f"| DS-CNN step, {label} | {notes[label]} | {today:,.0f} samples/s "
                        f"(today's step) | - |")
            continue
        v = float(np.median(rates[label]))
        extra = f", first two steps {notes[label]:.0f} s" if "compile" in label else ""
        rows.append(f"| DS-CNN step, {label}{extra} | {v:,.0f} samples/s | {today:,.0f} "
                    f"samples/s (today's step) | {v / today:.2f}x |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3, help="alternate the two loops N times")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch.set_num_threads (default: torch's choice, all cores)")
    ap.add_argument("--no-alternatives", action="store_true",
                    help="Skip the DS-CNN step alternatives (bf16, torch.compile, NCHW).")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    space = get_space("dscnn-kws")
    ds = kws_like(args.n)
    # warm-up (allocator, oneDNN kernels) so neither side pays it
    dataloader_loop(space, kws_like(2 * args.batch_size, seed=1), 1, args.batch_size)
    theirs, ours = [], []
    def run_ours() -> None:
        r = train(space, WIDTHS, ds, epochs=args.epochs, batch_size=args.batch_size,
                  progress=False, device="cpu", recalibrate_bn=False)
        ours.append(r.samples_per_s)

    def run_theirs() -> None:
        theirs.append(dataloader_loop(space, ds, args.epochs, args.batch_size))

    for i in range(args.repeats):  # alternate the order so neither side always goes first
        for fn in ((run_theirs, run_ours) if i % 2 == 0 else (run_ours, run_theirs)):
            fn()
    o, t = float(np.median(ours)), float(np.median(theirs))
    dl_s, idx_s = batching_seconds(ds, args.batch_size)
    # a model small enough that batching is the bottleneck: MLP 64-32 of mlp-digits. train()
    # runs it on one thread (its batches are below SINGLE_THREAD_BELOW_FLOPS), so the
    # textbook loop gets one thread too: equal thread counts on both sides
    mlp, mlp_ds = get_space("mlp-digits"), digits_like(args.n * 4)
    mlp_ours_runs, mlp_theirs_runs = [], []
    prev = torch.get_num_threads()
    for i in range(args.repeats):
        for side in (("theirs", "ours") if i % 2 == 0 else ("ours", "theirs")):
            if side == "ours":
                mlp_ours_runs.append(train(mlp, (64, 32), mlp_ds, epochs=3,
                                           batch_size=args.batch_size, progress=False,
                                           device="cpu", threads=1).samples_per_s)
            else:
                torch.set_num_threads(1)
                try:
                    mlp_theirs_runs.append(dataloader_loop(mlp, mlp_ds, 3, args.batch_size,
                                                           (64, 32)))
                finally:
                    torch.set_num_threads(prev)
    mlp_ours, mlp_theirs = float(np.median(mlp_ours_runs)), float(np.median(mlp_theirs_runs))
    # train() against the loop issue 12 measured ("today's loop"): per-tensor Adam, torch's
    # thread count for every model, the pooling's NCHW gradient and activations not in
    # place; same process, alternated, median
    issue = {"dscnn": ([], []), "mlp": ([], [])}
    for i in range(args.repeats):
        for side in ((0, 1) if i % 2 == 0 else (1, 0)):
            old = dict(fused_adam=False, threads=prev) if side else {}
            with issue12_loop() if side else contextlib.nullcontext():
                issue["dscnn"][side].append(train(space, WIDTHS, ds, epochs=args.epochs,
                                                  batch_size=args.batch_size, progress=False,
                                                  device="cpu", recalibrate_bn=False,
                                                  **old).samples_per_s)
                issue["mlp"][side].append(train(mlp, (64, 32), mlp_ds, epochs=3,
                                                batch_size=args.batch_size, progress=False,
                                                device="cpu", **old).samples_per_s)
    med = {k: (float(np.median(a)), float(np.median(b))) for k, (a, b) in issue.items()}
    cores = os.cpu_count()
    print(f"<!-- N={args.n}, epochs={args.epochs}, batch={args.batch_size}, median of "
          f"{args.repeats}, torch {torch.__version__}, threads={torch.get_num_threads()} -->")
    rows = [
        f"| DS-CNN (MicroNet-S widths) train throughput, KWS-shaped tensors "
        f"({torch.get_num_threads()} threads each) | "
        f"{o:,.0f} samples/s | {t:,.0f} samples/s | {o / t:.2f}x |",
        f"| batching only, one epoch of {args.n} KWS samples (min of 5) | "
        f"{idx_s * 1e3:.1f} ms | "
        f"{dl_s * 1e3:.1f} ms | {dl_s / idx_s:.1f}x |",
        f"| MLP 64-32 train throughput ({4 * args.n} digits-shaped samples, 1 thread each) | "
        f"{mlp_ours:,.0f} samples/s | {mlp_theirs:,.0f} samples/s | "
        f"{mlp_ours / mlp_theirs:.2f}x |",
        f"| DS-CNN train(): today vs the loop issue 12 measured (per-tensor Adam, "
        f"{prev} threads) | {med['dscnn'][0]:,.0f} samples/s | {med['dscnn'][1]:,.0f} "
        f"samples/s (that loop) | {med['dscnn'][0] / med['dscnn'][1]:.2f}x (issue target "
        f">= 1.3x) |",
        f"| MLP 64-32 train(): today (fused Adam, 1 thread) vs that loop ({prev} threads) | "
        f"{med['mlp'][0]:,.0f} samples/s | {med['mlp'][1]:,.0f} samples/s (that loop) | "
        f"{med['mlp'][0] / med['mlp'][1]:.2f}x (issue target >= 1.3x) |",
        *([] if args.no_alternatives else step_alternatives(space, args.batch_size,
                                                            max(args.repeats, 3))),
        f"| *CPU, {cores} cores, torch {torch.__version__}, batch {args.batch_size}, median of "
        f"{args.repeats}* | | | |",
    ]
    print("| benchmark | ours | DataLoader(TensorDataset) | ratio |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    write_rows("train", rows)

if __name__ == "__main__":
    main()
